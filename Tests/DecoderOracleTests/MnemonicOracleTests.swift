// The debugger's x87 and SSE/MMX mnemonics (`disas`, Sources/Debugger/Disassembly+SIMD.swift)
// against Zydis, exhaustively over the opcode space they cover: every x87 escape with every
// register ModRM and every memory ModRM.reg, and every (mandatory prefix × map × opcode) of the
// 0F, 0F 38 and 0F 3A maps that our decoder routes to the SSE unit, in register and memory form,
// with and without REX.W.

import Testing
import TestSupport
import CZydis
@testable import Debugger
@testable import X86

@Suite("Disassembly mnemonics vs Zydis (x87, SSE, MMX)", .requires(.zydis))
struct MnemonicOracleTests {
    init() throws {
        if let why = Zydis.unavailableReason { try Oracle.zydis.unusable(why) }
    }

    /// Names that differ from Zydis's by convention only, each with its reason.
    static let aliases: [String: String] = [
        // The SDM lists the undocumented aliases of FCOM/FCOMP/FXCH/FSTP in Tables A-8…A-22 with
        // footnotes; we show which alias it is (fcom2, fxch4, fstp1 …), Zydis the base name.
        "fcom2": "fcom", "fcomp3": "fcomp", "fcomp5": "fcomp", "fxch4": "fxch", "fxch7": "fxch",
        "fstp8": "fstp", "fstp9": "fstp",
        // D9 D8+i: sandpile's and our "fstp1"; Zydis follows Intel XED's name for it, FSTPNCE.
        "fstp1": "fstpnce",
    ]

    func ours(_ bytes: [UInt8], mode: Int, harness: DecodeHarness) -> (Op, String)? {
        var b = bytes + [UInt8](repeating: 0, count: 15 - bytes.count)
        guard case let .valid(i) = b.withUnsafeMutableBufferPointer({ harness.decode($0.baseAddress!) }) else { return nil }
        guard i.op == .x87 || i.op == .sse else { return nil }
        return (i.op, Disassembler.text(i, address: DecodeHarness.code, bits: [16, 32, 64][mode]))
    }

    func compare(_ cases: [[UInt8]], mode: Int) -> (checked: Int, mismatches: [String], aliasesUsed: Set<String>) {
        let h = DecodeHarness(mode: mode)
        var checked = 0
        var bad: [String] = []
        var aliasesUsed: Set<String> = []
        for bytes in cases {
            guard let (_, text) = ours(bytes, mode: mode, harness: h) else { continue }
            let padded = bytes + [UInt8](repeating: 0, count: 15 - bytes.count)
            let z = padded.withUnsafeBufferPointer { Zydis.decode(mode, $0.baseAddress!, 15) }
            guard z.valid else { continue }      // validity is the other oracle test's business
            checked += 1
            let mine = String(text.split(separator: " ").first ?? "")
            let normalized = Self.aliases[mine] ?? mine
            if Self.aliases[mine] != nil && normalized == z.mnemonic { aliasesUsed.insert(mine) }
            if normalized != z.mnemonic && !text.hasPrefix("sse[") {
                bad.append("\(bytes.map { hex($0) }.joined(separator: " ")): ours \"\(text)\", Zydis \(z.mnemonic)")
            }
            if text.hasPrefix("sse[") { bad.append("\(bytes.map { hex($0) }.joined(separator: " ")): not tabled (\(text)), Zydis \(z.mnemonic)") }
        }
        return (checked, bad, aliasesUsed)
    }

    @Test func x87Mnemonics() throws {
        var cases: [[UInt8]] = []
        for esc in UInt8(0xD8)...0xDF {
            for modrm in 0xC0...0xFF { cases.append([esc, UInt8(modrm)]) }
            for sub in 0..<8 { cases.append([esc, UInt8(sub << 3)]) }      // [rax] / [bx+si]
        }
        var used: Set<String> = []
        for mode in [2, 1] {
            let (n, bad, aliases) = compare(cases, mode: mode)
            print("mnemonic oracle x87 \(DecodeHarness.modeNames[mode]): \(n) encodings, \(bad.count) disagreements")
            #expect(n > 400)
            #expect(bad.isEmpty, "\(bad.prefix(20).joined(separator: "\n"))")
            used.formUnion(aliases)
        }
        // Every alias must explain a name Zydis gives: an unused one is stale.
        for name in Self.aliases.keys.sorted() where !used.contains(name) {
            Issue.record("alias \(name) → \(Self.aliases[name]!) explained no mnemonic: remove it")
        }
    }

    @Test func sseMnemonics() throws {
        var cases: [[UInt8]] = []
        for prefix in [[], [0x66], [0xF3], [0xF2]] as [[UInt8]] {
            for rex in [[], [0x48]] as [[UInt8]] {
                for map in [[0x0F], [0x0F, 0x38], [0x0F, 0x3A]] as [[UInt8]] {
                    for opc in 0...255 {
                        // Register form with ModRM.reg = 1..7 (groups 71–73 select by it), and a memory form.
                        for modrm in [0xC1, 0xD1, 0xDA, 0xE3, 0xF4, 0xFD, 0x01] as [UInt8] {
                            cases.append(prefix + rex + map + [UInt8(opc), modrm, 0x05])
                        }
                    }
                }
            }
        }
        let (n, bad, _) = compare(cases, mode: 2)
        print("mnemonic oracle SSE/MMX 64-bit: \(n) encodings, \(bad.count) disagreements")
        #expect(n > 2000)
        #expect(bad.isEmpty, "\(bad.prefix(30).joined(separator: "\n"))")
    }
}
