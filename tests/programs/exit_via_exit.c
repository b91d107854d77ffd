// Leaving through exit(N) from deep inside the program: atexit handlers run
// in reverse order of registration, buffered stdout that was never flushed and lacks
// a final newline is still written, and stderr output is kept separate.
#include <stdio.h>
#include <stdlib.h>

static int depth_reached;

static void first(void) { printf("handler 'first' runs last; depth was %d\n", depth_reached); }
static void second(void) { printf("handler 'second' runs\n"); }
static void third(void) { fprintf(stderr, "handler 'third' writes to stderr\n"); printf("handler 'third' runs first\n"); }

/* Exits from several frames down; nothing after exit() may run. */
static void dive(int n)
{
    depth_reached = n;
    if (n == 5) {
        printf("exiting with status 7 from depth %d", n);   /* no newline, not flushed */
        exit(7);
    }
    dive(n + 1);
    printf("never printed\n");
}

int main(void)
{
    /* Fully buffered stdout: everything below reaches the file only at exit. */
    static char buf[1 << 12];
    setvbuf(stdout, buf, _IOFBF, sizeof buf);
    atexit(first);
    atexit(second);
    atexit(third);
    for (int i = 0; i < 3; i++) printf("main line %d\n", i);
    fprintf(stderr, "stderr is unbuffered: before exit\n");
    dive(0);
    return 0;
}
