// Zydis as the flags oracle: for each generated instruction its length (checked against what the
// generator meant), its mnemonic and Intel-syntax text for reports, and the RFLAGS bits it tests,
// writes and leaves undefined (Zydis's per-instruction `cpu_flags`, from Intel's tables). The
// library is opened through the CZydis shim (dlopen); our own decoder instance is initialised with
// the modeled CPU's features: TZCNT (BMI1) and LZCNT on, MPX/CET off, Intel near branches.

import CZydis

enum ZydisInfo {
    /// nil when Zydis is usable, else why not. Opens this module's copy of the shim's state, so
    /// it must be asked before any other use.
    static let unavailableReason: String? = {
        guard let why = vmxemu_zydis_open() else { return nil }
        return String(cString: why)
    }()

    nonisolated(unsafe) static var decoder: ZydisDecoder = {
        var d = ZydisDecoder()
        let z = vmxemu_zydis_state()!.pointee
        _ = z.`init`(&d, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64)
        _ = z.enableMode(&d, ZYDIS_DECODER_MODE_MPX, ZyanBool(ZYAN_FALSE))
        _ = z.enableMode(&d, ZYDIS_DECODER_MODE_CET, ZyanBool(ZYAN_FALSE))
        _ = z.enableMode(&d, ZYDIS_DECODER_MODE_TZCNT, ZyanBool(ZYAN_TRUE))
        _ = z.enableMode(&d, ZYDIS_DECODER_MODE_LZCNT, ZyanBool(ZYAN_TRUE))
        _ = z.enableMode(&d, ZYDIS_DECODER_MODE_AMD_BRANCHES, ZyanBool(ZYAN_FALSE))
        return d
    }()

    struct Info {
        var length: Int
        var mnemonic: String
        var tested: UInt64
        /// Flags the instruction writes with a defined value (modified, set to 0, set to 1).
        var written: UInt64
        var undefined: UInt64
        /// x87 condition codes as FSW bits (C0 0x100, C1 0x200, C2 0x400, C3 0x4000).
        var fswWritten: UInt64 = 0
        var fswUndefined: UInt64 = 0
    }

    static func fswBits(_ z: UInt32) -> UInt64 {
        (z & 1 != 0 ? 0x100 : 0) | (z & 2 != 0 ? 0x200 : 0) | (z & 4 != 0 ? 0x400 : 0) | (z & 8 != 0 ? 0x4000 : 0)
    }

    /// nil when Zydis rejects the bytes.
    static func info(_ bytes: [UInt8]) -> Info? {
        let z = vmxemu_zydis_state()!.pointee
        var ins = ZydisDecodedInstruction()
        let s = bytes.withUnsafeBytes { b in z.decodeInstruction(&decoder, nil, b.baseAddress, b.count, &ins) }
        guard s & 0x8000_0000 == 0 else { return nil }
        var tested: UInt64 = 0, written: UInt64 = 0, undefined: UInt64 = 0
        if let f = ins.cpu_flags?.pointee {
            tested = UInt64(f.tested)
            undefined = UInt64(f.undefined)
            written = UInt64(f.modified | f.set_0 | f.set_1) & ~undefined
        }
        var info = Info(length: Int(ins.length), mnemonic: String(cString: z.mnemonicString(ins.mnemonic)!),
                        tested: tested, written: written, undefined: undefined)
        if let f = ins.fpu_flags?.pointee {
            info.fswUndefined = fswBits(f.undefined)
            info.fswWritten = fswBits(f.modified | f.set_0 | f.set_1) & ~info.fswUndefined
        }
        return info
    }

    /// Intel-syntax text of one instruction.
    static func disassemble(_ bytes: [UInt8]) -> String {
        let z = vmxemu_zydis_state()!.pointee
        var ins = ZydisDecodedInstruction()
        var ops = [ZydisDecodedOperand](repeating: ZydisDecodedOperand(), count: Int(ZYDIS_MAX_OPERAND_COUNT))
        var text = [CChar](repeating: 0, count: 256)
        let ok = bytes.withUnsafeBytes { b -> Bool in
            guard z.decodeFull(&decoder, b.baseAddress, b.count, &ins, &ops) & 0x8000_0000 == 0 else { return false }
            var f = vmxemu_zydis_state()!.pointee.formatter
            return z.format(&f, &ins, &ops, ins.operand_count_visible, &text, text.count, UInt64.max, nil) & 0x8000_0000 == 0
        }
        guard ok else { return "(invalid)" }
        let end = text.firstIndex(of: 0) ?? text.count
        return String(decoding: text[..<end].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
