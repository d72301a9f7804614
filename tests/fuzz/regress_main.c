/*
 * regress_main.c - replays files through a fuzz target without libFuzzer.
 *
 * Linked with one fuzz_<reader>.c into fuzz_<reader>_regress, built by any
 * compiler (gcc in the normal and ASan builds), so that the seed corpus
 * and every crash ever found run in `meson test --suite fuzz`.
 *
 * Usage: fuzz_<reader>_regress PATH...
 * A PATH that is a directory contributes every regular file in it whose
 * name does not start with '.', in name order (not recursive); a file is
 * run as is.  Every input is copied into a heap block of exactly its size,
 * as libFuzzer does, so that AddressSanitizer sees any read past it.  A
 * crash aborts the program, after the input's path has been printed.
 * Exit 0 when every input ran; 1 when a PATH cannot be read or names no
 * input at all (a missing corpus must not pass silently).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/fuzz/fuzz_target.h"

static int cmp_names(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads path into an exact-size heap block (1 byte for an empty file). */
static int slurp(const char *path, uint8_t **out, size_t *len)
{
        FILE *f = fopen(path, "rb");
        if (!f)
                return -errno;
        size_t cap = 4096, n = 0, r;
        uint8_t *b = malloc(cap);
        int rc = 0;
        if (!b) {
                rc = -ENOMEM;
                goto out;
        }
        while ((r = fread(b + n, 1, cap - n, f)) > 0) {
                n += r;
                if (n == cap) {
                        uint8_t *nb = realloc(b, cap * 2);
                        if (!nb) {
                                rc = -ENOMEM;
                                goto out;
                        }
                        b = nb;
                        cap *= 2;
                }
        }
        if (ferror(f)) {
                rc = -EIO;
                goto out;
        }
        uint8_t *exact = malloc(n ? n : 1);
        if (!exact) {
                rc = -ENOMEM;
                goto out;
        }
        memcpy(exact, b, n);
        *out = exact;
        *len = n;
out:
        free(b);
        fclose(f);
        return rc;
}

static int run_file(const char *path)
{
        uint8_t *data = NULL;
        size_t len = 0;
        int rc = slurp(path, &data, &len);
        if (rc) {
                fprintf(stderr, "%s: %s\n", path, strerror(-rc));
                return rc;
        }
        /* Printed first so that the input of a crash is named. */
        fprintf(stderr, "run %s (%zu bytes)\n", path, len);
        LLVMFuzzerTestOneInput(data, len);
        free(data);
        return 0;
}

/* Runs every input file in dir; the number run, or -errno. */
static long run_dir(const char *dir)
{
        DIR *d = opendir(dir);
        if (!d)
                return -errno;
        size_t n = 0, cap = 64;
        char **names = malloc(cap * sizeof *names);
        long rc = names ? 0 : -ENOMEM;
        struct dirent *e;
        while (rc == 0 && (e = readdir(d))) {
                if (e->d_name[0] == '.')
                        continue;
                size_t need = strlen(dir) + strlen(e->d_name) + 2;
                char *p = malloc(need);
                if (!p) {
                        rc = -ENOMEM;
                        break;
                }
                snprintf(p, need, "%s/%s", dir, e->d_name);
                struct stat st;
                if (stat(p, &st) != 0 || !S_ISREG(st.st_mode)) {
                        free(p);
                        continue;
                }
                if (n == cap) {
                        char **nn = realloc(names, cap * 2 * sizeof *names);
                        if (!nn) {
                                free(p);
                                rc = -ENOMEM;
                                break;
                        }
                        names = nn;
                        cap *= 2;
                }
                names[n++] = p;
        }
        closedir(d);
        if (rc == 0)
                qsort(names, n, sizeof *names, cmp_names);
        for (size_t i = 0; i < n; i++) {
                if (rc == 0 && run_file(names[i]) != 0)
                        rc = -EIO;
                free(names[i]);
        }
        free(names);
        return rc ? rc : (long)n;
}

int main(int argc, char **argv)
{
        long total = 0;
        if (argc < 2) {
                fprintf(stderr, "usage: %s PATH...\n", argv[0]);
                return 1;
        }
        for (int i = 1; i < argc; i++) {
                struct stat st;
                if (stat(argv[i], &st) != 0) {
                        fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
                        return 1;
                }
                long n;
                if (S_ISDIR(st.st_mode)) {
                        n = run_dir(argv[i]);
                        if (n < 0) {
                                fprintf(stderr, "%s: %s\n", argv[i], strerror((int)-n));
                                return 1;
                        }
                        printf("%s: %ld inputs\n", argv[i], n);
                } else {
                        if (run_file(argv[i]) != 0)
                                return 1;
                        n = 1;
                }
                total += n;
        }
        if (total == 0) {
                fprintf(stderr, "no input files\n");
                return 1;
        }
        printf("%ld inputs, no crash\n", total);
        return 0;
}
