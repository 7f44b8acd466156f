/* test_engine — drives the pure step function with hand-made events:
 * what only a caller that controls time and task answers can check (task
 * timeouts, heartbeats, late answers, stop, determinism of the seed). */
#include <string.h>

#include "asl/asl.h"
#include "engine/engine.h"
#include "tap.h"

#define SEC 1000000000LL

static struct asl_machine *load(const char *text)
{
    asl_diags d = {0};
    struct asl_machine *m = asl_load(text, strlen(text), &d);
    if (!m) {
        char *msg = asl_diags_message(&d);
        fprintf(stderr, "load failed: %s\n", msg);
        free(msg);
    }
    asl_diags_free(&d);
    return m;
}

static eng_exec *start(struct asl_machine *m, const char *input, int type)
{
    struct eng_config cfg = {.machine_name = "M", .execution_name = "e1", .type = type, .record_history = 1};
    json_t *in = json_loads(input, JSON_DECODE_ANY, NULL);
    eng_exec *x = eng_exec_new(m, &cfg, in, 42);
    json_decref(in);
    struct eng_event ev = {.kind = ENG_EV_START, .now_ns = 1000 * SEC};
    eng_step(x, &ev);
    return x;
}

/* The first effect of the given kind from the last step, or NULL. */
static const struct eng_effect *effect(eng_exec *x, int kind)
{
    size_t n;
    const struct eng_effect *e = eng_effects(x, &n);
    for (size_t i = 0; i < n; i++)
        if (e[i].kind == kind)
            return &e[i];
    return NULL;
}

/* Event types of the history joined by spaces. */
static char *types(eng_exec *x)
{
    val_buf b = {0};
    json_t *h = eng_history(x);
    for (size_t i = 0; i < json_array_size(h); i++) {
        if (i)
            val_buf_putc(&b, ' ');
        val_buf_puts(&b, json_string_value(json_object_get(json_array_get(h, i), "type")));
    }
    return val_buf_take(&b);
}

static int history_is(eng_exec *x, const char *want)
{
    char *got = types(x);
    int ok = strcmp(got, want) == 0;
    if (!ok)
        fprintf(stderr, "  history: %s\n  want:    %s\n", got, want);
    free(got);
    return ok;
}

static void test_task_success_and_result_path(void)
{
    struct asl_machine *m = load("{\"StartAt\":\"T\",\"States\":{\"T\":{\"Type\":\"Task\","
                                 "\"Resource\":\"arn:aws:lambda:us-east-1:123456789012:function:f\","
                                 "\"ResultPath\":\"$.r\",\"End\":true}}}");
    eng_exec *x = start(m, "{\"a\":1}", ENG_STANDARD);
    const struct eng_effect *inv = effect(x, ENG_EFF_INVOKE);
    CHECK(inv != NULL);
    CHECK(inv && strcmp(inv->state, "T") == 0);
    CHECK(inv && tap_json_eq(inv->input, "{\"a\":1}"));
    CHECK(eng_status(x) == ENG_RUNNING);
    json_t *out = json_pack("{s:s}", "ok", "yes");
    struct eng_event ev = {.kind = ENG_EV_TASK_SUCCEEDED, .id = inv->id, .now_ns = 1001 * SEC, .output = out};
    eng_step(x, &ev);
    json_decref(out);
    CHECK(eng_status(x) == ENG_SUCCEEDED);
    CHECK_JSON(eng_output(x), "{\"a\":1,\"r\":{\"ok\":\"yes\"}}");
    CHECK(history_is(x, "ExecutionStarted TaskStateEntered LambdaFunctionScheduled LambdaFunctionStarted "
                        "LambdaFunctionSucceeded TaskStateExited ExecutionSucceeded"));
    eng_exec_free(x);
    asl_machine_free(m);
}

static void test_task_timeout_then_late_answer_ignored(void)
{
    struct asl_machine *m = load("{\"StartAt\":\"T\",\"States\":{\"T\":{\"Type\":\"Task\","
                                 "\"Resource\":\"arn:aws:states:::lambda:invoke\",\"TimeoutSeconds\":5,"
                                 "\"Parameters\":{\"FunctionName\":\"f\"},\"End\":true}}}");
    eng_exec *x = start(m, "{}", ENG_STANDARD);
    const struct eng_effect *inv = effect(x, ENG_EFF_INVOKE);
    const struct eng_effect *tm = effect(x, ENG_EFF_TIMER);
    CHECK(inv && tm);
    if (!inv || !tm)
        return;
    uint64_t task = inv->id, timer = tm->id;
    CHECK(tm->due_ns == 1005 * SEC);
    struct eng_event fire = {.kind = ENG_EV_TIMER, .id = timer, .now_ns = 1005 * SEC};
    eng_step(x, &fire);
    CHECK(eng_status(x) == ENG_FAILED);
    CHECK(eng_error(x) && strcmp(eng_error(x), "States.Timeout") == 0);
    CHECK(history_is(x, "ExecutionStarted TaskStateEntered TaskScheduled TaskStarted TaskTimedOut ExecutionFailed"));
    /* the function answers after the timeout: nothing changes */
    json_t *out = json_object();
    struct eng_event late = {.kind = ENG_EV_TASK_SUCCEEDED, .id = task, .now_ns = 1006 * SEC, .output = out};
    CHECK(eng_step(x, &late) == 0);
    json_decref(out);
    CHECK(eng_status(x) == ENG_FAILED);
    eng_exec_free(x);
    asl_machine_free(m);
}

static void test_heartbeat(void)
{
    struct asl_machine *m =
        load("{\"StartAt\":\"T\",\"States\":{\"T\":{\"Type\":\"Task\","
             "\"Resource\":\"arn:aws:states:::lambda:invoke.waitForTaskToken\",\"HeartbeatSeconds\":10,"
             "\"TimeoutSeconds\":100,\"Parameters\":{\"FunctionName\":\"f\",\"Payload\":{\"token.$\":\"$$.Task.Token\"}},"
             "\"Catch\":[{\"ErrorEquals\":[\"States.HeartbeatTimeout\"],\"Next\":\"Caught\"}],\"End\":true},"
             "\"Caught\":{\"Type\":\"Pass\",\"End\":true}}}");
    eng_exec *x = start(m, "{}", ENG_STANDARD);
    const struct eng_effect *inv = effect(x, ENG_EFF_INVOKE);
    CHECK(inv && inv->token && strlen(inv->token) > 16);
    if (inv && inv->token) {
        json_t *tok = json_object_get(json_object_get(inv->input, "Payload"), "token");
        CHECK(json_is_string(tok) && strcmp(json_string_value(tok), inv->token) == 0);
    }
    uint64_t task = inv ? inv->id : 0;
    /* a heartbeat at +8 s moves the deadline to +18 s */
    struct eng_event hb = {.kind = ENG_EV_HEARTBEAT, .id = task, .now_ns = 1008 * SEC};
    eng_step(x, &hb);
    const struct eng_effect *tm = effect(x, ENG_EFF_TIMER);
    CHECK(tm && tm->due_ns == 1018 * SEC);
    struct eng_event fire = {.kind = ENG_EV_TIMER, .id = tm ? tm->id : 0, .now_ns = 1018 * SEC};
    eng_step(x, &fire);
    CHECK(eng_status(x) == ENG_SUCCEEDED);
    CHECK_JSON(eng_output(x), "{\"Error\":\"States.HeartbeatTimeout\"}");
    eng_exec_free(x);
    asl_machine_free(m);
}

static void test_retry_backoff_timers(void)
{
    struct asl_machine *m = load("{\"StartAt\":\"T\",\"States\":{\"T\":{\"Type\":\"Task\","
                                 "\"Resource\":\"arn:aws:lambda:us-east-1:123456789012:function:f\","
                                 "\"Retry\":[{\"ErrorEquals\":[\"Boom\"],\"IntervalSeconds\":2,\"BackoffRate\":3,"
                                 "\"MaxAttempts\":2}],\"End\":true}}}");
    eng_exec *x = start(m, "{}", ENG_STANDARD);
    int64_t now = 1000 * SEC;
    int64_t expect_delays[] = {2 * SEC, 6 * SEC};
    for (int attempt = 0; attempt < 3; attempt++) {
        const struct eng_effect *inv = effect(x, ENG_EFF_INVOKE);
        CHECK(inv != NULL);
        if (!inv)
            break;
        struct eng_event fail = {.kind = ENG_EV_TASK_FAILED, .id = inv->id, .now_ns = now, .error = "Boom",
                                 .cause = "it broke"};
        eng_step(x, &fail);
        if (attempt == 2)
            break;
        const struct eng_effect *tm = effect(x, ENG_EFF_TIMER);
        CHECK(tm && tm->due_ns == now + expect_delays[attempt]);
        if (!tm)
            break;
        now = tm->due_ns;
        struct eng_event fire = {.kind = ENG_EV_TIMER, .id = tm->id, .now_ns = now};
        eng_step(x, &fire);
    }
    CHECK(eng_status(x) == ENG_FAILED);
    CHECK(eng_error(x) && strcmp(eng_error(x), "Boom") == 0);
    CHECK(eng_cause(x) && strcmp(eng_cause(x), "it broke") == 0);
    eng_exec_free(x);
    asl_machine_free(m);
}

static void test_stop(void)
{
    struct asl_machine *m = load("{\"StartAt\":\"W\",\"States\":{\"W\":{\"Type\":\"Wait\",\"Seconds\":60,\"End\":true}}}");
    eng_exec *x = start(m, "{}", ENG_STANDARD);
    CHECK(effect(x, ENG_EFF_TIMER) != NULL);
    struct eng_event stop = {.kind = ENG_EV_STOP, .now_ns = 1010 * SEC, .error = "UserStop", .cause = "enough"};
    eng_step(x, &stop);
    CHECK(eng_status(x) == ENG_ABORTED);
    CHECK(history_is(x, "ExecutionStarted WaitStateEntered ExecutionAborted"));
    eng_exec_free(x);
    asl_machine_free(m);
}

static void test_wait_uses_event_time(void)
{
    struct asl_machine *m = load("{\"StartAt\":\"W\",\"States\":{\"W\":{\"Type\":\"Wait\",\"Seconds\":30,\"End\":true}}}");
    eng_exec *x = start(m, "{\"k\":true}", ENG_STANDARD);
    const struct eng_effect *tm = effect(x, ENG_EFF_TIMER);
    CHECK(tm && tm->due_ns == 1030 * SEC);
    /* a timer id that the engine never armed is ignored */
    struct eng_event bogus = {.kind = ENG_EV_TIMER, .id = 999999, .now_ns = 1001 * SEC};
    eng_step(x, &bogus);
    CHECK(eng_status(x) == ENG_RUNNING);
    struct eng_event fire = {.kind = ENG_EV_TIMER, .id = tm ? tm->id : 0, .now_ns = 1030 * SEC};
    eng_step(x, &fire);
    CHECK(eng_status(x) == ENG_SUCCEEDED);
    json_t *h = eng_history(x);
    json_t *last = json_array_get(h, json_array_size(h) - 1);
    CHECK(json_real_value(json_object_get(last, "timestamp")) == 1030.0);
    eng_exec_free(x);
    asl_machine_free(m);
}

static void test_seed_determinism(void)
{
    struct asl_machine *m = load("{\"StartAt\":\"P\",\"States\":{\"P\":{\"Type\":\"Pass\",\"Parameters\":"
                                 "{\"u.$\":\"States.UUID()\",\"r.$\":\"States.MathRandom(0, 1000000)\"},\"End\":true}}}");
    eng_exec *a = start(m, "{}", ENG_EXPRESS), *b = start(m, "{}", ENG_EXPRESS);
    CHECK(eng_status(a) == ENG_SUCCEEDED);
    CHECK(val_equal(eng_output(a), eng_output(b)));
    eng_exec_free(a);
    eng_exec_free(b);
    asl_machine_free(m);
}

static void test_execution_timeout(void)
{
    struct asl_machine *m =
        load("{\"TimeoutSeconds\":5,\"StartAt\":\"W\",\"States\":{\"W\":{\"Type\":\"Wait\",\"Seconds\":60,\"End\":true}}}");
    eng_exec *x = start(m, "{}", ENG_STANDARD);
    size_t n;
    const struct eng_effect *e = eng_effects(x, &n);
    uint64_t exec_timer = 0;
    for (size_t i = 0; i < n; i++)
        if (e[i].kind == ENG_EFF_TIMER && e[i].due_ns == 1005 * SEC)
            exec_timer = e[i].id;
    CHECK(exec_timer != 0);
    struct eng_event fire = {.kind = ENG_EV_TIMER, .id = exec_timer, .now_ns = 1005 * SEC};
    eng_step(x, &fire);
    CHECK(eng_status(x) == ENG_TIMED_OUT);
    CHECK(eng_error(x) && strcmp(eng_error(x), "States.Timeout") == 0);
    CHECK(history_is(x, "ExecutionStarted WaitStateEntered ExecutionTimedOut"));
    eng_exec_free(x);
    asl_machine_free(m);
}

/* Drives x to its end answering every task with its input, and when
 * `reload` is set, saves and restores the execution (through JSON text)
 * before every event, the way a durable store would after a crash. */
static eng_exec *drive(struct asl_machine *m, eng_exec *x, int reload)
{
    struct pending_ev {
        int kind;
        uint64_t id;
        int64_t due;
        json_t *input;
    } q[256];
    size_t nq = 0;
    int64_t now = 1000 * SEC;
    for (int guard = 0; guard < 10000 && eng_status(x) == ENG_RUNNING; guard++) {
        if (reload) {
            json_t *snap = eng_snapshot(x);
            char *text = val_dump(snap, NULL);
            json_decref(snap);
            eng_exec_free(x);
            for (size_t i = 0; i < nq; i++)
                json_decref(q[i].input);
            nq = 0;
            json_t *back = json_loads(text, 0, NULL);
            free(text);
            val_err err = {0};
            x = eng_restore(m, back, &err);
            json_decref(back);
            CHECK(x != NULL);
            if (!x)
                return NULL;
            eng_outstanding(x);
        }
        size_t n;
        const struct eng_effect *e = eng_effects(x, &n);
        for (size_t i = 0; i < n && nq < 256; i++)
            q[nq++] = (struct pending_ev){e[i].kind, e[i].id, e[i].due_ns, json_incref(e[i].input)};
        if (!nq)
            break;
        /* tasks first, then the earliest timer */
        size_t pick = nq;
        for (size_t i = 0; i < nq && pick == nq; i++)
            if (q[i].kind == ENG_EFF_INVOKE)
                pick = i;
        if (pick == nq) {
            pick = 0;
            for (size_t i = 1; i < nq; i++)
                if (q[i].due < q[pick].due)
                    pick = i;
        }
        struct pending_ev pe = q[pick];
        q[pick] = q[--nq];
        struct eng_event ev = {.id = pe.id};
        if (pe.kind == ENG_EFF_INVOKE) {
            ev.kind = ENG_EV_TASK_SUCCEEDED;
            ev.output = pe.input;
        } else {
            ev.kind = ENG_EV_TIMER;
            if (pe.due > now)
                now = pe.due;
        }
        ev.now_ns = now;
        eng_step(x, &ev);
        json_decref(pe.input);
    }
    for (size_t i = 0; i < nq; i++)
        json_decref(q[i].input);
    return x;
}

static void test_snapshot_round_trip(void)
{
    struct asl_machine *m = load(
        "{\"StartAt\":\"A\",\"States\":{"
        "\"A\":{\"Type\":\"Pass\",\"Assign\":{\"n\":1},\"Next\":\"W\"},"
        "\"W\":{\"Type\":\"Wait\",\"Seconds\":3,\"Next\":\"M\"},"
        "\"M\":{\"Type\":\"Map\",\"ItemsPath\":\"$.items\",\"MaxConcurrency\":2,\"ItemProcessor\":{"
        "\"StartAt\":\"T\",\"States\":{\"T\":{\"Type\":\"Task\","
        "\"Resource\":\"arn:aws:lambda:us-east-1:123456789012:function:f\",\"Parameters\":{\"v.$\":\"$\",\"n.$\":\"$n\"},"
        "\"Next\":\"IW\"},\"IW\":{\"Type\":\"Wait\",\"Seconds\":1,\"End\":true}}},"
        "\"ResultPath\":\"$.out\",\"Next\":\"P\"},"
        "\"P\":{\"Type\":\"Parallel\",\"Branches\":[{\"StartAt\":\"PT\",\"States\":{\"PT\":{\"Type\":\"Task\","
        "\"Resource\":\"arn:aws:states:::lambda:invoke\",\"Parameters\":{\"FunctionName\":\"g\"},\"End\":true}}}],"
        "\"ResultPath\":\"$.par\",\"End\":true}}}");
    CHECK(m != NULL);
    if (!m)
        return;
    eng_exec *plain = drive(m, start(m, "{\"items\":[1,2,3]}", ENG_STANDARD), 0);
    eng_exec *reloaded = drive(m, start(m, "{\"items\":[1,2,3]}", ENG_STANDARD), 1);
    CHECK(plain && eng_status(plain) == ENG_SUCCEEDED);
    CHECK(reloaded && eng_status(reloaded) == ENG_SUCCEEDED);
    if (plain && reloaded) {
        CHECK(val_equal(eng_output(plain), eng_output(reloaded)));
        CHECK_JSON(json_object_get(eng_output(plain), "out"),
                   "[{\"v\":1,\"n\":1},{\"v\":2,\"n\":1},{\"v\":3,\"n\":1}]");
        char *a = types(plain), *b = types(reloaded);
        CHECK_MSG(strcmp(a, b) == 0, "%s\n vs %s", a, b);
        free(a);
        free(b);
        CHECK(eng_event_count(plain) == eng_event_count(reloaded));
    }
    eng_exec_free(plain);
    eng_exec_free(reloaded);
    asl_machine_free(m);
}

int main(void)
{
    test_snapshot_round_trip();
    test_task_success_and_result_path();
    test_task_timeout_then_late_answer_ignored();
    test_heartbeat();
    test_retry_backoff_timers();
    test_stop();
    test_wait_uses_event_time();
    test_seed_determinism();
    test_execution_timeout();
    TEST_DONE();
}
