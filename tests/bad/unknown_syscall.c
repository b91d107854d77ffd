/* A system call the personality does not serve: the guest sees ENOSYS and the user a warning
 * naming it, once. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
	for (int i = 0; i < 2; i++) {
		long r = syscall(SYS_socket, 2, 1, 0);
		printf("socket: %ld %s\n", r, errno == ENOSYS ? "ENOSYS" : "other");
	}
	return 0;
}
