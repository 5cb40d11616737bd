/*
 * app.c — the `huddle` dialplan application: one FreeSWITCH channel as one
 * huddle member, for as long as it stays in the room.
 *
 * It runs on the channel's own session thread, as FreeSWITCH runs every
 * application, and that thread is the leg's only media thread: each loop
 * reads one frame, hands it to huddle, passes on queued DTMF, and writes
 * what huddle's mixer queued for the leg (legs.c). A PCMU, PCMA or Opus
 * call's packets go to huddle as they came and huddle's frames in that
 * codec go out as they are; any other codec FreeSWITCH decodes to L16 and
 * encodes back.
 * Nothing here holds a FreeSWITCH lock while calling huddle.
 */
#include "mod_huddle.h"
#include "legs.h"

/* How long a refused channel waits for huddle's hangup before hanging
 * itself up as rejected. */
#define REFUSAL_WAIT_MS 2000

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

/* How much of huddle's audio may wait for the channel, in packets: more is
 * latency nobody asked for, left by a stall, and is dropped. */
#define WRITE_BACKLOG 2u
/* Write time a run of quick reads may bank, in packets. */
#define WRITE_CREDIT 3

typedef struct media {
    switch_core_session_t *session;
    switch_channel_t *channel;
    huddle_member *member;
    leg *leg;
    uint32_t rate;          /* what we read at and huddle hears (L16) */
    uint32_t ms;            /* the call's packet time */
    int opus;               /* the call is Opus: its packets pass through */
    uint32_t g711;          /* HUDDLE_CODEC_PCMU/PCMA for such a call (its packets pass through), else 0 */
    uint32_t in_codec;      /* what the frame read last holds, as huddle_codec */
    switch_codec_t read_codec;
    switch_codec_t write_codec;
    uint32_t write_rate;
    int reading;            /* our read codec is the session's */
    int64_t write_due_us;   /* audio time the reads have paid for writing */
    uint32_t rtp_clock;     /* the call's RTP timestamp rate */
    uint32_t write_ts;      /* RTP timestamp of the last frame written */
    uint64_t reads, cng_in; /* for the end-of-call debug line */
    int direct;             /* read the call's RTP below the core read (read_in) */
    int bugged;             /* a media bug was attached at this loop's read */
    uint64_t direct_reads;  /* for the end-of-call debug line */
    leg_frame out;
    uint8_t decoded[SWITCH_RECOMMENDED_BUFFER_SIZE];
} media;

/* One frame from the caller to huddle: L16 that FreeSWITCH decoded, or the
 * call's own Opus packet or G.711 octets, with its RTP sequence number, so huddle's jitter
 * buffer orders packets, conceals lost ones and absorbs late ones. A
 * comfort-noise frame (nothing arrived by this read) is not sent: FreeSWITCH's
 * timed read reports a packet a little late this way and reads it next time,
 * when huddle's buffer still has room for it. Silence sent in its place
 * would add a frame each time, until the buffer overflowed. */
static huddle_status send_in(media *m, const switch_frame_t *rf)
{
    if (switch_test_flag(rf, SFF_CNG) || !rf->datalen || !rf->data) {
        return HUDDLE_STATUS_OK;
    }
    huddle_frame f = {.codec = m->in_codec,
                      .sample_rate = m->rate,
                      .samples = rf->datalen / 2,
                      .data = rf->data,
                      .len = rf->datalen,
                      .audio_level = -1,
                      .sequence = rf->seq};
    if (f.codec == HUDDLE_CODEC_OPUS) {
        f.sample_rate = 48000;
        f.samples = m->ms * 48;
    } else if (f.codec != HUDDLE_CODEC_L16) {
        f.sample_rate = 8000;
        f.samples = rf->datalen;
    }
    return huddle_g.hi->member_audio(m->member, &f);
}

/* A FreeSWITCH codec (implementation) huddle takes as it is: Opus, or
 * G.711 at its one rate; 0 for any other. */
static uint32_t passed_codec(const switch_codec_implementation_t *impl)
{
    const char *name = impl ? impl->iananame : NULL;
    if (!name) {
        return 0;
    }
    if (!strcasecmp(name, "opus")) {
        return HUDDLE_CODEC_OPUS;
    }
    if (impl->actual_samples_per_second != 8000 || impl->number_of_channels != 1) {
        return 0;
    }
    return !strcasecmp(name, "PCMU") ? HUDDLE_CODEC_PCMU : !strcasecmp(name, "PCMA") ? HUDDLE_CODEC_PCMA : 0;
}

static int64_t duration_us(const leg_frame *f, uint32_t ms)
{
    return f->samples && f->sample_rate ? (int64_t)f->samples * 1000000 / f->sample_rate : (int64_t)ms * 1000;
}

/* One frame huddle sent to the call: huddle's Opus or G.711 as the call's
 * own codec frame (FreeSWITCH sends it as it is), L16 through our L16 codec
 * (FreeSWITCH encodes it to the call's codec). Returns FreeSWITCH's status. */
static switch_status_t write_one(media *m, leg_frame *f)
{
    switch_frame_t wf = {0};
    wf.data = f->data.bytes;
    wf.datalen = f->len;
    wf.buflen = sizeof f->data;
    wf.channels = 1;
    int passed = f->codec != HUDDLE_CODEC_L16;
    if (passed) {
        /* Already the call's codec: FreeSWITCH sends it without a decode
         * or encode, and huddle encoded it once for every listener of this
         * mix. Not the call's codec (it changed): nothing to send it as. */
        wf.codec = switch_core_session_get_write_codec(m->session);
        if (!wf.codec || passed_codec(wf.codec->implementation) != f->codec) {
            return SWITCH_STATUS_SUCCESS;
        }
        if (f->codec == HUDDLE_CODEC_OPUS) {
            wf.rate = 48000;
            wf.samples = (uint32_t)(duration_us(f, m->ms) * 48 / 1000);
        } else {
            wf.rate = 8000;
            wf.samples = f->samples;
        }
    } else {
        if (l16_at(&m->write_codec, &m->write_rate, f->sample_rate, m->ms,
                   switch_core_session_get_pool(m->session)) != 0) {
            return SWITCH_STATUS_SUCCESS;
        }
        wf.codec = &m->write_codec;
        wf.samples = f->samples;
        wf.rate = f->sample_rate;
    }
    /* With a timestamp FreeSWITCH sends the frame now; without one its RTP
     * write first waits for a write timer tick, a second wake-up each packet
     * time for the thread (the read already waits for one), which at 200
     * calls was half of FreeSWITCH's CPU. The reads pace the writes. Zero
     * means "none" to FreeSWITCH, so it is stepped over. */
    m->write_ts += (uint32_t)(duration_us(f, m->ms) * m->rtp_clock / 1000000);
    if (!m->write_ts) {
        m->write_ts = 1;
    }
    wf.timestamp = m->write_ts;
    /* A frame in the call's codec for a call read below the core read
     * (no media bug at this loop's read, media up, not held) goes to the
     * endpoint's media the same way: the core write's checks, locks and
     * codec comparison cost a twentieth of FreeSWITCH's CPU at 200 calls
     * (its channel-ready check alone dequeues signal data every packet). */
    if (passed && m->direct && !m->bugged && switch_core_media_ready(m->session, SWITCH_MEDIA_TYPE_AUDIO) &&
        !switch_channel_test_flag(m->channel, CF_HOLD)) {
        return switch_core_media_write_frame(m->session, &wf, SWITCH_IO_FLAG_NONE, 0, SWITCH_MEDIA_TYPE_AUDIO);
    }
    return switch_core_session_write_frame(m->session, &wf, SWITCH_IO_FLAG_NONE, 0);
}

/* huddle's audio for this leg, as much as the reads have paid for. The
 * thread's clock is the read, which waits for the caller's next packet;
 * FreeSWITCH's write waits for a write timer of its own. Writing until the
 * queue is empty, while huddle queues a frame per tick, can keep the thread
 * in here for good: the caller's speech and RFC 2833 digits then pile up
 * unread in the socket. So each read buys one packet time of writing, and
 * a backlog left by a stall is dropped (counted) rather than kept as delay. */
static void write_out(media *m)
{
    while (m->write_due_us > 0 && leg_pop(m->leg, &m->out)) {
        m->write_due_us -= duration_us(&m->out, m->ms);
        if (write_one(m, &m->out) != SWITCH_STATUS_SUCCESS) {
            return;
        }
    }
    leg_trim(m->leg, WRITE_BACKLOG);
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

/* The direct read's frame as huddle takes it: the call's Opus packet or
 * G.711 octets as they came, anything else decoded by the call's own
 * FreeSWITCH codec. 0 when the frame is not one huddle can take as it
 * stands (the call changed codec or rate), and the leg goes back to the
 * core read for good. */
static int direct_frame(media *m, switch_frame_t *rf, switch_frame_t *out)
{
    *out = *rf;
    if (switch_test_flag(rf, SFF_CNG) || !rf->datalen || !rf->codec || !rf->codec->implementation) {
        return 1; /* nothing arrived this packet time: send_in skips it */
    }
    uint32_t passed = passed_codec(rf->codec->implementation);
    uint32_t mine = m->opus ? HUDDLE_CODEC_OPUS : m->g711;
    if (passed || mine) {
        m->in_codec = passed;
        return passed == mine;
    }
    m->in_codec = HUDDLE_CODEC_L16;
    uint32_t len = sizeof m->decoded, rate = rf->codec->implementation->actual_samples_per_second, flag = 0;
    if (switch_core_codec_decode(rf->codec, NULL, rf->data, rf->datalen, rate, m->decoded, &len, &rate, &flag) !=
            SWITCH_STATUS_SUCCESS ||
        rate != m->rate) {
        return 0;
    }
    out->data = m->decoded;
    out->datalen = len;
    return 1;
}

/* A stream that only counts the lines written to it. */
static switch_status_t count_lines(switch_stream_handle_t *stream, const char *fmt, ...)
{
    (void)fmt;
    stream->data_len++;
    return SWITCH_STATUS_SUCCESS;
}

/* Whether any media bug is attached. FreeSWITCH's public count asks for
 * one bug function by name; its listing writes an opening line, one per
 * bug and a closing line, and counting those lines costs no allocation
 * and no formatting. */
static int has_media_bug(switch_core_session_t *session)
{
    switch_stream_handle_t lines = {0};
    lines.write_function = count_lines;
    switch_core_media_bug_enumerate(session, &lines);
    return lines.data_len > 2;
}

/* One packet time of the call's audio. FreeSWITCH's core read
 * (switch_core_session_read_frame) gives up the CPU (sched_yield) before
 * every read, and on a busy machine that is a second context switch per
 * packet for every channel thread, on top of the wait for the RTP timer:
 * at 200 calls it was a fifth of mod_huddle's FreeSWITCH CPU. For a SIP
 * call nothing else is watching (no media bug: uuid_record, eavesdrop), the
 * leg reads the endpoint's media below the core read, as sofia's own read
 * does: the same RTP session, its timer, jitter handling and RFC 2833
 * digits (queued on the channel), decoded by the call's codec. While a
 * media bug is attached, and for a read the direct one refuses (media not
 * ready during a re-INVITE), the core read does it; after a codec change
 * it does them all. */
static switch_status_t read_in(media *m, switch_frame_t **rf, switch_frame_t *direct)
{
    m->bugged = m->direct && has_media_bug(m->session);
    if (m->direct && !m->bugged) {
        switch_frame_t *raw = NULL;
        switch_status_t st =
            switch_core_media_read_frame(m->session, &raw, SWITCH_IO_FLAG_NONE, 0, SWITCH_MEDIA_TYPE_AUDIO);
        if (st == SWITCH_STATUS_SUCCESS && raw) {
            m->direct_reads++;
            if (direct_frame(m, raw, direct)) {
                *rf = direct;
                return st;
            }
            m->direct = 0;
            *rf = NULL;
            return st; /* this packet is lost; the next comes through the core */
        }
    }
    /* The core read decodes to our L16 codec, except for an Opus call. */
    m->in_codec = m->opus ? HUDDLE_CODEC_OPUS : HUDDLE_CODEC_L16;
    return switch_core_session_read_frame(m->session, rf, SWITCH_IO_FLAG_NONE, 0);
}

static void media_loop(media *m)
{
    const int64_t packet_us = (int64_t)m->ms * 1000;
    switch_frame_t direct;
    while (switch_channel_ready(m->channel)) {
        switch_frame_t *rf = NULL;
        switch_status_t st = read_in(m, &rf, &direct);
        if (!SWITCH_READ_ACCEPTABLE(st)) {
            return;
        }
        m->reads++;
        m->write_due_us += packet_us;
        if (m->write_due_us > WRITE_CREDIT * packet_us) {
            m->write_due_us = WRITE_CREDIT * packet_us;
        }
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

/* huddle's dispatcher thread delivers a refusal's hangup (on_hangup), and
 * may do so after app() has returned. Leaving the application first would
 * let the dialplan run on, or end the call as NORMAL_CLEARING, instead of
 * with huddle's cause; so the channel thread waits for it, a bounded time. */
static void await_hangup(switch_channel_t *channel)
{
    for (int i = 0; i < REFUSAL_WAIT_MS / 10 && switch_channel_up_nosig(channel); i++) {
        switch_yield(10000);
    }
    if (switch_channel_up_nosig(channel)) {
        switch_channel_hangup(channel, SWITCH_CAUSE_CALL_REJECTED);
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
    /* huddle takes and sends Opus itself: an Opus call's packets go to it as
     * they came, and its Opus comes back as the call's frames, with no
     * FreeSWITCH decode or encode on the way. */
    m->opus = impl.iananame && !strcasecmp(impl.iananame, "opus");
    switch_codec_implementation_t wimpl = {0};
    switch_core_session_get_write_impl(session, &wimpl);
    /* So does G.711 (PCMU, PCMA) where the call sends and receives the
     * same one: FreeSWITCH then neither decodes a caller's packet nor
     * encodes every listener's copy of the same mix; huddle encodes each
     * distinct mix once. */
    if (!m->opus && passed_codec(&impl) == passed_codec(&wimpl)) {
        m->g711 = passed_codec(&impl);
    }
    m->rtp_clock = wimpl.samples_per_second ? wimpl.samples_per_second : 8000;
    switch_memory_pool_t *pool = switch_core_session_get_pool(session);
    uint32_t read_rate = 0;
    if ((!m->opus && l16_at(&m->read_codec, &read_rate, m->rate, m->ms, pool) != 0) ||
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
    if (!m->opus) {
        switch_core_session_set_read_codec(session, &m->read_codec);
        m->reading = 1;
    }
    m->direct = switch_core_session_get_media_handle(session) && !strncmp(switch_channel_get_name(channel), "sofia/", 6);

    huddle_caller caller = {0};
    caller_of(channel, uuid, &caller);
    huddle_status st = hi->app(huddle_g.module, &caller, data, &m->member);
    if (st != HUDDLE_STATUS_OK) {
        /* A refusal was already hung up with its cause (on_hangup); any
         * other failure is the app data or the module, also a rejection. */
        switch_log_printf(SWITCH_CHANNEL_SESSION_LOG(session), SWITCH_LOG_NOTICE, "huddle: '%s' not joined: %s\n",
                          data, hi->strerror(st));
        if (st == HUDDLE_STATUS_REFUSED) {
            await_hangup(channel);
        } else {
            switch_channel_hangup(channel, SWITCH_CAUSE_CALL_REJECTED);
        }
        goto done;
    }
    media_loop(m);
    /* A channel thread starved of CPU reads far fewer frames than 50 a
     * second (20 ms) of call; this line is how that shows. */
    switch_log_printf(SWITCH_CHANNEL_SESSION_LOG(session), SWITCH_LOG_DEBUG,
                      "huddle: %s read %" PRIu64 " frames (%" PRIu64 " below the core read), %" PRIu64
                      " of them comfort noise (nothing arrived)\n",
                      uuid, m->reads, m->direct_reads, m->cng_in);
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
