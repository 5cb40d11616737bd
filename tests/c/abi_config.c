/* abi_config.c — load refusals: a host built for another ABI version, a
 * missing config file, a malformed one. Each returns its status, leaves the
 * out-parameter alone and explains itself through the host's log callback.
 * Also checks the version macros against huddle_version(). */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_host.h"

static const char GOOD[] =
    "[module]\n"
    "timer = \"manual\"\n"
    "sounds_dir = \"sounds\"\n"
    "recordings_dir = \"recordings\"\n";

/* Line 5 holds the bad value. */
static const char BAD_VALUE[] =
    "[module]\n"
    "timer = \"manual\"\n"
    "sounds_dir = \"sounds\"\n"
    "recordings_dir = \"recordings\"\n"
    "mixer_threads = \"lots\"\n";

/* Line 3 is not TOML. */
static const char BAD_SYNTAX[] =
    "[module]\n"
    "timer = \"manual\"\n"
    "this is not toml\n";

/* Line 6 names a key huddle does not know (a typo must not pass silently). */
static const char UNKNOWN_KEY[] =
    "[module]\n"
    "timer = \"manual\"\n"
    "sounds_dir = \"sounds\"\n"
    "recordings_dir = \"recordings\"\n"
    "[profiles.default]\n"
    "rat = 16000\n";

static void check_version(void) {
    unsigned major, minor, patch;
    const char *v = fh_lib->version();
    CHECK(v != NULL);
    CHECK(strcmp(v, HUDDLE_VERSION_STRING) == 0);
    CHECK(sscanf(v, "%u.%u.%u", &major, &minor, &patch) == 3);
    CHECK(major == HUDDLE_VERSION_MAJOR && minor == HUDDLE_VERSION_MINOR &&
          patch == HUDDLE_VERSION_PATCH);
    CHECK(((major << 16) | (minor << 8) | patch) == HUDDLE_VERSION_NUMBER);
}

static void check_abi_mismatch(const char *cfg) {
    fake_host fh;
    huddle_host host = fh_host(&fh, "abi");
    huddle_module *m = (huddle_module *)&fh; /* sentinel: must stay untouched */
    host.abi_version = HUDDLE_HOST_ABI_VERSION + 41u;
    CHECK_STATUS(fh_lib->load(&host, cfg, &m), HUDDLE_STATUS_ABI_MISMATCH);
    CHECK(m == (huddle_module *)&fh);
    /* The line names the version the host was built for and the module's. */
    if (!fh_log_contains2(&fh, "ABI version", "42")) {
        fh_dump_logs(&fh);
        CHECK(!"a log line naming the host's ABI version 42");
    }
    CHECK(fh_log_contains(&fh, "refusing"));
    fh_destroy(&fh);
}

/* Loads `cfg`, expects HUDDLE_STATUS_CONFIG and a log line holding every
 * needle. */
static void check_config_error(const char *what, const char *cfg,
                               const char *n1, const char *n2) {
    fake_host fh;
    huddle_host host = fh_host(&fh, what);
    huddle_module *m = NULL;
    CHECK_STATUS(fh_lib->load(&host, cfg, &m), HUDDLE_STATUS_CONFIG);
    CHECK(m == NULL);
    if (!fh_log_contains2(&fh, n1, n2)) {
        printf("%s: no log line with '%s' and '%s'\n", what, n1, n2);
        fh_dump_logs(&fh);
        CHECK(!"config error log line");
    }
    printf("ok %s\n", what);
    fh_destroy(&fh);
}

int main(int argc, char **argv) {
    const char *dir = fh_start(argc, argv, 60);
    char good[1024], bad[1024], missing[1024], needle[1100];

    check_version();
    CHECK(strcmp(fh_lib->strerror(HUDDLE_STATUS_ABI_MISMATCH), "") != 0);
    CHECK(fh_lib->strerror(123456) != NULL);

    fh_write_config(dir, "good", GOOD, good, sizeof good);
    check_abi_mismatch(good);

    /* Missing: the message names the file. */
    snprintf(missing, sizeof missing, "%s/no-such-dir/huddle.conf", dir);
    check_config_error("missing", missing, missing, "");

    /* Malformed value: file:line: key 'module.mixer_threads'. */
    fh_write_config(dir, "bad-value", BAD_VALUE, bad, sizeof bad);
    snprintf(needle, sizeof needle, "%s:5:", bad);
    check_config_error("bad-value", bad, needle, "module.mixer_threads");

    /* Not TOML: file:line of the syntax error. */
    fh_write_config(dir, "bad-syntax", BAD_SYNTAX, bad, sizeof bad);
    snprintf(needle, sizeof needle, "%s:3", bad);
    check_config_error("bad-syntax", bad, needle, "");

    /* Unknown key: file:line and the key. */
    fh_write_config(dir, "unknown-key", UNKNOWN_KEY, bad, sizeof bad);
    snprintf(needle, sizeof needle, "%s:6:", bad);
    check_config_error("unknown-key", bad, needle, "rat");

    /* A path holding a newline and a terminal escape: the refusal's log line
     * shows them escaped, so it cannot forge a line of its own. */
    {
        fake_host fh;
        huddle_host host = fh_host(&fh, "forged-path");
        huddle_module *m = NULL;
        snprintf(missing, sizeof missing, "%s/no\nERROR forged\x1b[2J/huddle.conf", dir);
        CHECK_STATUS(fh_lib->load(&host, missing, &m), HUDDLE_STATUS_CONFIG);
        if (!fh_log_contains(&fh, "no\\nERROR forged\\u{1b}[2J") ||
            fh_log_contains(&fh, "\n") || fh_log_contains(&fh, "\x1b")) {
            fh_dump_logs(&fh);
            CHECK(!"the path's control characters reach the log escaped");
        }
        fh_destroy(&fh);
    }

    /* And the good file loads, so the refusals above were about the file. */
    {
        fake_host fh;
        huddle_host host = fh_host(&fh, "good");
        huddle_module *m = NULL;
        CHECK_STATUS(fh_lib->load(&host, good, &m), HUDDLE_STATUS_OK);
        CHECK(m != NULL);
        CHECK_STATUS(fh_lib->shutdown(m), HUDDLE_STATUS_OK);
        fh_destroy(&fh);
    }

    printf("PASS abi_config\n");
    return 0;
}
