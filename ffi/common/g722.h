/*
 * g722.h — ITU-T G.722 at 64 kbit/s (mode 1): 16 kHz L16 split by a QMF
 * into two sub-bands, each coded by backward-adaptive ADPCM (6 bits low
 * band, 2 bits high band), one octet per pair of input samples.
 *
 * Shared by every huddle host that meets wideband telephone audio (one
 * place per protocol detail, STYLE.md 18). Each encoder/decoder carries
 * its own state: one per direction per call, no globals, no allocation.
 *
 * RTP note (RFC 3551): G.722's RTP clock is 8000 Hz although it samples at
 * 16 kHz; a 20 ms packet is 160 octets = 320 samples, timestamp step 160.
 */
#ifndef HUDDLE_G722_H
#define HUDDLE_G722_H

#include <stddef.h>
#include <stdint.h>

/* One sub-band's ADPCM state (quantizer scale and the pole/zero
 * predictor); encoder and decoder keep identical copies of it. */
typedef struct g722_band {
    int16_t s;     /* signal estimate */
    int16_t sz;    /* its zero-section part */
    int16_t r1;    /* last reconstructed signal */
    int16_t a[2];  /* pole coefficients */
    int16_t p[2];  /* last two partially reconstructed signals */
    int16_t b[6];  /* zero coefficients */
    int16_t d[6];  /* last six quantized differences */
    int16_t nb;    /* log scale factor */
    int16_t det;   /* linear scale factor */
} g722_band;

typedef struct g722_encoder {
    g722_band low, high;
    int16_t qmf[24]; /* last 24 input samples, oldest first */
} g722_encoder;

typedef struct g722_decoder {
    g722_band low, high;
    int16_t sum[12];  /* rlow + rhigh, oldest first */
    int16_t diff[12]; /* rlow - rhigh */
} g722_decoder;

void g722_encoder_init(g722_encoder *e);
void g722_decoder_init(g722_decoder *d);

/* `n` 16 kHz samples (an odd last sample is ignored) to n/2 octets;
 * returns the octets written. */
size_t g722_encode(g722_encoder *e, const int16_t *pcm, size_t n, uint8_t *out);

/* `n` octets to 2n 16 kHz samples; returns the samples written. */
size_t g722_decode(g722_decoder *d, const uint8_t *in, size_t n, int16_t *pcm);

#endif /* HUDDLE_G722_H */
