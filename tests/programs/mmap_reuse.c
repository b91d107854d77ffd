/* Anonymous mappings made, unmapped, remapped and reused in every pattern an allocator or a
 * program uses: fresh mappings must read as zero, MAP_FIXED and MAP_FIXED_NOREPLACE must see
 * unmapped ranges as free, and mremap must carry contents. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define KIB 1024UL

static unsigned long nonzero(const unsigned char *p, size_t len)
{
	unsigned long n = 0;
	for (size_t i = 0; i < len; i++) n += p[i] != 0;
	return n;
}

static unsigned char *map(size_t len)
{
	void *p = mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	return p;
}

static uint64_t rng = 88172645463325252ULL;
static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

int main(void)
{
	/* Same size again: zero, whatever the last user left. */
	for (int round = 0; round < 3; round++) {
		unsigned char *p = map(64 * KIB);
		printf("round %d: fresh 64 KiB mapping has %lu nonzero bytes\n", round,
		       nonzero(p, 64 * KIB));
		memset(p, 0xab, 64 * KIB);
		munmap(p, 64 * KIB);
	}

	/* Lengths that are not page multiples round up. */
	unsigned char *odd = map(10000);
	memset(odd, 0x11, 10000);
	munmap(odd, 10000);
	odd = map(12288);
	printf("rounded length: %lu nonzero bytes\n", nonzero(odd, 12288));
	munmap(odd, 12288);

	/* An address just unmapped is free for MAP_FIXED_NOREPLACE. */
	unsigned char *a = map(32 * KIB);
	memset(a, 0x22, 32 * KIB);
	munmap(a, 32 * KIB);
	void *b = mmap(a, 32 * KIB, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	printf("noreplace on an unmapped range: %s, %lu nonzero bytes\n",
	       b == (void *)a ? "placed there" : "refused",
	       b == (void *)a ? nonzero(b, 32 * KIB) : 0UL);
	if (b != MAP_FAILED) munmap(b, 32 * KIB);

	/* MAP_FIXED over the middle of a live mapping, then pieces unmapped. */
	unsigned char *c = map(48 * KIB);
	memset(c, 0x33, 48 * KIB);
	void *mid = mmap(c + 16 * KIB, 16 * KIB, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	printf("fixed over the middle: %s; first third %lu, middle %lu, last %lu nonzero\n",
	       mid == (void *)(c + 16 * KIB) ? "placed" : "moved", nonzero(c, 16 * KIB),
	       nonzero(c + 16 * KIB, 16 * KIB), nonzero(c + 32 * KIB, 16 * KIB));
	munmap(c, 4 * KIB);
	munmap(c + 4 * KIB, 44 * KIB);
	unsigned char *c2 = map(48 * KIB);
	printf("after piecewise unmap: fresh 48 KiB has %lu nonzero bytes\n", nonzero(c2, 48 * KIB));
	munmap(c2, 48 * KIB);

	/* mremap keeps the contents, grows with zeros and the result unmaps normally. */
	unsigned char *d = map(64 * KIB);
	for (size_t i = 0; i < 64 * KIB; i++) d[i] = (unsigned char)(i * 7 + 1);
	unsigned char *e = mremap(d, 64 * KIB, 256 * KIB, MREMAP_MAYMOVE);
	unsigned long same = 0;
	for (size_t i = 0; i < 64 * KIB; i++) same += e[i] == (unsigned char)(i * 7 + 1);
	printf("mremap: %lu of %lu bytes kept, grown part %lu nonzero\n", same, 64 * KIB,
	       nonzero(e + 64 * KIB, 192 * KIB));
	munmap(e, 256 * KIB);
	e = map(256 * KIB);
	printf("after mremap+munmap: fresh 256 KiB has %lu nonzero bytes\n", nonzero(e, 256 * KIB));
	munmap(e, 256 * KIB);

	/* Many mappings of one size at once, all unmapped, all mapped again. */
	enum { MANY = 48 };
	unsigned char *many[MANY];
	for (int i = 0; i < MANY; i++) {
		many[i] = map(8 * KIB);
		memset(many[i], i + 1, 8 * KIB);
	}
	for (int i = 0; i < MANY; i++) munmap(many[i], 8 * KIB);
	unsigned long dirty = 0;
	for (int i = 0; i < MANY; i++) {
		many[i] = map(8 * KIB);
		dirty += nonzero(many[i], 8 * KIB);
	}
	for (int i = 0; i < MANY; i++) munmap(many[i], 8 * KIB);
	printf("%d mappings unmapped and mapped again: %lu nonzero bytes\n", MANY, dirty);

	/* A mapping with a read-only guard page is unmapped whole and mapped again. */
	unsigned char *guarded = map(16 * KIB);
	memset(guarded, 0x66, 16 * KIB);
	mprotect(guarded + 12 * KIB, 4 * KIB, PROT_READ);
	munmap(guarded, 16 * KIB);
	guarded = map(16 * KIB);
	memset(guarded, 0x77, 16 * KIB); /* every page writable again */
	printf("guarded mapping mapped again: %lu nonzero bytes after filling\n",
	       nonzero(guarded, 16 * KIB));
	munmap(guarded, 16 * KIB);

	/* A large mapping, beyond any reuse. */
	unsigned char *big = map(3 * 1024 * KIB);
	memset(big, 0x44, 3 * 1024 * KIB);
	munmap(big, 3 * 1024 * KIB);
	big = map(3 * 1024 * KIB);
	printf("3 MiB mapped again: %lu nonzero bytes\n", nonzero(big, 3 * 1024 * KIB));
	munmap(big, 3 * 1024 * KIB);

	/* The allocator's own churn: calloc must return zeros every time. */
	void *live[64] = {0};
	size_t sizes[64] = {0};
	unsigned long bad = 0, total = 0;
	for (int i = 0; i < 20000; i++) {
		int slot = next() % 64;
		if (live[slot]) {
			free(live[slot]);
			live[slot] = 0;
		} else {
			size_t n = 1000 + next() % (300 * KIB);
			unsigned char *p = calloc(1, n);
			if (!p) {
				puts("calloc failed");
				return 1;
			}
			bad += nonzero(p, n);
			memset(p, 0x5a, n);
			live[slot] = p;
			sizes[slot] = n;
			total += n;
		}
	}
	for (int i = 0; i < 64; i++) free(live[i]);
	printf("calloc churn: %lu bytes handed out, %lu of them not zero\n", total, bad);
	(void)sizes;
	return 0;
}
