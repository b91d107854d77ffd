// Sparse kernels on a CSR matrix: assembling the 5-point Laplacian of a
// G x G grid, sparse matrix-vector products, an unpreconditioned and a
// Jacobi-preconditioned conjugate gradient solve, and repeated SpMV on an
// irregular pseudo-random sparse matrix (with a transpose built by
// counting sort). Prints residual histories and checksums.
// Usage: kernel_sparse [G]   grid side, default 64 (cost grows ~ G^3).
#include <stdio.h>
#include <stdlib.h>
#include <math.h>

struct csr { int n, nnz; int *rowptr, *col; double *val; };

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) { fprintf(stderr, "out of memory\n"); exit(1); }
    return p;
}

static struct csr laplacian(int g)
{
    struct csr m;
    m.n = g * g;
    m.rowptr = xmalloc(sizeof(int) * (size_t)(m.n + 1));
    m.col = xmalloc(sizeof(int) * (size_t)m.n * 5);
    m.val = xmalloc(sizeof(double) * (size_t)m.n * 5);
    int k = 0;
    for (int y = 0; y < g; y++)
        for (int x = 0; x < g; x++) {
            int row = y * g + x;
            m.rowptr[row] = k;
            /* Columns in increasing order: up, left, centre, right, down. */
            if (y > 0) { m.col[k] = row - g; m.val[k++] = -1; }
            if (x > 0) { m.col[k] = row - 1; m.val[k++] = -1; }
            m.col[k] = row; m.val[k++] = 4.0 + 0.01 * ((x * 3 + y * 5) % 7);
            if (x < g - 1) { m.col[k] = row + 1; m.val[k++] = -1; }
            if (y < g - 1) { m.col[k] = row + g; m.val[k++] = -1; }
        }
    m.rowptr[m.n] = k;
    m.nnz = k;
    return m;
}

static void spmv(const struct csr *m, const double *x, double *y)
{
    for (int i = 0; i < m->n; i++) {
        double s = 0;
        for (int k = m->rowptr[i]; k < m->rowptr[i + 1]; k++) s += m->val[k] * x[m->col[k]];
        y[i] = s;
    }
}

static double dot(const double *a, const double *b, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* Conjugate gradient; with precond != 0 uses the inverse diagonal. */
static int cg(const struct csr *m, const double *b, double *x, int precond, int max_it, double tol)
{
    int n = m->n;
    double *r = xmalloc(sizeof(double) * (size_t)n), *z = xmalloc(sizeof(double) * (size_t)n);
    double *p = xmalloc(sizeof(double) * (size_t)n), *ap = xmalloc(sizeof(double) * (size_t)n);
    double *dinv = xmalloc(sizeof(double) * (size_t)n);
    for (int i = 0; i < n; i++) {
        for (int k = m->rowptr[i]; k < m->rowptr[i + 1]; k++)
            if (m->col[k] == i) dinv[i] = precond ? 1.0 / m->val[k] : 1.0;
        x[i] = 0;
        r[i] = b[i];
        z[i] = dinv[i] * r[i];
        p[i] = z[i];
    }
    double rz = dot(r, z, n), bnorm = sqrt(dot(b, b, n));
    int it;
    for (it = 1; it <= max_it; it++) {
        spmv(m, p, ap);
        double alpha = rz / dot(p, ap, n);
        for (int i = 0; i < n; i++) { x[i] += alpha * p[i]; r[i] -= alpha * ap[i]; }
        double rel = sqrt(dot(r, r, n)) / bnorm;
        if (it % 25 == 0 || rel < tol) printf("  %s iter %4d: relative residual %.6e\n",
                                              precond ? "pcg" : " cg", it, rel);
        if (rel < tol) break;
        for (int i = 0; i < n; i++) z[i] = dinv[i] * r[i];
        double rz_new = dot(r, z, n);
        double beta = rz_new / rz;
        rz = rz_new;
        for (int i = 0; i < n; i++) p[i] = z[i] + beta * p[i];
    }
    free(r); free(z); free(p); free(ap); free(dinv);
    return it;
}

static unsigned rng = 12345u;
static unsigned next_rand(void) { rng = rng * 1664525u + 1013904223u; return rng >> 8; }

/* Irregular matrix: each row gets 1..16 entries in distinct sorted columns. */
static struct csr random_sparse(int n)
{
    struct csr m;
    m.n = n;
    m.rowptr = xmalloc(sizeof(int) * (size_t)(n + 1));
    m.col = xmalloc(sizeof(int) * (size_t)n * 16);
    m.val = xmalloc(sizeof(double) * (size_t)n * 16);
    int k = 0;
    for (int i = 0; i < n; i++) {
        m.rowptr[i] = k;
        int cnt = 1 + (int)(next_rand() % 16), c = (int)(next_rand() % 7);
        for (int e = 0; e < cnt && c < n; e++) {
            m.col[k] = c;
            m.val[k++] = ((int)(next_rand() % 2001) - 1000) / 256.0;
            c += 1 + (int)(next_rand() % (unsigned)(2 * n / cnt + 1));
        }
    }
    m.rowptr[n] = k;
    m.nnz = k;
    return m;
}

static struct csr transpose(const struct csr *a)
{
    struct csr t;
    t.n = a->n;
    t.nnz = a->nnz;
    t.rowptr = calloc((size_t)a->n + 1, sizeof(int));
    t.col = xmalloc(sizeof(int) * (size_t)a->nnz);
    t.val = xmalloc(sizeof(double) * (size_t)a->nnz);
    if (!t.rowptr) exit(1);
    for (int k = 0; k < a->nnz; k++) t.rowptr[a->col[k] + 1]++;
    for (int i = 0; i < a->n; i++) t.rowptr[i + 1] += t.rowptr[i];
    int *next = xmalloc(sizeof(int) * (size_t)a->n);
    for (int i = 0; i < a->n; i++) next[i] = t.rowptr[i];
    for (int i = 0; i < a->n; i++)
        for (int k = a->rowptr[i]; k < a->rowptr[i + 1]; k++) {
            int dst = next[a->col[k]]++;
            t.col[dst] = i;
            t.val[dst] = a->val[k];
        }
    free(next);
    return t;
}

static void free_csr(struct csr *m) { free(m->rowptr); free(m->col); free(m->val); }

int main(int argc, char **argv)
{
    int g = argc > 1 ? atoi(argv[1]) : 64;
    if (g < 4 || g > 3000) { fprintf(stderr, "grid size must be in 4..3000\n"); return 2; }
    struct csr a = laplacian(g);
    printf("kernel_sparse: grid %dx%d, n=%d, nnz=%d\n", g, g, a.n, a.nnz);

    double *b = xmalloc(sizeof(double) * (size_t)a.n), *x = xmalloc(sizeof(double) * (size_t)a.n);
    double *chk = xmalloc(sizeof(double) * (size_t)a.n);
    /* Only + - * / and sqrt below: results do not depend on libm accuracy. */
    for (int i = 0; i < a.n; i++) b[i] = ((i * 37) % 101) / 50.0 + ((i * 7) % 11) / 10.0;
    for (int pc = 0; pc <= 1; pc++) {
        int its = cg(&a, b, x, pc, 20 * g, 1e-10);
        spmv(&a, x, chk);
        double err = 0, sx = 0;
        for (int i = 0; i < a.n; i++) { err = fmax(err, fabs(chk[i] - b[i])); sx += x[i]; }
        printf("%s: %d iterations, max|Ax-b| %.3e, sum(x) %.10f, x[n/2] %.10f\n",
               pc ? "preconditioned CG" : "plain CG", its, err, sx, x[a.n / 2]);
    }

    /* Irregular matrix: y = A x and z = A^T y, repeated. */
    int n = a.n;
    struct csr r = random_sparse(n), rt = transpose(&r);
    printf("random sparse: n=%d nnz=%d, transpose nnz=%d\n", n, r.nnz, rt.nnz);
    for (int i = 0; i < n; i++) x[i] = 1.0 / (1 + i % 13);
    for (int rep = 1; rep <= 10; rep++) {
        spmv(&r, x, chk);
        spmv(&rt, chk, x);
        double nrm = sqrt(dot(x, x, n));
        for (int i = 0; i < n; i++) x[i] /= nrm;
        if (rep % 2 == 0) printf("  A^T A power step %2d: norm %.10e x[0]=%.10f\n", rep, nrm, x[0]);
    }
    /* Check (A x) . y == x . (A^T y) for unrelated vectors. */
    for (int i = 0; i < n; i++) { b[i] = (i % 5) - 2.0; x[i] = (i % 3) * 0.5; }
    spmv(&r, x, chk);
    double lhs = dot(chk, b, n);
    spmv(&rt, b, chk);
    double rhs = dot(x, chk, n);
    printf("adjoint check: %.10e vs %.10e\n", lhs, rhs);

    free_csr(&a); free_csr(&r); free_csr(&rt);
    free(b); free(x); free(chk);
    return 0;
}
