/* x86-64 runtime stub, linked into the private area of every x86-64 program.
 *
 * Two ways in: the monitor enters at __xisa_unikernel_entry (ring 0, long mode, identity
 * paging, see spec.md); Linux enters a process-mode program at _start. __xisa_syscall leaves
 * the program by a hypercall in the unikernel and by a Linux system call in a process. */

	.section .data.xisa_mode,"aw",@progbits
	.globl __xisa_mode
__xisa_mode:
	.byte 0			/* 0: unikernel, 1: Linux process */

	.section .text.xisa_entry,"ax",@progbits
	.globl __xisa_unikernel_entry
	.type __xisa_unikernel_entry,@function
__xisa_unikernel_entry:
	movq $XISA_NATIVE_STACK_TOP, %rsp
	xorl %ebp, %ebp
	movb $0, __xisa_mode(%rip)
	callq __xisa_start
	.globl __xisa_entry_return
__xisa_entry_return:
	ud2
	.size __xisa_unikernel_entry, .-__xisa_unikernel_entry

/* Process mode: begin the program on the native stack in guest memory, returning (never) to
 * __xisa_entry_return like the unikernel entry. */
	.globl __xisa_process_begin
	.type __xisa_process_begin,@function
__xisa_process_begin:
	movq $XISA_NATIVE_STACK_TOP, %rsp
	xorl %ebp, %ebp
	pushq $__xisa_entry_return
	jmp __xisa_start
	.size __xisa_process_begin, .-__xisa_process_begin

/* Process mode: void __xisa_process_resume(pc, sp, fp, poison) continues frames the monitor
 * laid out, as if __xisa_migrate had just returned to pc; with poison, every other register
 * holds the poison pattern. */
	.globl __xisa_process_resume
	.type __xisa_process_resume,@function
__xisa_process_resume:
	movq %rsi, %rsp
	movq %rdx, %rbp
	movq %rdi, -8(%rsp)
	testq %rcx, %rcx
	jz 1f
	movabsq $0x5a5a5a5a5a5a5a5a, %rax
	movq %rax, %rbx
	movq %rax, %rcx
	movq %rax, %rdx
	movq %rax, %rsi
	movq %rax, %rdi
	movq %rax, %r8
	movq %rax, %r9
	movq %rax, %r10
	movq %rax, %r11
	movq %rax, %r12
	movq %rax, %r13
	movq %rax, %r14
	movq %rax, %r15
	movq %rax, %xmm0
	punpcklqdq %xmm0, %xmm0
	movdqa %xmm0, %xmm1
	movdqa %xmm0, %xmm2
	movdqa %xmm0, %xmm3
	movdqa %xmm0, %xmm4
	movdqa %xmm0, %xmm5
	movdqa %xmm0, %xmm6
	movdqa %xmm0, %xmm7
	movdqa %xmm0, %xmm8
	movdqa %xmm0, %xmm9
	movdqa %xmm0, %xmm10
	movdqa %xmm0, %xmm11
	movdqa %xmm0, %xmm12
	movdqa %xmm0, %xmm13
	movdqa %xmm0, %xmm14
	movdqa %xmm0, %xmm15
1:	jmp *-8(%rsp)
	.size __xisa_process_resume, .-__xisa_process_resume

	.globl _start
	.type _start,@function
_start:
	movb $1, __xisa_mode(%rip)
	xorl %ebp, %ebp
	movq %rsp, %rdi		/* the Linux initial stack: argc, argv, envp, auxv */
	andq $-16, %rsp
	callq __xisa_process_start
	ud2
	.size _start, .-_start

/* long __xisa_syscall(long nr, long a0, ..., long a5): nr in rdi, a0..a4 in rsi, rdx, rcx,
 * r8, r9, a5 on the stack. The hypercall passes a5 in r10; the monitor answers in rax. */
	.text
	.globl __xisa_syscall
	.type __xisa_syscall,@function
__xisa_syscall:
	cmpb $0, __xisa_mode(%rip)
	jne 1f
	movq 8(%rsp), %r10
	outb %al, $XISA_HYPERCALL_PORT
	retq
	/* Process mode: note where the caller stands (a capture reads it from the channel),
	 * then let process.c pass the call to the monitor. */
1:	movq %rsp, (XISA_PROCESS_CHANNEL + 64)
	movq %rbp, (XISA_PROCESS_CHANNEL + 72)
	jmp __xisa_process_syscall
	.size __xisa_syscall, .-__xisa_syscall

/* void __xisa_migrate(void): a migration point fired. A tail call into __xisa_syscall, so at
 * the hypercall the stack pointer points at the return address into the instrumented caller. */
	.globl __xisa_migrate
	.type __xisa_migrate,@function
__xisa_migrate:
	movl $XISA_CALL_MIGRATE, %edi
	jmp __xisa_syscall
	.size __xisa_migrate, .-__xisa_migrate

/* void __xisa_longjmp(void *buffer): the longjmp hypercall, shaped like __xisa_migrate so the
 * monitor finds the caller's frame the same way; it never returns. */
	.globl __xisa_longjmp
	.type __xisa_longjmp,@function
__xisa_longjmp:
	movq %rdi, %rsi
	movl $XISA_CALL_LONGJMP, %edi
	jmp __xisa_syscall
	.size __xisa_longjmp, .-__xisa_longjmp

/* void __xisa_setjmp_point(void): where a setjmp stood. The call only marks the call site a
 * longjmp resumes after. */
	.globl __xisa_setjmp_point
	.type __xisa_setjmp_point,@function
__xisa_setjmp_point:
	ret
	.size __xisa_setjmp_point, .-__xisa_setjmp_point
