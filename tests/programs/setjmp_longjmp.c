// setjmp/longjmp as real C programs use them: error recovery out of deep recursion whose
// frames hold address-taken locals (so the shadow stack must unwind too), nested handlers,
// longjmp(env, 0) returning 1, volatile locals kept across the jump, sigsetjmp, and nested
// protected calls that catch an error or pass it outwards (as interpreters do).
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

static jmp_buf on_error;
static int depth_reached;

static void fill(char *buffer, int n)
{
    memset(buffer, 'a' + n % 26, 31);
    buffer[31] = 0;
}

static long descend(int depth, int fail_at, const char *above)
{
    char local[32];
    fill(local, depth);
    depth_reached = depth;
    if (depth == fail_at)
        longjmp(on_error, depth);
    if (depth == 500)
        return local[0];
    long below = descend(depth + 1, fail_at, local);
    return below + (above ? above[depth % 31] : 0) + local[3];
}

static int parse_digit(char c, jmp_buf *handler)
{
    if (c < '0' || c > '9')
        longjmp(*handler, c);
    return c - '0';
}

static int sum_digits(const char *text)
{
    jmp_buf handler;
    volatile int total = 0;
    int bad = setjmp(handler);
    if (bad) {
        printf("  bad character '%c' after total %d\n", bad, total);
        return -1;
    }
    for (const char *p = text; *p; p++)
        total += parse_digit(*p, &handler);
    return total;
}

/* Nested protected calls: each installs a handler; an error unwinds to the innermost one,
 * which handles it or raises it again to the next. */
struct handler {
    jmp_buf env;
    struct handler *previous;
};
static struct handler *current_handler;

static void raise_error(int code)
{
    longjmp(current_handler->env, code);
}

static int protected_call(int (*function)(int), int argument, int *status)
{
    struct handler handler;
    handler.previous = current_handler;
    current_handler = &handler;
    volatile int result = -1;
    int code = setjmp(handler.env);
    if (code == 0) {
        result = function(argument);
        *status = 0;
    } else {
        *status = code;
    }
    current_handler = handler.previous;
    return result;
}

static int level(int n)
{
    if (n == 0)
        raise_error(100);
    int status;
    int result = protected_call(level, n - 1, &status);
    if (status != 0) {
        if (n % 4 == 0) {
            printf("  level %d handles error %d\n", n, status);
            return n * 10;
        }
        raise_error(status + 1);
    }
    return result + 1;
}

int main(void)
{
    for (int fail_at = 1; fail_at <= 2000; fail_at *= 7) {
        volatile int attempts = 0;
        int code = setjmp(on_error);
        attempts++;
        if (code == 0) {
            descend(0, fail_at, NULL);
            printf("not reached\n");
        } else {
            printf("recovered from depth %d (code %d, attempts %d)\n", depth_reached, code, attempts);
        }
    }
    const char *inputs[] = { "12345", "98x76", "", "0000009", "1 2" };
    for (unsigned i = 0; i < sizeof inputs / sizeof inputs[0]; i++)
        printf("sum_digits(\"%s\") = %d\n", inputs[i], sum_digits(inputs[i]));

    jmp_buf zero;
    int value = setjmp(zero);
    if (value == 0)
        longjmp(zero, 0);
    printf("longjmp(env, 0) made setjmp return %d\n", value);

    sigjmp_buf signal_env;
    int again = sigsetjmp(signal_env, 1);
    if (again < 3)
        siglongjmp(signal_env, again + 1);
    printf("sigsetjmp returned %d\n", again);

    for (int depth = 1; depth <= 13; depth += 4) {
        int status;
        int result = protected_call(level, depth, &status);
        printf("protected level(%d): result %d, status %d\n", depth, result, status);
    }

    // After all that unwinding the stacks must be intact: recurse deeply once more.
    printf("clean descent: %ld\n", descend(0, -1, NULL));
    return 0;
}
