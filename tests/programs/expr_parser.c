// xisa-stdin: exprs.txt
// A recursive-descent expression evaluator reading lines from stdin:
// precedence climbing through one function per level, right-associative
// power, unary operators, comparisons and short-circuit logic, variables,
// built-in functions with variable argument counts, and error reporting
// with column positions (to stderr) followed by recovery on the next line.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

struct parser {
    const char *src, *p;
    int error;
    char msg[96];
    int skip;   /* >0 while evaluating a short-circuited operand */
};

#define MAX_VARS 32
static char var_names[MAX_VARS][16];
static double var_values[MAX_VARS];
static int nvars;

static double expr(struct parser *ps);

static void fail(struct parser *ps, const char *what)
{
    if (ps->error) return;
    ps->error = 1;
    snprintf(ps->msg, sizeof ps->msg, "column %d: %s", (int)(ps->p - ps->src) + 1, what);
}

static void skip_ws(struct parser *ps)
{
    while (*ps->p == ' ' || *ps->p == '\t') ps->p++;
}

static int accept(struct parser *ps, const char *tok)
{
    skip_ws(ps);
    size_t n = strlen(tok);
    if (strncmp(ps->p, tok, n) == 0) { ps->p += n; return 1; }
    return 0;
}

static int is_alpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static int is_digit(int c) { return c >= '0' && c <= '9'; }

static double *lookup(const char *name, int create)
{
    for (int i = 0; i < nvars; i++)
        if (strcmp(var_names[i], name) == 0) return &var_values[i];
    if (!create || nvars == MAX_VARS) return NULL;
    snprintf(var_names[nvars], sizeof var_names[0], "%s", name);
    var_values[nvars] = 0;
    return &var_values[nvars++];
}

static int read_ident(struct parser *ps, char *out, size_t size)
{
    skip_ws(ps);
    size_t n = 0;
    if (!is_alpha(*ps->p)) return 0;
    while (is_alpha(*ps->p) || is_digit(*ps->p)) {
        if (n + 1 < size) out[n++] = *ps->p;
        ps->p++;
    }
    out[n] = '\0';
    return 1;
}

static double call(struct parser *ps, const char *name)
{
    double args[8];
    int n = 0;
    if (!accept(ps, ")")) {
        do {
            double v = expr(ps);
            if (n < 8) args[n++] = v;
        } while (!ps->error && accept(ps, ","));
        if (!accept(ps, ")")) { fail(ps, "expected ')' after arguments"); return 0; }
    }
    if (strcmp(name, "sqrt") == 0 && n == 1) return sqrt(args[0]);
    if (strcmp(name, "abs") == 0 && n == 1) return fabs(args[0]);
    if ((strcmp(name, "min") == 0 || strcmp(name, "max") == 0) && n >= 1) {
        double r = args[0];
        for (int i = 1; i < n; i++) r = name[1] == 'i' ? fmin(r, args[i]) : fmax(r, args[i]);
        return r;
    }
    fail(ps, "bad function call");
    return 0;
}

static double primary(struct parser *ps)
{
    skip_ws(ps);
    if (accept(ps, "(")) {
        double v = expr(ps);
        if (!accept(ps, ")")) fail(ps, "expected ')'");
        return v;
    }
    if (is_digit(*ps->p) || *ps->p == '.') {
        char *end;
        double v = strtod(ps->p, &end);
        ps->p = end;
        if (is_alpha(*ps->p) || *ps->p == '.') fail(ps, "malformed number");
        return v;
    }
    char name[16];
    if (read_ident(ps, name, sizeof name)) {
        if (accept(ps, "(")) return call(ps, name);
        double *v = lookup(name, 0);
        if (!v) { fail(ps, "unknown variable"); return 0; }
        return *v;
    }
    fail(ps, *ps->p ? "unexpected character" : "unexpected end of input");
    return 0;
}

static double unary_pow(struct parser *ps);

/* Power binds tighter than unary minus on its left (-2^2 = -4) and is
   right-associative; its exponent may carry a sign (2^-1). */
static double power(struct parser *ps)
{
    double base = primary(ps);
    if (accept(ps, "^")) return pow(base, unary_pow(ps));
    return base;
}

static double unary_pow(struct parser *ps)
{
    if (accept(ps, "-")) return -unary_pow(ps);
    if (accept(ps, "+")) return unary_pow(ps);
    if (accept(ps, "!")) return unary_pow(ps) == 0;
    return power(ps);
}

static double term(struct parser *ps)
{
    double v = unary_pow(ps);
    for (;;) {
        if (accept(ps, "*")) v *= unary_pow(ps);
        else if (accept(ps, "/")) {
            double d = unary_pow(ps);
            if (d == 0 && !ps->skip) { fail(ps, "division by zero"); return 0; }
            v = d == 0 ? 0 : v / d;
        } else if (accept(ps, "%")) {
            double d = unary_pow(ps);
            if (d == 0 && !ps->skip) { fail(ps, "modulo by zero"); return 0; }
            v = d == 0 ? 0 : fmod(v, d);
        } else return v;
    }
}

static double sum(struct parser *ps)
{
    double v = term(ps);
    for (;;) {
        if (accept(ps, "+")) v += term(ps);
        else if (accept(ps, "-")) v -= term(ps);
        else return v;
    }
}

static double comparison(struct parser *ps)
{
    double v = sum(ps);
    for (;;) {
        if (accept(ps, "<=")) v = v <= sum(ps);
        else if (accept(ps, ">=")) v = v >= sum(ps);
        else if (accept(ps, "==")) v = v == sum(ps);
        else if (accept(ps, "!=")) v = v != sum(ps);
        else if (accept(ps, "<")) v = v < sum(ps);
        else if (accept(ps, ">")) v = v > sum(ps);
        else return v;
    }
}

/* && and || evaluate their right side with errors suppressed when skipped. */
static double logic(struct parser *ps)
{
    double v = comparison(ps);
    for (;;) {
        if (accept(ps, "&&")) {
            int skip = v == 0;
            ps->skip += skip;
            double r = comparison(ps);
            ps->skip -= skip;
            v = skip ? 0 : r != 0;
        } else if (accept(ps, "||")) {
            int skip = v != 0;
            ps->skip += skip;
            double r = comparison(ps);
            ps->skip -= skip;
            v = skip ? 1 : r != 0;
        } else return v;
    }
}

static double expr(struct parser *ps) { return logic(ps); }

int main(void)
{
    char line[256];
    int lineno = 0, ok = 0, bad = 0;
    while (fgets(line, sizeof line, stdin)) {
        lineno++;
        line[strcspn(line, "\n")] = '\0';
        struct parser ps = { line, line, 0, "", 0 };
        skip_ws(&ps);
        if (*ps.p == '\0' || *ps.p == '#') continue;

        /* Assignment if the line starts with "name =" (but not "=="). */
        const char *save = ps.p;
        char name[16];
        double *target = NULL;
        if (read_ident(&ps, name, sizeof name) && accept(&ps, "=") && *ps.p != '=') target = lookup(name, 1);
        else ps.p = save;

        double v = expr(&ps);
        skip_ws(&ps);
        if (!ps.error && *ps.p) fail(&ps, "trailing input");
        if (ps.error) {
            fprintf(stderr, "line %d: %s\n", lineno, ps.msg);
            printf("%-36s => error\n", line);
            bad++;
            continue;
        }
        ok++;
        if (target) { *target = v; printf("%-36s => %s = %.15g\n", line, name, v); }
        else printf("%-36s => %.15g\n", line, v);
    }
    printf("%d evaluated, %d errors, %d variables\n", ok, bad, nvars);
    for (int i = 0; i < nvars; i++) printf("  %s = %.17g\n", var_names[i], var_values[i]);
    return 0;
}
