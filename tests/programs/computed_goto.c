// Computed goto (GNU labels as values): a register-machine interpreter whose
// dispatch is `goto *table[op]`, a label-difference table, and labels stored
// in data. It runs a few bytecode programs (a loop of squares and a
// sieve) long enough to pass many migration points inside the loop.
// `computed_goto [N]` runs N iterations of the first program (default 200000).
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <stdlib.h>

enum op { LI, ADD, SUB, MUL, MOD, LT, JNZ, JMP, LD, ST, PRINT, HALT, NOPS };

struct insn { uint8_t op, a, b, c; int32_t imm; };

static int64_t mem[4096];
static unsigned long long executed[NOPS];

static int64_t run(const struct insn *code, int64_t *r)
{
    static void *const table[NOPS] = {
        &&do_li, &&do_add, &&do_sub, &&do_mul, &&do_mod, &&do_lt,
        &&do_jnz, &&do_jmp, &&do_ld, &&do_st, &&do_print, &&do_halt,
    };
    const struct insn *pc = code;
#define NEXT do { executed[pc->op]++; goto *table[pc->op]; } while (0)
    NEXT;
do_li:  r[pc->a] = pc->imm; pc++; NEXT;
do_add: r[pc->a] = r[pc->b] + r[pc->c]; pc++; NEXT;
do_sub: r[pc->a] = r[pc->b] - r[pc->c]; pc++; NEXT;
do_mul: r[pc->a] = r[pc->b] * r[pc->c]; pc++; NEXT;
do_mod: r[pc->a] = r[pc->c] ? r[pc->b] % r[pc->c] : 0; pc++; NEXT;
do_lt:  r[pc->a] = r[pc->b] < r[pc->c]; pc++; NEXT;
do_jnz: pc = r[pc->a] ? code + pc->imm : pc + 1; NEXT;
do_jmp: pc = code + pc->imm; NEXT;
do_ld:  r[pc->a] = mem[(uint64_t)r[pc->b] % 4096]; pc++; NEXT;
do_st:  mem[(uint64_t)r[pc->b] % 4096] = r[pc->a]; pc++; NEXT;
do_print: printf("  r%d = %lld\n", pc->a, (long long)r[pc->a]); pc++; NEXT;
do_halt: return r[pc->a];
#undef NEXT
}

#define I(o, A, B, C, IMM) { o, A, B, C, IMM }

/* sum of i*i mod 7 for i < n */
static const struct insn squares[] = {
    I(LI, 0, 0, 0, 0),      /* 0: i = 0 */
    I(LI, 1, 0, 0, 0),      /* 1: s = 0 */
    I(LI, 2, 0, 0, 200000), /* 2: n */
    I(LI, 3, 0, 0, 1),      /* 3: one */
    I(LI, 4, 0, 0, 7),      /* 4: seven */
    I(MUL, 5, 0, 0, 0),     /* 5: t = i*i */
    I(MOD, 5, 5, 4, 0),     /* 6: t %= 7 */
    I(ADD, 1, 1, 5, 0),     /* 7: s += t */
    I(ADD, 0, 0, 3, 0),     /* 8: i++ */
    I(LT, 6, 0, 2, 0),      /* 9: i < n */
    I(JNZ, 6, 0, 0, 5),     /* 10 */
    I(PRINT, 1, 0, 0, 0),
    I(HALT, 1, 0, 0, 0),
};

/* sieve of Eratosthenes below 4000, count primes */
static const struct insn sieve[] = {
    I(LI, 0, 0, 0, 2),      /* 0: i = 2 */
    I(LI, 1, 0, 0, 4000),   /* 1: n */
    I(LI, 2, 0, 0, 1),      /* 2: one */
    I(LI, 7, 0, 0, 0),      /* 3: count = 0 */
    I(LD, 3, 0, 0, 0),      /* 4: composite = mem[i] */
    I(JNZ, 3, 0, 0, 13),    /* 5: skip */
    I(ADD, 7, 7, 2, 0),     /* 6: count++ */
    I(ADD, 4, 0, 0, 0),     /* 7: j = i + i */
    I(LT, 5, 4, 1, 0),      /* 8: j < n */
    I(JNZ, 5, 0, 0, 18),    /* 9 */
    I(JMP, 0, 0, 0, 13),    /* 10 */
    I(HALT, 7, 0, 0, 0),    /* 11 (unused) */
    I(HALT, 7, 0, 0, 0),    /* 12 (unused) */
    I(ADD, 0, 0, 2, 0),     /* 13: i++ */
    I(LT, 5, 0, 1, 0),      /* 14: i < n */
    I(JNZ, 5, 0, 0, 4),     /* 15 */
    I(PRINT, 7, 0, 0, 0),   /* 16 */
    I(HALT, 7, 0, 0, 0),    /* 17 */
    I(ST, 2, 4, 0, 0),      /* 18: mem[j] = 1 */
    I(ADD, 4, 4, 0, 0),     /* 19: j += i */
    I(JMP, 0, 0, 0, 8),     /* 20 */
};

/* Label differences: offsets from a base label, used as a jump table. */
static int classify(int v)
{
    static const int offsets[] = { &&zero - &&zero, &&small - &&zero, &&big - &&zero };
    int k = v == 0 ? 0 : (v < 100 ? 1 : 2);
    goto *(&&zero + offsets[k]);
zero:  return 0;
small: return v % 10;
big:   return v / 100;
}

int main(int argc, char **argv)
{
    /* An optional argument scales the first program (used as a benchmark). */
    struct insn sq[sizeof squares / sizeof squares[0]];
    memcpy(sq, squares, sizeof sq);
    if (argc > 1)
        sq[2].imm = atoi(argv[1]);
    int64_t r[16];

    puts("squares:");
    memset(r, 0, sizeof r);
    printf("result %lld\n", (long long)run(sq, r));

    puts("sieve:");
    memset(r, 0, sizeof r);
    memset(mem, 0, sizeof mem);
    printf("result %lld\n", (long long)run(sieve, r));

    long long sum = 0;
    for (int v = 0; v < 1000; v++)
        sum += classify(v);
    printf("classify sum %lld\n", sum);

    for (int op = 0; op < NOPS; op++)
        printf("op %d executed %llu times\n", op, executed[op]);
    return 0;
}
