/// The run loop and the decoded-block cache (docs/DESIGN.md, "Hot-loop rules": decode once, check
/// for stops and events once per block).
///
/// A block is a run of decoded instructions starting at one physical address, ending at a
/// control transfer, a system instruction, a page boundary or 32 instructions. Blocks are kept in
/// a direct-mapped table keyed by (physical address, decode mode) and validated against the
/// generation of their code page(s), which any write to such a page bumps — so self-modifying
/// code is seen at the next block, and the hot loop never checks for it.

@usableFromInline final class BlockCache {
    static let sets = 8192
    static let maxLen = 32
    /// The extra slot `sets` holds uncacheable blocks (unbacked memory, non-flat CS).
    static let scratch = sets
    static let invalid: UInt64 = ~0
    let key: UnsafeMutablePointer<UInt64>
    let gen: UnsafeMutablePointer<UInt32>
    /// Physical page number + 1 of a second page an instruction spills into (0 = none).
    let page2: UnsafeMutablePointer<UInt32>
    let gen2: UnsafeMutablePointer<UInt32>
    let count: UnsafeMutablePointer<Int32>
    let insns: UnsafeMutablePointer<Insn>
    /// Block chaining: the RIP this block last exited to, the slot that held the block there,
    /// that block's key, and the translation epoch when that was recorded (any TLB flush retires
    /// the link). The key matters: the table is direct-mapped, so the slot may since hold another
    /// block whose address hashes alike — a link is followed only to the block it was made for.
    let chainRip: UnsafeMutablePointer<UInt64>
    let chainSlot: UnsafeMutablePointer<Int32>
    let chainKey: UnsafeMutablePointer<UInt64>
    let chainEpoch: UnsafeMutablePointer<UInt64>

    init() {
        let n = BlockCache.sets + 1
        key = .allocate(capacity: n); key.initialize(repeating: BlockCache.invalid, count: n)
        gen = .allocate(capacity: n); gen.initialize(repeating: 0, count: n)
        page2 = .allocate(capacity: n); page2.initialize(repeating: 0, count: n)
        gen2 = .allocate(capacity: n); gen2.initialize(repeating: 0, count: n)
        count = .allocate(capacity: n); count.initialize(repeating: 0, count: n)
        insns = .allocate(capacity: n * BlockCache.maxLen)
        insns.initialize(repeating: Insn(), count: n * BlockCache.maxLen)
        chainRip = .allocate(capacity: n); chainRip.initialize(repeating: ~0, count: n)
        chainSlot = .allocate(capacity: n); chainSlot.initialize(repeating: 0, count: n)
        chainKey = .allocate(capacity: n); chainKey.initialize(repeating: BlockCache.invalid, count: n)
        chainEpoch = .allocate(capacity: n); chainEpoch.initialize(repeating: ~0, count: n)
    }
    deinit {
        key.deallocate(); gen.deallocate(); page2.deallocate(); gen2.deallocate(); count.deallocate(); insns.deallocate()
        chainRip.deallocate(); chainSlot.deallocate(); chainKey.deallocate(); chainEpoch.deallocate()
    }

    func flush() { key.update(repeating: BlockCache.invalid, count: BlockCache.sets + 1) }

    @inline(__always) static func slot(_ phys: UInt64) -> Int {
        Int(truncatingIfNeeded: (phys ^ (phys >> 13)) & UInt64(sets - 1))
    }
}

extension CPU {
    /// The bytes of the instruction at `currentRip` (up to 15, as far as readable), for reports.
    public func currentInstructionBytes() -> [UInt8] {
        let lin = codeMode == 2 ? currentRip : (segBase[Seg.cs] &+ currentRip) & 0xFFFF_FFFF
        return debugRead(linear: lin, count: 15)
    }

    /// Linear address of RIP in the current code segment.
    @inline(__always) var ripLinear: UInt64 {
        codeMode == 2 ? rip : (segBase[Seg.cs] &+ rip) & 0xFFFF_FFFF
    }

    /// Run until something stops the CPU or `budget` instructions have retired.
    /// Exceptions the guest handles are delivered inside; only stops come back.
    ///
    /// REP string iterations count too: a run executes at most `budget` instructions and at
    /// most min(max(`budget`, `repSlice`), `repAllowanceLimit`) REP iterations, then returns
    /// `.budget` (a REP instruction left unfinished resumes at the next run).
    public func run(budget: UInt64) -> StopCause {
        // The budget is cut into slices that end at the next timer event (Interrupts.swift):
        // `remaining` instructions in this slice, `beyond` after it.
        var remaining = budget
        repAllowance = min(max(budget, UInt64(CPU.repSlice)), CPU.repAllowanceLimit)
        var beyond: UInt64 = 0
        pendingStop = nil
        var firstInsn = true
        let bc = blocks
        if nextEventTime != .max { eventsPending.pointee = 1 }
        while true {
            if remaining == 0 || attention {
                if interruptFlag.pointee != 0 { interruptFlag.pointee = 0; return .interrupted }
                if eventsPending.pointee != 0 || beyond != 0 || nextEventTime <= virtualTime {
                    if let stop = serviceEvents(&remaining, &beyond) { return stop }
                }
                if remaining == 0 { return .budget }
            }
            currentRip = rip
            // Find (or build) the block at RIP.
            var slot: Int
            do {
                slot = try blockAt()
            } catch let f {
                if let stop = handle(f, start: rip) { return stop }
                continue
            }
            // Run blocks, following chain links while they stay valid.
            while true {
                let base = bc.insns + slot &* BlockCache.maxLen
                blockStartRip = rip
                let count = Int(bc.count[slot])
                let n = remaining >= UInt64(count) ? count : Int(remaining)
                var k = 0
                var singleStepTrap = false
                var guestDebugFault: UInt64 = 0    // DR6 B0–B3 of instruction breakpoints (fault)
                do {
                    // RFLAGS.TF can only change at instructions that end a block (POPF, IRET,
                    // SYSRET, VM transitions, exception delivery), so one test per block suffices.
                    // RF = 1 (loaded by IRET, or left by a debugger) also takes this path, which
                    // clears it at the start of the next instruction.
                    if debugChecks || flagsRest & (RFLAGS.tf | RFLAGS.rf) != 0 {
                        // Debugging: one instruction at a time, breakpoints checked before each
                        // (not before the first of a run, so a resume leaves the breakpoint it
                        // stopped at), watchpoints after each; the guest's single-step trap after
                        // each instruction that began with TF = 1.
                        while k < n {
                            if !firstInsn && breakpoints.contains(ripLinear) {
                                instructions &+= UInt64(k)
                                return .breakpoint(rip: rip)
                            }
                            firstInsn = false
                            // The guest's instruction breakpoints (DR7 R/W = 00B): a fault before
                            // the instruction unless RFLAGS.RF = 1 (SDM Vol. 3A §17.3.1.1, §17.3.1.1.1).
                            if !guestBreakpoints.isEmpty && flagsRest & RFLAGS.rf == 0 {
                                let lin = ripLinear
                                var hits: UInt64 = 0
                                for g in guestBreakpoints where g.kind == .execute && g.address == lin { hits |= 1 << UInt64(g.index) }
                                if hits != 0 { guestDebugFault = hits; break }
                            }
                            let tf = flagsRest & RFLAGS.tf != 0
                            let insnStart = rip, insnLen = UInt64(base[k].len)
                            // "The RF Flag is cleared at the start of the instruction after the
                            // check for code breakpoint" (§17.3.1.1) — so IRET can load it for
                            // the instruction it returns to.
                            flagsRest &= ~RFLAGS.rf
                            let stay = try executeBlock(UnsafePointer(base), k &+ 1, &k)
                            if let (kind, address) = watchHit {
                                watchHit = nil
                                instructions &+= UInt64(k)
                                return .watchpoint(kind: kind, address: address)
                            }
                            // Single-step (SDM Vol. 3A §17.3.1.4 "Single-Step Exception
                            // Condition"): a #DB trap after the instruction, DR6.BS = 1 — except
                            // after MOV SS/POP SS, which inhibit debug exceptions until the
                            // boundary after the next instruction (§6.8.3 "Masking Exceptions and
                            // Interrupts When Switching Stacks"): its single-step trap is not
                            // taken, and the data breakpoints it hit wait for that boundary (or
                            // for the next event delivered, see `deliver`).
                            if vmx.ssShadowRip == rip {
                                if guestDataHits != 0 { pendingDebugHits |= guestDataHits; guestDataHits = 0 }
                            } else {
                                // With IA32_DEBUGCTL.BTF = 1 the trap follows only instructions
                                // that branch (Vol. 3B §17.4.3 "Single-Stepping on Branches"):
                                // here, those that leave RIP neither at their own start (a REP
                                // string instruction resuming) nor right after themselves.
                                if tf && (msrs.debugCtl & 2 == 0 || (rip != insnStart && rip != insnStart &+ insnLen)) {
                                    singleStepTrap = true
                                }
                                if pendingDebugHits != 0 { guestDataHits |= pendingDebugHits; pendingDebugHits = 0 }
                            }
                            if singleStepTrap || guestDataHits != 0 { break }
                            if !stay { break }
                        }
                    } else {
                        try executeBlock(UnsafePointer(base), n, &k)
                    }
                } catch let f {
                    watchHit = nil      // the access belonged to an instruction that faulted
                    guestDataHits = 0
                    // `rip` still holds the address after the faulting instruction; its start
                    // is that minus its length.
                    let start = rip &- UInt64(base[k].len)
                    currentRip = start
                    let retired = f.trap ? k + 1 : k
                    instructions &+= UInt64(retired)
                    remaining &-= UInt64(retired)
                    if let stop = handle(f, start: start) { return stop }
                    firstInsn = false
                    break
                }
                instructions &+= UInt64(k)
                remaining &-= UInt64(k)
                firstInsn = false
                if singleStepTrap || guestDataHits != 0 || guestDebugFault != 0 {
                    // #DB (SDM Vol. 3A §17.2.3 "Debug Status Register (DR6)"): B0–B3 name the
                    // breakpoints that hit, BS the single step. A data breakpoint or single step is a
                    // trap (RIP after the instruction); an instruction breakpoint a fault (RIP at it).
                    let conditions = (singleStepTrap ? 0x4000 : 0) | guestDataHits | guestDebugFault
                    guestDataHits = 0
                    currentRip = rip
                    if let stop = deliver(Fault.debug(UInt32(conditions), trap: guestDebugFault == 0)) { return stop }
                    break
                }
                if remaining == 0 || attention || slot == BlockCache.scratch { break }
                // Chain: the same exit as last time, in the same translation epoch, to the same
                // block (its slot may have been refilled by a block at a colliding address since:
                // then the link is stale — vmx-errors ran another function's code at the RIP after
                // a VMWRITE that way), and that block still current?
                if bc.chainRip[slot] == rip && bc.chainEpoch[slot] == tlbEpoch {
                    let next = Int(bc.chainSlot[slot])
                    if bc.key[next] == bc.chainKey[slot] && blockIsCurrent(next) {
                        slot = next
                        continue
                    }
                }
                // Look the successor up the slow way and remember the link.
                currentRip = rip
                let from = slot
                do { slot = try blockAt() } catch { break }
                if slot == BlockCache.scratch { continue }
                bc.chainRip[from] = rip
                bc.chainSlot[from] = Int32(slot)
                bc.chainKey[from] = bc.key[slot]
                bc.chainEpoch[from] = tlbEpoch
            }
        }
    }

    /// A cached block is current while its code page(s) were not written since it was decoded.
    @inline(__always) func blockIsCurrent(_ slot: Int) -> Bool {
        let phys = blocks.key[slot] & ((1 << 60) - 1)
        guard blocks.gen[slot] == pageInfo[Int(phys >> 12)] else { return false }
        let p2 = blocks.page2[slot]
        return p2 == 0 || blocks.gen2[slot] == pageInfo[Int(p2 - 1)]
    }

    /// Deliver a fault or turn a stop into a `StopCause`.
    func handle(_ f: Fault, start: UInt64) -> StopCause? {
        if f.kind == .redirect {
            // A VM transition already set the new state; honour a stop it asked for.
            currentRip = rip
            return takeVMXStop()
        }
        if taskSwitchCommitted {
            // A fault after the commit point of a task switch is delivered in the new task, at
            // its EIP (SDM Vol. 3A §7.3 "Task Switching"), not at the JMP/CALL/IRET.
            taskSwitchCommitted = false
            currentRip = rip
            return f.kind == .stop ? takeStop(rip) : deliver(f)
        }
        if f.kind == .stop {
            if !f.trap { rip = start }
            return takeStop(start)
        }
        if !f.trap { rip = start }
        currentRip = start
        return deliver(f)
    }

    /// The cause of a `Fault.stop` raised by the instruction at `start`.
    func takeStop(_ start: UInt64) -> StopCause {
        currentRip = start
        if let what = pendingUnimplemented {
            pendingUnimplemented = nil
            pendingStop = nil
            return .unimplemented(what: what, bytes: currentInstructionBytes(), rip: start, mode: modeDescription)
        }
        let s = pendingStop ?? .unimplemented(what: "(stop without a cause)", bytes: currentInstructionBytes(), rip: start, mode: modeDescription)
        pendingStop = nil
        return s
    }

    /// The block for the current RIP, decoding it if needed. Throws the fault of the first
    /// instruction's fetch or decode.
    @inline(__always) func blockAt() throws(Fault) -> Int {
        let csChecked = segChecked[Seg.cs]
        if csChecked && rip > UInt64(segs[Seg.cs].limit) { throw Fault.GP(0) }
        let lin = ripLinear
        let phys = try fetchPhys(lin)
        let key = phys | UInt64(codeMode) << 60
        let slot = BlockCache.slot(phys)
        if !csChecked && blocks.key[slot] == key && phys < ramSize
            && blocks.gen[slot] == pageInfo[Int(phys >> 12)] {
            let p2 = blocks.page2[slot]
            if p2 == 0 || blocks.gen2[slot] == pageInfo[Int(p2 - 1)] { return slot }
        }
        let cacheable = !csChecked && phys < ramSize && (phys | 0xFFF) < ramSize
        return try buildBlock(lin: lin, phys: phys, slot: cacheable ? slot : BlockCache.scratch, key: key)
    }

    @inline(never) func buildBlock(lin: UInt64, phys: UInt64, slot: Int, key: UInt64) throws(Fault) -> Int {
        let base = blocks.insns + slot * BlockCache.maxLen
        var k = 0
        var a = lin
        var off = rip
        var page2: UInt32 = 0
        let csChecked = segChecked[Seg.cs]
        let limit = UInt64(segs[Seg.cs].limit)
        while k < BlockCache.maxLen {
            let insn: Insn
            do {
                insn = try decode(at: a)
            } catch {
                if k == 0 { throw error }
                break
            }
            if csChecked && off &+ UInt64(insn.len) &- 1 > limit {
                if k == 0 { throw Fault.GP(0) }
                break
            }
            // An instruction spilling into the next page ties the block to that page too.
            let last = a &+ UInt64(insn.len) &- 1
            if last & ~0xFFF != lin & ~0xFFF {
                if let p = try? fetchPhys(codeMode == 2 ? last : last & 0xFFFF_FFFF), p < ramSize {
                    page2 = UInt32(p >> 12) + 1
                } else if slot != BlockCache.scratch {
                    // Spills into unbacked memory: don't cache.
                    return try buildBlock(lin: lin, phys: phys, slot: BlockCache.scratch, key: key)
                }
            }
            var insn2 = insn
            // Follow direct jumps, calls and backward conditional branches (loops) within the
            // page: the block becomes a trace along the predicted path, and execution leaves it
            // where the guest goes elsewhere (see `execute`'s return value).
            // (64-bit code only, where near branches have no segment limit or 32-bit wrap.)
            var follow = false
            let next = a &+ UInt64(insn.len)
            let target = next &+ insn.imm
            if codeMode == 2 && insn.osz == 3 && page2 == 0 && (target & ~0xFFF) == (lin & ~0xFFF) {
                switch insn.op {
                case .jmpRel, .callRel, .call64: follow = true
                case .jcc: follow = target < next
                default: break
                }
            }
            if follow { insn2.continuesAtTarget = true }
            base[k] = insn2
            k += 1
            if (insn.op.endsBlock && !follow) || page2 != 0 { break }
            if follow {
                a = target
                off = target
            } else {
                a &+= UInt64(insn.len)
                off &+= UInt64(insn.len)
            }
            if codeMode != 2 { a &= 0xFFFF_FFFF; off &= insn.osz == 1 ? 0xFFFF : 0xFFFF_FFFF }
            if a & ~0xFFF != lin & ~0xFFF { break }
        }
        blocks.count[slot] = Int32(k)
        if slot == BlockCache.scratch { blocks.key[slot] = BlockCache.invalid; return slot }
        blocks.key[slot] = key
        blocks.gen[slot] = markCode(phys >> 12)
        blocks.page2[slot] = page2
        if page2 != 0 { blocks.gen2[slot] = markCode(UInt64(page2 - 1)) }
        return slot
    }

    /// Mark a physical page as holding cached code; returns its generation word.
    func markCode(_ page: UInt64) -> UInt32 {
        let pg = Int(page)
        let info = pageInfo[pg]
        if info & 1 == 0 {
            pageInfo[pg] = info | 1
            tlb.evictWrites(physPage: page << 12)
        }
        return pageInfo[pg]
    }

    /// Drop all decoded blocks (e.g. after the debugger or a loader changed memory wholesale).
    public func flushDecodedBlocks() {
        blocks.flush()
        tlb.flush()
    }
}
