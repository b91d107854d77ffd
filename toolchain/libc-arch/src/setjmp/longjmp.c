/* Neutral longjmp (spec.md §2.2): the jump buffer holds only neutral facts (the setjmp
 * frame's activation token, the setjmp's call-site id, the shadow-stack pointer and the value
 * setjmp returns). longjmp stores the value and asks the executor to unwind the neutral frames
 * down to the setjmp's frame and resume it there; setjmp itself is rewritten by xisa-cc. */

#include <setjmp.h>

void __xisa_longjmp(void *buffer);

_Noreturn void longjmp(jmp_buf env, int value)
{
	unsigned long *words = (unsigned long *)env;
	words[3] = (unsigned int)(value ? value : 1);
	__xisa_longjmp(env);
	/* The executor never returns here. */
	__builtin_trap();
}

weak_alias(longjmp, _longjmp);
