/* log_level.c — `[module] log_level` decides what reaches host->log.
 *
 * The same calls run on modules loaded with log_level "debug", "warn" and
 * "off". The calls make lines at every level: the load itself and an
 * unknown API command (info), a frame with an unknown codec and a digit
 * sequence that is no control (debug), a DTMF digit that is not a digit
 * and a refused join (warn). With "debug" all of them arrive (so the calls
 * do make them, and the "warn" run can fail); with "warn" only warnings and
 * errors do; with "off" nothing. Then `reload` with "error" silences the
 * warnings of a running module. */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <string.h>

#include "fake_host.h"

/* Writes `<dir>/<sub>/huddle.conf` with `log_level = level` into `cfg`. */
static void write_config(const char *dir, const char *sub, const char *level, char cfg[1024]) {
    char text[512];
    snprintf(text, sizeof text, "[module]\ntimer = \"manual\"\nlog_level = \"%s\"\n" FH_CONF_DIRS,
             level);
    fh_write_config(dir, sub, text, cfg, 1024);
}

/* Lines of each level (index = huddle_log_level) the host got so far. */
static void count_levels(fake_host *fh, size_t counts[6]) {
    size_t i;
    memset(counts, 0, 6 * sizeof counts[0]);
    pthread_mutex_lock(&fh->lock);
    for (i = 0; i < fh->log_count; i++) {
        int level = fh->logs[i][0] - '0';
        if (level >= 0 && level <= 5) counts[level]++;
    }
    pthread_mutex_unlock(&fh->lock);
}

/* Loads a module with `log_level = level` (config in `cfg`) and makes the
 * calls that log at every level; returns the module for more. */
static huddle_module *load_and_log(fake_host *fh, const char *dir, const char *level,
                                   char cfg[1024]) {
    huddle_host host = fh_host(fh, "levels");
    huddle_module *m = NULL;
    huddle_member *a = NULL, *refused = NULL;
    huddle_caller c;
    huddle_frame f;
    int16_t pcm[320];
    char *reply;

    write_config(dir, level, level, cfg);
    CHECK_STATUS(fh_lib->load(&host, cfg, &m), HUDDLE_STATUS_OK); /* info */
    reply = fh_api(m, "no-such-command");                         /* info */
    fh_lib->str_free(reply);
    memset(&c, 0, sizeof c);
    c.channel = "lv-a";
    c.call_id = "lv-a";
    CHECK_STATUS(fh_lib->app(m, &c, "{beep=false}levels", &a), HUDDLE_STATUS_OK);
    memset(pcm, 0, sizeof pcm);
    memset(&f, 0, sizeof f);
    f.codec = 99; /* debug: unknown codec */
    f.sample_rate = 16000;
    f.samples = 320;
    f.data = (const uint8_t *)pcm;
    f.len = sizeof pcm;
    f.audio_level = -1;
    f.sequence = -1;
    CHECK_STATUS(fh_lib->member_audio(a, &f), HUDDLE_STATUS_BAD_FRAME);
    /* debug: '*0' is no control once the inter-digit timeout passes */
    CHECK_STATUS(fh_lib->member_dtmf(a, '*'), HUDDLE_STATUS_OK);
    CHECK_STATUS(fh_lib->member_dtmf(a, '0'), HUDDLE_STATUS_OK);
    CHECK_STATUS(fh_lib->advance(m, 3000), HUDDLE_STATUS_OK);
    /* warn: not a DTMF digit */
    CHECK_STATUS(fh_lib->member_dtmf(a, 'x'), HUDDLE_STATUS_INVALID_ARGUMENT);
    /* warn: a refused join */
    c.channel = "lv-b";
    c.call_id = "lv-b";
    CHECK_STATUS(fh_lib->app(m, &c, "{muted=maybe}levels", &refused),
                 HUDDLE_STATUS_REFUSED);
    CHECK_STATUS(fh_lib->member_hangup(a), HUDDLE_STATUS_OK);
    return m;
}

static void print_counts(const char *level, const size_t n[6]) {
    printf("ok log_level %-5s: host->log got error %zu, warn %zu, info %zu, debug %zu, "
           "trace %zu\n",
           level, n[HUDDLE_LOG_ERROR], n[HUDDLE_LOG_WARN], n[HUDDLE_LOG_INFO],
           n[HUDDLE_LOG_DEBUG], n[HUDDLE_LOG_TRACE]);
}

int main(int argc, char **argv) {
    const char *dir = fh_start(argc, argv, 60);
    char cfg[1024];
    fake_host fh;
    huddle_module *m;
    size_t n[6], before[6];

    /* debug: every level the calls make arrives. */
    m = load_and_log(&fh, dir, "debug", cfg);
    CHECK_STATUS(fh_lib->shutdown(m), HUDDLE_STATUS_OK);
    count_levels(&fh, n);
    print_counts("debug", n);
    CHECK(n[HUDDLE_LOG_INFO] >= 2 && n[HUDDLE_LOG_DEBUG] >= 2 && n[HUDDLE_LOG_WARN] >= 2);
    CHECK(fh_log_contains(&fh, "loaded"));
    CHECK(fh_log_contains(&fh, "frame->codec"));
    CHECK(fh_log_contains(&fh, "is no control"));
    fh_destroy(&fh);

    /* warn: the warnings, and nothing below them. */
    m = load_and_log(&fh, dir, "warn", cfg);
    count_levels(&fh, n);
    print_counts("warn", n);
    CHECK(n[HUDDLE_LOG_INFO] == 0 && n[HUDDLE_LOG_DEBUG] == 0 && n[HUDDLE_LOG_TRACE] == 0);
    CHECK(n[HUDDLE_LOG_WARN] >= 2);
    CHECK(fh_log_contains(&fh, "huddle_member_dtmf: argument 'digit'"));
    CHECK(fh_log_contains(&fh, "refused"));
    CHECK(!fh_log_contains(&fh, "loaded") && !fh_log_contains(&fh, "frame->codec"));

    /* reload with "error": the running module's warnings stop too. */
    write_config(dir, "warn", "error", cfg);
    CHECK_STATUS(fh_lib->reload(m), HUDDLE_STATUS_OK);
    count_levels(&fh, before);
    {
        huddle_caller c;
        huddle_member *refused = NULL;
        memset(&c, 0, sizeof c);
        c.channel = "lv-c";
        CHECK_STATUS(fh_lib->app(m, &c, "{muted=maybe}levels", &refused),
                     HUDDLE_STATUS_REFUSED);
    }
    count_levels(&fh, n);
    CHECK(n[HUDDLE_LOG_WARN] == before[HUDDLE_LOG_WARN] && n[HUDDLE_LOG_INFO] == 0);
    printf("ok reload to error: no warning for a refused join\n");
    CHECK_STATUS(fh_lib->shutdown(m), HUDDLE_STATUS_OK);
    fh_destroy(&fh);

    /* off: nothing at all. */
    m = load_and_log(&fh, dir, "off", cfg);
    CHECK_STATUS(fh_lib->shutdown(m), HUDDLE_STATUS_OK);
    count_levels(&fh, n);
    print_counts("off", n);
    CHECK(fh.log_count == 0 && fh.log_overflow == 0);
    fh_destroy(&fh);

    printf("PASS log_level\n");
    return 0;
}
