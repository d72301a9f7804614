/* ring_shim.h - see ring_shim.c. */
#ifndef SL_BENCH_RING_SHIM_H
#define SL_BENCH_RING_SHIM_H
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif
void *shim_sl_new(uint32_t cap);
void shim_sl_free(void *r);
uint32_t shim_sl_push(void *r, void *const *items, uint32_t n);
uint32_t shim_sl_pop(void *r, void **items, uint32_t n);
void *shim_ck_new(uint32_t cap);
void shim_ck_free(void *r);
uint32_t shim_ck_push(void *r, void *const *items, uint32_t n);
uint32_t shim_ck_pop(void *r, void **items, uint32_t n);
#ifdef __cplusplus
}
#endif
#endif
