/* Program start-up for xisa guests.
 *
 * The executor writes a Linux-style start-up block (argc, argv, envp, auxv) into neutral
 * memory and enters __xisa_start, which calls here. Unlike the generic version this one
 * carries no inline assembly: the barrier between libc initialisation and the application
 * is a call through a volatile function pointer, which every target honours. The executors
 * never start a program set-uid, so the secure-mode descriptor checks are left out. */

#include <elf.h>
#include <stdlib.h>
#include <unistd.h>
#include "libc.h"

static void no_init(void) {}
weak_alias(no_init, _init);

static void no_ssp(void *p) {}
weak_alias(no_ssp, __init_ssp);

extern weak hidden void (*const __init_array_start)(void), (*const __init_array_end)(void);

#define AUX_CNT 38

__attribute__((__noinline__))
void __init_libc(char **envp, char *progname)
{
	size_t aux[AUX_CNT] = { 0 };
	size_t n = 0;
	while (envp[n]) n++;
	__environ = envp;
	size_t *auxv = (size_t *)(envp + n + 1);
	libc.auxv = auxv;
	for (size_t i = 0; auxv[i]; i += 2)
		if (auxv[i] < AUX_CNT) aux[auxv[i]] = auxv[i + 1];
	__hwcap = aux[AT_HWCAP];
	libc.page_size = aux[AT_PAGESZ];

	if (!progname) progname = (char *)aux[AT_EXECFN];
	if (!progname) progname = "";
	__progname = __progname_full = progname;
	for (char *c = progname; *c; c++)
		if (*c == '/') __progname = c + 1;

	__init_tls(aux);
	__init_ssp((void *)aux[AT_RANDOM]);
}

static void run_constructors(void)
{
	_init();
	for (uintptr_t a = (uintptr_t)&__init_array_start; a < (uintptr_t)&__init_array_end;
	     a += sizeof(void (*)(void)))
		(*(void (**)(void))a)();
}

weak_alias(run_constructors, __libc_start_init);

typedef int main_fn(int, char **, char **);

static int start_application(main_fn *main, int argc, char **argv)
{
	__libc_start_init();
	exit(main(argc, argv, argv + argc + 1));
	return 0;
}

static int (*volatile after_init)(main_fn *, int, char **) = start_application;

int __libc_start_main(main_fn *main, int argc, char **argv,
	void (*init_dummy)(), void (*fini_dummy)(), void (*ldso_dummy)())
{
	__init_libc(argv + argc + 1, argv[0]);
	/* Loaded only after initialisation, so nothing that depends on the thread pointer
	 * or the stack protector can be hoisted above it. */
	return after_init(main, argc, argv);
}
