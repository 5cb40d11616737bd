/*
 * g711_test.c — checks ffi/common/g711 against numbers from ITU-T G.711
 * (the code points of zero and full scale, the decoded end points) and
 * against properties any correct codec has: every code decodes to a
 * value that encodes back to a code with the same value, quantisation
 * error bounded per segment, a 1 kHz sine keeping its SNR.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "g711.h"

static double sine_snr(int alaw)
{
    enum { N = 8000 };
    static int16_t in[N], out[N];
    static uint8_t code[N];
    for (int i = 0; i < N; i++)
        in[i] = (int16_t)lrint(16000.0 * sin(2.0 * M_PI * 1000.0 * i / 8000.0 + 0.3));
    if (alaw) {
        g711_alaw_encode(in, N, code);
        g711_alaw_decode(code, N, out);
    } else {
        g711_ulaw_encode(in, N, code);
        g711_ulaw_decode(code, N, out);
    }
    double sig = 0, err = 0;
    for (int i = 0; i < N; i++) {
        sig += (double)in[i] * in[i];
        err += (double)(in[i] - out[i]) * (in[i] - out[i]);
    }
    return 10.0 * log10(sig / err);
}

int main(void)
{
    /* G.711 table 2a (mu-law): +0 is 0xFF, -0 is 0x7F, the largest
     * magnitudes 0x80 / 0x00 decode to +/-32124 (8159 in 14-bit units x 4). */
    CHECK(g711_ulaw_from_linear(0) == 0xFF, "ulaw(0) = %#x", g711_ulaw_from_linear(0));
    CHECK(g711_ulaw_to_linear(0xFF) == 0, "ulaw^-1(0xFF)");
    CHECK(g711_ulaw_to_linear(0x7F) == 0, "ulaw^-1(0x7F)");
    CHECK(g711_ulaw_to_linear(0x80) == 32124, "ulaw^-1(0x80) = %d", g711_ulaw_to_linear(0x80));
    CHECK(g711_ulaw_to_linear(0x00) == -32124, "ulaw^-1(0x00) = %d", g711_ulaw_to_linear(0x00));
    CHECK(g711_ulaw_from_linear(32767) == 0x80, "ulaw(32767) = %#x", g711_ulaw_from_linear(32767));
    CHECK(g711_ulaw_from_linear(-32768) == 0x00, "ulaw(-32768)");
    /* G.711 table 1a (A-law): the smallest positive step is 0xD5 (even bits
     * inverted), decoding to +8 (1 in 13-bit units x 8, midpoint); full
     * scale 0xAA / 0x2A decode to +/-32256 (4032 x 8). */
    CHECK(g711_alaw_from_linear(0) == 0xD5, "alaw(0) = %#x", g711_alaw_from_linear(0));
    CHECK(g711_alaw_to_linear(0xD5) == 8, "alaw^-1(0xD5) = %d", g711_alaw_to_linear(0xD5));
    CHECK(g711_alaw_to_linear(0x55) == -8, "alaw^-1(0x55)");
    CHECK(g711_alaw_to_linear(0xAA) == 32256, "alaw^-1(0xAA) = %d", g711_alaw_to_linear(0xAA));
    CHECK(g711_alaw_to_linear(0x2A) == -32256, "alaw^-1(0x2A)");
    CHECK(g711_alaw_from_linear(32767) == 0xAA, "alaw(32767) = %#x", g711_alaw_from_linear(32767));

    /* Decoding is exact: a decoded value encodes to a code with that value. */
    for (int c = 0; c < 256; c++) {
        int16_t u = g711_ulaw_to_linear((uint8_t)c);
        CHECK(g711_ulaw_to_linear(g711_ulaw_from_linear(u)) == u, "ulaw code %#x not stable", c);
        int16_t a = g711_alaw_to_linear((uint8_t)c);
        CHECK(g711_alaw_from_linear(a) == c, "alaw code %#x -> %d -> %#x", c, a,
              g711_alaw_from_linear(a));
    }
    /* Quantisation error: half a step, and a step is at most 1/16 of the
     * magnitude (both laws have 16 steps per doubling) plus the clip. */
    for (int x = -32768; x <= 32767; x++) {
        int eu = abs(x - g711_ulaw_to_linear(g711_ulaw_from_linear((int16_t)x)));
        int ea = abs(x - g711_alaw_to_linear(g711_alaw_from_linear((int16_t)x)));
        int bound = abs(x) / 16 + 16;
        if (abs(x) > 32124)
            bound += abs(x) - 32124; /* beyond the largest code: clipped */
        CHECK(eu <= bound, "ulaw error %d at %d", eu, x);
        CHECK(ea <= bound, "alaw error %d at %d", ea, x);
        if (failures > 20)
            break;
    }
    /* Encoding is monotonic in the linear value. */
    for (int x = -32767; x <= 32767; x++) {
        CHECK(g711_ulaw_to_linear(g711_ulaw_from_linear((int16_t)x)) >=
                  g711_ulaw_to_linear(g711_ulaw_from_linear((int16_t)(x - 1))),
              "ulaw not monotonic at %d", x);
        if (failures > 20)
            break;
    }
    /* A -6 dBFS 1 kHz tone: G.711's SNR there is about 38 dB. */
    double su = sine_snr(0), sa = sine_snr(1);
    CHECK(su > 35.0, "ulaw sine SNR %.1f dB", su);
    CHECK(sa > 35.0, "alaw sine SNR %.1f dB", sa);
    if (failures) {
        fprintf(stderr, "g711_test: %d failure(s)\n", failures);
        return 1;
    }
    printf("g711_test: ok (sine SNR: ulaw %.1f dB, alaw %.1f dB)\n", su, sa);
    return 0;
}
