/// MMX technology (SDM Vol. 1 ch. 9 "Programming with Intel® MMX™ Technology") and the SSE, SSE2
/// and SSSE3 instructions that take MMX-register operands (the forms `isMMXForm` lists).
///
/// MM0–MM7 are bits 63:0 of the physical x87 registers R0–R7, not of ST(i) (SDM Vol. 1 §9.5
/// "Compatibility with x87 FPU Architecture"; Vol. 3A §12.2 "The MMX State and MMX Register
/// Aliasing"), so they live in `X87State.mantissa`. Every MMX instruction except EMMS sets TOP to
/// 0 and every tag to valid (Vol. 1 §9.5.1 "MMX Instructions and the x87 FPU Tag Word", §9.6.2
/// "Transitions Between x87 FPU and MMX Code"); a write to MMn sets bits 79:64 of Rn to all ones.
/// FCW, FIP, FDP, FOP and the FSW bits other than TOP are not changed (Vol. 3A §12.2, Table 12-2
/// "Effects of MMX Instructions on x87 FPU State").
///
/// The transition is made when the instruction completes: a fault on its memory operand (or an
/// unmasked SIMD floating-point exception of the conversions) leaves the x87 state as it was.
///
/// Element-wise integer operations run on the host SSE unit (`cfpu_sse_binop`, the 66-prefixed
/// XMM form of the same opcode) on 128-bit operands whose high quadword is 0, keeping the low 64
/// bits of the result; the forms where that would mix lanes are rearranged first (PUNPCKH*,
/// PACK*, PHADD*/PHSUB*, PSHUFB) or done here (PALIGNR, PSHUFW, shifts by imm8). The host's own
/// MMX registers are never used (they would change the host's x87 state).
import CFPU

extension CPU {
    // MARK: The MMX registers

    /// MMn = bits 63:0 of physical register Rn (whatever TOP is).
    @inline(__always) func mm(_ n: Int) -> UInt64 { x87.register(n & 7).mantissa }

    /// Write MMn: bits 79:64 of Rn become all ones (SDM Vol. 1 §9.6.2).
    @inline(__always) func setMM(_ n: Int, _ v: UInt64) { x87.setRegister(n & 7, mantissa: v, signExponent: 0xFFFF) }

    /// The x87-to-MMX transition of every MMX instruction but EMMS: TOP = 0, all tags valid
    /// (SDM Vol. 1 §9.5.1 "MMX Instructions and the x87 FPU Tag Word").
    @inline(__always) func mmxTransition() { x87.top = 0; x87.emptyMask = 0 }

    /// The mm/m64 source operand (m32 for PUNPCKLBW/WD/DQ: SDM Vol. 2B "PUNPCKLBW/PUNPCKLWD/
    /// PUNPCKLDQ/PUNPCKLQDQ", "PUNPCKLBW mm, mm/m32"). No alignment requirement.
    @inline(__always) func mmxSrc(_ i: UnsafePointer<Insn>, dword: Bool = false) throws(Fault) -> UInt64 {
        if !i.pointee.mem { return mm(Int(i.pointee.rm)) }
        return try readMem(dword ? 2 : 3, Int(i.pointee.seg), ea(i))
    }

    // MARK: Dispatch

    /// An MMX-register form of `Op.sse` (key as in `executeSSE`). mm operands are ModRM.reg/rm
    /// & 7 (REX.R/REX.B do not select MMX registers); GPR and XMM operands use the REX bits.
    @inline(never) func executeMMX(_ i: UnsafePointer<Insn>, _ key: Int) throws(Fault) {
        let opc = key & 0xFF
        // Exception conditions (SDM Vol. 3B §22.25.3 "Exception Conditions of Legacy SIMD
        // Instructions Operating on MMX Registers"):
        // - MMX and the SSE/SSE2/SSSE3 integer forms on mm (Table 22-7 "Exception Conditions for
        //   SIMD/MMX Instructions with Memory Reference", Table 22-8 "Exception Conditions for
        //   Legacy SIMD/MMX Instructions without FP Exception"), EMMS (SDM Vol. 2A "EMMS"):
        //   #UD if CR0.EM = 1, #NM if CR0.TS = 1, #MF if an x87 exception is pending. CR4.OSFXSR
        //   does not matter (Vol. 3A §13.1.4 "Initialization of the SSE Extensions" likewise
        //   names PSHUFW and MOVNTQ among the instructions it does not affect).
        // - CVTPI2PS, CVT(T)PS2PI (Table 22-5 "… with XMM and FP Exception"), CVTPI2PD (Table 22-6
        //   "… with XMM and without FP Exception"), CVT(T)PD2PI (Table 22-4 "… with FP Exception
        //   and 16-Byte Alignment"), MOVDQ2Q and MOVQ2DQ (SDM Vol. 2B, their pages): #UD also if
        //   CR4.OSFXSR = 0.
        // - "CVTPI2PD xmm, m64" does not make the transition and takes no x87 exception (Table
        //   22-6 note 1; SDM Vol. 2A "CVTPI2PD").
        let sse: Bool
        switch key {
        case 0x0012A, 0x0012C, 0x0012D, 0x1012A, 0x1012C, 0x1012D, 0x201D6, 0x301D6: sse = true
        default: sse = false
        }
        let x87Side = !(key == 0x1012A && i.pointee.mem)
        if cr0 & CR0.em != 0 || (sse && cr4 & CR4.osfxsr == 0) { throw Fault.UD() }
        if cr0 & CR0.ts != 0 { throw Fault.NM() }
        if x87Side { try x87CheckPending() }

        let reg = Int(i.pointee.reg), rm = Int(i.pointee.rm), isMem = i.pointee.mem
        let imm = Int(truncatingIfNeeded: i.pointee.imm & 0xFF)
        let wide = i.pointee.osz == 3

        switch key {
        case 0x00177:
            // EMMS (SDM Vol. 2A "EMMS"): every tag empty. TOP is set to 0 too: "Each time an MMX
            // instruction is executed, the TOS value is set to 000B" (Vol. 3A §12.2).
            x87.top = 0
            x87.emptyMask = 0xFF

        // MARK: Moves (SDM Vol. 2B "MOVD/MOVQ", "MOVQ", "MOVNTQ", "MOVDQ2Q", "MOVQ2DQ")
        case 0x0016E:                                       // MOVD mm, r/m32; REX.W: MOVQ mm, r/m64
            let v = try readRM(i, wide ? 3 : 2)
            mmxTransition(); setMM(reg, v)
        case 0x0017E:                                       // MOVD r/m32, mm; REX.W: MOVQ r/m64, mm
            try writeRM(i, wide ? 3 : 2, mm(reg) & CPU.mask(wide ? 3 : 2))
            mmxTransition()
        case 0x0016F:                                       // MOVQ mm, mm/m64
            let v = try mmxSrc(i)
            mmxTransition(); setMM(reg, v)
        case 0x0017F, 0x001E7:                              // MOVQ mm/m64, mm; MOVNTQ m64, mm (hint ignored)
            if isMem {
                try writeMem(3, Int(i.pointee.seg), ea(i), mm(reg))
                mmxTransition()
            } else {
                mmxTransition(); setMM(rm, mm(reg))
            }
        case 0x301D6:                                       // MOVDQ2Q mm, xmm
            mmxTransition(); setMM(reg, xmm[2 * rm])
        case 0x201D6:                                       // MOVQ2DQ xmm, mm: DEST[127:64] ← 0
            mmxTransition(); setX(reg, (mm(rm), 0))

        // MARK: Word/byte moves with GPRs, masks (SDM Vol. 2B "PINSRW", "PEXTRW", "PMOVMSKB", "MASKMOVQ")
        case 0x001C4:                                       // PINSRW mm, r32/m16, imm8: lane imm8[1:0]
            let v = isMem ? try readMem(1, Int(i.pointee.seg), ea(i)) : getReg(2, UInt8(rm)) & 0xFFFF
            let sh = UInt64(16 * (imm & 3))
            let r = (mm(reg) & ~(0xFFFF << sh)) | v << sh
            mmxTransition(); setMM(reg, r)
        case 0x001C5:                                       // PEXTRW r32/r64, mm, imm8: zero-extended
            let v = (mm(rm) >> UInt64(16 * (imm & 3))) & 0xFFFF
            mmxTransition(); setReg(2, UInt8(reg), v)
        case 0x001D7:                                       // PMOVMSKB r32/r64, mm: the 8 sign bits, zero-extended
            let s = mm(rm)
            var m: UInt64 = 0
            for k in 0..<8 { m |= ((s >> UInt64(8 * k + 7)) & 1) << UInt64(k) }
            mmxTransition(); setReg(2, UInt8(reg), m)
        case 0x001F7:                                       // MASKMOVQ mm1, mm2 (to DS:rDI)
            try maskmovq(i)
            mmxTransition()

        // MARK: Shuffles, alignment (SDM Vol. 2B "PSHUFW", "PALIGNR")
        case 0x00170:                                       // PSHUFW mm, mm/m64, imm8
            let s = try mmxSrc(i)
            var r: UInt64 = 0
            for k in 0..<4 { r |= ((s >> UInt64(16 * ((imm >> (2 * k)) & 3))) & 0xFFFF) << UInt64(16 * k) }
            mmxTransition(); setMM(reg, r)
        case 0x0030F:                                       // PALIGNR mm, mm/m64, imm8: (DEST:SRC) >> imm8·8, low 64 bits
            let s = try mmxSrc(i)
            let r = imm >= 16 ? 0 : shr128((s, mm(reg)), imm * 8).0
            mmxTransition(); setMM(reg, r)

        // MARK: Shifts by imm8 (Groups 12–14: /2 PSRLx, /4 PSRAx, /6 PSLLx; SDM Vol. 2B "PSRLW/PSRLD/PSRLQ", …)
        case 0x00171, 0x00172, 0x00173:
            let bits = opc == 0x71 ? 16 : opc == 0x72 ? 32 : 64
            let v = mm(rm), sub = i.pointee.sub, m = CPU.maskBits(bits)
            var r: UInt64 = 0
            for k in 0..<(64 / bits) {
                let sh = UInt64(k * bits)
                let x = (v >> sh) & m
                let y: UInt64
                if sub == 4 {                               // PSRA: counts ≥ width fill with the sign
                    let c = UInt64(min(imm, bits - 1))
                    let sx = Int64(bitPattern: x << UInt64(64 - bits)) >> UInt64(64 - bits)
                    y = UInt64(bitPattern: sx >> Int64(c)) & m
                } else if imm >= bits { y = 0 }
                else { y = sub == 2 ? x >> UInt64(imm) : (x << UInt64(imm)) & m }
                r |= y << sh
            }
            mmxTransition(); setMM(rm, r)

        // MARK: Conversions with MXCSR (SDM Vol. 2A "CVTPI2PS", "CVTPI2PD", "CVTPS2PI", "CVTTPS2PI", "CVTPD2PI", "CVTTPD2PI")
        // Each runs as the host's XMM conversion of the same elements with the other lanes 0
        // (integer 0 and +0.0 convert exactly: they add no exception flags).
        case 0x0012A:                                       // CVTPI2PS xmm, mm/m64: DEST[127:64] unchanged
            let s = try mmxSrc(i)
            var src = cfpu_xmm(lo: s, hi: 0), d = cfpu_xmm(lo: 0, hi: 0)
            try sseCommit(cfpu_sse_binop(0x0015B, &d, &src, hostMXCSR))        // CVTDQ2PS
            mmxTransition(); xmm[2 * reg] = d.lo
        case 0x1012A:                                       // CVTPI2PD xmm, mm/m64 (exact)
            let s = try mmxSrc(i)
            var src = cfpu_xmm(lo: s, hi: 0), d = cfpu_xmm(lo: 0, hi: 0)
            try sseCommit(cfpu_sse_binop(0x201E6, &d, &src, hostMXCSR))        // CVTDQ2PD
            if x87Side { mmxTransition() }
            setX(reg, (d.lo, d.hi))
        case 0x0012C, 0x0012D:                              // CVTTPS2PI, CVTPS2PI mm, xmm/m64
            let s = isMem ? try readMem(3, Int(i.pointee.seg), ea(i)) : xmm[2 * rm]
            var src = cfpu_xmm(lo: s, hi: 0), d = cfpu_xmm(lo: 0, hi: 0)
            try sseCommit(cfpu_sse_binop(opc == 0x2C ? 0x2015B : 0x1015B, &d, &src, hostMXCSR))   // CVTTPS2DQ, CVTPS2DQ
            mmxTransition(); setMM(reg, d.lo)
        case 0x1012C, 0x1012D:                              // CVTTPD2PI, CVTPD2PI mm, xmm/m128 (aligned)
            let s = try sseSrc(i, 16, aligned: true)
            var src = cfpu_xmm(lo: s.0, hi: s.1), d = cfpu_xmm(lo: 0, hi: 0)
            try sseCommit(cfpu_sse_binop(opc == 0x2C ? 0x101E6 : 0x301E6, &d, &src, hostMXCSR))   // CVTTPD2DQ, CVTPD2DQ
            mmxTransition(); setMM(reg, d.lo)

        // MARK: Everything else: mm = op(mm, mm/m64) as the host's 66-prefixed XMM form
        default:
            let s = try mmxSrc(i, dword: (0x00160...0x00162).contains(key))
            let dv = mm(reg)
            var d = cfpu_xmm(lo: dv, hi: 0), src = cfpu_xmm(lo: s, hi: 0)
            var hostKey = 0x10000 | (key & 0xFFFF)
            switch key {
            case 0x00168, 0x00169, 0x0016A:
                // PUNPCKHBW/WD/DQ interleave the high halves of the two quadwords: the same as
                // PUNPCKLBW/WD/DQ of the halves moved down.
                d.lo = dv >> 32; src.lo = s >> 32; hostKey -= 8
            case 0x00163, 0x00167, 0x0016B, 0x00201, 0x00202, 0x00203, 0x00205, 0x00206, 0x00207:
                // PACKSSWB/PACKUSWB/PACKSSDW, PHADDW/D/SW, PHSUBW/D/SW: DEST's elements, then SRC's.
                // The XMM form on DEST:SRC as one 128-bit destination gives exactly that in its
                // low quadword.
                d.hi = s; src.lo = 0
            case 0x00200:
                // PSHUFB mm: index bits 2:0 (SDM Vol. 2B "PSHUFB"); with DEST in both halves the
                // XMM form's bit 3 selects the same bytes.
                d.hi = dv
            default: break
            }
            let f = cfpu_sse_binop(UInt32(hostKey), &d, &src, hostMXCSR)
            if f == ~0 { throw unimplementedStop("MMX instruction (no host operation for key 0x\(hex(UInt64(key))))") }
            mmxTransition(); setMM(reg, d.lo)
        }
    }

    /// MASKMOVQ mm1, mm2 (SDM Vol. 2B "MASKMOVQ"): bytes of mm1 whose mask byte in mm2 has bit 7
    /// set are stored to DS:rDI (segment override allowed); the selected bytes are probed before
    /// any is written.
    func maskmovq(_ i: UnsafePointer<Insn>) throws(Fault) {
        let seg = Int(i.pointee.seg), asz = i.pointee.asz
        let base = regs[Reg.rdi] & CPU.mask(asz)
        let v = mm(Int(i.pointee.reg)), m = mm(Int(i.pointee.rm))
        for pass in 0..<2 {
            for k in 0..<8 where (m >> UInt64(8 * k + 7)) & 1 != 0 {
                let a = (base &+ UInt64(k)) & CPU.mask(asz)
                if pass == 0 { try probeWrite(0, seg, a) } else { try writeMem(0, seg, a, (v >> UInt64(8 * k)) & 0xFF) }
            }
        }
    }
}
