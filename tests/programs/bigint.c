// Arbitrary-precision integers in base 10^9 built from uint32/uint64
// arithmetic: factorials, powers of two, Fibonacci numbers, schoolbook
// multiplication checked against repeated addition, division by small
// numbers, digit sums, plus spigot algorithms for the digits of pi and e.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

#define BASE 1000000000u
#define MAXL 400   /* limbs: up to 3600 decimal digits */

struct big { int n; uint32_t d[MAXL]; };   /* little-endian limbs, n >= 1 */

static void big_set(struct big *a, uint32_t v) { a->n = 1; a->d[0] = v % BASE; if (v >= BASE) { a->d[1] = v / BASE; a->n = 2; } }

static void big_mul_small(struct big *a, uint32_t m)
{
    uint64_t carry = 0;
    for (int i = 0; i < a->n; i++) {
        uint64_t cur = (uint64_t)a->d[i] * m + carry;
        a->d[i] = (uint32_t)(cur % BASE);
        carry = cur / BASE;
    }
    while (carry) { a->d[a->n++] = (uint32_t)(carry % BASE); carry /= BASE; }
}

static uint32_t big_div_small(struct big *a, uint32_t m)
{
    uint64_t rem = 0;
    for (int i = a->n - 1; i >= 0; i--) {
        uint64_t cur = a->d[i] + rem * BASE;
        a->d[i] = (uint32_t)(cur / m);
        rem = cur % m;
    }
    while (a->n > 1 && a->d[a->n - 1] == 0) a->n--;
    return (uint32_t)rem;
}

static void big_add(struct big *r, const struct big *a, const struct big *b)
{
    uint32_t carry = 0;
    int n = a->n > b->n ? a->n : b->n;
    for (int i = 0; i < n; i++) {
        uint32_t s = (i < a->n ? a->d[i] : 0) + (i < b->n ? b->d[i] : 0) + carry;
        carry = s >= BASE;
        r->d[i] = carry ? s - BASE : s;
    }
    r->n = n;
    if (carry) r->d[r->n++] = 1;
}

static void big_mul(struct big *r, const struct big *a, const struct big *b)
{
    static uint64_t acc[2 * MAXL];
    memset(acc, 0, sizeof(uint64_t) * (size_t)(a->n + b->n + 1));
    for (int i = 0; i < a->n; i++) {
        uint64_t carry = 0;
        for (int j = 0; j < b->n; j++) {
            uint64_t cur = acc[i + j] + (uint64_t)a->d[i] * b->d[j] + carry;
            acc[i + j] = cur % BASE;
            carry = cur / BASE;
        }
        int k = i + b->n;
        while (carry) { uint64_t cur = acc[k] + carry; acc[k++] = cur % BASE; carry = cur / BASE; }
    }
    r->n = a->n + b->n;
    for (int i = 0; i < r->n; i++) r->d[i] = (uint32_t)acc[i];
    while (r->n > 1 && r->d[r->n - 1] == 0) r->n--;
}

static int big_cmp(const struct big *a, const struct big *b)
{
    if (a->n != b->n) return a->n < b->n ? -1 : 1;
    for (int i = a->n - 1; i >= 0; i--)
        if (a->d[i] != b->d[i]) return a->d[i] < b->d[i] ? -1 : 1;
    return 0;
}

/* Prints the number, wrapped at 100 digits per line, and returns its digit count. */
static int big_print(const char *label, const struct big *a)
{
    static char buf[MAXL * 9 + 1];
    int len = sprintf(buf, "%u", a->d[a->n - 1]);
    for (int i = a->n - 2; i >= 0; i--) len += sprintf(buf + len, "%09u", a->d[i]);
    int sum = 0;
    for (int i = 0; i < len; i++) sum += buf[i] - '0';
    printf("%s (%d digits, digit sum %d):\n", label, len, sum);
    for (int i = 0; i < len; i += 100) printf("  %.100s\n", buf + i);
    return len;
}

static void pi_digits(int ndigits)
{
    /* Rabinowitz-Wagon spigot with delayed 9s handling. */
    int len = ndigits * 10 / 3 + 2;
    uint32_t *a = malloc(sizeof *a * (size_t)len);
    if (!a) exit(1);
    for (int i = 0; i < len; i++) a[i] = 2;
    int nines = 0, predigit = 0, printed = 0;
    printf("pi = ");
    for (int j = 0; j < ndigits; j++) {
        uint32_t q = 0;
        for (int i = len - 1; i >= 0; i--) {
            uint32_t x = 10 * a[i] + q * (uint32_t)(i + 1);
            a[i] = x % (2 * (uint32_t)i + 1);
            q = x / (2 * (uint32_t)i + 1);
        }
        a[0] = q % 10;
        q /= 10;
        if (q == 9) nines++;
        else if (q == 10) {
            printf("%d", predigit + 1); printed++;
            for (; nines > 0; nines--) { putchar('0'); printed++; }
            predigit = 0;
        } else {
            if (j > 0) { printf("%d", predigit); printed++; if (printed == 1) putchar('.'); }
            predigit = (int)q;
            for (; nines > 0; nines--) { putchar('9'); printed++; }
        }
    }
    printf("%d\n", predigit);
    free(a);
}

static void e_digits(int ndigits)
{
    /* e = sum 1/k!, as a mixed-radix spigot. */
    int n = ndigits + 10;
    uint32_t *a = malloc(sizeof *a * (size_t)n);
    if (!a) exit(1);
    for (int i = 0; i < n; i++) a[i] = 1;
    printf("e = 2.");
    for (int j = 0; j < ndigits; j++) {
        uint32_t carry = 0;
        for (int i = n - 1; i >= 1; i--) {
            uint32_t x = a[i] * 10 + carry;
            a[i] = x % (uint32_t)(i + 1);
            carry = x / (uint32_t)(i + 1);
        }
        putchar('0' + (int)carry);
    }
    putchar('\n');
    free(a);
}

int main(void)
{
    static struct big f, p, a, b, c, t, r1, r2;
    big_set(&f, 1);
    for (uint32_t i = 2; i <= 300; i++) big_mul_small(&f, i);
    big_print("300!", &f);
    /* Dividing back down must give exactly 1 with zero remainders. */
    uint32_t rem_or = 0;
    for (uint32_t i = 300; i >= 2; i--) rem_or |= big_div_small(&f, i);
    printf("300!/300/299/.../2 = %u, remainders all zero: %d\n", f.d[0], rem_or == 0 && f.n == 1);

    big_set(&p, 1);
    for (int i = 0; i < 1000; i++) big_mul_small(&p, 2);
    big_print("2^1000", &p);

    big_set(&a, 0);
    big_set(&b, 1);
    for (int i = 0; i < 1500; i++) { big_add(&c, &a, &b); a = b; b = c; }
    big_print("fib(1500)", &a);

    /* Cassini's identity for even n: fib(n-1)*fib(n+1) == fib(n)^2 + 1.
       Here a = fib(1500), b = fib(1501); fib(1499) is rebuilt by iteration. */
    static struct big prev;
    big_set(&prev, 0);
    big_set(&c, 1);
    for (int i = 0; i < 1499; i++) { big_add(&t, &prev, &c); prev = c; c = t; }
    big_mul(&r1, &a, &a);
    big_mul(&r2, &prev, &b);
    struct big one;
    big_set(&one, 1);
    big_add(&t, &r1, &one);
    printf("Cassini fib(1499)*fib(1501) == fib(1500)^2 + 1: %s\n", big_cmp(&t, &r2) == 0 ? "yes" : "no");

    /* 3^500 computed two ways. */
    big_set(&r1, 1);
    for (int i = 0; i < 500; i++) big_mul_small(&r1, 3);
    big_set(&c, 1);
    big_set(&t, 3);
    for (int e = 500; e; e >>= 1) {   /* square-and-multiply */
        if (e & 1) { big_mul(&r2, &c, &t); c = r2; }
        big_mul(&r2, &t, &t);
        t = r2;
    }
    printf("3^500 by repeated *3 and by squaring agree: %s\n", big_cmp(&r1, &c) == 0 ? "yes" : "no");
    big_print("3^500", &c);

    pi_digits(400);
    e_digits(300);
    return 0;
}
