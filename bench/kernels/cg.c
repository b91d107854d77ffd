// CG: inverse power iteration for the smallest eigenvalue of a random sparse
// symmetric positive definite matrix; each outer step solves A z = x with a
// fixed number of unpreconditioned conjugate gradient iterations.
// The matrix (CSR) is generated from a 46-bit LCG: random symmetric pattern,
// diagonal = row sum of off-diagonal magnitudes + shift.
// Usage: cg S|W|A [-r]
#include "kernel.h"

#define CG_ITERS 25
#define SHIFT 10.0
#define NCK 2

static const int rows_log[3] = {13, 15, 18};
static const int per_row[3] = {8, 12, 14};
static const int outer[3] = {15, 35, 60};

static const double reference[3][NCK] = {
    {12.061442917623278, 3.0243700577476035e-16},
    {12.648485065118372, 3.0071376138278982e-16},
    {12.42651709393674, 4.80742598533444e-16},
};

struct csr {
    int n;
    int *rowptr, *col;
    double *val;
};

// Insertion sort of one row by column; rows hold a few dozen entries.
static void sort_row(int *col, double *val, int n)
{
    for (int i = 1; i < n; i++) {
        int c = col[i];
        double v = val[i];
        int j = i;
        for (; j > 0 && col[j - 1] > c; j--) {
            col[j] = col[j - 1];
            val[j] = val[j - 1];
        }
        col[j] = c;
        val[j] = v;
    }
}

static struct csr generate(int n, int k)
{
    // Coordinates of a random symmetric pattern plus the diagonal.
    size_t cap = (size_t)n * (size_t)k * 2 + (size_t)n;
    int *er = xmalloc(cap * sizeof *er), *ec = xmalloc(cap * sizeof *ec);
    double *ev = xmalloc(cap * sizeof *ev);
    size_t m = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < k; j++) {
            int c = (int)(uniform() * n);
            if (c == i) continue;
            double v = uniform() - 0.5;
            er[m] = i, ec[m] = c, ev[m++] = v;
            er[m] = c, ec[m] = i, ev[m++] = v;
        }
    for (int i = 0; i < n; i++) er[m] = i, ec[m] = i, ev[m++] = 0.0;

    // Counting sort by row into CSR order.
    struct csr a;
    a.n = n;
    int *start = xmalloc(((size_t)n + 1) * sizeof *start);
    memset(start, 0, ((size_t)n + 1) * sizeof *start);
    for (size_t t = 0; t < m; t++) start[er[t] + 1]++;
    for (int i = 0; i < n; i++) start[i + 1] += start[i];
    a.col = xmalloc(m * sizeof *a.col);
    a.val = xmalloc(m * sizeof *a.val);
    int *fill = xmalloc((size_t)n * sizeof *fill);
    memcpy(fill, start, (size_t)n * sizeof *fill);
    for (size_t t = 0; t < m; t++) {
        int p = fill[er[t]]++;
        a.col[p] = ec[t];
        a.val[p] = ev[t];
    }
    free(fill);
    free(er);
    free(ec);
    free(ev);

    // Sort each row, merge duplicates (compacting in place), make rows diagonally dominant.
    a.rowptr = xmalloc(((size_t)n + 1) * sizeof *a.rowptr);
    int out = 0;
    for (int i = 0; i < n; i++) {
        int lo = start[i], hi = start[i + 1];
        sort_row(a.col + lo, a.val + lo, hi - lo);
        a.rowptr[i] = out;
        for (int t = lo; t < hi; t++) {
            if (out > a.rowptr[i] && a.col[out - 1] == a.col[t]) {
                a.val[out - 1] += a.val[t];
            } else {
                a.col[out] = a.col[t];
                a.val[out] = a.val[t];
                out++;
            }
        }
        int diag = a.rowptr[i];
        double magnitude = 0;
        for (int t = a.rowptr[i]; t < out; t++) {
            if (a.col[t] == i) diag = t;
            else magnitude += fabs(a.val[t]);
        }
        a.val[diag] = magnitude + SHIFT;
    }
    a.rowptr[n] = out;
    free(start);
    return a;
}

static void spmv(const struct csr *a, const double *x, double *y)
{
    for (int i = 0; i < a->n; i++) {
        double s = 0;
        for (int k = a->rowptr[i]; k < a->rowptr[i + 1]; k++) s += a->val[k] * x[a->col[k]];
        y[i] = s;
    }
}

static double dot(const double *x, const double *y, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++) s += x[i] * y[i];
    return s;
}

// z = A^-1 x approximately; returns ||x - A z||.
static double solve(const struct csr *a, const double *x, double *z, double *r, double *p,
                    double *q)
{
    int n = a->n;
    memset(z, 0, (size_t)n * sizeof *z);
    memcpy(r, x, (size_t)n * sizeof *r);
    memcpy(p, x, (size_t)n * sizeof *p);
    double rho = dot(r, r, n);
    for (int it = 0; it < CG_ITERS; it++) {
        spmv(a, p, q);
        double alpha = rho / dot(p, q, n);
        for (int i = 0; i < n; i++) {
            z[i] += alpha * p[i];
            r[i] -= alpha * q[i];
        }
        double rho_new = dot(r, r, n);
        double beta = rho_new / rho;
        rho = rho_new;
        for (int i = 0; i < n; i++) p[i] = r[i] + beta * p[i];
    }
    spmv(a, z, q);
    double s = 0;
    for (int i = 0; i < n; i++) {
        double d = x[i] - q[i];
        s += d * d;
    }
    return sqrt(s);
}

int main(int argc, char **argv)
{
    int c = kernel_class(argc, argv, "cg");
    struct csr a = generate(1 << rows_log[c], per_row[c]);
    int n = a.n;
    double *x = xmalloc((size_t)n * sizeof *x), *z = xmalloc((size_t)n * sizeof *z);
    double *r = xmalloc((size_t)n * sizeof *r), *p = xmalloc((size_t)n * sizeof *p);
    double *q = xmalloc((size_t)n * sizeof *q);
    for (int i = 0; i < n; i++) x[i] = 1.0;
    double zeta = 0, rnorm = 0;
    for (int step = 0; step < outer[c]; step++) {
        rnorm = solve(&a, x, z, r, p, q);
        double xz = dot(x, z, n);
        zeta = 1.0 / xz;
        double scale = 1.0 / sqrt(dot(z, z, n));
        for (int i = 0; i < n; i++) x[i] = scale * z[i];
    }
    double ck[NCK] = {zeta, rnorm};
    return kernel_report("cg", c, argc, argv, ck, reference[c], NCK, 1e-9);
}
