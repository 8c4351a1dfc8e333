// An in-memory target for the session, server and gdb tests: two processes (VMM pid 1 with two
// vCPUs, guest pid 2 with one), flat memory regions, breakpoint tables, and recorded resumes.
import Foundation
import GDBRemote

/// Only the base protocol: nothing optional.
final class MinimalTarget: GDBTarget, @unchecked Sendable {
    let lock = NSLock()
    var resumes: [GDBResumeRequest] = []

    func processes() -> [GDBProcessInfo] { [GDBProcessInfo(pid: 1, name: "VMM")] }
    func threads(of pid: Int) -> [GDBThreadInfo] {
        pid == 1 ? [GDBThreadInfo(id: GDBThreadID(pid: 1, tid: 1), name: "VMM vCPU0")] : []
    }
    func readRegisters(_ thread: GDBThreadID) throws(GDBTargetError) -> GDBRegisterFile {
        var f = GDBRegisterFile()
        f.set("rip", 0xfff0)
        return f
    }
    func writeRegisters(_ thread: GDBThreadID, _ file: GDBRegisterFile) throws(GDBTargetError) {}
    func readMemory(pid: Int, address: UInt64, count: Int) -> [UInt8] { [] }
    func writeMemory(pid: Int, address: UInt64, bytes: [UInt8]) throws(GDBTargetError) { throw .fault }
    func resume(_ request: GDBResumeRequest, stops: GDBStopSink) {
        lock.withLock { resumes.append(request) }
    }
    func interrupt() {}
}

/// Everything: breakpoints, watchpoints, extended mode, monitor, exec files, physical memory.
final class FakeTarget: GDBTarget, GDBSoftwareBreakpoints, GDBHardwareBreakpoints, GDBWatchpoints,
    GDBExtendedMode, GDBMonitorCommands, GDBExecFiles, GDBPhysicalMemory, @unchecked Sendable
{
    struct Region {
        var base: UInt64
        var bytes: [UInt8]
    }

    let lock = NSLock()
    var processList: [GDBProcessInfo] = [GDBProcessInfo(pid: 1, name: "VMM"), GDBProcessInfo(pid: 2, name: "guest 1")]
    var threadList: [Int: [GDBThreadInfo]] = [
        1: [GDBThreadInfo(id: GDBThreadID(pid: 1, tid: 1), name: "VMM vCPU0", core: 0),
            GDBThreadInfo(id: GDBThreadID(pid: 1, tid: 2), name: "VMM vCPU1", core: 1)],
        2: [GDBThreadInfo(id: GDBThreadID(pid: 2, tid: 1), name: "guest 1 vCPU0", extraInfo: "VMX non-root", core: 0)],
    ]
    var registers: [GDBThreadID: GDBRegisterFile] = [:]
    var memory: [Int: Region] = [:]
    var physical = Region(base: 0, bytes: [UInt8](repeating: 0xAB, count: 0x100))
    var software: Set<[UInt64]> = []  // [pid, addr, kind]
    var hardware: Set<[UInt64]> = []
    var watch: Set<[UInt64]> = []  // [pid, type, addr, len]
    var supportedWatchpoints: Set<GDBBreakpointType> = [.writeWatch, .readWatch, .accessWatch]
    var resumes: [GDBResumeRequest] = []
    var hits: [[UInt64]: Int] = [:]  // [pid, addr] → times run to (gdb tests)
    var sink: GDBStopSink?
    var interrupts = 0
    var attachedPids: [Int] = []
    var detached: [Int] = []
    var killed: [Int] = []
    var monitorCommands: [String] = []
    /// When set, called (outside the lock, on a background thread) after every resume.
    var onResume: (@Sendable (GDBResumeRequest, GDBStopSink) -> Void)?
    /// When set, called on interrupt with the current sink.
    var onInterrupt: (@Sendable (GDBStopSink?) -> Void)?
    var freeRunOnDisconnect = false
    var runUntilInterrupted = true
    var runningFreely = false

    init() {
        for (pid, list) in threadList {
            for (i, t) in list.enumerated() {
                var f = GDBRegisterFile()
                for r in f.layout.registers where r.feature != "org.vmxemu.vmx" && r.name != "st0" {
                    f[r.regnum] = [UInt8](repeating: 0, count: r.byteSize)
                }
                f.set("rip", 0x1000 + UInt64(pid) * 0x100 + UInt64(i))
                f.set("rsp", 0x8000 + UInt64(pid) * 0x100)
                f.set("rbp", 0x9000)
                f.set("rax", UInt64(pid) << 32 | UInt64(t.id.tid))
                f.set("cr0", 0x8000_0031)
                f.set("cr4", 0x2020)
                f.set("efer", 0xd01)
                f.set("eflags", 0x246)
                f.set("vmx_mode", pid == 1 ? 1 : 2)
                registers[t.id] = f
            }
        }
        memory[1] = Region(base: 0x1000, bytes: (0..<0x2000).map { UInt8(truncatingIfNeeded: $0) })
        memory[2] = Region(base: 0x4000, bytes: [UInt8](repeating: 0x90, count: 0x100))
    }

    func processes() -> [GDBProcessInfo] { lock.withLock { processList } }
    func threads(of pid: Int) -> [GDBThreadInfo] { lock.withLock { threadList[pid] ?? [] } }
    func initiallyAttached() -> [Int] { [1] }

    func readRegisters(_ thread: GDBThreadID) throws(GDBTargetError) -> GDBRegisterFile {
        guard let f = lock.withLock({ registers[thread] }) else { throw .noSuchProcess }
        return f
    }

    func writeRegisters(_ thread: GDBThreadID, _ file: GDBRegisterFile) throws(GDBTargetError) {
        // A register this target refuses with a message (as vmxemu does for a GPR of a guest
        // that is off the CPU).
        if file.value("k_gs_base") == 1 { throw GDBTargetError(.einval, "k_gs_base: not writable in this context") }
        let ok: Bool = lock.withLock {
            guard var f = registers[thread] else { return false }
            for r in file.layout.registers { if let v = file[r.regnum] { f[r.regnum] = v } }
            registers[thread] = f
            return true
        }
        if !ok { throw .noSuchProcess }
    }

    func reg(_ thread: GDBThreadID, _ name: String) -> UInt64? { lock.withLock { registers[thread]?.value(name) } }

    func readMemory(pid: Int, address: UInt64, count: Int) -> [UInt8] {
        lock.withLock {
            guard let r = memory[pid], address >= r.base, address - r.base < UInt64(r.bytes.count) else { return [] }
            let start = Int(address - r.base)
            return Array(r.bytes[start..<min(r.bytes.count, start + count)])
        }
    }

    func writeMemory(pid: Int, address: UInt64, bytes: [UInt8]) throws(GDBTargetError) {
        let ok: Bool = lock.withLock {
            guard var r = memory[pid], address >= r.base,
                address - r.base + UInt64(bytes.count) <= UInt64(r.bytes.count)
            else { return false }
            let start = Int(address - r.base)
            r.bytes.replaceSubrange(start..<start + bytes.count, with: bytes)
            memory[pid] = r
            return true
        }
        if !ok { throw .fault }
    }

    func resume(_ request: GDBResumeRequest, stops: GDBStopSink) {
        let hook: (@Sendable (GDBResumeRequest, GDBStopSink) -> Void)? = lock.withLock {
            resumes.append(request)
            sink = stops
            return onResume
        }
        if let hook { Thread.detachNewThread { hook(request, stops) } }
    }

    func interrupt() {
        let (hook, s): ((@Sendable (GDBStopSink?) -> Void)?, GDBStopSink?) = lock.withLock {
            interrupts += 1
            return (onInterrupt, sink)
        }
        hook?(s)
    }

    func detach(pid: Int) { lock.withLock { detached.append(pid) } }

    func disconnected(stops: GDBStopSink) -> Bool {
        lock.withLock {
            if freeRunOnDisconnect { sink = stops }
            return freeRunOnDisconnect
        }
    }

    func insertSoftwareBreakpoint(pid: Int, address: UInt64, kind: Int) throws(GDBTargetError) {
        _ = lock.withLock { software.insert([UInt64(pid), address, UInt64(kind)]) }
    }
    func removeSoftwareBreakpoint(pid: Int, address: UInt64, kind: Int) throws(GDBTargetError) {
        let had = lock.withLock { software.remove([UInt64(pid), address, UInt64(kind)]) != nil }
        if !had { throw .invalid }
    }
    func insertHardwareBreakpoint(pid: Int, address: UInt64, kind: Int) throws(GDBTargetError) {
        _ = lock.withLock { hardware.insert([UInt64(pid), address, UInt64(kind)]) }
    }
    func removeHardwareBreakpoint(pid: Int, address: UInt64, kind: Int) throws(GDBTargetError) {
        _ = lock.withLock { hardware.remove([UInt64(pid), address, UInt64(kind)]) }
    }
    func insertWatchpoint(pid: Int, type: GDBBreakpointType, address: UInt64, length: Int) throws(GDBTargetError) {
        _ = lock.withLock { watch.insert([UInt64(pid), UInt64(type.rawValue), address, UInt64(length)]) }
    }
    func removeWatchpoint(pid: Int, type: GDBBreakpointType, address: UInt64, length: Int) throws(GDBTargetError) {
        _ = lock.withLock { watch.remove([UInt64(pid), UInt64(type.rawValue), address, UInt64(length)]) }
    }

    func attach(pid: Int) throws(GDBTargetError) -> GDBThreadID {
        guard let t = lock.withLock({ threadList[pid]?.first?.id }) else { throw .noSuchProcess }
        lock.withLock { attachedPids.append(pid) }
        return t
    }

    func kill(pid: Int) throws(GDBTargetError) { lock.withLock { killed.append(pid) } }

    func monitor(_ command: String) -> GDBMonitorResult {
        lock.withLock { monitorCommands.append(command) }
        switch command {
        case "help": return GDBMonitorResult(output: "vmxemu monitor commands:\n  help  this text\n  big   a long text\n")
        case "big": return GDBMonitorResult(output: String(repeating: "0123456789abcdef", count: 1000))
        default: return GDBMonitorResult(output: "unknown command: \(command)\n", succeeded: false)
        }
    }

    var execFiles: [Int: String] = [1: "/images/vmm.elf", 2: "/images/guest.elf"]
    func execFile(pid: Int) -> String? { lock.withLock { execFiles[pid] } }

    func readPhysicalMemory(address: UInt64, count: Int) -> [UInt8] {
        lock.withLock {
            guard address < UInt64(physical.bytes.count) else { return [] }
            return Array(physical.bytes[Int(address)..<min(physical.bytes.count, Int(address) + count)])
        }
    }

    func writePhysicalMemory(address: UInt64, bytes: [UInt8]) throws(GDBTargetError) {
        let ok: Bool = lock.withLock {
            guard address + UInt64(bytes.count) <= UInt64(physical.bytes.count) else { return false }
            physical.bytes.replaceSubrange(Int(address)..<Int(address) + bytes.count, with: bytes)
            return true
        }
        if !ok { throw .fault }
    }
}

/// Collected stop reports (from any thread).
final class StopQueue: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [(UInt64, GDBStopEvent)] = []
    func append(_ g: UInt64, _ e: GDBStopEvent) { lock.withLock { items.append((g, e)) } }
    func drain() -> [(UInt64, GDBStopEvent)] {
        lock.withLock {
            defer { items.removeAll() }
            return items
        }
    }
}

final class LogLines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ s: String) { lock.withLock { lines.append(s) } }
    var all: [String] { lock.withLock { lines } }
}

/// Drives a GDBSession the way gdb would: framed packets in, decoded reply payloads out.
final class Harness {
    let target: any GDBTarget
    let session: GDBSession
    let stops = StopQueue()
    let logs = LogLines()
    var lastOutput = GDBSessionOutput()

    init(_ target: any GDBTarget, connect: Bool = true) {
        self.target = target
        let stops = self.stops
        let logs = self.logs
        session = GDBSession(target: target, log: { logs.append($0) }, stopDelivery: { g, e in stops.append(g, e) })
        if connect { _ = session.connect() }
    }

    /// Decodes a stub's output into payloads (acks dropped).
    static func payloads(_ bytes: [UInt8]) -> [String] {
        var d = PacketDecoder()
        return d.feed(bytes).compactMap {
            if case .packet(let p) = $0 { return String(decoding: p, as: UTF8.self) }
            return nil
        }
    }

    /// Raw bytes in, raw bytes out.
    func raw(_ bytes: [UInt8]) -> [UInt8] {
        lastOutput = session.receive(bytes)
        return lastOutput.bytes
    }

    /// Sends one packet; returns every reply payload it produced.
    @discardableResult
    func send(_ payload: String) -> [String] {
        Self.payloads(raw(PacketEncoder.frame(payload)))
    }

    /// Sends one packet; returns its single reply (or "<none>" / the replies joined by " | ").
    func ask(_ payload: String) -> String {
        let r = send(payload)
        if r.isEmpty { return "<none>" }
        return r.count == 1 ? r[0] : r.joined(separator: " | ")
    }

    /// Delivers queued stop reports; returns the reply payloads.
    func deliverStops() -> [String] {
        var out: [String] = []
        for (g, e) in stops.drain() {
            out += Self.payloads(session.handleStop(generation: g, event: e).bytes)
        }
        return out
    }

    /// The usual gdb 13 connect sequence up to the first `g`.
    func handshake(noAck: Bool = true) {
        _ = send("qSupported:multiprocess+;swbreak+;hwbreak+;qRelocInsn+;fork-events+;vfork-events+;exec-events+;vContSupported+;QThreadEvents+;no-resumed+;memory-tagging+;xmlRegisters=i386")
        _ = send("vMustReplyEmpty")
        if noAck { _ = send("QStartNoAckMode") }
        _ = send("Hgp0.0")
        _ = send("?")
    }
}
