// Less common control flow and storage: variable-length arrays (including
// 2-D VLA parameters and sizeof on a VLA), alloca, goto-based cleanup and
// loops, switch fall-through (Duff's device), dense and sparse switch
// tables, static locals that keep state across calls, _Generic,
// _Static_assert, _Alignas and compound literals.
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <alloca.h>
#include <stdalign.h>

_Static_assert(sizeof(int) == 4, "corpus assumes 32-bit int");

/* 2-D VLA parameter: the row length is a run-time value. */
static long trace_product(int n, int m, const int a[n][m], const int b[m][n])
{
    long tr = 0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < m; k++) tr += (long)a[i][k] * b[k][i];
    return tr;
}

static void vla_demo(int n)
{
    int m = n + 2;
    int a[n][m], b[m][n];
    for (int i = 0; i < n; i++)
        for (int j = 0; j < m; j++) { a[i][j] = i * m + j - 5; b[j][i] = (i + 1) * (j % 3 - 1); }
    double v[n * 2];
    for (int i = 0; i < n * 2; i++) v[i] = i * 0.5;
    printf("vla n=%d: sizeof a=%zu sizeof v=%zu trace=%ld last v=%g\n", n, sizeof a, sizeof v,
           trace_product(n, m, a, b), v[n * 2 - 1]);
}

/* alloca'd scratch lives until the function returns. */
static int count_distinct(const int *vals, int n)
{
    unsigned char *seen = alloca((size_t)n * 4 + 1);
    memset(seen, 0, (size_t)n * 4 + 1);
    int distinct = 0;
    for (int i = 0; i < n; i++) {
        int v = vals[i] % (n * 4 + 1);
        if (!seen[v]) { seen[v] = 1; distinct++; }
    }
    return distinct;
}

static char *reversed_words(const char *s)
{
    size_t len = strlen(s);
    char *tmp = alloca(len + 1);
    char *out = malloc(len + 1);
    if (!out) return NULL;
    size_t o = 0, end = len;
    memcpy(tmp, s, len + 1);
    while (end > 0) {
        size_t start = end;
        while (start > 0 && tmp[start - 1] != ' ') start--;
        memcpy(out + o, tmp + start, end - start);
        o += end - start;
        if (start > 0) out[o++] = ' ';
        end = start ? start - 1 : 0;
    }
    out[o] = '\0';
    return out;
}

/* goto-based cleanup: each failure point releases what was acquired so far. */
static int pipeline(int fail_at)
{
    int status = -1;
    char *a = NULL, *b = NULL, *c = NULL;
    a = malloc(16);
    if (!a) goto out;
    if (fail_at == 1) goto free_a;
    strcpy(a, "stage-a");
    b = malloc(32);
    if (!b) goto free_a;
    if (fail_at == 2) goto free_b;
    snprintf(b, 32, "%s+b", a);
    c = malloc(64);
    if (!c) goto free_b;
    if (fail_at == 3) goto free_c;
    snprintf(c, 64, "%s+c", b);
    printf("pipeline completed: %s\n", c);
    status = 0;
free_c:
    free(c);
free_b:
    free(b);
free_a:
    free(a);
out:
    if (status) printf("pipeline failed at step %d, cleaned up\n", fail_at);
    return status;
}

/* Duff's device: copy with an unrolled loop entered mid-way. */
static void duff_copy(short *to, const short *from, int count)
{
    if (count <= 0) return;
    int n = (count + 7) / 8;
    switch (count % 8) {
    case 0: do { *to++ = *from++;
    case 7:      *to++ = *from++;
    case 6:      *to++ = *from++;
    case 5:      *to++ = *from++;
    case 4:      *to++ = *from++;
    case 3:      *to++ = *from++;
    case 2:      *to++ = *from++;
    case 1:      *to++ = *from++;
            } while (--n > 0);
    }
}

/* A sparse switch (compilers use a search) and a dense one (a jump table). */
static const char *http_reason(int code)
{
    switch (code) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 418: return "I'm a teapot";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return code >= 100 && code < 600 ? "(unlisted)" : "(invalid)";
    }
}

static int dense(int x)
{
    int r = 0;
    switch (x) {
    case 0: r += 1;            /* fall through */
    case 1: r += 10; break;
    case 2: r = 200; break;
    case 3: case 4: r = 34; break;
    case 5: r = -5;            /* fall through */
    case 6: r *= 6; break;
    case 7: r = 7777; break;
    case 8: return 8;
    case 9: r = dense(x - 9) + 900; break;
    default: r = -1;
    }
    return r;
}

/* Static locals keep their values between calls. */
static int next_id(void) { static int id = 100; return id++; }
static long fib_memo(int n)
{
    static long memo[93];   /* persists: the second call below is a lookup */
    if (n < 2) return n;
    if (memo[n]) return memo[n];
    return memo[n] = fib_memo(n - 1) + fib_memo(n - 2);
}

#define TYPE_NAME(x) _Generic((x), int: "int", long: "long", double: "double", float: "float", \
                              char *: "char*", const char *: "const char*", default: "other")

int main(void)
{
    for (int n = 1; n <= 7; n += 3) vla_demo(n);

    int vals[50];
    for (int i = 0; i < 50; i++) vals[i] = (i * i * 7 + 3) % 61;
    printf("distinct values: %d\n", count_distinct(vals, 50));
    char *rw = reversed_words("alloca makes scratch space on the stack");
    printf("reversed words: %s\n", rw);
    free(rw);

    for (int f = 0; f <= 3; f++) pipeline(f);

    /* goto as a loop with a retry counter. */
    int attempts = 0, value = 1;
retry:
    attempts++;
    value = value * 3 + 1;
    if (value % 7 != 0 && attempts < 20) goto retry;
    printf("goto loop: %d attempts, value %d\n", attempts, value);

    short src[37], dst[37];
    for (int count = 0; count <= 37; count += 9) {
        for (int i = 0; i < 37; i++) { src[i] = (short)(i * 11 - 100); dst[i] = 0; }
        duff_copy(dst, src, count);
        int same = 0;
        for (int i = 0; i < 37; i++) same += dst[i] == (i < count ? src[i] : 0);
        printf("duff_copy(%d): %d of 37 correct\n", count, same);
    }

    int codes[] = { 200, 204, 302, 404, 418, 503, 599, 99, 700 };
    for (int i = 0; i < 9; i++) printf("%d %s\n", codes[i], http_reason(codes[i]));
    printf("dense:");
    for (int x = -1; x <= 10; x++) printf(" %d", dense(x));
    printf("\n");

    int a = next_id(), b = next_id(), c = next_id();
    printf("ids %d %d %d\n", a, b, c);
    long f90 = fib_memo(90);
    printf("fib_memo(90) = %ld, fib_memo(50) = %ld\n", f90, fib_memo(50));

    printf("_Generic: %s %s %s %s %s %s\n", TYPE_NAME(1), TYPE_NAME(1L), TYPE_NAME(1.0), TYPE_NAME(1.0f),
           TYPE_NAME((const char *)"s"), TYPE_NAME('c'));

    alignas(64) unsigned char block[128];
    memset(block, 0xAB, sizeof block);
    printf("alignof(max_align_t) >= alignof(double): %d, block aligned to 64: %d\n",
           alignof(max_align_t) >= alignof(double), (int)((uintptr_t)(void *)block % 64 == 0));

    /* Compound literals: an array and a struct built in place. */
    int *sq = (int[]){ 1, 4, 9, 16, 25 };
    struct pt { int x, y; } *p = &(struct pt){ .y = 7, .x = -2 };
    printf("compound literals: %d %d %d\n", sq[2] + sq[4], p->x, p->y);
    int table[10] = { [2] = 5, [7] = 9, [4] = -1 };
    printf("designated:");
    for (int i = 0; i < 10; i++) printf(" %d", table[i]);
    printf("\n");
    return 0;
}
