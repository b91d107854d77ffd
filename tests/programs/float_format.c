// Floating-point formatting and parsing: %f %e %g %a with widths,
// precisions and flags; infinities, NaNs, signed zeros, denormals and the
// extremes of double and float; round-half-even and carry-propagation cases;
// and strtod on decimal, hex, special and malformed inputs (with endptr).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <float.h>
#include <errno.h>

static const double values[] = {
    0.0, -0.0, 1.0, -1.0, 0.1, 0.5, 1.5, 2.5, 123.456, -9876.54321, 1e-5, 1e-4, 123456.0,
    1234567.0, 1e15, 1e16, 1e21, 1e22, 1e23, 3.141592653589793, 2.718281828459045,
    DBL_MAX, DBL_MIN, DBL_EPSILON, 4.9406564584124654e-324, 2.2250738585072009e-308,
    1.0 / 3.0, 2.0 / 3.0, 0.3, 100.0, 999.9999, 0.000123456789, 5e-324 * 3,
};

int main(void)
{
    const int nv = (int)(sizeof values / sizeof values[0]);
    for (int i = 0; i < nv; i++) {
        double v = values[i];
        printf("[%d] %%f=%f %%e=%e %%g=%g %%a=%a\n", i, v, v, v, v);
        printf("    %%.17g=%.17g %%.0f=%.0f %%.3e=%.3e %%.10g=%.10g %%.3a=%.3a\n", v, v, v, v, v);
    }

    /* Widths, flags and precisions. */
    double x = 3.14159265358979;
    printf("|%12.4f|%-12.4f|%+12.4f|% 12.4f|%012.4f|%+012.4f|\n", x, x, x, x, x, x);
    printf("|%12.4e|%-12.4e|%+.0e|%#.0e|%#.0f|%#g|%#.3g|\n", x, x, x, x, x, x, x);
    printf("|%20.15g|%-20g|%020.8e|%.0g|%.1g|%.2g|\n", -x, x, -x, x, x, x);
    printf("|%*.*f|%-*.*e|%.*g|\n", 10, 2, x, 14, 5, -x, 12, x * 1e10);
    printf("|%10a|%-24a|%+a|%A|%.0a|%.1a|%#.0a|\n", x, x, x, x, x, x, 1.0);
    printf("|%g|%g|%g|%g|%g|%g|\n", 1e-5, 1e-4, 123456.0, 1234567.0, 0.0001234, 100000.0);
    printf("|%G|%E|%F|\n", 1e-10, 12345.678, 1.5);

    /* Specials. */
    double inf = INFINITY, nan_ = NAN;
    printf("|%f|%f|%e|%g|%a|%F|%E|%G|%A|\n", inf, -inf, inf, -inf, inf, inf, -inf, inf, -inf);
    printf("|%8f|%-8f|%+f|% f|%08f|%.3f|\n", inf, inf, inf, inf, -inf, inf);
    printf("|%f|%e|%g|%a|%F|%8.2f|%-8g|\n", nan_, nan_, nan_, nan_, nan_, nan_, nan_);
    printf("|%f|%e|%g|%a|%+f|% f|\n", -0.0, -0.0, -0.0, -0.0, 0.0, 0.0);
    printf("signbit(-0)=%d signbit(0)=%d isnan=%d isinf=%d isfinite(DBL_MAX)=%d fpclassify(denorm)=%s\n",
           signbit(-0.0) != 0, signbit(0.0) != 0, isnan(nan_) != 0, isinf(-inf) != 0,
           isfinite(DBL_MAX) != 0, fpclassify(1e-310) == FP_SUBNORMAL ? "subnormal" : "other");

    /* Rounding: exact binary halves round to even; others by the true value. */
    double halves[] = { 0.5, 1.5, 2.5, 3.5, -0.5, -2.5, 0.125, 0.375, 2.675, 1.005, 0.045, 9.5, 99.5 };
    for (int i = 0; i < 13; i++)
        printf("round %.17g: %%.0f=%.0f %%.1f=%.1f %%.2f=%.2f %%.0e=%.0e\n", halves[i], halves[i],
               halves[i], halves[i], halves[i]);
    /* Carries that ripple across every digit. */
    printf("%.2f %.3f %.0f %.5e %.3g %.1f\n", 9.995, 0.9995, 999999.5, 9.999995e10, 99.95, 0.05);
    printf("%.20f\n%.30e\n%.40g\n", 0.1, 0.1, 0.1);
    printf("%.60f\n", 1e-50);
    printf("%.0f\n%f\n", DBL_MAX, -DBL_MAX);
    printf("%.1074e\n", 4.9406564584124654e-324);

    /* Floats are promoted to double by printf. */
    float fv[] = { 0.1f, 1.0f / 3.0f, FLT_MAX, FLT_MIN, 1e-45f, 16777217.0f, -2.5f };
    for (int i = 0; i < 7; i++)
        printf("float %d: %.9g %a %e\n", i, (double)fv[i], (double)fv[i], (double)fv[i]);

    /* strtod: decimal, hex, specials, partial and malformed inputs. */
    const char *inputs[] = {
        "0", "-0", "1", "  42.5xyz", "+.5", "5.", ".e5", "1e308", "1e309", "-1e309", "1e-320",
        "1e-400", "2.2250738585072011e-308", "4.9e-324", "2.4703282292062327e-324",
        "2.4703282292062328e-324", "0x1p-1074", "0x1.fffffffffffffp1023", "0x1.8p1", "0X.8P+2",
        "0x", "0x1g", "inf", "-Infinity", "INFINITYX", "nan", "-NaN", "nan(123)", "nanx",
        "1.7976931348623157e308", "1.7976931348623158e308", "1.7976931348623159e308",
        "9007199254740993", "9007199254740993.0000000001", "0.1e1", "1e+", "e1", "", "-",
        "123456789012345678901234567890", "3.14159265358979323846264338327950288",
        "0.000000000000000000000000000000000000000000001", "1_000", "12e-2.5",
    };
    const int ni = (int)(sizeof inputs / sizeof inputs[0]);
    for (int i = 0; i < ni; i++) {
        char *end;
        errno = 0;
        double v = strtod(inputs[i], &end);
        int erange = errno == ERANGE;
        printf("strtod(\"%s\") = %.17g = %a, consumed %td%s\n", inputs[i], v, v, end - inputs[i],
               erange ? ", ERANGE" : "");
    }
    /* strtof rounds once, straight to float. */
    const char *finputs[] = { "0.1", "16777217", "3.4028235e38", "3.4028236e38", "1e-46", "7.006492e-46" };
    for (int i = 0; i < 6; i++) {
        char *end;
        errno = 0;
        float f = strtof(finputs[i], &end);
        printf("strtof(\"%s\") = %.9g = %a%s\n", finputs[i], (double)f, (double)f,
               errno == ERANGE ? ", ERANGE" : "");
    }

    /* Round-trip: printing with %.17g and parsing back is exact. */
    unsigned long long s = 88172645463325252ULL;
    int ok = 0;
    for (int i = 0; i < 2000; i++) {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17;
        double v;
        unsigned long long bits = s & 0x7FEFFFFFFFFFFFFFULL;   /* finite values only */
        memcpy(&v, &bits, sizeof v);
        char buf[40];
        snprintf(buf, sizeof buf, "%.17g", v);
        double back = strtod(buf, NULL);
        ok += memcmp(&back, &v, sizeof v) == 0;
        if (i % 400 == 0) printf("roundtrip %s %a\n", buf, v);
    }
    printf("roundtrip exact: %d of 2000\n", ok);
    return 0;
}
