/*
 * hello — the first image to run on a new CPU core.
 *
 * It proves the boot path (multiboot -> long mode -> C), the loader (.data
 * loaded, .bss zeroed) and then exercises the integer instructions gcc -O2
 * emits for ordinary C: ALU ops and flags at 8/16/32/64 bits, MUL/IMUL/DIV/
 * IDIV, shifts and rotates, SETcc/CMOVcc, sign and zero extension, BSWAP,
 * BSR/BSF, string-ish byte loops, struct copies, indirect calls, a switch
 * jump table and deep recursion.
 *
 * Every check prints one line, "PASS: name" or "FAIL: name (got X, want Y)",
 * so a diff against a good run points at the first wrong instruction family.
 * Exit status: 0 if everything passed, 1 otherwise (2 = unexpected exception,
 * reported by lib/idt.c).
 *
 * The inputs are passed through OPAQUE(), an empty asm statement that claims
 * to modify its operand: gcc can no longer compute the answer at compile time,
 * so the instruction under test really runs.
 */
#include "guest.h"

#define OPAQUE(x)                                   \
    ({                                              \
        __typeof__(x) opaque_v_ = (x);              \
        __asm__ volatile("" : "+r"(opaque_v_));     \
        opaque_v_;                                  \
    })

/* The same for a string literal (which is an array, so needs a cast). */
#define OSTR(s) OPAQUE((const char *)(s))

/* ------------------------------------------------------------------ */
/* Loader: .data must hold its initial values, .bss must be zero.      */
/* ------------------------------------------------------------------ */

/* Non-static, so gcc cannot assume nobody else changed them. */
uint64_t hello_data[4] = { 0x0123456789abcdefull, 0xfedcba9876543210ull, 0x5555aaaa5555aaaaull, 42 };
uint8_t hello_bss[32768];

static void check_loader(void)
{
    const volatile uint64_t *d = hello_data;
    check_u64("data-section-0", d[0], 0x0123456789abcdefull);
    check_u64("data-section-3", d[3], 42);

    const volatile uint8_t *b = hello_bss;
    size_t nonzero = 0;
    for (size_t i = 0; i < sizeof(hello_bss); i++)
        if (b[i] != 0)
            nonzero++;
    check_u64("bss-zeroed", nonzero, 0);
}

/* ------------------------------------------------------------------ */
/* Arithmetic                                                          */
/* ------------------------------------------------------------------ */

static void check_add_sub(void)
{
    check_u64("add-wrap-u8", (uint8_t)(OPAQUE((uint8_t)200) + OPAQUE((uint8_t)100)), 44);
    check_u64("add-wrap-u16", (uint16_t)(OPAQUE((uint16_t)0xffff) + OPAQUE((uint16_t)2)), 1);
    check_u64("add-wrap-u32", OPAQUE(0xffffffffu) + OPAQUE(1u), 0);
    check_u64("add-wrap-u64", OPAQUE(UINT64_MAX) + OPAQUE((uint64_t)1), 0);
    check_u64("sub-borrow-u64", OPAQUE((uint64_t)0) - OPAQUE((uint64_t)1), UINT64_MAX);
    check_i64("neg-i8-min", (int8_t)-OPAQUE((int8_t)-128), -128);
    check_i64("sub-i32", OPAQUE(-2000000000) - OPAQUE(147483648), -2147483647 - 1);

    /* A 32-bit operation zero-extends into the full 64-bit register. */
    uint64_t big = OPAQUE(UINT64_MAX);
    uint32_t low = (uint32_t)big + 1;
    check_u64("zero-extend-32", (uint64_t)OPAQUE(low), 0);
}

static void check_mul(void)
{
    check_u64("mul-u8", (uint8_t)(OPAQUE((uint8_t)16) * OPAQUE((uint8_t)17)), 16);
    check_i64("imul-i16", (int16_t)(OPAQUE((int16_t)300) * OPAQUE((int16_t)300)), 24464);
    check_i64("imul-i32", OPAQUE(-7) * OPAQUE(6), -42);
    check_u64("mul-u32-to-u64", (uint64_t)OPAQUE(0xffffffffu) * OPAQUE(0xffffffffu), 0xfffffffe00000001ull);
    check_u64("mul-u64-low", OPAQUE(0x0123456789abcdefull) * OPAQUE(0x0fedcba987654321ull), 0x22236d88fe5618cfull);

    /* 64 x 64 -> 128: the one-operand MUL and IMUL forms (RDX:RAX). */
    unsigned __int128 up = (unsigned __int128)OPAQUE(UINT64_MAX) * OPAQUE(UINT64_MAX);
    check_u64("mul-u128-high", (uint64_t)(up >> 64), 0xfffffffffffffffeull);
    check_u64("mul-u128-low", (uint64_t)up, 1);
    __int128 sp = (__int128)OPAQUE((int64_t)-3) * OPAQUE((int64_t)5);
    check_i64("imul-i128-high", (int64_t)(sp >> 64), -1);
    check_i64("imul-i128-low", (int64_t)sp, -15);
}

static void check_div(void)
{
    uint64_t u = OPAQUE(UINT64_MAX), seven = OPAQUE((uint64_t)7);
    check_u64("div-u64", u / seven, 0x2492492492492492ull);
    check_u64("mod-u64", u % seven, 1);

    int64_t m7 = OPAQUE((int64_t)-7), p7 = OPAQUE((int64_t)7), two = OPAQUE((int64_t)2), m2 = OPAQUE((int64_t)-2);
    check_i64("idiv-i64-neg-dividend", m7 / two, -3);   /* C rounds toward zero, as IDIV does */
    check_i64("irem-i64-neg-dividend", m7 % two, -1);   /* remainder takes the dividend's sign */
    check_i64("idiv-i64-neg-divisor", p7 / m2, -3);
    check_i64("irem-i64-neg-divisor", p7 % m2, 1);

    int64_t min64 = OPAQUE(INT64_MIN), three = OPAQUE((int64_t)3);
    check_i64("idiv-i64-min", min64 / three, -3074457345618258602ll);
    check_i64("irem-i64-min", min64 % three, -2);
    check_i64("idiv-i64-min-by-minus-2", min64 / m2, 0x4000000000000000ll);

    uint32_t u32 = OPAQUE(0xffffffffu), sixteen = OPAQUE(16u);
    check_u64("div-u32", u32 / sixteen, 0x0fffffff);
    check_u64("mod-u32", u32 % sixteen, 0xf);
    int32_t min32 = OPAQUE(INT32_MIN), seven32 = OPAQUE(7);
    check_i64("idiv-i32-min", min32 / seven32, -306783378);
    check_i64("irem-i32-min", min32 % seven32, -2);

    uint16_t u16 = OPAQUE((uint16_t)60000), d16 = OPAQUE((uint16_t)7);
    check_u64("div-u16", (uint16_t)(u16 / d16), 8571);
    check_u64("mod-u16", (uint16_t)(u16 % d16), 3);
    int16_t s16 = OPAQUE((int16_t)-32768), t16 = OPAQUE((int16_t)3);
    check_i64("idiv-i16", (int16_t)(s16 / t16), -10922);
    check_i64("irem-i16", (int16_t)(s16 % t16), -2);

    uint8_t u8 = OPAQUE((uint8_t)250), d8 = OPAQUE((uint8_t)7);
    check_u64("div-u8", (uint8_t)(u8 / d8), 35);
    check_u64("mod-u8", (uint8_t)(u8 % d8), 5);
    int8_t s8 = OPAQUE((int8_t)-128), t8 = OPAQUE((int8_t)7);
    check_i64("idiv-i8", (int8_t)(s8 / t8), -18);
    check_i64("irem-i8", (int8_t)(s8 % t8), -2);
}

static void check_shifts(void)
{
    unsigned s63 = OPAQUE(63u), s4 = OPAQUE(4u), s1 = OPAQUE(1u), s7 = OPAQUE(7u), s31 = OPAQUE(31u), s0 = OPAQUE(0u);
    check_u64("shl-u64-63", OPAQUE((uint64_t)1) << s63, 0x8000000000000000ull);
    check_u64("shr-u64-63", OPAQUE(0x8000000000000000ull) >> s63, 1);
    check_i64("sar-i64", OPAQUE((int64_t)-256) >> s4, -16);
    check_i64("sar-i32-31", OPAQUE((int32_t)-1) >> s31, -1);
    check_u64("shl-u32-wrap", OPAQUE(0x80000001u) << s1, 2);
    check_u64("shr-u8", (uint8_t)(OPAQUE((uint8_t)0x80) >> s7), 1);
    check_i64("sar-i8", (int8_t)(OPAQUE((int8_t)-128) >> s7), -1);
    check_u64("shift-by-0", OPAQUE(0x1234ull) << s0, 0x1234);

    uint64_t r = OPAQUE(0x8000000000000001ull);
    check_u64("rol-u64", (r << s1) | (r >> (64 - s1)), 3);
    uint32_t r32 = OPAQUE(1u);
    check_u64("ror-u32", (r32 >> s1) | (r32 << (32 - s1)), 0x80000000u);

    /* A 128-bit shift by a variable count: SHLD/SHRD plus a fix-up for
     * counts of 64 or more. */
    unsigned __int128 w = ((unsigned __int128)0xfedcba9876543210ull << 64) | 0x0123456789abcdefull;
    unsigned __int128 wl = OPAQUE(w) << s4;
    check_u64("shld-u128-high", (uint64_t)(wl >> 64), 0xedcba98765432100ull);
    check_u64("shld-u128-low", (uint64_t)wl, 0x123456789abcdef0ull);
    unsigned __int128 wr = OPAQUE(w) >> s4;
    check_u64("shrd-u128-low", (uint64_t)wr, 0x00123456789abcdeull);
}

static NOINLINE unsigned popcount64(uint64_t v)
{
    unsigned n = 0;
    while (v) {
        v &= v - 1;   /* clear the lowest set bit */
        n++;
    }
    return n;
}

static void check_bits(void)
{
    check_u64("bswap64", __builtin_bswap64(OPAQUE(0x0102030405060708ull)), 0x0807060504030201ull);
    check_u64("bswap32", __builtin_bswap32(OPAQUE(0x11223344u)), 0x44332211u);
    check_u64("bswap16", __builtin_bswap16(OPAQUE((uint16_t)0xa1b2)), 0xb2a1);
    check_u64("clz64", (uint64_t)__builtin_clzll(OPAQUE((uint64_t)1)), 63);
    check_u64("clz32", (uint64_t)__builtin_clz(OPAQUE(0x00010000u)), 15);
    check_u64("ctz64", (uint64_t)__builtin_ctzll(OPAQUE((uint64_t)0x80)), 7);
    check_u64("popcount-loop", popcount64(OPAQUE(0xf0f0f0f0f0f0f0f0ull)), 32);
    check_u64("and-or-xor", (OPAQUE(0xff00ff00u) & OPAQUE(0x0ff00ff0u)) | (OPAQUE(0x1u) ^ OPAQUE(0x3u)), 0x0f000f02);
    check_u64("not-u16", (uint16_t)~OPAQUE((uint16_t)0x1234), 0xedcb);
}

static void check_compare_extend(void)
{
    int32_t sm1 = OPAQUE(-1), s1 = OPAQUE(1);
    uint32_t um1 = OPAQUE(0xffffffffu), u1 = OPAQUE(1u);
    check_true("cmp-signed-lt", sm1 < s1);
    check_true("cmp-unsigned-gt", um1 > u1);
    check_true("cmp-i64-min-lt-max", OPAQUE(INT64_MIN) < OPAQUE(INT64_MAX));
    check_true("cmp-u64-0-lt-max", OPAQUE((uint64_t)0) < OPAQUE(UINT64_MAX));
    check_true("cmp-i8", OPAQUE((int8_t)-128) < OPAQUE((int8_t)127));
    check_true("cmp-u8", OPAQUE((uint8_t)0x80) > OPAQUE((uint8_t)0x7f));

    int32_t a = OPAQUE(-5), b = OPAQUE(9);
    check_i64("min-cmov", a < b ? a : b, -5);
    check_i64("max-cmov", a > b ? a : b, 9);
    check_i64("abs-i32", OPAQUE(INT32_MIN + 1) < 0 ? -OPAQUE(INT32_MIN + 1) : 0, INT32_MAX);

    check_i64("movsx-i8-to-i64", (int64_t)OPAQUE((int8_t)-128), -128);
    check_i64("movsx-i16-to-i64", (int64_t)OPAQUE((int16_t)-2), -2);
    check_i64("movsxd-i32-to-i64", (int64_t)OPAQUE((int32_t)INT32_MIN), -2147483648ll);
    check_u64("movzx-u8-to-u64", (uint64_t)OPAQUE((uint8_t)0xff), 0xff);
    check_u64("movzx-u16-to-u64", (uint64_t)OPAQUE((uint16_t)0x8000), 0x8000);
}

static void check_overflow(void)
{
    int32_t r32;
    int64_t r64;
    uint64_t ru;
    bool of;

    of = __builtin_add_overflow(OPAQUE(INT32_MAX), OPAQUE(1), &r32);
    check_true("add-overflow-i32", of && r32 == INT32_MIN);
    of = __builtin_sub_overflow(OPAQUE(INT64_MIN), OPAQUE((int64_t)1), &r64);
    check_true("sub-overflow-i64", of && r64 == INT64_MAX);
    of = __builtin_mul_overflow(OPAQUE((uint64_t)1 << 32), OPAQUE((uint64_t)1 << 32), &ru);
    check_true("mul-overflow-u64", of && ru == 0);
    of = __builtin_mul_overflow(OPAQUE((int64_t)3037000499), OPAQUE((int64_t)3037000499), &r64);
    check_true("imul-no-overflow-i64", !of && r64 == 9223372030926249001ll);
    of = __builtin_mul_overflow(OPAQUE((int64_t)3037000500), OPAQUE((int64_t)3037000500), &r64);
    check_true("imul-overflow-i64", of);
    of = __builtin_add_overflow(OPAQUE(UINT64_MAX), OPAQUE((uint64_t)1), &ru);
    check_true("add-carry-u64", of && ru == 0);
}

/* ------------------------------------------------------------------ */
/* Strings (lib/string.c; separate file + -ffreestanding, so they are  */
/* real calls, never folded by the compiler)                           */
/* ------------------------------------------------------------------ */

static void check_strings(void)
{
    static const char fox[] = "The quick brown fox jumps over the lazy dog";
    char buf[64];

    memset(buf, 0x5a, sizeof(buf));
    memcpy(buf + 1, fox, sizeof(fox));
    check_true("memcpy", memcmp(buf + 1, fox, sizeof(fox)) == 0 && buf[0] == 0x5a &&
                             buf[sizeof(fox) + 1] == 0x5a);

    memset(buf + 4, 0xa5, 40);
    bool ok = buf[3] != (char)0xa5 && buf[44] != (char)0xa5;
    for (int i = 4; i < 44; i++)
        ok = ok && buf[i] == (char)0xa5;
    check_true("memset", ok);

    char ov[16] = "0123456789";
    memmove(ov + 2, ov, 8);                     /* overlap, destination above */
    check_true("memmove-up", memcmp(ov, "0101234567", 10) == 0);
    memmove(ov, ov + 2, 8);                     /* overlap, destination below */
    check_true("memmove-down", memcmp(ov, "0123456767", 10) == 0);

    check_u64("strlen", strlen(OSTR("Hello from vmxemu guest")), 23);
    check_u64("strlen-empty", strlen(OSTR("")), 0);
    check_true("strcmp-equal", strcmp(OSTR("vmxemu"), OSTR("vmxemu")) == 0);
    check_true("strcmp-less", strcmp(OSTR("abc"), OSTR("abd")) < 0);
    check_true("strcmp-prefix", strcmp(OSTR("abc"), OSTR("abcd")) < 0);
    check_true("strcmp-unsigned", strcmp(OSTR("\xff"), OSTR("a")) > 0);
    check_true("memcmp-order", memcmp(OSTR("\x01\x02\x03"), OSTR("\x01\x02\x04"), 3) < 0);
}

/* ------------------------------------------------------------------ */
/* Structs                                                             */
/* ------------------------------------------------------------------ */

struct point {
    int32_t x, y;
};
struct rect {
    struct point a, b;
    char tag[8];
};
struct big {
    uint64_t words[16];
};
union flags {
    struct {
        uint32_t a : 3, b : 5, c : 12, d : 12;
    } bits;
    uint32_t raw;
};

static NOINLINE struct rect rect_translate(struct rect r, int32_t dx, int32_t dy)
{
    r.a.x += dx;
    r.a.y += dy;
    r.b.x += dx;
    r.b.y += dy;
    r.tag[0] = 'T';
    return r;
}

static NOINLINE void big_copy(struct big *dst, const struct big *src)
{
    *dst = *src;    /* a 128-byte struct assignment */
}

static void check_structs(void)
{
    struct rect r = { { 1, 2 }, { 10, 20 }, "rect" };
    struct rect t = rect_translate(r, OPAQUE(-5), OPAQUE(100));
    check_true("struct-by-value", t.a.x == -4 && t.a.y == 102 && t.b.x == 5 && t.b.y == 120 &&
                                      t.tag[0] == 'T' && t.tag[1] == 'e' && r.tag[0] == 'r');

    struct big src, dst;
    for (int i = 0; i < 16; i++)
        src.words[i] = OPAQUE((uint64_t)i * 0x0101010101010101ull);
    big_copy(&dst, &src);
    uint64_t sum = 0;
    for (int i = 0; i < 16; i++)
        sum += dst.words[i] ^ (uint64_t)i;
    check_u64("struct-copy-128", sum, 0x7878787878787800ull);

    union flags f;
    f.raw = OPAQUE(0u);
    f.bits.a = OPAQUE(5u);
    f.bits.b = OPAQUE(17u);
    f.bits.c = OPAQUE(0xabcu);
    f.bits.d = OPAQUE(0x123u);
    check_u64("bitfield-pack", OPAQUE(f.raw), 0x123abc8d);
    f.raw = OPAQUE(0xffffffffu);
    check_u64("bitfield-unpack", f.bits.b + f.bits.c, 31 + 0xfff);

    struct point pts[5];
    for (int i = 0; i < 5; i++) {
        pts[i].x = OPAQUE(i);
        pts[i].y = OPAQUE(i * i);
    }
    int64_t acc = 0;
    for (int i = 0; i < 5; i++)
        acc += (int64_t)pts[i].x * 100 + pts[i].y;
    check_i64("struct-array", acc, 1000 + 30);
}

/* ------------------------------------------------------------------ */
/* Function pointers, a jump table, recursion                          */
/* ------------------------------------------------------------------ */

static NOINLINE int64_t op_add(int64_t a, int64_t b) { return a + b; }
static NOINLINE int64_t op_sub(int64_t a, int64_t b) { return a - b; }
static NOINLINE int64_t op_mul(int64_t a, int64_t b) { return a * b; }
static NOINLINE int64_t op_xor(int64_t a, int64_t b) { return a ^ b; }

static int64_t (*const ops[4])(int64_t, int64_t) = { op_add, op_sub, op_mul, op_xor };

static NOINLINE int64_t apply(int64_t (*f)(int64_t, int64_t), int64_t a, int64_t b) { return f(a, b); }

static void check_function_pointers(void)
{
    int64_t acc = 0;
    for (unsigned i = 0; i < 4; i++)
        acc = acc * 1000 + apply(ops[OPAQUE(i)], 12, 5);   /* 17, 7, 60, 9 */
    check_i64("function-pointers", acc, 17007060009ll);
}

/* Twelve dense cases, each doing different work: gcc compiles this to a
 * bounds check plus an indirect jump through a table of addresses
 * (jmp *table(,%rax,8)), not to a chain of compares. */
static NOINLINE uint64_t dispatch(unsigned op, uint64_t x)
{
    switch (op) {
    case 0: return x + 1;
    case 1: return x * 3;
    case 2: return x ^ 0x55;
    case 3: return x << 4;
    case 4: return x >> 1;
    case 5: return ~x;
    case 6: return x - 1000;
    case 7: return x * x;
    case 8: return x | 0xf000;
    case 9: return x & 0xff;
    case 10: return x / 3;
    case 11: return x % 10;
    default: return 0xdead;
    }
}

static void check_switch(void)
{
    uint64_t acc = 0;
    for (unsigned op = 0; op < 13; op++)
        acc = acc * 31 + dispatch(OPAQUE(op), 12345);
    /* Reference value computed the long way round, without the switch. */
    uint64_t want = 0;
    const uint64_t x = 12345;
    uint64_t results[13] = { x + 1, x * 3, x ^ 0x55, x << 4, x >> 1, ~x, x - 1000, x * x,
                             x | 0xf000, x & 0xff, x / 3, x % 10, 0xdead };
    for (int i = 0; i < 13; i++)
        want = want * 31 + results[i];
    check_u64("switch-jump-table", acc, want);
}

static NOINLINE uint64_t fib(unsigned n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

static NOINLINE uint64_t ackermann(uint64_t m, uint64_t n)
{
    if (m == 0)
        return n + 1;
    if (n == 0)
        return ackermann(m - 1, 1);
    return ackermann(m - 1, ackermann(m, n - 1));
}

static NOINLINE uint64_t factorial(unsigned n) { return n <= 1 ? 1 : n * factorial(n - 1); }

static void check_recursion(void)
{
    check_u64("recursion-fib20", fib(OPAQUE(20u)), 6765);
    check_u64("recursion-ackermann-3-3", ackermann(OPAQUE((uint64_t)3), OPAQUE((uint64_t)3)), 61);
    check_u64("recursion-factorial20", factorial(OPAQUE(20u)), 2432902008176640000ull);
}

/* ------------------------------------------------------------------ */

int kmain(uint32_t magic, uint32_t mbi)
{
    kprintf("Hello from vmxemu guest: 64-bit long mode reached (hello.elf)\n");

    const char *cmdline = multiboot_cmdline(magic, mbi);
    if (cmdline && cmdline[0])
        kprintf("cmdline: %s\n", cmdline);

    check_u64("multiboot-magic", magic, MULTIBOOT_BOOTLOADER_MAGIC);
    check_loader();
    check_add_sub();
    check_mul();
    check_div();
    check_shifts();
    check_bits();
    check_compare_extend();
    check_overflow();
    check_strings();
    check_structs();
    check_function_pointers();
    check_switch();
    check_recursion();

    return checks_report("hello");
}
