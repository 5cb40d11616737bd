/* Tests ffi/common/rtp.c against packets built byte by byte from the RFCs. */
#include "rtp.h"

#include <stdio.h>
#include <string.h>

static int failures;
#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                              \
        }                                                                            \
    } while (0)

static void parses_plain_header(void)
{
    /* V=2, PT 111, marker, seq 0x1234, ts 0x01020304, ssrc 0xAABBCCDD, 3 bytes. */
    const uint8_t pkt[] = {0x80, 0xEF, 0x12, 0x34, 1, 2, 3, 4, 0xAA, 0xBB, 0xCC, 0xDD, 7, 8, 9};
    hrtp_packet p;
    CHECK(hrtp_parse(pkt, sizeof pkt, 1, &p) == 0);
    CHECK(p.payload_type == 111 && p.marker);
    CHECK(p.sequence == 0x1234 && p.timestamp == 0x01020304 && p.ssrc == 0xAABBCCDD);
    CHECK(p.payload_len == 3 && p.payload[0] == 7);
    CHECK(p.audio_level == -1);
}

static void reads_rfc6464_one_and_two_byte(void)
{
    /* One-byte form: id 3, len 1 -> 0x30, V=1 level 42 -> 0xAA; padded to a word. */
    const uint8_t one[] = {0x90, 111, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1,
                           0xBE, 0xDE, 0, 1, 0x30, 0xAA, 0, 0, 0x55};
    hrtp_packet p;
    CHECK(hrtp_parse(one, sizeof one, 3, &p) == 0);
    CHECK(p.audio_level == 42 && p.voice_activity);
    CHECK(p.payload_len == 1 && p.payload[0] == 0x55);
    /* Another id negotiated: the level is not ours. */
    CHECK(hrtp_parse(one, sizeof one, 4, &p) == 0 && p.audio_level == -1);
    /* Two-byte form (0x1000): a padding byte, then id 3 len 1, level 100, V=0. */
    const uint8_t two[] = {0x90, 111, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1,
                           0x10, 0x00, 0, 1, 0, 3, 1, 100, 0x66};
    CHECK(hrtp_parse(two, sizeof two, 3, &p) == 0);
    CHECK(p.audio_level == 100 && !p.voice_activity && p.payload[0] == 0x66);
}

static void refuses_truncated_and_padding(void)
{
    hrtp_packet p;
    const uint8_t short_pkt[] = {0x80, 0, 0, 0};
    CHECK(hrtp_parse(short_pkt, sizeof short_pkt, 0, &p) == -1);
    const uint8_t v1[12] = {0x40};
    CHECK(hrtp_parse(v1, sizeof v1, 0, &p) == -1);
    /* CC=2 needs 8 more bytes than there are. */
    const uint8_t csrc[] = {0x82, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4};
    CHECK(hrtp_parse(csrc, sizeof csrc, 0, &p) == -1);
    /* Extension claims 4 words, has 1. */
    const uint8_t ext[] = {0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xBE, 0xDE, 0, 4, 0, 0, 0, 0};
    CHECK(hrtp_parse(ext, sizeof ext, 1, &p) == -1);
    /* Padding: 2 payload bytes then 2 pad bytes (count in the last). */
    const uint8_t pad[] = {0xA0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 9, 0, 2};
    CHECK(hrtp_parse(pad, sizeof pad, 0, &p) == 0 && p.payload_len == 2);
    const uint8_t badpad[] = {0xA0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 40};
    CHECK(hrtp_parse(badpad, sizeof badpad, 0, &p) == -1);
}

static void keeps_continuity_across_pauses(void)
{
    hrtp_sender s;
    hrtp_sender_init(&s, 0x11223344, 65534, 1000, 48000);
    uint8_t buf[64], pay[3] = {1, 2, 3};
    hrtp_packet p;
    uint64_t t = 5000000;
    /* Three 20 ms frames in a row: seq wraps, ts +960 each, marker only first. */
    for (int i = 0; i < 3; i++) {
        size_t n = hrtp_sender_write(&s, buf, sizeof buf, 111, 960, t + (uint64_t)i * 20000, pay, 3);
        CHECK(n == 15);
        CHECK(hrtp_parse(buf, n, 0, &p) == 0);
        CHECK(p.sequence == (uint16_t)(65534 + i));
        CHECK(p.timestamp == 1000u + 960u * (uint32_t)i);
        CHECK(p.marker == (i == 0));
        CHECK(p.ssrc == 0x11223344 && p.payload_type == 111 && p.payload[2] == 3);
    }
    /* Jitter of the mixer thread (25 ms instead of 20) is not a pause. */
    t += 2 * 20000 + 25000;
    size_t n = hrtp_sender_write(&s, buf, sizeof buf, 111, 960, t, pay, 3);
    CHECK(hrtp_parse(buf, n, 0, &p) == 0 && p.timestamp == 1000u + 960u * 3 && !p.marker);
    /* One second without packets (muted, on hold): ts moves 50 frames, seq 1. */
    t += 1000000;
    n = hrtp_sender_write(&s, buf, sizeof buf, 111, 960, t, pay, 3);
    CHECK(hrtp_parse(buf, n, 0, &p) == 0);
    CHECK(p.sequence == 2);
    CHECK(p.timestamp == 1000u + 960u * 3 + 48000u);
    CHECK(p.marker);
    CHECK(hrtp_sender_write(&s, buf, 10, 111, 960, t, pay, 3) == 0);
}

/* hrtp_sender_next walks the same stream as hrtp_sender_write: two
 * senders fed the same frames (a run, jitter, a 1 s pause) agree on
 * every header field. */
static void next_matches_write(void)
{
    hrtp_sender a, b;
    hrtp_sender_init(&a, 7, 100, 5000, 8000);
    hrtp_sender_init(&b, 7, 100, 5000, 8000);
    const uint64_t at[] = {0, 20000, 40000, 65000, 1065000, 1085000};
    uint8_t buf[32], pay[1] = {0};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        hrtp_packet p;
        size_t n = hrtp_sender_write(&a, buf, sizeof buf, 0, 160, at[i], pay, 1);
        hrtp_next x = hrtp_sender_next(&b, 160, at[i]);
        CHECK(n == 13 && hrtp_parse(buf, n, 0, &p) == 0);
        CHECK(x.sequence == p.sequence && x.timestamp == p.timestamp && x.marker == p.marker);
    }
    /* The pause moved the clock by 50 frames of 160 and set the marker. */
    CHECK(b.timestamp == 5000u + 160u * 4 + 8000u);
}

static void reports_each_key_once(void)
{
    hrtp_dtmf d = {0};
    /* Event 5, then its updates and three end packets, same timestamp. */
    uint8_t start[4] = {5, 10, 0, 160}, end[4] = {5, 0x80 | 10, 3, 0x20};
    CHECK(hrtp_dtmf_feed(&d, 8000, start, 4) == '5');
    CHECK(hrtp_dtmf_feed(&d, 8000, start, 4) == 0);
    for (int i = 0; i < 3; i++)
        CHECK(hrtp_dtmf_feed(&d, 8000, end, 4) == 0);
    /* The same key pressed again is a new event (new timestamp). */
    CHECK(hrtp_dtmf_feed(&d, 9600, start, 4) == '5');
    uint8_t hash[4] = {11, 0, 0, 160}, flash[4] = {16, 0, 0, 160};
    CHECK(hrtp_dtmf_feed(&d, 12000, hash, 4) == '#');
    CHECK(hrtp_dtmf_feed(&d, 13000, flash, 4) == -1);
    CHECK(hrtp_dtmf_feed(&d, 14000, hash, 3) == -1);
    CHECK(hrtp_dtmf_digit(15) == 'D' && hrtp_dtmf_digit(10) == '*');
}

int main(void)
{
    parses_plain_header();
    reads_rfc6464_one_and_two_byte();
    refuses_truncated_and_padding();
    keeps_continuity_across_pauses();
    next_matches_write();
    reports_each_key_once();
    if (failures) {
        fprintf(stderr, "rtp_test: %d failure(s)\n", failures);
        return 1;
    }
    puts("rtp_test: ok");
    return 0;
}
