/* media.c — audio between Janus and huddle: received RTP to huddle frames,
 * huddle's mixed frames to RTP, and the SDP answer that fixes the payload
 * types. Opus goes through untouched: huddle decodes and encodes it. */
#include "hj.h"

#include <string.h>

#include <janus/rtp.h>
#include <janus/sdp-utils.h>

void hj_media_incoming(hj_session *s, const hrtp_packet *p)
{
    huddle_member *m = g_atomic_pointer_get(&s->member);
    if (m == NULL)
        return;
    /* A member released meanwhile is a stale handle to huddle: refused
     * with a status, never a crash. */
    if (s->dtmf_pt >= 0 && p->payload_type == s->dtmf_pt) {
        int digit = hrtp_dtmf_feed(&s->dtmf_in, p->timestamp, p->payload, p->payload_len);
        if (digit > 0)
            hj.hi->member_dtmf(m, (char)digit);
        return;
    }
    if (s->opus_pt >= 0 && p->payload_type != s->opus_pt)
        return;
    if (p->payload_len == 0)
        return;
    huddle_frame f = {
        .codec = HUDDLE_CODEC_OPUS,
        .sample_rate = 48000,
        .samples = 960,
        .data = p->payload,
        .len = p->payload_len,
        .audio_level = p->audio_level,
        .sequence = p->sequence,
    };
    hj.hi->member_audio(m, &f);
}

/* huddle's send_audio: runs on a huddle mixer thread. It takes hj.lock only
 * for the lookup and relays outside it. */
void hj_media_send(void *ctx, const char *channel, const huddle_frame *frame)
{
    (void)ctx;
    if (frame == NULL || frame->codec != HUDDLE_CODEC_OPUS || frame->sample_rate == 0)
        return;
    hj_session *s = hj_session_by_channel(channel);
    if (s == NULL)
        return;
    if (g_atomic_int_get(&s->destroyed) || g_atomic_pointer_get(&s->member) == NULL) {
        hj_session_unref(s);
        return;
    }
    uint8_t buf[1500];
    uint32_t samples = (uint32_t)((uint64_t)frame->samples * 48000u / frame->sample_rate);
    g_mutex_lock(&s->out_lock);
    int pt = s->opus_pt;
    size_t len = pt < 0 ? 0
                        : hrtp_sender_write(&s->out, buf, sizeof buf, (uint8_t)pt, samples,
                                            (uint64_t)g_get_monotonic_time(), frame->data,
                                            frame->len);
    hj_plainrtp *rtp = s->rtp;
    if (len > 0 && rtp != NULL)
        hj_plainrtp_send(rtp, buf, len);
    g_mutex_unlock(&s->out_lock);
    if (len > 0 && rtp == NULL && g_atomic_int_get(&s->media_ready)) {
        janus_plugin_rtp pkt = {.mindex = -1, .video = FALSE, .buffer = (char *)buf,
                                .length = (uint16_t)len};
        janus_plugin_rtp_extensions_reset(&pkt.extensions);
        hj.gateway->relay_rtp(s->handle, &pkt);
    }
    hj_session_unref(s);
}

char *hj_media_answer(hj_session *s, const char *offer_text, char *error, size_t errlen)
{
    janus_sdp *offer = janus_sdp_parse(offer_text, error, errlen);
    if (offer == NULL)
        return NULL;
    janus_sdp *answer = janus_sdp_generate_answer(offer);
    bool accepted = false;
    for (GList *l = offer->m_lines; l; l = l->next) {
        janus_sdp_mline *m = l->data;
        if (m->type != JANUS_SDP_AUDIO || accepted)
            continue;
        accepted = true;
        janus_sdp_generate_answer_mline(offer, answer, m, JANUS_SDP_OA_MLINE, JANUS_SDP_AUDIO,
                                        JANUS_SDP_OA_CODEC, "opus", JANUS_SDP_OA_AUDIO_DTMF, TRUE,
                                        JANUS_SDP_OA_ACCEPT_EXTMAP, JANUS_RTP_EXTMAP_MID,
                                        JANUS_SDP_OA_ACCEPT_EXTMAP, JANUS_RTP_EXTMAP_AUDIO_LEVEL,
                                        JANUS_SDP_OA_DONE);
    }
    if (!accepted) {
        g_snprintf(error, errlen, "no audio m-line in the offer");
        janus_sdp_destroy(offer);
        janus_sdp_destroy(answer);
        return NULL;
    }
    g_free(answer->s_name);
    answer->s_name = g_strdup("huddle");
    int opus = janus_sdp_get_codec_pt(answer, -1, "opus");
    int dtmf = janus_sdp_get_codec_pt(answer, -1, "telephone-event");
    g_mutex_lock(&hj.lock);
    if (s->sdp_sessid == 0)
        s->sdp_sessid = answer->o_sessid;
    answer->o_sessid = s->sdp_sessid;
    answer->o_version = ++s->sdp_version;
    s->dtmf_pt = dtmf;
    g_mutex_unlock(&hj.lock);
    g_mutex_lock(&s->out_lock);
    s->opus_pt = opus;
    g_mutex_unlock(&s->out_lock);
    char *text = janus_sdp_write(answer);
    janus_sdp_destroy(offer);
    janus_sdp_destroy(answer);
    if (opus < 0) {
        g_snprintf(error, errlen, "the offer has no Opus");
        g_free(text);
        return NULL;
    }
    return text;
}
