/// Lazy arithmetic flags.
///
/// Most flag results are overwritten before anything reads them, so an arithmetic instruction
/// records its operation, operands and result, and CF/PF/AF/ZF/SF/OF are computed only when an
/// instruction reads them (Jcc, SETcc, CMOVcc, ADC, PUSHF, …). The definitions are those of the
/// SDM Vol. 1 §3.4.3.1 "Status Flags" and each instruction's "Flags Affected" section in Vol. 2.
@usableFromInline enum LazyOp: UInt8 {
    /// `lfFlags` holds the six flags.
    case eager
    /// res = a + b
    case add
    /// res = a - b (SUB, CMP, NEG as 0 - b)
    case sub
    /// AND/OR/XOR/TEST: CF = OF = 0, AF undefined (we give 0, as Intel silicon does).
    case logic
    /// res = a + 1, CF preserved in lfFlags bit 0
    case inc
    /// res = a - 1, CF preserved in lfFlags bit 0
    case dec
}

@usableFromInline let sizeMask: (UInt64, UInt64, UInt64, UInt64) = (0xFF, 0xFFFF, 0xFFFF_FFFF, ~0)

extension CPU {
    /// All-ones of operand size code `size` (0…3 = 8…64 bits).
    @inline(__always) @usableFromInline static func mask(_ size: UInt8) -> UInt64 {
        ~UInt64(0) &>> (64 &- (UInt64(8) &<< UInt64(size & 3)))
    }

    /// The sign bit of operand size code `size`.
    @inline(__always) @usableFromInline static func signBit(_ size: UInt8) -> UInt64 {
        UInt64(0x80) << ((UInt64(8) << UInt64(size & 3)) &- 8)
    }

    @inline(__always) func setLazy(_ op: LazyOp, _ size: UInt8, _ res: UInt64, _ a: UInt64, _ b: UInt64) {
        lfOp = op; lfSize = size; lfRes = res; lfA = a; lfB = b
    }

    /// Set the six arithmetic flags from explicit values (the eager path).
    @inline(__always) func setArith(_ f: UInt64) {
        lfOp = .eager; lfFlags = f & RFLAGS.arith
    }

    @inline(__always) var cf: Bool {
        switch lfOp {
        case .eager: return lfFlags & 1 != 0
        case .add: let m = CPU.mask(lfSize); return (lfRes & m) < (lfA & m)
        case .sub: let m = CPU.mask(lfSize); return (lfA & m) < (lfB & m)
        case .logic: return false
        case .inc, .dec: return lfFlags & 1 != 0
        }
    }

    @inline(__always) var zf: Bool {
        if lfOp == .eager { return lfFlags & RFLAGS.zf != 0 }
        return lfRes & CPU.mask(lfSize) == 0
    }

    @inline(__always) var sf: Bool {
        if lfOp == .eager { return lfFlags & RFLAGS.sf != 0 }
        return lfRes & CPU.signBit(lfSize) != 0
    }

    @inline(__always) var of: Bool {
        let sb = CPU.signBit(lfSize)
        switch lfOp {
        case .eager: return lfFlags & RFLAGS.of != 0
        case .add: return (lfA ^ lfRes) & (lfB ^ lfRes) & sb != 0
        case .sub: return (lfA ^ lfB) & (lfA ^ lfRes) & sb != 0
        case .logic: return false
        case .inc: return lfRes & CPU.mask(lfSize) == sb               // 0x7F..F + 1
        case .dec: return lfRes & CPU.mask(lfSize) == sb &- 1         // 0x80..0 - 1
        }
    }

    @inline(__always) var pf: Bool {
        if lfOp == .eager { return lfFlags & RFLAGS.pf != 0 }
        return UInt8(truncatingIfNeeded: lfRes).nonzeroBitCount & 1 == 0
    }

    @inline(__always) var af: Bool {
        switch lfOp {
        case .eager: return lfFlags & RFLAGS.af != 0
        case .add, .sub: return (lfA ^ lfB ^ lfRes) & 0x10 != 0
        case .logic: return false
        case .inc: return lfRes & 0xF == 0
        case .dec: return lfRes & 0xF == 0xF
        }
    }

    /// The six arithmetic flags in RFLAGS positions.
    @usableFromInline func arithFlags() -> UInt64 {
        if lfOp == .eager { return lfFlags }
        var f: UInt64 = 0
        if cf { f |= RFLAGS.cf }
        if pf { f |= RFLAGS.pf }
        if af { f |= RFLAGS.af }
        if zf { f |= RFLAGS.zf }
        if sf { f |= RFLAGS.sf }
        if of { f |= RFLAGS.of }
        return f
    }

    /// Full RFLAGS.
    @usableFromInline func flags() -> UInt64 { flagsRest | arithFlags() }

    /// Replace all of RFLAGS (bit 1 forced to 1, reserved bits 3, 5, 15, 22+ forced to 0).
    @usableFromInline func setFlags(_ v: UInt64) {
        let v = (v & 0x3F_7FD5) | 0x2
        // Setting EFLAGS.AC at CPL 3 with CR0.AM = 1 turns alignment checking on: data
        // translations cached before would skip it (CPU+Memory.swift, `alignmentChecking`).
        if (v ^ flagsRest) & RFLAGS.ac != 0 && cpl == 3 && cr0 & CR0.am != 0 { tlb.flush() }
        setArith(v)
        flagsRest = v & ~RFLAGS.arith
    }

    /// Evaluate condition code `cc` (the low nibble of Jcc/SETcc/CMOVcc; SDM Vol. 1 Appendix B,
    /// "EFLAGS Condition Codes"). After CMP/SUB and TEST/AND/OR/XOR — nearly every Jcc — the
    /// answer comes straight from the recorded operands without building flags.
    @_transparent func condition(_ cc: UInt8) -> Bool {
        let r: Bool
        // Invariant: lfA, lfB and lfRes are already truncated to lfSize by every producer.
        if lfOp == .sub {
            let a = lfA, b = lfB
            switch cc >> 1 {
            case 1: r = a < b                                   // B
            case 2: r = a == b                                  // E
            case 3: r = a <= b                                  // BE
            case 4: r = lfRes & CPU.signBit(lfSize) != 0        // S
            case 6, 7:
                let sh = 64 - (8 << UInt64(lfSize))
                let sa = Int64(bitPattern: a << sh), sb = Int64(bitPattern: b << sh)
                r = cc >> 1 == 6 ? sa < sb : sa <= sb           // L, LE
            default: r = conditionSlow(cc >> 1)
            }
        } else if lfOp == .logic {
            let zero = lfRes == 0
            let neg = lfRes & CPU.signBit(lfSize) != 0
            switch cc >> 1 {
            case 0, 1: r = false                                // O, B: OF = CF = 0
            case 2, 3: r = zero                                 // E, BE
            case 4, 6: r = neg                                  // S, L (SF != OF with OF = 0)
            case 7: r = zero || neg                             // LE
            default: r = conditionSlow(cc >> 1)
            }
        } else {
            r = conditionSlow(cc >> 1)
        }
        return (cc & 1 != 0) ? !r : r
    }

    @inline(never) func conditionSlow(_ c: UInt8) -> Bool {
        switch c {
        case 0: return of
        case 1: return cf
        case 2: return zf
        case 3: return cf || zf
        case 4: return sf
        case 5: return pf
        case 6: return sf != of
        default: return zf || (sf != of)
        }
    }

    /// Preserve CF then record INC/DEC (which leave CF unchanged).
    @inline(__always) func setIncDec(_ op: LazyOp, _ size: UInt8, _ res: UInt64, _ a: UInt64) {
        let c: UInt64 = cf ? 1 : 0
        lfOp = op; lfSize = size; lfRes = res; lfA = a; lfB = 1; lfFlags = c
    }
}
