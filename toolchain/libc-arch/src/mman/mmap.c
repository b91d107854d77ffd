/* mmap with the mapping cache of xisa_mapping_cache.c in front of the system call. */

#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include "syscall.h"

hidden void __xisa_mapping_made(void *addr, size_t len);
hidden void __xisa_mapping_range_changes(void *addr, size_t len);
hidden void *__xisa_mapping_reuse(size_t len);

static void no_threads(void) { }
weak_alias(no_threads, __vm_wait);

#define PAGE 4096UL

void *__mmap(void *start, size_t len, int prot, int flags, int fd, off_t off)
{
	if (off & (PAGE - 1) || off < 0) {
		errno = EINVAL;
		return MAP_FAILED;
	}
	if (len >= PTRDIFF_MAX) {
		errno = ENOMEM;
		return MAP_FAILED;
	}
	size_t pages = (len + PAGE - 1) & -PAGE;
	int plain = !start && len && prot == (PROT_READ | PROT_WRITE) &&
		flags == (MAP_PRIVATE | MAP_ANONYMOUS);
	if (plain) {
		void *kept = __xisa_mapping_reuse(pages);
		if (kept) return kept;
	}
	if (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) {
		__vm_wait();
		if (len) __xisa_mapping_range_changes(start, pages);
	}
	long ret = __syscall(SYS_mmap, start, len, prot, flags, fd, off);
	if (plain && ret >= 0) __xisa_mapping_made((void *)ret, pages);
	return (void *)__syscall_ret(ret);
}

weak_alias(__mmap, mmap);
