// Pointers to locals: out-parameters, pointers stored in structs that
// outlive the call that stored them (but not the frame), linked lists of
// stack nodes, pointer-to-pointer edits, pointer arithmetic and comparison
// within one array, and a callback that writes through a captured pointer.
#include <stdio.h>
#include <stddef.h>
#include <string.h>

struct accum {
    long *sum;          /* points into some caller's frame */
    int *count;
    const char *label;
};

static void accum_add(struct accum *a, long v) { *a->sum += v; (*a->count)++; }

static void divmod(int a, int b, int *q, int *r) { *q = a / b; *r = a % b; }

static void swap_ptrs(int **a, int **b) { int *t = *a; *a = *b; *b = t; }

static void minmax(const double *v, size_t n, const double **lo, const double **hi)
{
    *lo = *hi = v;
    for (const double *p = v + 1; p < v + n; p++) {
        if (*p < **lo) *lo = p;
        if (*p > **hi) *hi = p;
    }
}

struct node { int val; struct node *next; };

/* Builds a list out of nodes owned by the caller's array. */
static struct node *link_all(struct node *nodes, int n)
{
    struct node *head = NULL;
    for (int i = 0; i < n; i++) { nodes[i].next = head; head = &nodes[i]; }
    return head;
}

static struct node *reverse(struct node *h)
{
    struct node *prev = NULL;
    while (h) { struct node *nx = h->next; h->next = prev; prev = h; h = nx; }
    return prev;
}

/* Removes every node with an even value using a pointer to the link itself. */
static void drop_even(struct node **link)
{
    while (*link) {
        if ((*link)->val % 2 == 0) *link = (*link)->next;
        else link = &(*link)->next;
    }
}

static void print_list(const char *label, const struct node *h)
{
    printf("%s:", label);
    for (; h; h = h->next) printf(" %d", h->val);
    printf("\n");
}

/* Callback receives a context pointer that refers to a local of main(). */
static void for_each(const int *v, int n, void (*fn)(int, void *), void *ctx)
{
    for (int i = 0; i < n; i++) fn(v[i], ctx);
}
struct stats { int n; long sum; int max; };
static void collect(int x, void *ctx)
{
    struct stats *s = ctx;
    s->n++; s->sum += x; if (x > s->max) s->max = x;
}

/* Recursively fills a tree of frames; each child records its parent's counter. */
static int nest(int depth, int *parent_counter)
{
    int mine = 0;
    (*parent_counter)++;
    if (depth > 0) {
        for (int i = 0; i < 3; i++) nest(depth - 1, &mine);
    }
    return mine;
}

static char *copy_upper(char *dst, const char *src)
{
    char *d = dst;
    while ((*d = *src++)) { if (*d >= 'a' && *d <= 'z') *d = (char)(*d - 'a' + 'A'); d++; }
    return d;   /* points at the terminator */
}

int main(void)
{
    long total = 0;
    int count = 0;
    struct accum acc = { &total, &count, "main" };
    for (int i = 1; i <= 100; i++) accum_add(&acc, (long)i * i);
    printf("%s: total=%ld count=%d\n", acc.label, total, count);

    int q, r;
    int cases[][2] = { { 17, 5 }, { -17, 5 }, { 17, -5 }, { -17, -5 }, { 0, 3 } };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        divmod(cases[i][0], cases[i][1], &q, &r);
        printf("divmod(%d,%d) = %d rem %d\n", cases[i][0], cases[i][1], q, r);
    }

    int a = 1, b = 2, *pa = &a, *pb = &b;
    swap_ptrs(&pa, &pb);
    *pa += 10; *pb += 20;
    printf("after swap: a=%d b=%d\n", a, b);

    double data[] = { 3.5, -1.25, 9.0, 0.0, 9.5, -7.75, 2.0 };
    const double *lo, *hi;
    minmax(data, sizeof data / sizeof data[0], &lo, &hi);
    printf("min %g at index %td, max %g at index %td, distance %td\n", *lo, lo - data, *hi,
           hi - data, hi - lo);

    struct node nodes[10];
    for (int i = 0; i < 10; i++) nodes[i].val = i * 3 + 1;
    struct node *head = link_all(nodes, 10);
    print_list("list", head);
    head = reverse(head);
    print_list("reversed", head);
    drop_even(&head);
    print_list("odd only", head);
    printf("nodes[4] still %d, points to %s\n", nodes[4].val,
           nodes[4].next ? "a node" : "nothing");

    int values[] = { 5, 12, -3, 44, 7, 0, 19 };
    struct stats st = { 0, 0, -1000 };
    for_each(values, 7, collect, &st);
    printf("stats: n=%d sum=%ld max=%d\n", st.n, st.sum, st.max);

    int root = 0;
    int inner = nest(5, &root);
    printf("nest: root=%d inner=%d\n", root, inner);

    char buf[64];
    char *end = copy_upper(buf, "pointers to locals");
    end = copy_upper(end, " & more");
    printf("upper: '%s' (length %td)\n", buf, end - buf);

    /* A 2-D array walked through a pointer to its rows. */
    int grid[4][5];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 5; j++) grid[i][j] = i * 10 + j;
    int (*row)[5] = grid;
    long diag = 0;
    for (int i = 0; i < 4; i++, row++) diag += (*row)[i] + row[0][4 - i];
    printf("grid diag sum %ld\n", diag);

    /* Pointer into the middle of a struct, then back via offsetof. */
    struct rec { int id; double weight; char name[12]; } rec = { 42, 2.5, "widget" };
    double *w = &rec.weight;
    struct rec *back = (struct rec *)((char *)w - offsetof(struct rec, weight));
    *w *= 4;
    printf("rec via member pointer: id=%d weight=%g name=%s\n", back->id, back->weight, back->name);
    return 0;
}
