// SSE operations on the host SSE unit (see cfpu.h).
//
// Every operation is one asm block: save the host MXCSR, load the guest's (RC, DAZ, FTZ kept,
// every exception masked, flags clear — the caller passes that value), load the operands, run the
// instruction, store the result, read MXCSR back for the exception flags, restore the host's.
// The guest destination is host xmm1, the source xmm2 (register form: the memory form's operand
// is loaded into the low lane by the caller, which gives the same result). The host (x86-64 with
// SSE4.2) runs the same instruction the guest executes, so the results are the SDM's; only
// RCPPS/RCPSS/RSQRTPS/RSQRTSS are implementation-specific approximations (SDM Vol. 2B "RCPPS":
// relative error ≤ 1.5·2^-12) and give the host vendor's values.
//
// Keys are the decoder's `imm2 & 0x3FFFF`: mandatory-prefix column << 16 | map << 8 | opcode
// (column 0 none, 1 66, 2 F3, 3 F2; map 1 = 0F, 2 = 0F 38, 3 = 0F 3A).
#ifndef CFPU_SSE_H
#define CFPU_SSE_H
#include <stdint.h>

typedef struct { uint64_t lo, hi; } cfpu_xmm;

#define CFPU_SSE_ASM(body, ...) \
    __asm__ volatile( \
        "stmxcsr %[host]\n\t" \
        "ldmxcsr %[csr]\n\t" \
        "movdqu %[d], %%xmm1\n\t" \
        "movdqu %[s], %%xmm2\n\t" \
        body "\n\t" \
        "movdqu %%xmm1, %[d]\n\t" \
        "stmxcsr %[csr]\n\t" \
        "ldmxcsr %[host]\n\t" \
        : [d] "+m"(*d), [csr] "+m"(csr), [host] "=m"(host) \
        : [s] "m"(*s), ##__VA_ARGS__ \
        : "xmm0", "xmm1", "xmm2", "cc")

#define CFPU_OP(key, insn) case key: CFPU_SSE_ASM(insn " %%xmm2, %%xmm1"); break;
/// The four forms PS (none), PD (66), SS (F3), SD (F2) of one opcode of map 0F.
#define CFPU_OP4(opc, base) \
    CFPU_OP(0x00100 | opc, base "ps") CFPU_OP(0x10100 | opc, base "pd") \
    CFPU_OP(0x20100 | opc, base "ss") CFPU_OP(0x30100 | opc, base "sd")
#define CFPU_OP66(opc, insn) CFPU_OP(0x10100 | opc, insn)
#define CFPU_OP38(opc, insn) CFPU_OP(0x10200 | opc, insn)

/// d = op(d, s) for the instructions without an immediate. Returns MXCSR flags (bits 5:0) raised.
/// Returns 0xFFFFFFFF for a key that is not one of these.
static inline uint32_t cfpu_sse_binop(uint32_t key, cfpu_xmm *d, const cfpu_xmm *s, uint32_t csr) {
    uint32_t host;
    switch (key) {
    CFPU_OP(0x00114, "unpcklps") CFPU_OP(0x10114, "unpcklpd")
    CFPU_OP(0x00115, "unpckhps") CFPU_OP(0x10115, "unpckhpd")
    CFPU_OP4(0x51, "sqrt")
    CFPU_OP(0x00152, "rsqrtps") CFPU_OP(0x20152, "rsqrtss")
    CFPU_OP(0x00153, "rcpps") CFPU_OP(0x20153, "rcpss")
    CFPU_OP(0x00154, "andps") CFPU_OP(0x10154, "andpd")
    CFPU_OP(0x00155, "andnps") CFPU_OP(0x10155, "andnpd")
    CFPU_OP(0x00156, "orps") CFPU_OP(0x10156, "orpd")
    CFPU_OP(0x00157, "xorps") CFPU_OP(0x10157, "xorpd")
    CFPU_OP4(0x58, "add")
    CFPU_OP4(0x59, "mul")
    CFPU_OP(0x0015A, "cvtps2pd") CFPU_OP(0x1015A, "cvtpd2ps")
    CFPU_OP(0x2015A, "cvtss2sd") CFPU_OP(0x3015A, "cvtsd2ss")
    CFPU_OP(0x0015B, "cvtdq2ps") CFPU_OP(0x1015B, "cvtps2dq") CFPU_OP(0x2015B, "cvttps2dq")
    CFPU_OP4(0x5C, "sub")
    CFPU_OP4(0x5D, "min")
    CFPU_OP4(0x5E, "div")
    CFPU_OP4(0x5F, "max")
    CFPU_OP66(0x60, "punpcklbw") CFPU_OP66(0x61, "punpcklwd") CFPU_OP66(0x62, "punpckldq")
    CFPU_OP66(0x63, "packsswb") CFPU_OP66(0x64, "pcmpgtb") CFPU_OP66(0x65, "pcmpgtw")
    CFPU_OP66(0x66, "pcmpgtd") CFPU_OP66(0x67, "packuswb") CFPU_OP66(0x68, "punpckhbw")
    CFPU_OP66(0x69, "punpckhwd") CFPU_OP66(0x6A, "punpckhdq") CFPU_OP66(0x6B, "packssdw")
    CFPU_OP66(0x6C, "punpcklqdq") CFPU_OP66(0x6D, "punpckhqdq")
    CFPU_OP66(0x74, "pcmpeqb") CFPU_OP66(0x75, "pcmpeqw") CFPU_OP66(0x76, "pcmpeqd")
    CFPU_OP(0x1017C, "haddpd") CFPU_OP(0x3017C, "haddps")
    CFPU_OP(0x1017D, "hsubpd") CFPU_OP(0x3017D, "hsubps")
    CFPU_OP(0x101D0, "addsubpd") CFPU_OP(0x301D0, "addsubps")
    CFPU_OP66(0xD1, "psrlw") CFPU_OP66(0xD2, "psrld") CFPU_OP66(0xD3, "psrlq")
    CFPU_OP66(0xD4, "paddq") CFPU_OP66(0xD5, "pmullw")
    CFPU_OP66(0xD8, "psubusb") CFPU_OP66(0xD9, "psubusw") CFPU_OP66(0xDA, "pminub")
    CFPU_OP66(0xDB, "pand") CFPU_OP66(0xDC, "paddusb") CFPU_OP66(0xDD, "paddusw")
    CFPU_OP66(0xDE, "pmaxub") CFPU_OP66(0xDF, "pandn")
    CFPU_OP66(0xE0, "pavgb") CFPU_OP66(0xE1, "psraw") CFPU_OP66(0xE2, "psrad")
    CFPU_OP66(0xE3, "pavgw") CFPU_OP66(0xE4, "pmulhuw") CFPU_OP66(0xE5, "pmulhw")
    CFPU_OP(0x101E6, "cvttpd2dq") CFPU_OP(0x201E6, "cvtdq2pd") CFPU_OP(0x301E6, "cvtpd2dq")
    CFPU_OP66(0xE8, "psubsb") CFPU_OP66(0xE9, "psubsw") CFPU_OP66(0xEA, "pminsw")
    CFPU_OP66(0xEB, "por") CFPU_OP66(0xEC, "paddsb") CFPU_OP66(0xED, "paddsw")
    CFPU_OP66(0xEE, "pmaxsw") CFPU_OP66(0xEF, "pxor")
    CFPU_OP66(0xF1, "psllw") CFPU_OP66(0xF2, "pslld") CFPU_OP66(0xF3, "psllq")
    CFPU_OP66(0xF4, "pmuludq") CFPU_OP66(0xF5, "pmaddwd") CFPU_OP66(0xF6, "psadbw")
    CFPU_OP66(0xF8, "psubb") CFPU_OP66(0xF9, "psubw") CFPU_OP66(0xFA, "psubd")
    CFPU_OP66(0xFB, "psubq") CFPU_OP66(0xFC, "paddb") CFPU_OP66(0xFD, "paddw")
    CFPU_OP66(0xFE, "paddd")
    // SSSE3 (0F 38 00-0B, 1C-1E)
    CFPU_OP38(0x00, "pshufb") CFPU_OP38(0x01, "phaddw") CFPU_OP38(0x02, "phaddd")
    CFPU_OP38(0x03, "phaddsw") CFPU_OP38(0x04, "pmaddubsw") CFPU_OP38(0x05, "phsubw")
    CFPU_OP38(0x06, "phsubd") CFPU_OP38(0x07, "phsubsw") CFPU_OP38(0x08, "psignb")
    CFPU_OP38(0x09, "psignw") CFPU_OP38(0x0A, "psignd") CFPU_OP38(0x0B, "pmulhrsw")
    CFPU_OP38(0x1C, "pabsb") CFPU_OP38(0x1D, "pabsw") CFPU_OP38(0x1E, "pabsd")
    // SSE4.1 (0F 38)
    CFPU_OP38(0x20, "pmovsxbw") CFPU_OP38(0x21, "pmovsxbd") CFPU_OP38(0x22, "pmovsxbq")
    CFPU_OP38(0x23, "pmovsxwd") CFPU_OP38(0x24, "pmovsxwq") CFPU_OP38(0x25, "pmovsxdq")
    CFPU_OP38(0x28, "pmuldq") CFPU_OP38(0x29, "pcmpeqq") CFPU_OP38(0x2B, "packusdw")
    CFPU_OP38(0x30, "pmovzxbw") CFPU_OP38(0x31, "pmovzxbd") CFPU_OP38(0x32, "pmovzxbq")
    CFPU_OP38(0x33, "pmovzxwd") CFPU_OP38(0x34, "pmovzxwq") CFPU_OP38(0x35, "pmovzxdq")
    CFPU_OP38(0x37, "pcmpgtq") CFPU_OP38(0x38, "pminsb") CFPU_OP38(0x39, "pminsd")
    CFPU_OP38(0x3A, "pminuw") CFPU_OP38(0x3B, "pminud") CFPU_OP38(0x3C, "pmaxsb")
    CFPU_OP38(0x3D, "pmaxsd") CFPU_OP38(0x3E, "pmaxuw") CFPU_OP38(0x3F, "pmaxud")
    CFPU_OP38(0x40, "pmulld") CFPU_OP38(0x41, "phminposuw")
    default: return 0xFFFFFFFFu;
    }
    return csr & 0x3F;
}

// Immediate forms: one case per immediate value (an asm immediate must be a constant).
#define CFPU_I4(M, n) M(n) M((n) + 1) M((n) + 2) M((n) + 3)
#define CFPU_I8(M, n) CFPU_I4(M, n) CFPU_I4(M, (n) + 4)
#define CFPU_I16(M, n) CFPU_I4(M, n) CFPU_I4(M, (n) + 4) CFPU_I4(M, (n) + 8) CFPU_I4(M, (n) + 12)
#define CFPU_I64(M, n) CFPU_I16(M, n) CFPU_I16(M, (n) + 16) CFPU_I16(M, (n) + 32) CFPU_I16(M, (n) + 48)
#define CFPU_I256(M) CFPU_I64(M, 0) CFPU_I64(M, 64) CFPU_I64(M, 128) CFPU_I64(M, 192)
#define CFPU_IMMCASE(insn, n) case n: CFPU_SSE_ASM(insn " %[imm], %%xmm2, %%xmm1", [imm] "i"(n)); break;

#define CFPU_CMPPS(n) CFPU_IMMCASE("cmpps", n)
#define CFPU_CMPPD(n) CFPU_IMMCASE("cmppd", n)
#define CFPU_CMPSS(n) CFPU_IMMCASE("cmpss", n)
#define CFPU_CMPSD(n) CFPU_IMMCASE("cmpsd", n)
#define CFPU_ROUNDPS(n) CFPU_IMMCASE("roundps", n)
#define CFPU_ROUNDPD(n) CFPU_IMMCASE("roundpd", n)
#define CFPU_ROUNDSS(n) CFPU_IMMCASE("roundss", n)
#define CFPU_ROUNDSD(n) CFPU_IMMCASE("roundsd", n)
#define CFPU_DPPS(n) CFPU_IMMCASE("dpps", n)
#define CFPU_DPPD(n) CFPU_IMMCASE("dppd", n)
#define CFPU_MPSADBW(n) CFPU_IMMCASE("mpsadbw", n)

/// d = op(d, s, imm) for CMPPS/PD/SS/SD (imm8[2:0], SDM Vol. 2A "CMPPS": legacy SSE uses
/// imm8[2:0]), ROUNDPS/PD/SS/SD (imm8[3:0]), DPPS, DPPD, MPSADBW (imm8[2:0]).
static inline uint32_t cfpu_sse_immop(uint32_t key, uint32_t imm, cfpu_xmm *d, const cfpu_xmm *s, uint32_t csr) {
    uint32_t host;
    switch (key) {
    case 0x001C2: switch (imm & 7) { CFPU_I8(CFPU_CMPPS, 0) } break;
    case 0x101C2: switch (imm & 7) { CFPU_I8(CFPU_CMPPD, 0) } break;
    case 0x201C2: switch (imm & 7) { CFPU_I8(CFPU_CMPSS, 0) } break;
    case 0x301C2: switch (imm & 7) { CFPU_I8(CFPU_CMPSD, 0) } break;
    case 0x10308: switch (imm & 15) { CFPU_I16(CFPU_ROUNDPS, 0) } break;
    case 0x10309: switch (imm & 15) { CFPU_I16(CFPU_ROUNDPD, 0) } break;
    case 0x1030A: switch (imm & 15) { CFPU_I16(CFPU_ROUNDSS, 0) } break;
    case 0x1030B: switch (imm & 15) { CFPU_I16(CFPU_ROUNDSD, 0) } break;
    case 0x10340: switch (imm & 255) { CFPU_I256(CFPU_DPPS) } break;
    case 0x10341: switch (imm & 0x33) { CFPU_I64(CFPU_DPPD, 0) } break;
    case 0x10342: switch (imm & 7) { CFPU_I8(CFPU_MPSADBW, 0) } break;
    default: return 0xFFFFFFFFu;
    }
    return csr & 0x3F;
}

/// CVT(T)SS2SI / CVT(T)SD2SI (key 0x2012C, 0x3012C, 0x2012D, 0x3012D): the low lane of `s` to a
/// 32-bit (`wide` = 0) or 64-bit integer in *out. Returns the MXCSR flags raised.
static inline uint32_t cfpu_sse_cvt2si(uint32_t key, int wide, const cfpu_xmm *s, uint64_t *out, uint32_t csr) {
    uint32_t host;
    uint64_t r = 0;
#define CFPU_CVT2SI(k, insn) case k: \
        __asm__ volatile("stmxcsr %[host]\n\tldmxcsr %[csr]\n\tmovdqu %[s], %%xmm2\n\t" insn " %%xmm2, %[r]\n\t" \
                         "stmxcsr %[csr]\n\tldmxcsr %[host]" \
                         : [r] "=r"(r), [csr] "+m"(csr), [host] "=m"(host) : [s] "m"(*s) : "xmm2", "cc"); break;
    if (wide) {
        switch (key) {
        CFPU_CVT2SI(0x2012C, "cvttss2si") CFPU_CVT2SI(0x3012C, "cvttsd2si")
        CFPU_CVT2SI(0x2012D, "cvtss2si") CFPU_CVT2SI(0x3012D, "cvtsd2si")
        default: return 0xFFFFFFFFu;
        }
    } else {
        uint32_t r32 = 0;
#undef CFPU_CVT2SI
#define CFPU_CVT2SI(k, insn) case k: \
        __asm__ volatile("stmxcsr %[host]\n\tldmxcsr %[csr]\n\tmovdqu %[s], %%xmm2\n\t" insn " %%xmm2, %[r]\n\t" \
                         "stmxcsr %[csr]\n\tldmxcsr %[host]" \
                         : [r] "=r"(r32), [csr] "+m"(csr), [host] "=m"(host) : [s] "m"(*s) : "xmm2", "cc"); break;
        switch (key) {
        CFPU_CVT2SI(0x2012C, "cvttss2si") CFPU_CVT2SI(0x3012C, "cvttsd2si")
        CFPU_CVT2SI(0x2012D, "cvtss2si") CFPU_CVT2SI(0x3012D, "cvtsd2si")
        default: return 0xFFFFFFFFu;
        }
        r = r32;
    }
#undef CFPU_CVT2SI
    *out = r;
    return csr & 0x3F;
}

/// CVTSI2SS / CVTSI2SD (key 0x2012A, 0x3012A): the 32-bit (`wide` = 0) or 64-bit integer `v` into
/// the low lane of *d (upper lanes kept). Returns the MXCSR flags raised.
static inline uint32_t cfpu_sse_cvtsi2f(uint32_t key, int wide, cfpu_xmm *d, uint64_t v, uint32_t csr) {
    uint32_t host;
    uint32_t v32 = (uint32_t)v;
#define CFPU_CVTSI(insn, op) \
        __asm__ volatile("stmxcsr %[host]\n\tldmxcsr %[csr]\n\tmovdqu %[d], %%xmm1\n\t" insn " %[v], %%xmm1\n\t" \
                         "movdqu %%xmm1, %[d]\n\tstmxcsr %[csr]\n\tldmxcsr %[host]" \
                         : [d] "+m"(*d), [csr] "+m"(csr), [host] "=m"(host) : [v] "r"(op) : "xmm1", "cc")
    switch (key) {
    case 0x2012A: if (wide) CFPU_CVTSI("cvtsi2ssq", v); else CFPU_CVTSI("cvtsi2ssl", v32); break;
    case 0x3012A: if (wide) CFPU_CVTSI("cvtsi2sdq", v); else CFPU_CVTSI("cvtsi2sdl", v32); break;
    default: return 0xFFFFFFFFu;
    }
#undef CFPU_CVTSI
    return csr & 0x3F;
}

/// UCOMISS/UCOMISD/COMISS/COMISD (key 0x0012E, 0x1012E, 0x0012F, 0x1012F): compare the low lanes;
/// *zpc = ZF << 2 | PF << 1 | CF. Returns the MXCSR flags raised.
static inline uint32_t cfpu_sse_comi(uint32_t key, const cfpu_xmm *d, const cfpu_xmm *s, uint32_t *zpc, uint32_t csr) {
    uint32_t host;
    uint8_t z = 0, p = 0, c = 0;
#define CFPU_COMI(k, insn) case k: \
        __asm__ volatile("stmxcsr %[host]\n\tldmxcsr %[csr]\n\tmovdqu %[d], %%xmm1\n\tmovdqu %[s], %%xmm2\n\t" \
                         insn " %%xmm2, %%xmm1\n\tsetz %[z]\n\tsetp %[p]\n\tsetc %[c]\n\t" \
                         "stmxcsr %[csr]\n\tldmxcsr %[host]" \
                         : [z] "=m"(z), [p] "=m"(p), [c] "=m"(c), [csr] "+m"(csr), [host] "=m"(host) \
                         : [d] "m"(*d), [s] "m"(*s) : "xmm1", "xmm2", "cc"); break;
    switch (key) {
    CFPU_COMI(0x0012E, "ucomiss") CFPU_COMI(0x1012E, "ucomisd")
    CFPU_COMI(0x0012F, "comiss") CFPU_COMI(0x1012F, "comisd")
    default: return 0xFFFFFFFFu;
    }
#undef CFPU_COMI
    *zpc = (uint32_t)z << 2 | (uint32_t)p << 1 | c;
    return csr & 0x3F;
}

/// PCMPESTRM/PCMPESTRI/PCMPISTRM/PCMPISTRI (key 0x10360…0x10363; SDM Vol. 2B "PCMPESTRI"):
/// operands d (xmm1) and s (xmm2/m128), lengths rax/rdx for the explicit forms; *ecx = the index
/// (…I forms) or *mask = XMM0's new value (…M forms); *flags = CF | ZF << 1 | SF << 2 | OF << 3.
/// Integer only: no MXCSR involvement. Returns 0, or 0xFFFFFFFF for an unknown key.
static inline uint32_t cfpu_sse_pcmpstr(uint32_t key, uint32_t imm, const cfpu_xmm *d, const cfpu_xmm *s,
                                        uint64_t rax, uint64_t rdx, uint32_t *ecx, cfpu_xmm *mask, uint32_t *flags) {
    uint8_t c = 0, z = 0, sg = 0, o = 0;
    uint32_t idx = 0;
#define CFPU_PSTRI(insn, n) case n: \
        __asm__ volatile("movdqu %[d], %%xmm1\n\tmovdqu %[s], %%xmm2\n\t" insn " %[imm], %%xmm2, %%xmm1\n\t" \
                         "setc %[c]\n\tsetz %[z]\n\tsets %[sg]\n\tseto %[o]" \
                         : [c] "=m"(c), [z] "=m"(z), [sg] "=m"(sg), [o] "=m"(o), "=c"(idx) \
                         : [d] "m"(*d), [s] "m"(*s), "a"(rax), "d"(rdx), [imm] "i"(n) : "xmm1", "xmm2", "cc"); break;
#define CFPU_PSTRM(insn, n) case n: \
        __asm__ volatile("movdqu %[d], %%xmm1\n\tmovdqu %[s], %%xmm2\n\t" insn " %[imm], %%xmm2, %%xmm1\n\t" \
                         "setc %[c]\n\tsetz %[z]\n\tsets %[sg]\n\tseto %[o]\n\tmovdqu %%xmm0, %[m]" \
                         : [c] "=m"(c), [z] "=m"(z), [sg] "=m"(sg), [o] "=m"(o), [m] "=m"(*mask) \
                         : [d] "m"(*d), [s] "m"(*s), "a"(rax), "d"(rdx), [imm] "i"(n) : "xmm0", "xmm1", "xmm2", "cc"); break;
#define CFPU_ESTRM(n) CFPU_PSTRM("pcmpestrm", n)
#define CFPU_ESTRI(n) CFPU_PSTRI("pcmpestri", n)
#define CFPU_ISTRM(n) CFPU_PSTRM("pcmpistrm", n)
#define CFPU_ISTRI(n) CFPU_PSTRI("pcmpistri", n)
    switch (key) {
    case 0x10360: switch (imm & 255) { CFPU_I256(CFPU_ESTRM) } break;
    case 0x10361: switch (imm & 255) { CFPU_I256(CFPU_ESTRI) } break;
    case 0x10362: switch (imm & 255) { CFPU_I256(CFPU_ISTRM) } break;
    case 0x10363: switch (imm & 255) { CFPU_I256(CFPU_ISTRI) } break;
    default: return 0xFFFFFFFFu;
    }
#undef CFPU_PSTRI
#undef CFPU_PSTRM
    *ecx = idx;
    *flags = (uint32_t)c | (uint32_t)z << 1 | (uint32_t)sg << 2 | (uint32_t)o << 3;
    return 0;
}
#endif
