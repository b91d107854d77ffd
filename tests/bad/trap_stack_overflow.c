/* Unbounded recursion with address-taken locals exhausts the shadow stack. */
#include <stdio.h>
#include <string.h>

__attribute__((noinline)) static long descend(long depth, char *previous)
{
	char frame[4096];
	memset(frame, (int)depth, sizeof frame);
	if (previous)
		frame[0] ^= previous[1];
	return descend(depth + 1, frame) + frame[7];
}

int main(void)
{
	printf("%ld\n", descend(0, NULL));
	return 0;
}
