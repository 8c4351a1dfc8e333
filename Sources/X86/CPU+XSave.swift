/// XGETBV, XSETBV, XSAVE, XRSTOR, XSAVEOPT, XSAVEC, XSAVES, XRSTORS (SDM Vol. 1 ch. 13 "Managing
/// State Using the XSAVE Feature Set"; Vol. 2 each instruction). The model's state components are
/// x87 (0) and SSE (1), both in the legacy region, so the standard and the compacted formats lay
/// them out alike and differ only in the header and the rules of §13.8–§13.12. There are no
/// supervisor components (IA32_XSS = 0). XINUSE is modeled as XCR0: a component is always
/// "in use" (SDM Vol. 1 §13.6 "Processor Tracking of XSAVE-Managed State" allows XINUSE[i] = 1
/// for a component in its initial configuration), so the init and modified optimizations never
/// skip anything.

extension CPU {
    @inline(never) func executeXSave(_ i: UnsafePointer<Insn>) throws(Fault) {
        // All five: #UD if CR4.OSXSAVE = 0.
        if cr4 & CR4.osxsave == 0 { throw Fault.UD() }
        switch i.pointee.op {
        case .xgetbv:
            // ECX = 0: XCR0; ECX = 1 (CPUID.(EAX=0DH,ECX=1):EAX[2]): XCR0 AND XINUSE, which is
            // XCR0 in this model (SDM Vol. 2C "XGETBV"); anything else #GP(0).
            let n = regs[Reg.rcx] & 0xFFFF_FFFF
            if n > 1 { throw Fault.GP(0) }
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

    /// 0F AE /4 XSAVE, /5 XRSTOR, /6 XSAVEOPT and 0F C7 /3 XRSTORS, /4 XSAVEC, /5 XSAVES
    /// (`xsaveCompacted`). The legacy region, then the 64-byte XSAVE header at offset 512
    /// (XSTATE_BV, XCOMP_BV, reserved).
    func xsaveOrRestore(_ i: UnsafePointer<Insn>) throws(Fault) {
        let compacting = i.pointee.xsaveCompacted, sub = i.pointee.modrmReg
        let supervisor = compacting && sub != 4             // XSAVES, XRSTORS
        // "If the 'enable XSAVES/XRSTORS' VM-execution control is 0, XSAVES/XRSTORS cause #UD"
        // (SDM Vol. 3C §25.3 "Changes to Instruction Behavior in VMX Non-Root Operation"); the
        // model does not offer the control, so in a guest they always are #UD.
        if supervisor && vmx.nonRoot && vmx.proc2 & Proc2.enableXSAVES == 0 { throw Fault.UD() }
        if cr0 & CR0.ts != 0 { throw Fault.NM() }
        if supervisor && cpl != 0 { throw Fault.GP(0) }
        let seg = Int(i.pointee.seg), off = ea(i)
        // "#GP(0) If a memory operand is not aligned on a 64-byte boundary, regardless of segment."
        if (segBase[seg] &+ off) & 0x3F != 0 { throw Fault.GP(0) }
        // The requested-feature bitmap: RFBM = XCR0 AND EDX:EAX (XSAVES/XRSTORS: (XCR0 | IA32_XSS),
        // and IA32_XSS is 0 here).
        let rfbm = xcr0 & ((regs[Reg.rdx] & 0xFFFF_FFFF) << 32 | (regs[Reg.rax] & 0xFFFF_FFFF))
        let header = x87Off(i, off, 512)
        let save = compacting ? sub != 3 : sub != 5
        if save {
            try probeWrite(3, seg, off); try probeWrite(3, seg, x87Off(i, off, 568))
            if compacting {
                // XSAVEC/XSAVES (SDM Vol. 1 §13.10 "Operation of XSAVEC", §13.11 "Operation of
                // XSAVES"): component i saved iff RFBM[i] = XINUSE[i] = 1; MXCSR with RFBM[1]
                // alone; XSTATE_BV ← RFBM AND XINUSE; XCOMP_BV ← 2⁶³ | RFBM; header bytes
                // 63:16 are not written.
                try saveLegacyRegion(i, seg, off, x87: rfbm & 1 != 0, sse: rfbm & 2 != 0)
                try writeMem(3, seg, header, rfbm)
                try writeMem(3, seg, x87Off(i, header, 8), 1 << 63 | rfbm)
            } else {
                // XSAVE / XSAVEOPT (which "may" skip unmodified components: here it saves them all).
                // MXCSR goes with the SSE component (RFBM[1]; RFBM[2], AVX, does not exist here).
                let xstate = try readMem(3, seg, header)
                try saveLegacyRegion(i, seg, off, x87: rfbm & 1 != 0, sse: rfbm & 2 != 0)
                // XSTATE_BV[i] ← XINUSE[i] for i in RFBM (§13.7 "Operation of XSAVE").
                try writeMem(3, seg, header, (xstate & ~rfbm) | rfbm)
            }
            return
        }
        _ = try readMem(3, seg, x87Off(i, off, 568))
        let xstate = try readMem(3, seg, header)
        let xcomp = try readMem(3, seg, x87Off(i, header, 8))
        var reserved = try readMem(3, seg, x87Off(i, header, 16))
        let compactedForm = xcomp >> 63 != 0
        if compactedForm {
            // Compacted form of XRSTOR, and XRSTORS (SDM Vol. 1 §13.8.1 "Standard Form of XRSTOR",
            // §13.8.2 "Compacted Form of XRSTOR", §13.12 "Operation of XRSTORS"): #GP(0) if
            // XCOMP_BV[62:0] sets a bit not in XCR0 (| IA32_XSS), if XSTATE_BV sets a bit not in
            // XCOMP_BV[62:0], or if bytes 63:16 of the header are not all 0.
            for k in UInt64(3)...7 { reserved |= try readMem(3, seg, x87Off(i, header, 8 * k)) }
            let comp = xcomp & ~(1 << 63)
            if comp & ~xcr0 != 0 || xstate & ~comp != 0 || reserved != 0 { throw Fault.GP(0) }
        } else {
            // XRSTORS needs the compacted format: "#GP(0) If XCOMP_BV[63] = 0" (Vol. 2C "XRSTORS").
            // Standard form: "#GP(0) If bytes 23:8 of the XSAVE header is not 0", or XSTATE_BV
            // sets a bit not in XCR0.
            if supervisor || xcomp != 0 || reserved != 0 || xstate & ~xcr0 != 0 { throw Fault.GP(0) }
        }
        // Components in RFBM: loaded when XSTATE_BV says so, else put in their initial
        // configuration. MXCSR: the standard form loads it whenever RFBM[1] = 1; the compacted
        // form loads it only with XSTATE_BV[1] = 1 and otherwise sets 1F80H (§13.8.2).
        let loadX87 = rfbm & xstate & 1 != 0, loadSSE = rfbm & xstate & 2 != 0
        var initMXCSR: UInt32 = MXCSR.allMasked
        if rfbm & 2 != 0 && !loadSSE && !compactedForm {
            initMXCSR = UInt32(truncatingIfNeeded: try readMem(2, seg, x87Off(i, off, 24)))
            if initMXCSR & 0xFFFF_0000 != 0 { throw Fault.GP(0) }
        }
        try restoreLegacyRegion(i, seg, off, x87: loadX87, sse: loadSSE)
        if rfbm & 1 != 0 && !loadX87 {
            // x87 initial configuration: FCW 037FH, FSW 0, all tags empty, FOP/FIP/FDP 0, R0–R7 0.
            var fresh = X87State()
            fresh.fcw = 0x037F
            x87 = fresh
        }
        if rfbm & 2 != 0 && !loadSSE {
            mxcsr = initMXCSR
            let nxmm = codeMode == 2 ? 16 : 8
            for k in 0..<(2 * nxmm) { xmm[k] = 0 }
        }
    }
}
