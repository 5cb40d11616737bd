/* shutdown_race.c — the module is shut down while host media threads keep
 * sending frames and DTMF to their members. Calls racing the shutdown may
 * get any member status, but once `shutdown` has returned every call on an
 * old handle must return HUDDLE_STATUS_STALE_HANDLE: the handles are ids in
 * a registry, so this is an error code, never a use-after-free (this program
 * also runs under AddressSanitizer, see tests/c_harness.rs). Run with both
 * timers; on the manual one a thread keeps advancing the clock. */
#define _POSIX_C_SOURCE 200809L

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "fake_host.h"

#define SENDERS 4
#define MEMBERS_PER_SENDER 4

typedef struct sender {
    huddle_member *members[MEMBERS_PER_SENDER];
    atomic_int *shut;   /* set once shutdown has returned */
    atomic_int *stop;
    long calls_after;   /* calls made after shutdown returned */
    long wrong_after;   /* ... that did not return STALE_HANDLE */
    uint32_t wrong_status;
} sender;

typedef struct advancer {
    huddle_module *module;
    atomic_int *stop;
} advancer;

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void *send_loop(void *arg) {
    sender *s = arg;
    int16_t pcm[320];
    double phase = 0;
    int seq = 0;
    fh_sine(pcm, 320, 440, 16000, 8000, &phase);
    while (!atomic_load(s->stop)) {
        int i;
        for (i = 0; i < MEMBERS_PER_SENDER; i++) {
            huddle_frame f = fh_l16(pcm, 320, 16000, seq++ & 0xffff);
            uint32_t st1, st2;
            int after = atomic_load(s->shut);
            st1 = fh_lib->member_audio(s->members[i], &f);
            st2 = fh_lib->member_dtmf(s->members[i], (seq % 50 == 0) ? '5' : '*');
            if (after) {
                s->calls_after += 2;
                if (st1 != HUDDLE_STATUS_STALE_HANDLE) { s->wrong_after++; s->wrong_status = st1; }
                if (st2 != HUDDLE_STATUS_STALE_HANDLE) { s->wrong_after++; s->wrong_status = st2; }
            }
        }
        sleep_ms(1);
    }
    return NULL;
}

static void *advance_loop(void *arg) {
    advancer *a = arg;
    while (!atomic_load(a->stop)) {
        /* After shutdown this returns STALE_HANDLE: fine, keep racing. */
        fh_lib->advance(a->module, 20);
        sleep_ms(1);
    }
    return NULL;
}

static void run(const char *dir, const char *sub, const char *text, int realtime) {
    char cfg[1024];
    fake_host fh;
    huddle_host host = fh_host(&fh, sub);
    huddle_module *m = NULL;
    sender senders[SENDERS];
    pthread_t threads[SENDERS], adv_thread;
    advancer adv;
    atomic_int shut = 0, stop = 0, adv_stop = 0;
    long after = 0, wrong = 0;
    int i, j;

    fh_write_config(dir, sub, text, cfg, sizeof cfg);
    CHECK_STATUS(fh_lib->load(&host, cfg, &m), HUDDLE_STATUS_OK);
    memset(senders, 0, sizeof senders);
    for (i = 0; i < SENDERS; i++) {
        senders[i].shut = &shut;
        senders[i].stop = &stop;
        for (j = 0; j < MEMBERS_PER_SENDER; j++) {
            char channel[32], app[32];
            snprintf(channel, sizeof channel, "race-%d-%d", i, j);
            snprintf(app, sizeof app, "race%d", j % 3);
            senders[i].members[j] = fh_join(m, channel, app);
        }
    }
    adv.module = m;
    adv.stop = &adv_stop;
    if (!realtime) pthread_create(&adv_thread, NULL, advance_loop, &adv);
    for (i = 0; i < SENDERS; i++) pthread_create(&threads[i], NULL, send_loop, &senders[i]);
    sleep_ms(300);
    CHECK_STATUS(fh_lib->shutdown(m), HUDDLE_STATUS_OK);
    atomic_store(&shut, 1);
    sleep_ms(200);
    atomic_store(&stop, 1);
    for (i = 0; i < SENDERS; i++) pthread_join(threads[i], NULL);
    atomic_store(&adv_stop, 1);
    if (!realtime) pthread_join(adv_thread, NULL);
    for (i = 0; i < SENDERS; i++) {
        after += senders[i].calls_after;
        wrong += senders[i].wrong_after;
        if (senders[i].wrong_after)
            printf("sender %d: status %u after shutdown\n", i, senders[i].wrong_status);
        for (j = 0; j < MEMBERS_PER_SENDER; j++)
            CHECK_STATUS(fh_lib->member_hangup(senders[i].members[j]), HUDDLE_STATUS_STALE_HANDLE);
    }
    CHECK_STATUS(fh_lib->shutdown(m), HUDDLE_STATUS_STALE_HANDLE);
    CHECK(after > 0);
    CHECK(wrong == 0);
    CHECK(!fh_log_contains(&fh, "internal error"));
    printf("ok %s: %ld calls after shutdown, all STALE_HANDLE\n", sub, after);
    fh_destroy(&fh);
}

int main(int argc, char **argv) {
    return fh_main_both_timers(argc, argv, "shutdown_race", run, FH_CONF_REALTIME(2));
}
