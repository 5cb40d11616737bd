/* rooms.c — AudioBridge's room table: what the API says about a room
 * (description, secret, PIN, privacy). huddle runs each room's audio under
 * the room's decimal id, creating it when the first participant joins. */
#include "hj.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static struct janus_json_parameter room_parameters[] = {
    {"room", JSON_INTEGER, JANUS_JSON_PARAM_REQUIRED | JANUS_JSON_PARAM_POSITIVE}};
static struct janus_json_parameter roomopt_parameters[] = {
    {"room", JSON_INTEGER, JANUS_JSON_PARAM_POSITIVE}};
static struct janus_json_parameter create_parameters[] = {
    {"description", JSON_STRING, 0},
    {"secret", JSON_STRING, 0},
    {"pin", JSON_STRING, 0},
    {"is_private", JANUS_JSON_BOOL, 0},
    {"sampling_rate", JSON_INTEGER, JANUS_JSON_PARAM_POSITIVE},
    {"record", JANUS_JSON_BOOL, 0},
    {"allow_rtp_participants", JANUS_JSON_BOOL, 0},
    {"permanent", JANUS_JSON_BOOL, 0},
    {"audiolevel_event", JANUS_JSON_BOOL, 0}};
static struct janus_json_parameter edit_parameters[] = {
    {"secret", JSON_STRING, 0},          {"new_description", JSON_STRING, 0},
    {"new_secret", JSON_STRING, 0},      {"new_pin", JSON_STRING, 0},
    {"new_is_private", JANUS_JSON_BOOL, 0}, {"permanent", JANUS_JSON_BOOL, 0}};

void hj_room_free(gpointer p)
{
    hj_room *r = p;
    g_free(r->description);
    g_free(r->secret);
    g_free(r->pin);
    g_free(r);
}

hj_room *hj_room_find_locked(guint64 id)
{
    return g_hash_table_lookup(hj.rooms, &id);
}

static bool rate_ok(json_int_t r)
{
    return r == 8000 || r == 16000 || r == 24000 || r == 48000;
}

static char *nonempty(const char *s)
{
    return s && *s ? g_strdup(s) : NULL;
}

static const char *item(janus_config *config, janus_config_category *c, const char *key)
{
    janus_config_item *i = janus_config_get(config, c, janus_config_type_item, key);
    return i ? i->value : NULL;
}

static bool item_true(janus_config *config, janus_config_category *c, const char *key)
{
    const char *v = item(config, c, key);
    return v != NULL && janus_is_true(v);
}

/* Rooms listed in janus.plugin.huddle.jcfg as `room-<id>: { ... }`, with
 * AudioBridge's keys. */
void hj_rooms_load(janus_config *config)
{
    GList *cats = janus_config_get_categories(config, NULL);
    for (GList *l = cats; l; l = l->next) {
        janus_config_category *c = l->data;
        if (c->name == NULL || strncmp(c->name, "room-", 5) != 0)
            continue;
        char *end = NULL;
        guint64 id = g_ascii_strtoull(c->name + 5, &end, 10);
        if (id == 0 || *end != '\0') {
            JANUS_LOG(LOG_ERR, "huddle: ignoring '%s': room ids are positive integers\n", c->name);
            continue;
        }
        hj_room *r = g_malloc0(sizeof *r);
        r->id = id;
        const char *desc = item(config, c, "description"), *rate = item(config, c, "sampling_rate");
        r->description = g_strdup(desc ? desc : c->name);
        r->secret = nonempty(item(config, c, "secret"));
        r->pin = nonempty(item(config, c, "pin"));
        r->is_private = item_true(config, c, "is_private");
        r->allow_rtp = item_true(config, c, "allow_rtp_participants");
        r->audiolevel_event = item_true(config, c, "audiolevel_event");
        r->sampling_rate = rate ? (uint32_t)atoi(rate) : 16000;
        if (!rate_ok(r->sampling_rate)) {
            JANUS_LOG(LOG_ERR, "huddle: room %" G_GUINT64_FORMAT ": unsupported sampling rate %u\n",
                      id, r->sampling_rate);
            hj_room_free(r);
            continue;
        }
        g_mutex_lock(&hj.lock);
        g_hash_table_insert(hj.rooms, &r->id, r);
        g_mutex_unlock(&hj.lock);
        JANUS_LOG(LOG_INFO, "huddle: room %" G_GUINT64_FORMAT " (%s)\n", id, r->description);
    }
    g_list_free(cats);
}

/* huddle's `json list` names every room of its config, idle or not. A
 * global one whose name is a room id is joinable through AudioBridge's API
 * (and its PIN, which `get <room> pin` tells, required);
 * one also in janus.plugin.huddle.jcfg keeps what that file says and gets
 * huddle's PIN check besides. Plain RTP is allowed: who gets in is up to
 * huddle's config. */
void hj_rooms_from_huddle(void)
{
    char *text = hj_huddle_api("json list");
    json_t *root = text ? json_loads(text, 0, NULL) : NULL;
    g_free(text);
    json_t *rooms = json_object_get(root, "result");
    if (!json_is_true(json_object_get(root, "ok")) || !json_is_array(rooms)) {
        JANUS_LOG(LOG_WARN, "huddle: could not list huddle's configured rooms\n");
        json_decref(root);
        return;
    }
    size_t i;
    json_t *room;
    json_array_foreach(rooms, i, room)
    {
        const char *name = json_string_value(json_object_get(room, "name"));
        const char *account = json_string_value(json_object_get(room, "account"));
        char *end = NULL;
        guint64 id = name && g_ascii_isdigit(*name) ? g_ascii_strtoull(name, &end, 10) : 0;
        if (id == 0 || *end != '\0' || (account && *account))
            continue;
        g_mutex_lock(&hj.lock);
        hj_room *r = hj_room_find_locked(id);
        if (r == NULL) {
            r = g_malloc0(sizeof *r);
            r->id = id;
            r->description = g_strdup_printf("huddle room %s", name);
            r->allow_rtp = true;
            r->sampling_rate = (uint32_t)json_integer_value(json_object_get(room, "rate"));
            g_hash_table_insert(hj.rooms, &r->id, r);
        }
        r->huddle_config = true;
        g_mutex_unlock(&hj.lock);
        char cmd[48];
        g_snprintf(cmd, sizeof cmd, "get %" G_GUINT64_FORMAT " pin", id);
        char *pin = hj_huddle_api(cmd);
        g_mutex_lock(&hj.lock);
        r->huddle_pin = pin && strstr(pin, "set") && !strstr(pin, "none");
        g_mutex_unlock(&hj.lock);
        g_free(pin);
        JANUS_LOG(LOG_INFO, "huddle: room %" G_GUINT64_FORMAT " from huddle's config\n", id);
    }
    json_decref(root);
}

/* {"audiobridge": kind, "room": id, "permanent": false}: rooms here live
 * as long as Janus runs. */
static json_t *room_reply(const char *kind, guint64 id)
{
    json_t *reply = hj_reply(kind);
    json_object_set_new(reply, "room", json_integer((json_int_t)id));
    json_object_set_new(reply, "permanent", json_false());
    return reply;
}

hj_room *hj_room_lock_checked(json_t *root, json_t **err)
{
    int code = 0;
    char cause[512];
    *err = NULL;
    JANUS_VALIDATE_JSON_OBJECT(root, room_parameters, code, cause, TRUE, HJ_ERR_MISSING_ELEMENT,
                               HJ_ERR_INVALID_ELEMENT);
    if (code != 0) {
        *err = hj_error(code, "%s", cause);
        return NULL;
    }
    guint64 id = (guint64)json_integer_value(json_object_get(root, "room"));
    g_mutex_lock(&hj.lock);
    hj_room *r = hj_room_find_locked(id);
    if (r == NULL) {
        g_mutex_unlock(&hj.lock);
        *err = hj_error(HJ_ERR_NO_SUCH_ROOM, "No such room (%" G_GUINT64_FORMAT ")", id);
        return NULL;
    }
    JANUS_CHECK_SECRET(r->secret, root, "secret", code, cause, HJ_ERR_MISSING_ELEMENT,
                       HJ_ERR_INVALID_ELEMENT, HJ_ERR_UNAUTHORIZED);
    if (code != 0) {
        g_mutex_unlock(&hj.lock);
        *err = hj_error(code, "%s", cause);
        return NULL;
    }
    return r;
}

json_t *hj_rooms_create(json_t *root)
{
    int code = 0;
    char cause[512];
    HJ_VALIDATE(root, create_parameters);
    HJ_VALIDATE(root, roomopt_parameters);
    if (json_is_true(json_object_get(root, "permanent")))
        return hj_error(HJ_ERR_UNKNOWN, "No configuration file, can't create permanent room");
    json_int_t rate = json_integer_value(json_object_get(root, "sampling_rate"));
    if (rate == 0)
        rate = 16000;
    if (!rate_ok(rate))
        return hj_error(HJ_ERR_UNKNOWN, "Unsupported sampling rate %" JSON_INTEGER_FORMAT, rate);
    hj_room *r = g_malloc0(sizeof *r);
    r->id = (guint64)json_integer_value(json_object_get(root, "room"));
    const char *desc = json_string_value(json_object_get(root, "description"));
    r->secret = nonempty(json_string_value(json_object_get(root, "secret")));
    r->pin = nonempty(json_string_value(json_object_get(root, "pin")));
    r->is_private = json_is_true(json_object_get(root, "is_private"));
    r->allow_rtp = json_is_true(json_object_get(root, "allow_rtp_participants"));
    r->audiolevel_event = json_is_true(json_object_get(root, "audiolevel_event"));
    r->sampling_rate = (uint32_t)rate;
    g_mutex_lock(&hj.lock);
    if (r->id == 0) {
        do
            r->id = g_random_int_range(1, G_MAXINT32);
        while (hj_room_find_locked(r->id));
    } else if (hj_room_find_locked(r->id)) {
        g_mutex_unlock(&hj.lock);
        guint64 id = r->id;
        hj_room_free(r);
        return hj_error(HJ_ERR_ROOM_EXISTS, "Room %" G_GUINT64_FORMAT " already exists", id);
    }
    r->description = desc ? g_strdup(desc) : g_strdup_printf("Room %" G_GUINT64_FORMAT, r->id);
    g_hash_table_insert(hj.rooms, &r->id, r);
    guint64 id = r->id;
    g_mutex_unlock(&hj.lock);
    return room_reply("created", id);
}

json_t *hj_rooms_edit(json_t *root)
{
    int code = 0;
    char cause[512];
    HJ_VALIDATE(root, edit_parameters);
    json_t *err;
    hj_room *r = hj_room_lock_checked(root, &err);
    if (r == NULL)
        return err;
    guint64 id = r->id;
    const char *v;
    if ((v = json_string_value(json_object_get(root, "new_description"))) && *v) {
        g_free(r->description);
        r->description = g_strdup(v);
    }
    if ((v = json_string_value(json_object_get(root, "new_secret")))) {
        g_free(r->secret);
        r->secret = nonempty(v);
    }
    if ((v = json_string_value(json_object_get(root, "new_pin")))) {
        g_free(r->pin);
        r->pin = nonempty(v);
    }
    json_t *priv = json_object_get(root, "new_is_private");
    if (priv)
        r->is_private = json_is_true(priv);
    g_mutex_unlock(&hj.lock);
    json_t *reply = hj_reply("edited");
    json_object_set_new(reply, "room", json_integer((json_int_t)id));
    return reply;
}

json_t *hj_rooms_destroy(json_t *root)
{
    json_t *err;
    hj_room *r = hj_room_lock_checked(root, &err);
    if (r == NULL)
        return err;
    guint64 id = r->id;
    g_hash_table_remove(hj.rooms, &id);
    GPtrArray *members = hj_sessions_in_room_locked(id);
    g_mutex_unlock(&hj.lock);
    json_t *ev = hj_reply("destroyed");
    json_object_set_new(ev, "room", json_integer((json_int_t)id));
    for (guint i = 0; i < members->len; i++) {
        hj_session *s = g_ptr_array_index(members, i);
        hj_push(s, json_incref(ev), NULL);
        hj_participant_gone(s, false, "destroyed");
    }
    hj_sessions_free(members);
    json_decref(ev);
    return room_reply("destroyed", id);
}

json_t *hj_rooms_exists(json_t *root)
{
    int code = 0;
    char cause[512];
    HJ_VALIDATE(root, room_parameters);
    guint64 id = (guint64)json_integer_value(json_object_get(root, "room"));
    g_mutex_lock(&hj.lock);
    bool exists = hj_room_find_locked(id) != NULL;
    g_mutex_unlock(&hj.lock);
    json_t *reply = hj_reply("success");
    json_object_set_new(reply, "room", json_integer((json_int_t)id));
    json_object_set_new(reply, "exists", json_boolean(exists));
    return reply;
}

json_t *hj_rooms_list(json_t *root)
{
    (void)root;
    json_t *list = json_array();
    g_mutex_lock(&hj.lock);
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, hj.rooms);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        hj_room *r = value;
        if (r->is_private)
            continue;
        GPtrArray *members = hj_sessions_in_room_locked(r->id);
        json_t *o = json_object();
        json_object_set_new(o, "room", json_integer((json_int_t)r->id));
        json_object_set_new(o, "description", json_string(r->description));
        json_object_set_new(o, "pin_required", json_boolean(r->pin || r->huddle_pin));
        json_object_set_new(o, "sampling_rate", json_integer(r->sampling_rate));
        json_object_set_new(o, "spatial_audio", json_false());
        json_object_set_new(o, "record", json_boolean(r->recording));
        json_object_set_new(o, "muted", json_boolean(r->muted));
        json_object_set_new(o, "num_participants", json_integer(members->len));
        json_array_append_new(list, o);
        hj_sessions_free(members);
    }
    g_mutex_unlock(&hj.lock);
    json_t *reply = hj_reply("success");
    json_object_set_new(reply, "list", list);
    return reply;
}
