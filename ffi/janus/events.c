/* events.c — what huddle tells the host, turned into what AudioBridge
 * applications and Janus operators expect: mute and talking events pushed
 * to the room's handles, every huddle event to Janus's event handlers, and
 * huddle's hangups (kick, end, refusals) closing the Janus side. */
#include "hj.h"

#include <string.h>

static const char *field(const huddle_event *e, const char *key)
{
    for (size_t i = 0; i < e->field_count; i++)
        if (e->fields[i].key && strcmp(e->fields[i].key, key) == 0)
            return e->fields[i].value;
    return NULL;
}

void hj_notify(hj_session *s, json_t *info)
{
    if (hj.events && hj.gateway->events_is_enabled())
        hj.gateway->notify_event(hj.plugin, s ? s->handle : NULL, info);
    else
        json_decref(info);
}

/* AudioBridge's event for a participant whose state changed. */
static void push_state(hj_session *s, const char *name)
{
    g_mutex_lock(&hj.lock);
    if (!s->joined) {
        g_mutex_unlock(&hj.lock);
        return;
    }
    guint64 room = s->room, id = s->id;
    bool talk_events = false, talking = false;
    if (!strcmp(name, "participant-mute") || !strcmp(name, "participant-unmute")) {
        s->muted = !strcmp(name, "participant-mute");
    } else {
        s->talking = talking = !strcmp(name, "participant-speech-start");
        hj_room *r = hj_room_find_locked(room);
        talk_events = r && r->audiolevel_event;
        if (!talk_events) {
            g_mutex_unlock(&hj.lock);
            return;
        }
    }
    json_t *me = hj_participant_json_locked(s);
    g_mutex_unlock(&hj.lock);
    json_t *ev;
    if (talk_events) {
        json_decref(me);
        ev = hj_reply(talking ? "talking" : "stopped-talking");
        json_object_set_new(ev, "room", json_integer((json_int_t)room));
        json_object_set_new(ev, "id", json_integer((json_int_t)id));
    } else {
        ev = hj_reply("event");
        json_object_set_new(ev, "room", json_integer((json_int_t)room));
        json_t *list = json_array();
        json_array_append_new(list, me);
        json_object_set_new(ev, "participants", list);
    }
    hj_push_room(room, ev, 0);
}

void hj_event(void *ctx, const huddle_event *e)
{
    (void)ctx;
    if (e == NULL || e->name == NULL)
        return;
    const char *call = field(e, "CallSid");
    hj_session *s = hj_session_by_channel(call);
    if (s != NULL && (!strcmp(e->name, "participant-mute") ||
                      !strcmp(e->name, "participant-unmute") ||
                      !strcmp(e->name, "participant-speech-start") ||
                      !strcmp(e->name, "participant-speech-stop")))
        push_state(s, e->name);
    if (hj.events && hj.gateway->events_is_enabled()) {
        json_t *info = json_object();
        json_object_set_new(info, "event", json_string("huddle"));
        json_object_set_new(info, "name", json_string(e->name));
        json_t *fields = json_object();
        for (size_t i = 0; i < e->field_count; i++)
            if (e->fields[i].key)
                json_object_set_new(fields, e->fields[i].key,
                                    json_string(e->fields[i].value ? e->fields[i].value : ""));
        json_object_set_new(info, "fields", fields);
        hj_notify(s, info);
    }
    hj_session_unref(s);
}

void hj_hangup(void *ctx, const char *channel, uint32_t cause)
{
    (void)ctx;
    hj_session *s = hj_session_by_channel(channel);
    if (s == NULL)
        return;
    g_mutex_lock(&hj.lock);
    bool current = s->joined;
    g_mutex_unlock(&hj.lock);
    /* A refused join never became a member (its caller already got the
     * error reply), and an earlier membership is already gone. */
    if (current) {
        JANUS_LOG(LOG_VERB, "huddle: %s hung up (cause %u)\n", channel, cause);
        hj_participant_queue_gone(s, s->rtp == NULL);
    }
    hj_session_unref(s);
}
