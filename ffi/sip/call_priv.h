/*
 * call_priv.h — the call record shared by call.c (SIP dialog) and
 * media.c (SDP offer/answer, RTP). Not for other files.
 */
#ifndef HUDDLE_SIP_CALL_PRIV_H
#define HUDDLE_SIP_CALL_PRIV_H

#define HAVE_INTTYPES_H 1
#define HAVE_STDBOOL_H 1
#define HAVE_INET6 1
#include <re.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "g722.h"
#include "huddle.h"
#include "rtp.h"

typedef enum media_codec { MC_NONE = 0, MC_PCMU, MC_PCMA, MC_G722, MC_OPUS } media_codec;

enum {
    PCM_MAX = 2880,       /* 60 ms at 48 kHz: the largest L16 frame huddle sends */
    RTP_MAX_SAMPLES = 960 /* 120 ms at 8 kHz: the largest G.711/G.722 packet we take */
};

typedef struct call {
    /* --- main thread only --- */
    struct sipsess *sess;
    struct sdp_session *sdp;
    struct sdp_media *sdpm;
    hrtp_dtmf dtmf;   /* RFC 4733: one digit per event */
    struct tmr refuse_tmr;
    struct tmr ring_tmr; /* ring_ms: answers when it fires */
    huddle_member *member;
    bool outbound;
    bool answered;    /* 200 OK sent (inbound) or received (outbound) */
    bool hold;        /* the phone put us on hold (sendonly/inactive) */
    char app_data[256];
    char from[256];
    char to[256];
    char name[128];
    /* Decoded audio not yet framed: a G.722 packet decodes to two
     * samples per octet, on top of less than a frame left over. */
    int16_t pcm[RTP_MAX_SAMPLES * 3];
    g722_decoder g722_rx;
    size_t pcm_len;
    int te_pt;        /* telephone-event payload type, -1 if none */
    /* RFC 4028: the interval, and who refreshes; st_tmr fires our
     * refresh (we_refresh) or the expiry of the caller's. */
    struct tmr st_tmr;
    uint32_t se_s;
    bool we_refresh;
    char st_hdr[96];  /* Session-Expires/Require for our 200 OK */
    uint64_t rx_packets, rx_dropped;

    /* --- shared with huddle's threads, under slot lock (call.c) --- */
    uint32_t slot, gen;
    char channel[32];
    struct rtp_sock *rtp;
    struct mbuf *txmb;
    struct sa peer;
    bool latched;
    bool media_up;    /* send RTP */
    bool send_ok;     /* our direction allows sending */
    media_codec codec;
    int pt;
    hrtp_sender tx;   /* timestamp and marker of what we send */
    bool new_stream;  /* codec or payload type changed: restart tx's clock */
    g722_encoder g722_tx;
    char call_id[128]; /* read by calls_note_event on huddle's event thread */
    char room[160];   /* account/name, from participant-join */
    long member_id;   /* from participant-join, -1 before */
} call;

/* media.c */
int media_open(call *c);                       /* RTP socket + SDP session */
int media_offer_in(call *c, struct mbuf *sdp, const char **why); /* decode offer, choose */
int media_answer_in(call *c, struct mbuf *sdp, const char **why);
int media_encode(call *c, bool offer, struct mbuf **out);
void media_start(call *c);                     /* answered: RTCP and sending on */
void media_close(call *c);
void media_send(call *c, const huddle_frame *frame); /* slot lock held */

/* call.c: lock/unlock the slot a call lives in */
void call_lock(call *c);
void call_unlock(call *c);

#endif /* HUDDLE_SIP_CALL_PRIV_H */
