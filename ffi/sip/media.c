/*
 * media.c — a call's audio: SDP offer/answer through libre's sdp module;
 * the RTP socket, header encoding and parsing, and RTCP through libre's
 * rtp module. What every huddle host shares comes from ffi/common: the
 * outgoing stream's timestamp and marker (continuity, pauses: rtp.h),
 * RFC 4733 digits (rtp.h), G.711 (g711.h) and G.722 (g722.h) to and from
 * L16. Opus passes through as Opus packets for huddle to decode.
 */
#include "sip/call_priv.h"

#include <string.h>
#include <time.h>

#include "g711.h"
#include "g722.h"
#include "rtp.h"
#include "sip/host.h"

static const struct {
    const char *name;
    const char *pt;
    uint32_t srate;
    uint8_t ch;
    media_codec codec;
} codec_table[] = {
    {"PCMU", "0", 8000, 1, MC_PCMU},
    {"PCMA", "8", 8000, 1, MC_PCMA},
    /* RFC 3551: G.722's RTP clock is 8000 Hz though it samples at 16 kHz. */
    {"G722", "9", 8000, 1, MC_G722},
    {"opus", "111", 48000, 2, MC_OPUS},
};

static void rtp_recv(const struct sa *src, const struct rtp_header *hdr, struct mbuf *mb,
                     void *arg);

int media_open(call *c)
{
    const sip_config *cfg = &g_host.cfg;
    struct sa ip;
    int err = sa_set_str(&ip, cfg->rtp_ip, 0);
    if (err)
        return err;
    err = rtp_listen(&c->rtp, IPPROTO_UDP, &ip, cfg->rtp_port_min, cfg->rtp_port_max, true,
                     rtp_recv, NULL, c);
    if (err)
        return err;
    c->txmb = mbuf_alloc(1600);
    if (!c->txmb)
        return ENOMEM;
    hrtp_sender_init(&c->tx, rtp_sess_ssrc(c->rtp), 0, rand_u32(), 8000);
    err = sdp_session_alloc(&c->sdp, rtp_local(c->rtp));
    if (!err)
        err = sdp_media_add(&c->sdpm, c->sdp, "audio", sa_port(rtp_local(c->rtp)), "RTP/AVP");
    for (size_t i = 0; !err && i < cfg->codec_count; i++) {
        for (size_t k = 0; k < sizeof codec_table / sizeof codec_table[0]; k++) {
            if (strcmp(cfg->codecs[i], codec_table[k].name) != 0)
                continue;
            err = sdp_format_add(NULL, c->sdpm, false, codec_table[k].pt, codec_table[k].name,
                                 codec_table[k].srate, codec_table[k].ch, NULL, NULL, NULL,
                                 false, NULL);
        }
    }
    if (!err)
        err = sdp_format_add(NULL, c->sdpm, false, "101", telev_rtpfmt, TELEV_SRATE, 1, NULL,
                             NULL, NULL, false, "0-15");
    c->te_pt = -1;
    c->send_ok = true;
    return err;
}

/* The first remote format we also have, in the offer's order (libre's
 * answer keeps that order too). */
static int choose(call *c, const char **why)
{
    if (!sdp_media_rport(c->sdpm)) {
        *why = "no audio stream in the SDP";
        return -1;
    }
    media_codec chosen = MC_NONE;
    int pt = -1;
    c->te_pt = -1;
    struct le *le;
    for (le = list_head(sdp_media_format_lst(c->sdpm, false)); le; le = le->next) {
        const struct sdp_format *f = le->data;
        if (!f->sup)
            continue;
        if (strcasecmp(f->name, telev_rtpfmt) == 0) {
            c->te_pt = f->pt;
            continue;
        }
        for (size_t k = 0; chosen == MC_NONE && k < sizeof codec_table / sizeof codec_table[0];
             k++) {
            if (strcasecmp(f->name, codec_table[k].name) == 0) {
                chosen = codec_table[k].codec;
                pt = f->pt;
            }
        }
    }
    if (chosen == MC_NONE) {
        *why = "no codec in common (offer PCMU, PCMA, G722 or opus)";
        return -1;
    }
    /* libre keeps the remote direction from our side (their sendonly is
     * our recvonly) and answers with ldir & rdir, so ldir stays sendrecv.
     * A phone that will not receive (sendonly/inactive) holds the call:
     * we stay silent and huddle puts the member on hold (call.c). */
    enum sdp_dir rdir = sdp_media_rdir(c->sdpm);
    sdp_media_set_ldir(c->sdpm, SDP_SENDRECV);
    c->hold = !(rdir & SDP_SENDONLY);
    call_lock(c);
    if (chosen != c->codec || pt != c->pt) {
        c->new_stream = true;
        c->pcm_len = 0;
        /* G.722's predictors adapt to one stream: a new stream starts
         * from the initial state, as the phone's coder does. */
        g722_encoder_init(&c->g722_tx);
        g722_decoder_init(&c->g722_rx);
    }
    c->codec = chosen;
    c->pt = pt;
    c->send_ok = (rdir & SDP_SENDONLY) != 0;
    if (!c->latched)
        sa_cpy(&c->peer, sdp_media_raddr(c->sdpm));
    call_unlock(c);
    return 0;
}

int media_offer_in(call *c, struct mbuf *sdp, const char **why)
{
    if (sdp_decode(c->sdp, sdp, true)) {
        *why = "malformed SDP";
        return -1;
    }
    return choose(c, why);
}

int media_answer_in(call *c, struct mbuf *sdp, const char **why)
{
    if (sdp_decode(c->sdp, sdp, false)) {
        *why = "malformed SDP answer";
        return -1;
    }
    return choose(c, why);
}

int media_encode(call *c, bool offer, struct mbuf **out)
{
    return sdp_encode(out, c->sdp, offer);
}

void media_start(call *c)
{
    struct sa rtcp;
    sdp_media_raddr_rtcp(c->sdpm, &rtcp);
    uint32_t rate = c->codec == MC_OPUS ? 48000 : 8000;
    rtcp_set_srate(c->rtp, rate, rate);
    rtcp_start(c->rtp, c->channel, &rtcp);
    call_lock(c);
    c->media_up = true;
    call_unlock(c);
}

void media_close(call *c)
{
    c->rtp = mem_deref(c->rtp);
    c->txmb = mem_deref(c->txmb);
    c->sdp = mem_deref(c->sdp);
    c->sdpm = NULL;
}

static void deliver_pcm(call *c, const int16_t *pcm, size_t n, uint32_t rate, int sequence)
{
    huddle_frame f = {
        .codec = HUDDLE_CODEC_L16,
        .sample_rate = rate,
        .samples = (uint32_t)n,
        .data = (const uint8_t *)pcm,
        .len = n * 2,
        .audio_level = -1,
        .sequence = sequence,
    };
    g_host.hi->member_audio(c->member, &f);
}

static void rx_dtmf(call *c, const struct rtp_header *hdr, struct mbuf *mb)
{
    int digit = hrtp_dtmf_feed(&c->dtmf, hdr->ts, mbuf_buf(mb), mbuf_get_left(mb));
    if (digit > 0)
        g_host.hi->member_dtmf(c->member, (char)digit);
}

static void rtp_recv(const struct sa *src, const struct rtp_header *hdr, struct mbuf *mb,
                     void *arg)
{
    call *c = arg;
    c->rx_packets++;
    if (!c->member) {
        c->rx_dropped++;
        return;
    }
    bool audio = hdr->pt == c->pt;
    if (!audio && (int)hdr->pt != c->te_pt) {
        c->rx_dropped++;
        return;
    }
    /* Symmetric RTP: answer to where the phone's media comes from, not to
     * what its SDP says (NAT); the first packet of a negotiated type
     * decides, later ones from elsewhere are dropped. */
    if (!c->latched) {
        call_lock(c);
        sa_cpy(&c->peer, src);
        c->latched = true;
        call_unlock(c);
    } else if (!sa_cmp(src, &c->peer, SA_ALL)) {
        c->rx_dropped++;
        return;
    }
    if (!audio) {
        rx_dtmf(c, hdr, mb);
        return;
    }
    size_t n = mbuf_get_left(mb);
    const uint8_t *p = mbuf_buf(mb);
    if (c->codec == MC_OPUS) {
        huddle_frame f = {.codec = HUDDLE_CODEC_OPUS, .sample_rate = 48000, .samples = 0,
                          .data = p, .len = n, .audio_level = -1, .sequence = hdr->seq};
        g_host.hi->member_audio(c->member, &f);
        return;
    }
    if (n == 0 || n > RTP_MAX_SAMPLES) {
        c->rx_dropped++;
        return;
    }
    uint32_t rate = c->codec == MC_G722 ? 16000 : 8000;
    size_t frame = rate / 1000 * g_host.cfg.frame_ms;
    int16_t *dst = c->pcm + c->pcm_len;
    if (c->codec == MC_PCMU)
        g711_ulaw_decode(p, n, dst);
    else if (c->codec == MC_PCMA)
        g711_alaw_decode(p, n, dst);
    else
        n = g722_decode(&c->g722_rx, p, n, dst);
    /* One packet per frame (the usual case) keeps its RTP sequence for
     * huddle's jitter buffer; other packet times are re-framed. */
    if (c->pcm_len == 0 && n == frame) {
        deliver_pcm(c, dst, n, rate, hdr->seq);
        return;
    }
    c->pcm_len += n;
    size_t off = 0;
    while (c->pcm_len - off >= frame) {
        deliver_pcm(c, c->pcm + off, frame, rate, -1);
        off += frame;
    }
    memmove(c->pcm, c->pcm + off, (c->pcm_len - off) * sizeof c->pcm[0]);
    c->pcm_len -= off;
}

/* `frame`'s L16 at `rate` into `pcm`: a box average for a higher
 * multiple, repeats for half the rate. Before the member's first frame
 * huddle sends at the room rate; this is enough for those few frames.
 * Returns the samples, 0 for a frame we cannot use. */
static size_t l16_at(const huddle_frame *frame, uint32_t rate, int16_t *pcm)
{
    if (frame->codec != HUDDLE_CODEC_L16 || frame->sample_rate == 0 ||
        frame->len != (size_t)frame->samples * 2 || frame->samples > PCM_MAX)
        return 0;
    const uint8_t *d = frame->data;
    if (frame->sample_rate * 2 == rate) {
        if (2 * (size_t)frame->samples > PCM_MAX)
            return 0;
        for (size_t i = 0; i < frame->samples; i++) {
            memcpy(&pcm[2 * i], d + 2 * i, 2);
            pcm[2 * i + 1] = pcm[2 * i];
        }
        return 2 * (size_t)frame->samples;
    }
    if (frame->sample_rate % rate != 0)
        return 0;
    uint32_t step = frame->sample_rate / rate;
    size_t n = frame->samples / step;
    for (size_t i = 0; i < n; i++) {
        int32_t sum = 0;
        for (uint32_t k = 0; k < step; k++) {
            int16_t s;
            memcpy(&s, d + 2 * (i * step + k), 2);
            sum += s;
        }
        pcm[i] = (int16_t)(sum / (int32_t)step);
    }
    return n;
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Called with the slot lock held, from a huddle mixer thread. */
void media_send(call *c, const huddle_frame *frame)
{
    if (!c->media_up || !c->send_ok || !c->rtp || c->codec == MC_NONE)
        return;
    uint8_t enc[PCM_MAX];
    const uint8_t *payload = enc;
    size_t len;
    uint32_t clock = 8000, ticks;
    if (c->codec == MC_OPUS) {
        if (frame->codec != HUDDLE_CODEC_OPUS || frame->sample_rate == 0 || frame->len > 1400)
            return; /* before the first Opus packet huddle may still send L16 */
        payload = frame->data;
        len = frame->len;
        clock = 48000;
        ticks = (uint32_t)((uint64_t)frame->samples * 48000 / frame->sample_rate);
    } else {
        int16_t pcm[PCM_MAX];
        size_t n = l16_at(frame, c->codec == MC_G722 ? 16000 : 8000, pcm);
        if (n == 0)
            return;
        if (c->codec == MC_PCMU)
            g711_ulaw_encode(pcm, n, enc);
        else if (c->codec == MC_PCMA)
            g711_alaw_encode(pcm, n, enc);
        else
            n = g722_encode(&c->g722_tx, pcm, n, enc);
        /* One octet per 8 kHz clock tick for G.711 and G.722 alike. */
        len = n;
        ticks = (uint32_t)n;
    }
    if (c->new_stream) {
        /* The new clock from a fresh timestamp; the first packet carries
         * the marker. */
        hrtp_sender_init(&c->tx, c->tx.ssrc, 0, rand_u32(), clock);
        c->new_stream = false;
    }
    /* libre writes the header with its own sequence (which, like ours,
     * steps by one per packet) and counts the packet for its RTCP sender
     * reports; the timestamp and marker are ffi/common's. */
    hrtp_next next = hrtp_sender_next(&c->tx, ticks, now_us());
    struct mbuf *mb = c->txmb;
    mb->pos = mb->end = RTP_HEADER_SIZE;
    mbuf_write_mem(mb, payload, len);
    mb->pos = RTP_HEADER_SIZE;
    rtp_send(c->rtp, &c->peer, false, next.marker, (uint8_t)c->pt, next.timestamp, mb);
}
