// Dynamic programming and backtracking on strings: Levenshtein distance
// with the edit script recovered, longest common subsequence, 0/1
// knapsack with item recovery, coin-change counting, longest increasing
// subsequence, matrix-chain ordering, and a small backtracking regular
// expression matcher (. * + ? ^ $ \ escapes and [] classes) over a table
// of cases.
#include <stdio.h>
#include <string.h>

static int min3(int a, int b, int c) { int m = a < b ? a : b; return m < c ? m : c; }

static void levenshtein(const char *a, const char *b)
{
    int n = (int)strlen(a), m = (int)strlen(b);
    static int d[64][64];
    for (int i = 0; i <= n; i++) d[i][0] = i;
    for (int j = 0; j <= m; j++) d[0][j] = j;
    for (int i = 1; i <= n; i++)
        for (int j = 1; j <= m; j++)
            d[i][j] = min3(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1]));
    /* Walk back to produce the edit script (preferring substitute/keep). */
    char script[130];
    int k = 0, i = n, j = m;
    while (i > 0 || j > 0) {
        if (i > 0 && j > 0 && d[i][j] == d[i - 1][j - 1] + (a[i - 1] != b[j - 1])) {
            script[k++] = a[i - 1] == b[j - 1] ? '=' : 'S'; i--; j--;
        } else if (i > 0 && d[i][j] == d[i - 1][j] + 1) { script[k++] = 'D'; i--; }
        else { script[k++] = 'I'; j--; }
    }
    for (int x = 0; x < k / 2; x++) { char t = script[x]; script[x] = script[k - 1 - x]; script[k - 1 - x] = t; }
    script[k] = '\0';
    printf("edit(%s, %s) = %d  %s\n", a, b, d[n][m], script);
}

static void lcs(const char *a, const char *b)
{
    int n = (int)strlen(a), m = (int)strlen(b);
    static int L[64][64];
    for (int i = n; i >= 0; i--)
        for (int j = m; j >= 0; j--)
            L[i][j] = (i == n || j == m) ? 0 : a[i] == b[j] ? L[i + 1][j + 1] + 1
                                                            : (L[i + 1][j] > L[i][j + 1] ? L[i + 1][j] : L[i][j + 1]);
    char out[64];
    int k = 0, i = 0, j = 0;
    while (i < n && j < m) {
        if (a[i] == b[j]) { out[k++] = a[i]; i++; j++; }
        else if (L[i + 1][j] >= L[i][j + 1]) i++;
        else j++;
    }
    out[k] = '\0';
    printf("lcs(%s, %s) = %d \"%s\"\n", a, b, L[0][0], out);
}

static void knapsack(void)
{
    static const int wt[] = { 12, 7, 11, 8, 9, 6, 14, 5, 3, 10 }, val[] = { 24, 13, 23, 15, 16, 11, 28, 9, 5, 19 };
    enum { N = 10, CAP = 40 };
    static int best[N + 1][CAP + 1];
    for (int i = 1; i <= N; i++)
        for (int c = 0; c <= CAP; c++) {
            best[i][c] = best[i - 1][c];
            if (wt[i - 1] <= c && best[i - 1][c - wt[i - 1]] + val[i - 1] > best[i][c])
                best[i][c] = best[i - 1][c - wt[i - 1]] + val[i - 1];
        }
    printf("knapsack capacity %d: value %d, items", CAP, best[N][CAP]);
    for (int i = N, c = CAP; i > 0; i--)
        if (best[i][c] != best[i - 1][c]) { printf(" %d", i - 1); c -= wt[i - 1]; }
    printf("\n");
}

static void coins(void)
{
    static const int denoms[] = { 1, 2, 5, 10, 20, 50, 100, 200 };
    static unsigned long long ways[1001];
    memset(ways, 0, sizeof ways);
    ways[0] = 1;
    for (int d = 0; d < 8; d++)
        for (int v = denoms[d]; v <= 1000; v++) ways[v] += ways[v - denoms[d]];
    printf("coin change ways: 200 -> %llu, 500 -> %llu, 1000 -> %llu\n", ways[200], ways[500], ways[1000]);
}

static void lis(void)
{
    int a[40], tail[40], tail_idx[40], prev[40], len = 0;
    unsigned s = 7;
    for (int i = 0; i < 40; i++) { s = s * 1664525u + 1013904223u; a[i] = (int)(s >> 24); }
    for (int i = 0; i < 40; i++) {
        int lo = 0, hi = len;
        while (lo < hi) { int mid = (lo + hi) / 2; if (tail[mid] < a[i]) lo = mid + 1; else hi = mid; }
        tail[lo] = a[i];
        tail_idx[lo] = i;
        prev[i] = lo ? tail_idx[lo - 1] : -1;
        if (lo == len) len++;
    }
    int seq[40], k = 0;
    for (int i = tail_idx[len - 1]; i >= 0; i = prev[i]) seq[k++] = a[i];
    printf("LIS length %d:", len);
    for (int i = k - 1; i >= 0; i--) printf(" %d", seq[i]);
    printf("\n");
}

static void print_parens(int s[][8], int i, int j)
{
    if (i == j) { printf("M%d", i); return; }
    putchar('(');
    print_parens(s, i, s[i][j]);
    print_parens(s, s[i][j] + 1, j);
    putchar(')');
}

static void matrix_chain(void)
{
    static const long dims[] = { 30, 35, 15, 5, 10, 20, 25, 12 };
    enum { N = 7 };
    long cost[8][8] = { { 0 } };
    int split[8][8] = { { 0 } };
    for (int len = 2; len <= N; len++)
        for (int i = 1; i + len - 1 <= N; i++) {
            int j = i + len - 1;
            cost[i][j] = -1;
            for (int k = i; k < j; k++) {
                long c = cost[i][k] + cost[k + 1][j] + dims[i - 1] * dims[k] * dims[j];
                if (cost[i][j] < 0 || c < cost[i][j]) { cost[i][j] = c; split[i][j] = k; }
            }
        }
    printf("matrix chain: %ld multiplications, order ", cost[1][N]);
    print_parens(split, 1, N);
    printf("\n");
}

/* ---- regular expressions: backtracking over the pattern ---- */
static int match_here(const char *re, const char *text);

/* Length of the single-character atom at re: a literal, '.', an escape
   such as \. or a [class] (where a leading ']' is a literal). */
static int atom_len(const char *re)
{
    if (*re == '\\' && re[1]) return 2;
    if (*re != '[') return 1;
    const char *p = re + 1;
    if (*p == '^') p++;
    if (*p == ']') p++;
    while (*p && *p != ']') p++;
    return (int)(p - re) + (*p == ']');
}

static int atom_matches(const char *re, char c)
{
    if (c == '\0') return 0;
    if (*re == '\\' && re[1]) return re[1] == c;
    if (*re == '.') return 1;
    if (*re != '[') return *re == c;
    const char *p = re + 1;
    int negate = *p == '^';
    if (negate) p++;
    int hit = 0;
    if (*p == ']') { hit = c == ']'; p++; }
    for (; *p && *p != ']'; p++) {
        if (p[1] == '-' && p[2] && p[2] != ']') { if (c >= p[0] && c <= p[2]) hit = 1; p += 2; }
        else if (*p == c) hit = 1;
    }
    return hit != negate;
}

static int match_repeat(const char *atom, int min, int max_one, const char *rest, const char *text)
{
    /* Greedy: count how far the atom can repeat, then back off. */
    int n = 0;
    while ((!max_one || n < 1) && atom_matches(atom, text[n])) n++;
    for (; n >= min; n--)
        if (match_here(rest, text + n)) return 1;
    return 0;
}

static int match_here(const char *re, const char *text)
{
    if (*re == '\0') return 1;
    if (re[0] == '$' && re[1] == '\0') return *text == '\0';
    int alen = atom_len(re);
    char q = re[alen];
    if (q == '*') return match_repeat(re, 0, 0, re + alen + 1, text);
    if (q == '+') return match_repeat(re, 1, 0, re + alen + 1, text);
    if (q == '?') return match_repeat(re, 0, 1, re + alen + 1, text);
    if (atom_matches(re, *text)) return match_here(re + alen, text + 1);
    return 0;
}

static int match(const char *re, const char *text)
{
    if (*re == '^') return match_here(re + 1, text);
    do {
        if (match_here(re, text)) return 1;
    } while (*text++);
    return 0;
}

int main(void)
{
    levenshtein("kitten", "sitting");
    levenshtein("flaw", "lawn");
    levenshtein("intention", "execution");
    levenshtein("", "abc");
    levenshtein("compiler", "compiler");
    lcs("AGGTAB", "GXTXAYB");
    lcs("the quick brown fox", "a quick brown dog");
    knapsack();
    coins();
    lis();
    matrix_chain();

    static const struct { const char *re, *text; } cases[] = {
        { "abc", "xxabcxx" }, { "^abc", "xxabc" }, { "abc$", "xxabc" }, { "a.c", "abc" }, { "a.c", "ac" },
        { "ab*c", "ac" }, { "ab*c", "abbbbc" }, { "ab+c", "ac" }, { "ab+c", "abbc" }, { "colou?r", "color" },
        { "colou?r", "colour" }, { "colou?r", "colouur" }, { "^[0-9]+$", "12345" }, { "^[0-9]+$", "12a45" },
        { "[a-z]+@[a-z]+\\.", "mail: bob@example.com" }, { "^[^aeiou]*$", "rhythm" }, { "^[^aeiou]*$", "rhyme" },
        { "x*y*z*", "" }, { "^$", "" }, { "^.*$", "anything at all" }, { "a[]b]c", "a]c" }, { "[-x]", "a-b" },
        { "^(a", "(a" }, { ".*.*.*b", "aaaaaaaaaaaaaaaaaaaa" }, { "a\\.b", "axb" }, { "a\\.b", "a.b" },
        { "[^]x]+", "]]x" }, { "^[^]x]+$", "ab]" }, { "^[^]x]+$", "abc" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        printf("match(/%s/, \"%s\") = %d\n", cases[i].re, cases[i].text, match(cases[i].re, cases[i].text));
    return 0;
}
