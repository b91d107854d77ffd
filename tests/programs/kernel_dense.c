// Dense double-precision kernels: naive and cache-blocked matrix multiply
// (compared against each other), LU factorisation with partial pivoting
// and a triangular solve, Jacobi iteration and power iteration. Prints
// checksums with limited digits plus intermediate values.
// Usage: kernel_dense [N]   matrix size, default 200 (cost grows as N^3).
#include <stdio.h>
#include <stdlib.h>
#include <math.h>

#define BLOCK 32

static double *mat(int n)
{
    double *m = calloc((size_t)n * (size_t)n, sizeof *m);
    if (!m) { fprintf(stderr, "out of memory\n"); exit(1); }
    return m;
}

/* Deterministic pseudo-random entries in [-1, 1) (inexact in binary, so
   rounding is exercised), plus `diag` on the diagonal. */
static void init(double *a, int n, unsigned seed, double diag)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            unsigned h = (unsigned)i * 2654435761u ^ ((unsigned)j * 40503u + seed * 97u);
            h ^= h >> 15; h *= 2246822519u; h ^= h >> 13;
            a[i * n + j] = (double)(h % 2000u) / 999.0 - 1.0 + (i == j ? diag : 0.0);
        }
}

static void matmul_naive(const double *a, const double *b, double *c, int n)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) c[i * n + j] = 0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < n; k++) {
            double aik = a[i * n + k];
            for (int j = 0; j < n; j++) c[i * n + j] += aik * b[k * n + j];
        }
}

static void matmul_blocked(const double *a, const double *b, double *c, int n)
{
    for (int i = 0; i < n * n; i++) c[i] = 0;
    for (int ii = 0; ii < n; ii += BLOCK)
        for (int kk = 0; kk < n; kk += BLOCK)
            for (int jj = 0; jj < n; jj += BLOCK) {
                int ie = ii + BLOCK < n ? ii + BLOCK : n;
                int ke = kk + BLOCK < n ? kk + BLOCK : n;
                int je = jj + BLOCK < n ? jj + BLOCK : n;
                for (int i = ii; i < ie; i++)
                    for (int k = kk; k < ke; k++) {
                        double aik = a[i * n + k];
                        for (int j = jj; j < je; j++) c[i * n + j] += aik * b[k * n + j];
                    }
            }
}

static double checksum(const double *a, int n)
{
    double s = 0;
    for (int i = 0; i < n * n; i++) s += a[i] * (double)((i % 7) + 1);
    return s;
}

/* In-place LU with partial pivoting; returns the number of row swaps. */
static int lu_factor(double *a, int *piv, int n)
{
    int swaps = 0;
    for (int k = 0; k < n; k++) {
        int p = k;
        for (int i = k + 1; i < n; i++)
            if (fabs(a[i * n + k]) > fabs(a[p * n + k])) p = i;
        piv[k] = p;
        if (p != k) {
            swaps++;
            for (int j = 0; j < n; j++) { double t = a[k * n + j]; a[k * n + j] = a[p * n + j]; a[p * n + j] = t; }
        }
        for (int i = k + 1; i < n; i++) {
            double l = a[i * n + k] /= a[k * n + k];
            for (int j = k + 1; j < n; j++) a[i * n + j] -= l * a[k * n + j];
        }
    }
    return swaps;
}

static void lu_solve(const double *lu, const int *piv, double *x, int n)
{
    for (int k = 0; k < n; k++)
        if (piv[k] != k) { double t = x[k]; x[k] = x[piv[k]]; x[piv[k]] = t; }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++) x[i] -= lu[i * n + j] * x[j];
    for (int i = n - 1; i >= 0; i--) {
        for (int j = i + 1; j < n; j++) x[i] -= lu[i * n + j] * x[j];
        x[i] /= lu[i * n + i];
    }
}

static void matvec(const double *a, const double *x, double *y, int n)
{
    for (int i = 0; i < n; i++) {
        double s = 0;
        for (int j = 0; j < n; j++) s += a[i * n + j] * x[j];
        y[i] = s;
    }
}

static double norm2(const double *v, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++) s += v[i] * v[i];
    return sqrt(s);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 200;
    if (n < 8 || n > 4000) { fprintf(stderr, "size must be in 8..4000\n"); return 2; }
    printf("kernel_dense n=%d\n", n);

    double *a = mat(n), *b = mat(n), *c1 = mat(n), *c2 = mat(n);
    init(a, n, 1, 0.0);
    init(b, n, 2, 0.0);
    matmul_naive(a, b, c1, n);
    matmul_blocked(a, b, c2, n);
    double maxdiff = 0;
    for (int i = 0; i < n * n; i++) {
        double d = fabs(c1[i] - c2[i]);
        if (d > maxdiff) maxdiff = d;
    }
    printf("matmul checksum naive %.10e blocked %.10e max|diff| %.3e\n", checksum(c1, n),
           checksum(c2, n), maxdiff);
    printf("C[0][0]=%.12g C[n/2][n/3]=%.12g C[n-1][n-1]=%.12g\n", c2[0], c2[(n / 2) * n + n / 3],
           c2[n * n - 1]);

    /* Solve A x = A * ones, so x should come back as all ones. */
    double *lu = mat(n), *x = malloc(sizeof *x * (size_t)n), *ones = malloc(sizeof *ones * (size_t)n);
    double *r = malloc(sizeof *r * (size_t)n);
    int *piv = malloc(sizeof *piv * (size_t)n);
    if (!x || !ones || !r || !piv) return 1;
    for (int i = 0; i < n; i++) ones[i] = 1.0;
    for (int i = 0; i < n * n; i++) lu[i] = a[i];
    matvec(a, ones, x, n);
    int swaps = lu_factor(lu, piv, n);
    lu_solve(lu, piv, x, n);
    double logdet = 0, maxerr = 0;
    int negative = swaps % 2;
    for (int i = 0; i < n; i++) {
        logdet += log(fabs(lu[i * n + i]));
        if (lu[i * n + i] < 0) negative ^= 1;
        if (fabs(x[i] - 1) > maxerr) maxerr = fabs(x[i] - 1);
    }
    printf("LU: %d row swaps, sign(det)=%c, log|det|=%.8f, max|x-1|=%.2e\n", swaps, negative ? '-' : '+',
           logdet, maxerr);
    printf("U[0][0]=%.12g U[n-1][n-1]=%.12g L[n-1][0]=%.12g\n", lu[0], lu[n * n - 1], lu[(n - 1) * n]);

    /* Jacobi iteration converges with a strong enough diagonal. */
    init(a, n, 3, 1.5 * sqrt((double)n));
    double *xj = calloc((size_t)n, sizeof *xj), *xn = calloc((size_t)n, sizeof *xn), *bb = malloc(sizeof *bb * (size_t)n);
    if (!xj || !xn || !bb) return 1;
    matvec(a, ones, bb, n);
    for (int it = 1; it <= 60; it++) {
        for (int i = 0; i < n; i++) {
            double s = bb[i];
            for (int j = 0; j < n; j++) if (j != i) s -= a[i * n + j] * xj[j];
            xn[i] = s / a[i * n + i];
        }
        double *t = xj; xj = xn; xn = t;
        if (it % 10 == 0) {
            matvec(a, xj, r, n);
            for (int i = 0; i < n; i++) r[i] -= bb[i];
            printf("jacobi iter %2d: residual %.6e x[0]=%.10f\n", it, norm2(r, n), xj[0]);
        }
    }

    /* Power iteration: the growth factor |Ax| tends to the dominant eigenvalue. */
    for (int i = 0; i < n; i++) x[i] = 1.0 / (i + 1);
    double lambda = 0;
    for (int it = 1; it <= 40; it++) {
        matvec(a, x, r, n);
        double nr = norm2(r, n);
        for (int i = 0; i < n; i++) x[i] = r[i] / nr;
        lambda = nr;
        if (it % 8 == 0) printf("power iter %2d: |Ax| %.10f\n", it, lambda);
    }

    free(a); free(b); free(c1); free(c2); free(lu); free(x); free(ones); free(r); free(piv);
    free(xj); free(xn); free(bb);
    return 0;
}
