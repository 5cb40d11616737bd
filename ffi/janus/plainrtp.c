/* plainrtp.c — AudioBridge's plain-RTP participants: a UDP socket per
 * participant on the configured local address, a thread that reads it, and
 * sends to the address the join named. */
#include "hj.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

struct hj_plainrtp {
    int fd;
    struct sockaddr_in peer;
    bool has_peer;
    int payload_type;
    int level_id;
    int dtmf_pt;
    uint16_t local_port;
    hj_session *session; /* +1 ref */
    gint stop;
    GThread *thread;
};

static struct janus_json_parameter rtp_parameters[] = {
    {"ip", JSON_STRING, 0},
    {"port", JSON_INTEGER, JANUS_JSON_PARAM_POSITIVE},
    {"payload_type", JSON_INTEGER, JANUS_JSON_PARAM_POSITIVE},
    {"audiolevel_ext", JSON_INTEGER, JANUS_JSON_PARAM_POSITIVE},
    {"dtmf_payload_type", JSON_INTEGER, JANUS_JSON_PARAM_POSITIVE},
    {"fec", JANUS_JSON_BOOL, 0}};

static gpointer reader(gpointer data)
{
    hj_plainrtp *p = data;
    uint8_t buf[1500];
    /* recv waits at most 100 ms (SO_RCVTIMEO), so hj_plainrtp_close is
     * answered within that; one system call per packet, no poll. */
    while (!g_atomic_int_get(&p->stop)) {
        ssize_t n = recv(p->fd, buf, sizeof buf, 0);
        if (n <= 0)
            continue;
        hrtp_packet pkt;
        if (hrtp_parse(buf, (size_t)n, p->level_id, &pkt) == 0)
            hj_media_incoming(p->session, &pkt);
    }
    return NULL;
}

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
    struct timeval wait = {.tv_sec = 0, .tv_usec = 100000};
    setsockopt(p->fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
    janus_refcount_increase(&s->ref);
    p->session = s;
    /* The session's own values until the reader runs. */
    s->dtmf_pt = p->dtmf_pt;
    p->thread = g_thread_new("huddle rtp", reader, p);
    return p;
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
    g_atomic_int_set(&p->stop, 1);
    g_thread_join(p->thread);
    close(p->fd);
    hj_session_unref(p->session);
    g_free(p);
}
