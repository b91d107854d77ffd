// A JSON tokenizer and recursive-descent parser over files from
// json_tokenizer.d/: builds a tree (with \u escapes and surrogate pairs
// turned into UTF-8), prints it back in a canonical indented form,
// computes statistics, writes a compact copy to out.json, and reports the
// line and column of errors in three malformed files.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum kind { J_NULL, J_FALSE, J_TRUE, J_NUMBER, J_STRING, J_ARRAY, J_OBJECT };
struct value {
    enum kind kind;
    double num;
    char *str;               /* J_STRING payload */
    size_t len;              /* string length (may contain NUL) */
    struct value **items;    /* array elements or object values */
    char **keys;             /* object keys */
    size_t count, cap;
};

enum tok { T_EOF, T_LBRACE, T_RBRACE, T_LBRACK, T_RBRACK, T_COLON, T_COMMA, T_STRING,
           T_NUMBER, T_TRUE, T_FALSE, T_NULL, T_ERROR };

struct lexer {
    const char *src, *p;
    enum tok tok;
    double num;
    char *str;
    size_t len;
    int line, col;           /* position of the current token */
    char err[80];
};

static const char *tok_name(enum tok t)
{
    static const char *const names[] = { "end of input", "'{'", "'}'", "'['", "']'", "':'", "','",
                                         "string", "number", "true", "false", "null", "bad token" };
    return names[t];
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n);
    if (!p) { fprintf(stderr, "out of memory\n"); exit(1); }
    return p;
}

static void locate(struct lexer *lx, const char *at)
{
    lx->line = 1;
    lx->col = 1;
    for (const char *q = lx->src; q < at; q++) {
        if (*q == '\n') { lx->line++; lx->col = 1; }
        else lx->col++;
    }
}

static void put_utf8(char **buf, size_t *len, size_t *cap, unsigned cp)
{
    if (*len + 5 > *cap) { *cap = *cap * 2 + 8; *buf = xrealloc(*buf, *cap); }
    char *o = *buf + *len;
    if (cp < 0x80) { o[0] = (char)cp; *len += 1; }
    else if (cp < 0x800) { o[0] = (char)(0xC0 | cp >> 6); o[1] = (char)(0x80 | (cp & 63)); *len += 2; }
    else if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12); o[1] = (char)(0x80 | (cp >> 6 & 63)); o[2] = (char)(0x80 | (cp & 63));
        *len += 3;
    } else {
        o[0] = (char)(0xF0 | cp >> 18); o[1] = (char)(0x80 | (cp >> 12 & 63));
        o[2] = (char)(0x80 | (cp >> 6 & 63)); o[3] = (char)(0x80 | (cp & 63));
        *len += 4;
    }
}

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return 0;
    }
    *out = v;
    return 1;
}

static void lex_error(struct lexer *lx, const char *at, const char *msg)
{
    locate(lx, at);
    snprintf(lx->err, sizeof lx->err, "%s", msg);
    lx->tok = T_ERROR;
}

static void next(struct lexer *lx)
{
    while (*lx->p == ' ' || *lx->p == '\n' || *lx->p == '\t' || *lx->p == '\r') lx->p++;
    const char *start = lx->p;
    locate(lx, start);
    switch (*lx->p) {
    case '\0': lx->tok = T_EOF; return;
    case '{': lx->p++; lx->tok = T_LBRACE; return;
    case '}': lx->p++; lx->tok = T_RBRACE; return;
    case '[': lx->p++; lx->tok = T_LBRACK; return;
    case ']': lx->p++; lx->tok = T_RBRACK; return;
    case ':': lx->p++; lx->tok = T_COLON; return;
    case ',': lx->p++; lx->tok = T_COMMA; return;
    case '"': {
        size_t len = 0, cap = 16;
        char *buf = xrealloc(NULL, cap);
        lx->p++;
        for (;;) {
            char c = *lx->p;
            if (c == '\0' || c == '\n') { free(buf); lex_error(lx, lx->p, "unterminated string"); return; }
            lx->p++;
            if (c == '"') break;
            unsigned cp = (unsigned char)c;
            if (c == '\\') {
                char e = *lx->p++;
                switch (e) {
                case 'n': cp = '\n'; break;
                case 't': cp = '\t'; break;
                case 'r': cp = '\r'; break;
                case 'b': cp = '\b'; break;
                case 'f': cp = '\f'; break;
                case '"': case '\\': case '/': cp = (unsigned char)e; break;
                case 'u':
                    if (!hex4(lx->p, &cp)) { free(buf); lex_error(lx, lx->p, "bad \\u escape"); return; }
                    lx->p += 4;
                    if (cp >= 0xD800 && cp < 0xDC00 && lx->p[0] == '\\' && lx->p[1] == 'u') {
                        unsigned lo;
                        if (hex4(lx->p + 2, &lo) && lo >= 0xDC00 && lo < 0xE000) {
                            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                            lx->p += 6;
                        }
                    }
                    break;
                default: free(buf); lex_error(lx, lx->p - 1, "bad escape"); return;
                }
                put_utf8(&buf, &len, &cap, cp);
            } else {
                if (len + 1 > cap) { cap *= 2; buf = xrealloc(buf, cap); }
                buf[len++] = c;   /* raw bytes, including UTF-8, pass through */
            }
        }
        buf = xrealloc(buf, len + 1);
        buf[len] = '\0';
        lx->str = buf;
        lx->len = len;
        lx->tok = T_STRING;
        locate(lx, start);
        return;
    }
    default:
        if (*lx->p == '-' || (*lx->p >= '0' && *lx->p <= '9')) {
            char *end;
            lx->num = strtod(lx->p, &end);
            lx->p = end;
            lx->tok = T_NUMBER;
            return;
        }
        if (strncmp(lx->p, "true", 4) == 0) { lx->p += 4; lx->tok = T_TRUE; return; }
        if (strncmp(lx->p, "false", 5) == 0) { lx->p += 5; lx->tok = T_FALSE; return; }
        if (strncmp(lx->p, "null", 4) == 0) { lx->p += 4; lx->tok = T_NULL; return; }
        lex_error(lx, start, "unexpected character");
    }
}

static struct value *new_value(enum kind k)
{
    struct value *v = calloc(1, sizeof *v);
    if (!v) exit(1);
    v->kind = k;
    return v;
}

static void push(struct value *v, char *key, struct value *item)
{
    if (v->count == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 4;
        v->items = xrealloc(v->items, v->cap * sizeof *v->items);
        if (v->kind == J_OBJECT) v->keys = xrealloc(v->keys, v->cap * sizeof *v->keys);
    }
    if (v->kind == J_OBJECT) v->keys[v->count] = key;
    v->items[v->count++] = item;
}

static void free_value(struct value *v)
{
    if (!v) return;
    for (size_t i = 0; i < v->count; i++) {
        free_value(v->items[i]);
        if (v->kind == J_OBJECT) free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->str);
    free(v);
}

static struct value *parse_value(struct lexer *lx);

static struct value *syntax_error(struct lexer *lx, const char *expected)
{
    if (lx->tok != T_ERROR)
        snprintf(lx->err, sizeof lx->err, "expected %s but found %s", expected, tok_name(lx->tok));
    return NULL;
}

static struct value *parse_value(struct lexer *lx)
{
    struct value *v;
    switch (lx->tok) {
    case T_NULL: next(lx); return new_value(J_NULL);
    case T_TRUE: next(lx); return new_value(J_TRUE);
    case T_FALSE: next(lx); return new_value(J_FALSE);
    case T_NUMBER: v = new_value(J_NUMBER); v->num = lx->num; next(lx); return v;
    case T_STRING: v = new_value(J_STRING); v->str = lx->str; v->len = lx->len; next(lx); return v;
    case T_LBRACK:
        v = new_value(J_ARRAY);
        next(lx);
        if (lx->tok == T_RBRACK) { next(lx); return v; }
        for (;;) {
            struct value *item = parse_value(lx);
            if (!item) { free_value(v); return NULL; }
            push(v, NULL, item);
            if (lx->tok == T_COMMA) { next(lx); continue; }
            if (lx->tok == T_RBRACK) { next(lx); return v; }
            free_value(v);
            return syntax_error(lx, "',' or ']'");
        }
    case T_LBRACE:
        v = new_value(J_OBJECT);
        next(lx);
        if (lx->tok == T_RBRACE) { next(lx); return v; }
        for (;;) {
            if (lx->tok != T_STRING) { free_value(v); return syntax_error(lx, "object key"); }
            char *key = lx->str;
            next(lx);
            if (lx->tok != T_COLON) { free(key); free_value(v); return syntax_error(lx, "':'"); }
            next(lx);
            struct value *item = parse_value(lx);
            if (!item) { free(key); free_value(v); return NULL; }
            push(v, key, item);
            if (lx->tok == T_COMMA) { next(lx); continue; }
            if (lx->tok == T_RBRACE) { next(lx); return v; }
            free_value(v);
            return syntax_error(lx, "',' or '}'");
        }
    default:
        return syntax_error(lx, "a value");
    }
}

static void print_string(FILE *out, const char *s, size_t len)
{
    fputc('"', out);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') fprintf(out, "\\%c", c);
        else if (c == '\n') fputs("\\n", out);
        else if (c == '\t') fputs("\\t", out);
        else if (c < 0x20) fprintf(out, "\\u%04x", c);
        else fputc(c, out);
    }
    fputc('"', out);
}

/* indent < 0 means compact output. */
static void print_value(FILE *out, const struct value *v, int indent)
{
    int compact = indent < 0;
    switch (v->kind) {
    case J_NULL: fputs("null", out); break;
    case J_TRUE: fputs("true", out); break;
    case J_FALSE: fputs("false", out); break;
    case J_NUMBER: fprintf(out, "%.17g", v->num); break;
    case J_STRING: print_string(out, v->str, v->len); break;
    case J_ARRAY:
    case J_OBJECT: {
        int obj = v->kind == J_OBJECT;
        fputc(obj ? '{' : '[', out);
        for (size_t i = 0; i < v->count; i++) {
            if (i) fputc(',', out);
            if (!compact) fprintf(out, "\n%*s", indent + 2, "");
            if (obj) { print_string(out, v->keys[i], strlen(v->keys[i])); fputs(compact ? ":" : ": ", out); }
            print_value(out, v->items[i], compact ? -1 : indent + 2);
        }
        if (!compact && v->count) fprintf(out, "\n%*s", indent, "");
        fputc(obj ? '}' : ']', out);
        break;
    }
    }
}

struct stats { int counts[7]; double numsum; size_t strbytes; int maxdepth; };
static void gather(const struct value *v, struct stats *st, int depth)
{
    st->counts[v->kind]++;
    if (depth > st->maxdepth) st->maxdepth = depth;
    if (v->kind == J_NUMBER && v->num < 1e300) st->numsum += v->num;
    if (v->kind == J_STRING) st->strbytes += v->len;
    for (size_t i = 0; i < v->count; i++) gather(v->items[i], st, depth + 1);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t len = 0, cap = 256;
    char *buf = xrealloc(NULL, cap);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 2) { cap *= 2; buf = xrealloc(buf, cap); }
    }
    fclose(f);
    buf[len] = '\0';
    return buf;
}

static struct value *parse_file(const char *path)
{
    char *text = slurp(path);
    if (!text) { printf("%s: cannot open\n", path); return NULL; }
    struct lexer lx = { text, text, T_EOF, 0, NULL, 0, 1, 1, "" };
    next(&lx);
    struct value *v = parse_value(&lx);
    if (v && lx.tok != T_EOF) {
        free_value(v);
        v = syntax_error(&lx, "end of input");
    }
    if (!v) printf("%s: error at line %d column %d: %s\n", path, lx.line, lx.col, lx.err);
    if (!v && lx.tok == T_STRING) free(lx.str);
    free(text);
    return v;
}

int main(void)
{
    struct value *doc = parse_file("data.json");
    if (!doc) return 1;
    print_value(stdout, doc, 0);
    putchar('\n');

    struct stats st;
    memset(&st, 0, sizeof st);
    gather(doc, &st, 0);
    static const char *const kinds[] = { "null", "false", "true", "number", "string", "array", "object" };
    for (int k = 0; k < 7; k++) printf("%s=%d ", kinds[k], st.counts[k]);
    printf("\nsum of finite numbers %.10g, string bytes %zu, max depth %d\n", st.numsum, st.strbytes, st.maxdepth);

    /* Look a few things up; duplicate keys are both kept, in order. */
    for (size_t i = 0; i < doc->count; i++) {
        if (strcmp(doc->keys[i], "duplicate") == 0) printf("duplicate -> %g\n", doc->items[i]->num);
        if (strcmp(doc->keys[i], "people") == 0) {
            const struct value *people = doc->items[i];
            for (size_t j = 0; j < people->count; j++) {
                const struct value *p = people->items[j];
                printf("person %zu:", j);
                for (size_t k = 0; k < p->count; k++) {
                    printf(" %s=", p->keys[k]);
                    print_value(stdout, p->items[k], -1);
                }
                printf("\n");
            }
        }
    }

    FILE *out = fopen("out.json", "w");
    if (!out) return 1;
    print_value(out, doc, -1);
    fputc('\n', out);
    fclose(out);
    free_value(doc);

    /* The compact copy must parse back to the same compact text. */
    struct value *again = parse_file("out.json");
    if (again) {
        char *first = slurp("out.json");
        FILE *tmp = fopen("out2.json", "w");
        print_value(tmp, again, -1);
        fputc('\n', tmp);
        fclose(tmp);
        char *second = slurp("out2.json");
        printf("round trip identical: %s (%zu bytes)\n", strcmp(first, second) == 0 ? "yes" : "no", strlen(first));
        free(first);
        free(second);
        remove("out2.json");
        free_value(again);
    }

    const char *bad[] = { "bad.json", "bad2.json", "bad3.json", "missing.json" };
    for (int i = 0; i < 4; i++) free_value(parse_file(bad[i]));
    return 0;
}
