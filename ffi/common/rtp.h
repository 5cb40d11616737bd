/*
 * rtp.h — the RTP details every huddle host needs, in one place (STYLE.md 18):
 * reading a packet (RFC 3550) with its RFC 6464 audio level, writing one
 * with sequence/timestamp continuity, and RFC 4733 telephone events.
 *
 * Plain C11, no allocation, no globals: each function works on the caller's
 * buffers and state, so any thread may use its own state without locks.
 */
#ifndef HUDDLE_RTP_H
#define HUDDLE_RTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HRTP_HEADER_LEN 12u

/* One received packet, pointing into the caller's buffer. */
typedef struct hrtp_packet {
    uint8_t payload_type;
    bool marker;
    uint16_t sequence;
    uint32_t timestamp;
    uint32_t ssrc;
    const uint8_t *payload;
    size_t payload_len;
    /* RFC 6464: 0 (loudest) .. 127 (silence) -dBov, or -1 when absent. */
    int audio_level;
    bool voice_activity;
} hrtp_packet;

/* Parses an RTP packet. `audio_level_id` is the negotiated extension id
 * (1..14 one-byte, 1..255 two-byte) or 0 when none was negotiated.
 * Returns 0, or -1 when the packet is not RTP version 2 or its CSRC list,
 * extension or padding runs past `len`. */
int hrtp_parse(const uint8_t *packet, size_t len, int audio_level_id, hrtp_packet *out);

/* Outgoing stream state. A frame that follows the previous one within
 * 1.5 frames advances the timestamp by its samples; after a longer pause
 * (mute, hold, silence the mixer did not send) the timestamp jumps by the
 * time that passed, so the receiver's clock stays right, and the marker bit
 * starts the new talk spurt. The sequence number always advances by one. */
typedef struct hrtp_sender {
    uint32_t ssrc;
    uint16_t sequence;     /* of the next packet */
    uint32_t timestamp;    /* of the last packet */
    uint32_t clock_rate;   /* RTP clock, e.g. 48000 for Opus */
    uint64_t last_us;      /* when the last packet was written */
    uint32_t last_samples; /* its length at clock_rate */
    bool started;
} hrtp_sender;

void hrtp_sender_init(hrtp_sender *s, uint32_t ssrc, uint16_t first_sequence,
                      uint32_t first_timestamp, uint32_t clock_rate);

/* Writes a 12-byte header plus `payload` into `buf` for a frame of
 * `samples` (at the sender's clock rate) sent at `now_us` (any monotonic
 * microsecond clock). Returns the packet length, or 0 when `cap` is too
 * small. */
size_t hrtp_sender_write(hrtp_sender *s, uint8_t *buf, size_t cap, uint8_t payload_type,
                         uint32_t samples, uint64_t now_us, const uint8_t *payload,
                         size_t payload_len);

/* The header fields of the next packet, for a host whose RTP stack writes
 * the header itself (huddle-sip: libre's rtp_send, which also counts what
 * was sent for its RTCP sender reports). Advances `s` exactly as
 * hrtp_sender_write does. */
typedef struct hrtp_next {
    uint16_t sequence;
    uint32_t timestamp;
    bool marker;
} hrtp_next;

hrtp_next hrtp_sender_next(hrtp_sender *s, uint32_t samples, uint64_t now_us);

/* RFC 4733 telephone events: one report per key press, however many
 * packets (updates and the three end retransmissions) carry it. */
typedef struct hrtp_dtmf {
    uint32_t last_timestamp;
    bool seen;
} hrtp_dtmf;

/* Returns the digit ('0'-'9', '*', '#', 'A'-'D') when `payload` starts a new
 * event, 0 for a repeat of the current one, -1 for a malformed payload or an
 * event that is not a key (e.g. flash). `timestamp` is the packet's RTP
 * timestamp, which RFC 4733 keeps constant across one event. */
int hrtp_dtmf_feed(hrtp_dtmf *d, uint32_t timestamp, const uint8_t *payload, size_t len);

/* The key for an RFC 4733 event code, or 0 when it is not one of the 16 keys. */
char hrtp_dtmf_digit(uint8_t event);

#ifdef __cplusplus
}
#endif

#endif /* HUDDLE_RTP_H */
