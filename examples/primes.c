/* A small example: counts primes below a limit with a sieve on the heap, keeps the largest
 * gaps in a table sorted with qsort, and prints a summary. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct gap {
	long start;
	long length;
};

static int by_length_then_start(const void *a, const void *b)
{
	const struct gap *x = a, *y = b;
	if (x->length != y->length)
		return x->length < y->length ? 1 : -1;
	return (x->start > y->start) - (x->start < y->start);
}

int main(int argc, char **argv)
{
	long limit = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
	if (limit < 3) {
		fprintf(stderr, "usage: %s LIMIT (at least 3)\n", argv[0]);
		return 2;
	}
	char *composite = calloc((size_t)limit, 1);
	if (!composite)
		return 1;
	for (long i = 2; i * i < limit; i++)
		if (!composite[i])
			for (long j = i * i; j < limit; j += i)
				composite[j] = 1;

	struct gap gaps[8];
	int kept = 0;
	long count = 0, previous = 2;
	for (long n = 2; n < limit; n++) {
		if (composite[n])
			continue;
		count++;
		struct gap g = { previous, n - previous };
		previous = n;
		if (kept < 8) {
			gaps[kept++] = g;
		} else if (g.length > gaps[7].length) {
			gaps[7] = g;
		} else {
			continue;
		}
		qsort(gaps, (size_t)kept, sizeof gaps[0], by_length_then_start);
	}
	printf("%ld primes below %ld\n", count, limit);
	printf("largest gaps:\n");
	for (int i = 0; i < kept; i++)
		printf("  %6ld after %ld\n", gaps[i].length, gaps[i].start);
	free(composite);
	return 0;
}
