/*
 * wtable_int.h - the layout of a table image (sl_wtable_save), for the
 * tests that damage images on purpose.  Only wtable.c and tests include it.
 *
 * An image is, in native byte order:
 *
 *   struct sl_wtable_image                    the header
 *   slots[image.slots]                        uint64_t, the index as is
 *   entries[image.next_id]                    image.esize bytes each
 *   long keys                                 image.key_bytes, in id order
 *
 * An entry is a header of SL_WT_ENTRY_HEAD bytes, then the value block:
 *
 *   +0  hash       uint64_t
 *   +8  klen       uint32_t
 *   +12 flags      uint32_t   id << 1 | live
 *   +16 key        SL_WT_INLINE_KEY bytes: the key if klen <= that, else
 *                  0 (a pointer, not kept); dead: uint32_t id + 1 of the
 *                  next free entry (ignored by a load)
 *
 * A used slot is (uint64_t)(uint32_t)hash << 32 | (id + 1); 0 is empty.
 */
#ifndef SL_WTABLE_INT_H
#define SL_WTABLE_INT_H

#include <stdint.h>

#include "engine/wtable.h"

#define SL_WT_IMAGE_MAGIC 0x31425457u /* "WTB1" */

struct sl_wtable_image {
        uint32_t magic;
        uint32_t head;       /* SL_WT_ENTRY_HEAD */
        uint32_t inline_key; /* SL_WT_INLINE_KEY */
        uint32_t esize;      /* entry header + value block */
        uint64_t slots;      /* index slots, a power of two */
        uint64_t count;      /* live entries */
        uint64_t key_bytes;  /* the long keys section */
        uint32_t next_id;    /* entries in the image */
        uint32_t zero;
};

#define SL_WT_ENTRY_HEAD 40
#define SL_WT_OFF_HASH 0
#define SL_WT_OFF_KLEN 8
#define SL_WT_OFF_FLAGS 12
#define SL_WT_OFF_KEY 16

#endif
