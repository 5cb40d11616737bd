/*
 * g711.c — G.711 companding, computed from the segment definitions of
 * ITU-T G.711 (tables 1a/2a) rather than from lookup tables, so the test
 * can check it against the standard's segment end points independently.
 */
#include "g711.h"

/* mu-law: bias 0x84 puts every segment boundary on a power of two. */
enum { ULAW_BIAS = 0x84, ULAW_CLIP = 32635 };

uint8_t g711_ulaw_from_linear(int16_t sample)
{
    int v = sample;
    uint8_t sign = 0;
    if (v < 0) {
        v = -v;
        sign = 0x80;
    }
    if (v > ULAW_CLIP)
        v = ULAW_CLIP;
    v += ULAW_BIAS;
    int seg = 0;
    /* v is 0x84..0x7fff: segment = floor(log2(v)) - 7, 0..7 */
    for (int probe = v >> 7; probe > 1; probe >>= 1)
        seg++;
    uint8_t mant = (uint8_t)((v >> (seg + 3)) & 0x0f);
    return (uint8_t)~(sign | (uint8_t)(seg << 4) | mant);
}

int16_t g711_ulaw_to_linear(uint8_t code)
{
    code = (uint8_t)~code;
    int seg = (code >> 4) & 0x07;
    int mant = code & 0x0f;
    int v = (((mant << 3) + ULAW_BIAS) << seg) - ULAW_BIAS;
    return (int16_t)((code & 0x80) ? -v : v);
}

/* A-law: even bits inverted on the wire (XOR 0x55); segment 0 is linear. */
uint8_t g711_alaw_from_linear(int16_t sample)
{
    int v = sample;
    uint8_t sign = 0x80; /* A-law's sign bit is set for positive values */
    if (v < 0) {
        v = -v - 1;
        sign = 0;
    }
    v >>= 3; /* 13-bit magnitude */
    if (v > 0xfff)
        v = 0xfff;
    uint8_t out;
    if (v < 32) {
        out = (uint8_t)(v >> 1);
    } else {
        int seg = 1;
        while ((v >> (seg + 4)) > 1 && seg < 7)
            seg++;
        out = (uint8_t)((seg << 4) | ((v >> seg) & 0x0f));
    }
    return (uint8_t)((sign | out) ^ 0x55);
}

int16_t g711_alaw_to_linear(uint8_t code)
{
    code ^= 0x55;
    int seg = (code >> 4) & 0x07;
    int mant = code & 0x0f;
    int v;
    if (seg == 0)
        v = (mant << 4) + 8;
    else
        v = ((mant << 4) + 0x108) << (seg - 1);
    return (int16_t)((code & 0x80) ? v : -v);
}

void g711_ulaw_encode(const int16_t *in, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = g711_ulaw_from_linear(in[i]);
}

void g711_ulaw_decode(const uint8_t *in, size_t n, int16_t *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = g711_ulaw_to_linear(in[i]);
}

void g711_alaw_encode(const int16_t *in, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = g711_alaw_from_linear(in[i]);
}

void g711_alaw_decode(const uint8_t *in, size_t n, int16_t *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = g711_alaw_to_linear(in[i]);
}
