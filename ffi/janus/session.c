/* session.c — one hj_session per Janus handle: the tables, the reference
 * counts that make teardown races safe, and pushing events to handles. */
#include "hj.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <janus/debug.h>

static void session_free(const janus_refcount *ref)
{
    hj_session *s = janus_refcount_containerof(ref, hj_session, ref);
    janus_refcount_decrease(&s->handle->ref);
    g_free(s->display);
    g_mutex_clear(&s->out_lock);
    g_free(s);
}

hj_session *hj_session_new(janus_plugin_session *handle)
{
    hj_session *s = g_malloc0(sizeof *s);
    s->handle = handle;
    s->audio_pt = -1;
    s->dtmf_pt = -1;
    g_mutex_init(&s->out_lock);
    janus_refcount_init(&s->ref, session_free);
    janus_refcount_increase(&handle->ref);
    hrtp_sender_init(&s->out, g_random_int(), (uint16_t)g_random_int(), g_random_int(), 48000);
    g_mutex_lock(&hj.lock);
    s->sid = ++hj.next_sid;
    g_snprintf(s->channel, sizeof s->channel, "janus-%" G_GUINT64_FORMAT ".0", s->sid);
    handle->plugin_handle = s;
    g_hash_table_insert(hj.by_handle, handle, s);
    g_hash_table_insert(hj.by_sid, &s->sid, s);
    g_mutex_unlock(&hj.lock);
    return s;
}

static hj_session *ref_or_null(hj_session *s)
{
    if (s != NULL)
        janus_refcount_increase(&s->ref);
    return s;
}

hj_session *hj_session_get(janus_plugin_session *handle)
{
    g_mutex_lock(&hj.lock);
    hj_session *s = ref_or_null(g_hash_table_lookup(hj.by_handle, handle));
    g_mutex_unlock(&hj.lock);
    return s;
}

hj_session *hj_session_by_sid(guint64 sid)
{
    g_mutex_lock(&hj.lock);
    hj_session *s = ref_or_null(g_hash_table_lookup(hj.by_sid, &sid));
    g_mutex_unlock(&hj.lock);
    return s;
}

hj_session *hj_session_by_channel(const char *channel)
{
    if (channel == NULL || strncmp(channel, "janus-", 6) != 0)
        return NULL;
    char *end = NULL;
    guint64 sid = g_ascii_strtoull(channel + 6, &end, 10);
    if (end == channel + 6 || *end != '.')
        return NULL;
    g_mutex_lock(&hj.lock);
    hj_session *s = g_hash_table_lookup(hj.by_sid, &sid);
    /* An earlier membership's channel names nobody now. */
    s = s && strcmp(s->channel, channel) == 0 ? ref_or_null(s) : NULL;
    g_mutex_unlock(&hj.lock);
    return s;
}

void hj_session_unref(hj_session *s)
{
    if (s != NULL)
        janus_refcount_decrease(&s->ref);
}

void hj_session_remove(janus_plugin_session *handle)
{
    g_mutex_lock(&hj.lock);
    hj_session *s = g_hash_table_lookup(hj.by_handle, handle);
    if (s != NULL) {
        g_hash_table_remove(hj.by_handle, handle);
        g_hash_table_remove(hj.by_sid, &s->sid);
        handle->plugin_handle = NULL;
    }
    g_mutex_unlock(&hj.lock);
    if (s != NULL)
        hj_session_unref(s); /* the tables' reference */
}

GPtrArray *hj_sessions_in_room_locked(guint64 room)
{
    GPtrArray *a = g_ptr_array_new();
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, hj.by_handle);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        hj_session *s = value;
        if (s->joined && s->room == room)
            g_ptr_array_add(a, ref_or_null(s));
    }
    return a;
}

void hj_sessions_free(GPtrArray *a)
{
    for (guint i = 0; i < a->len; i++)
        hj_session_unref(g_ptr_array_index(a, i));
    g_ptr_array_free(a, TRUE);
}

json_t *hj_participant_json_locked(const hj_session *s)
{
    json_t *p = json_object();
    json_object_set_new(p, "id", json_integer((json_int_t)s->id));
    if (s->display)
        json_object_set_new(p, "display", json_string(s->display));
    json_object_set_new(p, "setup", json_boolean(s->rtp != NULL || g_atomic_int_get(&s->media_ready)));
    json_object_set_new(p, "muted", json_boolean(s->muted));
    json_object_set_new(p, "suspended", json_false());
    json_object_set_new(p, "talking", json_boolean(s->talking));
    return p;
}

void hj_push(hj_session *s, json_t *event, json_t *jsep)
{
    /* Plain-RTP participants get events too: their application is on the
     * other end of the same Janus handle. */
    if (!g_atomic_int_get(&s->destroyed))
        hj.gateway->push_event(s->handle, hj.plugin, NULL, event, jsep);
    json_decref(event);
    if (jsep)
        json_decref(jsep);
}

void hj_push_room(guint64 room, json_t *event, guint64 except_id)
{
    g_mutex_lock(&hj.lock);
    GPtrArray *a = hj_sessions_in_room_locked(room);
    for (guint i = 0; i < a->len;) {
        hj_session *s = g_ptr_array_index(a, i);
        if (s->id == except_id) {
            hj_session_unref(s);
            g_ptr_array_remove_index_fast(a, i);
        } else {
            i++;
        }
    }
    g_mutex_unlock(&hj.lock);
    for (guint i = 0; i < a->len; i++) {
        hj_session *s = g_ptr_array_index(a, i);
        if (!g_atomic_int_get(&s->destroyed))
            hj.gateway->push_event(s->handle, hj.plugin, NULL, event, NULL);
    }
    hj_sessions_free(a);
    json_decref(event);
}
