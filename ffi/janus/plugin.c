/* plugin.c — the janus_plugin table: lifecycle, handles and requests.
 * Everything else is in the files named by hj.h. */
#include "hj.h"

#include <string.h>

struct hj_globals hj;

static janus_plugin huddle_plugin;

static int plugin_init(janus_callbacks *callback, const char *config_path)
{
    if (callback == NULL || config_path == NULL)
        return -1;
    g_mutex_init(&hj.lock);
    hj.gateway = callback;
    hj.plugin = &huddle_plugin;
    hj.by_handle = g_hash_table_new(NULL, NULL);
    hj.by_sid = g_hash_table_new(g_int64_hash, g_int64_equal);
    hj.rooms = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, hj_room_free);

    char *file = g_strdup_printf("%s/%s.jcfg", config_path, HJ_PACKAGE);
    janus_config *config = janus_config_parse(file);
    if (config == NULL) {
        JANUS_LOG(LOG_FATAL, "huddle: cannot read %s\n", file);
        g_free(file);
        return -1;
    }
    g_free(file);
    janus_config_category *general =
        janus_config_get_create(config, NULL, janus_config_type_category, "general");
#define GENERAL(k) janus_config_get(config, general, janus_config_type_item, k)
    janus_config_item *library = GENERAL("library"), *huddle_conf = GENERAL("config"),
                      *local_ip = GENERAL("local_ip"), *events = GENERAL("events");
#undef GENERAL
    hj.local_ip = g_strdup(local_ip && local_ip->value ? local_ip->value : "127.0.0.1");
    hj.events = events == NULL || events->value == NULL || janus_is_true(events->value);
    char *conf_path = huddle_conf && huddle_conf->value
                          ? g_strdup(huddle_conf->value)
                          : g_strdup_printf("%s/huddle.conf", config_path);
    int rc = hj_huddle_open(library && library->value ? library->value : "libhuddle.so",
                            conf_path);
    g_free(conf_path);
    if (rc == 0) {
        hj_rooms_load(config);
        hj_rooms_from_huddle();
    }
    janus_config_destroy(config);
    if (rc != 0 || hj_plainrtp_start() != 0) {
        hj_huddle_close();
        return -1;
    }
    hj_participant_start();
    JANUS_LOG(LOG_INFO, "%s initialized\n", HJ_NAME);
    return 0;
}

static void plugin_destroy(void)
{
    g_atomic_int_set(&hj.stopping, 1);
    /* huddle ends every room and hangs up every leg; the worker then takes
     * each session out of its room and stops. */
    hj_huddle_close();
    hj_participant_stop();
    g_mutex_lock(&hj.lock);
    GList *left = g_hash_table_get_values(hj.by_handle);
    for (GList *l = left; l; l = l->next)
        janus_refcount_increase(&((hj_session *)l->data)->ref);
    g_mutex_unlock(&hj.lock);
    for (GList *l = left; l; l = l->next) {
        hj_session *s = l->data;
        hj_participant_gone(s, false, "shutdown");
        hj_session_remove(s->handle);
        hj_session_unref(s);
    }
    g_list_free(left);
    hj_plainrtp_stop();
    g_hash_table_destroy(hj.by_handle);
    g_hash_table_destroy(hj.by_sid);
    g_hash_table_destroy(hj.rooms);
    g_free(hj.local_ip);
    JANUS_LOG(LOG_INFO, "%s destroyed\n", HJ_NAME);
}

static int api_compatibility(void) { return JANUS_PLUGIN_API_VERSION; }
static int version(void) { return HJ_VERSION; }
static const char *version_string(void) { return HJ_VERSION_STRING; }
static const char *description(void)
{
    return "huddle conference rooms behind AudioBridge's API";
}
static const char *name(void) { return HJ_NAME; }
static const char *author(void) { return "huddle"; }
static const char *package(void) { return HJ_PACKAGE; }

static void create_session(janus_plugin_session *handle, int *error)
{
    if (g_atomic_int_get(&hj.stopping)) {
        *error = -1;
        return;
    }
    hj_session_new(handle);
    *error = 0;
}

static void destroy_session(janus_plugin_session *handle, int *error)
{
    hj_session *s = hj_session_get(handle);
    if (s == NULL) {
        *error = -2;
        return;
    }
    g_atomic_int_set(&s->destroyed, 1);
    hj_participant_queue_gone(s, false);
    hj_session_remove(handle);
    hj_session_unref(s);
    *error = 0;
}

static json_t *query_session(janus_plugin_session *handle)
{
    hj_session *s = hj_session_get(handle);
    if (s == NULL)
        return NULL;
    json_t *info = json_object();
    g_mutex_lock(&hj.lock);
    if (s->joined) {
        json_object_set_new(info, "room", json_integer((json_int_t)s->room));
        json_object_set_new(info, "participant", hj_participant_json_locked(s));
        json_object_set_new(info, "huddle_member", json_integer(s->member_id));
    }
    json_object_set_new(info, "channel", json_string(s->channel));
    g_mutex_unlock(&hj.lock);
    json_object_set_new(info, "plain_rtp", json_boolean(s->rtp != NULL));
    hj_session_unref(s);
    return info;
}

static struct janus_json_parameter request_parameters[] = {
    {"request", JSON_STRING, JANUS_JSON_PARAM_REQUIRED}};

static struct janus_plugin_result *handle_message(janus_plugin_session *handle, char *transaction,
                                                  json_t *message, json_t *jsep)
{
    if (g_atomic_int_get(&hj.stopping))
        return janus_plugin_result_new(JANUS_PLUGIN_ERROR, "Shutting down", NULL);
    int code = 0;
    char cause[512];
    json_t *response = NULL;
    hj_session *s = hj_session_get(handle);
    if (s == NULL) {
        response = hj_error(HJ_ERR_UNKNOWN, "No session associated with this handle...");
    } else if (message == NULL) {
        response = hj_error(HJ_ERR_NO_MESSAGE, "No message??");
    } else if (!json_is_object(message)) {
        response = hj_error(HJ_ERR_INVALID_JSON, "JSON error: not an object");
    } else {
        JANUS_VALIDATE_JSON_OBJECT(message, request_parameters, code, cause, TRUE,
                                   HJ_ERR_MISSING_ELEMENT, HJ_ERR_INVALID_ELEMENT);
        if (code != 0)
            response = hj_error(code, "%s", cause);
    }
    if (response == NULL) {
        const char *request = json_string_value(json_object_get(message, "request"));
        response = hj_sync_request(request, message);
        if (response == NULL) {
            static const char *async[] = {"join",  "configure", "changeroom",
                                          "leave", "hangup",    "dtmf"};
            for (size_t i = 0; i < G_N_ELEMENTS(async); i++) {
                if (g_ascii_strcasecmp(request, async[i]) == 0) {
                    hj_session_unref(s);
                    hj_participant_queue(handle, transaction, message, jsep);
                    return janus_plugin_result_new(JANUS_PLUGIN_OK_WAIT, NULL, NULL);
                }
            }
            response = hj_error(HJ_ERR_INVALID_REQUEST, "Unknown request '%s'", request);
        }
    }
    hj_session_unref(s);
    if (message)
        json_decref(message);
    if (jsep)
        json_decref(jsep);
    g_free(transaction);
    return janus_plugin_result_new(JANUS_PLUGIN_OK, NULL, response);
}

static json_t *handle_admin_message(json_t *message)
{
    int code = 0;
    char cause[512];
    JANUS_VALIDATE_JSON_OBJECT(message, request_parameters, code, cause, TRUE,
                               HJ_ERR_MISSING_ELEMENT, HJ_ERR_INVALID_ELEMENT);
    if (code != 0)
        return hj_error(code, "%s", cause);
    const char *request = json_string_value(json_object_get(message, "request"));
    json_t *response = hj_sync_request(request, message);
    return response ? response : hj_error(HJ_ERR_INVALID_REQUEST, "Unknown request '%s'", request);
}

static void setup_media(janus_plugin_session *handle)
{
    hj_session *s = hj_session_get(handle);
    if (s != NULL)
        g_atomic_int_set(&s->media_ready, 1);
    hj_session_unref(s);
}

static void incoming_rtp(janus_plugin_session *handle, janus_plugin_rtp *packet)
{
    if (packet->video || g_atomic_int_get(&hj.stopping))
        return;
    hj_session *s = handle->plugin_handle;
    if (s == NULL || g_atomic_int_get(&s->destroyed))
        return;
    hrtp_packet p;
    if (hrtp_parse((const uint8_t *)packet->buffer, packet->length, 0, &p) != 0)
        return;
    /* Janus has already read the RFC 6464 extension it negotiated. */
    p.audio_level = packet->extensions.audio_level;
    hj_media_incoming(s, &p);
}

static void incoming_rtcp(janus_plugin_session *handle, janus_plugin_rtcp *packet)
{
    (void)handle;
    (void)packet;
}

static void hangup_media(janus_plugin_session *handle)
{
    hj_session *s = hj_session_get(handle);
    if (s == NULL)
        return;
    g_atomic_int_set(&s->media_ready, 0);
    if (s->rtp == NULL)
        hj_participant_queue_gone(s, false);
    hj_session_unref(s);
}

static janus_plugin huddle_plugin = {
        .init = plugin_init, .destroy = plugin_destroy,
        .get_api_compatibility = api_compatibility, .get_version = version,
        .get_version_string = version_string, .get_description = description,
        .get_name = name, .get_author = author, .get_package = package,
        .create_session = create_session, .handle_message = handle_message,
        .handle_admin_message = handle_admin_message, .setup_media = setup_media,
        .incoming_rtp = incoming_rtp, .incoming_rtcp = incoming_rtcp,
        .hangup_media = hangup_media, .destroy_session = destroy_session,
        .query_session = query_session,
};

/* The one symbol Janus looks up. */
__attribute__((visibility("default"))) janus_plugin *create(void);
janus_plugin *create(void)
{
    return &huddle_plugin;
}
