/* plainrtp.c — AudioBridge's plain-RTP participants: a UDP socket per
 * participant on the configured local address (its port is what the join
 * reports, and what the participant's packets go out from, as AudioBridge
 * does), sending to the address the join named.
 *
 * One thread receives for all of them: epoll over the sockets and
 * recvmmsg on each ready one. A thread per participant (the first design)
 * cost a wake-up and a context switch per packet; with one thread the
 * packets that arrive together are read in one wake-up. Packets from
 * independent senders do not arrive together, so after each pass the
 * thread pauses RX_COALESCE_US before looking again (interrupt coalescing,
 * as network cards do): one wake-up per pause for however many
 * participants, for at most that much added delay, which the jitter buffer
 * absorbs. */
#define _GNU_SOURCE /* recvmmsg */
#include "hj.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

struct hj_plainrtp {
    int fd;
    struct sockaddr_in peer;
    bool has_peer;
    int payload_type;
    int level_id;
    int dtmf_pt;
    uint16_t local_port;
    bool fec;
    hj_session *session; /* +1 ref */
};

/* The receiving thread. `round` counts its passes: a socket taken out of
 * the epoll set at round r can be freed once the round is past r, since
 * any event for it came from an epoll_wait of round r or earlier and
 * every such batch is done by then. */
static struct {
    int epfd;
    int wake; /* eventfd: stop, or a close waiting for the next round */
    GThread *thread;
    gint stop;
    gint round;
    GMutex lock;
    GCond next_round;
} rx = {.epfd = -1, .wake = -1};

enum { RX_EVENTS = 128, RX_BATCH = 16, RX_MTU = 1500, RX_COALESCE_US = 4000 };

static void read_socket(hj_plainrtp *p, struct mmsghdr *msgs, struct iovec *iov,
                        uint8_t (*bufs)[RX_MTU])
{
    for (;;) {
        for (int i = 0; i < RX_BATCH; i++) {
            iov[i] = (struct iovec){.iov_base = bufs[i], .iov_len = RX_MTU};
            msgs[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iov[i], .msg_iovlen = 1}};
        }
        int n = recvmmsg(p->fd, msgs, RX_BATCH, MSG_DONTWAIT, NULL);
        for (int i = 0; i < n; i++) {
            hrtp_packet pkt;
            if (hrtp_parse(bufs[i], msgs[i].msg_len, p->level_id, &pkt) == 0)
                hj_media_incoming(p->session, &pkt);
        }
        if (n < RX_BATCH)
            return;
    }
}

static gpointer receiver(gpointer unused)
{
    (void)unused;
    struct epoll_event events[RX_EVENTS];
    struct mmsghdr msgs[RX_BATCH];
    struct iovec iov[RX_BATCH];
    static uint8_t bufs[RX_BATCH][RX_MTU]; /* this thread's alone */
    while (!g_atomic_int_get(&rx.stop)) {
        g_mutex_lock(&rx.lock);
        g_atomic_int_inc(&rx.round);
        g_cond_broadcast(&rx.next_round);
        g_mutex_unlock(&rx.lock);
        int n = epoll_wait(rx.epfd, events, RX_EVENTS, 1000);
        for (int i = 0; i < n; i++) {
            if (events[i].data.ptr == NULL) {
                uint64_t v;
                (void)!read(rx.wake, &v, sizeof v);
                continue;
            }
            read_socket(events[i].data.ptr, msgs, iov, bufs);
        }
        if (n > 0)
            g_usleep(RX_COALESCE_US);
    }
    return NULL;
}

int hj_plainrtp_start(void)
{
    g_mutex_init(&rx.lock);
    g_cond_init(&rx.next_round);
    rx.epfd = epoll_create1(EPOLL_CLOEXEC);
    rx.wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (rx.epfd < 0 || rx.wake < 0 || epoll_ctl(rx.epfd, EPOLL_CTL_ADD, rx.wake, &ev) != 0) {
        JANUS_LOG(LOG_FATAL, "huddle: cannot set up the RTP receiver: %s\n", g_strerror(errno));
        hj_plainrtp_stop();
        return -1;
    }
    rx.thread = g_thread_new("huddle rtp", receiver, NULL);
    return 0;
}

static void wake_receiver(void)
{
    uint64_t one = 1;
    (void)!write(rx.wake, &one, sizeof one);
}

void hj_plainrtp_stop(void)
{
    if (rx.thread) {
        g_atomic_int_set(&rx.stop, 1);
        wake_receiver();
        g_thread_join(rx.thread);
        rx.thread = NULL;
    }
    if (rx.epfd >= 0)
        close(rx.epfd);
    if (rx.wake >= 0)
        close(rx.wake);
    rx.epfd = rx.wake = -1;
    g_cond_clear(&rx.next_round);
    g_mutex_clear(&rx.lock);
}

static struct janus_json_parameter rtp_parameters[] = {
    {"ip", JSON_STRING, 0},
    {"port", JSON_INTEGER, JANUS_JSON_PARAM_POSITIVE},
    {"payload_type", JSON_INTEGER, JANUS_JSON_PARAM_POSITIVE},
    {"audiolevel_ext", JSON_INTEGER, JANUS_JSON_PARAM_POSITIVE},
    {"dtmf_payload_type", JSON_INTEGER, JANUS_JSON_PARAM_POSITIVE},
    {"fec", JANUS_JSON_BOOL, 0}};

hj_plainrtp *hj_plainrtp_open(hj_session *s, json_t *rtp, janus_audiocodec codec, int *error,
                              char *cause, size_t len)
{
    int code = 0;
    char why[512];
    JANUS_VALIDATE_JSON_OBJECT(rtp, rtp_parameters, code, why, TRUE, HJ_ERR_MISSING_ELEMENT,
                               HJ_ERR_INVALID_ELEMENT);
    if (code != 0) {
        *error = code;
        g_snprintf(cause, len, "%s", why);
        return NULL;
    }
    hj_plainrtp *p = g_malloc0(sizeof *p);
    p->fd = -1;
    p->payload_type = (int)json_integer_value(json_object_get(rtp, "payload_type"));
    /* As AudioBridge: G.711 uses its static type, whatever the join says. */
    if (codec != JANUS_AUDIOCODEC_OPUS)
        p->payload_type = janus_audiocodec_pt(codec);
    else if (p->payload_type == 0)
        p->payload_type = 100; /* AudioBridge's default for Opus */
    p->level_id = (int)json_integer_value(json_object_get(rtp, "audiolevel_ext"));
    p->fec = json_is_true(json_object_get(rtp, "fec"));
    p->dtmf_pt = (int)json_integer_value(json_object_get(rtp, "dtmf_payload_type"));
    if (p->dtmf_pt == 0)
        p->dtmf_pt = 101;
    const char *ip = json_string_value(json_object_get(rtp, "ip"));
    json_int_t port = json_integer_value(json_object_get(rtp, "port"));
    if (ip && port) {
        p->peer.sin_family = AF_INET;
        p->peer.sin_port = htons((uint16_t)port);
        if (port > 65535 || inet_pton(AF_INET, ip, &p->peer.sin_addr) != 1) {
            *error = HJ_ERR_INVALID_ELEMENT;
            g_snprintf(cause, len, "Invalid element (rtp.ip/rtp.port: %s:%" JSON_INTEGER_FORMAT ")",
                       ip, port);
            g_free(p);
            return NULL;
        }
        p->has_peer = true;
    }
    struct sockaddr_in local = {.sin_family = AF_INET};
    inet_pton(AF_INET, hj.local_ip, &local.sin_addr);
    socklen_t alen = sizeof local;
    p->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (p->fd < 0 || bind(p->fd, (struct sockaddr *)&local, sizeof local) != 0 ||
        getsockname(p->fd, (struct sockaddr *)&local, &alen) != 0) {
        *error = HJ_ERR_UNKNOWN;
        g_snprintf(cause, len, "Could not open UDP socket for RTP on %s: %s", hj.local_ip,
                   g_strerror(errno));
        if (p->fd >= 0)
            close(p->fd);
        g_free(p);
        return NULL;
    }
    p->local_port = ntohs(local.sin_port);
    janus_refcount_increase(&s->ref);
    p->session = s;
    s->dtmf_pt = p->dtmf_pt;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = p};
    if (epoll_ctl(rx.epfd, EPOLL_CTL_ADD, p->fd, &ev) != 0) {
        *error = HJ_ERR_UNKNOWN;
        g_snprintf(cause, len, "Could not receive RTP on %s:%u: %s", hj.local_ip,
                   p->local_port, g_strerror(errno));
        close(p->fd);
        hj_session_unref(s);
        g_free(p);
        return NULL;
    }
    return p;
}

bool hj_plainrtp_fec(const hj_plainrtp *p)
{
    return p->fec;
}

int hj_plainrtp_payload_type(const hj_plainrtp *p)
{
    return p->payload_type;
}

json_t *hj_plainrtp_local(const hj_plainrtp *p)
{
    json_t *o = json_object();
    json_object_set_new(o, "ip", json_string(hj.local_ip));
    json_object_set_new(o, "port", json_integer(p->local_port));
    json_object_set_new(o, "payload_type", json_integer(p->payload_type));
    return o;
}

void hj_plainrtp_send(hj_plainrtp *p, const uint8_t *packet, size_t len)
{
    if (p->has_peer)
        (void)sendto(p->fd, packet, len, MSG_DONTWAIT, (struct sockaddr *)&p->peer,
                     sizeof p->peer);
}

void hj_plainrtp_close(hj_plainrtp *p)
{
    epoll_ctl(rx.epfd, EPOLL_CTL_DEL, p->fd, NULL);
    if (rx.thread) {
        /* Wait for the receiver's next round (it is woken for it): no batch
         * it still works on can hold `p` after that. */
        g_mutex_lock(&rx.lock);
        gint round = g_atomic_int_get(&rx.round);
        wake_receiver();
        gint64 until = g_get_monotonic_time() + 5 * G_TIME_SPAN_SECOND;
        bool passed = true;
        while (passed && g_atomic_int_get(&rx.round) == round)
            passed = g_cond_wait_until(&rx.next_round, &rx.lock, until);
        passed = g_atomic_int_get(&rx.round) != round;
        g_mutex_unlock(&rx.lock);
        if (!passed) {
            /* The receiver may still hold `p` (a machine stalled for
             * seconds): keep it and its descriptor rather than free them
             * under it or let the number be reused. */
            JANUS_LOG(LOG_WARN, "huddle: RTP receiver busy for 5 s; socket %d kept open\n", p->fd);
            return;
        }
    }
    close(p->fd);
    hj_session_unref(p->session);
    g_free(p);
}
