// What the emulator implements so gdb can debug it — gdbstub style: one base protocol that every
// target has, plus optional capability protocols. `qSupported`, `vCont?` and the answers to
// `Z`/`qXfer`/`qRcmd`/`vAttach` are derived from which capabilities the target conforms to
// (`GDBCapabilities`), so the stub can never advertise what is missing.
//
//   GDBTarget                  processes, threads, registers, memory, resume/interrupt, detach
//   ├─ GDBSoftwareBreakpoints  Z0/z0            → swbreak+
//   ├─ GDBHardwareBreakpoints  Z1/z1            → hwbreak+
//   ├─ GDBWatchpoints          Z2–Z4/z2–z4
//   ├─ GDBExtendedMode         !, vAttach, vKill, qXfer:osdata:read (processes)
//   ├─ GDBMonitorCommands      qRcmd (`monitor …`)
//   ├─ GDBExecFiles            qXfer:exec-file:read
//   └─ GDBPhysicalMemory       qqemu.PhyMemMode / Qqemu.PhyMemMode (QEMU-compatible)
//
// Threading: the session calls the target from the server's event loop, and only while the
// target is stopped — except `interrupt()`, which arrives while it runs. `resume` must return
// promptly; the target runs on its own thread and, when it stops, calls `stops.report(_:)` once
// (from any thread). Model: process 1 = the VMM (VMX root), one process per guest, threads = vCPUs.

/// A process (a context: the VMM or one guest).
public struct GDBProcessInfo: Equatable, Sendable {
    public var pid: Int
    public var name: String
    public init(pid: Int, name: String) {
        self.pid = pid
        self.name = name
    }
}

/// A thread (a vCPU of a context).
public struct GDBThreadInfo: Equatable, Sendable {
    public var id: GDBThreadID
    /// Shown by `info threads` ("VMM vCPU0").
    public var name: String
    /// `qThreadExtraInfo` text; defaults to the name.
    public var extraInfo: String?
    public var core: Int?

    public init(id: GDBThreadID, name: String, extraInfo: String? = nil, core: Int? = nil) {
        self.id = id
        self.name = name
        self.extraInfo = extraInfo
        self.core = core
    }
}

/// A non-fatal failure the session turns into an `Enn` (or `E.message`) reply.
public struct GDBTargetError: Error, Equatable, Sendable {
    public var errno: GDBErrno
    public var message: String?
    public init(_ errno: GDBErrno, _ message: String? = nil) {
        self.errno = errno
        self.message = message
    }
    public static let fault = GDBTargetError(.efault)
    public static let noSuchProcess = GDBTargetError(.esrch)
    public static let invalid = GDBTargetError(.einval)
}

/// What gdb asked the target to run.
///
/// Each thread of an attached process does what the first action naming it says; a thread no
/// action names stays stopped (vCont semantics). `onlyThread` is set when gdb resumed exactly
/// one thread (`vCont;s:p1.1`, how it steps over a breakpoint): the stop MUST then be reported in
/// that thread (docs/DESIGN.md, gdb rule "a step stops in its own thread") — a step across a VM
/// entry/exit completes when that same context next executes an instruction. Stops may only be
/// reported in `attachedProcesses` (gdb rule "stops only in attached processes").
public struct GDBResumeRequest: Equatable, Sendable {
    public var actions: [GDBResumeAction]
    public var attachedProcesses: Set<Int>
    public var onlyThread: GDBThreadID?

    public init(actions: [GDBResumeAction], attachedProcesses: Set<Int>, onlyThread: GDBThreadID? = nil) {
        self.actions = actions
        self.attachedProcesses = attachedProcesses
        self.onlyThread = onlyThread
    }

    /// What `thread` should do, or nil if it stays stopped.
    public func kind(for thread: GDBThreadID) -> GDBResumeKind? {
        for a in actions where a.thread?.matches(thread) ?? true { return a.kind }
        return nil
    }

    /// True if any resumed thread single-steps.
    public var isStep: Bool { actions.contains { $0.kind.isStep } }
}

/// Where the target reports the end of a resume. Thread-safe; report once per resume (later
/// reports for the same resume are ignored, as are reports after gdb has moved on).
public final class GDBStopSink: Sendable {
    public let generation: UInt64
    private let deliver: @Sendable (UInt64, GDBStopEvent) -> Void

    public init(generation: UInt64, deliver: @escaping @Sendable (UInt64, GDBStopEvent) -> Void) {
        self.generation = generation
        self.deliver = deliver
    }

    public func report(_ event: GDBStopEvent) { deliver(generation, event) }
}

/// The base protocol every target implements.
public protocol GDBTarget: AnyObject, Sendable {
    /// The register layout; `GDBRegisterLayout.x86_64` in every CPU mode.
    var registerLayout: GDBRegisterLayout { get }

    /// Every process (context), attached or not, in pid order.
    func processes() -> [GDBProcessInfo]

    /// The threads (vCPUs) of a process; empty for an unknown pid.
    func threads(of pid: Int) -> [GDBThreadInfo]

    /// The processes gdb is attached to when it connects (only the VMM: docs/DESIGN.md, "The gdb context model").
    func initiallyAttached() -> [Int]

    /// All registers of a thread; registers the thread cannot supply are left unavailable.
    func readRegisters(_ thread: GDBThreadID) throws(GDBTargetError) -> GDBRegisterFile

    /// Writes the *available* registers of `file` to the thread (read-only ones are never passed).
    func writeRegisters(_ thread: GDBThreadID, _ file: GDBRegisterFile) throws(GDBTargetError)

    /// Debug read in the address space of `pid`: never faults the guest, never sets A/D bits.
    /// Returns the readable prefix of the range (empty = nothing readable → `E0e`).
    func readMemory(pid: Int, address: UInt64, count: Int) -> [UInt8]

    /// Debug write in the address space of `pid`; all or nothing.
    func writeMemory(pid: Int, address: UInt64, bytes: [UInt8]) throws(GDBTargetError)

    /// Starts running; returns at once. Report the stop through `stops` (once).
    func resume(_ request: GDBResumeRequest, stops: GDBStopSink)

    /// gdb pressed Ctrl-C while running: stop soon and report (SIGINT) through the sink.
    func interrupt()

    /// gdb detached from `pid` (it has removed its breakpoints first).
    func detach(pid: Int)

    /// gdb went away (after detaching, or abruptly). Return true if the machine now runs free —
    /// it must then report through `stops` once the next gdb connects and interrupts it;
    /// return false if it stays stopped.
    func disconnected(stops: GDBStopSink) -> Bool
}

extension GDBTarget {
    public var registerLayout: GDBRegisterLayout { .x86_64 }
    public func initiallyAttached() -> [Int] { processes().first.map { [$0.pid] } ?? [] }
    public func detach(pid: Int) {}
    public func disconnected(stops: GDBStopSink) -> Bool { false }
}

/// `Z0`/`z0`; advertises `swbreak+`. `kind` is the breakpoint length gdb passes (1 on x86).
/// Breakpoints never patch memory: keep a table keyed by (pid, address) checked at fetch.
public protocol GDBSoftwareBreakpoints: GDBTarget {
    func insertSoftwareBreakpoint(pid: Int, address: UInt64, kind: Int) throws(GDBTargetError)
    func removeSoftwareBreakpoint(pid: Int, address: UInt64, kind: Int) throws(GDBTargetError)
}

/// `Z1`/`z1`; advertises `hwbreak+`.
public protocol GDBHardwareBreakpoints: GDBTarget {
    func insertHardwareBreakpoint(pid: Int, address: UInt64, kind: Int) throws(GDBTargetError)
    func removeHardwareBreakpoint(pid: Int, address: UInt64, kind: Int) throws(GDBTargetError)
}

/// `Z2`–`Z4`/`z2`–`z4`. Report a write watchpoint after the store completes, with its address.
public protocol GDBWatchpoints: GDBTarget {
    /// Which of `.writeWatch`, `.readWatch`, `.accessWatch` are supported (others get an empty reply).
    var supportedWatchpoints: Set<GDBBreakpointType> { get }
    func insertWatchpoint(pid: Int, type: GDBBreakpointType, address: UInt64, length: Int) throws(GDBTargetError)
    func removeWatchpoint(pid: Int, type: GDBBreakpointType, address: UInt64, length: Int) throws(GDBTargetError)
}

/// `target extended-remote`: `!`, `vAttach;pid`, `vKill;pid`, and `info os processes`.
public protocol GDBExtendedMode: GDBTarget {
    /// Attach to a process; returns the thread gdb should see as stopped (its current vCPU).
    func attach(pid: Int) throws(GDBTargetError) -> GDBThreadID
    /// `vKill`: what "kill" means for a context is the target's choice (e.g. stop that vCPU).
    func kill(pid: Int) throws(GDBTargetError)
    /// The `user` column of `info os processes`.
    var osdataUser: String { get }
}

extension GDBExtendedMode {
    public var osdataUser: String { "vmxemu" }
}

/// `monitor CMD`: the command line in, the text to print out (sent as `O` packets).
public protocol GDBMonitorCommands: GDBTarget {
    func monitor(_ command: String) -> GDBMonitorResult
}

public struct GDBMonitorResult: Equatable, Sendable {
    public var output: String
    public var succeeded: Bool
    public init(output: String, succeeded: Bool = true) {
        self.output = output
        self.succeeded = succeeded
    }
}

/// `qXfer:exec-file:read`: the ELF whose symbols gdb loads on `attach N`. gdb then reads that
/// file through `vFile` (open/pread/fstat/close), which the session serves read-only from the
/// host — only paths this method returns for some process, nothing else.
public protocol GDBExecFiles: GDBTarget {
    func execFile(pid: Int) -> String?
}

/// QEMU-compatible physical memory mode: while on, `m`/`M`/`X` address physical memory.
public protocol GDBPhysicalMemory: GDBTarget {
    func readPhysicalMemory(address: UInt64, count: Int) -> [UInt8]
    func writePhysicalMemory(address: UInt64, bytes: [UInt8]) throws(GDBTargetError)
}

/// What a target implements, found once by dynamic casts; the single source for `qSupported`.
public struct GDBCapabilities: Equatable, Sendable {
    public var softwareBreakpoints: Bool
    public var hardwareBreakpoints: Bool
    public var watchpoints: Set<GDBBreakpointType>
    public var extendedMode: Bool
    public var monitor: Bool
    public var execFiles: Bool
    public var physicalMemory: Bool

    public init(_ target: any GDBTarget) {
        softwareBreakpoints = target is any GDBSoftwareBreakpoints
        hardwareBreakpoints = target is any GDBHardwareBreakpoints
        watchpoints = (target as? any GDBWatchpoints)?.supportedWatchpoints.filter(\.isWatchpoint) ?? []
        extendedMode = target is any GDBExtendedMode
        monitor = target is any GDBMonitorCommands
        execFiles = target is any GDBExecFiles
        physicalMemory = target is any GDBPhysicalMemory
    }

    public func supports(_ type: GDBBreakpointType) -> Bool {
        switch type {
        case .software: return softwareBreakpoints
        case .hardware: return hardwareBreakpoints
        default: return watchpoints.contains(type)
        }
    }

    /// The `qSupported` reply features, in a stable order.
    public var supportedFeatures: [String] {
        var f = ["PacketSize=\(String(gdbMaxPacketSize, radix: 16))", "QStartNoAckMode+", "multiprocess+",
                 "qXfer:features:read+", "qXfer:threads:read+", "vContSupported+"]
        if extendedMode { f.append("qXfer:osdata:read+") }
        if execFiles { f.append("qXfer:exec-file:read+") }
        if softwareBreakpoints { f.append("swbreak+") }
        if hardwareBreakpoints { f.append("hwbreak+") }
        return f
    }
}
