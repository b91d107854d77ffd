/* System calls leave the program through one neutral function, implemented by each executor:
 * a hypercall on native targets, a host import on wasm64. Numbers are the generic Linux ones. */

#define __SYSCALL_LL_E(x) (x)
#define __SYSCALL_LL_O(x) (x)

long __xisa_syscall(long, long, long, long, long, long, long);

static inline long __syscall0(long n)
{
	return __xisa_syscall(n, 0, 0, 0, 0, 0, 0);
}

static inline long __syscall1(long n, long a)
{
	return __xisa_syscall(n, a, 0, 0, 0, 0, 0);
}

static inline long __syscall2(long n, long a, long b)
{
	return __xisa_syscall(n, a, b, 0, 0, 0, 0);
}

static inline long __syscall3(long n, long a, long b, long c)
{
	return __xisa_syscall(n, a, b, c, 0, 0, 0);
}

static inline long __syscall4(long n, long a, long b, long c, long d)
{
	return __xisa_syscall(n, a, b, c, d, 0, 0);
}

static inline long __syscall5(long n, long a, long b, long c, long d, long e)
{
	return __xisa_syscall(n, a, b, c, d, e, 0);
}

static inline long __syscall6(long n, long a, long b, long c, long d, long e, long f)
{
	return __xisa_syscall(n, a, b, c, d, e, f);
}

/* The executors have no vDSO. */
#define IPC_64 0
