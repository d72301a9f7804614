/*
 * fuzz_target.h - the contract between a fuzz target and what drives it.
 *
 * Each fuzz_<reader>.c defines LLVMFuzzerTestOneInput() and nothing else
 * with external linkage.  Two programs are linked from it: the libFuzzer
 * binary (clang, -fsanitize=fuzzer; libFuzzer provides main) and the
 * regression runner (regress_main.c provides main and replays files), so
 * the same checks run under libFuzzer and in the normal test suite.
 *
 * A target reports a broken invariant with FUZZ_CHECK, which aborts: both
 * drivers treat an abort, like a sanitizer report, as a crash.  assert()
 * is not used because a release build compiles it out.
 */
#ifndef SL_FUZZ_TARGET_H
#define SL_FUZZ_TARGET_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Runs one input; always returns 0 (libFuzzer reserves other values). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                              \
        do {                                                                          \
                if (!(cond)) {                                                        \
                        fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__,   \
                                __LINE__, #cond);                                     \
                        abort();                                                      \
                }                                                                     \
        } while (0)

#endif
