// The generator: an explicit table of instruction forms valid at CPL3 in 64-bit mode, each a small
// emitter that picks operand size, registers, addressing form and prefixes at random and writes
// the bytes (plus "preludes": MOVs that point a base/index register into the data page, set a shift
// count or a string count). Memory operands always land in the 4 KiB data page. Every emitted
// instruction is checked against Zydis (length) and run through the flags bookkeeping: a flag
// that an instruction leaves undefined stays masked until a later instruction defines it, and an
// instruction that would *read* an undefined flag gets a flag-defining CMP in front of it.
// Forward Jcc's join their flag masks at the target (both paths are possible).

import TestSupport

/// The generator's random source: SplitMix64 (TestSupport), reproducible for a seed.
typealias RNG = SplitMix64

extension SplitMix64 {
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func chance(_ p: Double) -> Bool { Double(next() >> 11) / Double(1 << 53) < p }
    mutating func pick<T>(_ a: [T]) -> T { a[below(a.count)] }
    /// A register value with interesting corners.
    mutating func value() -> UInt64 {
        switch below(10) {
        case 0: return pick([0, 1, 2, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000,
                             0xFFFF_FFFF, 0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, UInt64.max])
        case 1: return UInt64(below(64))
        case 2: return UInt64(bitPattern: -Int64(below(64)))
        case 3: return next() & 0xFFFF_FFFF
        case 4: return next() & 0xFF
        default: return next()
        }
    }
}

enum Flag {
    static let cf: UInt64 = 1 << 0, pf: UInt64 = 1 << 2, af: UInt64 = 1 << 4, zf: UInt64 = 1 << 6
    static let sf: UInt64 = 1 << 7, df: UInt64 = 1 << 10, of: UInt64 = 1 << 11
    static let arith: UInt64 = cf | pf | af | zf | sf | of
}

/// One emitted instruction.
struct Insn {
    var bytes: [UInt8]
    /// The table form it came from ("prelude" for setup MOVs).
    var form: String
    /// Flags this instance leaves undefined / defines, when they depend on a count known here
    /// (shifts, rotates); nil: Zydis's static masks.
    var dynFlags: (undefined: UInt64, written: UInt64)? = nil
    /// An allow-list test: given the machine state before this instruction (our core's), the name
    /// of an allow-list entry that explains a divergence here, else nil.
    var allow: ((EndState) -> String?)? = nil
    /// With `allow`: the one register the allowed divergence may be in (BSF/BSR's destination);
    /// a divergence anywhere else is a mismatch, and the rest of the sequence is still checked.
    var allowedRegister: Int? = nil
    /// For a Jcc: the group index the branch targets (patched into the displacement).
    var jumpGroup: Int? = nil
    /// For RIP-relative operands: offset of disp32 in `bytes` and the linear target.
    var ripRel: (at: Int, target: UInt64)? = nil
    var group = 0
    /// Deliberately invalid encodings (#UD expected): not checked against Zydis.
    var invalid = false
}

/// A generated sequence, laid out at `GuestImage.code`.
struct Sequence {
    var insns: [Insn]
    var start: StartState
    var data: [UInt8]
    var code: [UInt8] = []
    var offsets: [Int] = []
    /// The undefined-flags mask in force before each instruction, and at the end.
    var maskBefore: [UInt64] = []
    var maskEnd: UInt64 = 0

    /// Code of the first `k` instructions (the rest is the HLT padding of the image).
    func prefix(_ k: Int) -> [UInt8] { Array(code[0..<(k < insns.count ? offsets[k] : code.count)]) }

    /// The undefined-flags mask for a run that stopped with RIP = `rip` (conservative).
    func mask(at rip: UInt64, prefix k: Int) -> UInt64 {
        let off = Int(rip &- GuestImage.code)
        var m: UInt64 = k < insns.count ? maskBefore[k] : maskEnd
        if off == code.count { m |= maskEnd }
        else if let j = offsets.firstIndex(of: off) { m |= maskBefore[j] }
        else { m |= maskBefore.reduce(maskEnd, |) }
        return m
    }
}

/// A memory operand: ModRM.mod/rm + SIB + displacement, the REX.X/REX.B bits, the prefixes it
/// needs (67), the preludes that set its registers, and a RIP-relative fixup.
struct MemOperand {
    var mod: UInt8, rm: UInt8
    var sib: UInt8? = nil
    var disp: [UInt8] = []
    var rexX = false, rexB = false
    var addr32 = false
    var preludes: [Insn] = []
    var ripTarget: UInt64? = nil
    var address: UInt64
    /// The registers the address is computed from (base, index).
    var regs: [Int] = []
}

enum RM {
    case reg(Int)
    case mem(MemOperand)
}

struct Generator {
    var rng: RNG
    var insns: [Insn] = []
    var group = 0
    /// Bounds of RSP's offset in the data page over every path so far.
    var rspLo = 0x800, rspHi = 0x800
    var withFPU = false
    var initialData: [UInt8] = []
    /// Forms Zydis rejected or decoded to another length (generator bugs): reported by the test.
    var rejects: [String] = []

    init(seed: UInt64) { rng = RNG(seed: seed) }

    // MARK: Encoding helpers

    static func le32(_ v: Int64) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
    static func le64(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }
    static func le16(_ v: Int) -> [UInt8] { [UInt8(truncatingIfNeeded: v), UInt8(truncatingIfNeeded: v >> 8)] }

    /// `mov r64, imm` (sign-extended imm32 when it fits, else movabs).
    func movImm(_ r: Int, _ v: UInt64) -> Insn {
        let sv = Int64(bitPattern: v)
        if sv >= -0x8000_0000 && sv < 0x8000_0000 {
            return Insn(bytes: [0x48 | (r >= 8 ? 1 : 0), 0xC7, 0xC0 | UInt8(r & 7)] + Self.le32(sv), form: "prelude")
        }
        return Insn(bytes: [0x48 | (r >= 8 ? 1 : 0), 0xB8 + UInt8(r & 7)] + Self.le64(v), form: "prelude")
    }

    /// A general register that may be written (never RSP).
    mutating func destReg() -> Int { var r = rng.below(15); if r >= 4 { r += 1 }; return r }
    mutating func anyReg() -> Int { rng.below(16) }

    /// A random memory operand of `size` bytes in the data page (aligned to `align` if given).
    /// `avoid`: registers the instruction uses implicitly or as its other operand that the
    /// preludes must not clobber afterwards (preludes run first, so only implicit ones matter).
    mutating func mem(size: Int, align: Int = 1, lo: Int = 0, hi: Int = GuestImage.dataSize, avoid: Set<Int> = []) -> MemOperand {
        var off = lo + rng.below(max(1, hi - lo - size + 1))
        if rng.chance(0.15) { off = lo + rng.pick([0, 1, 3, 8, 15]) }   // near the edge
        if align > 1 { off &= ~(align - 1) }
        let addr = GuestImage.data + UInt64(max(lo, min(off, hi - size)))
        return memAt(addr, avoid: avoid)
    }

    mutating func freeReg(_ avoid: Set<Int>) -> Int {
        while true { let r = anyReg(); if r != 4 && !avoid.contains(r) { return r } }
    }

    mutating func memAt(_ addr: UInt64, avoid: Set<Int> = []) -> MemOperand {
        let addr32 = rng.chance(0.15)
        func dispBytes(_ d: Int64, _ n: Int) -> [UInt8] { n == 1 ? [UInt8(truncatingIfNeeded: d)] : Self.le32(d) }
        switch rng.below(8) {
        case 0:     // [rip + disp32]
            var m = MemOperand(mod: 0, rm: 5, disp: [0, 0, 0, 0], address: addr)
            m.addr32 = addr32; m.ripTarget = addr
            return m
        case 1:     // [disp32] (SIB, no base, no index)
            return MemOperand(mod: 0, rm: 4, sib: 0x25, disp: Self.le32(Int64(addr)), addr32: addr32, address: addr)
        case 2:     // [index*scale + disp32]
            let i = freeReg(avoid)
            let s = rng.below(4)
            let idx = Int64(rng.below(64))
            let d = Int64(addr) - (idx << s)
            var m = MemOperand(mod: 0, rm: 4, sib: UInt8(s << 6) | UInt8(i & 7) << 3 | 5, disp: Self.le32(d), address: addr)
            m.rexX = i >= 8; m.addr32 = addr32
            m.preludes = [movImm(i, UInt64(idx))]
            m.regs = [i]
            return m
        case 3, 4:  // [base + index*scale + disp]
            let b = freeReg(avoid)
            var i = freeReg(avoid.union([b]))
            if rng.chance(0.1) { i = b }
            let s = rng.below(4)
            let idx = Int64(rng.below(32)) - 8
            let dn = rng.pick([0, 1, 4])
            let d: Int64 = dn == 0 ? 0 : dn == 1 ? Int64(rng.below(256)) - 128 : Int64(rng.below(4096)) - 2048
            let mod: UInt8 = dn == 0 ? ((b & 7) == 5 ? 1 : 0) : dn == 1 ? 1 : 2
            let baseVal: Int64
            if i == b {   // same register as base and index: value v with v + v<<s + d = addr
                let v = (Int64(addr) - d) / (1 + (1 << s))
                let d2 = Int64(addr) - v - (v << s)
                let mod2: UInt8 = 2
                var m = MemOperand(mod: mod2, rm: 4, sib: UInt8(s << 6) | UInt8(i & 7) << 3 | UInt8(b & 7), disp: Self.le32(d2), address: addr)
                m.rexX = i >= 8; m.rexB = b >= 8; m.addr32 = addr32
                m.preludes = [movImm(b, UInt64(v))]
                m.regs = [b]
                return m
            }
            baseVal = Int64(addr) - d - (idx << s)
            var m = MemOperand(mod: mod, rm: 4, sib: UInt8(s << 6) | UInt8(i & 7) << 3 | UInt8(b & 7),
                               disp: mod == 0 ? [] : dispBytes(d, mod == 1 ? 1 : 4), address: addr)
            m.rexX = i >= 8; m.rexB = b >= 8; m.addr32 = addr32
            var bv = UInt64(bitPattern: baseVal)
            if addr32 && rng.chance(0.5) { bv |= rng.next() << 32 }   // 67: the upper half is ignored
            m.preludes = [movImm(b, bv), movImm(i, UInt64(bitPattern: idx))]
            m.regs = [b, i]
            return m
        default:    // [base + disp]
            let b = freeReg(avoid)
            let dn = rng.pick([0, 1, 1, 4])
            let d: Int64 = dn == 0 ? 0 : dn == 1 ? Int64(rng.below(256)) - 128 : Int64(rng.below(8192)) - 4096
            let mod: UInt8 = dn == 0 ? ((b & 7) == 5 ? 1 : 0) : dn == 1 ? 1 : 2
            var m = MemOperand(mod: mod, rm: UInt8(b & 7), address: addr)
            if (b & 7) == 4 { m.sib = 0x24 }   // R12 needs a SIB byte
            m.disp = mod == 0 ? [] : dispBytes(d, mod == 1 ? 1 : 4)
            m.rexB = b >= 8; m.addr32 = addr32
            var bv = UInt64(bitPattern: Int64(addr) - d)
            if addr32 && rng.chance(0.5) { bv |= rng.next() << 32 }
            m.preludes = [movImm(b, bv)]
            m.regs = [b]
            return m
        }
    }

    /// Segment-override and redundant prefixes for a memory instruction (harmless in 64-bit mode:
    /// CS/DS/ES/SS overrides are ignored, FS/GS have base 0 here).
    mutating func segPrefix() -> [UInt8] {
        rng.chance(0.2) ? [rng.pick([0x64, 0x65, 0x2E, 0x3E, 0x26, 0x36])] : []
    }

    /// ModRM (+SIB, displacement) for `reg` and `rm`, the REX.X/REX.B (or VEX X̄/B̄) bits they
    /// need, and what a memory operand brings along: its prefixes (67, a segment override), its
    /// preludes and the offset of a RIP-relative displacement in `bytes`.
    struct ModRMTail {
        var bytes: [UInt8]
        var x = false, b = false
        var prefixes: [UInt8] = []
        var preludes: [Insn] = []
        var ripAt: Int? = nil
        var ripTarget: UInt64 = 0
    }

    mutating func modrmTail(reg: Int, rm: RM) -> ModRMTail {
        let modrm = UInt8(reg & 7) << 3
        switch rm {
        case .reg(let r):
            return ModRMTail(bytes: [modrm | 0xC0 | UInt8(r & 7)], b: r >= 8)
        case .mem(let m):
            var t = ModRMTail(bytes: [modrm | m.mod << 6 | m.rm], x: m.rexX, b: m.rexB)
            if let s = m.sib { t.bytes.append(s) }
            if let target = m.ripTarget { t.ripAt = t.bytes.count; t.ripTarget = target }
            t.bytes += m.disp
            if m.addr32 { t.prefixes.append(0x67) }
            t.prefixes += segPrefix()
            t.preludes = m.preludes
            return t
        }
    }

    /// Assemble prefixes + REX + opcode + ModRM (+SIB, disp) + imm.
    /// `size`: operand size 1/2/4/8 (1 = byte registers: `rexForByte` decides AH..BH vs SPL..DIL).
    mutating func encode(prefixes: [UInt8] = [], size: Int, opcode: [UInt8], reg: Int, rm: RM, imm: [UInt8] = [],
                         lock: Bool = false, forceRex: Bool = false, noW: Bool = false, ext: Bool = false) -> (Insn, [Insn]) {
        let t = modrmTail(reg: reg, rm: rm)
        var p = prefixes
        if size == 2 { p.append(0x66) }
        var rex: UInt8 = 0x40
        if size == 8 && !noW { rex |= 8 }
        if reg >= 8 { rex |= 4 }
        if t.x { rex |= 2 }
        if t.b { rex |= 1 }
        p += t.prefixes
        var tail = t.bytes, modrm = t.bytes[0]
        let pre = t.preludes, ripAt = t.ripAt, ripTarget = t.ripTarget
        if lock { p.insert(0xF0, at: 0) }
        p.shuffle(using: &rng)
        let useRex = rex != 0x40 || forceRex
        if size == 1 && useRex {
            // With any REX, byte registers 4..7 are SPL BPL SIL DIL: never let SPL be an operand.
            if reg == 4 && !ext { modrm = modrm & ~0x38 }
            if case .reg(4) = rm { modrm = modrm & ~0x07 }
            tail[0] = modrm
        }
        // An instruction is at most 15 bytes (SDM Vol. 2A §2.3.11; longer is #GP): drop segment
        // overrides — harmless here — until it fits (a 10⁶-sequence run once built a 16-byte ALU
        // form from two of them, a 67, a redundant F2, SIB, disp32 and imm32).
        let fixed = (useRex ? 1 : 0) + opcode.count + tail.count + imm.count
        while p.count + fixed > 15, let k = p.lastIndex(where: { [0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65].contains($0) }) {
            p.remove(at: k)
        }
        let head = p + (useRex ? [rex] : []) + opcode
        var i = Insn(bytes: head + tail + imm, form: "")
        if let a = ripAt { i.ripRel = (head.count + a, ripTarget) }
        return (i, pre)
    }

    // MARK: Emission with flag bookkeeping is done by `SequenceBuilder`; the forms only make bytes.

    mutating func size(_ allowByte: Bool = true) -> Int {
        allowByte ? rng.pick([1, 2, 4, 8, 4, 8]) : rng.pick([2, 4, 8, 4, 8])
    }

    /// A byte/word/dword/qword register operand that may be written; for byte size also whether a
    /// REX prefix must be present (SPL..DIL, R8B..) or absent (AH..BH).
    mutating func regOperand(size: Int, write: Bool = true) -> (Int, Bool) {
        if size == 1 {
            let r = rng.below(16)
            if r >= 8 { return (r, true) }
            if r >= 4 {
                if rng.chance(0.5) { return (r, false) }        // AH CH DH BH
                if r == 4 && write { return (0, false) }        // SPL: never written
                return (r, true)                               // BPL SIL DIL (SPL as a source)
            }
            return (r, rng.chance(0.3))
        }
        let r = write ? destReg() : anyReg()
        return (r, false)
    }

    static func immBytes(_ size: Int, _ v: UInt64) -> [UInt8] {
        (0..<min(size, 4)).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) }
    }
}

/// AH..BH cannot be encoded with a REX prefix; SPL..DIL and R8B.. need one.
func byteRegsCompatible(_ a: (Int, Bool), _ b: (Int, Bool)) -> Bool {
    let aNeedsRex = a.0 >= 8 || a.1, bNeedsRex = b.0 >= 8 || b.1
    let aHigh = a.0 >= 4 && a.0 < 8 && !a.1, bHigh = b.0 >= 4 && b.0 < 8 && !b.1
    return !((aNeedsRex && bHigh) || (bNeedsRex && aHigh))
}
