// A small C face of Zydis for the decoder oracle test (Tests/DecoderOracleTests).
//
// Only plain C types cross into Swift. The Zydis headers are used when present (for the struct
// layouts and enum values); the library itself is opened with dlopen at run time, so that a
// missing libzydis makes the oracle test skip loudly instead of breaking the link of the whole
// test bundle.
#ifndef VMXEMU_CZYDIS_SHIM_H
#define VMXEMU_CZYDIS_SHIM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/// What Zydis says about one byte string.
typedef struct {
    /// 1 when Zydis decoded an instruction, 0 when it rejected the bytes.
    int32_t valid;
    /// The ZyanStatus of the decode (for the report).
    uint32_t status;
    uint8_t length;
    /// ZydisInstructionEncoding: 0 legacy, 1 3DNow!, 2 XOP, 3 VEX, 4 EVEX, 5 MVEX.
    uint8_t encoding;
    /// ZydisOpcodeMap: 0 one-byte, 1 0F, 2 0F38, 3 0F3A, 5/6 EVEX maps 5/6, 8 0F0F, 9-11 XOP.
    uint8_t opcodeMap;
    uint8_t opcode;
    /// ModRM: present, and its mod field.
    uint8_t hasModrm;
    uint8_t modrmMod;
    uint8_t dispSize;     // bits
    uint8_t immSize0;     // bits
    uint8_t immSize1;     // bits
    uint8_t operandWidth; // bits
    uint8_t addressWidth; // bits
    int64_t dispValue;
    uint64_t imm0;
    uint64_t imm1;
    const char *mnemonic;
    const char *isaExt;
    const char *isaSet;
    const char *category;
} VmxemuZydisResult;

/// Decoder machine modes, in the order of the test's modes: 0 = 16-bit, 1 = 32-bit, 2 = 64-bit.
enum { VMXEMU_ZYDIS_MODES = 3 };

#if __has_include(<Zydis/Zydis.h>) && __has_include(<dlfcn.h>)
#include <Zydis/Zydis.h>
#include <dlfcn.h>

#define VMXEMU_ZYDIS_OK(s) (((s) & 0x80000000u) == 0)

typedef struct {
    __typeof__(&ZydisDecoderInit) init;
    __typeof__(&ZydisDecoderEnableMode) enableMode;
    __typeof__(&ZydisDecoderDecodeInstruction) decodeInstruction;
    __typeof__(&ZydisDecoderDecodeFull) decodeFull;
    __typeof__(&ZydisMnemonicGetString) mnemonicString;
    __typeof__(&ZydisISAExtGetString) isaExtString;
    __typeof__(&ZydisISASetGetString) isaSetString;
    __typeof__(&ZydisCategoryGetString) categoryString;
    __typeof__(&ZydisFormatterInit) formatterInit;
    __typeof__(&ZydisFormatterFormatInstruction) format;
    ZydisDecoder decoders[VMXEMU_ZYDIS_MODES];
    ZydisFormatter formatter;
    const char *error;
    int opened;
} VmxemuZydis;

static inline VmxemuZydis *vmxemu_zydis_state(void) {
    static VmxemuZydis state;
    return &state;
}

/// Open libZydis and set up one decoder per mode. Returns NULL on success, else why not.
/// Not thread-safe: call it once (the Swift side does, from a global initializer).
static inline const char *vmxemu_zydis_open(void) {
    VmxemuZydis *z = vmxemu_zydis_state();
    if (z->opened) return z->error;
    z->opened = 1;
    const char *names[] = { "libZydis.so.4.0", "libZydis.so.4", "libZydis.so", "libZydis.dylib" };
    void *h = NULL;
    for (size_t k = 0; k < sizeof names / sizeof names[0] && !h; k++) h = dlopen(names[k], RTLD_NOW | RTLD_LOCAL);
    if (!h) { z->error = "libZydis could not be opened (dlopen libZydis.so.4.0 failed; install libzydis-dev)"; return z->error; }
#define VMXEMU_SYM(field, name) \
    if (!(*(void **)&z->field = dlsym(h, #name))) { z->error = "libZydis lacks " #name " (need Zydis 4.x)"; return z->error; }
    VMXEMU_SYM(init, ZydisDecoderInit)
    VMXEMU_SYM(enableMode, ZydisDecoderEnableMode)
    VMXEMU_SYM(decodeInstruction, ZydisDecoderDecodeInstruction)
    VMXEMU_SYM(decodeFull, ZydisDecoderDecodeFull)
    VMXEMU_SYM(mnemonicString, ZydisMnemonicGetString)
    VMXEMU_SYM(isaExtString, ZydisISAExtGetString)
    VMXEMU_SYM(isaSetString, ZydisISASetGetString)
    VMXEMU_SYM(categoryString, ZydisCategoryGetString)
    VMXEMU_SYM(formatterInit, ZydisFormatterInit)
    VMXEMU_SYM(format, ZydisFormatterFormatInstruction)
#undef VMXEMU_SYM
    const ZydisMachineMode mm[VMXEMU_ZYDIS_MODES] = { ZYDIS_MACHINE_MODE_LEGACY_16, ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_MACHINE_MODE_LONG_64 };
    const ZydisStackWidth sw[VMXEMU_ZYDIS_MODES] = { ZYDIS_STACK_WIDTH_16, ZYDIS_STACK_WIDTH_32, ZYDIS_STACK_WIDTH_64 };
    for (int m = 0; m < VMXEMU_ZYDIS_MODES; m++) {
        ZydisDecoder *d = &z->decoders[m];
        if (!VMXEMU_ZYDIS_OK(z->init(d, mm[m], sw[m]))) { z->error = "ZydisDecoderInit failed"; return z->error; }
        // Decode as the modeled CPU does (CPUModel.swift, a Skylake-SP-class Intel part that
        // advertises neither MPX, CET, WBNOINVD, CLDEMOTE nor BMI1):
        //  - MPX/CET off: 0F 1A/1B and F3 0F 1E are the reserved-NOP hint space (SDM Vol. 2B
        //    "NOP", Table A-3 note: 0F 18-1F are NOP Ev where no feature claims them);
        //  - WBNOINVD off: F3 0F 09 is WBINVD with an ignored F3;
        //  - CLDEMOTE off: 0F 1C /0 is a hint NOP;
        //  - TZCNT off: F3 0F BC is BSF (BMI1 not advertised); LZCNT on (advertised).
        //  - AMD branches off (the default): Intel ignores 66 on near branches in 64-bit mode.
        z->enableMode(d, ZYDIS_DECODER_MODE_MPX, ZYAN_FALSE);
        z->enableMode(d, ZYDIS_DECODER_MODE_CET, ZYAN_FALSE);
        z->enableMode(d, ZYDIS_DECODER_MODE_WBNOINVD, ZYAN_FALSE);
        z->enableMode(d, ZYDIS_DECODER_MODE_CLDEMOTE, ZYAN_FALSE);
        z->enableMode(d, ZYDIS_DECODER_MODE_TZCNT, ZYAN_FALSE);
        z->enableMode(d, ZYDIS_DECODER_MODE_LZCNT, ZYAN_TRUE);
        z->enableMode(d, ZYDIS_DECODER_MODE_AMD_BRANCHES, ZYAN_FALSE);
        z->enableMode(d, ZYDIS_DECODER_MODE_KNC, ZYAN_FALSE);
    }
    if (!VMXEMU_ZYDIS_OK(z->formatterInit(&z->formatter, ZYDIS_FORMATTER_STYLE_INTEL))) {
        z->error = "ZydisFormatterInit failed"; return z->error;
    }
    z->error = NULL;
    return NULL;
}

/// Decode `len` bytes in `mode` (0 = 16-bit, 1 = 32-bit, 2 = 64-bit). Call after a successful open.
static inline void vmxemu_zydis_decode(int mode, const uint8_t *buf, size_t len, VmxemuZydisResult *out) {
    VmxemuZydis *z = vmxemu_zydis_state();
    ZydisDecodedInstruction in;
    memset(out, 0, sizeof *out);
    ZyanStatus s = z->decodeInstruction(&z->decoders[mode], ZYAN_NULL, buf, len, &in);
    out->status = s;
    out->mnemonic = "(invalid)"; out->isaExt = ""; out->isaSet = ""; out->category = "";
    if (!VMXEMU_ZYDIS_OK(s)) return;
    out->valid = 1;
    out->length = in.length;
    out->encoding = (uint8_t)in.encoding;
    out->opcodeMap = (uint8_t)in.opcode_map;
    out->opcode = in.opcode;
    out->hasModrm = (in.attributes & ZYDIS_ATTRIB_HAS_MODRM) != 0;
    out->modrmMod = in.raw.modrm.mod;
    out->dispSize = in.raw.disp.size;
    out->dispValue = in.raw.disp.value;
    out->immSize0 = in.raw.imm[0].size;
    out->immSize1 = in.raw.imm[1].size;
    out->imm0 = in.raw.imm[0].value.u;
    out->imm1 = in.raw.imm[1].value.u;
    out->operandWidth = in.operand_width;
    out->addressWidth = in.address_width;
    out->mnemonic = z->mnemonicString(in.mnemonic);
    out->isaExt = z->isaExtString(in.meta.isa_ext);
    out->isaSet = z->isaSetString(in.meta.isa_set);
    out->category = z->categoryString(in.meta.category);
}

/// Intel-syntax disassembly of the bytes (for failure reports); returns 0 if Zydis rejects them.
static inline int vmxemu_zydis_format(int mode, const uint8_t *buf, size_t len, char *text, size_t textLen) {
    VmxemuZydis *z = vmxemu_zydis_state();
    ZydisDecodedInstruction in;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
    if (!VMXEMU_ZYDIS_OK(z->decodeFull(&z->decoders[mode], buf, len, &in, ops))) return 0;
    return VMXEMU_ZYDIS_OK(z->format(&z->formatter, &in, ops, in.operand_count_visible, text, textLen, 0, ZYAN_NULL));
}

#else

static inline const char *vmxemu_zydis_open(void) {
    return "the Zydis headers (<Zydis/Zydis.h>) were not found at build time; install libzydis-dev";
}
static inline void vmxemu_zydis_decode(int mode, const uint8_t *buf, size_t len, VmxemuZydisResult *out) {
    (void)mode; (void)buf; (void)len; memset(out, 0, sizeof *out);
}
static inline int vmxemu_zydis_format(int mode, const uint8_t *buf, size_t len, char *text, size_t textLen) {
    (void)mode; (void)buf; (void)len; (void)text; (void)textLen; return 0;
}

#endif
#endif
