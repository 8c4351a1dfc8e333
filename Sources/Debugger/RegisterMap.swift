// CPU state ⇄ gdb's x86-64 register file (GDBRegisterLayout.x86_64), by register name.
//
//   core       rax…r15 rip eflags, cs ss ds es fs gs (selectors)   ⇄ regs[], rflags, segs[]
//   x87        st0…st7 (ST(i), 80 bits), fctrl fstat (with TOP) ftag (full tag word) fiseg fioff
//              foseg fooff fop                                      ⇄ cpu.x87
//   sse        xmm0…15, mxcsr                                       ⇄ xmm[], mxcsr
//   segments   fs_base gs_base                                      ⇄ segs[fs/gs].base
//   system     cr0 cr2 cr3 cr4 cr8 efer k_gs_base gdtr/idtr dr0–3 dr6 dr7
//   vmx        vmx_mode (0 off, 1 root, 2 non-root), vmxon_ptr, vmcs_ptr (all ones when none, as
//              VMPTRST stores it), exit_reason/exit_qual/vm_instr_error from the current VMCS
//   contexts   a context not on the CPU reads from the VMCS (readFromVMCS)
//
// Writes: a segment selector write loads the segment as the CPU would (real mode: base =
// selector × 16; protected mode: the descriptor from the GDT/LDT); CR0/CR3/CR4/EFER and
// segment writes call `modeChanged()`.

import GDBRemote
import Machine
import X86

enum RegisterMap {
    /// gdb's GPR order (rax rbx rcx rdx rsi rdi rbp rsp r8…r15) as CPU register numbers.
    static let gprs: [(String, Int)] = [
        ("rax", Reg.rax), ("rbx", Reg.rbx), ("rcx", Reg.rcx), ("rdx", Reg.rdx), ("rsi", Reg.rsi),
        ("rdi", Reg.rdi), ("rbp", Reg.rbp), ("rsp", Reg.rsp),
    ] + (8...15).map { ("r\($0)", $0) }

    static let selectors: [(String, Int)] = [
        ("cs", Seg.cs), ("ss", Seg.ss), ("ds", Seg.ds), ("es", Seg.es), ("fs", Seg.fs), ("gs", Seg.gs),
    ]

    /// The register file of the CPU (the VMM vCPU).
    static func read(_ cpu: CPU, layout: GDBRegisterLayout = .x86_64) -> GDBRegisterFile {
        var f = GDBRegisterFile(layout: layout)
        for (name, r) in gprs { f.set(name, cpu.regs[r]) }
        f.set("rip", cpu.rip)
        f.set("eflags", cpu.rflags & 0xFFFF_FFFF)
        for (name, s) in selectors { f.set(name, UInt64(cpu.segs[s].selector)) }
        f.set("fs_base", cpu.segs[Seg.fs].base)
        f.set("gs_base", cpu.segs[Seg.gs].base)
        f.set("cr0", cpu.cr0)
        f.set("cr2", cpu.cr2)
        f.set("cr3", cpu.cr3)
        f.set("cr4", cpu.cr4)
        f.set("cr8", cpu.cr8)
        f.set("efer", cpu.efer)
        f.set("k_gs_base", cpu.msrs.kernelGSBase)
        f.set("gdtr_base", cpu.gdtrBase)
        f.set("gdtr_limit", UInt64(cpu.gdtrLimit))
        f.set("idtr_base", cpu.idtrBase)
        f.set("idtr_limit", UInt64(cpu.idtrLimit))
        f.set("dr0", cpu.dr.0)
        f.set("dr1", cpu.dr.1)
        f.set("dr2", cpu.dr.2)
        f.set("dr3", cpu.dr.3)
        f.set("dr6", cpu.dr6)
        f.set("dr7", cpu.dr7)
        let x = cpu.x87
        for i in 0..<8 {
            if let r = layout.regnum("st\(i)") {
                let v = x.register(x.physical(i))
                f[r] = Hex.littleEndian(v.mantissa, count: 8) + Hex.littleEndian(UInt64(v.signExponent), count: 2)
            }
        }
        f.set("fctrl", UInt64(x.fcw)); f.set("fstat", UInt64(x.fsw)); f.set("ftag", UInt64(x.ftw))
        f.set("fiseg", UInt64(x.fcs)); f.set("fioff", x.fip & 0xFFFF_FFFF)
        f.set("foseg", UInt64(x.fds)); f.set("fooff", x.fdp & 0xFFFF_FFFF); f.set("fop", UInt64(x.fop))
        for n in 0..<16 {
            if let r = layout.regnum("xmm\(n)") {
                f[r] = Hex.littleEndian(cpu.xmm[2 * n], count: 8) + Hex.littleEndian(cpu.xmm[2 * n + 1], count: 8)
            }
        }
        f.set("mxcsr", UInt64(cpu.mxcsr))
        setVMX(&f, cpu)
        return f
    }

    /// The read-only VMX feature: mode (0 off, 1 root, 2 non-root), VMXON and current-VMCS
    /// pointers, and the last exit's fields from the current VMCS.
    static func setVMX(_ f: inout GDBRegisterFile, _ cpu: CPU) {
        let v = cpu.vmx
        f.set("vmx_mode", !v.on ? 0 : (v.nonRoot ? 2 : 1))
        f.set("vmcs_ptr", v.currentVMCS)
        guard v.on else { return }
        f.set("vmxon_ptr", v.vmxonPointer)
        guard v.currentVMCS != VMXState.invalidPointer else { return }
        if v.lastExitReason != nil {
            f.set("exit_reason", cpu.vmcsRead(.exitReason, at: v.currentVMCS))
            f.set("exit_qual", cpu.vmcsRead(.exitQualification, at: v.currentVMCS))
        }
        if v.lastInstructionError != nil { f.set("vm_instr_error", cpu.vmcsRead(.vmInstructionError, at: v.currentVMCS)) }
    }

    /// The register file of a context that is not on the CPU, from a VMCS (docs/DESIGN.md, "The gdb context model"):
    /// the host-state area for the VMM while a guest runs, the guest-state area for a guest while
    /// the VMM runs. General-purpose registers other than RSP are in neither: unavailable.
    static func readFromVMCS(_ cpu: CPU, vmcs: UInt64, host: Bool, layout: GDBRegisterLayout = .x86_64) -> GDBRegisterFile {
        var f = GDBRegisterFile(layout: layout)
        func r(_ id: VMCSFieldID) -> UInt64 { cpu.vmcsRead(id, at: vmcs) }
        if host {
            f.set("rip", r(.hostRIP)); f.set("rsp", r(.hostRSP))
            f.set("cs", r(.hostCSSelector)); f.set("ss", r(.hostSSSelector)); f.set("ds", r(.hostDSSelector))
            f.set("es", r(.hostESSelector)); f.set("fs", r(.hostFSSelector)); f.set("gs", r(.hostGSSelector))
            f.set("fs_base", r(.hostFSBase)); f.set("gs_base", r(.hostGSBase))
            f.set("cr0", r(.hostCR0)); f.set("cr3", r(.hostCR3)); f.set("cr4", r(.hostCR4))
            f.set("gdtr_base", r(.hostGDTRBase)); f.set("idtr_base", r(.hostIDTRBase))
            f.set("eflags", 2)   // RFLAGS after a VM exit (SDM Vol. 3C §27.5.3)
        } else {
            f.set("rip", r(.guestRIP)); f.set("rsp", r(.guestRSP)); f.set("eflags", r(.guestRFLAGS) & 0xFFFF_FFFF)
            f.set("cs", r(.guestCSSelector)); f.set("ss", r(.guestSSSelector)); f.set("ds", r(.guestDSSelector))
            f.set("es", r(.guestESSelector)); f.set("fs", r(.guestFSSelector)); f.set("gs", r(.guestGSSelector))
            f.set("fs_base", r(.guestFSBase)); f.set("gs_base", r(.guestGSBase))
            f.set("cr0", r(.guestCR0)); f.set("cr3", r(.guestCR3)); f.set("cr4", r(.guestCR4))
            f.set("gdtr_base", r(.guestGDTRBase)); f.set("gdtr_limit", r(.guestGDTRLimit))
            f.set("idtr_base", r(.guestIDTRBase)); f.set("idtr_limit", r(.guestIDTRLimit))
            f.set("dr7", r(.guestDR7))
        }
        setVMX(&f, cpu)
        f.set("vmx_mode", host ? 1 : 2)
        return f
    }


    /// Applies every available register of `file`. All or nothing: the file is checked first.
    static func write(_ file: GDBRegisterFile, to cpu: CPU) throws(GDBTargetError) {
        let layout = file.layout
        var values: [String: UInt64] = [:]
        var wide: [String: [UInt8]] = [:]
        for r in layout.registers where file[r.regnum] != nil {
            if r.name.hasPrefix("xmm") || (r.name.hasPrefix("st") && r.byteSize == 10) { wide[r.name] = file[r.regnum]; continue }
            if r.readOnly { continue }
            values[r.name] = file.value(r.name)
        }
        // MXCSR: reserved bits (MXCSR_MASK 0000FFFFH) are refused, as LDMXCSR's #GP(0) would.
        if let v = values["mxcsr"], v & ~0xFFFF != 0 {
            throw GDBTargetError(.einval, "mxcsr: 0x\(hex(v)) sets reserved bits (MXCSR_MASK is 0xffff)")
        }

        // Segment loads first, checked before anything changes.
        var loads: [(Int, SegmentRegister)] = []
        for (name, s) in selectors {
            guard let v = values[name] else { continue }
            let sel = UInt16(truncatingIfNeeded: v)
            if sel == cpu.segs[s].selector && v <= 0xFFFF { continue }   // unchanged (a `G` write)
            guard v <= 0xFFFF else { throw GDBTargetError(.einval, "\(name): a selector is 16 bits") }
            loads.append((s, try segment(for: sel, register: s, cpu: cpu)))
        }

        var modeChange = !loads.isEmpty
        for (name, r) in gprs { if let v = values[name] { cpu.regs[r] = v } }
        if let v = values["rip"] { cpu.rip = v }
        if let v = values["eflags"] {
            if (v ^ cpu.rflags) & (RFLAGS.vm) != 0 { modeChange = true }
            cpu.rflags = v
        }
        for (s, reg) in loads {
            cpu.segs[s] = reg
            if s == Seg.cs { cpu.cpl = cpu.cr0 & CR0.pe == 0 ? 0 : UInt8(reg.selector & 3) }
        }
        if let v = values["fs_base"], v != cpu.segs[Seg.fs].base { cpu.segs[Seg.fs].base = v; modeChange = true }
        if let v = values["gs_base"], v != cpu.segs[Seg.gs].base { cpu.segs[Seg.gs].base = v; modeChange = true }
        if let v = values["cr0"], v != cpu.cr0 { cpu.cr0 = v; modeChange = true }
        if let v = values["cr2"] { cpu.cr2 = v }
        if let v = values["cr4"], v != cpu.cr4 { cpu.cr4 = v; modeChange = true }
        if let v = values["cr8"] { cpu.cr8 = v & 0xF }
        if let v = values["efer"], v != cpu.efer { cpu.efer = v; modeChange = true }
        var cr3Changed = false
        if let v = values["cr3"], v != cpu.cr3 { cpu.cr3 = v; modeChange = true; cr3Changed = true }
        if let v = values["k_gs_base"] { cpu.msrs.kernelGSBase = v }
        if let v = values["gdtr_base"] { cpu.gdtrBase = v }
        if let v = values["gdtr_limit"] { cpu.gdtrLimit = UInt32(truncatingIfNeeded: v) }
        if let v = values["idtr_base"] { cpu.idtrBase = v }
        if let v = values["idtr_limit"] { cpu.idtrLimit = UInt32(truncatingIfNeeded: v) }
        if let v = values["dr0"] { cpu.dr.0 = v }
        if let v = values["dr1"] { cpu.dr.1 = v }
        if let v = values["dr2"] { cpu.dr.2 = v }
        if let v = values["dr3"] { cpu.dr.3 = v }
        if let v = values["dr6"] { cpu.dr6 = v }
        if let v = values["dr7"] { cpu.dr7 = v }
        // x87 control state first (TOP decides which physical register ST(i) is).
        if let v = values["fctrl"] { cpu.x87.fcw = UInt16(truncatingIfNeeded: v) }
        if let v = values["fstat"] { cpu.x87.fsw = UInt16(truncatingIfNeeded: v) }
        if let v = values["ftag"] {
            // Full tag word: 11B = empty (the other tags are derived from the contents).
            var empty: UInt8 = 0
            for p in 0..<8 where (v >> UInt64(2 * p)) & 3 == 3 { empty |= 1 << UInt8(p) }
            cpu.x87.emptyMask = empty
        }
        if let v = values["fiseg"] { cpu.x87.fcs = UInt16(truncatingIfNeeded: v) }
        if let v = values["fioff"] { cpu.x87.fip = v }
        if let v = values["foseg"] { cpu.x87.fds = UInt16(truncatingIfNeeded: v) }
        if let v = values["fooff"] { cpu.x87.fdp = v }
        if let v = values["fop"] { cpu.x87.fop = UInt16(truncatingIfNeeded: v & 0x7FF) }
        for (name, b) in wide {
            if name.hasPrefix("st"), let i = Int(name.dropFirst(2)), i < 8, b.count == 10 {
                cpu.x87.setRegister(cpu.x87.physical(i), mantissa: Hex.uint64(littleEndian: Array(b[0..<8])),
                                    signExponent: UInt16(b[8]) | UInt16(b[9]) << 8)
                continue
            }
            guard let n = Int(name.dropFirst(3)), n < 16, b.count == 16 else { continue }
            cpu.xmm[2 * n] = Hex.uint64(littleEndian: Array(b[0..<8]))
            cpu.xmm[2 * n + 1] = Hex.uint64(littleEndian: Array(b[8..<16]))
        }
        if let v = values["mxcsr"] { cpu.mxcsr = UInt32(v) }
        // The guest's DR0–DR3/DR7 breakpoints follow what gdb wrote.
        if ["dr0", "dr1", "dr2", "dr3", "dr7"].contains(where: { values[$0] != nil }) { cpu.debugRegistersChanged() }
        if modeChange {
            // PAE paging keeps the four PDPTEs in registers, loaded with CR3 (SDM Vol. 3A §4.4.1).
            let pae = cpu.cr0 & CR0.pg != 0 && cpu.cr4 & CR4.pae != 0 && cpu.efer & EFER.lme == 0
            if pae && (cr3Changed || values["cr0"] != nil || values["cr4"] != nil) {
                let base = cpu.cr3 & 0xFFFF_FFE0
                let m = cpu.memory
                cpu.pdpte = (m.read64(at: base), m.read64(at: base + 8), m.read64(at: base + 16), m.read64(at: base + 24))
            }
            cpu.modeChanged()
            cpu.flushDecodedBlocks()
        }
    }

    /// The segment register a load of `sel` gives (the debugger's load: no faults, no
    /// accessed-bit update; a bad selector is refused with a message).
    static func segment(for sel: UInt16, register s: Int, cpu: CPU) throws(GDBTargetError) -> SegmentRegister {
        let name = Seg.names[s]
        let real = cpu.cr0 & CR0.pe == 0 || cpu.rflags & RFLAGS.vm != 0
        if real {
            var r = cpu.segs[s]
            r.selector = sel
            r.base = UInt64(sel) << 4
            if cpu.rflags & RFLAGS.vm != 0 { r.limit = 0xFFFF; r.attr = s == Seg.cs ? 0xFB : 0xF3 }
            return r
        }
        if sel & 0xFFFC == 0 {
            guard s != Seg.cs, s != Seg.ss || cpu.longMode else {
                throw GDBTargetError(.einval, "\(name): a null selector cannot be loaded into \(name) here")
            }
            return SegmentRegister(selector: sel, base: 0, limit: 0, attr: SegAttr.unusable)
        }
        // The descriptor from the GDT or (TI = 1) the LDT.
        let ldt = sel & 4 != 0
        let tableBase = ldt ? cpu.segs[Seg.ldtr].base : cpu.gdtrBase
        let tableLimit = ldt ? UInt64(cpu.segs[Seg.ldtr].limit) : UInt64(cpu.gdtrLimit)
        let offset = UInt64(sel & 0xFFF8)
        guard offset + 7 <= tableLimit else {
            throw GDBTargetError(.einval, "\(name): selector 0x\(hex(sel)) is beyond the \(ldt ? "LDT" : "GDT") limit 0x\(hex(tableLimit))")
        }
        let bytes = cpu.debugRead(linear: tableBase &+ offset, count: 8)
        guard bytes.count == 8 else {
            throw GDBTargetError(.einval, "\(name): the descriptor of selector 0x\(hex(sel)) is not readable")
        }
        var d: UInt64 = 0
        for (i, b) in bytes.enumerated() { d |= UInt64(b) << (8 * UInt64(i)) }
        let access = UInt32((d >> 40) & 0xFF)
        let flags = UInt32((d >> 52) & 0xF)
        guard access & 0x80 != 0 else {
            throw GDBTargetError(.einval, "\(name): the descriptor of selector 0x\(hex(sel)) is not present")
        }
        guard access & 0x10 != 0 else {
            throw GDBTargetError(.einval, "\(name): selector 0x\(hex(sel)) names a system descriptor")
        }
        let isCode = access & 0x8 != 0
        if s == Seg.cs && !isCode { throw GDBTargetError(.einval, "cs: selector 0x\(hex(sel)) is not a code segment") }
        if s == Seg.ss && (isCode || access & 0x2 == 0) {
            throw GDBTargetError(.einval, "ss: selector 0x\(hex(sel)) is not a writable data segment")
        }
        let base = ((d >> 16) & 0xFF_FFFF) | (((d >> 56) & 0xFF) << 24)
        var limit = UInt32((d & 0xFFFF) | (((d >> 48) & 0xF) << 16))
        if flags & 0x8 != 0 { limit = (limit << 12) | 0xFFF }
        let attr = access | (flags << 12)
        return SegmentRegister(selector: sel, base: base, limit: limit, attr: attr)
    }
}
