// Bit manipulation done by hand (no target builtins): population count,
// leading/trailing zero counts, bit reversal, rotations, byte swaps, Gray
// codes, next permutation of a bit pattern, sign extension, power-of-two
// rounding, Morton interleaving, and a bitset sieve, all cross-checked
// between two implementations where possible.
#include <stdio.h>
#include <stdint.h>
#include <string.h>

static int popcount_loop(uint64_t x) { int n = 0; while (x) { n += (int)(x & 1); x >>= 1; } return n; }
static int popcount_swar(uint64_t x)
{
    x = x - ((x >> 1) & 0x5555555555555555ULL);
    x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
    x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0FULL;
    return (int)((x * 0x0101010101010101ULL) >> 56);
}
static int clz64(uint64_t x)
{
    if (!x) return 64;
    int n = 0;
    if (!(x >> 32)) { n += 32; x <<= 32; }
    if (!(x >> 48)) { n += 16; x <<= 16; }
    if (!(x >> 56)) { n += 8; x <<= 8; }
    if (!(x >> 60)) { n += 4; x <<= 4; }
    if (!(x >> 62)) { n += 2; x <<= 2; }
    if (!(x >> 63)) { n += 1; }
    return n;
}
static int ctz64(uint64_t x)
{
    if (!x) return 64;
    int n = 0;
    while (!(x & 1)) { x >>= 1; n++; }
    return n;
}
static uint32_t reverse32(uint32_t x)
{
    x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
    x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
    x = ((x >> 4) & 0x0F0F0F0Fu) | ((x & 0x0F0F0F0Fu) << 4);
    x = ((x >> 8) & 0x00FF00FFu) | ((x & 0x00FF00FFu) << 8);
    return (x >> 16) | (x << 16);
}
static uint32_t rotl32(uint32_t x, unsigned r) { r &= 31; return r ? (x << r) | (x >> (32 - r)) : x; }
static uint64_t rotr64(uint64_t x, unsigned r) { r &= 63; return r ? (x >> r) | (x << (64 - r)) : x; }
static uint64_t bswap64(uint64_t x)
{
    uint64_t r = 0;
    for (int i = 0; i < 8; i++) { r = (r << 8) | (x & 0xFF); x >>= 8; }
    return r;
}
static uint16_t bswap16(uint16_t x) { return (uint16_t)((x >> 8) | (x << 8)); }
static uint32_t gray(uint32_t x) { return x ^ (x >> 1); }
static uint32_t gray_inverse(uint32_t g) { for (uint32_t s = 1; s < 32; s <<= 1) g ^= g >> s; return g; }
/* Next larger integer with the same number of set bits (Gosper's hack). */
static uint32_t next_same_popcount(uint32_t v)
{
    uint32_t t = v | (v - 1);
    return (t + 1) | (((~t & -~t) - 1) >> (ctz64(v) + 1));
}
static int64_t sign_extend(uint64_t v, unsigned bits)
{
    uint64_t m = 1ULL << (bits - 1);
    v &= (bits == 64) ? ~0ULL : ((1ULL << bits) - 1);
    uint64_t r = (v ^ m) - m;          /* two's complement pattern, computed unsigned */
    /* Convert without relying on implementation-defined out-of-range conversion. */
    return r >> 63 ? -(int64_t)(~r) - 1 : (int64_t)r;
}
static uint64_t round_up_pow2(uint64_t v)
{
    if (v <= 1) return 1;
    v--;
    for (unsigned s = 1; s < 64; s <<= 1) v |= v >> s;
    return v + 1;
}
static uint32_t spread_bits(uint16_t x)
{
    uint32_t v = x;
    v = (v | (v << 8)) & 0x00FF00FFu;
    v = (v | (v << 4)) & 0x0F0F0F0Fu;
    v = (v | (v << 2)) & 0x33333333u;
    v = (v | (v << 1)) & 0x55555555u;
    return v;
}
static uint32_t morton(uint16_t x, uint16_t y) { return spread_bits(x) | (spread_bits(y) << 1); }

int main(void)
{
    uint64_t s = 0x0123456789ABCDEFULL;
    int mismatches = 0;
    for (int i = 0; i < 12; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        uint64_t v = s >> (i * 5 % 64);
        int pc = popcount_swar(v);
        if (pc != popcount_loop(v)) mismatches++;
        printf("%016llx pop=%2d clz=%2d ctz=%2d bswap=%016llx rotr13=%016llx\n", (unsigned long long)v,
               pc, clz64(v), ctz64(v), (unsigned long long)bswap64(v), (unsigned long long)rotr64(v, 13));
    }
    for (uint64_t v = 1; v; v <<= 1)
        if (clz64(v) + ctz64(v) != 63) mismatches++;
    printf("clz/ctz/popcount cross-check mismatches: %d\n", mismatches);

    uint32_t words[] = { 0, 1, 0x80000000u, 0xDEADBEEFu, 0x12345678u, 0xFFFFFFFFu, 0x0F0F00F0u };
    for (int i = 0; i < 7; i++) {
        uint32_t w = words[i];
        printf("%08x rev=%08x rotl7=%08x rotl0=%08x gray=%08x inv(gray)=%08x\n", w, reverse32(w),
               rotl32(w, 7), rotl32(w, 0), gray(w), gray_inverse(gray(w)));
    }
    printf("bswap16(0xABCD)=%04x\n", bswap16(0xABCD));

    printf("gray code sequence:");
    for (uint32_t i = 0; i < 16; i++) printf(" %u", gray(i));
    printf("\n");

    printf("3-of-8 patterns:");
    int count = 0;
    for (uint32_t v = 0x7; v < 0x100; v = next_same_popcount(v)) { printf(" %02x", v); count++; }
    printf(" (%d, C(8,3)=56)\n", count);

    unsigned bits_list[] = { 4, 8, 12, 17, 32, 64 };
    for (int i = 0; i < 6; i++)
        printf("sign_extend(0x%llx, %u) = %lld\n", 0xFFFFF9ULL & ((bits_list[i] == 64) ? ~0ULL : (1ULL << bits_list[i]) - 1),
               bits_list[i], (long long)sign_extend(0xFFFFF9ULL, bits_list[i]));
    uint64_t rs[] = { 0, 1, 2, 3, 5, 1000, 1024, 1025, (1ULL << 40) + 1, 1ULL << 63 };
    printf("round_up_pow2:");
    for (int i = 0; i < 10; i++) printf(" %llu", (unsigned long long)round_up_pow2(rs[i]));
    printf("\n");
    printf("morton: (3,5)=%u (65535,0)=%08x (0,65535)=%08x (1234,4321)=%u\n", morton(3, 5), morton(65535, 0),
           morton(0, 65535), morton(1234, 4321));

    /* Bit tricks on signed values via well-defined operations. */
    int vals[] = { 0, 1, -1, 37, -37, 2147483647, -2147483647 - 1 };
    for (int i = 0; i < 7; i++) {
        int v = vals[i];
        unsigned u = (unsigned)v;
        printf("v=%d lowest set bit=%u is_pow2=%d abs_via_mask=%u parity=%d\n", v, u & (0u - u),
               v > 0 && (u & (u - 1)) == 0, (u ^ (0u - (u >> 31))) + (u >> 31), popcount_loop(u) & 1);
    }

    /* A bitset sieve of Eratosthenes up to 1,000,000. */
    enum { LIMIT = 1000000 };
    static uint64_t composite[LIMIT / 64 + 1];
    memset(composite, 0, sizeof composite);
    for (uint32_t i = 2; i * i < LIMIT; i++)
        if (!(composite[i >> 6] >> (i & 63) & 1))
            for (uint32_t j = i * i; j < LIMIT; j += i) composite[j >> 6] |= 1ULL << (j & 63);
    int primes = 0;
    uint32_t last = 0;
    uint64_t psum = 0;
    for (uint32_t i = 2; i < LIMIT; i++)
        if (!(composite[i >> 6] >> (i & 63) & 1)) { primes++; last = i; psum += i; }
    int setbits = 0;
    for (int i = 0; i < LIMIT / 64 + 1; i++) setbits += popcount_swar(composite[i]);
    printf("primes below %d: %d, largest %u, sum %llu, composite bits set %d\n", LIMIT, primes, last,
           (unsigned long long)psum, setbits);
    return 0;
}
