/*
 * scenario.h — the reference host's scenario file: which call legs exist
 * and what they do when. Line based, documented in conf/scenarios/README.
 *
 *   # comment
 *   config   ../huddle.conf              module config, relative to this file
 *   interval 20                          frame length in ms (the profile's)
 *   leg alice from=+15550001 name="Alice Smith" account=acme codec=l16 rate=16000
 *   at 0.0  alice dial demo+4321+flags{endconf}
 *   at 1.5  alice play ../sounds/demo/alice-welcome.wav
 *   at 7    alice tone 440 1.0 [-20]      hz seconds [dBFS]
 *   at 8    alice silence                 stop what the leg is sending
 *   at 9    alice dtmf *91                one digit every 100 ms
 *   at 30   alice hangup
 *   at 12   api kick demo last            an operator command
 *   at 20   config ../other.conf          the host's config copy now holds this file
 *   at 21   reload                        huddle_module_reload()
 *   at 60   end                           stop (default: 1 s after the last action)
 *
 * A bad line is reported as file:line: message.
 */
#ifndef REFHOST_SCENARIO_H
#define REFHOST_SCENARIO_H

#include <stddef.h>
#include <stdint.h>

#define SCN_MAX_LEGS 64
#define SCN_MAX_ACTIONS 4096
#define SCN_TEXT 512

typedef enum scn_codec { SCN_L16 = 1, SCN_OPUS = 2 } scn_codec;

typedef struct scn_leg {
    char name[64];
    char account[64];
    char from[64];
    char to[64];
    char caller_name[128];
    scn_codec codec;
    uint32_t rate;
} scn_leg;

typedef enum scn_verb {
    SCN_DIAL,
    SCN_PLAY,
    SCN_TONE,
    SCN_SILENCE,
    SCN_DTMF,
    SCN_HANGUP,
    SCN_API,
    SCN_CONFIG,
    SCN_RELOAD,
    SCN_END
} scn_verb;

typedef struct scn_action {
    uint64_t at_ms;
    scn_verb verb;
    int leg;              /* index into legs, -1 for api/config/reload/end */
    char text[SCN_TEXT];  /* app data, path (resolved), digits, command */
    double hz, seconds, dbfs;
    int line;
} scn_action;

typedef struct scenario {
    char path[1024];
    char config[1024];    /* resolved against the scenario's directory */
    uint32_t interval_ms;
    scn_leg legs[SCN_MAX_LEGS];
    size_t leg_count;
    scn_action *actions;  /* sorted by time, stable */
    size_t action_count;
    uint64_t end_ms;
} scenario;

/* Parses `path`. On error returns -1 with "file:line: message" in `err` and
 * holds nothing (no scenario_free needed). */
int scenario_load(const char *path, scenario *out, char *err, size_t errlen);
void scenario_free(scenario *s);

#endif /* REFHOST_SCENARIO_H */
