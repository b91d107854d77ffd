/* A C syntax error: clang's diagnostic must reach the user with file:line:col. */
int main(void)
{
	int x = 1
	return x;
}
