// xisa-args: alpha --count=3 -v  two  words 12.5 -- last
// xisa-env: XISA_MODE=test
// xisa-env: XISA_EMPTY=
// xisa-env: GREETING=hello world
// xisa-env: A_FIRST=1
// xisa-env: PATHLIKE=/usr/bin:/bin
// Command-line arguments and the environment: argc/argv (argv[0] is not
// printed since it names the binary differently on each executor), empty
// arguments from doubled spaces, getenv hits/misses/empty values, the
// whole environ sorted, and setenv/unsetenv effects.
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void dump_environ(const char *label)
{
    int n = 0;
    while (environ[n]) n++;
    char **copy = malloc(sizeof *copy * (size_t)(n + 1));
    if (!copy) exit(3);
    memcpy(copy, environ, sizeof *copy * (size_t)n);
    qsort(copy, (size_t)n, sizeof *copy, cmp_str);
    printf("%s: %d variables\n", label, n);
    for (int i = 0; i < n; i++) printf("  %s\n", copy[i]);
    free(copy);
}

int main(int argc, char **argv)
{
    printf("argc=%d argv[0] present=%d argv[argc] is NULL=%d\n", argc, argv[0] != NULL,
           argv[argc] == NULL);
    for (int i = 1; i < argc; i++) printf("argv[%d] = \"%s\" (%zu bytes)\n", i, argv[i], strlen(argv[i]));

    /* A tiny option parser over the arguments. */
    int verbose = 0, count = 0, positional = 0;
    double number = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) { positional += argc - i - 1; break; }
        if (strcmp(argv[i], "-v") == 0) verbose++;
        else if (strncmp(argv[i], "--count=", 8) == 0) count = atoi(argv[i] + 8);
        else if (argv[i][0] && strspn(argv[i], "0123456789.") == strlen(argv[i])) number = strtod(argv[i], NULL);
        else positional++;
    }
    printf("verbose=%d count=%d number=%g positional=%d\n", verbose, count, number, positional);

    const char *names[] = { "XISA_MODE", "XISA_EMPTY", "GREETING", "PATHLIKE", "HOME", "PATH", "NOPE" };
    for (int i = 0; i < 7; i++) {
        const char *v = getenv(names[i]);
        if (v) printf("getenv(%s) = \"%s\"\n", names[i], v);
        else printf("getenv(%s) = NULL\n", names[i]);
    }
    dump_environ("initial environ");

    setenv("XISA_NEW", "42", 1);
    setenv("XISA_MODE", "ignored", 0);       /* no overwrite */
    setenv("GREETING", "replaced", 1);
    unsetenv("A_FIRST");
    printf("after edits: XISA_NEW=%s XISA_MODE=%s GREETING=%s A_FIRST=%s\n", getenv("XISA_NEW"),
           getenv("XISA_MODE"), getenv("GREETING"), getenv("A_FIRST") ? "set" : "unset");
    dump_environ("edited environ");

    /* Split PATHLIKE the way a shell would search it. */
    char *copy = strdup(getenv("PATHLIKE"));
    int k = 0;
    for (char *dir = strtok(copy, ":"); dir; dir = strtok(NULL, ":")) printf("path[%d] = %s\n", k++, dir);
    free(copy);
    return 0;
}
