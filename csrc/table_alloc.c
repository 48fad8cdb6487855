#define _DEFAULT_SOURCE /* mmap's MAP_ANONYMOUS and madvise under -std=c11 */
#include "table_alloc.h"

#include <stdint.h>
#include <stdlib.h>

#if defined(__linux__)
#include <sys/mman.h>
#endif

/* SMX_PLAIN_TABLES (the sanitizer build, statesmix/_build.py): every table
 * from calloc, so that AddressSanitizer sees where each one ends. */
#if defined(__linux__) && defined(MADV_HUGEPAGE) && !defined(SMX_PLAIN_TABLES)

#define HUGE_PAGE ((size_t)2 << 20)
#define HUGE_MIN ((size_t)4 << 20) /* below this, calloc: at most one huge page would fit */

/* Before every pointer handed out: how to give its mapping back, or base ==
 * NULL for memory from calloc. Its 16 bytes keep calloc's alignment for the
 * small tables; the mapped ones start on a huge page. */
typedef struct {
    void *base;
    size_t length;
} table_header;

void *smx_table_alloc(size_t bytes) {
    if (bytes > SIZE_MAX - 2 * HUGE_PAGE) return NULL;
    if (bytes < HUGE_MIN) {
        table_header *h = calloc(1, sizeof(table_header) + bytes);
        if (!h) return NULL;
        h->base = NULL;
        return h + 1;
    }
    /* one spare huge page to align in, and room for the header before it */
    size_t length = bytes + 2 * HUGE_PAGE;
    uint8_t *base = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) return NULL;
    uintptr_t table = ((uintptr_t)base + sizeof(table_header) + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
    /* advice only: without huge pages the table still works, with 4 KiB pages */
    (void)madvise((void *)table, bytes, MADV_HUGEPAGE);
    table_header *h = (table_header *)table - 1;
    h->base = base;
    h->length = length;
    return (void *)table;
}

void smx_table_free(void *p) {
    if (!p) return;
    table_header *h = (table_header *)p - 1;
    if (h->base)
        munmap(h->base, h->length);
    else
        free(h);
}

size_t smx_table_mapped_bytes(const void *table) {
    const table_header *h = (const table_header *)table - 1;
    return h->base ? h->length - 2 * HUGE_PAGE : 0;
}

void smx_table_populate(void *table, size_t from, size_t len) {
#ifdef MADV_POPULATE_WRITE
    const size_t bytes = smx_table_mapped_bytes(table);
    if (from >= bytes) return;
    if (len > bytes - from) len = bytes - from;
    (void)madvise((uint8_t *)table + from, len, MADV_POPULATE_WRITE);
#else
    (void)table, (void)from, (void)len;
#endif
}

#else

void *smx_table_alloc(size_t bytes) { return calloc(1, bytes ? bytes : 1); }
void smx_table_free(void *p) { free(p); }
size_t smx_table_mapped_bytes(const void *table) { return (void)table, 0; }
void smx_table_populate(void *table, size_t from, size_t len) { (void)table, (void)from, (void)len; }

#endif
