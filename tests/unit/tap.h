/* tap — the tiny test harness of the unit suites. Each test file calls
 * CHECK(...) / CHECK_JSON(...) and ends main with TEST_DONE(), which prints
 * "N passed, N failed" as its last line and returns non-zero on failure. */
#ifndef STEPD_TAP_H
#define STEPD_TAP_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/val.h"

static int tap_pass, tap_fail;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (cond)                                                                                  \
            tap_pass++;                                                                            \
        else {                                                                                     \
            tap_fail++;                                                                            \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                        \
        }                                                                                          \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                       \
    do {                                                                                           \
        if (cond)                                                                                  \
            tap_pass++;                                                                            \
        else {                                                                                     \
            tap_fail++;                                                                            \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                        \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

/* Compares a value (borrowed, may be NULL) with JSON text, as values. */
static inline int tap_json_eq(const json_t *got, const char *want_text)
{
    json_t *want = json_loads(want_text, JSON_DECODE_ANY, NULL);
    int ok = want && got && val_equal(got, want);
    if (!ok) {
        char *g = got ? val_dump(got, NULL) : strdup("(null)");
        fprintf(stderr, "  got:  %s\n  want: %s\n", g, want_text);
        free(g);
    }
    json_decref(want);
    return ok;
}

#define CHECK_JSON(got, want_text) CHECK(tap_json_eq((got), (want_text)))

#define TEST_DONE()                                                                                \
    do {                                                                                           \
        printf("%d passed, %d failed\n", tap_pass, tap_fail);                                      \
        return tap_fail ? 1 : 0;                                                                   \
    } while (0)

#endif
