// Function pointers everywhere: arrays of them, static tables of structs
// with function-pointer members, functions returning function pointers,
// a table-driven state machine, qsort-style generic callbacks and a small
// "object" with a vtable.
#include <stdio.h>
#include <string.h>
#include <math.h>

typedef double (*unary_fn)(double);
typedef long (*binop_fn)(long, long);

static long op_add(long a, long b) { return a + b; }
static long op_sub(long a, long b) { return a - b; }
static long op_mul(long a, long b) { return a * b; }
static long op_div(long a, long b) { return b ? a / b : 0; }
static long op_mod(long a, long b) { return b ? a % b : 0; }
static long op_shl(long a, long b) { return (long)((unsigned long)a << (b & 31)); }
static long op_min(long a, long b) { return a < b ? a : b; }

static binop_fn const binops[] = { op_add, op_sub, op_mul, op_div, op_mod, op_shl, op_min };
static const char binop_names[][4] = { "add", "sub", "mul", "div", "mod", "shl", "min" };

static double twice(double x) { return 2 * x; }
static double square(double x) { return x * x; }
static double negate(double x) { return -x; }
static double halve(double x) { return x / 2; }

/* A static table initialised with a mix of our own and libm functions. */
static const struct {
    const char *name;
    unary_fn fn;
    double arg;
} unary_table[] = {
    { "twice", twice, 21.5 },
    { "square", square, -1.5 },
    { "sqrt", sqrt, 2.0 },
    { "floor", floor, -2.5 },
    { "ceil", ceil, -2.5 },
    { "fabs", fabs, -0.0 },
    { "negate", negate, 3.0 },
    { "halve", halve, 1e-300 },
};

static unary_fn pick(const char *name)
{
    for (size_t i = 0; i < sizeof unary_table / sizeof unary_table[0]; i++)
        if (strcmp(unary_table[i].name, name) == 0) return unary_table[i].fn;
    return NULL;
}

/* Function returning a pointer to a function that returns a long. */
static long (*choose(int i))(long, long) { return binops[i % 7]; }

static double compose_apply(const unary_fn *chain, int n, double x)
{
    for (int i = 0; i < n; i++) x = chain[i](x);
    return x;
}

/* Table-driven state machine recognising signed decimal numbers like -12.5e3. */
enum state { S_START, S_SIGN, S_INT, S_DOT, S_FRAC, S_E, S_ESIGN, S_EXP, S_ERR, S_COUNT };
enum cls { C_DIGIT, C_SIGN, C_DOT, C_E, C_OTHER, C_COUNT };
static const unsigned char transitions[S_COUNT][C_COUNT] = {
    [S_START] = { S_INT, S_SIGN, S_DOT, S_ERR, S_ERR },
    [S_SIGN] = { S_INT, S_ERR, S_DOT, S_ERR, S_ERR },
    [S_INT] = { S_INT, S_ERR, S_FRAC, S_E, S_ERR },
    [S_DOT] = { S_FRAC, S_ERR, S_ERR, S_ERR, S_ERR },
    [S_FRAC] = { S_FRAC, S_ERR, S_ERR, S_E, S_ERR },
    [S_E] = { S_EXP, S_ESIGN, S_ERR, S_ERR, S_ERR },
    [S_ESIGN] = { S_EXP, S_ERR, S_ERR, S_ERR, S_ERR },
    [S_EXP] = { S_EXP, S_ERR, S_ERR, S_ERR, S_ERR },
    [S_ERR] = { S_ERR, S_ERR, S_ERR, S_ERR, S_ERR },
};
static int is_digit(int c) { return c >= '0' && c <= '9'; }
static int is_sign(int c) { return c == '+' || c == '-'; }
static int is_dot(int c) { return c == '.'; }
static int is_e(int c) { return c == 'e' || c == 'E'; }
static int (*const classifiers[])(int) = { is_digit, is_sign, is_dot, is_e };

static int classify(int c)
{
    for (int i = 0; i < 4; i++) if (classifiers[i](c)) return i;
    return C_OTHER;
}

static int accepts(const char *s)
{
    int st = S_START;
    for (; *s; s++) st = transitions[st][classify((unsigned char)*s)];
    return st == S_INT || st == S_FRAC || st == S_EXP;
}

/* A tiny "class" hierarchy with vtables. */
struct shape;
struct shape_vt {
    const char *kind;
    double (*area)(const struct shape *);
    double (*perimeter)(const struct shape *);
    void (*scale)(struct shape *, double);
};
struct shape { const struct shape_vt *vt; double a, b; };

static double rect_area(const struct shape *s) { return s->a * s->b; }
static double rect_perim(const struct shape *s) { return 2 * (s->a + s->b); }
static void rect_scale(struct shape *s, double k) { s->a *= k; s->b *= k; }
static double circ_area(const struct shape *s) { return 3.25 * s->a * s->a; } /* fixed "pi" keeps it exact */
static double circ_perim(const struct shape *s) { return 6.5 * s->a; }
static void circ_scale(struct shape *s, double k) { s->a *= k; }
static double tri_area(const struct shape *s) { return s->a * s->b / 2; }
static double tri_perim(const struct shape *s) { return s->a + s->b + sqrt(s->a * s->a + s->b * s->b); }

static const struct shape_vt rect_vt = { "rect", rect_area, rect_perim, rect_scale };
static const struct shape_vt circ_vt = { "circle", circ_area, circ_perim, circ_scale };
static const struct shape_vt tri_vt = { "triangle", tri_area, tri_perim, rect_scale };

/* Generic reduce over any element type, via callbacks. */
static void reduce(const void *base, size_t n, size_t size, void *acc,
                   void (*step)(void *acc, const void *elem))
{
    const unsigned char *p = base;
    for (size_t i = 0; i < n; i++) step(acc, p + i * size);
}
static void sum_int(void *acc, const void *e) { *(long *)acc += *(const int *)e; }
static void max_len(void *acc, const void *e)
{
    size_t l = strlen(*(const char *const *)e);
    if (l > *(size_t *)acc) *(size_t *)acc = l;
}

int main(void)
{
    long pairs[][2] = { { 100, 7 }, { -100, 7 }, { 5, 3 }, { 1 << 20, -9 } };
    for (int p = 0; p < 4; p++)
        for (int i = 0; i < 7; i++)
            printf("%s(%ld,%ld)=%ld%c", binop_names[i], pairs[p][0], pairs[p][1],
                   binops[i](pairs[p][0], pairs[p][1]), i == 6 ? '\n' : ' ');

    long acc = 123456789;
    printf("choose chain:");
    for (int i = 0; i < 20; i++) {
        acc = choose(i * 3)(acc, i + 3);
        printf(" %ld", acc);
    }
    printf("\n");

    for (size_t i = 0; i < sizeof unary_table / sizeof unary_table[0]; i++)
        printf("%-6s(%g) = %.17g\n", unary_table[i].name, unary_table[i].arg,
               unary_table[i].fn(unary_table[i].arg));

    unary_fn chain[] = { pick("twice"), pick("square"), pick("sqrt"), pick("negate"), pick("halve") };
    printf("chain(3) = %.17g, pick(missing) is %s\n", compose_apply(chain, 5, 3.0),
           pick("cosh") ? "found" : "NULL");

    const char *nums[] = { "12", "-3.5", "+.5e10", "1e", "e5", "6.02E-23", "--1", "4.", ".", "7e+2x" };
    for (int i = 0; i < 10; i++) printf("accepts(\"%s\") = %d\n", nums[i], accepts(nums[i]));

    struct shape shapes[] = { { &rect_vt, 3, 4 }, { &circ_vt, 2, 0 }, { &tri_vt, 3, 4 }, { &rect_vt, 0.5, 10 } };
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < 4; i++) {
            struct shape *s = &shapes[i];
            printf("%-8s area=%-8g perimeter=%.17g\n", s->vt->kind, s->vt->area(s), s->vt->perimeter(s));
            s->vt->scale(s, 1.5);
        }

    int ints[] = { 4, 8, 15, 16, 23, 42 };
    long isum = 0;
    reduce(ints, 6, sizeof ints[0], &isum, sum_int);
    const char *words[] = { "fn", "pointer", "table", "dispatch" };
    size_t ml = 0;
    reduce(words, 4, sizeof words[0], &ml, max_len);
    printf("reduce: sum=%ld longest=%zu\n", isum, ml);
    return 0;
}
