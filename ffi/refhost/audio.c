/*
 * audio.c — WAV read/write, linear resampling and tones for the reference
 * host. See audio.h. Plain C11, no dependencies.
 */
#include "audio.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

int pcm_append(pcm_buf *b, const int16_t *src, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n) {
            cap *= 2;
        }
        int16_t *p = realloc(b->samples, cap * sizeof *p);
        if (!p) {
            return -1;
        }
        b->samples = p;
        b->cap = cap;
    }
    if (src) {
        memcpy(b->samples + b->len, src, n * sizeof *src);
    } else {
        memset(b->samples + b->len, 0, n * sizeof *b->samples);
    }
    b->len += n;
    return 0;
}

void pcm_free(pcm_buf *b)
{
    free(b->samples);
    memset(b, 0, sizeof *b);
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const unsigned char *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

int resample_linear(const int16_t *in, size_t n, uint32_t in_rate, uint32_t out_rate,
                    int16_t **out, size_t *out_n)
{
    size_t m = (size_t)((double)n * out_rate / in_rate);
    int16_t *o = malloc((m ? m : 1) * sizeof *o);
    if (!o) {
        return -1;
    }
    for (size_t i = 0; i < m; i++) {
        double pos = (double)i * in_rate / out_rate;
        size_t k = (size_t)pos;
        double frac = pos - (double)k;
        double a = in[k < n ? k : n - 1];
        double b = in[k + 1 < n ? k + 1 : n - 1];
        o[i] = (int16_t)lrint(a + (b - a) * frac);
    }
    *out = o;
    *out_n = m;
    return 0;
}

int wav_read(const char *path, uint32_t rate, pcm_buf *out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    unsigned char hdr[12];
    unsigned channels = 0, bits = 0, format = 0;
    uint32_t in_rate = 0;
    int16_t *pcm = NULL;
    size_t frames = 0;
    int rc = -1;
    if (fread(hdr, 1, 12, f) != 12 || memcmp(hdr, "RIFF", 4) || memcmp(hdr + 8, "WAVE", 4)) {
        snprintf(err, errlen, "%s: not a RIFF/WAVE file", path);
        goto done;
    }
    for (;;) {
        unsigned char ch[8];
        if (fread(ch, 1, 8, f) != 8) {
            snprintf(err, errlen, "%s: no data chunk", path);
            goto done;
        }
        uint32_t size = le32(ch + 4);
        if (!memcmp(ch, "fmt ", 4)) {
            unsigned char fmt[16];
            if (size < 16 || fread(fmt, 1, 16, f) != 16) {
                snprintf(err, errlen, "%s: short fmt chunk", path);
                goto done;
            }
            format = le16(fmt);
            channels = le16(fmt + 2);
            in_rate = le32(fmt + 4);
            bits = le16(fmt + 14);
            if (fseek(f, (long)(size - 16 + (size & 1)), SEEK_CUR)) {
                goto done;
            }
        } else if (!memcmp(ch, "data", 4)) {
            if (format != 1 || bits != 16 || channels < 1 || channels > 2 || in_rate == 0) {
                snprintf(err, errlen, "%s: only PCM 16-bit mono/stereo WAV is supported", path);
                goto done;
            }
            size_t bytes = size;
            unsigned char *raw = malloc(bytes ? bytes : 1);
            if (!raw) {
                goto done;
            }
            bytes = fread(raw, 1, bytes, f); /* a truncated file plays what it has */
            frames = bytes / (2u * channels);
            pcm = malloc((frames ? frames : 1) * sizeof *pcm);
            if (!pcm) {
                free(raw);
                goto done;
            }
            for (size_t i = 0; i < frames; i++) {
                int sum = 0;
                for (unsigned c = 0; c < channels; c++) {
                    sum += (int16_t)le16(raw + (i * channels + c) * 2);
                }
                pcm[i] = (int16_t)(sum / (int)channels);
            }
            free(raw);
            break;
        } else if (fseek(f, (long)(size + (size & 1)), SEEK_CUR)) {
            snprintf(err, errlen, "%s: truncated chunk", path);
            goto done;
        }
    }
    if (in_rate == rate) {
        rc = pcm_append(out, pcm, frames);
    } else {
        int16_t *rs = NULL;
        size_t rn = 0;
        if (resample_linear(pcm, frames, in_rate, rate, &rs, &rn) == 0) {
            rc = pcm_append(out, rs, rn);
            free(rs);
        }
    }
    out->rate = rate;
done:
    free(pcm);
    fclose(f);
    return rc;
}

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static void put16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

int wav_write(const char *path, const int16_t *samples, size_t n, uint32_t rate)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        return -1;
    }
    unsigned char h[44];
    uint32_t data = (uint32_t)(n * 2);
    memcpy(h, "RIFF", 4);
    put32(h + 4, 36 + data);
    memcpy(h + 8, "WAVEfmt ", 8);
    put32(h + 16, 16);
    put16(h + 20, 1);
    put16(h + 22, 1);
    put32(h + 24, rate);
    put32(h + 28, rate * 2);
    put16(h + 32, 2);
    put16(h + 34, 16);
    memcpy(h + 36, "data", 4);
    put32(h + 40, data);
    int ok = fwrite(h, 1, 44, f) == 44;
    for (size_t i = 0; ok && i < n; i++) {
        unsigned char s[2];
        put16(s, (uint16_t)samples[i]);
        ok = fwrite(s, 1, 2, f) == 2;
    }
    if (fclose(f) != 0) {
        ok = 0;
    }
    return ok ? 0 : -1;
}

int tone_make(double hz, double seconds, double dbfs, uint32_t rate, pcm_buf *out)
{
    size_t n = (size_t)(seconds * rate);
    double amp = 32767.0 * pow(10.0, dbfs / 20.0);
    if (pcm_append(out, NULL, n)) {
        return -1;
    }
    int16_t *s = out->samples + out->len - n;
    for (size_t i = 0; i < n; i++) {
        s[i] = (int16_t)lrint(amp * sin(2.0 * M_PI * hz * (double)i / rate));
    }
    out->rate = rate;
    return 0;
}
