/*
 * hj.h — what the files of janus.plugin.huddle share.
 *
 * The plugin is glue between two callback tables: Janus's (janus_callbacks,
 * janus_plugin) and huddle's (huddle_interface, huddle_host). Each Janus
 * handle is one session; a session in a room is one huddle member.
 *
 * Locking, the one rule that keeps the two worlds from deadlocking: `hj.lock`
 * guards the session and room tables and every participant field below. It
 * is held only for table work, never while calling into huddle (whose mixer
 * threads call `send_audio`, which takes `hj.lock` for a lookup) and never
 * while calling Janus's push_event/relay_rtp/close_pc.
 */
#ifndef HJ_H
#define HJ_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>
#include <jansson.h>

#include <janus/config.h>
#include <janus/debug.h>
#include <janus/plugins/plugin.h>
#include <janus/rtp.h>
#include <janus/utils.h>

#include "huddle.h"
#include "rtp.h"

#define HJ_PACKAGE "janus.plugin.huddle"
#define HJ_NAME "JANUS huddle plugin"
#define HJ_VERSION 1
#define HJ_VERSION_STRING "0.1.0"

/* AudioBridge's error codes: applications switch on them. */
enum {
    HJ_ERR_NO_MESSAGE = 480,
    HJ_ERR_INVALID_JSON = 481,
    HJ_ERR_INVALID_REQUEST = 482,
    HJ_ERR_MISSING_ELEMENT = 483,
    HJ_ERR_INVALID_ELEMENT = 484,
    HJ_ERR_NO_SUCH_ROOM = 485,
    HJ_ERR_ROOM_EXISTS = 486,
    HJ_ERR_NOT_JOINED = 487,
    HJ_ERR_UNAUTHORIZED = 489,
    HJ_ERR_ID_EXISTS = 490,
    HJ_ERR_ALREADY_JOINED = 491,
    HJ_ERR_NO_SUCH_USER = 492,
    HJ_ERR_INVALID_SDP = 493,
    HJ_ERR_UNKNOWN = 499,
};

/* An AudioBridge room as the API describes it. huddle runs the audio of a
 * room named by the decimal id; this is what AudioBridge's API says about
 * the room besides (description, secret, pin, ...). */
typedef struct hj_room {
    guint64 id;
    char *description;
    char *secret; /* NULL: none */
    char *pin;    /* NULL: none */
    bool is_private;
    bool allow_rtp;
    bool audiolevel_event;
    bool muted; /* mute_room: non-admins join muted */
    bool recording;
    uint32_t sampling_rate;
    /* The room is in huddle's own config: huddle checks the join's PIN
     * (and its host PIN makes a moderator), `pin` above is the plugin's. */
    bool huddle_config;
    bool huddle_pin; /* huddle's config gives it a PIN */
} hj_room;

typedef struct hj_plainrtp hj_plainrtp;

/* G.711 samples in one packet: AudioBridge takes 20 ms packets only. */
#define HJ_G711_SAMPLES 160

/* One Janus handle. Freed when its last reference goes. */
typedef struct hj_session {
    janus_plugin_session *handle;
    guint64 sid;       /* the first number in `channel`; never reused */
    /* "janus-<sid>.<join>": huddle's channel and CallSid, new for every join
     * so that a late hangup or event about an earlier membership (a refused
     * join, the room before a changeroom) is told apart. Written by the
     * worker thread under hj.lock. */
    char channel[48];
    guint32 joins;
    gint destroyed;    /* atomic: Janus destroyed the handle */
    gint media_ready;  /* atomic: WebRTC PeerConnection up */
    janus_refcount ref;

    /* Under hj.lock. */
    bool joined;
    guint64 room;
    guint64 id;
    char *display;
    bool muted;
    bool talking;
    bool admin;
    uint32_t member_id; /* huddle's id in the room, for API commands */
    /* Opus, PCMU or PCMA (AudioBridge's `codec`), fixed by join before the
     * member is published; audio_pt is its payload type. */
    janus_audiocodec codec;
    int audio_pt;
    int dtmf_pt;
    int audio_level_id;
    bool sdp_done;
    guint64 sdp_sessid, sdp_version;

    /* The huddle member; taken with g_atomic_pointer_exchange by whoever
     * releases it, so huddle_member_hangup runs exactly once. */
    huddle_member *member;

    /* Outgoing stream: only the mixer thread that sends to this member
     * touches it; the mutex covers a member moved between rooms. */
    GMutex out_lock;
    hrtp_sender out;
    hrtp_dtmf dtmf_in;

    hj_plainrtp *rtp; /* plain-RTP participant, or NULL (WebRTC) */
} hj_session;

struct hj_globals {
    janus_callbacks *gateway;
    janus_plugin *plugin;
    const huddle_interface *hi;
    huddle_module *module;
    void *lib;
    GMutex lock;
    GHashTable *by_handle; /* janus_plugin_session* -> hj_session* */
    GHashTable *by_sid;    /* guint64* -> hj_session* */
    GHashTable *rooms;     /* guint64* -> hj_room* */
    guint64 next_sid;
    char *local_ip; /* where plain-RTP participants send to */
    gint stopping;
    bool events; /* huddle events to Janus's event handlers */
};
extern struct hj_globals hj;

/* Validates `obj` against a janus_json_parameter array with Janus's own
 * macro, so missing/invalid elements get AudioBridge's codes and texts;
 * returns the error reply from the calling function. Needs `int code` and
 * `char cause[512]` in scope. */
#define HJ_VALIDATE(obj, params)                                                           \
    do {                                                                                   \
        JANUS_VALIDATE_JSON_OBJECT(obj, params, code, cause, TRUE, HJ_ERR_MISSING_ELEMENT, \
                                   HJ_ERR_INVALID_ELEMENT);                                \
        if (code != 0)                                                                     \
            return hj_error(code, "%s", cause);                                           \
    } while (0)

/* The same for a room's secret or PIN (no check when `secret` is NULL). */
#define HJ_CHECK_SECRET(secret, obj, member)                                                 \
    do {                                                                                     \
        JANUS_CHECK_SECRET(secret, obj, member, code, cause, HJ_ERR_MISSING_ELEMENT,         \
                           HJ_ERR_INVALID_ELEMENT, HJ_ERR_UNAUTHORIZED);                     \
        if (code != 0)                                                                       \
            return hj_error(code, "%s", cause);                                             \
    } while (0)

/* reply.c — AudioBridge's reply shapes. */
json_t *hj_error(int code, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
json_t *hj_reply(const char *kind); /* {"audiobridge": kind} */

/* huddle_link.c */
int hj_huddle_open(const char *library, const char *config);
void hj_huddle_close(void);
char *hj_huddle_api(const char *command); /* g_free the reply; NULL on failure */
/* huddle's id of the member on `channel`, 0 when not found; *admitted is
 * false while huddle waits for its PIN. */
uint32_t hj_huddle_member_id(guint64 room, const char *channel, bool *admitted);
void hj_member_release(hj_session *s);

/* session.c */
hj_session *hj_session_new(janus_plugin_session *handle);
hj_session *hj_session_get(janus_plugin_session *handle); /* +1 ref, or NULL */
hj_session *hj_session_by_sid(guint64 sid);                /* +1 ref, or NULL */
/* The session whose current membership `channel` names (+1 ref), or NULL. */
hj_session *hj_session_by_channel(const char *channel);
void hj_session_unref(hj_session *s);
void hj_session_remove(janus_plugin_session *handle);
/* Sessions in `room` (joined), each with +1 ref; free with hj_sessions_free.
 * Call with hj.lock held. */
GPtrArray *hj_sessions_in_room_locked(guint64 room);
void hj_sessions_free(GPtrArray *a);
json_t *hj_participant_json_locked(const hj_session *s);
void hj_push(hj_session *s, json_t *event, json_t *jsep); /* steals event */
void hj_push_room(guint64 room, json_t *event, guint64 except_id); /* steals event */

/* rooms.c — the room table and create/edit/destroy/exists/list. */
hj_room *hj_room_find_locked(guint64 id);
/* The room a request names, its secret checked, returned with hj.lock held;
 * or NULL (lock not held) and AudioBridge's error reply in *err. */
hj_room *hj_room_lock_checked(json_t *root, json_t **err);
void hj_room_free(gpointer room);
void hj_rooms_load(janus_config *config);
/* Adds the rooms of huddle's own config whose names are room ids. */
void hj_rooms_from_huddle(void);
json_t *hj_rooms_create(json_t *root);
json_t *hj_rooms_edit(json_t *root);
json_t *hj_rooms_destroy(json_t *root);
json_t *hj_rooms_exists(json_t *root);
json_t *hj_rooms_list(json_t *root);

/* moderation.c — requests about the people in a room. */
json_t *hj_mod_listparticipants(json_t *root);
json_t *hj_mod_kick(json_t *root);
json_t *hj_mod_mute(json_t *root, bool mute);
json_t *hj_mod_mute_room(json_t *root, bool mute);
json_t *hj_mod_recording(json_t *root);
json_t *hj_mod_play(json_t *root, bool play);
json_t *hj_mod_huddle(json_t *root);

/* requests.c — the synchronous request dispatcher (also for the Admin API):
 * the reply, or NULL when `request` is not a synchronous one. */
json_t *hj_sync_request(const char *request, json_t *root);

/* participant.c — join, configure, changeroom, leave, hangup. */
void hj_participant_start(void);
void hj_participant_stop(void);
void hj_participant_queue(janus_plugin_session *handle, char *transaction, json_t *message,
                          json_t *jsep);
/* Takes `s` out of its room, on the worker thread (never blocks the
 * caller): for Janus's hangup_media/destroy_session and huddle's hangup. */
void hj_participant_queue_gone(hj_session *s, bool close_pc);
/* Takes `s` out of its room now: the others get "leaving", `s` itself
 * "left" when notify_self. Idempotent. */
void hj_participant_gone(hj_session *s, bool notify_self, const char *why);

/* media.c */
void hj_media_incoming(hj_session *s, const hrtp_packet *p);
void hj_media_send(void *ctx, const char *channel, const huddle_frame *frame);
char *hj_media_answer(hj_session *s, const char *offer, char *error, size_t errlen);

/* plainrtp.c — plain-RTP participants; start/stop run the receiving thread. */
int hj_plainrtp_start(void);
void hj_plainrtp_stop(void);
hj_plainrtp *hj_plainrtp_open(hj_session *s, json_t *rtp, janus_audiocodec codec, int *error,
                              char *cause, size_t len);
json_t *hj_plainrtp_local(const hj_plainrtp *p);
int hj_plainrtp_payload_type(const hj_plainrtp *p);
bool hj_plainrtp_fec(const hj_plainrtp *p); /* AudioBridge's rtp.fec */
void hj_plainrtp_send(hj_plainrtp *p, const uint8_t *packet, size_t len);
void hj_plainrtp_close(hj_plainrtp *p);

/* events.c — huddle events to handles (AudioBridge's shapes) and to
 * Janus's event handlers; huddle's hangups. */
void hj_notify(hj_session *s, json_t *info); /* steals info */
void hj_event(void *ctx, const huddle_event *event);
void hj_hangup(void *ctx, const char *channel, uint32_t cause);

#endif /* HJ_H */
