// Structs passed and returned by value: every size class the ABIs treat
// differently (tiny, odd-sized, two-register, homogeneous float/double
// aggregates, mixed int/double, memory-class large structs), nesting,
// many struct arguments spilling to the stack, and copy semantics.
#include <stdio.h>
#include <string.h>

struct c3 { char a, b, c; };                    /* 3 bytes, odd size */
struct i1 { int x; };
struct i2 { int x, y; };
struct csi { char c; short s; int i; };         /* padding inside */
struct f2 { float x, y; };
struct f4 { float a, b, c, d; };                /* homogeneous float aggregate */
struct fi { float f; int i; };
struct d2 { double x, y; };
struct d3 { double x, y, z; };                  /* 24 bytes of doubles */
struct ld { long l; double d; };                /* int + fp class mix */
struct dl { double d; long l; };
struct i3 { int a, b, c; };                     /* 12 bytes */
struct big { long v[25]; char name[16]; };      /* 216 bytes, memory class */
struct nested { struct i2 pos; struct d2 vel; struct c3 tag; struct f2 scale; };
struct matrix2 { double m[2][2]; };

static struct c3 c3_rot(struct c3 v) { struct c3 r = { v.b, v.c, v.a }; return r; }
static struct i1 i1_sq(struct i1 v) { v.x *= v.x; return v; }
static struct i2 i2_swap_add(struct i2 v, int k) { struct i2 r = { v.y + k, v.x - k }; return r; }
static struct csi csi_mix(struct csi v) { struct csi r = { (char)(v.c + 1), (short)(v.s * 3), v.i - v.s }; return r; }
static struct f2 f2_add(struct f2 a, struct f2 b) { struct f2 r = { a.x + b.x, a.y * b.y }; return r; }
static struct f4 f4_scale(struct f4 v, float k) { v.a *= k; v.b -= k; v.c /= k; v.d += k; return v; }
static struct fi fi_make(float f, int i) { struct fi r = { f * 0.5f, i * 8 }; return r; }
static struct d2 d2_rot90(struct d2 v) { struct d2 r = { -v.y, v.x }; return r; }
static struct d3 d3_cross(struct d3 a, struct d3 b)
{
    struct d3 r = { a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x };
    return r;
}
static struct ld ld_step(struct ld v) { v.l = v.l * 3 + 1; v.d = v.d / 3.0 + (double)v.l; return v; }
static struct dl dl_from_ld(struct ld v) { struct dl r = { v.d * 2.0, -v.l }; return r; }
static struct i3 i3_sum(const struct i3 *arr, int n)
{
    struct i3 s = { 0, 0, 0 };
    for (int i = 0; i < n; i++) { s.a += arr[i].a; s.b += arr[i].b; s.c += arr[i].c; }
    return s;
}

static struct big big_make(int seed)
{
    struct big b;
    for (int i = 0; i < 25; i++) b.v[i] = (long)seed * (i + 1) - i * i;
    snprintf(b.name, sizeof b.name, "big#%d", seed);
    return b;
}

/* The callee modifies its copy; the caller's struct must be unchanged. */
static long big_consume(struct big b)
{
    long s = 0;
    for (int i = 0; i < 25; i++) { s += b.v[i] * (i % 2 ? -1 : 1); b.v[i] = 0; }
    b.name[0] = 'X';
    return s + (long)strlen(b.name);
}

static struct big big_combine(struct big a, struct big b, int k)
{
    struct big r;
    for (int i = 0; i < 25; i++) r.v[i] = a.v[i] * k + b.v[24 - i];
    snprintf(r.name, sizeof r.name, "%.6s+%.6s", a.name, b.name);
    return r;
}

static struct nested nested_step(struct nested n, double dt)
{
    n.pos.x += (int)(n.vel.x * dt);
    n.pos.y += (int)(n.vel.y * dt);
    n.vel = d2_rot90(n.vel);
    n.tag = c3_rot(n.tag);
    n.scale = f2_add(n.scale, (struct f2){ 0.25f, 1.5f });
    return n;
}

static struct matrix2 mat_mul(struct matrix2 a, struct matrix2 b)
{
    struct matrix2 r;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            r.m[i][j] = a.m[i][0] * b.m[0][j] + a.m[i][1] * b.m[1][j];
    return r;
}

/* Enough struct arguments that some must be passed on the stack. */
static double many_args(struct d2 a, struct i2 b, struct f2 c, struct d3 d, struct ld e,
                        struct c3 f, struct d2 g, struct i3 h, struct f4 i, struct dl j)
{
    return a.x + a.y + b.x * 10 + b.y * 100 + c.x + c.y + d.x - d.y + d.z + e.l + e.d
           + f.a + f.b + f.c + g.x * g.y + h.a - h.b + h.c + i.a + i.b + i.c + i.d + j.d - j.l;
}

static void print_nested(const char *label, struct nested n)
{
    printf("%s: pos=(%d,%d) vel=(%g,%g) tag=%c%c%c scale=(%g,%g)\n", label, n.pos.x, n.pos.y,
           n.vel.x, n.vel.y, n.tag.a, n.tag.b, n.tag.c, (double)n.scale.x, (double)n.scale.y);
}

int main(void)
{
    struct c3 c = { 'x', 'y', 'z' };
    c = c3_rot(c3_rot(c));
    printf("c3: %c%c%c\n", c.a, c.b, c.c);

    struct i1 one = i1_sq((struct i1){ -46340 });
    printf("i1: %d\n", one.x);

    struct i2 p = { 3, -9 };
    for (int k = 0; k < 4; k++) p = i2_swap_add(p, k);
    printf("i2: %d %d\n", p.x, p.y);

    struct csi m = csi_mix((struct csi){ 'A', 1234, 100000 });
    printf("csi: %c %d %d\n", m.c, m.s, m.i);

    struct f2 fa = f2_add((struct f2){ 1.5f, 2.0f }, (struct f2){ 0.1f, 3.25f });
    printf("f2: %.9g %.9g\n", (double)fa.x, (double)fa.y);

    struct f4 q = f4_scale((struct f4){ 1.0f, 2.0f, 3.0f, 4.0f }, 3.0f);
    printf("f4: %.9g %.9g %.9g %.9g\n", (double)q.a, (double)q.b, (double)q.c, (double)q.d);

    struct fi fi = fi_make(7.75f, -5);
    printf("fi: %.9g %d\n", (double)fi.f, fi.i);

    struct d2 v = { 1.25, -0.5 };
    for (int k = 0; k < 3; k++) v = d2_rot90(v);
    printf("d2: %.17g %.17g\n", v.x, v.y);

    struct d3 x = { 1.0, 2.0, 3.0 }, y = { -0.5, 0.25, 4.0 };
    struct d3 z = d3_cross(x, y);
    printf("d3: %.17g %.17g %.17g\n", z.x, z.y, z.z);
    z = d3_cross(z, x);
    printf("d3: %.17g %.17g %.17g\n", z.x, z.y, z.z);

    struct ld l = { 1, 0.1 };
    for (int k = 0; k < 5; k++) l = ld_step(l);
    struct dl dl = dl_from_ld(l);
    printf("ld: %ld %.17g  dl: %.17g %ld\n", l.l, l.d, dl.d, dl.l);

    struct i3 arr[5];
    for (int k = 0; k < 5; k++) arr[k] = (struct i3){ k, k * k, -k * 7 };
    struct i3 s = i3_sum(arr, 5);
    printf("i3: %d %d %d\n", s.a, s.b, s.c);

    struct big b1 = big_make(7), b2 = big_make(-3);
    long consumed = big_consume(b1);
    printf("big: consume=%ld, b1 intact: %ld %ld %s\n", consumed, b1.v[0], b1.v[24], b1.name);
    struct big b3 = big_combine(b1, b2, 5);
    long total = 0;
    for (int k = 0; k < 25; k++) total += b3.v[k] * (k + 1);
    printf("big: combined %s total %ld first %ld last %ld\n", b3.name, total, b3.v[0], b3.v[24]);

    /* Struct assignment is a copy: changing the copy leaves the source alone. */
    struct big b4 = b3;
    b4.v[3] = 999;
    printf("big: copy %ld vs original %ld\n", b4.v[3], b3.v[3]);

    struct nested n = { { 0, 0 }, { 10.0, 4.0 }, { 'a', 'b', 'c' }, { 1.0f, 1.0f } };
    for (int k = 0; k < 4; k++) {
        n = nested_step(n, 1.5);
        print_nested("nested", n);
    }

    struct matrix2 fib = { { { 1, 1 }, { 1, 0 } } }, acc = { { { 1, 0 }, { 0, 1 } } };
    for (int k = 0; k < 70; k++) acc = mat_mul(acc, fib);
    printf("fib(70) via 2x2 matrices: %.17g\n", acc.m[0][1]);

    double r = many_args((struct d2){ 0.5, 0.25 }, (struct i2){ 3, 4 }, (struct f2){ 1.5f, 2.5f },
                         (struct d3){ 7, 8, 9 }, (struct ld){ 11, 0.125 }, (struct c3){ 1, 2, 3 },
                         (struct d2){ 3, 0.5 }, (struct i3){ 100, 200, 300 },
                         (struct f4){ 0.5f, 0.25f, 0.125f, 0.0625f }, (struct dl){ 2.75, 40 });
    printf("many_args: %.17g\n", r);

    /* Array of structs sorted by hand using struct swaps by value. */
    struct d2 pts[6] = { { 3, 1 }, { -1, 2 }, { 0.5, 0.5 }, { 2, -2 }, { -3, -3 }, { 1, 0 } };
    for (int i = 0; i < 6; i++)
        for (int j = i + 1; j < 6; j++)
            if (pts[j].x * pts[j].x + pts[j].y * pts[j].y < pts[i].x * pts[i].x + pts[i].y * pts[i].y) {
                struct d2 t = pts[i]; pts[i] = pts[j]; pts[j] = t;
            }
    for (int i = 0; i < 6; i++) printf("pt %d: (%g, %g)\n", i, pts[i].x, pts[i].y);
    return 0;
}
