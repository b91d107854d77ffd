// Grid simulations with simple integer rules: Conway's Game of Life on a
// torus (glider, R-pentomino and a pseudo-random soup), printing small
// frames and per-generation population/hashes, plus the elementary
// cellular automaton rule 110 and a Langton's ant run.
#include <stdio.h>
#include <string.h>
#include <stdint.h>

#define W 64
#define H 48

static unsigned char grid[H][W], next_grid[H][W];

static int neighbours(int y, int x)
{
    int n = 0;
    for (int dy = -1; dy <= 1; dy++)
        for (int dx = -1; dx <= 1; dx++)
            if (dy || dx) n += grid[(y + dy + H) % H][(x + dx + W) % W];
    return n;
}

static void step(void)
{
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int n = neighbours(y, x);
            next_grid[y][x] = (unsigned char)(n == 3 || (n == 2 && grid[y][x]));
        }
    memcpy(grid, next_grid, sizeof grid);
}

static uint64_t grid_hash(int *pop)
{
    uint64_t h = 1469598103934665603ULL;
    int p = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) { h = (h ^ grid[y][x]) * 1099511628211ULL; p += grid[y][x]; }
    *pop = p;
    return h;
}

static void show(int y0, int x0, int rows, int cols)
{
    for (int y = y0; y < y0 + rows; y++) {
        putchar(' ');
        for (int x = x0; x < x0 + cols; x++) putchar(grid[y % H][x % W] ? '#' : '.');
        putchar('\n');
    }
}

static void place(const char *const *pattern, int rows, int y0, int x0)
{
    for (int r = 0; r < rows; r++)
        for (int c = 0; pattern[r][c]; c++) grid[y0 + r][x0 + c] = pattern[r][c] == '#';
}

int main(void)
{
    static const char *const glider[] = { ".#.", "..#", "###" };
    place(glider, 3, 1, 1);
    printf("glider, generations 0 and 4:\n");
    show(0, 0, 6, 8);
    for (int i = 0; i < 4; i++) step();
    show(0, 0, 6, 8);
    for (int i = 0; i < 4 * 48; i++) step();   /* wraps around the torus back to the start row */
    int pop;
    uint64_t h = grid_hash(&pop);
    printf("after 196 generations: population %d hash %016llx\n", pop, (unsigned long long)h);

    memset(grid, 0, sizeof grid);
    static const char *const rpent[] = { ".##", "##.", ".#." };
    place(rpent, 3, H / 2 - 1, W / 2 - 1);
    for (int g = 1; g <= 300; g++) {
        step();
        if (g % 50 == 0) {
            h = grid_hash(&pop);
            printf("r-pentomino gen %3d: population %4d hash %016llx\n", g, pop, (unsigned long long)h);
        }
    }
    printf("r-pentomino centre at gen 300:\n");
    show(H / 2 - 8, W / 2 - 16, 16, 32);

    uint32_t s = 20240607u;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) { s = s * 1103515245u + 12345u; grid[y][x] = (s >> 16) % 3 == 0; }
    for (int g = 0; g <= 200; g++) {
        if (g % 40 == 0) {
            h = grid_hash(&pop);
            printf("soup gen %3d: population %4d hash %016llx\n", g, pop, (unsigned long long)h);
        }
        step();
    }

    /* Rule 110 from a single cell, 32 rows of 64 cells. */
    unsigned char row[W] = { 0 }, nrow[W];
    row[W - 1] = 1;
    printf("rule 110:\n");
    for (int t = 0; t < 32; t++) {
        putchar(' ');
        for (int x = 0; x < W; x++) putchar(row[x] ? '#' : ' ');
        putchar('\n');
        for (int x = 0; x < W; x++) {
            int l = x ? row[x - 1] : 0, c = row[x], r = x < W - 1 ? row[x + 1] : 0;
            nrow[x] = (unsigned char)((110 >> (l << 2 | c << 1 | r)) & 1);
        }
        memcpy(row, nrow, sizeof row);
    }

    /* Langton's ant for 11000 steps (it starts building its highway). */
    memset(grid, 0, sizeof grid);
    int ay = H / 2, ax = W / 2, dir = 0;   /* 0 up, 1 right, 2 down, 3 left */
    static const int dy[4] = { -1, 0, 1, 0 }, dx[4] = { 0, 1, 0, -1 };
    for (int i = 1; i <= 11000; i++) {
        dir = grid[ay][ax] ? (dir + 3) % 4 : (dir + 1) % 4;
        grid[ay][ax] ^= 1;
        ay = (ay + dy[dir] + H) % H;
        ax = (ax + dx[dir] + W) % W;
        if (i % 2750 == 0) {
            h = grid_hash(&pop);
            printf("ant step %5d at (%2d,%2d) facing %d, black cells %d, hash %016llx\n", i, ay, ax, dir, pop,
                   (unsigned long long)h);
        }
    }
    return 0;
}
