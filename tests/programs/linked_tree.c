// Pointer-heavy data structures on the heap: a singly linked list sorted
// with merge sort, a doubly linked list used as a deque, an AVL tree with
// insertion, deletion, in-order iteration and invariant checks, and a
// binary min-heap priority queue; all driven by a fixed PRNG.
#include <stdio.h>
#include <stdlib.h>

static unsigned long long rng = 42;
static unsigned rnd(void) { rng = rng * 6364136223846793005ULL + 1; return (unsigned)(rng >> 35); }

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p) { fprintf(stderr, "out of memory\n"); exit(1); }
    return p;
}

/* ---- singly linked list with merge sort ---- */
struct item { int key; int seq; struct item *next; };

static struct item *merge(struct item *a, struct item *b)
{
    struct item head, *t = &head;
    while (a && b) {
        if (a->key <= b->key) { t->next = a; a = a->next; }   /* <= keeps it stable */
        else { t->next = b; b = b->next; }
        t = t->next;
    }
    t->next = a ? a : b;
    return head.next;
}

static struct item *merge_sort(struct item *h)
{
    if (!h || !h->next) return h;
    struct item *slow = h, *fast = h->next;
    while (fast && fast->next) { slow = slow->next; fast = fast->next->next; }
    struct item *second = slow->next;
    slow->next = NULL;
    return merge(merge_sort(h), merge_sort(second));
}

/* ---- doubly linked deque ---- */
struct dnode { int v; struct dnode *prev, *next; };
struct deque { struct dnode *head, *tail; int size; };

static void push_front(struct deque *d, int v)
{
    struct dnode *n = xmalloc(sizeof *n);
    n->v = v; n->prev = NULL; n->next = d->head;
    if (d->head) d->head->prev = n; else d->tail = n;
    d->head = n; d->size++;
}
static void push_back(struct deque *d, int v)
{
    struct dnode *n = xmalloc(sizeof *n);
    n->v = v; n->next = NULL; n->prev = d->tail;
    if (d->tail) d->tail->next = n; else d->head = n;
    d->tail = n; d->size++;
}
static int pop_front(struct deque *d)
{
    struct dnode *n = d->head;
    int v = n->v;
    d->head = n->next;
    if (d->head) d->head->prev = NULL; else d->tail = NULL;
    free(n); d->size--;
    return v;
}
static int pop_back(struct deque *d)
{
    struct dnode *n = d->tail;
    int v = n->v;
    d->tail = n->prev;
    if (d->tail) d->tail->next = NULL; else d->head = NULL;
    free(n); d->size--;
    return v;
}

/* ---- AVL tree ---- */
struct avl { int key; int height; long count; struct avl *left, *right; };

static int height(const struct avl *n) { return n ? n->height : 0; }
static void update(struct avl *n) { int l = height(n->left), r = height(n->right); n->height = (l > r ? l : r) + 1; }
static struct avl *rotate_right(struct avl *y) { struct avl *x = y->left; y->left = x->right; x->right = y; update(y); update(x); return x; }
static struct avl *rotate_left(struct avl *x) { struct avl *y = x->right; x->right = y->left; y->left = x; update(x); update(y); return y; }
static unsigned long rotations;

static struct avl *rebalance(struct avl *n)
{
    update(n);
    int bal = height(n->left) - height(n->right);
    if (bal > 1) {
        if (height(n->left->left) < height(n->left->right)) { n->left = rotate_left(n->left); rotations++; }
        rotations++;
        return rotate_right(n);
    }
    if (bal < -1) {
        if (height(n->right->right) < height(n->right->left)) { n->right = rotate_right(n->right); rotations++; }
        rotations++;
        return rotate_left(n);
    }
    return n;
}

static struct avl *avl_insert(struct avl *n, int key)
{
    if (!n) {
        n = xmalloc(sizeof *n);
        n->key = key; n->height = 1; n->count = 1; n->left = n->right = NULL;
        return n;
    }
    if (key < n->key) n->left = avl_insert(n->left, key);
    else if (key > n->key) n->right = avl_insert(n->right, key);
    else { n->count++; return n; }
    return rebalance(n);
}

static struct avl *avl_remove_min(struct avl *n, struct avl **min)
{
    if (!n->left) { *min = n; return n->right; }
    n->left = avl_remove_min(n->left, min);
    return rebalance(n);
}

static struct avl *avl_delete(struct avl *n, int key, int *deleted)
{
    if (!n) return NULL;
    if (key < n->key) n->left = avl_delete(n->left, key, deleted);
    else if (key > n->key) n->right = avl_delete(n->right, key, deleted);
    else {
        *deleted = 1;
        struct avl *l = n->left, *r = n->right;
        free(n);
        if (!r) return l;
        struct avl *m;
        r = avl_remove_min(r, &m);
        m->left = l;
        m->right = r;
        return rebalance(m);
    }
    return rebalance(n);
}

/* Returns the height, or -1 if an AVL or ordering invariant is broken. */
static int avl_check(const struct avl *n, long lo, long hi, long *nodes)
{
    if (!n) return 0;
    if (n->key <= lo || n->key >= hi) return -1;
    int l = avl_check(n->left, lo, n->key, nodes), r = avl_check(n->right, n->key, hi, nodes);
    if (l < 0 || r < 0 || l - r > 1 || r - l > 1 || n->height != (l > r ? l : r) + 1) return -1;
    (*nodes)++;
    return n->height;
}

static void avl_walk(const struct avl *n, long *sum, int *k, int every)
{
    if (!n) return;
    avl_walk(n->left, sum, k, every);
    if ((*k)++ % every == 0) printf(" %d(x%ld)", n->key, n->count);
    *sum += n->key * n->count;
    avl_walk(n->right, sum, k, every);
}

static void avl_free(struct avl *n) { if (n) { avl_free(n->left); avl_free(n->right); free(n); } }

/* ---- binary min-heap ---- */
struct heap { int *a; int n, cap; };
static void heap_push(struct heap *h, int v)
{
    if (h->n == h->cap) { h->cap = h->cap ? h->cap * 2 : 8; h->a = realloc(h->a, sizeof(int) * (size_t)h->cap); if (!h->a) exit(1); }
    int i = h->n++;
    while (i > 0 && h->a[(i - 1) / 2] > v) { h->a[i] = h->a[(i - 1) / 2]; i = (i - 1) / 2; }
    h->a[i] = v;
}
static int heap_pop(struct heap *h)
{
    int top = h->a[0], v = h->a[--h->n], i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && h->a[c + 1] < h->a[c]) c++;
        if (h->a[c] >= v) break;
        h->a[i] = h->a[c];
        i = c;
    }
    h->a[i] = v;
    return top;
}

int main(void)
{
    /* List: 5000 items with many duplicate keys; check sortedness and stability. */
    struct item *list = NULL;
    for (int i = 0; i < 5000; i++) {
        struct item *it = xmalloc(sizeof *it);
        it->key = (int)(rnd() % 100);
        it->seq = i;
        it->next = list;
        list = it;
    }
    list = merge_sort(list);
    int n = 0, unsorted = 0, unstable = 0;
    long weighted = 0;
    for (struct item *p = list; p; p = p->next, n++) {
        if (p->next && p->key > p->next->key) unsorted++;
        if (p->next && p->key == p->next->key && p->seq < p->next->seq) unstable++;   /* built reversed */
        weighted += (long)p->key * (n % 13);
    }
    printf("list: %d items, unsorted pairs %d, stability violations %d, weighted %ld\n", n, unsorted, unstable, weighted);
    printf("first keys:");
    for (struct item *p = list; p && n-- > 4990; p = p->next) printf(" %d/%d", p->key, p->seq);
    printf("\n");
    while (list) { struct item *nx = list->next; free(list); list = nx; }

    /* Deque: a sliding-window maximum over pseudo-random values. */
    struct deque dq = { NULL, NULL, 0 };
    int vals[64];
    for (int i = 0; i < 64; i++) vals[i] = (int)(rnd() % 1000);
    printf("window max:");
    for (int i = 0; i < 64; i++) {
        while (dq.size && vals[dq.tail->v] <= vals[i]) pop_back(&dq);
        push_back(&dq, i);
        if (dq.head->v <= i - 8) pop_front(&dq);
        if (i >= 7 && i % 4 == 3) printf(" %d", vals[dq.head->v]);
    }
    printf("\n");
    for (int i = 0; i < 5; i++) push_front(&dq, -i);
    printf("deque size %d, front %d, back %d\n", dq.size, dq.head->v, dq.tail->v);
    while (dq.size) pop_front(&dq);

    /* AVL: 20000 inserts (with duplicates), then 8000 deletes. */
    struct avl *root = NULL;
    for (int i = 0; i < 20000; i++) root = avl_insert(root, (int)(rnd() % 30000) - 15000);
    long nodes = 0;
    int h = avl_check(root, -1000000, 1000000, &nodes);
    printf("avl after inserts: nodes %ld height %d rotations %lu\n", nodes, h, rotations);
    int removed = 0;
    for (int i = 0; i < 8000; i++) {
        int d = 0;
        root = avl_delete(root, (int)(rnd() % 30000) - 15000, &d);
        removed += d;
    }
    nodes = 0;
    h = avl_check(root, -1000000, 1000000, &nodes);
    printf("avl after deletes: removed %d nodes %ld height %d rotations %lu\n", removed, nodes, h, rotations);
    long sum = 0;
    int k = 0;
    printf("in-order sample:");
    avl_walk(root, &sum, &k, 1500);
    printf("\nweighted key sum %ld over %d distinct keys\n", sum, k);
    avl_free(root);

    /* Heap: sort 10000 values and merge 5 sorted runs. */
    struct heap hp = { NULL, 0, 0 };
    for (int i = 0; i < 10000; i++) heap_push(&hp, (int)(rnd() % 100000));
    int prev = -1, bad = 0;
    long long acc = 0;
    for (int i = 0; i < 10000; i++) {
        int v = heap_pop(&hp);
        if (v < prev) bad++;
        prev = v;
        acc = acc * 3 % 1000000007 + v;
        if (i % 2000 == 0) printf("heap pop %d: %d\n", i, v);
    }
    printf("heap order violations %d, checksum %lld\n", bad, acc);
    free(hp.a);
    return 0;
}
