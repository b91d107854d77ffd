// Interpreters: a stack-based bytecode VM with a big switch dispatch loop,
// call frames and locals, running programs assembled at start-up (loops,
// recursion, trial-division prime counting, gcd), and a Brainfuck
// interpreter written with goto-based control flow and a precomputed
// bracket table.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

enum op { PUSH, LOAD, STORE, ADD, SUB, MUL, DIV, MOD, LT, EQ, NOT, JMP, JZ, CALL, RET, PRINT,
          DUP, POP, HALT, NOPS };
static const char *const op_names[NOPS] = { "push", "load", "store", "add", "sub", "mul", "div", "mod",
                                            "lt", "eq", "not", "jmp", "jz", "call", "ret", "print",
                                            "dup", "pop", "halt" };

#define CODE_MAX 512
static int64_t code[CODE_MAX];
static int pc_emit;

static int emit(int64_t v) { code[pc_emit] = v; return pc_emit++; }
static int here(void) { return pc_emit; }
static void patch(int at, int64_t v) { code[at] = v; }

struct frame { int ret_pc; int base; int64_t locals[8]; };

static unsigned long long op_counts[NOPS];

static int64_t run(int entry, int verbose)
{
    int64_t stack[256];
    struct frame frames[64];
    int sp = 0, fp = 0, pc = entry;
    frames[0].ret_pc = -1;
    memset(frames[0].locals, 0, sizeof frames[0].locals);
    for (;;) {
        int64_t op = code[pc++], a, b;
        op_counts[op]++;
        switch (op) {
        case PUSH: stack[sp++] = code[pc++]; break;
        case LOAD: stack[sp++] = frames[fp].locals[code[pc++]]; break;
        case STORE: frames[fp].locals[code[pc++]] = stack[--sp]; break;
        case ADD: b = stack[--sp]; a = stack[--sp]; stack[sp++] = a + b; break;
        case SUB: b = stack[--sp]; a = stack[--sp]; stack[sp++] = a - b; break;
        case MUL: b = stack[--sp]; a = stack[--sp]; stack[sp++] = a * b; break;
        case DIV: b = stack[--sp]; a = stack[--sp]; stack[sp++] = b ? a / b : 0; break;
        case MOD: b = stack[--sp]; a = stack[--sp]; stack[sp++] = b ? a % b : 0; break;
        case LT: b = stack[--sp]; a = stack[--sp]; stack[sp++] = a < b; break;
        case EQ: b = stack[--sp]; a = stack[--sp]; stack[sp++] = a == b; break;
        case NOT: stack[sp - 1] = !stack[sp - 1]; break;
        case JMP: pc = (int)code[pc]; break;
        case JZ: a = stack[--sp]; pc = a ? pc + 1 : (int)code[pc]; break;
        case CALL: {
            /* operands: target, argument count; arguments become locals 0.. */
            int target = (int)code[pc], nargs = (int)code[pc + 1];
            struct frame *f = &frames[++fp];
            memset(f->locals, 0, sizeof f->locals);
            for (int i = nargs - 1; i >= 0; i--) f->locals[i] = stack[--sp];
            f->ret_pc = pc + 2;
            f->base = sp;
            pc = target;
            break;
        }
        case RET:
            if (fp == 0) return stack[sp - 1];
            pc = frames[fp--].ret_pc;
            break;
        case PRINT: if (verbose) printf("  vm print: %lld\n", (long long)stack[sp - 1]); sp--; break;
        case DUP: stack[sp] = stack[sp - 1]; sp++; break;
        case POP: sp--; break;
        case HALT: return sp ? stack[sp - 1] : 0;
        default: printf("bad opcode %lld at %d\n", (long long)op, pc - 1); return -1;
        }
    }
}

/* fib(n): if n < 2 return n; return fib(n-1) + fib(n-2) */
static int asm_fib(void)
{
    int entry = here();
    emit(LOAD); emit(0); emit(PUSH); emit(2); emit(LT);
    int jz = emit(JZ); emit(0);
    emit(LOAD); emit(0); emit(RET);
    patch(jz + 1, here());
    emit(LOAD); emit(0); emit(PUSH); emit(1); emit(SUB); emit(CALL); emit(entry); emit(1);
    emit(LOAD); emit(0); emit(PUSH); emit(2); emit(SUB); emit(CALL); emit(entry); emit(1);
    emit(ADD); emit(RET);
    return entry;
}

/* gcd(a, b): while b != 0 { t = a % b; a = b; b = t } return a */
static int asm_gcd(void)
{
    int entry = here();
    int top = here();
    emit(LOAD); emit(1); emit(PUSH); emit(0); emit(EQ); emit(NOT);
    int jz = emit(JZ); emit(0);
    emit(LOAD); emit(0); emit(LOAD); emit(1); emit(MOD); emit(STORE); emit(2);
    emit(LOAD); emit(1); emit(STORE); emit(0);
    emit(LOAD); emit(2); emit(STORE); emit(1);
    emit(JMP); emit(top);
    patch(jz + 1, here());
    emit(LOAD); emit(0); emit(RET);
    return entry;
}

/* count primes below local0 by trial division; prints every 1000th prime */
static int asm_primes(void)
{
    int entry = here();
    emit(PUSH); emit(0); emit(STORE); emit(1);              /* count = 0 */
    emit(PUSH); emit(2); emit(STORE); emit(2);              /* n = 2 */
    int outer = here();
    emit(LOAD); emit(2); emit(LOAD); emit(0); emit(LT);
    int jz_done = emit(JZ); emit(0);
    emit(PUSH); emit(2); emit(STORE); emit(3);              /* d = 2 */
    int inner = here();
    emit(LOAD); emit(3); emit(LOAD); emit(3); emit(MUL); emit(LOAD); emit(2); emit(LT);
    emit(LOAD); emit(3); emit(LOAD); emit(3); emit(MUL); emit(LOAD); emit(2); emit(EQ); emit(ADD);
    int jz_prime = emit(JZ); emit(0);                       /* d*d > n: prime */
    emit(LOAD); emit(2); emit(LOAD); emit(3); emit(MOD);
    int jz_comp = emit(JZ); emit(0);                        /* divisible: composite */
    emit(LOAD); emit(3); emit(PUSH); emit(1); emit(ADD); emit(STORE); emit(3);
    emit(JMP); emit(inner);
    patch(jz_prime + 1, here());
    emit(LOAD); emit(1); emit(PUSH); emit(1); emit(ADD); emit(DUP); emit(STORE); emit(1);
    emit(PUSH); emit(1000); emit(MOD);
    int jz_print = emit(JZ); emit(0);
    int jmp_next = emit(JMP); emit(0);
    patch(jz_print + 1, here());
    emit(LOAD); emit(2); emit(PRINT);
    patch(jmp_next + 1, here());
    patch(jz_comp + 1, here());
    emit(LOAD); emit(2); emit(PUSH); emit(1); emit(ADD); emit(STORE); emit(2);
    emit(JMP); emit(outer);
    patch(jz_done + 1, here());
    emit(LOAD); emit(1); emit(RET);
    return entry;
}

/* Drivers: main-level code that calls a function with constant arguments. */
static int asm_call(int fn, int64_t a, int64_t b, int nargs)
{
    int entry = here();
    emit(PUSH); emit(a);
    if (nargs == 2) { emit(PUSH); emit(b); }
    emit(CALL); emit(fn); emit(nargs);
    emit(HALT);
    return entry;
}

static void bf(const char *prog, const char *input)
{
    unsigned char tape[300];
    int match[256];
    int stack[64], depth = 0;
    int n = (int)strlen(prog);
    memset(tape, 0, sizeof tape);
    for (int i = 0; i < n; i++) {
        if (prog[i] == '[') stack[depth++] = i;
        else if (prog[i] == ']') { int j = stack[--depth]; match[i] = j; match[j] = i; }
    }
    int ip = 0, dp = 0;
    long steps = 0;
next:
    if (ip >= n) goto done;
    steps++;
    switch (prog[ip]) {
    case '>': dp++; break;
    case '<': dp--; break;
    case '+': tape[dp]++; break;
    case '-': tape[dp]--; break;
    case '.': putchar(tape[dp]); break;
    case ',': tape[dp] = *input ? (unsigned char)*input++ : 0; break;
    case '[': if (!tape[dp]) { ip = match[ip]; } break;
    case ']': if (tape[dp]) { ip = match[ip]; } break;
    default: break;
    }
    ip++;
    goto next;
done:
    printf("\n  (bf: %ld steps, final cell %d = %d)\n", steps, dp, tape[dp]);
}

int main(void)
{
    int fib = asm_fib(), gcd = asm_gcd(), primes = asm_primes();
    printf("assembled %d words\n", here());
    for (int n = 0; n <= 20; n += 5) {
        int d = asm_call(fib, n, 0, 1);
        printf("fib(%d) = %lld\n", n, (long long)run(d, 0));
    }
    int64_t pairs[][2] = { { 1071, 462 }, { 0, 5 }, { 17, 0 }, { 832040, 514229 }, { 1LL << 40, 6LL << 20 } };
    for (int i = 0; i < 5; i++) {
        int d = asm_call(gcd, pairs[i][0], pairs[i][1], 2);
        printf("gcd(%lld, %lld) = %lld\n", (long long)pairs[i][0], (long long)pairs[i][1], (long long)run(d, 0));
    }
    int d = asm_call(primes, 20000, 0, 1);
    printf("primes below 20000 = %lld\n", (long long)run(d, 1));
    printf("assembled %d words in total\n", here());
    printf("opcode counts:");
    for (int i = 0; i < NOPS; i++) printf(" %s=%llu", op_names[i], op_counts[i]);
    printf("\n");

    printf("bf digits: ");
    bf("++++++++[>++++++<-]>>++++++++++[<.+>-]", "");
    printf("bf echo upper: ");
    bf(",[>++++[<-------->-]<.,]", "hello");   /* subtracts 32 from each byte */
    printf("bf add 3+4: ");
    bf(",>,[<+>-]<------------------------------------------------.", "34");
    return 0;
}
