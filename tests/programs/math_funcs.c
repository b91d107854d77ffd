// <math.h> double and float functions at full printed precision (%.17g):
// roots, exponentials and logarithms, powers with special cases, trig
// (including huge arguments that need careful range reduction), inverse
// and hyperbolic functions, error and gamma functions, rounding functions,
// remainders and decomposition, and classification. NaN results are
// printed without their sign, which IEEE 754 leaves unspecified.
#include <stdio.h>
#include <math.h>
#include <float.h>

static void pd(const char *name, double x, double r)
{
    if (isnan(r)) printf("%-10s(%-22.17g) = nan\n", name, x);
    else printf("%-10s(%-22.17g) = %.17g\n", name, x, r);
}

static void pd2(const char *name, double x, double y, double r)
{
    if (isnan(r)) printf("%-10s(%.17g, %.17g) = nan\n", name, x, y);
    else printf("%-10s(%.17g, %.17g) = %.17g\n", name, x, y, r);
}

int main(void)
{
    const double args[] = { 0.0, -0.0, 0.5, 1.0, 2.0, 10.0, -3.25, 1e-300, 123.456, 1e22, INFINITY, -INFINITY };
    const int na = (int)(sizeof args / sizeof args[0]);
    static const struct { const char *name; double (*fn)(double); } unary[] = {
        { "sqrt", sqrt }, { "cbrt", cbrt }, { "exp", exp }, { "exp2", exp2 }, { "expm1", expm1 },
        { "log", log }, { "log2", log2 }, { "log10", log10 }, { "log1p", log1p },
        { "sin", sin }, { "cos", cos }, { "tan", tan }, { "asin", asin }, { "acos", acos }, { "atan", atan },
        { "sinh", sinh }, { "cosh", cosh }, { "tanh", tanh }, { "asinh", asinh }, { "acosh", acosh },
        { "atanh", atanh }, { "erf", erf }, { "erfc", erfc }, { "tgamma", tgamma }, { "lgamma", lgamma },
        { "floor", floor }, { "ceil", ceil }, { "round", round }, { "trunc", trunc }, { "rint", rint },
        { "nearbyint", nearbyint }, { "logb", logb }, { "fabs", fabs },
    };
    for (size_t f = 0; f < sizeof unary / sizeof unary[0]; f++)
        for (int i = 0; i < na; i++) pd(unary[f].name, args[i], unary[f].fn(args[i]));

    /* pow special cases from C11 Annex F, plus ordinary values. */
    const double pw[][2] = { { 2, 10 }, { 2, 0.5 }, { 10, -3 }, { -8, 1.0 / 3 }, { -2, 3 }, { -2, 0.5 }, { 0, -1 },
                             { -0.0, -3 }, { -1, INFINITY }, { 1, NAN }, { NAN, 0 }, { 0.5, -INFINITY },
                             { 1.0000001, 1e10 }, { 2, 1024 }, { 2, -1075 }, { 1.5, 2.5 }, { 9, 0.5 } };
    for (size_t i = 0; i < sizeof pw / sizeof pw[0]; i++) pd2("pow", pw[i][0], pw[i][1], pow(pw[i][0], pw[i][1]));

    /* atan2 in all quadrants and with signed zeros. */
    const double at[][2] = { { 1, 1 }, { 1, -1 }, { -1, -1 }, { -1, 1 }, { 0.0, -0.0 }, { -0.0, -0.0 }, { 0.0, 0.0 },
                             { -0.0, 1 }, { 1, 0 }, { INFINITY, INFINITY }, { 3, -INFINITY }, { 1e-300, 1e300 } };
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) pd2("atan2", at[i][0], at[i][1], atan2(at[i][0], at[i][1]));

    const double two[][2] = { { 5.5, 2 }, { -5.5, 2 }, { 5.5, -2 }, { 1e300, 3 }, { 7, 0.1 }, { 0.0, 1 }, { 3, 0 } };
    for (size_t i = 0; i < sizeof two / sizeof two[0]; i++) {
        double x = two[i][0], y = two[i][1];
        pd2("fmod", x, y, fmod(x, y));
        pd2("remainder", x, y, remainder(x, y));
        int q = 0;
        double r = remquo(x, y, &q);
        if (!isnan(r)) printf("remquo    (%.17g, %.17g) = %.17g quotient bits %d\n", x, y, r, q % 8);
        pd2("hypot", x, y, hypot(x, y));
        pd2("fdim", x, y, fdim(x, y));
        pd2("fmax", x, y, fmax(x, y));
        pd2("copysign", x, -y, copysign(x, -y));
        pd2("nextafter", x, y, nextafter(x, y));
    }
    printf("fmax(nan, 1) = %g, fmin(-0, 0) sign = %d\n", fmax(NAN, 1.0), signbit(fmin(-0.0, 0.0)) != 0);
    printf("fma(0.1, 10, -1) = %a, 0.1*10-1 = %a\n", fma(0.1, 10, -1), 0.1 * 10 - 1);
    printf("fma(1+2^-52, 1-2^-52, -1) = %a\n", fma(1 + DBL_EPSILON, 1 - DBL_EPSILON, -1));

    /* Decomposition. */
    const double dv[] = { 0.0, 1.0, -3.75, 1e-310, 6.02214076e23, DBL_MAX };
    for (int i = 0; i < 6; i++) {
        int e;
        double m = frexp(dv[i], &e), ip;
        double fp = modf(dv[i], &ip);
        printf("frexp(%.17g) = %.17g * 2^%d; modf = %.17g + %.17g; ilogb = %d; ldexp(m,e) = %.17g; scalbn(x,-3) = %.17g\n",
               dv[i], m, e, ip, fp, dv[i] == 0 ? 0 : ilogb(dv[i]), ldexp(m, e), scalbn(dv[i], -3));
    }

    /* Rounding to integers: halfway cases differ between the functions. */
    const double halves[] = { 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4999999999999996, 4503599627370497.0 };
    for (int i = 0; i < 8; i++)
        printf("x=%.17g round=%g lround=%ld llround=%lld rint=%g lrint=%ld nearbyint=%g\n", halves[i], round(halves[i]),
               lround(halves[i]), llround(halves[i]), rint(halves[i]), lrint(halves[i]), nearbyint(halves[i]));

    /* Trig identities over many arguments, summed (visible if any value is off). */
    double s1 = 0, s2 = 0, s3 = 0;
    for (int i = 1; i <= 2000; i++) {
        double x = i * 0.7853981633974483 * 1.000001 + i * i * 1e-3;
        s1 += sin(x) * sin(x) + cos(x) * cos(x) - 1;
        s2 += sin(x);
        s3 += atan(tan(x / 3));
    }
    printf("trig sums: %.17g %.17g %.17g\n", s1, s2, s3);
    printf("sin(1e22)=%.17g cos(1e22)=%.17g sin(2^1000)=%.17g\n", sin(1e22), cos(1e22), sin(0x1p1000));
    printf("exp(709.78)=%.17g exp(-745.1)=%.17g log(DBL_MIN)=%.17g\n", exp(709.78), exp(-745.1), log(DBL_MIN));

    /* float versions. */
    const float fa[] = { 0.5f, 1.0f, 3.14159265f, 100.0f, -2.75f };
    for (int i = 0; i < 5; i++) {
        float x = fa[i];
        printf("x=%.9g sinf=%.9g cosf=%.9g expf=%.9g logf=%.9g sqrtf=%.9g powf(x,1.5)=%.9g atanf=%.9g\n", (double)x,
               (double)sinf(x), (double)cosf(x), (double)expf(x), isnan(logf(x)) ? 0.0 : (double)logf(x),
               isnan(sqrtf(x)) ? 0.0 : (double)sqrtf(x), isnan(powf(x, 1.5f)) ? 0.0 : (double)powf(x, 1.5f),
               (double)atanf(x));
    }

    /* Classification. */
    const double cls[] = { 0.0, 1e-310, 1.0, INFINITY, NAN };
    const char *names[] = { "FP_ZERO", "FP_SUBNORMAL", "FP_NORMAL", "FP_INFINITE", "FP_NAN" };
    for (int i = 0; i < 5; i++) {
        int c = fpclassify(cls[i]);
        const char *cn = c == FP_ZERO ? names[0] : c == FP_SUBNORMAL ? names[1] : c == FP_NORMAL ? names[2]
                       : c == FP_INFINITE ? names[3] : names[4];
        printf("fpclassify(%g) = %s isnormal=%d isunordered(x,1)=%d\n", cls[i], cn, isnormal(cls[i]) != 0,
               isunordered(cls[i], 1.0) != 0);
    }
    printf("isgreater(nan,1)=%d isless(1,2)=%d islessgreater(1,1)=%d\n", isgreater(NAN, 1.0) != 0,
           isless(1.0, 2.0) != 0, islessgreater(1.0, 1.0) != 0);
    return 0;
}
