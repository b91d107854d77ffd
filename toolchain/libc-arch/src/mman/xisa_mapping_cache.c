/* Anonymous mappings that munmap gives back are kept, zeroed, for the next mmap of the same
 * size instead of going back to the monitor. Every system call of a native guest is a VM exit,
 * and allocators map and unmap groups of the same sizes over and over; keeping them turns a
 * pair of exits into a memset. Only mappings that mmap itself handed out are ever kept, so an
 * munmap of anything else, or of part of a mapping, reaches the monitor exactly as before.
 *
 * The tables live in the program's own memory, so a checkpoint carries them and the cache is
 * the same on every target. */

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include "syscall.h"

#define PAGE 4096UL
/* Larger mappings are rare and cost more to clear than to fault in again. */
#define KEEP_MAX_LEN (1UL << 20)
#define KEEP_SLOTS 32
#define KNOWN_SLOTS 1024 /* a power of two */

struct mapping {
	uintptr_t addr; /* 0: empty */
	size_t len;
};

/* Anonymous private mappings mmap handed out and that are still mapped (open addressing,
 * linear probing, deletion by backward shift so the table never fills with tombstones). */
static struct mapping known[KNOWN_SLOTS];
static size_t known_count;
/* Unmapped by the program, still mapped in the monitor; oldest first. */
static struct mapping kept[KEEP_SLOTS];
static size_t kept_count;

static size_t home(uintptr_t addr)
{
	return (addr / PAGE * 0x9e3779b97f4a7c15ULL >> 32) & (KNOWN_SLOTS - 1);
}

static size_t known_find(uintptr_t addr)
{
	for (size_t i = home(addr), n = 0; n < KNOWN_SLOTS; i = (i + 1) & (KNOWN_SLOTS - 1), n++) {
		if (known[i].addr == addr) return i;
		if (!known[i].addr) break;
	}
	return KNOWN_SLOTS;
}

static void known_remove_at(size_t i)
{
	size_t j = i;
	for (;;) {
		j = (j + 1) & (KNOWN_SLOTS - 1);
		if (!known[j].addr) break;
		size_t k = home(known[j].addr);
		/* Leave known[j] where it is if its home lies cyclically in (i, j]. */
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j)) continue;
		known[i] = known[j];
		i = j;
	}
	known[i].addr = 0;
	known[i].len = 0;
	known_count--;
}

hidden void __xisa_mapping_made(void *addr, size_t len)
{
	/* Keep the table at most three quarters full; an untracked mapping is merely not kept. */
	if (known_count >= KNOWN_SLOTS / 4 * 3 || known_find((uintptr_t)addr) != KNOWN_SLOTS)
		return;
	size_t i = home((uintptr_t)addr);
	while (known[i].addr) i = (i + 1) & (KNOWN_SLOTS - 1);
	known[i].addr = (uintptr_t)addr;
	known[i].len = len;
	known_count++;
}

static int overlaps(const struct mapping *m, uintptr_t start, uintptr_t end)
{
	return m->addr < end && start < m->addr + m->len;
}

static void kept_remove_at(size_t i)
{
	memmove(&kept[i], &kept[i + 1], (kept_count - i - 1) * sizeof kept[0]);
	kept_count--;
}

/* [addr, addr + len) is about to be unmapped, replaced or remapped: forget every mapping that
 * overlaps it, and give kept ones back to the monitor whole so none of their address space is
 * left mapped and forgotten. */
hidden void __xisa_mapping_range_changes(void *addr, size_t len)
{
	uintptr_t start = (uintptr_t)addr, end = start + len;
	if (end < start) end = UINTPTR_MAX;
	for (size_t i = kept_count; i-- > 0;) {
		if (overlaps(&kept[i], start, end)) {
			__syscall(SYS_munmap, kept[i].addr, kept[i].len);
			kept_remove_at(i);
		}
	}
	if (!known_count) return;
	/* Known mappings never overlap one another: one that starts at addr and covers the whole
	 * range is the only one the range touches. */
	size_t exact = known_find(start);
	if (exact != KNOWN_SLOTS) {
		int covers = known[exact].len >= len;
		known_remove_at(exact);
		if (covers) return;
	}
	/* A range larger than one mapping may cover several: scan the table. */
	for (size_t i = 0; i < KNOWN_SLOTS;) {
		if (known[i].addr && overlaps(&known[i], start, end)) {
			known_remove_at(i); /* may move a later entry into slot i: look again */
		} else {
			i++;
		}
	}
}

/* The program unmaps [addr, addr + len). Returns 1 when the mapping was kept, in which case
 * there is nothing more to do. */
hidden int __xisa_mapping_keep(void *addr, size_t len)
{
	size_t i = known_find((uintptr_t)addr);
	if (i == KNOWN_SLOTS || known[i].len != len || len > KEEP_MAX_LEN) return 0;
	known_remove_at(i);
	memset(addr, 0, len);
	if (kept_count == KEEP_SLOTS) {
		__syscall(SYS_munmap, kept[0].addr, kept[0].len);
		kept_remove_at(0);
	}
	kept[kept_count].addr = (uintptr_t)addr;
	kept[kept_count].len = len;
	kept_count++;
	return 1;
}

/* A kept mapping of exactly len bytes, most recently kept first, or 0. */
hidden void *__xisa_mapping_reuse(size_t len)
{
	for (size_t i = kept_count; i-- > 0;) {
		if (kept[i].len == len) {
			void *addr = (void *)kept[i].addr;
			kept_remove_at(i);
			__xisa_mapping_made(addr, len);
			return addr;
		}
	}
	return 0;
}
