// The standard streams themselves: printf/fprintf return values and %n,
// puts/fputs/putchar/fputc/fwrite to stdout, interleaved stderr output,
// switching stdout between line and full buffering with setvbuf, an
// explicit fflush, a 15 KiB burst of output, and reading from an empty
// stdin (the harness supplies /dev/null) with EOF, feof and clearerr.
#include <stdio.h>
#include <string.h>

int main(void)
{
    /* Before any output, make stdout line buffered with our own buffer. */
    static char linebuf[256];
    if (setvbuf(stdout, linebuf, _IOLBF, sizeof linebuf) != 0) fprintf(stderr, "setvbuf failed\n");

    int n = printf("hello %s %d\n", "streams", 42);
    int m = fprintf(stderr, "stderr line one (%d)\n", n);
    printf("printf returned %d, fprintf(stderr) returned %d\n", n, m);

    int pos1 = 0, pos2 = 0;
    printf("abc%ndef%n\n", &pos1, &pos2);
    printf("%%n recorded %d and %d\n", pos1, pos2);

    puts("puts adds a newline");
    fputs("fputs does not", stdout);
    putchar('\n');
    for (const char *p = "putchar loop"; *p; p++) putchar(*p);
    fputc('\n', stdout);
    const char raw[] = { 'r', 'a', 'w', ' ', 'b', 'y', 't', 'e', 's', '\0', 'X', '\n' };
    size_t w = fwrite(raw, 1, sizeof raw, stdout);   /* includes a NUL byte */
    printf("fwrite wrote %zu items\n", w);
    fprintf(stderr, "stderr line two\n");
    fflush(stdout);

    /* A 15 KiB burst of formatted lines. */
    unsigned long check = 0;
    for (int i = 0; i < 400; i++) {
        char line[64];
        int len = snprintf(line, sizeof line, "%04d %08x %-12s|%+.3e\n", i, (unsigned)i * 2654435761u,
                           i % 3 ? "fizz" : "buzz", i / 7.0);
        check = check * 31 + (unsigned long)len;
        fputs(line, stdout);
    }
    printf("burst checksum %lu\n", check);

    /* Reading an empty stdin. */
    char buf[32];
    char *r = fgets(buf, sizeof buf, stdin);
    int c = getchar();
    printf("stdin: fgets %s, getchar %s, feof %d, ferror %d\n", r ? "read a line" : "NULL", c == EOF ? "EOF" : "a char",
           feof(stdin) != 0, ferror(stdin) != 0);
    clearerr(stdin);
    printf("after clearerr: feof %d\n", feof(stdin) != 0);
    int got = scanf("%31s", buf);
    printf("scanf on empty stdin returned %s\n", got == EOF ? "EOF" : "something else");

    fprintf(stderr, "stderr line three: %.3f %s\n", 2.0 / 3, "bye");
    /* Final line deliberately unterminated; exit flushes it. */
    printf("the end");
    return 0;
}
