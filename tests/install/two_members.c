/* two_members.c — a host as a C programmer writes one against an installed
 * huddle: `#include <huddle.h>`, `pkg-config --cflags --libs huddle`, and
 * the library found by the dynamic linker through its SONAME (no dlopen).
 * Two members join one room on the manual timer, A sending a 500 Hz tone
 * and B a 1250 Hz tone; each must hear the other's tone, loud, and not its
 * own. scripts/test-install.sh builds and runs it against a `make install`
 * DESTDIR and against the unpacked .debs.
 *
 *   two_members SCRATCH_DIR SOUNDS_DIR
 *
 * The config and recordings go to SCRATCH_DIR; SOUNDS_DIR is the installed
 * share/huddle/sounds, and any warning huddle logs (a prompt it cannot
 * find, say) fails the run.
 *
 * Self-contained on purpose: it may use nothing from the source tree. */
#define _POSIX_C_SOURCE 200809L

#include <huddle.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RATE 16000
#define FRAME 320 /* 20 ms at 16 kHz, the room's interval */
#define SECONDS 3
#define AMPLITUDE 8000.0
#define FREQ_A 500.0
#define FREQ_B 1250.0
/* The check looks at the last second: whole cycles of both tones, well
 * after talk detection has opened the mix. */
#define WINDOW RATE

static const double PI = 3.14159265358979323846;

typedef struct heard {
    const char *channel;
    int16_t pcm[RATE * SECONDS];
    size_t count;
    int bad_frames;
} heard;

static heard g_heard[2] = {{.channel = "leg-a"}, {.channel = "leg-b"}};
static int g_warnings;

static void fail(const char *what, huddle_status st) {
    fprintf(stderr, "FAIL %s: %u %s\n", what, (unsigned)st, huddle_strerror(st));
    exit(1);
}

static void on_log(void *ctx, huddle_log_level level, const char *target, const char *msg) {
    (void)ctx;
    if (level <= HUDDLE_LOG_WARN) {
        fprintf(stderr, "huddle[%s]: %s\n", target, msg);
        g_warnings++;
    }
}

/* Runs inside huddle_module_advance (manual timer): copy and return. */
static void on_audio(void *ctx, const char *channel, const huddle_frame *f) {
    (void)ctx;
    for (size_t i = 0; i < 2; i++) {
        heard *h = &g_heard[i];
        if (strcmp(channel, h->channel) != 0) continue;
        if (f->codec != HUDDLE_CODEC_L16 || f->sample_rate != RATE ||
            f->len != (size_t)f->samples * 2) {
            h->bad_frames++;
            return;
        }
        size_t n = f->samples;
        if (n > RATE * SECONDS - h->count) n = RATE * SECONDS - h->count;
        memcpy(h->pcm + h->count, f->data, n * 2);
        h->count += n;
    }
}

static huddle_member *join(huddle_module *m, const char *channel) {
    huddle_caller who;
    huddle_member *member = NULL;
    memset(&who, 0, sizeof who);
    who.channel = channel;
    who.call_id = channel;
    who.caller_name = channel;
    huddle_status st = huddle_conference_app(m, &who, "3000", &member);
    if (st != HUDDLE_STATUS_OK) fail("conference app", st);
    return member;
}

static void send_tone(huddle_member *member, double freq, long first_sample, int seq) {
    int16_t pcm[FRAME];
    for (int i = 0; i < FRAME; i++)
        pcm[i] = (int16_t)lrint(AMPLITUDE * sin(2.0 * PI * freq * (double)(first_sample + i) / RATE));
    huddle_frame f;
    memset(&f, 0, sizeof f);
    f.codec = HUDDLE_CODEC_L16;
    f.sample_rate = RATE;
    f.samples = FRAME;
    f.data = (const uint8_t *)pcm;
    f.len = sizeof pcm;
    f.audio_level = -1;
    f.sequence = seq;
    huddle_status st = huddle_member_audio(member, &f);
    if (st != HUDDLE_STATUS_OK) fail("member audio", st);
}

/* The share of the window's energy at `freq`: 1 for a pure tone of that
 * frequency (whole cycles), 0 for one without it. */
static double share_at(const int16_t *x, size_t n, double freq, double energy) {
    double re = 0.0, im = 0.0;
    for (size_t i = 0; i < n; i++) {
        double w = 2.0 * PI * freq * (double)i / RATE;
        re += x[i] * cos(w);
        im += x[i] * sin(w);
    }
    return energy > 0.0 ? 2.0 * (re * re + im * im) / ((double)n * energy) : 0.0;
}

/* `h` heard `other` clearly and not `own`: returns 0 when it did. */
static int check(const heard *h, double other, double own) {
    if (h->bad_frames > 0 || h->count < WINDOW) {
        printf("%s: %zu samples, %d frames not L16 %d Hz\n", h->channel, h->count,
               h->bad_frames, RATE);
        return 1;
    }
    const int16_t *x = h->pcm + (h->count - WINDOW);
    double energy = 0.0;
    for (size_t i = 0; i < WINDOW; i++) energy += (double)x[i] * x[i];
    double rms = sqrt(energy / WINDOW);
    double heard_other = share_at(x, WINDOW, other, energy);
    double heard_own = share_at(x, WINDOW, own, energy);
    printf("%s: rms %.0f (sent %.0f), %.3f of it at %.0f Hz (the other), %.4f at %.0f Hz (its own)\n",
           h->channel, rms, AMPLITUDE / sqrt(2.0), heard_other, other, heard_own, own);
    /* Loud: within 6 dB of what the other member sent. Clean: the other's
     * tone is nearly all of it, and N-1 mixing left out its own. */
    return rms > AMPLITUDE / sqrt(2.0) / 2.0 && heard_other > 0.9 && heard_own < 0.01 ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s SCRATCH_DIR SOUNDS_DIR\n", argv[0]);
        return 2;
    }
    /* Header and library come from the same install. */
    if (strcmp(huddle_version(), HUDDLE_VERSION_STRING) != 0 ||
        huddle_module_interface.abi_version != HUDDLE_HOST_ABI_VERSION) {
        fprintf(stderr, "FAIL library %s (ABI %u), header %s (ABI %u)\n", huddle_version(),
                huddle_module_interface.abi_version, HUDDLE_VERSION_STRING,
                HUDDLE_HOST_ABI_VERSION);
        return 1;
    }
    char config[4096];
    snprintf(config, sizeof config, "%s/huddle.conf", argv[1]);
    FILE *cf = fopen(config, "w");
    if (cf == NULL) {
        perror(config);
        return 1;
    }
    fprintf(cf, "[module]\ntimer = \"manual\"\nsounds_dir = \"%s\"\nrecordings_dir = \"recordings\"\n",
            argv[2]);
    fclose(cf);

    huddle_host host;
    memset(&host, 0, sizeof host);
    host.abi_version = HUDDLE_HOST_ABI_VERSION;
    host.log = on_log;
    host.send_audio = on_audio;
    huddle_module *m = NULL;
    huddle_status st = huddle_module_load(&host, config, &m);
    if (st != HUDDLE_STATUS_OK) fail("module load", st);

    huddle_member *a = join(m, "leg-a");
    huddle_member *b = join(m, "leg-b");
    for (int i = 0; i < SECONDS * RATE / FRAME; i++) {
        send_tone(a, FREQ_A, (long)i * FRAME, i);
        send_tone(b, FREQ_B, (long)i * FRAME, i);
        st = huddle_module_advance(m, 1000 * FRAME / RATE);
        if (st != HUDDLE_STATUS_OK) fail("advance", st);
    }
    int failed = check(&g_heard[0], FREQ_B, FREQ_A) + check(&g_heard[1], FREQ_A, FREQ_B);

    if ((st = huddle_member_hangup(a)) != HUDDLE_STATUS_OK) fail("hangup a", st);
    if ((st = huddle_member_hangup(b)) != HUDDLE_STATUS_OK) fail("hangup b", st);
    if ((st = huddle_module_shutdown(m)) != HUDDLE_STATUS_OK) fail("shutdown", st);
    if (failed) {
        printf("FAIL two_members: a member did not hear the other\n");
        return 1;
    }
    if (g_warnings > 0) {
        printf("FAIL two_members: huddle logged %d warnings (above)\n", g_warnings);
        return 1;
    }
    printf("PASS two_members: libhuddle %s, ABI %u\n", huddle_version(), HUDDLE_HOST_ABI_VERSION);
    return 0;
}
