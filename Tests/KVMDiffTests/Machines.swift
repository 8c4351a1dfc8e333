// The same guest on both sides: long mode, 4-level paging identity-mapping a few 4 KiB pages, a
// harness area (page tables, GDT, IDT, TSS, handlers, handler stack) that is supervisor-only so
// CPL3 test code cannot touch it, test code at `GuestImage.code` (user, read-only, padded with
// HLT), the data page at `GuestImage.data` (user, writable). Every IDT gate is a DPL-0 interrupt
// gate on IST1 to a lone HLT at `handlers + 16·vector`: the first exception of a sequence lands on
// its handler's HLT, which stops both machines (KVM_EXIT_HLT; our core's `.halted`). The final
// HLT of a sequence runs at CPL3 and raises #GP(0) — that is how every sequence ends.

#if canImport(Glibc)
import Glibc
#endif
@testable import X86

enum GuestImage {
    static let ramSize = 4 << 20
    static let pml4: UInt64 = 0x1000, pdpt: UInt64 = 0x2000, pd: UInt64 = 0x3000, pt: UInt64 = 0x4000
    static let gdt: UInt64 = 0x5000, idt: UInt64 = 0x6000, tss: UInt64 = 0x7000
    static let handlers: UInt64 = 0x8000
    static let istStackPage: UInt64 = 0x9000
    static let istTop: UInt64 = 0xA000
    static let code: UInt64 = 0x10000
    static let codeSize = 0x2000
    static let data: UInt64 = 0x100000
    static let dataSize = 0x1000
    /// A user page that is read-only (writes #PF) and one that is not present.
    static let readOnly: UInt64 = 0x101000
    static let notPresent: UInt64 = 0x102000

    static let userCS: UInt16 = 0x2B, userDS: UInt16 = 0x23, kernelCS: UInt16 = 0x08, trSel: UInt16 = 0x30

    static let cr0: UInt64 = 0x8005_0033      // PE MP ET NE WP AM PG
    static let cr4: UInt64 = 0x620            // PAE OSFXSR OSXMMEXCPT
    static let efer: UInt64 = 0xD01           // SCE LME LMA NXE

    /// Write the fixed part of the image into `ram` (all of it zero first).
    static func build(into ram: UnsafeMutableRawPointer) {
        memset(ram, 0, ramSize)
        func w64(_ a: UInt64, _ v: UInt64) { ram.storeBytes(of: v, toByteOffset: Int(a), as: UInt64.self) }
        func w16(_ a: UInt64, _ v: UInt16) { ram.storeBytes(of: v, toByteOffset: Int(a), as: UInt16.self) }
        // Paging: upper levels user+writable, the leaf decides.
        w64(pml4, pdpt | 7); w64(pdpt, pd | 7); w64(pd, pt | 7)
        func map(_ page: UInt64, _ flags: UInt64) { w64(pt + (page >> 12) * 8, page | flags) }
        for p in stride(from: UInt64(0x1000), to: 0xB000, by: 0x1000) { map(p, 3) }   // supervisor RW
        for p in stride(from: code, to: code + UInt64(codeSize), by: 0x1000) { map(p, 5) }  // user RO
        map(data, 7)          // user RW
        map(readOnly, 5)      // user RO
        // notPresent: no entry.
        // GDT.
        func desc(_ access: UInt64, _ flags: UInt64) -> UInt64 { 0xFFFF | 0xF << 48 | access << 40 | flags << 52 }
        w64(gdt + 0x08, desc(0x9B, 0xA))   // kernel code64
        w64(gdt + 0x10, desc(0x93, 0xC))   // kernel data
        w64(gdt + 0x20, desc(0xF3, 0xC))   // user data
        w64(gdt + 0x28, desc(0xFB, 0xA))   // user code64
        w64(gdt + 0x30, 0x67 | (tss & 0xFFFFFF) << 16 | 0x8B << 40 | (tss >> 24) << 56)
        w64(gdt + 0x38, tss >> 32)
        // TSS: RSP0 and IST1 at the handler stack top; no I/O bitmap.
        w64(tss + 4, istTop)
        w64(tss + 0x24, istTop)
        w16(tss + 0x66, 0x68)
        // IDT and handlers.
        for v in 0..<256 {
            let h = handlers + UInt64(v) * 16
            ram.storeBytes(of: UInt8(0xF4), toByteOffset: Int(h), as: UInt8.self)
            let lo = (h & 0xFFFF) | UInt64(kernelCS) << 16 | 1 << 32 | 0xE << 40 | 1 << 47 | ((h >> 16) & 0xFFFF) << 48
            w64(idt + UInt64(v) * 16, lo)
            w64(idt + UInt64(v) * 16 + 8, h >> 32)
        }
    }

    /// Place a sequence's code (padded with HLT) and data page.
    static func load(code bytes: [UInt8], data: [UInt8], into ram: UnsafeMutableRawPointer) {
        memset(ram + Int(code), 0xF4, codeSize)
        bytes.withUnsafeBytes { (ram + Int(code)).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        data.withUnsafeBytes { (ram + Int(Self.data)).copyMemory(from: $0.baseAddress!, byteCount: dataSize) }
    }

    /// Vectors that push an error code.
    static func pushesErrorCode(_ v: Int) -> Bool { [8, 10, 11, 12, 13, 14, 17, 21].contains(v) }
}

/// The start of a run: the 16 GPRs and RFLAGS (RIP is always `GuestImage.code`), plus the FPU state.
struct StartState {
    var gprs: [UInt64]
    var rflags: UInt64
    var fpu = FPUState()
}

/// x87/SSE state as FXSAVE lays it out (the subset compared).
struct FPUState: Equatable {
    var fcw: UInt16 = 0x37F
    var fsw: UInt16 = 0
    var ftw: UInt8 = 0          // abridged: 1 bit per register, 1 = valid
    var st: [UInt64] = Array(repeating: 0, count: 16)   // 8 × (mantissa, exponent|sign)
    var xmm: [UInt64] = Array(repeating: 0, count: 32)
    var mxcsr: UInt32 = 0x1F80
}

/// How a run ended: the exception that stopped it (the final HLT's #GP(0) included) and the
/// state at that point (RIP, RSP, RFLAGS from the exception frame).
struct EndState {
    var vector: Int
    var errorCode: UInt64?
    var cr2: UInt64
    var rip: UInt64
    var rflags: UInt64
    var gprs: [UInt64]
    var data: [UInt8]
    var fpu: FPUState?
    /// Something other than an exception handler's HLT (a KVM error, a stop of our core).
    var abnormal: String?
}

extension EndState {
    static func readFrame(vector: Int, rsp: UInt64, read64: (UInt64) -> UInt64) -> (error: UInt64?, rip: UInt64, rflags: UInt64, rsp: UInt64) {
        var a = rsp
        var e: UInt64? = nil
        if GuestImage.pushesErrorCode(vector) { e = read64(a); a += 8 }
        return (e, read64(a), read64(a + 16), read64(a + 24))
    }
}

// MARK: - KVM side

final class KVMRunner {
    let m: KVMMachine
    var sregs = KVMSregs()
    var internalErrors = 0

    init(_ m: KVMMachine) {
        self.m = m
        GuestImage.build(into: m.ram)
        var s = KVMSregs()
        let code = KVMSegment(base: 0, limit: 0xFFFF_FFFF, selector: GuestImage.userCS, type: 0xB, present: 1, dpl: 3, db: 0, s: 1, l: 1, g: 1)
        let data = KVMSegment(base: 0, limit: 0xFFFF_FFFF, selector: GuestImage.userDS, type: 0x3, present: 1, dpl: 3, db: 1, s: 1, l: 0, g: 1)
        s.cs = code; s.ds = data; s.es = data; s.fs = data; s.gs = data; s.ss = data
        s.tr = KVMSegment(base: GuestImage.tss, limit: 0x67, selector: GuestImage.trSel, type: 0xB, present: 1)
        s.ldt = KVMSegment(unusable: 1)
        s.ldt.type = 2
        s.gdt = KVMDtable(base: GuestImage.gdt, limit: 0x3F)
        s.idt = KVMDtable(base: GuestImage.idt, limit: 0xFFF)
        s.cr0 = GuestImage.cr0; s.cr3 = GuestImage.pml4; s.cr4 = GuestImage.cr4; s.efer = GuestImage.efer
        if let cur = m.getSregs() { s.apicBase = cur.apicBase }
        sregs = s
    }

    func run(code: [UInt8], data: [UInt8], start: StartState, withFPU: Bool) -> EndState {
        GuestImage.load(code: code, data: data, into: m.ram)
        func fail(_ why: String) -> EndState {
            EndState(vector: -1, errorCode: nil, cr2: 0, rip: 0, rflags: 0, gprs: [], data: [], abnormal: why)
        }
        var r = KVMRegs()
        r.gprs = start.gprs
        r.rip = GuestImage.code
        r.rflags = start.rflags
        guard m.setSregs(sregs) else { return fail("KVM_SET_SREGS failed") }
        guard m.setRegs(r) else { return fail("KVM_SET_REGS failed") }
        if withFPU {
            // KVM_SET/GET_XSAVE (KVM_GET_FPU reads MXCSR back as 0 on this host): the legacy
            // FXSAVE region plus XSTATE_BV = x87|SSE so the values are loaded, not the init state.
            guard var x = m.getXSAVE() else { return fail("KVM_GET_XSAVE failed") }
            func put<T>(_ v: T, _ o: Int) { withUnsafeBytes(of: v) { for (k, b) in $0.enumerated() { x[o + k] = b } } }
            put(start.fpu.fcw, 0); put(start.fpu.fsw, 2); x[4] = start.fpu.ftw; x[5] = 0
            put(UInt16(0), 6); put(UInt64(0), 8); put(UInt64(0), 16)
            put(start.fpu.mxcsr, 24)
            for i in 0..<8 { put(start.fpu.st[2 * i], 32 + 16 * i); put(UInt16(truncatingIfNeeded: start.fpu.st[2 * i + 1]), 40 + 16 * i) }
            for k in 0..<32 { put(start.fpu.xmm[k], 160 + 8 * k) }
            x[512] |= 3
            guard m.setXSAVE(x) else { return fail("KVM_SET_XSAVE failed") }
        }
        guard let exit = m.runOnce() else { return fail("KVM_RUN failed: \(m.lastError)") }
        guard exit == KVMExit.hlt, let out = m.getRegs(), let sr = m.getSregs() else {
            // After an internal error (the host kernel failed to emulate something) the vCPU is not
            // usable again: recreate it.
            internalErrors += 1
            let why = "KVM exit \(KVMExit.name(exit))"
            _ = m.createVCPU()
            return fail(why)
        }
        let hlt = out.rip &- 1
        guard hlt >= GuestImage.handlers, hlt < GuestImage.handlers + 0x1000, (hlt - GuestImage.handlers) % 16 == 0 else {
            return fail("KVM halted at 0x\(hex(hlt)), not at a handler")
        }
        let vector = Int((hlt - GuestImage.handlers) / 16)
        let ram = m.ram
        let f = EndState.readFrame(vector: vector, rsp: out.rsp) { ram.load(fromByteOffset: Int($0), as: UInt64.self) }
        var g = out.gprs
        g[4] = f.rsp
        let page = Array(UnsafeRawBufferPointer(start: ram + Int(GuestImage.data), count: GuestImage.dataSize))
        var fpu: FPUState? = nil
        if withFPU, let x = m.getXSAVE() {
            func get<T>(_ o: Int, _: T.Type) -> T { x.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: o, as: T.self) } }
            var s = FPUState()
            s.fcw = get(0, UInt16.self); s.fsw = get(2, UInt16.self); s.ftw = x[4]; s.mxcsr = get(24, UInt32.self)
            // XSTATE_BV bit clear: the component is in its init state (the area is not written).
            if x[512] & 1 == 0 { s.fcw = 0x37F; s.fsw = 0; s.ftw = 0 }
            for i in 0..<8 { s.st[2 * i] = get(32 + 16 * i, UInt64.self); s.st[2 * i + 1] = UInt64(get(40 + 16 * i, UInt16.self)) }
            for k in 0..<32 { s.xmm[k] = x[512] & 2 != 0 ? get(160 + 8 * k, UInt64.self) : 0 }
            fpu = s
        }
        return EndState(vector: vector, errorCode: f.error, cr2: sr.cr2, rip: f.rip, rflags: f.rflags, gprs: g, data: page, fpu: fpu)
    }
}

// MARK: - Our core

final class NoPorts: PortIO {
    func portRead(_ port: UInt16, size: Int) -> UInt32 { 0xFFFF_FFFF }
    func portWrite(_ port: UInt16, size: Int, value: UInt32) {}
    var stopRequested: Bool { false }
}

final class CoreRunner {
    let mem = PhysicalMemory(size: UInt64(GuestImage.ramSize))
    let ports = NoPorts()
    let cpu: CPU

    init() {
        cpu = CPU(memory: mem, io: ports)
        GuestImage.build(into: mem.base)
    }

    func run(code: [UInt8], data: [UInt8], start: StartState, withFPU: Bool, budget: UInt64 = 20_000) -> EndState {
        GuestImage.load(code: code, data: data, into: mem.base)
        let c = cpu
        c.cr0 = GuestImage.cr0; c.cr4 = GuestImage.cr4; c.cr3 = GuestImage.pml4; c.efer = GuestImage.efer
        c.cr2 = 0
        c.gdtrBase = GuestImage.gdt; c.gdtrLimit = 0x3F
        c.idtrBase = GuestImage.idt; c.idtrLimit = 0xFFF
        c.segs[Seg.cs] = SegmentRegister(selector: GuestImage.userCS, base: 0, limit: 0xFFFF_FFFF, attr: 0xA0FB)
        for s in [Seg.ss, Seg.ds, Seg.es, Seg.fs, Seg.gs] {
            c.segs[s] = SegmentRegister(selector: GuestImage.userDS, base: 0, limit: 0xFFFF_FFFF, attr: 0xC0F3)
        }
        c.segs[Seg.tr] = SegmentRegister(selector: GuestImage.trSel, base: GuestImage.tss, limit: 0x67, attr: 0x8B)
        c.segs[Seg.ldtr] = SegmentRegister(selector: 0, base: 0, limit: 0, attr: SegAttr.unusable)
        c.cpl = 3
        for k in 0..<16 { c.regs[k] = start.gprs[k] }
        c.rflags = start.rflags
        c.rip = GuestImage.code
        if withFPU {
            c.mxcsr = start.fpu.mxcsr
            for k in 0..<32 { c.xmm[k] = start.fpu.xmm[k] }
            setX87(c, start.fpu)
        }
        c.halted = false
        c.modeChanged()
        c.flushDecodedBlocks()
        let stop = c.run(budget: budget)
        func fail(_ why: String) -> EndState {
            EndState(vector: -1, errorCode: nil, cr2: 0, rip: 0, rflags: 0, gprs: [], data: [], abnormal: why)
        }
        guard case let .halted(hlt, _) = stop else { return fail("our core stopped: \(stop)") }
        guard hlt >= GuestImage.handlers, hlt < GuestImage.handlers + 0x1000, (hlt - GuestImage.handlers) % 16 == 0 else {
            return fail("our core halted at 0x\(hex(hlt)), not at a handler")
        }
        let vector = Int((hlt - GuestImage.handlers) / 16)
        let m = mem
        let f = EndState.readFrame(vector: vector, rsp: c.regs[Reg.rsp]) { m.read64(at: $0) }
        var g = (0..<16).map { c.regs[$0] }
        g[4] = f.rsp
        let page = Array(UnsafeRawBufferPointer(start: mem.base + Int(GuestImage.data), count: GuestImage.dataSize))
        return EndState(vector: vector, errorCode: f.error, cr2: c.cr2, rip: f.rip, rflags: f.rflags, gprs: g, data: page,
                        fpu: withFPU ? getX87(c) : nil)
    }

    /// x87 start state: FNINIT's (empty stack) with the given control word, status word (TOP)
    /// and register contents (ST(i) in stack order, as in the FXSAVE image KVM is given).
    func setX87(_ c: CPU, _ s: FPUState) {
        var x = X87State()
        x.fcw = s.fcw
        x.fsw = s.fsw
        for i in 0..<8 {
            x.setRegister((Int(x.top) + i) & 7, mantissa: s.st[2 * i], signExponent: UInt16(truncatingIfNeeded: s.st[2 * i + 1]))
        }
        c.x87 = x
    }
    /// x87/SSE state in FXSAVE terms: ST(i) in stack order, the abridged tag per physical register.
    func getX87(_ c: CPU) -> FPUState {
        var s = FPUState()
        s.mxcsr = c.mxcsr
        s.xmm = (0..<32).map { c.xmm[$0] }
        s.fcw = c.x87.fcw
        s.fsw = c.x87.fsw
        s.ftw = c.x87.abridgedTag
        for i in 0..<8 {
            let r = c.x87.register((Int(c.x87.top) + i) & 7)
            s.st[2 * i] = r.mantissa
            s.st[2 * i + 1] = UInt64(r.signExponent)
        }
        return s
    }
}
