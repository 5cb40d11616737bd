/*
 * mod_huddle.h — what the files of mod_huddle share: the loaded huddle
 * library and module instance, and each file's entry points.
 */
#ifndef MOD_HUDDLE_H
#define MOD_HUDDLE_H

#include <switch.h>

#include "huddle.h"

#define HUDDLE_EVENT_PREFIX "huddle::"

typedef struct huddle_globals {
    void *lib;                    /* dlopen handle of libhuddle.so */
    const huddle_interface *hi;   /* its huddle_module_interface */
    huddle_module *module;        /* the instance serving this FreeSWITCH */
    char library[1024];           /* huddle.conf.xml: library */
    char config[1024];            /* huddle.conf.xml: config (huddle's TOML) */
    char dial_template[512];      /* huddle.conf.xml: dial-template */
} huddle_globals;

extern huddle_globals huddle_g;

/* host.c: the callback table huddle calls (log, audio, hangup, events,
 * originate), and the custom event subclasses it fires. */
void huddle_host_fill(huddle_host *host);
void huddle_events_reserve(void);
void huddle_events_release(void);

/* app.c: the `huddle` dialplan application. */
void huddle_app_run(switch_core_session_t *session, const char *data);

#endif
