/* mock — reads a Step Functions Local MockConfigFile and answers tasks
 * from it, as AWS documents the format (see mock.h). */
#include "cli/mock.h"

#include <stdlib.h>
#include <string.h>

struct cli_mock {
    json_t *doc;
    json_t *test_case;  /* state -> response name (borrowed from doc) */
    json_t *responses;  /* MockedResponses (borrowed from doc) */
};

cli_mock *cli_mock_load(const char *file, const char *case_name, const char *machine, val_err *err)
{
    size_t len;
    char *text = val_read_file(file, &len, err);
    if (!text)
        return NULL;
    json_t *doc = val_parse(text, len, err);
    free(text);
    if (!doc) {
        val_err_where(err, file);
        return NULL;
    }
    json_t *sms = json_object_get(doc, "StateMachines");
    json_t *responses = json_object_get(doc, "MockedResponses");
    if (!json_is_object(sms) || !json_is_object(responses)) {
        val_err_set(err, VAL_ERR_VALIDATION, "InvalidMockConfig",
                    "%s: a MockConfigFile needs the objects \"StateMachines\" and \"MockedResponses\"", file);
        json_decref(doc);
        return NULL;
    }
    json_t *tc = NULL;
    json_t *sm = machine ? json_object_get(sms, machine) : NULL;
    if (sm)
        tc = json_object_get(json_object_get(sm, "TestCases"), case_name);
    if (!tc) {
        const char *k;
        json_t *v;
        json_object_foreach(sms, k, v)
        {
            tc = json_object_get(json_object_get(v, "TestCases"), case_name);
            if (tc)
                break;
        }
    }
    if (!json_is_object(tc)) {
        val_err_set(err, VAL_ERR_VALIDATION, "InvalidMockConfig", "%s: no test case named '%s' in StateMachines",
                    file, case_name);
        json_decref(doc);
        return NULL;
    }
    cli_mock *m = calloc(1, sizeof *m);
    m->doc = doc;
    m->test_case = tc;
    m->responses = responses;
    return m;
}

void cli_mock_free(cli_mock *m)
{
    if (!m)
        return;
    json_decref(m->doc);
    free(m);
}

/* Whether key ("3" or "1-2") covers attempt. */
static int key_covers(const char *key, long attempt, long *hi_out)
{
    char *end;
    long lo = strtol(key, &end, 10), hi = lo;
    if (end == key)
        return 0;
    if (*end == '-') {
        const char *p = end + 1;
        hi = strtol(p, &end, 10);
        if (end == p)
            return 0;
    }
    if (*end)
        return 0;
    *hi_out = hi;
    return attempt >= lo && attempt <= hi;
}

int cli_mock_answer(const cli_mock *m, const char *state, long attempt, json_t **ret, const char **error,
                    const char **cause)
{
    json_t *name = json_object_get(m->test_case, state);
    if (!json_is_string(name))
        return 0;
    json_t *resp = json_object_get(m->responses, json_string_value(name));
    if (!json_is_object(resp))
        return 0;
    const char *k;
    json_t *v, *pick = NULL, *last = NULL;
    long last_hi = -1;
    json_object_foreach(resp, k, v)
    {
        long hi = -1;
        if (key_covers(k, attempt, &hi)) {
            pick = v;
            break;
        }
        if (hi > last_hi) {
            last_hi = hi;
            last = v;
        }
    }
    /* past the last numbered answer, the last one keeps answering */
    if (!pick)
        pick = last;
    if (!pick)
        return 0;
    json_t *r = json_object_get(pick, "Return");
    if (r) {
        *ret = r;
        return 1;
    }
    json_t *t = json_object_get(pick, "Throw");
    if (json_is_object(t)) {
        *error = json_string_value(json_object_get(t, "Error"));
        *cause = json_string_value(json_object_get(t, "Cause"));
        return 2;
    }
    return 0;
}
