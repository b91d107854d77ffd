// Stencil: explicit heat diffusion with the 7-point stencil on an n^3 grid
// with fixed (Dirichlet) boundary values, ping-ponging between two arrays.
// Usage: stencil S|W|A [-r]
#include "kernel.h"

#define NCK 2

static const int sizes[3] = {64, 128, 256};
static const int steps[3] = {100, 120, 700};

static const double reference[3][NCK] = {
    {13378.684646529584, 107025.16666808208},
    {59980.26561153186, 479824.71978929674},
    {609070.73186928337, 4872567.6444325028},
};

#define IDX(m, i, j, k) ((((size_t)(i) * (m)) + (size_t)(j)) * (m) + (size_t)(k))

// dst = src + nu * (neighbours - 6 src) over the interior.
static void sweep(double *restrict dst, const double *restrict src, int n)
{
    const double nu = 1.0 / 8.0;
    size_t m = (size_t)n + 2, sj = m, si = m * m;
    for (int i = 1; i <= n; i++)
        for (int j = 1; j <= n; j++) {
            const double *s = &src[IDX(m, i, j, 0)];
            double *d = &dst[IDX(m, i, j, 0)];
            for (int k = 1; k <= n; k++)
                d[k] = s[k] + nu * (s[k - 1] + s[k + 1] + s[k - sj] + s[k + sj] + s[k - si] +
                                    s[k + si] - 6.0 * s[k]);
        }
}

static void checksums(const double *a, int n, double *ck)
{
    size_t m = (size_t)n + 2;
    double sum = 0, weighted = 0;
    for (int i = 1; i <= n; i++)
        for (int j = 1; j <= n; j++)
            for (int k = 1; k <= n; k++) {
                double v = a[IDX(m, i, j, k)];
                sum += v;
                weighted += v * (double)((i * 7 + j * 3 + k) % 17);
            }
    ck[0] = sum;
    ck[1] = weighted;
}

int main(int argc, char **argv)
{
    int c = kernel_class(argc, argv, "stencil");
    int n = sizes[c];
    size_t m = (size_t)n + 2, cells = m * m * m;
    double *a = xmalloc(cells * sizeof *a), *b = xmalloc(cells * sizeof *b);
    // A hot face at i = 0, a warm edge line, and a smooth interior field.
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < m; j++)
            for (size_t k = 0; k < m; k++) {
                double v = 0.25 * sin(0.05 * (double)(i + 2 * j)) * cos(0.03 * (double)k);
                if (i == 0) v = 1.0;
                else if (j == 0 && k == 0) v = 0.5;
                a[IDX(m, i, j, k)] = v;
            }
    memcpy(b, a, cells * sizeof *a);
    for (int t = 0; t < steps[c]; t += 2) {
        sweep(b, a, n);
        sweep(a, b, n);
    }
    double ck[NCK];
    checksums(a, n, ck);
    return kernel_report("stencil", c, argc, argv, ck, reference[c], NCK, 1e-9);
}
