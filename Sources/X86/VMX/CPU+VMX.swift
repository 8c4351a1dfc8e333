/// VMX operation: the VMX state of the logical processor, the VMCS region format, and the VMX
/// instructions (SDM Vol. 3C ch. 30 "VMX Instruction Reference"; §23.7 "Enabling and Entering VMX
/// Operation"; §23.8 "Restrictions on VMX Operation"; §24.11 "Software Use of the VMCS and
/// Related Structures").

/// VMX state of the logical processor (not guest-visible memory).
public struct VMXState: Sendable {
    public static let invalidPointer: UInt64 = ~0
    /// In VMX operation (root or non-root).
    public var on = false
    /// In VMX non-root operation (a guest runs).
    public var nonRoot = false
    /// The VMXON pointer (physical address of the VMXON region).
    public var vmxonPointer: UInt64 = 0
    /// The current-VMCS pointer; `invalidPointer` when there is none (§24.1 "Overview").
    public var currentVMCS: UInt64 = VMXState.invalidPointer
    /// Address of the instruction after a MOV SS / POP SS (blocking by MOV SS, §24.4.2 Table 24-3).
    var ssShadowRip: UInt64 = ~0
    /// Address of the instruction after STI that set IF (blocking by STI).
    var stiShadowRip: UInt64 = ~0

    // Controls of the running guest, read at VM entry (valid while `nonRoot`).
    var pin: UInt32 = 0, proc: UInt32 = 0, proc2: UInt32 = 0, exitCtl: UInt32 = 0, entryCtl: UInt32 = 0
    var exceptionBitmap: UInt32 = 0, pfecMask: UInt32 = 0, pfecMatch: UInt32 = 0
    var cr0Mask: UInt64 = 0, cr4Mask: UInt64 = 0, cr0Shadow: UInt64 = 0, cr4Shadow: UInt64 = 0
    var tscOffset: UInt64 = 0
    /// The VM-entry interruption information of an event being injected (0 = none).
    var injecting: UInt32 = 0
    /// IDT-vectoring information for the next VM exit: the event whose delivery it interrupts.
    var vectoring: UInt32 = 0
    var vectoringError: UInt32 = 0

    // What happened (for the debugger, the REPL and reports).
    public var entries: UInt64 = 0
    public var exits: UInt64 = 0
    /// The last VM exit's full exit-reason field (bit 31 set for an entry failure).
    public var lastExitReason: UInt32? = nil
    /// The first failing check of the last failed VM entry (VMfailValid 7/8 or exit 33).
    public var lastEntryFailure: EntryCheckFailure? = nil
    /// The last VM-instruction error number set by VMfailValid.
    public var lastInstructionError: UInt32? = nil
    /// The VMfail of the VMX instruction executing now (0 = VMfailInvalid), for `break vmfail`.
    var failedNow: UInt32? = nil
    /// Stop the run (StopCause.vmx) at these events: the debugger's `break exit|entry|vmfail`.
    public var breakOnExit = false, breakOnEntry = false, breakOnEntryFailure = false, breakOnVMFail = false
    /// Basic exit reasons to stop at when `breakOnExit` (empty = every reason).
    public var breakExitReasons: Set<UInt16> = []
    /// The debugger's `break vmx INSN`: stop before these VMX instructions execute in VMX root
    /// operation or outside VMX operation (bit = `VMXState.breakBit(op)`; 0 = none).
    public var breakBeforeVMX: UInt16 = 0
    /// The RIP of the VMX instruction a `break vmx` stop stopped before: the resume runs it.
    var breakBeforeVMXSkip: UInt64 = ~0
    /// Every VMCS region VMCLEAR or VMPTRLD named successfully, in first-seen order (the
    /// debugger's `vmcs list`; at most 64 kept).
    public var knownVMCS: [UInt64] = []

    /// The `breakBeforeVMX` bit of a VMX instruction (nil for other ops).
    public static func breakBit(_ op: Op) -> UInt16? {
        switch op {
        case .vmxon: return 1 << 0
        case .vmxoff: return 1 << 1
        case .vmclear: return 1 << 2
        case .vmptrld: return 1 << 3
        case .vmptrst: return 1 << 4
        case .vmread: return 1 << 5
        case .vmwrite: return 1 << 6
        case .vmlaunch: return 1 << 7
        case .vmresume: return 1 << 8
        case .vmcall: return 1 << 9
        default: return nil
        }
    }

    mutating func noteVMCS(_ a: UInt64) {
        if !knownVMCS.contains(a) && knownVMCS.count < 64 { knownVMCS.append(a) }
    }

    public init() {}
}

/// The layout of a VMCS region in guest memory — our implementation-specific format (§24.2
/// "Format of the VMCS Region": bytes 0–3 revision identifier and shadow-VMCS indicator, bytes
/// 4–7 VMX-abort indicator, the rest implementation-specific). Fields live at offsets derived
/// from their encoding (width bits 14:13, type bits 11:10, index bits 9:1), so any tool can read
/// any VMCS page without knowing which CPU wrote it:
///   8      launch state (32 bits: 0 = clear, 1 = launched)
///   64     16- and 32-bit fields: 4 bytes each at 64 + ((type × 2 + (width = 32-bit)) × 32 + index) × 4
///   1088   64-bit and natural-width fields: 8 bytes each at 1088 + ((type × 2 + (width = natural)) × 32 + index) × 8
///   3136   64 bytes: one bit per field (bit `VMCSFields.slot`), set by VMWRITE, cleared by VMCLEAR —
///          so the debugger can say which fields software never wrote since VMCLEAR
public enum VMCSLayout {
    public static let revisionOffset: UInt64 = 0
    public static let abortOffset: UInt64 = 4
    public static let launchStateOffset: UInt64 = 8
    public static let writtenBitmapOffset: UInt64 = 3136

    /// Byte offset and size of a field in the region.
    @inline(__always) public static func location(_ encoding: UInt32) -> (offset: UInt64, size: UInt64) {
        let width = (encoding >> 13) & 3, type = (encoding >> 10) & 3, index = (encoding >> 1) & 0x1F
        switch width {
        case 0, 2:   // 16-bit, 32-bit
            return (64 + UInt64(((type * 2 + (width == 2 ? 1 : 0)) * 32 + index) * 4), width == 0 ? 2 : 4)
        default:     // 64-bit, natural width
            return (1088 + UInt64(((type * 2 + (width == 3 ? 1 : 0)) * 32 + index) * 8), 8)
        }
    }
}

extension CPU {
    // MARK: VMCS access (the current VMCS, or any region by address)

    /// Read a field of the VMCS at physical address `vmcs`.
    public func vmcsRead(_ f: VMCSFieldID, at vmcs: UInt64) -> UInt64 {
        let (off, size) = VMCSLayout.location(f.rawValue)
        return readPhys(vmcs &+ off, size)
    }

    /// Write a field of the VMCS at `vmcs` (the value is truncated to the field's width).
    public func vmcsWrite(_ f: VMCSFieldID, _ v: UInt64, at vmcs: UInt64) {
        let (off, size) = VMCSLayout.location(f.rawValue)
        writePhys(vmcs &+ off, size, v)
    }

    /// Fields of the current VMCS.
    @inline(__always) func vmread(_ f: VMCSFieldID) -> UInt64 { vmcsRead(f, at: vmx.currentVMCS) }
    @inline(__always) func vmwrite(_ f: VMCSFieldID, _ v: UInt64) { vmcsWrite(f, v, at: vmx.currentVMCS) }

    /// Launch state of the VMCS at `vmcs` (§24.1: "clear" or "launched").
    public func vmcsLaunched(at vmcs: UInt64) -> Bool { readPhys(vmcs &+ VMCSLayout.launchStateOffset, 4) == 1 }

    /// Has software written field `f` of the VMCS at `vmcs` with VMWRITE since its last VMCLEAR?
    public func vmcsWritten(_ f: VMCSFieldID, at vmcs: UInt64) -> Bool {
        let slot = UInt64(VMCSFields.slot(f))
        return readPhys(vmcs &+ VMCSLayout.writtenBitmapOffset &+ slot / 8, 1) & (1 << (slot % 8)) != 0
    }

    /// Marks field `f` written (VMWRITE does; so does the debugger's `vmcs set`).
    public func markVMCSWritten(_ f: VMCSFieldID, at vmcs: UInt64) {
        let slot = UInt64(VMCSFields.slot(f))
        let a = vmcs &+ VMCSLayout.writtenBitmapOffset &+ slot / 8
        writePhys(a, 1, readPhys(a, 1) | (1 << (slot % 8)))
    }

    // MARK: Conventions (§30.2 "Conventions")

    func vmSucceed() { setFlags(flags() & ~RFLAGS.arith) }
    func vmFailInvalid() { setFlags((flags() & ~RFLAGS.arith) | RFLAGS.cf); vmx.failedNow = 0 }
    func vmFailValid(_ n: UInt32) {
        setFlags((flags() & ~RFLAGS.arith) | RFLAGS.zf)
        vmx.failedNow = n
        vmwrite(.vmInstructionError, UInt64(n))
        vmx.lastInstructionError = n
    }
    /// VMfail(n): VMfailValid(n) with a current VMCS, VMfailInvalid without.
    func vmFail(_ n: UInt32) {
        if vmx.currentVMCS != VMXState.invalidPointer { vmFailValid(n) } else { vmFailInvalid() }
    }

    /// A physical address operand is invalid if not 4-KByte aligned or beyond the
    /// physical-address width (§30.3, e.g. "VMCLEAR—Clear Virtual-Machine Control Structure").
    func invalidVMXAddress(_ a: UInt64) -> Bool { a & 0xFFF != 0 || a >> maxPhysAddrBits != 0 }

    /// The common first checks of VMX instructions other than VMXON (§30.3, each instruction's
    /// "Operation"): #UD outside VMX operation, in real/virtual-8086 mode or compatibility mode;
    /// a VM exit in VMX non-root operation (thrown as `.redirect`); #GP(0) at CPL > 0.
    func vmxPrelude(_ i: UnsafePointer<Insn>, exitReason: VMXExitReason) throws(Fault) {
        if !vmx.on || cr0 & CR0.pe == 0 || flagsRest & RFLAGS.vm != 0 || (longMode && codeMode != 2) { throw Fault.UD() }
        if vmx.nonRoot { try vmExitForInstruction(i, exitReason) }
        if cpl != 0 { throw Fault.GP(0) }
    }

    /// The 64-bit memory operand of VMXON/VMCLEAR/VMPTRLD (register forms are #UD at decode).
    func vmxPointerOperand(_ i: UnsafePointer<Insn>) throws(Fault) -> UInt64 {
        try readMem(3, Int(i.pointee.seg), ea(i))
    }

    // MARK: The instructions

    @inline(never) func executeVMX(_ i: UnsafePointer<Insn>) throws(Fault) {
        if vmx.breakBeforeVMX != 0 && !vmx.nonRoot { try breakBeforeVMX(i) }
        vmx.failedNow = nil
        try executeVMXInstruction(i)
        // The debugger's `break vmfail`: stop after any VMX instruction that ended in VMfail
        // (VMLAUNCH/VMRESUME report theirs in vmFailStop).
        if let e = vmx.failedNow, vmx.breakOnVMFail, i.pointee.op != .vmlaunch && i.pointee.op != .vmresume {
            pendingStop = .vmx(.vmfail(error: e))
            throw Fault(kind: .stop, vector: 0xFF, trap: true)
        }
    }

    func executeVMXInstruction(_ i: UnsafePointer<Insn>) throws(Fault) {
        switch i.pointee.op {
        case .vmxon:
            // VMXON (§30.3 "VMXON—Enter VMX Operation").
            if cr0 & CR0.pe == 0 || cr4 & CR4.vmxe == 0 || flagsRest & RFLAGS.vm != 0 || (longMode && codeMode != 2) {
                throw Fault.UD()
            }
            if vmx.nonRoot { try vmExitForInstruction(i, .vmxon) }
            if vmx.on {
                if cpl != 0 { throw Fault.GP(0) }
                vmFail(VMInstructionError.vmxonInRoot.rawValue)
                return
            }
            if cpl != 0 { throw Fault.GP(0) }
            // CR0/CR4 must satisfy the fixed bits (§23.8), and IA32_FEATURE_CONTROL must be locked
            // with VMX outside SMX enabled (§23.7).
            if (cr0 & VMXModel.cr0Fixed0) != VMXModel.cr0Fixed0 || cr0 & ~VMXModel.cr0Fixed1 & 0xFFFF_FFFF != 0
                || (cr4 & VMXModel.cr4Fixed0) != VMXModel.cr4Fixed0 || cr4 & ~VMXModel.cr4Fixed1 != 0
                || msrs.featureControl & 1 == 0 || msrs.featureControl & 4 == 0 {
                throw Fault.GP(0)
            }
            let addr = try vmxPointerOperand(i)
            if invalidVMXAddress(addr) { vmFailInvalid(); return }
            let rev = UInt32(truncatingIfNeeded: readPhys(addr, 4))
            if rev & 0x7FFF_FFFF != VMXModel.revision || rev & 0x8000_0000 != 0 { vmFailInvalid(); return }
            vmx.on = true
            vmx.vmxonPointer = addr
            vmx.currentVMCS = VMXState.invalidPointer
            vmSucceed()
        case .vmxoff:
            // VMXOFF (§30.3 "VMXOFF—Leave VMX Operation"). Dual-monitor treatment is not supported.
            try vmxPrelude(i, exitReason: .vmxoff)
            vmx.on = false
            vmx.currentVMCS = VMXState.invalidPointer
            vmSucceed()
        case .vmclear:
            // VMCLEAR (§30.3 "VMCLEAR—Clear Virtual-Machine Control Structure").
            try vmxPrelude(i, exitReason: .vmclear)
            let addr = try vmxPointerOperand(i)
            if invalidVMXAddress(addr) { vmFail(VMInstructionError.vmclearInvalidAddress.rawValue); return }
            if addr == vmx.vmxonPointer { vmFail(VMInstructionError.vmclearVMXONPointer.rawValue); return }
            // The VMCS data is always in memory here (nothing to write back); launch state ← clear.
            writePhys(addr &+ VMCSLayout.launchStateOffset, 4, 0)
            for k in 0..<UInt64(8) { writePhys(addr &+ VMCSLayout.writtenBitmapOffset &+ k * 8, 8, 0) }
            if addr == vmx.currentVMCS { vmx.currentVMCS = VMXState.invalidPointer }
            vmx.noteVMCS(addr)
            vmSucceed()
        case .vmptrld:
            // VMPTRLD (§30.3 "VMPTRLD—Load Pointer to Virtual-Machine Control Structure").
            try vmxPrelude(i, exitReason: .vmptrld)
            let addr = try vmxPointerOperand(i)
            if invalidVMXAddress(addr) { vmFail(VMInstructionError.vmptrldInvalidAddress.rawValue); return }
            if addr == vmx.vmxonPointer { vmFail(VMInstructionError.vmptrldVMXONPointer.rawValue); return }
            let rev = UInt32(truncatingIfNeeded: readPhys(addr, 4))
            // Bit 31 (shadow-VMCS indicator) may be 1 only with VMCS shadowing, not supported.
            if rev & 0x7FFF_FFFF != VMXModel.revision || rev & 0x8000_0000 != 0 {
                vmFail(VMInstructionError.vmptrldBadRevision.rawValue); return
            }
            vmx.currentVMCS = addr
            vmx.noteVMCS(addr)
            vmSucceed()
        case .vmptrst:
            // VMPTRST (§30.3 "VMPTRST—Store Pointer to Virtual-Machine Control Structure").
            try vmxPrelude(i, exitReason: .vmptrst)
            try writeMem(3, Int(i.pointee.seg), ea(i), vmx.currentVMCS)
            vmSucceed()
        case .vmread, .vmwrite:
            try vmreadVMwrite(i)
        case .vmlaunch, .vmresume:
            try vmEntryInstruction(i, launch: i.pointee.op == .vmlaunch)
        case .vmcall:
            // VMCALL (§30.3 "VMCALL—Call to VM Monitor"): outside VMX operation #UD; in non-root a
            // VM exit; in root, with IA32_SMM_MONITOR_CTL[0] = 0 (no dual-monitor treatment):
            // VMfail("VMCALL executed in VMX root operation").
            if !vmx.on { throw Fault.UD() }
            if vmx.nonRoot { try vmExitForInstruction(i, .vmcall) }
            if flagsRest & RFLAGS.vm != 0 || (longMode && codeMode != 2) { throw Fault.UD() }
            if cpl != 0 { throw Fault.GP(0) }
            vmFail(VMInstructionError.vmcallInRoot.rawValue)
        default:
            throw unimplementedStop("VMX op \(i.pointee.op)")
        }
    }

    /// The debugger's `break vmx`: stop before the instruction (RIP at its start), once — the
    /// resume executes it.
    func breakBeforeVMX(_ i: UnsafePointer<Insn>) throws(Fault) {
        guard let bit = VMXState.breakBit(i.pointee.op), vmx.breakBeforeVMX & bit != 0 else { return }
        let start = rip &- UInt64(i.pointee.len)
        if vmx.breakBeforeVMXSkip == start { vmx.breakBeforeVMXSkip = ~0; return }
        vmx.breakBeforeVMXSkip = start
        pendingStop = .breakpoint(rip: start)
        throw Fault(kind: .stop, vector: 0xFF, trap: false)
    }

    /// The debugger's disassembler: decode the instruction at linear `lin` in the current mode
    /// (nil when the fetch faults). Use it on a scratch CPU holding a copy of the bytes: the
    /// fetch walks the page tables like an instruction fetch.
    public func decodeForDebugger(at lin: UInt64) -> Insn? {
        try? decode(at: lin, csLimitCheck: false)
    }

    /// VMREAD and VMWRITE (§30.3 "VMREAD—Read Field from Virtual-Machine Control Structure",
    /// "VMWRITE—Write Field to Virtual-Machine Control Structure"; §24.11.2 "VMREAD, VMWRITE,
    /// and Encodings of VMCS Fields"). The field encoding is in the ModRM.reg register
    /// (VMREAD: source; VMWRITE: first operand); r/m is the destination (VMREAD) or source (VMWRITE).
    func vmreadVMwrite(_ i: UnsafePointer<Insn>) throws(Fault) {
        let isRead = i.pointee.op == .vmread
        try vmxPrelude(i, exitReason: isRead ? .vmread : .vmwrite)
        if vmx.currentVMCS == VMXState.invalidPointer { vmFailInvalid(); return }
        let size: UInt8 = codeMode == 2 ? 3 : 2
        // Outside 64-bit mode the encoding is a 32-bit register; bits 63:15 (31:15) must be 0,
        // which the lookup enforces (no field has an encoding above 0x7FFF).
        let encoding = getReg(size, i.pointee.reg)
        guard encoding <= 0xFFFF_FFFF, let (field, high) = VMCSFields.byEncoding(UInt32(encoding)), VMCSFields.exists(field) else {
            if isRead {
                vmFail(VMInstructionError.unsupportedComponent.rawValue)
            } else {
                // VMWRITE reads its source operand before checking the encoding (memory faults first).
                if i.pointee.mem { _ = try readMem(size, Int(i.pointee.seg), ea(i)) }
                vmFail(VMInstructionError.unsupportedComponent.rawValue)
            }
            return
        }
        let (off, fsize) = VMCSLayout.location(field.encoding)
        let addr = vmx.currentVMCS &+ off
        if isRead {
            var v = readPhys(addr, fsize)
            if high { v >>= 32 }
            v &= CPU.mask(size)
            if i.pointee.mem { try writeMem(size, Int(i.pointee.seg), ea(i), v) } else { setReg(size, i.pointee.rm, v) }
            vmSucceed()
        } else {
            let v = i.pointee.mem ? try readMem(size, Int(i.pointee.seg), ea(i)) : getReg(size, i.pointee.rm)
            // Read-only data fields are writable only when IA32_VMX_MISC bit 29 says so (it does not here).
            if field.kind == .readOnlyData { vmFail(VMInstructionError.vmwriteReadOnly.rawValue); return }
            if high {
                writePhys(addr &+ 4, 4, v & 0xFFFF_FFFF)
            } else {
                // A 32-bit source writes zeros to bits 63:32 of 64-bit and natural-width fields.
                writePhys(addr, fsize, v)
            }
            markVMCSWritten(field.id, at: vmx.currentVMCS)
            vmSucceed()
        }
    }
}
