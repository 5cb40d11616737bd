/* media.c — audio between Janus and huddle: received RTP to huddle frames,
 * huddle's mixed frames to RTP, and the SDP answer that fixes the payload
 * types. Opus goes through untouched: huddle decodes and encodes it. G.711
 * (PCMU/PCMA) is companded here (ffi/common/g711) and meets huddle as
 * 8 kHz L16. */
#include "hj.h"

#include <string.h>

#include "g711.h"

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
    if (s->audio_pt >= 0 && p->payload_type != s->audio_pt)
        return;
    if (p->payload_len == 0)
        return;
    if (s->codec != JANUS_AUDIOCODEC_OPUS) {
        /* 20 ms packets only, as AudioBridge: huddle takes L16 in whole
         * frames of the room's 20 ms. */
        if (p->payload_len != HJ_G711_SAMPLES)
            return;
        int16_t pcm[HJ_G711_SAMPLES];
        if (s->codec == JANUS_AUDIOCODEC_PCMU)
            g711_ulaw_decode(p->payload, HJ_G711_SAMPLES, pcm);
        else
            g711_alaw_decode(p->payload, HJ_G711_SAMPLES, pcm);
        huddle_frame f = {
            .codec = HUDDLE_CODEC_L16,
            .sample_rate = 8000,
            .samples = HJ_G711_SAMPLES,
            .data = (const uint8_t *)pcm,
            .len = sizeof pcm,
            .audio_level = p->audio_level,
            .sequence = p->sequence,
        };
        hj.hi->member_audio(m, &f);
        return;
    }
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

/* A G.711 member's frame as PCMU/PCMA into `out`; returns the samples, or
 * 0 for a frame that is not L16 at a multiple of 8 kHz. huddle sends L16 at
 * the rate the member talks at (8 kHz) once it has heard it; until then (or
 * for a member that never talks) at the room's rate, averaged down here:
 * enough for a listener, and the usual case needs no resampling. */
static size_t g711_payload(janus_audiocodec codec, const huddle_frame *frame, uint8_t *out,
                           size_t cap)
{
    if (frame->codec != HUDDLE_CODEC_L16 || frame->sample_rate == 0 ||
        frame->sample_rate % 8000 != 0 || frame->len != (size_t)frame->samples * 2)
        return 0;
    uint32_t step = frame->sample_rate / 8000;
    size_t n = frame->samples / step;
    if (n == 0 || n > cap)
        return 0;
    int16_t pcm[1500];
    for (size_t i = 0; i < n; i++) {
        int32_t sum = 0;
        for (uint32_t k = 0; k < step; k++) {
            int16_t v;
            memcpy(&v, frame->data + 2 * (i * step + k), 2);
            sum += v;
        }
        pcm[i] = (int16_t)(sum / (int32_t)step);
    }
    if (codec == JANUS_AUDIOCODEC_PCMU)
        g711_ulaw_encode(pcm, n, out);
    else
        g711_alaw_encode(pcm, n, out);
    return n;
}

/* huddle's send_audio: runs on a huddle mixer thread. It takes hj.lock only
 * for the lookup and relays outside it. */
void hj_media_send(void *ctx, const char *channel, const huddle_frame *frame)
{
    (void)ctx;
    if (frame == NULL || frame->sample_rate == 0)
        return;
    hj_session *s = hj_session_by_channel(channel);
    if (s == NULL)
        return;
    if (g_atomic_int_get(&s->destroyed) || g_atomic_pointer_get(&s->member) == NULL) {
        hj_session_unref(s);
        return;
    }
    uint8_t buf[1500];
    uint8_t g711[1400];
    g_mutex_lock(&s->out_lock);
    int pt = s->audio_pt;
    const uint8_t *payload = frame->data;
    size_t payload_len = frame->len;
    uint32_t samples;
    if (s->codec == JANUS_AUDIOCODEC_OPUS) {
        samples = (uint32_t)((uint64_t)frame->samples * 48000u / frame->sample_rate);
        if (frame->codec != HUDDLE_CODEC_OPUS)
            pt = -1;
    } else {
        payload = g711;
        payload_len = g711_payload(s->codec, frame, g711, sizeof g711);
        samples = (uint32_t)payload_len;
        if (payload_len == 0)
            pt = -1;
    }
    size_t len = pt < 0 ? 0
                        : hrtp_sender_write(&s->out, buf, sizeof buf, (uint8_t)pt, samples,
                                            (uint64_t)g_get_monotonic_time(), payload,
                                            payload_len);
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
                                        JANUS_SDP_OA_CODEC, janus_audiocodec_name(s->codec),
                                        JANUS_SDP_OA_AUDIO_DTMF, TRUE,
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
    int audio = janus_sdp_get_codec_pt(answer, -1, janus_audiocodec_name(s->codec));
    int dtmf = janus_sdp_get_codec_pt(answer, -1, "telephone-event");
    g_mutex_lock(&hj.lock);
    if (s->sdp_sessid == 0)
        s->sdp_sessid = answer->o_sessid;
    answer->o_sessid = s->sdp_sessid;
    answer->o_version = ++s->sdp_version;
    s->dtmf_pt = dtmf;
    g_mutex_unlock(&hj.lock);
    g_mutex_lock(&s->out_lock);
    s->audio_pt = audio;
    g_mutex_unlock(&s->out_lock);
    char *text = janus_sdp_write(answer);
    janus_sdp_destroy(offer);
    janus_sdp_destroy(answer);
    if (audio < 0) {
        g_snprintf(error, errlen, "the offer has no %s", janus_audiocodec_name(s->codec));
        g_free(text);
        return NULL;
    }
    return text;
}
