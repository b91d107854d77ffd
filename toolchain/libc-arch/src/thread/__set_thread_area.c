/* The thread pointer is a neutral global (see pthread_arch.h): setting it needs no system call. */

#include "pthread_impl.h"

uintptr_t __xisa_thread_pointer;

int __set_thread_area(void *p)
{
	__xisa_thread_pointer = (uintptr_t)p;
	return 0;
}
