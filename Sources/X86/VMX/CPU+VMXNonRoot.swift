/// VMX non-root operation (SDM Vol. 3C ch. 25 "VMX Non-Root Operation"): which instructions and
/// events cause VM exits (§25.1 "Instructions That Cause VM Exits", §25.2 "Other Causes of VM
/// Exits") and how instructions that don't exit behave differently (§25.3 "Changes to
/// Instruction Behavior in VMX Non-Root Operation").

extension CPU {
    // MARK: Exceptions (§25.2: the exception bitmap; #PF error-code mask/match)

    /// Does exception `f` cause a VM exit instead of being delivered through the guest IDT?
    func exceptionExits(_ f: Fault) -> Bool {
        guard f.kind != .stop && f.kind != .redirect else { return false }
        // INT n (a software interrupt other than INT3/INTO) never consults the bitmap.
        if f.kind == .software && f.vector != 3 && f.vector != 4 { return false }
        guard f.vector < 32 else { return false }
        let bitSet = vmx.exceptionBitmap & (1 << UInt32(f.vector)) != 0
        if f.vector == 14 && f.kind == .exception {
            // §25.2 "Other Causes of VM Exits", Exceptions: if (PFEC & PFEC_MASK) = PFEC_MATCH, a
            // #PF exits iff bit 14 of the exception bitmap is 1; otherwise it exits iff bit 14 is 0.
            // (Bit 14 clear with a mismatch exits too — the check must not stop at the bitmap.)
            return (f.errorCode & vmx.pfecMask == vmx.pfecMatch) == bitSet
        }
        return bitSet
    }

    /// Interruption type of a fault (§24.9.2 Table 24-17 / §24.8.3): 3 hardware exception,
    /// 4 software interrupt (INT n), 5 privileged software exception (INT1), 6 software exception
    /// (INT3, INTO).
    func interruptionType(_ f: Fault) -> UInt32 {
        if f.kind == .software { return f.vector == 3 || f.vector == 4 ? 6 : 4 }
        if f.isINT1 { return 5 }
        if f.kind == .interrupt { return f.vector == 2 ? 2 : 0 }   // NMI, external interrupt
        return f.vector == 2 ? 2 : 3
    }

    /// Interruption-information word for `f` (valid bit set).
    func interruptionInfo(_ f: Fault) -> UInt32 {
        UInt32(f.vector) | interruptionType(f) << 8 | (f.hasErrorCode ? 1 << 11 : 0) | 0x8000_0000
    }

    /// VM exit for an exception (basic reason 0), with the exit interruption information, and for
    /// #PF the linear address as the exit qualification (CR2 is not modified, §25.2).
    func vmExitForException(_ f: Fault) -> StopCause? {
        var info = VMExitInfo()
        info.interruptionInfo = interruptionInfo(f)
        if f.hasErrorCode { info.interruptionError = f.errorCode }
        var guestRip = rip
        if f.kind == .software || f.isINT1 {
            // Software exceptions and INT1: RIP references the INT3/INTO/INT1; the length allows
            // reinjection (§27.2.5 "Information for VM Exits Due to Instruction Execution").
            guestRip = currentRip
            info.instructionLength = rip &- currentRip
        }
        if f.isDebugException {
            // A #DB: the qualification holds B0–B3 (bits 3:0), BD (13) and BS (14) of the
            // conditions it reports; DR6 is not modified (§27.2.1 "Basic VM-Exit Information",
            // Table 27-1 "Exit Qualification for Debug Exceptions").
            info.qualification = UInt64(f.debugConditions & 0x600F)
        }
        if f.vector == 14 && f.kind == .exception {
            info.qualification = cr2
            cr2 = cr2BeforeFault
        }
        vmExit(UInt32(VMXExitReason.exceptionOrNMI.rawValue), info, guestRip: guestRip)
        return takeVMXStop()
    }

    /// A stop requested by a VM transition (debugger break, VMX abort), if any.
    func takeVMXStop() -> StopCause? {
        guard let s = pendingStop else { return nil }
        pendingStop = nil
        return s
    }

    // MARK: Instructions (§25.1.2 unconditional, §25.1.3 conditional)

    /// I/O instruction exits (§25.1.3, "IN, INS/INSB/INSW/INSD, OUT, OUTS/OUTSB/OUTSW/OUTSD"):
    /// "unconditional I/O exiting", or with "use I/O bitmaps" any bit of the accessed ports set
    /// (or the access wrapping past FFFFH).
    func ioExits(_ port: UInt16, _ size: Int) -> Bool {
        if vmx.proc & Proc.useIOBitmaps != 0 {
            if Int(port) + size > 0x10000 { return true }
            for p in Int(port)..<(Int(port) + size) {
                let bitmap = p < 0x8000 ? vmread(.ioBitmapA) : vmread(.ioBitmapB)
                let bit = p & 0x7FFF
                if readPhys(bitmap &+ UInt64(bit >> 3), 1) & (1 << UInt64(bit & 7)) != 0 { return true }
            }
            return false
        }
        return vmx.proc & Proc.unconditionalIOExiting != 0
    }

    /// The exit qualification of an I/O instruction (§27.2.1 Table 27-5).
    func ioQualification(port: UInt16, size: Int, input: Bool, string: Bool, rep: Bool, immediate: Bool) -> UInt64 {
        UInt64(size - 1) | (input ? 8 : 0) | (string ? 16 : 0) | (rep ? 32 : 0) | (immediate ? 64 : 0) | UInt64(port) << 16
    }

    /// RDMSR/WRMSR exits (§25.1.3): always without "use MSR bitmaps"; with it, per the bitmap
    /// (read-low 0, read-high 1024, write-low 2048, write-high 3072) — MSRs outside 0–1FFFH and
    /// C0000000H–C0001FFFH always exit.
    func msrExits(_ index: UInt32, write: Bool) -> Bool {
        if vmx.proc & Proc.useMSRBitmaps == 0 { return true }
        let base = vmread(.msrBitmaps)
        var off: UInt64
        switch index {
        case 0...0x1FFF: off = 0
        case 0xC000_0000...0xC000_1FFF: off = 1024
        default: return true
        }
        if write { off += 2048 }
        let bit = UInt64(index & 0x1FFF)
        return readPhys(base &+ off &+ (bit >> 3), 1) & (1 << (bit & 7)) != 0
    }

    /// MOV to CR0/CR4 in non-root operation (§25.1.3 "MOV to CR0/CR4"): exits when a bit set in
    /// the guest/host mask would get a value different from the read shadow.
    /// Returns the value to load (host-owned bits keep their current value, §25.3).
    func crWriteNonRoot(_ i: UnsafePointer<Insn>, cr: UInt8, value v: UInt64) throws(Fault) -> UInt64 {
        let (mask, shadow, current) = cr == 0 ? (vmx.cr0Mask, vmx.cr0Shadow, cr0) : (vmx.cr4Mask, vmx.cr4Shadow, cr4)
        if (v ^ shadow) & mask != 0 {
            try vmExitForInstruction(i, .crAccess, qualification: crQualification(cr: cr, type: 0, gpr: i.pointee.rm))
        }
        return (v & ~mask) | (current & mask)
    }

    /// The exit qualification of a control-register access (§27.2.1 Table 27-3): CR number 3:0,
    /// access type 5:4 (0 MOV to CR, 1 MOV from CR, 2 CLTS, 3 LMSW), LMSW operand type 6,
    /// general-purpose register 11:8, LMSW source data 31:16.
    /// Table 27-3: bits 11:8 hold the register "For MOV CR" only — "For CLTS and LMSW, cleared to 0".
    func crQualification(cr: UInt8, type: UInt64, gpr: UInt8, lmswMem: Bool = false, lmswData: UInt64 = 0) -> UInt64 {
        let reg: UInt64 = type <= 1 ? UInt64(gpr & 0xF) : 0
        return UInt64(cr & 0xF) | type << 4 | (lmswMem ? 64 : 0) | reg << 8 | (lmswData & 0xFFFF) << 16
    }

    /// CR0/CR4 as the guest reads them: guest-owned bits from the register, host-owned bits from
    /// the read shadow (§25.3 "MOV from CR0/CR4").
    func crReadNonRoot(cr: UInt8) -> UInt64 {
        cr == 0 ? (cr0 & ~vmx.cr0Mask) | (vmx.cr0Shadow & vmx.cr0Mask) : (cr4 & ~vmx.cr4Mask) | (vmx.cr4Shadow & vmx.cr4Mask)
    }

    /// MOV to CR3 exits with "CR3-load exiting" unless the value is one of the first
    /// CR3-target-count CR3-target values (§25.1.3).
    func cr3LoadExits(_ v: UInt64) -> Bool {
        guard vmx.proc & Proc.cr3LoadExiting != 0 else { return false }
        let n = min(vmread(.cr3TargetCount), 4)
        let targets: [VMCSFieldID] = [.cr3TargetValue0, .cr3TargetValue1, .cr3TargetValue2, .cr3TargetValue3]
        for k in 0..<Int(n) where vmread(targets[k]) == v { return false }
        return true
    }

    /// Descriptor-table exits (§25.1.3 "LGDT, LIDT, LLDT, LTR, SGDT, SIDT, SLDT, STR" with
    /// "descriptor-table exiting"): basic reason 46 (GDTR/IDTR) or 47 (LDTR/TR); the instruction
    /// information of Tables 27-10/27-11 (instruction identity in bits 29:28).
    func descriptorTableExit(_ i: UnsafePointer<Insn>) throws(Fault) {
        guard vmx.proc2 & Proc2.descriptorTableExiting != 0 else { return }
        var info = vmxInstructionInfo(i) & ~(0xF << 28)
        let reason: VMXExitReason
        switch i.pointee.op {
        case .sgdt: reason = .gdtrIDTRAccess; info |= 0 << 28
        case .sidt: reason = .gdtrIDTRAccess; info |= 1 << 28
        case .lgdt: reason = .gdtrIDTRAccess; info |= 2 << 28
        case .lidt: reason = .gdtrIDTRAccess; info |= 3 << 28
        case .sldt: reason = .ldtrTRAccess; info |= 0 << 28
        case .str: reason = .ldtrTRAccess; info |= 1 << 28
        case .lldt: reason = .ldtrTRAccess; info |= 2 << 28
        default: reason = .ldtrTRAccess; info |= 3 << 28
        }
        if reason == .gdtrIDTRAccess {
            // Operand size bit 11 (0 = 16-bit, 1 = 32-bit; undefined in 64-bit mode); no reg1.
            info &= ~(0xF << 3) & ~(1 << 10)
            if i.pointee.osz != 1 { info |= 1 << 11 }
        }
        try vmExitForInstruction(i, reason, instructionInfo: info)
    }
}
