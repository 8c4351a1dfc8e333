// The machine as a debugger drives it: the CPU on its own thread, run/step/interrupt, the
// debugger's breakpoint and watchpoint tables per context, and the record of the last stop.
// Both front doors (the gdb adapter, `MachineTarget`, and later the REPL) sit on this class.
//
//   caller thread(s)                         CPU thread (one, started on the first resume)
//   ─────────────────                        ─────────────────────────────────────────────
//   resume(.continue) ──job──► lock ──────►  busy = true; cpu.run(…) until a stop
//   interrupt() ── cpu.interruptFlag = 1 ──► run returns .interrupted at the next block
//   withStopped { cpu in … } (refused while busy)
//                              completion(stop) ◄── busy = false; flag cleared; lastStop set
//
// Everything that touches the CPU or these tables takes `lock` and checks `busy`, so nothing
// reads or writes machine state while the CPU thread runs it. `interrupt()` is the one call
// meant for a running machine.
//
// Contexts: context 1 is the VMM (VMX root). Breakpoints and watchpoints are kept per context
// (keyed by the gdb process id) and the CPU's own tables hold those of the context it runs in —
// a VM entry/exit swaps them (guest tables in non-root operation).

import GDBRemote
import Machine
import X86

/// Why the machine stopped, as the debugger front doors see it.
public enum DebugStopReason: Equatable, Sendable {
    /// A debugger breakpoint at `address` (linear), before the instruction there ran.
    case breakpoint(address: UInt64, hardware: Bool)
    /// A watched range was accessed; the accessing instruction has completed.
    case watchpoint(kind: Watchpoint.Kind, address: UInt64)
    /// One instruction was executed (or an exception taken during it: rip is at the handler).
    case stepped
    /// `interrupt()` (gdb's Ctrl-C) stopped the run.
    case interrupted
    /// The guest wrote its exit status to the debug-exit port (0xF4).
    case exited(status: Int32)
    /// The CPU cannot go on by itself: triple fault (shutdown), a HLT nothing can wake, or an
    /// instruction vmxemu does not implement. The machine stays inspectable.
    case fatal(StopCause)
    /// A resume that asked nothing of the CPU.
    case idle
    /// A VMX event the user asked to stop at (`monitor break exit|entry|vmfail`).
    case vmx(VMXEvent)

    /// Fatal stops as a word, for reports.
    public var isFatal: Bool {
        if case .fatal = self { return true }
        return false
    }
}

/// One stop: the reason, where, and a sentence for people.
public struct DebugStop: Equatable, Sendable {
    public var reason: DebugStopReason
    /// RIP after the stop.
    public var rip: UInt64
    /// Instructions retired so far.
    public var instructions: UInt64
    /// One line saying what happened ("breakpoint at 0x101e90 <check_u64>").
    public var summary: String
    /// The gdb context (process id) the stop belongs to.
    public var context: Int

    public init(reason: DebugStopReason, rip: UInt64, instructions: UInt64, summary: String, context: Int = MachineController.vmmContext) {
        self.reason = reason
        self.rip = rip
        self.instructions = instructions
        self.summary = summary
        self.context = context
    }
}

public final class MachineController: @unchecked Sendable {
    /// The VMM (VMX root) context: gdb process 1.
    public static let vmmContext = 1
    /// Breakpoints of this pseudo-context stop in every context (the REPL's `break ADDR|SYMBOL`:
    /// a symbol of the guest's code must stop when the guest runs it, not only in the VMM).
    public static let everyContext = 0
    /// Physical addresses as gdb sees them in the tagged view: bits 63:52 = 0x800 (never
    /// canonical, so never a linear address), bits 51:0 the physical address. gdb
    /// passes non-canonical addresses verbatim (`x/2xb 0x8000000000001000` arrives as `m8000000000001000,1`).
    public static let physicalTag: UInt64 = 0x8000_0000_0000_0000
    public static let physicalAddressMask: UInt64 = (1 << 52) - 1

    public enum RunMode: Sendable, Equatable {
        case `continue`
        /// One instruction of whatever context is on the CPU.
        case step
        /// One instruction of context `pid` (gdb's `vCont;s:pN.T`). A step across VMLAUNCH,
        /// VMRESUME or a VM exit finishes when that same context next runs (docs/DESIGN.md, gdb rule "a step stops in its own thread");
        /// when the context is not on the CPU, the machine runs until it is.
        case stepIn(context: Int)
    }

    public let machine: Machine
    private let lock = ConditionLock()

    // Guarded by `lock` (the CPU thread reads the tables while `busy`; nobody else writes them then).
    private var job: Job?
    private var busy = false
    private var freeRunning = false
    private var threadStarted = false
    private var shuttingDown = false
    private var last: DebugStop?
    private var physical = false
    private var software: [Int: [UInt64: Int]] = [:]
    private var hardware: [Int: [UInt64: Int]] = [:]
    private var watches: [Int: [Watchpoint]] = [:]
    /// A halted or shut-down CPU stays so while RIP does not change (nothing in this machine
    /// can wake it); resuming reports the same stop again instead of running on.
    private var stuck: (rip: UInt64, stop: DebugStop)?
    /// Guest contexts: VMCS address → gdb pid (2, 3, … in the order guests were first entered).
    private var guestPIDs: [UInt64: Int] = [:]
    private var nextGuestPID = 2
    /// While stepping a context across VM transitions: the context to stop in, and whether it
    /// has been reached (set by the transition hook on the CPU thread).
    private var awaitedContext: Int? = nil
    private var reachedContext = false

    private struct Job {
        var mode: RunMode
        var freeRun: Bool
        var completion: @Sendable (DebugStop) -> Void
    }

    public init(machine: Machine) {
        self.machine = machine
        machine.cpu.onVMTransition = { [unowned self] cpu in self.vmTransition(cpu) }
    }

    // MARK: Contexts (docs/DESIGN.md, "The gdb context model"): 1 = VMM, then one per guest VMCS

    /// A context: its gdb pid and, for a guest, its VMCS (nil: the next guest, not entered yet).
    public struct Context: Sendable, Equatable {
        public var pid: Int
        public var vmcs: UInt64?
        public var isVMM: Bool { pid == MachineController.vmmContext }
    }

    /// Every context gdb can attach to: the VMM, each guest entered so far, and one slot for the
    /// next guest (so gdb can attach and set breakpoints before the VMM launches it).
    public func contexts() -> [Context] {
        lock.withLock {
            [Context(pid: Self.vmmContext, vmcs: nil)]
                + guestPIDs.map { Context(pid: $0.value, vmcs: $0.key) }.sorted { $0.pid < $1.pid }
                + [Context(pid: nextGuestPID, vmcs: nil)]
        }
    }

    /// The context on the CPU (assigning a pid to a guest VMCS seen for the first time). Lock held.
    private func currentContextLocked() -> Int {
        let cpu = machine.cpu
        guard cpu.vmx.nonRoot else { return Self.vmmContext }
        let vmcs = cpu.vmx.currentVMCS
        if let pid = guestPIDs[vmcs] { return pid }
        let pid = nextGuestPID
        guestPIDs[vmcs] = pid
        nextGuestPID += 1
        return pid
    }

    /// The context on the CPU.
    public var currentContext: Int { lock.withLock { currentContextLocked() } }

    /// The VMCS of a guest context (nil for the VMM and for the slot of a guest not entered yet).
    public func vmcs(ofContext pid: Int) -> UInt64? {
        lock.withLock { guestPIDs.first { $0.value == pid }?.key }
    }

    /// The register file of context `pid` while the machine is stopped (nil while it runs):
    /// the CPU's registers for the context on the CPU, otherwise from a VMCS — the host-state
    /// area of the current VMCS for the VMM while a guest runs, the guest-state area of a
    /// guest's VMCS while the VMM runs. A guest not entered yet has only the VMX registers.
    public func registers(context pid: Int, layout: GDBRegisterLayout) -> GDBRegisterFile? {
        lock.withLock {
            guard !busy, job == nil else { return nil }
            let cpu = machine.cpu
            let cur = currentContextLocked()
            if pid == cur { return RegisterMap.read(cpu, layout: layout) }
            if pid == Self.vmmContext {
                return RegisterMap.readFromVMCS(cpu, vmcs: cpu.vmx.currentVMCS, host: true, layout: layout)
            }
            guard let vmcs = guestPIDs.first(where: { $0.value == pid })?.key else {
                // The slot of the next guest: the guest-state area of the current VMCS if the VMM
                // has one that no guest context owns yet, else a guest at RIP 0 (gdb needs a PC
                // to finish `attach`; GPRs stay unavailable).
                let cur = cpu.vmx.currentVMCS
                if pid == nextGuestPID, cpu.vmx.on, cur != VMXState.invalidPointer, guestPIDs[cur] == nil {
                    return RegisterMap.readFromVMCS(cpu, vmcs: cur, host: false, layout: layout)
                }
                var f = GDBRegisterFile(layout: layout)
                f.set("rip", 0); f.set("rsp", 0); f.set("eflags", 2)
                RegisterMap.setVMX(&f, cpu)
                f.set("vmx_mode", 2)
                return f
            }
            return RegisterMap.readFromVMCS(cpu, vmcs: vmcs, host: false, layout: layout)
        }
    }

    /// Runs `body` with the CPU's paging registers temporarily set to those of context `pid`
    /// (from the VMCS when it is not on the CPU), so the debugger's reads and writes walk that
    /// context's address space (guest-physical = host-physical: no EPT yet). Lock held.
    private func inAddressSpace<T>(of pid: Int, _ body: () -> T) -> T {
        let cpu = machine.cpu
        let cur = currentContextLocked()
        guard pid != cur else { return body() }
        let vmcs: UInt64
        let host = pid == Self.vmmContext
        if host { vmcs = cpu.vmx.currentVMCS }
        else if let v = guestPIDs.first(where: { $0.value == pid })?.key { vmcs = v }
        else { return body() }   // a guest not entered yet: the VMM's view (no EPT)
        let saved = (cpu.cr0, cpu.cr3, cpu.cr4, cpu.efer, cpu.segs[Seg.cs])
        if host {
            let exitCtl = cpu.vmcsRead(.exitControls, at: vmcs)
            let host64 = exitCtl & UInt64(ExitCtl.hostAddressSpaceSize) != 0
            cpu.cr0 = cpu.vmcsRead(.hostCR0, at: vmcs); cpu.cr3 = cpu.vmcsRead(.hostCR3, at: vmcs); cpu.cr4 = cpu.vmcsRead(.hostCR4, at: vmcs)
            cpu.efer = exitCtl & UInt64(ExitCtl.loadEFER) != 0 ? cpu.vmcsRead(.hostEFER, at: vmcs)
                : (host64 ? EFER.lme | EFER.lma : 0) | (cpu.efer & EFER.nxe)
        } else {
            let entry = cpu.vmcsRead(.entryControls, at: vmcs)
            cpu.cr0 = cpu.vmcsRead(.guestCR0, at: vmcs); cpu.cr3 = cpu.vmcsRead(.guestCR3, at: vmcs); cpu.cr4 = cpu.vmcsRead(.guestCR4, at: vmcs)
            cpu.efer = entry & UInt64(EntryCtl.loadEFER) != 0 ? cpu.vmcsRead(.guestEFER, at: vmcs)
                : (entry & UInt64(EntryCtl.ia32eModeGuest) != 0 ? EFER.lme | EFER.lma : 0) | (cpu.efer & EFER.nxe)
        }
        cpu.modeChanged()
        defer {
            (cpu.cr0, cpu.cr3, cpu.cr4, cpu.efer) = (saved.0, saved.1, saved.2, saved.3)
            cpu.segs[Seg.cs] = saved.4
            cpu.modeChanged()
        }
        return body()
    }

    /// Reads memory in the address space of context `pid` (see `readMemory(address:count:)`).
    public func readMemory(context pid: Int, address: UInt64, count: Int) -> [UInt8]? {
        lock.withLock {
            guard !busy, job == nil else { return nil }
            if physical || Self.isTaggedPhysical(address) {
                return readPhysicalLocked(address & Self.physicalAddressMask, count)
            }
            return inAddressSpace(of: pid) { machine.cpu.debugRead(linear: address, count: max(0, count)) }
        }
    }

    /// Called on the CPU thread after each VM transition: install the new context's breakpoints
    /// and end a step that waits for this context.
    private func vmTransition(_ cpu: CPU) {
        // Every VM exit and failed entry goes into the session's ring, whoever drives the
        // machine (the REPL, gdb, or nobody): `exits` is the same list in either front door.
        if !cpu.vmx.nonRoot { DebugSession.of(self).recordTransition(cpu) }
        lock.withLock {
            let ctx = currentContextLocked()
            syncCPUTables(ctx)
            if let want = awaitedContext, want == ctx {
                reachedContext = true
                cpu.interruptFlag.pointee = 1
            }
        }
    }

    // MARK: State

    /// True while the CPU thread executes guest code.
    public var isRunning: Bool { lock.withLock { busy || job != nil } }

    /// The last stop (nil before the first run ended).
    public var lastStop: DebugStop? { lock.withLock { last } }

    /// The physical-memory view of `monitor phys on`: memory reads and writes by address are
    /// physical while it is on.
    public var physicalView: Bool {
        get { lock.withLock { physical } }
        set { lock.withLock { physical = newValue } }
    }

    /// Runs `body` with the CPU while the machine is stopped; nil while it runs.
    public func withStopped<T>(_ body: (Machine) -> T) -> T? {
        lock.withLock {
            guard !busy, job == nil else { return nil }
            return body(machine)
        }
    }

    // MARK: Running

    /// Starts the CPU (continue or one instruction); returns at once. `completion` is called
    /// once, on the CPU thread, after the machine stopped. False if it is already running (or
    /// the CPU thread could not be started).
    @discardableResult
    public func resume(_ mode: RunMode, freeRun: Bool = false,
                       completion: @escaping @Sendable (DebugStop) -> Void) -> Bool {
        lock.withLock {
            guard !busy, job == nil, !shuttingDown else { return false }
            if !threadStarted {
                guard startDetachedThread({ [self] in cpuThread() }) else { return false }
                threadStarted = true
            }
            job = Job(mode: mode, freeRun: freeRun, completion: completion)
            lock.broadcast()
            return true
        }
    }

    /// Stops a running machine at the next block boundary (milliseconds). Safe from any thread;
    /// does nothing when the machine is stopped.
    public func interrupt() {
        lock.withLock {
            if busy || job != nil { machine.cpu.interruptFlag.pointee = 1 }
        }
    }

    /// If the machine runs free (started without a debugger), interrupts it and waits until it
    /// has stopped. Returns false if it was still running at the timeout.
    @discardableResult
    public func stopFreeRun(timeout: Double = 5) -> Bool {
        lock.withLock {
            guard (busy && freeRunning) || (job?.freeRun ?? false) else { return true }
            machine.cpu.interruptFlag.pointee = 1
            let deadline = monotonicNow() + timeout
            while busy || job != nil {
                if !lock.wait(until: deadline) && monotonicNow() >= deadline { return false }
            }
            return true
        }
    }

    /// Waits until the machine is stopped; false at the timeout.
    @discardableResult
    public func waitUntilStopped(timeout: Double) -> Bool {
        lock.withLock {
            let deadline = monotonicNow() + timeout
            while busy || job != nil {
                if !lock.wait(until: deadline) && monotonicNow() >= deadline { return false }
            }
            return true
        }
    }

    /// Ends the CPU thread (after the run in progress, if any, is interrupted). The controller
    /// accepts no resume afterwards; the machine stays inspectable.
    public func shutdown() {
        lock.withLock {
            shuttingDown = true
            if busy || job != nil { machine.cpu.interruptFlag.pointee = 1 }
            lock.broadcast()
        }
    }

    private func cpuThread() {
        while true {
            let taken: Job? = lock.withLock {
                while job == nil && !shuttingDown { lock.wait() }
                guard let j = job else { return nil }
                job = nil
                busy = true
                freeRunning = j.freeRun
                return j
            }
            guard let next = taken else { return }   // shut down
            let stop = execute(next.mode)
            lock.withLock {
                busy = false
                freeRunning = false
                // An interrupt that arrived after the run ended must not stop the next one.
                machine.cpu.interruptFlag.pointee = 0
                last = stop
                lock.broadcast()
            }
            next.completion(stop)
        }
    }

    /// The CPU thread's run: one instruction, or until something stops the machine.
    private func execute(_ mode: RunMode) -> DebugStop {
        let cpu = machine.cpu
        let bus = machine.bus
        defer { bus.flush() }
        if let exit = bus.exitRequest {
            return stop(.exited(status: exit.status), "guest exited with status \(exit.status) (port 0xF4)")
        }
        if let s = stuck, s.rip == cpu.rip {
            return s.stop
        }
        stuck = nil
        switch mode {
        case .step:
            return classify(cpu.run(budget: 1), stepping: true)
        case .stepIn(let ctx):
            if currentContext == ctx {
                let cause = cpu.run(budget: 1)
                if currentContext == ctx || !Self.isPlainStep(cause) { return classify(cause, stepping: true) }
            }
            return runUntilContext(ctx)
        case .continue:
            var first = true
            while true {
                // `run` skips the breakpoint check for its first instruction (so a resume leaves
                // the breakpoint it stopped at); a run resumed here after a budget return must not.
                if !first, cpu.breakpoints.contains(linearRIP(cpu)) {
                    return classify(.breakpoint(rip: cpu.rip), stepping: false)
                }
                first = false
                let cause = cpu.run(budget: 1 << 40)
                if bus.exitRequest == nil {
                    if case .budget = cause { continue }
                    if case .deviceRequest = cause { continue }
                }
                return classify(cause, stepping: false)
            }
        }
    }

    private static func isPlainStep(_ cause: StopCause) -> Bool {
        switch cause {
        case .budget, .stepped: return true
        default: return false
        }
    }

    /// Runs until context `ctx` is on the CPU (breakpoints of other contexts do not stop it:
    /// gdb is stepping that context), then reports a completed step there.
    private func runUntilContext(_ ctx: Int) -> DebugStop {
        let cpu = machine.cpu
        let bus = machine.bus
        lock.withLock { awaitedContext = ctx; reachedContext = false; syncCPUTables(currentContextLocked()) }
        defer { lock.withLock { awaitedContext = nil; reachedContext = false; syncCPUTables(currentContextLocked()) } }
        while true {
            let cause = cpu.run(budget: 1 << 40)
            let reached = lock.withLock { reachedContext }
            if reached { return stop(.stepped, "step finished in context \(ctx) at \(describe(cpu.rip))") }
            if bus.exitRequest == nil {
                if case .budget = cause { continue }
                if case .deviceRequest = cause { continue }
            }
            return classify(cause, stepping: true)
        }
    }

    private func classify(_ cause: StopCause, stepping: Bool) -> DebugStop {
        let cpu = machine.cpu
        if let exit = machine.bus.exitRequest {
            return stop(.exited(status: exit.status), "guest exited with status \(exit.status) (port 0xF4)")
        }
        switch cause {
        case .budget, .stepped, .deviceRequest:
            return stop(.stepped, "single step to \(describe(cpu.rip))")
        case .interrupted:
            return stop(.interrupted, "interrupted at \(describe(cpu.rip))")
        case .breakpoint:
            let lin = linearRIP(cpu)
            let ctx = currentContext
            let hw = (hardware[ctx]?[lin] ?? 0) > 0 && (software[ctx]?[lin] ?? 0) == 0
                && (software[Self.everyContext]?[lin] ?? 0) == 0
            return stop(.breakpoint(address: lin, hardware: hw),
                        "\(hw ? "hardware " : "")breakpoint at \(describe(cpu.rip))")
        case .watchpoint(let kind, let address):
            return stop(.watchpoint(kind: kind, address: address),
                        "\(kind) watchpoint on 0x\(hex(address)) hit; next instruction \(describe(cpu.rip))")
        case .halted, .tripleFault:
            let s = stop(.fatal(cause), cause.description)
            stuck = (cpu.rip, s)
            return s
        case .unimplemented:
            return stop(.fatal(cause), cause.description)
        case .vmx(let event):
            if case .abort = event {
                let s = stop(.fatal(cause), cause.description)
                stuck = (cpu.rip, s)
                return s
            }
            return stop(.vmx(event), "\(event) — next instruction \(describe(cpu.rip))")
        }
    }

    private func stop(_ reason: DebugStopReason, _ summary: String) -> DebugStop {
        DebugStop(reason: reason, rip: machine.cpu.rip, instructions: machine.cpu.instructions, summary: summary,
                  context: currentContext)
    }

    /// "0x101e90 <check_u64>" — an address with its symbol, if any.
    public func describe(_ address: UInt64) -> String {
        if let sym = machine.symbols.symbolize(address) { return "0x\(hex(address)) <\(sym)>" }
        return "0x\(hex(address))"
    }

    // MARK: Breakpoints and watchpoints (per context; the CPU holds the running context's)

    /// Adds a breakpoint at a linear address of `context`. Refused (false) while running.
    @discardableResult
    public func insertBreakpoint(context: Int, address: UInt64, hardware hw: Bool) -> Bool {
        lock.withLock {
            guard !busy, job == nil else { return false }
            if hw { hardware[context, default: [:]][address, default: 0] += 1 } else {
                software[context, default: [:]][address, default: 0] += 1
            }
            syncCPUTables(currentContextLocked())
            return true
        }
    }

    /// Removes one breakpoint; false if there was none (or the machine runs).
    @discardableResult
    public func removeBreakpoint(context: Int, address: UInt64, hardware hw: Bool) -> Bool {
        lock.withLock {
            guard !busy, job == nil else { return false }
            var table = hw ? hardware[context, default: [:]] : software[context, default: [:]]
            guard let n = table[address] else { return false }
            table[address] = n > 1 ? n - 1 : nil
            if hw { hardware[context] = table } else { software[context] = table }
            syncCPUTables(currentContextLocked())
            return true
        }
    }

    @discardableResult
    public func insertWatchpoint(context: Int, _ w: Watchpoint) -> Bool {
        lock.withLock {
            guard !busy, job == nil else { return false }
            watches[context, default: []].append(w)
            syncCPUTables(currentContextLocked())
            return true
        }
    }

    @discardableResult
    public func removeWatchpoint(context: Int, _ w: Watchpoint) -> Bool {
        lock.withLock {
            guard !busy, job == nil, let i = watches[context]?.firstIndex(of: w) else { return false }
            watches[context]?.remove(at: i)
            syncCPUTables(currentContextLocked())
            return true
        }
    }

    /// (software, hardware, watchpoints) of a context, for listings.
    public func debugTables(context: Int) -> (software: [UInt64], hardware: [UInt64], watchpoints: [Watchpoint]) {
        lock.withLock {
            ((software[context] ?? [:]).keys.sorted(), (hardware[context] ?? [:]).keys.sorted(), watches[context] ?? [])
        }
    }

    /// The CPU holds the tables of the context on it (none while a step waits for another one).
    private func syncCPUTables(_ ctx: Int) {
        let active = awaitedContext == nil || awaitedContext == ctx
        let bps = !active ? Set<UInt64>() : Set((software[ctx] ?? [:]).keys).union((hardware[ctx] ?? [:]).keys)
            .union((software[Self.everyContext] ?? [:]).keys)
        let cpu = machine.cpu
        if cpu.breakpoints != bps { cpu.breakpoints = bps }
        let ws = active ? watches[ctx] ?? [] : []
        if cpu.watchpoints != ws { cpu.watchpoints = ws }
    }

    // MARK: Memory (debugger path: never faults, never sets A/D bits)

    /// Is `address` in the tagged physical range (bits 63:52 = 0x800)?
    public static func isTaggedPhysical(_ address: UInt64) -> Bool { address >> 52 == 0x800 }

    /// Reads memory as gdb addresses it: tagged addresses (or every address while the physical
    /// view is on) are physical, others linear in the current paging. Returns the readable
    /// prefix; nil while the machine runs.
    public func readMemory(address: UInt64, count: Int) -> [UInt8]? {
        lock.withLock {
            guard !busy, job == nil else { return nil }
            if physical || Self.isTaggedPhysical(address) {
                return readPhysicalLocked(address & Self.physicalAddressMask, count)
            }
            return machine.cpu.debugRead(linear: address, count: max(0, count))
        }
    }

    /// Writes memory as gdb addresses it (see `readMemory`); all or nothing.
    public func writeMemory(context pid: Int? = nil, address: UInt64, bytes: [UInt8]) -> MemoryWriteResult {
        lock.withLock {
            guard !busy, job == nil else { return .busy }
            if physical || Self.isTaggedPhysical(address) {
                return writePhysicalLocked(address & Self.physicalAddressMask, bytes)
            }
            return inAddressSpace(of: pid ?? currentContextLocked()) { writeLinearLocked(address, bytes) }
        }
    }

    private func writeLinearLocked(_ address: UInt64, _ bytes: [UInt8]) -> MemoryWriteResult {
        do {
            let cpu = machine.cpu
            // All or nothing: every page of the range must translate to RAM first.
            var a = address
            var left = UInt64(bytes.count)
            while left > 0 {
                guard let p = cpu.debugTranslate(a), machine.memory.contains(p, count: 1) else { return .unmapped(a) }
                let n = min(left, 0x1000 - (a & 0xFFF))
                a &+= n
                left -= n
            }
            let done = cpu.debugWrite(linear: address, bytes: bytes)
            cpu.flushDecodedBlocks()
            return done == bytes.count ? .ok : .unmapped(address &+ UInt64(done))
        }
    }

    public enum MemoryWriteResult: Equatable, Sendable {
        case ok
        case busy
        /// The first address that is not backed by RAM.
        case unmapped(UInt64)
    }

    /// Physical read: RAM and firmware ROM; the prefix up to the first unbacked byte.
    public func readPhysical(address: UInt64, count: Int) -> [UInt8]? {
        lock.withLock {
            guard !busy, job == nil else { return nil }
            return readPhysicalLocked(address, count)
        }
    }

    public func writePhysical(address: UInt64, bytes: [UInt8]) -> MemoryWriteResult {
        lock.withLock {
            guard !busy, job == nil else { return .busy }
            return writePhysicalLocked(address, bytes)
        }
    }

    private func readPhysicalLocked(_ address: UInt64, _ count: Int) -> [UInt8] {
        let mem = machine.memory
        guard count > 0 else { return [] }
        if address < mem.size {
            let n = Int(min(UInt64(count), mem.size - address))
            return mem.read(at: address, count: n)
        }
        if mem.romSize > 0, address >= mem.romBase, address - mem.romBase < mem.romSize {
            let n = Int(min(UInt64(count), mem.romSize - (address - mem.romBase)))
            return mem.read(at: address, count: n)
        }
        return []
    }

    private func writePhysicalLocked(_ address: UInt64, _ bytes: [UInt8]) -> MemoryWriteResult {
        let mem = machine.memory
        guard mem.contains(address, count: UInt64(bytes.count)) else {
            return .unmapped(address < mem.size ? mem.size : address)
        }
        mem.write(bytes, at: address)
        machine.cpu.flushDecodedBlocks()   // decoded code from these pages must be re-read
        return .ok
    }
}

/// The linear address of RIP in the current code segment (what `cpu.breakpoints` holds).
public func linearRIP(_ cpu: CPU) -> UInt64 {
    let cs = cpu.segs[Seg.cs]
    if cpu.longMode && cs.attr & SegAttr.l != 0 { return cpu.rip }
    return (cs.base &+ cpu.rip) & 0xFFFF_FFFF
}
