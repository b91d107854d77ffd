// Heap churn: malloc/calloc/realloc/free/aligned_alloc driven by our own
// PRNG, over 1.25 GiB requested in total while live memory stays below
// 128 MiB. Every block carries a byte pattern derived from its seed, which
// is re-checked before each realloc/free (fully for small blocks, at the
// ends and at a prime stride that touches every page for large ones), and
// calloc memory is checked to be zero before use.
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#define SLOTS 6000
#define LIVE_LIMIT (128u << 20)
#define TOTAL_TARGET (1250ull << 20)
#define STRIDE 4093   /* prime < page size: every page of a block is checked */

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static uint64_t next_rand(void)
{
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return rng;
}

static unsigned char pattern(uint32_t seed, size_t i)
{
    return (unsigned char)(seed * 31u + (uint32_t)i * 7u + (uint32_t)(i >> 8));
}

/* Calls fn on every offset we check for a block of n bytes. */
#define FOR_CHECKED(n, i, body)                                                   \
    do {                                                                          \
        if ((n) <= 8192) { for (size_t i = 0; i < (n); i++) { body; } }          \
        else {                                                                    \
            for (size_t i = 0; i < 64; i++) { body; }                             \
            for (size_t i = 64; i < (n) - 64; i += STRIDE) { body; }              \
            for (size_t i = (n) - 64; i < (n); i++) { body; }                     \
        }                                                                         \
    } while (0)

struct slot { unsigned char *p; size_t size; uint32_t seed; };
static struct slot slots[SLOTS];
static size_t live, peak_live, max_block;
static unsigned long long total, bad_bytes, misaligned;
static unsigned long n_malloc, n_calloc, n_realloc, n_free, n_aligned;

static void fill(struct slot *s)
{
    FOR_CHECKED(s->size, i, s->p[i] = pattern(s->seed, i));
}

static void verify(const struct slot *s, size_t limit)
{
    FOR_CHECKED(s->size, i, if (i < limit && s->p[i] != pattern(s->seed, i)) bad_bytes++);
}

static size_t random_size(void)
{
    uint64_t r = next_rand() % 1000;
    if (r < 700) return 1 + next_rand() % 1024;               /* small */
    if (r < 970) return 1024 + next_rand() % (64 << 10);      /* medium */
    if (r < 999) return (64 << 10) + next_rand() % (1 << 20); /* large */
    return (1 << 20) + next_rand() % (16 << 20);              /* huge */
}

static void release(struct slot *s)
{
    verify(s, s->size);
    free(s->p);
    n_free++;
    live -= s->size;
    s->p = NULL;
    s->size = 0;
}

static void check_align(const void *p, size_t align)
{
    if ((uintptr_t)p % align) misaligned++;
}

static void out_of_memory(size_t n)
{
    printf("allocation of %zu bytes failed\n", n);
    exit(1);
}

int main(void)
{
    unsigned long long ops = 0;
    while (total < TOTAL_TARGET) {
        struct slot *s = &slots[next_rand() % SLOTS];
        size_t n = random_size();
        ops++;
        if (s->p && next_rand() % 3 == 0) {
            /* realloc: the common prefix must survive the move. */
            while (live - s->size + n > LIVE_LIMIT) {
                struct slot *v = &slots[next_rand() % SLOTS];
                if (v->p && v != s) release(v);
            }
            unsigned char *q = realloc(s->p, n);
            if (!q) out_of_memory(n);
            n_realloc++;
            size_t keep = s->size < n ? s->size : n;
            s->p = q;
            verify(s, keep);
            live = live - s->size + n;
            s->size = n;
            s->seed = (uint32_t)next_rand();
            fill(s);
        } else {
            if (s->p) release(s);
            while (live + n > LIVE_LIMIT) {
                struct slot *v = &slots[next_rand() % SLOTS];
                if (v->p) release(v);
            }
            int kind = (int)(next_rand() % 10);
            if (kind < 2) {
                s->p = calloc(1, n);
                if (!s->p) out_of_memory(n);
                n_calloc++;
                FOR_CHECKED(n, i, if (s->p[i]) bad_bytes++);
                check_align(s->p, _Alignof(max_align_t));
            } else if (kind < 3) {
                size_t rounded = (n + 63) & ~(size_t)63;   /* aligned_alloc wants a multiple */
                s->p = aligned_alloc(64, rounded);
                if (!s->p) out_of_memory(n);
                n_aligned++;
                check_align(s->p, 64);
            } else {
                s->p = malloc(n);
                if (!s->p) out_of_memory(n);
                n_malloc++;
                check_align(s->p, _Alignof(max_align_t));
            }
            s->size = n;
            s->seed = (uint32_t)next_rand();
            live += n;
            fill(s);
        }
        total += n;
        if (live > peak_live) peak_live = live;
        if (n > max_block) max_block = n;
        if (ops % 20000 == 0)
            printf("ops %llu: requested %llu MiB, live %zu KiB\n", ops, total >> 20, live >> 10);
    }
    for (int i = 0; i < SLOTS; i++)
        if (slots[i].p) release(&slots[i]);

    /* Many tiny nodes in a linked list, freed in a different order. */
    struct node { struct node *next; unsigned v; } *head = NULL;
    for (unsigned i = 0; i < 200000; i++) {
        struct node *nd = malloc(sizeof *nd);
        if (!nd) out_of_memory(sizeof *nd);
        nd->v = i * 2654435761u;
        nd->next = head;
        head = nd;
    }
    unsigned long long sum = 0;
    struct node *evens = NULL;
    while (head) {   /* free odd positions now, the rest afterwards */
        struct node *nd = head;
        head = nd->next;
        sum += nd->v;
        if (nd->v & 1) free(nd);
        else { nd->next = evens; evens = nd; }
    }
    while (evens) { struct node *nd = evens; evens = nd->next; free(nd); }

    /* Grow one buffer byte by byte with realloc, as naive string builders do. */
    char *sb = NULL;
    size_t len = 0;
    for (int i = 0; i < 100000; i++) {
        char *t = realloc(sb, len + 2);
        if (!t) out_of_memory(len + 2);
        sb = t;
        sb[len++] = (char)('a' + i % 26);
        sb[len] = '\0';
    }
    unsigned long long sbsum = 0;
    for (size_t i = 0; i < len; i++) sbsum = sbsum * 131 + (unsigned char)sb[i];
    free(sb);
    free(NULL);   /* allowed, does nothing */

    printf("ops=%llu total=%llu MiB peak_live=%zu MiB max_block=%zu\n", ops, total >> 20,
           peak_live >> 20, max_block);
    printf("malloc=%lu calloc=%lu realloc=%lu aligned_alloc=%lu free=%lu\n", n_malloc, n_calloc,
           n_realloc, n_aligned, n_free);
    printf("bad bytes=%llu misaligned=%llu live at end=%zu\n", bad_bytes, misaligned, live);
    printf("list sum=%llu string builder len=%zu hash=%llu\n", sum, len, sbsum);
    return bad_bytes || misaligned ? 1 : 0;
}
