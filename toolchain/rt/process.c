/* Process mode: the native program as an ordinary Linux process of its ISA (x86-64 directly,
 * AArch64 natively or under qemu-aarch64) whose system calls are served by the xisa monitor
 * that started it, through the same personality as every other executor (spec.md §4.3).
 *
 * The monitor hands the process two descriptors: guest memory (a memory file whose offset N is
 * guest address N) and a doorbell socket. At start the process maps guest memory over the
 * neutral addresses and the native stack, then asks the monitor whether to begin the program
 * or to resume frames the monitor has laid out on the native stack. Every __xisa_syscall
 * writes its number and arguments into the channel page, rings the doorbell and waits for the
 * answer; the entry stub (x86_64.S / aarch64.S) has already noted the caller's stack, frame
 * and link registers there, which is all a capture needs. Fatal signals are reported the same
 * way. The process makes no other system call: files, memory and clocks are the monitor's.
 *
 * Freestanding: no libc, no calls the compiler could turn into memcpy/memset. */

typedef unsigned long u64;

/* The channel page (xisa_format::abi::process). */
struct channel {
	u64 nr;
	u64 args[6];
	u64 result;
	u64 entry_sp, entry_fp, entry_lr;
	u64 resume_pc, resume_sp, resume_fp, resume_poison;
	u64 fault_signal, fault_pc, fault_address;
	u64 mem_top;
	u64 magic;
};

#define CHANNEL ((volatile struct channel *)XISA_PROCESS_CHANNEL)

extern void __xisa_process_begin(void) __attribute__((noreturn));
extern void __xisa_process_resume(u64 pc, u64 sp, u64 fp, u64 poison) __attribute__((noreturn));

/* ---- Raw Linux system calls ---------------------------------------------------------- */

#if defined(__x86_64__)
enum { SYS_read = 0, SYS_write = 1, SYS_mmap = 9, SYS_munmap = 11, SYS_rt_sigaction = 13,
       SYS_mincore = 27, SYS_sigaltstack = 131, SYS_exit_group = 231 };

static long raw_syscall(long n, long a0, long a1, long a2, long a3, long a4, long a5)
{
	register long r10 __asm__("r10") = a3;
	register long r8 __asm__("r8") = a4;
	register long r9 __asm__("r9") = a5;
	long ret;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a0), "S"(a1), "d"(a2), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

/* ucontext_t: uc_mcontext.gregs[REG_RIP]. */
#define UCONTEXT_PC 168
#elif defined(__aarch64__)
enum { SYS_read = 63, SYS_write = 64, SYS_mmap = 222, SYS_munmap = 215, SYS_rt_sigaction = 134,
       SYS_mincore = 232, SYS_sigaltstack = 132, SYS_exit_group = 94 };

static long raw_syscall(long n, long a0, long a1, long a2, long a3, long a4, long a5)
{
	register long x8 __asm__("x8") = n;
	register long x0 __asm__("x0") = a0;
	register long x1 __asm__("x1") = a1;
	register long x2 __asm__("x2") = a2;
	register long x3 __asm__("x3") = a3;
	register long x4 __asm__("x4") = a4;
	register long x5 __asm__("x5") = a5;
	__asm__ volatile("svc 0"
			 : "+r"(x0)
			 : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
			 : "memory");
	return x0;
}

/* ucontext_t: uc_mcontext (16-aligned after the 128-byte signal mask) .pc. */
#define UCONTEXT_PC 440
#else
#error "process mode supports x86-64 and AArch64"
#endif

#define ENOMEM 12
#define EEXIST 17
#define EINTR 4
#define PROT_NONE 0
#define PROT_RW 3
#define MAP_SHARED 0x01
#define MAP_PRIVATE 0x02
#define MAP_FIXED 0x10
#define MAP_ANONYMOUS 0x20
#define MAP_NORESERVE 0x4000
#define MAP_FIXED_NOREPLACE 0x100000
#define SA_SIGINFO 4
#define SA_RESTORER 0x04000000
#define SA_ONSTACK 0x08000000
#define SIGILL 4
#define SIGTRAP 5
#define SIGBUS 7
#define SIGFPE 8
#define SIGSEGV 11

/* ---- Messages before the monitor answers ---------------------------------------------- */

static u64 length(const char *s)
{
	u64 n = 0;
	while (s[n])
		n++;
	return n;
}

__attribute__((noreturn)) static void die(const char *what)
{
	static const char prefix[] = "xisa: process mode: ";
	raw_syscall(SYS_write, 2, (long)prefix, sizeof prefix - 1, 0, 0, 0);
	raw_syscall(SYS_write, 2, (long)what, (long)length(what), 0, 0, 0);
	raw_syscall(SYS_write, 2, (long)"\n", 1, 0, 0, 0);
	for (;;)
		raw_syscall(SYS_exit_group, 127, 0, 0, 0, 0, 0);
}

/* ---- The doorbell --------------------------------------------------------------------- */

/* Rings the doorbell and waits for the monitor's one-byte answer. */
static unsigned char call_monitor(void)
{
	unsigned char byte = 1;
	long r;
	do
		r = raw_syscall(SYS_write, XISA_PROCESS_DOORBELL_FD, (long)&byte, 1, 0, 0, 0);
	while (r == -EINTR);
	if (r != 1)
		die("the monitor is gone");
	do
		r = raw_syscall(SYS_read, XISA_PROCESS_DOORBELL_FD, (long)&byte, 1, 0, 0, 0);
	while (r == -EINTR);
	if (r != 1)
		for (;;)	/* The monitor ended the run. */
			raw_syscall(SYS_exit_group, 127, 0, 0, 0, 0, 0);
	return byte;
}

long __xisa_process_syscall(long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
	volatile struct channel *c = CHANNEL;
	c->nr = (u64)nr;
	c->args[0] = (u64)a0;
	c->args[1] = (u64)a1;
	c->args[2] = (u64)a2;
	c->args[3] = (u64)a3;
	c->args[4] = (u64)a4;
	c->args[5] = (u64)a5;
	/* A longjmp is answered by resuming the frames the monitor laid out, not by a result. */
	if (call_monitor() == XISA_PROCESS_REPLY_RESUME)
		__xisa_process_resume(c->resume_pc, c->resume_sp, c->resume_fp, c->resume_poison);
	return (long)c->result;
}

/* ---- Faults ---------------------------------------------------------------------------- */

static char signal_stack[64 * 1024] __attribute__((aligned(16)));

__attribute__((noreturn)) static void never_returned(void)
{
	die("a signal handler returned");
}

static void on_fatal_signal(int signal, void *info, void *context)
{
	volatile struct channel *c = CHANNEL;
	c->fault_signal = (u64)signal;
	/* siginfo_t: si_addr follows si_signo, si_errno, si_code and padding. */
	c->fault_address = *(u64 *)((char *)info + 16);
	c->fault_pc = *(u64 *)((char *)context + UCONTEXT_PC);
	c->nr = XISA_PROCESS_SIGNAL;
	call_monitor();
	for (;;)
		raw_syscall(SYS_exit_group, 128 + signal, 0, 0, 0, 0, 0);
}

static void catch_fatal_signals(void)
{
	u64 stack[3] = { (u64)signal_stack, 0, sizeof signal_stack };
	raw_syscall(SYS_sigaltstack, (long)stack, 0, 0, 0, 0, 0);
	/* The kernel's struct sigaction: handler, flags, restorer, mask. x86-64 Linux builds no
	 * signal frame without a restorer; the handler never returns to it. */
	u64 action[4] = { (u64)on_fatal_signal, SA_SIGINFO | SA_ONSTACK | SA_RESTORER,
			  (u64)never_returned, 0 };
	static const int fatal[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP };
	for (unsigned i = 0; i < sizeof fatal / sizeof fatal[0]; i++)
		raw_syscall(SYS_rt_sigaction, fatal[i], (long)action, 0, 8, 0, 0);
}

/* ---- Start-up --------------------------------------------------------------------------- */

/* True if no page of [base, base + size) is mapped: mincore fails with ENOMEM on those. */
static int range_is_free(u64 base, u64 size)
{
	unsigned char resident;
	for (u64 page = base; page < base + size; page += 4096)
		if (raw_syscall(SYS_mincore, (long)page, 4096, (long)&resident, 0, 0, 0) != -ENOMEM)
			return 0;
	return 1;
}

/* Maps [base, base + size) at its own address, from guest memory or (fd < 0) as an
 * inaccessible guard, without replacing anything already there. */
static int map_fresh(u64 base, u64 size, int prot, int flags, int fd)
{
	long got = raw_syscall(SYS_mmap, (long)base, (long)size, prot, flags | MAP_FIXED_NOREPLACE,
			       fd, fd < 0 ? 0 : (long)base);
	if (got == (long)base)
		return 1;
	if (got >= 0 || got < -4095) {
		/* A kernel or emulator (qemu-user before 8.1) without MAP_FIXED_NOREPLACE took the
		 * address as a hint and mapped elsewhere: check the range, then map it MAP_FIXED. */
		raw_syscall(SYS_munmap, got, (long)size, 0, 0, 0, 0);
		if (range_is_free(base, size))
			got = raw_syscall(SYS_mmap, (long)base, (long)size, prot, flags | MAP_FIXED, fd,
					  fd < 0 ? 0 : (long)base);
	}
	return got == (long)base;
}

/* Maps guest memory over [base, base + size), replacing what the program's own segments put
 * there (the monitor has loaded the same bytes into guest memory). */
static void map_guest(u64 base, u64 size, const char *what)
{
	long got = raw_syscall(SYS_mmap, (long)base, (long)size, PROT_RW,
			       MAP_SHARED | MAP_FIXED | MAP_NORESERVE, XISA_PROCESS_MEMORY_FD,
			       (long)base);
	if (got != (long)base)
		die(what);
}

/* Linux enters here (from _start) with its initial stack, which is not used: the program's
 * arguments and environment are in the start-up block the monitor wrote. */
void __xisa_process_start(long *initial_stack)
{
	(void)initial_stack;
	if (!map_fresh(XISA_PROCESS_CHANNEL, 4096, PROT_RW, MAP_SHARED, XISA_PROCESS_MEMORY_FD) ||
	    CHANNEL->magic != XISA_PROCESS_CHANNEL_MAGIC)
		die("this program runs under its monitor: `xisa run --backend process`");
	u64 mem_top = CHANNEL->mem_top;
	map_guest(XISA_NATIVE_STACK_BASE, XISA_STARTUP_END - XISA_NATIVE_STACK_BASE,
		  "cannot map the native stack and start-up block");
	map_guest(XISA_SHADOW_STACK_BASE, mem_top - XISA_SHADOW_STACK_BASE,
		  "cannot map guest memory");
	/* Keep the guards unmapped, so that running into them faults. */
	map_fresh(XISA_NATIVE_STACK_BASE - 0x10000, 0x10000, PROT_NONE,
		  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1);
	map_fresh(XISA_STARTUP_END, XISA_SHADOW_STACK_BASE - XISA_STARTUP_END, PROT_NONE,
		  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1);
	catch_fatal_signals();

	volatile struct channel *c = CHANNEL;
	c->nr = XISA_PROCESS_BOOT;
	if (call_monitor() == XISA_PROCESS_REPLY_RESUME)
		__xisa_process_resume(c->resume_pc, c->resume_sp, c->resume_fp, c->resume_poison);
	__xisa_process_begin();
}
