/* Tries to leave the sandbox through .., an absolute path and symlinks the test plants; every
 * attempt must fail with EACCES or ENOENT and nothing outside may be read. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void attempt(const char *path)
{
	char buffer[128] = { 0 };
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		printf("%s: %s\n", path, errno == EACCES ? "EACCES" : errno == ENOENT ? "ENOENT" : strerror(errno));
		return;
	}
	ssize_t n = read(fd, buffer, sizeof buffer - 1);
	printf("%s: OPENED (%zd bytes: %s)\n", path, n, buffer);
	close(fd);
}

int main(void)
{
	attempt("inside.txt");
	attempt("../secret.txt");
	attempt("/../secret.txt");
	attempt("../../../../../../etc/hostname");
	attempt("escape_absolute");
	attempt("escape_relative");
	attempt("sub/../../secret.txt");
	return 0;
}
