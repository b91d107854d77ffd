// Cost of setjmp/longjmp: N protected calls (setjmp, then a call chain DEPTH deep) that
// return normally ("protect") or end in a longjmp from the bottom of the chain ("throw"),
// the way interpreters run protected calls and raise errors.
// Usage: cost protect|throw N [DEPTH]
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static jmp_buf *handler;
static volatile unsigned long sink;

__attribute__((noinline)) static unsigned long descend(int depth, int fail)
{
    if (depth == 0) {
        if (fail)
            longjmp(*handler, 7);
        return sink + 1;
    }
    return descend(depth - 1, fail) + (unsigned long)depth;
}

__attribute__((noinline)) static unsigned long protected_call(int depth, int fail)
{
    jmp_buf here;
    jmp_buf *outer = handler;
    handler = &here;
    volatile unsigned long result = 0;
    int code = setjmp(here);
    if (code == 0)
        result = descend(depth, fail);
    else
        result = (unsigned long)code;
    handler = outer;
    return result;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: cost protect|throw N [DEPTH]\n");
        return 2;
    }
    int fail = strcmp(argv[1], "throw") == 0;
    long n = atol(argv[2]);
    int depth = argc > 3 ? atoi(argv[3]) : 10;
    unsigned long total = 0;
    for (long i = 0; i < n; i++)
        total += protected_call(depth, fail);
    printf("%s %ld depth %d: total %lu\n", argv[1], n, depth, total);
    return 0;
}
