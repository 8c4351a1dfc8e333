/// XGETBV, XSETBV, XSAVE, XRSTOR, XSAVEOPT (SDM Vol. 1 ch. 13 "Managing State Using the XSAVE
/// Feature Set"; Vol. 2 each instruction). The model's state components are x87 (0) and SSE (1),
/// both in the legacy region; the standard (non-compacted) format only — XSAVEC/XSAVES and
/// XRSTORS are not advertised (CPUID.(EAX=0DH,ECX=1):EAX = 1: XSAVEOPT only).

extension CPU {
    @inline(never) func executeXSave(_ i: UnsafePointer<Insn>) throws(Fault) {
        // All five: #UD if CR4.OSXSAVE = 0.
        if cr4 & CR4.osxsave == 0 { throw Fault.UD() }
        switch i.pointee.op {
        case .xgetbv:
            // ECX selects the XCR; only XCR0 exists (XGETBV with ECX = 1 needs CPUID.(0DH,1):EAX[2]).
            if regs[Reg.rcx] & 0xFFFF_FFFF != 0 { throw Fault.GP(0) }
            regs[Reg.rax] = xcr0 & 0xFFFF_FFFF
            regs[Reg.rdx] = xcr0 >> 32
        case .xsetbv:
            // In VMX non-root operation XSETBV exits unconditionally (SDM Vol. 3C §25.1.2
            // "Instructions That Cause VM Exits Unconditionally"), after the #UD check.
            if vmx.nonRoot { try vmExitForInstruction(i, .xsetbv, qualification: 0, instructionInfo: 0) }
            if cpl != 0 && cr0 & CR0.pe != 0 { throw Fault.GP(0) }
            if regs[Reg.rcx] & 0xFFFF_FFFF != 0 { throw Fault.GP(0) }
            let v = (regs[Reg.rdx] & 0xFFFF_FFFF) << 32 | (regs[Reg.rax] & 0xFFFF_FFFF)
            // "#GP(0) If an attempt is made to clear bit 0 of XCR0" or to set a bit the processor
            // does not support (CPUID.(EAX=0DH,ECX=0):EDX:EAX).
            if v & 1 == 0 || v & ~CPUModel.xcr0Supported != 0 { throw Fault.GP(0) }
            xcr0 = v
        default:
            try xsaveOrRestore(i)
        }
    }

    /// XSAVE/XSAVEOPT (sub 4/6) and XRSTOR (sub 5), standard format: the legacy region, then the
    /// 64-byte XSAVE header at offset 512 (XSTATE_BV, XCOMP_BV, reserved).
    func xsaveOrRestore(_ i: UnsafePointer<Insn>) throws(Fault) {
        if cr0 & CR0.ts != 0 { throw Fault.NM() }
        let seg = Int(i.pointee.seg), off = ea(i)
        // "#GP(0) If a memory operand is not aligned on a 64-byte boundary, regardless of segment."
        if (segBase[seg] &+ off) & 0x3F != 0 { throw Fault.GP(0) }
        // The requested-feature bitmap: RFBM = XCR0 AND EDX:EAX.
        let rfbm = xcr0 & ((regs[Reg.rdx] & 0xFFFF_FFFF) << 32 | (regs[Reg.rax] & 0xFFFF_FFFF))
        let header = x87Off(i, off, 512)
        if i.pointee.sub != 5 {
            // XSAVE / XSAVEOPT (which "may" skip unmodified components: here it saves them all).
            // MXCSR goes with the SSE component (RFBM[1]; RFBM[2], AVX, does not exist here).
            try probeWrite(3, seg, off); try probeWrite(3, seg, x87Off(i, off, 568))
            let xstate = try readMem(3, seg, header)
            try saveLegacyRegion(i, seg, off, x87: rfbm & 1 != 0, sse: rfbm & 2 != 0)
            // XSTATE_BV[i] ← XINUSE[i] for i in RFBM; a component is reported in use whenever
            // it is enabled (XINUSE may be 1 for a component in its initial state).
            try writeMem(3, seg, header, (xstate & ~rfbm) | rfbm)
        } else {
            _ = try readMem(3, seg, x87Off(i, off, 568))
            let xstate = try readMem(3, seg, header)
            let xcomp = try readMem(3, seg, x87Off(i, header, 8))
            let reserved = try readMem(3, seg, x87Off(i, header, 16))
            // Standard form (XCOMP_BV[63] = 0; compaction is not supported): "#GP(0) If bytes
            // 23:8 of the XSAVE header is not 0", or XSTATE_BV sets a bit not in XCR0.
            if xcomp != 0 || reserved != 0 || xstate & ~xcr0 != 0 { throw Fault.GP(0) }
            // Components in RFBM: loaded when XSTATE_BV says so, else put in their initial
            // configuration; MXCSR is loaded whenever RFBM[1] = 1 (SDM Vol. 1 §13.8.1
            // "Standard Form of XRSTOR").
            let loadX87 = rfbm & xstate & 1 != 0, loadSSE = rfbm & xstate & 2 != 0
            if rfbm & 2 != 0 && !loadSSE {
                let m = UInt32(truncatingIfNeeded: try readMem(2, seg, x87Off(i, off, 24)))
                if m & 0xFFFF_0000 != 0 { throw Fault.GP(0) }
            }
            try restoreLegacyRegion(i, seg, off, x87: loadX87, sse: loadSSE)
            if rfbm & 1 != 0 && !loadX87 {
                // x87 initial configuration: FCW 037FH, FSW 0, all tags empty, FOP/FIP/FDP 0, R0–R7 0.
                var fresh = X87State()
                fresh.fcw = 0x037F
                x87 = fresh
            }
            if rfbm & 2 != 0 && !loadSSE {
                mxcsr = UInt32(truncatingIfNeeded: try readMem(2, seg, x87Off(i, off, 24)))
                let nxmm = codeMode == 2 ? 16 : 8
                for k in 0..<(2 * nxmm) { xmm[k] = 0 }
            }
        }
    }
}
