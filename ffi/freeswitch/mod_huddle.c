/*
 * mod_huddle.c — a FreeSWITCH module that is a huddle host.
 *
 * FreeSWITCH loads this module; this module dlopens libhuddle.so (the
 * library named in huddle.conf.xml) and loads one huddle instance with
 * huddle's own TOML config. It registers:
 *   - the dialplan application `huddle` (app.c), taking huddle's
 *     conference-app arguments: <action application="huddle" data="3000@default+1234"/>
 *   - the API command `huddle` (here), huddle's conference API:
 *     `huddle list`, `huddle 3000 kick last`, `huddle json list 3000`
 *   - huddle's events as CUSTOM huddle::<event> (host.c)
 * `reload mod_huddle` re-reads huddle.conf.xml and the TOML; `huddle reload`
 * re-reads only the TOML, keeping live rooms.
 */
#include <dlfcn.h>

#include "mod_huddle.h"
#include "legs.h"

SWITCH_MODULE_LOAD_FUNCTION(mod_huddle_load);
SWITCH_MODULE_SHUTDOWN_FUNCTION(mod_huddle_shutdown);
SWITCH_MODULE_DEFINITION(mod_huddle, mod_huddle_load, mod_huddle_shutdown, NULL);

huddle_globals huddle_g;

#define APP_SYNTAX "<room>[@profile][+pin][+flags{moderator|mute|...}] | {key=value,...}<room>"
#define API_SYNTAX "list [room] | <room> list | kick <room> <id|all|last> | json <command> | help"
/* How long unload waits for channel threads still inside the app. */
#define UNLOAD_WAIT_MS 10000

/* A relative path in huddle.conf.xml is relative to FreeSWITCH's conf dir,
 * as FreeSWITCH's other modules read theirs. */
static void set_path(char *dst, size_t size, const char *value)
{
    if (value[0] == '/') {
        snprintf(dst, size, "%s", value);
    } else {
        snprintf(dst, size, "%s%s%s", SWITCH_GLOBAL_dirs.conf_dir, SWITCH_PATH_SEPARATOR, value);
    }
}

static switch_status_t read_settings(void)
{
    switch_xml_t cfg, xml, settings, param;
    snprintf(huddle_g.library, sizeof huddle_g.library, "libhuddle.so");
    snprintf(huddle_g.dial_template, sizeof huddle_g.dial_template, "loopback/${destination}/default");
    huddle_g.config[0] = '\0';
    if (!(xml = switch_xml_open_cfg("huddle.conf", &cfg, NULL))) {
        switch_log_printf(SWITCH_CHANNEL_LOG, SWITCH_LOG_ERROR,
                          "huddle: cannot open huddle.conf (autoload_configs/huddle.conf.xml)\n");
        return SWITCH_STATUS_TERM;
    }
    if ((settings = switch_xml_child(cfg, "settings"))) {
        for (param = switch_xml_child(settings, "param"); param; param = param->next) {
            const char *name = switch_xml_attr_soft(param, "name");
            const char *value = switch_xml_attr_soft(param, "value");
            if (!strcasecmp(name, "library")) {
                /* A bare file name goes to the dynamic loader's search. */
                if (strchr(value, '/')) {
                    set_path(huddle_g.library, sizeof huddle_g.library, value);
                } else {
                    snprintf(huddle_g.library, sizeof huddle_g.library, "%s", value);
                }
            } else if (!strcasecmp(name, "config")) {
                set_path(huddle_g.config, sizeof huddle_g.config, value);
            } else if (!strcasecmp(name, "dial-template")) {
                snprintf(huddle_g.dial_template, sizeof huddle_g.dial_template, "%s", value);
            } else {
                switch_log_printf(SWITCH_CHANNEL_LOG, SWITCH_LOG_ERROR,
                                  "huddle: huddle.conf.xml: unknown param '%s' (known: library, config, dial-template)\n",
                                  name);
                switch_xml_free(xml);
                return SWITCH_STATUS_TERM;
            }
        }
    }
    switch_xml_free(xml);
    if (!huddle_g.config[0]) {
        switch_log_printf(SWITCH_CHANNEL_LOG, SWITCH_LOG_ERROR,
                          "huddle: huddle.conf.xml names no config: add <param name=\"config\" value=\"huddle.conf\"/>\n");
        return SWITCH_STATUS_TERM;
    }
    return SWITCH_STATUS_SUCCESS;
}

static switch_status_t open_library(void)
{
    huddle_g.lib = dlopen(huddle_g.library, RTLD_NOW | RTLD_LOCAL);
    if (!huddle_g.lib) {
        switch_log_printf(SWITCH_CHANNEL_LOG, SWITCH_LOG_ERROR, "huddle: dlopen %s: %s\n", huddle_g.library, dlerror());
        return SWITCH_STATUS_TERM;
    }
    huddle_g.hi = dlsym(huddle_g.lib, "huddle_module_interface");
    /* The ABI version first: another version may lay the table out otherwise. */
    if (!huddle_g.hi || huddle_g.hi->abi_version != HUDDLE_HOST_ABI_VERSION) {
        switch_log_printf(SWITCH_CHANNEL_LOG, SWITCH_LOG_ERROR,
                          "huddle: %s: %s (mod_huddle was built for huddle ABI %u)\n", huddle_g.library,
                          huddle_g.hi ? "another huddle ABI version" : "no huddle_module_interface",
                          HUDDLE_HOST_ABI_VERSION);
        dlclose(huddle_g.lib);
        huddle_g.lib = NULL;
        huddle_g.hi = NULL;
        return SWITCH_STATUS_TERM;
    }
    return SWITCH_STATUS_SUCCESS;
}

SWITCH_STANDARD_APP(huddle_app)
{
    huddle_app_run(session, data);
}

/* The API runs on whichever thread fs_cli's or ESL's request arrived on;
 * huddle's reply (text or JSON) is written out as it is. */
SWITCH_STANDARD_API(huddle_api)
{
    (void)session;
    char *reply = NULL;
    const char *command = zstr(cmd) ? "help" : cmd;
    huddle_status st = huddle_g.hi->api(huddle_g.module, command, &reply);
    if (st != HUDDLE_STATUS_OK) {
        stream->write_function(stream, "-ERR %s\n", huddle_g.hi->strerror(st));
        return SWITCH_STATUS_SUCCESS;
    }
    size_t n = strlen(reply);
    stream->write_function(stream, "%s%s", reply, n && reply[n - 1] == '\n' ? "" : "\n");
    huddle_g.hi->str_free(reply);
    return SWITCH_STATUS_SUCCESS;
}

SWITCH_MODULE_LOAD_FUNCTION(mod_huddle_load)
{
    switch_application_interface_t *app_interface;
    switch_api_interface_t *api_interface;
    (void)pool;
    memset(&huddle_g, 0, sizeof huddle_g);
    if (read_settings() != SWITCH_STATUS_SUCCESS || open_library() != SWITCH_STATUS_SUCCESS) {
        return SWITCH_STATUS_TERM;
    }
    huddle_host host;
    huddle_host_fill(&host);
    huddle_events_reserve();
    huddle_status st = huddle_g.hi->load(&host, huddle_g.config, &huddle_g.module);
    if (st != HUDDLE_STATUS_OK) {
        switch_log_printf(SWITCH_CHANNEL_LOG, SWITCH_LOG_ERROR, "huddle: loading %s: %s (the lines above say why)\n",
                          huddle_g.config, huddle_g.hi->strerror(st));
        huddle_events_release();
        dlclose(huddle_g.lib);
        memset(&huddle_g, 0, sizeof huddle_g);
        return SWITCH_STATUS_TERM;
    }
    *module_interface = switch_loadable_module_create_module_interface(pool, modname);
    SWITCH_ADD_APP(app_interface, "huddle", "huddle conference room", "Puts the call in a huddle room.", huddle_app,
                   APP_SYNTAX, SAF_NONE);
    SWITCH_ADD_API(api_interface, "huddle", "huddle conference API", huddle_api, API_SYNTAX);
    switch_console_set_complete("add huddle list");
    switch_console_set_complete("add huddle json list");
    switch_console_set_complete("add huddle help");
    switch_log_printf(SWITCH_CHANNEL_LOG, SWITCH_LOG_INFO, "huddle %s loaded from %s with %s\n", huddle_g.hi->version(),
                      huddle_g.library, huddle_g.config);
    return SWITCH_STATUS_SUCCESS;
}

/* FreeSWITCH has already hung up every channel in the app and waited for
 * them to leave it (unload -f with live calls). huddle then ends its rooms
 * and joins its threads; libhuddle.so is closed only once no channel
 * thread can be inside it, otherwise the module refuses to be unmapped. */
SWITCH_MODULE_SHUTDOWN_FUNCTION(mod_huddle_shutdown)
{
    switch_console_set_complete("del huddle");
    if (huddle_g.module) {
        huddle_g.hi->shutdown(huddle_g.module);
    }
    for (int waited = 0; legs_count() > 0 && waited < UNLOAD_WAIT_MS; waited += 10) {
        switch_yield(10000);
    }
    huddle_events_release();
    if (legs_count() > 0) {
        switch_log_printf(SWITCH_CHANNEL_LOG, SWITCH_LOG_CRIT,
                          "huddle: %zu channels still in the app after %d ms; keeping the code mapped\n", legs_count(),
                          UNLOAD_WAIT_MS);
        return SWITCH_STATUS_NOUNLOAD;
    }
    if (huddle_g.lib) {
        dlclose(huddle_g.lib);
    }
    memset(&huddle_g, 0, sizeof huddle_g);
    return SWITCH_STATUS_SUCCESS;
}
