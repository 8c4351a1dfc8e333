// SSE4.2: PCMPESTRI/PCMPESTRM/PCMPISTRI/PCMPISTRM against the SDM's definition written out
// (SDM Vol. 2B §4.1 "Imm8 Control Byte Operation for PCMPESTRI / PCMPESTRM / PCMPISTRI /
// PCMPISTRM"), and CRC32 against a bitwise CRC-32C.

import Testing
@testable import X86

/// The SDM's string-compare model. `a` = xmm1 (first operand), `b` = xmm2/m128; `la`, `lb` the
/// lengths (explicit: |EAX|, |EDX| saturated; implicit: up to the first null element).
struct StringCompareModel {
    let imm: Int
    var words: Bool { imm & 1 != 0 }
    var signed: Bool { imm & 2 != 0 }
    var n: Int { words ? 8 : 16 }

    func elements(_ v: X128) -> [Int] {
        if words { return wordsOf(v).map { signed ? s16($0) : Int($0) } }
        return bytesOf(v).map { signed ? s8($0) : Int($0) }
    }
    func implicitLength(_ v: X128) -> Int { elements(v).firstIndex(of: 0) ?? n }
    func explicitLength(_ r: UInt64, wide: Bool) -> Int {
        let v = wide ? Int64(bitPattern: r) : Int64(Int32(truncatingIfNeeded: r))
        return Int(min(v.magnitude, UInt64(n)))
    }

    /// IntRes2 (§4.1.4 aggregation, §4.1.5 polarity).
    func intRes2(_ a: X128, _ la: Int, _ b: X128, _ lb: Int) -> Int {
        let ea = elements(a), eb = elements(b)
        let agg = (imm >> 2) & 3
        // BoolRes[i][j]: a[i] vs b[j], with the overrides of Table 4-7 for invalid elements.
        func boolRes(_ i: Int, _ j: Int) -> Bool {
            let va = i < la, vb = j < lb
            if !va && !vb { return agg == 2 || agg == 3 }
            if !va && vb { return agg == 3 }
            if va && !vb { return false }
            switch agg {
            case 1: return i % 2 == 0 ? eb[j] >= ea[i] : eb[j] <= ea[i]    // ranges: a[i] ≤ b[j] ≤ a[i+1]
            default: return ea[i] == eb[j]
            }
        }
        var r1 = 0
        for j in 0..<n {
            var bit = false
            switch agg {
            case 0: for i in 0..<n where boolRes(i, j) { bit = true }
            case 1: for i in stride(from: 0, to: n, by: 2) where boolRes(i, j) && boolRes(i + 1, j) { bit = true }
            case 2: bit = boolRes(j, j)
            default:
                bit = true
                var k = j
                for i in 0..<(n - j) { if !boolRes(i, k) { bit = false }; k += 1 }
            }
            if bit { r1 |= 1 << j }
        }
        let all = (1 << n) - 1
        switch (imm >> 4) & 3 {
        case 1: return ~r1 & all
        case 3: return (r1 ^ ((1 << lb) - 1)) & all       // negate only the valid elements of b
        default: return r1
        }
    }

    /// (ECX or mask, flags CF ZF SF OF).
    func index(_ r2: Int) -> UInt64 {
        if r2 == 0 { return UInt64(n) }
        return UInt64(imm & 0x40 == 0 ? r2.trailingZeroBitCount : Int.bitWidth - 1 - r2.leadingZeroBitCount)
    }
    func mask(_ r2: Int) -> X128 {
        if imm & 0x40 == 0 { return (UInt64(r2), 0) }
        if words { return fromWords((0..<8).map { r2 & (1 << $0) != 0 ? 0xFFFF : 0 }) }
        return fromBytes((0..<16).map { r2 & (1 << $0) != 0 ? 0xFF : 0 })
    }
    func flags(_ r2: Int, _ la: Int, _ lb: Int) -> UInt64 {
        (r2 != 0 ? RFLAGS.cf : 0) | (lb < n ? RFLAGS.zf : 0) | (la < n ? RFLAGS.sf : 0) | (r2 & 1 != 0 ? RFLAGS.of : 0)
    }
}

func str(_ s: String) -> X128 { fromBytes((Array(s.utf8) + [UInt8](repeating: 0, count: 16)).prefix(16).map { $0 }) }

@Suite("SSE4.2 string compares and CRC32")
struct SSE42Tests {
    static let pairs: [(X128, X128)] = [
        (str("az"), str("Hello, World!")),                 // ranges: lower case
        (str("lo"), str("hello world lo")),                // substring
        (str("aeiou"), str("programming")),                // any
        (str("abcdefghijklmnop"), str("abcdXfghijklmnop")),    // full length, equal each
        (sampleA, sampleB),
        (fromWords([0x41, 0x5A, 0x61, 0x7A, 0, 0, 0, 0]), fromWords([0x30, 0x41, 0x62, 0xFFFF, 0x7B, 0x7A, 0, 9])),
    ]
    static let imms: [Int] = [0x00, 0x04, 0x08, 0x0C, 0x14, 0x34, 0x44, 0x4C, 0x01, 0x05, 0x0D, 0x02, 0x06, 0x3A, 0x7B, 0x18, 0x38, 0x40, 0x09]

    @Test func implicitLength() {
        for imm in Self.imms {
            let model = StringCompareModel(imm: imm)
            for (a, b) in Self.pairs {
                let la = model.implicitLength(a), lb = model.implicitLength(b)
                let r2 = model.intRes2(a, la, b, lb)
                // pcmpistri xmm1, xmm2, imm ; pcmpistrm xmm1, xmm2, imm (results in ECX, XMM0)
                let m = sseMachine()
                m.setX(1, a); m.setX(2, b)
                m[.rcx] = ~0
                m.runToHalt(enc([0x66], [0x0F, 0x3A, 0x63], imm: UInt8(imm)))
                #expect(m[.rcx] == model.index(r2), "pcmpistri imm \(hex(UInt8(imm))) \(hx(a)) \(hx(b))")
                #expect(m.arith == model.flags(r2, la, lb), "pcmpistri flags imm \(hex(UInt8(imm))): \(m.flagString)")
                let m2 = sseMachine()
                m2.setX(1, a); m2.setX(2, b)
                m2.runToHalt(enc([0x66], [0x0F, 0x3A, 0x62], imm: UInt8(imm)))
                #expect(eq(m2.x(0), model.mask(r2)), "pcmpistrm imm \(hex(UInt8(imm)))")
                #expect(m2.arith == model.flags(r2, la, lb))
            }
        }
    }

    @Test func explicitLength() {
        let lengths: [(UInt64, UInt64)] = [(2, 13), (3, 16), (0, 5), (UInt64(bitPattern: -4), 20), (16, 0), (0x1_0000_0002, 7)]
        // One machine for all cases: pcmpestri xmm1, xmm2, imm ; pcmpestrm xmm3, xmm2, imm ;
        // hlt, with and without REX.W (RAX/RDX lengths), the immediate patched per case.
        let m = sseMachine()
        for imm in Self.imms {
            let model = StringCompareModel(imm: imm)
            for wide in [false, true] {
                let w: [UInt8] = wide ? [0x48] : []
                m.load([0x66] + w + [0x0F, 0x3A, 0x61, 0xCA, UInt8(imm)] + [0x66] + w + [0x0F, 0x3A, 0x60, 0xDA, UInt8(imm), 0xF4])
                for (a, b) in Self.pairs {
                    for (rax, rdx) in lengths {
                        let la = model.explicitLength(rax, wide: wide), lb = model.explicitLength(rdx, wide: wide)
                        let r2 = model.intRes2(a, la, b, lb)
                        m.setX(1, a); m.setX(2, b); m.setX(3, a)
                        m[.rax] = rax; m[.rdx] = rdx; m[.rcx] = ~0
                        m.rip = Layout.code
                        let s = m.cpu.run(budget: 3)
                        #expect(s == .halted(rip: Layout.code + UInt64(2 * (w.count + 6)), interruptsEnabled: false), "\(s)")
                        #expect(m[.rcx] == model.index(r2), "pcmpestri imm \(hex(UInt8(imm))) len \(la) \(lb) wide \(wide)")
                        #expect(eq(m.x(0), model.mask(r2)), "pcmpestrm imm \(hex(UInt8(imm))) len \(la) \(lb) wide \(wide)")
                        #expect(m.arith == model.flags(r2, la, lb), "pcmpestrm flags: \(m.flagString)")
                    }
                }
            }
        }
    }

    /// The memory operand of PCMPxSTRx need not be aligned (SDM Vol. 2A §2.4, Exceptions Type 4 note).
    @Test func unalignedMemoryOperand() {
        let m = sseMachine()
        m[.rax] = Layout.data + 1
        m.mem.write(Array("xxhello".utf8) + [0], at: Layout.data + 1)
        m.setX(1, str("lo"))
        m.runToHalt([0x66, 0x0F, 0x3A, 0x63, 0x08, 0x0C])      // pcmpistri xmm1, [rax], 0Ch (equal ordered)
        #expect(m[.rcx] == 5)
    }

    /// CRC-32C, bit-reflected (SDM Vol. 2A "CRC32": polynomial 11EDC6F41H).
    static func crc32c(_ crc: UInt32, _ bytes: [UInt8]) -> UInt32 {
        var c = crc
        for b in bytes {
            for k in 0..<8 {
                let bit = (c ^ UInt32(b >> UInt8(k))) & 1
                c = (c >> 1) ^ (bit != 0 ? 0x82F6_3B78 : 0)
            }
        }
        return c
    }

    @Test func crc32() {
        // The CRC-32C check value: crc32c("123456789") = E3069283H (with the customary ~ in and out).
        #expect(~Self.crc32c(~0, Array("123456789".utf8)) == 0xE306_9283)
        let m = sseMachine()
        m[.rax] = Layout.data
        m.mem.write(Array("123456789".utf8), at: Layout.data)
        m[.rbx] = 0xFFFF_FFFF
        m[.rcx] = 0x3132_3334_3536_3738
        m[.rdx] = 0xAAAA_AAAA_0000_0000
        m[.rsi] = 0x1234_5678_FFFF_FFFF
        m[.rdi] = 0xBEEF
        // crc32 ebx, qword [rax] ; crc32 ebx, byte [rax+8]  (F2 REX.W 0F 38 F1 /r, F2 0F 38 F0 /r)
        // crc32 rdx, rcx ; crc32 esi, cx (66 F2 0F 38 F1) ; crc32 edi, bh (F2 0F 38 F0 FF)
        m.runToHalt([0xF2, 0x48, 0x0F, 0x38, 0xF1, 0x18,
                     0xF2, 0x0F, 0x38, 0xF0, 0x58, 0x08,
                     0xF2, 0x48, 0x0F, 0x38, 0xF1, 0xD1,
                     0x66, 0xF2, 0x0F, 0x38, 0xF1, 0xF1,
                     0xF2, 0x0F, 0x38, 0xF0, 0xFF])
        #expect(m[.rbx] == UInt64(Self.crc32c(~0, Array("123456789".utf8))))
        #expect(~UInt32(m[.rbx]) == 0xE306_9283)
        #expect(m[.rdx] == UInt64(Self.crc32c(0, le(UInt64(0x3132_3334_3536_3738)))))
        #expect(m[.rsi] == UInt64(Self.crc32c(0xFFFF_FFFF, [0x38, 0x37])))
        // ModRM FF: reg 7 (EDI), rm 7 = BH without REX (BH of the CRC left in RBX above).
        #expect(m[.rdi] == UInt64(Self.crc32c(0xBEEF, [UInt8((m[.rbx] >> 8) & 0xFF)])))
        // With REX, rm 4 is SPL: crc32 edi, spl (F2 40 0F 38 F0 FC).
        let s = sseMachine()
        s[.rdi] = 1
        s[.rsp] = 0x8_0123; s[.rax] = 0x4500      // SPL = 23H (AH = 45H would be the wrong register)
        s.runToHalt([0xF2, 0x40, 0x0F, 0x38, 0xF0, 0xFC])
        #expect(s[.rdi] == UInt64(Self.crc32c(1, [0x23])))
    }
}
