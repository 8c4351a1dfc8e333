import HostIO
import X86

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A PC-like machine: RAM, the port devices, one CPU, and a booted image.
///
/// ```
///  ┌──────────── Machine ────────────┐
///  │ PhysicalMemory (guest RAM)      │
///  │ PortBus: UART 0x3F8, exit 0xF4, │
///  │          0xE9 with --debugcon   │
///  │ CPU (X86)  ── run(budget:) ──►  │ StopCause
///  └─────────────────────────────────┘
/// ```
public final class Machine: @unchecked Sendable {
    public let memory: PhysicalMemory
    public let bus: PortBus
    public let cpu: CPU
    /// The PC around the CPU: interrupt controllers, timers, RTC, ACPI, PCI, fw_cfg.
    public let platform: Platform
    public private(set) var image: BootImage?
    public var symbols: SymbolTable { image?.symbols ?? .empty }

    public convenience init(memoryBytes: UInt64 = 128 << 20, console: ConsoleSink = FileDescriptorSink.standardOutput(),
                            qemuExitStatus: Bool = false, debugcon: ConsoleSink? = nil) {
        self.init(memory: PhysicalMemory(size: memoryBytes), console: console, qemuExitStatus: qemuExitStatus,
                  debugcon: debugcon)
    }

    /// A machine on RAM the caller reserved (`PhysicalMemory(reserving:)`, which can fail cleanly
    /// for a size the user chose). `debugcon`: the sink for port 0xE9, nil for none.
    public init(memory: PhysicalMemory, console: ConsoleSink = FileDescriptorSink.standardOutput(),
                qemuExitStatus: Bool = false, debugcon: ConsoleSink? = nil) {
        self.memory = memory
        bus = PortBus(console: console, qemuExitStatus: qemuExitStatus, debugcon: debugcon)
        cpu = CPU(memory: memory, io: bus)
        platform = Platform(cpu: cpu, bus: bus, ramBytes: memory.size)
    }

    /// Load a multiboot kernel and put the CPU in the state the Multiboot Specification 0.6.96
    /// §3.2 "Machine state" prescribes: 32-bit protected mode, flat 4 GiB CS (execute/read) and
    /// data segments, paging off, interrupts disabled, EAX = 0x2BADB002, EBX = the information
    /// structure. As in QEMU, GDTR and IDTR are left so the kernel must load its own; we set both
    /// limits to 0 so a fault before the kernel's IDT exists ends in a clear triple-fault report.
    public func boot(kernel: [UInt8], commandLine: String = "", modules: [BootModule] = []) throws(LoadError) {
        let img = try loadMultiboot(image: kernel, into: memory, commandLine: commandLine, modules: modules)
        image = img
        cpu.reset()
        cpu.cr0 = CR0.pe | CR0.et
        let code = SegmentRegister(selector: 0x10, base: 0, limit: 0xFFFF_FFFF, attr: 0xC09B)
        let data = SegmentRegister(selector: 0x18, base: 0, limit: 0xFFFF_FFFF, attr: 0xC093)
        for s in [Seg.es, Seg.ss, Seg.ds, Seg.fs, Seg.gs] { cpu.segs[s] = data }
        cpu.segs[Seg.cs] = code
        cpu.gdtrBase = 0; cpu.gdtrLimit = 0
        cpu.idtrBase = 0; cpu.idtrLimit = 0
        cpu.rflags = 0x2
        cpu.regs[Reg.rax] = UInt64(img.eax)
        cpu.regs[Reg.rbx] = UInt64(img.ebx)
        cpu.regs[Reg.rdx] = 0
        cpu.rip = UInt64(img.entry)
        cpu.cpl = 0
        cpu.modeChanged()
        cpu.flushDecodedBlocks()
        platform.installFirmwareState(memory: memory, e820: multibootMemoryMap(ramSize: memory.size))
    }

    /// Power the machine on with a firmware image instead of a kernel: the ROM is mapped to end
    /// at 4 GiB (its last 128 KiB shadowed below 1 MiB) and the CPU starts in real-address mode
    /// at the reset vector, CS.base = 0xFFFF0000, IP = 0xFFF0 (SDM Vol. 3A §9.1.4 "First
    /// Instruction Executed").
    public func powerOn(firmware: [UInt8]) -> Bool {
        guard memory.mapROM(firmware) else { return false }
        image = nil
        cpu.reset()
        cpu.flushDecodedBlocks()
        return true
    }

    /// Why a run of the machine ended.
    public enum Stop: Equatable, Sendable {
        /// The guest wrote `status` to the debug-exit port (already mapped for `--qemu-exit-status`).
        case exit(status: Int32)
        /// `--max-instructions` reached.
        case instructionLimit(UInt64)
        /// `--timeout` reached.
        case timeout(seconds: Double)
        /// The CPU stopped for a reason in `StopCause` (triple fault, halt, unimplemented, …).
        case cpu(StopCause)
    }

    /// Run until the guest exits, the CPU stops, or a limit is reached.
    /// - Parameters:
    ///   - maxInstructions: stop after this many instructions (nil = no limit).
    ///   - timeout: wall-clock seconds (nil = no limit).
    public func run(maxInstructions: UInt64? = nil, timeout: Double? = nil) -> Stop {
        let started = monotonicSeconds()
        let limit = maxInstructions.map { cpu.instructions &+ $0 }
        defer { bus.flush() }
        // Chunks sized to take about 10 ms at the rate just measured keep timeout checks cheap
        // and prompt whatever the guest does (a tight loop runs ~10⁸ instructions a second, a
        // VM-exit-heavy guest in a debug build ~10⁶).
        var chunk: UInt64 = 1 << 16
        while true {
            var budget = chunk
            if let limit {
                if cpu.instructions >= limit { return .instructionLimit(maxInstructions ?? 0) }
                budget = min(budget, limit - cpu.instructions)
            }
            let t0 = monotonicSeconds(), before = cpu.instructions
            let cause = cpu.run(budget: budget)
            let dt = monotonicSeconds() - t0, done = cpu.instructions &- before
            if dt > 0 { chunk = min(max(UInt64(Double(done) / dt * 0.01), 1 << 12), 1 << 24) }
            if let req = bus.exitRequest {
                return .exit(status: Int32(truncatingIfNeeded: req.status))
            }
            switch cause {
            case .budget, .interrupted:
                if let timeout, monotonicSeconds() - started >= timeout { return .timeout(seconds: timeout) }
                continue
            case .deviceRequest:
                continue
            default:
                return .cpu(cause)
            }
        }
    }

    /// A one-paragraph report of where the CPU is, for stop messages (stderr).
    public func report() -> String {
        let c = cpu
        var s = "  rip=0x\(X86.hex(c.rip, 16))"
        if let sym = symbols.symbolize(c.rip) { s += " <\(sym)>" }
        s += "  \(c.modeDescription)\n"
        let names = Reg.names64
        for row in 0..<4 {
            s += "  "
            for col in 0..<4 {
                let r = row * 4 + col
                s += names[r].padding(3) + "=0x" + X86.hex(c.regs[r], 16) + " "
            }
            s += "\n"
        }
        s += "  rflags=0x\(X86.hex(c.rflags, 8)) cr0=0x\(X86.hex(c.cr0, 8)) cr2=0x\(X86.hex(c.cr2)) cr3=0x\(X86.hex(c.cr3)) cr4=0x\(X86.hex(c.cr4)) efer=0x\(X86.hex(c.efer))\n"
        s += "  instructions retired: \(c.instructions)"
        return s
    }
}

extension String {
    func padding(_ n: Int) -> String { count >= n ? self : self + String(repeating: " ", count: n - count) }
}
