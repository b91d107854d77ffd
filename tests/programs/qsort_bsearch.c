// qsort and bsearch with callbacks: ints (with duplicates and extremes),
// doubles, strings through pointer arrays, fixed-size char arrays, structs
// with multi-key comparisons (always a total order, so the result does not
// depend on the sort algorithm), a 20,000-element pseudo-random array, and
// bsearch hits and misses.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>

static unsigned long long lcg_state = 0x2545F4914F6CDD1DULL;
static unsigned lcg(void)
{
    lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (unsigned)(lcg_state >> 33);
}

static int calls;
/* Compare without subtraction, which would overflow on INT_MIN/INT_MAX. */
static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    calls++;
    return (x > y) - (x < y);
}
static int cmp_int_desc(const void *a, const void *b) { return cmp_int(b, a); }
static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
static int cmp_strptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}
static int cmp_name(const void *a, const void *b) { return strcmp(a, b); }

struct employee { char name[12]; int dept; double salary; int id; };
/* dept ascending, salary descending, then name, then unique id. */
static int cmp_employee(const void *pa, const void *pb)
{
    const struct employee *a = pa, *b = pb;
    if (a->dept != b->dept) return a->dept < b->dept ? -1 : 1;
    if (a->salary != b->salary) return a->salary > b->salary ? -1 : 1;
    int c = strcmp(a->name, b->name);
    if (c) return c;
    return (a->id > b->id) - (a->id < b->id);
}
static int cmp_id_key(const void *key, const void *elem)
{
    int k = *(const int *)key, id = ((const struct employee *)elem)->id;
    return (k > id) - (k < id);
}

static void print_ints(const char *label, const int *v, int n)
{
    printf("%s:", label);
    for (int i = 0; i < n; i++) printf(" %d", v[i]);
    printf("\n");
}

int main(void)
{
    int small[] = { 5, -3, INT_MAX, 0, 5, INT_MIN, 42, -3, 17, 1, INT_MAX, -100 };
    int n = (int)(sizeof small / sizeof small[0]);
    qsort(small, (size_t)n, sizeof small[0], cmp_int);
    print_ints("ascending", small, n);
    qsort(small, (size_t)n, sizeof small[0], cmp_int_desc);
    print_ints("descending", small, n);
    qsort(small, 0, sizeof small[0], cmp_int);   /* empty sort is fine */
    qsort(small, 1, sizeof small[0], cmp_int);

    double d[] = { 3.25, -0.0, 1e300, -1e-300, 2.5, -7.0, 0.1, 1e-310, -2.5 };
    qsort(d, 9, sizeof d[0], cmp_double);
    printf("doubles:");
    for (int i = 0; i < 9; i++) printf(" %g", d[i]);
    printf("\n");

    const char *words[] = { "pear", "apple", "fig", "Banana", "apricot", "cherry", "date",
                            "applesauce", "", "zucchini", "Apple", "kiwi" };
    int nw = (int)(sizeof words / sizeof words[0]);
    qsort(words, (size_t)nw, sizeof words[0], cmp_strptr);
    printf("words:");
    for (int i = 0; i < nw; i++) printf(" [%s]", words[i]);
    printf("\n");
    const char *probes[] = { "fig", "apples", "zucchini", "", "Banana", "aaa", "zzz" };
    for (int i = 0; i < 7; i++) {
        const char **hit = bsearch(&probes[i], words, (size_t)nw, sizeof words[0], cmp_strptr);
        if (hit) printf("bsearch(%s) -> index %td\n", probes[i], hit - words);
        else printf("bsearch(%s) -> not found\n", probes[i]);
    }

    char names[8][10] = { "delta", "alpha", "echo", "charlie", "bravo", "hotel", "golf", "foxtrot" };
    qsort(names, 8, sizeof names[0], cmp_name);
    printf("names:");
    for (int i = 0; i < 8; i++) printf(" %s", names[i]);
    printf("\n");

    struct employee staff[16];
    const char *first[] = { "ann", "bob", "cy", "dee", "eve", "fay", "gus", "hal" };
    for (int i = 0; i < 16; i++) {
        snprintf(staff[i].name, sizeof staff[i].name, "%s%d", first[lcg() % 8], i % 3);
        staff[i].dept = (int)(lcg() % 4);
        staff[i].salary = 1000.0 + (double)(lcg() % 5) * 250.5;
        staff[i].id = 100 + i * 7;
    }
    qsort(staff, 16, sizeof staff[0], cmp_employee);
    for (int i = 0; i < 16; i++)
        printf("  dept %d  %-6s salary %8.2f id %d\n", staff[i].dept, staff[i].name,
               staff[i].salary, staff[i].id);

    /* bsearch on a struct array by a key of a different type. */
    struct employee by_id[16];
    for (int i = 0; i < 16; i++) { by_id[i] = staff[i]; }
    for (int i = 0; i < 16; i++)
        for (int j = i + 1; j < 16; j++)
            if (by_id[j].id < by_id[i].id) { struct employee t = by_id[i]; by_id[i] = by_id[j]; by_id[j] = t; }
    int keys[] = { 100, 121, 205, 206, 99, 184 };
    for (int i = 0; i < 6; i++) {
        struct employee *e = bsearch(&keys[i], by_id, 16, sizeof by_id[0], cmp_id_key);
        printf("id %d: %s\n", keys[i], e ? e->name : "(none)");
    }

    /* A large pseudo-random array: sortedness, checksum and lookups. */
    enum { BIG = 20000 };
    static int big[BIG];
    for (int i = 0; i < BIG; i++) big[i] = (int)(lcg() % 1000000) - 500000;
    calls = 0;
    qsort(big, BIG, sizeof big[0], cmp_int);
    int sorted = 1;
    unsigned long long h = 0;
    for (int i = 0; i < BIG; i++) {
        if (i && big[i - 1] > big[i]) sorted = 0;
        h = h * 31 + (unsigned)big[i];
    }
    printf("big: sorted=%d min=%d median=%d max=%d hash=%llu compared=%s\n", sorted, big[0],
           big[BIG / 2], big[BIG - 1], h, calls > BIG ? "yes" : "no");
    int found = 0;
    for (int k = -500000; k < 500000; k += 997) {
        int *p = bsearch(&k, big, BIG, sizeof big[0], cmp_int);
        if (p) { found++; if (*p != k) printf("bad hit\n"); }
    }
    printf("bsearch probes found %d keys\n", found);
    return 0;
}
