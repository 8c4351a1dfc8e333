/// Far CALL and JMP through a call gate (SDM Vol. 2A "CALL—Call Procedure" and "JMP—Jump",
/// Operation: CALL-GATE, MORE-PRIVILEGE, SAME-PRIVILEGE; Vol. 3A §5.8 "Privilege Level Checking
/// When Transferring Program Control Between Code Segments", §5.8.3–§5.8.6, §5.8.3.1 "IA-32e Mode
/// Call Gates"). The return to the outer level is `farReturn`. Task gates and TSS descriptors
/// outside IA-32e mode are task switches (CPU+TaskSwitch.swift).

extension CPU {
    /// The inner stack of a privilege change outside IA-32e mode (call gates; interrupt and trap
    /// gates): SSn:ESPn at 4 + 8n in a 32-bit TSS, SSn:SPn at 2 + 4n in a 16-bit one (§7.2.1
    /// "Task-State Segment (TSS)", §7.6 "16-Bit Task-State Segment (TSS)"); #TS(TSS) if the TSS
    /// is too short, #TS(SS selector + EXT) for a null SS or one that is not a writable data
    /// segment with RPL = DPL = the new CPL, #SS if it is not present.
    func legacyInnerStack(_ newCPL: UInt8, ext: UInt32 = 0) throws(Fault) -> (sp: UInt64, ss: SegmentRegister) {
        let tss = segs[Seg.tr]
        let tss32 = tss.type == 0x9 || tss.type == 0xB
        let off: UInt64 = tss32 ? 4 + UInt64(newCPL) * 8 : 2 + UInt64(newCPL) * 4
        if off + (tss32 ? 5 : 3) > UInt64(tss.limit) { throw Fault.TS(UInt32(tss.selector & ~3) | ext) }
        let sp = try readSystem(tss.base &+ off, tss32 ? 4 : 2)
        let ssSel = UInt16(truncatingIfNeeded: try readSystem(tss.base &+ off &+ (tss32 ? 4 : 2), 2))
        if ssSel & ~3 == 0 { throw Fault.TS(ext) }
        let sd = try fetchDescriptor(ssSel, ext: ext)
        let se = UInt32(ssSel & ~3) | ext
        if UInt8(ssSel & 3) != newCPL || sd.dpl != newCPL || !sd.writableData { throw Fault.TS(se) }
        if !sd.present { throw Fault.SS(se) }
        var ss = sd.register(ssSel)
        ss.attr |= 1
        return (sp, ss)
    }

    /// A far JMP/CALL whose selector names a system descriptor.
    /// `start` is the address of the JMP/CALL (for a task switch's VM exit in non-root operation).
    func farTransferThroughSystemDescriptor(gateSel: UInt16, call: Bool, start: UInt64) throws(Fault) {
        let long = longMode
        let probe = try fetchDescriptor(gateSel)
        let e = UInt32(gateSel & ~3)
        let type = probe.type
        // Legacy mode: 16-bit (4) and 32-bit (C) call gates; IA-32e mode: only the 16-byte
        // 64-bit call gate (type C). Task gates (5) and TSSs (1, 3, 9, B) are task switches.
        if !long && (type == 5 || type == 1 || type == 3 || type == 9 || type == 0xB) {
            try farTaskSwitch(sel: gateSel, desc: probe, call: call, start: start)
            return
        }
        guard type == 0xC || (type == 4 && !long) else { throw Fault.GP(e) }
        let gate = long ? try fetchDescriptor(gateSel, system16: true) : probe
        // 64-bit call gate: the upper type field (bits 12:8 of the high dword) must be 0.
        if long {
            let sel = gateSel & ~7
            let base = gateSel & 4 != 0 ? segs[Seg.ldtr].base : gdtrBase
            let upper = try readSystem(base &+ UInt64(sel) &+ 12, 4)
            if (upper >> 8) & 0x1F != 0 { throw Fault.GP(e) }
        }
        let rpl = UInt8(gateSel & 3)
        if gate.dpl < cpl || gate.dpl < rpl { throw Fault.GP(e) }
        if !gate.present { throw Fault.NP(e) }
        let csSel = UInt16(truncatingIfNeeded: gate.lo >> 16)
        var offset = UInt64(gate.lo & 0xFFFF) | UInt64(gate.hi & 0xFFFF_0000)
        if long { offset |= UInt64(gate.baseHigh) << 32 }
        let gateSize: UInt8 = long ? 3 : (type == 0xC ? 2 : 1)
        if !long && gateSize == 1 { offset &= 0xFFFF }

        if csSel & ~3 == 0 { throw Fault.GP(0) }
        let d = try fetchDescriptor(csSel)
        let ce = UInt32(csSel & ~3)
        if !d.isCode { throw Fault.GP(ce) }
        if call {
            if d.dpl > cpl { throw Fault.GP(ce) }
        } else if d.conforming ? d.dpl > cpl : d.dpl != cpl {
            throw Fault.GP(ce)
        }
        if long && !(d.long && !d.db) { throw Fault.GP(ce) }
        if !d.present { throw Fault.NP(ce) }
        let target: UInt64
        if long {
            if UInt64(bitPattern: (Int64(bitPattern: offset) << 16) >> 16) != offset { throw Fault.GP(0) }
            target = offset
        } else {
            if offset > UInt64(d.limit) { throw Fault.GP(0) }
            target = offset
        }
        let morePrivileged = call && !d.conforming && d.dpl < cpl
        let newCPL = morePrivileged ? d.dpl : cpl
        var cs = d.register((csSel & ~3) | UInt16(newCPL))
        cs.attr |= 1
        let oldCS = UInt64(segs[Seg.cs].selector), oldRip = rip

        if !call {
            commitCS(cs, cpl: cpl)
            rip = target
            return
        }
        if !morePrivileged {
            // SAME-PRIVILEGE: push CS and the return address with the gate's size.
            let rsp0 = regs[Reg.rsp]
            do {
                try push(gateSize, oldCS)
                try push(gateSize, oldRip)
            } catch { regs[Reg.rsp] = rsp0; throw error }
            commitCS(cs, cpl: cpl)
            rip = target
            return
        }

        // MORE-PRIVILEGE: the inner stack from the TSS.
        let tss = segs[Seg.tr]
        let oldSS = segs[Seg.ss], oldSP = regs[Reg.rsp]
        var newSS: SegmentRegister
        var sp: UInt64
        let width = UInt64(1) << UInt64(gateSize)
        var frame: [UInt64]
        if long {
            // 64-bit TSS: RSPn at 4 + 8n; SS becomes a null selector with RPL = n (§5.8.3.1).
            let off = 4 + UInt64(newCPL) * 8
            if off + 7 > UInt64(tss.limit) { throw Fault.TS(UInt32(tss.selector & ~3)) }
            sp = try readSystem(tss.base &+ off, 8)
            newSS = SegmentRegister(selector: UInt16(newCPL), base: 0, limit: 0, attr: SegAttr.unusable | UInt32(newCPL) << 5)
            frame = [UInt64(oldSS.selector), oldSP, oldCS, oldRip]
            let low = sp &- 32
            if UInt64(bitPattern: (Int64(bitPattern: low) << 16) >> 16) != low { throw Fault.SS(0) }
        } else {
            (sp, newSS) = try legacyInnerStack(newCPL)
            // The parameters (gate bits 4:0) are copied from the caller's stack, deepest first.
            let count = Int(gate.hi & 0x1F)
            frame = [UInt64(oldSS.selector), oldSP]
            for k in stride(from: count - 1, through: 0, by: -1) {
                frame.append(try stackRead(gateSize, UInt64(k) * width))
            }
            frame += [oldCS, oldRip]
            let need = UInt64(frame.count) * width
            let stackMask: UInt64 = newSS.attr & SegAttr.db != 0 ? 0xFFFF_FFFF : 0xFFFF
            if (sp & stackMask) < need || (sp & stackMask) &- need > UInt64(newSS.limit) { throw Fault.SS(UInt32(newSS.selector & ~3)) }
            sp &= stackMask
        }
        // Write the frame with the new privilege, then commit.
        let savedCPL = cpl
        cpl = newCPL
        do {
            for v in frame {
                sp &-= width
                try writeSystemAs(newSS.base &+ sp, width, v)
            }
        } catch { cpl = savedCPL; throw error }
        cpl = savedCPL
        commitCS(cs, cpl: newCPL)
        segs[Seg.ss] = newSS
        refreshSegmentCache(Seg.ss)
        regs[Reg.rsp] = long || newSS.attr & SegAttr.db != 0 ? sp : (regs[Reg.rsp] & ~0xFFFF) | (sp & 0xFFFF)
        rip = target
    }
}
