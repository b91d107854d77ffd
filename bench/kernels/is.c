// IS: integer sort of keys with a bell-shaped distribution (mean of four
// uniform deviates). Every iteration changes two keys, ranks all keys by a
// bucket pass followed by per-bucket counting, and records the ranks of a few
// probe keys; the last iteration also places every key and checks the order.
// Usage: is S|W|A [-r]
#include "kernel.h"

#define NPROBE 5
#define NCK 3

static const int keys_log[3] = {20, 23, 25};
static const int maxkey_log[3] = {16, 19, 21};
static const int iterations[3] = {20, 20, 200};
#define BUCKETS_LOG 10

static const double reference[3][NCK] = {
    {118792176, 1973724357, 1211299871},
    {1365887449, 3213790382, 3321350865},
    {74360085258, 3938227555, 1317298904},
};

static void generate(uint32_t *key, size_t n, uint32_t maxkey)
{
    double k4 = maxkey / 4.0;
    for (size_t i = 0; i < n; i++) {
        double x = uniform();
        x += uniform();
        x += uniform();
        x += uniform();
        key[i] = (uint32_t)(k4 * x);
    }
}

struct sorter {
    size_t n;
    int shift; // key >> shift is the bucket
    uint32_t maxkey;
    uint32_t *key, *buf;
    size_t *bucket_start; // BUCKETS + 1 entries
    uint32_t *rank_of;    // maxkey entries: number of keys smaller than a value
};

// Ranks all keys: buckets by the high bits, then counts values inside each bucket.
static void rank_keys(struct sorter *s)
{
    size_t nb = (size_t)1 << BUCKETS_LOG;
    size_t *start = s->bucket_start;
    memset(start, 0, (nb + 1) * sizeof *start);
    for (size_t i = 0; i < s->n; i++) start[(s->key[i] >> s->shift) + 1]++;
    for (size_t b = 0; b < nb; b++) start[b + 1] += start[b];
    size_t *fill = xmalloc(nb * sizeof *fill);
    memcpy(fill, start, nb * sizeof *fill);
    for (size_t i = 0; i < s->n; i++) {
        uint32_t k = s->key[i];
        s->buf[fill[k >> s->shift]++] = k;
    }
    free(fill);
    memset(s->rank_of, 0, s->maxkey * sizeof *s->rank_of);
    uint32_t width = (uint32_t)1 << s->shift;
    for (size_t b = 0; b < nb; b++) {
        uint32_t lo = (uint32_t)b << s->shift;
        uint32_t *count = s->rank_of + lo;
        for (size_t i = start[b]; i < start[b + 1]; i++) count[s->buf[i] - lo]++;
        // Exclusive prefix sum: rank_of[v] = keys below v.
        uint32_t acc = (uint32_t)start[b];
        for (uint32_t v = 0; v < width; v++) {
            uint32_t c = count[v];
            count[v] = acc;
            acc += c;
        }
    }
}

// Places every key at its rank and checks the result is sorted and a permutation.
static int full_verify(struct sorter *s, uint64_t *hash)
{
    uint32_t *out = s->buf;
    uint32_t *next = s->rank_of;
    uint64_t sum_in = 0, sum_out = 0;
    for (size_t i = 0; i < s->n; i++) {
        uint32_t k = s->key[i];
        out[next[k]++] = k;
        sum_in += k;
    }
    uint64_t h = 1469598103934665603u;
    int ok = 1;
    for (size_t i = 0; i < s->n; i++) {
        if (i && out[i - 1] > out[i]) ok = 0;
        sum_out += out[i];
        h = (h ^ out[i]) * 1099511628211u;
    }
    *hash = h;
    return ok && sum_in == sum_out;
}

int main(int argc, char **argv)
{
    int c = kernel_class(argc, argv, "is");
    struct sorter s;
    s.n = (size_t)1 << keys_log[c];
    s.maxkey = (uint32_t)1 << maxkey_log[c];
    s.shift = maxkey_log[c] - BUCKETS_LOG;
    s.key = xmalloc(s.n * sizeof *s.key);
    s.buf = xmalloc(s.n * sizeof *s.buf);
    s.bucket_start = xmalloc((((size_t)1 << BUCKETS_LOG) + 1) * sizeof *s.bucket_start);
    s.rank_of = xmalloc(s.maxkey * sizeof *s.rank_of);
    generate(s.key, s.n, s.maxkey);

    size_t probe[NPROBE];
    for (int p = 0; p < NPROBE; p++) probe[p] = (size_t)(uniform() * (double)s.n);
    int iters = iterations[c];
    uint64_t rank_sum = 0;
    for (int it = 1; it <= iters; it++) {
        s.key[it] = (uint32_t)it;
        s.key[it + iters] = s.maxkey - (uint32_t)it;
        rank_keys(&s);
        for (int p = 0; p < NPROBE; p++) rank_sum += (uint64_t)(p + 1) * s.rank_of[s.key[probe[p]]];
    }
    uint64_t hash;
    int sorted = full_verify(&s, &hash);
    // The hash as two exact 32-bit halves, so doubles carry it without rounding.
    double ck[NCK] = {(double)rank_sum, (double)(hash >> 32), (double)(hash & 0xffffffffu)};
    if (!sorted) {
        printf("is %c keys are not sorted FAILED\n", kernel_classes[c]);
        return 1;
    }
    return kernel_report("is", c, argc, argv, ck, reference[c], NCK, 0.0);
}
