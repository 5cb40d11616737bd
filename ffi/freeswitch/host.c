/*
 * host.c — the callback table mod_huddle gives huddle: FreeSWITCH as a
 * huddle host. huddle calls log, event, hangup and originate with none of
 * its locks held (huddle_host.h), so those may call FreeSWITCH; send_audio
 * runs on a mixer thread and only copies into legs.c.
 */
#include "mod_huddle.h"
#include "legs.h"

/* The events huddle sends (README "Events", src/room/events.rs), reserved as FreeSWITCH custom
 * subclasses at load so `fs_cli`'s and ESL's listings show who owns them.
 * An event huddle adds later is still fired, just not reserved. */
static const char *const event_names[] = {
    "conference-start", "conference-end", "participant-join", "participant-leave",
    "participant-kick", "participant-mute", "participant-unmute", "participant-hold",
    "participant-unhold", "participant-deaf", "participant-undeaf", "participant-coach",
    "participant-modify", "participant-speech-start", "participant-speech-stop",
    "participant-speech-while-muted", "conference-lock", "conference-unlock", "announcement",
    "pin-failed", "join-refused", "recording-in-progress", "recording-completed",
    "recording-failed", "recording-absent",
};
#define EVENT_COUNT (sizeof event_names / sizeof event_names[0])

static int subclass_of(const char *name, char *out, size_t size)
{
    int n = snprintf(out, size, "%s%s", HUDDLE_EVENT_PREFIX, name);
    return n > 0 && (size_t)n < size ? 0 : -1;
}

void huddle_events_reserve(void)
{
    char sub[128];
    for (size_t i = 0; i < EVENT_COUNT; i++) {
        if (subclass_of(event_names[i], sub, sizeof sub) == 0) {
            switch_event_reserve_subclass(sub);
        }
    }
}

void huddle_events_release(void)
{
    char sub[128];
    for (size_t i = 0; i < EVENT_COUNT; i++) {
        if (subclass_of(event_names[i], sub, sizeof sub) == 0) {
            switch_event_free_subclass(sub);
        }
    }
}

static void on_log(void *ctx, huddle_log_level level, const char *target, const char *message)
{
    (void)ctx;
    switch_log_level_t fs = SWITCH_LOG_DEBUG;
    switch (level) {
    case HUDDLE_LOG_ERROR:
        fs = SWITCH_LOG_ERROR;
        break;
    case HUDDLE_LOG_WARN:
        fs = SWITCH_LOG_WARNING;
        break;
    case HUDDLE_LOG_INFO:
        fs = SWITCH_LOG_INFO;
        break;
    default:
        break;
    }
    switch_log_printf(SWITCH_CHANNEL_LOG, fs, "%s: %s\n", target ? target : "huddle", message ? message : "");
}

/* A mixer thread: copy and return. A frame for a channel that already left
 * (its thread closed the leg) has nobody to hear it. */
static void on_send_audio(void *ctx, const char *channel, const huddle_frame *frame)
{
    (void)ctx;
    legs_push(channel, frame);
}

/* Kick, end of conference, refusal: FreeSWITCH tears the channel down with
 * huddle's Q.850 cause (switch_call_cause_t numbers are Q.850's); the
 * channel's own thread then sees it is no longer ready and leaves the app,
 * releasing the member handle exactly once. */
static void on_hangup(void *ctx, const char *channel, uint32_t cause)
{
    (void)ctx;
    switch_core_session_t *session = channel ? switch_core_session_locate(channel) : NULL;
    if (!session) {
        return; /* already gone */
    }
    if (cause == 0 || cause > 127) {
        cause = SWITCH_CAUSE_NORMAL_CLEARING;
    }
    switch_channel_hangup(switch_core_session_get_channel(session), (switch_call_cause_t)cause);
    switch_core_session_rwunlock(session);
}

/* Each huddle event becomes CUSTOM huddle::<name>, its fields headers in
 * their order, for ESL clients as conference::maintenance is. */
static void on_event(void *ctx, const huddle_event *ev)
{
    (void)ctx;
    char sub[128];
    switch_event_t *e = NULL;
    if (!ev || !ev->name || subclass_of(ev->name, sub, sizeof sub) != 0 ||
        switch_event_create_subclass(&e, SWITCH_EVENT_CUSTOM, sub) != SWITCH_STATUS_SUCCESS) {
        return;
    }
    for (size_t i = 0; i < ev->field_count; i++) {
        if (ev->fields[i].key && ev->fields[i].value) {
            switch_event_add_header_string(e, SWITCH_STACK_BOTTOM, ev->fields[i].key, ev->fields[i].value);
        }
    }
    switch_event_fire(&e);
}

/* The characters FreeSWITCH's originate syntax gives a meaning to
 * (argument and variable separators, application brackets, quotes). */
static int plain(const char *s)
{
    return s && *s && !strpbrk(s, " \t\r\n'\"{}[](),&;<>|$\\");
}

/* `dial-template` with ${destination} replaced: a bare number from `*8` or
 * `huddle dial` becomes a FreeSWITCH dial string (a gateway, loopback). */
static int dial_string(const char *destination, char *out, size_t size)
{
    if (strchr(destination, '/')) {
        return snprintf(out, size, "%s", destination) < (int)size ? 0 : -1;
    }
    const char *mark = "${destination}";
    const char *at = strstr(huddle_g.dial_template, mark);
    if (!at) {
        return -1;
    }
    int n = snprintf(out, size, "%.*s%s%s", (int)(at - huddle_g.dial_template), huddle_g.dial_template,
                     destination, at + strlen(mark));
    return n > 0 && (size_t)n < size ? 0 : -1;
}

/* FreeSWITCH's own originate, in the background (bgapi starts a thread, so
 * huddle's event thread never waits for a far end to answer); on answer
 * the new leg runs the huddle app for the room, in the room's account. */
static int32_t on_originate(void *ctx, const char *destination, const char *room, const char *account)
{
    (void)ctx;
    char dial[1024], vars[256] = "", cmd[2048];
    if (!plain(destination) || !plain(room) || (account && *account && !plain(account))) {
        switch_log_printf(SWITCH_CHANNEL_LOG, SWITCH_LOG_WARNING,
                          "huddle: refusing to dial '%s' into '%s': spaces, quotes or brackets in a "
                          "destination, room or account do not survive FreeSWITCH's originate syntax\n",
                          destination ? destination : "", room ? room : "");
        return -1;
    }
    if (dial_string(destination, dial, sizeof dial) != 0) {
        switch_log_printf(SWITCH_CHANNEL_LOG, SWITCH_LOG_WARNING,
                          "huddle: cannot dial '%s': dial-template '%s' in huddle.conf.xml has no ${destination}\n",
                          destination, huddle_g.dial_template);
        return -1;
    }
    if (account && *account) {
        snprintf(vars, sizeof vars, "{huddle_account=%s}", account);
    }
    int n = snprintf(cmd, sizeof cmd, "originate %s%s &huddle(%s)", vars, dial, room);
    if (n < 0 || (size_t)n >= sizeof cmd) {
        return -1;
    }
    switch_stream_handle_t stream = {0};
    SWITCH_STANDARD_STREAM(stream);
    switch_status_t st = switch_api_execute("bgapi", cmd, NULL, &stream);
    const char *reply = stream.data ? (const char *)stream.data : "";
    int ok = st == SWITCH_STATUS_SUCCESS && !strncmp(reply, "+OK", 3);
    switch_log_printf(SWITCH_CHANNEL_LOG, ok ? SWITCH_LOG_INFO : SWITCH_LOG_WARNING, "huddle: %s -> %s", cmd,
                      *reply ? reply : "no reply\n");
    switch_safe_free(stream.data);
    return ok ? 0 : -1;
}

void huddle_host_fill(huddle_host *host)
{
    memset(host, 0, sizeof *host);
    host->abi_version = HUDDLE_HOST_ABI_VERSION;
    host->log = on_log;
    host->send_audio = on_send_audio;
    host->hangup = on_hangup;
    host->event = on_event;
    host->originate = on_originate;
}
