/* The thread pointer is a neutral global rather than a register, so it means the same thing
 * on every target and survives migration as ordinary memory. */

extern uintptr_t __xisa_thread_pointer;

static inline uintptr_t __get_tp(void)
{
	return __xisa_thread_pointer;
}

/* TLS sits below the thread pointer, which points at the thread descriptor. */
#define TP_ADJ(p) (p)

#define MC_PC __gregs[0]
