/*
 * main.c — huddle-sip: a SIP user-agent server that is a huddle host.
 *
 *   huddle-sip [-c conf/sip.conf]          run
 *   huddle-sip --check-config [-c FILE]    parse this file and huddle's, exit
 *   huddle-sip --cli SOCKET COMMAND...     send one conference API command
 *
 * This file loads libhuddle.so (dlopen + huddle_module_interface, as
 * ffi/refhost does), fills the callback table, starts libre's SIP stack
 * and runs its main loop. Calls are in call.c/media.c, the operator
 * socket in control.c, the config in config.c.
 */
#define _POSIX_C_SOURCE 200809L

#include "sip/call_priv.h" /* libre with the right feature macros */

#include <dlfcn.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sip/call.h"
#include "sip/control.h"
#include "sip/host.h"

sip_host g_host;

static pthread_mutex_t g_log_lock = PTHREAD_MUTEX_INITIALIZER;
static FILE *g_events;

static const char *level_name(huddle_log_level level)
{
    static const char *const names[] = {"?", "ERROR", "WARN", "INFO", "DEBUG", "TRACE"};
    return (unsigned)level < 6 ? names[level] : "?";
}

static void log_line(huddle_log_level level, const char *target, const char *msg)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    pthread_mutex_lock(&g_log_lock);
    fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s: %s\n", tm.tm_year + 1900,
            tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
            level_name(level), target, msg);
    pthread_mutex_unlock(&g_log_lock);
}

void host_log(huddle_log_level level, const char *fmt, ...)
{
    if (level == HUDDLE_LOG_DEBUG && !getenv("HUDDLE_SIP_DEBUG"))
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    /* re_vsnprintf knows libre's %r (struct pl) and %m (errno) */
    re_vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_line(level, "huddle-sip", msg);
}

/* --------------------------------------------------- huddle callbacks */

enum { MSG_HANGUP = 1, MSG_ORIGINATE = 2 };

typedef struct posted {
    uint32_t cause;
    char channel[64];
    char destination[256];
    char room[256];
    char account[256];
} posted;

static void cb_log(void *ctx, huddle_log_level level, const char *target, const char *message)
{
    (void)ctx;
    log_line(level, target ? target : "huddle", message ? message : "");
}

static void cb_send_audio(void *ctx, const char *channel, const huddle_frame *frame)
{
    (void)ctx;
    calls_send_audio(channel, frame);
}

static void post(int id, posted *p)
{
    if (mqueue_push(g_host.mq, id, p) != 0) {
        log_line(HUDDLE_LOG_ERROR, "huddle-sip", "cannot post to the main loop; dropped");
        free(p);
    }
}

static void cb_hangup(void *ctx, const char *channel, uint32_t cause)
{
    (void)ctx;
    posted *p = calloc(1, sizeof *p);
    if (!p)
        return;
    snprintf(p->channel, sizeof p->channel, "%s", channel);
    p->cause = cause;
    post(MSG_HANGUP, p);
}

static int32_t cb_originate(void *ctx, const char *destination, const char *room,
                            const char *account)
{
    (void)ctx;
    /* A SIP URI (a cascade to another node) is dialled as it is. */
    if (!g_host.cfg.originate_uri[0] && strncmp(destination, "sip:", 4) != 0) {
        log_line(HUDDLE_LOG_WARN, "huddle-sip", "originate refused: no originate_uri in [sip]");
        return -1;
    }
    if (strncmp(destination, "sip:", 4) == 0 && calls_is_self(destination)) {
        log_line(HUDDLE_LOG_WARN, "huddle-sip",
                 "originate refused: a cascade of this node's room to itself");
        return -1;
    }
    posted *p = calloc(1, sizeof *p);
    if (!p)
        return -1;
    snprintf(p->destination, sizeof p->destination, "%s", destination);
    snprintf(p->room, sizeof p->room, "%s", room);
    snprintf(p->account, sizeof p->account, "%s", account ? account : "");
    post(MSG_ORIGINATE, p);
    return 0;
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

/* One JSON object per line: {"event":"participant-join","CallSid":...}. */
static void cb_event(void *ctx, const huddle_event *ev)
{
    (void)ctx;
    calls_note_event(ev);
    if (!g_events)
        return;
    pthread_mutex_lock(&g_log_lock);
    fputs("{\"event\":", g_events);
    json_str(g_events, ev->name);
    for (size_t i = 0; i < ev->field_count; i++) {
        fputc(',', g_events);
        json_str(g_events, ev->fields[i].key);
        fputc(':', g_events);
        json_str(g_events, ev->fields[i].value);
    }
    fputs("}\n", g_events);
    fflush(g_events);
    pthread_mutex_unlock(&g_log_lock);
}

static void on_posted(int id, void *data, void *arg)
{
    (void)arg;
    posted *p = data;
    if (id == MSG_HANGUP && !g_host.stopping)
        calls_hangup(p->channel, p->cause);
    else if (id == MSG_ORIGINATE && !g_host.stopping)
        calls_originate(p->destination, p->room, p->account);
    free(p);
}

/* ------------------------------------------------------------- SIP */

/* Out-of-dialog requests other than INVITE: OPTIONS is a keep-alive. */
static bool on_request(const struct sip_msg *msg, void *arg)
{
    (void)arg;
    if (calls_update(msg))
        return true;
    if (!pl_strcmp(&msg->met, "OPTIONS")) {
        sip_treplyf(NULL, NULL, g_host.sip, msg, false, 200, "OK",
                    "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, UPDATE\r\n"
                    "Accept: application/sdp\r\nContent-Length: 0\r\n\r\n");
        return true;
    }
    return false;
}

static void on_sip_exit(void *arg)
{
    (void)arg;
    re_cancel();
}

static void on_deadline(void *arg)
{
    (void)arg;
    re_cancel();
}

static void on_signal(int sig)
{
    (void)sig;
    re_cancel();
}

static int open_module(const char *path)
{
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "huddle-sip: dlopen %s: %s\n", path, dlerror());
        return -1;
    }
    g_host.hi = dlsym(lib, "huddle_module_interface");
    if (!g_host.hi) {
        fprintf(stderr, "huddle-sip: %s has no huddle_module_interface\n", path);
        return -1;
    }
    if (g_host.hi->abi_version != HUDDLE_HOST_ABI_VERSION) {
        fprintf(stderr, "huddle-sip: %s implements ABI %u, huddle-sip was built for ABI %u\n",
                path, g_host.hi->abi_version, HUDDLE_HOST_ABI_VERSION);
        return -1;
    }
    return 0;
}

static int load_module(void)
{
    huddle_host host = {
        .abi_version = HUDDLE_HOST_ABI_VERSION,
        .ctx = &g_host,
        .log = cb_log,
        .send_audio = cb_send_audio,
        .hangup = cb_hangup,
        .event = cb_event,
        .originate = cb_originate,
    };
    huddle_status st = g_host.hi->load(&host, g_host.cfg.huddle_config, &g_host.mod);
    if (st != HUDDLE_STATUS_OK) {
        fprintf(stderr, "huddle-sip: loading %s: %s (the log above says why)\n",
                g_host.cfg.huddle_config, g_host.hi->strerror(st));
        return -1;
    }
    return 0;
}

static int start_sip(void)
{
    struct sa laddr;
    int err = sa_decode(&laddr, g_host.cfg.listen, strlen(g_host.cfg.listen));
    if (err) {
        fprintf(stderr, "huddle-sip: listen '%s': expected address:port\n", g_host.cfg.listen);
        return -1;
    }
    err = sip_alloc(&g_host.sip, NULL, 32, 32, 32, g_host.cfg.user_agent, on_sip_exit, NULL);
    if (!err)
        err = sip_transp_add(g_host.sip, SIP_TRANSP_UDP, &laddr);
    if (!err)
        err = sip_transp_add(g_host.sip, SIP_TRANSP_TCP, &laddr);
    if (!err)
        err = sipsess_listen(&g_host.sess_sock, g_host.sip, 32, calls_incoming, NULL);
    static struct sip_lsnr *lsnr;
    if (!err)
        err = sip_listen(&lsnr, g_host.sip, true, on_request, NULL);
    if (err) {
        re_fprintf(stderr, "huddle-sip: SIP on %s: %m\n", g_host.cfg.listen, err);
        return -1;
    }
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: huddle-sip [-c FILE]            run (default conf/sip.conf)\n"
                    "       huddle-sip --check-config [-c FILE]\n"
                    "       huddle-sip --cli SOCKET COMMAND...\n");
}

int main(int argc, char **argv)
{
    const char *conf = "conf/sip.conf";
    int check = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--cli") == 0) {
            if (argc - i < 3) {
                usage();
                return 2;
            }
            return control_client(argv[i + 1], argc - i - 2, argv + i + 2);
        } else if (strcmp(argv[i], "--check-config") == 0) {
            check = 1;
        } else if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) &&
                   i + 1 < argc) {
            conf = argv[++i];
        } else {
            usage();
            return 2;
        }
    }
    char err[512];
    if (sip_config_load(&g_host.cfg, conf, err, sizeof err) != 0) {
        fprintf(stderr, "huddle-sip: %s\n", err);
        return 1;
    }
    if (open_module(g_host.cfg.library) != 0 || load_module() != 0)
        return 1;
    if (check) {
        g_host.hi->shutdown(g_host.mod);
        printf("huddle-sip: %s and %s are valid (%zu dialplan rule(s))\n", conf,
               g_host.cfg.huddle_config, g_host.cfg.rule_count);
        return 0;
    }
    if (g_host.cfg.event_log[0]) {
        g_events = fopen(g_host.cfg.event_log, "a");
        if (!g_events) {
            fprintf(stderr, "huddle-sip: event_log %s: %s\n", g_host.cfg.event_log,
                    strerror(errno));
            g_host.hi->shutdown(g_host.mod);
            return 1;
        }
    }
    int rc = 1;
    if (libre_init() != 0)
        goto out_module;
    fd_setsize(g_host.cfg.max_calls * 3 + 64);
    if (calls_init() != 0 || mqueue_alloc(&g_host.mq, on_posted, NULL) != 0 || start_sip() != 0)
        goto out_re;
    if (g_host.cfg.control_socket[0] && control_open(g_host.cfg.control_socket) != 0)
        goto out_re;
    host_log(HUDDLE_LOG_INFO, "listening on %s (udp, tcp), rtp %s:%u-%u, %zu dialplan rule(s)",
             g_host.cfg.listen, g_host.cfg.rtp_ip, g_host.cfg.rtp_port_min,
             g_host.cfg.rtp_port_max, g_host.cfg.rule_count);
    re_main(on_signal);
    size_t up = calls_active();
    host_log(HUDDLE_LOG_INFO, "stopping: %zu call(s) up", up);
    rc = 0;
    /* huddle hangs up every leg and releases every handle; then each
     * dialog gets its BYE (normal clearing) and libre flushes them. */
    g_host.stopping = true;
    g_host.hi->shutdown(g_host.mod);
    g_host.mod = NULL;
    calls_end_all(16);
    control_close();
    g_host.sess_sock = mem_deref(g_host.sess_sock);
    sip_close(g_host.sip, false);
    /* Until on_sip_exit (the BYE transactions are done), at most 4 s. */
    if (up) {
        struct tmr deadline;
        tmr_init(&deadline);
        tmr_start(&deadline, 4000, on_deadline, NULL);
        re_main(NULL);
        tmr_cancel(&deadline);
    }
out_re:
    control_close();
    g_host.sess_sock = mem_deref(g_host.sess_sock);
    g_host.sip = mem_deref(g_host.sip);
    g_host.mq = mem_deref(g_host.mq);
    calls_close();
    libre_close();
out_module:
    if (g_host.mod)
        g_host.hi->shutdown(g_host.mod);
    if (g_events)
        fclose(g_events);
    sip_config_free(&g_host.cfg);
    return rc;
}
