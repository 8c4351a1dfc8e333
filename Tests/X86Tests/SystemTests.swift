// System instructions: CPUID, RDMSR/WRMSR, SWAPGS, MOV to/from CR0/CR3/CR4/CR8, SYSCALL/SYSRET,
// RDTSC, LGDT/LIDT/SGDT/SIDT, LTR, far JMP between 64-bit and compatibility mode, IRETQ.

import Testing
@testable import X86

extension TestMachine {
    /// Run a single instruction and expect it to fault with `vector` (error code `error`),
    /// the saved RIP being the instruction's own address.
    func expectFault(_ code: [UInt8], at address: UInt64 = Layout.code, vector: Int, error: UInt64? = nil,
                     sourceLocation: SourceLocation = #_sourceLocation) {
        let rsp = cpu.regs[Reg.rsp]
        let stop = run(code, at: address, steps: 1)
        if let f = expectException(stop, vector: vector, error: error, rip: address, sourceLocation: sourceLocation) {
            if cpu.cpl == 0 && f.cs & 3 == 0 { #expect(f.rsp == rsp, "saved RSP", sourceLocation: sourceLocation) }
        }
        cpu.regs[Reg.rsp] = rsp
    }

    /// Compatibility mode (IA-32e mode, CS = the 32-bit code segment 0x30), CPL 0.
    func enterCompat32() {
        cpu.segs[Seg.cs] = SegmentRegister(selector: Sel.code32, base: 0, limit: 0xFFFF_FFFF, attr: 0xC09B)
        cpu.modeChanged()
    }
}

@Suite("CPUID")
struct CPUIDTests {
    func cpuid(_ m: TestMachine, _ leaf: UInt64, _ sub: UInt64 = 0) -> (UInt64, UInt64, UInt64, UInt64) {
        m[.rax] = 0xFFFF_FFFF_0000_0000 | leaf
        m[.rcx] = 0xFFFF_FFFF_0000_0000 | sub
        m[.rbx] = ~0; m[.rdx] = ~0
        #expect(m.run([0x0F, 0xA2], steps: 1) == .budget)
        return (m[.rax], m[.rbx], m[.rcx], m[.rdx])
    }

    /// Leaf 0: EAX = highest basic leaf; EBX, EDX, ECX = "Genu", "ineI", "ntel". "On Intel 64
    /// processors, CPUID clears the high 32 bits of the RAX/RBX/RCX/RDX registers in all modes."
    @Test func vendor() {
        let m = TestMachine.long64(mib: 2)
        let (a, b, c, d) = cpuid(m, 0)
        #expect(a == UInt64(CPUModel.maxBasicLeaf) && a >= 1)
        #expect(b == 0x756E_6547 && d == 0x4965_6E69 && c == 0x6C65_746E)
        var s = ""
        for r in [b, d, c] { for k in 0..<4 { s.append(Character(UnicodeScalar(UInt8((r >> (8 * UInt64(k))) & 0xFF)))) } }
        #expect(s == "GenuineIntel")
    }

    /// Leaf 1 EAX: stepping 3:0, model 7:4, family 11:8, extended model 19:16; for family 6 the
    /// displayed model is ExtendedModel·16 + Model (SDM Vol. 2 "CPUID", Figure 3-6).
    @Test func leaf1Signature() {
        let m = TestMachine.long64(mib: 2)
        let (a, _, c, d) = cpuid(m, 1)
        #expect(a == UInt64(CPUModel.signature))
        let family = (a >> 8) & 0xF, model = (a >> 4) & 0xF, ext = (a >> 16) & 0xF, stepping = a & 0xF
        #expect(family == 6)
        #expect(ext << 4 | model == 0x55)
        #expect(stepping == 4)
        #expect(c == UInt64(CPUModel.leaf1ECX) && d == UInt64(CPUModel.leaf1EDX))
        // What the tests rely on: PAE (EDX 6), PSE (3), MSR (5), TSC (4), CX8 (8), CMOV (15).
        for bit in [3, 4, 5, 6, 8, 15] { #expect(d & (1 << UInt64(bit)) != 0, "leaf 1 EDX bit \(bit)") }
    }

    /// 0x80000001 EDX: SYSCALL (bit 11), XD/NX (bit 20), Intel 64 / LM (bit 29); as the model says.
    @Test func extendedFeatures() {
        let m = TestMachine.long64(mib: 2)
        let (maxExt, _, _, _) = cpuid(m, 0x8000_0000)
        #expect(maxExt >= 0x8000_0001)
        let (_, _, c, d) = cpuid(m, 0x8000_0001)
        #expect(d == UInt64(CPUModel.ext1EDX) && c == UInt64(CPUModel.ext1ECX))
        #expect(d & (1 << 11) != 0, "SYSCALL/SYSRET")
        #expect(d & (1 << 20) != 0, "NX")
        #expect(d & (1 << 29) != 0, "LM")
        #expect(d & (1 << 26) != 0, "1-GByte pages (tested in PagingTests)")
    }
}

@Suite("RDMSR / WRMSR / SWAPGS")
struct MSRTests {
    func wrmsr(_ m: TestMachine, _ msr: UInt32, _ v: UInt64) -> StopCause {
        m[.rcx] = UInt64(msr); m[.rax] = v & 0xFFFF_FFFF; m[.rdx] = v >> 32
        return m.run([0x0F, 0x30], steps: 1)
    }
    func rdmsr(_ m: TestMachine, _ msr: UInt32) -> UInt64? {
        m[.rcx] = UInt64(msr); m[.rax] = ~0; m[.rdx] = ~0
        guard m.run([0x0F, 0x32], steps: 1) == .budget else { return nil }
        return m[.rdx] << 32 | m[.rax]
    }

    /// IA32_EFER (C000_0080H) reads back SCE, LME, LMA, NXE as set up (0xD01); RDMSR zero-extends
    /// EDX:EAX into RDX and RAX.
    @Test func efer() {
        let m = TestMachine.long64(mib: 2)
        #expect(rdmsr(m, MSR.efer) == 0xD01)
        #expect(m[.rdx] == 0 && m[.rax] == 0xD01)
    }

    @Test func eferReservedBitFaults() {
        let m = TestMachine.long64(mib: 2)
        m[.rcx] = UInt64(MSR.efer); m[.rax] = 0xD01 | 0x2; m[.rdx] = 0
        m.expectFault([0x0F, 0x30], vector: 13, error: 0)
        #expect(m.cpu.efer == 0xD01)
        // Changing LME while CR0.PG = 1: #GP(0) (SDM Vol. 4, IA32_EFER; Vol. 3A §9.8.5).
        m[.rcx] = UInt64(MSR.efer); m[.rax] = 0x801; m[.rdx] = 0
        m.expectFault([0x0F, 0x30], vector: 13, error: 0)
        #expect(m.cpu.efer == 0xD01)
    }

    /// IA32_FS_BASE / IA32_GS_BASE are the bases FS:/GS: accesses use in 64-bit mode; SWAPGS
    /// exchanges GS.base with IA32_KERNEL_GS_BASE (SDM Vol. 2 "SWAPGS").
    @Test func fsGsBaseAndSwapgs() {
        let m = TestMachine.long64(mib: 2)
        let d = Layout.data
        m.w64(d + 0x10, 0x1111); m.w64(d + 0x108, 0x2222); m.w64(d + 0x208, 0x3333)
        #expect(wrmsr(m, MSR.fsBase, d) == .budget)
        #expect(wrmsr(m, MSR.gsBase, d + 0x100) == .budget)
        #expect(wrmsr(m, MSR.kernelGSBase, d + 0x200) == .budget)
        // mov rax, fs:[0x10] (64 48 8B 04 25 10 00 00 00)
        #expect(m.run([0x64, 0x48, 0x8B, 0x04, 0x25, 0x10, 0, 0, 0], steps: 1) == .budget)
        #expect(m[.rax] == 0x1111)
        // mov rax, gs:[8] (65 48 8B 04 25 08 00 00 00)
        let readGS: [UInt8] = [0x65, 0x48, 0x8B, 0x04, 0x25, 0x08, 0, 0, 0]
        #expect(m.run(readGS, steps: 1) == .budget)
        #expect(m[.rax] == 0x2222)
        // swapgs (0F 01 F8)
        #expect(m.run([0x0F, 0x01, 0xF8], steps: 1) == .budget)
        #expect(m.run(readGS, steps: 1) == .budget)
        #expect(m[.rax] == 0x3333)
        #expect(rdmsr(m, MSR.kernelGSBase) == d + 0x100)
        #expect(rdmsr(m, MSR.gsBase) == d + 0x200)
        #expect(rdmsr(m, MSR.fsBase) == d)
    }

    /// "#GP(0) If the value in ECX specifies a reserved or unimplemented MSR address" (RDMSR and
    /// WRMSR); WRMSR of a non-canonical address into FS_BASE #GP(0); both #GP(0) at CPL 3.
    @Test func faults() {
        let m = TestMachine.long64(mib: 2)
        for msr: UInt64 in [0x1234, 0xC000_1000, 0x4000_0000] {
            m[.rcx] = msr
            m.expectFault([0x0F, 0x32], vector: 13, error: 0)
            m[.rcx] = msr; m[.rax] = 0; m[.rdx] = 0
            m.expectFault([0x0F, 0x30], vector: 13, error: 0)
        }
        m[.rcx] = UInt64(MSR.fsBase); m[.rax] = 0; m[.rdx] = 0x0000_8000
        m.expectFault([0x0F, 0x30], vector: 13, error: 0)
        #expect(m.cpu.segs[Seg.fs].base == 0)
        // RDMSR and SWAPGS at CPL 3: #GP(0).
        for code: [UInt8] in [[0x0F, 0x32], [0x0F, 0x01, 0xF8]] {
            m.enterUser64()
            m[.rcx] = UInt64(MSR.efer)
            let stop = m.run(code, at: Layout.userCode, steps: 1)
            #expect(m.vector(stop) == 13)
            #expect(m.frame64(errorCode: true).error == 0)
        }
    }
}

@Suite("MOV to/from control registers")
struct ControlRegisterTests {
    @Test func readCR0CR3CR4() {
        let m = TestMachine.long64(mib: 2)
        #expect(m.run([0x0F, 0x20, 0xC0], steps: 1) == .budget)       // mov rax, cr0
        #expect(m[.rax] == 0x8001_0033)
        #expect(m.run([0x0F, 0x20, 0xD8], steps: 1) == .budget)       // mov rax, cr3
        #expect(m[.rax] == Layout.pml4)
        #expect(m.run([0x0F, 0x20, 0xE0], steps: 1) == .budget)       // mov rax, cr4
        #expect(m[.rax] == CR4.pae)
    }

    /// 64-bit mode MOV to CR faults (SDM Vol. 2 "MOV—Move to/from Control Registers", 64-Bit
    /// Mode Exceptions, and Vol. 3A §2.5: "Bits 63:32 of CR0 and CR4 are reserved and must be
    /// written with zeros. Writing a nonzero value to any of the upper 32 bits results in a
    /// general-protection exception, #GP(0)"): all #GP(0), registers unchanged.
    @Test func faultsIn64BitMode() {
        let m = TestMachine.long64(mib: 2)
        let cr0 = m.cpu.cr0, cr3 = m.cpu.cr3, cr4 = m.cpu.cr4
        func fault(_ code: [UInt8], rax: UInt64, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
            m[.rax] = rax
            m.expectFault(code, vector: 13, error: 0, sourceLocation: sourceLocation)
            #expect(m.cpu.cr0 == cr0 && m.cpu.cr3 == cr3 && m.cpu.cr4 == cr4, "\(what)", sourceLocation: sourceLocation)
        }
        let movCR0: [UInt8] = [0x0F, 0x22, 0xC0], movCR3: [UInt8] = [0x0F, 0x22, 0xD8], movCR4: [UInt8] = [0x0F, 0x22, 0xE0]
        fault(movCR0, rax: cr0 | 1 << 32, "CR0 bit 32")
        fault(movCR0, rax: cr0 & ~CR0.pg, "clearing CR0.PG in 64-bit mode")
        fault(movCR0, rax: (cr0 & ~CR0.pe), "PG without PE")
        fault(movCR0, rax: cr0 | CR0.nw, "NW=1 with CD=0")
        fault(movCR4, rax: cr4 | 1 << 15, "CR4 reserved bit 15")
        fault(movCR4, rax: cr4 | 1 << 32, "CR4 bit 32")
        fault(movCR4, rax: cr4 & ~CR4.pae, "leaving IA-32e mode by clearing CR4.PAE")
        fault(movCR3, rax: cr3 | 1 << 52, "CR3 bit above MAXPHYADDR")
        // mov cr8, rax (44 0F 22 C0) with bits 63:4 set.
        fault([0x44, 0x0F, 0x22, 0xC0], rax: 0x10, "CR8 reserved bits")
    }

    @Test func faultsAtCPL3() {
        let m = TestMachine.long64(mib: 2)
        m.enterUser64()
        for code: [UInt8] in [[0x0F, 0x20, 0xC0], [0x0F, 0x22, 0xC0], [0x0F, 0x22, 0xD8], [0xF4], [0xFA], [0x0F, 0x01, 0x16]] {
            m[.rsi] = Layout.data
            let stop = m.run(code, at: Layout.userCode, steps: 1)
            #expect(m.vector(stop) == 13, "\(code): \(stop)")
            // Delivery switched to RSP0; the frame there names the user RIP and CS.
            let f = m.frame64(errorCode: true)
            #expect(f.error == 0 && f.rip == Layout.userCode && f.cs == UInt64(Sel.userCode64 | 3))
            m.enterUser64()
        }
    }

    /// 32-bit protected mode: "#GP(0) … setting the PG flag to 1 when the PE flag is set to 0, or
    /// setting the CD flag to 0 when the NW flag is set to 1". A legal write keeps ET = 1.
    @Test func cr0In32BitMode() {
        let m = TestMachine.protected32()
        m[.rax] = 0x8000_0000                    // PG=1, PE=0
        m.expectFault32([0x0F, 0x22, 0xC0], vector: 13, error: 0)
        m[.rax] = 0x2000_0011                    // NW=1, CD=0
        m.expectFault32([0x0F, 0x22, 0xC0], vector: 13, error: 0)
        m[.rax] = 0x0000_0023                    // PE MP NE, ET clear
        #expect(m.run([0x0F, 0x22, 0xC0], steps: 1) == .budget)
        #expect(m.cpu.cr0 == 0x33, "CR0.ET is hardwired to 1: 0x\(hex(m.cpu.cr0))")
    }

    /// A CR3 load switches address spaces (and flushes the TLB): with a second PML4 whose PT maps
    /// the data page somewhere else, the same load reads other memory.
    @Test func cr3SwitchesAddressSpace() {
        let m = TestMachine.long64(mib: 4)
        // Second hierarchy at 0x100000: PML4 → PDPT → PD → PT copied, with the data page's
        // PTE redirected to physical 0x200000.
        let pml4b: UInt64 = 0x10_0000, pdptb: UInt64 = 0x10_1000, pdb: UInt64 = 0x10_2000, ptb: UInt64 = 0x10_3000
        m.w64(pml4b, pdptb | 7); m.w64(pdptb, pdb | 7); m.w64(pdb, ptb | 7)
        for i in 1..<512 { m.w64(pdb + UInt64(i) * 8, m.r64(Layout.pd + UInt64(i) * 8)) }
        for i in 0..<512 { m.w64(ptb + UInt64(i) * 8, m.r64(Layout.pt + UInt64(i) * 8)) }
        m.w64(ptb + (Layout.data >> 12) * 8, 0x20_0000 | 7)
        m.w64(Layout.data, 0xAAAA); m.w64(0x20_0000, 0xBBBB)
        m[.rsi] = Layout.data
        // mov rax,[rsi]; mov cr3,rbx; mov rax,[rsi]  (48 8B 06, 0F 22 DB, 48 8B 06)
        m[.rbx] = pml4b
        #expect(m.run([0x48, 0x8B, 0x06], steps: 1) == .budget)
        #expect(m[.rax] == 0xAAAA)
        #expect(m.run([0x0F, 0x22, 0xDB, 0x48, 0x8B, 0x06], steps: 2) == .budget)
        #expect(m[.rax] == 0xBBBB)
        #expect(m.cpu.cr3 == pml4b)
    }
}

@Suite("SYSCALL / SYSRET")
struct SyscallTests {
    /// SDM Vol. 2 "SYSCALL": RCX ← RIP (next); R11 ← RFLAGS; CS.Selector ← IA32_STAR[47:32] AND
    /// FFFCH (flat 64-bit code, DPL 0); SS.Selector ← IA32_STAR[47:32] + 8; RFLAGS ← RFLAGS AND
    /// NOT(IA32_FMASK); RIP ← IA32_LSTAR; CPL ← 0.
    /// "SYSRET" (REX.W): RIP ← RCX; RFLAGS ← (R11 AND 3C7FD7H) OR 2; CS.Selector ←
    /// IA32_STAR[63:48] + 16 OR 3 (64-bit code, DPL 3); SS.Selector ← IA32_STAR[63:48] + 8 OR 3; CPL ← 3.
    @Test func roundTripCPL3To0To3To0() {
        let m = TestMachine.long64(mib: 2)
        let lstar = Layout.code + 0x100
        m.cpu.msrs.star = UInt64(Sel.userCode32) << 48 | UInt64(Sel.code64) << 32
        m.cpu.msrs.lstar = lstar
        m.cpu.msrs.fmask = RFLAGS.if | RFLAGS.df
        // Kernel: cmp rbx,2 (48 83 FB 02); je +3 (74 03); sysretq (48 0F 07); hlt (F4)
        m.load([0x48, 0x83, 0xFB, 0x02, 0x74, 0x03, 0x48, 0x0F, 0x07, 0xF4], at: lstar)
        // User: mov eax,1 (B8 01 00 00 00); syscall (0F 05); mov ebx,2 (BB 02 00 00 00); syscall
        let user = Layout.userCode
        m.load([0xB8, 0x01, 0, 0, 0, 0x0F, 0x05, 0xBB, 0x02, 0, 0, 0, 0x0F, 0x05], at: user)
        m.enterUser64()
        m.rip = user
        m[.rbx] = 0
        let userFlags: UInt64 = 0x2 | RFLAGS.if | RFLAGS.df | RFLAGS.cf
        m.cpu.rflags = userFlags
        #expect(m.run(2) == .budget)                                  // mov; syscall
        #expect(m.cpu.cpl == 0)
        #expect(m.cpu.segs[Seg.cs].selector == Sel.code64 && m.cpu.segs[Seg.ss].selector == Sel.code64 + 8)
        #expect(m.cpu.segs[Seg.cs].attr & SegAttr.l != 0 && m.cpu.segs[Seg.cs].dpl == 0)
        #expect(m.rip == lstar)
        #expect(m[.rcx] == user + 7)
        #expect(m[.r11] == userFlags)
        #expect(m.cpu.rflags == userFlags & ~(RFLAGS.if | RFLAGS.df))
        #expect(m.run(3) == .budget)                                  // cmp; je (not taken); sysretq
        #expect(m.cpu.cpl == 3)
        #expect(m.cpu.segs[Seg.cs].selector == (Sel.userCode32 + 16) | 3)
        #expect(m.cpu.segs[Seg.ss].selector == (Sel.userCode32 + 8) | 3)
        #expect(m.cpu.segs[Seg.cs].attr & SegAttr.l != 0 && m.cpu.segs[Seg.cs].dpl == 3)
        #expect(m.rip == user + 7)
        #expect(m.cpu.rflags == userFlags)
        // mov ebx,2; syscall; cmp; je → hlt at CPL 0 with IF masked.
        #expect(m.cpu.run(budget: 10) == .halted(rip: lstar + 9, interruptsEnabled: false))
        #expect(m.cpu.cpl == 0)
        #expect(m[.rcx] == user + 14)
    }

    /// SYSCALL with IA32_EFER.SCE = 0: #UD. SYSRET at CPL 3: #GP(0). SYSRET to a non-canonical
    /// RCX: #GP(0) (taken at CPL 0, before any state changes).
    @Test func faults() {
        let m = TestMachine.long64(mib: 2)
        m.cpu.efer &= ~EFER.sce
        m.expectFault([0x0F, 0x05], vector: 6)
        m.cpu.efer |= EFER.sce
        m[.rcx] = 0x0000_8000_0000_0000
        m.expectFault([0x48, 0x0F, 0x07], vector: 13, error: 0)
        #expect(m.cpu.cpl == 0)
        m.enterUser64()
        m[.rcx] = Layout.userCode
        let stop = m.run([0x48, 0x0F, 0x07], at: Layout.userCode, steps: 1)
        #expect(m.vector(stop) == 13)
        #expect(m.frame64(errorCode: true).error == 0)
    }
}

@Suite("RDTSC")
struct TSCTests {
    /// The TSC never goes backwards: two reads in order give increasing EDX:EAX.
    @Test func monotonic() {
        let m = TestMachine.long64(mib: 2)
        // rdtsc; mov r8,rax; mov r9,rdx; nop; nop; rdtsc  (0F 31, 49 89 C0, 49 89 D1, 90, 90, 0F 31)
        #expect(m.run([0x0F, 0x31, 0x49, 0x89, 0xC0, 0x49, 0x89, 0xD1, 0x90, 0x90, 0x0F, 0x31], steps: 6) == .budget)
        let t1 = m[.r9] << 32 | m[.r8], t2 = m[.rdx] << 32 | m[.rax]
        #expect(t2 > t1)
        #expect(m[.rax] >> 32 == 0 && m[.rdx] >> 32 == 0)
        // WRMSR to IA32_TIME_STAMP_COUNTER sets the counter.
        m[.rcx] = 0x10; m[.rax] = 0; m[.rdx] = 0x100
        #expect(m.run([0x0F, 0x30, 0x0F, 0x31], steps: 2) == .budget)
        #expect(m[.rdx] == 0x100 && m[.rax] < 10)
    }

    /// CR4.TSD = 1: RDTSC at CPL > 0 is #GP(0).
    @Test func tsdFaultsAtCPL3() {
        let m = TestMachine.long64(mib: 2)
        m.cpu.cr4 |= CR4.tsd
        m.enterUser64()
        let stop = m.run([0x0F, 0x31], at: Layout.userCode, steps: 1)
        #expect(m.vector(stop) == 13)
    }
}

@Suite("LGDT / LIDT / SGDT / SIDT / LTR")
struct DescriptorTableTests {
    /// In 64-bit mode the operand is 10 bytes: a 16-bit limit and a 64-bit base.
    @Test func loadAndStoreGDTRAndIDTR() {
        let m = TestMachine.long64(mib: 2)
        let d = Layout.data
        m.w16(d, 0x1FF); m.w64(d + 2, 0xFFFF_8000_0000_9000)
        m[.rsi] = d; m[.rdi] = d + 0x40
        // lgdt [rsi] (0F 01 16); sgdt [rdi] (0F 01 07)
        #expect(m.run([0x0F, 0x01, 0x16, 0x0F, 0x01, 0x07], steps: 2) == .budget)
        #expect(m.cpu.gdtrBase == 0xFFFF_8000_0000_9000 && m.cpu.gdtrLimit == 0x1FF)
        #expect(m.r16(d + 0x40) == 0x1FF && m.r64(d + 0x42) == 0xFFFF_8000_0000_9000)
        // Non-canonical base: #GP(0), GDTR unchanged. (Back to the real GDT first: delivering
        // the #GP reads the handler's code-segment descriptor from it.)
        m.cpu.gdtrBase = Layout.gdt; m.cpu.gdtrLimit = 0x7F
        m.w64(d + 2, 0x0000_8000_0000_0000)
        m.expectFault([0x0F, 0x01, 0x16], vector: 13, error: 0)
        #expect(m.cpu.gdtrBase == Layout.gdt && m.cpu.gdtrLimit == 0x7F)

        // sidt [rdi] stores the current IDTR.
        #expect(m.run([0x0F, 0x01, 0x0F], steps: 1) == .budget)
        #expect(m.r16(d + 0x40) == 0xFFF && m.r64(d + 0x42) == Layout.idt)
    }

    /// LIDT takes effect for the next exception: a new IDT whose #UD gate points elsewhere.
    @Test func lidtRedirectsExceptions() {
        let m = TestMachine.long64(mib: 2)
        let newIDT: UInt64 = 0x9000, handler: UInt64 = Layout.code + 0x800
        m.mem.write(m.bytes(Layout.idt, 0x1000), at: newIDT)
        m.setGate64(6, offset: handler, table: newIDT)
        m.w8(handler, 0xF4)
        m.w16(Layout.data, 0xFFF); m.w64(Layout.data + 2, newIDT)
        m[.rsi] = Layout.data
        // lidt [rsi]; ud2
        m.load([0x0F, 0x01, 0x1E, 0x0F, 0x0B])
        m.rip = Layout.code
        #expect(m.cpu.run(budget: 10) == .halted(rip: handler, interruptsEnabled: false))
        #expect(m.cpu.idtrBase == newIDT)
        #expect(m.frame64(errorCode: false).rip == Layout.code + 3)
    }

    /// In 32-bit code the operand is 6 bytes: limit and a 32-bit base (SDM Vol. 2 "LGDT/LIDT").
    @Test func lgdtIn32BitMode() {
        let m = TestMachine.protected32()
        m.w16(Layout.data, 0x2F); m.w32(Layout.data + 2, 0x0000_9000); m.w32(Layout.data + 6, 0xFFFF_FFFF)
        m[.rsi] = Layout.data; m[.rdi] = Layout.data + 0x40
        m.w64(Layout.data + 0x40, ~0)
        #expect(m.run([0x0F, 0x01, 0x16, 0x0F, 0x01, 0x07], steps: 2) == .budget)
        #expect(m.cpu.gdtrBase == 0x9000 && m.cpu.gdtrLimit == 0x2F)
        #expect(m.r16(Layout.data + 0x40) == 0x2F && m.r32(Layout.data + 0x42) == 0x9000)
    }

    /// LTR loads TR from an available TSS descriptor and marks it busy in the GDT (SDM Vol. 2
    /// "LTR": "the TSS descriptor is marked busy"); LTR of a busy TSS is #GP(selector), of a
    /// null selector #GP(0). In IA-32e mode the descriptor is 16 bytes (base bits 63:32).
    @Test func ltrMarksBusy() {
        let m = TestMachine.long64(mib: 2)
        let sel = Sel.spare, base: UInt64 = 0xFFFF_FFFF_0000_7800
        m.w64(Layout.gdt + UInt64(sel), descriptor(base: UInt32(base & 0xFFFF_FFFF), limit: 0x67, access: 0x89, flags: 0))
        m.w64(Layout.gdt + UInt64(sel) + 8, base >> 32)
        m[.rax] = UInt64(sel)
        #expect(m.run([0x0F, 0x00, 0xD8], steps: 1) == .budget)           // ltr ax
        #expect(m.cpu.segs[Seg.tr].selector == sel)
        #expect(m.cpu.segs[Seg.tr].base == base)
        #expect(m.cpu.segs[Seg.tr].limit == 0x67)
        #expect(m.cpu.segs[Seg.tr].type == 0xB)
        #expect(m.r8(Layout.gdt + UInt64(sel) + 5) == 0x8B, "busy bit (type 1011b) in the GDT")
        // str ax (66 0F 00 C8)
        m[.rax] = 0
        #expect(m.run([0x66, 0x0F, 0x00, 0xC8], steps: 1) == .budget)
        #expect(m[.rax] == UInt64(sel))
        // Again: the TSS is busy now → #GP(selector).
        m.expectFault([0x0F, 0x00, 0xD8], vector: 13, error: UInt64(sel))
        m[.rax] = 0
        m.expectFault([0x0F, 0x00, 0xD8], vector: 13, error: 0)
        // A data segment is not a TSS: #GP(selector).
        m[.rax] = UInt64(Sel.data)
        m.expectFault([0x0F, 0x00, 0xD8], vector: 13, error: UInt64(Sel.data))
    }
}

@Suite("Far JMP / IRETQ")
struct FarTransferTests {
    /// From compatibility mode, JMP ptr16:32 to the 64-bit code segment enters 64-bit mode: the
    /// next instruction decodes with REX (48 B8 imm64 is MOV RAX, imm64 — in 32-bit code it would
    /// be DEC EAX; MOV EAX, imm32). Then JMP m16:32 back to the 32-bit segment, where 40 is INC EAX.
    @Test func farJumpBetween64BitAndCompatibilityMode() {
        let m = TestMachine.long64(mib: 2)
        m.enterCompat32()
        let t64 = Layout.code + 0x100, t32 = Layout.code + 0x200
        // jmp 0x08:t64 (EA off32 sel16)
        m.load([0xEA] + le(UInt32(t64)) + le(Sel.code64))
        // t64: mov rax, 0x1122334455667788; jmp far [rsi] (FF 2E)
        m.load([0x48, 0xB8] + le(UInt64(0x1122_3344_5566_7788)) + [0xFF, 0x2E], at: t64)
        // t32: inc eax (40)
        m.load([0x40, 0xF4], at: t32)
        m.w32(Layout.data, UInt32(t32)); m.w16(Layout.data + 4, Sel.code32)
        m[.rsi] = Layout.data
        m.rip = Layout.code
        #expect(m.run(1) == .budget)
        #expect(m.rip == t64 && m.cpu.segs[Seg.cs].selector == Sel.code64)
        #expect(m.cpu.modeDescription.hasPrefix("IA-32e 64-bit mode"))
        #expect(m.run(1) == .budget)
        #expect(m[.rax] == 0x1122_3344_5566_7788)
        #expect(m.run(1) == .budget)                                       // jmp far [rsi]
        #expect(m.rip == t32 && m.cpu.segs[Seg.cs].selector == Sel.code32)
        #expect(m.cpu.modeDescription.hasPrefix("IA-32e compatibility mode"))
        #expect(m.run(1) == .budget)                                       // inc eax
        #expect(m[.rax] & 0xFFFF_FFFF == 0x5566_7789)   // (RAX[63:32] is undefined after leaving 64-bit mode)
    }

    /// REX.W FF /5: JMP m16:64 — an 8-byte offset then the selector.
    @Test func farJumpM16_64() {
        let m = TestMachine.long64(mib: 2)
        let target = Layout.code + 0x300
        m.w64(Layout.data, target); m.w16(Layout.data + 8, Sel.code64)
        m[.rsi] = Layout.data
        #expect(m.run([0x48, 0xFF, 0x2E], steps: 1) == .budget)
        #expect(m.rip == target && m.cpu.segs[Seg.cs].selector == Sel.code64)
    }

    /// IRETQ pops RIP, CS, RFLAGS, RSP, SS (always all five in 64-bit mode).
    @Test func iretqSamePrivilege() {
        let m = TestMachine.long64(mib: 2)
        let s = Layout.stack - 40
        let frame: [UInt64] = [Layout.code + 0x40, UInt64(Sel.code64), 0x2 | RFLAGS.cf | RFLAGS.if, 0x7_0000, UInt64(Sel.data)]
        for (k, v) in frame.enumerated() { m.w64(s + UInt64(k) * 8, v) }
        m[.rsp] = s
        #expect(m.run([0x48, 0xCF], steps: 1) == .budget)
        #expect(m.rip == Layout.code + 0x40)
        #expect(m.cpu.rflags == 0x2 | RFLAGS.cf | RFLAGS.if)
        #expect(m[.rsp] == 0x7_0000)
        #expect(m.cpu.segs[Seg.ss].selector == Sel.data && m.cpu.cpl == 0)
    }

    /// IRETQ to CPL 3: CS.RPL = 3 gives the new CPL; SS:RSP come from the frame; data segment
    /// registers whose DPL is below the new CPL are nulled (SDM Vol. 2 "IRET", RETURN-TO-OUTER-
    /// PRIVILEGE-LEVEL: "IF segment … is data or non-conforming code AND CPL > DPL THEN SegReg ← NULL").
    @Test func iretqToCPL3() {
        let m = TestMachine.long64(mib: 2)
        let s = Layout.stack - 40
        let frame: [UInt64] = [Layout.userCode, UInt64(Sel.userCode64 | 3), 0x2 | RFLAGS.if, Layout.userStack, UInt64(Sel.userData | 3)]
        for (k, v) in frame.enumerated() { m.w64(s + UInt64(k) * 8, v) }
        m[.rsp] = s
        #expect(m.run([0x48, 0xCF], steps: 1) == .budget)
        #expect(m.cpu.cpl == 3)
        #expect(m.rip == Layout.userCode)
        #expect(m.cpu.segs[Seg.cs].selector == Sel.userCode64 | 3)
        #expect(m.cpu.segs[Seg.ss].selector == Sel.userData | 3)
        #expect(m[.rsp] == Layout.userStack)
        #expect(m.cpu.segs[Seg.ds].selector == 0 && m.cpu.segs[Seg.es].selector == 0)
        #expect(m.cpu.rflags & RFLAGS.if != 0)
    }
}

extension TestMachine {
    /// 32-bit-mode version of `expectFault`: the frame is EIP, CS, EFLAGS (+ error code) in dwords.
    func expectFault32(_ code: [UInt8], at address: UInt64 = Layout.code, vector: Int, error: UInt32? = nil,
                       sourceLocation: SourceLocation = #_sourceLocation) {
        let esp = cpu.regs[Reg.rsp]
        let stop = run(code, at: address, steps: 1)
        guard let v = self.vector(stop) else {
            Issue.record("expected vector \(vector), got \(stop)", sourceLocation: sourceLocation); return
        }
        #expect(v == vector, sourceLocation: sourceLocation)
        var a = cpu.regs[Reg.rsp]
        if pushesErrorCode(vector) {
            #expect(r32(a) == error, "error code 0x\(hex(r32(a)))", sourceLocation: sourceLocation)
            a += 4
        }
        #expect(UInt64(r32(a)) == address, "saved EIP", sourceLocation: sourceLocation)
        #expect(r32(a + 4) == UInt32(Sel.code32), "saved CS", sourceLocation: sourceLocation)
        cpu.regs[Reg.rsp] = esp
    }
}

/// LLDT and LTR in IA-32e mode read a 16-byte descriptor (SDM Vol. 3A §7.2.3 "TSS Descriptor in
/// 64-bit mode", Figure 7-4): a non-canonical 64-bit base, or a nonzero type field in the upper
/// half, is #GP(selector) (Vol. 2A "LLDT", Vol. 2B "LTR", 64-Bit Mode Exceptions; §3.3.7.1
/// "Canonical Addressing"), and nothing is loaded or marked busy.
@Suite("LLDT / LTR: 16-byte descriptors in IA-32e mode")
struct SystemDescriptorTests {
    /// (descriptor access byte, instruction): LLDT AX with an LDT descriptor, LTR AX with an
    /// available 64-bit TSS descriptor.
    static let forms: [(UInt8, [UInt8])] = [(0x82, [0x0F, 0x00, 0xD0]), (0x89, [0x0F, 0x00, 0xD8])]

    /// Slot 48H: an LDT (access 82H) or available 64-bit TSS (89H) descriptor with base bits
    /// 31:0 = 7000H and bits 63:32 = `high`, the upper type field = `upperType`.
    func machine(access: UInt8, high: UInt32, upperType: UInt32 = 0) -> TestMachine {
        let m = TestMachine.long64()
        m.w64(Layout.gdt + 0x48, descriptor(base: UInt32(Layout.tss), limit: 0x67, access: access, flags: 0))
        m.w64(Layout.gdt + 0x50, UInt64(high) | UInt64(upperType << 8) << 32)
        m[.rax] = 0x48
        return m
    }

    /// lldt ax (0F 00 D0) / ltr ax (0F 00 D8) with base 80000000_00007000H: #GP(48H) at the
    /// instruction; LDTR/TR unchanged, the TSS descriptor not busy.
    @Test(arguments: SystemDescriptorTests.forms)
    func nonCanonicalBase(_ access: UInt8, _ code: [UInt8]) {
        let m = machine(access: access, high: 0x8000_0000)
        let tr = m.cpu.segs[Seg.tr], ldtr = m.cpu.segs[Seg.ldtr]
        m.expectException(m.run(code + [0xF4], steps: 3), vector: 13, error: 0x48, rip: Layout.code)
        #expect(m.cpu.segs[Seg.tr] == tr && m.cpu.segs[Seg.ldtr] == ldtr)
        #expect(m.r8(Layout.gdt + 0x48 + 5) == access)
    }

    /// A canonical base with the upper type field = 1: #GP(48H) too.
    @Test(arguments: SystemDescriptorTests.forms)
    func upperTypeNonZero(_ access: UInt8, _ code: [UInt8]) {
        let m = machine(access: access, high: 0, upperType: 1)
        m.expectException(m.run(code + [0xF4], steps: 3), vector: 13, error: 0x48, rip: Layout.code)
    }

    /// The canonical high base FFFF8000_00007000H loads: LDTR.base is the whole 64-bit value.
    @Test func canonicalHighBaseLoads() {
        let m = machine(access: 0x82, high: 0xFFFF_8000)
        m.runToHalt([0x0F, 0x00, 0xD0])
        #expect(m.cpu.segs[Seg.ldtr].base == 0xFFFF_8000_0000_7000)
    }
}
