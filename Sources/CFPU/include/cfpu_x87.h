// x87 operations on the host x87 unit (see cfpu.h).
//
// Every function is one `__asm__ volatile` block of the same shape:
//
//   fnstcw save        ; the host's control word
//   fldcw  cw          ; the guest's precision and rounding control; exception masks as the
//                      ; caller passed them (see below)
//   fnclex             ; no stale host flags
//   fldt   operand(s)  ; 80-bit loads are exact and raise nothing
//   <the instruction>
//   fnstsw sw          ; exception flags and condition codes of the instruction (to memory:
//                      ; a register output would need early-clobber, as operand addresses
//                      ; may live in any register — %ax included, seen at -O0)
//   fnclex             ; no-wait: nothing pending may reach a waiting instruction below
//   fstpt  result(s)   ; exact
//   fldcw  save
//
// The exception masks: IM, DM, ZM and PM are always set (the guest's unmasked IE/DE/ZE leave the
// destination unchanged — SDM Vol. 1 §8.5.1–§8.5.3 — which the caller decides from the flags). The
// caller may leave OM/UM clear for the operations of `cfpu_x87_binary`/`cfpu_x87_unary` that write a
// register: then the host unit delivers the exponent-bias-adjusted result of an unmasked overflow
// or underflow itself (SDM Vol. 1 §8.5.4 "Numeric Overflow Exception (#O)", §8.5.5 "Numeric
// Underflow Exception (#U)"); the unmasked exception is only pending (ES) until the next waiting
// x87 instruction, and `fnstsw`/`fnclex` (both no-wait) run before any — so the host never traps.
//
// The host stack is empty at every call (SysV x86-64 ABI) and left empty.
//
// The host is AMD Zen 4. IEEE operations (add, sub, mul, div, sqrt, conversions, FPREM/FPREM1,
// FRNDINT, FSCALE, FXTRACT, compares, FXAM, constants) give bit-identical results on Intel and
// AMD. The transcendentals (FSIN FCOS FSINCOS FPTAN FPATAN F2XM1 FYL2X FYL2XP1) are only specified
// to within about one ulp (SDM Vol. 1 §8.3.10 "Transcendental Instruction Accuracy"); Intel and AMD
// microcode may differ in the last bit of the significand (and in C1), so a guest sees the host
// vendor's rounding there.
#ifndef CFPU_X87_H
#define CFPU_X87_H
#include <stdint.h>

/// An 80-bit register: significand (bit 63 = the explicit integer bit J) and sign|exponent.
/// `fldt`/`fstpt` access the first 10 bytes.
typedef struct { uint64_t m; uint16_t se; } cfpu_f80;

enum {
    // cfpu_x87_binary: r = a OP b (a = ST(0) of the host instruction, b = ST(1))
    CFPU_X87_ADD = 0, CFPU_X87_MUL = 1, CFPU_X87_SUB = 2, CFPU_X87_DIV = 3,
    CFPU_X87_PREM = 4, CFPU_X87_PREM1 = 5, CFPU_X87_SCALE = 6,
    // cfpu_x87_binary_pop: r = the one result left (a = ST(0), b = ST(1))
    CFPU_X87_YL2X = 0, CFPU_X87_YL2XP1 = 1, CFPU_X87_PATAN = 2,
    // cfpu_x87_unary: r = OP(a)
    CFPU_X87_SQRT = 0, CFPU_X87_RNDINT = 1, CFPU_X87_F2XM1 = 2, CFPU_X87_SIN = 3, CFPU_X87_COS = 4,
    // cfpu_x87_unary2: r0 = new ST(0), r1 = new ST(1)
    CFPU_X87_PTAN = 0, CFPU_X87_SINCOS = 1, CFPU_X87_XTRACT = 2,
    // cfpu_x87_examine: status only
    CFPU_X87_TST = 0, CFPU_X87_XAM = 1, CFPU_X87_COM = 2, CFPU_X87_UCOM = 3,
    // cfpu_x87_const
    CFPU_X87_LD1 = 0, CFPU_X87_LDL2T = 1, CFPU_X87_LDL2E = 2, CFPU_X87_LDPI = 3,
    CFPU_X87_LDLG2 = 4, CFPU_X87_LDLN2 = 5, CFPU_X87_LDZ = 6,
    // cfpu_x87_load / cfpu_x87_store: memory formats
    CFPU_X87_M32FP = 0, CFPU_X87_M64FP = 1, CFPU_X87_M16INT = 2, CFPU_X87_M32INT = 3,
    CFPU_X87_M64INT = 4, CFPU_X87_M80BCD = 5,
    // cfpu_x87_store only: FISTTP (truncating, SSE3)
    CFPU_X87_M16INT_T = 6, CFPU_X87_M32INT_T = 7, CFPU_X87_M64INT_T = 8,
};

#define CFPU_X87_ENTER "fnstcw %[save]\n\tfldcw %[cw]\n\tfnclex\n\t"
#define CFPU_X87_STATUS "\n\tfnstsw %[sw]\n\tfnclex\n\t"
#define CFPU_X87_LEAVE "fldcw %[save]\n\t"

/// Two operands, one result, no pop: FADD FMUL FSUB FDIV FPREM FPREM1 FSCALE.
static inline uint16_t cfpu_x87_binary(uint16_t cw, int op, const cfpu_f80 *a, const cfpu_f80 *b, cfpu_f80 *r) {
    uint16_t save = 0, sw = 0;
#define CFPU_X87_BIN(INSN) __asm__ volatile(CFPU_X87_ENTER "fldt %[b]\n\tfldt %[a]\n\t" INSN CFPU_X87_STATUS \
        "fstpt %[r]\n\tfstp %%st(0)\n\t" CFPU_X87_LEAVE \
        : [r] "=m"(*r), [save] "+m"(save), [sw] "=m"(sw) : [cw] "m"(cw), [a] "m"(*a), [b] "m"(*b) : "st", "st(1)")
    switch (op) {
    case CFPU_X87_ADD: CFPU_X87_BIN("fadd %%st(1), %%st"); break;
    case CFPU_X87_MUL: CFPU_X87_BIN("fmul %%st(1), %%st"); break;
    case CFPU_X87_SUB: CFPU_X87_BIN("fsub %%st(1), %%st"); break;   // st = st - st(1): no AT&T operand swap with %st as destination
    case CFPU_X87_DIV: CFPU_X87_BIN("fdiv %%st(1), %%st"); break;
    case CFPU_X87_PREM: CFPU_X87_BIN("fprem"); break;
    case CFPU_X87_PREM1: CFPU_X87_BIN("fprem1"); break;
    default: CFPU_X87_BIN("fscale"); break;
    }
#undef CFPU_X87_BIN
    return sw;
}

/// Two operands, the instruction pops: FYL2X FYL2XP1 FPATAN (r = b·log2(a), b·log2(a+1), atan(b/a)).
static inline uint16_t cfpu_x87_binary_pop(uint16_t cw, int op, const cfpu_f80 *a, const cfpu_f80 *b, cfpu_f80 *r) {
    uint16_t save = 0, sw = 0;
#define CFPU_X87_BINP(INSN) __asm__ volatile(CFPU_X87_ENTER "fldt %[b]\n\tfldt %[a]\n\t" INSN CFPU_X87_STATUS \
        "fstpt %[r]\n\t" CFPU_X87_LEAVE \
        : [r] "=m"(*r), [save] "+m"(save), [sw] "=m"(sw) : [cw] "m"(cw), [a] "m"(*a), [b] "m"(*b) : "st", "st(1)")
    switch (op) {
    case CFPU_X87_YL2X: CFPU_X87_BINP("fyl2x"); break;
    case CFPU_X87_YL2XP1: CFPU_X87_BINP("fyl2xp1"); break;
    default: CFPU_X87_BINP("fpatan"); break;
    }
#undef CFPU_X87_BINP
    return sw;
}

/// One operand, one result: FSQRT FRNDINT F2XM1 FSIN FCOS.
static inline uint16_t cfpu_x87_unary(uint16_t cw, int op, const cfpu_f80 *a, cfpu_f80 *r) {
    uint16_t save = 0, sw = 0;
#define CFPU_X87_UN(INSN) __asm__ volatile(CFPU_X87_ENTER "fldt %[a]\n\t" INSN CFPU_X87_STATUS \
        "fstpt %[r]\n\t" CFPU_X87_LEAVE \
        : [r] "=m"(*r), [save] "+m"(save), [sw] "=m"(sw) : [cw] "m"(cw), [a] "m"(*a) : "st")
    switch (op) {
    case CFPU_X87_SQRT: CFPU_X87_UN("fsqrt"); break;
    case CFPU_X87_RNDINT: CFPU_X87_UN("frndint"); break;
    case CFPU_X87_F2XM1: CFPU_X87_UN("f2xm1"); break;
    case CFPU_X87_SIN: CFPU_X87_UN("fsin"); break;
    default: CFPU_X87_UN("fcos"); break;
    }
#undef CFPU_X87_UN
    return sw;
}

/// One operand, two results (the instruction pushes): FPTAN (r0 = 1.0, r1 = tan), FSINCOS
/// (r0 = cos, r1 = sin), FXTRACT (r0 = significand, r1 = exponent). When FPTAN/FSINCOS report C2
/// (operand out of range, SDM Vol. 2A "FSINCOS") nothing is pushed: r1 = the operand, r0 unwritten.
static inline uint16_t cfpu_x87_unary2(uint16_t cw, int op, const cfpu_f80 *a, cfpu_f80 *r0, cfpu_f80 *r1) {
    uint16_t save = 0, sw = 0;
#define CFPU_X87_UN2(INSN) __asm__ volatile(CFPU_X87_ENTER "fldt %[a]\n\t" INSN CFPU_X87_STATUS \
        "testw $0x400, %[sw]\n\tjnz 1f\n\tfstpt %[r0]\n1:\n\tfstpt %[r1]\n\t" CFPU_X87_LEAVE \
        : [r0] "=m"(*r0), [r1] "=m"(*r1), [save] "+m"(save), [sw] "=m"(sw) : [cw] "m"(cw), [a] "m"(*a) : "st", "st(1)", "cc")
    switch (op) {
    case CFPU_X87_PTAN: CFPU_X87_UN2("fptan"); break;
    case CFPU_X87_SINCOS: CFPU_X87_UN2("fsincos"); break;
    default:
        // FXTRACT leaves C2 undefined, so no test: always two results.
        __asm__ volatile(CFPU_X87_ENTER "fldt %[a]\n\tfxtract" CFPU_X87_STATUS
            "fstpt %[r0]\n\tfstpt %[r1]\n\t" CFPU_X87_LEAVE
            : [r0] "=m"(*r0), [r1] "=m"(*r1), [save] "+m"(save), [sw] "=m"(sw) : [cw] "m"(cw), [a] "m"(*a) : "st", "st(1)");
        break;
    }
#undef CFPU_X87_UN2
    return sw;
}

/// Status only: FTST FXAM (a), FCOM/FUCOM family (a compared with b; the caller maps C3/C2/C0
/// to ZF/PF/CF for FCOMI/FUCOMI, SDM Vol. 2A "FCOMI", Table 3-32).
static inline uint16_t cfpu_x87_examine(uint16_t cw, int op, const cfpu_f80 *a, const cfpu_f80 *b) {
    uint16_t save = 0, sw = 0;
    switch (op) {
    case CFPU_X87_TST:
        __asm__ volatile(CFPU_X87_ENTER "fldt %[a]\n\tftst" CFPU_X87_STATUS "fstp %%st(0)\n\t" CFPU_X87_LEAVE
            : [save] "+m"(save), [sw] "=m"(sw) : [cw] "m"(cw), [a] "m"(*a) : "st");
        break;
    case CFPU_X87_XAM:
        __asm__ volatile(CFPU_X87_ENTER "fldt %[a]\n\tfxam" CFPU_X87_STATUS "fstp %%st(0)\n\t" CFPU_X87_LEAVE
            : [save] "+m"(save), [sw] "=m"(sw) : [cw] "m"(cw), [a] "m"(*a) : "st");
        break;
    case CFPU_X87_COM:
        __asm__ volatile(CFPU_X87_ENTER "fldt %[b]\n\tfldt %[a]\n\tfcompp" CFPU_X87_STATUS CFPU_X87_LEAVE
            : [save] "+m"(save), [sw] "=m"(sw) : [cw] "m"(cw), [a] "m"(*a), [b] "m"(*b) : "st", "st(1)");
        break;
    default:
        __asm__ volatile(CFPU_X87_ENTER "fldt %[b]\n\tfldt %[a]\n\tfucompp" CFPU_X87_STATUS CFPU_X87_LEAVE
            : [save] "+m"(save), [sw] "=m"(sw) : [cw] "m"(cw), [a] "m"(*a), [b] "m"(*b) : "st", "st(1)");
        break;
    }
    return sw;
}

/// FLD1 FLDL2T FLDL2E FLDPI FLDLG2 FLDLN2 FLDZ, rounded by the control word's RC
/// (SDM Vol. 2A "FLD1/FLDL2T/…": "rounding control … determines the result").
static inline uint16_t cfpu_x87_const(uint16_t cw, int op, cfpu_f80 *r) {
    uint16_t save = 0, sw = 0;
#define CFPU_X87_K(INSN) __asm__ volatile(CFPU_X87_ENTER INSN CFPU_X87_STATUS "fstpt %[r]\n\t" CFPU_X87_LEAVE \
        : [r] "=m"(*r), [save] "+m"(save), [sw] "=m"(sw) : [cw] "m"(cw) : "st")
    switch (op) {
    case CFPU_X87_LD1: CFPU_X87_K("fld1"); break;
    case CFPU_X87_LDL2T: CFPU_X87_K("fldl2t"); break;
    case CFPU_X87_LDL2E: CFPU_X87_K("fldl2e"); break;
    case CFPU_X87_LDPI: CFPU_X87_K("fldpi"); break;
    case CFPU_X87_LDLG2: CFPU_X87_K("fldlg2"); break;
    case CFPU_X87_LDLN2: CFPU_X87_K("fldln2"); break;
    default: CFPU_X87_K("fldz"); break;
    }
#undef CFPU_X87_K
    return sw;
}

/// Convert a memory operand (the low bytes of `src`: 4, 8, 2, 4, 8 or 10) to 80 bits: FLD m32fp/m64fp
/// (IE for an SNaN, DE for a denormal), FILD, FBLD.
static inline uint16_t cfpu_x87_load(uint16_t cw, int kind, const cfpu_f80 *src, cfpu_f80 *r) {
    uint16_t save = 0, sw = 0;
#define CFPU_X87_LD(INSN, T) __asm__ volatile(CFPU_X87_ENTER INSN " %[s]" CFPU_X87_STATUS "fstpt %[r]\n\t" CFPU_X87_LEAVE \
        : [r] "=m"(*r), [save] "+m"(save), [sw] "=m"(sw) : [cw] "m"(cw), [s] "m"(*(const T *)src) : "st")
    switch (kind) {
    case CFPU_X87_M32FP: CFPU_X87_LD("flds", float); break;
    case CFPU_X87_M64FP: CFPU_X87_LD("fldl", double); break;
    case CFPU_X87_M16INT: CFPU_X87_LD("filds", int16_t); break;
    case CFPU_X87_M32INT: CFPU_X87_LD("fildl", int32_t); break;
    case CFPU_X87_M64INT: CFPU_X87_LD("fildll", int64_t); break;
    default: CFPU_X87_LD("fbld", cfpu_f80); break;
    }
#undef CFPU_X87_LD
    return sw;
}

/// Convert 80 bits to a memory format into the low bytes of `dst`: FST m32fp/m64fp, FIST(P),
/// FISTTP, FBSTP. With IM set the host writes the (integer/BCD/QNaN) indefinite on an invalid
/// operation, which is the guest's masked response too.
static inline uint16_t cfpu_x87_store(uint16_t cw, int kind, const cfpu_f80 *a, cfpu_f80 *dst) {
    uint16_t save = 0, sw = 0;
#define CFPU_X87_ST(INSN, T) __asm__ volatile(CFPU_X87_ENTER "fldt %[a]\n\t" INSN " %[d]" CFPU_X87_STATUS CFPU_X87_LEAVE \
        : [d] "=m"(*(T *)dst), [save] "+m"(save), [sw] "=m"(sw) : [cw] "m"(cw), [a] "m"(*a) : "st")
    switch (kind) {
    case CFPU_X87_M32FP: CFPU_X87_ST("fstps", float); break;
    case CFPU_X87_M64FP: CFPU_X87_ST("fstpl", double); break;
    case CFPU_X87_M16INT: CFPU_X87_ST("fistps", int16_t); break;
    case CFPU_X87_M32INT: CFPU_X87_ST("fistpl", int32_t); break;
    case CFPU_X87_M64INT: CFPU_X87_ST("fistpll", int64_t); break;
    case CFPU_X87_M16INT_T: CFPU_X87_ST("fisttps", int16_t); break;
    case CFPU_X87_M32INT_T: CFPU_X87_ST("fisttpl", int32_t); break;
    case CFPU_X87_M64INT_T: CFPU_X87_ST("fisttpll", int64_t); break;
    default: CFPU_X87_ST("fbstp", cfpu_f80); break;
    }
#undef CFPU_X87_ST
    return sw;
}

#undef CFPU_X87_ENTER
#undef CFPU_X87_STATUS
#undef CFPU_X87_LEAVE
#endif
