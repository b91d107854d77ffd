// Calling-convention stress: functions with many mixed integer, float and
// double parameters (so some travel on the stack), narrow return types
// that must be sign- or zero-extended by the callee or caller (signed
// char, unsigned short, bool), float returns, calls through function
// pointers with the same signatures, and deep argument forwarding.
#include <stdio.h>
#include <stdbool.h>
#include <stdint.h>

static double mix12(int a, double b, long c, float d, short e, double f, unsigned char g, float h,
                    long long i, double j, int k, float l)
{
    return a + b * 2 + (double)c / 4 + d * 8 + e + f / 3 + g + h * 5 + (double)i + j - k + l;
}

static long ints16(int a, int b, int c, int d, int e, int f, int g, int h, int i, int j, int k, int l, int m,
                   int n, int o, int p)
{
    return (long)a - b + c * 2 - d + e * 3 - f + g * 4 - h + i * 5 - j + k * 6 - l + m * 7 - n + o * 8 - p;
}

static double doubles12(double a, double b, double c, double d, double e, double f, double g, double h,
                        double i, double j, double k, double l)
{
    return ((((a * b + c) * d + e) * f + g) * h + i) * j + k - l;
}

static float floats10(float a, float b, float c, float d, float e, float f, float g, float h, float i, float j)
{
    return a + b * c - d / e + f * g - h + i * j;
}

/* Narrow return types: the value must arrive correctly extended. */
static signed char to_schar(int v) { return (signed char)(v & 0x7F) - (signed char)(v & 0x80 ? 64 : 0) * 2; }
static unsigned char to_uchar(int v) { return (unsigned char)v; }
static short to_short(int v) { return (short)(v % 32768 - (v % 2 ? 16384 : 0)); }
static unsigned short to_ushort(unsigned v) { return (unsigned short)(v * 3u); }
static bool is_odd(long v) { return v & 1; }
static float to_float(double v) { return (float)v; }
static int8_t neg8(int8_t v) { return (int8_t)-v; }
static uint16_t add16(uint16_t a, uint16_t b) { return (uint16_t)(a + b); }

/* Forwarding through several frames, with arguments shuffled each time. */
static double fwd3(double x, int n, float f, long l, double y) { return x * n + f - (double)l * y; }
static double fwd2(int n, double x, long l, double y, float f) { return fwd3(y, n + 1, f * 2, l - 1, x); }
static double fwd1(float f, long l, int n, double x, double y) { return fwd2(n * 2, x + 1, l * 3, y - 1, f); }

int main(void)
{
    printf("mix12 = %.17g\n", mix12(1, 2.5, -3, 4.25f, -5, 6.0, 200, 0.5f, 1LL << 40, -1.5, 9, 0.125f));
    printf("ints16 = %ld\n", ints16(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16));
    printf("doubles12 = %.17g\n", doubles12(1.1, 2.2, 3.3, 4.4, 5.5, 6.6, 7.7, 8.8, 9.9, 10.1, 11.11, 12.12));
    printf("floats10 = %.9g\n", (double)floats10(1.5f, 2.5f, 3.5f, 4.5f, 5.5f, 6.5f, 7.5f, 8.5f, 9.5f, 10.5f));

    double (*pm)(int, double, long, float, short, double, unsigned char, float, long long, double, int, float) = mix12;
    long (*pi)(int, int, int, int, int, int, int, int, int, int, int, int, int, int, int, int) = ints16;
    double sum = 0;
    for (int r = 0; r < 100; r++) {
        sum += pm(r, r * 0.5, -r, (float)r / 8, (short)-r, r * 1.25, (unsigned char)(r * 3), 0.25f, r * 1000LL, -r * 0.75, r % 7, 1.0f);
        sum += (double)pi(r, r + 1, r + 2, r + 3, r + 4, r + 5, r + 6, r + 7, r + 8, r + 9, r + 10, r + 11, r + 12, r + 13,
                          r + 14, r + 15);
    }
    printf("through pointers, 100 rounds: %.17g\n", sum);

    int vals[] = { 0, 1, 127, 128, 200, 255, 256, -1, -128, 40000, 65535, 65536, -40000 };
    for (int i = 0; i < 13; i++) {
        int v = vals[i];
        /* Widen each narrow return explicitly into int before printing. */
        int sc = to_schar(v), uc = to_uchar(v), ss = to_short(v), us = to_ushort((unsigned)v), bo = is_odd(v);
        int n8 = neg8((int8_t)(v & 0x7F)), a16 = add16((uint16_t)v, 40000);
        printf("v=%6d schar=%4d uchar=%3d short=%6d ushort=%5d odd=%d neg8=%4d add16=%5d\n", v, sc, uc, ss, us, bo, n8, a16);
    }
    /* Narrow returns used directly in arithmetic (integer promotions). */
    long acc = 0;
    for (int v = -300; v <= 300; v += 7) acc += to_schar(v) * 3 + to_uchar(v) - to_short(v * 100) + to_ushort((unsigned)v) + is_odd(v);
    printf("narrow-return accumulation: %ld\n", acc);

    printf("to_float: %.9g %.9g %.9g\n", (double)to_float(0.1), (double)to_float(1e38 * 3), (double)to_float(-1.0 / 3));
    printf("forwarding: %.17g %.17g\n", fwd1(1.5f, 10, 3, 0.25, -2.0), fwd1(-0.5f, -7, 11, 100.0, 1e-3));
    return 0;
}
