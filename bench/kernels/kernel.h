// What every kernel shares: the class argument, checked allocation, the NAS random-number
// generator and the self-check against reference checksums. Included by each kernel source,
// so a kernel still builds from one file with any C compiler.
#ifndef XISA_BENCH_KERNEL_H
#define XISA_BENCH_KERNEL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MASK46 ((UINT64_C(1) << 46) - 1)
#define MULT UINT64_C(1220703125)

static const char kernel_classes[] = "SWA";

// The size class named by argv[1] (0 for S, 1 for W, 2 for A); exits with a usage message
// when there is none.
static inline int kernel_class(int argc, char **argv, const char *name)
{
    const char *at = argc > 1 && strlen(argv[1]) == 1 ? strchr(kernel_classes, argv[1][0]) : NULL;
    if (!at || !*at) {
        fprintf(stderr, "usage: %s S|W|A [-r]\n", name);
        exit(2);
    }
    return (int)(at - kernel_classes);
}

// The NAS generator: x <- 5^13 x mod 2^46, as a double in [0, 1).
static inline double uniform(void)
{
    static uint64_t state = 314159265;
    state = (state * MULT) & MASK46;
    return (double)state / (double)(UINT64_C(1) << 46);
}

static inline void *checked(void *p)
{
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    return p;
}

static inline void *xmalloc(size_t n)
{
    return checked(malloc(n));
}

static inline void *xcalloc(size_t n)
{
    return checked(calloc(n, 1));
}

// Prints "NAME CLASS checksum=... VERIFIED|FAILED" and returns the exit status. Each checksum
// must lie within a relative tolerance of its reference; with `-r` as argv[2] the computed
// checksums are printed first in the form of a reference table row.
static inline int kernel_report(const char *name, int cls, int argc, char **argv,
                                const double *got, const double *want, int n, double tol)
{
    if (argc > 2 && !strcmp(argv[2], "-r")) {
        printf("    {");
        for (int i = 0; i < n; i++) printf("%s%.17g", i ? ", " : "", got[i]);
        printf("},\n");
    }
    int ok = 1;
    for (int i = 0; i < n; i++)
        if (!(fabs(got[i] - want[i]) <= tol * fabs(want[i]))) ok = 0;
    printf("%s %c checksum=%.15e %s", name, kernel_classes[cls], got[0], ok ? "VERIFIED" : "FAILED");
    if (!ok)
        for (int i = 0; i < n; i++) printf(" [%d] %.17g!=%.17g", i, got[i], want[i]);
    printf("\n");
    return !ok;
}

#endif
