/* libFuzzer target for the reference host's scenario parser
 * (ffi/refhost/scenario.c). scenario_load reads a path, so each input is
 * written to a private temp file first. Built by scripts/fuzz.sh with
 * clang -fsanitize=fuzzer,address,undefined. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "scenario.h"

static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!path[0])
        snprintf(path, sizeof path, "/tmp/huddle-scn-fuzz-%d.scn", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    fwrite(data, 1, size, f);
    fclose(f);
    static scenario s; /* large (legs inline): keep it off the stack */
    char err[256];
    if (scenario_load(path, &s, err, sizeof err) == 0)
        scenario_free(&s);
    return 0;
}
