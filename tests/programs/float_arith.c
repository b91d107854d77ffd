// Floating-point arithmetic and conversions where compilers need care:
// integer <-> float/double conversions at the edges of precision (ties to
// even, unsigned 64-bit values above 2^63), float vs double evaluation,
// signed zeros, NaN comparisons, subnormal arithmetic (no flush to zero),
// a*b+c evaluated without fusing, Kahan summation, and a few numerically
// sensitive loops printed with %a so every bit is visible.
#include <stdio.h>
#include <stdint.h>
#include <math.h>
#include <float.h>

/* Keep operands opaque to constant folding, so the target code is what runs. */
static volatile double vd[8] = { 0.1, 0.2, 0.3, 3.0, 1e16, 1.0, -0.0, 1e-310 };
static volatile float vf[4] = { 0.1f, 16777216.0f, 3.0f, 1e-40f };
static volatile uint64_t vu[6] = { 0xFFFFFFFFFFFFFFFFULL, 0x8000000000000001ULL, 0x8000000000000400ULL,
                                   0x8000000000000401ULL, 9007199254740993ULL, 0x7FFFFFFFFFFFFDFFULL };
static volatile int64_t vi[4] = { -9007199254740993LL, INT64_MIN, -1, 9007199254740995LL };

int main(void)
{
    printf("0.1+0.2 = %.17g (%a), == 0.3: %d\n", vd[0] + vd[1], vd[0] + vd[1], vd[0] + vd[1] == vd[2]);
    printf("1e16 + 1 - 1e16 = %g; 1e16 + 2 - 1e16 = %g\n", vd[4] + vd[5] - vd[4], vd[4] + 2 * vd[5] - vd[4]);
    printf("1/3 as double %a, as float %a\n", vd[5] / vd[3], (double)((float)vd[5] / vf[2]));

    /* uint64 -> double/float: values above 2^63 need special code on some targets. */
    for (int i = 0; i < 6; i++) {
        uint64_t u = vu[i];
        printf("u64 %20llu -> double %.17g -> float %.9g\n", (unsigned long long)u, (double)u, (double)(float)u);
    }
    for (int i = 0; i < 4; i++)
        printf("i64 %20lld -> double %.17g -> float %.9g\n", (long long)vi[i], (double)vi[i], (double)(float)vi[i]);
    /* double -> uint64 at and above 2^63, and -> int64 negatives. */
    volatile double big[] = { 9223372036854775808.0, 1.8e19, 18446744073709549568.0, 4503599627370497.5, 0.999 };
    for (int i = 0; i < 5; i++) printf("double %.17g -> u64 %llu\n", big[i], (unsigned long long)(uint64_t)big[i]);
    volatile double neg[] = { -0.999, -2.5, -9223372036854775808.0, -4503599627370495.5 };
    for (int i = 0; i < 4; i++) printf("double %.17g -> i64 %lld -> i32 (if in range) %d\n", neg[i], (long long)(int64_t)neg[i],
                                       neg[i] > -2147483649.0 ? (int)neg[i] : 0);
    volatile double edge = 2147483647.9, nedge = -2147483648.9;
    printf("2147483647.9 -> int %d, -2147483648.9 -> int %d, 4294967295.8 -> unsigned %u\n", (int)edge, (int)nedge,
           (unsigned)(edge * 2));
    volatile float fedge[] = { 16777217.0f, 2147483520.0f, -0.5f, 1e-40f };
    for (int i = 0; i < 4; i++) printf("float %.9g -> int %d -> back %.9g\n", (double)fedge[i], (int)fedge[i],
                                       (double)(float)(int)fedge[i]);

    /* Signed zeros. */
    double nz = vd[6];
    printf("-0: %g, -0+0: %g, -0-0: %g, -0*-1: %g, 0*-1: %g, -0==0: %d, copysign(1,-0): %g\n", nz, nz + 0.0,
           nz - 0.0, nz * -1.0, 0.0 * -vd[5], nz == 0.0, copysign(1.0, nz));

    /* NaN comparisons: every ordered comparison is false. */
    double qn = NAN;
    printf("NaN: ==%d !=%d <%d <=%d >%d >=%d self-equal %d\n", qn == qn, qn != qn, qn < 1, qn <= 1, qn > 1, qn >= 1,
           qn == qn);

    /* Subnormals: must not be flushed to zero. */
    double sub = vd[7];
    printf("subnormal %a * 2^20 = %a, / 2^20 * 2^20 = %a, min/2 = %a\n", sub, sub * 1048576.0,
           sub / 1048576.0 * 1048576.0, DBL_MIN / 2);
    float fsub = vf[3];
    printf("float subnormal %a, * 1e10 = %a, FLT_MIN*FLT_EPSILON = %a\n", (double)fsub, (double)(fsub * 1e10f),
           (double)(FLT_MIN * FLT_EPSILON));

    /* a*b+c without contraction differs from fma for these inputs. */
    volatile double a = 1.0 + 0x1p-30, b = 1.0 - 0x1p-30, c = -1.0;
    printf("a*b+c = %a, fma(a,b,c) = %a\n", a * b + c, fma(a, b, c));

    /* float accumulation vs double accumulation vs Kahan. */
    float fs = 0;
    double ds = 0, ks = 0, comp = 0;
    for (int i = 0; i < 1000000; i++) {
        fs += vf[0];
        ds += vd[0];
        double y = vd[0] - comp, t = ks + y;
        comp = (t - ks) - y;
        ks = t;
    }
    printf("sum of 1e6 x 0.1: float %.9g (%a), double %.17g, kahan %.17g\n", (double)fs, (double)fs, ds, ks);
    float big_f = vf[1];
    printf("16777216f + 1 = %.9g, + 2 = %.9g\n", (double)(big_f + 1.0f), (double)(big_f + 2.0f));

    /* Harmonic series summed forwards and backwards, in float and double. */
    float hf = 0, hb = 0;
    double hd = 0;
    for (int i = 1; i <= 100000; i++) { hf += 1.0f / (float)i; hd += 1.0 / i; }
    for (int i = 100000; i >= 1; i--) hb += 1.0f / (float)i;
    printf("harmonic: float fwd %a bwd %a, double %a\n", (double)hf, (double)hb, hd);

    /* Logistic map: chaotic, so any single-bit error grows visibly. */
    double x = 0.3;
    float xf = 0.3f;
    for (int i = 1; i <= 60; i++) {
        x = 3.9 * x * (1 - x);
        xf = 3.9f * xf * (1 - xf);
        if (i % 15 == 0) printf("logistic %2d: double %a float %a\n", i, x, (double)xf);
    }

    /* Square root by Newton's method vs sqrt, and an exact-rounding check. */
    for (int k = 2; k <= 7; k++) {
        double v = k, r = v;
        for (int it = 0; it < 60; it++) r = 0.5 * (r + v / r);
        printf("sqrt(%d): newton %a libm %a\n", k, r, sqrt(v));
    }
    printf("float ops: 1/3f=%a 2/3f=%a 0.1f*3=%a 0.7f+0.1f=%a\n", (double)(1.0f / vf[2]), (double)(2.0f / vf[2]),
           (double)(vf[0] * 3.0f), (double)(0.7f + vf[0]));
    return 0;
}
