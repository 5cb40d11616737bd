/* reentrant.c — a host whose event callback calls back into huddle
 * (`huddle_module_api`, and once `huddle_conference_app`) from inside the
 * callback. The header promises callbacks run with no huddle lock held, so
 * this must neither deadlock (the watchdog alarm catches that) nor lose
 * events. Run with the manual timer (callbacks on the calling thread) and
 * the realtime timer (callbacks on huddle's dispatcher thread). */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "fake_host.h"

typedef struct reenter {
    huddle_module *module;
    int api_calls;      /* re-entrant api calls that returned OK */
    int api_saw_room;   /* ... whose reply named the room */
    int joined_third;
    huddle_member *third;
    uint32_t third_status;
} reenter;

static void on_event(fake_host *fh, const huddle_event *event) {
    reenter *r = fh->user;
    char *reply = NULL;
    if (r->module == NULL) return;
    if (fh_lib->api(r->module, "conference list", &reply) == HUDDLE_STATUS_OK) {
        r->api_calls++;
        if (reply != NULL && strstr(reply, "3000") != NULL) r->api_saw_room++;
        fh_lib->str_free(reply);
    }
    if (strcmp(event->name, "conference-start") == 0 && !r->joined_third) {
        huddle_caller c = fh_caller("re-c");
        r->joined_third = 1;
        r->third_status = fh_lib->app(r->module, &c, "3000", &r->third);
    }
}

/* Realtime only: events arrive on the dispatcher thread; wait for them,
 * bounded (500 x 10 ms). */
static void wait_for_joins(fake_host *fh, size_t n) {
    struct timespec ts = {0, 10 * 1000 * 1000};
    int i;
    for (i = 0; i < 500 && fh_count_events(fh, "participant-join") < n; i++)
        nanosleep(&ts, NULL);
}

static void run(const char *dir, const char *sub, const char *text, int realtime) {
    char cfg[1024];
    fake_host fh;
    huddle_host host = fh_host(&fh, sub);
    reenter r;
    huddle_member *a, *b;
    char *reply;

    memset(&r, 0, sizeof r);
    fh.user = &r;
    fh.on_event = on_event;
    fh_write_config(dir, sub, text, cfg, sizeof cfg);
    CHECK_STATUS(fh_lib->load(&host, cfg, &r.module), HUDDLE_STATUS_OK);
    a = fh_join(r.module, "re-a", "3000");
    b = fh_join(r.module, "re-b", "3000");
    if (realtime) {
        wait_for_joins(&fh, 3);
    } else {
        CHECK_STATUS(fh_lib->advance(r.module, 200), HUDDLE_STATUS_OK);
    }

    CHECK(r.joined_third);
    CHECK_STATUS(r.third_status, HUDDLE_STATUS_OK);
    CHECK(fh_count_events(&fh, "participant-join") == 3);
    CHECK(r.api_calls >= 4 && r.api_saw_room == r.api_calls);
    reply = fh_api(r.module, "conference list");
    CHECK(strstr(reply, "re-c") != NULL || strstr(reply, "3000") != NULL);
    fh_lib->str_free(reply);

    CHECK_STATUS(fh_lib->member_hangup(a), HUDDLE_STATUS_OK);
    CHECK_STATUS(fh_lib->member_hangup(b), HUDDLE_STATUS_OK);
    CHECK_STATUS(fh_lib->member_hangup(r.third), HUDDLE_STATUS_OK);
    if (!realtime) CHECK_STATUS(fh_lib->advance(r.module, 100), HUDDLE_STATUS_OK);
    CHECK_STATUS(fh_lib->shutdown(r.module), HUDDLE_STATUS_OK);
    /* Stop re-entering: events after shutdown would see a stale handle. */
    printf("ok %s: %d re-entrant api calls\n", sub, r.api_calls);
    fh_destroy(&fh);
}

int main(int argc, char **argv) {
    return fh_main_both_timers(argc, argv, "reentrant", run, FH_CONF_REALTIME(1));
}
