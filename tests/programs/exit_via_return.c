// Returning a non-zero status from main: the return value becomes the exit
// status, atexit handlers run (in reverse order, several handlers and one
// registered twice), and output left in stdout and in an open FILE that was
// never closed is flushed on the way out.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static FILE *unclosed;
static int counter;

static void bump(void) { counter++; printf("bump -> counter %d\n", counter); }
static void report(void) { printf("report: handlers so far %d\n", counter); }
static void close_note(void) { fputs("note written by an atexit handler\n", unclosed); }

static int checksum(const char *s)
{
    int h = 0;
    while (*s) h = (h * 33 + (unsigned char)*s++) % 65521;
    return h;
}

int main(void)
{
    atexit(report);
    atexit(bump);
    atexit(bump);                 /* the same function twice runs twice */
    atexit(close_note);
    unclosed = fopen("unclosed.txt", "w");
    if (!unclosed) return 2;
    for (int i = 0; i < 5; i++) fprintf(unclosed, "line %d of a file nobody closes\n", i);
    const char *msg = "status comes from main's return value";
    int status = checksum(msg) % 50 + 10;
    printf("returning %d; this line and the next have no explicit flush\n", status);
    printf("partial line without newline");
    fprintf(stderr, "stderr: returning %d\n", status);
    return status;
}
