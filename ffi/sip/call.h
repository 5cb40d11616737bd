/*
 * call.h — one SIP dialog as one huddle member.
 *
 * A call owns its libre session, its SDP state and its RTP socket, and
 * maps them onto a member handle: INVITE -> conference app, RTP and DTMF
 * -> member_audio/member_dtmf, BYE/CANCEL -> member_hangup, huddle's
 * hangup -> BYE (or a final error response) with a Q.850 Reason.
 * Everything here runs on the libre main thread except calls_send_audio
 * and calls_note_event, which huddle calls from its own threads.
 */
#ifndef HUDDLE_SIP_CALL_H
#define HUDDLE_SIP_CALL_H

#include <stdbool.h>
#include <stdint.h>

#include "huddle.h"

struct sip_msg;

int calls_init(void);
void calls_close(void);
/* sipsess_listen's connection handler: a new INVITE. */
void calls_incoming(const struct sip_msg *msg, void *arg);
/* An in-dialog UPDATE: answers it and returns true; false for other methods. */
bool calls_update(const struct sip_msg *msg);
/* huddle's hangup, posted to the main thread. */
void calls_hangup(const char *channel, uint32_t cause);
/* huddle's originate, posted to the main thread. */
void calls_originate(const char *destination, const char *room, const char *account);
/* Whether a sip: URI names this node's own listen address (a cascade
 * from a room to itself would carry every voice round and back). A URI
 * without a port means 5060. */
bool calls_is_self(const char *uri);
/* BYE every call (shutdown). */
void calls_end_all(uint32_t cause);
size_t calls_active(void);

/* Any thread: huddle's send_audio. Never blocks beyond the call's lock. */
void calls_send_audio(const char *channel, const huddle_frame *frame);
/* Any thread: remembers each member's room and id from participant-join,
 * which the hold re-INVITE needs to address it in the conference API. */
void calls_note_event(const huddle_event *ev);

/* The SIP response for a Q.850 cause huddle refused a caller with. */
uint16_t calls_cause_to_sip(uint32_t cause, const char **reason);

#endif /* HUDDLE_SIP_CALL_H */
