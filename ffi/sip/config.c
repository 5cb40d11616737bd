/*
 * config.c — parser for conf/sip.conf (see config.h). Every unknown key,
 * wrong type, bad regex or out-of-range number is an error naming
 * file:line, like huddle's own config.
 */
#define _POSIX_C_SOURCE 200809L

#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SECTION_NONE, SECTION_SIP, SECTION_RULE };

static int fail(char *err, size_t errlen, const char *path, int line, const char *fmt, ...)
{
    int n = snprintf(err, errlen, "%s:%d: ", path, line);
    if (n < 0 || (size_t)n >= errlen)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

static char *skip_ws(char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* A TOML basic ("...", with \\ \" \t \n escapes) or literal ('...') string
 * at *pp. Returns 0 and advances *pp past it. */
static int parse_string(char **pp, char *out, size_t outlen)
{
    char *p = *pp;
    char quote = *p;
    if (quote != '"' && quote != '\'')
        return -1;
    p++;
    size_t n = 0;
    while (*p && *p != quote) {
        char c = *p++;
        if (quote == '"' && c == '\\') {
            switch (*p++) {
            case '\\': c = '\\'; break;
            case '"': c = '"'; break;
            case 't': c = '\t'; break;
            case 'n': c = '\n'; break;
            default: return -1;
            }
        }
        if (n + 1 >= outlen)
            return -1;
        out[n++] = c;
    }
    if (*p != quote)
        return -1;
    out[n] = '\0';
    *pp = p + 1;
    return 0;
}

static int parse_uint(const char *v, unsigned long lo, unsigned long hi, unsigned long *out)
{
    if (!isdigit((unsigned char)*v))
        return -1;
    errno = 0;
    char *end;
    unsigned long x = strtoul(v, &end, 10);
    if (errno || *skip_ws(end) != '\0' || x < lo || x > hi)
        return -1;
    *out = x;
    return 0;
}

/* The rest of a line after a value must be empty or a comment. */
static int line_end_ok(char *p)
{
    p = skip_ws(p);
    return *p == '\0' || *p == '#';
}

static int known_codec(const char *c)
{
    static const char *const names[] = {"PCMU", "PCMA", "G722", "opus"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(c, names[i]) == 0)
            return 1;
    return 0;
}

static void defaults(sip_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->listen, sizeof cfg->listen, "127.0.0.1:5060");
    snprintf(cfg->library, sizeof cfg->library, "libhuddle.so");
    snprintf(cfg->huddle_config, sizeof cfg->huddle_config, "huddle.conf");
    snprintf(cfg->rtp_ip, sizeof cfg->rtp_ip, "127.0.0.1");
    cfg->rtp_port_min = 16384;
    cfg->rtp_port_max = 32767;
    snprintf(cfg->codecs[0], sizeof cfg->codecs[0], "PCMU");
    snprintf(cfg->codecs[1], sizeof cfg->codecs[1], "PCMA");
    snprintf(cfg->codecs[2], sizeof cfg->codecs[2], "G722");
    snprintf(cfg->codecs[3], sizeof cfg->codecs[3], "opus");
    cfg->codec_count = 4;
    cfg->max_calls = 512;
    cfg->frame_ms = 20;
    cfg->session_expires_s = 1800;
    cfg->session_min_se_s = 90;
    snprintf(cfg->user_agent, sizeof cfg->user_agent, "huddle-sip");
}

/* Relative paths in the file are relative to the file's directory. */
static void resolve(const char *cfgpath, char *value, size_t len)
{
    if (value[0] == '\0' || value[0] == '/')
        return;
    const char *slash = strrchr(cfgpath, '/');
    if (!slash)
        return;
    char tmp[4096];
    int n = snprintf(tmp, sizeof tmp, "%.*s/%s", (int)(slash - cfgpath), cfgpath, value);
    if (n > 0 && (size_t)n < len)
        memcpy(value, tmp, (size_t)n + 1);
}

static int sip_key(sip_config *cfg, const char *key, char *val, const char *path, int line,
                   char *err, size_t errlen)
{
    char s[4096];
    unsigned long u;
    struct {
        const char *key;
        char *dst;
        size_t len;
        int is_path;
    } strs[] = {
        {"listen", cfg->listen, sizeof cfg->listen, 0},
        {"library", cfg->library, sizeof cfg->library, 0},
        {"huddle_config", cfg->huddle_config, sizeof cfg->huddle_config, 1},
        {"rtp_ip", cfg->rtp_ip, sizeof cfg->rtp_ip, 0},
        {"account", cfg->account, sizeof cfg->account, 0},
        {"control_socket", cfg->control_socket, sizeof cfg->control_socket, 1},
        {"event_log", cfg->event_log, sizeof cfg->event_log, 1},
        {"originate_uri", cfg->originate_uri, sizeof cfg->originate_uri, 0},
        {"user_agent", cfg->user_agent, sizeof cfg->user_agent, 0},
    };
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        if (strcmp(key, strs[i].key) != 0)
            continue;
        char *p = val;
        if (parse_string(&p, s, sizeof s) != 0 || !line_end_ok(p))
            return fail(err, errlen, path, line, "key 'sip.%s': expected a quoted string", key);
        if (strlen(s) >= strs[i].len)
            return fail(err, errlen, path, line, "key 'sip.%s': longer than %zu bytes", key,
                        strs[i].len - 1);
        memcpy(strs[i].dst, s, strlen(s) + 1);
        if (strs[i].is_path)
            resolve(path, strs[i].dst, strs[i].len);
        return 0;
    }
    struct {
        const char *key;
        unsigned long lo, hi;
    } nums[] = {
        {"rtp_port_min", 1024, 65534},  {"rtp_port_max", 1025, 65535},
        {"max_calls", 1, 10000},        {"frame_ms", 10, 60},
        {"session_expires_s", 0, 86400}, {"session_min_se_s", 1, 86400},
        {"ring_ms", 0, 60000},
    };
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        if (strcmp(key, nums[i].key) != 0)
            continue;
        char *hash = strchr(val, '#');
        if (hash)
            *hash = '\0';
        if (parse_uint(val, nums[i].lo, nums[i].hi, &u) != 0)
            return fail(err, errlen, path, line, "key 'sip.%s': expected an integer %lu..%lu",
                        key, nums[i].lo, nums[i].hi);
        if (strcmp(key, "rtp_port_min") == 0)
            cfg->rtp_port_min = (uint16_t)u;
        else if (strcmp(key, "rtp_port_max") == 0)
            cfg->rtp_port_max = (uint16_t)u;
        else if (strcmp(key, "max_calls") == 0)
            cfg->max_calls = (uint32_t)u;
        else if (strcmp(key, "frame_ms") == 0) {
            if (u != 10 && u != 20 && u != 40 && u != 60)
                return fail(err, errlen, path, line, "key 'sip.frame_ms': 10, 20, 40 or 60");
            cfg->frame_ms = (uint32_t)u;
        } else if (strcmp(key, "session_min_se_s") == 0)
            cfg->session_min_se_s = (uint32_t)u;
        else if (strcmp(key, "ring_ms") == 0)
            cfg->ring_ms = (uint32_t)u;
        else
            cfg->session_expires_s = (uint32_t)u;
        return 0;
    }
    if (strcmp(key, "codecs") == 0) {
        char *p = skip_ws(val);
        if (*p++ != '[')
            return fail(err, errlen, path, line, "key 'sip.codecs': expected [\"PCMU\", ...]");
        cfg->codec_count = 0;
        for (;;) {
            p = skip_ws(p);
            if (*p == ']')
                break;
            char c[16];
            if (parse_string(&p, c, sizeof c) != 0 || !known_codec(c))
                return fail(err, errlen, path, line,
                            "key 'sip.codecs': each entry is \"PCMU\", \"PCMA\", \"G722\" or \"opus\"");
            if (cfg->codec_count == SIPCONF_MAX_CODECS)
                return fail(err, errlen, path, line, "key 'sip.codecs': too many entries");
            memcpy(cfg->codecs[cfg->codec_count++], c, sizeof c);
            p = skip_ws(p);
            if (*p == ',')
                p++;
            else if (*p != ']')
                return fail(err, errlen, path, line, "key 'sip.codecs': expected , or ]");
        }
        if (cfg->codec_count == 0 || !line_end_ok(p + 1))
            return fail(err, errlen, path, line, "key 'sip.codecs': at least one codec");
        return 0;
    }
    return fail(err, errlen, path, line, "unknown key 'sip.%s'", key);
}

static int rule_key(sip_rule *r, const char *key, char *val, const char *path, int line,
                    char *err, size_t errlen)
{
    char *dst;
    if (strcmp(key, "match") == 0)
        dst = r->match;
    else if (strcmp(key, "app") == 0)
        dst = r->app;
    else
        return fail(err, errlen, path, line, "unknown key 'dialplan.%s' (match, app)", key);
    char *p = val;
    if (parse_string(&p, dst, SIPCONF_STR) != 0 || !line_end_ok(p))
        return fail(err, errlen, path, line,
                    "key 'dialplan.%s': expected a quoted string under %d bytes", key,
                    SIPCONF_STR);
    return 0;
}

static int finish_rule(sip_config *cfg, const char *path, char *err, size_t errlen)
{
    if (cfg->rule_count == 0)
        return 0;
    sip_rule *r = &cfg->rules[cfg->rule_count - 1];
    if (!r->match[0] || !r->app[0])
        return fail(err, errlen, path, r->line, "[[dialplan]] needs both 'match' and 'app'");
    int rc = regcomp(&r->re, r->match, REG_EXTENDED);
    if (rc != 0) {
        char why[128];
        regerror(rc, &r->re, why, sizeof why);
        cfg->rule_count--; /* nothing compiled to free */
        return fail(err, errlen, path, r->line, "dialplan match '%s': %s", r->match, why);
    }
    return 0;
}

int sip_config_load(sip_config *cfg, const char *path, char *err, size_t errlen)
{
    defaults(cfg);
    snprintf(cfg->path, sizeof cfg->path, "%s", path);
    FILE *f = fopen(path, "r");
    if (!f)
        return fail(err, errlen, path, 0, "cannot open: %s", strerror(errno));
    char buf[2048];
    int line = 0, section = SECTION_NONE, rc = 0;
    int sip_seen = 0;
    while (rc == 0 && fgets(buf, sizeof buf, f)) {
        line++;
        size_t len = strlen(buf);
        if (len == sizeof buf - 1 && buf[len - 1] != '\n') {
            rc = fail(err, errlen, path, line, "line longer than %zu bytes", sizeof buf - 2);
            break;
        }
        while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
            buf[--len] = '\0';
        char *p = skip_ws(buf);
        if (*p == '\0' || *p == '#')
            continue;
        if (strncmp(p, "[[dialplan]]", 12) == 0 && line_end_ok(p + 12)) {
            if ((rc = finish_rule(cfg, path, err, errlen)) != 0)
                break;
            if (cfg->rule_count == SIPCONF_MAX_RULES) {
                rc = fail(err, errlen, path, line, "more than %d dialplan rules",
                          SIPCONF_MAX_RULES);
                break;
            }
            sip_rule *r = &cfg->rules[cfg->rule_count++];
            memset(r, 0, sizeof *r);
            r->line = line;
            section = SECTION_RULE;
            continue;
        }
        if (strncmp(p, "[sip]", 5) == 0 && line_end_ok(p + 5)) {
            if (sip_seen++) {
                rc = fail(err, errlen, path, line, "[sip] appears twice");
                break;
            }
            section = SECTION_SIP;
            continue;
        }
        if (*p == '[') {
            rc = fail(err, errlen, path, line, "unknown table %s ([sip], [[dialplan]])", p);
            break;
        }
        char *eq = strchr(p, '=');
        if (!eq) {
            rc = fail(err, errlen, path, line, "expected key = value");
            break;
        }
        char *kend = eq;
        while (kend > p && (kend[-1] == ' ' || kend[-1] == '\t'))
            kend--;
        *kend = '\0';
        char *val = skip_ws(eq + 1);
        if (section == SECTION_SIP)
            rc = sip_key(cfg, p, val, path, line, err, errlen);
        else if (section == SECTION_RULE)
            rc = rule_key(&cfg->rules[cfg->rule_count - 1], p, val, path, line, err, errlen);
        else
            rc = fail(err, errlen, path, line, "key '%s' outside [sip] or [[dialplan]]", p);
    }
    fclose(f);
    if (rc == 0)
        rc = finish_rule(cfg, path, err, errlen);
    if (rc == 0 && cfg->rtp_port_min >= cfg->rtp_port_max)
        rc = fail(err, errlen, path, 0, "rtp_port_min must be below rtp_port_max");
    if (rc == 0 && cfg->rule_count == 0)
        rc = fail(err, errlen, path, 0, "no [[dialplan]] rule: every call would get 404");
    /* A bare file name is left to the loader's search path. */
    if (rc == 0 && strchr(cfg->library, '/'))
        resolve(path, cfg->library, sizeof cfg->library);
    if (rc != 0)
        sip_config_free(cfg);
    return rc;
}

void sip_config_free(sip_config *cfg)
{
    for (size_t i = 0; i < cfg->rule_count; i++)
        regfree(&cfg->rules[i].re);
    cfg->rule_count = 0;
}

int sip_dialplan_route(const sip_config *cfg, const char *user, char *out, size_t outlen)
{
    for (size_t i = 0; i < cfg->rule_count; i++) {
        const sip_rule *r = &cfg->rules[i];
        regmatch_t m[10];
        if (regexec(&r->re, user, 10, m, 0) != 0)
            continue;
        size_t n = 0;
        for (const char *a = r->app; *a; a++) {
            const char *piece = a;
            size_t plen = 1;
            if (a[0] == '$' && a[1] >= '0' && a[1] <= '9') {
                int g = a[1] - '0';
                a++;
                if (m[g].rm_so < 0) {
                    plen = 0;
                } else {
                    piece = user + m[g].rm_so;
                    plen = (size_t)(m[g].rm_eo - m[g].rm_so);
                }
            }
            if (n + plen + 1 > outlen)
                return -2;
            memcpy(out + n, piece, plen);
            n += plen;
        }
        out[n] = '\0';
        return 0;
    }
    return -1;
}
