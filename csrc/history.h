/* What the bit models look back at: the bytes and tokens coded so far, and
 * the text structure read from them (words, lines).
 *
 * Tokens are BPE ids; the engine hands over each token's bytes when it is
 * complete, so byte contexts cross token boundaries and a model need not
 * know how the input was tokenized. */
#ifndef SMX_HISTORY_H
#define SMX_HISTORY_H

#include <stdint.h>

#define SMX_HISTORY_BYTES (1u << 16) /* bytes kept (a line longer than this has no byte above) */
#define SMX_HISTORY_TOKENS 8u
#define SMX_HISTORY_WORDS 4u

typedef struct smx_history {
    uint8_t bytes[SMX_HISTORY_BYTES]; /* ring: byte i of the input at bytes[i % SMX_HISTORY_BYTES] */
    uint64_t n;                       /* bytes so far */
    uint64_t c8;                      /* the last 8 bytes, the newest in the low byte */
    uint32_t tok[SMX_HISTORY_TOKENS]; /* tok[0] = the last token */
    uint64_t n_tok;
    /* words: runs of letters (ASCII letters folded to lower case, and any
     * byte >= 128, so UTF-8 letters count) */
    uint64_t word[SMX_HISTORY_WORDS]; /* word[0]: hash of the current word so far (0 if none), then the words before */
    uint32_t word_len;                /* letters in the current word */
    /* the same run with digits counted in, hashed in 32 bits: the SSM's
     * word context (ssm_context.h), whose rows format 14 pinned */
    uint32_t alnum_word;
    /* what followed each byte and each pair of bytes the last two times
     * (the newer in the low byte): indirect contexts */
    uint16_t after1[256];
    uint16_t after2[65536];
    /* nesting: the innermost open brackets, (, [, {, < (newest in the low
     * byte), and how deep they go */
    uint32_t open;
    uint32_t depth;
    uint32_t quote;                   /* inside a "..." string (on this line) */
    /* the line so far: its first two bytes, and separators seen (, ; tab |) */
    uint32_t line_head;
    uint32_t fields;
    /* lines */
    uint64_t line_start;              /* position of the byte after the last '\n' */
    uint64_t prev_line_start;         /* same for the line before */
} smx_history;

void smx_history_init(smx_history *h);

/* Appends the bytes of one token. */
void smx_history_push(smx_history *h, uint32_t tok, const uint8_t *bytes, uint32_t len);

/* The byte `back` positions before the end (1 = the last byte), 0 before the start. */
static inline uint8_t smx_history_byte(const smx_history *h, uint64_t back) {
    return back <= h->n && back <= SMX_HISTORY_BYTES ? h->bytes[(h->n - back) % SMX_HISTORY_BYTES] : 0;
}

/* Column of the next byte: bytes since the last newline. */
static inline uint64_t smx_history_column(const smx_history *h) { return h->n - h->line_start; }

/* The byte above the next one in the previous line, or 0 if that line is shorter. */
uint8_t smx_history_above(const smx_history *h);

/* A 64-bit hash step: folds v into h. */
static inline uint64_t smx_hash(uint64_t h, uint64_t v) {
    h = (h ^ v) * 0x9e3779b97f4a7c15ull;
    return h ^ (h >> 29);
}

#endif
