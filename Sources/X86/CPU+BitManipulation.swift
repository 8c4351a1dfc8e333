/// BMI1 and BMI2 (VEX-encoded general-purpose instructions), ADCX/ADOX (ADX), RDRAND/RDSEED and
/// RD/WR FS/GS BASE. SDM Vol. 2A/2B, each instruction's own page; the exception rules for the
/// VEX forms are Vol. 2A §2.5.1 "Exceptions Type 13" (Table 2-28).

extension CPU {
    @inline(never) func executeBitManipulation(_ i: UnsafePointer<Insn>) throws(Fault) {
        let osz = i.pointee.osz
        let m = CPU.mask(osz)
        let bits = UInt64(8) << UInt64(osz)
        switch i.pointee.op {
        case .bmi:
            // VEX in real-address or virtual-8086 mode is #UD (Table 2-28).
            if cr0 & CR0.pe == 0 || flagsRest & RFLAGS.vm != 0 { throw Fault.UD() }
            let vreg = i.pointee.vexRegister
            let reg = i.pointee.reg
            let src = try readRM(i, osz)
            let v = getReg(osz, vreg)
            let sign = CPU.signBit(osz)
            /// SF ZF from the result; CF as given; OF cleared; AF PF cleared (the SDM leaves them
            /// undefined; Intel silicon clears them — the KVM differential masks undefined flags).
            func flags(_ r: UInt64, cf: Bool) -> UInt64 {
                (r & m == 0 ? RFLAGS.zf : 0) | (r & sign != 0 ? RFLAGS.sf : 0) | (cf ? RFLAGS.cf : 0)
            }
            switch BMIForm(rawValue: i.pointee.bmiForm) {
            case .andn:                                          // Gy ← ¬Vy ∧ Ey
                let r = ~v & src & m
                setReg(osz, reg, r); setArith(flags(r, cf: false))
            case .blsr:                                          // Vy ← Ey ∧ (Ey − 1); CF ← (Ey = 0)
                let r = src & (src &- 1) & m
                setReg(osz, vreg, r); setArith(flags(r, cf: src == 0))
            case .blsmsk:                                        // Vy ← Ey ⊕ (Ey − 1); ZF ← 0; CF ← (Ey = 0)
                let r = (src ^ (src &- 1)) & m
                setReg(osz, vreg, r); setArith(flags(r, cf: src == 0) & ~RFLAGS.zf)
            case .blsi:                                          // Vy ← −Ey ∧ Ey; CF ← (Ey ≠ 0)
                let r = (0 &- src) & src & m
                setReg(osz, vreg, r); setArith(flags(r, cf: src != 0))
            case .bextr:                                         // start = Vy[7:0], length = Vy[15:8]; ZF; CF OF ← 0
                let start = v & 0xFF, len = (v >> 8) & 0xFF
                var r: UInt64 = start >= bits ? 0 : src >> start
                if len < 64 { r &= (UInt64(1) << len) &- 1 }
                r &= m
                setReg(osz, reg, r); setArith(r == 0 ? RFLAGS.zf : 0)
            case .bzhi:                                          // n = Vy[7:0]; clear bits n and up; CF ← (n > size − 1)
                let n = v & 0xFF
                let r = n < bits ? src & ((UInt64(1) << n) &- 1) : src & m
                setReg(osz, reg, r); setArith(flags(r, cf: n > bits - 1))
            case .pdep:                                          // Gy ← deposit Ey's low bits at the mask Vy… (operands: Vy source, Ey mask)
                var r: UInt64 = 0, k: UInt64 = 0, mask = src & m
                while mask != 0 {
                    let low = mask & (0 &- mask)
                    if v & (UInt64(1) << k) != 0 { r |= low }
                    mask &= mask &- 1; k += 1
                }
                setReg(osz, reg, r)
            case .pext:                                          // Gy ← extract Vy's bits selected by Ey
                var r: UInt64 = 0, k: UInt64 = 0, mask = src & m
                while mask != 0 {
                    let low = mask & (0 &- mask)
                    if v & low != 0 { r |= UInt64(1) << k }
                    mask &= mask &- 1; k += 1
                }
                setReg(osz, reg, r)
            case .mulx:                                          // Gy:Vy ← rDX × Ey, unsigned; flags unchanged
                let d = getReg(osz, UInt8(Reg.rdx))
                let hi: UInt64, lo: UInt64
                if osz == 3 { (hi, lo) = d.multipliedFullWidth(by: src) }
                else { let p = d * src; hi = p >> 32; lo = p & 0xFFFF_FFFF }
                // "If the first and second operand are identical, it will contain the high half."
                setReg(osz, vreg, lo)
                setReg(osz, reg, hi)
            case .shlx, .sarx, .shrx:                            // count = Vy mod size; flags unchanged
                let c = v & (bits - 1)
                let r: UInt64
                switch BMIForm(rawValue: i.pointee.bmiForm) {
                case .shlx: r = (src << c) & m
                case .shrx: r = src >> c
                default: r = UInt64(bitPattern: Int64(bitPattern: signExtend(src, osz)) >> Int64(c)) & m
                }
                setReg(osz, reg, r)
            case .rorx:                                          // Gy ← Ey rotated right by imm8 mod size
                let c = i.pointee.imm & (bits - 1)
                let r = c == 0 ? src : ((src >> c) | (src << (bits - c))) & m
                setReg(osz, reg, r)
            default:
                throw Fault.UD()
            }
        case .adx:
            // ADCX: CF is the carry in and out, OF unchanged; ADOX: OF likewise, CF unchanged.
            let a = getReg(osz, i.pointee.reg), b = try readRM(i, osz)
            let f = arithFlags()
            let carryBit = i.pointee.modrmReg == 0 ? RFLAGS.cf : RFLAGS.of   // 0 ADCX, 1 ADOX
            let cin: UInt64 = f & carryBit != 0 ? 1 : 0
            let wide = (a & m).addingReportingOverflow(b & m)
            let sum = wide.partialValue.addingReportingOverflow(cin)
            let r = sum.partialValue & m
            let cout = osz == 3 ? (wide.overflow || sum.overflow) : (a & m) + (b & m) + cin > m
            setReg(osz, i.pointee.reg, r)
            setArith((f & ~carryBit) | (cout ? carryBit : 0))
        case .rdrand:
            // RDRAND (sub 6) / RDSEED (sub 7): a random value and CF = 1 (always available here);
            // OF SF ZF AF PF cleared. In VMX non-root operation "RDRAND exiting"/"RDSEED exiting"
            // are not offered by the model (IA32_VMX_PROCBASED_CTLS2), so no VM exit.
            var g = SystemRandomNumberGenerator()
            setReg(osz, i.pointee.rm, g.next() & m)
            setArith(RFLAGS.cf)
        case .fsgsbase:
            // RDFSBASE/RDGSBASE/WRFSBASE/WRGSBASE (64-bit mode only, by decoding): #UD unless
            // CR4.FSGSBASE = 1; a non-canonical WR*BASE value is #GP(0). 32-bit forms zero-extend.
            if cr4 & CR4.fsgsbase == 0 { throw Fault.UD() }
            let sz: UInt8 = osz == 3 ? 3 : 2
            let seg = i.pointee.modrmReg & 1 == 0 ? Seg.fs : Seg.gs
            if i.pointee.modrmReg < 2 {
                setReg(sz, i.pointee.rm, segs[seg].base & CPU.mask(sz))
            } else {
                let v = getReg(sz, i.pointee.rm)
                if !isCanonical(v) { throw Fault.GP(0) }
                segs[seg].base = v
                refreshSegmentCache(seg)
            }
        default:
            throw unimplementedStop("op \(i.pointee.op)")
        }
    }
}
