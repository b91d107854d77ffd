// Variadic functions of our own: summing mixed types described by a format
// string, va_copy to walk the same arguments twice, passing a va_list down
// to helpers and to vsnprintf/vfprintf, more arguments than fit in
// registers, struct arguments read with va_arg, and a string joiner that
// stops at a NULL sentinel.
#include <stdio.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Format letters: i=int, l=long long, d=double, s=string, c=char (as int). */
static double sum_mixed(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    double total = 0;
    for (const char *f = fmt; *f; f++) {
        switch (*f) {
        case 'i': total += va_arg(ap, int); break;
        case 'l': total += (double)va_arg(ap, long long); break;
        case 'd': total += va_arg(ap, double); break;
        case 's': total += (double)strlen(va_arg(ap, const char *)); break;
        case 'c': total += va_arg(ap, int); break;   /* char is promoted to int */
        }
    }
    va_end(ap);
    return total;
}

/* Walk the arguments twice: once to find the maximum, once to normalise. */
static void normalise(int n, ...)
{
    va_list ap, again;
    va_start(ap, n);
    va_copy(again, ap);
    double max = 0;
    for (int i = 0; i < n; i++) {
        double v = va_arg(ap, double);
        if (v > max) max = v;
    }
    va_end(ap);
    printf("normalise:");
    for (int i = 0; i < n; i++) printf(" %.4f", va_arg(again, double) / max);
    printf("\n");
    va_end(again);
}

/* A logger: the va_list is handed down two levels. */
static char log_buffer[256];
static int log_count;

static int format_into(char *dst, size_t size, const char *fmt, va_list ap)
{
    return vsnprintf(dst, size, fmt, ap);
}

static void vlog(const char *level, const char *fmt, va_list ap)
{
    va_list copy;
    va_copy(copy, ap);
    int n = snprintf(log_buffer, sizeof log_buffer, "[%s #%d] ", level, ++log_count);
    int body = format_into(log_buffer + n, sizeof log_buffer - (size_t)n, fmt, ap);
    printf("%s (body %d chars)\n", log_buffer, body);
    if (strcmp(level, "ERROR") == 0) {
        fprintf(stderr, "error: ");
        vfprintf(stderr, fmt, copy);   /* the copy is still unread */
        fputc('\n', stderr);
    }
    va_end(copy);
}

static void log_msg(const char *level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(level, fmt, ap);
    va_end(ap);
}

/* Many arguments: ints and doubles interleaved, well past the register count. */
static double many(int count, ...)
{
    va_list ap;
    va_start(ap, count);
    double acc = 0;
    for (int i = 0; i < count; i++) {
        int k = va_arg(ap, int);
        double x = va_arg(ap, double);
        acc = acc * 1.5 + k * x;
    }
    va_end(ap);
    return acc;
}

struct point { int x, y; };
struct box { double lo[2], hi[2]; char tag[8]; };

static void structs(int n, ...)
{
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        struct point p = va_arg(ap, struct point);
        struct box b = va_arg(ap, struct box);
        printf("struct args %d: point (%d,%d) box [%g,%g]-[%g,%g] %s\n", i, p.x, p.y, b.lo[0], b.lo[1],
               b.hi[0], b.hi[1], b.tag);
    }
    va_end(ap);
}

/* Joins strings until a NULL sentinel; returns a malloc'd string. */
static char *join(const char *sep, ...)
{
    va_list ap, count;
    va_start(ap, sep);
    va_copy(count, ap);
    size_t total = 1, parts = 0;
    for (const char *s; (s = va_arg(count, const char *)) != NULL; parts++) total += strlen(s) + strlen(sep);
    va_end(count);
    char *out = malloc(total);
    if (!out) exit(1);
    out[0] = '\0';
    for (size_t i = 0; i < parts; i++) {
        if (i) strcat(out, sep);
        strcat(out, va_arg(ap, const char *));
    }
    va_end(ap);
    return out;
}

/* Returns the number of characters printed, like printf itself. */
static int my_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vprintf(fmt, ap);
    va_end(ap);
    return n;
}

int main(void)
{
    printf("sum_mixed = %.6f\n", sum_mixed("ildsc", -5, 10000000000LL, 2.25, "four", 'A'));
    printf("sum_mixed = %.6f\n", sum_mixed(""));
    float f = 1.5f;   /* float is promoted to double through ... */
    printf("sum_mixed = %.6f\n", sum_mixed("dddii", (double)f, 0.1, -3e-3, 7, -8));
    normalise(5, 1.0, 4.0, 2.5, 8.0, 0.5);
    normalise(1, 3.0);

    log_msg("INFO", "starting %s v%d.%d", "test", 1, 2);
    log_msg("WARN", "value %08.3f out of range [%d, %d]", 123.456789, -10, 10);
    log_msg("ERROR", "failed after %u tries: %s (%c)", 3u, "timeout", 'T');
    log_msg("INFO", "a long message that will be cut by vsnprintf: %0200d", 7);
    log_msg("DEBUG", "%lld %llx %e %%", -9000000000LL, 0xFEEDULL, 6.02e23);

    printf("many = %.10g\n", many(10, 1, 0.5, 2, 1.25, 3, -2.0, 4, 0.125, 5, 3.5, 6, -0.75, 7, 1e3, 8,
                                  2.0, 9, -1.5, 10, 0.1));

    struct point p1 = { 3, -4 }, p2 = { 100, 200 };
    struct box b1 = { { 0, 0 }, { 1.5, 2.5 }, "unit" }, b2 = { { -1, -2 }, { 3, 4 }, "big" };
    structs(2, p1, b1, p2, b2);

    char *j = join(", ", "alpha", "beta", "gamma", "delta", (const char *)NULL);
    printf("join: %s\n", j);
    free(j);
    j = join("-", (const char *)NULL);
    printf("join of nothing: \"%s\"\n", j);
    free(j);

    int n = my_printf("my_printf %s %d %.2f|", "returns", 42, 2.0 / 3);
    printf(" -> %d chars\n", n);
    return 0;
}
