/*
 * g722_test.c — checks ffi/common/g722 two ways:
 *   - against an independent implementation, spandsp's (libspandsp.so.2,
 *     loaded at run time; Debian's baresip g722 module uses it): for the
 *     same 16 kHz input both encoders must emit the same octets, and
 *     both decoders must turn the same octets into the same samples —
 *     G.722's decoder tracks the encoder's state, so any difference in
 *     the quantizers or predictor shows up as diverging codes;
 *   - by what a listener gets: a 1 kHz tone and a speech-like signal
 *     (voiced harmonics under a syllable envelope, plus a 5 kHz band
 *     only a wideband codec keeps) come back with a bounded error after
 *     the codec's delay.
 */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "g722.h"

enum { RATE = 16000, N = 3 * RATE };

static int16_t in[N], ours[N], theirs[N];
static uint8_t code_ours[N / 2], code_theirs[N / 2];

/* SNR in dB of `out` against `ref` delayed by the lag that fits best
 * (the two QMFs delay by 22 samples); the first 100 ms let the
 * adaptation settle. */
static double snr_db(const int16_t *ref, const int16_t *out, size_t n, int *lag_out)
{
    double best = -1e9;
    for (int lag = 0; lag < 64; lag++) {
        double sig = 0, err = 0;
        for (size_t i = RATE / 10; i + lag < n; i++) {
            double e = (double)out[i + lag] - ref[i];
            sig += (double)ref[i] * ref[i];
            err += e * e;
        }
        double snr = 10.0 * log10(sig / (err + 1e-9));
        if (snr > best) {
            best = snr;
            *lag_out = lag;
        }
    }
    return best;
}

static void tone(void)
{
    for (int i = 0; i < N; i++)
        in[i] = (int16_t)lrint(12000.0 * sin(2.0 * M_PI * 1000.0 * i / RATE));
}

static void speechlike(void)
{
    unsigned rng = 12345;
    for (int i = 0; i < N; i++) {
        double t = (double)i / RATE;
        double f0 = 120.0 + 30.0 * sin(2.0 * M_PI * 0.7 * t); /* gliding pitch */
        double env = 0.5 - 0.5 * cos(2.0 * M_PI * 4.0 * t);  /* 4 syllables/s */
        double v = 0;
        for (int h = 1; h <= 20; h++)
            v += sin(2.0 * M_PI * f0 * h * t + h) / h;
        rng = rng * 1103515245u + 12345u;
        double noise = ((double)(rng >> 16 & 0x7FFF) / 16384.0 - 1.0);
        v = 6000.0 * env * v + 1500.0 * sin(2.0 * M_PI * 5000.0 * t) * env + 300.0 * noise;
        in[i] = (int16_t)lrint(v);
    }
}

typedef void *(*init_fn)(void *, int, int);
typedef int (*enc_fn)(void *, uint8_t *, const int16_t *, int);
typedef int (*dec_fn)(void *, int16_t *, const uint8_t *, int);

/* POSIX guarantees dlsym's result converts to a function pointer; ISO C
 * does not, so copy the bits. */
#define SYM(lib, name, var) do { void *p_ = dlsym(lib, name); memcpy(&(var), &p_, sizeof p_); } while (0)

static void against_spandsp(void *lib, const char *what)
{
    init_fn enc_init = NULL, dec_init = NULL;
    enc_fn enc = NULL;
    dec_fn dec = NULL;
    SYM(lib, "g722_encode_init", enc_init);
    SYM(lib, "g722_decode_init", dec_init);
    SYM(lib, "g722_encode", enc);
    SYM(lib, "g722_decode", dec);
    CHECK(enc_init && dec_init && enc && dec, "libspandsp.so.2 lacks the g722 functions");
    if (!(enc_init && dec_init && enc && dec))
        return;
    void *se = enc_init(NULL, 64000, 0), *sd = dec_init(NULL, 64000, 0);
    CHECK(se && sd, "spandsp g722 init failed");
    if (!se || !sd)
        return;
    g722_encoder e;
    g722_decoder d;
    g722_encoder_init(&e);
    g722_decoder_init(&d);
    /* Fed in 20 ms packets, as huddle-sip does. */
    for (int at = 0; at < N; at += 320) {
        CHECK(g722_encode(&e, in + at, 320, code_ours + at / 2) == 160, "encode length");
        CHECK(enc(se, code_theirs + at / 2, in + at, 320) == 160, "spandsp encode length");
    }
    int first = -1;
    for (int i = 0; i < N / 2 && first < 0; i++)
        if (code_ours[i] != code_theirs[i])
            first = i;
    CHECK(first < 0, "%s: our code %#x differs from spandsp's %#x at octet %d", what,
          first < 0 ? 0 : code_ours[first], first < 0 ? 0 : code_theirs[first], first);
    for (int at = 0; at < N / 2; at += 160) {
        CHECK(g722_decode(&d, code_theirs + at, 160, ours + 2 * at) == 320, "decode length");
        CHECK(dec(sd, theirs + 2 * at, code_theirs + at, 160) == 320, "spandsp decode length");
    }
    first = -1;
    for (int i = 0; i < N && first < 0; i++)
        if (ours[i] != theirs[i])
            first = i;
    CHECK(first < 0, "%s: our decoded sample %d differs from spandsp's %d at %d", what,
          first < 0 ? 0 : ours[first], first < 0 ? 0 : theirs[first], first);
    free(se);
    free(sd);
}

static double round_trip(int want_lag)
{
    g722_encoder e;
    g722_decoder d;
    g722_encoder_init(&e);
    g722_decoder_init(&d);
    g722_encode(&e, in, N, code_ours);
    g722_decode(&d, code_ours, N / 2, ours);
    int lag = 0;
    double snr = snr_db(in, ours, N, &lag);
    CHECK(want_lag < 0 || lag == want_lag, "codec delay %d samples, expected %d", lag, want_lag);
    return snr;
}

int main(void)
{
    void *lib = dlopen("libspandsp.so.2", RTLD_NOW);
    CHECK(lib != NULL, "cannot load libspandsp.so.2 (Debian libspandsp2, baresip's G.722): %s",
          dlerror());

    /* A tone's best lag is ambiguous by its period; it only bounds the SNR. */
    tone();
    double snr = round_trip(-1);
    printf("g722: 1 kHz tone SNR %.1f dB\n", snr);
    CHECK(snr > 30.0, "1 kHz tone SNR %.1f dB, expected > 30", snr);
    if (lib)
        against_spandsp(lib, "tone");

    /* The two 24-tap QMFs together delay by 22 samples (1.4 ms). */
    speechlike();
    snr = round_trip(22);
    printf("g722: speech-like SNR %.1f dB\n", snr);
    CHECK(snr > 15.0, "speech-like SNR %.1f dB, expected > 15", snr);
    if (lib)
        against_spandsp(lib, "speech-like");

    /* An odd sample count codes the complete pairs only. */
    g722_encoder e;
    g722_encoder_init(&e);
    CHECK(g722_encode(&e, in, 3, code_ours) == 1, "3 samples must give 1 octet");

    if (failures)
        fprintf(stderr, "g722_test: %d failure(s)\n", failures);
    else
        printf("g722_test: OK\n");
    return failures ? 1 : 0;
}
