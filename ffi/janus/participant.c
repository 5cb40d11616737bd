/* participant.c — AudioBridge's asynchronous requests (join, configure,
 * changeroom, leave, hangup; and dtmf), handled one at a time on the plugin's own
 * thread so that no Janus thread waits on huddle. */
#include "hj.h"

#include <string.h>

typedef struct hj_msg {
    hj_session *session; /* +1 ref */
    char *transaction;
    json_t *message; /* NULL: a teardown (hj_participant_queue_gone) */
    json_t *jsep;
    bool close_pc;
} hj_msg;

static GAsyncQueue *queue;
static GThread *worker;
static hj_msg stop_msg;

static struct janus_json_parameter room_parameters[] = {
    {"room", JSON_INTEGER, JANUS_JSON_PARAM_REQUIRED | JANUS_JSON_PARAM_POSITIVE}};
static struct janus_json_parameter idopt_parameters[] = {
    {"id", JSON_INTEGER, JANUS_JSON_PARAM_POSITIVE}};
static struct janus_json_parameter join_parameters[] = {
    {"display", JSON_STRING, 0},   {"muted", JANUS_JSON_BOOL, 0},
    {"codec", JSON_STRING, 0},     {"rtp", JSON_OBJECT, 0},
    {"secret", JSON_STRING, 0},    {"huddle", JSON_OBJECT, 0},
    {"suspended", JANUS_JSON_BOOL, 0}};
static struct janus_json_parameter dtmf_parameters[] = {
    {"tones", JSON_STRING, JANUS_JSON_PARAM_REQUIRED | JANUS_JSON_PARAM_NONEMPTY}};
static struct janus_json_parameter configure_parameters[] = {
    {"muted", JANUS_JSON_BOOL, 0}, {"display", JSON_STRING, 0}, {"record", JANUS_JSON_BOOL, 0},
    {"filename", JSON_STRING, 0}};

static json_t *room_json(guint64 room)
{
    return json_integer((json_int_t)room);
}

/* huddle's conference-app arguments from the join's "huddle" object:
 * {"moderator": true, "endConferenceOnExit": true} -> moderator=true,... */
static bool append_huddle_args(GString *args, json_t *obj, char *cause, size_t len)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        char *text = json_is_string(v)  ? g_strdup(json_string_value(v))
                     : json_is_true(v)  ? g_strdup("true")
                     : json_is_false(v) ? g_strdup("false")
                     : json_is_integer(v)
                         ? g_strdup_printf("%" JSON_INTEGER_FORMAT, json_integer_value(v))
                         : NULL;
        if (text == NULL || strpbrk(key, "{}=,") || strpbrk(text, "{}")) {
            g_snprintf(cause, len, "Invalid element (huddle.%s)", key);
            g_free(text);
            return false;
        }
        g_string_append_printf(args, ",%s=", key);
        for (const char *c = text; *c; c++) {
            if (*c == ',')
                g_string_append_c(args, '\\');
            g_string_append_c(args, *c);
        }
        g_free(text);
    }
    return true;
}

static json_t *others_locked(guint64 room, const hj_session *self)
{
    json_t *list = json_array();
    GPtrArray *a = hj_sessions_in_room_locked(room);
    for (guint i = 0; i < a->len; i++) {
        hj_session *o = g_ptr_array_index(a, i);
        if (o != self)
            json_array_append_new(list, hj_participant_json_locked(o));
    }
    hj_sessions_free(a);
    return list;
}

static json_t *join(hj_session *s, json_t *root, bool change)
{
    int code = 0;
    char cause[512];
    g_mutex_lock(&hj.lock);
    bool joined = s->joined;
    g_mutex_unlock(&hj.lock);
    if (joined && !change)
        return hj_error(HJ_ERR_ALREADY_JOINED,
                        "Already in a room (use changeroom to join another one)");
    if (!joined && change)
        return hj_error(HJ_ERR_NOT_JOINED, "Can't change room (not in a room in the first place)");
    HJ_VALIDATE(root, join_parameters);
    HJ_VALIDATE(root, room_parameters);
    HJ_VALIDATE(root, idopt_parameters);
    const char *codec_name = json_string_value(json_object_get(root, "codec"));
    janus_audiocodec codec =
        codec_name ? janus_audiocodec_from_name(codec_name) : JANUS_AUDIOCODEC_OPUS;
    /* changeroom keeps the codec (and the media it was negotiated for), as
     * AudioBridge does. */
    bool fec = json_is_true(json_object_get(json_object_get(root, "rtp"), "fec"));
    if (change) {
        g_mutex_lock(&s->out_lock);
        codec = s->codec;
        fec = fec || (s->rtp && hj_plainrtp_fec(s->rtp));
        g_mutex_unlock(&s->out_lock);
    }
    if (codec != JANUS_AUDIOCODEC_OPUS && codec != JANUS_AUDIOCODEC_PCMU &&
        codec != JANUS_AUDIOCODEC_PCMA)
        return hj_error(HJ_ERR_INVALID_ELEMENT, "Invalid element (codec must opus, pcmu or pcma)");
    json_t *rtp = json_object_get(root, "rtp");
    guint64 room = (guint64)json_integer_value(json_object_get(root, "room"));
    guint64 id = (guint64)json_integer_value(json_object_get(root, "id"));
    bool muted = json_is_true(json_object_get(root, "muted"));

    g_mutex_lock(&hj.lock);
    hj_room *r = hj_room_find_locked(room);
    if (r == NULL) {
        g_mutex_unlock(&hj.lock);
        return hj_error(HJ_ERR_NO_SUCH_ROOM, "No such room (%" G_GUINT64_FORMAT ")", room);
    }
    if (rtp && !r->allow_rtp) {
        g_mutex_unlock(&hj.lock);
        return hj_error(HJ_ERR_UNAUTHORIZED, "Plain RTP participants not allowed in this room");
    }
    /* The room's PIN is AudioBridge's (set by create/edit); rooms huddle's
     * own config protects are checked by huddle. */
    JANUS_CHECK_SECRET(r->pin, root, "pin", code, cause, HJ_ERR_MISSING_ELEMENT,
                       HJ_ERR_INVALID_ELEMENT, HJ_ERR_UNAUTHORIZED);
    bool admin = false;
    if (code == 0 && json_object_get(root, "secret")) {
        JANUS_CHECK_SECRET(r->secret, root, "secret", code, cause, HJ_ERR_MISSING_ELEMENT,
                           HJ_ERR_INVALID_ELEMENT, HJ_ERR_UNAUTHORIZED);
        admin = true;
    }
    if (code != 0) {
        g_mutex_unlock(&hj.lock);
        return hj_error(code, "%s", cause);
    }
    muted = muted || (r->muted && !admin);
    /* huddle's own rooms: the PIN goes to huddle, up front (no prompt). */
    const char *huddle_pin = r->huddle_config ? json_string_value(json_object_get(root, "pin"))
                                              : NULL;
    if (r->huddle_pin && huddle_pin == NULL) {
        g_mutex_unlock(&hj.lock);
        return hj_error(HJ_ERR_MISSING_ELEMENT, "Missing mandatory element (pin)");
    }
    if (huddle_pin && (strspn(huddle_pin, "0123456789") != strlen(huddle_pin) ||
                       strlen(huddle_pin) < 1 || strlen(huddle_pin) > 20)) {
        g_mutex_unlock(&hj.lock);
        return hj_error(HJ_ERR_INVALID_ELEMENT, "Invalid element (pin: 1-20 digits)");
    }
    GPtrArray *present = hj_sessions_in_room_locked(room);
    bool taken = false;
    for (guint i = 0; i < present->len; i++)
        taken = taken || (id && ((hj_session *)g_ptr_array_index(present, i))->id == id);
    while (id == 0) {
        id = (guint64)g_random_int_range(1, G_MAXINT32);
        for (guint i = 0; i < present->len; i++)
            if (((hj_session *)g_ptr_array_index(present, i))->id == id)
                id = 0;
    }
    hj_sessions_free(present);
    g_mutex_unlock(&hj.lock);
    if (taken)
        return hj_error(HJ_ERR_ID_EXISTS, "User ID %" G_GUINT64_FORMAT " already exists", id);

    GString *args = g_string_new(codec == JANUS_AUDIOCODEC_OPUS ? "{codec=opus,beep=false"
                                                                 : "{codec=L16,beep=false");
    if (muted)
        g_string_append(args, ",muted=true");
    if (huddle_pin)
        g_string_append_printf(args, ",pin=%s", huddle_pin);
    /* AudioBridge's rtp.fec: in-band FEC in what this participant gets. */
    if (codec == JANUS_AUDIOCODEC_OPUS && fec)
        g_string_append(args, ",fec=true");
    json_t *extra = json_object_get(root, "huddle");
    if (extra && !append_huddle_args(args, extra, cause, sizeof cause)) {
        g_string_free(args, TRUE);
        return hj_error(HJ_ERR_INVALID_ELEMENT, "%s", cause);
    }
    g_string_append_printf(args, "}%" G_GUINT64_FORMAT, room);

    hj_plainrtp *prtp = NULL;
    if (rtp) {
        prtp = hj_plainrtp_open(s, rtp, codec, &code, cause, sizeof cause);
        if (prtp == NULL) {
            g_string_free(args, TRUE);
            return hj_error(code, "%s", cause);
        }
    }
    if (change) {
        /* A plain-RTP participant keeps its socket across rooms, as a
         * WebRTC one keeps its PeerConnection. */
        if (prtp == NULL) {
            g_mutex_lock(&hj.lock);
            g_mutex_lock(&s->out_lock);
            prtp = s->rtp;
            s->rtp = NULL;
            g_mutex_unlock(&s->out_lock);
            g_mutex_unlock(&hj.lock);
        }
        hj_participant_gone(s, false, "changeroom");
    }

    const char *display = json_string_value(json_object_get(root, "display"));
    g_mutex_lock(&hj.lock);
    g_snprintf(s->channel, sizeof s->channel, "janus-%" G_GUINT64_FORMAT ".%u", s->sid,
               ++s->joins);
    g_mutex_unlock(&hj.lock);
    char idtext[24];
    g_snprintf(idtext, sizeof idtext, "%" G_GUINT64_FORMAT, id);
    huddle_caller who = {.channel = s->channel,
                         .call_id = s->channel,
                         .from = idtext,
                         .caller_name = display};
    huddle_member *member = NULL;
    huddle_status st = hj.hi->app(hj.module, &who, args->str, &member);
    g_string_free(args, TRUE);
    if (st != HUDDLE_STATUS_OK) {
        if (prtp)
            hj_plainrtp_close(prtp);
        return hj_error(HJ_ERR_UNAUTHORIZED, "Refused by huddle: %s (the Janus log says why)",
                        hj.hi->strerror(st));
    }
    bool admitted;
    uint32_t member_id = hj_huddle_member_id(room, s->channel, &admitted);
    if (huddle_pin && !admitted) {
        /* huddle would ask again by DTMF; AudioBridge's answer is no. */
        hj.hi->member_hangup(member);
        if (prtp)
            hj_plainrtp_close(prtp);
        return hj_error(HJ_ERR_UNAUTHORIZED, "Unauthorized (wrong pin)");
    }

    g_mutex_lock(&hj.lock);
    s->joined = true;
    s->room = room;
    s->id = id;
    s->muted = muted;
    s->admin = admin;
    s->talking = false;
    s->member_id = member_id;
    g_free(s->display);
    s->display = display ? g_strdup(display) : NULL;
    /* send_audio reads these under out_lock only; the receiving side
     * reads them after the member is published below. */
    g_mutex_lock(&s->out_lock);
    s->codec = codec;
    uint32_t clock = codec == JANUS_AUDIOCODEC_OPUS ? 48000 : 8000;
    if (s->out.clock_rate != clock)
        hrtp_sender_init(&s->out, s->out.ssrc, s->out.sequence, s->out.timestamp, clock);
    if (prtp) {
        s->rtp = prtp;
        s->audio_pt = hj_plainrtp_payload_type(prtp);
    }
    g_mutex_unlock(&s->out_lock);
    json_t *me = hj_participant_json_locked(s);
    json_t *list = others_locked(room, s);
    g_mutex_unlock(&hj.lock);
    g_atomic_pointer_set(&s->member, member);

    json_t *ev = hj_reply("joined");
    json_object_set_new(ev, "room", room_json(room));
    json_t *mine = json_array();
    json_array_append(mine, me);
    json_object_set_new(ev, "participants", mine);
    hj_push_room(room, ev, id);

    json_t *info = json_object();
    json_object_set_new(info, "event", json_string("joined"));
    json_object_set_new(info, "room", room_json(room));
    json_object_set_new(info, "id", json_integer((json_int_t)id));
    if (display)
        json_object_set_new(info, "display", json_string(display));
    json_object_set_new(info, "muted", json_boolean(muted));
    hj_notify(s, info);

    json_t *reply = hj_reply(change ? "roomchanged" : "joined");
    json_object_set_new(reply, "room", room_json(room));
    json_object_set_new(reply, "id", json_integer((json_int_t)id));
    if (display)
        json_object_set_new(reply, "display", json_string(display));
    json_object_set_new(reply, "participants", list);
    if (prtp)
        json_object_set_new(reply, "rtp", hj_plainrtp_local(prtp));
    json_decref(me);
    return reply;
}

static json_t *configure(hj_session *s, json_t *root)
{
    int code = 0;
    char cause[512];
    HJ_VALIDATE(root, configure_parameters);
    g_mutex_lock(&hj.lock);
    bool joined = s->joined;
    guint64 room = s->room;
    uint32_t member = s->member_id;
    json_t *display = json_object_get(root, "display");
    if (joined && display) {
        g_free(s->display);
        s->display = g_strdup(json_string_value(display));
    }
    g_mutex_unlock(&hj.lock);
    if (!joined)
        return hj_error(HJ_ERR_NOT_JOINED, "Can't configure (not in a room)");
    json_t *muted = json_object_get(root, "muted");
    if (muted) {
        /* The room hears of it from huddle's participant-mute event. */
        char *cmd = g_strdup_printf("%s %" G_GUINT64_FORMAT " %u",
                                    json_is_true(muted) ? "mute" : "unmute", room, member);
        g_free(hj_huddle_api(cmd));
        g_free(cmd);
    }
    if (json_object_get(root, "record"))
        JANUS_LOG(LOG_WARN, "huddle: per-participant .mjr recording is not supported; "
                            "use enable_recording for the room's WAV\n");
    json_t *reply = hj_reply("event");
    json_object_set_new(reply, "room", room_json(room));
    json_object_set_new(reply, "result", json_string("ok"));
    return reply;
}

/* {"request": "dtmf", "tones": "*1"}: keys for huddle's PIN entry and
 * caller controls from applications that signal DTMF out of band (as
 * Janus's SIP plugin does with INFO), besides RFC 4733 in the media. */
static json_t *dtmf(hj_session *s, json_t *root)
{
    int code = 0;
    char cause[512];
    HJ_VALIDATE(root, dtmf_parameters);
    const char *tones = json_string_value(json_object_get(root, "tones"));
    if (strspn(tones, "0123456789*#ABCDabcd") != strlen(tones) || strlen(tones) > 64)
        return hj_error(HJ_ERR_INVALID_ELEMENT, "Invalid element (tones: 1-64 of 0-9 * # A-D)");
    huddle_member *m = g_atomic_pointer_get(&s->member);
    if (m == NULL)
        return hj_error(HJ_ERR_NOT_JOINED, "Can't send DTMF (not in a room)");
    for (const char *t = tones; *t; t++)
        hj.hi->member_dtmf(m, g_ascii_toupper(*t));
    json_t *reply = hj_reply("event");
    json_object_set_new(reply, "result", json_string("ok"));
    return reply;
}

void hj_participant_gone(hj_session *s, bool notify_self, const char *why)
{
    g_mutex_lock(&hj.lock);
    if (!s->joined) {
        g_mutex_unlock(&hj.lock);
        return;
    }
    s->joined = false;
    guint64 room = s->room, id = s->id;
    g_mutex_lock(&s->out_lock);
    hj_plainrtp *rtp = s->rtp;
    s->rtp = NULL;
    g_mutex_unlock(&s->out_lock);
    g_mutex_unlock(&hj.lock);
    hj_member_release(s);
    if (rtp)
        hj_plainrtp_close(rtp);
    json_t *ev = hj_reply("event");
    json_object_set_new(ev, "room", room_json(room));
    json_object_set_new(ev, "leaving", json_integer((json_int_t)id));
    hj_push_room(room, ev, id);
    if (notify_self) {
        json_t *left = hj_reply("left");
        json_object_set_new(left, "room", room_json(room));
        json_object_set_new(left, "id", json_integer((json_int_t)id));
        hj_push(s, left, NULL);
    }
    json_t *info = json_object();
    json_object_set_new(info, "event", json_string("left"));
    json_object_set_new(info, "room", room_json(room));
    json_object_set_new(info, "id", json_integer((json_int_t)id));
    json_object_set_new(info, "reason", json_string(why));
    hj_notify(s, info);
}

static void handle(hj_msg *m)
{
    hj_session *s = m->session;
    if (m->message == NULL) {
        hj_participant_gone(s, false, "hangup");
        if (m->close_pc && !g_atomic_int_get(&s->destroyed))
            hj.gateway->close_pc(s->handle);
        return;
    }
    const char *request = json_string_value(json_object_get(m->message, "request"));
    json_t *reply = NULL, *jsep = NULL;
    if (!g_ascii_strcasecmp(request, "join") || !g_ascii_strcasecmp(request, "changeroom"))
        reply = join(s, m->message, !g_ascii_strcasecmp(request, "changeroom"));
    else if (!g_ascii_strcasecmp(request, "configure"))
        reply = configure(s, m->message);
    else if (!g_ascii_strcasecmp(request, "dtmf"))
        reply = dtmf(s, m->message);
    else if (!g_ascii_strcasecmp(request, "leave") || !g_ascii_strcasecmp(request, "hangup")) {
        g_mutex_lock(&hj.lock);
        bool joined = s->joined;
        g_mutex_unlock(&hj.lock);
        if (!joined) {
            reply = hj_error(HJ_ERR_NOT_JOINED, "Can't leave (not in a room)");
        } else {
            hj_participant_gone(s, true, request);
            if (!g_ascii_strcasecmp(request, "hangup"))
                hj.gateway->close_pc(s->handle);
            return;
        }
    }
    const char *type = json_string_value(json_object_get(m->jsep, "type"));
    const char *sdp = json_string_value(json_object_get(m->jsep, "sdp"));
    if (reply && !json_object_get(reply, "error_code") && type && sdp) {
        char err[256];
        if (g_ascii_strcasecmp(type, "offer") != 0) {
            json_decref(reply);
            reply = hj_error(HJ_ERR_INVALID_SDP, "Unsupported SDP type '%s'", type);
        } else {
            char *answer = hj_media_answer(s, sdp, err, sizeof err);
            if (answer == NULL) {
                json_decref(reply);
                reply = hj_error(HJ_ERR_INVALID_SDP, "Error parsing offer: %s", err);
            } else {
                jsep = json_pack("{ssss}", "type", "answer", "sdp", answer);
                g_free(answer);
            }
        }
    }
    if (reply)
        hj.gateway->push_event(s->handle, hj.plugin, m->transaction, reply, jsep);
    if (reply)
        json_decref(reply);
    if (jsep)
        json_decref(jsep);
}

static void msg_free(hj_msg *m)
{
    hj_session_unref(m->session);
    g_free(m->transaction);
    if (m->message)
        json_decref(m->message);
    if (m->jsep)
        json_decref(m->jsep);
    g_free(m);
}

static gpointer run(gpointer unused)
{
    (void)unused;
    for (;;) {
        hj_msg *m = g_async_queue_pop(queue);
        if (m == &stop_msg)
            break;
        handle(m);
        msg_free(m);
    }
    return NULL;
}

void hj_participant_start(void)
{
    queue = g_async_queue_new();
    worker = g_thread_new("huddle worker", run, NULL);
}

void hj_participant_stop(void)
{
    if (worker == NULL)
        return;
    g_async_queue_push(queue, &stop_msg);
    g_thread_join(worker);
    worker = NULL;
    hj_msg *m;
    while ((m = g_async_queue_try_pop(queue)) != NULL)
        if (m != &stop_msg)
            msg_free(m);
    g_async_queue_unref(queue);
}

void hj_participant_queue(janus_plugin_session *handle, char *transaction, json_t *message,
                          json_t *jsep)
{
    hj_session *s = hj_session_get(handle);
    if (s == NULL || worker == NULL) {
        hj_session_unref(s);
        g_free(transaction);
        json_decref(message);
        if (jsep)
            json_decref(jsep);
        return;
    }
    hj_msg *m = g_malloc0(sizeof *m);
    m->session = s;
    m->transaction = transaction;
    m->message = message;
    m->jsep = jsep;
    g_async_queue_push(queue, m);
}

void hj_participant_queue_gone(hj_session *s, bool close_pc)
{
    if (worker == NULL)
        return;
    janus_refcount_increase(&s->ref);
    hj_msg *m = g_malloc0(sizeof *m);
    m->session = s;
    m->close_pc = close_pc;
    g_async_queue_push(queue, m);
}
