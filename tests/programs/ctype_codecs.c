// <ctype.h> classification over every unsigned char value and EOF (in the
// "C" locale), case mapping, and text codecs built on it: integer to string
// in any base, Roman numerals both ways, base64 encode/decode, hex dumps,
// percent-encoding, and run-length encoding with verification.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>

static void class_table(void)
{
    static const struct { const char *name; int (*fn)(int); } classes[] = {
        { "alnum", isalnum }, { "alpha", isalpha }, { "blank", isblank }, { "cntrl", iscntrl },
        { "digit", isdigit }, { "graph", isgraph }, { "lower", islower }, { "print", isprint },
        { "punct", ispunct }, { "space", isspace }, { "upper", isupper }, { "xdigit", isxdigit },
    };
    for (size_t k = 0; k < sizeof classes / sizeof classes[0]; k++) {
        /* One character per code: '#' in class, '.' not, 32 per row group. */
        int count = 0;
        char row[257];
        for (int c = 0; c < 256; c++) {
            int in = classes[k].fn(c) != 0;
            count += in;
            row[c] = in ? '#' : '.';
        }
        row[256] = '\0';
        printf("%-6s %3d EOF:%d %.128s\n", classes[k].name, count, classes[k].fn(EOF) != 0, row);
        /* The upper half must be empty in the C locale. */
        if (strchr(row + 128, '#')) printf("  (has members above 127)\n");
    }
    int changed_up = 0, changed_down = 0;
    for (int c = 0; c < 256; c++) {
        changed_up += toupper(c) != c;
        changed_down += tolower(c) != c;
    }
    printf("toupper changes %d codes, tolower changes %d, toupper(EOF)==EOF: %d\n", changed_up,
           changed_down, toupper(EOF) == EOF);
}

static char *to_base(unsigned long long v, unsigned base, char *buf)
{
    static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    char tmp[72];
    int n = 0;
    do { tmp[n++] = digits[v % base]; v /= base; } while (v);
    for (int i = 0; i < n; i++) buf[i] = tmp[n - 1 - i];
    buf[n] = '\0';
    return buf;
}

static void roman(int v, char *out)
{
    static const int vals[] = { 1000, 900, 500, 400, 100, 90, 50, 40, 10, 9, 5, 4, 1 };
    static const char *const syms[] = { "M", "CM", "D", "CD", "C", "XC", "L", "XL", "X", "IX", "V", "IV", "I" };
    out[0] = '\0';
    for (int i = 0; i < 13; i++)
        while (v >= vals[i]) { strcat(out, syms[i]); v -= vals[i]; }
}

static int roman_value(char c)
{
    switch (toupper((unsigned char)c)) {
    case 'I': return 1; case 'V': return 5; case 'X': return 10; case 'L': return 50;
    case 'C': return 100; case 'D': return 500; case 'M': return 1000; default: return 0;
    }
}

static int from_roman(const char *s)
{
    int total = 0;
    for (; *s; s++) {
        int v = roman_value(*s), next = s[1] ? roman_value(s[1]) : 0;
        total += v < next ? -v : v;
    }
    return total;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static size_t base64_encode(const unsigned char *in, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
        out[o++] = b64[v >> 18 & 63];
        out[o++] = b64[v >> 12 & 63];
        out[o++] = i + 1 < n ? b64[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? b64[v & 63] : '=';
    }
    out[o] = '\0';
    return o;
}

static long base64_decode(const char *in, unsigned char *out)
{
    unsigned acc = 0;
    int bits = 0;
    long n = 0;
    for (; *in && *in != '='; in++) {
        if (isspace((unsigned char)*in)) continue;
        const char *p = strchr(b64, *in);
        if (!p) return -1;
        acc = acc << 6 | (unsigned)(p - b64);
        bits += 6;
        if (bits >= 8) { bits -= 8; out[n++] = (unsigned char)(acc >> bits & 0xFF); }
    }
    return n;
}

static void hexdump(const unsigned char *p, size_t n)
{
    for (size_t off = 0; off < n; off += 16) {
        printf("  %04zx ", off);
        for (size_t i = off; i < off + 16; i++) {
            if (i < n) printf(" %02x", p[i]);
            else printf("   ");
        }
        printf("  |");
        for (size_t i = off; i < off + 16 && i < n; i++) putchar(isprint(p[i]) ? p[i] : '.');
        printf("|\n");
    }
}

static void percent_encode(const char *s, char *out)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || strchr("-_.~", c)) *out++ = (char)c;
        else out += sprintf(out, "%%%02X", c);
    }
    *out = '\0';
}

static size_t rle_encode(const char *s, char *out)
{
    size_t o = 0;
    while (*s) {
        size_t run = 1;
        while (s[run] == s[0] && run < 9) run++;
        if (run > 2 || isdigit((unsigned char)s[0])) o += (size_t)sprintf(out + o, "%zu%c", run, s[0]);
        else for (size_t i = 0; i < run; i++) out[o++] = s[0];
        s += run;
    }
    out[o] = '\0';
    return o;
}

static void rle_decode(const char *s, char *out)
{
    while (*s) {
        if (isdigit((unsigned char)*s)) { int run = *s - '0'; for (int i = 0; i < run; i++) *out++ = s[1]; s += 2; }
        else *out++ = *s++;
    }
    *out = '\0';
}

int main(void)
{
    class_table();

    char buf[80];
    unsigned long long nums[] = { 0, 255, 1000000, 0xDEADBEEFULL, 18446744073709551615ULL };
    unsigned bases[] = { 2, 3, 8, 16, 36 };
    for (int i = 0; i < 5; i++) {
        printf("%llu:", nums[i]);
        for (int b = 0; b < 5; b++) printf(" b%u=%s", bases[b], to_base(nums[i], bases[b], buf));
        printf("\n");
    }

    int years[] = { 1, 4, 9, 14, 40, 90, 400, 1987, 1999, 2024, 3888, 3999 };
    int bad = 0;
    for (int i = 0; i < 12; i++) {
        roman(years[i], buf);
        printf("%d=%s ", years[i], buf);
        if (from_roman(buf) != years[i]) bad++;
    }
    printf("\nroman round trip failures: %d (all 1..3999 checked below)\n", bad);
    for (int v = 1; v < 4000; v++) { roman(v, buf); if (from_roman(buf) != v) bad++; }
    printf("after exhaustive check: %d, from_roman(\"mcmxcix\")=%d\n", bad, from_roman("mcmxcix"));

    const char *texts[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar", "Many hands make light work." };
    for (int i = 0; i < 8; i++) {
        char enc[128];
        unsigned char dec[128];
        base64_encode((const unsigned char *)texts[i], strlen(texts[i]), enc);
        long dn = base64_decode(enc, dec);
        printf("base64(\"%s\") = %s -> %ld bytes, same=%d\n", texts[i], enc, dn,
               dn == (long)strlen(texts[i]) && memcmp(dec, texts[i], (size_t)dn) == 0);
    }
    unsigned char all[256];
    for (int i = 0; i < 256; i++) all[i] = (unsigned char)(i * 7 + 3);
    char enc[400];
    unsigned char dec[300];
    size_t el = base64_encode(all, 256, enc);
    long dl = base64_decode(enc, dec);
    printf("binary base64: %zu chars, decoded %ld bytes, equal=%d, tail=%s\n", el, dl,
           dl == 256 && memcmp(all, dec, 256) == 0, enc + el - 12);
    printf("decode of invalid input: %ld\n", base64_decode("ab$d", dec));

    const char *sample = "Hex\tdump\x01\x7f of some bytes\n\xff\xfe end";
    hexdump((const unsigned char *)sample, strlen(sample));

    char pe[256];
    percent_encode("a b&c=d/e?f~g_h.i-j%k\"l\xc3\xa9", pe);
    printf("percent: %s\n", pe);

    const char *rle_in[] = { "aaabccddddddddddddx", "abc", "", "zzzzzzzzz", "aabbbcccc" };
    for (int i = 0; i < 5; i++) {
        char e[64], d[64];
        rle_encode(rle_in[i], e);
        rle_decode(e, d);
        printf("rle(\"%s\") = \"%s\" round trip %s\n", rle_in[i], e, strcmp(d, rle_in[i]) == 0 ? "ok" : "FAILED");
    }
    return 0;
}
