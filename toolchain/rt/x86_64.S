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
	jne __xisa_process_syscall
	movq 8(%rsp), %r10
	outb %al, $XISA_HYPERCALL_PORT
	retq
	.size __xisa_syscall, .-__xisa_syscall

/* void __xisa_migrate(void): a migration point fired. A tail call into __xisa_syscall, so at
 * the hypercall the stack pointer points at the return address into the instrumented caller. */
	.globl __xisa_migrate
	.type __xisa_migrate,@function
__xisa_migrate:
	movl $XISA_CALL_MIGRATE, %edi
	jmp __xisa_syscall
	.size __xisa_migrate, .-__xisa_migrate
