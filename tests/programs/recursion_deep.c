// Deep and unusual recursion: a 25,000-frame chain whose frames hold
// address-taken locals linked to their callers' frames (so every frame must
// really exist at once), mutual recursion, recursion through function
// pointers, big frames, Ackermann and N-queens backtracking.
#include <stdio.h>
#include <string.h>

#define CHAIN_DEPTH 25000

/* Lives in each frame of deep(); children point at their parent's copy. */
struct frame {
    int value;
    int depth;
    const struct frame *parent;
};

/* Walks all live frames from the innermost one back to the root. */
static unsigned long walk_chain(const struct frame *f, int *count)
{
    unsigned long h = 1469598103u;
    int n = 0;
    for (; f; f = f->parent, n++)
        h = h * 1000003u + (unsigned long)f->value * 7u + (unsigned long)f->depth;
    *count = n;
    return h;
}

static unsigned long checkpoint_hash;

static unsigned long deep(const struct frame *parent, int depth)
{
    struct frame me;
    me.value = (depth * 37) % 1009;
    me.depth = depth;
    me.parent = parent;
    if (depth % 5000 == 0 || depth == CHAIN_DEPTH) {
        int n;
        unsigned long h = walk_chain(&me, &n);
        printf("  depth %5d: chain of %5d live frames, hash %lu\n", depth, n, h);
        checkpoint_hash ^= h;
    }
    if (depth == CHAIN_DEPTH)
        return (unsigned long)me.value;
    unsigned long below = deep(&me, depth + 1);
    /* Use our locals after the call so they must survive it. */
    if (me.depth != depth || me.parent != parent || me.value != (depth * 37) % 1009)
        printf("frame %d corrupted\n", depth);
    return below * 3u + (unsigned long)me.value;
}

/* Mutual recursion; n is small enough to be safe even without tail calls. */
static int is_odd(unsigned n);
static int is_even(unsigned n) { return n == 0 ? 1 : is_odd(n - 1); }
static int is_odd(unsigned n) { return n == 0 ? 0 : is_even(n - 1); }

/* Non-tail recursion that goes through a table of function pointers. */
typedef long (*step_fn)(int);
static long step_a(int n);
static long step_b(int n);
static long step_c(int n);
static step_fn const steps[3] = { step_a, step_b, step_c };
static long step_a(int n) { return n <= 0 ? 1 : steps[n % 3](n - 1) + n; }
static long step_b(int n) { return n <= 0 ? 2 : steps[(n * 7) % 3](n - 1) * 1 - n / 2; }
static long step_c(int n) { return n <= 0 ? 3 : (steps[(n + 1) % 3](n - 1) ^ (long)(n & 255)); }

/* Recursion with a large frame whose buffer is inspected after the call. */
static unsigned big_frames(int n)
{
    unsigned char buf[200];
    for (int i = 0; i < 200; i++)
        buf[i] = (unsigned char)(n * 13 + i);
    unsigned inner = n > 0 ? big_frames(n - 1) : 0;
    unsigned s = 0;
    for (int i = 0; i < 200; i += 7)
        s += buf[i];
    return inner * 31u + s;
}

static unsigned long ack_calls;
static unsigned ackermann(unsigned m, unsigned n)
{
    ack_calls++;
    if (m == 0) return n + 1;
    if (n == 0) return ackermann(m - 1, 1);
    return ackermann(m - 1, ackermann(m, n - 1));
}

/* N-queens by backtracking; board state lives in the caller's arrays. */
static int queens(int n, int row, int *cols, unsigned char *diag1, unsigned char *diag2)
{
    if (row == n) return 1;
    int count = 0;
    for (int c = 0; c < n; c++) {
        if (cols[c] || diag1[row + c] || diag2[row - c + n - 1]) continue;
        cols[c] = diag1[row + c] = diag2[row - c + n - 1] = 1;
        count += queens(n, row + 1, cols, diag1, diag2);
        cols[c] = diag1[row + c] = diag2[row - c + n - 1] = 0;
    }
    return count;
}

/* Recursive string reversal into a caller-provided buffer. */
static void rev(const char *s, char *out, size_t len)
{
    if (len == 0) { out[0] = '\0'; return; }
    out[0] = s[len - 1];
    rev(s, out + 1, len - 1);
}

/* Sum of digits of n! style recursion: tree recursion with memo in a local array. */
static long long paths(int r, int c, long long memo[][16])
{
    if (r == 0 || c == 0) return 1;
    if (memo[r][c]) return memo[r][c];
    return memo[r][c] = paths(r - 1, c, memo) + paths(r, c - 1, memo);
}

int main(void)
{
    printf("deep chain to %d:\n", CHAIN_DEPTH);
    unsigned long r = deep(NULL, 0);
    printf("deep result %lu, checkpoint hash %lu\n", r, checkpoint_hash);

    printf("is_even(20001)=%d is_odd(20001)=%d is_even(15000)=%d\n",
           is_even(20001), is_odd(20001), is_even(15000));

    for (int n = 0; n <= 12000; n += 3000)
        printf("steps(%d) = %ld\n", n, step_a(n));

    printf("big_frames(1500) = %u\n", big_frames(1500));

    for (unsigned m = 0; m <= 3; m++) {
        ack_calls = 0;
        unsigned v = ackermann(m, 5);
        printf("ackermann(%u,5) = %u after %lu calls\n", m, v, ack_calls);
    }

    for (int n = 1; n <= 9; n++) {
        int cols[16] = {0};
        unsigned char d1[32] = {0}, d2[32] = {0};
        printf("queens(%d) = %d\n", n, queens(n, 0, cols, d1, d2));
    }

    const char *msg = "recursion reverses this sentence, one frame per character";
    char out[128];
    rev(msg, out, strlen(msg));
    printf("rev: %s\n", out);

    long long memo[16][16];
    memset(memo, 0, sizeof memo);
    printf("lattice paths 15x15 = %lld, 10x7 = %lld\n", paths(15, 15, memo), paths(10, 7, memo));
    return 0;
}
