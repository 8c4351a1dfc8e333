// Test harness for the X86 core: a CPU with RAM, put directly into 64-bit long mode or 32-bit
// flat protected mode (no firmware, no mode-switch code: the architectural state is written the
// way SDM Vol. 3A §9.8 "Software Initialization for Protected-Mode Operation" and §9.8.5
// "Initializing IA-32e Mode" would leave it), code placed at an address, `run(budget:)` for an
// exact instruction count, and an IDT whose handlers are HLTs at distinct addresses so an
// exception test can read the vector off the halt address and the frame off the stack.
//
// Expected values in the tests come from the SDM, worked out in comments next to each case;
// instruction encodings were produced with GNU as (Intel syntax) and are spelled in comments.

import Testing
@testable import X86

// MARK: - Port I/O stub

/// Records every port access. Reads return `readValue` (masked to the access size).
final class PortLog: PortIO {
    struct Access: Equatable, CustomStringConvertible {
        var port: UInt16, size: Int, value: UInt32
        var description: String { "port 0x\(hex(port)) size \(size) value 0x\(hex(value))" }
    }
    var writes: [Access] = []
    var reads: [Access] = []
    var readValue: UInt32 = 0xFFFF_FFFF
    /// A write to this port makes `stopRequested` true (like a debug-exit device).
    var stopPort: UInt16? = nil
    private(set) var stopRequested = false

    func portRead(_ port: UInt16, size: Int) -> UInt32 {
        let v = size == 4 ? readValue : readValue & ((1 << (8 * UInt32(size))) - 1)
        reads.append(Access(port: port, size: size, value: v))
        return v
    }
    func portWrite(_ port: UInt16, size: Int, value: UInt32) {
        writes.append(Access(port: port, size: size, value: value))
        if port == stopPort { stopRequested = true }
    }
}

// MARK: - Memory layout used by every test machine

enum Layout {
    static let pml4: UInt64 = 0x1000
    static let pdpt: UInt64 = 0x2000
    static let pd: UInt64 = 0x3000      // PD for the first GiB (2 MiB pages, entry 0 → PT)
    static let pt: UInt64 = 0x4000      // PT for the first 2 MiB (4 KiB pages)
    static let gdt: UInt64 = 0x5000
    static let idt: UInt64 = 0x6000
    static let tss: UInt64 = 0x7000
    /// Vector v's handler is a lone HLT at `handlers + 16·v`.
    static let handlers: UInt64 = 0x8000
    static let code: UInt64 = 0x10000
    static let data: UInt64 = 0x20000
    static let userCode: UInt64 = 0x30000
    static let userStack: UInt64 = 0x48000
    static let ist1Stack: UInt64 = 0x50000
    static let rsp0Stack: UInt64 = 0x60000
    static let stack: UInt64 = 0x80000
}

/// GDT selectors of the test machines (the user ones laid out for SYSCALL/SYSRET: STAR[63:48] =
/// 0x18 gives SYSRET CS = 0x18+16 = 0x28 (64-bit) and SS = 0x18+8 = 0x20, SDM Vol. 2 "SYSRET").
enum Sel {
    static let code64: UInt16 = 0x08
    static let data: UInt16 = 0x10
    static let userCode32: UInt16 = 0x18
    static let userData: UInt16 = 0x20
    static let userCode64: UInt16 = 0x28
    static let code32: UInt16 = 0x30
    static let tss: UInt16 = 0x38       // 16 bytes in IA-32e mode, 8 in legacy mode
    static let spare: UInt16 = 0x48     // free slots 0x48…0x78 for tests
}

/// An 8-byte code/data descriptor (SDM Vol. 3A §3.4.5, Figure 3-8). `access` is byte 5
/// (P DPL S type), `flags` the nibble G D/B L AVL.
func descriptor(base: UInt32 = 0, limit: UInt32 = 0xFFFFF, access: UInt8, flags: UInt8) -> UInt64 {
    let lo = UInt64(limit & 0xFFFF) | UInt64(base & 0xFFFF) << 16
    let hi = UInt64((base >> 16) & 0xFF) | UInt64(access) << 8 | UInt64((limit >> 16) & 0xF) << 16
        | UInt64(flags & 0xF) << 20 | UInt64(base >> 24) << 24
    return lo | hi << 32
}

/// The six arithmetic flags as a readable string (order CF PF AF ZF SF OF), so a mismatch says
/// which flag is wrong.
func flagNames(_ f: UInt64) -> String {
    var s: [String] = []
    if f & RFLAGS.cf != 0 { s.append("CF") }
    if f & RFLAGS.pf != 0 { s.append("PF") }
    if f & RFLAGS.af != 0 { s.append("AF") }
    if f & RFLAGS.zf != 0 { s.append("ZF") }
    if f & RFLAGS.sf != 0 { s.append("SF") }
    if f & RFLAGS.of != 0 { s.append("OF") }
    return s.joined(separator: " ")
}

/// Register names for subscripts.
enum R: Int { case rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15 }

// MARK: - The machine

final class TestMachine {
    let mem: PhysicalMemory
    let io: PortLog
    let cpu: CPU

    init(mib: Int = 4) {
        mem = PhysicalMemory(size: UInt64(mib) << 20)
        io = PortLog()
        cpu = CPU(memory: mem, io: io)
    }

    /// 64-bit mode, CPL0, 4-level paging identity-mapping the first GiB (the first 2 MiB with
    /// 4 KiB pages so tests can change single pages; the rest with 2 MiB pages), every entry
    /// P|R/W|U/S, CR0.WP=1, EFER.NXE=1 and SCE=1, a GDT, a 64-bit TSS in TR, an IDT with HLT
    /// handlers, RSP at `Layout.stack`.
    static func long64(mib: Int = 4) -> TestMachine {
        let m = TestMachine(mib: mib)
        m.writeIdentityPageTables()
        m.writeGDT()
        m.writeTSS64()
        m.installIDT()
        let c = m.cpu
        c.cr0 = CR0.pe | CR0.mp | CR0.et | CR0.ne | CR0.wp | CR0.pg
        c.cr4 = CR4.pae
        c.cr3 = Layout.pml4
        c.efer = EFER.lme | EFER.lma | EFER.nxe | EFER.sce
        c.gdtrBase = Layout.gdt; c.gdtrLimit = 0x7F
        c.idtrBase = Layout.idt; c.idtrLimit = 256 * 16 - 1
        c.segs[Seg.cs] = SegmentRegister(selector: Sel.code64, base: 0, limit: 0xFFFF_FFFF, attr: 0xA09B)
        for s in [Seg.ss, Seg.ds, Seg.es, Seg.fs, Seg.gs] {
            c.segs[s] = SegmentRegister(selector: Sel.data, base: 0, limit: 0xFFFF_FFFF, attr: 0xC093)
        }
        c.segs[Seg.tr] = SegmentRegister(selector: Sel.tss, base: Layout.tss, limit: 0x67, attr: 0x8B)
        c.segs[Seg.ldtr] = SegmentRegister(selector: 0, base: 0, limit: 0, attr: SegAttr.unusable)
        c.cpl = 0
        c.rflags = 0x2
        c.regs[Reg.rsp] = Layout.stack
        c.rip = Layout.code
        c.modeChanged()
        return m
    }

    /// 32-bit flat protected mode, CPL0, paging off: CS = 0x30 (32-bit code, base 0, 4 GiB),
    /// DS/ES/SS/FS/GS = 0x10, a 32-bit TSS in TR (ESP0/SS0 set), an IDT of 32-bit interrupt gates
    /// with HLT handlers, ESP at `Layout.stack`.
    static func protected32(mib: Int = 4) -> TestMachine {
        let m = TestMachine(mib: mib)
        m.writeGDT()
        m.writeTSS32()
        m.installIDT32()
        let c = m.cpu
        c.cr0 = CR0.pe | CR0.et | CR0.ne
        c.cr4 = 0
        c.efer = 0
        c.gdtrBase = Layout.gdt; c.gdtrLimit = 0x7F
        c.idtrBase = Layout.idt; c.idtrLimit = 256 * 8 - 1
        c.segs[Seg.cs] = SegmentRegister(selector: Sel.code32, base: 0, limit: 0xFFFF_FFFF, attr: 0xC09B)
        for s in [Seg.ss, Seg.ds, Seg.es, Seg.fs, Seg.gs] {
            c.segs[s] = SegmentRegister(selector: Sel.data, base: 0, limit: 0xFFFF_FFFF, attr: 0xC093)
        }
        c.segs[Seg.tr] = SegmentRegister(selector: Sel.tss, base: Layout.tss, limit: 0x67, attr: 0x8B)
        c.segs[Seg.ldtr] = SegmentRegister(selector: 0, base: 0, limit: 0, attr: SegAttr.unusable)
        c.cpl = 0
        c.rflags = 0x2
        c.regs[Reg.rsp] = Layout.stack
        c.rip = Layout.code
        c.modeChanged()
        return m
    }

    // MARK: Tables

    func writeIdentityPageTables() {
        w64(Layout.pml4, Layout.pdpt | 7)
        w64(Layout.pdpt, Layout.pd | 7)
        w64(Layout.pd, Layout.pt | 7)
        for i in 1..<512 { w64(Layout.pd + UInt64(i) * 8, UInt64(i) << 21 | 0x87) }   // P RW US PS
        for i in 0..<512 { w64(Layout.pt + UInt64(i) * 8, UInt64(i) << 12 | 7) }
    }

    /// Address of the PTE that maps linear `lin` (< 2 MiB) in the 4-level tables.
    func pteAddress(_ lin: UInt64) -> UInt64 {
        precondition(lin < 0x20_0000)
        return Layout.pt + (lin >> 12) * 8
    }
    func pte(_ lin: UInt64) -> UInt64 { r64(pteAddress(lin)) }
    /// Rewrite the PTE for `lin` and drop cached translations (as INVLPG would).
    func setPTE(_ lin: UInt64, _ value: UInt64) {
        w64(pteAddress(lin), value)
        cpu.flushDecodedBlocks()
    }

    func writeGDT() {
        let g = Layout.gdt
        w64(g + 0x00, 0)
        w64(g + UInt64(Sel.code64), descriptor(access: 0x9B, flags: 0xA))     // 64-bit code, DPL0
        w64(g + UInt64(Sel.data), descriptor(access: 0x93, flags: 0xC))       // data, DPL0
        w64(g + UInt64(Sel.userCode32), descriptor(access: 0xFB, flags: 0xC)) // 32-bit code, DPL3
        w64(g + UInt64(Sel.userData), descriptor(access: 0xF3, flags: 0xC))   // data, DPL3
        w64(g + UInt64(Sel.userCode64), descriptor(access: 0xFB, flags: 0xA)) // 64-bit code, DPL3
        w64(g + UInt64(Sel.code32), descriptor(access: 0x9B, flags: 0xC))     // 32-bit code, DPL0
    }

    /// 64-bit TSS (SDM Vol. 3A §8.7, Figure 8-11): RSP0 at +4, IST1 at +0x24; a busy 16-byte
    /// TSS descriptor (type 0xB) at `Sel.tss`.
    func writeTSS64() {
        mem.zero(at: Layout.tss, count: 0x68)
        w64(Layout.tss + 4, Layout.rsp0Stack)
        w64(Layout.tss + 0x24, Layout.ist1Stack)
        w16(Layout.tss + 0x66, 0x68)   // I/O map base beyond the limit: no bitmap
        w64(Layout.gdt + UInt64(Sel.tss), descriptor(base: UInt32(Layout.tss), limit: 0x67, access: 0x8B, flags: 0))
        w64(Layout.gdt + UInt64(Sel.tss) + 8, 0)
    }

    /// 32-bit TSS (SDM Vol. 3A §8.2.1, Figure 8-2): ESP0 at +4, SS0 at +8.
    func writeTSS32() {
        mem.zero(at: Layout.tss, count: 0x68)
        w32(Layout.tss + 4, UInt32(Layout.rsp0Stack))
        w32(Layout.tss + 8, UInt32(Sel.data))
        w16(Layout.tss + 0x66, 0x68)
        w64(Layout.gdt + UInt64(Sel.tss), descriptor(base: UInt32(Layout.tss), limit: 0x67, access: 0x8B, flags: 0))
    }

    /// Every vector gets a 64-bit interrupt gate (type 0xE, DPL 0) to a HLT at `handlerAddress(v)`.
    func installIDT() {
        for v in 0..<256 {
            w8(handlerAddress(v), 0xF4)
            setGate64(v, offset: handlerAddress(v))
        }
    }

    func installIDT32() {
        for v in 0..<256 {
            w8(handlerAddress(v), 0xF4)
            setGate32(v, offset: UInt32(handlerAddress(v)))
        }
    }

    func handlerAddress(_ v: Int) -> UInt64 { Layout.handlers + UInt64(v) * 16 }

    /// A 16-byte IA-32e gate (SDM Vol. 3A §6.14.1, Figure 6-8). type 0xE = interrupt, 0xF = trap.
    func setGate64(_ v: Int, offset: UInt64, selector: UInt16 = Sel.code64, type: UInt8 = 0xE,
                   dpl: UInt8 = 0, ist: UInt8 = 0, present: Bool = true, table: UInt64 = Layout.idt) {
        let a = table + UInt64(v) * 16
        let lo = (offset & 0xFFFF) | UInt64(selector) << 16 | UInt64(ist & 7) << 32
            | UInt64(type & 0xF) << 40 | UInt64(dpl & 3) << 45 | (present ? 1 << 47 : 0)
            | ((offset >> 16) & 0xFFFF) << 48
        w64(a, lo)
        w64(a + 8, offset >> 32)
    }

    /// An 8-byte 32-bit gate (SDM Vol. 3A §6.11, Figure 6-2). type 0xE = 32-bit interrupt gate.
    func setGate32(_ v: Int, offset: UInt32, selector: UInt16 = Sel.code32, type: UInt8 = 0xE, dpl: UInt8 = 0) {
        let a = Layout.idt + UInt64(v) * 8
        let lo = UInt64(offset & 0xFFFF) | UInt64(selector) << 16
            | UInt64(type & 0xF) << 40 | UInt64(dpl & 3) << 45 | 1 << 47
            | UInt64(offset >> 16) << 48
        w64(a, lo)
    }

    /// The vector whose handler HLT stopped the run, or nil.
    func vector(_ stop: StopCause) -> Int? {
        guard case let .halted(rip, _) = stop, rip >= Layout.handlers, rip < Layout.handlers + 0x1000,
              (rip - Layout.handlers) % 16 == 0 else { return nil }
        return Int((rip - Layout.handlers) / 16)
    }

    /// The IA-32e interrupt frame at RSP (SDM Vol. 3A §6.14.2, Figure 6-9).
    struct Frame64 { var error: UInt64?; var rip, cs, rflags, rsp, ss: UInt64 }
    func frame64(errorCode: Bool) -> Frame64 {
        var a = cpu.regs[Reg.rsp]
        var e: UInt64? = nil
        if errorCode { e = r64(a); a += 8 }
        return Frame64(error: e, rip: r64(a), cs: r64(a + 8), rflags: r64(a + 16), rsp: r64(a + 24), ss: r64(a + 32))
    }

    // MARK: Code and running

    /// Copy code into RAM and drop decoded blocks (host writes bypass the CPU's code tracking).
    func load(_ bytes: [UInt8], at address: UInt64 = Layout.code) {
        precondition(mem.write(bytes, at: address))
        cpu.flushDecodedBlocks()
    }

    /// Place `code` at `at`, point RIP at it and run exactly `steps` instructions (default: as
    /// many as given in `steps`, which the caller counts). Returns the stop cause.
    @discardableResult
    func run(_ code: [UInt8], at address: UInt64 = Layout.code, steps: UInt64) -> StopCause {
        load(code, at: address)
        cpu.rip = address
        return run(steps)
    }

    @discardableResult
    func run(_ steps: UInt64) -> StopCause {
        let before = cpu.instructions
        let s = cpu.run(budget: steps)
        if s == .budget { #expect(cpu.instructions - before == steps) }
        return s
    }

    /// Run `code` followed by a HLT until it stops; expects the HLT right after the code.
    @discardableResult
    func runToHalt(_ code: [UInt8], at address: UInt64 = Layout.code, budget: UInt64 = 100_000,
                   sourceLocation: SourceLocation = #_sourceLocation) -> StopCause {
        load(code + [0xF4], at: address)
        cpu.rip = address
        let s = cpu.run(budget: budget)
        #expect(s == .halted(rip: address + UInt64(code.count), interruptsEnabled: cpu.rflags & RFLAGS.if != 0),
                "stopped with \(s)", sourceLocation: sourceLocation)
        return s
    }

    // MARK: State

    subscript(r: R) -> UInt64 {
        get { cpu.regs[r.rawValue] }
        set { cpu.regs[r.rawValue] = newValue }
    }
    var rip: UInt64 { get { cpu.rip } set { cpu.rip = newValue } }
    /// The six arithmetic flags.
    var arith: UInt64 { cpu.rflags & RFLAGS.arith }
    var flagString: String { flagNames(arith) }
    /// Set the arithmetic flags (others unchanged).
    func setArith(_ f: UInt64) { cpu.rflags = (cpu.rflags & ~RFLAGS.arith) | f }

    // MARK: Physical memory (identity-mapped, so also linear)

    func r8(_ a: UInt64) -> UInt8 { mem.read(at: a, count: 1)[0] }
    func r16(_ a: UInt64) -> UInt16 { let b = mem.read(at: a, count: 2); return UInt16(b[0]) | UInt16(b[1]) << 8 }
    func r32(_ a: UInt64) -> UInt32 { mem.read32(at: a) }
    func r64(_ a: UInt64) -> UInt64 { mem.read64(at: a) }
    func w8(_ a: UInt64, _ v: UInt8) { mem.write([v], at: a) }
    func w16(_ a: UInt64, _ v: UInt16) { mem.write([UInt8(v & 0xFF), UInt8(v >> 8)], at: a) }
    func w32(_ a: UInt64, _ v: UInt32) { mem.write32(v, at: a) }
    func w64(_ a: UInt64, _ v: UInt64) { mem.write64(v, at: a) }
    func bytes(_ a: UInt64, _ n: Int) -> [UInt8] { mem.read(at: a, count: n) }
}

// MARK: - Little helpers for building code

/// Little-endian bytes of a value.
func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] {
    withUnsafeBytes(of: v.littleEndian) { Array($0) }
}

/// `mov r64, imm64` (REX.W B8+r io) — used to set up operands inside guest code.
func movabs(_ r: R, _ v: UInt64) -> [UInt8] {
    [0x48 | (r.rawValue >= 8 ? 1 : 0), 0xB8 + UInt8(r.rawValue & 7)] + le(v)
}

// MARK: - Exception checks

/// Vectors that push an error code (SDM Vol. 3A §6.13, Table 6-1 "Error Code" column).
func pushesErrorCode(_ v: Int) -> Bool { [8, 10, 11, 12, 13, 14, 17, 21].contains(v) }

extension TestMachine {
    /// Expect that `stop` is the HLT of vector `vector`'s handler, reached from CPL 0 64-bit code
    /// (no stack switch), with the given error code and saved RIP. Returns the frame.
    @discardableResult
    func expectException(_ stop: StopCause, vector: Int, error: UInt64? = nil, rip: UInt64,
                         sourceLocation: SourceLocation = #_sourceLocation) -> Frame64? {
        guard let v = self.vector(stop) else {
            Issue.record("expected vector \(vector), got \(stop)", sourceLocation: sourceLocation)
            return nil
        }
        #expect(v == vector, "vector", sourceLocation: sourceLocation)
        let f = frame64(errorCode: pushesErrorCode(v))
        if pushesErrorCode(vector) {
            #expect(f.error == error, "error code 0x\(hex(f.error ?? 0))", sourceLocation: sourceLocation)
        }
        #expect(f.rip == rip, "saved RIP 0x\(hex(f.rip)), expected 0x\(hex(rip))", sourceLocation: sourceLocation)
        return f
    }
}
