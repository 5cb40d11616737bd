/*
 * call.c — SIP dialogs (libre sipsess) mapped onto huddle members.
 *
 * Calls live in a fixed table of slots. A channel name is
 * "sip-<slot>-<generation>", so huddle's threads find a call in O(1)
 * and a frame for a call that has ended (its slot reused or empty) is
 * dropped instead of reaching the wrong phone. Each slot has its own
 * lock, held by the main thread only while it changes the call's media
 * state and by a mixer thread only while it sends one packet.
 */
#include "sip/call.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sip/call_priv.h"
#include "sip/host.h"

typedef struct slot {
    pthread_mutex_t lock;
    call *c;
    uint32_t gen;
} slot;

static slot *g_slots;
static size_t g_nslots;
static size_t g_active;

/* Methods a caller may send inside our dialogs. */
#define ALLOW_HDR "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, UPDATE\r\n"

int calls_init(void)
{
    g_nslots = g_host.cfg.max_calls;
    g_slots = calloc(g_nslots, sizeof *g_slots);
    if (!g_slots)
        return ENOMEM;
    for (size_t i = 0; i < g_nslots; i++)
        pthread_mutex_init(&g_slots[i].lock, NULL);
    return 0;
}

void calls_close(void)
{
    for (size_t i = 0; i < g_nslots; i++)
        pthread_mutex_destroy(&g_slots[i].lock);
    free(g_slots);
    g_slots = NULL;
    g_nslots = 0;
}

size_t calls_active(void)
{
    return g_active;
}

void call_lock(call *c)
{
    pthread_mutex_lock(&g_slots[c->slot].lock);
}

void call_unlock(call *c)
{
    pthread_mutex_unlock(&g_slots[c->slot].lock);
}

uint16_t calls_cause_to_sip(uint32_t cause, const char **reason)
{
    switch (cause) {
    case 1: *reason = "Not Found"; return 404;
    case 17: *reason = "Busy Here"; return 486;
    case 21: *reason = "Forbidden"; return 403;
    case 34:
    case 38:
    case 41:
    case 42: *reason = "Service Unavailable"; return 503;
    case 127: *reason = "Server Internal Error"; return 500;
    default: *reason = "Temporarily Unavailable"; return 480;
    }
}

static call *call_new(void)
{
    for (size_t i = 0; i < g_nslots; i++) {
        slot *s = &g_slots[i];
        if (s->c)
            continue;
        call *c = calloc(1, sizeof *c);
        if (!c)
            return NULL;
        c->slot = (uint32_t)i;
        c->member_id = -1;
        c->te_pt = -1;
        tmr_init(&c->refuse_tmr);
        tmr_init(&c->ring_tmr);
        tmr_init(&c->st_tmr);
        pthread_mutex_lock(&s->lock);
        c->gen = ++s->gen;
        snprintf(c->channel, sizeof c->channel, "sip-%u-%u", c->slot, c->gen);
        s->c = c;
        pthread_mutex_unlock(&s->lock);
        g_active++;
        return c;
    }
    return NULL;
}

/* Ends a call record: the member handle must already be released. */
static void call_free(call *c)
{
    slot *s = &g_slots[c->slot];
    pthread_mutex_lock(&s->lock);
    s->c = NULL;
    c->media_up = false;
    pthread_mutex_unlock(&s->lock);
    tmr_cancel(&c->refuse_tmr);
    tmr_cancel(&c->ring_tmr);
    tmr_cancel(&c->st_tmr);
    c->sess = mem_deref(c->sess); /* sends BYE when the dialog is up */
    media_close(c);
    g_active--;
    host_log(HUDDLE_LOG_DEBUG, "%s: freed (rx %llu packets, %llu dropped)", c->channel,
             (unsigned long long)c->rx_packets, (unsigned long long)c->rx_dropped);
    free(c);
}

static call *call_find(const char *channel)
{
    unsigned slot_no, gen;
    if (sscanf(channel, "sip-%u-%u", &slot_no, &gen) != 2 || slot_no >= g_nslots)
        return NULL;
    call *c = g_slots[slot_no].c; /* main thread: the only writer */
    return c && c->gen == gen ? c : NULL;
}

static void release_member(call *c)
{
    if (c->member) {
        g_host.hi->member_hangup(c->member);
        c->member = NULL;
    }
}

/* ------------------------------------------------------- dialog handlers */

static void join(call *c);

static void ring_done(void *arg)
{
    join(arg);
}

static void api_quiet(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void api_quiet(const char *fmt, ...)
{
    char cmd[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    char *reply = NULL;
    if (g_host.hi->api(g_host.mod, cmd, &reply) == HUDDLE_STATUS_OK && reply) {
        host_log(HUDDLE_LOG_INFO, "%s -> %s", cmd, reply);
        g_host.hi->str_free(reply);
    }
}

/* huddle's hold is addressed by room and member id, which participant-join
 * told us (calls_note_event). */
static void apply_hold(call *c, bool was_hold)
{
    if (was_hold == c->hold || !c->member)
        return;
    char room[160];
    long id;
    call_lock(c);
    snprintf(room, sizeof room, "%s", c->room);
    id = c->member_id;
    call_unlock(c);
    if (id < 0) {
        host_log(HUDDLE_LOG_WARN, "%s: hold change before the member joined; ignored",
                 c->channel);
        return;
    }
    api_quiet("conference %s \"%s\" %ld", c->hold ? "hold" : "unhold", room, id);
}

/* ------------------------------------------- session timers (RFC 4028) */

static void st_arm(call *c);

static void st_fire(void *arg)
{
    call *c = arg;
    if (c->we_refresh) {
        /* Any re-INVITE refreshes the session; a dead peer makes libre
         * close it (on_close). */
        struct mbuf *desc = NULL;
        int err = media_encode(c, true, &desc);
        if (!err)
            err = sipsess_modify(c->sess, desc);
        host_log(err ? HUDDLE_LOG_WARN : HUDDLE_LOG_DEBUG, "%s: session refresh (re-INVITE): %m",
                 c->channel, err);
        mem_deref(desc);
        st_arm(c);
        return;
    }
    host_log(HUDDLE_LOG_INFO, "%s: no session refresh within %u s: BYE", c->channel, c->se_s);
    sipsess_set_close_headers(c->sess, "Reason: Q.850;cause=102\r\n");
    release_member(c);
    call_free(c);
}

/* We refresh at half the interval; the caller's refresh is due before
 * the interval minus min(32 s, a third) (RFC 4028 section 10). */
static void st_arm(call *c)
{
    if (!c->se_s || !c->answered)
        return;
    uint64_t ms = c->we_refresh ? c->se_s * 500ull
                                : (c->se_s - (c->se_s / 3 < 32 ? c->se_s / 3 : 32)) * 1000ull;
    tmr_start(&c->st_tmr, ms, st_fire, c);
}

/* Reads the INVITE's Session-Expires. Returns the Min-SE to answer 422
 * with when the interval is too small, else 0. */
static uint32_t st_negotiate(call *c, const struct sip_msg *msg)
{
    const struct sip_hdr *h = sip_msg_hdr(msg, SIP_HDR_SESSION_EXPIRES);
    struct pl num, who;
    if (!h || re_regex(h->val.p, h->val.l, "[0-9]+", &num)) {
        c->se_s = g_host.cfg.session_expires_s;
        c->we_refresh = true; /* the caller did not ask: plain re-INVITEs */
        return 0;
    }
    uint32_t se = pl_u32(&num);
    if (se < g_host.cfg.session_min_se_s)
        return g_host.cfg.session_min_se_s;
    bool timer = sip_msg_hdr_has_value(msg, SIP_HDR_SUPPORTED, "timer");
    bool wants_uas = !re_regex(h->val.p, h->val.l, "refresher=[a-z]+", &who) &&
                     !pl_strcasecmp(&who, "uas");
    c->se_s = se;
    c->we_refresh = !timer || wants_uas;
    snprintf(c->st_hdr, sizeof c->st_hdr, "Session-Expires: %u;refresher=%s\r\n%s", se,
             c->we_refresh ? "uas" : "uac", timer ? "Require: timer\r\n" : "");
    return 0;
}

static int on_offer(struct mbuf **descp, const struct sip_msg *msg, void *arg)
{
    call *c = arg;
    if (!c->we_refresh)
        st_arm(c); /* the caller refreshed */
    bool was_hold = c->hold;
    const char *why = "";
    if (!mbuf_get_left(msg->mb)) {
        /* A re-INVITE without SDP asks for our offer. */
        return media_encode(c, true, descp);
    }
    if (media_offer_in(c, msg->mb, &why) != 0) {
        host_log(HUDDLE_LOG_WARN, "%s: re-INVITE refused: %s", c->channel, why);
        return EPROTO;
    }
    apply_hold(c, was_hold);
    return media_encode(c, false, descp);
}

/* RFC 3311 UPDATE inside a dialog: libre's sipsess (1.1) leaves it to
 * us. With SDP it is an offer like a re-INVITE's (codec change, hold);
 * either way it refreshes the session (RFC 4028). */
bool calls_update(const struct sip_msg *msg)
{
    if (pl_strcmp(&msg->met, "UPDATE"))
        return false;
    call *c = NULL;
    for (size_t i = 0; i < g_nslots && !c; i++) {
        call *x = g_slots[i].c;
        if (x && x->sess && sipsess_dialog(x->sess) &&
            sip_dialog_cmp(sipsess_dialog(x->sess), msg))
            c = x;
    }
    if (!c) {
        sip_reply(g_host.sip, msg, 481, "Call/Transaction Does Not Exist");
        return true;
    }
    struct mbuf *desc = NULL;
    bool sdp = mbuf_get_left(msg->mb) > 0;
    if (!sdp) {
        if (!c->we_refresh)
            st_arm(c);
    } else if (on_offer(&desc, msg, c) != 0) {
        sip_treplyf(NULL, NULL, g_host.sip, msg, false, 488, "Not Acceptable Here",
                    "Content-Length: 0\r\n\r\n");
        return true;
    }
    host_log(HUDDLE_LOG_INFO, "%s: UPDATE%s answered", c->channel, sdp ? " with SDP" : "");
    size_t blen = desc ? mbuf_get_left(desc) : 0;
    sip_treplyf(NULL, NULL, g_host.sip, msg, true, 200, "OK",
                "Contact: <sip:huddle@%J%s>\r\n" ALLOW_HDR "%s%sContent-Length: %zu\r\n\r\n%b",
                &msg->dst, sip_transp_param(msg->tp), c->st_hdr,
                desc ? "Content-Type: application/sdp\r\n" : "", blen,
                desc ? mbuf_buf(desc) : (const uint8_t *)"", blen);
    mem_deref(desc);
    return true;
}

static int on_answer(const struct sip_msg *msg, void *arg)
{
    call *c = arg;
    bool was_hold = c->hold;
    const char *why = "";
    if (media_answer_in(c, msg->mb, &why) != 0) {
        host_log(HUDDLE_LOG_WARN, "%s: SDP answer refused: %s", c->channel, why);
        return EPROTO;
    }
    apply_hold(c, was_hold);
    return 0;
}

static void on_estab(const struct sip_msg *msg, void *arg)
{
    call *c = arg;
    (void)msg;
    if (c->outbound && !c->answered) {
        c->answered = true;
        join(c);
    }
}

/* The digit of an INFO body: "Signal=5" (application/dtmf-relay) or just
 * "5" (application/dtmf). 0 when there is none. */
static char info_digit(const struct pl *body, bool relay)
{
    const char *p = body->p, *end = body->p + body->l;
    if (relay) {
        const char *key = "Signal=";
        size_t klen = strlen(key);
        for (; p + klen <= end; p++)
            if (strncasecmp(p, key, klen) == 0)
                break;
        if (p + klen > end)
            return 0;
        p += klen;
    }
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (p < end && strchr("0123456789*#ABCDabcd", *p) && *p)
        return *p;
    return 0;
}

static void on_info(struct sip *sip, const struct sip_msg *msg, void *arg)
{
    call *c = arg;
    struct pl body;
    pl_set_mbuf(&body, msg->mb);
    bool relay = msg_ctype_cmp(&msg->ctyp, "application", "dtmf-relay");
    if (!relay && !msg_ctype_cmp(&msg->ctyp, "application", "dtmf")) {
        sip_reply(sip, msg, 415, "Unsupported Media Type");
        return;
    }
    char digit = info_digit(&body, relay);
    if (!digit) {
        sip_reply(sip, msg, 400, "Bad Request (no DTMF digit in the INFO body)");
        return;
    }
    sip_reply(sip, msg, 200, "OK");
    if (c->member)
        g_host.hi->member_dtmf(c->member, digit);
}

static void on_close(int err, const struct sip_msg *msg, void *arg)
{
    call *c = arg;
    if (err)
        host_log(HUDDLE_LOG_INFO, "%s: session closed: %m", c->channel, err);
    else if (msg)
        host_log(HUDDLE_LOG_INFO, "%s: %r", c->channel, msg->req ? &msg->met : &msg->reason);
    release_member(c);
    call_free(c);
}

/* The app refused and the hangup carrying the cause never came. */
static void refuse_timeout(void *arg)
{
    call *c = arg;
    sipsess_reject(c->sess, 480, "Temporarily Unavailable", "");
    call_free(c);
}

/* Runs the conference app and, inbound, answers with our SDP. */
static void join(call *c)
{
    huddle_caller who = {
        .channel = c->channel,
        .account = g_host.cfg.account,
        .call_id = c->call_id,
        .from = c->from,
        .to = c->to,
        .caller_name = c->name,
    };
    huddle_member *m = NULL;
    huddle_status st = g_host.hi->app(g_host.mod, &who, c->app_data, &m);
    if (st == HUDDLE_STATUS_OK) {
        c->member = m;
        if (!c->outbound) {
            struct mbuf *desc = NULL;
            int err = media_encode(c, false, &desc);
            if (!err)
                err = sipsess_answer(c->sess, 200, "OK", desc, ALLOW_HDR "%s", c->st_hdr);
            mem_deref(desc);
            if (err) {
                host_log(HUDDLE_LOG_ERROR, "%s: cannot answer: %m", c->channel, err);
                release_member(c);
                call_free(c);
                return;
            }
            c->answered = true;
        }
        media_start(c);
        st_arm(c);
        host_log(HUDDLE_LOG_INFO, "%s: %s joined '%s' (codec pt %d)", c->channel, c->from,
                 c->app_data, c->pt);
        return;
    }
    if (st == HUDDLE_STATUS_REFUSED) {
        /* The hangup callback brings the Q.850 cause; wait for it. */
        tmr_start(&c->refuse_tmr, 3000, refuse_timeout, c);
        return;
    }
    host_log(HUDDLE_LOG_ERROR, "%s: conference app '%s': %s", c->channel, c->app_data,
             g_host.hi->strerror(st));
    if (c->outbound)
        call_free(c);
    else {
        sipsess_reject(c->sess, 500, "Server Internal Error", "");
        call_free(c);
    }
}

/* --------------------------------------------------------- inbound INVITE */

static void reject(const struct sip_msg *msg, uint16_t code, const char *reason,
                   const char *warning)
{
    host_log(HUDDLE_LOG_INFO, "INVITE %r from %r: %u %s (%s)", &msg->ruri, &msg->from.auri,
             code, reason, warning);
    sip_treplyf(NULL, NULL, g_host.sip, msg, false, code, reason,
                "Warning: 399 huddle-sip \"%s\"\r\nContent-Length: 0\r\n\r\n", warning);
}

static void copy_pl(char *dst, size_t len, const struct pl *pl)
{
    if (pl_strcpy(pl, dst, len) != 0)
        dst[0] = '\0';
}

void calls_incoming(const struct sip_msg *msg, void *arg)
{
    (void)arg;
    if (g_host.stopping) {
        reject(msg, 503, "Service Unavailable", "shutting down");
        return;
    }
    char user[128], app[256];
    if (!pl_isset(&msg->uri.user) || msg->uri.user.l >= sizeof user) {
        reject(msg, 404, "Not Found", "no or over-long user part in the Request-URI");
        return;
    }
    copy_pl(user, sizeof user, &msg->uri.user);
    int rc = sip_dialplan_route(&g_host.cfg, user, app, sizeof app);
    if (rc != 0) {
        reject(msg, 404, "Not Found", rc == -1 ? "no dialplan rule matches" : "app data too long");
        return;
    }
    if (!mbuf_get_left(msg->mb) || !msg_ctype_cmp(&msg->ctyp, "application", "sdp")) {
        reject(msg, 488, "Not Acceptable Here", "INVITE without an SDP offer");
        return;
    }
    call *c = call_new();
    if (!c) {
        reject(msg, 503, "Service Unavailable", "max_calls reached");
        return;
    }
    int err = media_open(c);
    if (err) {
        reject(msg, 503, "Service Unavailable", "no RTP port free");
        call_free(c);
        return;
    }
    const char *why = "";
    if (media_offer_in(c, msg->mb, &why) != 0) {
        reject(msg, 488, "Not Acceptable Here", why);
        call_free(c);
        return;
    }
    uint32_t min_se = st_negotiate(c, msg);
    if (min_se) {
        host_log(HUDDLE_LOG_INFO, "INVITE %r: Session-Expires below %u s: 422", &msg->ruri, min_se);
        sip_treplyf(NULL, NULL, g_host.sip, msg, false, 422, "Session Interval Too Small",
                    "Min-SE: %u\r\nContent-Length: 0\r\n\r\n", min_se);
        call_free(c);
        return;
    }
    snprintf(c->app_data, sizeof c->app_data, "%s", app);
    /* participant-join looks calls up by Call-ID from huddle's event
     * thread, under the slot lock. */
    call_lock(c);
    copy_pl(c->call_id, sizeof c->call_id, &msg->callid);
    call_unlock(c);
    copy_pl(c->from, sizeof c->from, &msg->from.uri.user);
    copy_pl(c->name, sizeof c->name, &msg->from.dname);
    snprintf(c->to, sizeof c->to, "%s", user);
    err = sipsess_accept(&c->sess, g_host.sess_sock, msg, 180, "Ringing", "huddle",
                         "application/sdp", NULL, NULL, NULL, false, on_offer, on_answer,
                         on_estab, on_info, NULL, on_close, c, ALLOW_HDR);
    if (err) {
        reject(msg, 500, "Server Internal Error", "cannot accept the session");
        call_free(c);
        return;
    }
    /* A CANCEL while ringing gets libre's 487 and on_close: the caller
     * never joined a room. */
    if (g_host.cfg.ring_ms)
        tmr_start(&c->ring_tmr, g_host.cfg.ring_ms, ring_done, c);
    else
        join(c);
}

/* ------------------------------------------------ huddle -> SIP (main) */

void calls_hangup(const char *channel, uint32_t cause)
{
    call *c = call_find(channel);
    if (!c)
        return; /* the phone hung up first */
    if (!c->answered) {
        const char *reason;
        uint16_t code = calls_cause_to_sip(cause, &reason);
        host_log(HUDDLE_LOG_INFO, "%s: refused by huddle, cause %u -> %u %s", c->channel,
                 cause, code, reason);
        if (c->outbound)
            sipsess_set_close_headers(c->sess, "Reason: Q.850;cause=%u\r\n", cause);
        else
            sipsess_reject(c->sess, code, reason, "Reason: Q.850;cause=%u\r\n", cause);
    } else {
        host_log(HUDDLE_LOG_INFO, "%s: hung up by huddle, cause %u", c->channel, cause);
        sipsess_set_close_headers(c->sess, "Reason: Q.850;cause=%u\r\n", cause);
    }
    release_member(c);
    call_free(c);
}

void calls_end_all(uint32_t cause)
{
    for (size_t i = 0; i < g_nslots; i++) {
        call *c = g_slots[i].c;
        if (!c)
            continue;
        if (c->sess)
            sipsess_set_close_headers(c->sess, "Reason: Q.850;cause=%u\r\n", cause);
        c->member = NULL; /* huddle's shutdown released every handle */
        call_free(c);
    }
}

bool calls_is_self(const char *uri)
{
    struct pl pl;
    struct uri u;
    struct sa dst, self;
    pl_set_str(&pl, uri);
    if (uri_decode(&u, &pl) || sa_set(&dst, &u.host, u.port ? u.port : SIP_PORT))
        return false;
    if (sa_decode(&self, g_host.cfg.listen, strlen(g_host.cfg.listen)))
        return false;
    return sa_cmp(&dst, &self, SA_ALL);
}

void calls_originate(const char *destination, const char *room, const char *account)
{
    const char *tmpl = g_host.cfg.originate_uri;
    char uri[512];
    const char *var = strstr(tmpl, "${destination}");
    if (strncmp(destination, "sip:", 4) == 0) {
        /* huddle's cascade names the other node's room by its URI. */
        if (snprintf(uri, sizeof uri, "%s", destination) >= (int)sizeof uri) {
            host_log(HUDDLE_LOG_WARN, "originate: URI longer than %zu bytes", sizeof uri - 1);
            return;
        }
    } else if (!var) {
        host_log(HUDDLE_LOG_WARN, "originate %s: no ${destination} in originate_uri", destination);
        return;
    } else {
        snprintf(uri, sizeof uri, "%.*s%s%s", (int)(var - tmpl), tmpl, destination,
                 var + strlen("${destination}"));
    }
    if (account && account[0] && strcmp(account, g_host.cfg.account) != 0) {
        host_log(HUDDLE_LOG_WARN, "originate %s: account '%s' is not this host's", destination,
                 account);
        return;
    }
    call *c = call_new();
    if (!c) {
        host_log(HUDDLE_LOG_WARN, "originate %s: max_calls reached", destination);
        return;
    }
    c->outbound = true;
    snprintf(c->app_data, sizeof c->app_data, "%s", room);
    snprintf(c->to, sizeof c->to, "%s", destination);
    snprintf(c->from, sizeof c->from, "huddle");
    call_lock(c);
    snprintf(c->call_id, sizeof c->call_id, "%s", c->channel);
    call_unlock(c);
    struct mbuf *offer = NULL;
    char from_uri[300];
    snprintf(from_uri, sizeof from_uri, "sip:huddle@%s", g_host.cfg.listen);
    int err = media_open(c);
    if (!err)
        err = media_encode(c, true, &offer);
    if (!err)
        err = sipsess_connect(&c->sess, g_host.sess_sock, uri, "huddle", from_uri, "huddle",
                              NULL, 0, "application/sdp", offer, NULL, NULL, false, on_offer,
                              on_answer, NULL, on_estab, on_info, NULL, on_close, c, ALLOW_HDR);
    mem_deref(offer);
    if (err) {
        host_log(HUDDLE_LOG_WARN, "originate %s (%s): %m", destination, uri, err);
        call_free(c);
        return;
    }
    host_log(HUDDLE_LOG_INFO, "%s: dialling %s into '%s'", c->channel, uri, room);
}

/* ------------------------------------------------- huddle's threads */

void calls_send_audio(const char *channel, const huddle_frame *frame)
{
    unsigned slot_no, gen;
    if (!g_slots || sscanf(channel, "sip-%u-%u", &slot_no, &gen) != 2 || slot_no >= g_nslots)
        return;
    slot *s = &g_slots[slot_no];
    pthread_mutex_lock(&s->lock);
    if (s->c && s->c->gen == gen)
        media_send(s->c, frame);
    pthread_mutex_unlock(&s->lock);
}

void calls_note_event(const huddle_event *ev)
{
    if (strcmp(ev->name, "participant-join") != 0 || !g_slots)
        return;
    const char *sid = NULL, *id = NULL, *name = NULL, *account = "";
    for (size_t i = 0; i < ev->field_count; i++) {
        const huddle_event_field *f = &ev->fields[i];
        if (!f->key || !f->value)
            continue;
        if (strcmp(f->key, "CallSid") == 0)
            sid = f->value;
        else if (strcmp(f->key, "MemberId") == 0)
            id = f->value;
        else if (strcmp(f->key, "FriendlyName") == 0)
            name = f->value;
        else if (strcmp(f->key, "AccountSid") == 0)
            account = f->value;
    }
    if (!sid || !id || !name)
        return;
    for (size_t i = 0; i < g_nslots; i++) {
        slot *s = &g_slots[i];
        pthread_mutex_lock(&s->lock);
        if (s->c && strcmp(s->c->call_id, sid) == 0) {
            s->c->member_id = strtol(id, NULL, 10);
            snprintf(s->c->room, sizeof s->c->room, "%s%s%s", account, account[0] ? "/" : "",
                     name);
        }
        pthread_mutex_unlock(&s->lock);
    }
}
