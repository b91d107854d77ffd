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

/* Process mode: begin the program on the native stack in guest memory, returning (never) to
 * __xisa_entry_return like the unikernel entry. */
	.globl __xisa_process_begin
	.type __xisa_process_begin,%function
__xisa_process_begin:
	ldr x9, =XISA_NATIVE_STACK_TOP
	mov sp, x9
	mov x29, #0
	adrp x30, __xisa_entry_return
	add x30, x30, :lo12:__xisa_entry_return
	b __xisa_start
	.size __xisa_process_begin, .-__xisa_process_begin

/* Process mode: void __xisa_process_resume(pc, sp, fp, poison) continues frames the monitor
 * laid out, as if __xisa_migrate had just returned to pc; with poison, every other register
 * but x16 (which carries pc, dead at any return address) holds the poison pattern. */
	.globl __xisa_process_resume
	.type __xisa_process_resume,%function
__xisa_process_resume:
	mov sp, x1
	mov x29, x2
	mov x16, x0
	cbz x3, 1f
	ldr x0, =0x5a5a5a5a5a5a5a5a
	mov x1, x0
	mov x2, x0
	mov x3, x0
	mov x4, x0
	mov x5, x0
	mov x6, x0
	mov x7, x0
	mov x8, x0
	mov x9, x0
	mov x10, x0
	mov x11, x0
	mov x12, x0
	mov x13, x0
	mov x14, x0
	mov x15, x0
	mov x17, x0
	mov x18, x0
	mov x19, x0
	mov x20, x0
	mov x21, x0
	mov x22, x0
	mov x23, x0
	mov x24, x0
	mov x25, x0
	mov x26, x0
	mov x27, x0
	mov x28, x0
	mov x30, x0
	dup v0.2d, x0
	mov v1.16b, v0.16b
	mov v2.16b, v0.16b
	mov v3.16b, v0.16b
	mov v4.16b, v0.16b
	mov v5.16b, v0.16b
	mov v6.16b, v0.16b
	mov v7.16b, v0.16b
	mov v8.16b, v0.16b
	mov v9.16b, v0.16b
	mov v10.16b, v0.16b
	mov v11.16b, v0.16b
	mov v12.16b, v0.16b
	mov v13.16b, v0.16b
	mov v14.16b, v0.16b
	mov v15.16b, v0.16b
	mov v16.16b, v0.16b
	mov v17.16b, v0.16b
	mov v18.16b, v0.16b
	mov v19.16b, v0.16b
	mov v20.16b, v0.16b
	mov v21.16b, v0.16b
	mov v22.16b, v0.16b
	mov v23.16b, v0.16b
	mov v24.16b, v0.16b
	mov v25.16b, v0.16b
	mov v26.16b, v0.16b
	mov v27.16b, v0.16b
	mov v28.16b, v0.16b
	mov v29.16b, v0.16b
	mov v30.16b, v0.16b
	mov v31.16b, v0.16b
1:	br x16
	.size __xisa_process_resume, .-__xisa_process_resume

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
	cbnz w9, 1f
	mov x9, #XISA_HYPERCALL_MMIO
	str x0, [x9]
	ret
	/* Process mode: note where the caller stands (a capture reads it from the channel),
	 * then let process.c pass the call to the monitor. */
1:	mov x9, #XISA_PROCESS_CHANNEL
	mov x10, sp
	str x10, [x9, #64]
	str x29, [x9, #72]
	str x30, [x9, #80]
	b __xisa_process_syscall
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

/* void __xisa_longjmp(void *buffer): the longjmp hypercall, shaped like __xisa_migrate so the
 * monitor finds the caller's frame the same way; it never returns. */
	.globl __xisa_longjmp
	.type __xisa_longjmp,%function
__xisa_longjmp:
	mov x1, x0
	movz x0, #(XISA_CALL_LONGJMP & 0xffff)
	movk x0, #(XISA_CALL_LONGJMP >> 16), lsl #16
	b __xisa_syscall
	.size __xisa_longjmp, .-__xisa_longjmp

/* void __xisa_setjmp_point(void): where a setjmp stood. The call only marks the call site a
 * longjmp resumes after. */
	.globl __xisa_setjmp_point
	.type __xisa_setjmp_point,%function
__xisa_setjmp_point:
	ret
	.size __xisa_setjmp_point, .-__xisa_setjmp_point
