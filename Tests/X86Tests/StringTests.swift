// String instructions MOVS STOS LODS CMPS SCAS with REP / REPE / REPNE, DF = 1 and 32-bit
// address size (SDM Vol. 2 "MOVS", "STOS", "LODS", "CMPS", "SCAS", "REP/REPE/REPZ/REPNE/REPNZ"):
//   each iteration moves RSI/RDI by the operand size (+ with DF = 0, − with DF = 1); REP repeats
//   while RCX ≠ 0, decrementing it after each iteration; REPE/REPNE also stop after an iteration
//   whose ZF is 0/1. CMPS compares DS:RSI − ES:RDI, SCAS compares the accumulator − ES:RDI.
//   With address size 32 (0x67) the registers are ECX, ESI, EDI.

import Testing
@testable import X86

@Suite("String instructions")
struct StringTests {
    let src = Layout.data, dst = Layout.data + 0x1000

    func machine() -> TestMachine {
        let m = TestMachine.long64(mib: 2)
        for k in 0..<64 { m.w8(src + UInt64(k), UInt8(k + 1)) }
        m.mem.zero(at: dst, count: 0x100)
        m[.rsi] = src; m[.rdi] = dst
        return m
    }

    @Test func repMovsb() {
        let m = machine()
        m[.rcx] = 10
        #expect(m.run([0xF3, 0xA4], steps: 1) == .budget)                 // rep movsb
        #expect(m.bytes(dst, 11) == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0])
        #expect(m[.rcx] == 0 && m[.rsi] == src + 10 && m[.rdi] == dst + 10)
        #expect(m.rip == Layout.code + 2)
    }

    @Test func repMovsqAndStosq() {
        let m = machine()
        m[.rcx] = 3
        #expect(m.run([0xF3, 0x48, 0xA5], steps: 1) == .budget)           // rep movsq
        #expect(m.bytes(dst, 24) == Array(1...24))
        #expect(m[.rcx] == 0 && m[.rsi] == src + 24 && m[.rdi] == dst + 24)
        m[.rax] = 0xAABB_CCDD_EEFF_0011; m[.rcx] = 2
        #expect(m.run([0xF3, 0x48, 0xAB], steps: 1) == .budget)           // rep stosq
        #expect(m.r64(dst + 24) == 0xAABB_CCDD_EEFF_0011 && m.r64(dst + 32) == 0xAABB_CCDD_EEFF_0011)
        #expect(m.r64(dst + 40) == 0)
        #expect(m[.rdi] == dst + 40 && m[.rcx] == 0)
    }

    /// REP with RCX = 0 does nothing at all.
    @Test func repWithZeroCount() {
        let m = machine()
        m[.rcx] = 0
        #expect(m.run([0xF3, 0xA4], steps: 1) == .budget)
        #expect(m.r8(dst) == 0 && m[.rsi] == src && m[.rdi] == dst)
    }

    /// DF = 1: the pointers move down; STD/CLD (FD/FC) set and clear it.
    @Test func directionFlagBackwards() {
        let m = machine()
        // std; rep movsb; cld with RSI/RDI at the last byte: copies 4 bytes downwards.
        m[.rsi] = src + 3; m[.rdi] = dst + 3; m[.rcx] = 4
        #expect(m.run([0xFD, 0xF3, 0xA4, 0xFC], steps: 2) == .budget)
        #expect(m.cpu.rflags & RFLAGS.df != 0)
        #expect(m.bytes(dst, 5) == [1, 2, 3, 4, 0])
        #expect(m[.rsi] == src - 1 && m[.rdi] == dst - 1)
        #expect(m.run(1) == .budget)
        #expect(m.cpu.rflags & RFLAGS.df == 0)
        // DF = 1 with dwords: rep stosd (F3 AB) stores downwards by 4.
        m.cpu.rflags |= RFLAGS.df
        m[.rdi] = dst + 0x80; m[.rcx] = 2; m[.rax] = 0x1122_3344
        #expect(m.run([0xF3, 0xAB], steps: 1) == .budget)
        #expect(m.r32(dst + 0x80) == 0x1122_3344 && m.r32(dst + 0x7C) == 0x1122_3344)
        #expect(m.r32(dst + 0x78) == 0)
        #expect(m[.rdi] == dst + 0x78)
        // lodsw (66 AD) with DF = 1: AX ← [RSI]; RSI −= 2.
        m[.rsi] = src + 4; m[.rax] = 0xFFFF_FFFF_FFFF_FFFF
        #expect(m.run([0x66, 0xAD], steps: 1) == .budget)
        #expect(m[.rax] == 0xFFFF_FFFF_FFFF_0605)
        #expect(m[.rsi] == src + 2)
    }

    /// A segment override applies to the DS:RSI operand only ("The ES segment cannot be
    /// overridden"): fs movsb (64 A4) reads FS.base + RSI, writes ES:RDI (base 0 in 64-bit mode).
    @Test func segmentOverrideOnSource() {
        let m = machine()
        m.cpu.segs[Seg.fs].base = 0x100
        m.cpu.modeChanged()
        m[.rsi] = src
        #expect(m.run([0x64, 0xA4], steps: 1) == .budget)
        #expect(m.r8(dst) == m.r8(src + 0x100))
        #expect(m[.rsi] == src + 1 && m[.rdi] == dst + 1)
    }

    @Test func lods() {
        let m = machine()
        m[.rax] = 0xFFFF_FFFF_FFFF_FFFF
        #expect(m.run([0xAC], steps: 1) == .budget)                       // lodsb: AL only
        #expect(m[.rax] == 0xFFFF_FFFF_FFFF_FF01 && m[.rsi] == src + 1)
        #expect(m.run([0x48, 0xAD], steps: 1) == .budget)                 // lodsq
        #expect(m[.rax] == 0x0908_0706_0504_0302 && m[.rsi] == src + 9)
    }

    /// REPE CMPSB stops after the first unequal pair: "HELLO" vs "HELPO" — iterations for
    /// H, E, L, L/P: RCX 5 → 1, RSI/RDI past the mismatch; flags of 'L'(4C) − 'P'(50) = 0xFC:
    /// CF (borrow), PF (six 1s), SF; C−0 no nibble borrow; no OF.
    @Test func repeCmpsb() {
        let m = machine()
        m.mem.write(Array("HELLO".utf8), at: src)
        m.mem.write(Array("HELPO".utf8), at: dst)
        m[.rcx] = 5
        #expect(m.run([0xF3, 0xA6], steps: 1) == .budget)
        #expect(m[.rcx] == 1 && m[.rsi] == src + 4 && m[.rdi] == dst + 4)
        #expect(m.flagString == "CF PF SF")
        // Equal strings: runs until RCX = 0 with ZF = 1.
        m.mem.write(Array("HELLO".utf8), at: dst)
        m[.rsi] = src; m[.rdi] = dst; m[.rcx] = 5
        #expect(m.run([0xF3, 0xA6], steps: 1) == .budget)
        #expect(m[.rcx] == 0 && m[.rsi] == src + 5)
        #expect(m.flagString == "PF ZF")
    }

    /// CMPSQ without REP (48 A7): one compare of [RSI] − [RDI].
    @Test func cmpsq() {
        let m = machine()
        m.w64(src, 1); m.w64(dst, 2)
        #expect(m.run([0x48, 0xA7], steps: 1) == .budget)
        // 1 − 2 = 0xFFFF…F: CF PF AF SF.
        #expect(m.flagString == "CF PF AF SF")
        #expect(m[.rsi] == src + 8 && m[.rdi] == dst + 8)
    }

    /// REPNE SCASB finds the first byte equal to AL: "abc\0def", AL = 0 → four iterations,
    /// RCX 100 → 96, RDI one past the NUL, ZF = 1.
    @Test func repneScasb() {
        let m = machine()
        m.mem.write(Array("abc\u{0}def".utf8), at: dst)
        m[.rax] = 0; m[.rcx] = 100
        #expect(m.run([0xF2, 0xAE], steps: 1) == .budget)
        #expect(m[.rcx] == 96 && m[.rdi] == dst + 4)
        #expect(m.arith & RFLAGS.zf != 0)
        // scasd (AF) without REP: EAX − [RDI].
        m.w32(dst + 0x10, 0x1234_5678)
        m[.rdi] = dst + 0x10; m[.rax] = 0x1234_5678
        #expect(m.run([0xAF], steps: 1) == .budget)
        #expect(m.flagString == "PF ZF" && m[.rdi] == dst + 0x14)
    }

    /// Address size 32 (67): ESI/EDI/ECX; the upper halves of RSI/RDI/RCX play no part.
    @Test func addressSize32() {
        let m = machine()
        m[.rsi] = 0xFFFF_FFFF_0000_0000 | src
        m[.rdi] = 0x1234_5678_0000_0000 | dst
        m[.rcx] = 0x0000_0001_0000_0004              // ECX = 4
        #expect(m.run([0x67, 0xF3, 0xA4], steps: 1) == .budget)     // addr32 rep movsb
        #expect(m.bytes(dst, 5) == [1, 2, 3, 4, 0])
        #expect(m[.rcx] & 0xFFFF_FFFF == 0)
        #expect(m[.rsi] & 0xFFFF_FFFF == src + 4 && m[.rdi] & 0xFFFF_FFFF == dst + 4)
    }

    /// 32-bit protected mode: REP MOVSD with a 32-bit ECX/ESI/EDI.
    @Test func repMovsdIn32BitMode() {
        let m = TestMachine.protected32()
        for k in 0..<16 { m.w8(src + UInt64(k), UInt8(0xA0 + k)) }
        m[.rsi] = src; m[.rdi] = dst; m[.rcx] = 3
        #expect(m.run([0xF3, 0xA5], steps: 1) == .budget)
        #expect(m.bytes(dst, 13) == Array(0xA0...0xAB) + [0])
        #expect(m[.rcx] == 0 && m[.rsi] == src + 12 && m[.rdi] == dst + 12)
    }

    /// A long REP MOVSB (more iterations than the core runs between checks) still completes and
    /// counts as one instruction.
    @Test func longRepMovsb() {
        let m = TestMachine.long64(mib: 2)
        for k in 0..<10_000 { m.w8(Layout.data + UInt64(k), UInt8(truncatingIfNeeded: k * 7)) }
        m[.rsi] = Layout.data; m[.rdi] = Layout.data + 0x10000; m[.rcx] = 10_000
        m.runToHalt([0xF3, 0xA4])
        #expect(m.bytes(Layout.data + 0x10000, 10_000) == m.bytes(Layout.data, 10_000))
        #expect(m[.rcx] == 0)
    }
}

/// INS/OUTS (SDM Vol. 2B "INS/INSB/INSW/INSD", "OUTS/OUTSB/OUTSW/OUTSD"): with DF = 1 the index
/// register decreases by the operand size after each element, the elements go out (come in) in
/// that order; memory that is not RAM reads all-ones and drops writes, like any other access —
/// the port side still happens.
@Suite("String I/O: DF = 1, unbacked memory")
struct StringIOTests {
    /// std (FD); rep outsb (F3 6E); cld (FC) with RSI = DATA+2, RCX = 3, DX = 80H: the port sees
    /// DATA+2, DATA+1, DATA in that order; RSI = DATA−1, RCX = 0.
    @Test func repOutsbBackwards() {
        let m = TestMachine.long64()
        m.mem.write([0x11, 0x22, 0x33], at: Layout.data)
        m[.rsi] = Layout.data + 2; m[.rcx] = 3; m[.rdx] = 0x80
        m.runToHalt([0xFD, 0xF3, 0x6E, 0xFC])
        #expect(m.io.writes.map(\.value) == [0x33, 0x22, 0x11] && m.io.writes.allSatisfy { $0.port == 0x80 && $0.size == 1 })
        #expect(m[.rsi] == Layout.data - 1 && m[.rcx] == 0)
    }

    /// std; rep insw (66 F3 6D); cld with RDI = DATA+4, RCX = 3, port reads 0xABCD: words at
    /// DATA+4, DATA+2, DATA; RDI = DATA−2.
    @Test func repInswBackwards() {
        let m = TestMachine.long64()
        m.io.readValue = 0xABCD
        m[.rdi] = Layout.data + 4; m[.rcx] = 3; m[.rdx] = 0x80
        m.runToHalt([0xFD, 0x66, 0xF3, 0x6D, 0xFC])
        #expect(m.r16(Layout.data) == 0xABCD && m.r16(Layout.data + 2) == 0xABCD && m.r16(Layout.data + 4) == 0xABCD)
        #expect(m[.rdi] == Layout.data - 2 && m.io.reads.count == 3)
    }

    /// Above the 4 MiB of RAM (5 MiB, mapped by the identity 2 MiB pages): rep insb stores
    /// nowhere but performs both port reads; outsb from there sends FFH.
    @Test func unbackedMemory() {
        let m = TestMachine.long64()
        let unbacked: UInt64 = 0x50_0000
        m[.rdi] = unbacked; m[.rcx] = 2; m[.rdx] = 0x80
        m.runToHalt([0xF3, 0x6C])
        #expect(m.io.reads.count == 2 && m[.rdi] == unbacked + 2)
        m[.rsi] = unbacked
        m.runToHalt([0x6E])
        #expect(m.io.writes.last?.value == 0xFF)
    }
}
