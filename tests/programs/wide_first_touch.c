// First touches of fresh memory by 16-byte loads and stores, at and across every 64 MiB
// boundary of a large buffer: an executor that maps guest memory in pieces as the program
// first touches them (KVM's slots) must complete such accesses, which the processor may
// split in two, the second half landing in memory mapped by the first. The checks are
// independent of where the buffer lies, so the output is the same on every target.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIZE ((size_t)320 << 20)
#define PIECE ((uintptr_t)64 << 20)

int main(void) {
    unsigned char *buffer = malloc(SIZE);
    if (!buffer) {
        puts("no memory");
        return 1;
    }
    unsigned char pattern[16], back[16];
    for (int i = 0; i < 16; i++) pattern[i] = (unsigned char)(0xa0 + i);
    uintptr_t start = (uintptr_t)buffer, end = start + SIZE;
    int boundaries = 0, bad = 0;
    for (uintptr_t at = (start / PIECE + 1) * PIECE; at + 4096 + 24 <= end; at += PIECE) {
        // The first touch of the memory after the boundary: a wide load (it reads zeros)
        // or, at every other boundary, a wide store, wholly inside it.
        if (boundaries % 2 == 0) {
            memcpy(back, (void *)(at + 8), 16);
            for (int i = 0; i < 16; i++) bad += back[i] != 0;
        } else {
            memcpy((void *)(at + 8), pattern, 16);
            memcpy(back, (void *)(at + 8), 16);
            bad += memcmp(back, pattern, 16) != 0;
        }
        // Then a store across the boundary, and fresh memory a page further on.
        memcpy((void *)(at - 8), pattern, 16);
        memcpy(back, (void *)(at - 8), 16);
        bad += memcmp(back, pattern, 16) != 0;
        memcpy(back, (void *)(at + 4096 + 8), 16);
        for (int i = 0; i < 16; i++) bad += back[i] != 0;
        boundaries++;
    }
    // Fresh memory elsewhere, first touched by a wide load.
    memcpy(back, buffer + SIZE / 2 + 8, 16);
    for (int i = 0; i < 16; i++) bad += back[i] != 0;
    printf("%s\n", boundaries >= 3 && bad == 0 ? "wide first touches: ok" : "wide first touches: FAILED");
    free(buffer);
    return bad != 0;
}
