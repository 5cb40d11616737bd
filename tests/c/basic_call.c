/* basic_call.c — two members in room 3000 send L16 tones (A 440 Hz, B
 * 1000 Hz) while the host drives the manual clock. Each member's send_audio
 * must carry the other's tone (measured with a Goertzel filter) and not much
 * of its own (N-1 mixing); participant-join and conference-start arrive
 * through the event callback with ConferenceSid and SequenceNumber. */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_host.h"

#define RATE 16000
#define FRAME 320 /* 20 ms at 16 kHz, the default profile's interval */
#define SECONDS 2
#define FA 440.0
#define FB 1000.0

static huddle_member *join(huddle_module *m, const char *channel) {
    huddle_caller c = fh_caller(channel);
    huddle_member *mem = NULL;
    c.from = "+15550100";
    c.caller_name = channel;
    CHECK_STATUS(fh_lib->app(m, &c, "3000", &mem), HUDDLE_STATUS_OK);
    return mem;
}

static void send_tone(huddle_member *mem, double freq, double *phase, int seq) {
    int16_t pcm[FRAME];
    huddle_frame f;
    fh_sine(pcm, FRAME, freq, RATE, 8000.0, phase);
    f = fh_l16(pcm, FRAME, RATE, seq);
    CHECK_STATUS(fh_lib->member_audio(mem, &f), HUDDLE_STATUS_OK);
}

/* Checks that `who` heard `other_f` well above `own_f`, over the second
 * half of what it received (the first half covers talk detection). */
static void check_heard(fake_host *fh, const char *who, double other_f, double own_f) {
    const fh_audio *a = fh_audio_for(fh, who);
    const int16_t *tail;
    size_t n;
    double other, own, total = 0.0;
    size_t i;
    if (a == NULL) fh_fail(__FILE__, __LINE__, "%s received no audio", who);
    CHECK(a->rate == RATE);
    CHECK(a->count >= (size_t)(RATE * SECONDS / 2));
    n = a->count / 2;
    tail = a->samples + (a->count - n);
    other = fh_goertzel(tail, n, other_f, RATE);
    own = fh_goertzel(tail, n, own_f, RATE);
    for (i = 0; i < n; i++) total += (double)tail[i] * (double)tail[i];
    printf("%s: %zu frames, %zu samples; power at %.0f Hz %.3g, at own %.0f Hz %.3g, energy %.3g\n",
           who, a->frames, a->count, other_f, other, own_f, own, total);
    /* A tone of amplitude A over n samples gives Goertzel power ~ (A n / 2)^2;
     * ask for at least a quarter of the amplitude after any attenuation. */
    CHECK(other > (2000.0 * (double)n / 2.0) * (2000.0 * (double)n / 2.0));
    /* N-1: its own voice is at least 30 dB below the other's. */
    CHECK(own * 1000.0 < other);
}

static void check_event(const fh_event *e, const char *name) {
    if (e == NULL) fh_fail(__FILE__, __LINE__, "no %s event", name);
    CHECK(e->has_conference_sid && strlen(e->conference_sid) > 0);
    CHECK(e->has_sequence_number && atoi(e->sequence_number) > 0);
}

int main(int argc, char **argv) {
    const char *dir = fh_start(argc, argv, 60);
    char cfg[1024];
    fake_host fh;
    huddle_host host = fh_host(&fh, "call");
    huddle_module *m = NULL;
    huddle_member *a, *b;
    double pa = 0.0, pb = 0.0;
    int i;
    const fh_event *join_a, *join_b, *start;

    fh_write_config(dir, "call", FH_CONF_MANUAL, cfg, sizeof cfg);
    CHECK_STATUS(fh_lib->load(&host, cfg, &m), HUDDLE_STATUS_OK);
    a = join(m, "call-a");
    b = join(m, "call-b");
    for (i = 0; i < SECONDS * 1000 / 20; i++) {
        send_tone(a, FA, &pa, i);
        send_tone(b, FB, &pb, i);
        CHECK_STATUS(fh_lib->advance(m, 20), HUDDLE_STATUS_OK);
    }

    check_heard(&fh, "call-a", FB, FA);
    check_heard(&fh, "call-b", FA, FB);

    /* Events: both joins and the start, all of one conference, numbered in
     * delivery order. */
    CHECK(fh_count_events(&fh, "participant-join") == 2);
    CHECK(fh_count_events(&fh, "conference-start") == 1);
    join_a = fh_find_event(&fh, "participant-join", 0);
    join_b = fh_find_event(&fh, "participant-join", 1);
    start = fh_find_event(&fh, "conference-start", 0);
    check_event(join_a, "participant-join");
    check_event(join_b, "participant-join");
    check_event(start, "conference-start");
    CHECK(strcmp(join_a->conference_sid, start->conference_sid) == 0);
    CHECK(strcmp(join_b->conference_sid, start->conference_sid) == 0);
    CHECK(strcmp(join_a->call_sid, "call-a") == 0 && strcmp(join_b->call_sid, "call-b") == 0);
    {
        size_t k;
        long last = 0;
        for (k = 0; k < fh.event_count; k++) {
            long seq;
            if (!fh.events[k].has_sequence_number) continue;
            seq = atol(fh.events[k].sequence_number);
            CHECK(seq > last);
            last = seq;
        }
    }

    CHECK_STATUS(fh_lib->member_hangup(a), HUDDLE_STATUS_OK);
    CHECK_STATUS(fh_lib->member_hangup(b), HUDDLE_STATUS_OK);
    CHECK_STATUS(fh_lib->advance(m, 100), HUDDLE_STATUS_OK);
    CHECK(fh_count_events(&fh, "participant-leave") == 2);
    CHECK(fh_count_events(&fh, "conference-end") == 1);
    CHECK_STATUS(fh_lib->shutdown(m), HUDDLE_STATUS_OK);
    fh_destroy(&fh);
    printf("PASS basic_call\n");
    return 0;
}
