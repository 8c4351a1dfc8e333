// Paging (SDM Vol. 3A ch. 4): #PF error codes and CR2 (§4.7 "Page-Fault Exceptions": bit 0 P
// — 0 not-present, 1 protection violation; bit 1 W/R — write; bit 2 U/S — user-mode access;
// bit 3 RSVD — a reserved bit was set in some paging-structure entry (then P = 1 as well);
// bit 4 I/D — instruction fetch, reported "only if … PAE paging or 4-level paging with
// IA32_EFER.NXE = 1"), access rights (§4.6: CR0.WP, U/S, R/W, XD), accessed and dirty flags
// (§4.8), and the page sizes of 32-bit paging (4 MiB with CR4.PSE), PAE paging (PDPTE registers,
// 2 MiB) and 4-level paging (2 MiB, 1 GiB).

import Testing
@testable import X86

/// Bits of the page-fault error code.
enum PFErr {
    static let p: UInt64 = 1, w: UInt64 = 2, u: UInt64 = 4, rsvd: UInt64 = 8, id: UInt64 = 0x10
}

let loadRAX: [UInt8] = [0x48, 0x8B, 0x06]     // mov rax,[rsi]
let storeRAX: [UInt8] = [0x48, 0x89, 0x06]    // mov [rsi],rax

@Suite("Paging: #PF in 4-level paging")
struct PageFaultTests {
    @Test func notPresentReadAndWrite() {
        let m = TestMachine.long64(mib: 2)
        m.setPTE(Layout.data, 0)
        m[.rsi] = Layout.data + 0x123
        m.expectFault(loadRAX, vector: 14, error: 0)
        #expect(m.cpu.cr2 == Layout.data + 0x123)
        m[.rsi] = Layout.data + 0x8
        m.expectFault(storeRAX, vector: 14, error: PFErr.w)
        #expect(m.cpu.cr2 == Layout.data + 0x8)
        // Not present at a higher level (the PD entry for 2–4 MiB).
        let m4 = TestMachine.long64(mib: 4)
        m4.w64(Layout.pd + 8, 0)
        m4.cpu.flushDecodedBlocks()
        m4[.rsi] = 0x20_0010
        m4.expectFault(loadRAX, vector: 14, error: 0)
        #expect(m4.cpu.cr2 == 0x20_0010)
    }

    /// CR0.WP = 1: supervisor writes to a read-only page fault with P|W; with WP = 0 they
    /// succeed (§4.6.1: "If CR0.WP = 0, data may be written to any supervisor-mode address").
    @Test func writeProtect() {
        let m = TestMachine.long64(mib: 2)
        m.setPTE(Layout.data, Layout.data | 0x5)        // P, U/S, not writable
        m.w64(Layout.data, 0x1111)
        m[.rsi] = Layout.data; m[.rax] = 0x2222
        m.expectFault(storeRAX, vector: 14, error: PFErr.p | PFErr.w)
        #expect(m.cpu.cr2 == Layout.data)
        #expect(m.r64(Layout.data) == 0x1111)
        // Reading is fine.
        #expect(m.run(loadRAX, steps: 1) == .budget)
        #expect(m[.rax] == 0x1111)
        // WP = 0: the supervisor write goes through.
        m.cpu.cr0 &= ~CR0.wp
        m.cpu.flushDecodedBlocks()
        m[.rax] = 0x3333
        #expect(m.run(storeRAX, steps: 1) == .budget)
        #expect(m.r64(Layout.data) == 0x3333)
        // R/W = 0 in a non-leaf entry (the PDE for 2–4 MiB, pointing to a page table at 0x9000
        // whose PTEs are all writable) write-protects the whole range.
        let m4 = TestMachine.long64(mib: 4)
        let pt2: UInt64 = 0x9000
        for i in 0..<512 { m4.w64(pt2 + UInt64(i) * 8, (0x20_0000 + UInt64(i) << 12) | 0x7) }
        m4.w64(Layout.pd + 8, pt2 | 0x5)
        m4.cpu.flushDecodedBlocks()
        m4[.rsi] = 0x20_1000
        m4.expectFault(storeRAX, vector: 14, error: PFErr.p | PFErr.w)
        #expect(m4.cpu.cr2 == 0x20_1000)
        #expect(m4.run(loadRAX, steps: 1) == .budget)
    }

    /// User-mode accesses: to a supervisor page P|U (read) or P|W|U (write); writes to a
    /// read-only user page P|W|U whatever CR0.WP; not present: U (and W).
    @Test func userAccesses() {
        let m = TestMachine.long64(mib: 2)
        func userFault(_ code: [UInt8], error: UInt64, sourceLocation: SourceLocation = #_sourceLocation) {
            m.enterUser64()
            m[.rsi] = Layout.data + 0x40
            let stop = m.run(code, at: Layout.userCode, steps: 1)
            #expect(m.vector(stop) == 14, "\(stop)", sourceLocation: sourceLocation)
            let f = m.frame64(errorCode: true)
            #expect(f.error == error, "error 0x\(hex(f.error ?? 0))", sourceLocation: sourceLocation)
            #expect(f.rip == Layout.userCode && f.cs == UInt64(Sel.userCode64 | 3), sourceLocation: sourceLocation)
            #expect(m.cpu.cr2 == Layout.data + 0x40, sourceLocation: sourceLocation)
        }
        m.setPTE(Layout.data, Layout.data | 0x3)          // supervisor, writable
        userFault(loadRAX, error: PFErr.p | PFErr.u)
        userFault(storeRAX, error: PFErr.p | PFErr.w | PFErr.u)
        m.setPTE(Layout.data, Layout.data | 0x5)          // user, read-only
        m.cpu.cr0 &= ~CR0.wp
        userFault(storeRAX, error: PFErr.p | PFErr.w | PFErr.u)
        m.setPTE(Layout.data, 0)
        userFault(loadRAX, error: PFErr.u)
        userFault(storeRAX, error: PFErr.w | PFErr.u)
        // U/S = 0 at a higher level makes the whole range supervisor-only.
        m.setPTE(Layout.data, Layout.data | 0x7)
        m.w64(Layout.pd, Layout.pt | 0x3)
        m.cpu.flushDecodedBlocks()
        m.enterUser64()
        let stop = m.run([0x90], at: Layout.userCode, steps: 1)    // even the fetch
        #expect(m.vector(stop) == 14)
        #expect(m.frame64(errorCode: true).error == PFErr.p | PFErr.u | PFErr.id)
        #expect(m.cpu.cr2 == Layout.userCode)
    }

    /// Execute-disable: a fetch from a page with XD = 1 (EFER.NXE = 1) faults with P|I/D; CR2
    /// and the saved RIP are the target. A fetch from a not-present page has I/D = 1 as well.
    @Test func noExecute() {
        let m = TestMachine.long64(mib: 4)
        let target = Layout.code + 0x1000
        m.load([0x90, 0xF4], at: target)
        m.setPTE(target, target | 0x7 | 1 << 63)
        m[.rax] = target
        let stop = m.run([0xFF, 0xE0], steps: 2)                     // jmp rax
        m.expectException(stop, vector: 14, error: PFErr.p | PFErr.id, rip: target)
        #expect(m.cpu.cr2 == target)
        // XD in the PDE of a 2 MiB page (2–4 MiB).
        m.w64(Layout.pd + 8, 0x20_0000 | 0x87 | 1 << 63)
        m.cpu.flushDecodedBlocks()
        m[.rax] = 0x20_0000; m[.rsp] = Layout.stack
        let stop2 = m.run([0xFF, 0xE0], steps: 2)
        m.expectException(stop2, vector: 14, error: PFErr.p | PFErr.id, rip: 0x20_0000)
        // Not present + fetch: I/D without P.
        m.setPTE(target, 0)
        m[.rax] = target; m[.rsp] = Layout.stack
        let stop3 = m.run([0xFF, 0xE0], steps: 2)
        m.expectException(stop3, vector: 14, error: PFErr.id, rip: target)
        // At CPL 3: P|U|I/D.
        m.setPTE(target, target | 0x7 | 1 << 63)
        m.enterUser64()
        m[.rax] = target
        let stop4 = m.run([0xFF, 0xE0], at: Layout.userCode, steps: 2)
        #expect(m.vector(stop4) == 14)
        #expect(m.frame64(errorCode: true).error == PFErr.p | PFErr.u | PFErr.id)
        // Reading an XD page is allowed.
        let m2 = TestMachine.long64(mib: 2)
        m2.setPTE(Layout.data, Layout.data | 0x7 | 1 << 63)
        m2.w64(Layout.data, 77); m2[.rsi] = Layout.data
        #expect(m2.run(loadRAX, steps: 1) == .budget)
        #expect(m2[.rax] == 77)
    }

    /// Reserved bits: a physical-address bit at or above MAXPHYADDR (46 here), XD with
    /// EFER.NXE = 0, bits 20:13 of a 2 MiB PDE, PS in a PML4E — RSVD = 1 and P = 1.
    @Test func reservedBits() {
        #expect(maxPhysAddrBits == 46)
        let m = TestMachine.long64(mib: 4)
        m[.rsi] = Layout.data
        m.setPTE(Layout.data, Layout.data | 0x7 | 1 << 51)
        m.expectFault(loadRAX, vector: 14, error: PFErr.p | PFErr.rsvd)
        #expect(m.cpu.cr2 == Layout.data)
        m.expectFault(storeRAX, vector: 14, error: PFErr.p | PFErr.w | PFErr.rsvd)
        // XD set while EFER.NXE = 0.
        m.setPTE(Layout.data, Layout.data | 0x7 | 1 << 63)
        m.cpu.efer &= ~EFER.nxe
        m.cpu.flushDecodedBlocks()
        m.expectFault(loadRAX, vector: 14, error: PFErr.p | PFErr.rsvd)
        m.cpu.efer |= EFER.nxe
        // A 2 MiB PDE with bit 13 set.
        m.w64(Layout.pd + 8, 0x20_0000 | 0x87 | 1 << 13)
        m.cpu.flushDecodedBlocks()
        m[.rsi] = 0x20_0040
        m.expectFault(loadRAX, vector: 14, error: PFErr.p | PFErr.rsvd)
        #expect(m.cpu.cr2 == 0x20_0040)
    }

    /// A write that crosses into a read-only page faults without writing the first part.
    @Test func pageCrossingWriteHasNoPartialEffect() {
        let m = TestMachine.long64(mib: 2)
        let next = Layout.data + 0x1000
        m.setPTE(next, next | 0x5)
        m.w64(next - 4, 0); m.w64(next, 0)
        m[.rsi] = next - 4; m[.rax] = ~0
        m.expectFault(storeRAX, vector: 14, error: PFErr.p | PFErr.w)
        #expect(m.r64(next - 4) == 0)
        #expect(m.r32(next) == 0)
        // Reading across the boundary of two present pages works.
        m.setPTE(next, next | 0x7)
        m.mem.write([1, 2, 3, 4, 5, 6, 7, 8], at: next - 4)
        #expect(m.run(loadRAX, steps: 1) == .budget)
        #expect(m[.rax] == 0x0807_0605_0403_0201)
    }

    /// An instruction that straddles into a not-present page: the fetch of its tail faults
    /// with I/D, CR2 = the first byte on the missing page, and the saved RIP is the start of
    /// the instruction.
    @Test func fetchFaultOnInstructionTail() {
        let m = TestMachine.long64(mib: 2)
        let page = Layout.code + 0x2000
        let start = page - 2
        m.load([0x48, 0x8B], at: start)                   // mov rax,[rsi] split 2 + 1
        m.load([0x06], at: page)
        m.setPTE(page, 0)
        m.rip = start
        let stop = m.run(1)
        m.expectException(stop, vector: 14, error: PFErr.id, rip: start)
        #expect(m.cpu.cr2 == page)
    }

    /// A CALL whose push hits a not-present stack page faults with W, CR2 = RSP − 8, and leaves
    /// RSP and RIP as they were (the #PF gate uses IST1 so its own frame has somewhere to go).
    @Test func pushFaultIsAtomic() {
        let m = TestMachine.long64(mib: 2)
        m.setGate64(14, offset: m.handlerAddress(14), ist: 1)
        let sp = Layout.data + 0x3000
        m.setPTE(sp - 0x1000, 0)
        m[.rsp] = sp
        let stop = m.run([0xE8, 0x00, 0x01, 0x00, 0x00], steps: 1)    // call +0x100
        let f = m.expectException(stop, vector: 14, error: PFErr.w, rip: Layout.code)
        #expect(f?.rsp == sp)
        #expect(m.cpu.cr2 == sp - 8)
    }

    /// INVLPG: after changing a PTE, INVLPG makes the next access use the new translation.
    @Test func invlpgUsesNewMapping() {
        let m = TestMachine.long64(mib: 2)
        let other = Layout.data + 0x5000
        let second = Layout.code + 0x100
        m.w64(Layout.data, 0xAAAA); m.w64(other, 0xBBBB)
        // invlpg [rsi] (0F 01 3E); mov rax,[rsi] — loaded before anything is translated.
        m.load([0x0F, 0x01, 0x3E] + loadRAX, at: second)
        m.load(loadRAX)
        m[.rsi] = Layout.data
        m.rip = Layout.code
        #expect(m.run(1) == .budget)
        #expect(m[.rax] == 0xAAAA)
        m.w64(m.pteAddress(Layout.data), other | 0x7)      // no host-side TLB flush
        m.rip = second
        #expect(m.run(2) == .budget)
        #expect(m[.rax] == 0xBBBB)
    }
}

@Suite("Paging: accessed/dirty flags and page sizes in 4-level paging")
struct PageSizeTests {
    /// §4.8: the processor sets A in every paging-structure entry it uses, and D in the entry
    /// that maps the final physical address on a write.
    @Test func accessedAndDirty() {
        let m = TestMachine.long64(mib: 2)
        let pte = m.pteAddress(Layout.data)
        m.w64(pte, Layout.data | 0x7)
        m.w64(Layout.pd, Layout.pt | 0x7)
        m.w64(Layout.pdpt, Layout.pd | 0x7)
        m.w64(Layout.pml4, Layout.pdpt | 0x7)
        m.cpu.flushDecodedBlocks()
        m[.rsi] = Layout.data
        #expect(m.run(loadRAX, steps: 1) == .budget)
        #expect(m.r64(pte) & 0x60 == 0x20, "PTE: A set, D clear")
        #expect(m.r64(Layout.pd) & 0x20 != 0, "PDE: A")
        #expect(m.r64(Layout.pdpt) & 0x20 != 0, "PDPTE: A")
        #expect(m.r64(Layout.pml4) & 0x20 != 0, "PML4E: A")
        #expect(m.r64(Layout.pd) & 0x40 == 0, "D only in the final entry")
        #expect(m.run(storeRAX, steps: 1) == .budget)
        #expect(m.r64(pte) & 0x60 == 0x60, "PTE: A and D")
        #expect(m.r64(Layout.pd) & 0x40 == 0)
        // A page that was only read does not get D; a fetch sets A.
        let codePTE = m.pteAddress(Layout.code + 0x2000)
        m.w64(codePTE, (Layout.code + 0x2000) | 0x7)
        m.load([0x90], at: Layout.code + 0x2000)
        m.rip = Layout.code + 0x2000
        #expect(m.run(1) == .budget)
        #expect(m.r64(codePTE) & 0x60 == 0x20)
    }

    /// A 2 MiB page (PDE.PS = 1): bits 20:0 of the address are the page offset. D is set in the PDE.
    @Test func twoMiBPage() {
        let m = TestMachine.long64(mib: 4)
        m.w64(Layout.pd + 2 * 8, 0x0 | 0x87)                // linear 4 MiB → physical 0
        m.cpu.flushDecodedBlocks()
        m.w64(Layout.data, 0x5151)
        m[.rsi] = 0x40_0000 + Layout.data
        #expect(m.run(loadRAX, steps: 1) == .budget)
        #expect(m[.rax] == 0x5151)
        m[.rax] = 0x6262
        #expect(m.run(storeRAX, steps: 1) == .budget)
        #expect(m.r64(Layout.data) == 0x6262)
        #expect(m.r64(Layout.pd + 2 * 8) & 0x60 == 0x60)
    }

    /// A 1 GiB page (PDPTE.PS = 1, CPUID.80000001H:EDX.Page1GB = 1): bits 29:0 are the offset;
    /// bits 29:13 of such a PDPTE are reserved.
    @Test func oneGiBPage() {
        let m = TestMachine.long64(mib: 2)
        m.w64(Layout.pdpt + 8, 0x0 | 0x87)                  // linear 1 GiB → physical 0
        m.cpu.flushDecodedBlocks()
        m.w64(Layout.data, 0x7373)
        m[.rsi] = 0x4000_0000 + Layout.data
        #expect(m.run(loadRAX, steps: 1) == .budget)
        #expect(m[.rax] == 0x7373)
        #expect(m.r64(Layout.pdpt + 8) & 0x20 != 0)
        m.w64(Layout.pdpt + 8, 0x0 | 0x87 | 1 << 13)
        m.cpu.flushDecodedBlocks()
        m.expectFault(loadRAX, vector: 14, error: PFErr.p | PFErr.rsvd)
        #expect(m.cpu.cr2 == 0x4000_0000 + Layout.data)
    }
}

extension TestMachine {
    /// Turn paging on from 32-bit protected mode the way software does: CR3 and CR4 first, then
    /// MOV CR0 with PG (and WP) set, executed by the CPU.
    func enablePaging32(cr3: UInt64, cr4: UInt64, efer: UInt64 = 0) -> StopCause {
        cpu.cr3 = cr3
        cpu.cr4 = cr4
        cpu.efer = efer
        cpu.modeChanged()
        cpu.regs[Reg.rax] = cpu.cr0 | CR0.pg | CR0.wp
        return run([0x0F, 0x22, 0xC0], steps: 1)          // mov cr0, eax
    }
}

@Suite("Paging: 32-bit and PAE paging")
struct LegacyPagingTests {
    let pd32: UInt64 = 0x9000, pt32: UInt64 = 0xA000

    /// 32-bit paging: PDE[0] → a page table identity-mapping 0–4 MiB with 4 KiB pages; PDE[1] a
    /// 4 MiB page (PS = 1, CR4.PSE = 1) at physical 0, so linear 4 MiB + x aliases x (§4.3,
    /// Table 4-4). 4-byte entries get A and D.
    func setUp32(_ m: TestMachine) {
        m.w32(pd32, UInt32(pt32) | 0x7)
        m.w32(pd32 + 4, 0x0000_0000 | 0x87)
        for i in 0..<1024 { m.w32(pt32 + UInt64(i) * 4, UInt32(i) << 12 | 0x7) }
    }

    @Test func fourMiBPage() {
        let m = TestMachine.protected32(mib: 4)
        setUp32(m)
        #expect(m.enablePaging32(cr3: pd32, cr4: CR4.pse) == .budget)
        #expect(m.cpu.modeDescription.hasSuffix("32-bit paging"))
        m.w32(Layout.data, 0xCAFE_F00D)
        m[.rsi] = 0x40_0000 + Layout.data
        #expect(m.run([0x8B, 0x06], steps: 1) == .budget)            // mov eax,[esi]
        #expect(m[.rax] == 0xCAFE_F00D)
        #expect(m.r32(pd32 + 4) & 0x60 == 0x20)
        m[.rax] = 0x1234_5678
        #expect(m.run([0x89, 0x06], steps: 1) == .budget)            // mov [esi],eax
        #expect(m.r32(Layout.data) == 0x1234_5678)
        #expect(m.r32(pd32 + 4) & 0x60 == 0x60)
        // The same data through the 4 KiB mapping: A (then D) in the 4-byte PTE.
        let pte = pt32 + (Layout.data >> 12) * 4
        #expect(m.r32(pte) & 0x60 == 0)
        m[.rsi] = Layout.data
        #expect(m.run([0x8B, 0x06], steps: 1) == .budget)
        #expect(m[.rax] == 0x1234_5678)
        #expect(m.r32(pte) & 0x60 == 0x20)
        #expect(m.run([0x89, 0x06], steps: 1) == .budget)
        #expect(m.r32(pte) & 0x60 == 0x60)
        m[.rsi] = 0x40_0000 + Layout.data
        // Bit 21 of a 4 MiB PDE is reserved (§4.3, Table 4-4): RSVD.
        m.w32(pd32 + 4, 0x0020_0000 | 0x87)
        m.cpu.flushDecodedBlocks()
        m.expectFault32([0x8B, 0x06], vector: 14, error: UInt32(PFErr.p | PFErr.rsvd))
        #expect(m.cpu.cr2 == 0x40_0000 + Layout.data)
    }

    /// 32-bit paging #PF error codes; an instruction fetch does not set I/D in 32-bit paging.
    @Test func faultsIn32BitPaging() {
        let m = TestMachine.protected32(mib: 4)
        setUp32(m)
        #expect(m.enablePaging32(cr3: pd32, cr4: CR4.pse) == .budget)
        let pte = pt32 + (Layout.data >> 12) * 4
        m.w32(pte, 0)
        m.cpu.flushDecodedBlocks()
        m[.rsi] = Layout.data + 4
        m.expectFault32([0x8B, 0x06], vector: 14, error: 0)
        #expect(m.cpu.cr2 == Layout.data + 4)
        m.w32(pte, UInt32(Layout.data) | 0x5)
        m.cpu.flushDecodedBlocks()
        m.expectFault32([0x89, 0x06], vector: 14, error: UInt32(PFErr.p | PFErr.w))
        // Fetch from a not-present page: error 0 (no I/D bit without PAE/NXE).
        let target = Layout.code + 0x3000
        m.w32(pt32 + (target >> 12) * 4, 0)
        m.cpu.flushDecodedBlocks()
        m[.rax] = target
        let stop = m.run([0xFF, 0xE0], steps: 2)                     // jmp eax
        #expect(m.vector(stop) == 14)
        #expect(m.r32(m[.rsp]) == 0)
        #expect(UInt64(m.r32(m[.rsp] + 4)) == target)
        #expect(m.cpu.cr2 == target)
    }

    /// PAE paging: CR3 points to a 32-byte-aligned PDPT of four PDPTEs, loaded into the PDPTE
    /// registers by the MOV to CR0 that enables paging (§4.4.1); PDEs are 8 bytes, PS = 1 maps
    /// 2 MiB. With EFER.NXE = 1 the XD bit applies and fetch faults report I/D.
    @Test func paePaging() {
        let m = TestMachine.protected32(mib: 4)
        let pdpt: UInt64 = 0x9000, pdA: UInt64 = 0xA000, pdB: UInt64 = 0xB000
        m.w64(pdpt, pdA | 1)
        m.w64(pdpt + 8, pdB | 1)
        m.w64(pdA, 0x0 | 0x87)                              // 0–2 MiB identity
        m.w64(pdA + 8, 0x20_0000 | 0x87 | 1 << 63)          // 2–4 MiB identity, execute-disable
        m.w64(pdB, 0x0 | 0x87)                              // 1 GiB + x → x
        #expect(m.enablePaging32(cr3: pdpt, cr4: CR4.pae, efer: EFER.nxe) == .budget)
        #expect(m.cpu.modeDescription.hasSuffix("PAE paging"))
        m.w32(Layout.data, 0xABCD_0123)
        m[.rsi] = 0x4000_0000 + Layout.data
        #expect(m.run([0x8B, 0x06], steps: 1) == .budget)
        #expect(m[.rax] == 0xABCD_0123)
        #expect(m.r64(pdB) & 0x20 != 0)
        // XD fetch.
        m[.rax] = 0x20_0000
        let stop = m.run([0xFF, 0xE0], steps: 2)
        #expect(m.vector(stop) == 14)
        #expect(UInt64(m.r32(m[.rsp])) == PFErr.p | PFErr.id)
        #expect(m.cpu.cr2 == 0x20_0000)
    }

    /// "If any of the PDPTEs sets both the P flag (bit 0) and any reserved bit, the MOV to CR
    /// instruction causes a general-protection exception (#GP(0)) and the PDPTEs are not
    /// loaded" (§4.4.1). Bits 2:1 of a PAE PDPTE are reserved.
    @Test func paeReservedPDPTEFaultsOnLoad() {
        let m = TestMachine.protected32(mib: 4)
        let pdpt: UInt64 = 0x9000, pdA: UInt64 = 0xA000
        m.w64(pdpt, pdA | 1)
        m.w64(pdA, 0x0 | 0x87)
        m.w64(pdpt + 16, pdA | 1 | 2)                       // PDPTE[2]: present with R/W (reserved)
        m.cpu.cr3 = pdpt; m.cpu.cr4 = CR4.pae; m.cpu.modeChanged()
        m[.rax] = m.cpu.cr0 | CR0.pg
        m.expectFault32([0x0F, 0x22, 0xC0], vector: 13, error: 0)
        #expect(m.cpu.cr0 & CR0.pg == 0)
        // Fix it and enable paging; then MOV CR3 with a bad PDPT also faults.
        m.w64(pdpt + 16, 0)
        #expect(m.enablePaging32(cr3: pdpt, cr4: CR4.pae) == .budget)
        let bad: UInt64 = 0xC000
        m.w64(bad, pdA | 1 | 1 << 5)                        // bit 5 is reserved too
        m[.rbx] = bad
        m.expectFault32([0x0F, 0x22, 0xDB], vector: 13, error: 0)   // mov cr3, ebx
        #expect(m.cpu.cr3 == pdpt)
    }
}
