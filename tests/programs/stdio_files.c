// stdio on real files in the current directory: reading an input file that
// ships in stdio_files.d/ with fgets (including a line longer than the
// buffer), writing text with fprintf, binary records with fwrite/fread and
// random access (fseek/ftell/rewind, "r+b"), append mode, ungetc, rename,
// remove, updating an input file in place, and a directory built with
// mkdir whose entries are listed with opendir/readdir (sorted) and stat.
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

struct record { int id; int qty; int cents; int flags; };   /* no padding */

static void die(const char *what)
{
    fprintf(stderr, "stdio_files: %s failed\n", what);
    exit(2);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void read_inventory(void)
{
    FILE *in = fopen("input.txt", "r");
    if (!in) die("fopen input.txt");
    char buf[32];   /* deliberately small */
    int pieces = 0, lines = 0, comments = 0, blank = 0;
    size_t longest = 0, cur = 0;
    while (fgets(buf, sizeof buf, in)) {
        size_t len = strlen(buf);
        pieces++;
        cur += len;
        if (buf[len - 1] != '\n') continue;   /* the rest of this line follows */
        lines++;
        if (cur > longest) longest = cur;
        cur = 0;
        if (buf[0] == '#') comments++;
        if (buf[0] == '\n') blank++;
    }
    printf("input.txt: %d fgets pieces, %d lines, %d comments, %d blank, longest %zu bytes, eof=%d err=%d\n",
           pieces, lines, comments, blank, longest, feof(in) != 0, ferror(in) != 0);

    /* Second pass with fscanf, after rewind. */
    rewind(in);
    FILE *rep = fopen("report.txt", "w");
    if (!rep) die("fopen report.txt");
    char name[64];
    int qty;
    double price, total = 0;
    int c;
    while ((c = getc(in)) != EOF) {
        if (c == '#' || c == '\n') {   /* skip comment and blank lines */
            while (c != '\n' && c != EOF) c = getc(in);
            continue;
        }
        ungetc(c, in);
        if (fscanf(in, "%63s %d %lf", name, &qty, &price) != 3) {
            fprintf(rep, "unparsed line starting with \"%s\"\n", name);
            while ((c = getc(in)) != '\n' && c != EOF) {}
            continue;
        }
        fprintf(rep, "%-12s %4d x %8.2f = %10.2f\n", name, qty, price, qty * price);
        total += qty * price;
    }
    fprintf(rep, "%-12s %27.2f\n", "TOTAL", total);
    if (fclose(rep) != 0) die("fclose report.txt");
    fclose(in);
    printf("inventory total %.2f\n", total);
}

static void binary_records(void)
{
    FILE *f = fopen("records.bin", "wb");
    if (!f) die("fopen records.bin");
    for (int i = 0; i < 20; i++) {
        struct record r = { 1000 + i, i * i, 199 * i + 5, i % 3 };
        if (fwrite(&r, sizeof r, 1, f) != 1) die("fwrite");
    }
    printf("records written, ftell=%ld\n", ftell(f));
    fclose(f);

    f = fopen("records.bin", "r+b");
    if (!f) die("reopen records.bin");
    if (fseek(f, 0, SEEK_END) != 0) die("fseek end");
    long size = ftell(f);
    printf("size via SEEK_END: %ld (%ld records)\n", size, size / (long)sizeof(struct record));
    /* Patch record 7 in place. */
    struct record r;
    fseek(f, 7 * (long)sizeof r, SEEK_SET);
    if (fread(&r, sizeof r, 1, f) != 1) die("fread 7");
    printf("record 7 before: id=%d qty=%d cents=%d flags=%d\n", r.id, r.qty, r.cents, r.flags);
    r.qty = -1;
    r.flags |= 8;
    fseek(f, -(long)sizeof r, SEEK_CUR);
    fwrite(&r, sizeof r, 1, f);
    /* Read the last three records relative to the end. */
    fseek(f, -3 * (long)sizeof r, SEEK_END);
    struct record tail[3];
    size_t got = fread(tail, sizeof r, 3, f);
    printf("tail: got %zu, ids %d %d %d, at eof now: %d\n", got, tail[0].id, tail[1].id,
           tail[2].id, fgetc(f) == EOF && feof(f));
    rewind(f);
    long sum = 0;
    size_t n = 0;
    while (fread(&r, sizeof r, 1, f) == 1) { sum += r.qty + r.cents + r.flags; n++; }
    printf("after rewind: read %zu records, sum %ld\n", n, sum);
    fclose(f);

    /* Reading past the end of a short file gives a short count. */
    f = fopen("records.bin", "rb");
    unsigned char chunk[100];
    size_t total = 0, k;
    int reads = 0;
    while ((k = fread(chunk, 1, sizeof chunk, f)) > 0) { total += k; reads++; }
    printf("chunked read: %zu bytes in %d reads\n", total, reads);
    fclose(f);
}

static void text_modes(void)
{
    /* "w+" then read back what we wrote. */
    FILE *f = fopen("scratch.txt", "w+");
    if (!f) die("fopen scratch.txt");
    for (int i = 0; i < 5; i++) fprintf(f, "line %d: %s\n", i, i % 2 ? "odd" : "even");
    fputs("no newline at end", f);
    rewind(f);
    char line[64];
    int count = 0;
    while (fgets(line, sizeof line, f)) count++;
    printf("scratch.txt: %d lines read back, last \"%s\"\n", count, line);
    fclose(f);
    if (remove("scratch.txt") != 0) die("remove scratch.txt");
    errno = 0;
    f = fopen("scratch.txt", "r");
    printf("after remove: fopen %s, errno is %s\n", f ? "succeeded" : "failed",
           errno == ENOENT ? "ENOENT" : "something else");

    /* Append mode: each open adds to the end. */
    for (int i = 0; i < 3; i++) {
        f = fopen("log.txt", "a");
        if (!f) die("fopen log.txt");
        fprintf(f, "entry %d\n", i);
        fclose(f);
    }
    f = fopen("log.txt", "r");
    fseek(f, 0, SEEK_END);
    printf("log.txt is %ld bytes\n", ftell(f));
    fclose(f);

    /* Write, rename, and read under the new name. */
    f = fopen("draft.txt", "w");
    fputs("draft contents\n", f);
    fputc('!', f);
    fputc('\n', f);
    fclose(f);
    if (rename("draft.txt", "final.txt") != 0) die("rename");
    f = fopen("final.txt", "r");
    int ch, nl = 0, bytes = 0;
    while ((ch = fgetc(f)) != EOF) { bytes++; nl += ch == '\n'; }
    fclose(f);
    printf("final.txt: %d bytes, %d newlines; draft.txt exists: %d\n", bytes, nl,
           access("draft.txt", F_OK) == 0);

    /* Update an input file in place: counter.txt came from stdio_files.d/. */
    f = fopen("counter.txt", "r+");
    if (!f) die("fopen counter.txt");
    int runs = 0;
    if (fscanf(f, "runs=%d", &runs) != 1) die("parse counter.txt");
    rewind(f);
    fprintf(f, "runs=%d\nupdated=yes\n", runs + 1);
    fclose(f);
    printf("counter: %d -> %d\n", runs, runs + 1);

    printf("remove(obsolete.txt) = %d, remove(missing) = %d\n", remove("obsolete.txt"),
           remove("never-existed.txt"));
}

static void directories(void)
{
    if (mkdir("outdir", 0755) != 0) die("mkdir outdir");
    if (mkdir("outdir/sub", 0755) != 0) die("mkdir outdir/sub");
    const char *names[] = { "zeta.txt", "alpha.txt", "Mid.dat", "beta.log", "_under", "9lives", "gone.tmp" };
    for (int i = 0; i < 7; i++) {
        char path[64];
        snprintf(path, sizeof path, "outdir/%s", names[i]);
        FILE *f = fopen(path, "w");
        if (!f) die("create in outdir");
        for (int j = 0; j <= i * 3; j++) fprintf(f, "%s:%d\n", names[i], j);
        fclose(f);
    }
    FILE *f = fopen("outdir/sub/nested.txt", "w");
    fputs("nested file\n", f);
    fclose(f);
    remove("outdir/gone.tmp");

    DIR *d = opendir("outdir");
    if (!d) die("opendir");
    char *found[16];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        if (n < 16) found[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(found, (size_t)n, sizeof found[0], cmp_str);   /* readdir order is arbitrary */
    printf("outdir has %d entries:\n", n);
    for (int i = 0; i < n; i++) {
        char path[64];
        struct stat st;
        snprintf(path, sizeof path, "outdir/%s", found[i]);
        if (stat(path, &st) != 0) die("stat");
        if (S_ISDIR(st.st_mode)) printf("  %-10s <dir>\n", found[i]);
        else printf("  %-10s %5lld bytes\n", found[i], (long long)st.st_size);
        free(found[i]);
    }
    /* Opening a missing directory fails cleanly. */
    errno = 0;
    d = opendir("no-such-dir");
    printf("opendir(no-such-dir): %s, ENOENT=%d\n", d ? "opened" : "NULL", errno == ENOENT);
    if (d) closedir(d);
}

int main(void)
{
    read_inventory();
    binary_records();
    text_modes();
    directories();
    fprintf(stderr, "stdio_files: done\n");
    return 0;
}
