// Small pthread-based primitives: a mutex with one condition variable, and a detached thread.
// (The emulator's modules do not import Foundation; these are all the Debugger needs.)

import HostIO
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A mutex and a condition variable. `wait` must be called with the lock held (inside `withLock`).
public final class ConditionLock: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let cond: UnsafeMutablePointer<pthread_cond_t>

    public init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        cond = .allocate(capacity: 1)
        cond.initialize(to: pthread_cond_t())
        #if os(Linux)
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        pthread_cond_init(cond, &attr)
        pthread_condattr_destroy(&attr)
        #else
        pthread_cond_init(cond, nil)
        #endif
    }

    deinit {
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        cond.deallocate()
        mutex.deallocate()
    }

    public func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    /// Waits for a broadcast (spurious wake-ups possible: re-check the condition).
    public func wait() { pthread_cond_wait(cond, mutex) }

    /// Waits at most until `deadline` (seconds of `monotonicNow()`); false on timeout.
    @discardableResult
    public func wait(until deadline: Double) -> Bool {
        #if os(Linux)
        var ts = timespec()
        ts.tv_sec = Int(deadline)
        ts.tv_nsec = Int((deadline - Double(Int(deadline))) * 1e9)
        return pthread_cond_timedwait(cond, mutex, &ts) == 0
        #else
        var ts = timespec()
        let remaining = max(0, deadline - monotonicNow())
        var now = timeval()
        gettimeofday(&now, nil)
        let abs = Double(now.tv_sec) + Double(now.tv_usec) / 1e6 + remaining
        ts.tv_sec = Int(abs)
        ts.tv_nsec = Int((abs - Double(Int(abs))) * 1e9)
        return pthread_cond_timedwait(cond, mutex, &ts) == 0
        #endif
    }

    public func broadcast() { pthread_cond_broadcast(cond) }
}

/// Seconds from the monotonic clock (HostIO's `monotonicSeconds`, the one clock of the front ends).
@inline(__always) public func monotonicNow() -> Double { monotonicSeconds() }

private final class ThreadBody {
    let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }
}

/// Starts a detached thread running `body`; false if the system refused to create it.
@discardableResult
public func startDetachedThread(_ body: @escaping @Sendable () -> Void) -> Bool {
    let box = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
    #if canImport(Darwin)
    var tid: pthread_t?
    #else
    var tid = pthread_t()
    #endif
    let rc = pthread_create(&tid, nil, { arg in
        guard let arg else { return nil }
        Unmanaged<ThreadBody>.fromOpaque(arg).takeRetainedValue().body()
        return nil
    }, box)
    if rc != 0 {
        Unmanaged<ThreadBody>.fromOpaque(box).release()
        return false
    }
    #if canImport(Darwin)
    if let tid { pthread_detach(tid) }
    #else
    pthread_detach(tid)
    #endif
    return true
}

/// Writes one line to stderr (the emulator's own messages never go to stdout).
public func debuggerLog(_ message: String) {
    writeAll(fd: 2, message.hasSuffix("\n") ? message : message + "\n")
}
