/*
 * host.h — what the parts of huddle-sip share: the loaded module, the
 * config, the SIP stack, and the hand-off from huddle's threads to the
 * libre main thread.
 *
 * Threads: libre runs on one thread (the main loop). huddle calls back
 * from its mixer threads (send_audio) and its event thread (hangup,
 * event, originate). send_audio goes straight to the call's RTP socket
 * under that call's own lock (media.c); hangup and originate are posted
 * to the main loop through a libre mqueue; events are written to the log
 * file from the event thread.
 */
#ifndef HUDDLE_SIP_HOST_H
#define HUDDLE_SIP_HOST_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "huddle.h"
#include "sip/config.h"

struct sip;
struct sipsess_sock;
struct mqueue;

typedef struct sip_host {
    sip_config cfg;
    const huddle_interface *hi;
    huddle_module *mod;
    struct sip *sip;
    struct sipsess_sock *sess_sock;
    struct mqueue *mq;
    bool stopping;
} sip_host;

extern sip_host g_host;

/* Log lines from huddle-sip itself, in the module's log format. The
 * format is libre's (re_vsnprintf: %r prints a struct pl *, %m an errno),
 * so the compiler cannot check it as printf. */
void host_log(huddle_log_level level, const char *fmt, ...);

#endif /* HUDDLE_SIP_HOST_H */
