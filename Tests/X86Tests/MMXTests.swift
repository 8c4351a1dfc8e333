// MMX technology (SDM Vol. 1 ch. 9 "Programming with Intel® MMX™ Technology") and the SSE, SSE2
// and SSSE3 instructions on MMX registers: results per lane written from the SDM instruction
// pages (Vol. 2), hand-worked constants for the forms whose lanes move (pack, unpack, shuffles,
// horizontal adds, PALIGNR), the aliasing with the x87 registers (Vol. 1 §9.5 "Compatibility with
// x87 FPU Architecture", §9.5.1 "MMX Instructions and the x87 FPU Tag Word", §9.6.2 "Transitions
// Between x87 FPU and MMX Code"; Vol. 3A §12.2 "The MMX State and MMX Register Aliasing") and the
// exception conditions (Vol. 3B §22.25.3, Tables 22-4 … 22-8).
//
// Register forms use ModRM CA (mm1, mm2 / xmm1, xmm2); memory forms [rax] with RAX = Layout.data.

import Testing
@testable import X86

// MARK: - Helpers

/// The x87 test machine (RSI = data, RDI = data + 0x400) with SSE enabled by the OS.
func mmxMachine() -> TestMachine {
    let m = TestMachine.x87()
    m.cpu.cr4 |= CR4.osfxsr | CR4.osxmmexcpt
    m[.rax] = Layout.data
    return m
}

extension TestMachine {
    func mm(_ n: Int) -> UInt64 { cpu.x87.register(n).mantissa }
    func mmExponent(_ n: Int) -> UInt16 { cpu.x87.register(n).signExponent }
    /// Put a value in Rn's significand as the start state (exponent 0, tags untouched).
    func putMM(_ n: Int, _ v: UInt64) { cpu.x87.setRegister(n, mantissa: v, signExponent: 0) }
}

/// Run `code` with MM1 = a, MM2 = b (R1, R2 significands); returns MM1.
func runMM(_ code: [UInt8], _ a: UInt64, _ b: UInt64, sourceLocation: SourceLocation = #_sourceLocation) -> UInt64 {
    let m = mmxMachine()
    m.putMM(1, a); m.putMM(2, b)
    m.runToHalt(code, sourceLocation: sourceLocation)
    return m.mm(1)
}

func mmBytes(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> UInt64(8 * $0)) } }
func mmFromBytes(_ b: [UInt8]) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(b[$1]) << UInt64(8 * $1) } }
func mmWords(_ v: UInt64) -> [UInt16] { (0..<4).map { UInt16(truncatingIfNeeded: v >> UInt64(16 * $0)) } }
func mmFromWords(_ w: [UInt16]) -> UInt64 { (0..<4).reduce(0) { $0 | UInt64(w[$1]) << UInt64(16 * $1) } }
func mmDwords(_ v: UInt64) -> [UInt32] { [UInt32(truncatingIfNeeded: v), UInt32(v >> 32)] }
func mmFromDwords(_ d: [UInt32]) -> UInt64 { UInt64(d[0]) | UInt64(d[1]) << 32 }

@Suite("MMX")
struct MMXTests {
    static let inputs: [(UInt64, UInt64)] = [
        (sampleA.0, sampleB.0), (sampleA.1, sampleB.1),
        (0xFFFF_FFFF_FFFF_FFFF, 0x0101_0101_0101_0101), (0x8F70_00FF_8001_7FFE, 0x0123_4567_89AB_CDEF),
    ]

    // MARK: Element-wise arithmetic

    /// Byte lanes (0F xx /r): PADDB FC, PSUBB F8, PADDSB EC, PADDUSB DC, PSUBSB E8, PSUBUSB D8,
    /// PCMPEQB 74, PCMPGTB 64, PMINUB DA, PMAXUB DE, PAVGB E0.
    @Test func byteLanes() {
        let ops: [(UInt8, String, (UInt8, UInt8) -> UInt8)] = [
            (0xFC, "paddb", { $0 &+ $1 }), (0xF8, "psubb", { $0 &- $1 }),
            (0xEC, "paddsb", { sat8(s8($0) + s8($1)) }), (0xDC, "paddusb", { satU8(Int($0) + Int($1)) }),
            (0xE8, "psubsb", { sat8(s8($0) - s8($1)) }), (0xD8, "psubusb", { satU8(Int($0) - Int($1)) }),
            (0x74, "pcmpeqb", { $0 == $1 ? 0xFF : 0 }), (0x64, "pcmpgtb", { s8($0) > s8($1) ? 0xFF : 0 }),
            (0xDA, "pminub", { min($0, $1) }), (0xDE, "pmaxub", { max($0, $1) }),
            (0xE0, "pavgb", { UInt8((Int($0) + Int($1) + 1) >> 1) }),
        ]
        for (op, name, f) in ops {
            for (a, b) in Self.inputs {
                let r = runMM([0x0F, op, 0xCA], a, b)
                #expect(r == mmFromBytes(zip(mmBytes(a), mmBytes(b)).map(f)), "\(name) \(hex(a)) \(hex(b)) → \(hex(r))")
            }
        }
    }

    /// Word lanes: PADDW FD, PSUBW F9, PADDSW ED, PSUBSW E9, PADDUSW DD, PSUBUSW D9, PMULLW D5,
    /// PMULHW E5, PMULHUW E4, PCMPGTW 65, PCMPEQW 75, PMINSW EA, PMAXSW EE, PAVGW E3.
    @Test func wordLanes() {
        let ops: [(UInt8, String, (UInt16, UInt16) -> UInt16)] = [
            (0xFD, "paddw", { $0 &+ $1 }), (0xF9, "psubw", { $0 &- $1 }),
            (0xED, "paddsw", { sat16(s16($0) + s16($1)) }), (0xE9, "psubsw", { sat16(s16($0) - s16($1)) }),
            (0xDD, "paddusw", { satU16(Int($0) + Int($1)) }), (0xD9, "psubusw", { satU16(Int($0) - Int($1)) }),
            (0xD5, "pmullw", { $0 &* $1 }),
            (0xE5, "pmulhw", { UInt16(truncatingIfNeeded: (s16($0) * s16($1)) >> 16) }),
            (0xE4, "pmulhuw", { UInt16((UInt32($0) * UInt32($1)) >> 16) }),
            (0x65, "pcmpgtw", { s16($0) > s16($1) ? 0xFFFF : 0 }), (0x75, "pcmpeqw", { $0 == $1 ? 0xFFFF : 0 }),
            (0xEA, "pminsw", { s16($0) < s16($1) ? $0 : $1 }), (0xEE, "pmaxsw", { s16($0) > s16($1) ? $0 : $1 }),
            (0xE3, "pavgw", { UInt16((Int($0) + Int($1) + 1) >> 1) }),
        ]
        for (op, name, f) in ops {
            for (a, b) in Self.inputs {
                let r = runMM([0x0F, op, 0xCA], a, b)
                #expect(r == mmFromWords(zip(mmWords(a), mmWords(b)).map(f)), "\(name) \(hex(a)) \(hex(b)) → \(hex(r))")
            }
        }
    }

    /// Dword/qword: PADDD FE, PSUBD FA, PCMPEQD 76, PCMPGTD 66, PADDQ D4, PSUBQ FB, PMULUDQ F4,
    /// PMADDWD F5, PSADBW F6 (the sum in the low word, the rest 0), PAND DB, PANDN DF, POR EB, PXOR EF.
    @Test func dwordQwordLanes() {
        for (a, b) in Self.inputs {
            let da = mmDwords(a), db = mmDwords(b)
            #expect(runMM([0x0F, 0xFE, 0xCA], a, b) == mmFromDwords(zip(da, db).map { $0 &+ $1 }))
            #expect(runMM([0x0F, 0xFA, 0xCA], a, b) == mmFromDwords(zip(da, db).map { $0 &- $1 }))
            #expect(runMM([0x0F, 0x76, 0xCA], a, b) == mmFromDwords(zip(da, db).map { $0 == $1 ? ~0 : 0 }))
            #expect(runMM([0x0F, 0x66, 0xCA], a, b) == mmFromDwords(zip(da, db).map { s32($0) > s32($1) ? ~0 : 0 }))
            #expect(runMM([0x0F, 0xD4, 0xCA], a, b) == a &+ b)
            #expect(runMM([0x0F, 0xFB, 0xCA], a, b) == a &- b)
            #expect(runMM([0x0F, 0xF4, 0xCA], a, b) == (a & 0xFFFF_FFFF) &* (b & 0xFFFF_FFFF))
            let wa = mmWords(a), wb = mmWords(b)
            let madd = (0..<2).map { k in UInt32(truncatingIfNeeded: s16(wa[2 * k]) * s16(wb[2 * k]) + s16(wa[2 * k + 1]) * s16(wb[2 * k + 1])) }
            #expect(runMM([0x0F, 0xF5, 0xCA], a, b) == mmFromDwords(madd))
            let sad = zip(mmBytes(a), mmBytes(b)).map { abs(Int($0) - Int($1)) }.reduce(0, +)
            #expect(runMM([0x0F, 0xF6, 0xCA], a, b) == UInt64(sad))
            #expect(runMM([0x0F, 0xDB, 0xCA], a, b) == a & b)
            #expect(runMM([0x0F, 0xDF, 0xCA], a, b) == ~a & b)
            #expect(runMM([0x0F, 0xEB, 0xCA], a, b) == a | b)
            #expect(runMM([0x0F, 0xEF, 0xCA], a, b) == a ^ b)
        }
    }

    /// PSADBW, worked by hand: |01−FF| + |FF−01| + 0 + |80−7F| + |10−20| + 0 + |FE−02| + |03−01|
    /// = 254 + 254 + 1 + 16 + 252 + 2 = 779 = 030BH.
    @Test func psadbwByHand() {
        #expect(runMM([0x0F, 0xF6, 0xCA], 0x03FE_0010_8000_FF01, 0x0102_0020_7F00_01FF) == 0x030B)
    }

    // MARK: Lane-moving forms, hand-worked

    /// PUNPCKL*/PUNPCKH* (SDM Vol. 2B "PUNPCKHBW/…", "PUNPCKLBW/…"): mm1 = 07…00, mm2 = 0F…08.
    /// The low forms read m32 from memory (the upper four bytes of [rax] must not matter).
    @Test func unpack() {
        let a: UInt64 = 0x0706_0504_0302_0100, b: UInt64 = 0x0F0E_0D0C_0B0A_0908
        #expect(runMM([0x0F, 0x60, 0xCA], a, b) == 0x0B03_0A02_0901_0800)   // punpcklbw
        #expect(runMM([0x0F, 0x68, 0xCA], a, b) == 0x0F07_0E06_0D05_0C04)   // punpckhbw
        #expect(runMM([0x0F, 0x61, 0xCA], a, b) == 0x0B0A_0302_0908_0100)   // punpcklwd
        #expect(runMM([0x0F, 0x69, 0xCA], a, b) == 0x0F0E_0706_0D0C_0504)   // punpckhwd
        #expect(runMM([0x0F, 0x62, 0xCA], a, b) == 0x0B0A_0908_0302_0100)   // punpckldq
        #expect(runMM([0x0F, 0x6A, 0xCA], a, b) == 0x0F0E_0D0C_0706_0504)   // punpckhdq
        // punpcklbw mm1, [rax] with the m32 at the last four bytes of a page: an m64 read would #PF.
        let m = mmxMachine()
        m.putMM(1, a)
        m[.rax] = Layout.data + 0xFFC
        m.w32(Layout.data + 0xFFC, 0x0B0A_0908)
        m.setPTE(Layout.data + 0x1000, 0)
        m.runToHalt([0x0F, 0x60, 0x08])
        #expect(m.mm(1) == 0x0B03_0A02_0901_0800)
    }

    /// PACKSSWB/PACKUSWB/PACKSSDW (SDM Vol. 2B "PACKSSWB/PACKSSDW", "PACKUSWB"): DEST's elements
    /// saturated into the low half, SRC's into the high half.
    /// mm1 words 0080 FF7F 0012 8000 = 128, −129, 18, −32768; mm2 words 0001 FFFF 007F 7FFF = 1, −1, 127, 32767.
    @Test func pack() {
        let a: UInt64 = 0x8000_0012_FF7F_0080, b: UInt64 = 0x7FFF_007F_FFFF_0001
        // signed: 7F 80 12 80 | 01 FF 7F 7F
        #expect(runMM([0x0F, 0x63, 0xCA], a, b) == 0x7F7F_FF01_8012_807F)
        // unsigned: 80 00 12 00 | 01 00 7F FF
        #expect(runMM([0x0F, 0x67, 0xCA], a, b) == 0xFF7F_0001_0012_0080)
        // packssdw: dwords 65536, −32768 | 4660, −2^31 → 7FFF 8000 1234 8000
        #expect(runMM([0x0F, 0x6B, 0xCA], 0xFFFF_8000_0001_0000, 0x8000_0000_0000_1234) == 0x8000_1234_8000_7FFF)
    }

    /// PSHUFW (SDM Vol. 2B "PSHUFW"): imm8 1BH reverses the words; E4H is the identity.
    @Test func pshufw() {
        let b: UInt64 = 0x4444_3333_2222_1111
        #expect(runMM([0x0F, 0x70, 0xCA, 0x1B], 0, b) == 0x1111_2222_3333_4444)
        #expect(runMM([0x0F, 0x70, 0xCA, 0xE4], 0, b) == b)
        #expect(runMM([0x0F, 0x70, 0xCA, 0x55], 0, b) == 0x2222_2222_2222_2222)
    }

    /// PSHUFB mm (SDM Vol. 2B "PSHUFB"): index bits 2:0 (bit 3 is ignored for MMX), bit 7 zeroes.
    /// mm1 bytes 00…07; indices 07 0F 80 08 01 7A 03 84 → 07 07 00 00 01 02 03 00.
    @Test func pshufb() {
        #expect(runMM([0x0F, 0x38, 0x00, 0xCA], 0x0706_0504_0302_0100, 0x8403_7A01_0880_0F07) == 0x0003_0201_0000_0707)
    }

    /// PHADDW/PHADDD/PHADDSW/PHSUBW/PHSUBD/PHSUBSW (SDM Vol. 2B "PHADDW/PHADDD", "PHSUBW/PHSUBD",
    /// "PHADDSW", "PHSUBSW"): DEST's pairs in the low half, SRC's in the high half.
    @Test func horizontal() {
        // phaddw: words 1 2 3 4 | 10 20 30 −1 → 3 7 | 30 29
        #expect(runMM([0x0F, 0x38, 0x01, 0xCA], 0x0004_0003_0002_0001, 0xFFFF_001E_0014_000A) == 0x001D_001E_0007_0003)
        // phaddd: 5 + 3, 1 + 10
        #expect(runMM([0x0F, 0x38, 0x02, 0xCA], 0x0000_0003_0000_0005, 0x0000_000A_0000_0001) == 0x0000_000B_0000_0008)
        // phsubd: 5 − 3 = 2, 1 − 10 = −9
        #expect(runMM([0x0F, 0x38, 0x06, 0xCA], 0x0000_0003_0000_0005, 0x0000_000A_0000_0001) == 0xFFFF_FFF7_0000_0002)
        // phsubw: 1 − 2, 3 − 4 | 10 − 20, 30 − (−1)
        #expect(runMM([0x0F, 0x38, 0x05, 0xCA], 0x0004_0003_0002_0001, 0xFFFF_001E_0014_000A) == 0x001F_FFF6_FFFF_FFFF)
        // phaddsw: 7FFF + 1 saturates to 7FFF, 8000 + FFFF to 8000 | 1 + 2, 0 + 0
        #expect(runMM([0x0F, 0x38, 0x03, 0xCA], 0xFFFF_8000_0001_7FFF, 0x0000_0000_0002_0001) == 0x0000_0003_8000_7FFF)
        // phsubsw: 8000 − 1 saturates to 8000, 7FFF − FFFF to 7FFF
        #expect(runMM([0x0F, 0x38, 0x07, 0xCA], 0xFFFF_7FFF_0001_8000, 0) == 0x0000_0000_7FFF_8000)
    }

    /// PALIGNR mm (SDM Vol. 2B "PALIGNR"): (DEST:SRC) >> imm8·8, low 64 bits; imm8 ≥ 16 gives 0.
    @Test func palignr() {
        let a: UInt64 = 0x1716_1514_1312_1110, b: UInt64 = 0x0706_0504_0302_0100
        #expect(runMM([0x0F, 0x3A, 0x0F, 0xCA, 0], a, b) == b)
        #expect(runMM([0x0F, 0x3A, 0x0F, 0xCA, 3], a, b) == 0x1211_1007_0605_0403)
        #expect(runMM([0x0F, 0x3A, 0x0F, 0xCA, 8], a, b) == a)
        #expect(runMM([0x0F, 0x3A, 0x0F, 0xCA, 9], a, b) == 0x0017_1615_1413_1211)
        #expect(runMM([0x0F, 0x3A, 0x0F, 0xCA, 16], a, b) == 0)
        #expect(runMM([0x0F, 0x3A, 0x0F, 0xCA, 200], a, b) == 0)
    }

    /// The other SSSE3 forms per lane: PABSB/W/D (1C–1E), PSIGNB/W/D (08–0A), PMULHRSW (0B),
    /// PMADDUBSW (04).
    @Test func ssse3Lanes() {
        for (a, b) in Self.inputs {
            #expect(runMM([0x0F, 0x38, 0x1C, 0xCA], a, b) == mmFromBytes(mmBytes(b).map { UInt8(truncatingIfNeeded: abs(s8($0))) }))
            #expect(runMM([0x0F, 0x38, 0x1D, 0xCA], a, b) == mmFromWords(mmWords(b).map { UInt16(truncatingIfNeeded: abs(s16($0))) }))
            #expect(runMM([0x0F, 0x38, 0x1E, 0xCA], a, b) == mmFromDwords(mmDwords(b).map { UInt32(truncatingIfNeeded: abs(s32($0))) }))
            #expect(runMM([0x0F, 0x38, 0x08, 0xCA], a, b) == mmFromBytes(zip(mmBytes(a), mmBytes(b)).map { (x: UInt8, y: UInt8) -> UInt8 in s8(y) < 0 ? 0 &- x : y == 0 ? 0 : x }))
            #expect(runMM([0x0F, 0x38, 0x09, 0xCA], a, b) == mmFromWords(zip(mmWords(a), mmWords(b)).map { (x: UInt16, y: UInt16) -> UInt16 in s16(y) < 0 ? 0 &- x : y == 0 ? 0 : x }))
            #expect(runMM([0x0F, 0x38, 0x0A, 0xCA], a, b) == mmFromDwords(zip(mmDwords(a), mmDwords(b)).map { (x: UInt32, y: UInt32) -> UInt32 in s32(y) < 0 ? 0 &- x : y == 0 ? 0 : x }))
            let mulhrs: [UInt16] = zip(mmWords(a), mmWords(b)).map { (x: UInt16, y: UInt16) -> UInt16 in
                let p: Int = s16(x) * s16(y)
                return UInt16(truncatingIfNeeded: ((p >> 14) + 1) >> 1)
            }
            #expect(runMM([0x0F, 0x38, 0x0B, 0xCA], a, b) == mmFromWords(mulhrs))
            let ba = mmBytes(a), bb = mmBytes(b)
            let maddubs: [UInt16] = (0..<4).map { (k: Int) -> UInt16 in
                let lo: Int = Int(ba[2 * k]) * s8(bb[2 * k])
                let hi: Int = Int(ba[2 * k + 1]) * s8(bb[2 * k + 1])
                return sat16(lo + hi)
            }
            #expect(runMM([0x0F, 0x38, 0x04, 0xCA], a, b) == mmFromWords(maddubs))
        }
    }

    // MARK: Shifts

    /// Shifts by imm8 (0F 71/72/73 /2 PSRL, /4 PSRA, /6 PSLL on mm1: ModRM D1, E1, F1) and by an
    /// mm count (D1–D3, E1–E2, F1–F3): counts ≥ the width give 0 (or the sign for PSRA).
    @Test func shifts() {
        let a: UInt64 = 0x8001_7FFF_00FF_1234
        #expect(runMM([0x0F, 0x71, 0xD1, 4], a, 0) == 0x0800_07FF_000F_0123)       // psrlw 4
        #expect(runMM([0x0F, 0x71, 0xE1, 4], a, 0) == 0xF800_07FF_000F_0123)       // psraw 4
        #expect(runMM([0x0F, 0x71, 0xF1, 4], a, 0) == 0x0010_FFF0_0FF0_2340)       // psllw 4
        #expect(runMM([0x0F, 0x71, 0xF1, 16], a, 0) == 0)                          // psllw 16
        #expect(runMM([0x0F, 0x72, 0xE1, 40], a, 0) == 0xFFFF_FFFF_0000_0000)      // psrad 40: sign fill
        #expect(runMM([0x0F, 0x72, 0xD1, 8], a, 0) == 0x0080_017F_0000_FF12)       // psrld 8
        #expect(runMM([0x0F, 0x73, 0xD1, 8], a, 0) == 0x0080_017F_FF00_FF12)       // psrlq 8
        #expect(runMM([0x0F, 0x73, 0xF1, 63], a, 0) == 0)                          // psllq 63: bit 0 of a is 0
        #expect(runMM([0x0F, 0x73, 0xF1, 64], 1, 0) == 0)                          // psllq 64
        #expect(runMM([0x0F, 0x73, 0xF1, 63], 1, 0) == 0x8000_0000_0000_0000)
        #expect(runMM([0x0F, 0xD1, 0xCA], a, 4) == 0x0800_07FF_000F_0123)          // psrlw mm1, mm2
        #expect(runMM([0x0F, 0xE1, 0xCA], a, 4) == 0xF800_07FF_000F_0123)          // psraw mm1, mm2
        #expect(runMM([0x0F, 0xF1, 0xCA], a, 4) == 0x0010_FFF0_0FF0_2340)          // psllw mm1, mm2
        #expect(runMM([0x0F, 0xD1, 0xCA], a, 1 << 32) == 0)                        // the whole quadword is the count
        #expect(runMM([0x0F, 0xE2, 0xCA], a, 31) == 0xFFFF_FFFF_0000_0000)         // psrad 31
        #expect(runMM([0x0F, 0xD3, 0xCA], a, 4) == a >> 4)                         // psrlq
        #expect(runMM([0x0F, 0xF3, 0xCA], a, 4) == a << 4)                         // psllq
        #expect(runMM([0x0F, 0xF2, 0xCA], a, 4) == 0x0017_FFF0_0FF1_2340)          // pslld
    }

    // MARK: Moves and GPR forms

    /// MOVD/MOVQ with GPRs and memory (SDM Vol. 2B "MOVD/MOVQ", "MOVQ", "MOVNTQ"); REX.R/REX.B do
    /// not select MMX registers (44 0F 6E C8 is movd mm1, eax).
    @Test func moves() {
        let m = mmxMachine()
        m[.rcx] = 0xFFFF_FFFF_8765_4321
        m[.rbx] = Layout.data + 0x103
        m.w64(Layout.data + 0x103, 0x1122_3344_5566_7788)
        // movd mm1, ecx; movq mm2, rcx (48 0F 6E D1); movq mm3, [rbx]; movd edx, mm3 (0F 7E DA);
        // movq rsi, mm2 (48 0F 7E D6); movq mm4, mm3 (0F 6F E3); movq [rbx+8], mm1 (0F 7F 4B 08);
        // movntq [rbx+16], mm2 (0F E7 53 10); movq mm5, mm4 as 0F 7F E5; movd mm7, r9d with REX.RB
        // (45 0F 6E F9: ModRM.reg 7 + REX.R is still mm7; REX.B makes r/m r9d).
        m[.r9] = 0xABCD
        m.runToHalt([0x0F, 0x6E, 0xC9, 0x48, 0x0F, 0x6E, 0xD1, 0x0F, 0x6F, 0x1B, 0x0F, 0x7E, 0xDA,
                     0x48, 0x0F, 0x7E, 0xD6, 0x0F, 0x6F, 0xE3, 0x0F, 0x7F, 0x4B, 0x08, 0x0F, 0xE7, 0x53, 0x10,
                     0x0F, 0x7F, 0xE5, 0x45, 0x0F, 0x6E, 0xF9])
        #expect(m.mm(1) == 0x8765_4321)
        #expect(m.mm(2) == 0xFFFF_FFFF_8765_4321)
        #expect(m.mm(3) == 0x1122_3344_5566_7788)
        #expect(m[.rdx] == 0x5566_7788)
        #expect(m[.rsi] == 0xFFFF_FFFF_8765_4321)
        #expect(m.mm(4) == 0x1122_3344_5566_7788 && m.mm(5) == 0x1122_3344_5566_7788)
        #expect(m.r64(Layout.data + 0x10B) == 0x8765_4321)
        #expect(m.r64(Layout.data + 0x113) == 0xFFFF_FFFF_8765_4321)
        #expect(m.mm(7) == 0xABCD, "45 0F 6E F9: REX.R ignored (mm7), REX.B selects r9d")
        for n in 1...5 { #expect(m.mmExponent(n) == 0xFFFF, "mm\(n) written: bits 79:64 all ones") }
        #expect(m.mmExponent(6) == 0, "mm6 not written")
    }

    /// MOVQ2DQ xmm1, mm2 (F3 0F D6 CA): high quadword cleared; MOVDQ2Q mm1, xmm2 (F2 0F D6 CA).
    @Test func movq2dqAndMovdq2q() {
        let m = mmxMachine()
        m.putMM(2, 0x1234_5678_9ABC_DEF0)
        m.setX(1, (1, 2)); m.setX(2, (0x0BAD_F00D_DEAD_BEEF, 7))
        m.runToHalt([0xF3, 0x0F, 0xD6, 0xCA, 0xF2, 0x0F, 0xD6, 0xCA])
        #expect(eq(m.x(1), (0x1234_5678_9ABC_DEF0, 0)))
        #expect(m.mm(1) == 0x0BAD_F00D_DEAD_BEEF && m.mmExponent(1) == 0xFFFF)
    }

    /// PINSRW mm1, ecx, 6 (lane 6 & 3 = 2), PINSRW mm1, [rax], 1; PEXTRW edx, mm1, 5 (lane 1);
    /// PMOVMSKB esi, mm1 (SDM Vol. 2B "PINSRW", "PEXTRW", "PMOVMSKB").
    @Test func insertExtractMask() {
        let m = mmxMachine()
        m.putMM(1, 0x8000_7F00_00FF_0080)
        m[.rcx] = 0xFFFF_ABCD
        m.w16(Layout.data, 0x1234)
        m[.rdx] = ~0; m[.rsi] = ~0
        m.runToHalt([0x0F, 0xC4, 0xC9, 0x06, 0x0F, 0xC4, 0x08, 0x01, 0x0F, 0xC5, 0xD1, 0x05, 0x0F, 0xD7, 0xF1])
        #expect(m.mm(1) == 0x8000_ABCD_1234_0080)
        #expect(m[.rdx] == 0x1234)
        // bytes 80 00 34 12 CD AB 00 80: sign bits of bytes 0, 4, 5, 7
        #expect(m[.rsi] == 0b1011_0001)
    }

    /// MASKMOVQ mm1, mm2 (0F F7 CA): bytes of mm1 whose mask byte has bit 7 set go to [rdi].
    @Test func maskmovq() {
        let m = mmxMachine()
        m.putMM(1, 0x8877_6655_4433_2211)
        m.putMM(2, 0x80FF_0000_7F01_8080)
        m[.rdi] = Layout.data + 0x200
        m.w64(Layout.data + 0x200, 0xAAAA_AAAA_AAAA_AAAA)
        m.runToHalt([0x0F, 0xF7, 0xCA])
        #expect(m.r64(Layout.data + 0x200) == 0x8877_AAAA_AAAA_2211)
    }

    // MARK: Conversions with MXCSR

    /// CVTPI2PS/CVTPI2PD/CVT(T)PS2PI/CVT(T)PD2PI (SDM Vol. 2A pages): round to nearest even by
    /// default; a NaN converts to the integer indefinite 80000000H with IE set (masked).
    @Test func conversions() {
        let m = mmxMachine()
        m.putMM(2, UInt64(UInt32(bitPattern: -3)) << 32 | 1)
        m.setX(1, (0x1111, 0x2222)); m.setX(3, (0, 0))
        m.runToHalt([0x0F, 0x2A, 0xCA, 0x66, 0x0F, 0x2A, 0xDA])   // cvtpi2ps xmm1, mm2; cvtpi2pd xmm3, mm2
        #expect(eq(m.x(1), (UInt64(Float(-3).bitPattern) << 32 | UInt64(Float(1).bitPattern), 0x2222)), "high quadword kept")
        #expect(eq(m.x(3), ((1.0 as Double).bitPattern, (-3.0 as Double).bitPattern)))

        let c = mmxMachine()
        c.setX(2, (UInt64(Float(-1.5).bitPattern) << 32 | UInt64(Float(2.5).bitPattern), 0xFFFF_FFFF_FFFF_FFFF))
        c.setX(3, ((2.5 as Double).bitPattern, (3.5 as Double).bitPattern))
        c.setX(4, (UInt64(Float.nan.bitPattern) | UInt64(Float(7).bitPattern) << 32, 0))
        // cvtps2pi mm1, xmm2; cvttps2pi mm2, xmm2; cvtpd2pi mm3, xmm3; cvttpd2pi mm4, xmm3; cvtps2pi mm5, xmm4
        c.runToHalt([0x0F, 0x2D, 0xCA, 0x0F, 0x2C, 0xD2, 0x66, 0x0F, 0x2D, 0xDB, 0x66, 0x0F, 0x2C, 0xE3, 0x0F, 0x2D, 0xEC])
        #expect(c.mm(1) == 0xFFFF_FFFE_0000_0002, "2.5 → 2, −1.5 → −2")
        #expect(c.mm(2) == 0xFFFF_FFFF_0000_0002, "truncated: 2, −1")
        #expect(c.mm(3) == 0x0000_0004_0000_0002, "2.5 → 2, 3.5 → 4")
        #expect(c.mm(4) == 0x0000_0003_0000_0002)
        #expect(c.mm(5) == 0x0000_0007_8000_0000)
        #expect(c.cpu.mxcsr & 0x3F == 0x21, "IE (NaN) and PE (2.5, −1.5 inexact)")
        #expect(c.mmExponent(5) == 0xFFFF)
    }

    /// CVTPI2PD xmm, m64 makes no transition and takes no pending x87 exception; with an mm
    /// source it does both (SDM Vol. 2A "CVTPI2PD"; Vol. 3B Table 22-6 note 1).
    @Test func cvtpi2pdMemoryIsNotMMX() {
        let m = mmxMachine()
        m.w64(Layout.data, 0xFFFF_FFFF_0000_0005)
        m.w16(Layout.data + 0x40, controlWord(masks: 0x3B))
        let prefix = fninit + fldcw(0x40) + fld1 + fldz + [0xDE, 0xF9]      // fdivp: ZE unmasked, pending
        m.load(prefix + [0x66, 0x0F, 0x2A, 0x08] + [0x66, 0x0F, 0x2A, 0xD1] + [0xF4])
        m.rip = Layout.code
        let stop = m.cpu.run(budget: 100)
        m.expectException(stop, vector: 16, rip: Layout.code + UInt64(prefix.count) + 4)
        #expect(eq(m.x(1), ((5.0 as Double).bitPattern, (-1.0 as Double).bitPattern)))
        #expect(m.top == 6 && m.cpu.x87.emptyMask == 0x3F, "no transition")
    }

    /// CVTPD2PI with an m128 that is not 16-byte aligned: #GP(0) (Vol. 3B Table 22-4).
    @Test func cvtpd2piAlignment() {
        let m = mmxMachine()
        m[.rax] = Layout.data + 8
        m.load([0x66, 0x0F, 0x2D, 0x08, 0xF4]); m.rip = Layout.code
        m.expectException(m.cpu.run(budget: 10), vector: 13, error: 0, rip: Layout.code)
    }

    // MARK: Aliasing with the x87 registers

    /// After FLD1 ×2 (TOP = 6, R6 R7 valid), MOVQ mm3, [rax] (0F 6F 18): TOP = 0, every tag
    /// valid, R3 = the value with bits 79:64 all ones, R6/R7 unchanged; FOP/FIP unchanged (Vol. 3A
    /// §12.2). FNSTENV then stores the tags the contents give (Vol. 3A §12.2.1 "Effect of MMX, x87
    /// FPU, FXSAVE, and FXRSTOR Instructions on the x87 FPU Tag Word"): R3 (exponent all ones)
    /// special 10B, R6/R7 (1.0) valid 00B, R0–R2, R4, R5 (0) zero 01B — 0595H, none empty; after
    /// EMMS the tag word is FFFFH.
    @Test func aliasingAndTagWord() {
        let m = mmxMachine()
        m.w64(Layout.data, 0x0123_4567_89AB_CDEF)
        m.runToHalt(fninit + fld1 + fld1)
        let fip = m.cpu.x87.fip, fop = m.cpu.x87.fop
        #expect(m.top == 6)
        m.runToHalt([0x0F, 0x6F, 0x18] + xmdi(1, 6))          // movq mm3, [rax]; fnstenv [rdi]
        #expect(m.top == 0 && m.cpu.x87.emptyMask == 0)
        #expect(m.mm(3) == 0x0123_4567_89AB_CDEF && m.mmExponent(3) == 0xFFFF)
        #expect(m.cpu.x87.register(6).signExponent == 0x3FFF && m.mm(6) == 0x8000_0000_0000_0000)
        #expect(m.cpu.x87.fip == fip && m.cpu.x87.fop == fop, "MMX instructions leave FIP/FOP alone")
        let env = Layout.data + 0x400
        #expect(m.r16(env + 8) == 0x0595, "tag word 0x\(hex(m.r16(env + 8)))")
        #expect((m.r16(env + 4) >> 11) & 7 == 0, "stored TOP")
        m.runToHalt([0x0F, 0x77] + xmdi(1, 6))                 // emms; fnstenv [rdi]
        #expect(m.cpu.x87.emptyMask == 0xFF && m.top == 0)
        #expect(m.r16(env + 8) == 0xFFFF)
        #expect(m.mm(3) == 0x0123_4567_89AB_CDEF, "EMMS keeps the values")
    }

    /// FXSAVE of an mm register (SDM Vol. 2A "FXSAVE", Table 10-2): ST(3) = R3 after the
    /// transition (TOP 0): bytes 80–87 the value, 88–89 FFFFH; abridged tag FFH.
    @Test func fxsaveImage() {
        let m = mmxMachine()
        m[.rcx] = 0xFEDC_BA98_7654_3210
        m.runToHalt(fninit + fld1 + [0x48, 0x0F, 0x6E, 0xD9, 0x0F, 0xAE, 0x07])   // movq mm3, rcx; fxsave [rdi]
        let a = Layout.data + 0x400
        #expect(m.r64(a + 32 + 3 * 16) == 0xFEDC_BA98_7654_3210)
        #expect(m.r16(a + 32 + 3 * 16 + 8) == 0xFFFF)
        #expect(m.r64(a + 32 + 7 * 16) == 0x8000_0000_0000_0000 && m.r16(a + 32 + 7 * 16 + 8) == 0x3FFF, "R7 = 1.0 = ST(7)")
        #expect(m.bytes(a + 4, 1) == [0xFF])
        #expect((m.r16(a + 2) >> 11) & 7 == 0)
    }

    // MARK: Exceptions

    /// #UD if CR0.EM = 1 (Vol. 3A §12.1 "Emulation of the MMX Instruction Set"), #NM if CR0.TS = 1,
    /// EMMS included; the x87 state is untouched.
    @Test(arguments: [(CR0.em, 6), (CR0.ts, 7), (CR0.em | CR0.ts, 6)])
    func emAndTS(_ bits: UInt64, _ vector: Int) {
        for code: [UInt8] in [[0x0F, 0xFC, 0xCA], [0x0F, 0x77], [0x0F, 0x38, 0x00, 0xCA], [0x0F, 0x70, 0xCA, 0]] {
            let m = mmxMachine()
            m.cpu.cr0 |= bits
            m.cpu.x87.top = 5
            m.putMM(1, 42)
            m.load(code + [0xF4]); m.rip = Layout.code
            m.expectException(m.cpu.run(budget: 10), vector: vector, rip: Layout.code)
            #expect(m.top == 5 && m.cpu.x87.emptyMask == 0xFF && m.mm(1) == 42)
        }
    }

    /// A pending unmasked x87 exception: #MF before the MMX instruction (EMMS too), nothing changes.
    @Test func pendingX87Exception() {
        for code: [UInt8] in [[0x0F, 0xFC, 0xCA], [0x0F, 0x77], [0x0F, 0x7E, 0xC8], [0x0F, 0x2D, 0xCA]] {
            let m = mmxMachine()
            m.w16(Layout.data + 0x40, controlWord(masks: 0x3B))
            let prefix = fninit + fldcw(0x40) + fld1 + fldz + [0xDE, 0xF9]
            m[.rax] = 77
            m.load(prefix + code + [0xF4]); m.rip = Layout.code
            m.expectException(m.cpu.run(budget: 100), vector: 16, rip: Layout.code + UInt64(prefix.count))
            #expect(m.top == 6 && m.cpu.x87.emptyMask == 0x3F && m[.rax] == 77)
        }
    }

    /// CR4.OSFXSR = 0: MMX and the SSE integer forms on mm run (Vol. 3B Tables 22-7, 22-8), the
    /// conversions and MOVQ2DQ/MOVDQ2Q are #UD (Tables 22-4 … 22-6, the MOVQ2DQ page).
    @Test func osfxsr() {
        let m = mmxMachine()
        m.cpu.cr4 &= ~CR4.osfxsr
        m.putMM(1, 1); m.putMM(2, 2)
        m.runToHalt([0x0F, 0xFC, 0xCA, 0x0F, 0x70, 0xCA, 0x00, 0x0F, 0xE0, 0xCA])   // paddb, pshufw, pavgb
        // paddb: 3; pshufw imm 0: word 0 of mm2 four times, 0002 0002 0002 0002; pavgb with
        // mm2 bytes 02 00 …: (2+2+1)>>1 = 2, then (2+0+1)>>1 = 1 in bytes 2, 4, 6, else 0.
        #expect(m.mm(1) == 0x0001_0001_0001_0002)
        for code: [UInt8] in [[0x0F, 0x2A, 0xCA], [0x0F, 0x2D, 0xCA], [0x66, 0x0F, 0x2A, 0xCA], [0x66, 0x0F, 0x2D, 0xCA],
                              [0xF3, 0x0F, 0xD6, 0xCA], [0xF2, 0x0F, 0xD6, 0xCA]] {
            let u = mmxMachine()
            u.cpu.cr4 &= ~CR4.osfxsr
            u.load(code + [0xF4]); u.rip = Layout.code
            u.expectException(u.cpu.run(budget: 10), vector: 6, rip: Layout.code)
            #expect(u.cpu.x87.emptyMask == 0xFF)
        }
    }

    /// A #PF on the memory operand leaves the x87 state (TOP, tags) and the destination as they were.
    @Test func faultLeavesStateAlone() {
        let m = mmxMachine()
        m.runToHalt(fninit + fld1)
        m.putMM(1, 9)
        m[.rax] = Layout.data + 0xFFC
        m.setPTE(Layout.data + 0x1000, 0)
        m.load([0x0F, 0xFC, 0x08, 0xF4]); m.rip = Layout.code      // paddb mm1, [rax]: 8 bytes across the page
        m.expectException(m.cpu.run(budget: 10), vector: 14, error: 0, rip: Layout.code)
        #expect(m.top == 7 && m.cpu.x87.emptyMask == 0x7F && m.mm(1) == 9)
    }

    /// x87 arithmetic with an SNaN m32fp/m64fp operand (found by the MMX differential run, where
    /// MMX leaves NaNs in valid registers): "SNaN and QNaN" gives the QNaN source operand, an SNaN
    /// with a number gives the SNaN quieted, IE either way (SDM Vol. 1 §4.8.3.5 "QNaN and SNaN
    /// Operands", Table 4-7 "Rules for Generating QNaNs").
    @Test func x87SNaNMemoryOperand() {
        let qnan: (UInt64, UInt16) = (0xC000_0000_0000_0001, 0x7FFF)
        let m = TestMachine.x87()
        m.w32(Layout.data, 0x7FBF_FFFF)                        // m32 SNaN, fraction 3FFFFFH
        m.w64(Layout.data + 0x10, 0x7FF7_FFFF_FFFF_FFFF)       // m64 SNaN
        m.w64(Layout.data + 0x20, qnan.0); m.w16(Layout.data + 0x28, qnan.1)
        // fld tbyte [rsi+0x20]; fadd dword [rsi]; fmul qword [rsi+0x10]
        m.runToHalt(fninit + fldM80(0x20) + xm(0, 0, 0) + xm(4, 1, 0x10))
        #expect(m.stBits(0) == qnan, "QNaN source operand kept: \(m.stBits(0))")
        #expect(m.fsw & 1 == 1, "IE")
        let n = TestMachine.x87()
        n.w32(Layout.data, 0x7FBF_FFFF)
        n.runToHalt(fninit + fld1 + xm(0, 0, 0))
        #expect(n.stBits(0) == (0xFFFF_FF00_0000_0000, 0x7FFF), "the SNaN quieted: \(n.stBits(0))")
        #expect(n.fsw & 1 == 1)
    }

    /// MMX works in 32-bit protected mode too (CR0.EM = 0).
    @Test func protectedMode32() {
        let m = TestMachine.protected32()
        m.cpu.x87.setRegister(1, mantissa: 0x0102_0304_0506_0708, signExponent: 0)
        m.cpu.x87.setRegister(2, mantissa: 0x0101_0101_0101_0101, signExponent: 0)
        m.runToHalt([0x0F, 0xFC, 0xCA])
        #expect(m.cpu.x87.register(1).mantissa == 0x0203_0405_0607_0809)
    }
}
