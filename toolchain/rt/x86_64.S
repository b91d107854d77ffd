/* x86-64 runtime stub: native entry and the system-call gate of the unikernel.
 * The native stack occupies the top of the private area (see spec.md, memory map). */

	.section .text.xisa_entry,"ax",@progbits
	.globl _start
	.type _start,@function
_start:
	movq $XISA_NATIVE_STACK_TOP, %rsp
	xorl %ebp, %ebp
	callq __xisa_start
	ud2
	.size _start, .-_start

/* long __xisa_syscall(long nr, long a0, ..., long a5): arguments arrive in rdi, rsi, rdx,
 * rcx, r8, r9 and the stack. The hypercall that serves it is added with the native monitor;
 * until then a call traps. */
	.text
	.globl __xisa_syscall
	.type __xisa_syscall,@function
__xisa_syscall:
	ud2
	.size __xisa_syscall, .-__xisa_syscall
