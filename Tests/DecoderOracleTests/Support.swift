// Support for the decoder oracle test: a CPU set up to decode in each mode, Zydis through the
// CZydis shim, a seeded generator of byte strings, and the comparison of the two decoders.

import TestSupport
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CZydis
@testable import X86

// MARK: - Zydis

enum Zydis {
    /// nil when Zydis is usable, else why not (the test prints it and skips).
    static let unavailableReason: String? = {
        guard let why = vmxemu_zydis_open() else { return nil }
        return String(cString: why)
    }()

    struct Result {
        var valid: Bool
        var length: Int
        var encoding: UInt8      // 0 legacy, 1 3DNow!, 2 XOP, 3 VEX, 4 EVEX, 5 MVEX
        var map: UInt8           // 0 one-byte, 1 0F, 2 0F38, 3 0F3A, 5/6 EVEX maps, 8 0F0F, 9-11 XOP
        var opcode: UInt8
        var hasModrm: Bool
        var mod: UInt8
        var dispSize: UInt8      // bits
        var dispValue: Int64
        var immSize0: UInt8      // bits
        var imm0: UInt64
        var immSize1: UInt8
        var imm1: UInt64
        var status: UInt32
        var mnemonic: String
        var isaExt: String
        var isaSet: String
        var category: String
    }

    static func decode(_ mode: Int, _ bytes: UnsafePointer<UInt8>, _ count: Int) -> Result {
        var r = VmxemuZydisResult()
        vmxemu_zydis_decode(Int32(mode), bytes, count, &r)
        return Result(valid: r.valid != 0, length: Int(r.length), encoding: r.encoding, map: r.opcodeMap,
                      opcode: r.opcode, hasModrm: r.hasModrm != 0, mod: r.modrmMod,
                      dispSize: r.dispSize, dispValue: r.dispValue, immSize0: r.immSize0, imm0: r.imm0,
                      immSize1: r.immSize1, imm1: r.imm1, status: r.status,
                      mnemonic: String(cString: r.mnemonic), isaExt: String(cString: r.isaExt),
                      isaSet: String(cString: r.isaSet), category: String(cString: r.category))
    }

    static func disassemble(_ mode: Int, _ bytes: [UInt8]) -> String {
        var text = [CChar](repeating: 0, count: 256)
        let ok = bytes.withUnsafeBufferPointer { b in
            vmxemu_zydis_format(Int32(mode), b.baseAddress, b.count, &text, text.count)
        }
        guard ok != 0 else { return "(invalid)" }
        let end = text.firstIndex(of: 0) ?? text.count
        return String(decoding: text[..<end].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

// MARK: - Our decoder

final class NoPorts: PortIO {
    func portRead(_ port: UInt16, size: Int) -> UInt32 { 0xFFFF_FFFF }
    func portWrite(_ port: UInt16, size: Int, value: UInt32) {}
    var stopRequested: Bool { false }
}

/// A CPU in one decode mode with the instruction bytes at a fixed address.
final class DecodeHarness {
    static let modeNames = ["16-bit", "32-bit", "64-bit"]
    let mode: Int
    let memory = PhysicalMemory(size: 4 << 20)
    let ports = NoPorts()
    let cpu: CPU
    static let code: UInt64 = 0x10000

    enum Outcome {
        case valid(Insn)
        case ud(Insn)
        case fault(Fault)
    }

    init(mode: Int) {
        self.mode = mode
        cpu = CPU(memory: memory, io: ports)
        let flatData = SegmentRegister(selector: 0x18, base: 0, limit: 0xFFFF_FFFF, attr: 0xC093)
        for s in [Seg.es, Seg.ss, Seg.ds, Seg.fs, Seg.gs] { cpu.segs[s] = flatData }
        switch mode {
        case 2:
            // Long mode needs paging: identity-map the first 2 MiB with one large page.
            let ram = memory.base
            func put(_ at: Int, _ v: UInt64) { ram.storeBytes(of: v, toByteOffset: at, as: UInt64.self) }
            put(0x1000, 0x2000 | 3)          // PML4[0] → PDPT
            put(0x2000, 0x3000 | 3)          // PDPT[0] → PD
            put(0x3000, 0x0000 | 0x83)       // PD[0]: 2 MiB page at 0, present, writable
            cpu.cr3 = 0x1000
            cpu.cr4 = CR4.pae
            cpu.efer = EFER.lme | EFER.lma
            cpu.cr0 = CR0.pe | CR0.pg | CR0.et
            cpu.segs[Seg.cs] = SegmentRegister(selector: 0x08, base: 0, limit: 0xFFFF_FFFF, attr: 0xA09B)
        case 1:
            cpu.cr0 = CR0.pe | CR0.et
            cpu.segs[Seg.cs] = SegmentRegister(selector: 0x08, base: 0, limit: 0xFFFF_FFFF, attr: 0xC09B)
        default:
            cpu.cr0 = CR0.pe | CR0.et
            cpu.segs[Seg.cs] = SegmentRegister(selector: 0x08, base: 0, limit: 0xFFFF, attr: 0x009B)
        }
        cpu.modeChanged()
        precondition(Int(cpu.codeMode) == mode, "harness: CPU is not in the \(Self.modeNames[mode]) mode")
    }

    /// Decode the 15 bytes at `bytes`.
    func decode(_ bytes: UnsafePointer<UInt8>) -> Outcome {
        (memory.base + Int(Self.code)).copyMemory(from: bytes, byteCount: 15)
        do {
            let i = try cpu.decode(at: Self.code)
            return i.op == .ud ? .ud(i) : .valid(i)
        } catch {
            return .fault(error)
        }
    }
}

// MARK: - Byte strings

/// SplitMix64 (TestSupport) with the helpers the byte-string generator uses.
extension SplitMix64 {
    mutating func byte() -> UInt8 { UInt8(truncatingIfNeeded: next()) }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
}

/// The kinds of byte strings the test feeds both decoders.
enum Shape: CustomStringConvertible {
    /// 15 random bytes.
    case random
    /// A given opcode (one-byte, or after 0F / 0F 38 / 0F 3A) with random legacy prefixes, REX
    /// in 64-bit mode, and a ModRM/SIB/displacement tail.
    case opcode(escape: Int, opcode: UInt8)
    /// A VEX (C4/C5) or EVEX (62) encoding of an opcode in one of its maps.
    case vex(kind: Int, opcode: UInt8)
    /// Every ModRM byte of an opcode whose meaning depends on it (groups, x87 escapes, 0F 01),
    /// after one prefix (0 = none); the rest random.
    case sweep(escape: Int, opcode: UInt8, prefix: UInt8, modrm: UInt8)

    /// Opcodes swept over all 256 ModRM bytes: (escape, opcode) as in `.opcode`.
    static let sweptOpcodes: [(Int, UInt8)] =
        [0x62, 0x80, 0x81, 0x83, 0x8C, 0x8E, 0x8F, 0xC0, 0xC1, 0xC4, 0xC5, 0xC6, 0xC7, 0xD0, 0xD3,
         0xD8, 0xD9, 0xDA, 0xDB, 0xDC, 0xDD, 0xDE, 0xDF, 0xF6, 0xF7, 0xFE, 0xFF].map { (0, UInt8($0)) }
        + [0x00, 0x01, 0x0D, 0x18, 0x1E, 0x20, 0x21, 0x71, 0x72, 0x73, 0xAE, 0xBA, 0xC7].map { (1, UInt8($0)) }
        + [0xF0, 0xF1, 0xF6].map { (2, UInt8($0)) }
    /// Prefixes the sweep puts before the opcode (0 = none; 0x48 only in 64-bit mode).
    static let sweptPrefixes: [UInt8] = [0, 0x66, 0xF3, 0xF2, 0xF0, 0x67, 0x48]

    var description: String {
        switch self {
        case .random: return "random"
        case let .opcode(e, o): return ["", "0F ", "0F 38 ", "0F 3A "][e] + hex2(o)
        case let .vex(k, o): return ["VEX2", "VEX3", "EVEX"][k] + " " + hex2(o)
        case let .sweep(e, o, p, m): return "sweep " + (p != 0 ? hex2(p) + " " : "") + ["", "0F ", "0F 38 ", "0F 3A "][e] + hex2(o) + " " + hex2(m)
        }
    }
}

func hex2(_ b: UInt8) -> String {
    let d = Array("0123456789ABCDEF")
    return String([d[Int(b >> 4)], d[Int(b & 15)]])
}

func hexBytes(_ b: some Sequence<UInt8>) -> String { b.map(hex2).joined(separator: " ") }

let legacyPrefixes: [UInt8] = [0x66, 0x67, 0xF2, 0xF3, 0xF0, 0x2E, 0x36, 0x3E, 0x26, 0x64, 0x65]

/// Fill `out` (15 bytes) with a string of the given shape.
func generate(_ shape: Shape, mode: Int, _ rng: inout SplitMix64, into out: UnsafeMutablePointer<UInt8>) {
    for k in 0..<15 { out[k] = rng.byte() }
    var n = 0
    func emit(_ b: UInt8) { if n < 15 { out[n] = b; n += 1 } }
    func prefixes(max: Int) {
        // Mostly none or one; sometimes several (repeats and conflicting ones included).
        let count = [0, 0, 0, 1, 1, 1, 2, 2, 3, max][rng.below(10)]
        for _ in 0..<min(count, max) { emit(legacyPrefixes[rng.below(legacyPrefixes.count)]) }
    }
    func modrmTail() {
        // ModRM with every mod/rm shape equally likely, a SIB whose base is sometimes 5, the rest random.
        let mod = UInt8(rng.below(4)), reg = UInt8(rng.below(8))
        let rm: UInt8 = rng.chance(30) ? [4, 5][rng.below(2)] : UInt8(rng.below(8))
        emit(mod << 6 | reg << 3 | rm)
        if rm == 4 && mod != 3 { emit(rng.chance(25) ? (rng.byte() & 0xF8) | 5 : rng.byte()) }
    }
    switch shape {
    case .random:
        return
    case let .sweep(escape, opcode, prefix, modrm):
        if prefix != 0 { emit(prefix) }
        switch escape {
        case 1: emit(0x0F)
        case 2: emit(0x0F); emit(0x38)
        case 3: emit(0x0F); emit(0x3A)
        default: break
        }
        emit(opcode)
        emit(modrm)
    case let .opcode(escape, opcode):
        // One in four with a "mandatory prefix" (66/F2/F3) right before the opcode, as SSE uses.
        prefixes(max: 5)
        if rng.chance(25) { emit([0x66, 0xF2, 0xF3][rng.below(3)]) }
        if mode == 2 && rng.chance(50) { emit(0x40 | rng.byte() & 0xF) }
        switch escape {
        case 1: emit(0x0F)
        case 2: emit(0x0F); emit(0x38)
        case 3: emit(0x0F); emit(0x3A)
        default: break
        }
        emit(opcode)
        modrmTail()
    case let .vex(kind, opcode):
        if rng.chance(10) { emit([0x67, 0x2E, 0x3E, 0x26, 0x64, 0x65, 0x36, 0x66, 0xF3, 0xF2, 0xF0][rng.below(11)]) }
        if mode == 2 && rng.chance(3) { emit(0x40 | rng.byte() & 0xF) }
        // Outside 64-bit mode a VEX/EVEX prefix needs ModRM.mod = 11 in the next byte's top bits
        // (else it is LES/LDS/BOUND), which R̄ X̄ = 11 provide (SDM Vol. 2A §2.3.5, §2.6.1).
        let top: UInt8 = mode == 2 && rng.chance(80) ? rng.byte() & 0xC0 : 0xC0
        switch kind {
        case 0:
            emit(0xC5); emit(top & 0x80 | rng.byte() & 0x7F)
        case 1:
            emit(0xC4)
            let mmmmm: UInt8 = rng.chance(90) ? UInt8(1 + rng.below(3)) : rng.byte() & 0x1F
            emit(top | rng.byte() & 0x20 | mmmmm)
            emit(rng.byte())
        default:
            emit(0x62)
            let mmm: UInt8 = rng.chance(90) ? [1, 2, 3, 5, 6][rng.below(5)] : rng.byte() & 7
            let p0 = rng.chance(90) ? top | rng.byte() & 0x30 | mmm : top | rng.byte() & 0x3F
            emit(p0)
            emit(rng.chance(90) ? rng.byte() | 0x04 : rng.byte())    // P1 bit 2 is 1
            emit(rng.byte())
        }
        emit(opcode)
        modrmTail()
    }
}
