/* lifecycle.c — load/shutdown in a loop, with the manual and the realtime
 * timer: the number of threads (/proc/self/task) and of open file
 * descriptors (/proc/self/fd) must come back to where it was, i.e. every
 * huddle thread is joined and every file closed by shutdown.
 *
 * argv[3] = iterations per timer (default 200; scripts/test.sh runs 20 under
 * valgrind, which is slow). */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fake_host.h"

/* The kernel can list a thread in /proc/self/task for a moment after
 * pthread_join returned (the joined thread wakes its joiner before it is
 * reaped). Wait for that, bounded: 200 x 5 ms. A thread huddle failed to
 * stop never goes away and fails the check. */
static long settled_tasks(long want, int *waited) {
    long n = fh_count_dir("/proc/self/task");
    int i;
    struct timespec ts = {0, 5 * 1000 * 1000};
    for (i = 0; i < 200 && n > want; i++) {
        nanosleep(&ts, NULL);
        n = fh_count_dir("/proc/self/task");
        *waited = 1;
    }
    return n;
}

static void one(const char *cfg, int realtime, int join) {
    fake_host fh;
    huddle_host host = fh_host(&fh, "life");
    huddle_module *m = NULL;
    huddle_member *member = NULL;
    huddle_caller caller;
    CHECK_STATUS(fh_lib->load(&host, cfg, &m), HUDDLE_STATUS_OK);
    CHECK(m != NULL);
    if (join) {
        /* A room, a member: shutdown must end them too. */
        memset(&caller, 0, sizeof caller);
        caller.channel = "life-1";
        CHECK_STATUS(fh_lib->app(m, &caller, "3000", &member), HUDDLE_STATUS_OK);
        if (!realtime) CHECK_STATUS(fh_lib->advance(m, 40), HUDDLE_STATUS_OK);
    }
    CHECK_STATUS(fh_lib->shutdown(m), HUDDLE_STATUS_OK);
    /* Shutdown released the member handle with the module. */
    if (join) CHECK_STATUS(fh_lib->member_hangup(member), HUDDLE_STATUS_STALE_HANDLE);
    fh_destroy(&fh);
}

static void run(const char *what, const char *cfg, int realtime, long iterations) {
    long tasks0, fds0, tasks, fds, i;
    int waited = 0;
    fake_host fh;
    huddle_host host;
    huddle_module *m = NULL;

    /* Warm-up: the first load sets up process-wide state (logger, handle
     * registry) once; growth is measured from after it. */
    tasks0 = fh_count_dir("/proc/self/task");
    one(cfg, realtime, 1);
    tasks0 = settled_tasks(tasks0, &waited);
    fds0 = fh_count_dir("/proc/self/fd");
    CHECK(tasks0 > 0 && fds0 > 0);

    /* The realtime timer does start threads, so the count is a real probe. */
    if (realtime) {
        host = fh_host(&fh, "probe");
        CHECK_STATUS(fh_lib->load(&host, cfg, &m), HUDDLE_STATUS_OK);
        CHECK(fh_count_dir("/proc/self/task") >= tasks0 + 2);
        CHECK_STATUS(fh_lib->shutdown(m), HUDDLE_STATUS_OK);
        fh_destroy(&fh);
    }

    for (i = 0; i < iterations; i++) {
        one(cfg, realtime, (int)(i % 2));
        tasks = settled_tasks(tasks0, &waited);
        fds = fh_count_dir("/proc/self/fd");
        if (tasks != tasks0 || fds != fds0)
            fh_fail(__FILE__, __LINE__,
                    "%s: after %ld load/shutdown: %ld threads (was %ld), %ld fds (was %ld)",
                    what, i + 1, tasks, tasks0, fds, fds0);
    }
    printf("ok %s: %ld load/shutdown, threads %ld, fds %ld%s\n", what,
           iterations, tasks0, fds0,
           waited ? " (waited for a joined thread to be reaped)" : "");
}

int main(int argc, char **argv) {
    const char *dir = fh_start(argc, argv, 600);
    long iterations = argc > 3 ? strtol(argv[3], NULL, 10) : 200;
    char manual[1024], realtime[1024];
    CHECK(iterations > 0 && iterations <= 100000);
    fh_write_config(dir, "manual", FH_CONF_MANUAL, manual, sizeof manual);
    fh_write_config(dir, "realtime", FH_CONF_REALTIME(2), realtime, sizeof realtime);
    run("manual", manual, 0, iterations);
    run("realtime", realtime, 1, iterations);
    printf("PASS lifecycle\n");
    return 0;
}
