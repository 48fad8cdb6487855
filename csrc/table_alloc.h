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
#include <stdint.h>

/* bytes of zeroed memory, or NULL; free with smx_table_free. */
void *smx_table_alloc(size_t bytes);
void smx_table_free(void *p);

/* Populating ahead of use. The first write to each page of a fresh mapping
 * has the kernel find and clear it: on this project's benchmark machine
 * about 2.5 s per GiB (a virtual machine whose host backs freed memory
 * again on first touch), paid by the coding thread in its first seconds.
 * The engine has a spare thread fault the pages in instead, while the
 * coding thread starts (engine.c). */

/* The bytes of a table worth populating ahead: those of a mapped one, 0 for
 * a small (calloc) table or without madvise. */
size_t smx_table_mapped_bytes(const void *table);
/* Faults in bytes [from, from + len) of a mapped table as a first write
 * would, without changing a byte of it (MADV_POPULATE_WRITE, Linux 5.14 and
 * later; advice only: elsewhere nothing happens). from is a multiple of
 * SMX_TABLE_STEP. Safe while other threads read and write the table. */
void smx_table_populate(void *table, size_t from, size_t len);
#define SMX_TABLE_STEP ((size_t)16 << 20)

/* The large tables of an engine's parts, gathered for populating. */
#define SMX_TABLE_LIST_MAX 96
typedef struct {
    void *table[SMX_TABLE_LIST_MAX];
    uint32_t n;
} smx_table_list;

static inline void smx_table_list_add(smx_table_list *l, void *table) {
    if (table && l->n < SMX_TABLE_LIST_MAX && smx_table_mapped_bytes(table)) l->table[l->n++] = table;
}

#endif
