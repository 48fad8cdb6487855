#include "history.h"

#include <string.h>

void smx_history_init(smx_history *h) { memset(h, 0, sizeof *h); }

static int is_letter(uint8_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 128; }

static uint8_t fold_case(uint8_t c) { return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c; }

/* Multiplicative, 32 bits: the SSM's word rows hash this value again. */
static uint32_t alnum_step(uint32_t h, uint8_t c) {
    if (!is_letter(c) && !(c >= '0' && c <= '9')) return 0;
    return (h + fold_case(c) + 1u) * 0x2F0B4C27u;
}

static void push_byte(smx_history *h, uint8_t c) {
    if (h->n) {
        uint8_t c1 = (uint8_t)h->c8;
        h->after1[c1] = (uint16_t)((h->after1[c1] << 8) | c);
        if (h->n > 1) {
            uint16_t c21 = (uint16_t)h->c8;
            h->after2[c21] = (uint16_t)((h->after2[c21] << 8) | c);
        }
    }
    h->bytes[h->n % SMX_HISTORY_BYTES] = c;
    h->n++;
    h->c8 = (h->c8 << 8) | c;
    if (is_letter(c)) {
        h->word[0] = smx_hash(h->word[0] + 0x100, fold_case(c));
        h->word_len++;
    } else if (h->word_len) {
        memmove(h->word + 1, h->word, (SMX_HISTORY_WORDS - 1) * sizeof h->word[0]);
        h->word[0] = 0;
        h->word_len = 0;
    }
    h->alnum_word = alnum_step(h->alnum_word, c);
    if (c == '"') h->quote ^= 1u;
    if (c == '(' || c == '[' || c == '{' || c == '<') {
        h->open = (h->open << 8) | c;
        h->depth++;
    } else if ((c == ')' || c == ']' || c == '}' || c == '>') && h->depth) {
        h->open >>= 8; /* brackets beyond the innermost four are forgotten */
        h->depth--;
    }
    if (h->n - h->line_start <= 2) h->line_head = (h->line_head << 8) | c;
    if (c == ',' || c == ';' || c == '\t' || c == '|') h->fields++;
    if (c == '\n') {
        h->line_head = 0;
        h->fields = 0;
        h->quote = 0;
        h->prev_line_start = h->line_start;
        h->line_start = h->n;
    }
}

void smx_history_push(smx_history *h, uint32_t tok, const uint8_t *bytes, uint32_t len) {
    for (uint32_t i = 0; i < len; i++) push_byte(h, bytes[i]);
    memmove(h->tok + 1, h->tok, (SMX_HISTORY_TOKENS - 1) * sizeof h->tok[0]);
    h->tok[0] = tok;
    h->n_tok++;
}

uint8_t smx_history_above(const smx_history *h) {
    uint64_t col = h->n - h->line_start;
    uint64_t prev_len = h->line_start - h->prev_line_start;
    if (h->line_start == 0 || col >= prev_len) return 0;
    return smx_history_byte(h, h->n - (h->prev_line_start + col));
}
