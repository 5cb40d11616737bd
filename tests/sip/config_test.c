/*
 * config_test.c — ffi/sip/config.c on good and bad files: each bad file is
 * refused with an error naming file:line and the problem, and the dialplan
 * turns user parts into app data the way the README says (first match
 * wins, $1..$9 from the captures, 404 when nothing matches).
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "sip/config.h"

static char dir[] = "/tmp/huddle-sip-config-XXXXXX";

static const char *write_conf(const char *name, const char *text)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(2);
    }
    fputs(text, f);
    fclose(f);
    return path;
}

/* A bad file: refused, and the error contains `want` (file:line: ...). */
static void refused(const char *name, const char *text, const char *want)
{
    sip_config cfg;
    char err[512] = "";
    int rc = sip_config_load(&cfg, write_conf(name, text), err, sizeof err);
    CHECK(rc == -1, "%s was accepted", name);
    CHECK(strstr(err, want) != NULL, "%s: error '%s' lacks '%s'", name, err, want);
}

static void route(const sip_config *cfg, const char *user, int want_rc, const char *want_app)
{
    char app[64] = "";
    int rc = sip_dialplan_route(cfg, user, app, sizeof app);
    CHECK(rc == want_rc, "route '%s': rc %d, expected %d", user, rc, want_rc);
    if (want_app)
        CHECK(strcmp(app, want_app) == 0, "route '%s': '%s', expected '%s'", user, app, want_app);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 2;
    }
    const char *good = "# comment\n"
                       "[sip]\n"
                       "listen = \"127.0.0.1:5070\"   # trailing comment\n"
                       "library = \"lib/libhuddle.so\"\n"
                       "rtp_port_min = 30000\n"
                       "rtp_port_max = 30100\n"
                       "codecs = [\"PCMA\", \"opus\"]\n"
                       "session_min_se_s = 30\n"
                       "\n"
                       "[[dialplan]]\n"
                       "match = '^9000\\*([0-9]{3,8})$'\n"
                       "app = \"$1\"\n"
                       "[[dialplan]]\n"
                       "match = '^([0-9]{3})([0-9]{2})$'\n"
                       "app = \"room$1@wideband+$2\"\n"
                       "[[dialplan]]\n"
                       "match = \"^([0-9]{3,8})$\"\n"
                       "app = \"$1\"\n";
    sip_config cfg;
    char err[512] = "";
    const char *path = write_conf("good.conf", good);
    CHECK(sip_config_load(&cfg, path, err, sizeof err) == 0, "good.conf refused: %s", err);
    CHECK(strcmp(cfg.listen, "127.0.0.1:5070") == 0, "listen '%s'", cfg.listen);
    char lib[300];
    snprintf(lib, sizeof lib, "%s/lib/libhuddle.so", dir);
    CHECK(strcmp(cfg.library, lib) == 0, "library '%s' is not relative to the file", cfg.library);
    CHECK(cfg.rtp_port_min == 30000 && cfg.rtp_port_max == 30100, "rtp ports");
    CHECK(cfg.codec_count == 2 && strcmp(cfg.codecs[0], "PCMA") == 0 &&
              strcmp(cfg.codecs[1], "opus") == 0,
          "codecs");
    CHECK(cfg.session_min_se_s == 30 && cfg.session_expires_s == 1800, "session timers");
    CHECK(cfg.rule_count == 3, "%zu rules", cfg.rule_count);
    route(&cfg, "9000*1234", 0, "1234");
    route(&cfg, "12345", 0, "room123@wideband+45"); /* the second rule wins over the third */
    route(&cfg, "1234", 0, "1234");
    route(&cfg, "12", -1, NULL);
    route(&cfg, "9000*12", -1, NULL);
    route(&cfg, "", -1, NULL);
    char small[8];
    CHECK(sip_dialplan_route(&cfg, "12345", small, sizeof small) == -2,
          "an expansion longer than the buffer is refused");
    sip_config_free(&cfg);

    refused("table.conf", "[sip]\n[rooms]\n", "table.conf:2: unknown table [rooms]");
    refused("key.conf", "[sip]\nlisten_on = \"x\"\n", "key.conf:2: unknown key 'sip.listen_on'");
    refused("type.conf", "[sip]\nmax_calls = \"10\"\n", "type.conf:2: key 'sip.max_calls': expected an integer");
    refused("range.conf", "[sip]\nmax_calls = 0\n", "range.conf:2: key 'sip.max_calls'");
    refused("str.conf", "[sip]\nlisten = 127.0.0.1\n", "str.conf:2: key 'sip.listen': expected a quoted string");
    refused("codec.conf", "[sip]\ncodecs = [\"G729\"]\n", "codec.conf:2: key 'sip.codecs'");
    refused("frame.conf", "[sip]\nframe_ms = 30\n", "frame.conf:2: key 'sip.frame_ms'");
    refused("ports.conf",
            "[sip]\nrtp_port_min = 4000\nrtp_port_max = 3000\n[[dialplan]]\nmatch = 'x'\napp = 'y'\n",
            "rtp_port_min must be below rtp_port_max");
    refused("norules.conf", "[sip]\n", "no [[dialplan]] rule");
    refused("half.conf", "[[dialplan]]\nmatch = '^1$'\n", "half.conf:1: [[dialplan]] needs both");
    refused("regex.conf", "[[dialplan]]\nmatch = '(['\napp = 'x'\n", "regex.conf:1: dialplan match '(['");
    refused("outside.conf", "listen = \"x\"\n", "outside.conf:1: key 'listen' outside");
    refused("twice.conf", "[sip]\n[sip]\n", "twice.conf:2: [sip] appears twice");
    refused("noeq.conf", "[sip]\nlisten\n", "noeq.conf:2: expected key = value");
    refused("junk.conf", "[sip]\nlisten = \"a\" junk\n", "junk.conf:2: key 'sip.listen'");
    sip_config missing;
    CHECK(sip_config_load(&missing, "/nonexistent/sip.conf", err, sizeof err) == -1 &&
              strstr(err, "/nonexistent/sip.conf:0: cannot open") != NULL,
          "a missing file: '%s'", err);

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "config_test: could not remove %s\n", dir);
    if (failures) {
        fprintf(stderr, "config_test: %d failure(s)\n", failures);
        return 1;
    }
    printf("config_test: ok\n");
    return 0;
}
