/* mremap that keeps the mapping cache of xisa_mapping_cache.c up to date. */

#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/mman.h>
#include "syscall.h"

hidden void __xisa_mapping_range_changes(void *addr, size_t len);

static void no_threads(void) { }
weak_alias(no_threads, __vm_wait);

#define PAGE 4096UL

void *__mremap(void *old_addr, size_t old_len, size_t new_len, int flags, ...)
{
	void *new_addr = 0;
	if (new_len >= PTRDIFF_MAX) {
		errno = ENOMEM;
		return MAP_FAILED;
	}
	if (flags & MREMAP_FIXED) {
		__vm_wait();
		va_list ap;
		va_start(ap, flags);
		new_addr = va_arg(ap, void *);
		va_end(ap);
		__xisa_mapping_range_changes(new_addr, (new_len + PAGE - 1) & -PAGE);
	}
	/* Whether or not it moves, the old mapping stops being one that mmap handed out (so it is
	 * no longer kept when unmapped). */
	if (old_len && old_len <= SIZE_MAX - PAGE)
		__xisa_mapping_range_changes(old_addr, (old_len + PAGE - 1) & -PAGE);
	long ret = __syscall(SYS_mremap, old_addr, old_len, new_len, flags, new_addr);
	return (void *)__syscall_ret(ret);
}

weak_alias(__mremap, mremap);
