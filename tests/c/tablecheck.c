/* Populating a table ahead of use (smx_table_populate) never changes a byte
 * of it, even while another thread writes it: one thread writes a pattern
 * into a fresh 48 MiB table at pages spread over it while a second thread
 * populates the whole table; afterwards every byte is what the writer left
 * (the pattern where it wrote, zero elsewhere). Prints "ok <mapped bytes>". */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include "table_alloc.h"

#define BYTES ((size_t)48 << 20)

static void *populate_all(void *table) {
    size_t bytes = smx_table_mapped_bytes(table);
    for (size_t from = 0; from < bytes; from += SMX_TABLE_STEP) smx_table_populate(table, from, SMX_TABLE_STEP);
    return NULL;
}

static uint8_t expected(size_t i) { return (i % 4099) < 64 ? (uint8_t)(i * 2654435761u >> 24) | 1 : 0; }

int main(void) {
    uint8_t *t = smx_table_alloc(BYTES);
    if (!t) return 2;
    pthread_t th;
    if (pthread_create(&th, NULL, populate_all, t)) return 3;
    for (size_t i = 0; i < BYTES; i++)
        if (expected(i)) t[i] = expected(i);
    pthread_join(th, NULL);
    populate_all(t); /* and again, over written pages */
    for (size_t i = 0; i < BYTES; i++)
        if (t[i] != expected(i)) {
            printf("byte %zu is %u, not %u\n", i, t[i], expected(i));
            return 1;
        }
    printf("ok %zu\n", smx_table_mapped_bytes(t));
    smx_table_free(t);
    return 0;
}
