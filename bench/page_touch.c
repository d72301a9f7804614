/*
 * page_touch.c - what the first write to fresh anonymous memory costs on
 * this machine, with 4 KiB pages and with transparent huge pages
 * (MADV_HUGEPAGE): the floor under a snapshot restore or a worker stall
 * into new memory (snapshot_bench's memcpy_new_pages).  Three rounds of
 * mmap, memset (first touch), memset again (pages present), munmap.
 *
 *   page_touch MIB [huge]
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static double now(void)
{
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
        if (argc < 2) {
                fprintf(stderr, "usage: page_touch MIB [huge]\n");
                return 2;
        }
        size_t n = (size_t)strtoull(argv[1], NULL, 10) << 20;
        int huge = argc > 2;
        for (int r = 0; r < 3; r++) {
                char *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (p == MAP_FAILED) {
                        perror("mmap");
                        return 1;
                }
                if (huge)
                        (void)madvise(p, n, MADV_HUGEPAGE);
                double t = now();
                memset(p, 1, n);
                double first = now() - t;
                t = now();
                memset(p, 2, n);
                double again = now() - t;
                printf("round %d%s: first touch %.2f GB/s, pages present %.2f GB/s\n", r,
                       huge ? " (MADV_HUGEPAGE)" : " (4 KiB pages)", (double)n / first / 1e9,
                       (double)n / again / 1e9);
                munmap(p, n);
        }
        return 0;
}
