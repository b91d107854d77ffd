// A string-keyed hash table of our own: FNV-1a hashing, open addressing
// with linear probing, tombstones on delete, growth by rehashing. Runs
// 60,000 inserts, lookups, deletes and re-inserts, checks everything
// against a brute-force shadow array, and prints statistics plus a sorted
// dump of part of the contents (table order is never printed directly).
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <limits.h>

struct entry { char *key; long value; uint32_t hash; };
struct table { struct entry *slots; size_t cap, used, tombs; unsigned long probes, rehashes; };

static char TOMBSTONE[] = "<deleted>";

static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static void table_init(struct table *t, size_t cap)
{
    t->slots = calloc(cap, sizeof *t->slots);
    if (!t->slots) exit(1);
    t->cap = cap;
    t->used = t->tombs = 0;
}

/* Returns the slot holding key, or the best empty slot for it. */
static struct entry *find_slot(struct table *t, const char *key, uint32_t h, int *found)
{
    size_t i = h & (t->cap - 1);
    struct entry *first_tomb = NULL;
    for (;;) {
        struct entry *e = &t->slots[i];
        t->probes++;
        if (!e->key) { *found = 0; return first_tomb ? first_tomb : e; }
        if (e->key == TOMBSTONE) { if (!first_tomb) first_tomb = e; }
        else if (e->hash == h && strcmp(e->key, key) == 0) { *found = 1; return e; }
        i = (i + 1) & (t->cap - 1);
    }
}

static void table_grow(struct table *t)
{
    struct table n;
    table_init(&n, t->cap * 2);
    n.probes = t->probes;
    n.rehashes = t->rehashes + 1;
    for (size_t i = 0; i < t->cap; i++) {
        struct entry *e = &t->slots[i];
        if (e->key && e->key != TOMBSTONE) {
            int found;
            *find_slot(&n, e->key, e->hash, &found) = *e;
            n.used++;
        }
    }
    free(t->slots);
    *t = n;
}

static void table_put(struct table *t, const char *key, long value)
{
    if ((t->used + t->tombs + 1) * 4 > t->cap * 3) table_grow(t);
    uint32_t h = fnv1a(key);
    int found;
    struct entry *e = find_slot(t, key, h, &found);
    if (found) { e->value = value; return; }
    if (e->key == TOMBSTONE) t->tombs--;
    e->key = strdup(key);
    if (!e->key) exit(1);
    e->value = value;
    e->hash = h;
    t->used++;
}

static struct entry *table_get(struct table *t, const char *key)
{
    int found;
    struct entry *e = find_slot(t, key, fnv1a(key), &found);
    return found ? e : NULL;
}

static int table_del(struct table *t, const char *key)
{
    struct entry *e = table_get(t, key);
    if (!e) return 0;
    free(e->key);
    e->key = TOMBSTONE;
    t->used--;
    t->tombs++;
    return 1;
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const struct entry *)a)->key, ((const struct entry *)b)->key);
}

#define N 60000
static long shadow[N];          /* expected value per key index, ABSENT if deleted */
#define ABSENT LONG_MIN

static void make_key(char *buf, size_t size, int i)
{
    /* Mixed shapes: short, long, shared prefixes, punctuation. */
    switch (i % 4) {
    case 0: snprintf(buf, size, "k%d", i); break;
    case 1: snprintf(buf, size, "user/%05d/profile", i); break;
    case 2: snprintf(buf, size, "%x-%d-%c", (unsigned)i * 2654435761u, i % 97, 'a' + i % 26); break;
    default: snprintf(buf, size, "long key number %d with a tail that is fairly long indeed", i); break;
    }
}

int main(void)
{
    struct table t;
    table_init(&t, 16);
    t.probes = t.rehashes = 0;
    char key[96];
    for (int i = 0; i < N; i++) {
        make_key(key, sizeof key, i);
        table_put(&t, key, (long)i * 3 - 7);
        shadow[i] = (long)i * 3 - 7;
    }
    printf("after inserts: used=%zu cap=%zu rehashes=%lu probes=%lu\n", t.used, t.cap, t.rehashes, t.probes);

    int deleted = 0;
    for (int i = 0; i < N; i += 3) {
        make_key(key, sizeof key, i);
        deleted += table_del(&t, key);
        shadow[i] = ABSENT;
    }
    /* Deleting twice does nothing the second time. */
    make_key(key, sizeof key, 0);
    printf("deleted %d, delete again -> %d, used=%zu tombs=%zu\n", deleted, table_del(&t, key), t.used, t.tombs);

    for (int i = 0; i < N; i += 5) {   /* overwrite and resurrect */
        make_key(key, sizeof key, i);
        table_put(&t, key, -(long)i);
        shadow[i] = -(long)i;
    }
    printf("after updates: used=%zu tombs=%zu cap=%zu\n", t.used, t.tombs, t.cap);

    long mismatches = 0, present = 0;
    long long sum = 0;
    for (int i = 0; i < N; i++) {
        make_key(key, sizeof key, i);
        struct entry *e = table_get(&t, key);
        if (shadow[i] == ABSENT ? e != NULL : (!e || e->value != shadow[i])) mismatches++;
        if (e) { present++; sum += e->value; }
    }
    printf("verify: present=%ld mismatches=%ld sum=%lld\n", present, mismatches, sum);
    const char *missing[] = { "", "k", "k60000", "user/00001/profil", "nope" };
    for (int i = 0; i < 5; i++) printf("get(\"%s\") -> %s\n", missing[i], table_get(&t, missing[i]) ? "found" : "absent");

    /* Probe-length histogram: depends only on keys, hash and insertion order. */
    unsigned hist[8] = { 0 };
    size_t max_run = 0, run = 0;
    for (size_t i = 0; i < t.cap; i++) {
        if (t.slots[i].key) { run++; if (run > max_run) max_run = run; }
        else run = 0;
        if (t.slots[i].key && t.slots[i].key != TOMBSTONE) {
            size_t home = t.slots[i].hash & (t.cap - 1);
            size_t dist = (i - home) & (t.cap - 1);
            hist[dist < 7 ? dist : 7]++;
        }
    }
    printf("displacement histogram:");
    for (int i = 0; i < 8; i++) printf(" %u", hist[i]);
    printf("  longest occupied run %zu\n", max_run);

    /* Collect, sort by key and print a slice. */
    struct entry *all = malloc(sizeof *all * t.used);
    size_t n = 0;
    for (size_t i = 0; i < t.cap; i++)
        if (t.slots[i].key && t.slots[i].key != TOMBSTONE) all[n++] = t.slots[i];
    qsort(all, n, sizeof *all, cmp_entry);
    printf("sorted %zu keys; every 4000th:\n", n);
    for (size_t i = 0; i < n; i += 4000) printf("  %-60s %ld\n", all[i].key, all[i].value);
    free(all);

    for (size_t i = 0; i < t.cap; i++)
        if (t.slots[i].key && t.slots[i].key != TOMBSTONE) free(t.slots[i].key);
    free(t.slots);
    return mismatches != 0;
}
