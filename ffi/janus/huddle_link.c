/* huddle_link.c — loading libhuddle.so and the small calls into it. */
#include "hj.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include <janus/debug.h>

static void on_log(void *ctx, huddle_log_level level, const char *target, const char *message)
{
    (void)ctx;
    int janus_level = level == HUDDLE_LOG_ERROR  ? LOG_ERR
                      : level == HUDDLE_LOG_WARN ? LOG_WARN
                      : level == HUDDLE_LOG_INFO ? LOG_INFO
                                                 : LOG_VERB;
    JANUS_LOG(janus_level, "[huddle] %s: %s\n", target ? target : "", message ? message : "");
}

static int32_t on_originate(void *ctx, const char *destination, const char *room,
                            const char *account)
{
    (void)ctx;
    (void)account;
    /* Janus has no dial plan to call out with: refuse, and say so. */
    JANUS_LOG(LOG_WARN, "[huddle] cannot dial %s into room %s: Janus has no outbound calls\n",
              destination ? destination : "?", room ? room : "?");
    return -1;
}

int hj_huddle_open(const char *library, const char *config)
{
    hj.lib = dlopen(library, RTLD_NOW | RTLD_LOCAL);
    if (hj.lib == NULL) {
        JANUS_LOG(LOG_FATAL, "huddle: cannot load %s: %s\n", library, dlerror());
        return -1;
    }
    hj.hi = dlsym(hj.lib, "huddle_module_interface");
    if (hj.hi == NULL) {
        JANUS_LOG(LOG_FATAL, "huddle: %s has no huddle_module_interface\n", library);
        goto fail;
    }
    if (hj.hi->abi_version != HUDDLE_HOST_ABI_VERSION) {
        JANUS_LOG(LOG_FATAL, "huddle: %s speaks ABI %u, this plugin was built for %u\n", library,
                  hj.hi->abi_version, HUDDLE_HOST_ABI_VERSION);
        goto fail;
    }
    huddle_host host = {
        .abi_version = HUDDLE_HOST_ABI_VERSION,
        .log = on_log,
        .send_audio = hj_media_send,
        .hangup = hj_hangup,
        .event = hj_event,
        .originate = on_originate,
    };
    huddle_status st = hj.hi->load(&host, config, &hj.module);
    if (st != HUDDLE_STATUS_OK) {
        JANUS_LOG(LOG_FATAL, "huddle: loading %s with %s failed: %s\n", library, config,
                  hj.hi->strerror(st));
        goto fail;
    }
    JANUS_LOG(LOG_INFO, "huddle %s loaded from %s, config %s\n", hj.hi->version(), library, config);
    return 0;
fail:
    dlclose(hj.lib);
    hj.lib = NULL;
    hj.hi = NULL;
    return -1;
}

void hj_huddle_close(void)
{
    if (hj.module != NULL)
        hj.hi->shutdown(hj.module);
    hj.module = NULL;
    /* The library stays mapped: huddle's threads are joined, but a late
     * log line from a Janus thread may still reach on_log's caller. */
}

char *hj_huddle_api(const char *command)
{
    char *reply = NULL;
    if (hj.module == NULL || hj.hi->api(hj.module, command, &reply) != HUDDLE_STATUS_OK)
        return NULL;
    char *copy = g_strdup(reply);
    hj.hi->str_free(reply);
    return copy;
}

/* `list <room>` prints one `id;channel;...` line per member. */
uint32_t hj_huddle_member_id(guint64 room, const char *channel, bool *admitted)
{
    *admitted = false;
    char cmd[64];
    g_snprintf(cmd, sizeof cmd, "list %" G_GUINT64_FORMAT, room);
    char *reply = hj_huddle_api(cmd);
    if (reply == NULL)
        return 0;
    uint32_t id = 0;
    char **lines = g_strsplit(reply, "\n", -1);
    for (char **l = lines; *l && id == 0; l++) {
        char **f = g_strsplit(*l, ";", 3);
        if (f[0] && f[1] && strcmp(f[1], channel) == 0) {
            id = (uint32_t)strtoul(f[0], NULL, 10);
            /* The flags say "pin-entry"; a display name can add those
             * letters to the line, never take them away. */
            *admitted = f[2] == NULL || strstr(f[2], "pin-entry") == NULL;
        }
        g_strfreev(f);
    }
    g_strfreev(lines);
    g_free(reply);
    return id;
}

void hj_member_release(hj_session *s)
{
    huddle_member *m = g_atomic_pointer_exchange(&s->member, NULL);
    if (m != NULL && hj.hi != NULL)
        hj.hi->member_hangup(m);
}
