// FT: spectral solution of the 3-D heat equation. Random complex initial data
// (46-bit LCG) is transformed forward once; every time step multiplies the
// spectrum by exp(-4 pi^2 alpha |k|^2), transforms it back and sums 1024
// sampled points. Radix-2 FFTs along each axis; strided axes are gathered
// into a contiguous block of lines first.
// Usage: ft S|W|A [-r]
#include "kernel.h"

#define ALPHA 1e-6
#define PI 3.14159265358979323846
#define LINES 16 // strided lines transformed together
#define NCK 2

// log2 of nx (contiguous), ny, nz, and the number of time steps.
static const int dims_log[3][3] = {{6, 6, 5}, {7, 7, 6}, {8, 8, 7}};
static const int steps[3] = {6, 16, 70};

static const double reference[3][NCK] = {
    {3033.5914914188711, 2876.8268021518998},
    {8116.063610140146, 8210.0166186932856},
    {35826.071694964725, 35811.271090997798},
};

typedef struct {
    double re, im;
} cplx;

// Twiddles for an n-point transform: w[k] = exp(-2 pi i k / n), k < n/2.
static cplx *twiddles(int n)
{
    cplx *w = xmalloc((size_t)(n / 2 > 0 ? n / 2 : 1) * sizeof *w);
    for (int k = 0; k < n / 2; k++) {
        double a = -2.0 * PI * (double)k / (double)n;
        w[k] = (cplx){cos(a), sin(a)};
    }
    return w;
}

// In-place iterative radix-2 transform of `count` lines of length n, each
// contiguous, lines `n` apart. sign = -1 forward, +1 inverse (unnormalised).
static void fft_lines(cplx *a, int n, int count, const cplx *w, int sign)
{
    for (int line = 0; line < count; line++) {
        cplx *x = a + (size_t)line * n;
        for (int i = 1, j = 0; i < n; i++) {
            int bit = n >> 1;
            for (; j & bit; bit >>= 1) j ^= bit;
            j |= bit;
            if (i < j) {
                cplx t = x[i];
                x[i] = x[j];
                x[j] = t;
            }
        }
        for (int len = 2; len <= n; len <<= 1) {
            int half = len >> 1, stride = n / len;
            for (int start = 0; start < n; start += len)
                for (int k = 0; k < half; k++) {
                    cplx t = w[k * stride];
                    double wi = sign < 0 ? t.im : -t.im;
                    cplx *p = &x[start + k], *q = &x[start + k + half];
                    double re = q->re * t.re - q->im * wi;
                    double im = q->re * wi + q->im * t.re;
                    q->re = p->re - re;
                    q->im = p->im - im;
                    p->re += re;
                    p->im += im;
                }
        }
    }
}

struct grid {
    int nx, ny, nz;
    cplx *wx, *wy, *wz;
    cplx *scratch; // LINES * max(ny, nz)
};

// Transforms along one strided axis: element (line l, position p) is at
// base + l * lstride + p * pstride for l < nlines.
static void fft_strided(cplx *base, int n, size_t pstride, int nlines, size_t lstride,
                        const cplx *w, cplx *scratch, int sign)
{
    for (int l0 = 0; l0 < nlines; l0 += LINES) {
        int m = nlines - l0 < LINES ? nlines - l0 : LINES;
        for (int p = 0; p < n; p++)
            for (int l = 0; l < m; l++)
                scratch[(size_t)l * n + p] = base[(size_t)(l0 + l) * lstride + (size_t)p * pstride];
        fft_lines(scratch, n, m, w, sign);
        for (int p = 0; p < n; p++)
            for (int l = 0; l < m; l++)
                base[(size_t)(l0 + l) * lstride + (size_t)p * pstride] = scratch[(size_t)l * n + p];
    }
}

// 3-D transform in place; layout a[z][y][x].
static void fft3d(struct grid *g, cplx *a, int sign)
{
    size_t plane = (size_t)g->nx * g->ny;
    fft_lines(a, g->nx, g->ny * g->nz, g->wx, sign);
    for (int z = 0; z < g->nz; z++)
        fft_strided(a + (size_t)z * plane, g->ny, (size_t)g->nx, g->nx, 1, g->wy, g->scratch, sign);
    for (int y = 0; y < g->ny; y++)
        fft_strided(a + (size_t)y * g->nx, g->nz, plane, g->nx, 1, g->wz, g->scratch, sign);
}

static int wrap(int k, int n)
{
    return k < n / 2 ? k : k - n;
}

static void evolve(cplx *dst, const cplx *src, const double *factor, size_t total)
{
    for (size_t i = 0; i < total; i++) {
        dst[i].re = src[i].re * factor[i];
        dst[i].im = src[i].im * factor[i];
    }
}

int main(int argc, char **argv)
{
    int c = kernel_class(argc, argv, "ft");
    struct grid g;
    g.nx = 1 << dims_log[c][0];
    g.ny = 1 << dims_log[c][1];
    g.nz = 1 << dims_log[c][2];
    g.wx = twiddles(g.nx);
    g.wy = twiddles(g.ny);
    g.wz = twiddles(g.nz);
    g.scratch = xmalloc((size_t)LINES * (size_t)(g.ny > g.nz ? g.ny : g.nz) * sizeof(cplx));
    size_t total = (size_t)g.nx * g.ny * g.nz;
    cplx *spectrum = xmalloc(total * sizeof *spectrum);
    cplx *work = xmalloc(total * sizeof *work);
    double *factor = xmalloc(total * sizeof *factor);
    for (size_t i = 0; i < total; i++) {
        double re = uniform();
        spectrum[i] = (cplx){re, uniform()};
    }
    // One step's decay; the spectrum accumulates it step by step.
    for (int z = 0; z < g.nz; z++)
        for (int y = 0; y < g.ny; y++)
            for (int x = 0; x < g.nx; x++) {
                double kx = wrap(x, g.nx), ky = wrap(y, g.ny), kz = wrap(z, g.nz);
                factor[((size_t)z * g.ny + y) * g.nx + x] =
                    exp(-4.0 * ALPHA * PI * PI * (kx * kx + ky * ky + kz * kz));
            }
    fft3d(&g, spectrum, -1);
    double scale = 1.0 / (double)total;
    cplx sum = {0, 0};
    for (int t = 1; t <= steps[c]; t++) {
        evolve(spectrum, spectrum, factor, total);
        memcpy(work, spectrum, total * sizeof *work);
        fft3d(&g, work, 1);
        for (int j = 1; j <= 1024; j++) {
            int x = j % g.nx, y = (3 * j) % g.ny, z = (5 * j) % g.nz;
            cplx v = work[((size_t)z * g.ny + y) * g.nx + x];
            sum.re += v.re * scale;
            sum.im += v.im * scale;
        }
    }
    double ck[NCK] = {sum.re, sum.im};
    return kernel_report("ft", c, argc, argv, ck, reference[c], NCK, 1e-9);
}
