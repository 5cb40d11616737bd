/* null_args.c — every entry point with NULL handles and NULL arguments,
 * garbage and stale handles (after hangup, after shutdown), invalid UTF-8
 * and over-long strings. Each call must return its specific status, leave
 * out-parameters untouched, and nothing may crash.
 *
 * Lengths (check_lengths): every string huddle reads from the host, each
 * caller field (channel, account, call_id, from, to, caller_name), the app
 * data, the API command and the config path, at the 4096-byte limit
 * (accepted), one byte over (HUDDLE_STATUS_TOO_LONG, a log line naming the
 * argument), and as a 4097-byte buffer with no NUL at all, which huddle
 * must refuse without reading past its end (run under ASan too, where a
 * read past the heap block is an error). Frames one byte over the frame
 * limit are refused before they are read. */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_host.h"

/* 0xC3 0x28: a lead byte followed by a non-continuation byte. */
static const char BAD_UTF8[] = "30\xc3\x28" "00";
#define LONG_LEN 5000 /* huddle reads at most 4096 bytes of a string */
static char long_str[LONG_LEN + 1];
#define LIMIT 4096             /* the longest string huddle accepts */
#define MAX_FRAME_BYTES 16384 /* the longest frame payload */

static huddle_module *sentinel_module(void) {
    return (huddle_module *)(uintptr_t)0x5e17;
}
static huddle_member *sentinel_member(void) {
    return (huddle_member *)(uintptr_t)0x5e17;
}

static void check_load(const char *cfg) {
    fake_host fh;
    huddle_host host = fh_host(&fh, "load");
    huddle_module *m = sentinel_module();
    char bad_path[64];

    CHECK_STATUS(fh_lib->load(NULL, cfg, &m), HUDDLE_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(fh_lib->load(&host, NULL, &m), HUDDLE_STATUS_NULL_ARGUMENT);
    CHECK(fh_log_contains(&fh, "config_path"));
    CHECK_STATUS(fh_lib->load(&host, cfg, NULL), HUDDLE_STATUS_NULL_ARGUMENT);
    CHECK(fh_log_contains(&fh, "out_module"));
    snprintf(bad_path, sizeof bad_path, "/tmp/\xff\xfe/huddle.conf");
    CHECK_STATUS(fh_lib->load(&host, bad_path, &m), HUDDLE_STATUS_INVALID_UTF8);
    CHECK_STATUS(fh_lib->load(&host, long_str, &m), HUDDLE_STATUS_TOO_LONG);
    CHECK(m == sentinel_module());
    /* A host table with every callback NULL is valid: huddle degrades. */
    {
        huddle_host bare;
        memset(&bare, 0, sizeof bare);
        bare.abi_version = HUDDLE_HOST_ABI_VERSION;
        CHECK_STATUS(fh_lib->load(&bare, cfg, &m), HUDDLE_STATUS_OK);
        CHECK(m != sentinel_module());
        {
            huddle_caller c = fh_caller("bare-1");
            huddle_member *mem = NULL;
            char *reply = NULL;
            CHECK_STATUS(fh_lib->app(m, &c, "bare", &mem), HUDDLE_STATUS_OK);
            CHECK_STATUS(fh_lib->advance(m, 100), HUDDLE_STATUS_OK);
            CHECK_STATUS(fh_lib->api(m, "list", &reply), HUDDLE_STATUS_OK);
            fh_lib->str_free(reply);
            CHECK_STATUS(fh_lib->member_hangup(mem), HUDDLE_STATUS_OK);
        }
        CHECK_STATUS(fh_lib->shutdown(m), HUDDLE_STATUS_OK);
    }
    fh_destroy(&fh);
    printf("ok load arguments\n");
}

/* Every module-handle entry point with `m`, expecting `want`. */
static void check_module_handle(huddle_module *m, uint32_t want, const char *what) {
    char *reply = (char *)long_str;
    huddle_caller c = fh_caller("x-1");
    huddle_member *mem = sentinel_member();
    CHECK_STATUS(fh_lib->reload(m), want);
    CHECK_STATUS(fh_lib->advance(m, 20), want);
    CHECK_STATUS(fh_lib->api(m, "list", &reply), want);
    CHECK(reply == long_str);
    CHECK_STATUS(fh_lib->app(m, &c, "3000", &mem), want);
    CHECK(mem == sentinel_member());
    CHECK_STATUS(fh_lib->shutdown(m), want);
    printf("ok module handle: %s\n", what);
}

static void check_member_handle(huddle_member *mem, uint32_t want, const char *what) {
    int16_t pcm[320];
    huddle_frame f;
    memset(pcm, 0, sizeof pcm);
    f = fh_l16(pcm, 320, 16000, -1);
    CHECK_STATUS(fh_lib->member_audio(mem, &f), want);
    CHECK_STATUS(fh_lib->member_dtmf(mem, '1'), want);
    CHECK_STATUS(fh_lib->member_hangup(mem), want);
    printf("ok member handle: %s\n", what);
}

/* A heap copy of `len` bytes of `fill` followed by a NUL, or by nothing at
 * all when `terminated` is 0. */
static char *filled(size_t len, char fill, int terminated) {
    char *p = malloc(len + (terminated ? 1 : 0));
    if (p == NULL) fh_fail(__FILE__, __LINE__, "out of memory");
    memset(p, fill, len);
    if (terminated) p[len] = '\0';
    return p;
}

enum { F_CHANNEL, F_ACCOUNT, F_CALL_ID, F_FROM, F_TO, F_CALLER_NAME, F_COUNT };
static const char *const FIELD_NAMES[F_COUNT] = {
    "caller->channel", "caller->account", "caller->call_id",
    "caller->from",    "caller->to",      "caller->caller_name"};

static huddle_caller caller_with(size_t field, const char *value) {
    huddle_caller c = fh_caller("len-1");
    switch (field) {
    case F_CHANNEL: c.channel = value; break;
    case F_ACCOUNT: c.account = value; break;
    case F_CALL_ID: c.call_id = value; break;
    case F_FROM: c.from = value; break;
    case F_TO: c.to = value; break;
    default: c.caller_name = value; break;
    }
    return c;
}

static void check_lengths(const char *cfg) {
    fake_host fh;
    huddle_host host = fh_host(&fh, "lengths");
    huddle_module *m = NULL, *m2 = sentinel_module();
    huddle_member *mem = sentinel_member();
    char *at_limit = filled(LIMIT, 'a', 1);
    char *over = filled(LIMIT + 1, 'a', 1);
    char *unterminated = filled(LIMIT + 1, 'a', 0);
    char *reply = (char *)long_str;
    char needle[128];
    size_t field;
    int16_t pcm[320];
    huddle_frame f;

    CHECK_STATUS(fh_lib->load(&host, unterminated, &m2), HUDDLE_STATUS_TOO_LONG);
    CHECK(fh_log_contains(&fh, "argument 'config_path'"));
    CHECK(m2 == sentinel_module());
    CHECK_STATUS(fh_lib->load(&host, cfg, &m), HUDDLE_STATUS_OK);

    for (field = 0; field < F_COUNT; field++) {
        huddle_caller c;
        huddle_status at;
        snprintf(needle, sizeof needle, "argument '%s'", FIELD_NAMES[field]);
        c = caller_with(field, over);
        CHECK_STATUS(fh_lib->app(m, &c, "lengths", &mem), HUDDLE_STATUS_TOO_LONG);
        EXPECT_ARG_LOG(&fh, m, needle);
        c = caller_with(field, unterminated);
        CHECK_STATUS(fh_lib->app(m, &c, "lengths", &mem), HUDDLE_STATUS_TOO_LONG);
        CHECK(mem == sentinel_member());
        /* At the limit the ABI takes the string; an account is then refused
         * by the room layer (accounts are at most 64 characters). */
        c = caller_with(field, at_limit);
        at = fh_lib->app(m, &c, "lengths", &mem);
        if (field == F_ACCOUNT) {
            CHECK_STATUS(at, HUDDLE_STATUS_REFUSED);
            CHECK(mem == sentinel_member());
        } else {
            CHECK_STATUS(at, HUDDLE_STATUS_OK);
            CHECK(mem != sentinel_member());
            CHECK_STATUS(fh_lib->member_hangup(mem), HUDDLE_STATUS_OK);
            mem = sentinel_member();
        }
        printf("ok %s: %d bytes %s, %d and unterminated refused\n", FIELD_NAMES[field],
               LIMIT, field == F_ACCOUNT ? "read, refused as an account" : "accepted",
               LIMIT + 1);
    }

    /* App data: at the limit it is parsed (and refused as a room name);
     * over it, or unterminated, it is never read. */
    {
        huddle_caller c = fh_caller("len-app");
        CHECK_STATUS(fh_lib->app(m, &c, at_limit, &mem), HUDDLE_STATUS_REFUSED);
        CHECK_STATUS(fh_lib->app(m, &c, over, &mem), HUDDLE_STATUS_TOO_LONG);
        EXPECT_ARG_LOG(&fh, m, "huddle_conference_app: argument 'app_data'");
        CHECK_STATUS(fh_lib->app(m, &c, unterminated, &mem), HUDDLE_STATUS_TOO_LONG);
        CHECK(mem == sentinel_member());
    }

    /* API command: at the limit it runs (an error reply: no such command);
     * over it, or unterminated, the reply is untouched. */
    {
        char *r = NULL;
        CHECK_STATUS(fh_lib->api(m, at_limit, &r), HUDDLE_STATUS_OK);
        CHECK(r != NULL && strncmp(r, "-ERR", 4) == 0);
        CHECK(strlen(r) < 1024); /* the error does not echo 4 KB back */
        fh_lib->str_free(r);
        CHECK_STATUS(fh_lib->api(m, over, &reply), HUDDLE_STATUS_TOO_LONG);
        EXPECT_ARG_LOG(&fh, m, "huddle_module_api: argument 'command'");
        CHECK_STATUS(fh_lib->api(m, unterminated, &reply), HUDDLE_STATUS_TOO_LONG);
        CHECK(reply == long_str);
    }

    /* Frames: one byte over the payload limit is refused before any read
     * (the buffer behind it is far smaller). */
    {
        huddle_caller c = fh_caller("len-frames");
        huddle_member *a = NULL;
        memset(pcm, 0, sizeof pcm);
        CHECK_STATUS(fh_lib->app(m, &c, "lengths", &a), HUDDLE_STATUS_OK);
        f = fh_l16(pcm, 320, 16000, -1);
        f.len = MAX_FRAME_BYTES + 1;
        CHECK_STATUS(fh_lib->member_audio(a, &f), HUDDLE_STATUS_TOO_LONG);
        EXPECT_ARG_LOG(&fh, m, "huddle_member_audio: argument 'frame->data'");
        f = fh_l16(pcm, 320, 16000, -1);
        CHECK_STATUS(fh_lib->member_audio(a, &f), HUDDLE_STATUS_OK);
        CHECK_STATUS(fh_lib->member_hangup(a), HUDDLE_STATUS_OK);
    }

    CHECK_STATUS(fh_lib->shutdown(m), HUDDLE_STATUS_OK);
    CHECK(fh.log_overflow == 0);
    free(at_limit);
    free(over);
    free(unterminated);
    fh_destroy(&fh);
    printf("ok lengths\n");
}

int main(int argc, char **argv) {
    const char *dir = fh_start(argc, argv, 120);
    char cfg[1024], rt_cfg[1024];
    fake_host fh;
    huddle_host host;
    huddle_module *m = NULL, *other = NULL;
    huddle_member *a = NULL, *b = NULL, *mem = sentinel_member();
    huddle_caller c;
    char *reply = NULL;
    int16_t pcm[320];
    huddle_frame f;
    int local = 0;

    memset(long_str, 'a', LONG_LEN);
    long_str[LONG_LEN] = '\0';
    memset(pcm, 0, sizeof pcm);
    fh_write_config(dir, "manual", FH_CONF_MANUAL, cfg, sizeof cfg);
    fh_write_config(dir, "realtime", FH_CONF_REALTIME(1), rt_cfg, sizeof rt_cfg);

    /* Functions without handles. */
    CHECK(fh_lib->version() != NULL);
    CHECK(fh_lib->strerror(HUDDLE_STATUS_OK) != NULL);
    CHECK(fh_lib->strerror(0xffffffffu) != NULL);
    fh_lib->str_free(NULL);

    check_load(cfg);
    check_lengths(cfg);

    /* NULL and garbage module handles: a pointer that was never issued, a
     * small integer, a real address in this process. */
    check_module_handle(NULL, HUDDLE_STATUS_NULL_ARGUMENT, "NULL");
    check_module_handle((huddle_module *)(uintptr_t)1, HUDDLE_STATUS_STALE_HANDLE, "1");
    check_module_handle((huddle_module *)(uintptr_t)0xdeadbeefu, HUDDLE_STATUS_STALE_HANDLE,
                        "0xdeadbeef");
    check_module_handle((huddle_module *)(void *)&local, HUDDLE_STATUS_STALE_HANDLE,
                        "stack address");
    check_member_handle(NULL, HUDDLE_STATUS_NULL_ARGUMENT, "NULL");
    check_member_handle((huddle_member *)(uintptr_t)0xdeadbeefu, HUDDLE_STATUS_STALE_HANDLE,
                        "0xdeadbeef");

    host = fh_host(&fh, "args");
    CHECK_STATUS(fh_lib->load(&host, cfg, &m), HUDDLE_STATUS_OK);

    /* api: NULL command, NULL out, bad UTF-8, too long; reply untouched. */
    reply = (char *)long_str;
    CHECK_STATUS(fh_lib->api(m, NULL, &reply), HUDDLE_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(fh_lib->api(m, "list", NULL), HUDDLE_STATUS_NULL_ARGUMENT);
    EXPECT_ARG_LOG(&fh, m, "huddle_module_api: argument 'out_reply'");
    CHECK_STATUS(fh_lib->api(m, BAD_UTF8, &reply), HUDDLE_STATUS_INVALID_UTF8);
    CHECK_STATUS(fh_lib->api(m, long_str, &reply), HUDDLE_STATUS_TOO_LONG);
    CHECK(reply == long_str);
    /* A command that fails is still an OK call with an error reply. */
    reply = fh_api(m, "conference no-such-command");
    fh_lib->str_free(reply);

    /* advance: more than an hour is refused. */
    CHECK_STATUS(fh_lib->advance(m, 3600001u), HUDDLE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(fh_lib->advance(m, 0), HUDDLE_STATUS_OK);

    /* app: NULL caller / app data / out, NULL channel, bad UTF-8 and
     * over-long strings in each place; out untouched. */
    c = fh_caller("args-1");
    CHECK_STATUS(fh_lib->app(m, NULL, "3000", &mem), HUDDLE_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(fh_lib->app(m, &c, NULL, &mem), HUDDLE_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(fh_lib->app(m, &c, "3000", NULL), HUDDLE_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(fh_lib->app(m, &c, BAD_UTF8, &mem), HUDDLE_STATUS_INVALID_UTF8);
    EXPECT_ARG_LOG(&fh, m, "huddle_conference_app: argument 'app_data'");
    CHECK_STATUS(fh_lib->app(m, &c, long_str, &mem), HUDDLE_STATUS_TOO_LONG);
    c.channel = NULL;
    CHECK_STATUS(fh_lib->app(m, &c, "3000", &mem), HUDDLE_STATUS_NULL_ARGUMENT);
    EXPECT_ARG_LOG(&fh, m, "argument 'caller->channel'");
    c = fh_caller("args-1");
    c.account = BAD_UTF8;
    CHECK_STATUS(fh_lib->app(m, &c, "3000", &mem), HUDDLE_STATUS_INVALID_UTF8);
    c = fh_caller("args-1");
    c.caller_name = BAD_UTF8;
    CHECK_STATUS(fh_lib->app(m, &c, "3000", &mem), HUDDLE_STATUS_INVALID_UTF8);
    c = fh_caller("args-1");
    c.from = long_str;
    CHECK_STATUS(fh_lib->app(m, &c, "3000", &mem), HUDDLE_STATUS_TOO_LONG);
    c = fh_caller(long_str);
    CHECK_STATUS(fh_lib->app(m, &c, "3000", &mem), HUDDLE_STATUS_TOO_LONG);
    CHECK(mem == sentinel_member());
    /* Well-formed strings but bad app data: refused, and the host is told
     * to hang the leg up. */
    c = fh_caller("args-refused");
    CHECK_STATUS(fh_lib->app(m, &c, "{muted=maybe", &mem), HUDDLE_STATUS_REFUSED);
    CHECK(mem == sentinel_member());
    CHECK(fh.hangup_count == 1 && strcmp(fh.hangups[0], "args-refused") == 0);

    /* Two members; then member-level NULL arguments. */
    c = fh_caller("args-a");
    CHECK_STATUS(fh_lib->app(m, &c, "3000", &a), HUDDLE_STATUS_OK);
    c = fh_caller("args-b");
    CHECK_STATUS(fh_lib->app(m, &c, "{muted=true}3000", &b), HUDDLE_STATUS_OK);
    CHECK(a != NULL && b != NULL && a != b);
    CHECK_STATUS(fh_lib->member_audio(a, NULL), HUDDLE_STATUS_NULL_ARGUMENT);
    f = fh_l16(pcm, 320, 16000, -1);
    f.data = NULL;
    CHECK_STATUS(fh_lib->member_audio(a, &f), HUDDLE_STATUS_NULL_ARGUMENT);
    f = fh_l16(pcm, 320, 16000, -1);
    f.len = (size_t)1 << 40; /* a garbage length is refused before any read */
    CHECK_STATUS(fh_lib->member_audio(a, &f), HUDDLE_STATUS_TOO_LONG);
    f = fh_l16(pcm, 320, 16000, -1);
    f.codec = 99;
    CHECK_STATUS(fh_lib->member_audio(a, &f), HUDDLE_STATUS_BAD_FRAME);
    f = fh_l16(pcm, 320, 16000, -1);
    f.len = 101; /* not samples * 2 */
    CHECK_STATUS(fh_lib->member_audio(a, &f), HUDDLE_STATUS_BAD_FRAME);
    f = fh_l16(pcm, 320, 16000, -1);
    f.sample_rate = 12345;
    CHECK_STATUS(fh_lib->member_audio(a, &f), HUDDLE_STATUS_BAD_FRAME);
    f = fh_l16(pcm, 320, 16000, -1);
    CHECK_STATUS(fh_lib->member_audio(a, &f), HUDDLE_STATUS_OK);
    CHECK_STATUS(fh_lib->member_dtmf(a, 'x'), HUDDLE_STATUS_INVALID_ARGUMENT);
    EXPECT_ARG_LOG(&fh, m, "huddle_member_dtmf: argument 'digit'");
    CHECK_STATUS(fh_lib->member_dtmf(a, '\0'), HUDDLE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(fh_lib->member_dtmf(a, (char)0xff), HUDDLE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(fh_lib->advance(m, 100), HUDDLE_STATUS_OK);

    /* A member handle is not a module handle, and the reverse. */
    check_module_handle((huddle_module *)(void *)a, HUDDLE_STATUS_STALE_HANDLE,
                        "a member handle");
    CHECK_STATUS(fh_lib->member_dtmf((huddle_member *)(void *)m, '1'),
                 HUDDLE_STATUS_STALE_HANDLE);

    /* Stale after hangup. */
    CHECK_STATUS(fh_lib->member_hangup(a), HUDDLE_STATUS_OK);
    check_member_handle(a, HUDDLE_STATUS_STALE_HANDLE, "after hangup");

    /* The realtime timer refuses manual advancing. */
    {
        fake_host rfh;
        huddle_host rhost = fh_host(&rfh, "rt");
        CHECK_STATUS(fh_lib->load(&rhost, rt_cfg, &other), HUDDLE_STATUS_OK);
        CHECK_STATUS(fh_lib->advance(other, 20), HUDDLE_STATUS_WRONG_TIMER);
        CHECK_STATUS(fh_lib->shutdown(other), HUDDLE_STATUS_OK);
        check_module_handle(other, HUDDLE_STATUS_STALE_HANDLE, "realtime after shutdown");
        fh_destroy(&rfh);
    }

    /* Stale after shutdown: the module and the member it still had. */
    CHECK_STATUS(fh_lib->shutdown(m), HUDDLE_STATUS_OK);
    check_module_handle(m, HUDDLE_STATUS_STALE_HANDLE, "after shutdown");
    check_member_handle(b, HUDDLE_STATUS_STALE_HANDLE, "member after shutdown");
    /* Shutdown hung up the leg that was still in the room. */
    {
        size_t i;
        int hung_b = 0;
        for (i = 0; i < fh.hangup_count; i++)
            hung_b |= strcmp(fh.hangups[i], "args-b") == 0;
        CHECK(hung_b);
    }
    fh_destroy(&fh);
    printf("PASS null_args\n");
    return 0;
}
