/// Linear-address translation (SDM Vol. 3A ch. 4 "Paging") and the software TLB.
///
/// The hot path of every memory access is: segment base + offset (checks only for segments that
/// are not flat), then one direct-mapped TLB probe that yields a host pointer. Everything else —
/// segment limit and type checks, canonical checks, page walks with accessed/dirty updates,
/// page-crossing accesses, unbacked addresses, writes to pages holding cached code — is the slow path.

/// Direct-mapped software TLB with separate read, write and fetch tables (docs/DESIGN.md, "Hot-loop
/// rules": a shared table collapses when a copy's source and destination alias).
@usableFromInline final class SoftTLB {
    static let entries = 1024
    static let mask: UInt64 = UInt64(entries - 1)
    static let invalid: UInt64 = ~0
    /// Tag = linear page address. Read/write tables give (host address − linear address).
    let rTag: UnsafeMutablePointer<UInt64>
    let rAdd: UnsafeMutablePointer<Int>
    let wTag: UnsafeMutablePointer<UInt64>
    let wAdd: UnsafeMutablePointer<Int>
    /// Physical page of each write entry (to evict entries when their page starts holding code).
    let wPhys: UnsafeMutablePointer<UInt64>
    /// Fetch table gives the physical page address.
    let fTag: UnsafeMutablePointer<UInt64>
    let fPhys: UnsafeMutablePointer<UInt64>

    init() {
        let n = SoftTLB.entries
        rTag = .allocate(capacity: n); rAdd = .allocate(capacity: n)
        wTag = .allocate(capacity: n); wAdd = .allocate(capacity: n); wPhys = .allocate(capacity: n)
        fTag = .allocate(capacity: n); fPhys = .allocate(capacity: n)
        rAdd.initialize(repeating: 0, count: n); wAdd.initialize(repeating: 0, count: n)
        wPhys.initialize(repeating: 0, count: n); fPhys.initialize(repeating: 0, count: n)
        rTag.initialize(repeating: SoftTLB.invalid, count: n)
        wTag.initialize(repeating: SoftTLB.invalid, count: n)
        fTag.initialize(repeating: SoftTLB.invalid, count: n)
    }
    deinit {
        rTag.deallocate(); rAdd.deallocate(); wTag.deallocate(); wAdd.deallocate(); wPhys.deallocate()
        fTag.deallocate(); fPhys.deallocate()
    }

    /// Bumped by every flush: block-chain links recorded in an older epoch are not followed.
    var epoch: UInt64 = 0

    func flush() {
        epoch &+= 1
        let n = SoftTLB.entries
        rTag.update(repeating: SoftTLB.invalid, count: n)
        wTag.update(repeating: SoftTLB.invalid, count: n)
        fTag.update(repeating: SoftTLB.invalid, count: n)
    }

    /// INVLPG: drop every entry for one linear page.
    func flush(page lin: UInt64) {
        epoch &+= 1
        let p = lin & ~0xFFF
        let i = Int((p >> 12) & SoftTLB.mask)
        if rTag[i] == p { rTag[i] = SoftTLB.invalid }
        if wTag[i] == p { wTag[i] = SoftTLB.invalid }
        if fTag[i] == p { fTag[i] = SoftTLB.invalid }
    }

    /// Drop write entries that map physical page `phys` (it now holds cached code).
    func evictWrites(physPage phys: UInt64) {
        for i in 0..<SoftTLB.entries where wTag[i] != SoftTLB.invalid && wPhys[i] == phys {
            wTag[i] = SoftTLB.invalid
        }
    }
}

/// What a translation is for (SDM Vol. 3A §4.6 "Access Rights").
@usableFromInline enum Access: UInt8 { case read, write, fetch }

/// Physical-address width of the modeled CPU (CPUID.80000008H:EAX[7:0]).
public let maxPhysAddrBits: UInt64 = 46
@usableFromInline let physAddrMask: UInt64 = ((1 << maxPhysAddrBits) - 1) & ~0xFFF

extension CPU {
    // MARK: Hot path

    /// Linear address of `seg:off` for an access of `n` bytes, with the segment checks of
    /// SDM Vol. 3A §5.3 "Limit Checking" / §5.4 "Type Checking" outside 64-bit mode.
    @inline(__always) func linear(_ seg: Int, _ off: UInt64, _ n: UInt64, _ access: Access) throws(Fault) -> UInt64 {
        if segChecked[seg] { try checkSegment(seg, off, n, access) }
        let lin = segBase[seg] &+ off
        return codeMode == 2 ? lin : lin & 0xFFFF_FFFF
    }

    @inline(__always) func readMem(_ size: UInt8, _ seg: Int, _ off: UInt64) throws(Fault) -> UInt64 {
        let n = UInt64(1) << UInt64(size)
        let lin = try linear(seg, off, n, .read)
        let i = Int((lin >> 12) & SoftTLB.mask)
        if tlb.rTag[i] == lin & ~0xFFF && (lin & 0xFFF) &+ n <= 0x1000 {
            let p = UnsafeRawPointer(bitPattern: tlb.rAdd[i] &+ Int(bitPattern: UInt(lin)))!
            switch size {
            case 0: return UInt64(p.load(as: UInt8.self))
            case 1: return UInt64(p.loadUnaligned(as: UInt16.self))
            case 2: return UInt64(p.loadUnaligned(as: UInt32.self))
            default: return p.loadUnaligned(as: UInt64.self)
            }
        }
        return try readSlow(lin, n, seg)
    }

    @inline(__always) func writeMem(_ size: UInt8, _ seg: Int, _ off: UInt64, _ v: UInt64) throws(Fault) {
        let n = UInt64(1) << UInt64(size)
        let lin = try linear(seg, off, n, .write)
        let i = Int((lin >> 12) & SoftTLB.mask)
        if tlb.wTag[i] == lin & ~0xFFF && (lin & 0xFFF) &+ n <= 0x1000 {
            let p = UnsafeMutableRawPointer(bitPattern: tlb.wAdd[i] &+ Int(bitPattern: UInt(lin)))!
            switch size {
            case 0: p.storeBytes(of: UInt8(truncatingIfNeeded: v), as: UInt8.self)
            case 1: p.storeBytes(of: UInt16(truncatingIfNeeded: v), as: UInt16.self)
            case 2: p.storeBytes(of: UInt32(truncatingIfNeeded: v), as: UInt32.self)
            default: p.storeBytes(of: v, as: UInt64.self)
            }
            return
        }
        try writeSlow(lin, n, v, seg)
    }

    /// Check that a read-modify-write destination is writable before reading it, so the
    /// instruction faults with the write error code and without side effects.
    @inline(__always) func probeWrite(_ size: UInt8, _ seg: Int, _ off: UInt64) throws(Fault) {
        let n = UInt64(1) << UInt64(size)
        let lin = try linear(seg, off, n, .write)
        let i = Int((lin >> 12) & SoftTLB.mask)
        if tlb.wTag[i] == lin & ~0xFFF && (lin & 0xFFF) &+ n <= 0x1000 { return }
        _ = try translate(lin, .write, seg: seg)
        if (lin & 0xFFF) + n > 0x1000 { _ = try translate((lin | 0xFFF) &+ 1, .write, seg: seg) }
    }

    // MARK: Slow path

    @inline(never) func checkSegment(_ seg: Int, _ off: UInt64, _ n: UInt64, _ access: Access) throws(Fault) {
        let s = segs[seg]
        let fault: Fault = seg == Seg.ss ? .SS(0) : .GP(0)
        if codeMode == 2 { return }
        if s.unusable || (cr0 & CR0.pe != 0 && s.attr & SegAttr.p == 0 && seg != Seg.cs) {
            if cr0 & CR0.pe != 0 { throw fault }
        }
        let type = s.type
        if cr0 & CR0.pe != 0 && s.attr & SegAttr.s != 0 {
            if type & 0x8 != 0 {    // code segment: never writable; readable only with R (bit 1)
                if access == .write || (access == .read && type & 0x2 == 0) { throw fault }
            } else if access == .write && type & 0x2 == 0 {
                throw fault
            }
        }
        let last = off &+ n &- 1
        if type & 0xC == 0x4 && s.attr & SegAttr.s != 0 {   // expand-down data segment
            let upper: UInt64 = s.attr & SegAttr.db != 0 ? 0xFFFF_FFFF : 0xFFFF
            if off <= UInt64(s.limit) || last > upper || last < off { throw fault }
        } else {
            if last > UInt64(s.limit) || last < off { throw fault }
        }
    }

    /// The guest's I/O breakpoints (DR7 R/W = 10B, CR4.DE = 1): an IN/OUT/INS/OUTS of `n` bytes
    /// at `port` that overlaps one is a #DB trap after the instruction, DR6.Bn set (SDM Vol. 3A
    /// §17.3.1.2 "Data Memory and I/O Breakpoint Exception Conditions").
    @inline(never) func checkIOBreakpoints(_ port: UInt16, _ n: Int) {
        for g in guestBreakpoints where g.hitsPort(port, n) { guestDataHits |= 1 << UInt64(g.index) }
    }

    /// Record a watchpoint hit of an access (only while the debugger has watchpoints).
    @inline(never) func checkWatch(_ lin: UInt64, _ n: UInt64, write: Bool) {
        // The guest's data breakpoints (DR0–DR3): a #DB trap after the instruction, DR6.Bn.
        for g in guestBreakpoints where g.hits(lin, n, write: write) { guestDataHits |= 1 << UInt64(g.index) }
        for w in watchpoints where w.hit(lin, n, write: write) {
            if watchHit == nil { watchHit = (w.kind, w.address) }
            return
        }
    }

    /// Accesses must be checked one by one (debugger watchpoints or guest data breakpoints).
    @inline(__always) var accessesWatched: Bool { debugChecks && (!watchpoints.isEmpty || !guestBreakpoints.isEmpty) }

    @inline(never) func readSlow(_ lin: UInt64, _ n: UInt64, _ seg: Int) throws(Fault) -> UInt64 {
        if accessesWatched {
            let v = try readSlowUnwatched(lin, n, seg)
            checkWatch(lin, n, write: false)
            return v
        }
        return try readSlowUnwatched(lin, n, seg)
    }

    /// Alignment checking is on: CR0.AM = 1, EFLAGS.AC = 1 and CPL 3 (SDM Vol. 3A §6.15
    /// "Interrupt 17—Alignment Check Exception (#AC)"). While it is, data translations stay out of
    /// the software TLB (`fill`) so every data access reaches `checkAlignment`; setting AC, AM or
    /// entering CPL 3 flushes the TLB (`setFlags`, `modeChanged`, `setCPL`).
    @inline(__always) var alignmentChecking: Bool {
        cpl == 3 && cr0 & CR0.am != 0 && flagsRest & RFLAGS.ac != 0
    }

    /// #AC(0) for a misaligned data access at CPL 3 with alignment checking on. Table 6-7
    /// "Alignment Requirements by Data Type": a word at an even address, a doubleword at a
    /// multiple of 4, a quadword at a multiple of 8; wider operands reach here in pieces of at
    /// most 8 bytes and are checked piece by piece. #AC ranks below the page fault of the same
    /// access (§6.9 "Priority Among Concurrent Exceptions and Interrupts", Table 6-2), so it is
    /// checked after the translation succeeded. The implicit supervisor accesses to descriptor
    /// tables and the TSS go through `readSystem`/`writeSystem` and are not checked (§6.15).
    @inline(__always) func checkAlignment(_ lin: UInt64, _ n: UInt64) throws(Fault) {
        if n > 1 && n <= 8 && n & (n - 1) == 0 && lin & (n - 1) != 0 && alignmentChecking { throw Fault.AC() }
    }

    func readSlowUnwatched(_ lin: UInt64, _ n: UInt64, _ seg: Int) throws(Fault) -> UInt64 {
        if (lin & 0xFFF) + n <= 0x1000 {
            let phys = try translate(lin, .read, seg: seg)
            try checkAlignment(lin, n)
            return readPhys(phys, n)
        }
        // Page-crossing: translate both pages before reading either (no partial side effects).
        let first = 0x1000 - (lin & 0xFFF)
        let p1 = try translate(lin, .read, seg: seg)
        let p2 = try translate(lin &+ first, .read, seg: seg)
        try checkAlignment(lin, n)
        var v: UInt64 = 0
        for k in 0..<n {
            let b = k < first ? readPhys(p1 &+ k, 1) : readPhys(p2 &+ (k - first), 1)
            v |= b << (8 * k)
        }
        return v
    }

    @inline(never) func writeSlow(_ lin: UInt64, _ n: UInt64, _ v: UInt64, _ seg: Int) throws(Fault) {
        if accessesWatched {
            try writeSlowUnwatched(lin, n, v, seg)
            checkWatch(lin, n, write: true)
            return
        }
        try writeSlowUnwatched(lin, n, v, seg)
    }

    func writeSlowUnwatched(_ lin: UInt64, _ n: UInt64, _ v: UInt64, _ seg: Int) throws(Fault) {
        if (lin & 0xFFF) + n <= 0x1000 {
            let phys = try translate(lin, .write, seg: seg)
            try checkAlignment(lin, n)
            writePhys(phys, n, v)
            return
        }
        let first = 0x1000 - (lin & 0xFFF)
        let p1 = try translate(lin, .write, seg: seg)
        let p2 = try translate(lin &+ first, .write, seg: seg)
        try checkAlignment(lin, n)
        for k in 0..<n {
            let b = (v >> (8 * k)) & 0xFF
            if k < first { writePhys(p1 &+ k, 1, b) } else { writePhys(p2 &+ (k - first), 1, b) }
        }
    }

    /// Read `n` (1…8) bytes of guest-physical memory; outside RAM: the firmware ROM, else all-ones.
    @usableFromInline func readPhys(_ pa: UInt64, _ n: UInt64) -> UInt64 {
        if !mmioRegions.isEmpty, let v = mmioRead(pa, n) { return v }     // a device decodes it (MMIO.swift)
        if pa < ramSize && n <= ramSize - pa {
            let p = ram + Int(pa)
            switch n {
            case 1: return UInt64(p.load(as: UInt8.self))
            case 2: return UInt64(p.loadUnaligned(as: UInt16.self))
            case 4: return UInt64(p.loadUnaligned(as: UInt32.self))
            case 8: return p.loadUnaligned(as: UInt64.self)
            default: break
            }
        }
        var v: UInt64 = 0
        for k in 0..<n {
            let a = pa &+ k
            let b: UInt64 = a < ramSize ? UInt64((ram + Int(a)).load(as: UInt8.self)) : UInt64(memory.unbackedByte(a))
            v |= b << (8 * k)
        }
        return v
    }

    /// Write `n` bytes of guest-physical memory; unbacked addresses drop the write.
    /// Invalidates cached code on the page.
    @usableFromInline func writePhys(_ pa: UInt64, _ n: UInt64, _ v: UInt64) {
        if !mmioRegions.isEmpty && mmioWrite(pa, n, v) { return }
        for k in 0..<n {
            let a = pa &+ k
            guard a < ramSize else { continue }
            notePhysWrite(a)
            (ram + Int(a)).storeBytes(of: UInt8(truncatingIfNeeded: v >> (8 * k)), as: UInt8.self)
        }
    }

    /// A write reached physical page `pa >> 12`: if code was decoded from it, retire those blocks
    /// by bumping the page's generation.
    @inline(__always) func notePhysWrite(_ pa: UInt64) {
        let pg = Int(pa >> 12)
        let info = pageInfo[pg]
        if info & 1 != 0 { pageInfo[pg] = info &+ 1; codeWritten = true }   // clears bit 0, bumps the generation
    }

    /// Translate a linear address for an access, raising #PF/#GP as the SDM says, setting
    /// accessed/dirty flags, and filling the software TLB. Returns the physical address.
    @usableFromInline func translate(_ lin: UInt64, _ access: Access, seg: Int = Seg.ds) throws(Fault) -> UInt64 {
        // Canonical check (SDM Vol. 3A §3.3.7.1 "Canonical Addressing"): #SS(0) for SS, else #GP(0).
        if codeMode == 2 || pagingMode == 3 {
            if UInt64(bitPattern: (Int64(bitPattern: lin) << 16) >> 16) != lin {
                throw seg == Seg.ss ? Fault.SS(0) : Fault.GP(0)
            }
        }
        let user = cpl == 3
        var phys: UInt64
        var writable = true
        if pagingMode == 0 {
            phys = lin & 0xFFFF_FFFF
        } else {
            let w = try walk(lin, access, user: user, setBits: true)
            phys = w.phys
            writable = w.writable
        }
        // The guest-physical → host-physical step (GuestPhysical.swift; identity without EPT).
        phys = try hostPhysical(phys, access == .write ? .write : access == .fetch ? .fetch : .read, linear: lin)
        if access == .fetch && mmioTouches(page: phys & ~0xFFF) {
            pendingUnimplemented = "instruction fetch from a memory-mapped device page (physical 0x\(hex(phys)))"
            throw Fault.stop
        }
        fill(lin, phys, access, writable: writable)
        return phys
    }

    /// Install a TLB entry after a successful translation.
    @inline(__always) func fill(_ lin: UInt64, _ phys: UInt64, _ access: Access, writable: Bool) {
        let page = lin & ~0xFFF
        let ppage = phys & ~0xFFF
        let i = Int((page >> 12) & SoftTLB.mask)
        switch access {
        case .fetch:
            tlb.fTag[i] = page; tlb.fPhys[i] = ppage
        case .read, .write:
            guard ppage < ramSize else { return }       // unbacked: always the slow path
            if alignmentChecking { return }             // each access is checked (checkAlignment)
            if mmioTouches(page: ppage) { return }      // a device page: every access reaches the device
            // Watched pages stay out of the TLB so each access is checked.
            if accessesWatched && (watchpoints.contains(where: { $0.touches(page: page) })
                || guestBreakpoints.contains(where: { $0.watches(page: page) })) { return }
            let add = Int(bitPattern: UInt(bitPattern: ram + Int(ppage))) &- Int(bitPattern: UInt(page))
            tlb.rTag[i] = page; tlb.rAdd[i] = add
            // A write entry only when the page may be written without the slow path: the walk
            // set the dirty flag already, and no cached code lives on the page.
            if access == .write && writable && pageInfo[Int(ppage >> 12)] & 1 == 0 {
                tlb.wTag[i] = page; tlb.wAdd[i] = add; tlb.wPhys[i] = ppage
            }
        }
    }

    public struct WalkResult: Sendable {
        public var phys: UInt64
        public var writable: Bool
        /// Each level visited: (level name, entry address, entry value).
        public var steps: [(String, UInt64, UInt64)] = []
    }

    /// The page walk of SDM Vol. 3A §4.3 "32-Bit Paging", §4.4 "PAE Paging", §4.5 "4-Level
    /// Paging", with the access-rights rules of §4.6 and the page-fault error code of §4.7.
    /// `setBits` false is the debugger's view: no accessed/dirty updates and no rights checks.
    @usableFromInline func walk(_ lin: UInt64, _ access: Access, user: Bool, setBits: Bool, record: Bool = false) throws(Fault) -> WalkResult {
        let wp = cr0 & CR0.wp != 0
        let nxe = efer & EFER.nxe != 0
        var rw = true, us = true, xd = false
        var entries: [(UInt64, UInt64)] = []          // (guest-physical address, value) for A/D updates
        entries.reserveCapacity(4)
        var steps: [(String, UInt64, UInt64)] = []
        let code: UInt32 = (access == .write ? 2 : 0) | (user ? 4 : 0)
            | (access == .fetch && (nxe && pagingMode >= 2) ? 0x10 : 0)
        @inline(__always) func notPresent() -> Fault { cr2BeforeFault = cr2; cr2 = lin; return .PF(code) }
        @inline(__always) func reserved() -> Fault { cr2BeforeFault = cr2; cr2 = lin; return .PF(code | 1 | 8) }
        let rsvdHigh: UInt64 = ~((1 << maxPhysAddrBits) - 1) & 0x7FFF_FFFF_FFFF_FFFF
        let xdRsvd: UInt64 = nxe ? 0 : (1 << 63)

        var phys: UInt64 = 0
        var leafEntryIndex = 0
        var pageSizeMask: UInt64 = 0xFFF
        switch pagingMode {
        case 1:
            // 32-bit paging: PDE then PTE, or a 4 MiB page with CR4.PSE.
            let pdeA = (cr3 & 0xFFFF_F000) | ((lin >> 20) & 0xFFC)
            let pde = readPhys(try hostPhysical(pdeA, .pagingRead, linear: lin, sideEffects: setBits), 4)
            if record { steps.append(("PDE", pdeA, pde)) }
            if pde & 1 == 0 { throw notPresent() }
            rw = pde & 2 != 0; us = pde & 4 != 0
            entries.append((pdeA, pde))
            if pde & 0x80 != 0 && cr4 & CR4.pse != 0 {
                if pde & (1 << 21) != 0 { throw reserved() }
                phys = (pde & 0xFFC0_0000) | (((pde >> 13) & 0xFF) << 32)
                pageSizeMask = 0x3F_FFFF
            } else {
                let pteA = (pde & 0xFFFF_F000) | ((lin >> 10) & 0xFFC)
                let pte = readPhys(try hostPhysical(pteA, .pagingRead, linear: lin, sideEffects: setBits), 4)
                if record { steps.append(("PTE", pteA, pte)) }
                if pte & 1 == 0 { throw notPresent() }
                rw = rw && pte & 2 != 0; us = us && pte & 4 != 0
                entries.append((pteA, pte))
                phys = pte & 0xFFFF_F000
            }
        case 2, 3:
            var table: UInt64
            var level: Int
            if pagingMode == 3 {
                table = cr3 & physAddrMask
                level = 4
            } else {
                // PAE: the PDPTE registers were loaded with CR3 (§4.4.1).
                let idx = Int((lin >> 30) & 3)
                let pdpte = [pdpte.0, pdpte.1, pdpte.2, pdpte.3][idx]
                if record { steps.append(("PDPTE\(idx)", cr3 & 0xFFFF_FFE0 + UInt64(idx * 8), pdpte)) }
                if pdpte & 1 == 0 { throw notPresent() }
                table = pdpte & physAddrMask
                level = 2
            }
            while true {
                let shift = UInt64(12 + 9 * (level - 1))
                let ea = table | (((lin >> shift) & 0x1FF) << 3)
                let e = readPhys(try hostPhysical(ea, .pagingRead, linear: lin, sideEffects: setBits), 8)
                if record { steps.append((["", "PTE", "PDE", "PDPTE", "PML4E"][level], ea, e)) }
                if e & 1 == 0 { throw notPresent() }
                if e & rsvdHigh != 0 || e & xdRsvd != 0 { throw reserved() }
                rw = rw && e & 2 != 0; us = us && e & 4 != 0
                if nxe && e & (1 << 63) != 0 { xd = true }
                entries.append((ea, e))
                let ps = e & 0x80 != 0
                if level == 4 && ps { throw reserved() }
                if ps && level == 3 {
                    // 1 GiB page (CPUID.80000001H:EDX.Page1GB = 1 in our model).
                    if e & 0x3FFF_E000 != 0 { throw reserved() }
                    phys = e & physAddrMask & ~0x3FFF_FFFF
                    pageSizeMask = 0x3FFF_FFFF
                    break
                }
                if ps && level == 2 {
                    if e & 0x1F_E000 != 0 { throw reserved() }
                    phys = e & physAddrMask & ~0x1F_FFFF
                    pageSizeMask = 0x1F_FFFF
                    break
                }
                if level == 1 { phys = e & physAddrMask; break }
                table = e & physAddrMask
                level -= 1
            }
        default:
            return WalkResult(phys: lin & 0xFFFF_FFFF, writable: true, steps: steps)
        }
        leafEntryIndex = entries.count - 1
        phys |= lin & pageSizeMask

        if setBits {
            // Access rights (§4.6): user accesses need U/S=1 at every level; writes need R/W=1
            // at every level for user mode, and for supervisor mode when CR0.WP=1.
            if user && !us { throw Fault.PF(code | 1).withCR2(self, lin) }
            if access == .write && !rw && (user || wp) { throw Fault.PF(code | 1).withCR2(self, lin) }
            if access == .fetch && xd { throw Fault.PF(code | 1).withCR2(self, lin) }
            // Accessed and dirty flags (§4.8 "Accessed and Dirty Flags").
            let wide = pagingMode >= 2
            for (k, (a, e)) in entries.enumerated() {
                var ne = e | 0x20
                if k == leafEntryIndex && access == .write { ne |= 0x40 }
                if ne != e {
                    let h = try hostPhysical(a, .pagingWrite, linear: lin)
                    if wide { writePhys(h, 8, ne) } else { writePhys(h, 4, ne) }
                }
            }
        }
        // A page mapped read-only, or not yet dirty, must take the slow path on writes.
        let writable = (rw || (!user && !wp)) && (access == .write)
        return WalkResult(phys: phys, writable: writable, steps: steps)
    }

    // MARK: Instruction fetch

    /// Physical address of the instruction byte at linear `lin` (for the decoder).
    @inline(__always) func fetchPhys(_ lin: UInt64) throws(Fault) -> UInt64 {
        let page = lin & ~0xFFF
        let i = Int((page >> 12) & SoftTLB.mask)
        if tlb.fTag[i] == page { return tlb.fPhys[i] | (lin & 0xFFF) }
        return try translate(lin, .fetch, seg: Seg.cs)
    }

    // MARK: Debugger path: never faults, never sets A/D bits

    /// Translate a linear address the way the CPU would for a supervisor read, without side
    /// effects. Returns nil where nothing is mapped.
    public func debugTranslate(_ lin: UInt64) -> UInt64? {
        if pagingMode == 3 && UInt64(bitPattern: (Int64(bitPattern: lin) << 16) >> 16) != lin { return nil }
        let savedCR2 = cr2
        defer { cr2 = savedCR2 }
        guard let gpa = pagingMode == 0 ? lin & 0xFFFF_FFFF : try? walk(lin, .read, user: false, setBits: false).phys else { return nil }
        return try? hostPhysical(gpa, .read, linear: lin, sideEffects: false)
    }

    /// The page walk level by level, for `translate` in the debugger.
    public func debugWalk(_ lin: UInt64) -> (phys: UInt64?, steps: [(String, UInt64, UInt64)]) {
        if pagingMode == 0 { return (lin & 0xFFFF_FFFF, []) }
        let savedCR2 = cr2
        defer { cr2 = savedCR2 }
        do {
            let w = try walk(lin, .read, user: false, setBits: false, record: true)
            return (w.phys, w.steps)
        } catch {
            // Re-walk recording to show how far it got.
            var steps: [(String, UInt64, UInt64)] = []
            if let w = try? walk(lin, .read, user: false, setBits: false, record: true) { steps = w.steps }
            return (nil, steps)
        }
    }

    /// Read guest-linear memory for the debugger: returns the readable prefix.
    public func debugRead(linear: UInt64, count: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count)
        var a = linear
        while out.count < count {
            guard let p = debugTranslate(a), !mmioTouches(page: p & ~0xFFF) else { break }   // device registers: not read
            if p < ramSize {
                let n = min(count - out.count, Int(0x1000 - (a & 0xFFF)), Int(ramSize - p))
                out.append(contentsOf: UnsafeRawBufferPointer(start: ram + Int(p), count: n))
                a &+= UInt64(n)
            } else if p >= memory.romBase && p - memory.romBase < memory.romSize {
                out.append(memory.unbackedByte(p))      // firmware ROM
                a &+= 1
            } else {
                break
            }
        }
        return out
    }

    /// Write guest-linear memory for the debugger; returns the number of bytes written.
    @discardableResult
    public func debugWrite(linear: UInt64, bytes: [UInt8]) -> Int {
        var done = 0
        var a = linear
        while done < bytes.count {
            guard let p = debugTranslate(a), p < ramSize, !mmioTouches(page: p & ~0xFFF) else { break }
            let n = min(bytes.count - done, Int(0x1000 - (a & 0xFFF)), Int(ramSize - p))
            for k in 0..<n { notePhysWrite(p + UInt64(k)); (ram + Int(p) + k).storeBytes(of: bytes[done + k], as: UInt8.self) }
            done += n
            a &+= UInt64(n)
        }
        return done
    }
}

extension Fault {
    @inline(__always) func withCR2(_ cpu: CPU, _ lin: UInt64) -> Fault { cpu.cr2BeforeFault = cpu.cr2; cpu.cr2 = lin; return self }
}
