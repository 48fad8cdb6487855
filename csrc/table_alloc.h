/* Zeroed memory for the large hashed tables (context maps, n-gram orders,
 * the match model's history).
 *
 * The tables are read at random, a few cache lines per coded bit, so with
 * 4 KiB pages nearly every access also misses the TLB. Tables of a few
 * megabytes or more are mapped on their own, aligned to 2 MiB and marked for
 * transparent huge pages (MADV_HUGEPAGE: on most distributions the kernel
 * only gives huge pages to memory that asks for them). Pages are still
 * mapped lazily, so an untouched table costs no memory. Smaller tables, and
 * systems without madvise, get calloc. The contents are the same either
 * way: this changes speed, never a compressed byte. */
#ifndef SMX_TABLE_ALLOC_H
#define SMX_TABLE_ALLOC_H

#include <stddef.h>

/* bytes of zeroed memory, or NULL; free with smx_table_free. */
void *smx_table_alloc(size_t bytes);
void smx_table_free(void *p);

#endif
