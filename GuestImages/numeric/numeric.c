/*
 * numeric.c — ordinary C, compiled by gcc -O2 *with* SSE and x87 (no
 * -mgeneral-regs-only), run twice: as a guest under vmxemu and natively on
 * the build host.  The two outputs must be identical byte for byte (the
 * IntegrationTests compare them), so every line is a deterministic function
 * of IEEE 754 arithmetic and the C semantics of the types involved:
 *
 *   double / float   SSE2 scalar and (vectorised at -O2) packed arithmetic,
 *                    conversions to and from integers, sqrt, comparisons
 *   long double      the x87 FPU: 64-bit significands, FLDCW for casts,
 *                    FUCOMIP for comparisons
 *   memcpy / memset  inline SSE copies of structs and arrays, and calls into
 *                    the library's memcpy/memset
 *   __int128         64x64->128 multiplies, 128-bit add/shift, and the
 *                    libgcc division routines (__udivti3, __umodti3, __divti3)
 *
 * Nothing here prints a float with %f: the guest's kprintf has no such
 * conversion.  Values go out as hex bit patterns, and as decimal through
 * fmt_double(), which is floating-point code itself.
 */
#include "numeric.h"

static int lines;

/* "name" padded to 28 columns, then the value (kprintf has no %-28s). */
static void label(const char *name)
{
    static const char spaces[] = "                            ";
    size_t n = strlen(name);
    out("%s%s ", name, n < 28 ? spaces + n : "");
}
#define SHOW(name, fmt, ...) do { label(name); out(fmt "\n", __VA_ARGS__); lines++; } while (0)

static uint64_t dbits(double d) { uint64_t u; memcpy(&u, &d, 8); return u; }
static uint32_t fbits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static void show_ld(const char *name, long double x)
{
    unsigned char b[16] = {0};
    memcpy(b, &x, 10);
    uint64_t mant; uint16_t se;
    memcpy(&mant, b, 8); memcpy(&se, b + 8, 2);
    SHOW(name, "%04x:%016llx", se, (unsigned long long)mant);
}
static void show_u128(const char *name, unsigned __int128 v)
{
    SHOW(name, "%016llx%016llx", (unsigned long long)(uint64_t)(v >> 64), (unsigned long long)(uint64_t)v);
}

/* Decimal rendering of a double with 17 significant digits, by repeated
 * scaling — floating-point code whose every step must round the same way. */
static const char *fmt_double(double x, char *buf)
{
    char *p = buf;
    if (x != x) { memcpy(buf, "nan", 4); return buf; }
    if (x < 0) { *p++ = '-'; x = -x; }
    if (x == 1.0 / 0.0) { memcpy(p, "inf", 4); return buf; }
    int e10 = 0;
    if (x != 0) {
        while (x >= 10.0) { x /= 10.0; e10++; }
        while (x < 1.0) { x *= 10.0; e10--; }
    }
    for (int i = 0; i < 17; i++) {
        int d = (int)x;
        *p++ = (char)('0' + d);
        if (i == 0) *p++ = '.';
        x = (x - d) * 10.0;
    }
    *p++ = 'e';
    if (e10 < 0) { *p++ = '-'; e10 = -e10; } else *p++ = '+';
    *p++ = (char)('0' + e10 / 100); *p++ = (char)('0' + e10 / 10 % 10); *p++ = (char)('0' + e10 % 10);
    *p = 0;
    return buf;
}

/* ---- double ------------------------------------------------------------ */

/* volatile: the compiler may not fold these at build time. */
static volatile double vzero = 0.0, vone = 1.0, vtwo = 2.0, vthird = 1.0 / 3.0;
static volatile float vfone = 1.0f, vfseven = 7.0f;

static NOINLINE double harmonic(int n) { double s = 0; for (int i = 1; i <= n; i++) s += 1.0 / i; return s; }
static NOINLINE double newton_sqrt(double a) { double x = a; for (int i = 0; i < 40; i++) x = 0.5 * (x + a / x); return x; }
static NOINLINE double poly(double x) { return ((((3.25 * x - 1.5) * x + 0.125) * x - 7.0) * x + 2.0); }

#define N 24
struct matrix { double m[N][N]; };
static struct matrix ma, mb, mc;

static NOINLINE void matmul(struct matrix *c, const struct matrix *a, const struct matrix *b)
{
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < N; k++) s += a->m[i][k] * b->m[k][j];
            c->m[i][j] = s;
        }
}

static NOINLINE double dot(const double *a, const double *b, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

static NOINLINE void saxpy(float *y, const float *x, float a, int n) { for (int i = 0; i < n; i++) y[i] = a * x[i] + y[i]; }

static void test_double(void)
{
    char buf[40];
    double h = harmonic(1000);
    SHOW("harmonic(1000)", "%016llx %s", (unsigned long long)dbits(h), fmt_double(h, buf));
    double r = newton_sqrt(2.0);
    SHOW("newton_sqrt(2)", "%016llx %s", (unsigned long long)dbits(r), fmt_double(r, buf));
    SHOW("__builtin_sqrt(vthird)", "%016llx", (unsigned long long)dbits(__builtin_sqrt(vthird)));
    SHOW("poly(1.1)", "%016llx %s", (unsigned long long)dbits(poly(1.1)), fmt_double(poly(1.1), buf));
    SHOW("1/3 * 3", "%016llx", (unsigned long long)dbits(vthird * 3.0));
    SHOW("1/0", "%016llx", (unsigned long long)dbits(vone / vzero));
    SHOW("0/0", "%016llx", (unsigned long long)dbits(vzero / vzero));
    SHOW("-0.0 + 0.0", "%016llx", (unsigned long long)dbits(-vzero + vzero));
    SHOW("denormal 1e-310/3", "%016llx", (unsigned long long)dbits(1e-310 * vone / 3.0));
    SHOW("overflow 1e308*10", "%016llx", (unsigned long long)dbits(1e308 * vone * 10.0));

    /* Conversions: truncation toward zero, unsigned 64-bit (gcc's branchy
     * sequences), float <-> double, int <-> float. */
    volatile double big = 1.8446744073709552e19 * 0.75, neg = -123456.789;
    SHOW("(uint64)0.75*2^64", "%016llx", (unsigned long long)(uint64_t)big);
    SHOW("(int64)-123456.789", "%016llx", (unsigned long long)(int64_t)neg);
    SHOW("(int)-2.5", "%d", (int)(neg / 49382.7156));
    volatile uint64_t u = 0xFEDCBA9876543210ull; volatile int64_t s = -0x123456789ABCDLL;
    SHOW("(double)uint64", "%016llx", (unsigned long long)dbits((double)u));
    SHOW("(double)int64", "%016llx", (unsigned long long)dbits((double)s));
    SHOW("(float)uint64", "%08x", fbits((float)u));
    SHOW("(float)double", "%08x", fbits((float)vthird));
    SHOW("(double)(float)1/7", "%016llx", (unsigned long long)dbits((double)(vfone / vfseven)));
    volatile double cmp[4] = { 1.0, -0.0, 0.0 / 0.0, 2.0 };
    int order = 0;
    for (int i = 0; i < 4; i++) for (int j = 0; j < 4; j++) order = order * 3 + (cmp[i] < cmp[j]) + 2 * (cmp[i] == cmp[j]);
    SHOW("compare matrix", "%x", (unsigned)order);

    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) { ma.m[i][j] = (i * 7 + j * 3) % 11 - 5.5; mb.m[i][j] = 1.0 / (1 + i + j); }
    matmul(&mc, &ma, &mb);
    uint64_t hsum = 0;
    for (int i = 0; i < N; i++) for (int j = 0; j < N; j++) hsum = hsum * 31 + dbits(mc.m[i][j]);
    SHOW("matmul 24x24 hash", "%016llx", (unsigned long long)hsum);
    SHOW("dot(row0,col0)", "%016llx", (unsigned long long)dbits(dot(&ma.m[0][0], &mb.m[0][0], N * N)));

    static float fx[100], fy[100];
    for (int i = 0; i < 100; i++) { fx[i] = i * 0.37f; fy[i] = 100.0f / (i + 1); }
    saxpy(fy, fx, 1.5f, 100);
    uint32_t fh = 0;
    for (int i = 0; i < 100; i++) fh = fh * 33 ^ fbits(fy[i]);
    SHOW("saxpy hash", "%08x", fh);
    float fmin = 1e30f, fmax = -1e30f;
    for (int i = 0; i < 100; i++) { fmin = fy[i] < fmin ? fy[i] : fmin; fmax = fy[i] > fmax ? fy[i] : fmax; }
    SHOW("min/max", "%08x %08x", fbits(fmin), fbits(fmax));
    SHOW("fabs(-2)", "%016llx", (unsigned long long)dbits(__builtin_fabs(-vtwo)));
}

/* ---- long double (x87) -------------------------------------------------- */

static volatile long double lthree = 3.0L, lseven = 7.0L;

static NOINLINE long double lfactorial(int n) { long double f = 1; for (int i = 2; i <= n; i++) f *= i; return f; }
static NOINLINE long double le_series(void) { long double e = 1, t = 1; for (int i = 1; i < 25; i++) { t /= i; e += t; } return e; }

static void test_long_double(void)
{
    show_ld("1/3 (long double)", 1.0L / lthree);
    show_ld("22! (long double)", lfactorial(22));
    show_ld("e by series", le_series());
    show_ld("sqrtl(7)", __builtin_sqrtl(lseven));
    long double x = lseven / lthree;
    SHOW("(int64)(7/3)e18", "%016llx", (unsigned long long)(int64_t)(x * 1e18L));
    SHOW("(uint64)2^63+", "%016llx", (unsigned long long)(uint64_t)(x * 5e18L));
    SHOW("(double)(7/3)L", "%016llx", (unsigned long long)dbits((double)x));
    SHOW("(float)(7/3)L", "%08x", fbits((float)x));
    show_ld("(long double)uint64", (long double)(uint64_t)0xFFFFFFFFFFFFFFFFull * (lthree / lthree));
    show_ld("(long double)int64", (long double)(int64_t)-987654321987654321LL * (lseven / lseven));
    SHOW("7/3 > 2.333..", "%d", x > 2.3333333333333333333L);
    SHOW("7/3 == (double)7/3", "%d", x == (long double)(7.0 / 3.0));
    show_ld("1e4000L/1e-900L", 1e4000L / (lthree * 1e-900L));
}

/* ---- memcpy / memset --------------------------------------------------- */

struct record { uint64_t id; double value; char name[40]; uint32_t tags[9]; };

static NOINLINE void fill(struct record *r, int k)
{
    memset(r, 0, sizeof *r);
    r->id = 0x1000u + k; r->value = k / 8.0;
    for (int i = 0; i < 39; i++) r->name[i] = (char)('a' + (i + k) % 26);
    for (int i = 0; i < 9; i++) r->tags[i] = (uint32_t)(k * 2654435761u + i);
}

static uint64_t fnv(const void *p, size_t n)
{
    const unsigned char *b = p; uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static unsigned char big_a[8192], big_b[8192];

static void test_memory(void)
{
    struct record rs[16], copy[16];
    for (int k = 0; k < 16; k++) fill(&rs[k], k);
    for (int k = 0; k < 16; k++) copy[15 - k] = rs[k];            /* struct assignment */
    SHOW("struct copies", "%016llx", (unsigned long long)fnv(copy, sizeof copy));
    for (int i = 0; i < 8192; i++) big_a[i] = (unsigned char)(i * 131 + (i >> 7));
    for (size_t off = 0; off < 64; off += 7) {
        memcpy(big_b + off, big_a + 3 * off, 8192 - 3 * off - off);
        memset(big_b + 4000 + off, (int)off, 33 + off);
    }
    memmove(big_b + 10, big_b, 5000);
    SHOW("memcpy/memset/memmove", "%016llx", (unsigned long long)fnv(big_b, sizeof big_b));
    unsigned char small[47];
    __builtin_memset(small, 0x5A, sizeof small);
    __builtin_memcpy(small + 3, rs[2].name, 32);
    SHOW("inline memcpy/memset", "%016llx", (unsigned long long)fnv(small, sizeof small));
}

/* ---- __int128 ---------------------------------------------------------- */

static NOINLINE unsigned __int128 mul64(uint64_t a, uint64_t b) { return (unsigned __int128)a * b; }

static void test_int128(void)
{
    volatile uint64_t a = 0xFEDCBA9876543210ull, b = 0x0F1E2D3C4B5A6978ull;
    unsigned __int128 p = mul64(a, b);
    show_u128("u64*u64", p);
    unsigned __int128 f = 1;
    for (int i = 1; i <= 33; i++) f *= i;
    show_u128("33!", f);
    show_u128("33! / 0xdeadbeef12345", f / 0xdeadbeef12345ull);
    show_u128("33! % 0xfffffffffffffffb", f % 0xfffffffffffffffbull);
    __int128 s = -(__int128)f / 77777;
    show_u128("-33! / 77777", (unsigned __int128)s);
    show_u128("p << 37 ^ p >> 11", (p << 37) ^ (p >> 11));
    uint64_t fib_hash = 0; unsigned __int128 x = 0, y = 1;
    for (int i = 0; i < 180; i++) { unsigned __int128 t = x + y; x = y; y = t; fib_hash ^= (uint64_t)(y >> 64) + (uint64_t)y; }
    SHOW("fib(181) hash", "%016llx", (unsigned long long)fib_hash);
    SHOW("(double)u128", "%016llx", (unsigned long long)dbits((double)f));
    show_ld("(long double)i128", (long double)s);
}

int numeric_main(void)
{
    test_double();
    test_long_double();
    test_memory();
    test_int128();
    out("numeric: %d results\n", lines);
    return lines;
}
