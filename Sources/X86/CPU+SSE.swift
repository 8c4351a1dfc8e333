/// SSE, SSE2, SSE3, SSSE3, SSE4.1, SSE4.2 (SDM Vol. 1 ch. 10–12; Vol. 2 instruction pages).
/// Floating-point arithmetic runs on the host SSE unit through CFPU (see `cfpu.h`, `cfpu_sse.h`);
/// so do most integer operations on whole registers (the host executes the same instruction).
/// Moves, shuffles with immediates, inserts/extracts, blends and everything that touches GPRs,
/// memory or EFLAGS are here in Swift.
import CFPU

/// MXCSR bits (SDM Vol. 1 §10.2.3 "MXCSR Control and Status Register", Figure 10-3).
enum MXCSR {
    static let flags: UInt32 = 0x3F            // IE DE ZE OE UE PE
    static let preComputation: UInt32 = 0x7    // IE DE ZE (SDM Vol. 1 §11.5.2)
    /// RC (14:13), FTZ (15), DAZ (6): what the host's arithmetic needs from the guest's MXCSR.
    static let control: UInt32 = 0xE040
    static let allMasked: UInt32 = 0x1F80
    static let underflow: UInt32 = 0x10, underflowMask: UInt32 = 0x800, ftz: UInt32 = 0x8000
    /// MXCSR_MASK of the modeled CPU (FXSAVE offset 28): DAZ supported, bits 31:16 reserved.
    static let mask: UInt32 = 0xFFFF
}

extension CPU {
    /// SSE instructions (`Op.sse`): `simdKey` = the form's row in `SIMDTable` (mandatory-prefix
    /// column << 16 | map << 8 | opcode; map 1 = 0F, 2 = 0F 38, 3 = 0F 3A; column 0 none, 1 66,
    /// 2 F3, 3 F2), `simdUnit` = the executor the row names; imm = the imm8 where the form has
    /// one; reg/rm/mem from ModRM (register numbers with REX).
    @inline(never) func executeSSE(_ i: UnsafePointer<Insn>) throws(Fault) {
        let key = i.pointee.simdKey
        let col = key >> 16, opc = key & 0xFF

        switch i.pointee.simdUnit {
        case SIMDUnit.gpr.rawValue:
            // Not SSE-state instructions: no CR0.EM/TS or CR4.OSFXSR checks.
            if key == 0x001C3 {
                // MOVNTI m32/m64, r32/r64 (SDM Vol. 2B "MOVNTI"): a GPR store; the hint is ignored.
                let w: UInt8 = i.pointee.osz == 3 ? 3 : 2
                try writeMem(w, Int(i.pointee.seg), ea(i), getReg(w, i.pointee.reg))
            } else {
                try crc32(i)                                // F2 0F 38 F0/F1
            }
            return
        case SIMDUnit.mmx.rawValue:
            // MMX-register forms and EMMS (0F 77): CPU+MMX, with their own exception conditions.
            try executeMMX(i, key)
            return
        default: break
        }

        // SDM Vol. 2A §2.4 "Exceptions Type 1–5": #UD if CR0.EM = 1 or CR4.OSFXSR = 0, then #NM
        // if CR0.TS = 1 (SDM Vol. 3A §2.5 "Control Registers").
        if cr0 & CR0.em != 0 || cr4 & CR4.osfxsr == 0 { throw Fault.UD() }
        if cr0 & CR0.ts != 0 { throw Fault.NM() }

        let reg = Int(i.pointee.reg), rm = Int(i.pointee.rm), isMem = i.pointee.mem
        let imm = Int(truncatingIfNeeded: i.pointee.imm & 0xFF)
        let wide = i.pointee.osz == 3

        switch key {
        // MARK: LDMXCSR / STMXCSR
        case 0x001AE:
            let off = ea(i), seg = Int(i.pointee.seg)
            if i.pointee.modrmReg == 2 {
                // SDM Vol. 2A "LDMXCSR": #GP(0) if reserved bits (outside MXCSR_MASK) are set.
                let v = UInt32(truncatingIfNeeded: try readMem(2, seg, off))
                if v & ~MXCSR.mask != 0 { throw Fault.GP(0) }
                mxcsr = v
            } else {
                try writeMem(2, seg, off, UInt64(mxcsr))
            }

        // MARK: Moves (SDM Vol. 2B "MOVUPS", "MOVAPS", "MOVDQA", "MOVDQU", "LDDQU", "MOVNTDQA")
        case 0x00110, 0x10110, 0x2016F, 0x301F0:            // MOVUPS MOVUPD MOVDQU LDDQU (load)
            let s = try sseSrc(i, 16, aligned: false); setX(reg, s)
        case 0x00128, 0x10128, 0x1016F, 0x1022A:            // MOVAPS MOVAPD MOVDQA MOVNTDQA (load)
            let s = try sseSrc(i, 16, aligned: true); setX(reg, s)
        case 0x00111, 0x10111, 0x2017F:                     // MOVUPS MOVUPD MOVDQU (store)
            try sseDst16(i, getX(reg), aligned: false)
        case 0x00129, 0x10129, 0x1017F, 0x0012B, 0x1012B, 0x101E7:   // MOVAPS MOVAPD MOVDQA MOVNTPS MOVNTPD MOVNTDQ
            try sseDst16(i, getX(reg), aligned: true)
        case 0x20110:                                       // MOVSS xmm, xmm/m32 (SDM Vol. 2B "MOVSS")
            if isMem { setX(reg, (try sseMem(i, 2), 0)) }
            else { xmm[2 * reg] = (xmm[2 * reg] & ~0xFFFF_FFFF) | (xmm[2 * rm] & 0xFFFF_FFFF) }
        case 0x30110:                                       // MOVSD xmm, xmm/m64
            if isMem { setX(reg, (try sseMem(i, 3), 0)) } else { xmm[2 * reg] = xmm[2 * rm] }
        case 0x20111:                                       // MOVSS xmm/m32, xmm
            if isMem { try writeMem(2, Int(i.pointee.seg), ea(i), xmm[2 * reg] & 0xFFFF_FFFF) }
            else { xmm[2 * rm] = (xmm[2 * rm] & ~0xFFFF_FFFF) | (xmm[2 * reg] & 0xFFFF_FFFF) }
        case 0x30111:                                       // MOVSD xmm/m64, xmm
            if isMem { try writeMem(3, Int(i.pointee.seg), ea(i), xmm[2 * reg]) } else { xmm[2 * rm] = xmm[2 * reg] }
        case 0x00112, 0x10112:                              // MOVHLPS xmm, xmm / MOVLPS, MOVLPD xmm, m64
            xmm[2 * reg] = isMem ? try sseMem(i, 3) : xmm[2 * rm + 1]
        case 0x00116, 0x10116:                              // MOVLHPS xmm, xmm / MOVHPS, MOVHPD xmm, m64
            xmm[2 * reg + 1] = isMem ? try sseMem(i, 3) : xmm[2 * rm]
        case 0x00113, 0x10113:                              // MOVLPS, MOVLPD m64, xmm
            try writeMem(3, Int(i.pointee.seg), ea(i), xmm[2 * reg])
        case 0x00117, 0x10117:                              // MOVHPS, MOVHPD m64, xmm
            try writeMem(3, Int(i.pointee.seg), ea(i), xmm[2 * reg + 1])
        case 0x20112, 0x20116:                              // MOVSLDUP MOVSHDUP (SDM Vol. 2B)
            let s = try sseSrc(i, 16, aligned: true)
            let sh: UInt64 = opc == 0x12 ? 0 : 32
            let a = (s.0 >> sh) & 0xFFFF_FFFF, b = (s.1 >> sh) & 0xFFFF_FFFF
            setX(reg, (a | a << 32, b | b << 32))
        case 0x30112:                                       // MOVDDUP xmm, xmm/m64
            let s = try sseSrc(i, 8, aligned: false); setX(reg, (s.0, s.0))
        case 0x1016E:                                       // MOVD/MOVQ xmm, r/m32/64
            setX(reg, (try readRM(i, wide ? 3 : 2), 0))
        case 0x1017E:                                       // MOVD/MOVQ r/m32/64, xmm
            try writeRM(i, wide ? 3 : 2, xmm[2 * reg] & CPU.mask(wide ? 3 : 2))
        case 0x2017E:                                       // MOVQ xmm, xmm/m64
            let s = try sseSrc(i, 8, aligned: false); setX(reg, (s.0, 0))
        case 0x101D6:                                       // MOVQ xmm/m64, xmm
            if isMem { try writeMem(3, Int(i.pointee.seg), ea(i), xmm[2 * reg]) } else { setX(rm, (xmm[2 * reg], 0)) }
        case 0x101F7:                                       // MASKMOVDQU xmm, xmm (SDM Vol. 2B "MASKMOVDQU")
            try maskmovdqu(i)

        // MARK: Masks, inserts, extracts
        case 0x00150:                                       // MOVMSKPS r, xmm
            let (lo, hi) = getX(rm)
            setReg(2, UInt8(reg), (lo >> 31) & 1 | (lo >> 62) & 2 | (hi >> 29) & 4 | (hi >> 60) & 8)
        case 0x10150:                                       // MOVMSKPD r, xmm
            let (lo, hi) = getX(rm)
            setReg(2, UInt8(reg), (lo >> 63) | (hi >> 62) & 2)
        case 0x101D7:                                       // PMOVMSKB r, xmm
            let (lo, hi) = getX(rm)
            var m: UInt64 = 0
            for k in 0..<8 { m |= ((lo >> UInt64(8 * k + 7)) & 1) << UInt64(k) | ((hi >> UInt64(8 * k + 7)) & 1) << UInt64(k + 8) }
            setReg(2, UInt8(reg), m)
        case 0x101C4:                                       // PINSRW xmm, r32/m16, imm8
            let v = isMem ? try readMem(1, Int(i.pointee.seg), ea(i)) : getReg(2, UInt8(rm)) & 0xFFFF
            insertLane(reg, v, bits: 16, lane: imm & 7)
        case 0x101C5:                                       // PEXTRW r32, xmm, imm8
            setReg(2, UInt8(reg), extractLane(rm, bits: 16, lane: imm & 7))
        case 0x10314, 0x10315, 0x10316, 0x10317:            // PEXTRB PEXTRW PEXTRD/Q EXTRACTPS r/m, xmm, imm8
            let size: UInt8 = opc == 0x14 ? 0 : opc == 0x15 ? 1 : (opc == 0x16 && wide) ? 3 : 2
            let bits = 8 << Int(size)
            let v = extractLane(reg, bits: bits, lane: imm & (128 / bits - 1))
            if isMem { try writeMem(size, Int(i.pointee.seg), ea(i), v) }
            else { setReg(wide && opc == 0x16 ? 3 : 2, UInt8(rm), v) }   // r32/r64: zero-extended
        case 0x10320, 0x10322:                              // PINSRB, PINSRD/Q xmm, r/m, imm8
            let size: UInt8 = opc == 0x20 ? 0 : wide ? 3 : 2
            let bits = 8 << Int(size)
            let v = isMem ? try readMem(size, Int(i.pointee.seg), ea(i)) : regs[rm] & CPU.mask(size)
            insertLane(reg, v, bits: bits, lane: imm & (128 / bits - 1))
        case 0x10321:                                       // INSERTPS xmm, xmm/m32, imm8 (SDM Vol. 2A "INSERTPS")
            let v: UInt64
            if isMem { v = try readMem(2, Int(i.pointee.seg), ea(i)) }
            else { v = extractLane(rm, bits: 32, lane: imm >> 6) }
            insertLane(reg, v, bits: 32, lane: (imm >> 4) & 3)
            for k in 0..<4 where imm & (1 << k) != 0 { insertLane(reg, 0, bits: 32, lane: k) }

        // MARK: Shuffles, blends, alignment (SDM Vol. 2B "PSHUFD", "SHUFPS", "PALIGNR", "PBLENDW", …)
        case 0x10170:                                       // PSHUFD
            let s = try sseSrc(i, 16, aligned: true)
            var r: (UInt64, UInt64) = (0, 0)
            for k in 0..<4 { r = withLane(r, bits: 32, lane: k, lane(s, bits: 32, lane: (imm >> (2 * k)) & 3)) }
            setX(reg, r)
        case 0x20170, 0x30170:                              // PSHUFHW, PSHUFLW
            let s = try sseSrc(i, 16, aligned: true)
            let half = col == 2 ? s.1 : s.0
            var h: UInt64 = 0
            for k in 0..<4 { h |= ((half >> UInt64(16 * ((imm >> (2 * k)) & 3))) & 0xFFFF) << UInt64(16 * k) }
            setX(reg, col == 2 ? (s.0, h) : (h, s.1))
        case 0x001C6:                                       // SHUFPS
            let s = try sseSrc(i, 16, aligned: true), d = getX(reg)
            var r: (UInt64, UInt64) = (0, 0)
            r = withLane(r, bits: 32, lane: 0, lane(d, bits: 32, lane: imm & 3))
            r = withLane(r, bits: 32, lane: 1, lane(d, bits: 32, lane: (imm >> 2) & 3))
            r = withLane(r, bits: 32, lane: 2, lane(s, bits: 32, lane: (imm >> 4) & 3))
            r = withLane(r, bits: 32, lane: 3, lane(s, bits: 32, lane: (imm >> 6) & 3))
            setX(reg, r)
        case 0x101C6:                                       // SHUFPD
            let s = try sseSrc(i, 16, aligned: true), d = getX(reg)
            setX(reg, (imm & 1 == 0 ? d.0 : d.1, imm & 2 == 0 ? s.0 : s.1))
        case 0x1030F:                                       // PALIGNR: (dest:src) >> imm8·8, low 128 bits
            let s = try sseSrc(i, 16, aligned: true), d = getX(reg)
            // 256-bit value d:s as four quadwords, shifted right by imm8 bytes.
            let q = (s.0, s.1, d.0, d.1)
            func qw(_ k: Int) -> UInt64 { switch k { case 0: return q.0; case 1: return q.1; case 2: return q.2; case 3: return q.3; default: return 0 } }
            let n = imm * 8, w = n / 64, b = UInt64(n % 64)
            func out(_ k: Int) -> UInt64 { b == 0 ? qw(w + k) : (qw(w + k) >> b) | (qw(w + k + 1) << (64 - b)) }
            setX(reg, (out(0), out(1)))
        case 0x1030C, 0x1030D, 0x1030E:                     // BLENDPS BLENDPD PBLENDW
            let s = try sseSrc(i, 16, aligned: true)
            var r = getX(reg)
            let bits = opc == 0x0C ? 32 : opc == 0x0D ? 64 : 16
            for k in 0..<(128 / bits) where imm & (1 << k) != 0 { r = withLane(r, bits: bits, lane: k, lane(s, bits: bits, lane: k)) }
            setX(reg, r)
        case 0x10210, 0x10214, 0x10215:                     // PBLENDVB BLENDVPS BLENDVPD (mask: XMM0)
            let s = try sseSrc(i, 16, aligned: true)
            var r = getX(reg)
            let m = getX(0)
            let bits = opc == 0x10 ? 8 : opc == 0x14 ? 32 : 64
            for k in 0..<(128 / bits) where lane(m, bits: bits, lane: k) >> UInt64(bits - 1) != 0 {
                r = withLane(r, bits: bits, lane: k, lane(s, bits: bits, lane: k))
            }
            setX(reg, r)
        case 0x10217:                                       // PTEST (SDM Vol. 2B "PTEST")
            let s = try sseSrc(i, 16, aligned: true), d = getX(reg)
            let zf = (s.0 & d.0) | (s.1 & d.1) == 0, cf = (s.0 & ~d.0) | (s.1 & ~d.1) == 0
            setArith((zf ? RFLAGS.zf : 0) | (cf ? RFLAGS.cf : 0))

        // MARK: Shifts by immediate (Groups 12–14, SDM Vol. 2B "PSRLW", "PSRAW", "PSLLW", "PSRLDQ", "PSLLDQ")
        case 0x10171, 0x10172, 0x10173:
            let bits = opc == 0x71 ? 16 : opc == 0x72 ? 32 : 64
            var v = getX(rm)
            switch (opc, i.pointee.modrmReg) {
            case (0x73, 3): v = imm >= 16 ? (0, 0) : shr128(v, imm * 8)
            case (0x73, 7): v = imm >= 16 ? (0, 0) : shl128(v, imm * 8)
            default:
                let sub = i.pointee.modrmReg
                var r: (UInt64, UInt64) = (0, 0)
                let m = CPU.maskBits(bits)
                for k in 0..<(128 / bits) {
                    r = withLane(r, bits: bits, lane: k, CPU.shiftLane(lane(v, bits: bits, lane: k), bits: bits, mask: m, sub: sub, count: imm))
                }
                v = r
            }
            setX(rm, v)

        // MARK: Floating point with GPR or EFLAGS operands
        case 0x2012A, 0x3012A:                              // CVTSI2SS, CVTSI2SD xmm, r/m32/64
            let v = try readRM(i, wide ? 3 : 2)
            var d = cfpu_xmm(lo: xmm[2 * reg], hi: xmm[2 * reg + 1])
            let f = cfpu_sse_cvtsi2f(UInt32(key), wide ? 1 : 0, &d, v, hostMXCSR)
            try sseCommit(f)
            setX(reg, (d.lo, d.hi))
        case 0x2012C, 0x3012C, 0x2012D, 0x3012D:            // CVT(T)SS2SI, CVT(T)SD2SI r32/64, xmm/m
            let s = try sseSrc(i, col == 2 ? 4 : 8, aligned: false)
            var src = cfpu_xmm(lo: s.0, hi: s.1)
            var out: UInt64 = 0
            let f = cfpu_sse_cvt2si(UInt32(key), wide ? 1 : 0, &src, &out, hostMXCSR)
            try sseCommit(f)
            setReg(wide ? 3 : 2, UInt8(reg), out)
        case 0x0012E, 0x1012E, 0x0012F, 0x1012F:            // UCOMISS UCOMISD COMISS COMISD
            let s = try sseSrc(i, col == 0 ? 4 : 8, aligned: false)
            var src = cfpu_xmm(lo: s.0, hi: s.1), d = cfpu_xmm(lo: xmm[2 * reg], hi: xmm[2 * reg + 1])
            var zpc: UInt32 = 0
            let f = cfpu_sse_comi(UInt32(key), &d, &src, &zpc, hostMXCSR)
            try sseCommit(f)
            // SDM Vol. 2A "COMISD": ZF, PF, CF from the comparison; OF, SF, AF cleared.
            setArith((zpc & 4 != 0 ? RFLAGS.zf : 0) | (zpc & 2 != 0 ? RFLAGS.pf : 0) | (zpc & 1 != 0 ? RFLAGS.cf : 0))

        // MARK: Immediate forms on the host
        case 0x001C2, 0x101C2, 0x201C2, 0x301C2, 0x10308, 0x10309, 0x1030A, 0x1030B, 0x10340, 0x10341, 0x10342:
            let (size, aligned) = CPU.sseSourceSize(key)
            let s = try sseSrc(i, size, aligned: aligned)
            var src = cfpu_xmm(lo: s.0, hi: s.1), d = cfpu_xmm(lo: xmm[2 * reg], hi: xmm[2 * reg + 1])
            let d0 = d
            var f = cfpu_sse_immop(UInt32(key), UInt32(imm), &d, &src, hostMXCSR)
            if f == ~0 { throw unimplementedStop("SSE instruction (no host operation)") }
            if mxcsr & MXCSR.underflowMask == 0 && f & MXCSR.underflow == 0 {
                var t = d0
                f |= cfpu_sse_immop(UInt32(key), UInt32(imm), &t, &src, hostMXCSR | MXCSR.ftz) & MXCSR.underflow
            }
            try sseCommit(f)
            setX(reg, (d.lo, d.hi))

        // MARK: SSE4.2 string compares (SDM Vol. 2B "PCMPESTRI", "PCMPESTRM", "PCMPISTRI", "PCMPISTRM")
        case 0x10360, 0x10361, 0x10362, 0x10363:
            // Exceptions Type 4, but these do not require 16-byte alignment (SDM Vol. 2A §2.4, Table 2-21 note).
            let s = try sseSrc(i, 16, aligned: false)
            var src = cfpu_xmm(lo: s.0, hi: s.1), d = cfpu_xmm(lo: xmm[2 * reg], hi: xmm[2 * reg + 1])
            // Lengths: EAX/EDX, or RAX/RDX with REX.W; the absolute value saturates at 16 either way,
            // so a 64-bit length is clamped into 32 bits for the host's 32-bit form.
            func len(_ r: Int) -> UInt64 {
                let v = wide ? Int64(bitPattern: regs[r]) : Int64(Int32(truncatingIfNeeded: regs[r]))
                return UInt64(bitPattern: max(-17, min(17, v)))
            }
            var ecx: UInt32 = 0, fl: UInt32 = 0
            var m = cfpu_xmm(lo: 0, hi: 0)
            _ = cfpu_sse_pcmpstr(UInt32(key), UInt32(imm), &d, &src, len(Reg.rax), len(Reg.rdx), &ecx, &m, &fl)
            if opc & 1 == 1 { setReg(2, 1, UInt64(ecx)) } else { setX(0, (m.lo, m.hi)) }
            // CF ZF SF OF as computed; AF = PF = 0.
            setArith((fl & 1 != 0 ? RFLAGS.cf : 0) | (fl & 2 != 0 ? RFLAGS.zf : 0)
                     | (fl & 4 != 0 ? RFLAGS.sf : 0) | (fl & 8 != 0 ? RFLAGS.of : 0))

        // MARK: Everything else: d = op(d, s) on the host
        default:
            let (size, aligned) = CPU.sseSourceSize(key)
            let s = try sseSrc(i, size, aligned: aligned)
            var src = cfpu_xmm(lo: s.0, hi: s.1), d = cfpu_xmm(lo: xmm[2 * reg], hi: xmm[2 * reg + 1])
            let d0 = d
            var f = cfpu_sse_binop(UInt32(key), &d, &src, hostMXCSR)
            if f == ~0 { throw unimplementedStop("SSE instruction (no host operation)") }
            if mxcsr & MXCSR.underflowMask == 0 && f & MXCSR.underflow == 0 {
                // With UM = 0, underflow is signaled for a tiny result even when exact (SDM
                // Vol. 1 §4.9.1.5 "Numeric Underflow Exception (#U)"); the masked run on the host
                // flags only tiny and inexact results. FTZ flushes every tiny result and then
                // sets UE, so a second run with FTZ on a copy tells whether a result was tiny.
                var t = d0
                f |= cfpu_sse_binop(UInt32(key), &t, &src, hostMXCSR | MXCSR.ftz) & MXCSR.underflow
            }
            try sseCommit(f)
            setX(reg, (d.lo, d.hi))
        }
    }

    // MARK: - Helpers

    /// One lane of a shift by imm8 (Groups 12–14: /2 PSRL, /4 PSRA, /6 PSLL; SDM Vol. 2B "PSRLW/PSRLD/
    /// PSRLQ", "PSRAW/PSRAD", "PSLLW/PSLLD/PSLLQ"): a count ≥ the lane width gives 0, or for PSRA
    /// the sign in every bit. Shared by the XMM and the MMX forms.
    @inline(__always) static func shiftLane(_ x: UInt64, bits: Int, mask m: UInt64, sub: UInt8, count imm: Int) -> UInt64 {
        if sub == 4 {
            let c = UInt64(min(imm, bits - 1))
            let sx = Int64(bitPattern: x << UInt64(64 - bits)) >> UInt64(64 - bits)
            return UInt64(bitPattern: sx >> Int64(c)) & m
        }
        if imm >= bits { return 0 }
        return sub == 2 ? x >> UInt64(imm) : (x << UInt64(imm)) & m
    }

    /// Size in bytes of the source operand when it is in memory, and whether a 16-byte one must
    /// be aligned (SDM Vol. 2A §2.4: legacy SSE 16-byte operands are, except the unaligned moves).
    @inline(__always) static func sseSourceSize(_ key: Int) -> (Int, Bool) {
        let col = key >> 16, map = (key >> 8) & 0xFF, opc = key & 0xFF
        if map == 1 {
            switch opc {
            case 0x51, 0x52, 0x53, 0x58, 0x59, 0x5A, 0x5C, 0x5D, 0x5E, 0x5F, 0xC2:
                if col == 2 { return (4, false) }       // …SS: m32
                if col == 3 { return (8, false) }       // …SD: m64
                if opc == 0x5A && col == 0 { return (8, false) }   // CVTPS2PD xmm, xmm/m64
            case 0xE6: if col == 2 { return (8, false) }           // CVTDQ2PD xmm, xmm/m64
            default: break
            }
        } else if map == 2 {
            switch opc {
            case 0x20, 0x23, 0x25, 0x30, 0x33, 0x35: return (8, false)   // PMOVSX/ZX BW WD DQ
            case 0x21, 0x24, 0x31, 0x34: return (4, false)               // BD WQ
            case 0x22, 0x32: return (2, false)                           // BQ
            default: break
            }
        } else if map == 3 {
            if opc == 0x0A { return (4, false) }        // ROUNDSS
            if opc == 0x0B { return (8, false) }        // ROUNDSD
        }
        return (16, true)
    }

    /// The guest MXCSR as the host runs it: guest RC, FTZ, DAZ; every exception masked; flags clear.
    @inline(__always) var hostMXCSR: UInt32 { (mxcsr & MXCSR.control) | MXCSR.allMasked }

    /// Account for the exception flags `f` an operation raised: with one whose mask bit is clear,
    /// the destination is not written and #XM (CR4.OSXMMEXCPT = 1) or #UD is raised (SDM Vol. 1
    /// §11.5.1 "SIMD Floating-Point Exceptions", §11.5.2; Vol. 3A §6.15 "Interrupt 19—SIMD
    /// Floating-Point Exception (#XM)"). An unmasked pre-computation exception (IE, DE, ZE)
    /// stops the operation before the post-computation ones (OE, UE, PE) could be detected.
    @inline(__always) func sseCommit(_ f: UInt32) throws(Fault) {
        let flags = f & MXCSR.flags
        if flags == 0 { return }
        let unmasked = flags & ~(mxcsr >> 7) & MXCSR.flags
        if unmasked != 0 {
            mxcsr |= unmasked & MXCSR.preComputation != 0 ? flags & MXCSR.preComputation : flags
            throw cr4 & CR4.osxmmexcpt != 0 ? Fault.XM() : Fault.UD()
        }
        mxcsr |= flags
    }

    @inline(__always) func getX(_ r: Int) -> (UInt64, UInt64) { (xmm[2 * r], xmm[2 * r + 1]) }
    @inline(__always) func setX(_ r: Int, _ v: (UInt64, UInt64)) { xmm[2 * r] = v.0; xmm[2 * r + 1] = v.1 }

    /// Offset of the second quadword of a 16-byte operand (wraps with the address size).
    @inline(__always) func sseHigh(_ i: UnsafePointer<Insn>, _ off: UInt64) -> UInt64 {
        (off &+ 8) & CPU.mask(i.pointee.asz)
    }

    /// #GP(0) for a misaligned 16-byte operand: alignment is on the linear address (segment
    /// checks first, as for any access).
    @inline(__always) func sseCheckAligned(_ i: UnsafePointer<Insn>, _ off: UInt64, _ access: Access) throws(Fault) {
        let lin = try linear(Int(i.pointee.seg), off, 16, access)
        if lin & 15 != 0 { throw Fault.GP(0) }
    }

    /// A scalar memory operand of size code `size`.
    @inline(__always) func sseMem(_ i: UnsafePointer<Insn>, _ size: UInt8) throws(Fault) -> UInt64 {
        try readMem(size, Int(i.pointee.seg), ea(i))
    }

    /// The xmm/m source: the register, or `bytes` (2, 4, 8, 16) from memory zero-extended.
    @inline(__always) func sseSrc(_ i: UnsafePointer<Insn>, _ bytes: Int, aligned: Bool) throws(Fault) -> (UInt64, UInt64) {
        if !i.pointee.mem { return getX(Int(i.pointee.rm)) }
        let off = ea(i), seg = Int(i.pointee.seg)
        switch bytes {
        case 2: return (try readMem(1, seg, off), 0)
        case 4: return (try readMem(2, seg, off), 0)
        case 8: return (try readMem(3, seg, off), 0)
        default:
            if aligned { try sseCheckAligned(i, off, .read) }
            let lo = try readMem(3, seg, off)
            return (lo, try readMem(3, seg, sseHigh(i, off)))
        }
    }

    /// Store a 16-byte value to the xmm/m128 destination; memory is probed whole first so a
    /// fault leaves it untouched.
    @inline(__always) func sseDst16(_ i: UnsafePointer<Insn>, _ v: (UInt64, UInt64), aligned: Bool) throws(Fault) {
        if !i.pointee.mem { setX(Int(i.pointee.rm), v); return }
        let off = ea(i), seg = Int(i.pointee.seg), off2 = sseHigh(i, off)
        if aligned { try sseCheckAligned(i, off, .write) }
        try probeWrite(3, seg, off); try probeWrite(3, seg, off2)
        try writeMem(3, seg, off, v.0); try writeMem(3, seg, off2, v.1)
    }

    @inline(__always) static func maskBits(_ bits: Int) -> UInt64 { bits >= 64 ? ~0 : (UInt64(1) << UInt64(bits)) &- 1 }

    /// Lane `lane` of width `bits` (8…64) of a 128-bit value.
    @inline(__always) func lane(_ v: (UInt64, UInt64), bits: Int, lane k: Int) -> UInt64 {
        let bit = k * bits
        let q = bit < 64 ? v.0 : v.1
        return (q >> UInt64(bit & 63)) & CPU.maskBits(bits)
    }
    @inline(__always) func withLane(_ v: (UInt64, UInt64), bits: Int, lane k: Int, _ x: UInt64) -> (UInt64, UInt64) {
        let bit = k * bits, sh = UInt64(bit & 63), m = CPU.maskBits(bits) << sh
        if bit < 64 { return ((v.0 & ~m) | ((x << sh) & m), v.1) }
        return (v.0, (v.1 & ~m) | ((x << sh) & m))
    }
    @inline(__always) func extractLane(_ r: Int, bits: Int, lane k: Int) -> UInt64 { lane(getX(r), bits: bits, lane: k) }
    @inline(__always) func insertLane(_ r: Int, _ x: UInt64, bits: Int, lane k: Int) { setX(r, withLane(getX(r), bits: bits, lane: k, x)) }

    @inline(__always) func shr128(_ v: (UInt64, UInt64), _ n: Int) -> (UInt64, UInt64) {
        if n == 0 { return v }
        if n >= 128 { return (0, 0) }
        if n >= 64 { return (v.1 >> UInt64(n - 64), 0) }
        return ((v.0 >> UInt64(n)) | (v.1 << UInt64(64 - n)), v.1 >> UInt64(n))
    }
    @inline(__always) func shl128(_ v: (UInt64, UInt64), _ n: Int) -> (UInt64, UInt64) {
        if n == 0 { return v }
        if n >= 128 { return (0, 0) }
        if n >= 64 { return (0, v.0 << UInt64(n - 64)) }
        return (v.0 << UInt64(n), (v.1 << UInt64(n)) | (v.0 >> UInt64(64 - n)))
    }

    /// MASKMOVDQU: bytes of xmm1 whose mask byte (xmm2) has bit 7 set are stored to DS:rDI
    /// (segment override allowed). The selected bytes are probed before any is written.
    func maskmovdqu(_ i: UnsafePointer<Insn>) throws(Fault) {
        try maskedByteStore(i, getX(Int(i.pointee.reg)), mask: getX(Int(i.pointee.rm)), bytes: 16)
    }

    /// The store of MASKMOVDQU and MASKMOVQ: byte k of `v` goes to DS:rDI + k (segment override
    /// allowed) when bit 7 of mask byte k is set; every selected byte is probed before any is
    /// written.
    func maskedByteStore(_ i: UnsafePointer<Insn>, _ v: (UInt64, UInt64), mask m: (UInt64, UInt64), bytes: Int) throws(Fault) {
        let seg = Int(i.pointee.seg), asz = i.pointee.asz
        let base = regs[Reg.rdi] & CPU.mask(asz)
        for pass in 0..<2 {
            for k in 0..<bytes where lane(m, bits: 8, lane: k) & 0x80 != 0 {
                let a = (base &+ UInt64(k)) & CPU.mask(asz)
                if pass == 0 { try probeWrite(0, seg, a) } else { try writeMem(0, seg, a, lane(v, bits: 8, lane: k)) }
            }
        }
    }

    /// CRC32 r32/r64, r/m8/16/32/64 (SDM Vol. 2A "CRC32"): CRC-32C (polynomial 11EDC6F41H) in
    /// the bit-reflected form, over the source's bytes from the lowest. `simdKey` bit 0: the
    /// Ev form (0F 38 F1; size = osz), else Eb.
    func crc32(_ i: UnsafePointer<Insn>) throws(Fault) {
        let size: UInt8 = i.pointee.simdKey & 1 == 0 ? 0 : i.pointee.osz
        let src = try readRM(i, size)
        var crc = UInt32(truncatingIfNeeded: regs[Int(i.pointee.reg)])
        for k in 0..<(1 << Int(size)) {
            crc ^= UInt32((src >> UInt64(8 * k)) & 0xFF)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        }
        // 64-bit destination: DEST[63:32] ← 0; 32-bit destination zero-extends as any.
        setReg(2, i.pointee.reg, UInt64(crc))
    }
}
