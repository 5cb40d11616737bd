/* moderation.c — AudioBridge's requests about the people in a room, carried
 * out by huddle's `conference` API so huddle stays the one place that
 * decides who is heard. */
#include "hj.h"

#include <string.h>

static struct janus_json_parameter room_parameters[] = {
    {"room", JSON_INTEGER, JANUS_JSON_PARAM_REQUIRED | JANUS_JSON_PARAM_POSITIVE}};
static struct janus_json_parameter id_parameters[] = {
    {"id", JSON_INTEGER, JANUS_JSON_PARAM_REQUIRED | JANUS_JSON_PARAM_POSITIVE}};
static struct janus_json_parameter secret_parameters[] = {{"secret", JSON_STRING, 0}};
static struct janus_json_parameter record_parameters[] = {
    {"record", JANUS_JSON_BOOL, JANUS_JSON_PARAM_REQUIRED}, {"record_file", JSON_STRING, 0}};
static struct janus_json_parameter play_parameters[] = {
    {"filename", JSON_STRING, JANUS_JSON_PARAM_REQUIRED}, {"file_id", JSON_STRING, 0}};
static struct janus_json_parameter huddle_parameters[] = {
    {"command", JSON_STRING, JANUS_JSON_PARAM_REQUIRED | JANUS_JSON_PARAM_NONEMPTY}};

/* Looks the room up and checks its secret: the room's id, or 0 and an
 * error reply in *err. */
static guint64 room_with_secret(json_t *root, json_t **err)
{
    int code = 0;
    char cause[512];
    *err = NULL;
    JANUS_VALIDATE_JSON_OBJECT(root, secret_parameters, code, cause, TRUE, HJ_ERR_MISSING_ELEMENT,
                               HJ_ERR_INVALID_ELEMENT);
    if (code != 0) {
        *err = hj_error(code, "%s", cause);
        return 0;
    }
    hj_room *r = hj_room_lock_checked(root, err);
    if (r == NULL)
        return 0;
    guint64 id = r->id;
    g_mutex_unlock(&hj.lock);
    return id;
}

/* The participant `id` of `room` (+1 ref), or NULL. */
static hj_session *participant(guint64 room, guint64 id)
{
    hj_session *found = NULL;
    g_mutex_lock(&hj.lock);
    GPtrArray *a = hj_sessions_in_room_locked(room);
    for (guint i = 0; i < a->len && !found; i++) {
        hj_session *s = g_ptr_array_index(a, i);
        if (s->id == id) {
            found = s;
            janus_refcount_increase(&s->ref);
        }
    }
    hj_sessions_free(a);
    g_mutex_unlock(&hj.lock);
    return found;
}

/* The participant a kick/mute/unmute names (+1 ref), after the room's
 * secret; or NULL and the error reply in *err. */
static hj_session *target(json_t *root, guint64 *room, guint64 *id, json_t **err)
{
    int code = 0;
    char cause[512];
    *room = room_with_secret(root, err);
    if (*err)
        return NULL;
    JANUS_VALIDATE_JSON_OBJECT(root, id_parameters, code, cause, TRUE, HJ_ERR_MISSING_ELEMENT,
                               HJ_ERR_INVALID_ELEMENT);
    if (code != 0) {
        *err = hj_error(code, "%s", cause);
        return NULL;
    }
    *id = (guint64)json_integer_value(json_object_get(root, "id"));
    hj_session *s = participant(*room, *id);
    if (s == NULL)
        *err = hj_error(HJ_ERR_NO_SUCH_USER,
                        "No such user %" G_GUINT64_FORMAT " in room %" G_GUINT64_FORMAT, *id,
                        *room);
    return s;
}

/* Runs a huddle command about one member of `room`. */
static void member_command(const char *verb, guint64 room, hj_session *s)
{
    g_mutex_lock(&hj.lock);
    uint32_t member = s->member_id;
    g_mutex_unlock(&hj.lock);
    char *cmd = g_strdup_printf("%s %" G_GUINT64_FORMAT " %u", verb, room, member);
    g_free(hj_huddle_api(cmd));
    g_free(cmd);
}

json_t *hj_mod_listparticipants(json_t *root)
{
    int code = 0;
    char cause[512];
    HJ_VALIDATE(root, room_parameters);
    guint64 id = (guint64)json_integer_value(json_object_get(root, "room"));
    g_mutex_lock(&hj.lock);
    if (hj_room_find_locked(id) == NULL) {
        g_mutex_unlock(&hj.lock);
        return hj_error(HJ_ERR_NO_SUCH_ROOM, "No such room (%" G_GUINT64_FORMAT ")", id);
    }
    json_t *list = json_array();
    GPtrArray *a = hj_sessions_in_room_locked(id);
    for (guint i = 0; i < a->len; i++)
        json_array_append_new(list, hj_participant_json_locked(g_ptr_array_index(a, i)));
    hj_sessions_free(a);
    g_mutex_unlock(&hj.lock);
    json_t *reply = hj_reply("participants");
    json_object_set_new(reply, "room", json_integer((json_int_t)id));
    json_object_set_new(reply, "participants", list);
    return reply;
}

json_t *hj_mod_kick(json_t *root)
{
    json_t *err;
    guint64 room, id;
    hj_session *s = target(root, &room, &id, &err);
    if (s == NULL)
        return err;
    json_t *ev = hj_reply("event");
    json_object_set_new(ev, "room", json_integer((json_int_t)room));
    json_object_set_new(ev, "kicked", json_integer((json_int_t)id));
    hj_push_room(room, ev, 0);
    /* huddle plays its "kicked" prompt (if the profile has one) and then
     * hangs the leg up through hj_hangup, which closes the PeerConnection. */
    member_command("kick", room, s);
    hj_session_unref(s);
    return hj_reply("success");
}

json_t *hj_mod_mute(json_t *root, bool mute)
{
    json_t *err;
    guint64 room, id;
    hj_session *s = target(root, &room, &id, &err);
    if (s == NULL)
        return err;
    /* The participants hear about it from huddle's participant-mute event. */
    member_command(mute ? "mute" : "unmute", room, s);
    hj_session_unref(s);
    return hj_reply("success");
}

json_t *hj_mod_mute_room(json_t *root, bool mute)
{
    json_t *err;
    guint64 room = room_with_secret(root, &err);
    if (err)
        return err;
    g_mutex_lock(&hj.lock);
    hj_room *r = hj_room_find_locked(room);
    if (r)
        r->muted = mute;
    g_mutex_unlock(&hj.lock);
    char *cmd = g_strdup_printf("%s %" G_GUINT64_FORMAT " all", mute ? "mute" : "unmute", room);
    g_free(hj_huddle_api(cmd));
    g_free(cmd);
    json_t *ev = hj_reply("event");
    json_object_set_new(ev, "room", json_integer((json_int_t)room));
    json_object_set_new(ev, "muted", json_boolean(mute));
    hj_push_room(room, ev, 0);
    return hj_reply("success");
}

json_t *hj_mod_recording(json_t *root)
{
    int code = 0;
    char cause[512];
    json_t *err;
    guint64 room = room_with_secret(root, &err);
    if (err)
        return err;
    HJ_VALIDATE(root, record_parameters);
    bool on = json_is_true(json_object_get(root, "record"));
    const char *file = json_string_value(json_object_get(root, "record_file"));
    char *cmd = on && file ? g_strdup_printf("record %" G_GUINT64_FORMAT " start \"%s\"", room, file)
                           : g_strdup_printf("record %" G_GUINT64_FORMAT " %s", room,
                                             on ? "start" : "stop");
    char *reply = hj_huddle_api(cmd);
    g_free(cmd);
    bool ok = reply && strncmp(reply, "+OK", 3) == 0;
    json_t *out;
    if (!ok) {
        out = hj_error(HJ_ERR_UNKNOWN, "Recording: %s", reply ? reply : "huddle did not answer");
    } else {
        g_mutex_lock(&hj.lock);
        hj_room *r = hj_room_find_locked(room);
        if (r)
            r->recording = on;
        g_mutex_unlock(&hj.lock);
        out = hj_reply("success");
    }
    g_free(reply);
    return out;
}

json_t *hj_mod_play(json_t *root, bool play)
{
    int code = 0;
    char cause[512];
    json_t *err;
    guint64 room = room_with_secret(root, &err);
    if (err)
        return err;
    char *cmd;
    if (play) {
        HJ_VALIDATE(root, play_parameters);
        const char *file = json_string_value(json_object_get(root, "filename"));
        if (strchr(file, '"'))
            return hj_error(HJ_ERR_INVALID_ELEMENT, "Invalid element (filename)");
        cmd = g_strdup_printf("play %" G_GUINT64_FORMAT " \"%s\"", room, file);
    } else {
        cmd = g_strdup_printf("stop %" G_GUINT64_FORMAT, room);
    }
    char *reply = hj_huddle_api(cmd);
    g_free(cmd);
    json_t *out;
    if (reply && strncmp(reply, "+OK", 3) == 0) {
        out = hj_reply("success");
        json_object_set_new(out, "room", json_integer((json_int_t)room));
        json_t *fid = json_object_get(root, "file_id");
        if (play)
            json_object_set_new(out, "file_id", fid ? json_incref(fid) : json_string("huddle"));
    } else {
        out = hj_error(HJ_ERR_UNKNOWN, "%s", reply ? reply : "huddle did not answer");
    }
    g_free(reply);
    return out;
}

/* {"request":"huddle","command":"list"}: any `conference` API command.
 * A JSON reply (`json ...` commands) comes back as JSON, text as text. */
json_t *hj_mod_huddle(json_t *root)
{
    int code = 0;
    char cause[512];
    HJ_VALIDATE(root, huddle_parameters);
    char *reply = hj_huddle_api(json_string_value(json_object_get(root, "command")));
    if (reply == NULL)
        return hj_error(HJ_ERR_UNKNOWN, "huddle did not answer");
    json_t *out = hj_reply("success");
    json_t *parsed = reply[0] == '{' ? json_loads(reply, 0, NULL) : NULL;
    json_object_set_new(out, "huddle", parsed ? parsed : json_string(reply));
    g_free(reply);
    return out;
}
