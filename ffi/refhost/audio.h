/*
 * audio.h — the little audio toolbox a host needs around huddle: read and
 * write 16-bit PCM WAV, resample linearly, make a tone. A real softswitch
 * has all of this already (RTP, codecs, file playback); it is here only so
 * the reference host stands alone. No conference logic.
 */
#ifndef REFHOST_AUDIO_H
#define REFHOST_AUDIO_H

#include <stddef.h>
#include <stdint.h>

/* A growable mono 16-bit buffer. */
typedef struct pcm_buf {
    int16_t *samples;
    size_t len;
    size_t cap;
    uint32_t rate;
} pcm_buf;

/* Appends `n` samples (or `n` zeros when `src` is NULL). 0 on success. */
int pcm_append(pcm_buf *b, const int16_t *src, size_t n);
void pcm_free(pcm_buf *b);

/* Reads a PCM 16-bit WAV (any rate, mono or stereo mixed down) and
 * resamples it to `rate`. On failure returns -1 and writes a reason to
 * `err` (size `errlen`). */
int wav_read(const char *path, uint32_t rate, pcm_buf *out, char *err, size_t errlen);

/* Writes mono 16-bit PCM as a WAV file. 0 on success, -1 with errno set. */
int wav_write(const char *path, const int16_t *samples, size_t n, uint32_t rate);

/* Linear-interpolation resampler: good enough for a test host, not for
 * production audio. Allocates `*out` (free with free()). */
int resample_linear(const int16_t *in, size_t n, uint32_t in_rate, uint32_t out_rate,
                    int16_t **out, size_t *out_n);

/* A sine tone of `seconds` at `hz`, `dbfs` below full scale. */
int tone_make(double hz, double seconds, double dbfs, uint32_t rate, pcm_buf *out);

#endif /* REFHOST_AUDIO_H */
