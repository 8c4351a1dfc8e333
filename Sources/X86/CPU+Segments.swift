/// Segment descriptors, segment-register loads, privilege (SDM Vol. 3A ch. 3 "Protected-Mode
/// Memory Management" and ch. 5 "Protection").

/// A raw 8-byte segment descriptor (SDM Vol. 3A §3.4.5 "Segment Descriptors", Figure 3-8).
@usableFromInline struct Descriptor {
    var lo: UInt32, hi: UInt32
    /// Upper 32 bits of the base for 16-byte system descriptors in IA-32e mode.
    var baseHigh: UInt32 = 0

    var base: UInt64 { UInt64(lo >> 16) | UInt64(hi & 0xFF) << 16 | UInt64(hi & 0xFF00_0000) | UInt64(baseHigh) << 32 }
    var rawLimit: UInt32 { (lo & 0xFFFF) | (hi & 0xF_0000) }
    var granular: Bool { hi & (1 << 23) != 0 }
    var limit: UInt32 { granular ? (rawLimit << 12) | 0xFFF : rawLimit }
    /// VMCS access-rights layout: bits 7:0 = type/S/DPL/P, bits 15:12 = AVL/L/D/G.
    var attr: UInt32 { (hi >> 8) & 0xF0FF }
    var type: UInt32 { (hi >> 8) & 0xF }
    var isSystem: Bool { hi & (1 << 12) == 0 }
    var isCode: Bool { !isSystem && type & 8 != 0 }
    var conforming: Bool { isCode && type & 4 != 0 }
    var readable: Bool { isCode ? type & 2 != 0 : true }
    var writableData: Bool { !isSystem && type & 8 == 0 && type & 2 != 0 }
    var dpl: UInt8 { UInt8((hi >> 13) & 3) }
    var present: Bool { hi & (1 << 15) != 0 }
    var long: Bool { hi & (1 << 21) != 0 }
    var db: Bool { hi & (1 << 22) != 0 }

    func register(_ sel: UInt16) -> SegmentRegister {
        SegmentRegister(selector: sel, base: base, limit: limit, attr: attr)
    }
}

extension CPU {
    /// Change CPL; the software TLB holds supervisor translations that user code must not reuse.
    @inline(__always) func setCPL(_ n: UInt8) {
        if (n == 3) != (cpl == 3) { tlb.flush() }
        cpl = n
    }

    /// Read a supervisor-only linear address (descriptor tables, TSS, IDT): these implicit
    /// accesses are supervisor accesses whatever the CPL (SDM Vol. 3A §4.6.1).
    @usableFromInline func readSystem(_ lin: UInt64, _ n: UInt64) throws(Fault) -> UInt64 {
        let saved = cpl
        cpl = 0
        defer { cpl = saved }
        var v: UInt64 = 0
        for k in 0..<n {
            var a = lin &+ k
            if codeMode != 2 && !longMode { a &= 0xFFFF_FFFF }
            let p = try translateNoFill(a, .read)
            v |= readPhys(p, 1) << (8 * k)
        }
        return v
    }

    @usableFromInline func writeSystem(_ lin: UInt64, _ n: UInt64, _ v: UInt64) throws(Fault) {
        let saved = cpl
        cpl = 0
        defer { cpl = saved }
        for k in 0..<n {
            var a = lin &+ k
            if !longMode { a &= 0xFFFF_FFFF }
            let p = try translateNoFill(a, .write)
            writePhys(p, 1, (v >> (8 * k)) & 0xFF)
        }
    }

    /// Translate without installing TLB entries (used with a temporarily changed CPL).
    func translateNoFill(_ lin: UInt64, _ access: Access) throws(Fault) -> UInt64 {
        if pagingMode == 0 { return lin & 0xFFFF_FFFF }
        if pagingMode == 3 && UInt64(bitPattern: (Int64(bitPattern: lin) << 16) >> 16) != lin { throw Fault.GP(0) }
        return try walk(lin, access, user: cpl == 3, setBits: true).phys
    }

    /// Fetch the descriptor named by `sel` from the GDT or LDT. Throws `errFault(sel)` when the
    /// selector is outside the table limit (SDM Vol. 3A §3.4.2 "Segment Selectors").
    @usableFromInline func fetchDescriptor(_ sel: UInt16, system16: Bool = false, ext: UInt32 = 0) throws(Fault) -> Descriptor {
        let index = UInt64(sel & ~7)
        let (base, limit): (UInt64, UInt64)
        if sel & 4 != 0 {
            let l = segs[Seg.ldtr]
            if l.unusable || l.selector & ~3 == 0 { throw Fault.GP(UInt32(sel & ~3) | ext) }
            (base, limit) = (l.base, UInt64(l.limit))
        } else {
            (base, limit) = (gdtrBase, UInt64(gdtrLimit))
        }
        let size: UInt64 = system16 ? 15 : 7
        if index + size > limit { throw Fault.GP(UInt32(sel & ~3) | ext) }
        let q = try readSystem(base &+ index, 8)
        var d = Descriptor(lo: UInt32(truncatingIfNeeded: q), hi: UInt32(truncatingIfNeeded: q >> 32))
        if system16 { d.baseHigh = UInt32(truncatingIfNeeded: try readSystem(base &+ index &+ 8, 4)) }
        return d
    }

    /// A far CALL's return address: CS, then (E/R)IP, with the current stack width, before
    /// anything else is committed; a fault on the second push leaves RSP as it was.
    func pushReturnAddress(_ osz: UInt8) throws(Fault) {
        let rsp0 = regs[Reg.rsp]
        do {
            try push(osz, UInt64(segs[Seg.cs].selector))
            try push(osz, rip)
        } catch { regs[Reg.rsp] = rsp0; throw error }
    }

    /// The register a checked descriptor loads: its accessed bit set in memory, and in the
    /// cached copy.
    func accessedRegister(_ sel: UInt16, _ d: Descriptor) throws(Fault) -> SegmentRegister {
        try markAccessed(sel, d)
        var r = d.register(sel)
        r.attr |= 1
        return r
    }

    /// Load segment register `s` from a checked descriptor (`accessedRegister`) and refresh the
    /// segment cache.
    func commitSegment(_ s: Int, _ sel: UInt16, _ d: Descriptor) throws(Fault) {
        segs[s] = try accessedRegister(sel, d)
        refreshSegmentCache(s)
    }

    /// Set the accessed bit of a code/data descriptor if clear (SDM Vol. 3A §3.4.5.1).
    func markAccessed(_ sel: UInt16, _ d: Descriptor) throws(Fault) {
        if d.type & 1 != 0 { return }
        let base = sel & 4 != 0 ? segs[Seg.ldtr].base : gdtrBase
        try writeSystem(base &+ UInt64(sel & ~7) &+ 5, 1, UInt64((d.hi >> 8) & 0xFF) | 1)
    }

    // MARK: Virtual-8086 mode (SDM Vol. 3B ch. 20 "8086 Emulation")

    /// Virtual-8086 mode: CR0.PE = 1 and EFLAGS.VM = 1 (§20.2.1 "Enabling Virtual-8086 Mode").
    /// EFLAGS.VM cannot be 1 in IA-32e mode (IRET ignores it there; VM entry checks forbid it).
    @inline(__always) var v86: Bool { flagsRest & RFLAGS.vm != 0 && cr0 & CR0.pe != 0 }

    /// A segment register as virtual-8086 mode loads it: no descriptor; base = selector × 16,
    /// limit FFFFH — addresses are formed as in real-address mode (§20.2 "Virtual-8086 Mode",
    /// §20.1.1 "Address Translation in Real-Address Mode") — and attributes of a present, accessed,
    /// read/write DPL-3 data segment — the value 000000F3H that VM entry requires of every
    /// segment of a virtual-8086 guest (Vol. 3C §26.3.1.2 "Checks on Guest Segment Registers").
    static func v86Segment(_ sel: UInt16) -> SegmentRegister {
        SegmentRegister(selector: sel, base: UInt64(sel) << 4, limit: 0xFFFF, attr: 0xF3)
    }

    /// Load ES/SS/DS/FS/GS virtual-8086 style (never faults).
    func loadSegmentV86(_ s: Int, _ sel: UInt16) {
        segs[s] = CPU.v86Segment(sel)
        refreshSegmentCache(s)
    }

    /// MOV/POP to a data segment register or SS, with the checks of SDM Vol. 2 "MOV—Move"
    /// (Operation, "IF SS is loaded" / "IF DS, ES, FS, or GS is loaded").
    @usableFromInline func loadSegment(_ s: Int, _ sel: UInt16) throws(Fault) {
        if cr0 & CR0.pe == 0 {
            // Real-address mode: base = selector × 16; limit and attributes unchanged.
            segs[s].selector = sel
            segs[s].base = UInt64(sel) << 4
            refreshSegmentCache(s)
            return
        }
        if flagsRest & RFLAGS.vm != 0 {
            // Virtual-8086 mode: real-address-mode style, no descriptor (§20.2 "Virtual-8086 Mode").
            loadSegmentV86(s, sel)
            return
        }
        let rpl = UInt8(sel & 3)
        if sel & ~3 == 0 {
            // Null selector: allowed for DS/ES/FS/GS; for SS only in 64-bit mode at CPL<3 with RPL=CPL.
            if s == Seg.ss && !(codeMode == 2 && cpl != 3 && rpl == cpl) { throw Fault.GP(0) }
            segs[s] = SegmentRegister(selector: sel, base: s >= Seg.fs && codeMode == 2 ? segs[s].base : 0,
                                      limit: 0, attr: SegAttr.unusable | (s == Seg.ss ? UInt32(rpl) << 5 : 0))
            refreshSegmentCache(s)
            return
        }
        let d = try fetchDescriptor(sel)
        let e = UInt32(sel & ~3)
        if s == Seg.ss {
            if rpl != cpl || d.dpl != cpl || !d.writableData { throw Fault.GP(e) }
            if !d.present { throw Fault.SS(e) }
        } else {
            if d.isSystem || (d.isCode && !d.readable) { throw Fault.GP(e) }
            if !d.conforming && (rpl > d.dpl || cpl > d.dpl) { throw Fault.GP(e) }
            if !d.present { throw Fault.NP(e) }
        }
        try commitSegment(s, sel, d)
    }

    /// Load CS for a far transfer to a code segment (no gates): SDM Vol. 2 "JMP"/"CALL"
    /// Operation, "IF segment type is conforming/nonconforming code segment".
    /// Returns the new CS register value; does not commit it.
    func codeSegmentFor(_ sel: UInt16, call: Bool) throws(Fault) -> (SegmentRegister, Descriptor) {
        if sel & ~3 == 0 { throw Fault.GP(0) }
        let d = try fetchDescriptor(sel)
        let e = UInt32(sel & ~3)
        guard d.isCode else {
            throw Fault.GP(e)   // (system descriptors are handled by farTransfer first)
        }
        let rpl = UInt8(sel & 3)
        if d.conforming {
            if d.dpl > cpl { throw Fault.GP(e) }
        } else {
            if rpl > cpl || d.dpl != cpl { throw Fault.GP(e) }
        }
        if !d.present { throw Fault.NP(e) }
        if longMode && d.long && d.db { throw Fault.GP(e) }
        var r = d.register((sel & ~3) | UInt16(cpl))
        r.attr |= 1
        return (r, d)
    }

    /// Commit a new CS (and CPL), recomputing the decode mode.
    @usableFromInline func commitCS(_ r: SegmentRegister, cpl newCPL: UInt8) {
        segs[Seg.cs] = r
        setCPL(newCPL)
        let old = codeMode
        if cr0 & CR0.pe == 0 { codeMode = 0 }
        else if longMode && r.attr & SegAttr.l != 0 { codeMode = 2 }
        else { codeMode = r.attr & SegAttr.db != 0 ? 1 : 0 }
        if old != codeMode {
            for s in 0..<6 { refreshSegmentCache(s) }
            tlb.flush()
        } else {
            refreshSegmentCache(Seg.cs)
            tlb.epoch &+= 1      // CS limit/flatness may differ: don't follow old chain links
        }
    }

    /// Far JMP/CALL (ptr16:16/32 or m16:16/32/64) to a code segment. `start` is the address of
    /// the instruction itself (RIP already points past it).
    func farTransfer(sel: UInt16, offset: UInt64, call: Bool, osz: UInt8, start: UInt64) throws(Fault) {
        if cr0 & CR0.pe == 0 {
            if call {
                try push(osz, UInt64(segs[Seg.cs].selector))
                try push(osz, rip)
            }
            segs[Seg.cs].selector = sel
            segs[Seg.cs].base = UInt64(sel) << 4
            refreshSegmentCache(Seg.cs)
            rip = offset & (osz == 1 ? 0xFFFF : 0xFFFF_FFFF)
            return
        }
        if flagsRest & RFLAGS.vm != 0 {
            // Virtual-8086 mode: as in real-address mode — no descriptor, no gates (§20.2
            // "Virtual-8086 Mode"); the new CS limit is FFFFH, so a farther target is #GP(0)
            // (Vol. 2A "JMP"/"CALL", Virtual-8086 Mode Exceptions) before anything is pushed.
            let target = offset & (osz == 1 ? 0xFFFF : 0xFFFF_FFFF)
            if target > 0xFFFF { throw Fault.GP(0) }
            if call { try pushReturnAddress(osz) }
            commitCS(CPU.v86Segment(sel), cpl: 3)
            rip = target
            return
        }
        // A system descriptor: a call gate, or a task gate / TSS (task switch).
        if sel & ~3 != 0, try fetchDescriptor(sel).isSystem {
            try farTransferThroughSystemDescriptor(gateSel: sel, call: call, start: start)
            return
        }
        let (cs, d) = try codeSegmentFor(sel, call: call)
        let newMode64 = longMode && d.long
        let target = newMode64 ? offset : offset & (osz == 1 ? 0xFFFF : 0xFFFF_FFFF)
        if !newMode64 && target > UInt64(cs.limit) { throw Fault.GP(0) }
        if call { try pushReturnAddress(osz) }
        commitCS(cs, cpl: cpl)
        rip = target
    }

    /// Far RET to the same privilege level, or to an outer one (SDM Vol. 2 "RET" Operation).
    func farReturn(osz: UInt8, popBytes: UInt64) throws(Fault) {
        let n: UInt64 = UInt64(1) << UInt64(osz)
        let sp = regs[Reg.rsp]
        let newRip = try stackRead(osz, 0)
        let sel = UInt16(truncatingIfNeeded: try stackRead(osz, n))
        if cr0 & CR0.pe == 0 {
            segs[Seg.cs].selector = sel; segs[Seg.cs].base = UInt64(sel) << 4
            refreshSegmentCache(Seg.cs)
            rip = newRip
            adjustSP(2 * n + popBytes)
            return
        }
        if flagsRest & RFLAGS.vm != 0 {
            // Virtual-8086 mode: real-address-mode style (§20.2); IP beyond FFFFH is #GP(0).
            if newRip > 0xFFFF { throw Fault.GP(0) }
            commitCS(CPU.v86Segment(sel), cpl: 3)
            rip = newRip
            adjustSP(2 * n + popBytes)
            return
        }
        let rpl = UInt8(sel & 3)
        if sel & ~3 == 0 { throw Fault.GP(0) }
        if rpl < cpl { throw Fault.GP(UInt32(sel & ~3)) }
        let d = try fetchDescriptor(sel)
        let e = UInt32(sel & ~3)
        if !d.isCode { throw Fault.GP(e) }
        if d.conforming ? d.dpl > rpl : d.dpl != rpl { throw Fault.GP(e) }
        if !d.present { throw Fault.NP(e) }
        var cs = d.register(sel)
        cs.attr |= 1
        if rpl == cpl {
            commitCS(cs, cpl: rpl)
            rip = newRip
            regs[Reg.rsp] = sp
            adjustSP(2 * n + popBytes)
            return
        }
        // Return to an outer privilege level: pop SS:RSP too.
        let newSP = try stackRead(osz, 2 * n + popBytes)
        let newSS = UInt16(truncatingIfNeeded: try stackRead(osz, 3 * n + popBytes))
        commitCS(cs, cpl: rpl)
        try loadSegment(Seg.ss, newSS)
        regs[Reg.rsp] = newSP &+ popBytes
        rip = newRip
        for s in [Seg.es, Seg.ds, Seg.fs, Seg.gs] { nullifyIfPrivileged(s) }
    }

    /// After a return to an outer level, data segments the new CPL may not use become null
    /// (SDM Vol. 2 "RET", "RETURN-TO-OUTER-PRIVILEGE-LEVEL").
    func nullifyIfPrivileged(_ s: Int) {
        let r = segs[s]
        if r.unusable { return }
        let isCode = r.attr & 8 != 0
        let conforming = isCode && r.attr & 4 != 0
        if (!isCode || !conforming) && r.dpl < cpl {
            segs[s] = SegmentRegister(selector: 0, base: codeMode == 2 && s >= Seg.fs ? r.base : 0, limit: 0, attr: SegAttr.unusable)
            refreshSegmentCache(s)
        }
    }

    /// IRET/IRETD/IRETQ (SDM Vol. 2 "IRET/IRETD/IRETQ" Operation): real mode, protected mode
    /// same or outer privilege, IA-32e mode; with NT = 1 a task return (CPU+TaskSwitch.swift);
    /// IRET in virtual-8086 mode and RETURN-TO-VIRTUAL-8086-MODE. `start` is the IRET's address.
    func iret(osz: UInt8, start: UInt64) throws(Fault) {
        let n: UInt64 = UInt64(1) << UInt64(osz)
        if cr0 & CR0.pe == 0 {
            let ip = try stackRead(osz, 0), sel = UInt16(truncatingIfNeeded: try stackRead(osz, n)), fl = try stackRead(osz, 2 * n)
            segs[Seg.cs].selector = sel; segs[Seg.cs].base = UInt64(sel) << 4
            refreshSegmentCache(Seg.cs)
            rip = ip
            adjustSP(3 * n)
            let keep: UInt64 = osz == 1 ? ~0xFFFF : (RFLAGS.vm | RFLAGS.vip | RFLAGS.vif)
            setFlags((flags() & keep) | (fl & ~keep))
            return
        }
        if flagsRest & RFLAGS.vm != 0 {
            // Vol. 2A "IRET" Operation, "IF (PE = 1 and VM = 1)": with IOPL = 3 a real-address-
            // mode style return that leaves VM, IOPL, VIP and VIF unmodified (a 16-bit IRET
            // changes only FLAGS[15:0], IOPL excepted); with IOPL < 3 (no CR4.VME) #GP(0) — IRET
            // is IOPL-sensitive in virtual-8086 mode (§20.2.7 "Sensitive Instructions"). NT is
            // not consulted: there is no task return from virtual-8086 mode.
            if (flagsRest >> 12) & 3 != 3 { throw Fault.GP(0) }
            let ip = try stackRead(osz, 0), sel = UInt16(truncatingIfNeeded: try stackRead(osz, n)), fl = try stackRead(osz, 2 * n)
            // As in the real-address-mode return, an IP beyond the CS limit (FFFFH) is #GP(0).
            if ip > 0xFFFF { throw Fault.GP(0) }
            commitCS(CPU.v86Segment(sel), cpl: 3)
            rip = ip
            adjustSP(3 * n)
            let keep: UInt64 = osz == 1 ? (~0xFFFF | RFLAGS.iopl) : (RFLAGS.vm | RFLAGS.iopl | RFLAGS.vip | RFLAGS.vif)
            setFlags((flags() & keep) | (fl & ~keep))
            return
        }
        if flagsRest & RFLAGS.nt != 0 {
            // Vol. 2A "IRET" Operation: "IF (PE = 1 and VM = 0 and IA32_EFER.LMA = 1 and NT = 1)
            // THEN #GP(0)" (IA-32e mode has no task switching, §25.4.2 item g); outside IA-32e
            // mode, TASK-RETURN.
            if longMode { throw Fault.GP(0) }
            try taskReturn(start: start)
            return
        }
        let newRip = try stackRead(osz, 0)
        let sel = UInt16(truncatingIfNeeded: try stackRead(osz, n))
        let fl = try stackRead(osz, 2 * n)
        // "IF tempEFLAGS(VM) = 1 and CPL = 0 THEN GOTO RETURN-TO-VIRTUAL-8086-MODE" (32-bit
        // operand size only: a 16-bit IRET pops no bit 17; IA-32e mode ignores VM).
        if fl & RFLAGS.vm != 0 && cpl == 0 && !longMode {
            try returnToV86(ip: newRip, sel: sel, fl: fl)
            return
        }
        let rpl = UInt8(sel & 3)
        if sel & ~3 == 0 { throw Fault.GP(0) }
        let d = try fetchDescriptor(sel)
        let e = UInt32(sel & ~3)
        if !d.isCode || rpl < cpl { throw Fault.GP(e) }
        if d.conforming ? d.dpl > rpl : d.dpl != rpl { throw Fault.GP(e) }
        if !d.present { throw Fault.NP(e) }
        var cs = d.register(sel)
        cs.attr |= 1
        let toOuter = rpl > cpl
        // In 64-bit mode IRET always pops SS:RSP (SDM: "IF OperandSize = 64 or ... IA-32e").
        let popStack = toOuter || codeMode == 2
        var newSP: UInt64 = 0, newSS: UInt16 = 0
        if popStack {
            newSP = try stackRead(osz, 3 * n)
            newSS = UInt16(truncatingIfNeeded: try stackRead(osz, 4 * n))
        }
        // RFLAGS update: IOPL only at CPL0, IF only when CPL <= IOPL; VM/VIP/VIF kept clear here.
        let oldCPL = cpl
        var mask: UInt64 = RFLAGS.cf | RFLAGS.pf | RFLAGS.af | RFLAGS.zf | RFLAGS.sf | RFLAGS.tf | RFLAGS.df | RFLAGS.of | RFLAGS.nt
        if osz >= 2 { mask |= RFLAGS.rf | RFLAGS.ac | RFLAGS.id }
        if oldCPL <= UInt8((flagsRest >> 12) & 3) { mask |= RFLAGS.if }
        if oldCPL == 0 { mask |= RFLAGS.iopl; if osz >= 2 { mask |= RFLAGS.vif | RFLAGS.vip } }
        let oldFlags = flags()
        let targetRip = newRip
        commitCS(cs, cpl: rpl)
        if popStack {
            if newSS & ~3 == 0 && codeMode == 2 && rpl != 3 {
                segs[Seg.ss] = SegmentRegister(selector: newSS, base: 0, limit: 0, attr: SegAttr.unusable | UInt32(rpl) << 5)
                refreshSegmentCache(Seg.ss)
            } else {
                do { try loadSegment(Seg.ss, newSS) } catch {
                    commitCS(segs[Seg.cs], cpl: oldCPL)
                    throw error
                }
            }
            regs[Reg.rsp] = newSP
        } else {
            adjustSP(3 * n)
        }
        setFlags((oldFlags & ~mask) | (fl & mask))
        rip = codeMode == 2 ? targetRip : targetRip & (osz == 1 ? 0xFFFF : 0xFFFF_FFFF)
        if toOuter { for s in [Seg.es, Seg.ds, Seg.fs, Seg.gs] { nullifyIfPrivileged(s) } }
    }

    /// Vol. 2A "IRET" Operation, RETURN-TO-VIRTUAL-8086-MODE (§20.2.5 "Entering Virtual-8086
    /// Mode"): after EIP, CS and EFLAGS, pop ESP, SS, ES, DS, FS, GS (doublewords, the upper
    /// words discarded); EFLAGS ← tempEFLAGS whole (CPL is 0); every segment register is loaded
    /// virtual-8086 style; EIP ← tempEIP AND FFFFH; CPL ← 3. All pops are read before anything
    /// is committed, so a stack fault leaves the handler's state intact.
    func returnToV86(ip: UInt64, sel: UInt16, fl: UInt64) throws(Fault) {
        let newESP = try stackRead(2, 12)
        var sels = [UInt16](repeating: 0, count: 6)
        sels[Seg.cs] = sel
        sels[Seg.ss] = UInt16(truncatingIfNeeded: try stackRead(2, 16))
        sels[Seg.es] = UInt16(truncatingIfNeeded: try stackRead(2, 20))
        sels[Seg.ds] = UInt16(truncatingIfNeeded: try stackRead(2, 24))
        sels[Seg.fs] = UInt16(truncatingIfNeeded: try stackRead(2, 28))
        sels[Seg.gs] = UInt16(truncatingIfNeeded: try stackRead(2, 32))
        setFlags(fl)
        for s in 0..<6 where s != Seg.cs { loadSegmentV86(s, sels[s]) }
        commitCS(CPU.v86Segment(sel), cpl: 3)
        regs[Reg.rsp] = newESP & 0xFFFF_FFFF
        rip = ip & 0xFFFF
    }

    /// LTR (SDM Vol. 2 "LTR—Load Task Register").
    func loadTR(_ sel: UInt16) throws(Fault) {
        if cpl != 0 { throw Fault.GP(0) }
        if sel & ~3 == 0 { throw Fault.GP(0) }
        if sel & 4 != 0 { throw Fault.GP(UInt32(sel & ~3)) }
        let d = try fetchDescriptor(sel, system16: longMode)
        let e = UInt32(sel & ~3)
        // Available TSS: type 9 (32/64-bit) or 1 (16-bit, not in IA-32e mode).
        if !d.isSystem || !(d.type == 9 || (d.type == 1 && !longMode)) { throw Fault.GP(e) }
        if !d.present { throw Fault.NP(e) }
        try checkSystemDescriptorHigh(sel, d)
        try writeSystem(gdtrBase &+ UInt64(sel & ~7) &+ 5, 1, UInt64((d.hi >> 8) & 0xFF) | 2)   // mark busy
        var r = d.register(sel)
        r.attr |= 2
        segs[Seg.tr] = r
    }

    /// LLDT (SDM Vol. 2 "LLDT—Load Local Descriptor Table Register").
    func loadLDT(_ sel: UInt16) throws(Fault) {
        if cpl != 0 { throw Fault.GP(0) }
        if sel & ~3 == 0 {
            segs[Seg.ldtr] = SegmentRegister(selector: sel, base: 0, limit: 0, attr: SegAttr.unusable)
            return
        }
        if sel & 4 != 0 { throw Fault.GP(UInt32(sel & ~3)) }
        let d = try fetchDescriptor(sel, system16: longMode)
        let e = UInt32(sel & ~3)
        if !d.isSystem || d.type != 2 { throw Fault.GP(e) }
        if !d.present { throw Fault.NP(e) }
        try checkSystemDescriptorHigh(sel, d)
        segs[Seg.ldtr] = d.register(sel)
    }

    /// IA-32e mode: the upper half of a 16-byte LDT or TSS descriptor (SDM Vol. 3A §7.2.3 "TSS
    /// Descriptor in 64-bit mode", Figure 7-4 "Format of TSS and LDT Descriptors in 64-bit
    /// Mode"). LLDT and LTR raise #GP(selector) if its type field (bits 12:8 of the highest
    /// doubleword) is not 0 (Vol. 2A "LLDT", Vol. 2B "LTR": 64-Bit Mode Exceptions), and also if
    /// the 64-bit base it completes is not canonical (Vol. 3A §3.3.7.1 "Canonical Addressing").
    /// The instruction pages do not list that last case; Intel processors fault it with the
    /// selector as error code, as for the descriptor's other checks (Bochs and KVM's instruction
    /// emulator do the same), before TR's busy bit is set.
    func checkSystemDescriptorHigh(_ sel: UInt16, _ d: Descriptor) throws(Fault) {
        guard longMode else { return }
        let top = try readSystem(gdtrBase &+ UInt64(sel & ~7) &+ 12, 4)
        if (top >> 8) & 0x1F != 0 || !isCanonical(d.base) { throw Fault.GP(UInt32(sel & ~3)) }
    }

    /// Build a stop carrying an "unimplemented" report for the current instruction.
    @usableFromInline func unimplementedStop(_ what: String) -> Fault {
        pendingUnimplemented = what
        return .stop
    }
}
