/* Integer division by zero: the guest must stop with a trap naming the function. */
#include <stdio.h>

__attribute__((noinline)) static int divide(int a, int b)
{
	return a / b;
}

int main(int argc, char **argv)
{
	(void)argv;
	printf("%d\n", divide(10, argc - 1));
	return 0;
}
