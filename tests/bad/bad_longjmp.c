/* longjmp misuse: to a setjmp whose function has returned, and through a jump buffer no
 * setjmp filled. Either must stop the guest with a message naming the problem, after the
 * output written so far. */
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

static jmp_buf saved;

__attribute__((noinline)) static int arm(void)
{
	return setjmp(saved);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "blank") == 0) {
		static jmp_buf blank;
		printf("jumping through a blank buffer\n");
		fflush(stdout);
		longjmp(blank, 1);
	}
	if (arm() == 0) {
		printf("jumping to a returned frame\n");
		fflush(stdout);
		longjmp(saved, 1);
	}
	printf("not reached\n");
	return 0;
}
