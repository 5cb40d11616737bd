/*
 * config.h — huddle-sip's own configuration file (conf/sip.conf).
 *
 * A small TOML subset: a [sip] table of key = value (strings, integers,
 * booleans, arrays of strings) and [[dialplan]] entries. huddle's own
 * conf/huddle.conf refuses unknown tables, so the SIP front keeps its
 * settings apart and names the module config it loads.
 */
#ifndef HUDDLE_SIP_CONFIG_H
#define HUDDLE_SIP_CONFIG_H

#include <regex.h>
#include <stddef.h>
#include <stdint.h>

enum { SIPCONF_MAX_RULES = 64, SIPCONF_MAX_CODECS = 4, SIPCONF_STR = 256 };

/* One dialplan rule: a POSIX extended regex over the Request-URI user
 * part and the conference app data it makes, with $1..$9 replaced by
 * the captures (like FreeSWITCH's destination_number conditions). */
typedef struct sip_rule {
    char match[SIPCONF_STR];
    char app[SIPCONF_STR];
    regex_t re;
    int line;
} sip_rule;

typedef struct sip_config {
    char path[4096];
    char listen[SIPCONF_STR];        /* "127.0.0.1:5060": UDP and TCP */
    char library[SIPCONF_STR];       /* path of libhuddle.so */
    char huddle_config[4096];        /* the module's TOML, relative to this file */
    char rtp_ip[64];
    uint16_t rtp_port_min, rtp_port_max;
    char codecs[SIPCONF_MAX_CODECS][16]; /* offered/accepted, in preference order */
    size_t codec_count;
    char account[SIPCONF_STR];
    uint32_t max_calls;
    uint32_t frame_ms;               /* the rooms' interval_ms */
    uint32_t session_expires_s;      /* RFC 4028: we refresh this often when the caller does not; 0 = off */
    uint32_t session_min_se_s;       /* smaller Session-Expires get 422 */
    uint32_t ring_ms;                /* 180 Ringing this long before answering; 0 = at once */
    char control_socket[4096];
    char event_log[4096];
    char originate_uri[SIPCONF_STR]; /* "sip:${destination}@trunk" */
    char user_agent[64];
    sip_rule rules[SIPCONF_MAX_RULES];
    size_t rule_count;
} sip_config;

/* Reads `path`. On error returns -1 and writes "file:line: problem" to
 * `err`. Free the compiled rules with sip_config_free. */
int sip_config_load(sip_config *cfg, const char *path, char *err, size_t errlen);
void sip_config_free(sip_config *cfg);

/* The app data for a dialled user part: 0 and `out` filled when a rule
 * matches (the first one in file order), -1 when none does, -2 when the
 * expansion does not fit `outlen`. */
int sip_dialplan_route(const sip_config *cfg, const char *user, char *out, size_t outlen);

#endif /* HUDDLE_SIP_CONFIG_H */
