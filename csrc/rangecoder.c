#include "rangecoder.h"

#define RC_BITS 48
#define RC_MASK ((1ull << RC_BITS) - 1)
#define RC_TOP (1ull << (RC_BITS - 8))
#define RC_INIT_BYTES (RC_BITS / 8 + 1)

static void put_byte(smx_rc_encoder *rc, uint8_t b) {
    if (rc->pos < rc->cap)
        rc->out[rc->pos++] = b;
    else
        rc->overflow = 1;
}

static void shift_low(smx_rc_encoder *rc) {
    if ((rc->low & RC_MASK) < (0xffull << (RC_BITS - 8)) || (rc->low >> RC_BITS) != 0) {
        uint8_t carry = (uint8_t)(rc->low >> RC_BITS);
        uint8_t temp = rc->cache;
        do {
            put_byte(rc, (uint8_t)(temp + carry));
            temp = 0xff;
        } while (--rc->pending != 0);
        rc->cache = (uint8_t)(rc->low >> (RC_BITS - 8));
    }
    rc->pending++;
    rc->low = (rc->low & (RC_TOP - 1)) << 8;
}

void smx_rc_encoder_init(smx_rc_encoder *rc, uint8_t *out, size_t cap) {
    rc->low = 0;
    rc->range = RC_MASK;
    rc->pending = 1;
    rc->cache = 0;
    rc->out = out;
    rc->pos = 0;
    rc->cap = cap;
    rc->overflow = 0;
}

void smx_rc_encode(smx_rc_encoder *rc, uint32_t cum, uint32_t freq, uint32_t total) {
    uint64_t r = rc->range / total;
    rc->low += r * cum;
    rc->range = r * freq;
    while (rc->range < RC_TOP) {
        rc->range <<= 8;
        shift_low(rc);
    }
}

int64_t smx_rc_encoder_finish(smx_rc_encoder *rc) {
    for (int i = 0; i < RC_INIT_BYTES; i++) shift_low(rc);
    return rc->overflow ? -1 : (int64_t)rc->pos;
}

static uint8_t get_byte(smx_rc_decoder *rc) {
    /* Past the end the stream reads as zeros: garbage out, never a bad read. */
    return rc->pos < rc->len ? rc->in[rc->pos++] : (rc->pos++, 0);
}

void smx_rc_decoder_init(smx_rc_decoder *rc, const uint8_t *in, size_t len) {
    rc->in = in;
    rc->len = len;
    rc->pos = 0;
    rc->code = 0;
    rc->range = RC_MASK;
    rc->step = 1;
    for (int i = 0; i < RC_INIT_BYTES; i++) rc->code = (rc->code << 8) | get_byte(rc);
    rc->code &= RC_MASK;
}

uint32_t smx_rc_decode_target(smx_rc_decoder *rc, uint32_t total) {
    rc->step = rc->range / total;
    uint64_t v = rc->code / rc->step;
    return v < total ? (uint32_t)v : total - 1; /* only a corrupt stream hits the clamp */
}

void smx_rc_decode_consume(smx_rc_decoder *rc, uint32_t cum, uint32_t freq) {
    rc->code -= rc->step * cum;
    rc->range = rc->step * freq;
    if (rc->code >= rc->range) rc->code = rc->range - 1; /* corrupt stream: stay bounded */
    while (rc->range < RC_TOP) {
        rc->code = (rc->code << 8) | get_byte(rc);
        rc->range <<= 8;
    }
}
