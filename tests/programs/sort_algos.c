// Hand-written sorting algorithms (insertion, shell, heap, top-down merge,
// introspective-style quicksort, LSD radix, counting) run on several input
// shapes; each result is checked against the others, and the number of
// comparisons each algorithm made is printed (it is a deterministic
// function of the algorithm and input, so any miscompiled branch shows).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

static unsigned long cmps;
static int less(uint32_t a, uint32_t b) { cmps++; return a < b; }

static void insertion(uint32_t *a, int n)
{
    for (int i = 1; i < n; i++) {
        uint32_t v = a[i];
        int j = i - 1;
        while (j >= 0 && less(v, a[j])) { a[j + 1] = a[j]; j--; }
        a[j + 1] = v;
    }
}

static void shell(uint32_t *a, int n)
{
    static const int gaps[] = { 701, 301, 132, 57, 23, 10, 4, 1 };   /* Ciura */
    for (int g = 0; g < 8; g++) {
        int gap = gaps[g];
        for (int i = gap; i < n; i++) {
            uint32_t v = a[i];
            int j = i;
            while (j >= gap && less(v, a[j - gap])) { a[j] = a[j - gap]; j -= gap; }
            a[j] = v;
        }
    }
}

static void sift_down(uint32_t *a, int start, int end)
{
    int root = start;
    while (2 * root + 1 <= end) {
        int child = 2 * root + 1, swap = root;
        if (less(a[swap], a[child])) swap = child;
        if (child + 1 <= end && less(a[swap], a[child + 1])) swap = child + 1;
        if (swap == root) return;
        uint32_t t = a[root]; a[root] = a[swap]; a[swap] = t;
        root = swap;
    }
}

static void heapsort_(uint32_t *a, int n)
{
    for (int s = (n - 2) / 2; s >= 0; s--) sift_down(a, s, n - 1);
    for (int end = n - 1; end > 0; end--) {
        uint32_t t = a[0]; a[0] = a[end]; a[end] = t;
        sift_down(a, 0, end - 1);
    }
}

static void merge_rec(uint32_t *a, uint32_t *tmp, int lo, int hi)
{
    if (hi - lo < 2) return;
    int mid = lo + (hi - lo) / 2;
    merge_rec(a, tmp, lo, mid);
    merge_rec(a, tmp, mid, hi);
    int i = lo, j = mid, k = lo;
    while (i < mid && j < hi) tmp[k++] = less(a[j], a[i]) ? a[j++] : a[i++];
    while (i < mid) tmp[k++] = a[i++];
    while (j < hi) tmp[k++] = a[j++];
    memcpy(a + lo, tmp + lo, sizeof *a * (size_t)(hi - lo));
}

static void mergesort_(uint32_t *a, int n)
{
    uint32_t *tmp = malloc(sizeof *a * (size_t)n);
    if (!tmp) exit(1);
    merge_rec(a, tmp, 0, n);
    free(tmp);
}

/* Quicksort with median-of-three, falling back to heapsort when too deep
   and to insertion sort for small ranges. */
static void quick_rec(uint32_t *a, int lo, int hi, int depth)
{
    while (hi - lo > 16) {
        if (depth-- == 0) { heapsort_(a + lo, hi - lo); return; }
        int mid = lo + (hi - lo) / 2;
        if (less(a[mid], a[lo])) { uint32_t t = a[mid]; a[mid] = a[lo]; a[lo] = t; }
        if (less(a[hi - 1], a[lo])) { uint32_t t = a[hi - 1]; a[hi - 1] = a[lo]; a[lo] = t; }
        if (less(a[hi - 1], a[mid])) { uint32_t t = a[hi - 1]; a[hi - 1] = a[mid]; a[mid] = t; }
        uint32_t pivot = a[mid];
        int i = lo, j = hi - 1;
        for (;;) {
            while (less(a[i], pivot)) i++;
            while (less(pivot, a[j])) j--;
            if (i >= j) break;
            uint32_t t = a[i]; a[i] = a[j]; a[j] = t;
            i++; j--;
        }
        /* Recurse into the smaller side, loop on the larger. */
        if (j + 1 - lo < hi - j - 1) { quick_rec(a, lo, j + 1, depth); lo = j + 1; }
        else { quick_rec(a, j + 1, hi, depth); hi = j + 1; }
    }
    insertion(a + lo, hi - lo);
}

static void quicksort_(uint32_t *a, int n) { quick_rec(a, 0, n, 2 * 20); }

static void radix(uint32_t *a, int n)
{
    uint32_t *tmp = malloc(sizeof *a * (size_t)n);
    if (!tmp) exit(1);
    for (int shift = 0; shift < 32; shift += 8) {
        int count[257] = { 0 };
        for (int i = 0; i < n; i++) count[((a[i] >> shift) & 0xFF) + 1]++;
        for (int b = 0; b < 256; b++) count[b + 1] += count[b];
        for (int i = 0; i < n; i++) tmp[count[(a[i] >> shift) & 0xFF]++] = a[i];
        memcpy(a, tmp, sizeof *a * (size_t)n);
    }
    free(tmp);
}

static void counting(uint32_t *a, int n)
{
    /* Only valid for small keys; callers mask the input below 65536. */
    static int count[65536];
    memset(count, 0, sizeof count);
    for (int i = 0; i < n; i++) count[a[i]]++;
    int k = 0;
    for (uint32_t v = 0; v < 65536; v++)
        for (int c = 0; c < count[v]; c++) a[k++] = v;
}

static uint64_t rng = 0x853c49e6748fea9bULL;
static uint32_t next_rand(void)
{
    uint64_t old = rng;
    rng = old * 6364136223846793005ULL + 1442695040888963407ULL;
    uint32_t x = (uint32_t)(((old >> 18) ^ old) >> 27);
    unsigned rot = (unsigned)(old >> 59);
    return (x >> rot) | (x << ((32 - rot) & 31));   /* PCG32 */
}

int main(void)
{
    enum { N = 6000 };
    static uint32_t input[N], work[N], reference[N];
    static const char *const shapes[] = { "random", "sorted", "reversed", "equal", "sawtooth", "few-distinct", "organ-pipe" };
    static const struct { const char *name; void (*fn)(uint32_t *, int); int quadratic; } algos[] = {
        { "insertion", insertion, 1 }, { "shell", shell, 0 }, { "heap", heapsort_, 0 }, { "merge", mergesort_, 0 },
        { "quick", quicksort_, 0 }, { "radix", radix, 0 }, { "counting", counting, 0 },
    };
    for (int s = 0; s < 7; s++) {
        for (int i = 0; i < N; i++) {
            uint32_t r = next_rand() & 0xFFFF;
            switch (s) {
            case 0: input[i] = r; break;
            case 1: input[i] = (uint32_t)i * 7; break;
            case 2: input[i] = (uint32_t)(N - i) * 3; break;
            case 3: input[i] = 42; break;
            case 4: input[i] = (uint32_t)(i % 100) * 13; break;
            case 5: input[i] = r % 4; break;
            default: input[i] = (uint32_t)(i < N / 2 ? i : N - i); break;
            }
        }
        memcpy(reference, input, sizeof input);
        mergesort_(reference, N);
        uint64_t h = 0;
        for (int i = 0; i < N; i++) h = h * 1000003 + reference[i];
        printf("%-12s min=%u median=%u max=%u hash=%llu\n", shapes[s], reference[0], reference[N / 2],
               reference[N - 1], (unsigned long long)h);
        for (size_t a = 0; a < sizeof algos / sizeof algos[0]; a++) {
            int n = algos[a].quadratic && s != 1 && s != 3 ? N / 4 : N;
            memcpy(work, input, sizeof input);
            cmps = 0;
            algos[a].fn(work, n);
            int ok;
            if (n == N) ok = memcmp(work, reference, sizeof work) == 0;
            else {
                ok = 1;
                for (int i = 1; i < n; i++) if (work[i - 1] > work[i]) ok = 0;
            }
            printf("  %-10s n=%5d %s comparisons=%lu\n", algos[a].name, n, ok ? "ok " : "BAD", cmps);
        }
    }
    return 0;
}
