/* Process mode: the native program as an ordinary static Linux process of its ISA (x86-64
 * directly, AArch64 natively or under qemu-aarch64), so that gdb, perf and valgrind work on it.
 *
 * The entry stub (x86_64.S / aarch64.S) enters __xisa_process_start with the Linux initial
 * stack and sends every __xisa_syscall here once __xisa_mode is set. This file maps the
 * neutral areas the ELF does not cover, copies the start-up block to its neutral address, and
 * serves the generic (asm-generic) system-call ABI of spec.md §4 with real Linux calls:
 * numbers are translated on x86-64, structures and flags that differ from the generic ABI are
 * converted, and what the xisa personality answers by itself (identity, uname, signals,
 * ioctl) is answered here the same way, so a program prints the same on every executor.
 *
 * Freestanding: no libc, no calls the compiler could turn into memcpy/memset. */

typedef unsigned long u64;
typedef unsigned int u32;

#ifndef XISA_STARTUP_BASE
#define XISA_STARTUP_BASE 0x4000000UL
#endif
#define STARTUP_SIZE 0x100000UL
#define SHADOW_STACK_BASE 0x4200000UL
#define SHADOW_STACK_SIZE 0x1000000UL
#define XISA_CALL_FAULT 0x10000L
/* A migration point fired: a process cannot be captured, so it just carries on. */
#define XISA_CALL_MIGRATE_PROCESS 0x10001L

extern void __xisa_start(void);

/* ---- Raw Linux system calls ---------------------------------------------------------- */

#if defined(__x86_64__)
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
#elif defined(__aarch64__)
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
#else
#error "process mode supports x86-64 and AArch64"
#endif

/* ---- The generic ABI ------------------------------------------------------------------ */

/* Generic system call numbers this file refers to by name. */
enum {
	NR_fcntl = 25, NR_write = 64, NR_newfstatat = 79, NR_exit_group = 94, NR_tgkill = 131,
	NR_rt_sigaction = 134, NR_rt_sigprocmask = 135, NR_umask = 166, NR_getpid = 172,
	NR_gettid = 178, NR_munmap = 215, NR_mmap = 222, NR_mincore = 232,
	NR_COUNT = 440,	/* past the highest served number, faccessat2 (439) */
};

enum {
	ESRCH = 3, ENOMEM = 12, EEXIST = 17, EINVAL = 22, ENOTTY = 25, EROFS = 30, ENOSYS = 38,
};

#define O_LARGEFILE 0100000L
#define F_GETFD 1
#define F_GETFL 3
#define F_SETFL 4
#define AT_SYMLINK_NOFOLLOW 0x100
#define AT_EMPTY_PATH 0x1000
#define PROT_RW 3
#define MAP_PRIVATE_ANON_NOREPLACE (0x02 | 0x20 | 0x100000)
#define MAP_PRIVATE_ANON_FIXED (0x02 | 0x20 | 0x10)
#define AT_PHDR 3
#define AT_PHENT 4
#define AT_PHNUM 5

/* What a served call does. */
enum action {
	NONE,		/* not served: -ENOSYS and a one-time warning, like the personality */
	PASS,		/* the same Linux call with the same arguments */
	OPENAT,		/* open flags converted (AArch64) */
	FCNTL,		/* F_GETFL/F_SETFL flags converted (AArch64) */
	STAT,		/* struct stat converted to the generic layout; `arg` = buffer argument */
	STATX,		/* owner reported as root */
	SYNC,		/* fsync/fdatasync: succeeds on every open fd (pipes, terminals) */
	FD_OK,		/* fadvise64, fchown: 0 on an open fd, nothing done */
	FCHOWNAT,	/* 0 if the path exists: ownership is not the guest's to change */
	IOCTL,		/* -ENOTTY on an open fd: no fd is a terminal */
	VALUE,		/* a fixed answer `arg`: pid 1, tid 1, uid 0, ... */
	UNAME,
	AFFINITY,	/* one CPU */
	PRLIMIT,	/* pid 1 (us) becomes 0 */
	SIGACTION, SIGPROCMASK, SIGALTSTACK,	/* bookkeeping only: no signal is delivered */
	KILL, TKILL, TGKILL,			/* only at ourselves */
	EXIT,
};

struct call {
	unsigned short x86;	/* the x86-64 number */
	unsigned char action;
	unsigned char arg;
};

/* Every call the personality serves (spec.md §4), by generic number. Emulated calls keep
 * their x86-64 numbers too: this file makes the real getpid, gettid, tgkill, rt_sigaction,
 * ... itself through host(). */
static const struct call calls[NR_COUNT] = {
	/* Data on fds. */
	[63] = { 0, PASS },		/* read */
	[64] = { 1, PASS },		/* write */
	[65] = { 19, PASS },		/* readv */
	[66] = { 20, PASS },		/* writev */
	[67] = { 17, PASS },		/* pread64 */
	[68] = { 18, PASS },		/* pwrite64 */
	[62] = { 8, PASS },		/* lseek */
	[61] = { 217, PASS },		/* getdents64 */
	/* Descriptors. */
	[57] = { 3, PASS },		/* close */
	[23] = { 32, PASS },		/* dup */
	[24] = { 292, PASS },		/* dup3 */
	[25] = { 72, FCNTL },		/* fcntl */
	[29] = { 16, IOCTL },		/* ioctl */
	[46] = { 77, PASS },		/* ftruncate */
	[82] = { 74, SYNC },		/* fsync */
	[83] = { 75, SYNC },		/* fdatasync */
	[223] = { 221, FD_OK },		/* fadvise64 */
	[80] = { 5, STAT, 1 },		/* fstat */
	[52] = { 91, PASS },		/* fchmod */
	[55] = { 93, FD_OK },		/* fchown */
	[50] = { 81, PASS },		/* fchdir */
	/* Paths. */
	[56] = { 257, OPENAT },		/* openat */
	[79] = { 262, STAT, 2 },	/* newfstatat */
	[291] = { 332, STATX },		/* statx */
	[35] = { 263, PASS },		/* unlinkat */
	[34] = { 258, PASS },		/* mkdirat */
	[38] = { 264, PASS },		/* renameat */
	[276] = { 316, PASS },		/* renameat2 */
	[37] = { 265, PASS },		/* linkat */
	[36] = { 266, PASS },		/* symlinkat */
	[78] = { 267, PASS },		/* readlinkat */
	[48] = { 269, PASS },		/* faccessat */
	[439] = { 439, PASS },		/* faccessat2 */
	[53] = { 268, PASS },		/* fchmodat */
	[54] = { 260, FCHOWNAT },	/* fchownat */
	[88] = { 280, PASS },		/* utimensat */
	[45] = { 76, PASS },		/* truncate */
	[17] = { 79, PASS },		/* getcwd */
	[49] = { 80, PASS },		/* chdir */
	[166] = { 95, PASS },		/* umask */
	/* Memory. */
	[214] = { 12, PASS },		/* brk */
	[222] = { 9, PASS },		/* mmap */
	[215] = { 11, PASS },		/* munmap */
	[216] = { 25, PASS },		/* mremap */
	[233] = { 28, PASS },		/* madvise */
	[226] = { 10, PASS },		/* mprotect */
	[227] = { 26, PASS },		/* msync */
	/* Time and randomness. */
	[113] = { 228, PASS },		/* clock_gettime */
	[114] = { 229, PASS },		/* clock_getres */
	[169] = { 96, PASS },		/* gettimeofday */
	[101] = { 35, PASS },		/* nanosleep */
	[115] = { 230, PASS },		/* clock_nanosleep */
	[278] = { 318, PASS },		/* getrandom */
	/* Process. */
	[93] = { 60, EXIT },		/* exit: the program is one thread */
	[94] = { 231, EXIT },		/* exit_group */
	[160] = { 63, UNAME },		/* uname */
	[172] = { 39, VALUE, 1 },	/* getpid */
	[178] = { 186, VALUE, 1 },	/* gettid */
	[96] = { 218, VALUE, 1 },	/* set_tid_address */
	[173] = { 110, VALUE, 0 },	/* getppid */
	[174] = { 102, VALUE, 0 },	/* getuid */
	[175] = { 107, VALUE, 0 },	/* geteuid */
	[176] = { 104, VALUE, 0 },	/* getgid */
	[177] = { 108, VALUE, 0 },	/* getegid */
	[124] = { 24, PASS },		/* sched_yield */
	[123] = { 204, AFFINITY },	/* sched_getaffinity */
	[261] = { 302, PRLIMIT },	/* prlimit64 */
	[163] = { 97, PASS },		/* getrlimit */
	[164] = { 160, PASS },		/* setrlimit */
	[179] = { 99, PASS },		/* sysinfo */
	/* Signals. */
	[134] = { 13, SIGACTION },	/* rt_sigaction */
	[135] = { 14, SIGPROCMASK },	/* rt_sigprocmask */
	[132] = { 131, SIGALTSTACK },	/* sigaltstack */
	[129] = { 62, KILL },		/* kill */
	[130] = { 200, TKILL },		/* tkill */
	[131] = { 234, TGKILL },	/* tgkill */
	/* Internal only. */
	[232] = { 27, NONE },		/* mincore */
};

/* The real Linux call for generic number `nr`. */
static long host(long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
#if defined(__x86_64__)
	nr = calls[nr].x86;
#endif
	return raw_syscall(nr, a0, a1, a2, a3, a4, a5);
}

#define host0(nr) host(nr, 0, 0, 0, 0, 0, 0)
#define host1(nr, a) host(nr, a, 0, 0, 0, 0, 0)
#define host2(nr, a, b) host(nr, a, b, 0, 0, 0, 0)
#define host3(nr, a, b, c) host(nr, a, b, c, 0, 0, 0)
#define host4(nr, a, b, c, d) host(nr, a, b, c, d, 0, 0)

/* ---- Messages ------------------------------------------------------------------------- */

struct text {
	char bytes[256];
	u64 len;
};

static void put(struct text *t, const char *s)
{
	while (*s && t->len < sizeof t->bytes)
		t->bytes[t->len++] = *s++;
}

static void put_number(struct text *t, u64 value, u64 base)
{
	char digits[24];
	int n = 0;
	if (base == 16)
		put(t, "0x");
	do {
		digits[n++] = "0123456789abcdef"[value % base];
		value /= base;
	} while (value);
	while (n && t->len < sizeof t->bytes)
		t->bytes[t->len++] = digits[--n];
}

static void emit(struct text *t)
{
	host3(NR_write, 2, (long)t->bytes, (long)t->len);
}

__attribute__((noreturn)) static void die(struct text *t)
{
	put(t, "\n");
	emit(t);
	for (;;)
		host1(NR_exit_group, 127);
}

/* ---- Start-up --------------------------------------------------------------------------- */

/* True if no page of [base, base + size) is mapped: mincore fails with ENOMEM on those. */
static int range_is_free(u64 base, u64 size)
{
	unsigned char resident;
	for (u64 page = base; page < base + size; page += 4096)
		if (host3(NR_mincore, (long)page, 4096, (long)&resident) != -ENOMEM)
			return 0;
	return 1;
}

static void map_area(u64 base, u64 size, const char *what)
{
	long got = host(NR_mmap, (long)base, (long)size, PROT_RW, MAP_PRIVATE_ANON_NOREPLACE, -1, 0);
	if (got == (long)base)
		return;
	if (got >= 0 || got < -4095) {
		/* A kernel or emulator (qemu-user before 8.1) without MAP_FIXED_NOREPLACE took the
		 * address as a hint and mapped elsewhere: check the range, then map it MAP_FIXED. */
		host2(NR_munmap, got, (long)size);
		got = -EEXIST;
		if (range_is_free(base, size)) {
			got = host(NR_mmap, (long)base, (long)size, PROT_RW, MAP_PRIVATE_ANON_FIXED, -1, 0);
			if (got == (long)base)
				return;
		}
	}
	struct text t;
	t.len = 0;
	put(&t, "xisa: process mode: cannot map the ");
	put(&t, what);
	put(&t, " at ");
	put_number(&t, base, 16);
	put(&t, "..");
	put_number(&t, base + size, 16);
	if (got == -EEXIST) {
		put(&t, " (the range is already in use)");
	} else {
		put(&t, " (errno ");
		put_number(&t, (u64)-got, 10);
		put(&t, ")");
	}
	die(&t);
}

/* Linux enters here with its initial stack: argc, argv..., 0, envp..., 0, auxv pairs. */
void __xisa_process_start(long *initial_stack)
{
	map_area(XISA_STARTUP_BASE, STARTUP_SIZE, "start-up block");
	map_area(SHADOW_STACK_BASE, SHADOW_STACK_SIZE, "shadow stack");

	/* argc, argv and envp with their terminating zeros, then the auxiliary vector. The
	 * strings stay where Linux put them, on the process stack. */
	long *from = initial_stack;
	u64 words = (u64)from[0] + 2;
	while (from[words])
		words++;
	words++;
	u64 aux = words;
	while (from[aux])
		aux += 2;
	u64 total = aux + 2;
	if (total * sizeof(long) > STARTUP_SIZE) {
		struct text t;
	t.len = 0;
		put(&t, "xisa: process mode: arguments and environment do not fit the start-up block");
		die(&t);
	}
	volatile long *to = (volatile long *)XISA_STARTUP_BASE;
	u64 n = 0;
	for (u64 i = 0; i < words; i++)
		to[n++] = from[i];
	/* The program headers are not part of the loaded image in the neutral layout (Linux
	 * and qemu report an unmapped or null AT_PHDR), and the monitor passes none: leave
	 * them out so libc does not walk them. */
	for (u64 i = words; i < aux; i += 2) {
		if (from[i] == AT_PHDR || from[i] == AT_PHENT || from[i] == AT_PHNUM)
			continue;
		to[n++] = from[i];
		to[n++] = from[i + 1];
	}
	to[n++] = 0;
	to[n++] = 0;

	/* The personality starts every program with umask 022. */
	host1(NR_umask, 022);
	__xisa_start();
	__builtin_trap();
}

/* ---- Conversions ---------------------------------------------------------------------- */

/* Open flags: AArch64 puts O_DIRECT, O_LARGEFILE, O_DIRECTORY and O_NOFOLLOW on other
 * bits than the generic ABI; x86-64 uses the generic values. */
static long open_flags(long flags, int to_host)
{
#if defined(__aarch64__)
	static const long bits[4][2] = {
		/* generic, AArch64 */
		{ 0040000, 0200000 },	/* O_DIRECT */
		{ 0100000, 0400000 },	/* O_LARGEFILE */
		{ 0200000, 0040000 },	/* O_DIRECTORY */
		{ 0400000, 0100000 },	/* O_NOFOLLOW */
	};
	long out = flags & ~0740000L;
	for (int i = 0; i < 4; i++)
		if (flags & bits[i][!to_host])
			out |= bits[i][to_host];
	return out;
#else
	(void)to_host;
	return flags;
#endif
}

/* The owner of every file is root, as the personality reports (the guest runs as uid 0). */
static void owner_is_root(void *uid_gid)
{
	volatile u32 *p = uid_gid;
	p[0] = 0;
	p[1] = 0;
}

/* fstat/newfstatat: Linux fills `kernel` (the x86-64 layout on x86-64, the generic one on
 * AArch64); the program gets the 128-byte generic struct stat at `out`. */
static long stat_call(long nr, long a0, long a1, long a2, long a3, u64 out_arg)
{
#if defined(__x86_64__)
	u64 k[18];
	long args[4] = { a0, a1, a2, a3 };
	args[out_arg] = (long)k;
	long r = host(nr, args[0], args[1], args[2], args[3], 0, 0);
	if (r < 0)
		return r;
	volatile u64 *g = (volatile u64 *)(out_arg == 1 ? a1 : a2);
	u64 nlink = k[2] > 0xffffffffUL ? 0xffffffffUL : k[2];
	g[0] = k[0];				/* st_dev */
	g[1] = k[1];				/* st_ino */
	g[2] = (k[3] & 0xffffffffUL) | nlink << 32;	/* st_mode, st_nlink */
	g[3] = 0;				/* st_uid, st_gid: root */
	g[4] = k[5];				/* st_rdev */
	g[5] = 0;
	g[6] = k[6];				/* st_size */
	g[7] = k[7] & 0xffffffffUL;		/* st_blksize */
	g[8] = k[8];				/* st_blocks */
	for (int i = 9; i < 15; i++)
		g[i] = k[i];			/* st_atim, st_mtim, st_ctim */
	g[15] = 0;
	return 0;
#else
	long r = host(nr, a0, a1, a2, a3, 0, 0);
	if (r == 0)
		owner_is_root((char *)(out_arg == 1 ? a1 : a2) + 24);
	return r;
#endif
}

/* 0 if fd is open, else -EBADF. */
static long check_fd(long fd)
{
	long r = host2(NR_fcntl, fd, F_GETFD);
	return r < 0 ? r : 0;
}

/* ---- Signals: bookkeeping like the personality's, and a real death ---------------------- */

#define NSIG 64
#define SIGKILL 9
#define SIGSEGV 11
#define SIGSTOP 19
#define SIG_IGN 1

static struct {
	u64 handler[NSIG + 1], flags[NSIG + 1];
	u64 mask;
} signals;

/* The guest dies of `sig`: really, so a debugger and the parent see the signal. Stop
 * signals, and signals the parent left ignored or blocked, end it with 128 + sig. */
__attribute__((noreturn)) static void die_of_signal(long sig)
{
	if (sig != SIGSTOP && (sig < 20 || sig > 22)) {
		long action[4] = { 0, 0, 0, 0 };	/* SIG_DFL */
		u64 bit = 1UL << (sig - 1);
		host4(NR_rt_sigaction, sig, (long)action, 0, 8);
		host4(NR_rt_sigprocmask, 1 /* SIG_UNBLOCK */, (long)&bit, 0, 8);
		host3(NR_tgkill, host0(NR_getpid), host0(NR_gettid), sig);
	}
	for (;;)
		host1(NR_exit_group, 128 + sig);
}

static long signal_self(long target, u64 sig)
{
	if (sig > NSIG)
		return -EINVAL;
	int pid = (int)target;
	if (pid != 1 && pid != 0 && pid != -1)
		return -ESRCH;
	if (sig == 0)
		return 0;
	u64 handler = signals.handler[sig];
	int blocked = (signals.mask >> (sig - 1)) & 1;
	int default_ignored = sig == 17 || sig == 18 || sig == 23 || sig == 28;
	if (handler == SIG_IGN || (handler == 0 && default_ignored))
		return 0;
	if (blocked && sig != SIGKILL && sig != SIGSTOP)
		return 0;
	die_of_signal((long)sig);
}

static long sigaction_call(u64 sig, const u64 *act, u64 *old, u64 size)
{
	if (size != 8 || sig < 1 || sig > NSIG)
		return -EINVAL;
	if (act && (sig == SIGKILL || sig == SIGSTOP))
		return -EINVAL;
	u64 handler = act ? act[0] : 0, flags = act ? act[1] : 0;
	if (old) {
		/* handler, flags, then 8 zero bytes, as the personality writes */
		old[0] = signals.handler[sig];
		old[1] = signals.flags[sig];
		old[2] = 0;
	}
	if (act) {
		signals.handler[sig] = handler;
		signals.flags[sig] = flags;
	}
	return 0;
}

static long sigprocmask_call(u64 how, const u64 *set, u64 *old, u64 size)
{
	if (size != 8)
		return -EINVAL;
	u64 current = signals.mask, mask = current;
	if (set) {
		if (how == 0)
			mask = current | *set;
		else if (how == 1)
			mask = current & ~*set;
		else if (how == 2)
			mask = *set;
		else
			return -EINVAL;
		mask &= ~((1UL << (SIGKILL - 1)) | (1UL << (SIGSTOP - 1)));
	}
	if (old)
		*old = current;
	signals.mask = mask;
	return 0;
}

/* ---- Unsupported calls and guest faults ------------------------------------------------- */

/* Generic system call names for 0..244, 260..294 and 424..450, as the personality's
 * one-time warning spells them. */
static const char names[] =
	"io_setup\0" "io_destroy\0" "io_submit\0" "io_cancel\0" "io_getevents\0" "setxattr\0"
	"lsetxattr\0" "fsetxattr\0" "getxattr\0" "lgetxattr\0" "fgetxattr\0" "listxattr\0"
	"llistxattr\0" "flistxattr\0" "removexattr\0" "lremovexattr\0" "fremovexattr\0" "getcwd\0"
	"lookup_dcookie\0" "eventfd2\0" "epoll_create1\0" "epoll_ctl\0" "epoll_pwait\0" "dup\0"
	"dup3\0" "fcntl\0" "inotify_init1\0" "inotify_add_watch\0" "inotify_rm_watch\0" "ioctl\0"
	"ioprio_set\0" "ioprio_get\0" "flock\0" "mknodat\0" "mkdirat\0" "unlinkat\0" "symlinkat\0"
	"linkat\0" "renameat\0" "umount2\0" "mount\0" "pivot_root\0" "nfsservctl\0" "statfs\0"
	"fstatfs\0" "truncate\0" "ftruncate\0" "fallocate\0" "faccessat\0" "chdir\0" "fchdir\0"
	"chroot\0" "fchmod\0" "fchmodat\0" "fchownat\0" "fchown\0" "openat\0" "close\0" "vhangup\0"
	"pipe2\0" "quotactl\0" "getdents64\0" "lseek\0" "read\0" "write\0" "readv\0" "writev\0"
	"pread64\0" "pwrite64\0" "preadv\0" "pwritev\0" "sendfile\0" "pselect6\0" "ppoll\0"
	"signalfd4\0" "vmsplice\0" "splice\0" "tee\0" "readlinkat\0" "newfstatat\0" "fstat\0"
	"sync\0" "fsync\0" "fdatasync\0" "sync_file_range\0" "timerfd_create\0"
	"timerfd_settime\0" "timerfd_gettime\0" "utimensat\0" "acct\0" "capget\0" "capset\0"
	"personality\0" "exit\0" "exit_group\0" "waitid\0" "set_tid_address\0" "unshare\0"
	"futex\0" "set_robust_list\0" "get_robust_list\0" "nanosleep\0" "getitimer\0"
	"setitimer\0" "kexec_load\0" "init_module\0" "delete_module\0" "timer_create\0"
	"timer_gettime\0" "timer_getoverrun\0" "timer_settime\0" "timer_delete\0"
	"clock_settime\0" "clock_gettime\0" "clock_getres\0" "clock_nanosleep\0" "syslog\0"
	"ptrace\0" "sched_setparam\0" "sched_setscheduler\0" "sched_getscheduler\0"
	"sched_getparam\0" "sched_setaffinity\0" "sched_getaffinity\0" "sched_yield\0"
	"sched_get_priority_max\0" "sched_get_priority_min\0" "sched_rr_get_interval\0"
	"restart_syscall\0" "kill\0" "tkill\0" "tgkill\0" "sigaltstack\0" "rt_sigsuspend\0"
	"rt_sigaction\0" "rt_sigprocmask\0" "rt_sigpending\0" "rt_sigtimedwait\0"
	"rt_sigqueueinfo\0" "rt_sigreturn\0" "setpriority\0" "getpriority\0" "reboot\0"
	"setregid\0" "setgid\0" "setreuid\0" "setuid\0" "setresuid\0" "getresuid\0" "setresgid\0"
	"getresgid\0" "setfsuid\0" "setfsgid\0" "times\0" "setpgid\0" "getpgid\0" "getsid\0"
	"setsid\0" "getgroups\0" "setgroups\0" "uname\0" "sethostname\0" "setdomainname\0"
	"getrlimit\0" "setrlimit\0" "getrusage\0" "umask\0" "prctl\0" "getcpu\0" "gettimeofday\0"
	"settimeofday\0" "adjtimex\0" "getpid\0" "getppid\0" "getuid\0" "geteuid\0" "getgid\0"
	"getegid\0" "gettid\0" "sysinfo\0" "mq_open\0" "mq_unlink\0" "mq_timedsend\0"
	"mq_timedreceive\0" "mq_notify\0" "mq_getsetattr\0" "msgget\0" "msgctl\0" "msgrcv\0"
	"msgsnd\0" "semget\0" "semctl\0" "semtimedop\0" "semop\0" "shmget\0" "shmctl\0" "shmat\0"
	"shmdt\0" "socket\0" "socketpair\0" "bind\0" "listen\0" "accept\0" "connect\0"
	"getsockname\0" "getpeername\0" "sendto\0" "recvfrom\0" "setsockopt\0" "getsockopt\0"
	"shutdown\0" "sendmsg\0" "recvmsg\0" "readahead\0" "brk\0" "munmap\0" "mremap\0"
	"add_key\0" "request_key\0" "keyctl\0" "clone\0" "execve\0" "mmap\0" "fadvise64\0"
	"swapon\0" "swapoff\0" "mprotect\0" "msync\0" "mlock\0" "munlock\0" "mlockall\0"
	"munlockall\0" "mincore\0" "madvise\0" "remap_file_pages\0" "mbind\0" "get_mempolicy\0"
	"set_mempolicy\0" "migrate_pages\0" "move_pages\0" "rt_tgsigqueueinfo\0"
	"perf_event_open\0" "accept4\0" "recvmmsg\0" "arch_specific_syscall\0" "wait4\0"
	"prlimit64\0" "fanotify_init\0" "fanotify_mark\0" "name_to_handle_at\0"
	"open_by_handle_at\0" "clock_adjtime\0" "syncfs\0" "setns\0" "sendmmsg\0"
	"process_vm_readv\0" "process_vm_writev\0" "kcmp\0" "finit_module\0" "sched_setattr\0"
	"sched_getattr\0" "renameat2\0" "seccomp\0" "getrandom\0" "memfd_create\0" "bpf\0"
	"execveat\0" "userfaultfd\0" "membarrier\0" "mlock2\0" "copy_file_range\0" "preadv2\0"
	"pwritev2\0" "pkey_mprotect\0" "pkey_alloc\0" "pkey_free\0" "statx\0" "io_pgetevents\0"
	"rseq\0" "kexec_file_load\0" "pidfd_send_signal\0" "io_uring_setup\0" "io_uring_enter\0"
	"io_uring_register\0" "open_tree\0" "move_mount\0" "fsopen\0" "fsconfig\0" "fsmount\0"
	"fspick\0" "pidfd_open\0" "clone3\0" "close_range\0" "openat2\0" "pidfd_getfd\0"
	"faccessat2\0" "process_madvise\0" "epoll_pwait2\0" "mount_setattr\0" "quotactl_fd\0"
	"landlock_create_ruleset\0" "landlock_add_rule\0" "landlock_restrict_self\0"
	"memfd_secret\0" "process_mrelease\0" "futex_waitv\0" "set_mempolicy_home_node\0";

static const char *syscall_name(u64 nr)
{
	u64 index;
	if (nr <= 244)
		index = nr;
	else if (nr >= 260 && nr <= 294)
		index = 245 + (nr - 260);
	else if (nr >= 424 && nr <= 450)
		index = 280 + (nr - 424);
	else
		return 0;
	const char *p = names;
	while (index--)
		while (*p++)
			;
	return p;
}

static struct {
	u64 known[8];		/* numbers below 512 already warned about, as bits */
	u64 other[64];		/* other numbers already warned about */
	u64 others;
} warned;

static int first_time(u64 nr)
{
	if (nr < 512) {
		u64 bit = 1UL << (nr % 64);
		if (warned.known[nr / 64] & bit)
			return 0;
		warned.known[nr / 64] |= bit;
		return 1;
	}
	for (u64 i = 0; i < warned.others; i++)
		if (warned.other[i] == nr)
			return 0;
	if (warned.others == 64)
		return 0;	/* like the personality, stop recording past a limit */
	warned.other[warned.others++] = nr;
	return 1;
}

static long unsupported(u64 nr)
{
	if (first_time(nr)) {
		struct text t;
	t.len = 0;
		const char *name = syscall_name(nr);
		if (name) {
			put(&t, "xisa: warning: guest called unsupported syscall '");
			put(&t, name);
			put(&t, "' (");
			put_number(&t, nr, 10);
			put(&t, "); returning ENOSYS\n");
		} else {
			put(&t, "xisa: warning: guest called unknown syscall ");
			put_number(&t, nr, 10);
			put(&t, "; returning ENOSYS\n");
		}
		emit(&t);
	}
	return -ENOSYS;
}

/* XISA_CALL_FAULT: the guest found its shadow stack exhausted or an invalid function
 * pointer. Report it and die of SIGSEGV, as the other executors report 128 + SIGSEGV. */
__attribute__((noreturn)) static void guest_fault(u64 kind)
{
	struct text t;
	t.len = 0;
	put(&t, "xisa: guest fault in process mode: ");
	if (kind == 1) {
		put(&t, "stack overflow (shadow stack exhausted)");
	} else if (kind == 2) {
		put(&t, "call through an invalid function pointer");
	} else {
		put(&t, "guest-reported fault ");
		put_number(&t, kind, 10);
	}
	put(&t, "\n");
	emit(&t);
	die_of_signal(SIGSEGV);
}

/* ---- The system-call gate ------------------------------------------------------------- */

static void put_field(volatile char *field, const char *value)
{
	int i = 0;
	for (; value[i]; i++)
		field[i] = value[i];
	for (; i < 65; i++)
		field[i] = 0;
}

long __xisa_process_syscall(long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
	if (nr == XISA_CALL_FAULT)
		guest_fault((u64)a0);
	if (nr == XISA_CALL_MIGRATE_PROCESS)
		return 0;
	if ((u64)nr >= NR_COUNT || calls[nr].action == NONE)
		return unsupported((u64)nr);
	const struct call *c = &calls[nr];
	long r;
	switch (c->action) {
	case PASS:
		return host(nr, a0, a1, a2, a3, a4, a5);
	case OPENAT:
		return host(nr, a0, a1, open_flags(a2, 1), a3, 0, 0);
	case FCNTL:
		if (a1 == F_SETFL)
			a2 = open_flags(a2, 1);
		r = host(nr, a0, a1, a2, 0, 0, 0);
		if (a1 == F_GETFL && r >= 0)
			r = open_flags(r, 0) | O_LARGEFILE;
		return r;
	case STAT:
		return stat_call(nr, a0, a1, a2, a3, c->arg);
	case STATX:
		r = host(nr, a0, a1, a2, a3, a4, 0);
		if (r == 0)
			owner_is_root((char *)a4 + 20);
		return r;
	case SYNC:
		r = host1(nr, a0);
		return r == -EINVAL || r == -EROFS ? 0 : r;
	case FD_OK:
		return check_fd(a0);
	case FCHOWNAT: {
		if ((u64)a4 & ~(u64)(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
			return -EINVAL;
		u64 st[18];
		r = host4(NR_newfstatat, a0, a1, (long)st, a4);
		return r < 0 ? r : 0;
	}
	case IOCTL:
		r = check_fd(a0);
		return r < 0 ? r : -ENOTTY;
	case VALUE:
		return c->arg;
	case UNAME: {
		/* What the personality reports, whatever the host is. */
		static const char *const fields[6] = {
			"Linux", "xisa", "6.1.0", "#1 SMP xisa", "xisa", "(none)",
		};
		volatile char *out = (volatile char *)a0;
		for (int i = 0; i < 6; i++)
			put_field(out + 65 * i, fields[i]);
		return 0;
	}
	case AFFINITY:
		if (a0 != 0 && a0 != 1)
			return -ESRCH;
		if ((u64)a1 < 8 || a1 % 8)
			return -EINVAL;
		*(volatile u64 *)a2 = 1;
		return 8;
	case PRLIMIT:
		if (a0 != 0 && a0 != 1)
			return -ESRCH;
		return host4(nr, 0, a1, a2, a3);
	case SIGACTION:
		return sigaction_call((u64)a0, (const u64 *)a1, (u64 *)a2, (u64)a3);
	case SIGPROCMASK:
		return sigprocmask_call((u64)a0, (const u64 *)a1, (u64 *)a2, (u64)a3);
	case SIGALTSTACK:
		if (a1) {
			volatile u64 *old = (volatile u64 *)a1;
			old[0] = 0;
			old[1] = 2;	/* SS_DISABLE */
			old[2] = 0;
		}
		return 0;
	case KILL:
		return signal_self(a0, (u64)a1);
	case TKILL:
		if ((int)a0 <= 0)
			return -EINVAL;
		return signal_self(a0, (u64)a1);
	case TGKILL:
		if ((int)a0 <= 0 || (int)a1 <= 0)
			return -EINVAL;
		if ((int)a0 != 1)
			return -ESRCH;
		return signal_self(a1, (u64)a2);
	case EXIT:
		for (;;)
			host1(NR_exit_group, a0 & 0xff);
	}
	return unsupported((u64)nr);
}
