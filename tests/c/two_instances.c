/* two_instances.c — two module instances loaded side by side, each with its
 * own host table and ctx: each one's rooms are its own (`conference list`
 * shows only them), and log lines and events reach the ctx of the instance
 * that produced them. */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <string.h>

#include "fake_host.h"

static const char MANUAL[] =
    "[module]\n"
    "timer = \"manual\"\n"
    "log_level = \"debug\"\n"
    "sounds_dir = \"sounds\"\n"
    "recordings_dir = \"recordings\"\n";

static void check_list(huddle_module *m, const char *mine, const char *theirs) {
    char *reply = fh_api(m, "conference list");
    if (strstr(reply, mine) == NULL || strstr(reply, theirs) != NULL) {
        printf("conference list:\n%s\n", reply);
        fh_lib->str_free(reply);
        fh_fail(__FILE__, __LINE__, "list should show %s and not %s", mine, theirs);
    }
    fh_lib->str_free(reply);
}

int main(int argc, char **argv) {
    const char *dir = fh_start(argc, argv, 60);
    char cfg1[1024], cfg2[1024];
    fake_host fh1, fh2;
    huddle_host h1 = fh_host(&fh1, "one"), h2 = fh_host(&fh2, "two");
    huddle_module *m1 = NULL, *m2 = NULL;
    huddle_member *a1, *b1, *a2, *b2;

    fh_write_config(dir, "one", MANUAL, cfg1, sizeof cfg1);
    fh_write_config(dir, "two", MANUAL, cfg2, sizeof cfg2);
    CHECK_STATUS(fh_lib->load(&h1, cfg1, &m1), HUDDLE_STATUS_OK);
    CHECK_STATUS(fh_lib->load(&h2, cfg2, &m2), HUDDLE_STATUS_OK);
    CHECK(m1 != m2);

    /* Each load logged its own config path to its own host only. */
    CHECK(fh_log_contains(&fh1, cfg1) && !fh_log_contains(&fh1, cfg2));
    CHECK(fh_log_contains(&fh2, cfg2) && !fh_log_contains(&fh2, cfg1));

    /* The same room name in both instances is two different rooms. */
    a1 = fh_join(m1, "one-a", "alpha-room");
    b1 = fh_join(m1, "one-b", "shared-name");
    a2 = fh_join(m2, "two-a", "bravo-room");
    b2 = fh_join(m2, "two-b", "shared-name");
    CHECK_STATUS(fh_lib->advance(m1, 100), HUDDLE_STATUS_OK);
    CHECK_STATUS(fh_lib->advance(m2, 100), HUDDLE_STATUS_OK);
    check_list(m1, "alpha-room", "bravo-room");
    check_list(m2, "bravo-room", "alpha-room");

    /* Events and logs about a channel went to its instance's host only. */
    {
        size_t i;
        for (i = 0; i < fh1.event_count; i++)
            CHECK(strncmp(fh1.events[i].call_sid, "two-", 4) != 0);
        for (i = 0; i < fh2.event_count; i++)
            CHECK(strncmp(fh2.events[i].call_sid, "one-", 4) != 0);
    }
    CHECK(fh_count_events(&fh1, "participant-join") == 2);
    CHECK(fh_count_events(&fh2, "participant-join") == 2);
    CHECK(!fh_log_contains(&fh1, "two-a") && !fh_log_contains(&fh2, "one-a"));

    /* A warning from one instance (bad DTMF digit) is logged to its host. */
    CHECK_STATUS(fh_lib->member_dtmf(a2, 'z'), HUDDLE_STATUS_INVALID_ARGUMENT);
    EXPECT_ARG_LOG(&fh2, m2, "huddle_member_dtmf");
    CHECK_STATUS(fh_lib->advance(m1, 0), HUDDLE_STATUS_OK);
    CHECK(!fh_log_contains(&fh1, "huddle_member_dtmf"));

    /* Shutting one down leaves the other working. */
    CHECK_STATUS(fh_lib->shutdown(m1), HUDDLE_STATUS_OK);
    CHECK_STATUS(fh_lib->member_hangup(a1), HUDDLE_STATUS_STALE_HANDLE);
    CHECK_STATUS(fh_lib->member_hangup(b1), HUDDLE_STATUS_STALE_HANDLE);
    CHECK_STATUS(fh_lib->advance(m2, 100), HUDDLE_STATUS_OK);
    check_list(m2, "shared-name", "alpha-room");
    CHECK_STATUS(fh_lib->member_hangup(a2), HUDDLE_STATUS_OK);
    CHECK_STATUS(fh_lib->member_hangup(b2), HUDDLE_STATUS_OK);
    CHECK_STATUS(fh_lib->shutdown(m2), HUDDLE_STATUS_OK);
    fh_destroy(&fh1);
    fh_destroy(&fh2);
    printf("PASS two_instances\n");
    return 0;
}
