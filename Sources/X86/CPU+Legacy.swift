/// Instructions that exist only outside 64-bit mode (the decoder makes them #UD there):
/// decimal arithmetic, SALC, ARPL and BOUND. SDM Vol. 2A/2B, each instruction's page.
/// Flags the SDM leaves undefined are given the values of an 8-bit ADD/SUB of the same
/// operands (DAA, DAS: OF) or cleared (AAA, AAS, AAM, AAD); the KVM differential masks them.

extension CPU {
    @inline(never) func executeLegacy(_ i: UnsafePointer<Insn>) throws(Fault) {
        switch i.pointee.op {
        case .bcd:
            let f = arithFlags()
            let al = regs[Reg.rax] & 0xFF, ah = (regs[Reg.rax] >> 8) & 0xFF
            let cfIn = f & RFLAGS.cf != 0, afIn = f & RFLAGS.af != 0
            var cf = false, af = false
            var newAL = al, newAH = ah
            switch i.pointee.bcdOp {
            case 0, 1:
                // DAA / DAS: "old_AL ← AL; old_CF ← CF; CF ← 0; IF (((AL AND 0FH) > 9) or AF = 1)
                // THEN AL ← AL ± 6; CF ← old_CF or (Carry/Borrow from AL ← AL ± 6); AF ← 1 …
                // IF ((old_AL > 99H) or (old_CF = 1)) THEN AL ← AL ± 60H; CF ← 1 …"
                let add = i.pointee.bcdOp == 0
                if al & 0xF > 9 || afIn {
                    newAL = add ? al + 6 : al &- 6
                    cf = cfIn || (add ? newAL > 0xFF : al < 6)
                    newAL &= 0xFF
                    af = true
                }
                if al > 0x99 || cfIn {
                    newAL = (add ? newAL + 0x60 : newAL &- 0x60) & 0xFF
                    cf = true
                } else if add {
                    cf = false
                }
                var flags = szp(0, newAL) | (cf ? RFLAGS.cf : 0) | (af ? RFLAGS.af : 0)
                // OF undefined: as the signed overflow of the whole adjustment.
                let delta = add ? (newAL &- al) & 0xFF : (al &- newAL) & 0xFF
                let ov = add ? (~(al ^ delta) & (al ^ newAL) & 0x80) : ((al ^ delta) & (al ^ newAL) & 0x80)
                if ov != 0 { flags |= RFLAGS.of }
                setArith(flags)
            case 2, 3:
                // AAA / AAS: "IF ((AL AND 0FH) > 9) or (AF = 1) THEN AX ← AX ± 106H (AAS: AX − 6,
                // AH − 1); AF ← 1; CF ← 1; ELSE AF ← 0; CF ← 0; AL ← AL AND 0FH".
                if al & 0xF > 9 || afIn {
                    if i.pointee.bcdOp == 2 {
                        let ax = ((ah << 8) | al) &+ 0x106
                        newAH = (ax >> 8) & 0xFF; newAL = ax & 0xFF
                    } else {
                        let ax = ((ah << 8) | al) &- 6
                        newAH = ((ax >> 8) &- 1) & 0xFF; newAL = ax & 0xFF
                    }
                    cf = true; af = true
                }
                newAL &= 0xF
                setArith((cf ? RFLAGS.cf : 0) | (af ? RFLAGS.af : 0) | szp(0, newAL))
            case 4:
                // AAM imm8: "AH ← tempAL / imm8; AL ← tempAL MOD imm8"; #DE when imm8 = 0.
                let base = i.pointee.imm & 0xFF
                if base == 0 { throw Fault.DE() }
                newAH = al / base; newAL = al % base
                setArith(szp(0, newAL))
            default:
                // AAD imm8: "AL ← (tempAL + (tempAH ∗ imm8)) AND FFH; AH ← 0".
                newAL = (al &+ ah &* (i.pointee.imm & 0xFF)) & 0xFF; newAH = 0
                setArith(szp(0, newAL))
            }
            regs[Reg.rax] = (regs[Reg.rax] & ~0xFFFF) | newAH << 8 | newAL
        case .salc:
            // SALC: AL ← CF ? FFH : 00H, flags unchanged.
            regs[Reg.rax] = (regs[Reg.rax] & ~0xFF) | (arithFlags() & RFLAGS.cf != 0 ? 0xFF : 0)
        case .arpl:
            // ARPL Ew, Gw: #UD in real-address and virtual-8086 mode. "IF DEST[RPL] < SRC[RPL]
            // THEN ZF ← 1; DEST[RPL] ← SRC[RPL]; ELSE ZF ← 0."
            if cr0 & CR0.pe == 0 || flagsRest & RFLAGS.vm != 0 { throw Fault.UD() }
            if i.pointee.mem { try probeWrite(1, Int(i.pointee.seg), ea(i)) }
            let dest = try readRM(i, 1)
            let src = getReg(1, i.pointee.reg)
            let f = arithFlags() & ~RFLAGS.zf
            if dest & 3 < src & 3 {
                try writeRM(i, 1, (dest & ~3) | (src & 3))
                setArith(f | RFLAGS.zf)
            } else {
                setArith(f)
            }
        case .bound:
            // BOUND r16/32, m16&16 / m32&32: "IF (ArrayIndex < LowerBound OR ArrayIndex >
            // UpperBound) THEN #BR" (signed comparisons; vector 5, a fault).
            let size = i.pointee.osz
            let off = ea(i)
            let lower = signExtend(try readMem(size, Int(i.pointee.seg), off), size)
            let upper = signExtend(try readMem(size, Int(i.pointee.seg), (off &+ (UInt64(1) << UInt64(size))) & CPU.mask(i.pointee.asz)), size)
            let index = signExtend(getReg(size, i.pointee.reg), size)
            if Int64(bitPattern: index) < Int64(bitPattern: lower) || Int64(bitPattern: index) > Int64(bitPattern: upper) {
                throw Fault(vector: 5)
            }
        default:
            throw unimplementedStop("op \(i.pointee.op)")
        }
    }
}
