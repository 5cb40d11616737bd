/*
 * legs_test.c — mod_huddle's hand-over of huddle's audio to channel threads
 * (ffi/freeswitch/legs.c), without FreeSWITCH: what a channel gets back is
 * what huddle sent, in order; a stalled channel loses its oldest frames
 * (counted), never the newest, and one back from a stall keeps only the
 * newest; Opus packets and G.711 octets come out as they went in; frames for a channel that
 * left go nowhere; and legs opening and closing while a mixer thread sends to them neither
 * crash nor leak (run under ASan by scripts/test-freeswitch.sh).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "legs.h"

static int failures;
#define CHECK(cond)                                                       \
    do {                                                                  \
        if (!(cond)) {                                                    \
            fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                   \
        }                                                                 \
    } while (0)

static huddle_frame l16(const int16_t *pcm, uint32_t samples, uint32_t rate)
{
    huddle_frame f = {.codec = HUDDLE_CODEC_L16, .sample_rate = rate, .samples = samples,
                      .data = (const uint8_t *)pcm, .len = samples * 2u, .audio_level = -1, .sequence = -1};
    return f;
}

static void order_and_overflow(void)
{
    static leg_frame out;
    leg *a = leg_open("chan-a");
    CHECK(a != NULL);
    CHECK(leg_open("chan-a") == NULL); /* the same channel twice */
    int16_t pcm[160];
    for (int i = 0; i < (int)LEG_QUEUE_FRAMES + 3; i++) {
        for (int s = 0; s < 160; s++) {
            pcm[s] = (int16_t)(i * 1000 + s);
        }
        huddle_frame f = l16(pcm, 160, 8000);
        CHECK(legs_push("chan-a", &f) == 0);
    }
    /* The 3 oldest went; the rest come out in order, intact. */
    CHECK(leg_dropped(a) == 3);
    for (int i = 3; i < (int)LEG_QUEUE_FRAMES + 3; i++) {
        CHECK(leg_pop(a, &out) == 1);
        CHECK(out.samples == 160 && out.sample_rate == 8000);
        CHECK(out.codec == HUDDLE_CODEC_L16 && out.len == 320);
        CHECK(out.data.pcm[0] == i * 1000 && out.data.pcm[159] == i * 1000 + 159);
    }
    CHECK(leg_pop(a, &out) == 0);

    /* An Opus packet (an Opus call) comes out byte for byte, with its
     * duration; an odd-length L16 frame, an empty or oversized packet and an
     * unknown codec are refused. */
    uint8_t packet[61];
    for (int b = 0; b < 61; b++) {
        packet[b] = (uint8_t)(b * 7 + 1);
    }
    huddle_frame opus = {.codec = HUDDLE_CODEC_OPUS, .sample_rate = 48000, .samples = 960,
                         .data = packet, .len = sizeof packet, .audio_level = -1, .sequence = -1};
    CHECK(legs_push("chan-a", &opus) == 0);
    CHECK(leg_pop(a, &out) == 1);
    CHECK(out.codec == HUDDLE_CODEC_OPUS && out.len == 61 && out.samples == 960 && out.sample_rate == 48000);
    CHECK(memcmp(out.data.bytes, packet, sizeof packet) == 0);
    /* G.711 octets (a PCMU or PCMA call) come out as they went in, a
     * sample an octet. */
    uint8_t octets[160];
    for (int b = 0; b < 160; b++) {
        octets[b] = (uint8_t)(255 - b);
    }
    huddle_frame pcmu = {.codec = HUDDLE_CODEC_PCMU, .sample_rate = 8000, .samples = 160,
                         .data = octets, .len = sizeof octets, .audio_level = -1, .sequence = -1};
    huddle_frame pcma = pcmu;
    pcma.codec = HUDDLE_CODEC_PCMA;
    pcma.len = 80;
    CHECK(legs_push("chan-a", &pcmu) == 0 && legs_push("chan-a", &pcma) == 0);
    CHECK(leg_pop(a, &out) == 1);
    CHECK(out.codec == HUDDLE_CODEC_PCMU && out.len == 160 && out.samples == 160 && out.sample_rate == 8000);
    CHECK(memcmp(out.data.bytes, octets, sizeof octets) == 0);
    CHECK(leg_pop(a, &out) == 1);
    CHECK(out.codec == HUDDLE_CODEC_PCMA && out.len == 80 && out.samples == 80);
    CHECK(memcmp(out.data.bytes, octets, 80) == 0);
    huddle_frame odd = l16(pcm, 160, 8000);
    odd.len = 3;
    CHECK(legs_push("chan-a", &odd) == -1);
    huddle_frame empty = opus;
    empty.len = 0;
    CHECK(legs_push("chan-a", &empty) == -1);
    static uint8_t big[LEG_MAX_SAMPLES * 2 + 1];
    huddle_frame huge = opus;
    huge.data = big;
    huge.len = sizeof big;
    CHECK(legs_push("chan-a", &huge) == -1);
    huddle_frame other = opus;
    other.codec = 7;
    CHECK(legs_push("chan-a", &other) == -1);
    CHECK(leg_pop(a, &out) == 0);

    /* A channel thread back from a stall keeps only the newest frames. */
    uint64_t before = leg_dropped(a);
    for (int i = 0; i < 5; i++) {
        pcm[0] = (int16_t)i;
        huddle_frame g = l16(pcm, 160, 8000);
        CHECK(legs_push("chan-a", &g) == 0);
    }
    leg_trim(a, 2);
    CHECK(leg_dropped(a) == before + 3);
    CHECK(leg_pop(a, &out) == 1 && out.data.pcm[0] == 3);
    CHECK(leg_pop(a, &out) == 1 && out.data.pcm[0] == 4);
    CHECK(leg_pop(a, &out) == 0);
    huddle_frame f = l16(pcm, 160, 8000);
    CHECK(legs_push("nobody", &f) == -1);
    CHECK(legs_count() == 1);
    leg_close(a);
    CHECK(legs_count() == 0);
    CHECK(legs_push("chan-a", &f) == -1);       /* left: nobody hears it */
}

static atomic_int stop;

static void *mixer(void *arg)
{
    (void)arg;
    int16_t pcm[320] = {0};
    huddle_frame f = l16(pcm, 320, 16000);
    char name[32];
    for (unsigned long n = 0; !atomic_load(&stop); n++) {
        snprintf(name, sizeof name, "chan-%lu", n % 8);
        legs_push(name, &f);
    }
    return NULL;
}

static void churn(void)
{
    static leg_frame out;
    pthread_t t;
    pthread_create(&t, NULL, mixer, NULL);
    char name[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(name, sizeof name, "chan-%d", i % 8);
        leg *l = leg_open(name);
        CHECK(l != NULL);
        while (leg_pop(l, &out)) {
            CHECK(out.samples == 320 && out.sample_rate == 16000);
        }
        leg_close(l);
    }
    atomic_store(&stop, 1);
    pthread_join(t, NULL);
    CHECK(legs_count() == 0);
}

int main(void)
{
    order_and_overflow();
    churn();
    if (failures) {
        fprintf(stderr, "legs_test: %d check(s) failed\n", failures);
        return 1;
    }
    puts("legs_test: ok");
    return 0;
}
