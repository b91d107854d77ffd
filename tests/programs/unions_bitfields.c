// Unions and bit-fields: type punning through unions (allowed in C) and
// memcpy between float/double and integer bit patterns, tagged unions as a
// variant type, anonymous structs/unions (C11), bit-field arithmetic with
// wrap-around for unsigned fields, explicit signed fields, and packing and
// unpacking a protocol header by hand (never by relying on layout).
#include <stdio.h>
#include <stdint.h>
#include <string.h>

union pun32 { float f; uint32_t u; unsigned char b[4]; };
union pun64 { double d; uint64_t u; int64_t i; };

enum vkind { V_INT, V_REAL, V_TEXT, V_PAIR };
struct variant {
    enum vkind kind;
    union {
        long i;
        double r;
        char text[16];
        struct { short a, b; } pair;
    };   /* anonymous union */
};

static void show_variant(const struct variant *v)
{
    switch (v->kind) {
    case V_INT: printf("int %ld\n", v->i); break;
    case V_REAL: printf("real %.6g\n", v->r); break;
    case V_TEXT: printf("text \"%s\"\n", v->text); break;
    case V_PAIR: printf("pair (%d, %d)\n", v->pair.a, v->pair.b); break;
    }
}

static struct variant add(struct variant x, struct variant y)
{
    struct variant r;
    if (x.kind == V_INT && y.kind == V_INT) { r.kind = V_INT; r.i = x.i + y.i; }
    else if ((x.kind == V_INT || x.kind == V_REAL) && (y.kind == V_INT || y.kind == V_REAL)) {
        r.kind = V_REAL;
        r.r = (x.kind == V_INT ? (double)x.i : x.r) + (y.kind == V_INT ? (double)y.i : y.r);
    } else if (x.kind == V_TEXT && y.kind == V_TEXT) {
        r.kind = V_TEXT;
        snprintf(r.text, sizeof r.text, "%s%s", x.text, y.text);
    } else if (x.kind == V_PAIR && y.kind == V_PAIR) {
        r.kind = V_PAIR;
        r.pair.a = (short)(x.pair.a + y.pair.a);
        r.pair.b = (short)(x.pair.b + y.pair.b);
    } else {
        r.kind = V_TEXT;
        strcpy(r.text, "<type error>");
    }
    return r;
}

/* Bit-fields: only values and arithmetic are printed, never the layout. */
struct flags {
    unsigned int ready : 1;
    unsigned int mode : 3;
    unsigned int count : 7;
    signed int delta : 5;
    unsigned int : 0;        /* start a new unit */
    unsigned int wide : 20;
};

struct color { unsigned r : 5, g : 6, b : 5; };

/* A header packed into bytes explicitly, big-endian, like a wire format. */
struct header { unsigned version, ihl, dscp, length, ttl, proto; };
static void pack(const struct header *h, unsigned char out[8])
{
    out[0] = (unsigned char)(h->version << 4 | h->ihl);
    out[1] = (unsigned char)(h->dscp << 2);
    out[2] = (unsigned char)(h->length >> 8);
    out[3] = (unsigned char)h->length;
    out[4] = (unsigned char)h->ttl;
    out[5] = (unsigned char)h->proto;
    unsigned sum = 0;
    for (int i = 0; i < 6; i += 2) sum += (unsigned)out[i] << 8 | out[i + 1];
    sum = (sum & 0xFFFF) + (sum >> 16);
    sum = ~sum & 0xFFFF;
    out[6] = (unsigned char)(sum >> 8);
    out[7] = (unsigned char)sum;
}
static int unpack(const unsigned char in[8], struct header *h)
{
    h->version = in[0] >> 4;
    h->ihl = in[0] & 15;
    h->dscp = in[1] >> 2;
    h->length = (unsigned)in[2] << 8 | in[3];
    h->ttl = in[4];
    h->proto = in[5];
    unsigned sum = 0;
    for (int i = 0; i < 8; i += 2) sum += (unsigned)in[i] << 8 | in[i + 1];
    sum = (sum & 0xFFFF) + (sum >> 16);
    return sum == 0xFFFF;   /* checksum verifies */
}

int main(void)
{
    float fs[] = { 1.0f, -2.5f, 0.1f, 3.4028235e38f, 1e-45f, -0.0f };
    for (int i = 0; i < 6; i++) {
        union pun32 p;
        p.f = fs[i];
        unsigned sign = p.u >> 31, exp = p.u >> 23 & 0xFF, mant = p.u & 0x7FFFFF;
        printf("float %-14.9g bits %08x sign %u exp %3u mant %06x\n", (double)fs[i], p.u, sign, exp, mant);
    }
    /* Building a float from fields through the union. */
    union pun32 built;
    built.u = (0u << 31) | (128u << 23) | 0x490FDBu;
    printf("built float %.9g\n", (double)built.f);
    /* Reading through the union and copying the bytes must give the same bits. */
    union pun32 one = { .f = 1.0f };
    uint32_t copy;
    memcpy(&copy, &one.f, sizeof copy);
    printf("union and memcpy agree: %d\n", copy == one.u);

    double ds[] = { 1.0, -0.1, 1e308, 5e-324, 2.0 / 3.0 };
    for (int i = 0; i < 5; i++) {
        union pun64 p = { .d = ds[i] };
        printf("double %-24.17g bits %016llx exp %4u\n", ds[i], (unsigned long long)p.u, (unsigned)(p.u >> 52 & 0x7FF));
    }
    /* Next representable double by incrementing the bit pattern. */
    union pun64 q = { .d = 1.0 };
    q.u++;
    printf("1.0 + 1 ulp = %.17g\n", q.d);
    /* Fast inverse square root style bit hack, with a Newton step. */
    union pun32 y = { .f = 2.0f };
    y.u = 0x5f3759dfu - (y.u >> 1);
    y.f = y.f * (1.5f - 0.5f * 2.0f * y.f * y.f);
    printf("rsqrt(2) approx %.6f\n", (double)y.f);

    struct variant vs[] = {
        { .kind = V_INT, .i = 40 }, { .kind = V_INT, .i = 2 }, { .kind = V_REAL, .r = 0.5 },
        { .kind = V_TEXT, .text = "foo" }, { .kind = V_TEXT, .text = "barbaz" }, { .kind = V_PAIR, .pair = { 3, -4 } },
    };
    show_variant(&vs[0]);
    struct variant r = add(vs[0], vs[1]);
    show_variant(&r);
    r = add(r, vs[2]);
    show_variant(&r);
    r = add(vs[3], vs[4]);
    show_variant(&r);
    r = add(vs[5], vs[5]);
    show_variant(&r);
    r = add(vs[3], vs[0]);
    show_variant(&r);

    struct flags f = { 0 };
    f.ready = 1;
    f.mode = 5;
    f.delta = -16;
    for (int i = 0; i < 200; i++) f.count++;        /* 7-bit field wraps at 128 */
    f.wide = 0xFFFFF;
    f.wide++;                                        /* wraps to 0 */
    f.mode += 4;                                     /* 3-bit: (5+4) mod 8 */
    printf("flags: ready=%u mode=%u count=%u delta=%d wide=%u\n", f.ready, f.mode, f.count, f.delta, f.wide);
    f.delta = 15;
    printf("delta max %d, delta+1 as int %d\n", f.delta, f.delta + 1);

    struct color c = { 31, 63, 31 };
    unsigned packed = (unsigned)c.r << 11 | (unsigned)c.g << 5 | c.b;
    printf("rgb565 white = %04x\n", packed);
    struct color mid;
    mid.r = (packed >> 11) / 2; mid.g = ((packed >> 5) & 63) / 2; mid.b = (packed & 31) / 2;
    printf("half: %u %u %u\n", mid.r, mid.g, mid.b);

    struct header h = { 4, 5, 46, 1500, 64, 17 }, h2;
    unsigned char wire[8];
    pack(&h, wire);
    printf("wire:");
    for (int i = 0; i < 8; i++) printf(" %02x", wire[i]);
    int ok = unpack(wire, &h2);
    printf("\nunpacked: v%u ihl=%u dscp=%u len=%u ttl=%u proto=%u checksum %s\n", h2.version, h2.ihl, h2.dscp,
           h2.length, h2.ttl, h2.proto, ok ? "ok" : "bad");
    wire[4] ^= 0x10;
    printf("after corruption: checksum %s\n", unpack(wire, &h2) ? "ok" : "bad");
    return 0;
}
