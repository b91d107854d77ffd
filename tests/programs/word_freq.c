// Text processing over an input file from word_freq.d/: reads characters
// with getc, splits words (letters and inner apostrophes, lower-cased),
// counts them in a chained hash table, ranks them (count descending, then
// alphabetical), gathers sentence and line statistics, re-flows the text
// with full justification, and writes freq.txt and summary.txt.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>

struct word { char *text; int count; int first_line; struct word *next; };

#define BUCKETS 257
static struct word *buckets[BUCKETS];
static int unique;

static unsigned hash(const char *s)
{
    unsigned h = 5381;
    while (*s) h = h * 33 + (unsigned char)*s++;
    return h % BUCKETS;
}

static void count_word(const char *w, int line)
{
    unsigned b = hash(w);
    for (struct word *p = buckets[b]; p; p = p->next)
        if (strcmp(p->text, w) == 0) { p->count++; return; }
    struct word *n = malloc(sizeof *n);
    if (!n) exit(1);
    n->text = malloc(strlen(w) + 1);
    if (!n->text) exit(1);
    strcpy(n->text, w);
    n->count = 1;
    n->first_line = line;
    n->next = buckets[b];
    buckets[b] = n;
    unique++;
}

static int by_rank(const void *a, const void *b)
{
    const struct word *x = *(struct word *const *)a, *y = *(struct word *const *)b;
    if (x->count != y->count) return y->count - x->count;
    return strcmp(x->text, y->text);
}

/* Prints words[0..n) justified to exactly width columns (last line ragged). */
static void emit_line(char **words, int n, int width, int last)
{
    int letters = 0;
    for (int i = 0; i < n; i++) letters += (int)strlen(words[i]);
    int gaps = n - 1, spaces = width - letters;
    putchar('|');
    for (int i = 0; i < n; i++) {
        fputs(words[i], stdout);
        if (i < gaps) {
            int pad = last ? 1 : spaces / gaps + (i < spaces % gaps);
            printf("%*s", pad, "");
        }
    }
    if (last || gaps == 0) printf("%*s", width - letters - (last ? gaps : 0), "");
    printf("|\n");
}

int main(void)
{
    FILE *in = fopen("text.txt", "r");
    if (!in) { fprintf(stderr, "cannot open text.txt\n"); return 1; }
    char word[64];
    int len = 0, line = 1, lines = 0, chars = 0, total = 0, sentences = 0, longest_line = 0, cur_line = 0;
    int paragraphs = 0, prev_newline = 1, longest_word_len = 0;
    char longest_word[64] = "";
    char *flow[400];
    int nflow = 0;
    int c;
    while ((c = getc(in)) != EOF) {
        chars++;
        int is_word_char = isalpha(c) || (c == '\'' && len > 0);
        if (is_word_char && len < 63) word[len++] = (char)tolower(c);
        if (!is_word_char && len > 0) {
            if (word[len - 1] == '\'') len--;   /* trailing apostrophe is punctuation */
            word[len] = '\0';
            count_word(word, line);
            total++;
            if (len > longest_word_len) { longest_word_len = len; strcpy(longest_word, word); }
            len = 0;
        }
        if (c == '.' || c == '?' || c == '!') sentences++;
        if (c == '\n') {
            if (prev_newline) paragraphs++;
            prev_newline = 1;
            if (cur_line > longest_line) longest_line = cur_line;
            cur_line = 0;
            line++;
            lines++;
        } else {
            prev_newline = 0;
            cur_line++;
        }
    }
    paragraphs++;   /* the last paragraph has no blank line after it */
    /* Second pass for re-flowing: fscanf splits on whitespace. */
    rewind(in);
    char tok[64];
    while (nflow < 400 && fscanf(in, "%63s", tok) == 1) {
        flow[nflow] = malloc(strlen(tok) + 1);
        if (!flow[nflow]) return 1;
        strcpy(flow[nflow++], tok);
    }
    fclose(in);

    printf("chars=%d lines=%d paragraphs=%d sentences=%d words=%d unique=%d longest line=%d\n", chars, lines,
           paragraphs, sentences, total, unique, longest_line);
    printf("longest word: %s (%d letters)\n", longest_word, longest_word_len);

    struct word **all = malloc(sizeof *all * (size_t)unique);
    if (!all) return 1;
    int k = 0;
    for (int b = 0; b < BUCKETS; b++)
        for (struct word *p = buckets[b]; p; p = p->next) all[k++] = p;
    qsort(all, (size_t)unique, sizeof *all, by_rank);
    printf("top words:\n");
    for (int i = 0; i < 20 && i < unique; i++)
        printf("  %2d. %-10s %2d (first on line %d)\n", i + 1, all[i]->text, all[i]->count, all[i]->first_line);
    int hapax = 0;
    long letters = 0;
    for (int i = 0; i < unique; i++) { hapax += all[i]->count == 1; letters += (long)strlen(all[i]->text) * all[i]->count; }
    printf("words used once: %d, mean word length %.3f\n", hapax, (double)letters / total);

    FILE *out = fopen("freq.txt", "w");
    if (!out) return 1;
    for (int i = 0; i < unique; i++) fprintf(out, "%s\t%d\n", all[i]->text, all[i]->count);
    fclose(out);
    out = fopen("summary.txt", "w");
    if (!out) return 1;
    fprintf(out, "words %d\nunique %d\nsentences %d\ntop %s\n", total, unique, sentences, all[0]->text);
    fclose(out);

    /* Greedy line filling at width 44, then justification. */
    const int width = 44;
    printf("re-flowed to %d columns:\n", width);
    int start = 0;
    while (start < nflow) {
        int end = start, used = 0;
        while (end < nflow && used + (int)strlen(flow[end]) + (end > start) <= width) {
            used += (int)strlen(flow[end]) + (end > start);
            end++;
        }
        if (end == start) end++;   /* a single over-long word */
        emit_line(flow + start, end - start, width, end == nflow);
        start = end;
    }

    for (int i = 0; i < nflow; i++) free(flow[i]);
    for (int i = 0; i < unique; i++) { free(all[i]->text); free(all[i]); }
    free(all);
    return 0;
}
