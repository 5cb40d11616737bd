/* rtp.c — see rtp.h. */
#include "rtp.h"

#include <string.h>

static uint16_t rd16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static uint32_t rd32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* RFC 8285 header extensions: the one-byte form (profile 0xBEDE) and the
 * two-byte form (0x100 in the top 12 bits). Padding bytes (id 0) are skipped. */
static void find_audio_level(const uint8_t *ext, size_t words, uint16_t profile, int id,
                             hrtp_packet *out)
{
    size_t len = words * 4, i = 0;
    bool one_byte = profile == 0xBEDE;
    if (!one_byte && (profile & 0xFFF0) != 0x1000)
        return;
    while (i < len) {
        if (ext[i] == 0) {
            i++;
            continue;
        }
        int eid;
        size_t elen;
        if (one_byte) {
            eid = ext[i] >> 4;
            elen = (size_t)(ext[i] & 0x0F) + 1;
            if (eid == 15)
                return; /* reserved: stop parsing, as RFC 8285 says */
            i += 1;
        } else {
            if (i + 1 >= len)
                return;
            eid = ext[i];
            elen = ext[i + 1];
            i += 2;
        }
        if (i + elen > len)
            return;
        if (eid == id && elen >= 1) {
            out->voice_activity = (ext[i] & 0x80) != 0;
            out->audio_level = ext[i] & 0x7F;
            return;
        }
        i += elen;
    }
}

int hrtp_parse(const uint8_t *p, size_t len, int audio_level_id, hrtp_packet *out)
{
    if (p == NULL || out == NULL || len < HRTP_HEADER_LEN || (p[0] >> 6) != 2)
        return -1;
    size_t at = HRTP_HEADER_LEN + (size_t)(p[0] & 0x0F) * 4;
    if (at > len)
        return -1;
    hrtp_packet pkt = {
        .payload_type = p[1] & 0x7F,
        .marker = (p[1] & 0x80) != 0,
        .sequence = rd16(p + 2),
        .timestamp = rd32(p + 4),
        .ssrc = rd32(p + 8),
        .audio_level = -1,
    };
    if (p[0] & 0x10) {
        if (at + 4 > len)
            return -1;
        uint16_t profile = rd16(p + at);
        size_t words = rd16(p + at + 2);
        if (at + 4 + words * 4 > len)
            return -1;
        if (audio_level_id > 0)
            find_audio_level(p + at + 4, words, profile, audio_level_id, &pkt);
        at += 4 + words * 4;
    }
    size_t end = len;
    if (p[0] & 0x20) {
        uint8_t pad = p[len - 1];
        if (pad == 0 || pad > len - at)
            return -1;
        end -= pad;
    }
    pkt.payload = p + at;
    pkt.payload_len = end - at;
    *out = pkt;
    return 0;
}

void hrtp_sender_init(hrtp_sender *s, uint32_t ssrc, uint16_t first_sequence,
                      uint32_t first_timestamp, uint32_t clock_rate)
{
    memset(s, 0, sizeof *s);
    s->ssrc = ssrc;
    s->sequence = first_sequence;
    s->timestamp = first_timestamp;
    s->clock_rate = clock_rate ? clock_rate : 8000;
}

hrtp_next hrtp_sender_next(hrtp_sender *s, uint32_t samples, uint64_t now_us)
{
    bool marker = false;
    if (!s->started) {
        s->started = true;
        marker = true;
    } else {
        uint64_t expected_us = (uint64_t)s->last_samples * 1000000u / s->clock_rate;
        uint64_t gap_us = now_us > s->last_us ? now_us - s->last_us : 0;
        uint32_t step = s->last_samples;
        if (gap_us * 2 > expected_us * 3) {
            /* A pause: move the clock by the time that passed, in whole
             * frames so the receiver's playout stays aligned. */
            uint64_t elapsed = gap_us * s->clock_rate / 1000000u;
            uint32_t frame = samples ? samples : 1;
            uint64_t frames = (elapsed + frame / 2) / frame;
            step = (uint32_t)(frames * frame);
            if (step < s->last_samples)
                step = s->last_samples;
            marker = true;
        }
        s->timestamp += step;
    }
    hrtp_next next = {.sequence = s->sequence, .timestamp = s->timestamp, .marker = marker};
    s->sequence++;
    s->last_us = now_us;
    s->last_samples = samples;
    return next;
}

size_t hrtp_sender_write(hrtp_sender *s, uint8_t *buf, size_t cap, uint8_t payload_type,
                         uint32_t samples, uint64_t now_us, const uint8_t *payload,
                         size_t payload_len)
{
    if (buf == NULL || cap < HRTP_HEADER_LEN + payload_len || (payload_len && payload == NULL))
        return 0;
    hrtp_next next = hrtp_sender_next(s, samples, now_us);
    buf[0] = 0x80;
    buf[1] = (uint8_t)((payload_type & 0x7F) | (next.marker ? 0x80 : 0));
    wr16(buf + 2, next.sequence);
    wr32(buf + 4, next.timestamp);
    wr32(buf + 8, s->ssrc);
    if (payload_len)
        memcpy(buf + HRTP_HEADER_LEN, payload, payload_len);
    return HRTP_HEADER_LEN + payload_len;
}

char hrtp_dtmf_digit(uint8_t event)
{
    static const char keys[16] = "0123456789*#ABCD";
    return event < 16 ? keys[event] : 0;
}

int hrtp_dtmf_feed(hrtp_dtmf *d, uint32_t timestamp, const uint8_t *payload, size_t len)
{
    if (d == NULL || payload == NULL || len < 4)
        return -1;
    char digit = hrtp_dtmf_digit(payload[0]);
    if (digit == 0)
        return -1;
    if (d->seen && d->last_timestamp == timestamp)
        return 0;
    d->seen = true;
    d->last_timestamp = timestamp;
    return digit;
}
