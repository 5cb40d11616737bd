/*
 * huddle_host.h — the host side of the huddle ABI.
 *
 * Hand-written, read by bindgen when huddle is built, and included by hosts.
 * A host softswitch fills in a `huddle_host` table and hands it to
 * `huddle_module_interface.load`. Everything huddle needs from the host
 * (logging, audio out, hangup, events, dial-out) goes through this table.
 *
 * Threading contract for every callback:
 *   - `log`, `event`, `hangup` and `originate` are never called while huddle
 *     holds a lock, so they may call back into any huddle entry point.
 *     With `timer = manual` they run on the host thread that made the
 *     huddle call which produced them, before that call returns; with
 *     `timer = realtime` they run on huddle's dispatcher thread. A call
 *     made from inside one of them queues what it produces and returns;
 *     the delivery already running delivers it next, so callbacks never
 *     nest, however many a command produces.
 *   - `send_audio` runs on a mixer thread (realtime) or inside
 *     `huddle_module_advance` (manual). It must copy the frame and return
 *     quickly: it must not block and must not call into huddle (a call
 *     from there does nothing and returns HUDDLE_STATUS_INSIDE_CALLBACK).
 *     Its time is measured and shown by `conference stats`.
 *   - Every pointer huddle passes is borrowed for the duration of the call.
 *
 * A NULL callback means "the host does not support this"; huddle then
 * degrades (no logs, no audio out, a leg it cannot hang up is dropped
 * from the room, an invite is refused with a log line).
 */
#ifndef HUDDLE_HOST_H
#define HUDDLE_HOST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI version a host was compiled against. Bumped on any change to
 * this header or to the module interface table. */
#define HUDDLE_HOST_ABI_VERSION 1u

/* Log levels, most severe first (same order as syslog and Rust's `log`). */
typedef enum huddle_log_level {
    HUDDLE_LOG_ERROR = 1,
    HUDDLE_LOG_WARN = 2,
    HUDDLE_LOG_INFO = 3,
    HUDDLE_LOG_DEBUG = 4,
    HUDDLE_LOG_TRACE = 5
} huddle_log_level;

/* Audio codecs a frame may carry. */
typedef enum huddle_codec {
    /* Signed 16-bit linear PCM, host byte order, mono. */
    HUDDLE_CODEC_L16 = 1,
    /* One Opus packet (RFC 6716), mono or stereo, decoded to mono. */
    HUDDLE_CODEC_OPUS = 2,
    /* G.711 mu-law (PCMU): 8000 Hz, one octet a sample. */
    HUDDLE_CODEC_PCMU = 3,
    /* G.711 A-law (PCMA): 8000 Hz, one octet a sample. */
    HUDDLE_CODEC_PCMA = 4
} huddle_codec;

/* One audio frame, in either direction.
 *
 * In (huddle_member_audio): `data`/`len` are borrowed for the call. For L16,
 * `len` must be `samples * 2` bytes and `samples` must equal the member's
 * frame size at `sample_rate`; PCMU and PCMA likewise with one byte a
 * sample, at 8000 Hz only. For Opus, `samples` is ignored on input.
 * Out (send_audio): `data` is valid only during the callback. */
typedef struct huddle_frame {
    uint32_t codec;        /* a huddle_codec value */
    uint32_t sample_rate;  /* 8000, 16000, 24000, 32000 or 48000 */
    uint32_t samples;      /* samples per channel in this frame */
    const uint8_t *data;   /* payload: PCM bytes, one Opus packet or G.711 octets */
    size_t len;            /* bytes at data */
    /* RFC 6464 client-to-mixer audio level: -dBov, 0 (loudest) .. 127
     * (silence), or -1 when the sender did not supply one. */
    int32_t audio_level;
    /* RTP sequence number (0..65535), or -1 when unknown. Used by the
     * jitter buffer to order frames and to find losses. */
    int32_t sequence;
} huddle_frame;

/* Who is calling: copied by huddle when a member is created. Any field may
 * be NULL (treated as empty). */
typedef struct huddle_caller {
    const char *channel;      /* the host's id for this call leg; required */
    const char *account;      /* account / tenant; rooms are per account */
    const char *call_id;      /* the CallSid users see in events */
    const char *from;         /* caller number or URI */
    const char *to;           /* dialled number or URI */
    const char *caller_name;  /* display name */
} huddle_caller;

/* One key/value pair of an event. */
typedef struct huddle_event_field {
    const char *key;
    const char *value;
} huddle_event_field;

/* A structured event: `name` is the StatusCallbackEvent
 * (e.g. "participant-join"); `fields` are ordered key/value pairs, the same
 * keys a <Conference> statusCallback receives. Borrowed for the callback. */
typedef struct huddle_event {
    const char *name;
    const huddle_event_field *fields;
    size_t field_count;
} huddle_event;

/* The callback table a host fills in. `abi_version` must equal
 * HUDDLE_HOST_ABI_VERSION; `ctx` is passed back unchanged to every callback.
 * huddle copies the table at load; the host may free it afterwards. */
typedef struct huddle_host {
    uint32_t abi_version;
    void *ctx;
    void (*log)(void *ctx, huddle_log_level level, const char *target,
                const char *message);
    void (*send_audio)(void *ctx, const char *channel,
                       const huddle_frame *frame);
    /* `cause` is a Q.850 cause code (16 normal clearing, 21 call rejected,
     * 34 no circuit/room full, ...) */
    void (*hangup)(void *ctx, const char *channel, uint32_t cause);
    void (*event)(void *ctx, const huddle_event *event);
    /* Dial `destination` and, when answered, run the conference app for it
     * in `room` of `account`. Returns 0 when the dial was started. */
    int32_t (*originate)(void *ctx, const char *destination, const char *room,
                         const char *account);
} huddle_host;

#ifdef __cplusplus
}
#endif

#endif /* HUDDLE_HOST_H */
