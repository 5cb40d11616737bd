/*
 * g722.c — see g722.h. The block names in comments (QUANTL, LOGSCL,
 * UPPOL2, ...) are those of ITU-T G.722 section 6, so each step can be
 * checked against the recommendation; the tables are its tables.
 */
#include "g722.h"

#include <stdbool.h>
#include <string.h>

/* QMF coefficients h0..h23 (G.722 table 11), symmetric. */
static const int16_t qmf_h[24] = {3,    -11,  -11, 53,   12,   -156, 32,  362,
                                  -210, -805, 951, 3876, 3876, 951,  -805, -210,
                                  362,  32,   -156, 12,  53,   -11,  -11,  3};

/* QUANTL: the 6-bit low-band quantizer's decision levels (table 6,
 * scaled by 2^3 here, compared against det << 12). */
static const int16_t q6[31] = {0,    35,   72,   110,  150,  190,  233,  276,  323,  370,  422,
                               473,  530,  587,  650,  714,  786,  858,  940,  1023, 1121, 1219,
                               1339, 1458, 1612, 1765, 1980, 2195, 2557, 2919, 0};
/* The codes for interval i of a negative (iln) or positive (ilp) error. */
static const uint8_t iln[31] = {0,  63, 62, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19,
                                18, 17, 16, 15, 14, 13, 12, 11, 10, 9,  8,  7,  6,  5,  4};
static const uint8_t ilp[31] = {0,  61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47,
                                46, 45, 44, 43, 42, 41, 40, 39, 38, 37, 36, 35, 34, 33, 32};

/* INVQBL: the 6-bit low-band inverse quantizer outputs (table 7). */
static const int16_t qm6[64] = {
    -136,   -136,   -136,   -136,   -24808, -21904, -19008, -16704, -14984, -13512, -12280,
    -11192, -10232, -9360,  -8576,  -7856,  -7192,  -6576,  -6000,  -5456,  -4944,  -4464,
    -4008,  -3576,  -3168,  -2776,  -2400,  -2032,  -1688,  -1360,  -1040,  -728,   24808,
    21904,  19008,  16704,  14984,  13512,  12280,  11192,  10232,  9360,   8576,   7856,
    7192,   6576,   6000,   5456,   4944,   4464,   4008,   3576,   3168,   2776,   2400,
    2032,   1688,   1360,   1040,   728,    432,    136,    -432,   -136};
/* INVQAL: the 4-bit (truncated) low-band inverse quantizer, which feeds
 * the predictor at every bit rate (table 7). */
static const int16_t qm4[16] = {0,     -20456, -12896, -8968, -6288, -4240, -2584, -1200,
                                20456, 12896,  8968,   6288,  4240,  2584,  1200,  0};
/* INVQAH: the 2-bit high-band inverse quantizer (table 9). */
static const int16_t qm2[4] = {-7408, -1616, 7408, 1616};

/* LOGSCL / LOGSCH: log scale factor multipliers (tables 8 and 10),
 * indexed through the magnitude maps rl42 and rh2. */
static const int16_t wl[8] = {-60, -30, 58, 172, 334, 538, 1198, 3042};
static const uint8_t rl42[16] = {0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0};
static const int16_t wh[3] = {0, -214, 798};
static const uint8_t rh2[4] = {2, 1, 2, 1};

/* SCALEL / SCALEH: the antilog table (table 14). */
static const int16_t ilb[32] = {2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383,
                                2435, 2489, 2543, 2599, 2656, 2714, 2774, 2834,
                                2896, 2960, 3025, 3091, 3158, 3228, 3298, 3371,
                                3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008};

static int16_t sat16(int32_t v)
{
    return (int16_t)(v > 32767 ? 32767 : v < -32768 ? -32768 : v);
}

static int16_t sat15(int32_t v)
{
    return (int16_t)(v > 16383 ? 16383 : v < -16384 ? -16384 : v);
}

/* The recommendation's sgn(): 0 counts as positive, so two values have
 * different signs exactly when their XOR is negative. */
static int signs_differ(int16_t x, int16_t y) { return (x ^ y) < 0; }

/* LOGSCL+SCALEL (shift 8, limit 18432) or LOGSCH+SCALEH (shift 10,
 * limit 22528): adapt the scale factor to the last code's magnitude. */
static void scale(g722_band *b, int16_t w, int16_t limit, int shift)
{
    int32_t nb = ((int32_t)b->nb * 127 >> 7) + w;
    nb = nb < 0 ? 0 : nb > limit ? limit : nb;
    b->nb = (int16_t)nb;
    int32_t mant = ilb[(nb >> 6) & 31];
    int e = shift - (int)(nb >> 11);
    int32_t lin = e < 0 ? mant << -e : mant >> e;
    b->det = (int16_t)(lin << 2);
}

/* Block 4 (RECONS, PARREC, UPPOL1/2, UPZERO, DELAYA, FILTEP, FILTEZ,
 * PREDIC): adapt the predictor to the quantized difference `dq` and
 * compute the next signal estimate. */
static void predict(g722_band *b, int16_t dq)
{
    int16_t r = sat16((int32_t)b->s + dq);
    int16_t p = sat16((int32_t)b->sz + dq);

    /* UPPOL2 */
    int32_t wd = sat16((int32_t)b->a[0] * 4);
    wd = signs_differ(p, b->p[0]) ? wd : -wd;
    if (wd > 32767)
        wd = 32767;
    int32_t a2 = (signs_differ(p, b->p[1]) ? -128 : 128) + (wd >> 7) +
                 ((int32_t)b->a[1] * 32512 >> 15);
    a2 = a2 > 12288 ? 12288 : a2 < -12288 ? -12288 : a2;
    /* UPPOL1, with |a1| <= 15360 - a2 keeping the pole section stable */
    int32_t a1 = sat16((signs_differ(p, b->p[0]) ? -192 : 192) + ((int32_t)b->a[0] * 32640 >> 15));
    int32_t lim = 15360 - a2;
    a1 = a1 > lim ? lim : a1 < -lim ? -lim : a1;

    /* FILTEP on the new coefficients and the last two reconstructions */
    int32_t sp = (a1 * sat16(2 * (int32_t)r) >> 15) + (a2 * sat16(2 * (int32_t)b->r1) >> 15);
    b->r1 = r;
    b->a[0] = (int16_t)a1;
    b->a[1] = (int16_t)a2;
    b->p[1] = b->p[0];
    b->p[0] = p;

    /* UPZERO: each zero coefficient leaks and moves by the sign agreement
     * of dq with the difference it weighs; then DELAYA and FILTEZ. */
    int32_t g = dq == 0 ? 0 : 128;
    for (int i = 0; i < 6; i++) {
        int32_t step = signs_differ(b->d[i], dq) ? -g : g;
        b->b[i] = sat16(step + ((int32_t)b->b[i] * 32640 >> 15));
    }
    memmove(b->d + 1, b->d, 5 * sizeof b->d[0]);
    b->d[0] = dq;
    int32_t sz = 0;
    for (int i = 0; i < 6; i++)
        sz += (int32_t)b->b[i] * sat16(2 * (int32_t)b->d[i]) >> 15;
    b->sz = sat16(sz);
    b->s = sat16(sat16(sp) + (int32_t)b->sz);
}

static void band_init(g722_band *b, int16_t det)
{
    memset(b, 0, sizeof *b);
    b->det = det;
}

void g722_encoder_init(g722_encoder *e)
{
    memset(e, 0, sizeof *e);
    band_init(&e->low, 32);
    band_init(&e->high, 8);
}

void g722_decoder_init(g722_decoder *d)
{
    memset(d, 0, sizeof *d);
    band_init(&d->low, 32);
    band_init(&d->high, 8);
}

/* INVQAL/INVQAH, LOGSCL/LOGSCH + SCALEL/SCALEH, block 4: the adaptation
 * encoder and decoder both run on each code. The quantized difference
 * uses the scale factor from before this code's adaptation. */
static void adapt_low(g722_band *b, uint8_t code6)
{
    int ril = code6 >> 2;
    int16_t dq = (int16_t)((int32_t)b->det * qm4[ril] >> 15);
    scale(b, wl[rl42[ril]], 18432, 8);
    predict(b, dq);
}

static void adapt_high(g722_band *b, uint8_t code2)
{
    int16_t dq = (int16_t)((int32_t)b->det * qm2[code2] >> 15);
    scale(b, wh[rh2[code2]], 22528, 10);
    predict(b, dq);
}

size_t g722_encode(g722_encoder *e, const int16_t *pcm, size_t n, uint8_t *out)
{
    size_t octets = n / 2;
    for (size_t k = 0; k < octets; k++) {
        /* Transmit QMF: the even taps weigh the older sample of each pair,
         * the odd taps the newer; their sum is the low band, their
         * difference the high band. >> 14: the filters' gain 2^12, the
         * sum of two, and G.722's 15-bit input. */
        memmove(e->qmf, e->qmf + 2, 22 * sizeof e->qmf[0]);
        e->qmf[22] = pcm[2 * k];
        e->qmf[23] = pcm[2 * k + 1];
        int32_t even = 0, odd = 0;
        for (int i = 0; i < 24; i += 2) {
            even += (int32_t)e->qmf[i] * qmf_h[i];
            odd += (int32_t)e->qmf[i + 1] * qmf_h[i + 1];
        }
        int16_t xl = (int16_t)((odd + even) >> 14);
        int16_t xh = (int16_t)((odd - even) >> 14);

        /* SUBTRA, QUANTL: the interval of the error's magnitude (the
         * one's complement of a negative error, as the recommendation). */
        int16_t el = sat16((int32_t)xl - e->low.s);
        int32_t mag = el >= 0 ? el : ~el;
        int i = 1;
        while (i < 30 && mag >= ((int32_t)q6[i] * e->low.det >> 12))
            i++;
        uint8_t low = el < 0 ? iln[i] : ilp[i];

        /* SUBTRA, QUANTH: two intervals per sign. */
        int16_t eh = sat16((int32_t)xh - e->high.s);
        mag = eh >= 0 ? eh : ~eh;
        bool outer = mag >= (564 * (int32_t)e->high.det >> 12);
        uint8_t high = eh < 0 ? (outer ? 0 : 1) : (outer ? 2 : 3);

        adapt_low(&e->low, low);
        adapt_high(&e->high, high);
        out[k] = (uint8_t)(high << 6 | low);
    }
    return octets;
}

size_t g722_decode(g722_decoder *d, const uint8_t *in, size_t n, int16_t *pcm)
{
    for (size_t k = 0; k < n; k++) {
        uint8_t low = in[k] & 0x3F, high = in[k] >> 6;
        /* INVQBL, RECONS, LIMIT: the full 6-bit value for the output;
         * the predictor only ever sees the 4-bit one (adapt_low). */
        int16_t rl = sat15((int32_t)d->low.s + ((int32_t)d->low.det * qm6[low] >> 15));
        int16_t rh = sat15((int32_t)d->high.s + ((int32_t)d->high.det * qm2[high] >> 15));
        adapt_low(&d->low, low);
        adapt_high(&d->high, high);

        /* Receive QMF: >> 11 undoes the filters' 2^12 gain and restores
         * the 16-bit scale. */
        memmove(d->sum, d->sum + 1, 11 * sizeof d->sum[0]);
        memmove(d->diff, d->diff + 1, 11 * sizeof d->diff[0]);
        d->sum[11] = (int16_t)(rl + rh);
        d->diff[11] = (int16_t)(rl - rh);
        int32_t first = 0, second = 0;
        for (int i = 0; i < 12; i++) {
            first += (int32_t)d->diff[i] * qmf_h[2 * i + 1];
            second += (int32_t)d->sum[i] * qmf_h[2 * i];
        }
        pcm[2 * k] = sat16(first >> 11);
        pcm[2 * k + 1] = sat16(second >> 11);
    }
    return 2 * n;
}
