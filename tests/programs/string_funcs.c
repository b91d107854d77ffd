// <string.h> and friends: lengths, copies (incl. strncpy padding and
// non-termination), concatenation, comparisons (sign only, since the
// magnitude is unspecified), searches, strtok, mem* with overlapping
// memmove, strspn/strcspn, snprintf truncation and return values, and
// sscanf with many conversions.
#define _POSIX_C_SOURCE 200809L   /* strdup, strnlen, strtok_r */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int sign(int v) { return (v > 0) - (v < 0); }

static void show_bytes(const char *label, const char *p, size_t n)
{
    printf("%s: [", label);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 32 && c < 127) putchar(c);
        else printf("\\%03o", c);
    }
    printf("]\n");
}

/* Keeps the size non-constant at the call so the compiler does not warn. */
static int copy_into(char *dst, size_t size, const char *src) { return snprintf(dst, size, "%s", src); }

int main(void)
{
    const char *s = "The quick brown fox jumps over the lazy dog";
    printf("strlen=%zu strlen(\"\")=%zu strnlen(s,10)=%zu strnlen(s,100)=%zu\n", strlen(s),
           strlen(""), strnlen(s, 10), strnlen(s, 100));

    char buf[64];
    strcpy(buf, "hello");
    strcat(buf, ", ");
    strcat(buf, "world");
    strncat(buf, "!!!???", 3);
    printf("built: %s (%zu)\n", buf, strlen(buf));

    char pad[10];
    memset(pad, 'X', sizeof pad);
    strncpy(pad, "abc", sizeof pad);         /* pads the rest with NULs */
    show_bytes("strncpy pad", pad, sizeof pad);
    memset(pad, 'X', sizeof pad);
    strncpy(pad, "0123456789ABC", 6);        /* no terminator written */
    show_bytes("strncpy cut", pad, sizeof pad);

    const char *words[] = { "apple", "apples", "Apple", "", "apricot", "app" };
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 6; j++)
            printf("%2d%s", sign(strcmp(words[i], words[j])), j == 5 ? "\n" : " ");
    printf("strncmp(apple,apples,5)=%d strncmp(apple,apricot,2)=%d strncmp(a,b,0)=%d\n",
           sign(strncmp("apple", "apples", 5)), sign(strncmp("apple", "apricot", 2)),
           sign(strncmp("a", "b", 0)));
    /* Comparisons are as unsigned char: "\xff" sorts after "a". */
    printf("strcmp(\\xff, a)=%d memcmp(\\x80, \\x7f)=%d\n", sign(strcmp("\xff", "a")),
           sign(memcmp("\x80", "\x7f", 1)));

    printf("strchr(o)=%td strrchr(o)=%td strchr(NUL)=%td strchr(z)=%td strchr(Q)=%s\n",
           strchr(s, 'o') - s, strrchr(s, 'o') - s, strchr(s, '\0') - s, strchr(s, 'z') - s,
           strchr(s, 'Q') ? "found" : "NULL");
    const char *needles[] = { "fox", "the", "The", "dog", "", "lazy cat", "o", "jumps over" };
    for (int i = 0; i < 8; i++) {
        const char *hit = strstr(s, needles[i]);
        if (hit) printf("strstr(%s)=%td ", needles[i], hit - s);
        else printf("strstr(%s)=NULL ", needles[i]);
    }
    printf("\n");
    printf("strpbrk(aeiou)=%td strspn(digits)=%zu strcspn(,;)=%zu strspn(empty)=%zu\n",
           strpbrk(s, "aeiou") - s, strspn("20240131T1200", "0123456789"),
           strcspn("key=value;next", ",;"), strspn("abc", ""));

    char csv[] = "alpha,beta,,gamma;delta ; epsilon,,";
    printf("strtok:");
    for (char *t = strtok(csv, ",;"); t; t = strtok(NULL, ",;")) printf(" <%s>", t);
    printf("\n");
    char nested[] = "a=1&b=2&c=3";
    char *outer_save, *inner_save;
    for (char *kv = strtok_r(nested, "&", &outer_save); kv; kv = strtok_r(NULL, "&", &outer_save)) {
        char *k = strtok_r(kv, "=", &inner_save);
        char *v = strtok_r(NULL, "=", &inner_save);
        printf("strtok_r: %s -> %s\n", k, v ? v : "(none)");
    }

    /* memmove with overlap in both directions; memcpy on disjoint parts. */
    char m[32] = "0123456789abcdefghij";
    memmove(m + 4, m, 10);
    printf("memmove right: %s\n", m);
    memmove(m, m + 6, 12);
    printf("memmove left:  %s\n", m);
    char dst[32];
    memset(dst, '.', sizeof dst);
    memcpy(dst + 3, "copy", 4);
    dst[20] = '\0';
    printf("memcpy: %s\n", dst);
    unsigned char bytes[16];
    memset(bytes, 0xA5, sizeof bytes);
    memset(bytes + 4, 0, 8);
    printf("memset:");
    for (int i = 0; i < 16; i++) printf(" %02x", bytes[i]);
    printf("\nmemcmp: %d %d %d\n", sign(memcmp("abcd", "abce", 4)), sign(memcmp("abcd", "abce", 3)),
           sign(memcmp("b", "a", 1)));
    const char *mc = memchr(s, 'q', strlen(s));
    printf("memchr(q)=%td\n", mc ? mc - s : (ptrdiff_t)-1);

    char *dup = strdup(s);
    dup[4] = 'Q';
    printf("strdup: %.10s / original %.10s\n", dup, s);
    free(dup);

    /* snprintf truncation: the return value is the untruncated length. */
    char small[8];
    int r = snprintf(small, sizeof small, "%s-%d", "truncate", 12345);
    printf("snprintf -> %d, buffer \"%s\"\n", r, small);
    r = snprintf(small, sizeof small, "%d", 1234567);
    printf("snprintf exact fit -> %d \"%s\"\n", r, small);
    r = snprintf(NULL, 0, "%08.3f|%x|%s", 3.14159, 48879u, "measure");
    printf("snprintf(NULL,0) -> %d\n", r);
    r = copy_into(small, 1, "xyz");
    printf("snprintf size 1 -> %d, empty=%d\n", r, small[0] == '\0');
    char line[30];   /* too small: the last append is truncated */
    int off = 0;
    for (int i = 0; i < 10; i++) {
        int w = snprintf(line + off, sizeof line - (size_t)off, "[%d]", i * i);
        if (w >= (int)sizeof line - off) { off = (int)sizeof line - 1; break; }
        off += w;
    }
    printf("appended: %s (%d)\n", line, off);

    /* sscanf */
    int a, b, n;
    char word[16], rest[32];
    double d;
    unsigned x;
    long long ll;
    int got = sscanf("  42 -17 word 2.5e3 ff 123456789012 tail end", "%d %d %15s %lf %x %lld %31[^\n]", &a, &b,
                     word, &d, &x, &ll, rest);
    printf("sscanf got %d: %d %d %s %g %u %lld [%s]\n", got, a, b, word, d, x, ll, rest);
    int y, mo, dd, hh, mi, ss, used;
    got = sscanf("2024-01-31T23:59:07Z", "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &dd, &hh, &mi, &ss, &used);
    printf("date: %d %02d %02d %02d:%02d:%02d used=%d\n", y, mo, dd, hh, mi, ss, used);
    char key[16], val[16];
    got = sscanf("name = Ada ; lang=C", "%15[a-z] = %15[^ ;]", key, val);
    printf("kv got %d: %s=%s\n", got, key, val);
    got = sscanf("abc", "%d", &a);
    printf("sscanf mismatch -> %d\n", got);
    got = sscanf("", "%d", &a);
    printf("sscanf empty -> %d (EOF is %d)\n", got, EOF);
    got = sscanf("0x1A 017 -0", "%i %i %i", &a, &b, &n);
    printf("%%i: %d %d %d %d\n", got, a, b, n);
    char c1, c2;
    got = sscanf("x  y", "%c %c", &c1, &c2);
    printf("%%c: %d '%c' '%c'\n", got, c1, c2);
    float f;
    got = sscanf("  -0.15625e1xyz", "%f%3c", &f, word);
    word[3] = '\0';
    printf("%%f: %d %.9g then '%s'\n", got, (double)f, word);
    got = sscanf("100%", "%d%%", &a);
    printf("%%%%: %d %d\n", got, a);
    return 0;
}
