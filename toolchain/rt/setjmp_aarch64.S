/* setjmp/longjmp for AArch64 programs (unikernel and process mode alike).
 *
 * jmp_buf layout (8-byte slots): x19..x30, sp, d8..d15, and the neutral shadow-stack pointer,
 * so a longjmp also releases the shadow-stack frames of the functions it leaves. */

	.text
	.globl setjmp, _setjmp, __setjmp, sigsetjmp, __sigsetjmp
	.type setjmp,%function
	.type _setjmp,%function
	.type __setjmp,%function
	.type sigsetjmp,%function
	.type __sigsetjmp,%function
setjmp:
_setjmp:
__setjmp:
sigsetjmp:
__sigsetjmp:
	stp x19, x20, [x0, #0]
	stp x21, x22, [x0, #16]
	stp x23, x24, [x0, #32]
	stp x25, x26, [x0, #48]
	stp x27, x28, [x0, #64]
	stp x29, x30, [x0, #80]
	mov x2, sp
	str x2, [x0, #96]
	stp d8, d9, [x0, #104]
	stp d10, d11, [x0, #120]
	stp d12, d13, [x0, #136]
	stp d14, d15, [x0, #152]
	adrp x2, __xisa_ssp
	ldr x2, [x2, :lo12:__xisa_ssp]
	str x2, [x0, #168]
	mov w0, #0
	ret
	.size setjmp, .-setjmp

	.globl longjmp, _longjmp
	.type longjmp,%function
	.type _longjmp,%function
longjmp:
_longjmp:
	ldr x2, [x0, #168]
	adrp x3, __xisa_ssp
	str x2, [x3, :lo12:__xisa_ssp]
	ldp x19, x20, [x0, #0]
	ldp x21, x22, [x0, #16]
	ldp x23, x24, [x0, #32]
	ldp x25, x26, [x0, #48]
	ldp x27, x28, [x0, #64]
	ldp x29, x30, [x0, #80]
	ldr x2, [x0, #96]
	mov sp, x2
	ldp d8, d9, [x0, #104]
	ldp d10, d11, [x0, #120]
	ldp d12, d13, [x0, #136]
	ldp d14, d15, [x0, #152]
	cmp w1, #0
	csinc w0, w1, wzr, ne
	br x30
	.size longjmp, .-longjmp
