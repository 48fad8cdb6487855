/* Range coder with a 48-bit window, so frequencies may total up to 2^24
 * (probability resolution 2^-24) while range / total keeps at least 16 bits:
 * the truncation of that division costs under 2^-16 of a bit per token.
 * Carries are propagated with the cache + pending-0xFF scheme of LZMA's
 * coder. */
#ifndef SMX_RANGECODER_H
#define SMX_RANGECODER_H

#include <stddef.h>
#include <stdint.h>

#define SMX_RC_TOTAL_MAX (1u << 25)

typedef struct smx_rc_encoder {
    uint64_t low, range, pending;
    uint8_t cache;
    uint8_t *out;
    size_t pos, cap;
    int overflow;
} smx_rc_encoder;

typedef struct smx_rc_decoder {
    uint64_t code, range, step;
    const uint8_t *in;
    size_t pos, len;
} smx_rc_decoder;

void smx_rc_encoder_init(smx_rc_encoder *rc, uint8_t *out, size_t cap);
void smx_rc_encode(smx_rc_encoder *rc, uint32_t cum, uint32_t freq, uint32_t total);
/* Returns the number of bytes written, or -1 if the buffer was too small. */
int64_t smx_rc_encoder_finish(smx_rc_encoder *rc);

void smx_rc_decoder_init(smx_rc_decoder *rc, const uint8_t *in, size_t len);
/* A value in [0, total) that identifies the symbol (cum <= value < cum + freq). */
uint32_t smx_rc_decode_target(smx_rc_decoder *rc, uint32_t total);
void smx_rc_decode_consume(smx_rc_decoder *rc, uint32_t cum, uint32_t freq);

#endif
