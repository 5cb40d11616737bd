/*
 * legs.h — the channels mod_huddle is carrying, by FreeSWITCH uuid, and the
 * audio huddle has sent to each, waiting for the channel's own thread.
 *
 * Plain C and pthreads, no FreeSWITCH call: huddle's mixer threads reach
 * this through send_audio, and huddle_host.h forbids them to block or to
 * call back into the softswitch, so nothing here may take a FreeSWITCH lock.
 */
#ifndef MOD_HUDDLE_LEGS_H
#define MOD_HUDDLE_LEGS_H

#include <stddef.h>
#include <stdint.h>

#include "huddle_host.h"

/* 60 ms at 48 kHz: the largest frame huddle sends. */
#define LEG_MAX_SAMPLES 2880u
/* Frames waiting for the channel thread; a channel further behind than
 * this has stalled, and its oldest audio is the least worth keeping. */
#define LEG_QUEUE_FRAMES 8u

typedef struct leg leg;

/* One frame taken off a leg's queue: L16 samples, or the call's own codec
 * (one Opus packet, or G.711 octets) for a call that sends huddle that codec
 * (huddle answers in the format the member sends). */
typedef struct leg_frame {
    uint32_t codec; /* a huddle_codec */
    uint32_t sample_rate;
    uint32_t samples;
    uint32_t len; /* bytes at data */
    union {
        int16_t pcm[LEG_MAX_SAMPLES];
        uint8_t bytes[LEG_MAX_SAMPLES * 2];
    } data;
} leg_frame;

/* Registers `uuid`. NULL when it is already registered (a channel runs the
 * app twice at once) or memory is short. */
leg *leg_open(const char *uuid);
/* Unregisters and frees; after it returns no huddle thread touches `l`. */
void leg_close(leg *l);

/* From send_audio (any thread): copies a frame onto the leg's queue,
 * dropping the oldest when full. Returns 0, or -1 when no such leg, or the
 * frame is not whole L16 samples, G.711 octets or an Opus packet, is
 * empty, or does not fit. */
int legs_push(const char *uuid, const huddle_frame *frame);
/* From the leg's channel thread: 1 and the oldest frame in `out`, or 0. */
int leg_pop(leg *l, leg_frame *out);
/* From the leg's channel thread: drops the oldest frames until at most
 * `keep` wait, counting them as dropped. */
void leg_trim(leg *l, unsigned keep);
/* Frames dropped because the queue was full or trimmed. */
uint64_t leg_dropped(const leg *l);

/* How many legs are open (unload waits for none). */
size_t legs_count(void);

#endif
