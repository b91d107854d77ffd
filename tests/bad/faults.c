/* Guest faults on demand: argv[1] names the fault. Each happens in a function of its own so
 * the report can be checked to name it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((noinline)) static void null_store(volatile int *p)
{
	*p = 42;
}

__attribute__((noinline)) static long wild_load(volatile long *p)
{
	return *p;
}

__attribute__((noinline)) static void illegal(void)
{
	__builtin_trap();
}

__attribute__((noinline)) static int divide(volatile int a, volatile int b)
{
	return a / b;
}

/* No address-taken locals: each frame lives on the native stack only. Calling through a
 * volatile pointer keeps the optimiser from turning the recursion into a loop. */
static long recurse(long n);
static long (*volatile next)(long) = recurse;

__attribute__((noinline)) static long recurse(long n)
{
	return n == -1 ? 0 : next(n + 1) * 3 + n;
}

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "";
	printf("fault: %s\n", what);
	fflush(stdout);
	if (!strcmp(what, "null"))
		null_store((volatile int *)0);
	else if (!strcmp(what, "wild"))
		printf("%ld\n", wild_load((volatile long *)0x7fff00000000));
	else if (!strcmp(what, "illegal"))
		illegal();
	else if (!strcmp(what, "divide"))
		printf("%d\n", divide(7, 0));
	else if (!strcmp(what, "stack"))
		printf("%ld\n", recurse(0));
	else
		return 2;
	return 0;
}
