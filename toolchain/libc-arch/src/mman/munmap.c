/* munmap with the mapping cache of xisa_mapping_cache.c in front of the system call. */

#include <stdint.h>
#include <sys/mman.h>
#include "syscall.h"

hidden void __xisa_mapping_range_changes(void *addr, size_t len);
hidden int __xisa_mapping_keep(void *addr, size_t len);

static void no_threads(void) { }
weak_alias(no_threads, __vm_wait);

#define PAGE 4096UL

int __munmap(void *start, size_t len)
{
	__vm_wait();
	uintptr_t addr = (uintptr_t)start;
	if (len && !(addr & (PAGE - 1)) && len <= SIZE_MAX - PAGE) {
		size_t pages = (len + PAGE - 1) & -PAGE;
		if (__xisa_mapping_keep(start, pages)) return 0;
		__xisa_mapping_range_changes(start, pages);
	}
	return syscall(SYS_munmap, start, len);
}

weak_alias(__munmap, munmap);
