/* AArch64 runtime stub, linked into the private area of every AArch64 program.
 *
 * Two ways in: the monitor enters at __xisa_unikernel_entry (EL1, MMU off or identity
 * mapped, see spec.md); Linux enters a process-mode program at _start. __xisa_syscall leaves
 * the program by a hypercall in the unikernel and by a Linux system call in a process. */

	.section .data.xisa_mode,"aw",@progbits
	.globl __xisa_mode
__xisa_mode:
	.byte 0			/* 0: unikernel, 1: Linux process */

	.section .text.xisa_entry,"ax",@progbits
	.globl __xisa_unikernel_entry
	.type __xisa_unikernel_entry,%function
__xisa_unikernel_entry:
	ldr x9, =XISA_NATIVE_STACK_TOP
	mov sp, x9
	mov x29, #0
	mov x30, #0
	adrp x9, __xisa_mode
	strb wzr, [x9, :lo12:__xisa_mode]
	bl __xisa_start
	.globl __xisa_entry_return
__xisa_entry_return:
	udf #0
	.size __xisa_unikernel_entry, .-__xisa_unikernel_entry

	.globl _start
	.type _start,%function
_start:
	mov w10, #1
	adrp x9, __xisa_mode
	strb w10, [x9, :lo12:__xisa_mode]
	mov x29, #0
	mov x30, #0
	mov x0, sp		/* the Linux initial stack: argc, argv, envp, auxv */
	bl __xisa_process_start
	udf #0
	.size _start, .-_start

/* long __xisa_syscall(long nr, long a0, ..., long a5): nr in x0, a0..a5 in x1..x6. The
 * hypercall is a store to the hypercall page; the monitor answers in x0. */
	.text
	.globl __xisa_syscall
	.type __xisa_syscall,%function
__xisa_syscall:
	adrp x9, __xisa_mode
	ldrb w9, [x9, :lo12:__xisa_mode]
	cbnz w9, __xisa_process_syscall
	mov x9, #XISA_HYPERCALL_MMIO
	str x0, [x9]
	ret
	.size __xisa_syscall, .-__xisa_syscall

/* void __xisa_migrate(void): a migration point fired. A tail call into __xisa_syscall, so at
 * the hypercall the link register holds the return address into the instrumented caller. */
	.globl __xisa_migrate
	.type __xisa_migrate,%function
__xisa_migrate:
	movz x0, #(XISA_CALL_MIGRATE & 0xffff)
	movk x0, #(XISA_CALL_MIGRATE >> 16), lsl #16
	b __xisa_syscall
	.size __xisa_migrate, .-__xisa_migrate
