/*
 * refhost.c — the huddle reference host.
 *
 * This is the example a softswitch author copies from. It shows, with no
 * conference logic of its own, everything a host does with libhuddle.so:
 *
 *   1. dlopen() the module and dlsym("huddle_module_interface"), then check
 *      the ABI version before calling anything            -> open_module()
 *   2. fill in a huddle_host callback table (log, send_audio, hangup,
 *      event, originate) and load a config               -> main()
 *   3. for each call leg, run the `conference` dialplan app, feed it the
 *      leg's audio frames and DTMF, and release the member handle exactly
 *      once when the leg ends, whoever ended it           -> run_action(), send_frames()
 *   4. drive time: on the manual timer the host calls advance() once per
 *      frame and gets every callback before it returns; on the realtime
 *      timer huddle's own threads call back                -> main loop
 *   5. pass operator commands to api(), reload()           -> SCN_API, SCN_RELOAD,
 *                                                            --interactive
 *   6. shutdown() before dlclose()
 *
 * The call legs are simulated: a scenario file (scenario.h) says who dials
 * what when, and what they say (WAV files, tones) and press. Each leg's
 * received audio is written to <out>/<leg>.wav; events go to stdout and to
 * <out>/events.jsonl. Opus legs use libopus directly, as a real host would.
 *
 * Build (scripts/demo.sh does this):
 *   cc -std=c11 -Wall -Wextra -Werror -pedantic -Iinclude -Iffi
 *      ffi/refhost/refhost.c ffi/refhost/scenario.c ffi/refhost/audio.c
 *      -o target/refhost -ldl -lopus -lm -lpthread
 *
 * Usage: refhost [--json] [--realtime] [--interactive] [--out DIR]
 *                [--lib PATH/libhuddle.so] SCENARIO
 */
#define _DEFAULT_SOURCE /* realpath */
#define _POSIX_C_SOURCE 200809L

/* The in-tree build's module; `make install` builds the installed copy with
 * the library's SONAME here, found through the dynamic linker's path. */
#ifndef REFHOST_DEFAULT_LIB
#define REFHOST_DEFAULT_LIB "target/release/libhuddle.so"
#endif

#include <dlfcn.h>
#include <errno.h>
#include <opus/opus.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "huddle.h"
#include "refhost/audio.h"
#include "refhost/scenario.h"

/* ------------------------------------------------------------------ legs */

/* What the host knows about one simulated call leg. Everything the
 * callbacks touch is guarded by g_lock, because with the realtime timer
 * send_audio and event arrive on huddle's threads. */
typedef struct leg {
    const scn_leg *spec;
    char channel[96];
    char call_id[96];
    huddle_member *member;   /* NULL before dial and after release */
    int dialed;
    int ended;               /* the leg is over: hung up by us or by huddle */
    int hungup_by_module;    /* huddle called host->hangup for this channel */
    uint32_t hangup_cause;
    /* what the leg is sending now */
    pcm_buf source;
    size_t source_pos;
    char dtmf_queue[SCN_TEXT];
    size_t dtmf_pos;
    uint64_t next_dtmf_ms;
    uint16_t seq;
    /* what the leg heard, aligned to scenario time 0 */
    pcm_buf heard;
    OpusEncoder *enc;
    OpusDecoder *dec;
} leg;

static const huddle_interface *hi; /* the module's entry table */
static huddle_module *g_module;
static scenario g_scn;
static leg g_legs[SCN_MAX_LEGS];
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_json;
static int g_realtime;
static FILE *g_events;           /* <out>/events.jsonl */
static FILE *g_modlog;           /* <out>/module.log */
static atomic_int g_errors;      /* module ERROR log lines + failed calls */
static atomic_ullong g_now_ms;   /* scenario time, for stamping callbacks */
static struct timespec g_t0;
/* The host's copy of the config (see derived_config()), which huddle
 * loaded and reads again at reload; removed after shutdown. */
static char g_cfg[1200];
static char g_rec_dir[1400];
/* Recordings huddle reported as completed (RecordingUrl file://...). */
static char g_recordings[8][1024];
static size_t g_recording_count;


static uint64_t wall_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)(t.tv_sec - g_t0.tv_sec) * 1000u + (uint64_t)((t.tv_nsec - g_t0.tv_nsec) / 1000000);
}

static uint64_t now_ms(void)
{
    return g_realtime ? wall_ms() : atomic_load(&g_now_ms);
}

static leg *leg_by_channel(const char *channel)
{
    for (size_t i = 0; i < g_scn.leg_count; i++) {
        if (channel && !strcmp(g_legs[i].channel, channel)) {
            return &g_legs[i];
        }
    }
    return NULL;
}

static leg *leg_by_call_id(const char *call_id)
{
    for (size_t i = 0; i < g_scn.leg_count; i++) {
        if (call_id && !strcmp(g_legs[i].call_id, call_id)) {
            return &g_legs[i];
        }
    }
    return NULL;
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            fprintf(f, "\\%c", c);
        } else if (c == '\n') {
            fputs("\\n", f);
        } else if (c < 0x20) {
            fprintf(f, "\\u%04x", c);
        } else {
            fputc(c, f);
        }
    }
    fputc('"', f);
}

/* One JSON line: {"t":1.234,"event":NAME,"source":SRC,"leg":LEG,fields...} */
static void json_line(FILE *f, uint64_t t, const char *name, const char *source, const char *legname,
                      const huddle_event_field *fields, size_t n)
{
    fprintf(f, "{\"t\":%.3f,\"event\":", (double)t / 1000.0);
    json_str(f, name);
    fputs(",\"source\":", f);
    json_str(f, source);
    if (legname) {
        fputs(",\"leg\":", f);
        json_str(f, legname);
    }
    for (size_t i = 0; i < n; i++) {
        fputc(',', f);
        json_str(f, fields[i].key);
        fputc(':', f);
        json_str(f, fields[i].value);
    }
    fputs("}\n", f);
}

/* Host-side happenings (dial, DTMF, hangup, API) go into the same log as
 * huddle's events, marked source "host", so the log reads as one story. */
static void host_note(const char *name, const leg *l, const char *key, const char *value)
{
    huddle_event_field f[1] = {{key, value}};
    size_t n = key ? 1 : 0;
    uint64_t t = now_ms();
    pthread_mutex_lock(&g_lock);
    if (g_events) {
        json_line(g_events, t, name, "host", l ? l->spec->name : NULL, f, n);
    }
    if (g_json) {
        json_line(stdout, t, name, "host", l ? l->spec->name : NULL, f, n);
    } else {
        printf("%8.3f  %-8s %-26s %s%s%s\n", (double)t / 1000.0, l ? l->spec->name : "operator", name,
               key ? key : "", key ? "=" : "", value ? value : "");
    }
    fflush(stdout);
    pthread_mutex_unlock(&g_lock);
}

/* ------------------------------------------------------- host callbacks */

static void cb_log(void *ctx, huddle_log_level level, const char *target, const char *message)
{
    static const char *names[] = {"?", "ERROR", "WARN", "INFO", "DEBUG", "TRACE"};
    (void)ctx;
    if (level == HUDDLE_LOG_ERROR) {
        atomic_fetch_add(&g_errors, 1);
    }
    pthread_mutex_lock(&g_lock);
    FILE *f = g_modlog ? g_modlog : stderr;
    fprintf(f, "%8.3f %-5s %s: %s\n", (double)now_ms() / 1000.0,
            names[level >= 1 && level <= 5 ? level : 0], target ? target : "", message ? message : "");
    if (level <= HUDDLE_LOG_WARN && g_modlog) {
        fprintf(stderr, "huddle %s: %s\n", names[level], message ? message : "");
    }
    pthread_mutex_unlock(&g_lock);
}

/* Called once per frame per member: copy and return, never block, never
 * call into huddle (huddle_host.h). Here "playing it to the caller" means
 * appending it to what the leg heard, at the right place in time. */
static void cb_send_audio(void *ctx, const char *channel, const huddle_frame *frame)
{
    (void)ctx;
    pthread_mutex_lock(&g_lock);
    leg *l = leg_by_channel(channel);
    if (l) {
        int16_t pcm[5760];
        size_t n = 0;
        if (frame->codec == HUDDLE_CODEC_OPUS && l->dec) {
            int got = opus_decode(l->dec, frame->data, (opus_int32)frame->len, pcm, 5760, 0);
            n = got > 0 ? (size_t)got : 0;
        } else if (frame->codec == HUDDLE_CODEC_L16) {
            n = frame->len / 2;
            if (n > 5760) {
                n = 5760;
            }
            memcpy(pcm, frame->data, n * 2);
            if (frame->sample_rate != l->heard.rate && n) {
                /* huddle answers in the format the leg sends; before the
                 * leg's first frame it may use the room rate. */
                int16_t *rs;
                size_t rn;
                if (resample_linear(pcm, n, frame->sample_rate, l->heard.rate, &rs, &rn) == 0) {
                    n = rn > 5760 ? 5760 : rn;
                    memcpy(pcm, rs, n * 2);
                    free(rs);
                }
            }
        }
        pcm_append(&l->heard, pcm, n);
    }
    pthread_mutex_unlock(&g_lock);
}

/* huddle ends a leg (kick, end of conference, refused). A real host tears
 * the call down; this one stops the leg and, back on its own thread,
 * releases the member handle (see release_ended()). */
static void cb_hangup(void *ctx, const char *channel, uint32_t cause)
{
    (void)ctx;
    pthread_mutex_lock(&g_lock);
    leg *l = leg_by_channel(channel);
    if (l) {
        l->hungup_by_module = 1;
        l->hangup_cause = cause;
    }
    pthread_mutex_unlock(&g_lock);
    char c[16];
    snprintf(c, sizeof c, "%u", cause);
    host_note("host-hangup-by-module", l, "Cause", c);
}

/* Fields the one-line text form leaves out (ids and call details). */
#define QUIET_FIELDS                                                                                  \
    "|ConferenceSid|SequenceNumber|CallSid|Timestamp|StatusCallbackEvent|AccountSid|FriendlyName|From|" \
    "To|ParticipantLabel|RecordingSid|RecordingStartTime|RecordingChannels|RecordingStatus|"

static void cb_event(void *ctx, const huddle_event *ev)
{
    (void)ctx;
    const char *call_id = NULL, *url = NULL;
    for (size_t i = 0; i < ev->field_count; i++) {
        if (!strcmp(ev->fields[i].key, "CallSid")) {
            call_id = ev->fields[i].value;
        } else if (!strcmp(ev->fields[i].key, "RecordingUrl")) {
            url = ev->fields[i].value;
        }
    }
    uint64_t t = now_ms();
    pthread_mutex_lock(&g_lock);
    leg *l = leg_by_call_id(call_id);
    if (!strcmp(ev->name, "recording-completed") && url && !strncmp(url, "file://", 7) && g_recording_count < 8) {
        snprintf(g_recordings[g_recording_count++], sizeof g_recordings[0], "%s", url + 7);
    }
    const char *legname = l ? l->spec->name : NULL;
    if (g_events) {
        json_line(g_events, t, ev->name, "huddle", legname, ev->fields, ev->field_count);
        fflush(g_events);
    }
    if (g_json) {
        json_line(stdout, t, ev->name, "huddle", legname, ev->fields, ev->field_count);
    } else {
        /* Human-readable: time, who, what, and the fields worth reading. */
        printf("%8.3f  %-8s %-26s", (double)t / 1000.0, legname ? legname : "", ev->name);
        for (size_t i = 0; i < ev->field_count; i++) {
            const char *k = ev->fields[i].key;
            const char *v = ev->fields[i].value;
            char bar[80];
            snprintf(bar, sizeof bar, "|%.64s|", k);
            if (strstr(QUIET_FIELDS, bar) || (!strcmp(v, "false") || !v[0])) {
                continue; /* everything is in --json and events.jsonl */
            }
            printf(" %s=%s", k, v);
        }
        putchar('\n');
    }
    fflush(stdout);
    pthread_mutex_unlock(&g_lock);
}

static int32_t cb_originate(void *ctx, const char *destination, const char *room, const char *account)
{
    (void)ctx;
    (void)account;
    /* The reference host has no outbound trunk: refuse, visibly. */
    char what[256];
    snprintf(what, sizeof what, "%s -> %s", destination, room);
    host_note("host-originate-refused", NULL, "Dial", what);
    return -1;
}

/* ------------------------------------------------------------ the module */

static void *open_module(const char *path)
{
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "refhost: dlopen %s: %s\n", path, dlerror());
        return NULL;
    }
    hi = dlsym(lib, "huddle_module_interface");
    if (!hi) {
        fprintf(stderr, "refhost: %s has no huddle_module_interface: %s\n", path, dlerror());
        dlclose(lib);
        return NULL;
    }
    /* Check the ABI before touching any other field: a module built for
     * another ABI may lay out its table differently. */
    if (hi->abi_version != HUDDLE_HOST_ABI_VERSION) {
        fprintf(stderr, "refhost: %s implements ABI %u, this host was built for ABI %u\n", path,
                hi->abi_version, HUDDLE_HOST_ABI_VERSION);
        dlclose(lib);
        return NULL;
    }
    return lib;
}

/* A failed call is an error for the exit status, except the outcomes a
 * call leg legitimately meets (refused, already gone). */
static void check(huddle_status st, const char *what, const leg *l)
{
    if (st == HUDDLE_STATUS_OK || st == HUDDLE_STATUS_MEMBER_GONE || st == HUDDLE_STATUS_REFUSED) {
        return;
    }
    atomic_fetch_add(&g_errors, 1);
    fprintf(stderr, "refhost: %s%s%s: %s (%u)\n", what, l ? " for " : "", l ? l->spec->name : "",
            hi->strerror(st), st);
}

/* Releases the member handle of every leg huddle hung up. Runs on the
 * host's own thread, outside any callback, so the handle is released
 * exactly once and never from inside huddle. */
static void release_ended(void)
{
    for (size_t i = 0; i < g_scn.leg_count; i++) {
        leg *l = &g_legs[i];
        pthread_mutex_lock(&g_lock);
        int gone = l->hungup_by_module && !l->ended;
        huddle_member *m = l->member;
        if (gone) {
            l->ended = 1;
            l->member = NULL;
        }
        pthread_mutex_unlock(&g_lock);
        if (gone && m) {
            huddle_status st = hi->member_hangup(m);
            check(st, "member_hangup", l);
        }
    }
}

/* Brings a leg's heard buffer up to scenario time `t`, so each WAV lines
 * up with the scenario clock (silence where nothing arrived). */
static void pad_heard(leg *l, uint64_t t)
{
    size_t want = (size_t)(t * l->heard.rate / 1000);
    if (l->heard.len < want) {
        pcm_append(&l->heard, NULL, want - l->heard.len);
    }
}

static int derived_config(const char *src, const char *rec_dir, int realtime, const char *dst);

/* An operator command, from the scenario (`at T api ...`) or the
 * --interactive console: passed to api() as is, the command and its reply
 * noted (host-api, host-api-reply) on stdout and in events.jsonl. */
static void operator_command(const char *cmd)
{
    char *reply = NULL;
    host_note("host-api", NULL, "Command", cmd);
    huddle_status st = hi->api(g_module, cmd, &reply);
    check(st, "api", NULL);
    if (reply) {
        host_note("host-api-reply", NULL, "Reply", reply);
        hi->str_free(reply);
    }
}

static void run_action(const scn_action *a)
{
    leg *l = a->leg >= 0 ? &g_legs[a->leg] : NULL;
    char err[600];
    switch (a->verb) {
    case SCN_DIAL: {
        if (l->dialed) {
            fprintf(stderr, "refhost: %s:%d: %s already dialed; ignored\n", g_scn.path, a->line, l->spec->name);
            atomic_fetch_add(&g_errors, 1);
            return;
        }
        huddle_caller c = {
            .channel = l->channel,
            .account = l->spec->account,
            .call_id = l->call_id,
            .from = l->spec->from,
            .to = l->spec->to,
            .caller_name = l->spec->caller_name,
        };
        host_note("host-dial", l, "AppData", a->text);
        l->dialed = 1;
        huddle_member *m = NULL;
        huddle_status st = hi->app(g_module, &c, a->text, &m);
        pthread_mutex_lock(&g_lock);
        if (st == HUDDLE_STATUS_OK) {
            l->member = m;
        } else {
            l->ended = 1; /* refused: huddle called hangup, no handle to release */
        }
        pthread_mutex_unlock(&g_lock);
        if (st != HUDDLE_STATUS_OK) {
            host_note("host-dial-refused", l, "Status", hi->strerror(st));
        }
        check(st, "conference app", l);
        return;
    }
    case SCN_PLAY:
        pthread_mutex_lock(&g_lock);
        l->source.len = 0;
        l->source_pos = 0;
        if (wav_read(a->text, l->spec->rate, &l->source, err, sizeof err)) {
            pthread_mutex_unlock(&g_lock);
            fprintf(stderr, "refhost: %s:%d: %s\n", g_scn.path, a->line, err);
            atomic_fetch_add(&g_errors, 1);
            return;
        }
        pthread_mutex_unlock(&g_lock);
        {
            const char *base = strrchr(a->text, '/');
            host_note("host-play", l, "File", base ? base + 1 : a->text);
        }
        return;
    case SCN_TONE:
        pthread_mutex_lock(&g_lock);
        l->source.len = 0;
        l->source_pos = 0;
        tone_make(a->hz, a->seconds, a->dbfs, l->spec->rate, &l->source);
        pthread_mutex_unlock(&g_lock);
        host_note("host-tone", l, NULL, NULL);
        return;
    case SCN_SILENCE:
        l->source.len = 0;
        l->source_pos = 0;
        host_note("host-silence", l, NULL, NULL);
        return;
    case SCN_DTMF:
        /* queued, one digit every 100 ms, like a person on a keypad */
        snprintf(l->dtmf_queue, sizeof l->dtmf_queue, "%s", a->text);
        l->dtmf_pos = 0;
        l->next_dtmf_ms = a->at_ms;
        host_note("host-dtmf", l, "Digits", a->text);
        return;
    case SCN_HANGUP: {
        pthread_mutex_lock(&g_lock);
        huddle_member *m = l->member;
        l->member = NULL;
        l->ended = 1;
        pthread_mutex_unlock(&g_lock);
        host_note("host-hangup", l, NULL, NULL);
        if (m) {
            check(hi->member_hangup(m), "member_hangup", l);
        }
        return;
    }
    case SCN_API:
        operator_command(a->text);
        return;
    case SCN_CONFIG:
        if (derived_config(a->text, g_rec_dir, g_realtime, g_cfg)) {
            fprintf(stderr, "refhost: %s:%d: cannot copy %s to %s: %s\n", g_scn.path, a->line, a->text, g_cfg,
                    strerror(errno));
            atomic_fetch_add(&g_errors, 1);
            return;
        }
        {
            const char *base = strrchr(a->text, '/');
            host_note("host-config", NULL, "File", base ? base + 1 : a->text);
        }
        return;
    case SCN_RELOAD: {
        /* The status is noted, not check()ed: a refused reload (a bad
         * file; the old one stays in force) is an outcome a scenario may be
         * testing. huddle still logs the refusal at ERROR, and cb_log counts
         * that line, so the run exits 1: a config an operator could not
         * apply deserves attention. */
        huddle_status st = hi->reload(g_module);
        host_note("host-reload", NULL, "Status", hi->strerror(st));
        return;
    }
    case SCN_END:
        return;
    }
}

/* Sends one frame (and maybe one DTMF digit) for every live leg: what an
 * RTP receive thread would do when a packet arrives. */
static void send_frames(uint64_t t)
{
    for (size_t i = 0; i < g_scn.leg_count; i++) {
        leg *l = &g_legs[i];
        if (!l->member || l->ended || l->hungup_by_module) {
            continue;
        }
        uint32_t n = l->spec->rate * g_scn.interval_ms / 1000;
        int16_t pcm[2880];
        memset(pcm, 0, n * sizeof *pcm);
        if (l->source_pos < l->source.len) {
            size_t k = l->source.len - l->source_pos;
            if (k > n) {
                k = n;
            }
            memcpy(pcm, l->source.samples + l->source_pos, k * sizeof *pcm);
            l->source_pos += k;
        }
        unsigned char pkt[1500];
        huddle_frame f = {
            .codec = HUDDLE_CODEC_L16,
            .sample_rate = l->spec->rate,
            .samples = n,
            .data = (const uint8_t *)pcm,
            .len = n * 2,
            .audio_level = -1,
            .sequence = l->seq++,
        };
        if (l->spec->codec == SCN_OPUS) {
            int len = opus_encode(l->enc, pcm, (int)n, pkt, (opus_int32)sizeof pkt);
            if (len < 0) {
                fprintf(stderr, "refhost: opus_encode: %s\n", opus_strerror(len));
                atomic_fetch_add(&g_errors, 1);
                continue;
            }
            f.codec = HUDDLE_CODEC_OPUS;
            f.data = pkt;
            f.len = (size_t)len;
        }
        check(hi->member_audio(l->member, &f), "member_audio", l);
        if (l->dtmf_queue[l->dtmf_pos] && t >= l->next_dtmf_ms) {
            check(hi->member_dtmf(l->member, l->dtmf_queue[l->dtmf_pos]), "member_dtmf", l);
            l->dtmf_pos++;
            l->next_dtmf_ms = t + 100;
        }
    }
}

/* ------------------------------------------------------------ interactive */

static atomic_int g_quit;

/* --interactive: the operator console. Each line is an operator command
 * (operator_command()), like FreeSWITCH's fs_cli `conference ...`; runs
 * beside the scenario, on its own thread. Replies go to stdout with the
 * events (so they read in order, and parse with --json); the prompt goes
 * to stderr. `quit` ends the scenario early. */
static void *console(void *arg)
{
    (void)arg;
    char line[4096];
    fprintf(stderr, "operator> ");
    while (!atomic_load(&g_quit) && fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!strcmp(line, "quit") || !strcmp(line, "exit")) {
            atomic_store(&g_quit, 1);
            break;
        }
        if (line[0]) {
            operator_command(line);
        }
        fprintf(stderr, "operator> ");
    }
    return NULL;
}

/* ---------------------------------------------------------------- config */

/* The host's say over the config: the scenario names a config file, and
 * the host loads a copy of it with two [module] keys overridden:
 * `recordings_dir` (always: recordings land in <out>/recordings) and
 * `timer` (with --realtime). The copy sits next to the original so its
 * relative paths (sounds_dir) still resolve. huddle reads the file at load
 * and again at every reload, so the copy stays until shutdown; a scenario's
 * `at T config PATH` rewrites it from another file (kept in the same
 * directory, so relative paths mean the same). */
static void config_copy_path(const char *src, char *dst, size_t dstlen)
{
    const char *slash = strrchr(src, '/');
    snprintf(dst, dstlen, "%.*s.refhost-%ld.conf", slash ? (int)(slash - src + 1) : 0, src, (long)getpid());
}

static int derived_config(const char *src, const char *rec_dir, int realtime, const char *dst)
{
    FILE *in = fopen(src, "r");
    if (!in) {
        return -1;
    }
    FILE *out = fopen(dst, "w");
    if (!out) {
        fclose(in);
        return -1;
    }
    char line[4096];
    while (fgets(line, sizeof line, in)) {
        const char *p = line;
        while (*p == ' ' || *p == '\t') {
            p++;
        }
        size_t k = strcspn(p, " \t=");
        if (realtime && k == 5 && !strncmp(p, "timer", 5)) {
            fputs("timer = \"realtime\"\n", out);
        } else if (k == 14 && !strncmp(p, "recordings_dir", 14)) {
            fputs("recordings_dir = ", out);
            json_str(out, rec_dir); /* a JSON string is a valid TOML basic string */
            fputc('\n', out);
        } else {
            fputs(line, out);
        }
    }
    fclose(in);
    return fclose(out);
}

/* Copies a finished recording to <out>/recording.wav (recording-2.wav, ...)
 * so the demo's outputs have fixed names. */
static void collect_recordings(const char *out_dir)
{
    for (size_t i = 0; i < g_recording_count; i++) {
        char dst[1400];
        if (i == 0) {
            snprintf(dst, sizeof dst, "%s/recording.wav", out_dir);
        } else {
            snprintf(dst, sizeof dst, "%s/recording-%zu.wav", out_dir, i + 1);
        }
        FILE *in = fopen(g_recordings[i], "rb"), *out = in ? fopen(dst, "wb") : NULL;
        if (!in || !out) {
            fprintf(stderr, "refhost: copy %s -> %s: %s\n", g_recordings[i], dst, strerror(errno));
            atomic_fetch_add(&g_errors, 1);
        } else {
            char buf[65536];
            size_t n;
            while ((n = fread(buf, 1, sizeof buf, in)) > 0) {
                fwrite(buf, 1, n, out);
            }
        }
        if (in) {
            fclose(in);
        }
        if (out) {
            fclose(out);
        }
    }
}

static void usage(void)
{
    fprintf(stderr,
            "usage: refhost [--json] [--realtime] [--interactive] [--out DIR] [--lib LIBHUDDLE] SCENARIO\n"
            "  --json         print events as JSON lines (those of events.jsonl) instead of text\n"
            "  --realtime     run at wall-clock speed on huddle's own mixer threads\n"
            "  --interactive  realtime, plus an operator prompt (conference commands)\n"
            "  --out DIR      where heard audio and the event log go (default demo-out)\n"
            "  --lib PATH     the module (default " REFHOST_DEFAULT_LIB ")\n");
}

int main(int argc, char **argv)
{
    const char *out_dir = "demo-out", *lib_path = REFHOST_DEFAULT_LIB, *scn_path = NULL;
    int interactive = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            g_json = 1;
        } else if (!strcmp(argv[i], "--realtime")) {
            g_realtime = 1;
        } else if (!strcmp(argv[i], "--interactive")) {
            interactive = g_realtime = 1;
        } else if (!strcmp(argv[i], "--out") && i + 1 < argc) {
            out_dir = argv[++i];
        } else if (!strcmp(argv[i], "--lib") && i + 1 < argc) {
            lib_path = argv[++i];
        } else if (argv[i][0] == '-' || scn_path) {
            usage();
            return 2;
        } else {
            scn_path = argv[i];
        }
    }
    if (!scn_path) {
        usage();
        return 2;
    }
    char err[1200];
    if (scenario_load(scn_path, &g_scn, err, sizeof err)) {
        fprintf(stderr, "refhost: %s\n", err);
        return 2;
    }
    if (mkdir(out_dir, 0755) && errno != EEXIST) {
        fprintf(stderr, "refhost: mkdir %s: %s\n", out_dir, strerror(errno));
        return 2;
    }
    char path[1400];
    snprintf(path, sizeof path, "%s/events.jsonl", out_dir);
    g_events = fopen(path, "w");
    snprintf(path, sizeof path, "%s/module.log", out_dir);
    g_modlog = fopen(path, "w");
    if (!g_events || !g_modlog) {
        fprintf(stderr, "refhost: cannot write in %s: %s\n", out_dir, strerror(errno));
        return 2;
    }

    void *lib = open_module(lib_path);
    if (!lib) {
        return 2;
    }

    for (size_t i = 0; i < g_scn.leg_count; i++) {
        leg *l = &g_legs[i];
        int e = 0;
        l->spec = &g_scn.legs[i];
        snprintf(l->channel, sizeof l->channel, "refhost/%s", l->spec->name);
        snprintf(l->call_id, sizeof l->call_id, "CA%016zx%s", i + 1, l->spec->name);
        l->heard.rate = l->spec->rate;
        if (l->spec->codec == SCN_OPUS) {
            l->enc = opus_encoder_create((opus_int32)l->spec->rate, 1, OPUS_APPLICATION_VOIP, &e);
            if (e == OPUS_OK) {
                l->dec = opus_decoder_create((opus_int32)l->spec->rate, 1, &e);
            }
            if (e != OPUS_OK) {
                fprintf(stderr, "refhost: opus for %s: %s\n", l->spec->name, opus_strerror(e));
                return 2;
            }
        }
    }

    /* The host callback table: copied by huddle at load. */
    huddle_host host = {
        .abi_version = HUDDLE_HOST_ABI_VERSION,
        .ctx = NULL,
        .log = cb_log,
        .send_audio = cb_send_audio,
        .hangup = cb_hangup,
        .event = cb_event,
        .originate = cb_originate,
    };
    /* realpath wants a PATH_MAX buffer (a smaller one aborts a
     * _FORTIFY_SOURCE build, as Debian's is); let it allocate. */
    char *abs_out = realpath(out_dir, NULL);
    if (!abs_out) {
        fprintf(stderr, "refhost: %s: %s\n", out_dir, strerror(errno));
        return 2;
    }
    snprintf(g_rec_dir, sizeof g_rec_dir, "%s/recordings", abs_out);
    free(abs_out);
    config_copy_path(g_scn.config, g_cfg, sizeof g_cfg);
    if (derived_config(g_scn.config, g_rec_dir, g_realtime, g_cfg)) {
        fprintf(stderr, "refhost: cannot read %s or write a copy beside it: %s\n", g_scn.config, strerror(errno));
        unlink(g_cfg);
        return 2;
    }
    clock_gettime(CLOCK_MONOTONIC, &g_t0);
    huddle_status st = hi->load(&host, g_cfg, &g_module);
    if (st != HUDDLE_STATUS_OK) {
        unlink(g_cfg);
        fprintf(stderr, "refhost: load %s: %s (see %s/module.log)\n", g_scn.config, hi->strerror(st), out_dir);
        return 1;
    }
    if (!g_json) {
        printf("refhost: huddle %s loaded from %s, scenario %s (%zu legs, %.1f s, %s timer)\n", hi->version(),
               lib_path, scn_path, g_scn.leg_count, (double)g_scn.end_ms / 1000.0,
               g_realtime ? "realtime" : "manual");
    }

    /* Describe each leg once, so the event log can be read (and drawn) on
     * its own. */
    for (size_t i = 0; i < g_scn.leg_count; i++) {
        const scn_leg *sp = g_scn.legs + i;
        char rate[16];
        snprintf(rate, sizeof rate, "%u", sp->rate);
        huddle_event_field f[] = {{"CallerName", sp->caller_name}, {"From", sp->from},
                                  {"Codec", sp->codec == SCN_OPUS ? "opus" : "l16"}, {"Rate", rate},
                                  {"CallSid", g_legs[i].call_id}, {"Channel", g_legs[i].channel}};
        pthread_mutex_lock(&g_lock);
        json_line(g_events, 0, "host-leg", "host", sp->name, f, sizeof f / sizeof f[0]);
        if (g_json) {
            /* stdout with --json is the whole log, events.jsonl's twin. */
            json_line(stdout, 0, "host-leg", "host", sp->name, f, sizeof f / sizeof f[0]);
        }
        pthread_mutex_unlock(&g_lock);
    }
    fflush(stdout);

    pthread_t console_thread;
    if (interactive) {
        pthread_create(&console_thread, NULL, console, NULL);
    }

    /* The main loop: one iteration per frame interval. */
    size_t next = 0;
    uint64_t step = g_scn.interval_ms;
    for (uint64_t t = 0; t < g_scn.end_ms && !atomic_load(&g_quit); t += step) {
        if (g_realtime) {
            struct timespec d = g_t0;
            d.tv_sec += (time_t)(t / 1000);
            d.tv_nsec += (long)(t % 1000) * 1000000L;
            if (d.tv_nsec >= 1000000000L) {
                d.tv_sec++;
                d.tv_nsec -= 1000000000L;
            }
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &d, NULL);
        }
        atomic_store(&g_now_ms, t);
        pthread_mutex_lock(&g_lock);
        for (size_t i = 0; i < g_scn.leg_count; i++) {
            if (g_legs[i].dialed) {
                pad_heard(&g_legs[i], t);
            }
        }
        pthread_mutex_unlock(&g_lock);
        while (next < g_scn.action_count && g_scn.actions[next].at_ms <= t) {
            run_action(&g_scn.actions[next++]);
        }
        release_ended();
        send_frames(t);
        if (!g_realtime) {
            /* Manual timer: ticks, audio out and events all happen inside
             * this call, on this thread. */
            check(hi->advance(g_module, (uint32_t)step), "advance", NULL);
        }
        release_ended();
    }
    atomic_store(&g_now_ms, g_scn.end_ms);
    host_note("host-end", NULL, NULL, NULL);

    /* Hang up whoever is still in, then unload. */
    for (size_t i = 0; i < g_scn.leg_count; i++) {
        leg *l = &g_legs[i];
        if (l->member) {
            check(hi->member_hangup(l->member), "member_hangup", l);
            l->member = NULL;
        }
    }
    if (!g_realtime) {
        check(hi->advance(g_module, step), "advance", NULL);
    }
    check(hi->shutdown(g_module), "shutdown", NULL);
    unlink(g_cfg);
    if (interactive) {
        atomic_store(&g_quit, 1);
        pthread_cancel(console_thread);
        pthread_join(console_thread, NULL);
    }

    for (size_t i = 0; i < g_scn.leg_count; i++) {
        leg *l = &g_legs[i];
        if (!l->dialed) {
            continue;
        }
        pad_heard(l, g_scn.end_ms);
        snprintf(path, sizeof path, "%s/%s.wav", out_dir, l->spec->name);
        if (wav_write(path, l->heard.samples, l->heard.len, l->heard.rate)) {
            fprintf(stderr, "refhost: write %s: %s\n", path, strerror(errno));
            atomic_fetch_add(&g_errors, 1);
        }
        pcm_free(&l->heard);
        pcm_free(&l->source);
        if (l->enc) {
            opus_encoder_destroy(l->enc);
            opus_decoder_destroy(l->dec);
        }
    }
    collect_recordings(out_dir);
    fclose(g_events);
    fclose(g_modlog);
    g_events = g_modlog = NULL;
    dlclose(lib);
    scenario_free(&g_scn);
    int errors = atomic_load(&g_errors);
    if (errors) {
        fprintf(stderr, "refhost: %d error(s) reported; see %s/module.log\n", errors, out_dir);
        return 1;
    }
    return 0;
}
