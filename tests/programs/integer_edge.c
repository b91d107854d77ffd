// Integer edge cases: limits, unsigned wrap-around, shifts, division and
// modulo with negative operands, 64-bit multiplication, printf integer
// conversions and flags, strtol/strtoul/strtoll edge cases with errno and
// endptr, integer promotions, and __int128 arithmetic printed by hand.
#define _POSIX_C_SOURCE 200809L   /* for ssize_t */
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <inttypes.h>
#include <limits.h>
#include <errno.h>

typedef unsigned __int128 u128;
typedef __int128 i128;

/* printf has no 128-bit conversion, so format in decimal by hand. */
static void print_u128(u128 v)
{
    char buf[48];
    int i = 47;
    buf[i] = '\0';
    do { buf[--i] = (char)('0' + (int)(v % 10)); v /= 10; } while (v);
    fputs(buf + i, stdout);
}
static void print_i128(i128 v)
{
    if (v < 0) { putchar('-'); print_u128((u128)0 - (u128)v); }
    else print_u128((u128)v);
}
static void print_hex128(u128 v)
{
    printf("0x%016llx%016llx", (unsigned long long)(v >> 64), (unsigned long long)v);
}

int main(void)
{
    printf("INT_MIN=%d INT_MAX=%d UINT_MAX=%u\n", INT_MIN, INT_MAX, UINT_MAX);
    printf("LLONG_MIN=%lld LLONG_MAX=%lld ULLONG_MAX=%llu\n", LLONG_MIN, LLONG_MAX, ULLONG_MAX);
    printf("SHRT_MIN=%d SHRT_MAX=%d USHRT_MAX=%d SCHAR_MIN=%d UCHAR_MAX=%d\n", SHRT_MIN, SHRT_MAX,
           USHRT_MAX, SCHAR_MIN, UCHAR_MAX);
    printf("sizes: short %zu int %zu long %zu long long %zu int128 %zu\n", sizeof(short),
           sizeof(int), sizeof(long), sizeof(long long), sizeof(i128));

    /* Overflow is only defined for unsigned types; do it there. */
    unsigned u = UINT_MAX;
    printf("UINT_MAX+1=%u 0u-1=%u INT_MAX+1 via unsigned=%d\n", u + 1, 0u - 1,
           (int)((unsigned)INT_MAX + 1u));
    uint64_t big = UINT64_MAX;
    printf("UINT64_MAX*UINT64_MAX=%" PRIu64 " (2^63)*2=%" PRIu64 "\n", big * big,
           ((uint64_t)1 << 63) * 2);
    uint32_t h = 2166136261u;
    for (int i = 0; i < 1000; i++) h = (h ^ (uint32_t)i) * 16777619u;
    printf("fnv32 over 0..999 = %" PRIu32 "\n", h);
    uint16_t s16 = 65535;
    s16++;
    uint8_t s8 = 200;
    s8 += 100;
    printf("uint16 wrap=%u uint8 wrap=%u\n", (unsigned)s16, (unsigned)s8);
    /* Integer promotions: uint8_t operands become int before the subtraction. */
    uint8_t a8 = 10, b8 = 20;
    printf("a8-b8=%d (promoted), (uint8_t)(a8-b8)=%u\n", a8 - b8, (unsigned)(uint8_t)(a8 - b8));
    /* unsigned int converts to (wider) long here, so the comparison is signed. */
    printf("-1L < 0u is %d; (unsigned)-1 == UINT_MAX is %d\n", -1L < 0u, (unsigned)-1 == UINT_MAX);

    /* Shifts: only within range, and never of negative left operands. */
    for (int sh = 0; sh < 64; sh += 9)
        printf("1ull<<%d=%llu ~0ull>>%d=%llx ", sh, 1ULL << sh, sh, ~0ULL >> sh);
    printf("\n");
    printf("arith >>: %d %d %lld\n", -17 >> 1, -1 >> 31, LLONG_MIN >> 63);
    printf("0x80000000u>>31=%u (int)0x7fffffff<<0=%d\n", 0x80000000u >> 31, 0x7fffffff << 0);

    /* Division truncates toward zero; % takes the sign of the dividend. */
    int nums[] = { 7, -7, 7, -7, INT_MIN, INT_MAX, 0 };
    int dens[] = { 2, 2, -2, -2, -1 + 2, -1, 5 };
    for (int i = 0; i < 7; i++)
        printf("%d / %d = %d, %d %% %d = %d\n", nums[i], dens[i], nums[i] / dens[i], nums[i],
               dens[i], nums[i] % dens[i]);
    printf("LLONG_MIN / 3 = %lld, LLONG_MIN %% 3 = %lld, -1 %% 5 = %d\n", LLONG_MIN / 3, LLONG_MIN % 3, -1 % 5);
    printf("ULLONG_MAX / 7 = %llu, %% 7 = %llu\n", ULLONG_MAX / 7, ULLONG_MAX % 7);

    /* 64-bit products and their high halves via __int128. */
    int64_t x = 3037000499LL;
    printf("3037000499^2=%lld\n", (long long)(x * x));
    uint64_t p = 0xDEADBEEFCAFEBABEULL, q = 0x123456789ABCDEFULL;
    u128 wide = (u128)p * q;
    printf("p*q low=%016llx high=%016llx\n", (unsigned long long)wide, (unsigned long long)(wide >> 64));

    /* printf integer conversions and flags. */
    printf("|%d|%5d|%-5d|%05d|%+d|% d|%.3d|%8.3d|%-+8d|\n", 42, 42, 42, 42, 42, 42, 7, -7, 42);
    printf("|%x|%X|%#x|%#o|%o|%08x|%#010x|%.0d|%.0x|%#.0o|\n", 255, 255, 255, 8, 8, 0xbeef, 0xbeef, 0, 0, 0);
    printf("|%hhd|%hhu|%hd|%hu|%ld|%lu|%zd|%zu|%td|%jd|\n", (signed char)-128, (unsigned char)255,
           (short)-32768, (unsigned short)65535, LONG_MIN, ULONG_MAX, (ssize_t)-5, (size_t)-1,
           (ptrdiff_t)-9, (intmax_t)INTMAX_MIN);
    printf("|%llx|%llX|%llo|%#llo|%lli|%*d|%-*d|\n", ULLONG_MAX, 0xABCDEF0123ULL, ULLONG_MAX, 1ULL,
           LLONG_MIN, 6, -12, 6, -12);
    printf("PRI macros: %" PRId8 " %" PRIu16 " %" PRIx32 " %" PRId64 " %" PRIX64 "\n", (int8_t)-8,
           (uint16_t)60000, (uint32_t)0xFACE, (int64_t)-1234567890123LL, (uint64_t)0xFEEDFACECAFEULL);

    /* strtol family. */
    const char *inputs[] = { "0", "-0", "+17", "  -42abc", "2147483647", "2147483648", "-2147483649",
                             "9223372036854775807", "9223372036854775808", "-9223372036854775808",
                             "-9223372036854775809", "0x1F", "0X", "077", "08", "zz", "", "   ",
                             "18446744073709551615", "18446744073709551616", "-1", "1e5", "0b101" };
    int bases[] = { 10, 0, 16, 8, 36, 2 };
    for (int i = 0; i < (int)(sizeof inputs / sizeof inputs[0]); i++) {
        char *end;
        errno = 0;
        long l = strtol(inputs[i], &end, 0);
        int el = errno;
        errno = 0;
        unsigned long ul = strtoul(inputs[i], NULL, 10);
        int eu = errno;
        errno = 0;
        long long ll = strtoll(inputs[i], NULL, 10);
        int ell = errno;
        printf("\"%s\": strtol0=%ld%s used=%td strtoul10=%lu%s strtoll10=%lld%s\n", inputs[i], l,
               el == ERANGE ? "(ERANGE)" : "", end - inputs[i], ul, eu == ERANGE ? "(ERANGE)" : "",
               ll, ell == ERANGE ? "(ERANGE)" : "");
    }
    const char *src = "1z7";
    for (int i = 0; i < 6; i++) {
        char *end;
        long v = strtol(src, &end, bases[i]);
        printf("strtol(\"%s\", base %d) = %ld used %td\n", src, bases[i], v, end - src);
    }
    errno = 0;
    long zz = strtol("zzzzzzzzzzzzz", NULL, 36);   /* errno read in a later statement */
    printf("strtol(\"zzzzzzzzzzzzz\",36)=%ld errno=%s\n", zz, errno == ERANGE ? "ERANGE" : "0");
    printf("atoi(\" -123x\")=%d atol(\"99999999999\")=%ld atoll(\"-5\")=%lld\n", atoi(" -123x"),
           atol("99999999999"), atoll("-5"));
    printf("llabs(LLONG_MIN+1)=%lld labs(-5)=%ld abs(INT_MIN+1)=%d\n", llabs(LLONG_MIN + 1), labs(-5L),
           abs(INT_MIN + 1));
    div_t dv = div(-17, 5);
    lldiv_t lv = lldiv(LLONG_MAX, -1000);
    printf("div(-17,5)={%d,%d} lldiv(LLONG_MAX,-1000)={%lld,%lld}\n", dv.quot, dv.rem, lv.quot, lv.rem);

    /* __int128 arithmetic. */
    u128 f = 1;
    for (int i = 1; i <= 34; i++) {
        f *= (u128)i;
        if (i >= 30) { printf("%d! = ", i); print_u128(f); printf("\n"); }
    }
    u128 umax = ~(u128)0;
    i128 imax = (i128)(umax >> 1), imin = -imax - 1;
    printf("u128 max = "); print_u128(umax); printf("\n");
    printf("i128 max = "); print_i128(imax); printf("\ni128 min = "); print_i128(imin); printf("\n");
    printf("hex max = "); print_hex128(umax); printf("\n");
    i128 n = -(i128)123456789012345678LL * 1000000000000LL + 987654321;
    printf("n = "); print_i128(n);
    printf("\nn / 7 = "); print_i128(n / 7);
    printf("\nn %% 7 = "); print_i128(n % 7);
    printf("\nn >> 17 = "); print_i128(n >> 17);
    printf("\nn * -3 = "); print_i128(n * -3);
    printf("\numax / 3 = "); print_u128(umax / 3);
    printf("\numax %% 1000000007 = "); print_u128(umax % 1000000007u);
    u128 m = (u128)0xFFFFFFFFFFFFFFFFULL * 0xFFFFFFFFFFFFFFFFULL;
    printf("\n(2^64-1)^2 = "); print_u128(m); printf(" = "); print_hex128(m);
    printf("\ncompare: %d %d %d\n", n < 0, (u128)n > umax / 2, imin < imax);
    /* 128-bit modular exponentiation: 3^(2^61-2) mod (2^61-1) is the inverse of 3. */
    uint64_t mod = ((uint64_t)1 << 61) - 1, base = 3, e = mod - 2, r = 1;
    while (e) {
        if (e & 1) r = (uint64_t)(((u128)r * base) % mod);
        base = (uint64_t)(((u128)base * base) % mod);
        e >>= 1;
    }
    printf("inverse of 3 mod 2^61-1 = %llu, check %llu\n", (unsigned long long)r,
           (unsigned long long)(((u128)r * 3) % mod));
    /* Conversions between widths (in range, or to unsigned, so well defined). */
    long long neg = -1;
    printf("(unsigned)(-1LL)=%u (uint8_t)300=%u (uint64_t)-1=%llu (long long)3000000000u=%lld\n",
           (unsigned)neg, (unsigned)(uint8_t)300, (unsigned long long)(uint64_t)neg,
           (long long)3000000000u);
    return 0;
}
