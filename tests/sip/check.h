/*
 * check.h — the assertion the C unit tests of tests/sip share: a failed
 * CHECK prints where and why, counts, and the test goes on.
 */
#ifndef HUDDLE_SIP_TEST_CHECK_H
#define HUDDLE_SIP_TEST_CHECK_H

#include <stdio.h>

static int failures;

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                \
            fprintf(stderr, __VA_ARGS__);                                  \
            fputc('\n', stderr);                                           \
            failures++;                                                    \
        }                                                                  \
    } while (0)

#endif /* HUDDLE_SIP_TEST_CHECK_H */
