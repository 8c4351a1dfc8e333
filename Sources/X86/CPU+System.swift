/// System instructions: descriptor tables, control/debug registers, MSRs, CPUID, SYSCALL/SYSRET,
/// TSC, cache control (SDM Vol. 2 per instruction; Vol. 3A ch. 2 "System Architecture Overview").

/// The model-specific registers the CPU implements. Anything else: RDMSR/WRMSR #GP(0)
/// (SDM Vol. 4, and Vol. 2 "RDMSR": "If the value in ECX specifies a reserved or unimplemented MSR address").
public struct MSRFile: Sendable {
    public var apicBase: UInt64 = 0xFEE0_0900      // BSP, enabled (reset value, SDM Vol. 3A §11.4.4)
    public var featureControl: UInt64 = 0          // no firmware: unlocked, all clear
    public var sysenterCS: UInt64 = 0, sysenterESP: UInt64 = 0, sysenterEIP: UInt64 = 0
    public var pat: UInt64 = 0x0007_0406_0007_0406 // reset value (SDM Vol. 3A §12.12.4)
    /// Fast strings (0), BTS unavailable (11) and PEBS unavailable (12) — the model has no
    /// debug store —, ENABLE MONITOR FSM (18) (SDM Vol. 4 Table 2-2 "IA-32 Architectural MSRs",
    /// IA32_MISC_ENABLE). Performance monitoring (7) reads 0: CPUID.0AH reports no PMU.
    public var miscEnable: UInt64 = 0x1 | 1 << 11 | 1 << 12 | 1 << 18
    public var debugCtl: UInt64 = 0
    public var mcgStatus: UInt64 = 0
    public var star: UInt64 = 0, lstar: UInt64 = 0, cstar: UInt64 = 0, fmask: UInt64 = 0
    public var kernelGSBase: UInt64 = 0
    public var tscAux: UInt64 = 0
    public var mtrrDefType: UInt64 = 0
    public var mtrrFixed = [UInt64](repeating: 0, count: 11)
    public var mtrrVar = [UInt64](repeating: 0, count: 20)
    public var ucodeRev: UInt64 = 0
    public init() {}
}

public enum MSR {
    public static let tsc: UInt32 = 0x10, apicBase: UInt32 = 0x1B, featureControl: UInt32 = 0x3A
    public static let biosSignId: UInt32 = 0x8B, mtrrcap: UInt32 = 0xFE
    public static let sysenterCS: UInt32 = 0x174, sysenterESP: UInt32 = 0x175, sysenterEIP: UInt32 = 0x176
    public static let pat: UInt32 = 0x277, mtrrDefType: UInt32 = 0x2FF, miscEnable: UInt32 = 0x1A0
    public static let efer: UInt32 = 0xC000_0080, star: UInt32 = 0xC000_0081, lstar: UInt32 = 0xC000_0082
    public static let cstar: UInt32 = 0xC000_0083, fmask: UInt32 = 0xC000_0084
    public static let fsBase: UInt32 = 0xC000_0100, gsBase: UInt32 = 0xC000_0101, kernelGSBase: UInt32 = 0xC000_0102
    public static let tscAux: UInt32 = 0xC000_0103, xss: UInt32 = 0xDA0
    public static let debugCtl: UInt32 = 0x1D9
    public static let mcgCap: UInt32 = 0x179, mcgStatus: UInt32 = 0x17A, mcgCtl: UInt32 = 0x17B
    /// IA32_DEBUGCTL bits the model defines (SDM Vol. 3B §17.4.1 "IA32_DEBUGCTL MSR"; Vol. 4
    /// Table 2-2): LBR (0), BTF (1), TR (6), BTS (7), BTINT (8), BTS_OFF_OS (9), BTS_OFF_USR (10).
    /// The others are reserved here: FREEZE_LBRS_ON_PMI (11) and FREEZE_PERFMON_ON_PMI (12) need
    /// CPUID.01H:ECX.PDCM and a version-2 PMU, FREEZE_WHILE_SMM (14) IA32_PERF_CAPABILITIES[12],
    /// RTM_DEBUG (15) CPUID.(EAX=07H,ECX=0):EBX.RTM, ENABLE_UNCORE_PMI (13) an uncore PMU — the
    /// model reports none of them. A WRMSR setting a reserved bit is #GP(0); so is a guest
    /// IA32_DEBUGCTL field with one when "load debug controls" is 1 (Vol. 3C §26.3.1.1).
    public static let debugCtlDefined: UInt64 = 0x7C3
    /// IA32_MISC_ENABLE bits software may change (Vol. 4 Table 2-2): fast strings (0), automatic
    /// thermal control (3), Enhanced Intel SpeedStep enable (16), ENABLE MONITOR FSM (18), limit
    /// CPUID maxval (22), xTPR message disable (23), XD bit disable (34). Bits 7, 11, 12 are read
    /// only (writes leave them); the rest are reserved (#GP(0)).
    public static let miscEnableWritable: UInt64 = 1 | 1 << 3 | 1 << 16 | 1 << 18 | 1 << 22 | 1 << 23 | 1 << 34
    public static let miscEnableReadOnly: UInt64 = 1 << 7 | 1 << 11 | 1 << 12
    public static let names: [UInt32: String] = [
        tsc: "IA32_TIME_STAMP_COUNTER", apicBase: "IA32_APIC_BASE", featureControl: "IA32_FEATURE_CONTROL",
        biosSignId: "IA32_BIOS_SIGN_ID", mtrrcap: "IA32_MTRRCAP", sysenterCS: "IA32_SYSENTER_CS",
        sysenterESP: "IA32_SYSENTER_ESP", sysenterEIP: "IA32_SYSENTER_EIP", pat: "IA32_PAT",
        mtrrDefType: "IA32_MTRR_DEF_TYPE", miscEnable: "IA32_MISC_ENABLE", efer: "IA32_EFER", star: "IA32_STAR",
        lstar: "IA32_LSTAR", cstar: "IA32_CSTAR", fmask: "IA32_FMASK", fsBase: "IA32_FS_BASE",
        gsBase: "IA32_GS_BASE", kernelGSBase: "IA32_KERNEL_GS_BASE", tscAux: "IA32_TSC_AUX", xss: "IA32_XSS",
        debugCtl: "IA32_DEBUGCTL", mcgCap: "IA32_MCG_CAP", mcgStatus: "IA32_MCG_STATUS",
    ]
}

extension CPU {
    @inline(never) func executeSystem(_ i: UnsafePointer<Insn>) throws(Fault) {
        let osz = i.pointee.osz
        switch i.pointee.op {
        case .lgdt, .lidt:
            if cpl != 0 && cr0 & CR0.pe != 0 { throw Fault.GP(0) }
            if !i.pointee.mem { throw Fault.UD() }
            if vmx.nonRoot { try descriptorTableExit(i) }
            let off = ea(i), seg = Int(i.pointee.seg)
            let limit = try readMem(1, seg, off)
            var base: UInt64
            if codeMode == 2 { base = try readMem(3, seg, off &+ 2) }
            else { base = try readMem(2, seg, off &+ 2); if osz == 1 { base &= 0xFF_FFFF } }
            if codeMode == 2 && UInt64(bitPattern: (Int64(bitPattern: base) << 16) >> 16) != base { throw Fault.GP(0) }
            if i.pointee.op == .lgdt { gdtrBase = base; gdtrLimit = UInt32(limit) } else { idtrBase = base; idtrLimit = UInt32(limit) }
        case .sgdt, .sidt:
            if !i.pointee.mem { throw Fault.UD() }
            if vmx.nonRoot { try descriptorTableExit(i) }
            let off = ea(i), seg = Int(i.pointee.seg)
            let (base, limit) = i.pointee.op == .sgdt ? (gdtrBase, gdtrLimit) : (idtrBase, idtrLimit)
            try probeWrite(1, seg, off)
            try writeMem(1, seg, off, UInt64(limit))
            if codeMode == 2 { try writeMem(3, seg, off &+ 2, base) } else { try writeMem(2, seg, off &+ 2, base & 0xFFFF_FFFF) }
        case .lldt, .ltr:
            // #UD in real-address and virtual-8086 mode (Vol. 2A "LLDT", Vol. 2B "LTR").
            if cr0 & CR0.pe == 0 || flagsRest & RFLAGS.vm != 0 { throw Fault.UD() }
            if cpl != 0 { throw Fault.GP(0) }
            if vmx.nonRoot { try descriptorTableExit(i) }
            let sel = UInt16(truncatingIfNeeded: try readRM(i, 1))
            if i.pointee.op == .lldt { try loadLDT(sel) } else { try loadTR(sel) }
        case .sldt, .str:
            // #UD in real-address and virtual-8086 mode (Vol. 2B "SLDT", "STR").
            if cr0 & CR0.pe == 0 || flagsRest & RFLAGS.vm != 0 { throw Fault.UD() }
            if vmx.nonRoot { try descriptorTableExit(i) }
            let sel = UInt64(segs[i.pointee.op == .sldt ? Seg.ldtr : Seg.tr].selector)
            if i.pointee.mem { try writeRM(i, 1, sel) } else { setReg(osz, i.pointee.rm, sel) }
        case .smsw:
            let v = vmx.nonRoot ? crReadNonRoot(cr: 0) : cr0
            if i.pointee.mem { try writeRM(i, 1, v & 0xFFFF) } else { setReg(osz, i.pointee.rm, v & CPU.mask(osz)) }
        case .lmsw:
            if cpl != 0 && cr0 & CR0.pe != 0 { throw Fault.GP(0) }
            // LMSW changes PE, MP, EM, TS only and cannot clear PE (SDM Vol. 2 "LMSW").
            let v = try readRM(i, 1)
            if vmx.nonRoot {
                // §25.1.3 "LMSW": exits if a masked bit among MP/EM/TS differs from the shadow,
                // or if PE is masked, clear in the shadow and set in the source.
                let mask = vmx.cr0Mask, shadow = vmx.cr0Shadow
                if (mask & 0xE) & (shadow ^ v) != 0 || (mask & 1 != 0 && shadow & 1 == 0 && v & 1 != 0) {
                    try vmExitForInstruction(i, .crAccess, qualification: crQualification(
                        cr: 0, type: 3, gpr: i.pointee.mem ? 0 : i.pointee.rm, lmswMem: i.pointee.mem, lmswData: v))
                }
            }
            let mask: UInt64 = vmx.nonRoot ? ~vmx.cr0Mask & 0xF : 0xF
            var n = (cr0 & ~(0xE & mask)) | (v & mask)
            if cr0 & CR0.pe != 0 { n |= CR0.pe }
            try writeCR0(n)
        case .invlpg:
            if cpl != 0 { throw Fault.GP(0) }
            if !i.pointee.mem { throw Fault.UD() }
            if vmx.nonRoot && vmx.proc & Proc.invlpgExiting != 0 {
                // Qualification: the linear-address operand (§27.2.1).
                try vmExitForInstruction(i, .invlpg, qualification: segBase[Int(i.pointee.seg)] &+ ea(i))
            }
            let lin = try linear(Int(i.pointee.seg), ea(i), 1, .read)
            tlb.flush(page: lin)
            tlb.flush()   // large pages may cover more than one 4 KiB TLB entry
        case .invpcid:
            // INVPCID (SDM Vol. 2B "INVPCID"): in VMX non-root operation #UD unless "enable
            // INVPCID" — a secondary control the model does not offer (IA32_VMX_PROCBASED_CTLS2).
            if vmx.nonRoot { throw Fault.UD() }
            if cpl != 0 && cr0 & CR0.pe != 0 { throw Fault.GP(0) }
            let type = getReg(i.pointee.osz, i.pointee.reg)
            let seg = Int(i.pointee.seg), off = ea(i)
            let pcid = try readMem(3, seg, off)
            let addr = try readMem(3, seg, (off &+ 8) & CPU.mask(i.pointee.asz))
            if type > 3 || (type <= 1 && pcid > 0xFFF) { throw Fault.GP(0) }
            if type == 0 && !isCanonical(addr) { throw Fault.GP(0) }
            if type <= 1 && cr4 & CR4.pcide == 0 && pcid != 0 { throw Fault.GP(0) }
            // Types 0 (one address), 1 (one PCID), 2 (all, with globals), 3 (all but globals):
            // the untagged TLB is flushed whole, which covers each.
            tlb.flush()
        case .swapgs:
            if cpl != 0 { throw Fault.GP(0) }
            let g = segs[Seg.gs].base
            segs[Seg.gs].base = msrs.kernelGSBase
            msrs.kernelGSBase = g
            refreshSegmentCache(Seg.gs)
        case .rdtsc, .rdtscp:
            // RDTSCP in VMX non-root operation with "enable RDTSCP" = 0 is #UD (Vol. 3C §25.3
            // "Changes to Instruction Behavior in VMX Non-Root Operation").
            if vmx.nonRoot && i.pointee.op == .rdtscp && vmx.proc2 & Proc2.enableRDTSCP == 0 { throw Fault.UD() }
            if cr4 & CR4.tsd != 0 && cpl != 0 && cr0 & CR0.pe != 0 { throw Fault.GP(0) }
            if vmx.nonRoot && vmx.proc & Proc.rdtscExiting != 0 {
                try vmExitForInstruction(i, i.pointee.op == .rdtsc ? .rdtsc : .rdtscp, qualification: 0, instructionInfo: 0)
            }
            let t = vmx.nonRoot ? tsc &+ vmx.tscOffset : tsc
            regs[Reg.rax] = t & 0xFFFF_FFFF
            regs[Reg.rdx] = t >> 32
            if i.pointee.op == .rdtscp { regs[Reg.rcx] = msrs.tscAux & 0xFFFF_FFFF }
        case .rdpid:
            // RDPID too is #UD in VMX non-root operation with "enable RDTSCP" = 0 (Vol. 3C §25.3
            // "Changes to Instruction Behavior in VMX Non-Root Operation", RDPID).
            if vmx.nonRoot && vmx.proc2 & Proc2.enableRDTSCP == 0 { throw Fault.UD() }
            regs[Reg.rax] = codeMode == 2 ? msrs.tscAux : msrs.tscAux & 0xFFFF_FFFF
        case .rdpmc:
            // No performance counters are modeled (CPUID.0AH reports version 0): every index is invalid.
            if cpl != 0 && cr4 & CR4.pce == 0 && cr0 & CR0.pe != 0 { throw Fault.GP(0) }
            if vmx.nonRoot && vmx.proc & Proc.rdpmcExiting != 0 { try vmExitForInstruction(i, .rdpmc, qualification: 0, instructionInfo: 0) }
            throw Fault.GP(0)
        case .movFromCR:
            if cpl != 0 { throw Fault.GP(0) }
            if vmx.nonRoot {
                let r = i.pointee.reg
                if (r == 3 && vmx.proc & Proc.cr3StoreExiting != 0) || (r == 8 && vmx.proc & Proc.cr8StoreExiting != 0) {
                    try vmExitForInstruction(i, .crAccess, qualification: crQualification(cr: r, type: 1, gpr: i.pointee.rm), instructionInfo: 0)
                }
            }
            let v: UInt64
            switch i.pointee.reg {
            case 0: v = vmx.nonRoot ? crReadNonRoot(cr: 0) : cr0
            case 2: v = cr2
            case 3: v = cr3
            case 4: v = vmx.nonRoot ? crReadNonRoot(cr: 4) : cr4
            default: v = platform?.cr8 ?? cr8
            }
            setReg(osz, i.pointee.rm, codeMode == 2 ? v : v & 0xFFFF_FFFF)
        case .movToCR:
            if cpl != 0 { throw Fault.GP(0) }
            var v = getReg(osz, i.pointee.rm)
            if vmx.nonRoot {
                // §25.1.3 "MOV to CR0/CR3/CR4/CR8".
                let r = i.pointee.reg
                switch r {
                case 0, 4: v = try crWriteNonRoot(i, cr: r, value: v)
                case 3 where cr3LoadExits(v), 8 where vmx.proc & Proc.cr8LoadExiting != 0:
                    try vmExitForInstruction(i, .crAccess, qualification: crQualification(cr: r, type: 0, gpr: i.pointee.rm), instructionInfo: 0)
                default: break
                }
            }
            switch i.pointee.reg {
            case 0: try writeCR0(v)
            case 2: cr2 = v
            case 3: try writeCR3(v)
            case 4: try writeCR4(v)
            default:
                if v & ~0xF != 0 { throw Fault.GP(0) }
                cr8 = v
                platform?.cr8 = v
            }
        case .movFromDR, .movToDR:
            if cpl != 0 { throw Fault.GP(0) }
            var r = i.pointee.reg
            // DR4/DR5 alias DR6/DR7 unless CR4.DE (then #UD) (SDM Vol. 3A §17.2.2).
            if r == 4 || r == 5 { if cr4 & CR4.de != 0 { throw Fault.UD() }; r += 2 }
            if vmx.nonRoot && vmx.proc & Proc.movDRExiting != 0 {
                // Qualification (§27.2.1 Table 27-4): DR number 2:0, direction 4 (1 = MOV from DR), GPR 11:8.
                let q = UInt64(i.pointee.reg & 7) | (i.pointee.op == .movFromDR ? 16 : 0) | UInt64(i.pointee.rm & 0xF) << 8
                try vmExitForInstruction(i, .movDR, qualification: q, instructionInfo: 0)
            }
            // General detect (SDM Vol. 3A §17.2.4 "Debug Control Register (DR7)", GD; §17.3.1.3
            // "General-Detect Exception Condition"): with DR7.GD = 1 any MOV to or from a debug
            // register is a #DB fault, DR6.BD set, before the instruction executes. It is not among
            // the faults that take priority over a VM exit (Vol. 3C §25.1.1 "Relative Priority of
            // Faults and VM Exits"), so MOV-DR exiting comes first.
            if dr7 & 0x2000 != 0 { throw Fault.debug(0x2000, trap: false) }
            if i.pointee.op == .movFromDR {
                let v: UInt64
                switch r {
                case 0: v = dr.0
                case 1: v = dr.1
                case 2: v = dr.2
                case 3: v = dr.3
                case 6: v = dr6
                default: v = dr7
                }
                setReg(osz, i.pointee.rm, v)
            } else {
                let v = getReg(osz, i.pointee.rm)
                switch r {
                case 0: dr.0 = v
                case 1: dr.1 = v
                case 2: dr.2 = v
                case 3: dr.3 = v
                case 6:
                    if v >> 32 != 0 { throw Fault.GP(0) }
                    dr6 = (v & 0x0001_E00F) | 0xFFFF_0FF0
                default:
                    if v >> 32 != 0 { throw Fault.GP(0) }
                    // R/W = 10B is an I/O breakpoint only with CR4.DE = 1; with DE = 0 its meaning
                    // is undefined (SDM Vol. 3A §17.2.4 "Debug Control Register (DR7)"): say so
                    // rather than pick a behaviour.
                    for n in 0..<4 where (v >> UInt64(2 * n)) & 3 != 0 && (v >> UInt64(16 + 4 * n)) & 3 == 2 && cr4 & CR4.de == 0 {
                        throw unimplementedStop("MOV DR7 with R/W\(n) = 10B while CR4.DE = 0 (undefined; DR7=0x\(hex(v)))")
                    }
                    dr7 = (v & 0xFFFF_2BFF) | 0x400
                }
                debugRegistersChanged()
            }
        case .rdmsr:
            if cpl != 0 { throw Fault.GP(0) }
            if vmx.nonRoot && msrExits(UInt32(truncatingIfNeeded: regs[Reg.rcx]), write: false) {
                try vmExitForInstruction(i, .rdmsr, qualification: 0, instructionInfo: 0)
            }
            let v = try readMSR(UInt32(truncatingIfNeeded: regs[Reg.rcx]))
            regs[Reg.rax] = v & 0xFFFF_FFFF
            regs[Reg.rdx] = v >> 32
        case .wrmsr:
            if cpl != 0 { throw Fault.GP(0) }
            if vmx.nonRoot && msrExits(UInt32(truncatingIfNeeded: regs[Reg.rcx]), write: true) {
                try vmExitForInstruction(i, .wrmsr, qualification: 0, instructionInfo: 0)
            }
            let v = (regs[Reg.rdx] & 0xFFFF_FFFF) << 32 | (regs[Reg.rax] & 0xFFFF_FFFF)
            try writeMSR(UInt32(truncatingIfNeeded: regs[Reg.rcx]), v)
        case .cpuid:
            if vmx.nonRoot { try vmExitForInstruction(i, .cpuid, qualification: 0, instructionInfo: 0) }   // §25.1.2: unconditional
            let (a, b, c, d) = CPUModel.cpuid(leaf: UInt32(truncatingIfNeeded: regs[Reg.rax]), subleaf: UInt32(truncatingIfNeeded: regs[Reg.rcx]), cpu: self)
            regs[Reg.rax] = UInt64(a); regs[Reg.rbx] = UInt64(b); regs[Reg.rcx] = UInt64(c); regs[Reg.rdx] = UInt64(d)
        case .sysenter:
            try sysenter()
        case .sysexit:
            try sysexit(osz)
        case .syscall:
            try syscall()
        case .sysret:
            try sysret(osz)
        case .clts:
            if cpl != 0 { throw Fault.GP(0) }
            if vmx.nonRoot && vmx.cr0Mask & CR0.ts != 0 {
                // §25.1.3 "CLTS": exits if TS is host-owned and set in the read shadow; otherwise
                // a host-owned TS is left alone.
                if vmx.cr0Shadow & CR0.ts != 0 {
                    try vmExitForInstruction(i, .crAccess, qualification: crQualification(cr: 0, type: 2, gpr: 0), instructionInfo: 0)
                }
                return
            }
            cr0 &= ~CR0.ts
        case .invd, .wbinvd:
            if cpl != 0 { throw Fault.GP(0) }
            if vmx.nonRoot && (i.pointee.op == .invd || vmx.proc2 & Proc2.wbinvdExiting != 0) {
                try vmExitForInstruction(i, i.pointee.op == .invd ? .invd : .wbinvd, qualification: 0, instructionInfo: 0)
            }   // caches are not modeled: nothing to write back
        case .clflush:
            _ = try readMem(0, Int(i.pointee.seg), ea(i))   // faults like a byte load; no cache to flush
        case .lar, .lsl, .verr, .verw:
            try accessRightsQuery(i)
        case .vmxon, .vmxoff, .vmclear, .vmptrld, .vmptrst, .vmread, .vmwrite, .vmlaunch, .vmresume, .vmcall:
            try executeVMX(i)
        case .monitor, .mwait:
            // MONITOR / MWAIT (SDM Vol. 2B): CPL > 0 is #UD here (IA32_MISC_ENABLE gives no ring-3
            // MONITOR); in VMX non-root operation "MONITOR exiting"/"MWAIT exiting" cause exits
            // 39/36 (SDM Vol. 3C §25.1.3), ahead of the #GP checks on ECX.
            // #UD while IA32_MISC_ENABLE.ENABLE MONITOR FSM (bit 18) is 0: CPUID.01H:ECX.MONITOR
            // then reads 0 (Vol. 2B "MONITOR", "#UD If CPUID.01H:ECX.MONITOR[bit 3] = 0").
            if msrs.miscEnable & (1 << 18) == 0 { throw Fault.UD() }
            if cpl != 0 && cr0 & CR0.pe != 0 { throw Fault.UD() }
            let isMonitor = i.pointee.op == .monitor
            if vmx.nonRoot {
                if isMonitor && vmx.proc & Proc.monitorExiting != 0 {
                    try vmExitForInstruction(i, .monitor, qualification: 0, instructionInfo: 0)
                }
                if !isMonitor && vmx.proc & Proc.mwaitExiting != 0 {
                    // Qualification bit 0: the monitoring hardware is armed (§27.2.1).
                    try vmExitForInstruction(i, .mwait, qualification: monitorArmed ? 1 : 0, instructionInfo: 0)
                }
            }
            let ecx = regs[Reg.rcx] & 0xFFFF_FFFF
            if isMonitor {
                // ECX: no extensions are defined (#GP(0) if nonzero); DS:rAX (segment override
                // allowed) is checked and translated like a byte load.
                if ecx != 0 { throw Fault.GP(0) }
                let off = regs[Reg.rax] & CPU.mask(i.pointee.asz)
                _ = try linear(Int(i.pointee.seg), off, 1, .read)
                monitorArmed = true
            } else {
                // ECX bit 0 (treat interrupts as break events) is the only extension (CPUID.5:ECX).
                if ecx & ~1 != 0 { throw Fault.GP(0) }
                // No other agent can write the monitored line and no interrupt source exists, so
                // the wait ends at once — MWAIT may leave the optimized state for any
                // implementation-specific reason (SDM Vol. 2B "MWAIT"). The monitor is disarmed.
                monitorArmed = false
            }
        default:
            throw unimplementedStop("op \(i.pointee.op)")
        }
    }

    /// Recompute the guest's enabled breakpoints from DR0–DR3 and DR7 (SDM Vol. 3A §17.2.4,
    /// §17.2.5 "Breakpoint Field Recognition": the address is aligned down to the length, and
    /// LEN 10B is 8 bytes). Called after MOV DR, VM transitions and debugger register writes.
    public func debugRegistersChanged() {
        var list: [GuestBreakpoint] = []
        let addrs = [dr.0, dr.1, dr.2, dr.3]
        for n in 0..<4 where (dr7 >> UInt64(2 * n)) & 3 != 0 {
            let rw = UInt8((dr7 >> UInt64(16 + 4 * n)) & 3)
            guard let kind = GuestBreakpoint.Kind(rawValue: rw) else { continue }
            // I/O breakpoints exist only while CR4.DE = 1 (§17.2.4); DRn holds the port (its low 16 bits).
            if kind == .io && cr4 & CR4.de == 0 { continue }
            let lenBits = (dr7 >> UInt64(18 + 4 * n)) & 3
            let length: UInt64 = kind == .execute ? 1 : [1, 2, 8, 4][Int(lenBits)]
            let a = kind == .io ? addrs[n] & 0xFFFF : addrs[n]
            list.append(GuestBreakpoint(index: n, address: a & ~(length - 1), length: length, kind: kind))
        }
        if list != guestBreakpoints {
            guestBreakpoints = list
            updateDebugChecks()
            tlb.flush()
        }
    }

    /// TSC: derived from retired instructions so runs are reproducible (1 instruction = 1 tick).
    /// The time-stamp counter: virtual time (instructions retired plus time spent halted, one tick per
    /// virtual nanosecond) plus the offset WRMSR IA32_TIME_STAMP_COUNTER set.
    public var tsc: UInt64 { virtualTime &+ tscOffset }

    // MARK: Control registers (SDM Vol. 3A §2.5 "Control Registers", Vol. 2 "MOV—Move to/from Control Registers")

    @usableFromInline func writeCR0(_ raw: UInt64) throws(Fault) {
        var v = raw
        if v >> 32 != 0 { throw Fault.GP(0) }
        if v & CR0.pg != 0 && v & CR0.pe == 0 { throw Fault.GP(0) }
        if v & CR0.nw != 0 && v & CR0.cd == 0 { throw Fault.GP(0) }
        // Enabling paging with EFER.LME=1 requires CR4.PAE=1 (§9.8.5); clearing PG in 64-bit code is #GP.
        if v & CR0.pg != 0 && cr0 & CR0.pg == 0 && efer & EFER.lme != 0 {
            if cr4 & CR4.pae == 0 { throw Fault.GP(0) }
            if segs[Seg.cs].attr & SegAttr.l != 0 { throw Fault.GP(0) }
        }
        if v & CR0.pg == 0 && codeMode == 2 { throw Fault.GP(0) }
        if v & CR0.pg == 0 && cr4 & CR4.pcide != 0 { throw Fault.GP(0) }   // "clear CR0.PG while CR4.PCIDE = 1"
        // In VMX operation (root and non-root; unrestricted guest is not supported) CR0 must
        // respect IA32_VMX_CR0_FIXED0 (PE, NE, PG; SDM Vol. 3C §23.8).
        if vmx.on && (v & VMXModel.cr0Fixed0) != VMXModel.cr0Fixed0 { throw Fault.GP(0) }
        v |= CR0.et      // ET is hardwired to 1
        v &= 0xE005_003F // reserved bits read as written? No: bits outside these are reserved and read 0
        let enablingPAE = v & CR0.pg != 0 && (cr0 & CR0.pg == 0 || (v ^ cr0) & (CR0.cd | CR0.nw) != 0)
        if enablingPAE && cr4 & CR4.pae != 0 && efer & EFER.lme == 0 { try loadPDPTEs(cr3) }
        cr0 = v
        modeChanged()
    }

    @usableFromInline func writeCR3(_ v: UInt64) throws(Fault) {
        var v = v
        // With CR4.PCIDE = 1, bit 63 of the source is the "no invalidation" hint and is not
        // stored; bits 11:0 are the PCID (SDM Vol. 3A §4.10.4.1 "Operations that Invalidate TLBs
        // and Paging-Structure Caches", MOV to CR3). The TLB here is not tagged by PCID: every
        // load invalidates it, which the SDM always permits (§4.10.4.4 "Delayed Invalidation"
        // — a processor may invalidate more than required).
        if cr4 & CR4.pcide != 0 { v &= ~(UInt64(1) << 63) }
        if longMode && v & ~((1 << maxPhysAddrBits) - 1) != 0 { throw Fault.GP(0) }
        if pagingMode == 2 { try loadPDPTEs(v) }
        cr3 = longMode ? v : v & 0xFFFF_FFFF
        tlb.flush()
    }

    /// CR4 bits this CPU supports (everything else is reserved: #GP on set).
    /// Matches the CPUID model: no VME/PVI, UMIP, SMEP/SMAP.
    public static let cr4Supported: UInt64 = CR4.tsd | CR4.de | CR4.pse | CR4.pae | CR4.mce | CR4.pge | CR4.pce | CR4.vmxe
        | CR4.osfxsr | CR4.osxmmexcpt | CR4.fsgsbase | CR4.pcide | CR4.osxsave

    @usableFromInline func writeCR4(_ v: UInt64) throws(Fault) {
        if v & ~CPU.cr4Supported != 0 { throw Fault.GP(0) }
        // In VMX operation — root and non-root — CR4 must respect IA32_VMX_CR4_FIXED0/1 (SDM
        // Vol. 3C §23.8 "Restrictions on VMX Operation"): clearing VMXE is #GP(0).
        if vmx.on && ((v & VMXModel.cr4Fixed0) != VMXModel.cr4Fixed0 || v & ~VMXModel.cr4Fixed1 != 0) { throw Fault.GP(0) }
        if longMode && v & CR4.pae == 0 { throw Fault.GP(0) }
        // Setting PCIDE needs IA-32e mode and CR3[11:0] = 0 (SDM Vol. 2B "MOV—Move to/from
        // Control Registers": #GP(0)); clearing it invalidates every TLB entry (modeChanged).
        if v & CR4.pcide != 0 && cr4 & CR4.pcide == 0 && (!longMode || cr3 & 0xFFF != 0) { throw Fault.GP(0) }
        if cr0 & CR0.pg != 0 && !longMode && v & CR4.pae != 0 && (v ^ cr4) & (CR4.pae | CR4.pse | CR4.pge) != 0 {
            try loadPDPTEs(cr3)
        }
        let deChanged = (v ^ cr4) & CR4.de != 0
        cr4 = v
        modeChanged()
        if deChanged { debugRegistersChanged() }    // I/O breakpoints come and go with CR4.DE
    }

    /// Load the four PDPTEs for PAE paging, #GP(0) if a present one sets reserved bits
    /// (SDM Vol. 3A §4.4.1 "PDPTE Registers").
    func loadPDPTEs(_ cr3v: UInt64) throws(Fault) {
        let base = cr3v & 0xFFFF_FFE0
        var e: [UInt64] = []
        for k in 0..<4 {
            let v = readPhys(base + UInt64(k * 8), 8)
            if v & 1 != 0 && v & (0x1E6 | ~((1 << maxPhysAddrBits) - 1)) != 0 { throw Fault.GP(0) }
            e.append(v)
        }
        pdpte = (e[0], e[1], e[2], e[3])
    }

    // MARK: MSRs

    public func readMSR(_ index: UInt32) throws(Fault) -> UInt64 {
        if let p = platform, let answer = p.platformReadMSR(index) {
            guard let v = answer else { throw Fault.GP(0) }
            return v
        }
        switch index {
        case MSR.tsc: return tsc
        case MSR.apicBase: return msrs.apicBase
        case MSR.featureControl: return msrs.featureControl
        // IA32_XSS: the supervisor state components XSAVES/XRSTORS manage; the model has none
        // (CPUID.(EAX=0DH,ECX=1):EDX:ECX = 0), so it is always 0 (SDM Vol. 1 §13.3 "Enabling the
        // XSAVE Feature Set and XSAVE-Enabled Features").
        case MSR.xss: return 0
        case MSR.biosSignId: return msrs.ucodeRev
        case MSR.mtrrcap: return 0x0D0A        // 10 variable ranges, fixed ranges, WC (SDM Vol. 3A §12.11.2.1)
        case MSR.sysenterCS: return msrs.sysenterCS
        case MSR.sysenterESP: return msrs.sysenterESP
        case MSR.sysenterEIP: return msrs.sysenterEIP
        case MSR.pat: return msrs.pat
        case MSR.miscEnable: return msrs.miscEnable
        case MSR.debugCtl: return msrs.debugCtl
        // Machine-check architecture (SDM Vol. 3B §15.3.1 "Machine-Check Global Control MSRs"):
        // IA32_MCG_CAP reports 0 error-reporting banks and no MCG_CTL_P (bit 8), so
        // IA32_MCG_CTL and the bank MSRs IA32_MCi_CTL/STATUS/ADDR/MISC (400H + 4i) do not exist
        // (#GP(0), the default below). Nothing here ever signals a machine check, so
        // IA32_MCG_STATUS stays as software left it.
        case MSR.mcgCap: return 0
        case MSR.mcgStatus: return msrs.mcgStatus
        case MSR.mtrrDefType: return msrs.mtrrDefType
        case 0x200...0x213: return msrs.mtrrVar[Int(index - 0x200)]
        case 0x250: return msrs.mtrrFixed[0]
        case 0x258, 0x259: return msrs.mtrrFixed[Int(index - 0x258) + 1]
        case 0x268...0x26F: return msrs.mtrrFixed[Int(index - 0x268) + 3]
        case MSR.efer: return efer
        case MSR.star: return msrs.star
        case MSR.lstar: return msrs.lstar
        case MSR.cstar: return msrs.cstar
        case MSR.fmask: return msrs.fmask
        case MSR.fsBase: return segs[Seg.fs].base
        case MSR.gsBase: return segs[Seg.gs].base
        case MSR.kernelGSBase: return msrs.kernelGSBase
        case MSR.tscAux: return msrs.tscAux
        case VMXMSR.basic...VMXMSR.procbasedCtls3:
            // The VMX capability MSRs (SDM Appendix A), derived from VMXModel.
            guard let v = VMXMSR.value(index, vmcsEnumValue: VMCSFields.vmcsEnumValue) else { throw Fault.GP(0) }
            return v
        default: throw Fault.GP(0)
        }
    }

    /// Memory types an MTRR may hold: UC 0, WC 1, WT 4, WP 5, WB 6 (SDM Vol. 3A §12.11.1 "MTRR
    /// Feature Identification", Table 12-8 "Memory Types That Can Be Encoded in MTRRs").
    static func validMTRRType(_ t: UInt64) -> Bool { t == 0 || t == 1 || (t >= 4 && t <= 6) }

    @inline(__always) func isCanonical(_ v: UInt64) -> Bool {
        UInt64(bitPattern: (Int64(bitPattern: v) << 16) >> 16) == v
    }

    public func writeMSR(_ index: UInt32, _ v: UInt64) throws(Fault) {
        if let p = platform, let ok = p.platformWriteMSR(index, v) {
            guard ok else { throw Fault.GP(0) }
            return
        }
        switch index {
        case MSR.tsc: tscOffset = v &- virtualTime
        case MSR.apicBase:
            if v & ~(0xF_FFFF_FFFF_F000 | 0x900 | 0x400) != 0 { throw Fault.GP(0) }
            if v & 0x400 != 0 { throw unimplementedStop("WRMSR IA32_APIC_BASE enabling x2APIC (not advertised)") }
            msrs.apicBase = (v & ~0x100) | (msrs.apicBase & 0x100)
        case MSR.xss:
            // Setting a bit not in CPUID.(EAX=0DH,ECX=1):EDX:ECX is #GP(0) — every bit, here.
            if v != 0 { throw Fault.GP(0) }
        case MSR.featureControl:
            // Locked: any write #GP (SDM Vol. 3C §23.7 "Enabling and Entering VMX Operation").
            if msrs.featureControl & 1 != 0 { throw Fault.GP(0) }
            // Defined bits: lock (0), VMX in SMX (1), VMX outside SMX (2); others reserved here.
            if v & ~0x7 != 0 { throw Fault.GP(0) }
            msrs.featureControl = v
        case MSR.biosSignId: msrs.ucodeRev = 0
        case MSR.sysenterCS: msrs.sysenterCS = v & 0xFFFF_FFFF
        case MSR.sysenterESP: if !isCanonical(v) { throw Fault.GP(0) }; msrs.sysenterESP = v
        case MSR.sysenterEIP: if !isCanonical(v) { throw Fault.GP(0) }; msrs.sysenterEIP = v
        case MSR.pat:
            // Each byte must be a valid memory type: 0, 1, 4, 5, 6, 7 (SDM Vol. 3A §12.12.2).
            for k in 0..<8 { let t = (v >> (8 * UInt64(k))) & 0xFF; if t > 7 || t == 2 || t == 3 { throw Fault.GP(0) } }
            msrs.pat = v
        case MSR.miscEnable:
            if v & ~(MSR.miscEnableWritable | MSR.miscEnableReadOnly) != 0 { throw Fault.GP(0) }
            // XD bit disable (34) with EFER.NXE = 1 would make the NXE bit — and XD in the
            // paging structures — reserved under a running OS; no behaviour is modeled for that.
            if v & (1 << 34) != 0 && efer & EFER.nxe != 0 {
                throw unimplementedStop("WRMSR IA32_MISC_ENABLE setting XD bit disable while IA32_EFER.NXE = 1")
            }
            msrs.miscEnable = (v & MSR.miscEnableWritable) | (msrs.miscEnable & MSR.miscEnableReadOnly)
        case MSR.debugCtl:
            if v & ~MSR.debugCtlDefined != 0 { throw Fault.GP(0) }
            // Branch trace messages (TR) stored to the BTS buffer (BTS) need the debug store
            // (IA32_DS_AREA, CPUID.01H:EDX.DS), which the model does not have (§17.4.5 "Branch
            // Trace Store (BTS)"): say so rather than drop the records. LBR is kept but records
            // nothing: the last-branch record stack MSRs do not exist here (RDMSR #GP), so no
            // record can be read wrong. BTF is single-stepping on branches (CPU+Run.swift).
            if v & 0xC0 == 0xC0 { throw unimplementedStop("WRMSR IA32_DEBUGCTL enabling the branch trace store (TR and BTS)") }
            msrs.debugCtl = v
        case MSR.mcgStatus:
            // RIPV (0), EIPV (1), MCIP (2) — LMCE_S (3) needs MCG_LMCE_P, which MCG_CAP does not
            // report; software writes 0 to clear (Vol. 3B §15.3.1.2 "IA32_MCG_STATUS MSR").
            if v & ~0x7 != 0 { throw Fault.GP(0) }
            msrs.mcgStatus = v
        case MSR.mtrrDefType:
            // Type (7:0) a valid memory type, FE (10), E (11); the rest reserved (SDM Vol. 3A
            // §12.11.2.1 "IA32_MTRR_DEF_TYPE MSR").
            if v & ~0xCFF != 0 || !CPU.validMTRRType(v & 0xFF) { throw Fault.GP(0) }
            msrs.mtrrDefType = v
        case 0x200...0x213:
            // IA32_MTRR_PHYSBASEn (even): type 7:0, PhysBase up to MAXPHYADDR; IA32_MTRR_PHYSMASKn
            // (odd): V (11), PhysMask up to MAXPHYADDR; the rest reserved (§12.11.2.3
            // "Variable Range MTRRs"): #GP(0) on a reserved bit or an undefined type (§12.11.2).
            let above = ~((UInt64(1) << maxPhysAddrBits) - 1)
            if index & 1 == 0 {
                if v & (above | 0xF00) != 0 || !CPU.validMTRRType(v & 0xFF) { throw Fault.GP(0) }
            } else if v & (above | 0x7FF) != 0 {
                throw Fault.GP(0)
            }
            msrs.mtrrVar[Int(index - 0x200)] = v
        case 0x250, 0x258, 0x259, 0x268...0x26F:
            // Fixed-range MTRRs: eight type fields, each a valid memory type (§12.11.2.2
            // "Fixed Range MTRRs").
            for k in 0..<8 where !CPU.validMTRRType((v >> (8 * UInt64(k))) & 0xFF) { throw Fault.GP(0) }
            switch index {
            case 0x250: msrs.mtrrFixed[0] = v
            case 0x258, 0x259: msrs.mtrrFixed[Int(index - 0x258) + 1] = v
            default: msrs.mtrrFixed[Int(index - 0x268) + 3] = v
            }
        case MSR.efer:
            // SCE, LME, NXE writable; LMA read-only (SDM Vol. 3A §2.2.1 "Extended Feature Enable Register").
            if v & ~(EFER.sce | EFER.lme | EFER.lma | EFER.nxe) != 0 { throw Fault.GP(0) }
            // NXE is reserved while IA32_MISC_ENABLE disables the XD bit (CPUID.80000001H:EDX.NX = 0).
            if v & EFER.nxe != 0 && msrs.miscEnable & (1 << 34) != 0 { throw Fault.GP(0) }
            if cr0 & CR0.pg != 0 && (v ^ efer) & EFER.lme != 0 { throw Fault.GP(0) }
            efer = (v & ~EFER.lma) | (efer & EFER.lma)
            modeChanged()
        case MSR.star: msrs.star = v
        case MSR.lstar: if !isCanonical(v) { throw Fault.GP(0) }; msrs.lstar = v
        case MSR.cstar: if !isCanonical(v) { throw Fault.GP(0) }; msrs.cstar = v
        case MSR.fmask: msrs.fmask = v & 0xFFFF_FFFF
        case MSR.fsBase: if !isCanonical(v) { throw Fault.GP(0) }; segs[Seg.fs].base = v; refreshSegmentCache(Seg.fs)
        case MSR.gsBase: if !isCanonical(v) { throw Fault.GP(0) }; segs[Seg.gs].base = v; refreshSegmentCache(Seg.gs)
        case MSR.kernelGSBase: if !isCanonical(v) { throw Fault.GP(0) }; msrs.kernelGSBase = v
        case MSR.tscAux: if v >> 32 != 0 { throw Fault.GP(0) }; msrs.tscAux = v
        default: throw Fault.GP(0)
        }
    }

    // MARK: SYSENTER / SYSEXIT (SDM Vol. 2B "SYSENTER", "SYSEXIT")

    /// SYSENTER: to CPL 0 at IA32_SYSENTER_CS:EIP with SS = CS + 8 and the stack at
    /// IA32_SYSENTER_ESP; flat segments whose attributes are fixed, not read from the GDT.
    func sysenter() throws(Fault) {
        let sel = UInt16(truncatingIfNeeded: msrs.sysenterCS) & 0xFFFC
        if cr0 & CR0.pe == 0 || sel == 0 { throw Fault.GP(0) }
        setFlags(flags() & ~(RFLAGS.vm | RFLAGS.if | RFLAGS.rf))
        let long = longMode
        commitCS(SegmentRegister(selector: sel, base: 0, limit: 0xFFFF_FFFF,
                                 attr: 0x9B | SegAttr.g | (long ? SegAttr.l : SegAttr.db)), cpl: 0)
        segs[Seg.ss] = SegmentRegister(selector: sel &+ 8, base: 0, limit: 0xFFFF_FFFF, attr: 0x93 | SegAttr.g | SegAttr.db)
        refreshSegmentCache(Seg.ss)
        regs[Reg.rsp] = long ? msrs.sysenterESP : msrs.sysenterESP & 0xFFFF_FFFF
        rip = long ? msrs.sysenterEIP : msrs.sysenterEIP & 0xFFFF_FFFF
    }

    /// SYSEXIT: to CPL 3 with CS = IA32_SYSENTER_CS + 16 (32-bit) or + 32 (REX.W, 64-bit),
    /// SS = CS + 8, RSP = RCX, RIP = RDX.
    func sysexit(_ osz: UInt8) throws(Fault) {
        let base = UInt16(truncatingIfNeeded: msrs.sysenterCS) & 0xFFFC
        if cr0 & CR0.pe == 0 || base == 0 || cpl != 0 { throw Fault.GP(0) }
        let to64 = osz == 3
        if to64 && (!isCanonical(regs[Reg.rdx]) || !isCanonical(regs[Reg.rcx])) { throw Fault.GP(0) }
        let cs = (base &+ (to64 ? 32 : 16)) | 3
        commitCS(SegmentRegister(selector: cs, base: 0, limit: 0xFFFF_FFFF,
                                 attr: 0xFB | SegAttr.g | (to64 ? SegAttr.l : SegAttr.db)), cpl: 3)
        segs[Seg.ss] = SegmentRegister(selector: cs &+ 8, base: 0, limit: 0xFFFF_FFFF, attr: 0xF3 | SegAttr.g | SegAttr.db)
        refreshSegmentCache(Seg.ss)
        regs[Reg.rsp] = to64 ? regs[Reg.rcx] : regs[Reg.rcx] & 0xFFFF_FFFF
        rip = to64 ? regs[Reg.rdx] : regs[Reg.rdx] & 0xFFFF_FFFF
    }

    // MARK: SYSCALL / SYSRET (SDM Vol. 2 "SYSCALL", "SYSRET")

    func syscall() throws(Fault) {
        if efer & EFER.sce == 0 { throw Fault.UD() }
        regs[Reg.rcx] = rip
        regs[Reg.r11] = flags() & ~RFLAGS.rf
        let sel = UInt16(truncatingIfNeeded: msrs.star >> 32) & ~3
        commitCS(SegmentRegister(selector: sel, base: 0, limit: 0xFFFF_FFFF, attr: 0xA09B), cpl: 0)
        segs[Seg.ss] = SegmentRegister(selector: sel &+ 8, base: 0, limit: 0xFFFF_FFFF, attr: 0xC093)
        refreshSegmentCache(Seg.ss)
        setFlags(flags() & ~msrs.fmask & ~RFLAGS.rf)
        rip = msrs.lstar
    }

    func sysret(_ osz: UInt8) throws(Fault) {
        if efer & EFER.sce == 0 { throw Fault.UD() }
        if cpl != 0 { throw Fault.GP(0) }
        let base = UInt16(truncatingIfNeeded: msrs.star >> 48)
        let to64 = osz == 3
        if to64 && !isCanonical(regs[Reg.rcx]) { throw Fault.GP(0) }
        setFlags((regs[Reg.r11] & 0x3C_7FD7) | 2)
        if to64 {
            commitCS(SegmentRegister(selector: (base &+ 16) | 3, base: 0, limit: 0xFFFF_FFFF, attr: 0xA0FB), cpl: 3)
            rip = regs[Reg.rcx]
        } else {
            commitCS(SegmentRegister(selector: base | 3, base: 0, limit: 0xFFFF_FFFF, attr: 0xC0FB), cpl: 3)
            rip = regs[Reg.rcx] & 0xFFFF_FFFF
        }
        // SS.selector = base + 8 with RPL 3; its attributes are fixed, not loaded from the GDT.
        segs[Seg.ss].selector = (base &+ 8) | 3
        segs[Seg.ss].attr = 0xC0F3
        segs[Seg.ss].limit = 0xFFFF_FFFF
        refreshSegmentCache(Seg.ss)
    }

    /// LAR, LSL, VERR, VERW (SDM Vol. 2): ZF reports whether the selector passes the checks.
    /// All four are #UD in real-address and virtual-8086 mode ("Virtual-8086 Mode Exceptions").
    func accessRightsQuery(_ i: UnsafePointer<Insn>) throws(Fault) {
        if cr0 & CR0.pe == 0 || flagsRest & RFLAGS.vm != 0 { throw Fault.UD() }
        let sel = UInt16(truncatingIfNeeded: try readRM(i, 1))
        var ok = false
        var d: Descriptor? = nil
        if sel & ~3 != 0 { d = try? fetchDescriptor(sel) }
        if let d {
            let rpl = UInt8(sel & 3)
            let privOK = d.conforming || (d.dpl >= cpl && d.dpl >= rpl)
            switch i.pointee.op {
            case .lar:
                let validSys: Set<UInt32> = longMode ? [2, 9, 0xB, 0xC] : [1, 2, 3, 4, 5, 9, 0xB, 0xC]
                ok = privOK && (!d.isSystem || validSys.contains(d.type))
                if ok { setReg(i.pointee.osz, i.pointee.reg, UInt64(d.hi) & 0x00F0_FF00 & CPU.mask(i.pointee.osz)) }
            case .lsl:
                let validSys: Set<UInt32> = longMode ? [2, 9, 0xB] : [1, 2, 3, 9, 0xB]
                ok = privOK && (!d.isSystem || validSys.contains(d.type))
                if ok { setReg(i.pointee.osz, i.pointee.reg, UInt64(d.limit) & CPU.mask(i.pointee.osz)) }
            case .verr:
                ok = !d.isSystem && privOK && d.readable
            default:
                ok = !d.isSystem && !d.isCode && d.writableData && d.dpl >= cpl && d.dpl >= rpl
            }
        }
        let f = arithFlags()
        setArith(ok ? f | RFLAGS.zf : f & ~RFLAGS.zf)
    }
}

extension Reg {
    public static let r11 = 11
}
