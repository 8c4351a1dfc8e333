// SSE2/SSSE3/SSE4.1 integer instructions, moves, and the exception conditions of SSE.
// References per lane are written from the SDM instruction pages (Vol. 2).

import Testing
@testable import X86

func sat8(_ v: Int) -> UInt8 { UInt8(bitPattern: Int8(max(-128, min(127, v)))) }
func satU8(_ v: Int) -> UInt8 { UInt8(max(0, min(255, v))) }
func sat16(_ v: Int) -> UInt16 { UInt16(bitPattern: Int16(max(-32768, min(32767, v)))) }
func satU16(_ v: Int) -> UInt16 { UInt16(max(0, min(65535, v))) }
func s8(_ b: UInt8) -> Int { Int(Int8(bitPattern: b)) }
func s16(_ w: UInt16) -> Int { Int(Int16(bitPattern: w)) }
func s32(_ d: UInt32) -> Int { Int(Int32(bitPattern: d)) }

@Suite("SSE integer")
struct SSEIntTests {
    static let inputs: [(X128, X128)] = [
        (sampleA, sampleB),
        ((0xFFFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000), (0x0101_0101_0101_0101, 0x7FFF_FFFF_FFFF_FFFF)),
        ((0x0123_4567_89AB_CDEF, 0x0F0E_0D0C_0B0A_0908), (0x8F70_00FF_8001_7FFE, 0xFF00_FF00_0001_8000)),
    ]

    /// Byte-lane operations (66 0F xx /r): PADDB FC, PSUBB F8, PADDSB EC, PADDUSB DC, PSUBSB E8,
    /// PSUBUSB D8, PCMPEQB 74, PCMPGTB 64, PMINUB DA, PMAXUB DE, PAVGB E0.
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
                let r = run2(enc([0x66], [0x0F, op]), a, b)
                #expect(eq(r, fromBytes(zip(bytesOf(a), bytesOf(b)).map(f))), "\(name) \(hx(a)) \(hx(b)) → \(hx(r))")
            }
        }
    }

    /// Word-lane operations: PADDW FD, PSUBSW E9, PADDUSW DD, PMULLW D5, PMULHW E5, PMULHUW E4,
    /// PCMPGTW 65, PMINSW EA, PMAXSW EE, PCMPEQW 75, PAVGW E3.
    @Test func wordLanes() {
        let ops: [(UInt8, String, (UInt16, UInt16) -> UInt16)] = [
            (0xFD, "paddw", { $0 &+ $1 }), (0xE9, "psubsw", { sat16(s16($0) - s16($1)) }),
            (0xDD, "paddusw", { satU16(Int($0) + Int($1)) }), (0xD5, "pmullw", { $0 &* $1 }),
            (0xE5, "pmulhw", { UInt16(truncatingIfNeeded: (s16($0) * s16($1)) >> 16) }),
            (0xE4, "pmulhuw", { UInt16((UInt32($0) * UInt32($1)) >> 16) }),
            (0x65, "pcmpgtw", { s16($0) > s16($1) ? 0xFFFF : 0 }), (0x75, "pcmpeqw", { $0 == $1 ? 0xFFFF : 0 }),
            (0xEA, "pminsw", { s16($0) < s16($1) ? $0 : $1 }), (0xEE, "pmaxsw", { s16($0) > s16($1) ? $0 : $1 }),
            (0xE3, "pavgw", { UInt16((Int($0) + Int($1) + 1) >> 1) }),
        ]
        for (op, name, f) in ops {
            for (a, b) in Self.inputs {
                let r = run2(enc([0x66], [0x0F, op]), a, b)
                #expect(eq(r, fromWords(zip(wordsOf(a), wordsOf(b)).map(f))), "\(name) \(hx(a)) \(hx(b)) → \(hx(r))")
            }
        }
    }

    /// Dword/qword: PADDD FE, PSUBD FA, PCMPEQD 76, PCMPGTD 66, PADDQ D4, PSUBQ FB, PMULUDQ F4,
    /// PMADDWD F5, PSADBW F6, logic PAND DB PANDN DF POR EB PXOR EF.
    @Test func dwordQwordLanes() {
        for (a, b) in Self.inputs {
            let da = dwordsOf(a), db = dwordsOf(b)
            #expect(eq(run2(enc([0x66], [0x0F, 0xFE]), a, b), fromDwords(zip(da, db).map { $0 &+ $1 })))
            #expect(eq(run2(enc([0x66], [0x0F, 0xFA]), a, b), fromDwords(zip(da, db).map { $0 &- $1 })))
            #expect(eq(run2(enc([0x66], [0x0F, 0x76]), a, b), fromDwords(zip(da, db).map { $0 == $1 ? ~0 : 0 })))
            #expect(eq(run2(enc([0x66], [0x0F, 0x66]), a, b), fromDwords(zip(da, db).map { s32($0) > s32($1) ? ~0 : 0 })))
            #expect(eq(run2(enc([0x66], [0x0F, 0xD4]), a, b), (a.0 &+ b.0, a.1 &+ b.1)))
            #expect(eq(run2(enc([0x66], [0x0F, 0xFB]), a, b), (a.0 &- b.0, a.1 &- b.1)))
            #expect(eq(run2(enc([0x66], [0x0F, 0xF4]), a, b), ((a.0 & 0xFFFF_FFFF) &* (b.0 & 0xFFFF_FFFF), (a.1 & 0xFFFF_FFFF) &* (b.1 & 0xFFFF_FFFF))))
            let wa = wordsOf(a), wb = wordsOf(b)
            let madd = (0..<4).map { k in UInt32(truncatingIfNeeded: s16(wa[2 * k]) * s16(wb[2 * k]) + s16(wa[2 * k + 1]) * s16(wb[2 * k + 1])) }
            #expect(eq(run2(enc([0x66], [0x0F, 0xF5]), a, b), fromDwords(madd)))
            let ba = bytesOf(a), bb = bytesOf(b)
            let sad = { (h: Int) in UInt64((0..<8).map { abs(Int(ba[h + $0]) - Int(bb[h + $0])) }.reduce(0, +)) }
            #expect(eq(run2(enc([0x66], [0x0F, 0xF6]), a, b), (sad(0), sad(8))))
            #expect(eq(run2(enc([0x66], [0x0F, 0xDB]), a, b), (a.0 & b.0, a.1 & b.1)))
            #expect(eq(run2(enc([0x66], [0x0F, 0xDF]), a, b), (~a.0 & b.0, ~a.1 & b.1)))
            #expect(eq(run2(enc([0x66], [0x0F, 0xEB]), a, b), (a.0 | b.0, a.1 | b.1)))
            #expect(eq(run2(enc([0x66], [0x0F, 0xEF]), a, b), (a.0 ^ b.0, a.1 ^ b.1)))
        }
    }

    /// Unpack and pack (SDM Vol. 2B "PUNPCKLBW", "PACKSSWB", "PACKUSWB", "PACKSSDW").
    @Test func unpackPack() {
        let a = sampleA, b = sampleB
        let ba = bytesOf(a), bb = bytesOf(b)
        #expect(eq(run2(enc([0x66], [0x0F, 0x60]), a, b), fromBytes((0..<8).flatMap { [ba[$0], bb[$0]] })))
        #expect(eq(run2(enc([0x66], [0x0F, 0x68]), a, b), fromBytes((8..<16).flatMap { [ba[$0], bb[$0]] })))
        let wa = wordsOf(a), wb = wordsOf(b)
        #expect(eq(run2(enc([0x66], [0x0F, 0x61]), a, b), fromWords((0..<4).flatMap { [wa[$0], wb[$0]] })))
        let da = dwordsOf(a), db = dwordsOf(b)
        #expect(eq(run2(enc([0x66], [0x0F, 0x6A]), a, b), fromDwords([da[2], db[2], da[3], db[3]])))
        #expect(eq(run2(enc([0x66], [0x0F, 0x6C]), a, b), (a.0, b.0)))
        #expect(eq(run2(enc([0x66], [0x0F, 0x6D]), a, b), (a.1, b.1)))
        #expect(eq(run2(enc([], [0x0F, 0x14]), a, b), fromDwords([da[0], db[0], da[1], db[1]])))   // UNPCKLPS
        #expect(eq(run2(enc([0x66], [0x0F, 0x15]), a, b), (a.1, b.1)))                             // UNPCKHPD
        #expect(eq(run2(enc([0x66], [0x0F, 0x63]), a, b), fromBytes((wa + wb).map { sat8(s16($0)) })))
        #expect(eq(run2(enc([0x66], [0x0F, 0x67]), a, b), fromBytes((wa + wb).map { satU8(s16($0)) })))
        #expect(eq(run2(enc([0x66], [0x0F, 0x6B]), a, b), fromWords((da + db).map { sat16(s32($0)) })))
        #expect(eq(run2(enc([0x66], [0x0F, 0x38, 0x2B]), a, b), fromWords((da + db).map { satU16(s32($0)) })))   // PACKUSDW
    }

    /// Shifts by xmm count (66 0F D1/D2/D3 E1/E2 F1/F2/F3) and by imm8 (Groups 12–14), and the
    /// byte shifts PSRLDQ/PSLLDQ (66 0F 73 /3, /7). Counts above the width give 0 (or all sign).
    @Test func shifts() {
        let a = sampleA
        for c in [0, 1, 7, 15, 16, 31, 33, 63, 64, 200] {
            let cnt: X128 = (UInt64(c), 0)
            let w = wordsOf(a), d = dwordsOf(a)
            let srlw = fromWords(w.map { c > 15 ? 0 : $0 >> UInt16(c) })
            let sraw = fromWords(w.map { UInt16(bitPattern: Int16(bitPattern: $0) >> Int16(min(c, 15))) })
            let slld = fromDwords(d.map { c > 31 ? 0 : $0 << UInt32(c) })
            let srad = fromDwords(d.map { UInt32(bitPattern: Int32(bitPattern: $0) >> Int32(min(c, 31))) })
            let srlq: X128 = c > 63 ? (0, 0) : (a.0 >> UInt64(c), a.1 >> UInt64(c))
            #expect(eq(run2(enc([0x66], [0x0F, 0xD1]), a, cnt), srlw), "psrlw \(c)")
            #expect(eq(run2(enc([0x66], [0x0F, 0xE1]), a, cnt), sraw), "psraw \(c)")
            #expect(eq(run2(enc([0x66], [0x0F, 0xF2]), a, cnt), slld), "pslld \(c)")
            #expect(eq(run2(enc([0x66], [0x0F, 0xE2]), a, cnt), srad), "psrad \(c)")
            #expect(eq(run2(enc([0x66], [0x0F, 0xD3]), a, cnt), srlq), "psrlq \(c)")
            // Immediate forms on xmm1: 66 0F 71 /2 ib = D1, /4 = E1; 72 /6 = F1, /4 = E1; 73 /2 = D1.
            guard c < 256 else { continue }
            #expect(eq(run2(enc([0x66], [0x0F, 0x71], 0xD1, imm: UInt8(c)), a, (0, 0)), srlw), "psrlw imm \(c)")
            #expect(eq(run2(enc([0x66], [0x0F, 0x71], 0xE1, imm: UInt8(c)), a, (0, 0)), sraw), "psraw imm \(c)")
            #expect(eq(run2(enc([0x66], [0x0F, 0x72], 0xF1, imm: UInt8(c)), a, (0, 0)), slld), "pslld imm \(c)")
            #expect(eq(run2(enc([0x66], [0x0F, 0x72], 0xE1, imm: UInt8(c)), a, (0, 0)), srad), "psrad imm \(c)")
            #expect(eq(run2(enc([0x66], [0x0F, 0x73], 0xD1, imm: UInt8(c)), a, (0, 0)), srlq), "psrlq imm \(c)")
            let bs = bytesOf(a)
            let srldq = fromBytes((0..<16).map { $0 + c < 16 ? bs[$0 + c] : 0 })
            let slldq = fromBytes((0..<16).map { $0 - c >= 0 ? bs[$0 - c] : 0 })
            #expect(eq(run2(enc([0x66], [0x0F, 0x73], 0xD9, imm: UInt8(c)), a, (0, 0)), srldq), "psrldq \(c)")
            #expect(eq(run2(enc([0x66], [0x0F, 0x73], 0xF9, imm: UInt8(c)), a, (0, 0)), slldq), "pslldq \(c)")
        }
    }

    /// PSHUFD/PSHUFLW/PSHUFHW (66/F2/F3 0F 70), SHUFPS (0F C6), SHUFPD (66 0F C6).
    @Test(arguments: [0x00, 0x1B, 0xE4, 0x4E, 0xB1, 0x93]) func shuffles(_ imm: Int) {
        let a = sampleA, b = sampleB
        let db = dwordsOf(b), da = dwordsOf(a)
        let sel = { (k: Int) in (imm >> (2 * k)) & 3 }
        #expect(eq(run2(enc([0x66], [0x0F, 0x70], imm: UInt8(imm)), a, b), fromDwords((0..<4).map { db[sel($0)] })))
        let wb = wordsOf(b)
        #expect(eq(run2(enc([0xF2], [0x0F, 0x70], imm: UInt8(imm)), a, b), fromWords((0..<4).map { wb[sel($0)] } + Array(wb[4...]))))
        #expect(eq(run2(enc([0xF3], [0x0F, 0x70], imm: UInt8(imm)), a, b), fromWords(Array(wb[..<4]) + (0..<4).map { wb[4 + sel($0)] })))
        #expect(eq(run2(enc([], [0x0F, 0xC6], imm: UInt8(imm)), a, b), fromDwords([da[sel(0)], da[sel(1)], db[sel(2)], db[sel(3)]])))
        #expect(eq(run2(enc([0x66], [0x0F, 0xC6], imm: UInt8(imm)), a, b), (imm & 1 == 0 ? a.0 : a.1, imm & 2 == 0 ? b.0 : b.1)))
    }

    /// PMOVMSKB (66 0F D7), MOVMSKPS (0F 50), MOVMSKPD (66 0F 50), PINSRW (66 0F C4), PEXTRW (66 0F C5).
    @Test func masksInsertExtract() {
        let m = sseMachine()
        m.setX(1, sampleA)
        m[.rcx] = 0xFFFF_FFFF_FFFF_BEEF
        m.runToHalt([0x66, 0x0F, 0xD7, 0xC1,        // pmovmskb eax, xmm1
                     0x0F, 0x50, 0xD9,              // movmskps ebx, xmm1
                     0x66, 0x0F, 0x50, 0xD1,        // movmskpd edx, xmm1
                     0x66, 0x0F, 0xC5, 0xF1, 0x03,  // pextrw esi, xmm1, 3
                     0x66, 0x0F, 0xC4, 0xD1, 0x05]) // pinsrw xmm2, ecx, 5
        let bs = bytesOf(sampleA)
        #expect(m[.rax] == UInt64((0..<16).reduce(0) { $0 | (Int(bs[$1] >> 7) << $1) }))
        let ds = dwordsOf(sampleA)
        #expect(m[.rbx] == UInt64((0..<4).reduce(0) { $0 | (Int(ds[$1] >> 31) << $1) }))
        #expect(m[.rdx] == (sampleA.0 >> 63) | (sampleA.1 >> 63) << 1)
        #expect(m[.rsi] == 0x8001)
        #expect(eq(m.x(2), (0, 0xBEEF << 16)))
    }

    /// SSSE3: PSHUFB (66 0F 38 00), PALIGNR (66 0F 3A 0F), PABSB/W/D, PSIGNB, PHADDW, PMADDUBSW,
    /// PMULHRSW (SDM Vol. 2B).
    @Test func ssse3() {
        for (a, b) in Self.inputs {
            let ba = bytesOf(a), bb = bytesOf(b)
            // PSHUFB: byte i = bit 7 of b[i] ? 0 : a[b[i] & 15].
            #expect(eq(run2(enc([0x66], [0x0F, 0x38, 0x00]), a, b), fromBytes(bb.map { $0 & 0x80 != 0 ? 0 : ba[Int($0 & 15)] })))
            for n in [0, 3, 8, 16, 17, 31, 32, 200] {
                let cat = bb + ba                           // src low, dest high
                let want = fromBytes((0..<16).map { $0 + n < 32 ? cat[$0 + n] : 0 })
                #expect(eq(run2(enc([0x66], [0x0F, 0x3A, 0x0F], imm: UInt8(n)), a, b), want), "palignr \(n)")
            }
            #expect(eq(run2(enc([0x66], [0x0F, 0x38, 0x1C]), a, b), fromBytes(bb.map { UInt8(truncatingIfNeeded: abs(s8($0))) })))
            let wb = wordsOf(b), wa = wordsOf(a)
            #expect(eq(run2(enc([0x66], [0x0F, 0x38, 0x1D]), a, b), fromWords(wb.map { UInt16(truncatingIfNeeded: abs(s16($0))) })))
            #expect(eq(run2(enc([0x66], [0x0F, 0x38, 0x08]), a, b),
                       fromBytes(zip(ba, bb).map { (x: UInt8, y: UInt8) -> UInt8 in s8(y) < 0 ? 0 &- x : (s8(y) == 0 ? 0 : x) })))
            let haddA: [UInt16] = (0..<4).map { (k: Int) -> UInt16 in wa[2 * k] &+ wa[2 * k + 1] }
            let haddB: [UInt16] = (0..<4).map { (k: Int) -> UInt16 in wb[2 * k] &+ wb[2 * k + 1] }
            let hadd = haddA + haddB
            #expect(eq(run2(enc([0x66], [0x0F, 0x38, 0x01]), a, b), fromWords(hadd)))
            // PMADDUBSW: unsigned bytes of dest × signed bytes of src, pairs added with saturation.
            let mad: [UInt16] = (0..<8).map { (k: Int) -> UInt16 in
                let p0: Int = Int(ba[2 * k]) * s8(bb[2 * k])
                let p1: Int = Int(ba[2 * k + 1]) * s8(bb[2 * k + 1])
                return sat16(p0 + p1)
            }
            #expect(eq(run2(enc([0x66], [0x0F, 0x38, 0x04]), a, b), fromWords(mad)))
            // PMULHRSW: ((a·b >> 14) + 1) >> 1.
            let mhrs = zip(wa, wb).map { UInt16(truncatingIfNeeded: (((s16($0) * s16($1)) >> 14) + 1) >> 1) }
            #expect(eq(run2(enc([0x66], [0x0F, 0x38, 0x0B]), a, b), fromWords(mhrs)))
        }
    }

    /// SSE4.1 integer: PMULLD, PMULDQ, PMINSD, PMAXUD, PMINSB, PCMPEQQ, PCMPGTQ (SSE4.2),
    /// PMOVSXBW/PMOVZXBD/PMOVSXDQ (register and memory), PHMINPOSUW.
    @Test func sse41Integer() {
        for (a, b) in Self.inputs {
            let da = dwordsOf(a), db = dwordsOf(b)
            #expect(eq(run2(enc([0x66], [0x0F, 0x38, 0x40]), a, b), fromDwords(zip(da, db).map { $0 &* $1 })))
            #expect(eq(run2(enc([0x66], [0x0F, 0x38, 0x28]), a, b),
                       (UInt64(bitPattern: Int64(s32(da[0])) * Int64(s32(db[0]))), UInt64(bitPattern: Int64(s32(da[2])) * Int64(s32(db[2]))))))
            #expect(eq(run2(enc([0x66], [0x0F, 0x38, 0x39]), a, b), fromDwords(zip(da, db).map { s32($0) < s32($1) ? $0 : $1 })))
            #expect(eq(run2(enc([0x66], [0x0F, 0x38, 0x3F]), a, b), fromDwords(zip(da, db).map { max($0, $1) })))
            #expect(eq(run2(enc([0x66], [0x0F, 0x38, 0x38]), a, b), fromBytes(zip(bytesOf(a), bytesOf(b)).map { s8($0) < s8($1) ? $0 : $1 })))
            #expect(eq(run2(enc([0x66], [0x0F, 0x38, 0x29]), a, a), (~0, ~0)))
            #expect(eq(run2(enc([0x66], [0x0F, 0x38, 0x37]), a, b),
                       (Int64(bitPattern: a.0) > Int64(bitPattern: b.0) ? ~0 : 0, Int64(bitPattern: a.1) > Int64(bitPattern: b.1) ? ~0 : 0)))
            let bb = bytesOf(b)
            #expect(eq(run2(enc([0x66], [0x0F, 0x38, 0x20]), a, b), fromWords((0..<8).map { UInt16(bitPattern: Int16(Int8(bitPattern: bb[$0]))) })))
            #expect(eq(run2(enc([0x66], [0x0F, 0x38, 0x31]), a, b), fromDwords((0..<4).map { UInt32(bb[$0]) })))
            #expect(eq(run2(enc([0x66], [0x0F, 0x38, 0x25]), a, b),
                       (UInt64(bitPattern: Int64(s32(db[0]))), UInt64(bitPattern: Int64(s32(db[1]))))))
            let wb = wordsOf(b)
            let mn = wb.min()!, at = wb.firstIndex(of: mn)!
            #expect(eq(run2(enc([0x66], [0x0F, 0x38, 0x41]), a, b), (UInt64(mn) | UInt64(at) << 16, 0)))
        }
        // PMOVZXBW xmm1, [rax] reads 8 bytes, no alignment requirement.
        let m = sseMachine()
        m[.rax] = Layout.data + 3
        m.w64(Layout.data + 3, 0x8877_6655_4433_2211)
        m.runToHalt([0x66, 0x0F, 0x38, 0x30, 0x08])
        #expect(eq(m.x(1), (0x0044_0033_0022_0011, 0x0088_0077_0066_0055)))
    }

    /// Blends (66 0F 3A 0C/0D/0E, 66 0F 38 10/14/15 with XMM0), PTEST flags, INSERTPS, EXTRACTPS,
    /// PEXTRB/D/Q, PINSRB/D/Q, MPSADBW (SDM Vol. 2).
    @Test func sse41BlendInsertExtract() {
        let a = sampleA, b = sampleB
        let da = dwordsOf(a), db = dwordsOf(b)
        #expect(eq(run2(enc([0x66], [0x0F, 0x3A, 0x0C], imm: 0x5), a, b), fromDwords([db[0], da[1], db[2], da[3]])))
        #expect(eq(run2(enc([0x66], [0x0F, 0x3A, 0x0D], imm: 0x2), a, b), (a.0, b.1)))
        let wa = wordsOf(a), wb = wordsOf(b)
        #expect(eq(run2(enc([0x66], [0x0F, 0x3A, 0x0E], imm: 0xA6), a, b), fromWords((0..<8).map { 0xA6 & (1 << $0) != 0 ? wb[$0] : wa[$0] })))
        let m = sseMachine()
        m.setX(0, (0x80FF_0001_7F80_0080, 0x0000_0000_8000_0000))
        m.setX(1, a); m.setX(2, b); m.setX(3, a); m.setX(4, a)
        m.runToHalt([0x66, 0x0F, 0x38, 0x10, 0xCA,          // pblendvb xmm1, xmm2, <xmm0>
                     0x66, 0x0F, 0x38, 0x14, 0xDA,          // blendvps xmm3, xmm2, <xmm0>
                     0x66, 0x0F, 0x38, 0x15, 0xE2])         // blendvpd xmm4, xmm2, <xmm0>
        let b0 = bytesOf(m.x(0)), ba = bytesOf(a), bb = bytesOf(b)
        #expect(eq(m.x(1), fromBytes((0..<16).map { b0[$0] & 0x80 != 0 ? bb[$0] : ba[$0] })))
        let d0 = dwordsOf(m.x(0))
        #expect(eq(m.x(3), fromDwords((0..<4).map { d0[$0] >> 31 != 0 ? db[$0] : da[$0] })))
        #expect(eq(m.x(4), (b.0, a.1)))
        // PTEST: ZF = (a AND b) = 0, CF = (NOT a AND b) = 0.
        for (x, y, f) in [((0xF0, 0), (0x0F, 0), RFLAGS.zf), ((0xFF, 1), (0x0F, 1), RFLAGS.cf), ((0xF0, 0), (0xFF, 0), 0), ((5, 0), (0, 0), RFLAGS.zf | RFLAGS.cf)] as [(X128, X128, UInt64)] {
            let p = sseMachine()
            p.setArith(RFLAGS.of | RFLAGS.sf | RFLAGS.pf | RFLAGS.af)
            p.setX(1, x); p.setX(2, y)
            p.runToHalt([0x66, 0x0F, 0x38, 0x17, 0xCA])
            #expect(p.arith == f, "ptest \(hx(x)) \(hx(y)): \(p.flagString)")
        }
        // INSERTPS imm 0b10_01_0100: source lane 2 into lane 1, zero lane 2.
        #expect(eq(run2(enc([0x66], [0x0F, 0x3A, 0x21], imm: 0x94), a, b), fromDwords([da[0], db[2], 0, da[3]])))
        let e = sseMachine()
        e.setX(1, a)
        e[.rax] = Layout.data
        e[.rbx] = ~0; e[.rcx] = ~0; e[.rdx] = ~0
        e.w64(Layout.data + 0x10, 0)
        e.runToHalt([0x66, 0x0F, 0x3A, 0x14, 0xCB, 0x0D,          // pextrb ebx, xmm1, 13
                     0x66, 0x48, 0x0F, 0x3A, 0x16, 0xC9, 0x01,    // pextrq rcx, xmm1, 1
                     0x66, 0x0F, 0x3A, 0x17, 0xCA, 0x01,          // extractps edx, xmm1, 1
                     0x66, 0x0F, 0x3A, 0x16, 0x48, 0x10, 0x02,    // pextrd [rax+0x10], xmm1, 2
                     0x66, 0x0F, 0x3A, 0x20, 0xD3, 0x0F,          // pinsrb xmm2, ebx, 15
                     0x66, 0x48, 0x0F, 0x3A, 0x22, 0xD1, 0x00])   // pinsrq xmm2, rcx, 0
        #expect(e[.rbx] == UInt64(ba[13]))
        #expect(e[.rcx] == a.1)
        #expect(e[.rdx] == UInt64(da[1]))
        #expect(e.r32(Layout.data + 0x10) == da[2] && e.r32(Layout.data + 0x14) == 0)
        #expect(eq(e.x(2), (a.1, UInt64(ba[13]) << 56)))
        // MPSADBW imm 0: eight 4-byte SADs of dest bytes k…k+3 against src bytes 0…3.
        let mp = (0..<8).map { k in UInt16((0..<4).map { abs(Int(ba[k + $0]) - Int(bb[$0])) }.reduce(0, +)) }
        #expect(eq(run2(enc([0x66], [0x0F, 0x3A, 0x42], imm: 0), a, b), fromWords(mp)))
    }
}

@Suite("SSE moves and exceptions")
struct SSEMoveTests {
    /// MOVSS/MOVSD from memory zero the upper lanes, register forms merge; MOVLPS/MOVHPS,
    /// MOVHLPS/MOVLHPS, MOVD/MOVQ with GPRs and memory, MOVQ xmm, xmm zeroes bits 127:64,
    /// MOVDDUP, MOVSHDUP, MOVUPS unaligned, MOVAPS aligned, MOVDQU store.
    @Test func moves() {
        let m = sseMachine()
        let d = Layout.data
        m.w64(d, 0x1111_1111_2222_2222); m.w64(d + 8, 0x3333_3333_4444_4444)
        m[.rax] = d
        m[.rbx] = 0xDEAD_BEEF_CAFE_F00D
        for r in 1...9 { m.setX(r, (0xAAAA_AAAA_AAAA_AAAA, 0xBBBB_BBBB_BBBB_BBBB)) }
        m.setX(10, (0x0102_0304_0506_0708, 0x090A_0B0C_0D0E_0F10))
        m.runToHalt([0xF3, 0x0F, 0x10, 0x08,                // movss xmm1, [rax]
                     0xF2, 0x0F, 0x10, 0x10,                // movsd xmm2, [rax]
                     0xF3, 0x41, 0x0F, 0x10, 0xDA,          // movss xmm3, xmm10
                     0x0F, 0x16, 0x20,                      // movhps xmm4, [rax]
                     0x41, 0x0F, 0x12, 0xEA,                // movhlps xmm5, xmm10
                     0x66, 0x48, 0x0F, 0x6E, 0xF3,          // movq xmm6, rbx
                     0x66, 0x0F, 0x6E, 0xFB,                // movd xmm7, ebx
                     0xF3, 0x45, 0x0F, 0x7E, 0xC2,          // movq xmm8, xmm10
                     0xF2, 0x44, 0x0F, 0x12, 0x08,          // movddup xmm9, [rax]
                     0x66, 0x4C, 0x0F, 0x7E, 0xD1,          // movq rcx, xmm10
                     0x0F, 0x11, 0x50, 0x20])               // movups [rax+0x20], xmm2
        #expect(eq(m.x(1), (0x2222_2222, 0)))
        #expect(eq(m.x(2), (0x1111_1111_2222_2222, 0)))
        #expect(eq(m.x(3), (0xAAAA_AAAA_0506_0708, 0xBBBB_BBBB_BBBB_BBBB)))
        #expect(eq(m.x(4), (0xAAAA_AAAA_AAAA_AAAA, 0x1111_1111_2222_2222)))
        #expect(eq(m.x(5), (0x090A_0B0C_0D0E_0F10, 0xBBBB_BBBB_BBBB_BBBB)))
        #expect(eq(m.x(6), (0xDEAD_BEEF_CAFE_F00D, 0)))
        #expect(eq(m.x(7), (0xCAFE_F00D, 0)))
        #expect(eq(m.x(8), (0x0102_0304_0506_0708, 0)))
        #expect(eq(m.x(9), (0x1111_1111_2222_2222, 0x1111_1111_2222_2222)))
        #expect(m[.rcx] == 0x0102_0304_0506_0708)
        #expect(m.r64(d + 0x20) == 0x1111_1111_2222_2222 && m.r64(d + 0x28) == 0)
    }

    /// MOVDDUP and MOVSHDUP/MOVSLDUP on registers; MOVLHPS; MOVSD store; MOVNTI; MASKMOVDQU.
    @Test func moreMoves() {
        let m = sseMachine()
        m.setX(2, sampleA)
        m.setX(5, (0xFF00_0000_0000_0080, 0x8000_0000_0000_0000))     // MASKMOVDQU mask
        m[.rdi] = Layout.data + 0x40
        m[.rax] = Layout.data
        m[.rbx] = 0x1234_5678_9ABC_DEF0
        m.w64(Layout.data + 0x40, 0); m.w64(Layout.data + 0x48, 0)
        m.runToHalt([0xF2, 0x0F, 0x12, 0xCA,             // movddup xmm1, xmm2
                     0xF3, 0x0F, 0x16, 0xDA,             // movshdup xmm3, xmm2
                     0xF3, 0x0F, 0x12, 0xE2,             // movsldup xmm4, xmm2
                     0x48, 0x0F, 0xC3, 0x58, 0x08,       // movnti [rax+8], rbx
                     0xF2, 0x0F, 0x11, 0x10,             // movsd [rax], xmm2
                     0x66, 0x0F, 0xF7, 0xD5])            // maskmovdqu xmm2, xmm5
        #expect(eq(m.x(1), (sampleA.0, sampleA.0)))
        let d = dwordsOf(sampleA)
        #expect(eq(m.x(3), fromDwords([d[1], d[1], d[3], d[3]])))
        #expect(eq(m.x(4), fromDwords([d[0], d[0], d[2], d[2]])))
        #expect(m.r64(Layout.data + 8) == 0x1234_5678_9ABC_DEF0)
        #expect(m.r64(Layout.data) == sampleA.0)
        #expect(m.r64(Layout.data + 0x40) == sampleA.0 & 0xFF00_0000_0000_00FF)
        #expect(m.r64(Layout.data + 0x48) == sampleA.1 & 0xFF00_0000_0000_0000)
    }

    /// 16-byte operands of MOVAPS/MOVDQA/ADDPS must be 16-byte aligned: #GP(0), nothing written
    /// (SDM Vol. 2A §2.4, Exceptions Type 1 and 4). MOVUPS/MOVDQU/LDDQU accept any address.
    @Test func alignment() {
        let cases: [([UInt8], Bool)] = [
            ([0x0F, 0x28, 0x08], true),              // movaps xmm1, [rax]
            ([0x66, 0x0F, 0x7F, 0x08], true),        // movdqa [rax], xmm1
            ([0x0F, 0x58, 0x08], true),              // addps xmm1, [rax]
            ([0x66, 0x0F, 0xFE, 0x08], true),        // paddd xmm1, [rax]
            ([0x0F, 0x10, 0x08], false),             // movups xmm1, [rax]
            ([0xF3, 0x0F, 0x7F, 0x08], false),       // movdqu [rax], xmm1
            ([0xF2, 0x0F, 0xF0, 0x08], false),       // lddqu xmm1, [rax]
            ([0xF3, 0x0F, 0x58, 0x08], false),       // addss xmm1, [rax] (m32)
        ]
        for (code, faults) in cases {
            let m = sseMachine()
            m[.rax] = Layout.data + 8
            m.setX(1, (1, 2))
            m.w64(Layout.data + 8, 0x5555); m.w64(Layout.data + 16, 0x6666)
            m.load(code + [0xF4]); m.rip = Layout.code
            let s = m.cpu.run(budget: 10)
            if faults {
                m.expectException(s, vector: 13, error: 0, rip: Layout.code)
                #expect(eq(m.x(1), (1, 2)) && m.r64(Layout.data + 8) == 0x5555, "\(code)")
            } else {
                #expect(s == .halted(rip: Layout.code + UInt64(code.count), interruptsEnabled: false), "\(code): \(s)")
            }
        }
    }

    /// Alignment is checked on the linear address: with FS.base = 8, fs:[rbx] with RBX 16-aligned
    /// is misaligned (#GP(0)), with RBX = 16n − 8 it is aligned (SDM Vol. 1 §11.4.1).
    @Test(arguments: [true, false]) func alignmentOnLinearAddress(_ faults: Bool) {
        let m = sseMachine()
        m[.rbx] = faults ? Layout.data : Layout.data - 8
        m.w64(Layout.data, 0x1234); m.w64(Layout.data + 8, 0x5678)
        // mov ecx, C0000100h ; mov eax, 8 ; xor edx, edx ; wrmsr ; movaps xmm1, fs:[rbx]
        let setup: [UInt8] = [0xB9, 0x00, 0x01, 0x00, 0xC0, 0xB8, 0x08, 0x00, 0x00, 0x00, 0x31, 0xD2, 0x0F, 0x30]
        let code = setup + [0x64, 0x0F, 0x28, 0x0B]
        if faults {
            m.load(code + [0xF4]); m.rip = Layout.code
            m.expectException(m.cpu.run(budget: 10), vector: 13, error: 0, rip: Layout.code + UInt64(setup.count))
            #expect(eq(m.x(1), (0, 0)))
        } else {
            m.runToHalt(code)
            #expect(eq(m.x(1), (0x1234, 0x5678)))
        }
    }

    /// RIP-relative memory operand followed by an imm8: the displacement is relative to the end
    /// of the whole instruction (SDM Vol. 2A §2.2.1.6 "RIP-Relative Addressing").
    @Test func ripRelativeWithImmediate() {
        let m = sseMachine()
        // roundsd xmm1, [rip+2], 1 (66 0F 3A 0B 0D disp32 ib: 10 bytes) ; hlt ; pad ; 2.7 at +12
        m.load([0x66, 0x0F, 0x3A, 0x0B, 0x0D, 0x02, 0x00, 0x00, 0x00, 0x01, 0xF4, 0x90] + le((2.7).bitPattern) + le((9.9).bitPattern))
        m.rip = Layout.code
        let s = m.cpu.run(budget: 5)
        #expect(s == .halted(rip: Layout.code + 10, interruptsEnabled: false), "\(s)")
        #expect(m.x(1).0 == (2.0).bitPattern)
    }

    /// SSE in 32-bit protected mode (the test machine's CR4 with OSFXSR): addps xmm1, [eax].
    @Test func protectedMode32() {
        let m = TestMachine.protected32()
        m.cpu.cr4 |= CR4.osfxsr
        m[.rax] = Layout.data
        m.w64(Layout.data, UInt64(Float(1.5).bitPattern) | UInt64(Float(-2).bitPattern) << 32)
        m.w64(Layout.data + 8, 0)
        m.setX(1, ps([1, 1, 1, 1]))
        m.runToHalt([0x0F, 0x58, 0x08])
        #expect(floatsOf(m.x(1)) == [2.5, -1, 1, 1])
    }

    /// MOVNTI and CRC32 use only GPRs: no CR4.OSFXSR/CR0.EM/CR0.TS checks (SDM Vol. 2B "MOVNTI",
    /// Vol. 2A "CRC32" exception lists).
    @Test func gprOnlyFormsIgnoreSSEEnable() {
        let m = TestMachine.long64(mib: 2)              // CR4.OSFXSR = 0
        m.cpu.cr0 |= CR0.em | CR0.ts
        m[.rax] = Layout.data; m[.rbx] = 0xABCD; m[.rcx] = 0
        m.runToHalt([0x0F, 0xC3, 0x18,                  // movnti [rax], ebx
                     0xF2, 0x0F, 0x38, 0xF0, 0xCB])     // crc32 ecx, bl
        #expect(m.r32(Layout.data) == 0xABCD)
        #expect(m[.rcx] == UInt64(SSE42Tests.crc32c(0, [0xCD])))
    }

    /// A 16-byte store whose second half faults (#PF) writes nothing.
    @Test func storeAcrossPageNoPartialWrite() {
        let m = sseMachine()
        let page = Layout.data + 0x1000
        m.setPTE(page, m.pte(page) & ~2)                    // read-only page
        m[.rax] = page - 8
        m.w64(page - 8, 0x7777)
        m.setX(1, (1, 2))
        m.load([0xF3, 0x0F, 0x7F, 0x08, 0xF4]); m.rip = Layout.code      // movdqu [rax], xmm1
        let s = m.cpu.run(budget: 10)
        m.expectException(s, vector: 14, error: 3, rip: Layout.code)
        #expect(m.r64(page - 8) == 0x7777)
    }

    /// #UD with CR4.OSFXSR = 0 or CR0.EM = 1; #NM with CR0.TS = 1 (SDM Vol. 2A §2.4; Vol. 3A §2.5).
    @Test(arguments: [0, 1, 2]) func controlRegisterChecks(_ which: Int) {
        let m = sseMachine()
        switch which {
        case 0: m.cpu.cr4 &= ~CR4.osfxsr
        case 1: m.cpu.cr0 |= CR0.em
        default: m.cpu.cr0 |= CR0.ts
        }
        m.setX(1, (1, 2))
        m.load([0x66, 0x0F, 0xFE, 0xCA, 0xF4]); m.rip = Layout.code      // paddd xmm1, xmm2
        m.expectException(m.cpu.run(budget: 10), vector: which == 2 ? 7 : 6, rip: Layout.code)
        #expect(eq(m.x(1), (1, 2)))
    }

    /// CPUID.1 advertises SSE (EDX 25), SSE2 (EDX 26), SSE3 (ECX 0), SSSE3 (ECX 9), SSE4.1 (ECX 19),
    /// SSE4.2 (ECX 20), and MMX (EDX 23; CPU+MMX).
    @Test func cpuidBits() {
        let (_, _, c, d) = CPUModel.cpuid(leaf: 1, subleaf: 0, cpu: nil)
        #expect(d & (1 << 25) != 0 && d & (1 << 26) != 0 && d & (1 << 23) != 0)
        #expect(c & (1 << 0) != 0 && c & (1 << 9) != 0 && c & (1 << 19) != 0 && c & (1 << 20) != 0)
    }

    /// LDMXCSR/STMXCSR (0F AE /2, /3): round trip; a reserved bit (31:16) → #GP(0).
    @Test func mxcsrLoadStore() {
        let m = sseMachine()
        m[.rax] = Layout.data
        m.w32(Layout.data, 0x7FC0 | 0x3F)
        m.runToHalt([0x0F, 0xAE, 0x10, 0x0F, 0xAE, 0x58, 0x04])   // ldmxcsr [rax]; stmxcsr [rax+4]
        #expect(m.cpu.mxcsr == 0x7FFF)
        #expect(m.r32(Layout.data + 4) == 0x7FFF)
        let g = sseMachine()
        g[.rax] = Layout.data
        g.w32(Layout.data, 0x1_1F80)
        g.load([0x0F, 0xAE, 0x10, 0xF4]); g.rip = Layout.code
        g.expectException(g.cpu.run(budget: 10), vector: 13, error: 0, rip: Layout.code)
        #expect(g.cpu.mxcsr == 0x1F80)
    }
}
