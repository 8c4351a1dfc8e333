// x87 and SSE forms for the second run (same table structure as `integerForms`). Exceptions stay
// masked (FCW 037FH, MXCSR with all masks) so #MF/#XM never interrupt; transcendental x87
// instructions (FSIN, FPTAN, F2XM1, …) are left out: their last-bit results are implementation
// specific. Packed memory operands are 16-byte aligned (the host's KVM is PVM, which reports a misaligned
// one as #UD where hardware raises #GP(0)), scalar ones are not.

import X86

extension Generator {
    /// An XMM register operand or a data-page memory operand of `memSize` bytes (0: register only).
    mutating func xmmRM(memSize: Int, aligned: Bool) -> RM {
        if memSize > 0 && rng.chance(0.4) { return .mem(mem(size: memSize, align: aligned ? 16 : 1)) }
        return .reg(rng.below(16))
    }

    /// `prefix 0F op… /r` with an XMM (or GPR) reg field and an XMM or memory r/m.
    mutating func sse(_ name: String, _ prefix: [UInt8], _ opcode: [UInt8], memSize: Int, aligned: Bool = true,
                      imm: [UInt8] = [], w: Bool = false, reg: Int? = nil, rm: RM? = nil) -> [Insn] {
        let r = reg ?? rng.below(16)
        let m = rm ?? xmmRM(memSize: memSize, aligned: aligned)
        return done(name, encode(prefixes: prefix, size: w ? 8 : 4, opcode: opcode, reg: r, rm: m, imm: imm, ext: true))
    }
}

private let packedInt66: [UInt8] = [0xFC, 0xFD, 0xFE, 0xD4, 0xF8, 0xF9, 0xFA, 0xFB, 0xDB, 0xEB, 0xEF, 0xDF, 0x74, 0x75, 0x76,
                                    0x64, 0x65, 0x66, 0xD5, 0xE5, 0xF4, 0x60, 0x61, 0x62, 0x68, 0x69, 0x6A, 0x6C, 0x6D, 0x63,
                                    0x6B, 0x67, 0xD8, 0xD9, 0xDC, 0xDD, 0xE0, 0xE3, 0xE4, 0xE8, 0xE9, 0xEC, 0xED, 0xF5, 0xF6,
                                    0xDA, 0xDE, 0xEA, 0xEE, 0xD1, 0xD2, 0xD3, 0xE1, 0xE2, 0xF1, 0xF2, 0xF3]
private let floatOps: [UInt8] = [0x58, 0x59, 0x5C, 0x5D, 0x5E, 0x5F, 0x51]
private let ssse3: [UInt8] = [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x1C, 0x1D, 0x1E,
                              0x28, 0x29, 0x2B, 0x37, 0x38, 0x39, 0x3A, 0x3B, 0x3C, 0x3D, 0x3E, 0x3F, 0x40, 0x41, 0x10, 0x14, 0x15]

let sseForms: [Form] = [
    Form(name: "sse int packed", weight: 10) { g in
        let op = g.rng.pick(packedInt66)
        return g.sse("sse 66 0F \(hex(op, 2))", [0x66], [0x0F, op], memSize: 16)
    },
    Form(name: "sse shuffles", weight: 3) { g in
        let p = g.rng.pick([[0x66], [0xF2], [0xF3]] as [[UInt8]])
        return g.sse("pshufd/lw/hw", p, [0x0F, 0x70], memSize: 16, imm: [UInt8(g.rng.below(256))])
    },
    Form(name: "sse shift imm", weight: 3) { g in
        let (op, ext) = g.rng.pick([(0x71, 2), (0x71, 4), (0x71, 6), (0x72, 2), (0x72, 4), (0x72, 6), (0x73, 2), (0x73, 3), (0x73, 6), (0x73, 7)] as [(UInt8, Int)])
        return g.sse("psxx imm", [0x66], [0x0F, op], memSize: 0, imm: [UInt8(g.rng.below(70))], reg: ext, rm: .reg(g.rng.below(16)))
    },
    Form(name: "sse float", weight: 10) { g in
        let k = g.rng.below(4)    // ps pd ss sd
        let p: [UInt8] = [[], [0x66], [0xF3], [0xF2]][k]
        let ms = [16, 16, 4, 8][k]
        switch g.rng.below(4) {
        case 0, 1: return g.sse("sse float \(hex(p.first ?? 0, 2))", p, [0x0F, g.rng.pick(floatOps)], memSize: ms, aligned: k < 2)
        case 2: return g.sse("cmpps/pd/ss/sd", p, [0x0F, 0xC2], memSize: ms, aligned: k < 2, imm: [UInt8(g.rng.below(8))])
        default:
            if k >= 2 { return g.sse("sse float", p, [0x0F, 0x58], memSize: ms, aligned: false) }
            return g.sse("logic/unpck/shuf", p, [0x0F, g.rng.pick([0x54, 0x55, 0x56, 0x57, 0x14, 0x15] as [UInt8])], memSize: 16,
                         imm: [UInt8(g.rng.below(256))].filter { _ in false })
        }
    },
    Form(name: "shufps/pd", weight: 2) { g in
        g.sse("shufps/pd", g.rng.chance(0.5) ? [0x66] : [], [0x0F, 0xC6], memSize: 16, imm: [UInt8(g.rng.below(256))])
    },
    Form(name: "sse convert", weight: 5) { g in
        let (p, op, ms): ([UInt8], UInt8, Int) = g.rng.pick([([], 0x5A, 8), ([0x66], 0x5A, 16), ([0xF3], 0x5A, 4), ([0xF2], 0x5A, 8),
                                                            ([], 0x5B, 16), ([0x66], 0x5B, 16), ([0xF3], 0x5B, 16),
                                                            ([0xF3], 0xE6, 8), ([0xF2], 0xE6, 16), ([0x66], 0xE6, 16)])
        return g.sse("cvt \(hex(op, 2))", p, [0x0F, op], memSize: ms, aligned: ms == 16)
    },
    Form(name: "sse <-> gpr convert", weight: 4) { g in
        let sd = g.rng.chance(0.5), wide = g.rng.chance(0.5)
        let p: [UInt8] = [sd ? 0xF2 : 0xF3]
        if g.rng.chance(0.5) {   // cvtsi2ss/sd xmm, r/m32/64
            let (rm, _) = g.rmOperand(size: wide ? 8 : 4, write: false)
            return g.sse("cvtsi2s", p, [0x0F, 0x2A], memSize: 0, w: wide, rm: rm)
        }
        let op: UInt8 = g.rng.chance(0.5) ? 0x2C : 0x2D
        return g.sse("cvt(t)s2si", p, [0x0F, op], memSize: sd ? 8 : 4, aligned: false, w: wide, reg: g.destReg())
    },
    Form(name: "comis/ucomis", weight: 3) { g in
        let d = g.rng.chance(0.5)
        return g.sse("(u)comis", d ? [0x66] : [], [0x0F, g.rng.chance(0.5) ? 0x2E : 0x2F], memSize: d ? 8 : 4, aligned: false)
    },
    Form(name: "sse moves", weight: 6) { g in
        switch g.rng.below(9) {
        case 0: return g.sse("movups", [], [0x0F, g.rng.chance(0.5) ? 0x10 : 0x11], memSize: 16, aligned: false)
        case 1: return g.sse("movdqa", [0x66], [0x0F, g.rng.chance(0.5) ? 0x6F : 0x7F], memSize: 16)
        case 2: return g.sse("movdqu", [0xF3], [0x0F, g.rng.chance(0.5) ? 0x6F : 0x7F], memSize: 16, aligned: false)
        case 3: return g.sse("movq xmm,xmm/m64", [0xF3], [0x0F, 0x7E], memSize: 8, aligned: false)
        case 4: return g.sse("movq xmm/m64,xmm", [0x66], [0x0F, 0xD6], memSize: 8, aligned: false)
        case 5:
            let wide = g.rng.chance(0.5)
            let (rm, _) = g.rmOperand(size: wide ? 8 : 4, write: false)
            return g.sse("movd/q xmm,r/m", [0x66], [0x0F, 0x6E], memSize: 0, w: wide, rm: rm)
        case 6:
            let wide = g.rng.chance(0.5)
            let (rm, _) = g.rmOperand(size: wide ? 8 : 4, write: true)
            return g.sse("movd/q r/m,xmm", [0x66], [0x0F, 0x7E], memSize: 0, w: wide, rm: rm)
        case 7: return g.sse("pmovmskb", [0x66], [0x0F, 0xD7], memSize: 0, reg: g.destReg(), rm: .reg(g.rng.below(16)))
        default: return g.sse("movmskps/pd", g.rng.chance(0.5) ? [0x66] : [], [0x0F, 0x50], memSize: 0, reg: g.destReg(), rm: .reg(g.rng.below(16)))
        }
    },
    Form(name: "ssse3/sse4 0F38", weight: 6) { g in
        let op = g.rng.pick(ssse3)
        return g.sse("66 0F 38 \(hex(op, 2))", [0x66], [0x0F, 0x38, op], memSize: 16)
    },
    Form(name: "ptest/pmovsx/zx", weight: 3) { g in
        if g.rng.chance(0.3) { return g.sse("ptest", [0x66], [0x0F, 0x38, 0x17], memSize: 16) }
        let op = g.rng.pick([0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35] as [UInt8])
        let ms = [8, 4, 2, 8, 4, 8][Int(op & 0xF)]
        return g.sse("pmov?x", [0x66], [0x0F, 0x38, op], memSize: ms, aligned: false)
    },
    Form(name: "sse4 0F3A", weight: 5) { g in
        let imm = UInt8(g.rng.below(256))
        switch g.rng.below(7) {
        case 0:
            let op = g.rng.pick([0x08, 0x09, 0x0A, 0x0B] as [UInt8])
            return g.sse("round", [0x66], [0x0F, 0x3A, op], memSize: [16, 16, 4, 8][Int(op - 8)], aligned: op < 0x0A, imm: [imm & 0xF])
        case 1: return g.sse("blend/palignr", [0x66], [0x0F, 0x3A, g.rng.pick([0x0C, 0x0D, 0x0E, 0x0F] as [UInt8])], memSize: 16, imm: [imm])
        case 2:
            let op = g.rng.pick([0x14, 0x15, 0x16] as [UInt8])
            let wide = op == 0x16 && g.rng.chance(0.5)
            let (rm, _) = g.rmOperand(size: wide ? 8 : 4, write: true)
            return g.sse("pextr", [0x66], [0x0F, 0x3A, op], memSize: 0, imm: [imm & 0xF], w: wide, rm: rm)
        case 3:
            let op = g.rng.pick([0x20, 0x22] as [UInt8])
            let wide = op == 0x22 && g.rng.chance(0.5)
            let (rm, _) = g.rmOperand(size: op == 0x20 ? 1 : wide ? 8 : 4, write: false)
            if case .reg = rm, op == 0x20 { return g.sse("pinsrb", [0x66], [0x0F, 0x3A, op], memSize: 0, imm: [imm & 0xF], rm: .reg(g.rng.below(16))) }
            return g.sse("pinsr", [0x66], [0x0F, 0x3A, op], memSize: 0, imm: [imm & 0xF], w: wide, rm: rm)
        case 4: return g.sse("insertps", [0x66], [0x0F, 0x3A, 0x21], memSize: 4, aligned: false, imm: [imm])
        case 5: return g.sse("dpps/pd", [0x66], [0x0F, 0x3A, g.rng.pick([0x40, 0x41] as [UInt8])], memSize: 16, imm: [imm])
        default: return g.sse("pcmp?str?", [0x66], [0x0F, 0x3A, 0x60 + UInt8(g.rng.below(4))], memSize: 16, aligned: false, imm: [imm & 0x7F])
        }
    },
    Form(name: "crc32", weight: 2) { g in
        let size = g.rng.pick([1, 2, 4, 8])
        let (rm, rb) = g.rmOperand(size: size, write: false)
        let r = g.destReg()
        var e = g.encode(prefixes: [0xF2], size: size == 1 ? 4 : size, opcode: [0x0F, 0x38, size == 1 ? 0xF0 : 0xF1], reg: r, rm: rm, forceRex: rb.1)
        if size == 2 { e = g.encode(prefixes: [0xF2, 0x66], size: 4, opcode: [0x0F, 0x38, 0xF1], reg: r, rm: rm) }
        return g.done("crc32", e)
    },
    Form(name: "ldmxcsr/stmxcsr", weight: 2) { g in
        let m = g.mem(size: 4, lo: 0x100, hi: 0xF00)
        if g.rng.chance(0.5) { return g.done("stmxcsr", g.encode(size: 4, opcode: [0x0F, 0xAE], reg: 3, rm: .mem(m), ext: true)) }
        // A valid MXCSR: all exceptions masked, random RC, DAZ, FTZ and sticky flags.
        let v = UInt64(0x1F80 | (g.rng.below(4) << 13) | (g.rng.chance(0.2) ? 0x40 : 0) | (g.rng.chance(0.2) ? 0x8000 : 0) | g.rng.below(64))
        var st = g.encode(size: 4, opcode: [0xC7], reg: 0, rm: .mem(m), imm: Generator.immBytes(4, v), ext: true)
        st.0.form = "prelude"
        let ld = g.encode(size: 4, opcode: [0x0F, 0xAE], reg: 2, rm: .mem(MemOperand(mod: m.mod, rm: m.rm, sib: m.sib, disp: m.disp, rexX: m.rexX, rexB: m.rexB, addr32: m.addr32, ripTarget: m.ripTarget, address: m.address)), ext: true)
        return st.1 + [st.0] + g.done("ldmxcsr", (ld.0, []))
    },
]

let x87Forms: [Form] = [
    Form(name: "fld m", weight: 6) { g in
        let (op, ext, ms): (UInt8, Int, Int) = g.rng.pick([(0xD9, 0, 4), (0xDD, 0, 8), (0xDB, 5, 10), (0xDF, 0, 2), (0xDB, 0, 4), (0xDF, 5, 8)])
        return g.done("fld/fild m\(ms * 8)", g.encode(size: 4, opcode: [op], reg: ext, rm: .mem(g.mem(size: ms)), ext: true))
    },
    Form(name: "fld const/st", weight: 4) { g in
        if g.rng.chance(0.3) { return [Insn(bytes: [0xD9, 0xC0 + UInt8(g.rng.below(8))], form: "fld st(i)")] }
        return [Insn(bytes: [0xD9, 0xE8 + UInt8(g.rng.below(7))], form: "fld const")]
    },
    Form(name: "fst m", weight: 4) { g in
        let (op, ext, ms): (UInt8, Int, Int) = g.rng.pick([(0xD9, 2, 4), (0xD9, 3, 4), (0xDD, 2, 8), (0xDD, 3, 8), (0xDB, 7, 10),
                                                          (0xDF, 2, 2), (0xDF, 3, 2), (0xDB, 2, 4), (0xDB, 3, 4), (0xDF, 7, 8),
                                                          (0xDB, 1, 4), (0xDD, 1, 8), (0xDF, 1, 2)])
        return g.done("fst/fist m\(ms * 8)", g.encode(size: 4, opcode: [op], reg: ext, rm: .mem(g.mem(size: ms)), ext: true))
    },
    Form(name: "farith m", weight: 5) { g in
        let (op, ms): (UInt8, Int) = g.rng.pick([(0xD8, 4), (0xDC, 8), (0xDA, 4), (0xDE, 2)])
        return g.done("farith m", g.encode(size: 4, opcode: [op], reg: g.rng.below(8), rm: .mem(g.mem(size: ms)), ext: true))
    },
    Form(name: "farith st", weight: 6) { g in
        let op = g.rng.pick([0xD8, 0xDC, 0xDE] as [UInt8])
        var ext = g.rng.below(8)
        if op != 0xD8 && (ext == 2 || ext == 3) { ext = 0 }
        return [Insn(bytes: [op, 0xC0 | UInt8(ext << 3) | UInt8(g.rng.below(8))], form: "farith st")]
    },
    Form(name: "fmisc", weight: 5) { g in
        let b: UInt8 = g.rng.pick([0xC8 + UInt8(g.rng.below(8)), 0xE0, 0xE1, 0xE4, 0xE5, 0xFA, 0xFC, 0xFD, 0xF4, 0xF8, 0xF5, 0xF6, 0xF7])
        return [Insn(bytes: [0xD9, b], form: "fmisc")]
    },
    Form(name: "fcomi/fcmov/ffree", weight: 4) { g in
        let i = UInt8(g.rng.below(8))
        let (a, b): (UInt8, UInt8) = g.rng.pick([(0xDB, 0xF0), (0xDB, 0xE8), (0xDF, 0xF0), (0xDF, 0xE8), (0xDA, 0xC0), (0xDA, 0xC8),
                                                 (0xDA, 0xD0), (0xDA, 0xD8), (0xDB, 0xC0), (0xDB, 0xC8), (0xDB, 0xD0), (0xDB, 0xD8),
                                                 (0xDD, 0xC0), (0xDD, 0xE0), (0xDD, 0xE8), (0xDE, 0xD9)])
        return [Insn(bytes: [a, b == 0xD9 ? b : b + i], form: "fcomi/fcmov/ffree")]
    },
    Form(name: "fnstsw/fnstcw/fldcw/fnclex", weight: 3) { g in
        switch g.rng.below(4) {
        case 0: return [Insn(bytes: [0xDF, 0xE0], form: "fnstsw")]
        case 1: return g.done("fnstcw", g.encode(size: 4, opcode: [0xD9], reg: 7, rm: .mem(g.mem(size: 2)), ext: true))
        case 2:
            let m = g.mem(size: 2, lo: 0x100, hi: 0xF00)
            let cw = UInt64(0x037F | (g.rng.below(4) << 10) | (g.rng.below(4) << 8)) & ~0x100 | UInt64(g.rng.chance(0.7) ? 0x300 : 0x200)
            var st = g.encode(size: 2, opcode: [0xC7], reg: 0, rm: .mem(m), imm: Generator.immBytes(2, cw), ext: true)
            st.0.form = "prelude"
            let ld = g.encode(size: 4, opcode: [0xD9], reg: 5, rm: .mem(MemOperand(mod: m.mod, rm: m.rm, sib: m.sib, disp: m.disp, rexX: m.rexX, rexB: m.rexB, addr32: m.addr32, ripTarget: m.ripTarget, address: m.address)), ext: true)
            return st.1 + [st.0] + g.done("fldcw", (ld.0, []))
        default: return [Insn(bytes: [0xDB, 0xE2], form: "fnclex")]
        }
    },
]

// MMX (SDM Vol. 1 ch. 9) and the SSE/SSE2/SSSE3 forms on MMX registers. mm operands are drawn
// from 0…15 so REX.R/REX.B appear on them too (ignored for MMX registers); the start state puts
// random significands in R0–R7 (`Generator.build`), which the mm registers alias.
private let mmxPacked: [UInt8] = [0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6A, 0x6B, 0x74, 0x75, 0x76,
                                  0xD1, 0xD2, 0xD3, 0xD4, 0xD5, 0xD8, 0xD9, 0xDA, 0xDB, 0xDC, 0xDD, 0xDE, 0xDF,
                                  0xE0, 0xE1, 0xE2, 0xE3, 0xE4, 0xE5, 0xE8, 0xE9, 0xEA, 0xEB, 0xEC, 0xED, 0xEE, 0xEF,
                                  0xF1, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xF8, 0xF9, 0xFA, 0xFB, 0xFC, 0xFD, 0xFE]
private let ssse3MM: [UInt8] = [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x1C, 0x1D, 0x1E]

let mmxForms: [Form] = [
    Form(name: "mmx packed", weight: 10) { g in
        let op = g.rng.pick(mmxPacked)
        return g.sse("mmx 0F \(hex(op, 2))", [], [0x0F, op], memSize: (0x60...0x62).contains(op) ? 4 : 8, aligned: false)
    },
    Form(name: "mmx shift imm", weight: 3) { g in
        let (op, ext) = g.rng.pick([(0x71, 2), (0x71, 4), (0x71, 6), (0x72, 2), (0x72, 4), (0x72, 6), (0x73, 2), (0x73, 6)] as [(UInt8, Int)])
        return g.sse("mmx psxx imm", [], [0x0F, op], memSize: 0, imm: [UInt8(g.rng.below(70))], reg: ext, rm: .reg(g.rng.below(16)))
    },
    Form(name: "ssse3 mm", weight: 4) { g in
        if g.rng.chance(0.2) { return g.sse("palignr mm", [], [0x0F, 0x3A, 0x0F], memSize: 8, aligned: false, imm: [UInt8(g.rng.below(20))]) }
        let op = g.rng.pick(ssse3MM)
        return g.sse("0F 38 \(hex(op, 2)) mm", [], [0x0F, 0x38, op], memSize: 8, aligned: false)
    },
    Form(name: "mmx moves", weight: 8) { g in
        switch g.rng.below(12) {
        case 0:
            let wide = g.rng.chance(0.5)
            let (rm, _) = g.rmOperand(size: wide ? 8 : 4, write: false)
            return g.sse("movd/q mm,r/m", [], [0x0F, 0x6E], memSize: 0, w: wide, rm: rm)
        case 1:
            let wide = g.rng.chance(0.5)
            let (rm, _) = g.rmOperand(size: wide ? 8 : 4, write: true)
            return g.sse("movd/q r/m,mm", [], [0x0F, 0x7E], memSize: 0, w: wide, rm: rm)
        case 2: return g.sse("movq mm,mm/m64", [], [0x0F, 0x6F], memSize: 8, aligned: false)
        case 3: return g.sse("movq mm/m64,mm", [], [0x0F, 0x7F], memSize: 8, aligned: false)
        case 4: return g.sse("movntq", [], [0x0F, 0xE7], memSize: 8, aligned: false, rm: .mem(g.mem(size: 8)))
        case 5: return g.sse("movq2dq/movdq2q", [g.rng.chance(0.5) ? 0xF3 : 0xF2], [0x0F, 0xD6], memSize: 0, rm: .reg(g.rng.below(16)))
        case 6: return g.sse("pmovmskb r,mm", [], [0x0F, 0xD7], memSize: 0, w: g.rng.chance(0.3), reg: g.destReg(), rm: .reg(g.rng.below(16)))
        case 7: return g.sse("pextrw r,mm", [], [0x0F, 0xC5], memSize: 0, imm: [UInt8(g.rng.below(256))], w: g.rng.chance(0.3),
                             reg: g.destReg(), rm: .reg(g.rng.below(16)))
        case 8:
            let rm: RM = g.rng.chance(0.4) ? .mem(g.mem(size: 2)) : .reg(g.anyReg())
            return g.sse("pinsrw mm,r/m16", [], [0x0F, 0xC4], memSize: 0, imm: [UInt8(g.rng.below(256))], rm: rm)
        case 9: return g.sse("pshufw", [], [0x0F, 0x70], memSize: 8, aligned: false, imm: [UInt8(g.rng.below(256))])
        case 10:
            // MASKMOVQ mm1, mm2: DS:RDI (EDI with 67) pointed into the data page first.
            let addr = GuestImage.data + UInt64(g.rng.below(GuestImage.dataSize - 8))
            let a32 = g.rng.chance(0.2)
            let pre = g.movImm(7, a32 ? addr | (g.rng.next() << 32) : addr)
            let e = g.encode(prefixes: a32 ? [0x67] : [], size: 4, opcode: [0x0F, 0xF7], reg: g.rng.below(16), rm: .reg(g.rng.below(16)), ext: true)
            return [pre] + g.done("maskmovq", e)
        default: return [Insn(bytes: [0x0F, 0x77], form: "emms")]
        }
    },
    Form(name: "mmx convert", weight: 4) { g in
        switch g.rng.below(3) {
        case 0: return g.sse("cvtpi2ps/pd", g.rng.chance(0.5) ? [0x66] : [], [0x0F, 0x2A], memSize: 8, aligned: false)
        case 1: return g.sse("cvt(t)ps2pi", [], [0x0F, g.rng.chance(0.5) ? 0x2C : 0x2D], memSize: 8, aligned: false)
        default: return g.sse("cvt(t)pd2pi", [0x66], [0x0F, g.rng.chance(0.5) ? 0x2C : 0x2D], memSize: 16)
        }
    },
]
