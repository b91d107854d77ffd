/* AArch64 runtime stub: native entry and the system-call gate of the unikernel.
 * The native stack occupies the top of the private area (see spec.md, memory map). */

	.section .text.xisa_entry,"ax",@progbits
	.globl _start
	.type _start,%function
_start:
	ldr x9, =XISA_NATIVE_STACK_TOP
	mov sp, x9
	mov x29, #0
	mov x30, #0
	bl __xisa_start
	udf #0
	.size _start, .-_start

/* long __xisa_syscall(long nr, long a0, ..., long a5): arguments arrive in x0..x6. The
 * hypercall that serves it is added with the native monitor; until then a call traps. */
	.text
	.globl __xisa_syscall
	.type __xisa_syscall,%function
__xisa_syscall:
	udf #1
	.size __xisa_syscall, .-__xisa_syscall
