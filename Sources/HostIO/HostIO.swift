// The few host system calls the emulator's front ends share: writing a whole buffer to a file
// descriptor, and the monotonic clock. One copy each, used by Machine (the guest console),
// GDBRemote and Debugger (their logs), the REPL and the command line.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Write all of `bytes` to `fd` with write(2): retries after EINTR and partial writes; gives up
/// on any other error (a closed pipe, a full disk). Returns true if everything was written.
@discardableResult
public func writeAll(fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
    guard let base = bytes.baseAddress else { return true }
    var done = 0
    while done < bytes.count {
        let n = write(fd, base + done, bytes.count - done)
        if n > 0 { done += n } else if n < 0 && errno == EINTR { continue } else { return false }
    }
    return true
}

@discardableResult
public func writeAll(fd: Int32, _ bytes: [UInt8]) -> Bool {
    bytes.withUnsafeBytes { writeAll(fd: fd, $0) }
}

@discardableResult
public func writeAll(fd: Int32, _ text: String) -> Bool {
    writeAll(fd: fd, Array(text.utf8))
}

/// Seconds from the monotonic clock (CLOCK_MONOTONIC: never steps back, unlike the wall clock).
public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
