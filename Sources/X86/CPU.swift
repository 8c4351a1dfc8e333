/// The x86-64 CPU: architectural state plus the caches that make it fast.
///
/// State lives in one `final class` whose stored properties are scalars and unsafe pointers to
/// fixed-size storage; the module is compiled with `-enforce-exclusivity=unchecked`, so an access
/// is a plain load or store (docs/DESIGN.md, "Hot-loop rules").
/// Nothing here allocates after `init`.
///
/// Family-by-family files extend this type: `CPU+Execute` (the dispatch switch), `CPU+Instructions`,
/// `CPU+Flags`, `CPU+Memory` (paging, TLB), `CPU+Segments`, `CPU+CallGate`, `CPU+TaskSwitch`,
/// `CPU+Exceptions`, `CPU+System`, `CPU+Legacy`, `CPU+BitManipulation`, `CPU+X87`, `CPU+MMX`,
/// `CPU+SSE`, `CPU+XSave`, `CPU+Run` (run loop, block cache), `Decoder`, `VMX/`, and the seams
/// `MMIO`, `Interrupts`, `GuestPhysical`.
import Synchronization

public final class CPU: @unchecked Sendable {
    // MARK: General-purpose state

    /// RAX…R15, indexed by the register numbers of the SDM (0 = RAX … 15 = R15); slot 16 holds
    /// RIP and slot 17 is always zero, so effective addresses index this array without branches.
    public let regs: UnsafeMutablePointer<UInt64>
    /// While an instruction executes: the address of the *next* instruction (what RIP-relative
    /// addressing and CALL use). Between instructions: the address of the next one to run.
    public var rip: UInt64 {
        @inline(__always) get { regs[16] }
        @inline(__always) set { regs[16] = newValue }
    }

    // MARK: x87 and SSE state (CPU+X87, CPU+SSE)

    /// XMM0…XMM15, two 64-bit halves each: XMMn = xmm[2n] (bits 63:0) | xmm[2n+1] (bits 127:64).
    public let xmm: UnsafeMutablePointer<UInt64>
    /// MXCSR (SDM Vol. 1 §10.2.3 "MXCSR Control and Status Register"); power-on value 1F80H.
    public var mxcsr: UInt32 = 0x1F80
    /// The x87 FPU (SDM Vol. 1 ch. 8).
    public var x87 = X87State()
    /// XCR0 (SDM Vol. 1 §13.3 "Enabling the XSAVE Feature Set and XSAVE-Enabled Features"):
    /// bit 0 x87 (always 1), bit 1 SSE — the only state components the model has.
    public var xcr0: UInt64 = 1

    // Flags: arithmetic flags are lazy (see CPU+Flags); the rest are kept in `flagsRest`.
    @usableFromInline var lfOp: LazyOp = .eager
    @usableFromInline var lfSize: UInt8 = 0      // operand size code 0..3 (8, 16, 32, 64 bits)
    @usableFromInline var lfRes: UInt64 = 0
    @usableFromInline var lfA: UInt64 = 0
    @usableFromInline var lfB: UInt64 = 0
    /// With `.eager`: the six arithmetic flags (CF PF AF ZF SF OF) in their RFLAGS positions.
    /// With `.inc`/`.dec`: bit 0 holds the preserved CF.
    @usableFromInline var lfFlags: UInt64 = 0
    /// RFLAGS without the six arithmetic flags (bit 1 always set).
    public var flagsRest: UInt64 = 0x2

    // MARK: Segmentation

    /// ES CS SS DS FS GS LDTR TR (indices `Seg.es` …).
    public let segs: UnsafeMutablePointer<SegmentRegister>
    /// Base added to an effective address for each of the six data/code segments. In 64-bit mode
    /// this is 0 for ES/CS/SS/DS (SDM Vol. 3A §3.4.4 "Segment Loading Instructions in IA-32e Mode").
    @usableFromInline let segBase: UnsafeMutablePointer<UInt64>
    /// Per segment: true when accesses need the slow limit/type check (not flat, or not 64-bit).
    @usableFromInline let segChecked: UnsafeMutablePointer<Bool>
    public var gdtrBase: UInt64 = 0
    public var gdtrLimit: UInt32 = 0xFFFF
    public var idtrBase: UInt64 = 0
    public var idtrLimit: UInt32 = 0xFFFF
    /// Current privilege level (CS.RPL after a successful load, SDM Vol. 3A §5.5).
    public var cpl: UInt8 = 0

    // MARK: Control, debug and model-specific registers

    public var cr0: UInt64 = 0x6000_0010   // reset value: CD NW ET (SDM Vol. 3A §9.1.1, Table 9-1)
    public var cr2: UInt64 = 0
    public var cr3: UInt64 = 0
    public var cr4: UInt64 = 0
    public var cr8: UInt64 = 0
    public var efer: UInt64 = 0
    public var dr: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    public var dr6: UInt64 = 0xFFFF_0FF0
    public var dr7: UInt64 = 0x400
    /// The four PDPTE registers of PAE paging (SDM Vol. 3A §4.4.1 "PDPTE Registers").
    public var pdpte: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    public var msrs = MSRFile()
    /// VMX operation state (VMX/CPU+VMX.swift).
    public var vmx = VMXState()
    /// MONITOR armed the address-monitoring hardware (MWAIT disarms it).
    @usableFromInline var monitorArmed = false
    /// A store hit a page holding decoded code: the block being executed may be stale, so it
    /// ends after the storing instruction (SDM Vol. 3A §11.6 "Self-Modifying Code").
    @usableFromInline var codeWritten = false
    /// Called after every VM transition (a successful VM entry, a VM exit, a failed entry that
    /// loaded host state): the debugger swaps in the breakpoints of the context now on the CPU.
    public var onVMTransition: ((CPU) -> Void)? = nil
    /// CR2 before the most recent #PF set it (a #PF that causes a VM exit leaves CR2 unchanged, SDM Vol. 3C §25.2).
    @usableFromInline var cr2BeforeFault: UInt64 = 0
    /// Time-stamp counter: instructions retired scaled by `tscPerInstruction`, plus this offset.
    public var tscOffset: UInt64 = 0

    // MARK: Mode (derived; recomputed by `modeChanged()`)

    /// Decode mode: 0 = 16-bit, 1 = 32-bit, 2 = 64-bit code.
    @usableFromInline var codeMode: UInt8 = 0
    /// Paging mode: 0 = off, 1 = 32-bit, 2 = PAE, 3 = 4-level.
    @usableFromInline var pagingMode: UInt8 = 0
    /// Long mode active (EFER.LMA).
    public var longMode: Bool { efer & EFER.lma != 0 }

    // MARK: Machine wiring

    public let memory: PhysicalMemory
    @usableFromInline let ram: UnsafeMutableRawPointer
    @usableFromInline let ramSize: UInt64
    public unowned(unsafe) var io: PortIO

    // MARK: Caches (see CPU+Memory and BlockCache)

    @usableFromInline let tlb: SoftTLB
    @usableFromInline let blocks: BlockCache
    /// Per physical 4 KiB page: bit 0 = code was decoded from it; the rest a generation count
    /// bumped when such a page is written (cached blocks compare it).
    @usableFromInline let pageInfo: UnsafeMutablePointer<UInt32>

    // MARK: Run state

    public internal(set) var instructions: UInt64 = 0
    /// REP string iterations the current `run(budget:)` may still execute (string instructions
    /// spend it; see `run(budget:)`).
    @usableFromInline var repAllowance: UInt64 = 0
    /// Iterations of a REP string instruction between looks at the run loop.
    public static let repSlice = 4096
    /// The most REP iterations one `run(budget:)` executes (a few tens of milliseconds of the
    /// slowest forms, port I/O), whatever its budget.
    public static let repAllowanceLimit: UInt64 = 1 << 18
    /// The cross-thread kick: another thread (gdb's Ctrl-C, the debugger) sets it through
    /// `requestInterrupt()` and `run` returns `.interrupted` at the next block boundary. An
    /// atomic from the standard library (a data race otherwise; the core takes no package
    /// dependency): the CPU thread polls it with one relaxed load per block — no lock, no
    /// reference count (a `let` of this final class). Relaxed: the flag publishes no data.
    public let interruptRequest = Atomic<Bool>(false)
    /// Set on the CPU thread when an event was scheduled, an interrupt controller's output
    /// changed, an NMI was raised or the CPU halted waiting for one: the next block boundary takes
    /// the slow path (`serviceEvents`). Kept separate from the stop request: a kick returns from
    /// `run`, this does not.
    public let eventsPending: UnsafeMutablePointer<UInt8>
    /// Virtual time spent halted (HLT skips to the next event); `virtualTime` adds it to `instructions`.
    public internal(set) var idleTime: UInt64 = 0
    /// Timer events keyed by virtual time (Interrupts.swift); `nextEventTime` caches the earliest.
    var events = EventQueue()
    var nextEventTime: UInt64 = .max
    /// The INTR line's source (a local APIC, an 8259), polled at block boundaries.
    public var interruptController: (any InterruptController)? = nil
    /// The local APIC's MSRs and CR8, when the machine has a platform (`CPUPlatform`).
    public var platform: (any CPUPlatform)? = nil
    /// An NMI is pending / NMIs are blocked until the next IRET (SDM Vol. 3A §6.7.1 "Handling Multiple NMIs").
    public internal(set) var nmiPending = false
    public internal(set) var nmiBlocked = false
    /// Address of the HLT the CPU is halted at while it waits for an event (nil: not waiting).
    var haltWaitingAt: UInt64? = nil
    /// Physical ranges decoded by devices (MMIO.swift); their pages never enter the r/w TLB.
    @usableFromInline var mmioRegions: [MMIORegion] = []
    /// The guest-physical → host-physical step of the page walk (GuestPhysical.swift); nil is the
    /// identity. Installing or removing one drops every cached translation.
    public var secondLevel: (any GuestPhysicalTranslation)? = nil { didSet { flushDecodedBlocks() } }
    /// Chain of exceptions that led to a double or triple fault (for the report).
    public internal(set) var faultChain: [Fault] = []
    /// True after HLT stopped the run.
    public internal(set) var halted = false
    /// Address of the instruction being executed (for reports and faults).
    public internal(set) var currentRip: UInt64 = 0
    /// Details of a stop raised inside an instruction (`Fault.stop`).
    @usableFromInline var pendingStop: StopCause? = nil
    /// A task switch passed its commit point (SDM Vol. 3A §7.3 "Task Switching"): a fault raised
    /// now belongs to the new task and is delivered at the new RIP, not at the instruction or
    /// event that started the switch. Cleared by whoever delivers that fault.
    @usableFromInline var taskSwitchCommitted = false
    /// What an instruction that raised "unimplemented" was (the report is built in `handle`,
    /// where the instruction's address is known).
    @usableFromInline var pendingUnimplemented: String? = nil
    /// Debugger breakpoints: linear addresses of the current context, checked before each
    /// instruction while non-empty (the fast loop skips the check entirely otherwise).
    public var breakpoints: Set<UInt64> = [] { didSet { updateDebugChecks() } }
    /// Debugger watchpoints on linear addresses of the current context. Pages they touch are kept
    /// out of the software TLB so every access to them takes the checked slow path; a hit stops
    /// the run *after* the accessing instruction completes (x86 trap semantics; docs/DESIGN.md, gdb rule "watchpoints after the access").
    public var watchpoints: [Watchpoint] = [] {
        didSet { updateDebugChecks(); tlb.flush() }
    }
    /// The guest's own enabled debug-register breakpoints (DR0–DR3 per DR7), derived by
    /// `debugRegistersChanged()`: instruction breakpoints and data (write / read-write) breakpoints.
    @usableFromInline var guestBreakpoints: [GuestBreakpoint] = []
    /// DR6 B0–B3 bits of data breakpoints hit by the current instruction (a trap after it).
    @usableFromInline var guestDataHits: UInt64 = 0
    /// DR6 B0–B3 of data breakpoints hit by a MOV SS / POP SS, held pending until the instruction
    /// boundary after the next instruction (SDM Vol. 3A §6.8.3 "Masking Exceptions and Interrupts
    /// When Switching Stacks"). Nonzero keeps the checked run loop on (`debugChecks`).
    @usableFromInline var pendingDebugHits: UInt64 = 0 {
        didSet { updateDebugChecks() }
    }
    @usableFromInline func updateDebugChecks() {
        debugChecks = !breakpoints.isEmpty || !watchpoints.isEmpty || !guestBreakpoints.isEmpty || pendingDebugHits != 0
    }
    /// Breakpoints or watchpoints exist: run instruction by instruction with checks.
    @usableFromInline var debugChecks = false
    /// A watchpoint hit by the current instruction, reported once it completes.
    @usableFromInline var watchHit: (Watchpoint.Kind, UInt64)? = nil
    @usableFromInline var blockStartRip: UInt64 = 0
    @usableFromInline var tlbEpoch: UInt64 { tlb.epoch }

    public init(memory: PhysicalMemory, io: PortIO) {
        self.memory = memory
        self.ram = memory.base
        self.ramSize = memory.size
        self.io = io
        regs = .allocate(capacity: 18)
        regs.initialize(repeating: 0, count: 18)
        xmm = .allocate(capacity: 32)
        xmm.initialize(repeating: 0, count: 32)
        segs = .allocate(capacity: 8)
        segs.initialize(repeating: SegmentRegister(), count: 8)
        segBase = .allocate(capacity: 8)
        segBase.initialize(repeating: 0, count: 8)
        segChecked = .allocate(capacity: 8)
        segChecked.initialize(repeating: true, count: 8)
        tlb = SoftTLB()
        blocks = BlockCache()
        let pages = Int(memory.size >> 12) + 1
        pageInfo = .allocate(capacity: pages)
        pageInfo.initialize(repeating: 0, count: pages)
        eventsPending = .allocate(capacity: 1)
        eventsPending.initialize(to: 0)
        reset()
    }

    deinit {
        regs.deallocate(); xmm.deallocate(); segs.deallocate(); segBase.deallocate(); segChecked.deallocate()
        pageInfo.deallocate()
        eventsPending.deallocate()
    }

    /// Power-on reset state (SDM Vol. 3A §9.1.1 "Processor State After Reset", Table 9-1).
    public func reset() {
        for r in 0..<16 { regs[r] = 0 }
        regs[Reg.rdx] = 0x0005_0654   // family/model/stepping signature, as CPUID.1:EAX
        rip = 0xFFF0
        setFlags(0x2)
        for s in 0..<8 { segs[s] = SegmentRegister(selector: 0, base: 0, limit: 0xFFFF, attr: 0x93) }
        segs[Seg.cs] = SegmentRegister(selector: 0xF000, base: 0xFFFF_0000, limit: 0xFFFF, attr: 0x9B)
        segs[Seg.ldtr] = SegmentRegister(selector: 0, base: 0, limit: 0xFFFF, attr: 0x82)
        segs[Seg.tr] = SegmentRegister(selector: 0, base: 0, limit: 0xFFFF, attr: 0x8B)
        gdtrBase = 0; gdtrLimit = 0xFFFF; idtrBase = 0; idtrLimit = 0xFFFF
        cr0 = 0x6000_0010; cr2 = 0; cr3 = 0; cr4 = 0; cr8 = 0; efer = 0
        dr = (0, 0, 0, 0); dr6 = 0xFFFF_0FF0; dr7 = 0x400
        for k in 0..<32 { xmm[k] = 0 }
        mxcsr = 0x1F80
        x87 = X87State()
        xcr0 = 1
        guestBreakpoints = []; guestDataHits = 0; pendingDebugHits = 0
        cpl = 0
        msrs = MSRFile()
        vmx = VMXState()
        faultChain = []
        halted = false
        nmiPending = false; nmiBlocked = false; haltWaitingAt = nil
        modeChanged()
    }

    /// Recompute everything derived from CR0/CR4/EFER/CS and flush the translation caches.
    /// Called after any write that can change the mode or the meaning of a linear address.
    public func modeChanged() {
        let pe = cr0 & CR0.pe != 0
        let pg = cr0 & CR0.pg != 0
        // EFER.LMA = CR0.PG & EFER.LME (SDM Vol. 3A §9.8.5 "Initializing IA-32e Mode").
        if pg && efer & EFER.lme != 0 { efer |= EFER.lma } else { efer &= ~EFER.lma }
        if !pg { pagingMode = 0 }
        else if efer & EFER.lma != 0 { pagingMode = 3 }
        else if cr4 & CR4.pae != 0 { pagingMode = 2 }
        else { pagingMode = 1 }
        let cs = segs[Seg.cs]
        if !pe { codeMode = 0 }
        else if efer & EFER.lma != 0 && cs.attr & SegAttr.l != 0 { codeMode = 2 }
        else { codeMode = cs.attr & SegAttr.db != 0 ? 1 : 0 }
        for s in 0..<6 { refreshSegmentCache(s) }
        tlb.flush()
    }

    /// Recompute the effective base and the "needs checks" flag of one segment register.
    @usableFromInline func refreshSegmentCache(_ s: Int) {
        let seg = segs[s]
        if codeMode == 2 {
            segBase[s] = (s == Seg.fs || s == Seg.gs) ? seg.base : 0
            segChecked[s] = false
        } else {
            segBase[s] = seg.base & 0xFFFF_FFFF
            // Flat, present, expand-up, writable data with a 4 GiB limit needs no per-access check.
            let flatData = seg.limit == 0xFFFF_FFFF && seg.attr & 0x9E == 0x92 && !seg.unusable
            let flatCode = s == Seg.cs && seg.limit == 0xFFFF_FFFF
            segChecked[s] = !(flatData || flatCode)
        }
    }

    // MARK: Convenience accessors used by tools and tests (not the hot path)

    public var rflags: UInt64 {
        get { flags() }
        set { setFlags(newValue) }
    }

    /// The CPU mode in words, for reports.
    public var modeDescription: String {
        let bits: String
        switch codeMode {
        case 2: bits = "64-bit"
        case 1: bits = "32-bit"
        default: bits = cr0 & CR0.pe != 0 ? "16-bit protected" : "real"
        }
        let paging = ["paging off", "32-bit paging", "PAE paging", "4-level paging"][Int(pagingMode)]
        let lm = longMode ? (codeMode == 2 ? "IA-32e 64-bit mode" : "IA-32e compatibility mode")
            : (cr0 & CR0.pe == 0 ? "real-address mode" : (v86 ? "virtual-8086 mode" : "protected mode"))
        return "\(lm), \(bits) code, CPL\(cpl), \(paging)"
    }
}

/// One segment register with its hidden part (SDM Vol. 3A §3.4.3 "Segment Registers").
/// `attr` uses the VMCS access-rights layout (SDM Vol. 3C §24.4.1, Table 24-2): type 3:0, S 4,
/// DPL 6:5, P 7, AVL 12, L 13, D/B 14, G 15, unusable 16.
public struct SegmentRegister: Equatable, Sendable {
    public var selector: UInt16 = 0
    public var base: UInt64 = 0
    public var limit: UInt32 = 0
    public var attr: UInt32 = 0
    public init(selector: UInt16 = 0, base: UInt64 = 0, limit: UInt32 = 0, attr: UInt32 = 0) {
        self.selector = selector; self.base = base; self.limit = limit; self.attr = attr
    }
    public var unusable: Bool { attr & SegAttr.unusable != 0 }
    public var dpl: UInt8 { UInt8((attr >> 5) & 3) }
    public var present: Bool { attr & SegAttr.p != 0 }
    public var type: UInt32 { attr & 0xF }
}

public enum Seg {
    public static let es = 0, cs = 1, ss = 2, ds = 3, fs = 4, gs = 5, ldtr = 6, tr = 7
    public static let names = ["es", "cs", "ss", "ds", "fs", "gs", "ldtr", "tr"]
}

public enum Reg {
    public static let rax = 0, rcx = 1, rdx = 2, rbx = 3, rsp = 4, rbp = 5, rsi = 6, rdi = 7
    public static let names64 = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                 "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"]
}

public enum SegAttr {
    public static let s: UInt32 = 1 << 4
    public static let p: UInt32 = 1 << 7
    public static let avl: UInt32 = 1 << 12
    public static let l: UInt32 = 1 << 13
    public static let db: UInt32 = 1 << 14
    public static let g: UInt32 = 1 << 15
    public static let unusable: UInt32 = 1 << 16
}

public enum CR0 {
    public static let pe: UInt64 = 1 << 0, mp: UInt64 = 1 << 1, em: UInt64 = 1 << 2, ts: UInt64 = 1 << 3
    public static let et: UInt64 = 1 << 4, ne: UInt64 = 1 << 5, wp: UInt64 = 1 << 16, am: UInt64 = 1 << 18
    public static let nw: UInt64 = 1 << 29, cd: UInt64 = 1 << 30, pg: UInt64 = 1 << 31
}

public enum CR4 {
    public static let vme: UInt64 = 1 << 0, pvi: UInt64 = 1 << 1, tsd: UInt64 = 1 << 2, de: UInt64 = 1 << 3
    public static let pse: UInt64 = 1 << 4, pae: UInt64 = 1 << 5, mce: UInt64 = 1 << 6, pge: UInt64 = 1 << 7
    public static let pce: UInt64 = 1 << 8, osfxsr: UInt64 = 1 << 9, osxmmexcpt: UInt64 = 1 << 10
    public static let umip: UInt64 = 1 << 11, vmxe: UInt64 = 1 << 13, smxe: UInt64 = 1 << 14
    public static let fsgsbase: UInt64 = 1 << 16, pcide: UInt64 = 1 << 17, osxsave: UInt64 = 1 << 18
    public static let smep: UInt64 = 1 << 20, smap: UInt64 = 1 << 21
}

public enum EFER {
    public static let sce: UInt64 = 1 << 0, lme: UInt64 = 1 << 8, lma: UInt64 = 1 << 10, nxe: UInt64 = 1 << 11
}

public enum RFLAGS {
    public static let cf: UInt64 = 1 << 0, pf: UInt64 = 1 << 2, af: UInt64 = 1 << 4, zf: UInt64 = 1 << 6
    public static let sf: UInt64 = 1 << 7, tf: UInt64 = 1 << 8, `if`: UInt64 = 1 << 9, df: UInt64 = 1 << 10
    public static let of: UInt64 = 1 << 11, iopl: UInt64 = 3 << 12, nt: UInt64 = 1 << 14, rf: UInt64 = 1 << 16
    public static let vm: UInt64 = 1 << 17, ac: UInt64 = 1 << 18, vif: UInt64 = 1 << 19, vip: UInt64 = 1 << 20
    public static let id: UInt64 = 1 << 21
    public static let arith: UInt64 = cf | pf | af | zf | sf | of
}

/// One enabled debug-register breakpoint (SDM Vol. 3A §17.2.4 "Debug Control Register (DR7)"):
/// DRn's linear address, its length (1, 2, 4 or 8 bytes, address aligned down to it) and kind.
/// I/O breakpoints (R/W = 10B with CR4.DE = 1) hold a port address (§17.2.5 "Breakpoint Field
/// Recognition": "for I/O breakpoints … the address in DRn is an I/O port address").
public struct GuestBreakpoint: Equatable, Sendable {
    public enum Kind: UInt8, Sendable { case execute = 0, write = 1, io = 2, readWrite = 3 }
    public var index: Int
    public var address: UInt64
    public var length: UInt64
    public var kind: Kind
    /// Does an access of `n` bytes at `lin` (a write when `write`) match?
    @inlinable public func hits(_ lin: UInt64, _ n: UInt64, write: Bool) -> Bool {
        guard kind == .readWrite || (kind == .write && write) else { return false }
        return lin < address &+ length && address < lin &+ n
    }
    /// Does an I/O access of `n` bytes at `port` match an I/O breakpoint?
    @inlinable public func hitsPort(_ port: UInt16, _ n: Int) -> Bool {
        kind == .io && UInt64(port) < address &+ length && address < UInt64(port) &+ UInt64(n)
    }
    /// A data breakpoint on the 4 KiB linear page `page` (its accesses must take the checked path).
    @inlinable public func watches(page: UInt64) -> Bool {
        (kind == .write || kind == .readWrite) && (address & ~0xFFF) <= page && page <= ((address &+ length &- 1) & ~0xFFF)
    }
}
