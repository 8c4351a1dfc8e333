// The instruction-form table. Each row: a name (used in reports and counts), a weight, and an
// emitter returning the instruction preceded by its preludes (or nil when the form does not fit
// the current state, e.g. a PUSH with the stack at the page edge). Groups of rows: `integerForms`
// (general-purpose, CPL3), `faultForms` (instructions that end the sequence with a known
// exception), and — structured the same way — `x87Forms` / `sseForms` for the second run.

struct Form: Sendable {
    let name: String
    let weight: Int
    let emit: @Sendable (inout Generator) -> [Insn]?
}

/// Condition-code names for the disassembly-free parts of reports.
let ccNames = ["o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"]

extension Generator {
    /// Preludes + the instruction, named.
    func done(_ name: String, _ r: (Insn, [Insn]), dyn: (UInt64, UInt64)? = nil,
              allow: ((EndState) -> String?)? = nil) -> [Insn] {
        var (i, pre) = r
        i.form = name
        if let d = dyn { i.dynFlags = (d.0, d.1) }
        i.allow = allow
        return pre + [i]
    }

    /// An r/m operand: a register (that may be written if `write`) or a data-page memory operand.
    mutating func rmOperand(size: Int, write: Bool, memP: Double = 0.4, align: Int = 1, avoid: Set<Int> = []) -> (RM, (Int, Bool)) {
        if rng.chance(memP) { return (.mem(mem(size: size, align: align, avoid: avoid)), (-1, false)) }
        let r = regOperand(size: size, write: write)
        return (.reg(r.0), r)
    }

    /// Harmless redundant prefixes for one-byte-map, non-string forms: F2/F3 (ignored), a doubled
    /// 66 on a 16-bit form is added by `encode` callers through `size`.
    mutating func redundant() -> [UInt8] {
        var p: [UInt8] = []
        if rng.chance(0.08) { p.append(rng.pick([0xF2, 0xF3])) }
        if rng.chance(0.05) { p.append(rng.pick([0x2E, 0x3E])) }
        return p
    }

    /// Mask of an operand size.
    static func mask(_ size: Int) -> UInt64 { size == 8 ? UInt64.max : (1 << UInt64(8 * size)) - 1 }

    /// The value of an r/m operand in a machine state (for allow-list predicates).
    static func value(of rm: RM, size: Int, byteRex: Bool, in s: EndState) -> UInt64 {
        switch rm {
        case .reg(let r):
            if size == 1 && r >= 4 && r < 8 && !byteRex { return (s.gprs[r - 4] >> 8) & 0xFF }
            return s.gprs[r] & mask(size)
        case .mem(let m):
            let o = Int(m.address - GuestImage.data)
            var v: UInt64 = 0
            for k in 0..<size { v |= UInt64(s.data[o + k]) << UInt64(8 * k) }
            return v
        }
    }

    /// Flags of a shift/rotate by a count known here (SDM Vol. 2B "SAL/SAR/SHL/SHR", "RCL/RCR/ROL/ROR"):
    /// masked count 0 → no flag changes; otherwise OF undefined unless the count is 1, AF
    /// undefined for shifts; rotates touch only CF and OF; a shift count ≥ the width leaves CF undefined.
    static func shiftFlags(op: Int, size: Int, count: Int) -> (UInt64, UInt64) {
        let m = count & (size == 8 ? 0x3F : 0x1F)
        if m == 0 { return (0, 0) }
        let rotate = op < 4
        var undef: UInt64 = m == 1 ? 0 : Flag.of
        var written: UInt64 = rotate ? (Flag.cf | Flag.of) : Flag.arith
        if !rotate { undef |= Flag.af }
        if !rotate && m > size * 8 { undef |= Flag.cf }
        if !rotate && op == 4 && m == size * 8 { /* SHL by exactly the width: CF = bit 0 of the source */ }
        written &= ~undef
        return (undef, written)
    }
}

// MARK: - General-purpose forms

let integerForms: [Form] = [
    Form(name: "alu r/m,r", weight: 12) { g in
        let op = g.rng.below(8), size = g.size(), dir = g.rng.below(2)
        let write = op != 7
        let (rm, rb) = g.rmOperand(size: size, write: write && dir == 0)
        let r = g.regOperand(size: size, write: write && dir == 1)
        if size == 1, case .reg = rm, !byteRegsCompatible(rb, r) { return nil }
        var isMem = false; if case .mem = rm { isMem = true }
        let lock = isMem && dir == 0 && op != 7 && g.rng.chance(0.3)
        let opc = UInt8(op * 8 + (size == 1 ? 0 : 1) + dir * 2)
        return g.done("alu r/m,r", g.encode(prefixes: lock ? [] : g.redundant(), size: size, opcode: [opc], reg: r.0, rm: rm,
                                            lock: lock, forceRex: r.1 || rb.1 || g.rng.chance(0.05)))
    },
    Form(name: "alu r/m,imm", weight: 10) { g in
        let op = g.rng.below(8), size = g.size()
        let (rm, rb) = g.rmOperand(size: size, write: op != 7)
        var isMem = false; if case .mem = rm { isMem = true }
        let lock = isMem && op != 7 && g.rng.chance(0.3)
        let v = g.rng.value()
        let (opc, imm): (UInt8, [UInt8]) = size == 1 ? (0x80, [UInt8(truncatingIfNeeded: v)])
            : g.rng.chance(0.5) ? (0x83, [UInt8(truncatingIfNeeded: v)]) : (0x81, Generator.immBytes(size, v))
        return g.done("alu r/m,imm", g.encode(prefixes: lock ? [] : g.redundant(), size: size, opcode: [opc], reg: op, rm: rm,
                                              imm: imm, lock: lock, forceRex: rb.1, ext: true))
    },
    Form(name: "alu acc,imm", weight: 3) { g in
        let op = g.rng.below(8), size = g.size()
        let v = g.rng.value()
        var p: [UInt8] = size == 2 ? [0x66] : []
        if size == 8 { p.append(0x48) }
        return [Insn(bytes: p + [UInt8(op * 8 + (size == 1 ? 4 : 5))] + Generator.immBytes(size, v), form: "alu acc,imm")]
    },
    Form(name: "test", weight: 4) { g in
        let size = g.size()
        let (rm, rb) = g.rmOperand(size: size, write: false)
        if g.rng.chance(0.5) {
            let r = g.regOperand(size: size, write: false)
            if size == 1, case .reg = rm, !byteRegsCompatible(rb, r) { return nil }
            return g.done("test r/m,r", g.encode(size: size, opcode: [size == 1 ? 0x84 : 0x85], reg: r.0, rm: rm, forceRex: r.1 || rb.1))
        }
        let v = g.rng.value()
        return g.done("test r/m,imm", g.encode(size: size, opcode: [size == 1 ? 0xF6 : 0xF7], reg: 0, rm: rm,
                                               imm: Generator.immBytes(size, v), forceRex: rb.1, ext: true))
    },
    Form(name: "inc/dec/not/neg", weight: 5) { g in
        let size = g.size()
        let (rm, rb) = g.rmOperand(size: size, write: true)
        var isMem = false; if case .mem = rm { isMem = true }
        let lock = isMem && g.rng.chance(0.3)
        let k = g.rng.below(4)
        let (opc, ext): (UInt8, Int) = k < 2 ? (size == 1 ? 0xFE : 0xFF, k) : (size == 1 ? 0xF6 : 0xF7, k)
        return g.done(["inc", "dec", "not", "neg"][k], g.encode(prefixes: lock ? [] : g.redundant(), size: size, opcode: [opc],
                                                                 reg: ext, rm: rm, lock: lock, forceRex: rb.1, ext: true))
    },
    Form(name: "mul/imul/div/idiv", weight: 6) { g in
        let size = g.size()
        let (rm, rb) = g.rmOperand(size: size, write: false, avoid: [0, 2])
        let k = g.rng.below(4)     // /4 MUL /5 IMUL /6 DIV /7 IDIV
        var pre: [Insn] = []
        if k >= 2 && g.rng.chance(0.7) {
            // Make the quotient fit most of the time: zero or sign-extend the high half.
            if k == 2 { pre.append(size == 1 ? Insn(bytes: [0xB4, 0x00], form: "prelude") : Insn(bytes: [0xBA, 0, 0, 0, 0], form: "prelude")) }
            else {
                let ext: [UInt8] = size == 1 ? [0x66, 0x98] : size == 2 ? [0x66, 0x99] : size == 4 ? [0x99] : [0x48, 0x99]
                pre.append(Insn(bytes: ext, form: "prelude"))
            }
        }
        // The divisor is RDX/RAX-free only if the preludes do not touch it: fine either way.
        var r = g.encode(size: size, opcode: [size == 1 ? 0xF6 : 0xF7], reg: 4 + k, rm: rm, forceRex: rb.1, ext: true)
        r.1 = r.1 + pre
        return g.done(["mul", "imul", "div", "idiv"][k], r)
    },
    Form(name: "imul 2/3-op", weight: 4) { g in
        let size = g.size(false)
        let (rm, rb) = g.rmOperand(size: size, write: false)
        let r = g.regOperand(size: size, write: true)
        switch g.rng.below(3) {
        case 0: return g.done("imul r,r/m", g.encode(size: size, opcode: [0x0F, 0xAF], reg: r.0, rm: rm, forceRex: rb.1))
        case 1: return g.done("imul r,r/m,imm8", g.encode(size: size, opcode: [0x6B], reg: r.0, rm: rm, imm: [UInt8(truncatingIfNeeded: g.rng.value())]))
        default: return g.done("imul r,r/m,imm", g.encode(size: size, opcode: [0x69], reg: r.0, rm: rm, imm: Generator.immBytes(size, g.rng.value())))
        }
    },
    Form(name: "shift/rotate", weight: 9) { g in
        let size = g.size()
        let op = g.rng.pick([0, 1, 2, 3, 4, 5, 7])   // ROL ROR RCL RCR SHL SHR SAR
        let (rm, rb) = g.rmOperand(size: size, write: true, avoid: [1])
        let by = g.rng.below(3)
        let count = g.rng.chance(0.7) ? g.rng.below(size * 8 + 2) : g.rng.below(256)
        let name = ["rol", "ror", "rcl", "rcr", "shl", "shr", "", "sar"][op]
        switch by {
        case 0:
            return g.done(name + " imm", g.encode(size: size, opcode: [size == 1 ? 0xC0 : 0xC1], reg: op, rm: rm,
                                                  imm: [UInt8(count)], forceRex: rb.1, ext: true),
                          dyn: Generator.shiftFlags(op: op, size: size, count: count))
        case 1:
            return g.done(name + " 1", g.encode(size: size, opcode: [size == 1 ? 0xD0 : 0xD1], reg: op, rm: rm, forceRex: rb.1, ext: true),
                          dyn: Generator.shiftFlags(op: op, size: size, count: 1))
        default:
            if case .reg(1) = rm { return nil }
            var r = g.encode(size: size, opcode: [size == 1 ? 0xD2 : 0xD3], reg: op, rm: rm, forceRex: rb.1, ext: true)
            r.1.append(Insn(bytes: [0xB1, UInt8(count)], form: "prelude"))   // mov cl, count
            return g.done(name + " cl", r, dyn: Generator.shiftFlags(op: op, size: size, count: count))
        }
    },
    Form(name: "shld/shrd", weight: 4) { g in
        let size = g.size(false)
        let (rm, _) = g.rmOperand(size: size, write: true, avoid: [1])
        let r = g.regOperand(size: size, write: false)
        let right = g.rng.chance(0.5)
        // 16-bit counts above 16 leave the result undefined (SDM "SHLD"): not generated.
        let count = size == 2 ? g.rng.below(17) : g.rng.below(size * 8 + 4)
        let m = count & (size == 8 ? 63 : 31)
        let dyn: (UInt64, UInt64) = m == 0 ? (0, 0) : (Flag.af | (m == 1 ? 0 : Flag.of), Flag.cf | Flag.pf | Flag.zf | Flag.sf | (m == 1 ? Flag.of : 0))
        let name = right ? "shrd" : "shld"
        if g.rng.chance(0.5) {
            return g.done(name + " imm", g.encode(size: size, opcode: [0x0F, right ? 0xAC : 0xA4], reg: r.0, rm: rm, imm: [UInt8(count)]), dyn: dyn)
        }
        if case .reg(1) = rm { return nil }
        var e = g.encode(size: size, opcode: [0x0F, right ? 0xAD : 0xA5], reg: r.0, rm: rm)
        e.1.append(Insn(bytes: [0xB1, UInt8(count)], form: "prelude"))
        return g.done(name + " cl", e, dyn: dyn)
    },
    Form(name: "bt*", weight: 6) { g in
        let size = g.size(false)
        let k = g.rng.below(4)     // BT BTS BTR BTC
        let name = ["bt", "bts", "btr", "btc"][k]
        if g.rng.chance(0.5) {
            let (rm, _) = g.rmOperand(size: size, write: k != 0)
            var isMem = false; if case .mem = rm { isMem = true }
            let lock = isMem && k != 0 && g.rng.chance(0.3)
            return g.done(name + " imm", g.encode(size: size, opcode: [0x0F, 0xBA], reg: 4 + k, rm: rm, imm: [UInt8(g.rng.below(256))], lock: lock, ext: true))
        }
        if g.rng.chance(0.5) {
            let rm = g.regOperand(size: size, write: k != 0)
            let r = g.regOperand(size: size, write: false)
            return g.done(name + " r,r", g.encode(size: size, opcode: [0x0F, [0xA3, 0xAB, 0xB3, 0xBB][k]], reg: r.0, rm: .reg(rm.0)))
        }
        // Memory with a register bit offset: the operand reaches ±256 bytes around a mid-page address.
        let bitReg = g.freeReg([])
        let m = g.mem(size: size, lo: 0x400, hi: 0xC00, avoid: [bitReg])
        let lock = k != 0 && g.rng.chance(0.3)
        var e = g.encode(size: size, opcode: [0x0F, [0xA3, 0xAB, 0xB3, 0xBB][k]], reg: bitReg, rm: .mem(m), lock: lock)
        e.1.append(g.movImm(bitReg, UInt64(bitPattern: Int64(g.rng.below(4096)) - 2048)))
        return g.done(name + " m,r", e)
    },
    Form(name: "bitscan/popcnt", weight: 5) { g in
        let size = g.size(false)
        let (rm, _) = g.rmOperand(size: size, write: false)
        let r = g.regOperand(size: size, write: true)
        let k = g.rng.below(5)
        let (pre, opc): ([UInt8], UInt8) = [([], 0xBC), ([], 0xBD), ([0xF3], 0xBC), ([0xF3], 0xBD), ([0xF3], 0xB8)][k]
        let name = ["bsf", "bsr", "tzcnt", "lzcnt", "popcnt"][k]
        // BSF/BSR with a zero source leave the destination unchanged on the host and in the core
        // (SDM Vol. 2A "BSF", "BSR": undefined): compared like everything else.
        return g.done(name, g.encode(prefixes: pre, size: size, opcode: [0x0F, opc], reg: r.0, rm: rm))
    },
    Form(name: "bswap", weight: 2) { g in
        let size = g.rng.chance(0.5) ? 4 : 8
        let r = g.destReg()
        var rex: UInt8 = 0x40 | (size == 8 ? 8 : 0) | (r >= 8 ? 1 : 0)
        if rex == 0x40 && !g.rng.chance(0.2) { rex = 0 }
        return [Insn(bytes: (rex != 0 ? [rex] : []) + [0x0F, 0xC8 + UInt8(r & 7)], form: "bswap")]
    },
    Form(name: "movzx/movsx/movsxd", weight: 5) { g in
        let size = g.size(false)
        let k = g.rng.below(5)
        let r = g.regOperand(size: size, write: true)
        if k == 4 {
            let (rm, _) = g.rmOperand(size: 4, write: false)
            return g.done("movsxd", g.encode(size: 8, opcode: [0x63], reg: r.0, rm: rm))
        }
        let srcSize = k % 2 == 0 ? 1 : 2
        let (rm, rb) = g.rmOperand(size: srcSize, write: false)
        let opc: UInt8 = [0xB6, 0xB7, 0xBE, 0xBF][k]
        return g.done(k < 2 ? "movzx" : "movsx", g.encode(size: size, opcode: [0x0F, opc], reg: r.0, rm: rm, forceRex: rb.1))
    },
    Form(name: "mov", weight: 8) { g in
        let size = g.size()
        switch g.rng.below(4) {
        case 0, 1:
            let dir = g.rng.below(2)
            let (rm, rb) = g.rmOperand(size: size, write: dir == 0, memP: 0.6)
            let r = g.regOperand(size: size, write: dir == 1)
            if size == 1, case .reg = rm, !byteRegsCompatible(rb, r) { return nil }
            return g.done("mov r/m,r", g.encode(prefixes: g.redundant(), size: size, opcode: [UInt8(0x88 + (size == 1 ? 0 : 1) + dir * 2)],
                                                reg: r.0, rm: rm, forceRex: r.1 || rb.1))
        case 2:
            let (rm, rb) = g.rmOperand(size: size, write: true, memP: 0.6)
            return g.done("mov r/m,imm", g.encode(size: size, opcode: [size == 1 ? 0xC6 : 0xC7], reg: 0, rm: rm,
                                                  imm: Generator.immBytes(size, g.rng.value()), forceRex: rb.1, ext: true))
        default:
            let r = g.regOperand(size: size, write: true)
            var p: [UInt8] = size == 2 ? [0x66] : []
            var rex: UInt8 = 0x40 | (size == 8 ? 8 : 0) | (r.0 >= 8 ? 1 : 0)
            if r.1 { rex |= 0 } else if rex == 0x40 { rex = 0 }
            if size == 1 && rex != 0 && r.0 == 4 { return nil }
            if rex != 0 { p.append(rex) }
            let imm = size == 8 ? Generator.le64(g.rng.value()) : Generator.immBytes(size, g.rng.value())
            return [Insn(bytes: p + [(size == 1 ? 0xB0 : 0xB8) + UInt8(r.0 & 7)] + imm, form: "mov r,imm")]
        }
    },
    Form(name: "lea", weight: 5) { g in
        let size = g.size(false)
        let r = g.regOperand(size: size, write: true)
        var m = g.mem(size: 1)
        if g.rng.chance(0.5) { m.preludes = [] }   // any register values: LEA does not access memory
        return g.done("lea", g.encode(size: size, opcode: [0x8D], reg: r.0, rm: .mem(m)))
    },
    Form(name: "xchg", weight: 4) { g in
        let size = g.size()
        if size > 1 && g.rng.chance(0.25) {
            let r = g.destReg()
            if r == 0 { return nil }
            var p: [UInt8] = size == 2 ? [0x66] : []
            let rex: UInt8 = 0x40 | (size == 8 ? 8 : 0) | (r >= 8 ? 1 : 0)
            if rex != 0x40 { p.append(rex) }
            return [Insn(bytes: p + [0x90 + UInt8(r & 7)], form: "xchg rax,r")]
        }
        let (rm, rb) = g.rmOperand(size: size, write: true)
        let r = g.regOperand(size: size, write: true)
        if size == 1, case .reg = rm, !byteRegsCompatible(rb, r) { return nil }
        var isMem = false; if case .mem = rm { isMem = true }
        return g.done("xchg r/m,r", g.encode(size: size, opcode: [size == 1 ? 0x86 : 0x87], reg: r.0, rm: rm,
                                             lock: isMem && g.rng.chance(0.3), forceRex: r.1 || rb.1))
    },
    Form(name: "xadd/cmpxchg", weight: 5) { g in
        let size = g.size()
        let (rm, rb) = g.rmOperand(size: size, write: true, avoid: [0])
        let r = g.regOperand(size: size, write: true)
        if size == 1, case .reg = rm, !byteRegsCompatible(rb, r) { return nil }
        var isMem = false; if case .mem = rm { isMem = true }
        let lock = isMem && g.rng.chance(0.5)
        let x = g.rng.chance(0.5)
        var e = g.encode(size: size, opcode: [0x0F, (x ? 0xC0 : 0xB0) + (size == 1 ? 0 : 1)], reg: r.0, rm: rm, lock: lock, forceRex: r.1 || rb.1)
        if !x && g.rng.chance(0.3) {
            // Make the comparison succeed sometimes: RAX := the operand's current value.
            if case .reg(let s) = rm, size == 8 { e.1.append(Insn(bytes: [0x48 | (s >= 8 ? 4 : 0), 0x89, 0xC0 | UInt8(s & 7) << 3], form: "prelude")) }
            if case .mem(let m) = rm { e.1.append(g.movImm(0, g.dataValue(m.address, size))) }
        }
        // (XADD m, r with r in the address of m was a core bug this test found; fixed, so no allowance.)
        return g.done(x ? "xadd" : "cmpxchg", e)
    },
    Form(name: "cmpxchg8b/16b", weight: 2) { g in
        let wide = g.rng.chance(0.5)
        var m = g.mem(size: wide ? 16 : 8, align: wide ? 16 : 8, avoid: [0, 1, 2, 3])
        if g.rng.chance(0.1) { m = g.memAt(GuestImage.data + 0x100 + UInt64(g.rng.pick([1, 4, 8])), avoid: [0, 1, 2, 3]) } // misaligned: 16B → #GP(0)
        var e = g.encode(size: wide ? 8 : 4, opcode: [0x0F, 0xC7], reg: 1, rm: .mem(m), lock: g.rng.chance(0.5), ext: true)
        if g.rng.chance(0.4) {
            let n = wide ? 8 : 4
            e.1.append(g.movImm(0, g.dataValue(m.address, n)))
            e.1.append(g.movImm(2, g.dataValue(m.address + UInt64(n), n)))
        }
        return g.done(wide ? "cmpxchg16b" : "cmpxchg8b", e)
    },
    Form(name: "cmovcc", weight: 4) { g in
        let size = g.size(false)
        let (rm, _) = g.rmOperand(size: size, write: false)
        let r = g.regOperand(size: size, write: true)
        let cc = g.rng.below(16)
        return g.done("cmov" + ccNames[cc], g.encode(size: size, opcode: [0x0F, 0x40 + UInt8(cc)], reg: r.0, rm: rm))
    },
    Form(name: "setcc", weight: 4) { g in
        let (rm, rb) = g.rmOperand(size: 1, write: true)
        let cc = g.rng.below(16)
        return g.done("set" + ccNames[cc], g.encode(size: 1, opcode: [0x0F, 0x90 + UInt8(cc)], reg: 0, rm: rm, forceRex: rb.1, ext: true))
    },
    Form(name: "jcc", weight: 5) { g in
        let cc = g.rng.below(16)
        let near = g.rng.chance(0.4)
        let k = near ? g.rng.below(4) : g.rng.below(2)
        var i = Insn(bytes: near ? [0x0F, 0x80 + UInt8(cc), 0, 0, 0, 0] : [0x70 + UInt8(cc), 0], form: "j" + ccNames[cc])
        i.jumpGroup = g.group + 1 + k
        return [i]
    },
    Form(name: "loop/jrcxz", weight: 2) { g in
        let k = g.rng.below(4)    // LOOPNE LOOPE LOOP JRCXZ
        var pre: [Insn] = []
        if g.rng.chance(0.6) { pre.append(g.movImm(1, UInt64(g.rng.below(3)))) }
        let a32 = g.rng.chance(0.2)
        var i = Insn(bytes: (a32 ? [0x67] : []) + [0xE0 + UInt8(k), 0], form: ["loopne", "loope", "loop", "jrcxz"][k])
        i.jumpGroup = g.group + 1 + g.rng.below(2)
        return pre + [i]
    },
    Form(name: "jmp", weight: 1) { g in
        var i = Insn(bytes: g.rng.chance(0.5) ? [0xEB, 0] : [0xE9, 0, 0, 0, 0], form: "jmp")
        i.jumpGroup = g.group + 1 + g.rng.below(2)
        return [i]
    },
    Form(name: "cbw/cwd family", weight: 3) { g in
        let s = g.rng.below(3)
        let p: [UInt8] = [[0x66], [], [0x48]][s]
        let cwd = g.rng.chance(0.5)
        return [Insn(bytes: p + [cwd ? 0x99 : 0x98], form: cwd ? ["cwd", "cdq", "cqo"][s] : ["cbw", "cwde", "cdqe"][s])]
    },
    Form(name: "flag ops", weight: 4) { g in
        let k = g.rng.below(7)
        return [Insn(bytes: [[0x9F, 0x9E, 0xF8, 0xF9, 0xF5, 0xFC, 0xFD][k]], form: ["lahf", "sahf", "clc", "stc", "cmc", "cld", "std"][k])]
    },
    Form(name: "push/pop", weight: 5) { g in
        let k = g.rng.below(8)
        let w = k == 1 ? 2 : 8
        switch k {
        case 0, 1, 2, 3, 4:     // pushes
            guard g.rspLo - w >= 0x40 else { return nil }
            var out: [Insn]
            switch k {
            case 0: let r = g.anyReg(); out = [Insn(bytes: (r >= 8 ? [0x41] : []) + [0x50 + UInt8(r & 7)], form: "push r")]
            case 1: let r = g.anyReg(); out = [Insn(bytes: [0x66] + (r >= 8 ? [0x41] : []) + [0x50 + UInt8(r & 7)], form: "push r16")]
            case 2: out = g.rng.chance(0.5) ? [Insn(bytes: [0x6A, UInt8(truncatingIfNeeded: g.rng.value())], form: "push imm8")]
                                            : [Insn(bytes: [0x68] + Generator.immBytes(4, g.rng.value()), form: "push imm32")]
            case 3: out = g.done("push m", g.encode(size: 4, opcode: [0xFF], reg: 6, rm: .mem(g.mem(size: 8)), ext: true))
            default: out = [Insn(bytes: [0x9C], form: "pushfq")]
            }
            g.rspLo -= w; g.rspHi -= w
            return out
        default:                // pops
            guard g.rspHi + 8 <= GuestImage.dataSize - 0x40 else { return nil }
            var out: [Insn]
            switch k {
            case 5: let r = g.destReg(); out = [Insn(bytes: (r >= 8 ? [0x41] : []) + [0x58 + UInt8(r & 7)], form: "pop r")]
            case 6: out = g.done("pop m", g.encode(size: 4, opcode: [0x8F], reg: 0, rm: .mem(g.mem(size: 8)), ext: true))
            default:
                // popfq of a value with chosen arithmetic flags and DF (IF stays 1; TF, AC never set).
                guard g.rspLo - 8 >= 0x40 else { return nil }
                let f = 0x202 | (g.rng.next() & (Flag.arith | Flag.df))
                out = [Insn(bytes: [0x68] + Generator.immBytes(4, f), form: "prelude"), Insn(bytes: [0x9D], form: "popfq")]
                return out
            }
            g.rspLo += 8; g.rspHi += 8
            return out
        }
    },
    Form(name: "string", weight: 5) { g in
        let k = g.rng.below(5)      // MOVS CMPS STOS LODS SCAS
        let size = g.size()
        let base: [UInt8] = [0xA4, 0xA6, 0xAA, 0xAC, 0xAE]
        var p: [UInt8] = []
        if size == 2 { p.append(0x66) }
        let rep = g.rng.below(3)    // none, F3, F2 (F2 only for CMPS/SCAS)
        if rep == 1 { p.append(0xF3) } else if rep == 2 && (k == 1 || k == 4) { p.append(0xF2) }
        let a32 = g.rng.chance(0.15)
        if a32 { p.append(0x67) }
        if (k == 0 || k == 1 || k == 3) && g.rng.chance(0.15) { p.append(g.rng.pick([0x64, 0x65, 0x3E])) }
        p.shuffle(using: &g.rng)
        if size == 8 { p.append(0x48) } else if g.rng.chance(0.05) { p.append(0x40) }
        let count = UInt64(g.rng.below(17))
        var pre: [Insn] = [g.movImm(6, GuestImage.data + 0x400 + UInt64(g.rng.below(0x800))),
                           g.movImm(7, GuestImage.data + 0x400 + UInt64(g.rng.below(0x800)))]
        pre.append(g.movImm(1, count | (a32 && g.rng.chance(0.5) ? g.rng.next() << 32 : 0)))
        let names = ["movs", "cmps", "stos", "lods", "scas"]
        var i = Insn(bytes: p + [base[k] + (size == 1 ? 0 : 1)], form: (rep == 0 ? "" : "rep ") + names[k])
        // A repeated CMPS/SCAS with a zero count does not touch the flags.
        if rep != 0 && count == 0 { i.dynFlags = (0, 0) }
        return pre + [i]
    },
    Form(name: "movbe", weight: 2) { g in
        let size = g.size(false)
        let r = g.regOperand(size: size, write: true)
        let store = g.rng.chance(0.5)
        return g.done("movbe", g.encode(size: size, opcode: [0x0F, 0x38, store ? 0xF1 : 0xF0], reg: r.0, rm: .mem(g.mem(size: size))))
    },
    Form(name: "xlat", weight: 1) { g in
        [g.movImm(3, GuestImage.data + UInt64(g.rng.below(0xF00))), Insn(bytes: g.rng.chance(0.3) ? [0x48, 0xD7] : [0xD7], form: "xlat")]
    },
    Form(name: "enter/leave", weight: 2) { g in
        let rbp = 0x300 + g.rng.below(0x600)
        let pre = g.movImm(5, GuestImage.data + UInt64(rbp))
        if g.rng.chance(0.5) {
            g.rspLo = rbp + 8; g.rspHi = rbp + 8
            return [pre, Insn(bytes: [0xC9], form: "leave")]
        }
        let size = g.rng.below(64), level = g.rng.below(4)
        let used = 8 + (level > 0 ? 8 * level : 0) + size
        guard g.rspLo - used >= 0x40 else { return nil }
        g.rspLo -= used; g.rspHi -= used
        return [pre, Insn(bytes: [0xC8] + Generator.le16(size) + [UInt8(level)], form: "enter")]
    },
    Form(name: "nop", weight: 2) { g in
        switch g.rng.below(5) {
        case 0: return [Insn(bytes: [0x90], form: "nop")]
        case 1: return [Insn(bytes: [0x66, 0x90], form: "nop")]
        case 2: return [Insn(bytes: [0xF3, 0x90], form: "pause")]
        case 3:
            var m = g.mem(size: 1); m.preludes = []
            return g.done("nop r/m", g.encode(prefixes: g.rng.chance(0.3) ? [0x66] : [], size: 4, opcode: [0x0F, 0x1F], reg: 0, rm: .mem(m), ext: true))
        default:
            return g.done("prefetch", g.encode(size: 4, opcode: [0x0F, 0x18], reg: g.rng.below(4), rm: .mem(g.mem(size: 1)), ext: true))
        }
    },
]

extension Generator {
    /// The initial data page's value at `address` (little-endian, `n` bytes) — a good guess of the
    /// current value when nothing wrote there earlier in the sequence.
    func dataValue(_ address: UInt64, _ n: Int) -> UInt64 {
        let o = Int(address - GuestImage.data)
        var v: UInt64 = 0
        for k in 0..<n where o + k < initialData.count { v |= UInt64(initialData[o + k]) << UInt64(8 * k) }
        return v
    }
}

// MARK: - Forms that end the sequence with an exception the host reports faithfully under PVM

let faultForms: [Form] = [
    Form(name: "ud2", weight: 1) { _ in [Insn(bytes: [0x0F, 0x0B], form: "ud2")] },
    Form(name: "lock on a register form", weight: 1) { g in
        var i = Insn(bytes: [0xF0, 0x48, 0x01, 0xC0 | UInt8(g.rng.below(8))], form: "lock add r,r")
        i.invalid = true
        return [i]
    },
    Form(name: "privileged", weight: 2) { g in
        let k = g.rng.below(6)
        let b: [[UInt8]] = [[0xFA], [0xF4], [0xEC], [0x0F, 0x32], [0x0F, 0x20, 0xC0], [0x0F, 0x01, 0xF8]]
        return [Insn(bytes: b[k], form: ["cli", "hlt", "in al,dx", "rdmsr", "mov rax,cr0", "swapgs"][k])]
    },
    Form(name: "non-canonical", weight: 1) { g in
        let viaRBP = g.rng.chance(0.5)   // [rbp] → #SS(0), [rbx] → #GP(0)
        let r = viaRBP ? 5 : 3
        return [g.movImm(r, 0x8000_0000_0000_0000 | UInt64(g.rng.below(0x1000))),
                Insn(bytes: viaRBP ? [0x48, 0x8B, 0x45, 0x00] : [0x48, 0x8B, 0x03], form: viaRBP ? "mov rax,[rbp] non-canonical" : "mov rax,[rbx] non-canonical")]
    },
    Form(name: "page fault", weight: 2) { g in
        let k = g.rng.below(4)
        let target: UInt64 = [GuestImage.notPresent, GuestImage.readOnly, GuestImage.gdt, GuestImage.gdt][k] + UInt64(g.rng.below(0x100))
        let write = k == 1 || k == 3 || (k == 0 && g.rng.chance(0.5))
        return [g.movImm(3, target), Insn(bytes: write ? [0x48, 0x89, 0x03] : [0x48, 0x8B, 0x03], form: write ? "mov [rbx],rax #PF" : "mov rax,[rbx] #PF")]
    },
]
