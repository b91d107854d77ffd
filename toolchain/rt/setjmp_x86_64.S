/* setjmp/longjmp for x86-64 programs (unikernel and process mode alike).
 *
 * jmp_buf layout (8-byte slots): rbx rbp r12 r13 r14 r15, the caller's rsp, the return
 * address, and the neutral shadow-stack pointer, so a longjmp also releases the shadow-stack
 * frames of the functions it leaves. */

	.text
	.globl setjmp, _setjmp, __setjmp, sigsetjmp, __sigsetjmp
	.type setjmp,@function
	.type _setjmp,@function
	.type __setjmp,@function
	.type sigsetjmp,@function
	.type __sigsetjmp,@function
setjmp:
_setjmp:
__setjmp:
sigsetjmp:
__sigsetjmp:
	movq %rbx, 0(%rdi)
	movq %rbp, 8(%rdi)
	movq %r12, 16(%rdi)
	movq %r13, 24(%rdi)
	movq %r14, 32(%rdi)
	movq %r15, 40(%rdi)
	leaq 8(%rsp), %rdx
	movq %rdx, 48(%rdi)
	movq (%rsp), %rdx
	movq %rdx, 56(%rdi)
	movq __xisa_ssp(%rip), %rdx
	movq %rdx, 64(%rdi)
	xorl %eax, %eax
	retq
	.size setjmp, .-setjmp

	.globl longjmp, _longjmp
	.type longjmp,@function
	.type _longjmp,@function
longjmp:
_longjmp:
	movl %esi, %eax
	testl %eax, %eax
	jnz 1f
	incl %eax
1:	movq 64(%rdi), %rdx
	movq %rdx, __xisa_ssp(%rip)
	movq 0(%rdi), %rbx
	movq 8(%rdi), %rbp
	movq 16(%rdi), %r12
	movq 24(%rdi), %r13
	movq 32(%rdi), %r14
	movq 40(%rdi), %r15
	movq 48(%rdi), %rsp
	jmpq *56(%rdi)
	.size longjmp, .-longjmp
