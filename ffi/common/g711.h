/*
 * g711.h — ITU-T G.711 mu-law (PCMU) and A-law (PCMA) companding.
 *
 * Shared by every huddle host that meets telephone audio (one place per
 * protocol detail, STYLE.md 18). Pure functions over buffers: no state,
 * safe from any thread.
 */
#ifndef HUDDLE_G711_H
#define HUDDLE_G711_H

#include <stddef.h>
#include <stdint.h>

uint8_t g711_ulaw_from_linear(int16_t sample);
int16_t g711_ulaw_to_linear(uint8_t code);
uint8_t g711_alaw_from_linear(int16_t sample);
int16_t g711_alaw_to_linear(uint8_t code);

/* Buffer forms: `n` samples from `in` to `out` (which must not overlap). */
void g711_ulaw_encode(const int16_t *in, size_t n, uint8_t *out);
void g711_ulaw_decode(const uint8_t *in, size_t n, int16_t *out);
void g711_alaw_encode(const int16_t *in, size_t n, uint8_t *out);
void g711_alaw_decode(const uint8_t *in, size_t n, int16_t *out);

#endif /* HUDDLE_G711_H */
