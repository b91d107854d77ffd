// MG: V-cycle multigrid for the periodic 3-D Poisson problem -lap(u) = f on an
// n^3 grid (7-point operator, damped Jacobi smoothing, full-weighting
// restriction, trilinear prolongation). f is +1 at ten and -1 at ten points
// chosen by a 46-bit LCG, so it has zero mean. Grids carry one ghost layer
// that periodic copies refresh.
// Usage: mg S|W|A [-r]
#include "kernel.h"

#define COARSEST 4
#define OMEGA (2.0 / 3.0)
#define NCK 2

static const int size_log[3] = {6, 7, 8};
static const int cycles[3] = {8, 12, 60};

static const double reference[3][NCK] = {
    {2.3949371503190928e-07, 1.8084875761587485e-06},
    {1.2515383548857058e-09, 2.2582499537526385e-07},
    {8.6775517607704847e-19, 2.8112168293440242e-08},
};

// One level: n^3 interior points in an (n+2)^3 array.
struct level {
    int n;
    double *u, *f, *r;
};

#define IDX(n, i, j, k) ((((size_t)(i) * ((n) + 2)) + (size_t)(j)) * ((n) + 2) + (size_t)(k))

// Refreshes the ghost layer from the opposite faces; later axes copy earlier
// ghosts too, so edges and corners come out right.
static void periodic(double *a, int n)
{
    int m = n + 2;
    for (int i = 1; i <= n; i++)
        for (int j = 1; j <= n; j++) {
            a[IDX(n, i, j, 0)] = a[IDX(n, i, j, n)];
            a[IDX(n, i, j, n + 1)] = a[IDX(n, i, j, 1)];
        }
    for (int i = 1; i <= n; i++) {
        memcpy(&a[IDX(n, i, 0, 0)], &a[IDX(n, i, n, 0)], (size_t)m * sizeof *a);
        memcpy(&a[IDX(n, i, n + 1, 0)], &a[IDX(n, i, 1, 0)], (size_t)m * sizeof *a);
    }
    memcpy(&a[IDX(n, 0, 0, 0)], &a[IDX(n, n, 0, 0)], (size_t)m * m * sizeof *a);
    memcpy(&a[IDX(n, n + 1, 0, 0)], &a[IDX(n, 1, 0, 0)], (size_t)m * m * sizeof *a);
}

// r = f - A u, with A u = (6 u - neighbours) * h^-2 and h = 1/n.
static void residual(struct level *l)
{
    int n = l->n;
    size_t sj = (size_t)n + 2, si = sj * sj;
    double h2 = (double)n * n;
    for (int i = 1; i <= n; i++)
        for (int j = 1; j <= n; j++) {
            const double *u = &l->u[IDX(n, i, j, 0)];
            const double *f = &l->f[IDX(n, i, j, 0)];
            double *r = &l->r[IDX(n, i, j, 0)];
            for (int k = 1; k <= n; k++) {
                double nb = u[k - 1] + u[k + 1] + u[k - sj] + u[k + sj] + u[k - si] + u[k + si];
                r[k] = f[k] - (6.0 * u[k] - nb) * h2;
            }
        }
    periodic(l->r, n);
}

// Damped Jacobi: u += omega * r / diag, using the residual just computed.
static void smooth(struct level *l, int sweeps)
{
    int n = l->n;
    double scale = OMEGA / (6.0 * (double)n * n);
    for (int s = 0; s < sweeps; s++) {
        residual(l);
        for (int i = 1; i <= n; i++)
            for (int j = 1; j <= n; j++) {
                double *u = &l->u[IDX(n, i, j, 0)];
                const double *r = &l->r[IDX(n, i, j, 0)];
                for (int k = 1; k <= n; k++) u[k] += scale * r[k];
            }
        periodic(l->u, n);
    }
}

// Coarse f = full-weighting restriction (27-point, weights 8/4/2/1 over 64) of fine r.
static void restrict_residual(const struct level *fine, struct level *coarse)
{
    int n = coarse->n, nf = fine->n;
    size_t sj = (size_t)nf + 2, si = sj * sj;
    for (int i = 1; i <= n; i++)
        for (int j = 1; j <= n; j++)
            for (int k = 1; k <= n; k++) {
                const double *r = &fine->r[IDX(nf, 2 * i - 1, 2 * j - 1, 2 * k - 1)];
                double centre = r[0];
                double faces = r[-1] + r[1] + r[-sj] + r[sj] + r[-si] + r[si];
                double edges = r[-1 - sj] + r[1 - sj] + r[-1 + sj] + r[1 + sj] + r[-1 - si] +
                               r[1 - si] + r[-1 + si] + r[1 + si] + r[-sj - si] + r[sj - si] +
                               r[-sj + si] + r[sj + si];
                double corners = r[-1 - sj - si] + r[1 - sj - si] + r[-1 + sj - si] +
                                 r[1 + sj - si] + r[-1 - sj + si] + r[1 - sj + si] +
                                 r[-1 + sj + si] + r[1 + sj + si];
                coarse->f[IDX(n, i, j, k)] =
                    (8.0 * centre + 4.0 * faces + 2.0 * edges + corners) * (1.0 / 64.0);
            }
    periodic(coarse->f, n);
}

// Fine u += trilinear interpolation of coarse u. Coarse point c sits at fine
// 2c-1; an even fine index lies halfway to c+1 (d = 1), an odd one on c (d = 0,
// so both terms of its average are the same point).
static void prolong(const struct level *coarse, struct level *fine)
{
    int n = coarse->n, nf = fine->n;
    for (int i = 1; i <= nf; i++) {
        int ci = (i + 1) / 2, di = 1 - (i & 1);
        for (int j = 1; j <= nf; j++) {
            int cj = (j + 1) / 2, dj = 1 - (j & 1);
            const double *c00 = &coarse->u[IDX(n, ci, cj, 0)];
            const double *c01 = &coarse->u[IDX(n, ci, cj + dj, 0)];
            const double *c10 = &coarse->u[IDX(n, ci + di, cj, 0)];
            const double *c11 = &coarse->u[IDX(n, ci + di, cj + dj, 0)];
            double *u = &fine->u[IDX(nf, i, j, 0)];
            for (int k = 1; k <= nf; k++) {
                int ck = (k + 1) / 2, dk = 1 - (k & 1);
                double a = c00[ck] + c01[ck] + c10[ck] + c11[ck];
                double b = c00[ck + dk] + c01[ck + dk] + c10[ck + dk] + c11[ck + dk];
                u[k] += 0.125 * (a + b);
            }
        }
    }
    periodic(fine->u, nf);
}

static void vcycle(struct level *levels, int l, int depth)
{
    struct level *here = &levels[l];
    if (l == depth - 1) {
        smooth(here, 8);
        return;
    }
    smooth(here, 2);
    residual(here);
    struct level *below = &levels[l + 1];
    restrict_residual(here, below);
    memset(below->u, 0, sizeof(double) * IDX(below->n, below->n + 2, 0, 0));
    vcycle(levels, l + 1, depth);
    prolong(below, here);
    smooth(here, 2);
}

static double norm(const double *a, int n)
{
    double s = 0;
    for (int i = 1; i <= n; i++)
        for (int j = 1; j <= n; j++)
            for (int k = 1; k <= n; k++) s += a[IDX(n, i, j, k)] * a[IDX(n, i, j, k)];
    return sqrt(s / ((double)n * n * n));
}

int main(int argc, char **argv)
{
    int c = kernel_class(argc, argv, "mg");
    int n = 1 << size_log[c];
    int depth = 0;
    for (int m = n; m >= COARSEST; m /= 2) depth++;
    struct level levels[16];
    for (int l = 0, m = n; l < depth; l++, m /= 2) {
        size_t cells = IDX(m, m + 2, 0, 0);
        levels[l] = (struct level){m, xcalloc(cells * 8), xcalloc(cells * 8), xcalloc(cells * 8)};
    }
    struct level *top = &levels[0];
    for (int sign = 1; sign >= -1; sign -= 2)
        for (int p = 0; p < 10; p++) {
            int i = 1 + (int)(uniform() * n), j = 1 + (int)(uniform() * n);
            int k = 1 + (int)(uniform() * n);
            top->f[IDX(n, i, j, k)] += sign;
        }
    periodic(top->f, n);
    for (int cycle = 0; cycle < cycles[c]; cycle++) vcycle(levels, 0, depth);
    residual(top);
    double ck[NCK] = {norm(top->r, n), norm(top->u, n)};
    return kernel_report("mg", c, argc, argv, ck, reference[c], NCK, 1e-9);
}
