/* test_load — the definition validator/compiler (src/asl/load.c): good
 * definitions compile to the right machine, bad ones give AWS's codes at
 * AWS's paths, hostile ones give an error instead of a crash. It also runs
 * the data-driven cases in tests/cases/validation (y_* load, n_* do not). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asl/asl.h"
#include "tap.h"

/* Loads JSON text; returns the machine or NULL, diagnostics in *d. */
static struct asl_machine *load(const char *text, asl_diags *d)
{
    return asl_load(text, strlen(text), d);
}

/* Whether d holds a problem with this code at this path (path NULL: any). */
static int has(const asl_diags *d, const char *code, const char *path)
{
    for (size_t i = 0; i < d->n; i++) {
        if (strcmp(d->v[i].code, code) != 0)
            continue;
        if (!path || (d->v[i].path && strcmp(d->v[i].path, path) == 0))
            return 1;
    }
    return 0;
}

static int has_msg(const asl_diags *d, const char *needle)
{
    char *m = asl_diags_message(d);
    int ok = strstr(m, needle) != NULL;
    free(m);
    return ok;
}

static void dump(const asl_diags *d)
{
    char *m = asl_diags_message(d);
    fprintf(stderr, "  diags: %s\n", m);
    free(m);
}

/* Expects text to be rejected with code at path (and, if given, a message
 * containing needle). */
static void reject(const char *text, const char *code, const char *path, const char *needle)
{
    asl_diags d = {0};
    struct asl_machine *m = load(text, &d);
    int ok = !m && has(&d, code, path) && (!needle || has_msg(&d, needle));
    CHECK_MSG(ok, "expected %s at %s%s%s for %s", code, path ? path : "(any)",
              needle ? " saying " : "", needle ? needle : "", text);
    if (!ok)
        dump(&d);
    asl_machine_free(m);
    asl_diags_free(&d);
}

static struct asl_machine *accept(const char *text)
{
    asl_diags d = {0};
    struct asl_machine *m = load(text, &d);
    CHECK_MSG(m != NULL && d.n == 0, "expected to load: %s", text);
    if (!m)
        dump(&d);
    asl_diags_free(&d);
    return m;
}

/* ------------------------------------------------------------ good ones */

static void test_compiles_order_workflow(void)
{
    struct asl_machine *m = accept(
        "{\"Comment\":\"orders\",\"StartAt\":\"Validate\",\"TimeoutSeconds\":300,\"Version\":\"1.0\","
        "\"States\":{"
        "\"Validate\":{\"Type\":\"Task\",\"Resource\":\"arn:aws:lambda:us-east-1:123456789012:function:v\","
        "  \"InputPath\":\"$.order\",\"ResultPath\":\"$.valid\",\"OutputPath\":null,"
        "  \"TimeoutSeconds\":30,\"HeartbeatSeconds\":10,"
        "  \"Retry\":[{\"ErrorEquals\":[\"Lambda.ServiceException\"]},"
        "           {\"ErrorEquals\":[\"States.ALL\"],\"IntervalSeconds\":2,\"MaxAttempts\":5,"
        "            \"BackoffRate\":1.5,\"MaxDelaySeconds\":60,\"JitterStrategy\":\"FULL\"}],"
        "  \"Catch\":[{\"ErrorEquals\":[\"States.ALL\"],\"Next\":\"Failed\",\"ResultPath\":\"$.error\"}],"
        "  \"Next\":\"Route\"},"
        "\"Route\":{\"Type\":\"Choice\",\"Choices\":[{\"Variable\":\"$.valid\",\"BooleanEquals\":true,"
        "  \"Next\":\"Charge\",\"Assign\":{\"ok\":true}}],\"Default\":\"Failed\"},"
        "\"Charge\":{\"Type\":\"Pass\",\"Result\":{\"charged\":true},\"ResultPath\":null,"
        "  \"Parameters\":{\"exec.$\":\"$$.Execution.Id\"},\"Next\":\"Later\"},"
        "\"Later\":{\"Type\":\"Wait\",\"Timestamp\":\"2030-01-02T03:04:05Z\",\"Next\":\"Done\"},"
        "\"Done\":{\"Type\":\"Succeed\"},"
        "\"Failed\":{\"Type\":\"Fail\",\"Error\":\"OrderFailed\",\"CausePath\":\"$.error.Cause\"}}}");
    if (!m)
        return;
    CHECK(m->n_states == 6);
    CHECK(m->start == asl_state_index(m, "Validate"));
    CHECK(m->timeout_seconds == 300);
    CHECK(m->definition && json_is_object(m->definition));
    CHECK(m->parent == NULL);

    const struct asl_state *v = &m->states[asl_state_index(m, "Validate")];
    CHECK(v->type == ASL_TASK);
    CHECK(strcmp(v->resource, "arn:aws:lambda:us-east-1:123456789012:function:v") == 0);
    CHECK(v->next == asl_state_index(m, "Route") && !v->end);
    CHECK(v->input_path && !v->input_path_null);
    CHECK(!v->output_path && v->output_path_null);
    CHECK(v->result_path && !v->result_path_null);
    CHECK(v->timeout_seconds.set && v->timeout_seconds.value == 30 && !v->timeout_seconds.path);
    CHECK(v->heartbeat_seconds.set && v->heartbeat_seconds.value == 10);
    CHECK(v->n_retry == 2);
    CHECK(v->retry[0].interval_seconds == 1 && v->retry[0].max_attempts == 3 &&
          v->retry[0].backoff_rate == 2.0 && v->retry[0].max_delay_seconds == 0 &&
          !v->retry[0].jitter_full && !v->retry[0].errors.all);
    CHECK(v->retry[1].interval_seconds == 2 && v->retry[1].max_attempts == 5 &&
          v->retry[1].backoff_rate == 1.5 && v->retry[1].max_delay_seconds == 60 &&
          v->retry[1].jitter_full && v->retry[1].errors.all);
    CHECK(v->n_catch == 1 && v->catch_[0].next == asl_state_index(m, "Failed"));
    CHECK(v->catch_[0].result_path != NULL);
    CHECK(!v->uses_context);

    const struct asl_state *r = &m->states[asl_state_index(m, "Route")];
    CHECK(r->type == ASL_CHOICE && r->n_choices == 1);
    CHECK(r->choices[0].next == asl_state_index(m, "Charge"));
    CHECK(r->choices[0].cond != NULL && r->choices[0].assign != NULL);
    CHECK(r->default_next == asl_state_index(m, "Failed"));
    CHECK(r->next == -1 && !r->end);

    const struct asl_state *c = &m->states[asl_state_index(m, "Charge")];
    CHECK_JSON(c->result, "{\"charged\":true}");
    CHECK(c->result_path_null && c->parameters && c->uses_context);

    const struct asl_state *w = &m->states[asl_state_index(m, "Later")];
    CHECK(w->wait_timestamp && strcmp(w->wait_timestamp, "2030-01-02T03:04:05Z") == 0);

    const struct asl_state *dn = &m->states[asl_state_index(m, "Done")];
    CHECK(dn->type == ASL_SUCCEED && dn->end && dn->next == -1);
    const struct asl_state *f = &m->states[asl_state_index(m, "Failed")];
    CHECK(f->type == ASL_FAIL && f->end && strcmp(f->error, "OrderFailed") == 0);
    CHECK(f->cause_path != NULL && f->cause == NULL);
    asl_machine_free(m);
}

static void test_compiles_parallel_and_map(void)
{
    struct asl_machine *m = accept(
        "{\"StartAt\":\"P\",\"States\":{"
        "\"P\":{\"Type\":\"Parallel\",\"Branches\":["
        "  {\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Pass\",\"End\":true}}},"
        "  {\"StartAt\":\"B\",\"Comment\":\"b\",\"States\":{\"B\":{\"Type\":\"Wait\",\"SecondsPath\":\"$.s\",\"End\":true}}}],"
        "  \"ResultSelector\":{\"first.$\":\"$[0]\"},\"Next\":\"M\"},"
        "\"M\":{\"Type\":\"Map\",\"ItemsPath\":\"$.items\",\"MaxConcurrency\":4,"
        "  \"ToleratedFailurePercentage\":12.5,\"Label\":\"Orders\","
        "  \"ItemSelector\":{\"i.$\":\"$$.Map.Item.Index\"},"
        "  \"ItemProcessor\":{\"ProcessorConfig\":{\"Mode\":\"INLINE\"},\"StartAt\":\"X\","
        "    \"States\":{\"X\":{\"Type\":\"Pass\",\"End\":true}}},\"End\":true}}}");
    if (!m)
        return;
    const struct asl_state *p = &m->states[0];
    CHECK(p->type == ASL_PARALLEL && p->n_branches == 2);
    CHECK(p->branches[0]->parent == m && p->branches[1]->parent == m);
    CHECK(p->branches[1]->states[0].wait_seconds.set && p->branches[1]->states[0].wait_seconds.path);
    CHECK(p->result_selector != NULL);
    const struct asl_state *mp = &m->states[1];
    CHECK(mp->type == ASL_MAP && mp->processor && mp->processor->parent == m);
    CHECK(mp->processor->n_states == 1 && mp->processor->states[0].end);
    CHECK(mp->items_path && mp->parameters && mp->uses_context);
    CHECK(mp->max_concurrency.set && mp->max_concurrency.value == 4);
    CHECK(mp->tolerated_failure_percentage.set && mp->tolerated_failure_percentage.value == 12.5);
    CHECK(mp->label && strcmp(mp->label, "Orders") == 0 && !mp->distributed);
    asl_machine_free(m);

    /* legacy Iterator + Parameters, and distributed mode */
    m = accept("{\"StartAt\":\"M\",\"States\":{\"M\":{\"Type\":\"Map\",\"Parameters\":{\"v.$\":\"$$.Map.Item.Value\"},"
               "\"Iterator\":{\"StartAt\":\"X\",\"States\":{\"X\":{\"Type\":\"Succeed\"}}},\"Next\":\"D\"},"
               "\"D\":{\"Type\":\"Map\",\"ItemProcessor\":{\"ProcessorConfig\":{\"Mode\":\"DISTRIBUTED\","
               "\"ExecutionType\":\"EXPRESS\"},\"StartAt\":\"Y\",\"States\":{\"Y\":{\"Type\":\"Succeed\"}}},"
               "\"ItemReader\":{\"Resource\":\"arn:aws:states:::s3:getObject\",\"ReaderConfig\":{\"InputType\":\"JSON\"},"
               "\"Parameters\":{\"Bucket\":\"b\",\"Key\":\"k\"}},\"ItemBatcher\":{\"MaxItemsPerBatch\":10},"
               "\"ResultWriter\":{\"Resource\":\"arn:aws:states:::s3:putObject\",\"Parameters\":{\"Bucket\":\"b\",\"Prefix\":\"p\"}},"
               "\"End\":true}}}");
    if (!m)
        return;
    CHECK(m->states[0].parameters != NULL && m->states[0].processor != NULL);
    CHECK(m->states[1].distributed && m->states[1].item_reader && m->states[1].item_batcher &&
          m->states[1].result_writer);
    asl_machine_free(m);
}

static void test_misc_api(void)
{
    CHECK(strcmp(asl_state_type_name(ASL_TASK), "Task") == 0);
    CHECK(strcmp(asl_state_type_name(ASL_MAP), "Map") == 0);
    CHECK(asl_state_type_name(99) != NULL);
    CHECK(asl_state_index(NULL, "x") == -1);

    /* d may be NULL: the answer is still right */
    const char *good = "{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Pass\",\"End\":true}}}";
    struct asl_machine *m = asl_load(good, strlen(good), NULL);
    CHECK(m != NULL);
    CHECK(asl_state_index(m, "A") == 0 && asl_state_index(m, "B") == -1);
    asl_machine_free(m);
    const char *bad = "{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Pass\"}}}";
    CHECK(asl_load(bad, strlen(bad), NULL) == NULL);
    asl_machine_free(NULL);

    /* asl_load_json borrows its argument */
    json_t *def = json_loads(good, 0, NULL);
    m = asl_load_json(def, NULL);
    CHECK(m && m->definition == def && def->refcount == 2);
    asl_machine_free(m);
    CHECK(def->refcount == 1);
    json_decref(def);
}

/* ---------------------------------------------------------------- errors */

static void test_errlist_match(void)
{
    char *all[] = {"States.ALL"};
    char *tf[] = {"States.TaskFailed"};
    char *named[] = {"Lambda.Unknown", "MyError"};
    char *rt[] = {"States.Runtime"};
    struct asl_errlist la = {all, 1, 1}, lt = {tf, 1, 0}, ln = {named, 2, 0}, lr = {rt, 1, 0};
    CHECK(asl_errlist_match(&la, "MyError"));
    CHECK(asl_errlist_match(&la, "States.Timeout"));
    CHECK(asl_errlist_match(&la, "States.TaskFailed"));
    CHECK(asl_errlist_match(&la, "States.DataLimitExceeded")); /* the corpus: caught */
    CHECK(!asl_errlist_match(&la, "States.Runtime"));
    CHECK(asl_errlist_match(&lt, "Exception"));
    CHECK(asl_errlist_match(&lt, "States.TaskFailed"));
    CHECK(asl_errlist_match(&lt, "States.HeartbeatTimeout"));
    CHECK(!asl_errlist_match(&lt, "States.Timeout"));
    CHECK(!asl_errlist_match(&lt, "States.Runtime"));
    CHECK(!asl_errlist_match(&lt, "States.DataLimitExceeded"));
    CHECK(asl_errlist_match(&ln, "MyError"));
    CHECK(asl_errlist_match(&ln, "Lambda.Unknown"));
    CHECK(!asl_errlist_match(&ln, "myerror")); /* names are case-sensitive */
    CHECK(!asl_errlist_match(&ln, "States.TaskFailed"));
    CHECK(!asl_errlist_match(&lr, "States.Runtime")); /* never catchable */
    CHECK(!asl_errlist_match(NULL, "X"));
}

static void test_rejects_with_aws_codes(void)
{
    /* the message from AWS quoted in localstack#11978 */
    asl_diags d = {0};
    const char *t = "{\"StartAt\":\"pass1\",\"States\":{\"pass1\":{\"Type\":\"Pass\",\"Next\":\"pass3\"},"
                    "\"pass2\":{\"Type\":\"Pass\",\"End\":true}}}";
    CHECK(load(t, &d) == NULL);
    char *msg = asl_diags_message(&d);
    CHECK_MSG(strcmp(msg, "Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET: Missing 'Next' "
                          "target: pass3 at /States/pass1/Next, MISSING_TRANSITION_TARGET: State \"pass2\" "
                          "is not reachable. at /States/pass2'") == 0,
              "got %s", msg);
    free(msg);
    asl_diags_free(&d);

    /* no terminal state: reported alone, without a place */
    t = "{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Pass\",\"Next\":\"B\"},"
        "\"B\":{\"Type\":\"Pass\",\"Next\":\"A\"},\"U\":{\"Type\":\"Pass\",\"Next\":\"A\"}}}";
    CHECK(load(t, &d) == NULL);
    CHECK(d.n == 1 && has(&d, "MISSING_END_STATE", NULL) && d.v[0].path == NULL);
    CHECK(has_msg(&d, "Workflow has no terminal state"));
    asl_diags_free(&d);

    reject("{\"StartAt\":\"Nope\",\"States\":{\"A\":{\"Type\":\"Pass\",\"End\":true}}}", "MISSING_TRANSITION_TARGET",
           "/StartAt", "Missing 'Next' target: Nope");
    reject("{\"StartAt\":\"C\",\"States\":{\"C\":{\"Type\":\"Choice\",\"Choices\":[{\"Variable\":\"$.x\","
           "\"IsPresent\":true,\"Next\":\"Ghost\"}],\"Default\":\"Z\"},\"Z\":{\"Type\":\"Pass\",\"End\":true}}}",
           "MISSING_TRANSITION_TARGET", "/States/C/Choices[0]/Next", "Missing 'Next' target: Ghost");
    reject("{\"StartAt\":\"C\",\"States\":{\"C\":{\"Type\":\"Choice\",\"Choices\":[{\"Variable\":\"$.x\","
           "\"IsPresent\":true,\"Next\":\"Z\"}],\"Default\":\"Ghost\"},\"Z\":{\"Type\":\"Pass\",\"End\":true}}}",
           "MISSING_TRANSITION_TARGET", "/States/C/Default", NULL);
    reject("{\"StartAt\":\"T\",\"States\":{\"T\":{\"Type\":\"Task\",\"Resource\":\"arn:aws:states:::lambda:invoke\","
           "\"Catch\":[{\"ErrorEquals\":[\"States.ALL\"],\"Next\":\"Ghost\"}],\"End\":true}}}",
           "MISSING_TRANSITION_TARGET", "/States/T/Catch[0]/Next", NULL);
    /* nested scopes: a branch cannot jump out, and its states are checked too */
    reject("{\"StartAt\":\"P\",\"States\":{\"P\":{\"Type\":\"Parallel\",\"Branches\":[{\"StartAt\":\"W\","
           "\"States\":{\"W\":{\"Type\":\"Pass\",\"Next\":\"P\"}}}],\"End\":true}}}",
           "MISSING_TRANSITION_TARGET", "/States/P/Branches[0]/States/W/Next", NULL);
    reject("{\"StartAt\":\"M\",\"States\":{\"M\":{\"Type\":\"Map\",\"ItemProcessor\":{\"StartAt\":\"W\","
           "\"States\":{\"W\":{\"Type\":\"Pass\",\"End\":true},\"Ghost\":{\"Type\":\"Pass\",\"End\":true}}},"
           "\"End\":true}}}",
           "MISSING_TRANSITION_TARGET", "/States/M/ItemProcessor/States/Ghost", "State \"Ghost\" is not reachable.");

    /* names are unique across the whole machine */
    reject("{\"StartAt\":\"M\",\"States\":{\"M\":{\"Type\":\"Map\",\"Iterator\":{\"StartAt\":\"Final\","
           "\"States\":{\"Final\":{\"Type\":\"Pass\",\"End\":true}}},\"Next\":\"Final\"},"
           "\"Final\":{\"Type\":\"Pass\",\"End\":true}}}",
           "DUPLICATE_STATE_NAME", NULL, "'Final'");
}

static void test_rejects_schema(void)
{
    const char *S = "SCHEMA_VALIDATION_FAILED";
    reject("{\"StartAt\":\"X\",\"States\":{\"X\":{\"Type\":\"Pass\",\"TimeoutSeconds\":5,\"End\":true}}}", S,
           "/States/X", "Field 'TimeoutSeconds' is not supported");
    reject("{\"StartAt\":\"X\",\"States\":{\"X\":{\"Type\":\"Wait\",\"Seconds\":1,\"End\":true,"
           "\"Retry\":[{\"ErrorEquals\":[\"States.ALL\"]}]}}}", S, "/States/X", "Field 'Retry' is not supported");
    reject("{\"StartAt\":\"X\",\"Coment\":\"typo\",\"States\":{\"X\":{\"Type\":\"Pass\",\"End\":true}}}", S, "",
           "Field 'Coment' is not supported");
    reject("{\"StartAt\":\"X\",\"States\":{\"X\":{\"Type\":\"Pass\"}}}", S, "/States/X",
           "This object should have only one of the following fields: [Next, End]");
    reject("{\"StartAt\":\"X\",\"States\":{\"X\":{\"Type\":\"Pass\",\"End\":true,\"Next\":\"X\"}}}", S, "/States/X",
           "There should only be one of the following fields: [Next, End]");
    reject("{\"StartAt\":\"X\",\"States\":{\"X\":{\"End\":true}}}", S, "/States/X", "These fields are required: [Type]");
    reject("{\"StartAt\":\"X\",\"States\":{\"X\":{\"Type\":\"Taks\",\"End\":true}}}", S, "/States/X/Type",
           "Value should be one of the following");
    reject("{\"StartAt\":\"X\",\"States\":{\"X\":{\"Type\":\"Task\",\"End\":true}}}", S, "/States/X",
           "These fields are required: [Resource]");
    reject("{\"StartAt\":\"X\",\"States\":{\"X\":{\"Type\":\"Task\",\"Resource\":5,\"End\":true}}}", S,
           "/States/X/Resource", "Expected value of type [STRING]");
    reject("{\"StartAt\":\"X\",\"States\":{\"X\":{\"Type\":\"Task\",\"Resource\":\"arn:aws:states:::lambda:invoke\","
           "\"TimeoutSeconds\":10,\"HeartbeatSeconds\":10,\"End\":true}}}", S, "/States/X/HeartbeatSeconds", NULL);
    reject("{\"StartAt\":\"X\",\"States\":{\"X\":{\"Type\":\"Task\",\"Resource\":\"arn:aws:states:::lambda:invoke\","
           "\"TimeoutSeconds\":10,\"TimeoutSecondsPath\":\"$.t\",\"End\":true}}}", S, "/States/X/TimeoutSeconds",
           "There should only be one of the following fields: [TimeoutSeconds, TimeoutSecondsPath]");
    reject("{\"StartAt\":\"X\",\"States\":{\"X\":{\"Type\":\"Task\",\"Resource\":\"arn:aws:states:::lambda:invoke\","
           "\"TimeoutSeconds\":1.5,\"End\":true}}}", S, "/States/X/TimeoutSeconds", "Expected value of type [INTEGER]");
    reject("{\"StartAt\":\"X\",\"States\":{\"X\":{\"Type\":\"Task\",\"Resource\":\"arn:aws:states:::lambda:invoke\","
           "\"TimeoutSeconds\":0,\"End\":true}}}", S, "/States/X/TimeoutSeconds", "Minimum value is 1");
    reject("{\"StartAt\":\"X\",\"States\":{\"X\":{\"Type\":\"Wait\",\"Seconds\":-1,\"End\":true}}}", S,
           "/States/X/Seconds", "Minimum value is 0");
    reject("{\"StartAt\":\"X\",\"States\":{\"X\":{\"Type\":\"Wait\",\"Seconds\":1e30,\"End\":true}}}", S,
           "/States/X/Seconds", "Maximum value is 99999999");
    reject("{\"StartAt\":\"X\",\"States\":{\"X\":{\"Type\":\"Wait\",\"End\":true}}}", S, "/States/X", NULL);
    reject("{\"StartAt\":\"X\",\"States\":{\"X\":{\"Type\":\"Wait\",\"Seconds\":1,\"SecondsPath\":\"$.s\",\"End\":true}}}",
           S, "/States/X", "There should only be one of the following fields");
    reject("{\"StartAt\":\"X\",\"States\":{\"X\":{\"Type\":\"Wait\",\"Timestamp\":\"2020-01-01 00:00:00\",\"End\":true}}}",
           S, "/States/X/Timestamp", NULL);
    reject("{\"StartAt\":\"X\",\"States\":{\"X\":{\"Type\":\"Fail\",\"Error\":\"E\",\"ErrorPath\":\"$.e\"}}}", S,
           "/States/X/Error", "There should only be one of the following fields: [Error, ErrorPath]");
    reject("{\"StartAt\":\"X\",\"States\":{\"X\":{\"Type\":\"Choice\",\"Choices\":[]}}}", S, "/States/X/Choices",
           "Value cannot be empty");
    reject("{\"StartAt\":\"X\",\"States\":{\"X\":{\"Type\":\"Choice\",\"Choices\":[{\"Variable\":\"$.a\","
           "\"IsNull\":true}],\"Default\":\"Y\"},\"Y\":{\"Type\":\"Succeed\"}}}", S, "/States/X/Choices[0]",
           "These fields are required: [Next]");
    reject("{\"StartAt\":\"X\",\"States\":{\"X\":{\"Type\":\"Task\",\"Resource\":\"arn:aws:states:::lambda:invoke\","
           "\"Retry\":[{\"ErrorEquals\":[\"States.ALL\",\"E\"]}],\"End\":true}}}", S, "/States/X/Retry[0]/ErrorEquals",
           "States.ALL must appear alone and at end of list");
    reject("{\"StartAt\":\"X\",\"States\":{\"X\":{\"Type\":\"Task\",\"Resource\":\"arn:aws:states:::lambda:invoke\","
           "\"Catch\":[{\"ErrorEquals\":[\"States.ALL\"],\"Next\":\"Y\"},{\"ErrorEquals\":[\"E\"],\"Next\":\"Y\"}],"
           "\"End\":true},\"Y\":{\"Type\":\"Succeed\"}}}", S, "/States/X/Catch[0]/ErrorEquals", "States.ALL");
    reject("{\"StartAt\":\"X\",\"States\":{\"X\":{\"Type\":\"Task\",\"Resource\":\"arn:aws:states:::lambda:invoke\","
           "\"Retry\":[{\"ErrorEquals\":[]}],\"End\":true}}}", S, "/States/X/Retry[0]/ErrorEquals", "Value cannot be empty");
    reject("{\"StartAt\":\"X\",\"States\":{\"X\":{\"Type\":\"Task\",\"Resource\":\"arn:aws:states:::lambda:invoke\","
           "\"Retry\":[{\"ErrorEquals\":[\"E\"],\"BackoffRate\":0.5,\"JitterStrategy\":\"SOME\"}],\"End\":true}}}",
           S, "/States/X/Retry[0]/JitterStrategy", "Value should be one of the following: [NONE, FULL]");
    reject("{\"StartAt\":\"X\",\"States\":{\"X\":{\"Type\":\"Task\",\"Resource\":\"arn:aws:states:::lambda:invoke\","
           "\"Retry\":[{\"ErrorEquals\":[\"E\"],\"BackoffRate\":0.5}],\"End\":true}}}",
           S, "/States/X/Retry[0]/BackoffRate", "Minimum value is 1");
    reject("{\"StartAt\":\"X\",\"States\":{\"X\":{\"Type\":\"Pass\",\"ResultPath\":\"$.a[*]\",\"End\":true}}}", S,
           "/States/X/ResultPath", "Reference Path");
    reject("{\"StartAt\":\"X\",\"States\":{\"X\":{\"Type\":\"Pass\",\"ResultPath\":\"$$.Execution\",\"End\":true}}}", S,
           "/States/X/ResultPath", NULL);
    reject("{\"StartAt\":\"X\",\"States\":{\"X\":{\"Type\":\"Map\",\"MaxConcurrency\":-1,\"ItemProcessor\":"
           "{\"StartAt\":\"P\",\"States\":{\"P\":{\"Type\":\"Pass\",\"End\":true}}},\"End\":true}}}", S,
           "/States/X/MaxConcurrency", "Minimum value is 0");
    reject("{\"StartAt\":\"X\",\"States\":{\"X\":{\"Type\":\"Map\",\"ItemProcessor\":{\"ProcessorConfig\":"
           "{\"Mode\":\"DISTRIBUTED\"},\"StartAt\":\"P\",\"States\":{\"P\":{\"Type\":\"Pass\",\"End\":true}}},\"End\":true}}}",
           S, "/States/X/ItemProcessor/ProcessorConfig", "These fields are required: [ExecutionType]");
    reject("{\"StartAt\":\"X\",\"States\":{\"X\":{\"Type\":\"Map\",\"ItemProcessor\":{\"QueryLanguage\":\"JSONPath\","
           "\"StartAt\":\"P\",\"States\":{\"P\":{\"Type\":\"Pass\",\"End\":true}}},\"End\":true}}}",
           S, "/States/X/ItemProcessor", "Field 'QueryLanguage' is not supported");
    reject("{\"StartAt\":\"X\",\"States\":{\"X\":{\"Type\":\"Map\",\"Label\":\"has space\",\"ItemProcessor\":"
           "{\"StartAt\":\"P\",\"States\":{\"P\":{\"Type\":\"Pass\",\"End\":true}}},\"End\":true}}}",
           "INVALID_LABEL_NAME", "/States/X/Label", NULL);
    reject("{\"StartAt\":\"X\",\"States\":{\"X\":{\"Type\":\"Pass\",\"Output\":{},\"End\":true}}}", S, "/States/X",
           "The QueryLanguage is set to 'JSONPath', but field 'Output' is only supported for the 'JSONata' QueryLanguage");
    reject("{\"QueryLanguage\":\"JSONata\",\"StartAt\":\"X\",\"States\":{\"X\":{\"Type\":\"Pass\",\"End\":true}}}", S,
           "/QueryLanguage", "JSONata");
    reject("{\"StartAt\":\"X\",\"States\":{\"X\":{\"Type\":\"Pass\",\"QueryLanguage\":\"JSONata\",\"End\":true}}}", S,
           "/States/X/QueryLanguage", "not supported by stepd yet");
    reject("{\"StartAt\":\"X\",\"Version\":\"2.0\",\"States\":{\"X\":{\"Type\":\"Pass\",\"End\":true}}}", S,
           "/Version", NULL);
    reject("{\"StartAt\":\"X\",\"States\":{\"X\":[1,2]}}", S, "/States/X", "Expected value of type [OBJECT]");
    reject("{\"StartAt\":\"X\",\"States\":[]}", S, "/States", NULL);
    reject("[1,2,3]", S, NULL, "Expected value of type [OBJECT]");
}

/* Every problem is collected, not only the first. */
static void test_collects_every_problem(void)
{
    asl_diags d = {0};
    const char *t = "{\"StartAt\":\"A\",\"States\":{"
                    "\"A\":{\"Type\":\"Task\",\"Resource\":\"arn:aws:states:::lambda:invoke\",\"Next\":\"B\","
                    "  \"TimeoutSeconds\":-3,\"Catch\":[{\"ErrorEquals\":[\"X\"],\"Next\":\"Nowhere\"}]},"
                    "\"B\":{\"Type\":\"Pass\",\"Result\":1,\"Bogus\":true,\"End\":true},"
                    "\"C\":{\"Type\":\"Succeed\"}}}";
    CHECK(load(t, &d) == NULL);
    CHECK(has(&d, "SCHEMA_VALIDATION_FAILED", "/States/A/TimeoutSeconds"));
    CHECK(has(&d, "SCHEMA_VALIDATION_FAILED", "/States/B"));
    CHECK(has(&d, "MISSING_TRANSITION_TARGET", "/States/A/Catch[0]/Next"));
    CHECK(has(&d, "MISSING_TRANSITION_TARGET", "/States/C"));
    CHECK(d.n == 4);
    if (d.n != 4)
        dump(&d);
    asl_diags_free(&d);
}

/* ---------------------------------------------------------------- hostile */

static void test_hostile(void)
{
    asl_diags d = {0};
    /* malformed JSON: line and column */
    CHECK(load("{\"StartAt\": \"A\",\n  \"States\": {,}}", &d) == NULL);
    CHECK(has(&d, "INVALID_JSON_DESCRIPTION", NULL) && has_msg(&d, "line 2"));
    asl_diags_free(&d);
    CHECK(load("", &d) == NULL && has(&d, "MISSING_DESCRIPTION", NULL));
    asl_diags_free(&d);
    CHECK(load("  \n ", &d) == NULL && has(&d, "MISSING_DESCRIPTION", NULL));
    asl_diags_free(&d);
    CHECK(asl_load(NULL, 0, &d) == NULL && d.n == 1);
    asl_diags_free(&d);
    CHECK(asl_load_json(NULL, &d) == NULL && d.n == 1);
    asl_diags_free(&d);
    /* a number too big for a double, and invalid UTF-8 */
    CHECK(load("{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Wait\",\"Seconds\":1e400,\"End\":true}}}", &d) == NULL);
    CHECK(has(&d, "INVALID_JSON_DESCRIPTION", NULL));
    asl_diags_free(&d);
    CHECK(load("{\"StartAt\":\"\xff\xfe\",\"States\":{}}", &d) == NULL);
    CHECK(has(&d, "INVALID_JSON_DESCRIPTION", NULL));
    asl_diags_free(&d);
    /* a NUL inside the text */
    CHECK(asl_load("{\"StartAt\":\"A\"\0}", 16, &d) == NULL && d.n >= 1);
    asl_diags_free(&d);

    /* 10,000 Parallels deep as text: the JSON parser refuses it */
    val_buf b = {0};
    int deep = 10000;
    for (int i = 0; i < deep; i++)
        val_buf_puts(&b, "{\"StartAt\":\"P\",\"States\":{\"P\":{\"Type\":\"Parallel\",\"End\":true,\"Branches\":[");
    val_buf_puts(&b, "{\"StartAt\":\"L\",\"States\":{\"L\":{\"Type\":\"Pass\",\"End\":true}}}");
    for (int i = 0; i < deep; i++)
        val_buf_puts(&b, "]}}}");
    CHECK(asl_load(b.p, b.len, &d) == NULL);
    CHECK(has(&d, "INVALID_JSON_DESCRIPTION", NULL));
    asl_diags_free(&d);
    val_buf_free(&b);

    /* as deep as the parser allows, built in memory: the loader's own limit */
    json_t *leaf = json_pack("{s:s, s:{s:{s:s, s:b}}}", "StartAt", "L", "States", "L", "Type", "Pass", "End", 1);
    json_t *cur = leaf;
    for (int i = 0; i < 400; i++)
        cur = json_pack("{s:s, s:{s:{s:s, s:b, s:[o]}}}", "StartAt", "P", "States", "P", "Type", "Parallel",
                        "End", 1, "Branches", cur);
    CHECK(asl_load_json(cur, &d) == NULL);
    CHECK(has(&d, "TOO_DEEPLY_NESTED", NULL));
    asl_diags_free(&d);
    json_decref(cur);

    /* 50 deep is fine (names must differ: they are unique machine-wide) */
    cur = json_pack("{s:s, s:{s:{s:s, s:b}}}", "StartAt", "L", "States", "L", "Type", "Pass", "End", 1);
    for (int i = 0; i < 50; i++) {
        char name[16];
        snprintf(name, sizeof name, "P%d", i);
        cur = json_pack("{s:s, s:{s:{s:s, s:b, s:[o]}}}", "StartAt", name, "States", name, "Type", "Parallel",
                        "End", 1, "Branches", cur);
    }
    struct asl_machine *m = asl_load_json(cur, &d);
    CHECK(m != NULL);
    if (!m)
        dump(&d);
    asl_machine_free(m);
    asl_diags_free(&d);
    json_decref(cur);

    /* many states: no quadratic blow-up, one long chain */
    b = (val_buf){0};
    val_buf_puts(&b, "{\"StartAt\":\"S0\",\"States\":{");
    int n = 20000;
    for (int i = 0; i < n; i++) {
        if (i + 1 < n)
            val_buf_printf(&b, "\"S%d\":{\"Type\":\"Pass\",\"Next\":\"S%d\"},", i, i + 1);
        else
            val_buf_printf(&b, "\"S%d\":{\"Type\":\"Succeed\"}", i);
    }
    val_buf_puts(&b, "}}");
    m = asl_load(b.p, b.len, &d);
    CHECK(m && m->n_states == (size_t)n && m->states[0].next == 1);
    asl_machine_free(m);
    asl_diags_free(&d);
    val_buf_free(&b);
}

/* ------------------------------------------------------- data-driven cases */

static int str_in_array(json_t *arr, const char *s)
{
    for (size_t i = 0; i < json_array_size(arr); i++)
        if (json_is_string(json_array_get(arr, i)) && strcmp(json_string_value(json_array_get(arr, i)), s) == 0)
            return 1;
    return 0;
}

static void run_case(const char *dir, const char *file)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    json_error_t je;
    json_t *c = json_load_file(path, 0, &je);
    CHECK_MSG(c != NULL, "%s: %s", path, je.text);
    if (!c)
        return;
    int must_load = file[0] == 'y';
    json_t *def = json_object_get(c, "definition");
    json_t *txt = json_object_get(c, "definition_text");
    CHECK_MSG(def || json_is_string(txt), "%s: needs definition or definition_text", file);
    asl_diags d = {0};
    struct asl_machine *m = NULL;
    if (def)
        m = asl_load_json(def, &d);
    else if (json_is_string(txt))
        m = asl_load(json_string_value(txt), json_string_length(txt), &d);
    if (must_load) {
        CHECK_MSG(m != NULL, "%s should load", file);
        if (!m)
            dump(&d);
    } else {
        CHECK_MSG(m == NULL, "%s should be rejected", file);
        char *msg = asl_diags_message(&d);
        json_t *codes = json_object_get(c, "expect_codes");
        for (size_t i = 0; i < json_array_size(codes); i++) {
            const char *code = json_string_value(json_array_get(codes, i));
            CHECK_MSG(code && has(&d, code, NULL), "%s: expected code %s in %s", file, code ? code : "?", msg);
        }
        /* and no code the case does not expect */
        for (size_t i = 0; codes && i < d.n; i++)
            CHECK_MSG(str_in_array(codes, d.v[i].code), "%s: unexpected %s: %s", file, d.v[i].code,
                      d.v[i].message);
        json_t *needles = json_object_get(c, "expect_message_contains");
        for (size_t i = 0; i < json_array_size(needles); i++) {
            const char *s = json_string_value(json_array_get(needles, i));
            CHECK_MSG(s && strstr(msg, s), "%s: expected message to contain \"%s\", got %s", file, s ? s : "?",
                      msg);
        }
        json_t *paths = json_object_get(c, "expect_paths");
        for (size_t i = 0; i < json_array_size(paths); i++) {
            const char *p = json_string_value(json_array_get(paths, i));
            int found = 0;
            for (size_t j = 0; p && j < d.n; j++)
                found |= d.v[j].path && strcmp(d.v[j].path, p) == 0;
            CHECK_MSG(found, "%s: expected a problem at %s, got %s", file, p ? p : "?", msg);
        }
        free(msg);
    }
    asl_machine_free(m);
    asl_diags_free(&d);
    json_decref(c);
}

static void test_cases(const char *dir)
{
    DIR *dp = opendir(dir);
    CHECK_MSG(dp != NULL, "cannot open %s", dir);
    if (!dp)
        return;
    int ny = 0, nn = 0;
    struct dirent *e;
    while ((e = readdir(dp))) {
        size_t l = strlen(e->d_name);
        if (l < 7 || strcmp(e->d_name + l - 5, ".json") != 0 || (e->d_name[0] != 'y' && e->d_name[0] != 'n') ||
            e->d_name[1] != '_')
            continue;
        e->d_name[0] == 'y' ? ny++ : nn++;
        run_case(dir, e->d_name);
    }
    closedir(dp);
    CHECK_MSG(ny > 0 && nn > 0, "no cases found in %s", dir);
}

int main(int argc, char **argv)
{
    test_compiles_order_workflow();
    test_compiles_parallel_and_map();
    test_misc_api();
    test_errlist_match();
    test_rejects_with_aws_codes();
    test_rejects_schema();
    test_collects_every_problem();
    test_hostile();
    test_cases(argc > 1 ? argv[1] : "tests/cases/validation");
    TEST_DONE();
}
