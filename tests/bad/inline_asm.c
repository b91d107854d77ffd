/* Inline assembly cannot mean the same thing on every target. */
static int spin(int n)
{
	for (int i = 0; i < n; i++)
		__asm__ volatile("" ::: "memory");
	return n;
}

int main(void)
{
	return spin(3) - 3;
}
