// The Machine ⇄ gdb adapter: GDBRemote's target protocol on top of `MachineController`.
//
//   gdb process 1 = the VMM (VMX root) context, thread 1.1 "VMM vCPU0"; process N ≥ 2 = the
//   guest whose VMCS was entered (N−1)th, thread N.1 "guest N−1 vCPU0", plus one slot for the
//   next guest so gdb can attach before the VMM launches it (docs/DESIGN.md, "The gdb
//   context model"). Registers and memory of a context not on the CPU come from its VMCS;
//   breakpoints are per context and the CPU holds those of the context on it.
//
//   registers   RegisterMap (x87/SSE unavailable; VMX feature: mode 0, no current VMCS)
//   memory      linear through the current paging (debugRead/debugWrite: no faults, no A/D
//               bits, readable prefix); physical for tagged addresses (bits 63:52 = 0x800),
//               while `monitor phys on`, and in QEMU's PhyMemMode
//   Z0/Z1       the controller's tables → cpu.breakpoints (guest memory is never patched)
//   Z2–Z4       → cpu.watchpoints, reported after the access with the watched address
//   resume      the CPU thread runs; the stop comes back through the GDBStopSink
//   exit        port 0xF4 → `W` to gdb, then `hooks.guestExited` (vmxemu exits with it)
//   fatal       triple fault → SIGSEGV, unimplemented instruction → SIGILL, a HLT nothing can
//               wake → SIGTRAP; each with a console line (`O` packet and stderr)

import GDBRemote
import Machine
import X86

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What the adapter tells its host (the vmxemu command) about; called from any thread.
public struct MachineTargetHooks: Sendable {
    /// The guest wrote its exit status to port 0xF4 (gdb, if attached, has been sent `W`).
    public var guestExited: @Sendable (Int32) -> Void
    /// gdb asked to kill the VMM context (`kill`).
    public var killed: @Sendable () -> Void
    /// A gdb connected (the one the server accepted; refused ones are not reported).
    public var gdbConnected: @Sendable () -> Void
    /// gdb went away (detached or disconnected); the machine stays stopped.
    public var gdbDisconnected: @Sendable () -> Void
    /// A line for the emulator's log (stderr).
    public var log: @Sendable (String) -> Void

    public init(guestExited: @escaping @Sendable (Int32) -> Void = { _ in },
                killed: @escaping @Sendable () -> Void = {},
                gdbConnected: @escaping @Sendable () -> Void = {},
                gdbDisconnected: @escaping @Sendable () -> Void = {},
                log: @escaping @Sendable (String) -> Void = { debuggerLog("vmxemu: " + $0) }) {
        self.guestExited = guestExited
        self.killed = killed
        self.gdbConnected = gdbConnected
        self.gdbDisconnected = gdbDisconnected
        self.log = log
    }
}

public final class MachineTarget: GDBTarget, GDBSoftwareBreakpoints, GDBHardwareBreakpoints, GDBWatchpoints,
    GDBExtendedMode, GDBMonitorCommands, GDBExecFiles, GDBPhysicalMemory, Sendable
{
    public static let vmmThread = GDBThreadID(pid: MachineController.vmmContext, tid: 1)
    public static let sigill: UInt8 = 4
    public static let sigsegv: UInt8 = 11

    public let controller: MachineController
    /// The ELF gdb loads symbols from (`qXfer:exec-file:read`), if the image is one.
    public let imagePath: String?
    public let hooks: MachineTargetHooks

    public init(controller: MachineController, imagePath: String? = nil, hooks: MachineTargetHooks = MachineTargetHooks()) {
        self.controller = controller
        self.imagePath = imagePath.flatMap { MachineTarget.isELF($0) ? $0 : nil }
        self.hooks = hooks
    }

    public convenience init(machine: Machine, imagePath: String? = nil, hooks: MachineTargetHooks = MachineTargetHooks()) {
        self.init(controller: MachineController(machine: machine), imagePath: imagePath, hooks: hooks)
    }

    // MARK: Running without gdb

    /// Starts the machine with no debugger attached (`vmxemu run --gdb` without `-S`). A gdb that
    /// connects interrupts it; a stop before then is logged (and a guest exit passed to the hook).
    public func startFreeRun() {
        let hooks = self.hooks
        controller.resume(.continue, freeRun: true) { stop in
            switch stop.reason {
            case .exited(let status):
                hooks.guestExited(status)
            case .interrupted:
                break   // a gdb connected and took over
            default:
                hooks.log("stopped: \(stop.summary); waiting for gdb")
            }
        }
    }

    // MARK: Processes and threads

    public func processes() -> [GDBProcessInfo] {
        controller.contexts().map { c in
            if c.isVMM { return GDBProcessInfo(pid: c.pid, name: "VMM") }
            let n = c.pid - 1
            return GDBProcessInfo(pid: c.pid, name: c.vmcs.map { "guest \(n) (VMCS 0x\(hex($0)))" } ?? "guest \(n) (not entered yet)")
        }
    }

    func isContext(_ pid: Int) -> Bool { controller.contexts().contains { $0.pid == pid } }

    public func threads(of pid: Int) -> [GDBThreadInfo] {
        guard isContext(pid) else { return [] }
        let onCPU = controller.currentContext == pid
        let mode = controller.withStopped { m -> String in
            let cpu = m.cpu
            if pid == MachineController.vmmContext {
                let vmx = !cpu.vmx.on ? "VMX off" : "VMX root"
                return onCPU ? "\(vmx), \(cpu.modeDescription)" : "VMX root, waiting: a guest runs"
            }
            return onCPU ? "VMX non-root, \(cpu.modeDescription)" : "VMX non-root, not on the CPU"
        } ?? "running"
        let name = pid == MachineController.vmmContext ? "VMM vCPU0" : "guest \(pid - 1) vCPU0"
        return [GDBThreadInfo(id: GDBThreadID(pid: pid, tid: 1), name: name, extraInfo: mode, core: 0)]
    }

    /// A gdb connected: a machine running free is stopped so gdb finds it stopped.
    public func initiallyAttached() -> [Int] {
        hooks.gdbConnected()
        // VMX breakpoints outlive a gdb session (they live with the machine): say so to the next one.
        let kept = DebugSession.of(controller).breakpoints
        if !kept.isEmpty {
            hooks.log("VMX breakpoints from an earlier session are still set (monitor info breakpoints, monitor delete N): "
                      + kept.map { "\($0.number): \($0.description)" }.joined(separator: "; "))
        }
        if !controller.stopFreeRun(timeout: 5) { hooks.log("the CPU did not stop within 5 s for the connecting gdb") }
        return [MachineController.vmmContext]
    }

    // MARK: Registers

    public func readRegisters(_ thread: GDBThreadID) throws(GDBTargetError) -> GDBRegisterFile {
        guard thread.tid == 1, isContext(thread.pid) else { throw .noSuchProcess }
        guard let file = controller.registers(context: thread.pid, layout: registerLayout) else {
            throw GDBTargetError(.ebusy, "registers: the machine is running")
        }
        return file
    }

    public func writeRegisters(_ thread: GDBThreadID, _ file: GDBRegisterFile) throws(GDBTargetError) {
        guard thread.tid == 1, isContext(thread.pid) else { throw .noSuchProcess }
        guard controller.currentContext == thread.pid else {
            try writeRegistersToVMCS(thread.pid, file)
            return
        }
        let result: GDBTargetError?? = controller.withStopped { m in
            do throws(GDBTargetError) {
                try RegisterMap.write(file, to: m.cpu)
                return nil
            } catch {
                return error
            }
        }
        switch result {
        case nil: throw GDBTargetError(.ebusy, "registers: the machine is running")
        case .some(.some(let error)): throw error
        case .some(.none): return
        }
    }

    /// The VMCS field behind each register of a context that is off the CPU: a guest's
    /// guest-state area, the VMM's host-state area [SDM §24.4 "Guest-State Area", §24.5
    /// "Host-State Area"].
    static let guestFields: [String: VMCSFieldID] = [
        "rip": .guestRIP, "rsp": .guestRSP, "eflags": .guestRFLAGS,
        "cs": .guestCSSelector, "ss": .guestSSSelector, "ds": .guestDSSelector, "es": .guestESSelector,
        "fs": .guestFSSelector, "gs": .guestGSSelector, "fs_base": .guestFSBase, "gs_base": .guestGSBase,
        "cr0": .guestCR0, "cr3": .guestCR3, "cr4": .guestCR4, "gdtr_base": .guestGDTRBase, "gdtr_limit": .guestGDTRLimit,
        "idtr_base": .guestIDTRBase, "idtr_limit": .guestIDTRLimit, "dr7": .guestDR7,
    ]
    static let hostFields: [String: VMCSFieldID] = [
        "rip": .hostRIP, "rsp": .hostRSP,
        "cs": .hostCSSelector, "ss": .hostSSSelector, "ds": .hostDSSelector, "es": .hostESSelector,
        "fs": .hostFSSelector, "gs": .hostGSSelector, "fs_base": .hostFSBase, "gs_base": .hostGSBase,
        "cr0": .hostCR0, "cr3": .hostCR3, "cr4": .hostCR4, "gdtr_base": .hostGDTRBase, "idtr_base": .hostIDTRBase,
    ]

    /// Writes registers of a context that is not on the CPU into its VMCS (guest-state area for
    /// a guest, host-state area for the VMM). A register the VMCS does not hold is refused by
    /// name; all or nothing. Registers whose value does not change (a whole-file `G`) are skipped.
    func writeRegistersToVMCS(_ pid: Int, _ file: GDBRegisterFile) throws(GDBTargetError) {
        guard let current = controller.registers(context: pid, layout: registerLayout) else {
            throw GDBTargetError(.ebusy, "registers: the machine is running")
        }
        let isVMM = pid == MachineController.vmmContext
        let vmcs: UInt64? = isVMM ? controller.withStopped { m in
            m.cpu.vmx.currentVMCS == VMXState.invalidPointer ? nil : m.cpu.vmx.currentVMCS } ?? nil
            : controller.vmcs(ofContext: pid)
        guard let vmcs else {
            throw GDBTargetError(.einval, "context \(pid) has no VMCS yet (not entered): nothing to write its registers to")
        }
        let map = isVMM ? Self.hostFields : Self.guestFields
        let area = isVMM ? "host-state" : "guest-state"
        var writes: [(VMCSFieldID, UInt64)] = []
        for r in registerLayout.registers {
            guard let new = file[r.regnum], new != current[r.regnum] else { continue }
            guard let field = map[r.name], let v = file.value(r.name) else {
                throw GDBTargetError(.einval, "\(r.name): context \(pid) is off the CPU and the VMCS \(area) area has no \(r.name); only rip, rsp, \(isVMM ? "" : "eflags, ")segment selectors, fs/gs base, cr0, cr3, cr4, gdtr/idtr\(isVMM ? " base" : ", dr7") can be written")
            }
            writes.append((field, v))
        }
        let done: Bool? = controller.withStopped { m in
            for (f, v) in writes {
                m.cpu.vmcsWrite(f, v, at: vmcs)
                m.cpu.markVMCSWritten(f, at: vmcs)
            }
            return true
        }
        if done == nil { throw GDBTargetError(.ebusy, "registers: the machine is running") }
    }

    // MARK: Memory

    public func readMemory(pid: Int, address: UInt64, count: Int) -> [UInt8] {
        guard isContext(pid) else { return [] }
        return controller.readMemory(context: pid, address: address, count: count) ?? []
    }

    public func writeMemory(pid: Int, address: UInt64, bytes: [UInt8]) throws(GDBTargetError) {
        guard isContext(pid) else { throw .noSuchProcess }
        try check(controller.writeMemory(context: pid, address: address, bytes: bytes), address)
    }

    public func readPhysicalMemory(address: UInt64, count: Int) -> [UInt8] {
        controller.readPhysical(address: address & MachineController.physicalAddressMask, count: count) ?? []
    }

    public func writePhysicalMemory(address: UInt64, bytes: [UInt8]) throws(GDBTargetError) {
        try check(controller.writePhysical(address: address & MachineController.physicalAddressMask, bytes: bytes), address)
    }

    private func check(_ r: MachineController.MemoryWriteResult, _ address: UInt64) throws(GDBTargetError) {
        switch r {
        case .ok: return
        case .busy: throw GDBTargetError(.ebusy, "memory: the machine is running")
        case .unmapped(let a): throw GDBTargetError(.efault, "memory write at 0x\(hex(address)): 0x\(hex(a)) is not mapped to RAM")
        }
    }

    // MARK: Execution

    public func resume(_ request: GDBResumeRequest, stops: GDBStopSink) {
        // Which context steps, if any (gdb rule "a step stops in its own thread", docs/DESIGN.md).
        // Only contexts gdb has attached can be resumed (gdb rule "stops only in attached processes").
        let contexts = controller.contexts().map(\.pid).filter { request.attachedProcesses.contains($0) }
        var stepping: Int? = nil
        var resumed = false
        for pid in contexts {
            let t = GDBThreadID(pid: pid, tid: 1)
            guard let kind = request.kind(for: t) else { continue }
            resumed = true
            if kind.isStep && stepping == nil { stepping = pid }
        }
        guard resumed else {
            let pid = request.attachedProcesses.min() ?? MachineController.vmmContext
            stops.report(GDBStopEvent(thread: GDBThreadID(pid: pid, tid: 1), reason: .signal(GDBStopReason.sigtrap),
                                      console: "vmxemu: nothing to resume"))
            return
        }
        let attached = request.attachedProcesses
        let hooks = self.hooks
        let steppingContext = stepping
        let mode: MachineController.RunMode = stepping.map { .stepIn(context: $0) } ?? .continue
        let started = controller.resume(mode) { stop in
            // Report the stop in the thread of the context that stopped if gdb has it attached
            // (gdb rule "stops only in attached processes"), else in the first attached context that was resumed.
            let pid = steppingContext ?? (attached.contains(stop.context) ? stop.context
                                                                           : (contexts.first ?? MachineController.vmmContext))
            let thread = GDBThreadID(pid: pid, tid: 1)
            let event = MachineTarget.event(for: stop, thread: thread)
            if stop.reason.isFatal { hooks.log("stopped: \(stop.summary)") }
            // (The host waits for gdb to hang up after the `W` before it ends the process.)
            if case .exited(let status) = stop.reason { hooks.guestExited(status) }
            stops.report(event)
        }
        if !started {
            stops.report(GDBStopEvent(thread: Self.vmmThread, reason: .signal(GDBStopReason.sigint),
                                      console: "vmxemu: the machine is already running"))
        }
    }

    /// The gdb stop event for a machine stop.
    public static func event(for stop: DebugStop, thread: GDBThreadID) -> GDBStopEvent {
        switch stop.reason {
        case .breakpoint(_, let hardware):
            return GDBStopEvent(thread: thread, reason: hardware ? .hardwareBreakpoint : .softwareBreakpoint)
        case .watchpoint(let kind, let address):
            let type: GDBBreakpointType
            switch kind {
            case .write: type = .writeWatch
            case .read: type = .readWatch
            case .access: type = .accessWatch
            }
            return GDBStopEvent(thread: thread, reason: .watchpoint(type, address: address))
        case .stepped, .idle:
            return GDBStopEvent(thread: thread, reason: .signal(GDBStopReason.sigtrap))
        case .vmx:
            return GDBStopEvent(thread: thread, reason: .signal(GDBStopReason.sigtrap), console: "vmxemu: \(stop.summary)")
        case .interrupted:
            return GDBStopEvent(thread: thread, reason: .signal(GDBStopReason.sigint))
        case .exited(let status):
            return GDBStopEvent(thread: thread, reason: .exited(code: UInt8(truncatingIfNeeded: status)),
                                console: "vmxemu: guest exited with status \(status) (port 0xF4)")
        case .fatal(let cause):
            let signal: UInt8
            switch cause {
            case .tripleFault: signal = sigsegv
            case .unimplemented: signal = sigill
            default: signal = GDBStopReason.sigtrap
            }
            return GDBStopEvent(thread: thread, reason: .signal(signal), console: "vmxemu: \(stop.summary)")
        }
    }

    public func interrupt() { controller.interrupt() }

    public func detach(pid: Int) {
        let rip = controller.withStopped { controller.describe($0.cpu.rip) } ?? "?"
        hooks.log("gdb detached; the machine stays stopped at \(rip)")
    }

    public func disconnected(stops: GDBStopSink) -> Bool {
        controller.physicalView = false
        hooks.gdbDisconnected()
        return false   // the machine keeps its state for the next gdb
    }

    // MARK: Breakpoints and watchpoints

    public func insertSoftwareBreakpoint(pid: Int, address: UInt64, kind: Int) throws(GDBTargetError) {
        guard isContext(pid) else { throw .noSuchProcess }
        guard controller.insertBreakpoint(context: pid, address: address, hardware: false) else { throw .init(.ebusy) }
    }

    public func removeSoftwareBreakpoint(pid: Int, address: UInt64, kind: Int) throws(GDBTargetError) {
        guard isContext(pid) else { throw .noSuchProcess }
        guard controller.removeBreakpoint(context: pid, address: address, hardware: false) else { throw .invalid }
    }

    public func insertHardwareBreakpoint(pid: Int, address: UInt64, kind: Int) throws(GDBTargetError) {
        guard isContext(pid) else { throw .noSuchProcess }
        guard controller.insertBreakpoint(context: pid, address: address, hardware: true) else { throw .init(.ebusy) }
    }

    public func removeHardwareBreakpoint(pid: Int, address: UInt64, kind: Int) throws(GDBTargetError) {
        guard isContext(pid) else { throw .noSuchProcess }
        guard controller.removeBreakpoint(context: pid, address: address, hardware: true) else { throw .invalid }
    }

    public var supportedWatchpoints: Set<GDBBreakpointType> { [.writeWatch, .readWatch, .accessWatch] }

    public func insertWatchpoint(pid: Int, type: GDBBreakpointType, address: UInt64, length: Int) throws(GDBTargetError) {
        guard isContext(pid) else { throw .noSuchProcess }
        guard let w = Self.watchpoint(type, address, length) else { throw .invalid }
        guard controller.insertWatchpoint(context: pid, w) else { throw .init(.ebusy) }
    }

    public func removeWatchpoint(pid: Int, type: GDBBreakpointType, address: UInt64, length: Int) throws(GDBTargetError) {
        guard isContext(pid) else { throw .noSuchProcess }
        guard let w = Self.watchpoint(type, address, length) else { throw .invalid }
        guard controller.removeWatchpoint(context: pid, w) else { throw .invalid }
    }

    static func watchpoint(_ type: GDBBreakpointType, _ address: UInt64, _ length: Int) -> Watchpoint? {
        // gdb asks for at most a few pages (it splits large `watch` expressions itself).
        guard length >= 1, length <= 1 << 20 else { return nil }
        let kind: Watchpoint.Kind
        switch type {
        case .writeWatch: kind = .write
        case .readWatch: kind = .read
        case .accessWatch: kind = .access
        default: return nil
        }
        return Watchpoint(address: address, length: UInt64(length), kind: kind)
    }

    // MARK: Extended mode, monitor, exec file

    public func attach(pid: Int) throws(GDBTargetError) -> GDBThreadID {
        guard isContext(pid) else { throw .noSuchProcess }
        return GDBThreadID(pid: pid, tid: 1)
    }

    public func kill(pid: Int) throws(GDBTargetError) {
        guard pid == MachineController.vmmContext else { throw .noSuchProcess }
        hooks.log("gdb killed the VMM context: ending the machine")
        hooks.killed()
    }

    public func monitor(_ command: String) -> GDBMonitorResult {
        let r = DebuggerCommands.execute(command, on: controller)
        return GDBMonitorResult(output: r.output, succeeded: r.succeeded)
    }

    /// Every context runs code of the one image loaded (a VMM image carries its guests).
    public func execFile(pid: Int) -> String? {
        isContext(pid) ? imagePath : nil
    }

    static func isELF(_ path: String) -> Bool {
        guard let f = fopen(path, "rb") else { return false }
        defer { fclose(f) }
        var magic = [UInt8](repeating: 0, count: 4)
        return fread(&magic, 1, 4, f) == 4 && magic == [0x7F, 0x45, 0x4C, 0x46]
    }
}
