/*
 * scenario.c — parser for the reference host's scenario files (format in
 * scenario.h and conf/scenarios/README). Errors carry file:line so a
 * scenario author can go straight to the bad line.
 */
#include "scenario.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t errlen, const char *path, int line, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(err, errlen, "%s:%d: %s", path, line, msg);
    return -1;
}

/* Next whitespace-separated token of *p; "double quotes" group words. */
static int next_token(char **p, char *tok, size_t toklen)
{
    char *s = *p;
    while (isspace((unsigned char)*s)) {
        s++;
    }
    if (!*s) {
        *p = s;
        return 0;
    }
    size_t n = 0;
    int quoted = 0;
    while (*s && (quoted || !isspace((unsigned char)*s))) {
        if (*s == '"') {
            quoted = !quoted;
            s++;
            continue;
        }
        if (n + 1 < toklen) {
            tok[n++] = *s;
        }
        s++;
    }
    tok[n] = '\0';
    *p = s;
    return 1;
}

/* Bounded copy; -1 when `src` does not fit (reported as "too long"). */
static int copy(char *dst, size_t n, const char *src)
{
    size_t len = strlen(src);
    if (len >= n) {
        return -1;
    }
    memcpy(dst, src, len + 1);
    return 0;
}

static char *rest_of_line(char *p)
{
    while (isspace((unsigned char)*p)) {
        p++;
    }
    size_t n = strlen(p);
    while (n && isspace((unsigned char)p[n - 1])) {
        p[--n] = '\0';
    }
    return p;
}

static void resolve(const scenario *s, const char *rel, char *out, size_t outlen)
{
    if (rel[0] == '/') {
        snprintf(out, outlen, "%s", rel);
        return;
    }
    const char *slash = strrchr(s->path, '/');
    if (!slash) {
        snprintf(out, outlen, "%s", rel);
    } else {
        snprintf(out, outlen, "%.*s/%s", (int)(slash - s->path), s->path, rel);
    }
}

static int parse_double(const char *t, double *out)
{
    char *end;
    errno = 0;
    *out = strtod(t, &end);
    return *t && !*end && errno == 0;
}

static int find_leg(const scenario *s, const char *name)
{
    for (size_t i = 0; i < s->leg_count; i++) {
        if (!strcmp(s->legs[i].name, name)) {
            return (int)i;
        }
    }
    return -1;
}

static int parse_leg(scenario *s, char *p, int line, char *err, size_t errlen)
{
    char tok[256];
    if (s->leg_count == SCN_MAX_LEGS) {
        return fail(err, errlen, s->path, line, "too many legs (max %d)", SCN_MAX_LEGS);
    }
    if (!next_token(&p, tok, sizeof tok)) {
        return fail(err, errlen, s->path, line, "leg: missing name");
    }
    if (find_leg(s, tok) >= 0) {
        return fail(err, errlen, s->path, line, "leg '%s' defined twice", tok);
    }
    if (!strcmp(tok, "api") || !strcmp(tok, "config") || !strcmp(tok, "reload") || !strcmp(tok, "end")) {
        return fail(err, errlen, s->path, line, "leg: '%s' is a scenario word, not a leg name", tok);
    }
    scn_leg *l = &s->legs[s->leg_count];
    memset(l, 0, sizeof *l);
    if (copy(l->name, sizeof l->name, tok) || copy(l->caller_name, sizeof l->caller_name, tok)) {
        return fail(err, errlen, s->path, line, "leg: name longer than %zu bytes", sizeof l->name - 1);
    }
    l->codec = SCN_L16;
    l->rate = 16000;
    while (next_token(&p, tok, sizeof tok)) {
        char *eq = strchr(tok, '=');
        if (!eq) {
            return fail(err, errlen, s->path, line, "leg: expected key=value, got '%s'", tok);
        }
        *eq = '\0';
        const char *k = tok, *v = eq + 1;
        int too_long = 0;
        if (!strcmp(k, "account")) {
            too_long = copy(l->account, sizeof l->account, v);
        } else if (!strcmp(k, "from")) {
            too_long = copy(l->from, sizeof l->from, v);
        } else if (!strcmp(k, "to")) {
            too_long = copy(l->to, sizeof l->to, v);
        } else if (!strcmp(k, "name")) {
            too_long = copy(l->caller_name, sizeof l->caller_name, v);
        } else if (!strcmp(k, "codec")) {
            if (!strcmp(v, "l16") || !strcmp(v, "L16")) {
                l->codec = SCN_L16;
            } else if (!strcmp(v, "opus") || !strcmp(v, "Opus")) {
                l->codec = SCN_OPUS;
            } else {
                return fail(err, errlen, s->path, line, "leg: codec must be l16 or opus, got '%s'", v);
            }
        } else if (!strcmp(k, "rate")) {
            long r = strtol(v, NULL, 10);
            if (r != 8000 && r != 16000 && r != 24000 && r != 32000 && r != 48000) {
                return fail(err, errlen, s->path, line,
                            "leg: rate must be 8000|16000|24000|32000|48000, got '%s'", v);
            }
            l->rate = (uint32_t)r;
        } else {
            return fail(err, errlen, s->path, line,
                        "leg: unknown key '%s' (account, from, to, name, codec, rate)", k);
        }
        if (too_long) {
            return fail(err, errlen, s->path, line, "leg: %s is too long", k);
        }
    }
    if (l->codec == SCN_OPUS && l->rate == 32000) {
        return fail(err, errlen, s->path, line, "leg: Opus does not run at 32000 Hz");
    }
    s->leg_count++;
    return 0;
}

static int parse_at(scenario *s, char *p, int line, char *err, size_t errlen)
{
    char tok[256];
    double t;
    if (s->action_count == SCN_MAX_ACTIONS) {
        return fail(err, errlen, s->path, line, "too many actions (max %d)", SCN_MAX_ACTIONS);
    }
    if (!next_token(&p, tok, sizeof tok) || !parse_double(tok, &t) || t < 0 || t > 86400) {
        return fail(err, errlen, s->path, line, "at: expected a time in seconds (0..86400)");
    }
    scn_action *a = &s->actions[s->action_count];
    memset(a, 0, sizeof *a);
    a->at_ms = (uint64_t)(t * 1000.0 + 0.5);
    a->line = line;
    a->leg = -1;
    if (!next_token(&p, tok, sizeof tok)) {
        return fail(err, errlen, s->path, line, "at: missing leg name, 'api', 'config', 'reload' or 'end'");
    }
    if (!strcmp(tok, "api")) {
        char *cmd = rest_of_line(p);
        if (!*cmd) {
            return fail(err, errlen, s->path, line, "api: missing command");
        }
        a->verb = SCN_API;
        snprintf(a->text, sizeof a->text, "%s", cmd);
        s->action_count++;
        return 0;
    }
    if (!strcmp(tok, "end")) {
        a->verb = SCN_END;
        s->action_count++;
        return 0;
    }
    if (!strcmp(tok, "config")) {
        if (!next_token(&p, tok, sizeof tok)) {
            return fail(err, errlen, s->path, line, "config: missing path");
        }
        a->verb = SCN_CONFIG;
        resolve(s, tok, a->text, sizeof a->text);
        if (next_token(&p, tok, sizeof tok)) {
            return fail(err, errlen, s->path, line, "unexpected '%s' at end of line", tok);
        }
        s->action_count++;
        return 0;
    }
    if (!strcmp(tok, "reload")) {
        if (next_token(&p, tok, sizeof tok)) {
            return fail(err, errlen, s->path, line, "unexpected '%s' at end of line", tok);
        }
        a->verb = SCN_RELOAD;
        s->action_count++;
        return 0;
    }
    a->leg = find_leg(s, tok);
    if (a->leg < 0) {
        return fail(err, errlen, s->path, line, "unknown leg '%s' (declare it with a 'leg' line first)", tok);
    }
    if (!next_token(&p, tok, sizeof tok)) {
        return fail(err, errlen, s->path, line, "missing verb (dial, play, tone, silence, dtmf, hangup)");
    }
    if (!strcmp(tok, "dial")) {
        char *data = rest_of_line(p);
        if (!*data) {
            return fail(err, errlen, s->path, line, "dial: missing app data");
        }
        a->verb = SCN_DIAL;
        snprintf(a->text, sizeof a->text, "%s", data);
    } else if (!strcmp(tok, "play")) {
        if (!next_token(&p, tok, sizeof tok)) {
            return fail(err, errlen, s->path, line, "play: missing WAV path");
        }
        a->verb = SCN_PLAY;
        resolve(s, tok, a->text, sizeof a->text);
    } else if (!strcmp(tok, "tone")) {
        a->verb = SCN_TONE;
        a->dbfs = -20;
        if (!next_token(&p, tok, sizeof tok) || !parse_double(tok, &a->hz) || a->hz <= 0 || a->hz > 20000) {
            return fail(err, errlen, s->path, line, "tone: expected a frequency in Hz");
        }
        if (!next_token(&p, tok, sizeof tok) || !parse_double(tok, &a->seconds) || a->seconds <= 0 ||
            a->seconds > 3600) {
            return fail(err, errlen, s->path, line, "tone: expected a duration in seconds");
        }
        if (next_token(&p, tok, sizeof tok) && (!parse_double(tok, &a->dbfs) || a->dbfs > 0)) {
            return fail(err, errlen, s->path, line, "tone: level must be dBFS <= 0, got '%s'", tok);
        }
    } else if (!strcmp(tok, "silence")) {
        a->verb = SCN_SILENCE;
    } else if (!strcmp(tok, "dtmf")) {
        if (!next_token(&p, tok, sizeof tok)) {
            return fail(err, errlen, s->path, line, "dtmf: missing digits");
        }
        for (const char *d = tok; *d; d++) {
            if (!strchr("0123456789*#ABCD", *d)) {
                return fail(err, errlen, s->path, line, "dtmf: '%c' is not a DTMF digit", *d);
            }
        }
        a->verb = SCN_DTMF;
        snprintf(a->text, sizeof a->text, "%s", tok);
    } else if (!strcmp(tok, "hangup")) {
        a->verb = SCN_HANGUP;
    } else {
        return fail(err, errlen, s->path, line,
                    "unknown verb '%s' (dial, play, tone, silence, dtmf, hangup)", tok);
    }
    if (a->verb != SCN_DIAL && next_token(&p, tok, sizeof tok) && a->verb != SCN_TONE) {
        return fail(err, errlen, s->path, line, "unexpected '%s' at end of line", tok);
    }
    s->action_count++;
    return 0;
}

static int by_time(const void *x, const void *y)
{
    const scn_action *a = x, *b = y;
    if (a->at_ms != b->at_ms) {
        return a->at_ms < b->at_ms ? -1 : 1;
    }
    return a->line - b->line; /* stable: file order within the same instant */
}

static int load(const char *path, scenario *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    snprintf(s->path, sizeof s->path, "%s", path);
    s->interval_ms = 20;
    s->actions = calloc(SCN_MAX_ACTIONS, sizeof *s->actions);
    if (!s->actions) {
        return fail(err, errlen, path, 0, "out of memory");
    }
    FILE *f = fopen(path, "r");
    if (!f) {
        return fail(err, errlen, path, 0, "%s", strerror(errno));
    }
    char buf[2048];
    int line = 0, rc = 0, have_end = 0;
    while (rc == 0 && fgets(buf, sizeof buf, f)) {
        line++;
        if (!strchr(buf, '\n') && !feof(f)) {
            rc = fail(err, errlen, path, line, "line longer than %zu bytes", sizeof buf - 2);
            break;
        }
        char *hash = strchr(buf, '#');
        /* '#' starts a comment only at the start of a word, so DTMF "1234#"
         * and app data like "flags{...}" keep theirs. */
        while (hash && hash != buf && !isspace((unsigned char)hash[-1])) {
            hash = strchr(hash + 1, '#');
        }
        if (hash) {
            *hash = '\0';
        }
        char *p = buf, tok[256];
        if (!next_token(&p, tok, sizeof tok)) {
            continue;
        }
        if (!strcmp(tok, "config")) {
            if (!next_token(&p, tok, sizeof tok)) {
                rc = fail(err, errlen, path, line, "config: missing path");
            } else {
                resolve(s, tok, s->config, sizeof s->config);
            }
        } else if (!strcmp(tok, "interval")) {
            double ms;
            if (!next_token(&p, tok, sizeof tok) || !parse_double(tok, &ms) ||
                (ms != 10 && ms != 20 && ms != 40 && ms != 60)) {
                rc = fail(err, errlen, path, line, "interval: 10, 20, 40 or 60 (ms)");
            } else {
                s->interval_ms = (uint32_t)ms;
            }
        } else if (!strcmp(tok, "leg")) {
            rc = parse_leg(s, p, line, err, errlen);
        } else if (!strcmp(tok, "at")) {
            rc = parse_at(s, p, line, err, errlen);
            if (rc == 0 && s->actions[s->action_count - 1].verb == SCN_END) {
                have_end = 1;
            }
        } else {
            rc = fail(err, errlen, path, line, "unknown directive '%s' (config, interval, leg, at)", tok);
        }
    }
    fclose(f);
    if (rc) {
        return rc;
    }
    if (!s->config[0]) {
        return fail(err, errlen, path, line, "no 'config <path>' line");
    }
    qsort(s->actions, s->action_count, sizeof *s->actions, by_time);
    uint64_t last = s->action_count ? s->actions[s->action_count - 1].at_ms : 0;
    s->end_ms = last;
    if (!have_end) {
        s->end_ms = last + 1000;
    } else {
        for (size_t i = 0; i < s->action_count; i++) {
            if (s->actions[i].verb == SCN_END) {
                s->end_ms = s->actions[i].at_ms;
                break;
            }
        }
    }
    return 0;
}

int scenario_load(const char *path, scenario *s, char *err, size_t errlen)
{
    int rc = load(path, s, err, errlen);
    if (rc) {
        /* A failed load owns nothing: the caller only frees after success. */
        scenario_free(s);
    }
    return rc;
}

void scenario_free(scenario *s)
{
    free(s->actions);
    s->actions = NULL;
}
