/*
 * fake_host.h — a small host for the C harness programs.
 *
 * Each program `dlopen`s libhuddle.so (path in argv[1]), finds the interface
 * table with `dlsym`, and fills a `huddle_host` table whose callbacks record
 * what huddle gives them in a `fake_host` (the callbacks' ctx). Everything is
 * bounded: a host that receives more than it can store counts the overflow.
 *
 * Conventions: argv[1] = path of libhuddle.so, argv[2] = a scratch directory
 * the program may write to. A program prints "PASS <name>" and exits 0, or
 * prints "FAIL file:line: what" and exits 1. A watchdog alarm turns a
 * deadlock into a failure (SIGALRM) instead of a hung test.
 */
#ifndef FAKE_HOST_H
#define FAKE_HOST_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "huddle.h"

#define FH_MAX_LOGS 256
#define FH_MAX_LINE 512
#define FH_MAX_EVENTS 128
#define FH_MAX_FIELD 128
#define FH_MAX_CHANNELS 4
#define FH_MAX_SAMPLES (48000 * 4)
#define FH_MAX_HANGUPS 32

typedef struct fh_event {
    char name[FH_MAX_FIELD];
    char conference_sid[FH_MAX_FIELD];
    char sequence_number[FH_MAX_FIELD];
    char call_sid[FH_MAX_FIELD];
    int has_conference_sid;
    int has_sequence_number;
} fh_event;

typedef struct fh_audio {
    char channel[FH_MAX_FIELD];
    uint32_t rate;
    size_t frames;
    size_t count;
    int16_t samples[FH_MAX_SAMPLES];
} fh_audio;

typedef struct fake_host fake_host;

/* Called from inside the event callback (after recording the event), with
 * no fake_host lock held: lets a test re-enter huddle from a callback. */
typedef void (*fh_event_hook)(fake_host *fh, const huddle_event *event);

struct fake_host {
    const char *name;
    pthread_mutex_t lock;
    char logs[FH_MAX_LOGS][FH_MAX_LINE];
    size_t log_count;      /* stored */
    size_t log_overflow;   /* received but not stored */
    fh_event events[FH_MAX_EVENTS];
    size_t event_count;
    size_t event_overflow;
    fh_audio audio[FH_MAX_CHANNELS];
    size_t audio_channels;
    char hangups[FH_MAX_HANGUPS][FH_MAX_FIELD];
    uint32_t hangup_causes[FH_MAX_HANGUPS];
    size_t hangup_count;
    fh_event_hook on_event;
    void *user; /* for hooks */
    int echo_logs; /* print every log line to stdout */
};

/* The module sections most programs load: sounds/ and recordings/ are the
 * directories fh_write_config creates beside the config. */
#define FH_CONF_DIRS                                                        \
    "sounds_dir = \"sounds\"\n"                                             \
    "recordings_dir = \"recordings\"\n"
#define FH_CONF_MANUAL "[module]\ntimer = \"manual\"\n" FH_CONF_DIRS
/* `threads` is a literal number. */
#define FH_CONF_REALTIME(threads)                                           \
    "[module]\ntimer = \"realtime\"\nmixer_threads = " #threads "\n" FH_CONF_DIRS

/* The library under test. */
extern const huddle_interface *fh_lib;

/* Exits with a FAIL line naming the failed condition. */
#define CHECK(cond)                                                         \
    do {                                                                    \
        if (!(cond)) fh_fail(__FILE__, __LINE__, "%s", #cond);              \
    } while (0)
/* Compares two huddle statuses, printing both names on failure. */
#define CHECK_STATUS(got, want)                                             \
    do {                                                                    \
        uint32_t fh_got_ = (uint32_t)(got), fh_want_ = (uint32_t)(want);    \
        if (fh_got_ != fh_want_)                                            \
            fh_fail(__FILE__, __LINE__, "%s = %u (%s), expected %u (%s)",   \
                    #got, fh_got_, fh_lib->strerror(fh_got_), fh_want_,     \
                    fh_lib->strerror(fh_want_));                            \
    } while (0)

void fh_fail(const char *file, int line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((noreturn, format(printf, 3, 4)))
#endif
    ;

/* Opens the library named by argv[1], checks the table's ABI version, arms
 * a watchdog of `watchdog_s` seconds. Returns the scratch dir (argv[2]). */
const char *fh_start(int argc, char **argv, unsigned watchdog_s);

/* A host table whose ctx is `fh` (initialised here). */
huddle_host fh_host(fake_host *fh, const char *name);
void fh_destroy(fake_host *fh);

/* Writes `<dir>/<sub>/huddle.conf` holding `text`, with sounds/ and
 * recordings/ beside it; returns the config path (static storage per call
 * site is not needed: the result is copied into `out`, `out_len` bytes). */
void fh_write_config(const char *dir, const char *sub, const char *text,
                     char *out, size_t out_len);

/* Counters under the lock. */
int fh_log_contains(fake_host *fh, const char *needle);
int fh_log_contains2(fake_host *fh, const char *a, const char *b);
void fh_dump_logs(fake_host *fh);
size_t fh_count_events(fake_host *fh, const char *name);
const fh_event *fh_find_event(fake_host *fh, const char *name, size_t nth);
const fh_audio *fh_audio_for(fake_host *fh, const char *channel);

/* Checks that the host log received a line holding `needle` by the time the
 * huddle call that refused an argument returned, as ffi/huddle_host.h
 * promises for the manual timer ("before that call returns"), early returns
 * on bad arguments included. */
#define EXPECT_ARG_LOG(fh, module, needle) \
    fh_expect_arg_log((fh), (module), (needle), __FILE__, __LINE__)
void fh_expect_arg_log(fake_host *fh, huddle_module *module, const char *needle,
                       const char *file, int line);

/* Entries in a /proc/self directory ("task", "fd"), or -1. */
long fh_count_dir(const char *path);

/* Goertzel power of `freq` in samples[0..n). */
double fh_goertzel(const int16_t *samples, size_t n, double freq, double rate);
/* Fills `out` with a sine, continuing from *phase. */
void fh_sine(int16_t *out, size_t n, double freq, double rate, double amp,
             double *phase);

/* A caller whose channel and call id are both `channel`, the rest unset. */
huddle_caller fh_caller(const char *channel);
/* Joins `channel` to `room` (app data); fails the test unless it is let in. */
huddle_member *fh_join(huddle_module *m, const char *channel, const char *room);
/* An L16 frame over `pcm` (`samples` samples at `rate` Hz), no level. */
huddle_frame fh_l16(const int16_t *pcm, uint32_t samples, uint32_t rate, int sequence);

/* A scenario run once per timer: `config` is the module section to load,
 * `sub` a scratch subdirectory of `dir` for it. */
typedef void (*fh_scenario)(const char *dir, const char *sub, const char *config, int realtime);
/* main() of a program that runs `run` on the manual timer, then on the
 * realtime one with `realtime_config` (a watchdog of 60 s); prints PASS. */
int fh_main_both_timers(int argc, char **argv, const char *name, fh_scenario run,
                        const char *realtime_config);

/* Runs an API command and returns the reply (caller frees with
 * fh_lib->str_free); fails the test unless the status is OK. */
char *fh_api(huddle_module *m, const char *command);

#endif /* FAKE_HOST_H */
