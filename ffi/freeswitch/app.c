/*
 * app.c — the `huddle` dialplan application: one FreeSWITCH channel as one
 * huddle member, for as long as it stays in the room.
 *
 * It runs on the channel's own session thread, as FreeSWITCH runs every
 * application, and that thread is the leg's only media thread: each loop
 * reads one frame (FreeSWITCH decodes the call's codec to L16), hands it to
 * huddle, passes on queued DTMF, and writes what huddle's mixer queued for
 * the leg (legs.c), which FreeSWITCH encodes back to the call's codec.
 * Nothing here holds a FreeSWITCH lock while calling huddle.
 */
#include "mod_huddle.h"
#include "legs.h"

/* The rates huddle takes L16 at; a call at another rate (44.1 kHz, 12 kHz)
 * is read at 16 kHz and FreeSWITCH resamples. */
static uint32_t huddle_rate(uint32_t native)
{
    switch (native) {
    case 8000:
    case 16000:
    case 24000:
    case 32000:
    case 48000:
        return native;
    default:
        return 16000;
    }
}

/* An L16 codec at `rate`, re-made when huddle starts sending another rate
 * (it answers in the format the member sends, but may use the room's rate
 * before the first frame arrives). */
static int l16_at(switch_codec_t *codec, uint32_t *have, uint32_t rate, uint32_t ms, switch_memory_pool_t *pool)
{
    if (*have == rate && switch_core_codec_ready(codec)) {
        return 0;
    }
    if (switch_core_codec_ready(codec)) {
        switch_core_codec_destroy(codec);
    }
    *have = 0;
    if (switch_core_codec_init(codec, "L16", NULL, NULL, rate, ms, 1,
                               SWITCH_CODEC_FLAG_ENCODE | SWITCH_CODEC_FLAG_DECODE, NULL,
                               pool) != SWITCH_STATUS_SUCCESS) {
        return -1;
    }
    *have = rate;
    return 0;
}

typedef struct media {
    switch_core_session_t *session;
    switch_channel_t *channel;
    huddle_member *member;
    leg *leg;
    uint32_t rate;          /* what we read at and huddle hears */
    uint32_t ms;            /* the call's packet time */
    switch_codec_t read_codec;
    switch_codec_t write_codec;
    uint32_t write_rate;
    int reading;            /* our read codec is the session's */
    uint64_t reads, cng_in; /* for the end-of-call debug line */
    leg_frame out;
    int16_t silence[LEG_MAX_SAMPLES];
} media;

/* One frame from the caller to huddle. A comfort-noise frame (nothing
 * arrived this interval) goes as measured silence, so the member's jitter
 * buffer keeps its cadence without decoding anything. Returns the status. */
static huddle_status send_in(media *m, const switch_frame_t *rf)
{
    huddle_frame f = {.codec = HUDDLE_CODEC_L16, .sample_rate = m->rate, .audio_level = -1, .sequence = -1};
    if (switch_test_flag(rf, SFF_CNG) || !rf->datalen || !rf->data) {
        f.samples = m->rate / 1000 * m->ms;
        if (f.samples > LEG_MAX_SAMPLES) {
            return HUDDLE_STATUS_BAD_FRAME;
        }
        f.data = (const uint8_t *)m->silence;
        f.len = (size_t)f.samples * 2;
        f.audio_level = 127;
    } else {
        f.samples = rf->datalen / 2;
        f.data = rf->data;
        f.len = rf->datalen;
    }
    return huddle_g.hi->member_audio(m->member, &f);
}

/* Everything huddle queued for this leg since the last read. */
static void write_out(media *m)
{
    switch_memory_pool_t *pool = switch_core_session_get_pool(m->session);
    while (leg_pop(m->leg, &m->out)) {
        if (l16_at(&m->write_codec, &m->write_rate, m->out.sample_rate, m->ms, pool) != 0) {
            continue;
        }
        switch_frame_t wf = {0};
        wf.codec = &m->write_codec;
        wf.data = m->out.pcm;
        wf.datalen = m->out.samples * 2;
        wf.buflen = sizeof m->out.pcm;
        wf.samples = m->out.samples;
        wf.rate = m->out.sample_rate;
        wf.channels = 1;
        if (switch_core_session_write_frame(m->session, &wf, SWITCH_IO_FLAG_NONE, 0) != SWITCH_STATUS_SUCCESS) {
            return;
        }
    }
}

static void pass_dtmf(media *m)
{
    while (switch_channel_has_dtmf(m->channel)) {
        switch_dtmf_t dtmf = {0};
        if (switch_channel_dequeue_dtmf(m->channel, &dtmf) != SWITCH_STATUS_SUCCESS) {
            return;
        }
        huddle_g.hi->member_dtmf(m->member, dtmf.digit);
    }
}

static void media_loop(media *m)
{
    while (switch_channel_ready(m->channel)) {
        switch_frame_t *rf = NULL;
        switch_status_t st = switch_core_session_read_frame(m->session, &rf, SWITCH_IO_FLAG_NONE, 0);
        if (!SWITCH_READ_ACCEPTABLE(st)) {
            return;
        }
        m->reads++;
        if (st == SWITCH_STATUS_SUCCESS && rf && switch_test_flag(rf, SFF_CNG)) {
            m->cng_in++;
        }
        if (st == SWITCH_STATUS_SUCCESS && rf && send_in(m, rf) == HUDDLE_STATUS_MEMBER_GONE) {
            return; /* huddle ended the member; on_hangup has the channel */
        }
        pass_dtmf(m);
        write_out(m);
    }
}

/* Who is calling, as huddle's events and `list` show it. */
static void caller_of(switch_channel_t *channel, const char *uuid, huddle_caller *c)
{
    switch_caller_profile_t *p = switch_channel_get_caller_profile(channel);
    const char *sid = switch_channel_get_variable(channel, "huddle_call_sid");
    c->channel = uuid;
    c->account = switch_channel_get_variable(channel, "huddle_account");
    c->call_id = zstr(sid) ? uuid : sid;
    c->from = p ? p->caller_id_number : NULL;
    c->to = p ? p->destination_number : NULL;
    c->caller_name = p ? p->caller_id_name : NULL;
}

void huddle_app_run(switch_core_session_t *session, const char *data)
{
    switch_channel_t *channel = switch_core_session_get_channel(session);
    const char *uuid = switch_core_session_get_uuid(session);
    const huddle_interface *hi = huddle_g.hi;
    if (!hi || !huddle_g.module) {
        switch_log_printf(SWITCH_CHANNEL_SESSION_LOG(session), SWITCH_LOG_ERROR, "huddle: the module is not loaded\n");
        return;
    }
    if (zstr(data)) {
        switch_log_printf(SWITCH_CHANNEL_SESSION_LOG(session), SWITCH_LOG_ERROR,
                          "huddle: no room given; usage: huddle <room>[@profile][+pin][+flags{...}]\n");
        return;
    }
    if (switch_channel_answer(channel) != SWITCH_STATUS_SUCCESS) {
        return;
    }
    media *m = switch_core_session_alloc(session, sizeof *m);
    m->session = session;
    m->channel = channel;
    switch_codec_implementation_t impl = {0};
    switch_core_session_get_read_impl(session, &impl);
    m->rate = huddle_rate(impl.actual_samples_per_second);
    m->ms = impl.microseconds_per_packet ? impl.microseconds_per_packet / 1000 : 20;
    switch_memory_pool_t *pool = switch_core_session_get_pool(session);
    uint32_t read_rate = 0;
    if (l16_at(&m->read_codec, &read_rate, m->rate, m->ms, pool) != 0 ||
        l16_at(&m->write_codec, &m->write_rate, m->rate, m->ms, pool) != 0) {
        switch_log_printf(SWITCH_CHANNEL_SESSION_LOG(session), SWITCH_LOG_ERROR,
                          "huddle: no L16 codec at %u Hz / %u ms\n", m->rate, m->ms);
        goto done;
    }
    m->leg = leg_open(uuid);
    if (!m->leg) {
        switch_log_printf(SWITCH_CHANNEL_SESSION_LOG(session), SWITCH_LOG_ERROR,
                          "huddle: channel %s is already in a huddle room\n", uuid);
        goto done;
    }
    switch_core_session_set_read_codec(session, &m->read_codec);
    m->reading = 1;

    huddle_caller caller = {0};
    caller_of(channel, uuid, &caller);
    huddle_status st = hi->app(huddle_g.module, &caller, data, &m->member);
    if (st != HUDDLE_STATUS_OK) {
        /* A refusal was already hung up with its cause (on_hangup); any
         * other failure is the app data or the module, also a rejection. */
        switch_log_printf(SWITCH_CHANNEL_SESSION_LOG(session), SWITCH_LOG_NOTICE, "huddle: '%s' not joined: %s\n",
                          data, hi->strerror(st));
        if (st != HUDDLE_STATUS_REFUSED) {
            switch_channel_hangup(channel, SWITCH_CAUSE_CALL_REJECTED);
        }
        goto done;
    }
    media_loop(m);
    /* A channel thread starved of CPU reads far fewer frames than 50 a
     * second (20 ms) of call; this line is how that shows. */
    switch_log_printf(SWITCH_CHANNEL_SESSION_LOG(session), SWITCH_LOG_DEBUG,
                      "huddle: %s read %" PRIu64 " frames, %" PRIu64 " of them comfort noise (nothing arrived)\n", uuid,
                      m->reads, m->cng_in);
    hi->member_hangup(m->member);
    if (leg_dropped(m->leg)) {
        switch_log_printf(SWITCH_CHANNEL_SESSION_LOG(session), SWITCH_LOG_WARNING,
                          "huddle: %" PRIu64 " frames to %s dropped: the channel fell behind the mixer\n",
                          leg_dropped(m->leg), uuid);
    }
done:
    leg_close(m->leg);
    if (m->reading) {
        switch_core_session_set_read_codec(session, NULL);
    }
    if (switch_core_codec_ready(&m->read_codec)) {
        switch_core_codec_destroy(&m->read_codec);
    }
    if (switch_core_codec_ready(&m->write_codec)) {
        switch_core_codec_destroy(&m->write_codec);
    }
}
