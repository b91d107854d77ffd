// xisa-expect-from: aarch64
// long double as IEEE binary128 (113-bit significand): arithmetic, printf
// with %Lf %Le %La %Lg at precisions that only binary128 gets right,
// conversions to and from double and 64-bit integers, strtold, a few
// libm long double functions, and long doubles crossing calls (variadic
// arguments, structs by value, function pointers). Expected output comes from AArch64 (see
// gen-expected), where long double is binary128 as in xisa.
#include <stdio.h>
#include <stdlib.h>
#include <float.h>
#include <math.h>
#include <string.h>
#include <stdarg.h>

/* Print all 128 bits of a long double; binary128 has no padding bytes. */
static void print_bits(const char *label, long double v)
{
    unsigned char b[sizeof v];
    memcpy(b, &v, sizeof v);
    printf("%-12s ", label);
    for (int i = (int)sizeof v - 1; i >= 0; i--) printf("%02x", b[i]);
    printf("\n");
}

/* Newton iteration for sqrt, done purely in long double arithmetic. */
static long double newton_sqrt(long double x)
{
    long double r = x > 1 ? x / 2 : 1;
    for (int i = 0; i < 200; i++) {
        long double next = (r + x / r) / 2;
        if (next == r) break;
        r = next;
    }
    return r;
}

/* Sum of n long double variadic arguments, each scaled by its position. */
static long double ld_sum(int n, ...)
{
    va_list ap;
    va_start(ap, n);
    long double s = 0;
    for (int i = 0; i < n; i++) s += va_arg(ap, long double) * (i + 1);
    va_end(ap);
    return s;
}

struct ldpair { long double lo, hi; int tag; };
static struct ldpair widen(struct ldpair p, long double by)
{
    struct ldpair r = { p.lo - by, p.hi + by, p.tag + 1 };
    return r;
}

static long double ld_half(long double x) { return x / 2; }
static long double ld_cube(long double x) { return x * x * x; }

int main(void)
{
    printf("LDBL_MANT_DIG=%d LDBL_DIG=%d LDBL_MAX_EXP=%d LDBL_MIN_EXP=%d sizeof=%zu\n",
           LDBL_MANT_DIG, LDBL_DIG, LDBL_MAX_EXP, LDBL_MIN_EXP, sizeof(long double));

    long double third = 1.0L / 3.0L;
    long double tenth = 0.1L;
    printf("1/3   %%.40Lf = %.40Lf\n", third);
    printf("1/3   %%.36Le = %.36Le\n", third);
    printf("1/3   %%La    = %La\n", third);
    printf("1/3   %%.36Lg = %.36Lg\n", third);
    printf("0.1   %%.50Lf = %.50Lf\n", tenth);
    printf("0.1   %%La    = %La\n", tenth);
    printf("0.1L-0.1 = %.10Le (literal precision difference)\n", tenth - (long double)0.1);
    print_bits("1/3", third);
    print_bits("-0.1", -tenth);

    printf("LDBL_EPSILON = %La = %.10Le\n", LDBL_EPSILON, LDBL_EPSILON);
    printf("LDBL_MAX     = %La\n               %.30Le\n", LDBL_MAX, LDBL_MAX);
    printf("LDBL_MIN     = %La = %.30Le\n", LDBL_MIN, LDBL_MIN);
    long double tiny = LDBL_MIN / 0x1p100L;       /* subnormal in binary128 */
    printf("LDBL_MIN/2^100 = %La = %.20Le\n", tiny, tiny);
    printf("1+eps>1: %d  1+eps/2>1: %d\n", 1.0L + LDBL_EPSILON > 1.0L, 1.0L + LDBL_EPSILON / 2 > 1.0L);

    /* 2^64 + 1 and 2^112 + 1 are exact in binary128, not in double. */
    long double big = 18446744073709551616.0L + 1.0L;
    printf("2^64+1 = %.1Lf\n", big);
    long double big2 = 0x1p112L + 1.0L;
    printf("2^112+1 = %.1Lf\n2^113+1 = %.1Lf\n", big2, 0x1p113L + 1.0L);

    /* Conversions to and from integers and double. */
    unsigned long long u = 18446744073709551615ULL;
    long long s = -9223372036854775807LL - 1;
    long double lu = (long double)u, ls = (long double)s;
    printf("(ld)UINT64_MAX = %.1Lf  (ld)INT64_MIN = %.1Lf\n", lu, ls);
    printf("back: %llu %lld\n", (unsigned long long)(lu - 1000.0L), (long long)(ls + 0.5L));
    double d = (double)third;
    printf("(double)(1/3) = %.17g, (ld)(double)(1/3) - 1/3 = %.10Le\n", d, (long double)d - third);
    printf("(double)(1+2^-60) = %.17g\n", (double)(1.0L + 0x1p-60L));

    /* Rounding in printf at binary128 precision. */
    long double vals[] = { 2.5L, 0.125L, 1e30L, 1e-30L, 123456789012345678901234567890.0L,
                           3.14159265358979323846264338327950288L, -2.71828182845904523536028747135266250L,
                           1e4000L, 1e-4000L, 0.0L, -0.0L };
    for (int i = 0; i < (int)(sizeof vals / sizeof vals[0]); i++) {
        long double v = vals[i];
        printf("[%d] %%Lg=%Lg %%.34Lg=%.34Lg %%.0Lf=%.0Lf %%.5Le=%.5Le %%La=%La\n", i, v, v,
               i == 7 ? 0.0L : v, v, v);
    }

    /* Accumulations that diverge from double after ~16 digits. */
    long double h = 0;
    double hd = 0;
    for (int k = 1; k <= 100000; k++) { h += 1.0L / k; hd += 1.0 / k; }
    printf("H(100000) ld = %.33Lf\nH(100000) d  = %.17g\n", h, hd);

    long double fact = 1;
    for (int k = 1; k <= 30; k++) fact *= k;
    printf("30! = %.0Lf (exact: 265252859812191058636308480000000)\n", fact);

    long double r2 = newton_sqrt(2.0L);
    printf("newton sqrt(2) = %.36Lf\n", r2);
    printf("sqrtl(2)       = %.36Lf\n", sqrtl(2.0L));
    printf("r2*r2-2 = %Le\n", r2 * r2 - 2.0L);

    /* libm long double functions (musl's binary128 implementations). */
    printf("fabsl=%La floorl=%.1Lf ceill=%.1Lf truncl=%.1Lf roundl=%.1Lf\n", fabsl(-third),
           floorl(-2.5L), ceill(-2.5L), truncl(-2.7L), roundl(2.5L));
    printf("fmodl(10,3)=%La ldexpl=%La frexpl exponent=", fmodl(10.0L, 3.0L), ldexpl(third, 100));
    int e;
    long double m = frexpl(1e100L, &e);
    printf("%d mantissa=%.33Lf\n", e, m);
    printf("nextafterl(1,2)-1 = %La  copysignl = %Lg  fmal = %La\n", nextafterl(1.0L, 2.0L) - 1.0L,
           copysignl(3.0L, -0.0L), fmal(third, 3.0L, -1.0L));

    /* strtold reads all 36 significant digits. */
    const char *in[] = { "0.1", "3.14159265358979323846264338327950288419716939937510",
                         "1e-4940", "1.18973149535723176508575932662800702e4932", "1e4933",
                         "0x1.ffffffffffffffffffffffffffffp16383", "-0x1p-16494", "nan", "-inf" };
    for (int i = 0; i < 9; i++) {
        char *end;
        long double v = strtold(in[i], &end);
        printf("strtold(%s) = %.36Le %La (consumed %td)\n", in[i], v, v, end - in[i]);
    }

    /* Integer-valued long double arithmetic stays exact up to 2^113. */
    long double fib_a = 0, fib_b = 1;
    for (int k = 0; k < 160; k++) { long double t = fib_a + fib_b; fib_a = fib_b; fib_b = t; }
    printf("fib(160) = %.0Lf (exact 1226132595394188293000174702095995)\n", fib_a);
    long double q = 1e33L / 7.0L;
    printf("1e33/7 = %.3Lf  rem via fmodl = %.3Lf\n", q, fmodl(1e33L, 7.0L));

    /* long double across calls. */
    long double vs = ld_sum(5, 0.1L, third, -2.5L, 1e-20L, tenth * 3);
    printf("ld_sum = %.36Le\n", vs);
    struct ldpair pr = { -third, third, 7 };
    for (int k = 0; k < 3; k++) pr = widen(pr, 0x1p-100L);
    printf("widen: lo=%La hi=%La tag=%d\n", pr.lo, pr.hi, pr.tag);
    long double (*fns[2])(long double) = { ld_half, ld_cube };
    long double acc = 1.1L;
    for (int k = 0; k < 6; k++) acc = fns[k % 2](acc);
    printf("function pointers: %.36Lg\n", acc);
    long double arr[6];
    for (int k = 0; k < 6; k++) arr[k] = (long double)k / 7;
    long double dot = 0;
    for (int k = 0; k < 6; k++) dot += arr[k] * arr[5 - k];
    printf("array dot = %La\n", dot);
    return 0;
}
