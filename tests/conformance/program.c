/* The conformance kit's program: deterministic, prints as it goes and appends to a file it
 * keeps open, with heap nodes and a recursion at every round, so a resumed run depends on
 * restored frames, memory, stdout and an open file at its offset. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct node {
    struct node *next;
    unsigned long value;
};

static unsigned long mix(unsigned long x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdUL;
    x ^= x >> 33;
    return x;
}

static unsigned long walk(int depth, unsigned long seed)
{
    char scratch[32];
    if (depth == 0)
        return mix(seed);
    snprintf(scratch, sizeof scratch, "%d:%lx", depth, seed);
    return walk(depth - 1, seed * 31 + (unsigned char)scratch[0]) ^ strlen(scratch);
}

int main(void)
{
    FILE *log = fopen("log.txt", "w");
    if (!log) {
        perror("log.txt");
        return 1;
    }
    struct node *list = NULL;
    unsigned long sum = 0;
    for (int round = 1; round <= 16; round++) {
        struct node *n = malloc(sizeof *n);
        if (!n)
            return 1;
        n->value = 0;
        for (int k = 0; k < 8; k++)
            n->value += walk(round + k, sum + (unsigned long)k);
        n->next = list;
        list = n;
        sum += n->value;
        printf("round %2d value %016lx sum %016lx\n", round, n->value, sum);
        fflush(stdout);
        fprintf(log, "round %d %016lx\n", round, n->value);
        fflush(log);
    }
    fclose(log);
    log = fopen("log.txt", "r");
    if (!log) {
        perror("log.txt");
        return 1;
    }
    char line[128];
    unsigned long lines = 0, hash = 0;
    while (fgets(line, sizeof line, log)) {
        lines++;
        for (char *p = line; *p; p++)
            hash = hash * 31 + (unsigned char)*p;
    }
    fclose(log);
    int count = 0;
    for (struct node *p = list; p; p = p->next)
        count++;
    printf("log.txt: %lu lines, hash %016lx\n", lines, hash);
    printf("list: %d nodes, sum %016lx\n", count, sum);
    return 0;
}
