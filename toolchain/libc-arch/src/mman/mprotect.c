/* mprotect that keeps the mapping cache of xisa_mapping_cache.c up to date: a mapping whose
 * protection changes is no longer a plain read-write one, so it is never kept or handed out
 * again by the cache (unmapping it reaches the executor as usual). */

#include <stdint.h>
#include <sys/mman.h>
#include "syscall.h"

hidden void __xisa_mapping_range_changes(void *addr, size_t len);

#define PAGE 4096UL

int __mprotect(void *addr, size_t len, int prot)
{
	uintptr_t start = (uintptr_t)addr & -PAGE;
	uintptr_t end = ((uintptr_t)addr + len + PAGE - 1) & -PAGE;
	if (end > start) __xisa_mapping_range_changes((void *)start, end - start);
	return syscall(SYS_mprotect, start, end - start, prot);
}

weak_alias(__mprotect, mprotect);
