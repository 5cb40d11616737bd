/* fake_host.c — see fake_host.h. */
#define _POSIX_C_SOURCE 200809L

#include "fake_host.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const huddle_interface *fh_lib = NULL;

void fh_fail(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    printf("FAIL %s:%d: ", file, line);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    exit(1);
}

const char *fh_start(int argc, char **argv, unsigned watchdog_s) {
    void *lib;
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 3) {
        fprintf(stderr, "usage: %s <libhuddle.so> <scratch dir> [args]\n",
                argc > 0 ? argv[0] : "harness");
        exit(2);
    }
    /* A deadlock ends the program with SIGALRM: the runner reports it. */
    alarm(watchdog_s);
    lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) fh_fail(__FILE__, __LINE__, "dlopen: %s", dlerror());
    /* The interface table is data, so no object-to-function pointer cast. */
    fh_lib = (const huddle_interface *)dlsym(lib, "huddle_module_interface");
    if (fh_lib == NULL) fh_fail(__FILE__, __LINE__, "dlsym: %s", dlerror());
    CHECK(fh_lib->abi_version == HUDDLE_HOST_ABI_VERSION);
    /* The library is never dlclosed: a host unloads huddle by shutting its
     * modules down, and the process keeps the code mapped. */
    return argv[2];
}

static void copy_str(char *dst, size_t len, const char *src) {
    snprintf(dst, len, "%s", src != NULL ? src : "(null)");
}

static void cb_log(void *ctx, huddle_log_level level, const char *target,
                   const char *message) {
    fake_host *fh = ctx;
    pthread_mutex_lock(&fh->lock);
    if (fh->echo_logs)
        printf("[%s log %d] %s: %s\n", fh->name, (int)level,
               target ? target : "(null)", message ? message : "(null)");
    if (fh->log_count < FH_MAX_LOGS) {
        snprintf(fh->logs[fh->log_count], FH_MAX_LINE, "%d %s: %s", (int)level,
                 target ? target : "(null)", message ? message : "(null)");
        fh->log_count++;
    } else {
        fh->log_overflow++;
    }
    pthread_mutex_unlock(&fh->lock);
}

static void cb_send_audio(void *ctx, const char *channel,
                          const huddle_frame *frame) {
    fake_host *fh = ctx;
    fh_audio *a = NULL;
    size_t i;
    if (channel == NULL || frame == NULL) return;
    pthread_mutex_lock(&fh->lock);
    for (i = 0; i < fh->audio_channels; i++)
        if (strcmp(fh->audio[i].channel, channel) == 0) a = &fh->audio[i];
    if (a == NULL && fh->audio_channels < FH_MAX_CHANNELS) {
        a = &fh->audio[fh->audio_channels++];
        copy_str(a->channel, sizeof a->channel, channel);
        a->count = 0;
        a->frames = 0;
    }
    if (a != NULL) {
        a->frames++;
        a->rate = frame->sample_rate;
        if (frame->codec == HUDDLE_CODEC_L16 && frame->data != NULL) {
            size_t n = frame->len / 2;
            for (i = 0; i < n && a->count < FH_MAX_SAMPLES; i++) {
                int16_t s;
                memcpy(&s, frame->data + 2 * i, sizeof s);
                a->samples[a->count++] = s;
            }
        }
    }
    pthread_mutex_unlock(&fh->lock);
}

static void cb_hangup(void *ctx, const char *channel, uint32_t cause) {
    fake_host *fh = ctx;
    pthread_mutex_lock(&fh->lock);
    if (fh->hangup_count < FH_MAX_HANGUPS) {
        copy_str(fh->hangups[fh->hangup_count], FH_MAX_FIELD, channel);
        fh->hangup_causes[fh->hangup_count] = cause;
        fh->hangup_count++;
    }
    pthread_mutex_unlock(&fh->lock);
}

static void cb_event(void *ctx, const huddle_event *event) {
    fake_host *fh = ctx;
    fh_event_hook hook;
    size_t i;
    if (event == NULL) return;
    pthread_mutex_lock(&fh->lock);
    if (fh->event_count < FH_MAX_EVENTS) {
        fh_event *e = &fh->events[fh->event_count++];
        memset(e, 0, sizeof *e);
        copy_str(e->name, sizeof e->name, event->name);
        for (i = 0; i < event->field_count; i++) {
            const huddle_event_field *f = &event->fields[i];
            if (f->key == NULL) continue;
            if (strcmp(f->key, "ConferenceSid") == 0) {
                copy_str(e->conference_sid, sizeof e->conference_sid, f->value);
                e->has_conference_sid = 1;
            } else if (strcmp(f->key, "SequenceNumber") == 0) {
                copy_str(e->sequence_number, sizeof e->sequence_number,
                         f->value);
                e->has_sequence_number = 1;
            } else if (strcmp(f->key, "CallSid") == 0) {
                copy_str(e->call_sid, sizeof e->call_sid, f->value);
            }
        }
    } else {
        fh->event_overflow++;
    }
    hook = fh->on_event;
    pthread_mutex_unlock(&fh->lock);
    if (hook != NULL) hook(fh, event);
}

static int32_t cb_originate(void *ctx, const char *destination,
                            const char *room, const char *account) {
    (void)ctx;
    (void)destination;
    (void)room;
    (void)account;
    return -1; /* this host cannot dial out */
}

huddle_host fh_host(fake_host *fh, const char *name) {
    huddle_host h;
    memset(fh, 0, sizeof *fh);
    fh->name = name;
    pthread_mutex_init(&fh->lock, NULL);
    memset(&h, 0, sizeof h);
    h.abi_version = HUDDLE_HOST_ABI_VERSION;
    h.ctx = fh;
    h.log = cb_log;
    h.send_audio = cb_send_audio;
    h.hangup = cb_hangup;
    h.event = cb_event;
    h.originate = cb_originate;
    return h;
}

void fh_destroy(fake_host *fh) { pthread_mutex_destroy(&fh->lock); }

static void make_dir(const char *path) {
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        fh_fail(__FILE__, __LINE__, "mkdir %s: %s", path, strerror(errno));
}

void fh_write_config(const char *dir, const char *sub, const char *text,
                     char *out, size_t out_len) {
    char path[1024];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    make_dir(dir);
    make_dir(path);
    snprintf(path, sizeof path, "%s/%s/sounds", dir, sub);
    make_dir(path);
    snprintf(path, sizeof path, "%s/%s/recordings", dir, sub);
    make_dir(path);
    snprintf(out, out_len, "%s/%s/huddle.conf", dir, sub);
    f = fopen(out, "w");
    if (f == NULL) fh_fail(__FILE__, __LINE__, "fopen %s: %s", out, strerror(errno));
    fputs(text, f);
    fclose(f);
}

int fh_log_contains(fake_host *fh, const char *needle) {
    return fh_log_contains2(fh, needle, "");
}

int fh_log_contains2(fake_host *fh, const char *a, const char *b) {
    size_t i;
    int found = 0;
    pthread_mutex_lock(&fh->lock);
    for (i = 0; i < fh->log_count && !found; i++)
        found = strstr(fh->logs[i], a) != NULL && strstr(fh->logs[i], b) != NULL;
    pthread_mutex_unlock(&fh->lock);
    return found;
}

void fh_dump_logs(fake_host *fh) {
    size_t i;
    pthread_mutex_lock(&fh->lock);
    for (i = 0; i < fh->log_count; i++) printf("  [%s] %s\n", fh->name, fh->logs[i]);
    pthread_mutex_unlock(&fh->lock);
}

size_t fh_count_events(fake_host *fh, const char *name) {
    size_t i, n = 0;
    pthread_mutex_lock(&fh->lock);
    for (i = 0; i < fh->event_count; i++)
        if (strcmp(fh->events[i].name, name) == 0) n++;
    pthread_mutex_unlock(&fh->lock);
    return n;
}

const fh_event *fh_find_event(fake_host *fh, const char *name, size_t nth) {
    size_t i;
    const fh_event *found = NULL;
    pthread_mutex_lock(&fh->lock);
    for (i = 0; i < fh->event_count && found == NULL; i++)
        if (strcmp(fh->events[i].name, name) == 0 && nth-- == 0)
            found = &fh->events[i];
    pthread_mutex_unlock(&fh->lock);
    return found;
}

const fh_audio *fh_audio_for(fake_host *fh, const char *channel) {
    size_t i;
    const fh_audio *found = NULL;
    pthread_mutex_lock(&fh->lock);
    for (i = 0; i < fh->audio_channels; i++)
        if (strcmp(fh->audio[i].channel, channel) == 0) found = &fh->audio[i];
    pthread_mutex_unlock(&fh->lock);
    return found;
}

void fh_expect_arg_log(fake_host *fh, huddle_module *module, const char *needle,
                       const char *file, int line) {
    (void)module;
    if (fh_log_contains(fh, needle)) return;
    fh_dump_logs(fh);
    fh_fail(file, line, "the log line holding '%s' did not arrive before the call returned", needle);
}

long fh_count_dir(const char *path) {
    DIR *d = opendir(path);
    struct dirent *e;
    long n = 0;
    if (d == NULL) return -1;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

double fh_goertzel(const int16_t *samples, size_t n, double freq, double rate) {
    const double pi = 3.14159265358979323846;
    double coeff = 2.0 * cos(2.0 * pi * freq / rate);
    double s1 = 0.0, s2 = 0.0;
    size_t i;
    for (i = 0; i < n; i++) {
        double s0 = (double)samples[i] + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    return s1 * s1 + s2 * s2 - coeff * s1 * s2;
}

void fh_sine(int16_t *out, size_t n, double freq, double rate, double amp,
             double *phase) {
    const double pi = 3.14159265358979323846;
    double step = 2.0 * pi * freq / rate;
    size_t i;
    for (i = 0; i < n; i++) {
        out[i] = (int16_t)lround(amp * sin(*phase));
        *phase += step;
        if (*phase > 2.0 * pi) *phase -= 2.0 * pi;
    }
}

char *fh_api(huddle_module *m, const char *command) {
    char *reply = NULL;
    CHECK_STATUS(fh_lib->api(m, command, &reply), HUDDLE_STATUS_OK);
    CHECK(reply != NULL);
    return reply;
}

huddle_caller fh_caller(const char *channel) {
    huddle_caller c;
    memset(&c, 0, sizeof c);
    c.channel = channel;
    c.call_id = channel;
    return c;
}

huddle_member *fh_join(huddle_module *m, const char *channel, const char *room) {
    huddle_caller c = fh_caller(channel);
    huddle_member *mem = NULL;
    CHECK_STATUS(fh_lib->app(m, &c, room, &mem), HUDDLE_STATUS_OK);
    CHECK(mem != NULL);
    return mem;
}

huddle_frame fh_l16(const int16_t *pcm, uint32_t samples, uint32_t rate, int sequence) {
    huddle_frame f = {.codec = HUDDLE_CODEC_L16,
                      .sample_rate = rate,
                      .samples = samples,
                      .data = (const uint8_t *)pcm,
                      .len = (size_t)samples * 2u,
                      .audio_level = -1,
                      .sequence = sequence};
    return f;
}

int fh_main_both_timers(int argc, char **argv, const char *name, fh_scenario run,
                        const char *realtime_config) {
    const char *dir = fh_start(argc, argv, 60);
    run(dir, "manual", FH_CONF_MANUAL, 0);
    run(dir, "realtime", realtime_config, 1);
    printf("PASS %s\n", name);
    return 0;
}
