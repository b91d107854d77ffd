// Tree: allocation- and pointer-heavy work. Each round builds, checks and
// frees many binary trees of several depths beside one long-lived tree, then
// builds a linked list of random records, merge-sorts it by relinking, walks
// it and frees it, and churns a chained hash table (insert, look up, delete).
// Usage: tree S|W|A [-r]
#include "kernel.h"

#define MIN_DEPTH 4
#define NCK 3

static const int max_depth[3] = {10, 14, 16};
static const int rounds[3] = {2, 3, 24};
static const int list_log[3] = {13, 17, 18};

static const double reference[3][NCK] = {
    {8166, 44748310, 55142248},
    {196569, 55081845, 33076056},
    {6291144, 25393358, 23795817},
};

static uint64_t state = 314159265;

static uint64_t next_random(void)
{
    state = (state * MULT) & MASK46;
    return state;
}

struct node {
    struct node *left, *right;
    int64_t value;
};

static struct node *build(int depth, int64_t value)
{
    struct node *t = xmalloc(sizeof *t);
    t->value = value;
    if (depth > 0) {
        t->left = build(depth - 1, 2 * value);
        t->right = build(depth - 1, 2 * value + 1);
    } else {
        t->left = t->right = NULL;
    }
    return t;
}

// Node count plus a position-sensitive mix of the values.
static int64_t check(const struct node *t)
{
    if (!t->left) return 1 + (t->value & 3);
    return 1 + (t->value & 3) + check(t->left) - check(t->right) / 2;
}

static void destroy(struct node *t)
{
    if (t->left) {
        destroy(t->left);
        destroy(t->right);
    }
    free(t);
}

struct record {
    struct record *next;
    uint64_t key;
    char payload[16];
};

static struct record *merge(struct record *a, struct record *b)
{
    struct record head, *tail = &head;
    while (a && b) {
        if (b->key < a->key) {
            tail->next = b;
            b = b->next;
        } else {
            tail->next = a;
            a = a->next;
        }
        tail = tail->next;
    }
    tail->next = a ? a : b;
    return head.next;
}

// Bottom-up merge sort: runs of doubling length, relinked in place.
static struct record *sort_list(struct record *list, size_t n)
{
    for (size_t width = 1; width < n; width *= 2) {
        struct record head = {list, 0, {0}}, *tail = &head;
        struct record *rest = list;
        while (rest) {
            struct record *a = rest, *b, *end = a;
            for (size_t i = 1; i < width && end->next; i++) end = end->next;
            b = end->next;
            end->next = NULL;
            end = b;
            for (size_t i = 1; i < width && end && end->next; i++) end = end->next;
            if (end) {
                rest = end->next;
                end->next = NULL;
            } else {
                rest = NULL;
            }
            tail->next = merge(a, b);
            while (tail->next) tail = tail->next;
        }
        list = head.next;
    }
    return list;
}

static uint64_t list_round(size_t n)
{
    struct record *list = NULL;
    for (size_t i = 0; i < n; i++) {
        struct record *r = xmalloc(sizeof *r);
        r->key = next_random();
        memset(r->payload, (int)(r->key & 0x7f), sizeof r->payload);
        r->next = list;
        list = r;
    }
    list = sort_list(list, n);
    uint64_t h = 1469598103934665603u, previous = 0;
    size_t seen = 0;
    for (struct record *r = list; r; r = r->next) {
        if (r->key < previous) return 0; // not sorted: poisons the checksum
        previous = r->key;
        h = (h ^ (r->key + (uint64_t)r->payload[seen & 15])) * 1099511628211u;
        seen++;
    }
    while (list) {
        struct record *next = list->next;
        free(list);
        list = next;
    }
    return seen == n ? h : 0;
}

struct entry {
    struct entry *next;
    uint64_t key, count;
};

// Keys come from the high bits: low bits of a power-of-two LCG have short periods.
// Inserts n keys drawn from a range of n/2 (so many repeat), then deletes the
// keys of a second stream that are present; returns a digest of what remains.
static uint64_t hash_round(size_t n)
{
    size_t buckets = n / 4;
    struct entry **table = calloc(buckets, sizeof *table);
    if (!table) exit(1);
    for (size_t i = 0; i < n; i++) {
        uint64_t key = (next_random() >> 20) % (n / 2);
        struct entry **slot = &table[(key * 0x9E3779B97F4A7C15u >> 17) % buckets], *e;
        for (e = *slot; e && e->key != key; e = e->next) {
        }
        if (e) {
            e->count++;
        } else {
            e = xmalloc(sizeof *e);
            *e = (struct entry){*slot, key, 1};
            *slot = e;
        }
    }
    for (size_t i = 0; i < n / 2; i++) {
        uint64_t key = (next_random() >> 20) % (n / 2);
        struct entry **slot = &table[(key * 0x9E3779B97F4A7C15u >> 17) % buckets];
        while (*slot && (*slot)->key != key) slot = &(*slot)->next;
        if (*slot) {
            struct entry *dead = *slot;
            *slot = dead->next;
            free(dead);
        }
    }
    uint64_t digest = 0;
    for (size_t b = 0; b < buckets; b++) {
        struct entry *e = table[b];
        while (e) {
            struct entry *next = e->next;
            digest += (e->key * 2654435761u) ^ e->count;
            free(e);
            e = next;
        }
    }
    free(table);
    return digest;
}

int main(int argc, char **argv)
{
    int c = kernel_class(argc, argv, "tree");
    int depth = max_depth[c];
    struct node *long_lived = build(depth, 1);
    int64_t tree_sum = 0;
    uint64_t list_digest = 0, hash_digest = 0;
    size_t list_n = (size_t)1 << list_log[c];
    for (int r = 0; r < rounds[c]; r++) {
        for (int d = MIN_DEPTH; d <= depth; d += 2) {
            int count = 1 << (depth - d + MIN_DEPTH);
            for (int i = 0; i < count; i++) {
                struct node *t = build(d, i + r);
                tree_sum += check(t);
                destroy(t);
            }
        }
        tree_sum += check(long_lived);
        list_digest ^= list_round(list_n) + (uint64_t)r;
        hash_digest += hash_round(list_n);
    }
    destroy(long_lived);
    // Digests as exact 26-bit pieces so the doubles carry them unrounded.
    double ck[NCK] = {(double)tree_sum, (double)((list_digest ^ (list_digest >> 26)) & 0x3ffffff),
                      (double)((hash_digest ^ (hash_digest >> 26)) & 0x3ffffff)};
    return kernel_report("tree", c, argc, argv, ck, reference[c], NCK, 0.0);
}
