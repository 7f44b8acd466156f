/* test_store — the store interface against the SQLite backend, on a real
 * file in a temp directory and on ":memory:": every operation, pagination,
 * reverse history, resources, tables and items, group-commit transactions (rollback leaves
 * nothing), reopening a file, and the schema migrations. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store.h"
#include "tap.h"

#define M1 "arn:aws:states:us-east-1:123456789012:stateMachine:M1"
#define M2 "arn:aws:states:us-east-1:123456789012:stateMachine:M2"
#define M3 "arn:aws:states:us-east-1:123456789012:stateMachine:M3"
#define XARN(n) "arn:aws:states:us-east-1:123456789012:execution:M1:" n

static struct store_machine machine(const char *arn, const char *name, int64_t t)
{
    struct store_machine m = {.arn = (char *)arn, .name = (char *)name,
                              .definition = (char *)"{\"StartAt\":\"P\",\"States\":{\"P\":{\"Type\":\"Pass\",\"End\":true}}}",
                              .type = (char *)"STANDARD",
                              .role_arn = (char *)"arn:aws:iam::123456789012:role/R",
                              .created_ns = t};
    return m;
}

static int new_exec(store *s, const char *arn, const char *name, const char *status, int64_t t)
{
    struct store_exec x = {.arn = (char *)arn, .machine_arn = (char *)M1, .name = (char *)name,
                           .status = (char *)status, .input = (char *)"{\"a\":1}", .start_ns = t};
    return s->ops->exec_create(s, &x, NULL);
}

static void test_machines(store *s)
{
    val_err err = {0};
    struct store_machine m = machine(M1, "M1", 1000);
    CHECK(s->ops->machine_create(s, &m, &err) == STORE_OK);
    CHECK(s->ops->machine_create(s, &m, &err) == STORE_EXISTS);
    struct store_machine bad = {0};
    CHECK(s->ops->machine_create(s, &bad, &err) == STORE_ERROR);
    CHECK(err.kind == VAL_ERR_STORE && err.cause);
    val_err_clear(&err);

    struct store_machine got;
    CHECK(s->ops->machine_get(s, M1, &got, &err) == STORE_OK);
    CHECK(got.arn && !strcmp(got.arn, M1));
    CHECK(got.name && !strcmp(got.name, "M1"));
    CHECK(got.type && !strcmp(got.type, "STANDARD"));
    CHECK(got.definition && strstr(got.definition, "Pass"));
    CHECK(got.role_arn && strstr(got.role_arn, "role/R"));
    CHECK(got.created_ns == 1000 && got.updated_ns == 1000);
    CHECK(got.revision_id && strlen(got.revision_id) == 36);
    char *rev0 = got.revision_id ? strdup(got.revision_id) : NULL;
    store_machine_clear(&got);
    CHECK(s->ops->machine_get(s, M2, &got, &err) == STORE_NOT_FOUND);
    CHECK(got.arn == NULL);

    /* update: definition changes, role kept, new revision */
    char *rev1 = NULL;
    CHECK(s->ops->machine_update(s, M1, "{\"new\":1}", NULL, 2000, &rev1, &err) == STORE_OK);
    CHECK(rev1 && rev0 && strcmp(rev0, rev1) != 0);
    CHECK(s->ops->machine_get(s, M1, &got, &err) == STORE_OK);
    CHECK(got.definition && !strcmp(got.definition, "{\"new\":1}"));
    CHECK(got.role_arn && strstr(got.role_arn, "role/R"));
    CHECK(got.updated_ns == 2000 && got.created_ns == 1000);
    CHECK(got.revision_id && rev1 && !strcmp(got.revision_id, rev1));
    store_machine_clear(&got);
    free(rev0);
    free(rev1);
    CHECK(s->ops->machine_update(s, M2, "{}", NULL, 1, NULL, &err) == STORE_NOT_FOUND);

    /* a caller-chosen revision id is kept */
    struct store_machine m2 = machine(M2, "M2", 3000);
    m2.revision_id = (char *)"rev-given";
    m2.role_arn = NULL;
    CHECK(s->ops->machine_create(s, &m2, &err) == STORE_OK);
    CHECK(s->ops->machine_get(s, M2, &got, &err) == STORE_OK);
    CHECK(got.revision_id && !strcmp(got.revision_id, "rev-given") && got.role_arn == NULL);
    store_machine_clear(&got);

    /* pagination over 2 + 5 machines, 3 per page */
    for (int i = 0; i < 5; i++) {
        char arn[128], name[16];
        snprintf(name, sizeof name, "P%d", i);
        snprintf(arn, sizeof arn, "arn:aws:states:us-east-1:123456789012:stateMachine:%s", name);
        struct store_machine p = machine(arn, name, 4000 + i);
        CHECK(s->ops->machine_create(s, &p, &err) == STORE_OK);
    }
    struct store_machine_list l;
    char *tok = NULL;
    int pages = 0, total = 0;
    const char *order[7] = {"M1", "M2", "P0", "P1", "P2", "P3", "P4"};
    do {
        CHECK(s->ops->machine_list(s, tok, 3, &l, &err) == STORE_OK);
        for (size_t i = 0; i < l.n && total < 7; i++, total++)
            CHECK_MSG(!strcmp(l.items[i].name, order[total]), "got %s", l.items[i].name);
        free(tok);
        tok = l.next_token ? strdup(l.next_token) : NULL;
        pages++;
        store_machine_list_free(&l);
    } while (tok && pages < 10);
    CHECK(pages == 3 && total == 7);
    CHECK(s->ops->machine_list(s, "garbage", 3, &l, &err) == STORE_ERROR);
    CHECK(err.name && !strcmp(err.name, "InvalidToken"));
    val_err_clear(&err);
    CHECK(s->ops->machine_list(s, NULL, 0, &l, &err) == STORE_OK && l.n == 7 && !l.next_token);
    store_machine_list_free(&l);

    CHECK(s->ops->machine_delete(s, "arn:aws:states:us-east-1:123456789012:stateMachine:P4",
                                 &err) == STORE_OK);
    CHECK(s->ops->machine_delete(s, "arn:aws:states:us-east-1:123456789012:stateMachine:P4",
                                 &err) == STORE_NOT_FOUND);
    CHECK(s->ops->machine_list(s, NULL, 100, &l, &err) == STORE_OK && l.n == 6);
    store_machine_list_free(&l);
}

static void test_executions(store *s)
{
    val_err err = {0};
    CHECK(new_exec(s, XARN("e1"), "e1", "RUNNING", 10) == STORE_OK);
    CHECK(new_exec(s, XARN("e1"), "e1", "RUNNING", 11) == STORE_EXISTS);
    struct store_exec bad = {.arn = (char *)XARN("bad")};
    CHECK(s->ops->exec_create(s, &bad, &err) == STORE_ERROR);
    val_err_clear(&err);

    struct store_exec x;
    CHECK(s->ops->exec_get(s, XARN("e1"), &x, &err) == STORE_OK);
    CHECK(x.machine_arn && !strcmp(x.machine_arn, M1));
    CHECK(x.name && !strcmp(x.name, "e1") && !strcmp(x.status, "RUNNING"));
    CHECK(x.input && !strcmp(x.input, "{\"a\":1}"));
    CHECK(!x.output && !x.error && !x.cause && !x.snapshot && x.start_ns == 10 && x.stop_ns == 0);
    store_exec_clear(&x);
    CHECK(s->ops->exec_get(s, XARN("nope"), &x, &err) == STORE_NOT_FOUND);

    struct store_exec up = {.arn = (char *)XARN("e1"), .status = (char *)"RUNNING",
                            .snapshot = (char *)"{\"frames\":[1]}"};
    CHECK(s->ops->exec_update(s, &up, &err) == STORE_OK);
    CHECK(s->ops->exec_get(s, XARN("e1"), &x, &err) == STORE_OK);
    CHECK(x.snapshot && !strcmp(x.snapshot, "{\"frames\":[1]}"));
    store_exec_clear(&x);
    up.status = (char *)"FAILED";
    up.error = (char *)"States.TaskFailed";
    up.cause = (char *)"boom";
    up.stop_ns = 99;
    CHECK(s->ops->exec_update(s, &up, &err) == STORE_OK);
    CHECK(s->ops->exec_get(s, XARN("e1"), &x, &err) == STORE_OK);
    CHECK(!strcmp(x.status, "FAILED") && x.error && !strcmp(x.error, "States.TaskFailed"));
    CHECK(x.cause && !strcmp(x.cause, "boom") && x.stop_ns == 99);
    store_exec_clear(&x);
    up.arn = (char *)XARN("nope");
    CHECK(s->ops->exec_update(s, &up, &err) == STORE_NOT_FOUND);

    /* 10 more: e2..e11, every third SUCCEEDED */
    for (int i = 2; i <= 11; i++) {
        char arn[128], name[16];
        snprintf(name, sizeof name, "e%d", i);
        snprintf(arn, sizeof arn, XARN("%s"), name);
        CHECK(new_exec(s, arn, name, i % 3 == 0 ? "SUCCEEDED" : "RUNNING", 10 + i) == STORE_OK);
    }
    /* other machine: not listed under M1 */
    struct store_exec o = {.arn = (char *)"arn:x:other", .machine_arn = (char *)M2,
                           .name = (char *)"o", .status = (char *)"RUNNING",
                           .input = (char *)"{}", .start_ns = 1};
    CHECK(s->ops->exec_create(s, &o, &err) == STORE_OK);

    /* newest first, 4 per page: e11 e10 e9 e8 | e7 .. e4 | e3 e2 e1 */
    struct store_exec_list l;
    char *tok = NULL;
    int n = 0, pages = 0, want = 11, ordered = 1;
    do {
        CHECK(s->ops->exec_list(s, M1, NULL, tok, 4, &l, &err) == STORE_OK);
        for (size_t i = 0; i < l.n; i++, n++) {
            char name[16];
            snprintf(name, sizeof name, "e%d", want--);
            if (strcmp(l.items[i].name, name) || l.items[i].input || l.items[i].snapshot)
                ordered = 0;
        }
        free(tok);
        tok = l.next_token ? strdup(l.next_token) : NULL;
        pages++;
        store_exec_list_free(&l);
    } while (tok && pages < 10);
    CHECK(ordered && n == 11 && pages == 3);

    CHECK(s->ops->exec_list(s, M1, "SUCCEEDED", NULL, 2, &l, &err) == STORE_OK);
    CHECK(l.n == 2 && !strcmp(l.items[0].name, "e9") && !strcmp(l.items[1].name, "e6"));
    CHECK(l.next_token != NULL);
    tok = l.next_token ? strdup(l.next_token) : NULL;
    store_exec_list_free(&l);
    CHECK(s->ops->exec_list(s, M1, "SUCCEEDED", tok, 2, &l, &err) == STORE_OK);
    CHECK(l.n == 1 && !strcmp(l.items[0].name, "e3") && !l.next_token);
    store_exec_list_free(&l);
    free(tok);
    CHECK(s->ops->exec_list(s, M1, "ABORTED", NULL, 0, &l, &err) == STORE_OK && l.n == 0);
    store_exec_list_free(&l);
    CHECK(s->ops->exec_list(s, M1, NULL, "-3", 0, &l, &err) == STORE_ERROR);
    val_err_clear(&err);

    /* RUNNING across machines, oldest first, complete records: e2 e4 e5
     * e7 e8 e10 e11 and o (e1 FAILED, e3 e6 e9 SUCCEEDED) */
    n = 0;
    pages = 0;
    tok = NULL;
    int complete = 1;
    do {
        CHECK(s->ops->exec_list_running(s, tok, 3, &l, &err) == STORE_OK);
        for (size_t i = 0; i < l.n; i++, n++)
            if (strcmp(l.items[i].status, "RUNNING") || !l.items[i].input)
                complete = 0;
        free(tok);
        tok = l.next_token ? strdup(l.next_token) : NULL;
        pages++;
        store_exec_list_free(&l);
    } while (tok && pages < 10);
    CHECK(complete && n == 8 && pages == 3);
}

static void test_history(store *s)
{
    val_err err = {0};
    struct store_event ev[25];
    char text[25][64];
    for (int i = 0; i < 25; i++) {
        snprintf(text[i], sizeof text[i], "{\"id\":%d,\"type\":\"PassStateEntered\"}", i + 1);
        ev[i].id = i + 1;
        ev[i].json = text[i];
    }
    CHECK(s->ops->history_append(s, XARN("e2"), ev, 10, &err) == STORE_OK);
    CHECK(s->ops->history_append(s, XARN("e2"), ev + 10, 15, &err) == STORE_OK);
    CHECK(s->ops->history_append(s, XARN("e2"), ev, 0, &err) == STORE_OK);
    CHECK(s->ops->history_append(s, XARN("nope"), ev, 1, &err) == STORE_NOT_FOUND);
    /* a repeated id fails and the whole batch is refused */
    struct store_event dup[2] = {{26, (char *)"{\"id\":26}"}, {5, (char *)"{\"id\":5}"}};
    CHECK(s->ops->history_append(s, XARN("e2"), dup, 2, &err) == STORE_ERROR);
    val_err_clear(&err);
    int64_t count = -1;
    CHECK(s->ops->history_count(s, XARN("e2"), &count, &err) == STORE_OK && count == 25);
    CHECK(s->ops->history_count(s, XARN("e4"), &count, &err) == STORE_OK && count == 0);
    CHECK(s->ops->history_count(s, XARN("nope"), &count, &err) == STORE_NOT_FOUND);

    struct store_event_list l;
    CHECK(s->ops->history_page(s, XARN("e2"), 0, 10, 0, &l, &err) == STORE_OK);
    CHECK(l.n == 10 && l.more && l.items[0].id == 1 && l.items[9].id == 10);
    CHECK(l.n && !strcmp(l.items[0].json, text[0]));
    store_event_list_free(&l);
    CHECK(s->ops->history_page(s, XARN("e2"), 20, 10, 0, &l, &err) == STORE_OK);
    CHECK(l.n == 5 && !l.more && l.items[0].id == 21 && l.items[4].id == 25);
    store_event_list_free(&l);
    CHECK(s->ops->history_page(s, XARN("e2"), 15, 10, 0, &l, &err) == STORE_OK);
    CHECK(l.n == 10 && !l.more && l.items[9].id == 25);
    store_event_list_free(&l);
    /* reverse: from the last, then before an id */
    CHECK(s->ops->history_page(s, XARN("e2"), 0, 10, 1, &l, &err) == STORE_OK);
    CHECK(l.n == 10 && l.more && l.items[0].id == 25 && l.items[9].id == 16);
    store_event_list_free(&l);
    CHECK(s->ops->history_page(s, XARN("e2"), 6, 10, 1, &l, &err) == STORE_OK);
    CHECK(l.n == 5 && !l.more && l.items[0].id == 5 && l.items[4].id == 1);
    store_event_list_free(&l);
    CHECK(s->ops->history_page(s, XARN("e2"), 0, 0, 0, &l, &err) == STORE_OK && l.n == 25);
    store_event_list_free(&l);
    CHECK(s->ops->history_page(s, XARN("nope"), 0, 0, 0, &l, &err) == STORE_NOT_FOUND);
    CHECK(l.n == 0 && l.items == NULL);
}

static void test_timers_tokens(store *s)
{
    val_err err = {0};
    CHECK(s->ops->timer_arm(s, XARN("e2"), 1, 500, &err) == STORE_OK);
    CHECK(s->ops->timer_arm(s, XARN("e4"), 7, 300, &err) == STORE_OK);
    CHECK(s->ops->timer_arm(s, XARN("e5"), UINT64_MAX, 900, &err) == STORE_OK);
    CHECK(s->ops->timer_arm(s, XARN("e2"), 1, 100, &err) == STORE_OK); /* moved */
    struct store_timer_list t;
    CHECK(s->ops->timer_due(s, 600, 0, &t, &err) == STORE_OK);
    CHECK(t.n == 2 && t.items[0].due_ns == 100 && t.items[0].timer_id == 1);
    CHECK(t.n == 2 && !strcmp(t.items[0].exec_arn, XARN("e2")) && t.items[1].timer_id == 7);
    store_timer_list_free(&t);
    CHECK(s->ops->timer_due(s, 100, 0, &t, &err) == STORE_OK && t.n == 0); /* strictly before */
    store_timer_list_free(&t);
    CHECK(s->ops->timer_due(s, 1000, 1, &t, &err) == STORE_OK && t.n == 1);
    store_timer_list_free(&t);
    CHECK(s->ops->timer_due(s, 1000, 0, &t, &err) == STORE_OK && t.n == 3);
    CHECK(t.n == 3 && t.items[2].timer_id == UINT64_MAX);
    store_timer_list_free(&t);
    CHECK(s->ops->timer_cancel(s, XARN("e2"), 1, &err) == STORE_OK);
    CHECK(s->ops->timer_cancel(s, XARN("e2"), 1, &err) == STORE_NOT_FOUND);
    CHECK(s->ops->timer_due(s, 1000, 0, &t, &err) == STORE_OK && t.n == 2);
    store_timer_list_free(&t);

    CHECK(s->ops->token_put(s, "tok-1", XARN("e4"), 42, &err) == STORE_OK);
    CHECK(s->ops->token_put(s, "tok-1", XARN("e5"), 43, &err) == STORE_EXISTS);
    char *arn = NULL;
    uint64_t task = 0;
    CHECK(s->ops->token_get(s, "tok-1", &arn, &task, &err) == STORE_OK);
    CHECK(arn && !strcmp(arn, XARN("e4")) && task == 42);
    free(arn);
    CHECK(s->ops->token_get(s, "tok-1", NULL, NULL, &err) == STORE_OK);
    CHECK(s->ops->token_get(s, "tok-2", &arn, &task, &err) == STORE_NOT_FOUND && arn == NULL);
    CHECK(s->ops->token_delete(s, "tok-1", &err) == STORE_OK);
    CHECK(s->ops->token_delete(s, "tok-1", &err) == STORE_NOT_FOUND);
    CHECK(s->ops->token_get(s, "tok-1", &arn, &task, &err) == STORE_NOT_FOUND);
}

/* A group commit rolled back leaves nothing; one committed keeps all. */
static void test_transactions(store *s)
{
    val_err err = {0};
    CHECK(s->ops->commit(s, &err) == STORE_ERROR);
    val_err_clear(&err);
    CHECK(s->ops->rollback(s, &err) == STORE_ERROR);
    val_err_clear(&err);

    CHECK(s->ops->begin(s, &err) == STORE_OK);
    CHECK(s->ops->begin(s, &err) == STORE_ERROR); /* no nesting */
    val_err_clear(&err);
    CHECK(new_exec(s, XARN("tx1"), "tx1", "RUNNING", 50) == STORE_OK);
    struct store_event e = {1, (char *)"{\"id\":1}"};
    CHECK(s->ops->history_append(s, XARN("tx1"), &e, 1, &err) == STORE_OK);
    struct store_exec up = {.arn = (char *)XARN("e4"), .status = (char *)"SUCCEEDED",
                            .output = (char *)"{}", .stop_ns = 60};
    CHECK(s->ops->exec_update(s, &up, &err) == STORE_OK);
    CHECK(s->ops->timer_arm(s, XARN("tx1"), 3, 5, &err) == STORE_OK);
    CHECK(s->ops->token_put(s, "tx-tok", XARN("tx1"), 1, &err) == STORE_OK);
    CHECK(s->ops->rollback(s, &err) == STORE_OK);

    struct store_exec x;
    CHECK(s->ops->exec_get(s, XARN("tx1"), &x, &err) == STORE_NOT_FOUND);
    CHECK(s->ops->exec_get(s, XARN("e4"), &x, &err) == STORE_OK);
    CHECK(!strcmp(x.status, "RUNNING") && x.output == NULL);
    store_exec_clear(&x);
    struct store_timer_list t;
    CHECK(s->ops->timer_due(s, 10, 0, &t, &err) == STORE_OK && t.n == 0);
    store_timer_list_free(&t);
    CHECK(s->ops->token_get(s, "tx-tok", NULL, NULL, &err) == STORE_NOT_FOUND);

    /* the same turn, committed */
    CHECK(s->ops->begin(s, &err) == STORE_OK);
    CHECK(new_exec(s, XARN("tx1"), "tx1", "RUNNING", 50) == STORE_OK);
    CHECK(s->ops->history_append(s, XARN("tx1"), &e, 1, &err) == STORE_OK);
    CHECK(s->ops->exec_update(s, &up, &err) == STORE_OK);
    /* a failing call inside does not poison the transaction */
    CHECK(s->ops->history_append(s, XARN("tx1"), &e, 1, &err) == STORE_ERROR);
    val_err_clear(&err);
    CHECK(s->ops->commit(s, &err) == STORE_OK);
    int64_t n = 0;
    CHECK(s->ops->history_count(s, XARN("tx1"), &n, &err) == STORE_OK && n == 1);
    CHECK(s->ops->exec_get(s, XARN("e4"), &x, &err) == STORE_OK && !strcmp(x.status, "SUCCEEDED"));
    store_exec_clear(&x);
}

/* Revisions: every definition a machine had stays readable, and the one
 * it was created with is marked first. */
static void test_revisions(store *s)
{
    val_err err = {0};
    struct store_machine m = machine(M3, "M3", 5000);
    m.revision_id = (char *)"rev-0";
    CHECK(s->ops->machine_create(s, &m, &err) == STORE_OK);
    char *rev1 = NULL, *def = NULL;
    int first = -1;
    CHECK(s->ops->machine_update(s, M3, "{\"v\":2}", NULL, 6000, &rev1, &err) == STORE_OK && rev1);
    CHECK(s->ops->revision_get(s, M3, "rev-0", &def, &first, &err) == STORE_OK);
    CHECK(def && strstr(def, "StartAt") && first == 1);
    free(def);
    CHECK(s->ops->revision_get(s, M3, rev1, &def, &first, &err) == STORE_OK);
    CHECK(def && !strcmp(def, "{\"v\":2}") && first == 0);
    free(def);
    CHECK(s->ops->revision_get(s, M3, "nope", &def, NULL, &err) == STORE_NOT_FOUND && !def);
    /* deleting the machine keeps its revisions (running executions need them) */
    CHECK(s->ops->machine_delete(s, M3, &err) == STORE_OK);
    CHECK(s->ops->revision_get(s, M3, rev1, &def, NULL, &err) == STORE_OK && def);
    free(def);
    free(rev1);
    /* an execution keeps the revision it runs */
    struct store_exec x = {.arn = (char *)XARN("rv"), .machine_arn = (char *)M1, .name = (char *)"rv",
                           .status = (char *)"RUNNING", .input = (char *)"{}", .start_ns = 1,
                           .revision_id = (char *)"rev-0"};
    CHECK(s->ops->exec_create(s, &x, &err) == STORE_OK);
    struct store_exec got;
    CHECK(s->ops->exec_get(s, XARN("rv"), &got, &err) == STORE_OK);
    CHECK(got.revision_id && !strcmp(got.revision_id, "rev-0"));
    store_exec_clear(&got);
    /* timer_clear disarms every timer of one execution only */
    CHECK(s->ops->timer_arm(s, XARN("rv"), 1, 10, &err) == STORE_OK);
    CHECK(s->ops->timer_arm(s, XARN("rv"), 2, 11, &err) == STORE_OK);
    CHECK(s->ops->timer_arm(s, XARN("e4"), 9, 12, &err) == STORE_OK);
    CHECK(s->ops->timer_clear(s, XARN("rv"), &err) == STORE_OK);
    struct store_timer_list t;
    CHECK(s->ops->timer_due(s, 13, 0, &t, &err) == STORE_OK);
    int rv = 0, e4 = 0;
    for (size_t i = 0; i < t.n; i++) {
        rv += !strcmp(t.items[i].exec_arn, XARN("rv"));
        e4 += !strcmp(t.items[i].exec_arn, XARN("e4")) && t.items[i].timer_id == 9;
    }
    CHECK(rv == 0 && e4 == 1);
    store_timer_list_free(&t);
    CHECK(s->ops->timer_cancel(s, XARN("e4"), 9, &err) == STORE_OK);
}

/* Events appended as text (the engine's form): large batches are stored
 * compressed and read back byte for byte, pages cut inside batches. */
static void test_history_text(store *s)
{
    val_err err = {0};
    CHECK(new_exec(s, XARN("ht"), "ht", "RUNNING", 80) == STORE_OK);
    val_buf b = {0};
    for (int i = 1; i <= 300; i++)
        val_buf_printf(&b, "{\"id\":%d,\"input\":\"{\\\"payload\\\":\\\"%0*d\\\"}\"}\n", i, 40 + i % 7, i);
    size_t first_len = b.len;
    CHECK(s->ops->history_append_text(s, XARN("ht"), 1, 300, b.p, b.len, &err) == STORE_OK);
    /* a small batch (stored as it is) after the big one */
    const char *small = "{\"id\":301}\n{\"id\":302}\n";
    CHECK(s->ops->history_append_text(s, XARN("ht"), 301, 2, small, strlen(small), &err) == STORE_OK);
    /* refused: ids already stored, a count that does not match, no final newline */
    CHECK(s->ops->history_append_text(s, XARN("ht"), 302, 1, "{\"id\":302}\n", 11, &err) == STORE_ERROR);
    val_err_clear(&err);
    CHECK(s->ops->history_append_text(s, XARN("ht"), 303, 2, "{\"id\":303}\n", 11, &err) == STORE_ERROR);
    val_err_clear(&err);
    CHECK(s->ops->history_append_text(s, XARN("ht"), 303, 1, "{\"id\":303}", 10, &err) == STORE_ERROR);
    val_err_clear(&err);
    int64_t count = 0;
    CHECK(s->ops->history_count(s, XARN("ht"), &count, &err) == STORE_OK && count == 302);
    /* read everything back in pages of 7, forward and reverse, and compare */
    val_buf back = {0};
    int64_t after = 0, expect = 1;
    int ok = 1, more = 1;
    while (more) {
        struct store_event_list l;
        if (s->ops->history_page(s, XARN("ht"), after, 7, 0, &l, &err) != STORE_OK) {
            ok = 0;
            break;
        }
        for (size_t i = 0; i < l.n; i++) {
            ok &= l.items[i].id == expect++;
            if (l.items[i].id <= 300) {
                val_buf_puts(&back, l.items[i].json);
                val_buf_putc(&back, '\n');
            }
        }
        more = l.more;
        after = l.n ? l.items[l.n - 1].id : after;
        store_event_list_free(&l);
    }
    CHECK(ok && expect == 303);
    CHECK(back.len == first_len && memcmp(back.p, b.p, first_len) == 0);
    int64_t before = 0;
    expect = 302;
    more = 1;
    ok = 1;
    while (more) {
        struct store_event_list l;
        if (s->ops->history_page(s, XARN("ht"), before, 50, 1, &l, &err) != STORE_OK) {
            ok = 0;
            break;
        }
        for (size_t i = 0; i < l.n; i++)
            ok &= l.items[i].id == expect--;
        more = l.more;
        before = l.n ? l.items[l.n - 1].id : before;
        store_event_list_free(&l);
    }
    CHECK(ok && expect == 0);
    val_buf_free(&b);
    val_buf_free(&back);
}

/* Resources: (kind, name) -> config, kept byte for byte; a kind's list in
 * name order; a put replaces; bad arguments are errors; puts and deletes
 * join a transaction like every write. Leaves function b, c, tx and big,
 * and table a (the reopen in main checks them). */
static void test_resources(store *s)
{
    val_err err = {0};
    /* stored as given: spacing, a newline and UTF-8 kept */
    const char *cfg_b = "{ \"Runtime\": \"python3.12\",\n  \"Handler\": \"b.h\", \"Note\": \"caf\u00e9\" }";
    CHECK(s->ops->resource_put(s, "function", "b", cfg_b, 100, &err) == STORE_OK);
    CHECK(s->ops->resource_put(s, "function", "a", "{\"Handler\":\"a.h\"}", 101, &err) == STORE_OK);
    CHECK(s->ops->resource_put(s, "function", "c", "{\"Handler\":\"c.h\"}", 102, &err) == STORE_OK);
    /* the same name under another kind is another resource */
    CHECK(s->ops->resource_put(s, "table", "a", "{\"KeySchema\":[]}", 103, &err) == STORE_OK);

    char *cfg = NULL;
    CHECK(s->ops->resource_get(s, "function", "b", &cfg, &err) == STORE_OK);
    CHECK(cfg && !strcmp(cfg, cfg_b));
    free(cfg);
    CHECK(s->ops->resource_get(s, "table", "a", &cfg, &err) == STORE_OK);
    CHECK(cfg && !strcmp(cfg, "{\"KeySchema\":[]}"));
    free(cfg);
    /* not found: unknown name, unknown kind, a name of the other kind */
    cfg = (char *)cfg_b;
    CHECK(s->ops->resource_get(s, "function", "zz", &cfg, &err) == STORE_NOT_FOUND && cfg == NULL);
    CHECK(s->ops->resource_get(s, "queue", "a", &cfg, &err) == STORE_NOT_FOUND && cfg == NULL);
    CHECK(s->ops->resource_get(s, "table", "b", &cfg, &err) == STORE_NOT_FOUND && cfg == NULL);
    CHECK(err.cause == NULL); /* answers, not failures */

    /* a put replaces config and time; the list is in name order */
    CHECK(s->ops->resource_put(s, "function", "b", "{\"Handler\":\"b2.h\"}", 200, &err) == STORE_OK);
    struct store_resource_list l;
    CHECK(s->ops->resource_list(s, "function", &l, &err) == STORE_OK);
    CHECK(l.n == 3);
    if (l.n == 3) {
        CHECK(!strcmp(l.items[0].name, "a") && !strcmp(l.items[1].name, "b") &&
              !strcmp(l.items[2].name, "c"));
        CHECK(!strcmp(l.items[1].config, "{\"Handler\":\"b2.h\"}") && l.items[1].updated_ns == 200);
        CHECK(!strcmp(l.items[0].config, "{\"Handler\":\"a.h\"}") && l.items[0].updated_ns == 101);
        CHECK(l.items[2].updated_ns == 102);
    }
    store_resource_list_free(&l);
    CHECK(l.n == 0 && l.items == NULL);
    CHECK(s->ops->resource_list(s, "table", &l, &err) == STORE_OK && l.n == 1);
    CHECK(l.n == 1 && !strcmp(l.items[0].name, "a") && l.items[0].updated_ns == 103);
    store_resource_list_free(&l);
    CHECK(s->ops->resource_list(s, "queue", &l, &err) == STORE_OK && l.n == 0 && !l.items);
    store_resource_list_free(&l);

    /* delete: only that kind's name goes */
    CHECK(s->ops->resource_delete(s, "function", "a", &err) == STORE_OK);
    CHECK(s->ops->resource_delete(s, "function", "a", &err) == STORE_NOT_FOUND);
    CHECK(s->ops->resource_delete(s, "queue", "b", &err) == STORE_NOT_FOUND);
    CHECK(s->ops->resource_get(s, "function", "a", &cfg, &err) == STORE_NOT_FOUND && !cfg);
    CHECK(s->ops->resource_get(s, "table", "a", &cfg, &err) == STORE_OK && cfg);
    free(cfg);

    /* bad arguments: -1 with an error naming the operation, never a crash */
    CHECK(s->ops->resource_put(s, NULL, "x", "{}", 1, &err) == STORE_ERROR);
    CHECK(err.kind == VAL_ERR_STORE && err.cause && strstr(err.cause, "resource_put"));
    val_err_clear(&err);
    CHECK(s->ops->resource_put(s, "function", NULL, "{}", 1, &err) == STORE_ERROR && err.cause);
    val_err_clear(&err);
    CHECK(s->ops->resource_put(s, "function", "x", NULL, 1, &err) == STORE_ERROR && err.cause);
    val_err_clear(&err);
    cfg = (char *)cfg_b;
    CHECK(s->ops->resource_get(s, NULL, "b", &cfg, &err) == STORE_ERROR && cfg == NULL);
    CHECK(err.cause && strstr(err.cause, "resource_get"));
    val_err_clear(&err);
    CHECK(s->ops->resource_get(s, "function", NULL, &cfg, &err) == STORE_ERROR && err.cause);
    val_err_clear(&err);
    CHECK(s->ops->resource_get(s, "function", "b", NULL, &err) == STORE_ERROR && err.cause);
    val_err_clear(&err);
    CHECK(s->ops->resource_list(s, NULL, &l, &err) == STORE_ERROR && l.n == 0 && !l.items);
    CHECK(err.cause && strstr(err.cause, "resource_list"));
    val_err_clear(&err);
    CHECK(s->ops->resource_list(s, "function", NULL, &err) == STORE_ERROR && err.cause);
    val_err_clear(&err);
    CHECK(s->ops->resource_delete(s, NULL, "b", &err) == STORE_ERROR);
    CHECK(err.cause && strstr(err.cause, "resource_delete"));
    val_err_clear(&err);
    CHECK(s->ops->resource_delete(s, "function", NULL, &err) == STORE_ERROR && err.cause);
    val_err_clear(&err);
    CHECK(s->ops->resource_put(s, NULL, NULL, NULL, 0, NULL) == STORE_ERROR); /* err is optional */
    CHECK(s->ops->resource_list(s, "function", &l, &err) == STORE_OK && l.n == 2); /* b, c */
    store_resource_list_free(&l);

    /* a large config comes back whole */
    size_t big_len = 200000;
    char *big = malloc(big_len + 1);
    if (big) {
        memset(big, 'x', big_len);
        big[0] = '"';
        big[big_len - 1] = '"';
        big[big_len] = '\0';
        CHECK(s->ops->resource_put(s, "function", "big", big, 150, &err) == STORE_OK);
        CHECK(s->ops->resource_get(s, "function", "big", &cfg, &err) == STORE_OK);
        CHECK(cfg && strlen(cfg) == big_len && !strcmp(cfg, big));
        free(cfg);
        free(big);
    }

    /* in a transaction: seen inside it, forgotten by rollback */
    CHECK(s->ops->begin(s, &err) == STORE_OK);
    CHECK(s->ops->resource_put(s, "function", "tx", "{\"v\":1}", 300, &err) == STORE_OK);
    CHECK(s->ops->resource_put(s, "function", "b", "{\"v\":\"rolled back\"}", 301, &err) == STORE_OK);
    CHECK(s->ops->resource_delete(s, "function", "c", &err) == STORE_OK);
    CHECK(s->ops->resource_get(s, "function", "tx", &cfg, &err) == STORE_OK && cfg);
    free(cfg);
    CHECK(s->ops->resource_list(s, "function", &l, &err) == STORE_OK && l.n == 3); /* b big tx */
    CHECK(l.n == 3 && !strcmp(l.items[2].name, "tx"));
    store_resource_list_free(&l);
    CHECK(s->ops->rollback(s, &err) == STORE_OK);
    CHECK(s->ops->resource_get(s, "function", "tx", &cfg, &err) == STORE_NOT_FOUND && !cfg);
    CHECK(s->ops->resource_get(s, "function", "b", &cfg, &err) == STORE_OK);
    CHECK(cfg && !strcmp(cfg, "{\"Handler\":\"b2.h\"}"));
    free(cfg);
    CHECK(s->ops->resource_get(s, "function", "c", &cfg, &err) == STORE_OK && cfg);
    free(cfg);

    /* committed, with a failing call inside that does not poison it */
    CHECK(s->ops->begin(s, &err) == STORE_OK);
    CHECK(s->ops->resource_put(s, "function", "tx", "{\"v\":2}", 400, &err) == STORE_OK);
    CHECK(s->ops->resource_put(s, "function", NULL, "{}", 400, &err) == STORE_ERROR);
    val_err_clear(&err);
    CHECK(s->ops->resource_delete(s, "function", "nope", &err) == STORE_NOT_FOUND);
    CHECK(s->ops->commit(s, &err) == STORE_OK);
    CHECK(s->ops->resource_get(s, "function", "tx", &cfg, &err) == STORE_OK);
    CHECK(cfg && !strcmp(cfg, "{\"v\":2}"));
    free(cfg);
    CHECK(s->ops->resource_list(s, "function", &l, &err) == STORE_OK && l.n == 4); /* b big c tx */
    store_resource_list_free(&l);
}

/* Keys for the item tests: one byte of partition, then the sort bytes. */
static int put_item(store *s, const char *table, const char *key, const char *json, int64_t size)
{
    val_err err = {0};
    int r = s->ops->item_put(s, table, key, strlen(key), json, strlen(json), size, &err);
    val_err_clear(&err);
    return r;
}

/* The keys of a range as one string "k1,k2,..." (keys here are text). */
static int range_is(store *s, const char *table, const char *lo, int lo_in, const char *hi,
                    int hi_in, int reverse, size_t limit, const char *want)
{
    val_err err = {0};
    struct store_item_list l;
    struct store_bound b1 = {lo, lo ? strlen(lo) : 0, lo_in}, b2 = {hi, hi ? strlen(hi) : 0, hi_in};
    if (s->ops->item_range(s, table, b1, b2, reverse, limit, &l, &err) != STORE_OK) {
        val_err_clear(&err);
        return 0;
    }
    val_buf b = {0};
    for (size_t i = 0; i < l.n; i++) {
        if (i)
            val_buf_putc(&b, ',');
        val_buf_putn(&b, (const char *)l.items[i].key, l.items[i].key_len);
    }
    char *got = val_buf_take(&b);
    int ok = !strcmp(got ? got : "", want);
    if (!ok)
        fprintf(stderr, "range: got [%s], want [%s]\n", got ? got : "", want);
    free(got);
    store_item_list_free(&l);
    return ok;
}

static void test_tables(store *s)
{
    val_err err = {0};
    CHECK(s->ops->table_create(s, "orders", "{\"TableName\":\"orders\"}", 10, &err) == STORE_OK);
    CHECK(s->ops->table_create(s, "orders", "{\"other\":1}", 11, &err) == STORE_EXISTS);
    CHECK(s->ops->table_create(s, "Accounts", "{\"TableName\":\"Accounts\"}", 12, &err) == STORE_OK);
    CHECK(s->ops->table_create(s, "b-t", "{}", 12, &err) == STORE_OK);
    CHECK(s->ops->table_create(s, NULL, "{}", 12, &err) == STORE_ERROR);
    val_err_clear(&err);
    char *desc = NULL;
    CHECK(s->ops->table_get(s, "orders", &desc, &err) == STORE_OK);
    CHECK(desc && !strcmp(desc, "{\"TableName\":\"orders\"}"));
    free(desc);
    CHECK(s->ops->table_get(s, "nope", &desc, &err) == STORE_NOT_FOUND && desc == NULL);
    CHECK(s->ops->table_update(s, "orders", "{\"v\":2}", &err) == STORE_OK);
    CHECK(s->ops->table_get(s, "orders", &desc, &err) == STORE_OK && desc && !strcmp(desc, "{\"v\":2}"));
    free(desc);
    CHECK(s->ops->table_update(s, "nope", "{}", &err) == STORE_NOT_FOUND);

    /* names in bytewise order, paged */
    struct store_name_list nl;
    CHECK(s->ops->table_list(s, NULL, 0, &nl, &err) == STORE_OK && nl.n == 3 && !nl.more);
    CHECK(nl.n == 3 && !strcmp(nl.names[0], "Accounts") && !strcmp(nl.names[1], "b-t") &&
          !strcmp(nl.names[2], "orders"));
    store_name_list_free(&nl);
    CHECK(s->ops->table_list(s, NULL, 2, &nl, &err) == STORE_OK && nl.n == 2 && nl.more);
    store_name_list_free(&nl);
    CHECK(s->ops->table_list(s, "Accounts", 2, &nl, &err) == STORE_OK && nl.n == 2 && !nl.more);
    CHECK(nl.n == 2 && !strcmp(nl.names[0], "b-t"));
    store_name_list_free(&nl);
    CHECK(s->ops->table_list(s, "orders", 2, &nl, &err) == STORE_OK && nl.n == 0 && !nl.more);
    store_name_list_free(&nl);

    /* items: put, replace, get, delete; stats sum the sizes given */
    int64_t count = -1, bytes = -1;
    CHECK(s->ops->table_stats(s, "orders", &count, &bytes, &err) == STORE_OK && count == 0 && bytes == 0);
    CHECK(s->ops->table_stats(s, "nope", &count, &bytes, &err) == STORE_NOT_FOUND);
    CHECK(put_item(s, "orders", "a1", "{\"v\":\"a1\"}", 10) == STORE_OK);
    CHECK(put_item(s, "orders", "a1", "{\"v\":\"a1b\"}", 11) == STORE_OK);
    CHECK(put_item(s, "orders", "nope", "{}", 1) == STORE_OK);
    CHECK(put_item(s, "nope", "a1", "{}", 1) == STORE_NOT_FOUND);
    CHECK(put_item(s, "Accounts", "a1", "{\"other\":true}", 5) == STORE_OK);
    char *js = NULL;
    CHECK(s->ops->item_get(s, "orders", "a1", 2, &js, &err) == STORE_OK && js && !strcmp(js, "{\"v\":\"a1b\"}"));
    free(js);
    CHECK(s->ops->item_get(s, "Accounts", "a1", 2, &js, &err) == STORE_OK && js && !strcmp(js, "{\"other\":true}"));
    free(js);
    CHECK(s->ops->item_get(s, "orders", "a", 1, &js, &err) == STORE_NOT_FOUND && js == NULL);
    CHECK(s->ops->item_get(s, "nope", "a1", 2, &js, &err) == STORE_NOT_FOUND);
    CHECK(s->ops->table_stats(s, "orders", &count, &bytes, &err) == STORE_OK && count == 2 && bytes == 12);
    CHECK(s->ops->item_delete(s, "orders", "nope", 4, &err) == STORE_OK);
    CHECK(s->ops->item_delete(s, "orders", "nope", 4, &err) == STORE_NOT_FOUND);
    CHECK(s->ops->item_delete(s, "nope", "a1", 2, &err) == STORE_NOT_FOUND);
    /* binary keys: an embedded NUL, a key that prefixes another */
    const unsigned char bk[] = {0x00, 0xff, 0x00};
    CHECK(s->ops->item_put(s, "b-t", bk, 3, "{}", 2, 2, &err) == STORE_OK);
    CHECK(s->ops->item_put(s, "b-t", bk, 2, "{\"short\":1}", 11, 2, &err) == STORE_OK);
    CHECK(s->ops->item_get(s, "b-t", bk, 2, &js, &err) == STORE_OK && js && !strcmp(js, "{\"short\":1}"));
    free(js);
    struct store_item_list il;
    struct store_bound none = {NULL, 0, 0};
    CHECK(s->ops->item_range(s, "b-t", none, none, 0, 0, &il, &err) == STORE_OK && il.n == 2);
    CHECK(il.n == 2 && il.items[0].key_len == 2 && il.items[1].key_len == 3 &&
          !memcmp(il.items[1].key, bk, 3));
    store_item_list_free(&il);

    /* ranges: a1 a2 a3 b1 b2 in orders (plus the a1 above) */
    CHECK(put_item(s, "orders", "a2", "{}", 1) == STORE_OK);
    CHECK(put_item(s, "orders", "a3", "{}", 1) == STORE_OK);
    CHECK(put_item(s, "orders", "b1", "{}", 1) == STORE_OK);
    CHECK(put_item(s, "orders", "b2", "{}", 1) == STORE_OK);
    CHECK(put_item(s, "orders", "a", "{}", 1) == STORE_OK);
    CHECK(range_is(s, "orders", NULL, 0, NULL, 0, 0, 0, "a,a1,a2,a3,b1,b2"));
    CHECK(range_is(s, "orders", NULL, 0, NULL, 0, 1, 0, "b2,b1,a3,a2,a1,a"));
    CHECK(range_is(s, "orders", "a1", 1, "b1", 1, 0, 0, "a1,a2,a3,b1"));
    CHECK(range_is(s, "orders", "a1", 0, "b1", 0, 0, 0, "a2,a3"));
    CHECK(range_is(s, "orders", "a1", 1, "b1", 0, 1, 0, "a3,a2,a1"));
    CHECK(range_is(s, "orders", "a1", 0, "b1", 1, 1, 0, "b1,a3,a2"));
    CHECK(range_is(s, "orders", "a", 0, "b", 0, 0, 0, "a1,a2,a3"));  /* a prefix's members */
    CHECK(range_is(s, "orders", "a", 1, "b", 0, 0, 2, "a,a1"));      /* limit */
    CHECK(range_is(s, "orders", "a", 1, "b", 0, 1, 2, "a3,a2"));     /* limit, descending */
    CHECK(range_is(s, "orders", "a2", 1, NULL, 0, 0, 0, "a2,a3,b1,b2"));
    CHECK(range_is(s, "orders", "a2", 0, NULL, 0, 1, 0, "b2,b1,a3"));
    CHECK(range_is(s, "orders", NULL, 0, "a2", 1, 0, 0, "a,a1,a2"));
    CHECK(range_is(s, "orders", NULL, 0, "a2", 0, 1, 0, "a1,a"));
    CHECK(range_is(s, "orders", "b", 1, "a", 1, 0, 0, ""));          /* empty: lo above hi */
    CHECK(range_is(s, "orders", "", 1, NULL, 0, 0, 1, "a"));         /* an empty key bound */
    CHECK(range_is(s, "nope", NULL, 0, NULL, 0, 0, 0, ""));          /* unknown table: empty */
    CHECK(range_is(s, "Accounts", NULL, 0, NULL, 0, 0, 0, "a1"));    /* tables do not mix */

    /* transactions: items join them */
    CHECK(s->ops->begin(s, &err) == STORE_OK);
    CHECK(put_item(s, "orders", "zz", "{}", 1) == STORE_OK);
    CHECK(s->ops->item_delete(s, "orders", "a", 1, &err) == STORE_OK);
    CHECK(s->ops->rollback(s, &err) == STORE_OK);
    CHECK(range_is(s, "orders", NULL, 0, NULL, 0, 0, 0, "a,a1,a2,a3,b1,b2"));
    CHECK(s->ops->begin(s, &err) == STORE_OK);
    CHECK(put_item(s, "orders", "zz", "{}", 1) == STORE_OK);
    CHECK(s->ops->table_delete(s, "b-t", &err) == STORE_OK);
    CHECK(s->ops->commit(s, &err) == STORE_OK);
    CHECK(range_is(s, "orders", NULL, 0, NULL, 0, 0, 0, "a,a1,a2,a3,b1,b2,zz"));

    /* deleting a table drops its items: a new table of that name is empty */
    CHECK(s->ops->table_get(s, "b-t", &desc, &err) == STORE_NOT_FOUND);
    CHECK(s->ops->table_delete(s, "b-t", &err) == STORE_NOT_FOUND);
    CHECK(s->ops->table_create(s, "b-t", "{}", 13, &err) == STORE_OK);
    CHECK(range_is(s, "b-t", NULL, 0, NULL, 0, 0, 0, ""));
    CHECK(s->ops->table_stats(s, "b-t", &count, &bytes, &err) == STORE_OK && count == 0 && bytes == 0);
    CHECK(s->ops->table_delete(s, "b-t", &err) == STORE_OK); /* an empty one too */
    CHECK(s->ops->table_create(s, "gone", "{}", 14, &err) == STORE_OK);
    CHECK(put_item(s, "gone", "k", "{}", 1) == STORE_OK);
    CHECK(s->ops->table_delete(s, "gone", &err) == STORE_OK);
    CHECK(s->ops->table_stats(s, "gone", &count, &bytes, &err) == STORE_NOT_FOUND);
    CHECK(s->ops->item_get(s, "gone", "k", 1, &js, &err) == STORE_NOT_FOUND);
    CHECK(s->ops->table_list(s, NULL, 0, &nl, &err) == STORE_OK && nl.n == 2);
    store_name_list_free(&nl);
    val_err_clear(&err);
}

/* Closing with a transaction open rolls it back (the reopen in main checks
 * that "lost" is gone). Last in run_all, so that every test before it
 * writes outside any transaction left open. */
static void test_close_in_tx(store *s)
{
    val_err err = {0};
    CHECK(s->ops->begin(s, &err) == STORE_OK);
    CHECK(new_exec(s, XARN("lost"), "lost", "RUNNING", 70) == STORE_OK);
    CHECK(s->ops->resource_put(s, "function", "lost", "{}", 71, &err) == STORE_OK);
    CHECK(s->ops->resource_delete(s, "function", "tx", &err) == STORE_OK);
    CHECK(put_item(s, "orders", "lost", "{}", 1) == STORE_OK);
    CHECK(s->ops->table_delete(s, "Accounts", &err) == STORE_OK);
}

static void run_all(store *s)
{
    test_machines(s);
    test_executions(s);
    test_history(s);
    test_timers_tokens(s);
    test_transactions(s);
    test_revisions(s);
    test_history_text(s);
    test_resources(s);
    test_tables(s);
    test_close_in_tx(s);
}

static int db_version(const char *path);
static void db_exec(const char *path, const char *sql);
static char *db_schema(const char *path);

/* A database written by the first release (schema version 1), made here
 * with that release's own DDL, is brought forward with its data: history
 * readable, the machine's definition its first revision. */
static void test_migrate_v1(const char *path)
{
    db_exec(path,
            "CREATE TABLE schema_version(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL);"
            "INSERT INTO schema_version VALUES(1, 'then');"
            "CREATE TABLE machines(id INTEGER PRIMARY KEY, arn TEXT NOT NULL UNIQUE, name TEXT NOT NULL,"
            " definition TEXT NOT NULL, type TEXT NOT NULL, role_arn TEXT, created_ns INTEGER NOT NULL,"
            " updated_ns INTEGER NOT NULL, revision_id TEXT NOT NULL);"
            "CREATE TABLE executions(id INTEGER PRIMARY KEY, arn TEXT NOT NULL UNIQUE, machine_arn TEXT NOT NULL,"
            " name TEXT NOT NULL, status TEXT NOT NULL, input TEXT NOT NULL, output TEXT, error TEXT,"
            " cause TEXT, start_ns INTEGER NOT NULL, stop_ns INTEGER NOT NULL DEFAULT 0, snapshot TEXT);"
            "CREATE INDEX executions_by_machine ON executions(machine_arn, id);"
            "CREATE INDEX executions_running ON executions(id) WHERE status='RUNNING';"
            "CREATE TABLE history(exec_id INTEGER NOT NULL, id INTEGER NOT NULL, event TEXT NOT NULL,"
            " PRIMARY KEY(exec_id, id)) WITHOUT ROWID;"
            "CREATE TABLE timers(exec_arn TEXT NOT NULL, timer_id INTEGER NOT NULL, due_ns INTEGER NOT NULL,"
            " PRIMARY KEY(exec_arn, timer_id)) WITHOUT ROWID;"
            "CREATE INDEX timers_by_due ON timers(due_ns);"
            "CREATE TABLE tokens(token TEXT PRIMARY KEY, exec_arn TEXT NOT NULL, task_id INTEGER NOT NULL)"
            " WITHOUT ROWID;"
            "INSERT INTO machines VALUES(1,'" M1 "','M1','{\"old\":1}','STANDARD',NULL,5,5,'r1');"
            "INSERT INTO executions(id,arn,machine_arn,name,status,input,start_ns) "
            " VALUES(7,'" XARN("old") "','" M1 "','old','SUCCEEDED','{}',6);"
            "INSERT INTO history VALUES(7,1,'{\"id\":1}'),(7,2,'{\"id\":2}'),(7,3,'{\"id\":3}');");
    val_err err = {0};
    store *s = store_sqlite_open(path, &err);
    CHECK_MSG(s != NULL, "%s", err.cause ? err.cause : "?");
    if (!s)
        return;
    CHECK(store_sqlite_schema_version(s) == STORE_SCHEMA_VERSION);
    struct store_event_list l;
    CHECK(s->ops->history_page(s, XARN("old"), 1, 0, 0, &l, &err) == STORE_OK);
    CHECK(l.n == 2 && l.items[0].id == 2 && !strcmp(l.items[1].json, "{\"id\":3}"));
    store_event_list_free(&l);
    char *def = NULL;
    int first = 0;
    CHECK(s->ops->revision_get(s, M1, "r1", &def, &first, &err) == STORE_OK);
    CHECK(def && !strcmp(def, "{\"old\":1}") && first == 1);
    free(def);
    struct store_exec x;
    CHECK(s->ops->exec_get(s, XARN("old"), &x, &err) == STORE_OK && x.revision_id == NULL);
    store_exec_clear(&x);
    /* and it goes on working: new events after the migrated ones */
    struct store_event e = {4, (char *)"{\"id\":4}"};
    CHECK(s->ops->history_append(s, XARN("old"), &e, 1, &err) == STORE_OK);
    int64_t n = 0;
    CHECK(s->ops->history_count(s, XARN("old"), &n, &err) == STORE_OK && n == 4);
    store_close(s);
    CHECK(db_version(path) == STORE_SCHEMA_VERSION);
}

/* A database written by schema version 2 (the release before resources):
 * its schema exactly as that release's store_sqlite_open left it in
 * sqlite_master (migrations 1 and 2 run on a fresh file), and rows as its
 * code wrote them: a machine updated once (two revisions), a finished
 * execution with its history, a running one with a snapshot, a timer and a
 * task token. extra runs after, when non-NULL. */
static void make_v2(const char *path, const char *extra)
{
    db_exec(path,
            "CREATE TABLE schema_version(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL);"
            "CREATE TABLE machines( id INTEGER PRIMARY KEY, arn TEXT NOT NULL UNIQUE, name TEXT NOT NULL,"
            " definition TEXT NOT NULL, type TEXT NOT NULL, role_arn TEXT, created_ns INTEGER NOT NULL,"
            " updated_ns INTEGER NOT NULL, revision_id TEXT NOT NULL);"
            "CREATE TABLE executions( id INTEGER PRIMARY KEY, arn TEXT NOT NULL UNIQUE, machine_arn TEXT"
            " NOT NULL, name TEXT NOT NULL, status TEXT NOT NULL, input TEXT NOT NULL, output TEXT,"
            " error TEXT, cause TEXT, start_ns INTEGER NOT NULL, stop_ns INTEGER NOT NULL DEFAULT 0,"
            " snapshot TEXT, revision_id TEXT);"
            "CREATE INDEX executions_by_machine ON executions(machine_arn, id);"
            "CREATE INDEX executions_running ON executions(id) WHERE status='RUNNING';"
            "CREATE TABLE timers( exec_arn TEXT NOT NULL, timer_id INTEGER NOT NULL, due_ns INTEGER NOT"
            " NULL, PRIMARY KEY(exec_arn, timer_id)) WITHOUT ROWID;"
            "CREATE INDEX timers_by_due ON timers(due_ns);"
            "CREATE TABLE tokens( token TEXT PRIMARY KEY, exec_arn TEXT NOT NULL, task_id INTEGER NOT"
            " NULL) WITHOUT ROWID;"
            "CREATE TABLE machine_revisions( machine_arn TEXT NOT NULL, revision_id TEXT NOT NULL,"
            " definition TEXT NOT NULL, role_arn TEXT, first INTEGER NOT NULL, PRIMARY"
            " KEY(machine_arn, revision_id)) WITHOUT ROWID;"
            "CREATE TABLE history_batches( id INTEGER PRIMARY KEY, exec_id INTEGER NOT NULL, first_id"
            " INTEGER NOT NULL, last_id INTEGER NOT NULL, codec INTEGER NOT NULL DEFAULT 0, events BLOB"
            " NOT NULL);"
            "CREATE UNIQUE INDEX history_batches_key ON history_batches(exec_id, first_id);"
            "INSERT INTO schema_version VALUES(1, 'then'),(2, 'then');"
            "INSERT INTO machines VALUES(1,'" M1 "','M1','{\"v\":2}','STANDARD',"
            " 'arn:aws:iam::123456789012:role/R',5,8,'r2');"
            "INSERT INTO machine_revisions VALUES('" M1 "','r1','{\"v\":1}',"
            " 'arn:aws:iam::123456789012:role/R',1),"
            " ('" M1 "','r2','{\"v\":2}','arn:aws:iam::123456789012:role/R',0);"
            "INSERT INTO executions VALUES(7,'" XARN("old") "','" M1 "','old','SUCCEEDED','{}',"
            " '{\"ok\":true}',NULL,NULL,6,9,NULL,'r1'),"
            " (8,'" XARN("run") "','" M1 "','run','RUNNING','{\"a\":1}',NULL,NULL,NULL,10,0,"
            " '{\"frames\":[1]}','r2');"
            "INSERT INTO history_batches(exec_id,first_id,last_id,codec,events) VALUES(7,1,3,0,"
            " CAST('{\"id\":1}' || char(10) || '{\"id\":2}' || char(10) || '{\"id\":3}' AS BLOB));"
            "INSERT INTO timers VALUES('" XARN("run") "',1,500);"
            "INSERT INTO tokens VALUES('tok-v2','" XARN("run") "',4);");
    if (extra)
        db_exec(path, extra);
}

/* A version 2 database gains the resources table and keeps everything
 * else; the result has the very schema of a fresh store (fresh: its path).
 * A migration that fails leaves the file at version 2, untouched. */
static void test_migrate_v2(const char *path, const char *bad_path, const char *fresh)
{
    make_v2(path, NULL);
    CHECK(db_version(path) == 2);
    val_err err = {0};
    store *s = store_sqlite_open(path, &err);
    CHECK_MSG(s != NULL, "%s", err.cause ? err.cause : "?");
    if (!s)
        return;
    CHECK(store_sqlite_schema_version(s) == STORE_SCHEMA_VERSION);
    struct store_machine m;
    CHECK(s->ops->machine_get(s, M1, &m, &err) == STORE_OK);
    CHECK(m.definition && !strcmp(m.definition, "{\"v\":2}") && m.revision_id &&
          !strcmp(m.revision_id, "r2") && m.created_ns == 5 && m.updated_ns == 8);
    store_machine_clear(&m);
    char *def = NULL;
    int first = -1;
    CHECK(s->ops->revision_get(s, M1, "r1", &def, &first, &err) == STORE_OK);
    CHECK(def && !strcmp(def, "{\"v\":1}") && first == 1);
    free(def);
    CHECK(s->ops->revision_get(s, M1, "r2", &def, &first, &err) == STORE_OK && first == 0);
    free(def);
    struct store_exec x;
    CHECK(s->ops->exec_get(s, XARN("old"), &x, &err) == STORE_OK);
    CHECK(x.status && !strcmp(x.status, "SUCCEEDED") && x.output && !strcmp(x.output, "{\"ok\":true}"));
    CHECK(x.revision_id && !strcmp(x.revision_id, "r1") && x.stop_ns == 9);
    store_exec_clear(&x);
    CHECK(s->ops->exec_get(s, XARN("run"), &x, &err) == STORE_OK);
    CHECK(x.snapshot && !strcmp(x.snapshot, "{\"frames\":[1]}") && x.revision_id &&
          !strcmp(x.revision_id, "r2"));
    store_exec_clear(&x);
    struct store_exec_list xl;
    CHECK(s->ops->exec_list_running(s, NULL, 0, &xl, &err) == STORE_OK && xl.n == 1);
    CHECK(xl.n == 1 && !strcmp(xl.items[0].name, "run") && xl.items[0].input);
    store_exec_list_free(&xl);
    CHECK(s->ops->exec_list(s, M1, NULL, NULL, 0, &xl, &err) == STORE_OK && xl.n == 2);
    store_exec_list_free(&xl);
    struct store_event_list l;
    CHECK(s->ops->history_page(s, XARN("old"), 0, 0, 0, &l, &err) == STORE_OK);
    CHECK(l.n == 3 && l.items[2].id == 3 && !strcmp(l.items[2].json, "{\"id\":3}"));
    store_event_list_free(&l);
    struct store_timer_list t;
    CHECK(s->ops->timer_due(s, 1000, 0, &t, &err) == STORE_OK && t.n == 1);
    store_timer_list_free(&t);
    uint64_t task = 0;
    CHECK(s->ops->token_get(s, "tok-v2", NULL, &task, &err) == STORE_OK && task == 4);
    /* the new table: empty, and working */
    struct store_resource_list rl;
    CHECK(s->ops->resource_list(s, "function", &rl, &err) == STORE_OK && rl.n == 0);
    store_resource_list_free(&rl);
    CHECK(s->ops->resource_put(s, "function", "f", "{\"Handler\":\"f.h\"}", 20, &err) == STORE_OK);
    store_close(s);
    CHECK(db_version(path) == STORE_SCHEMA_VERSION);

    /* the same schema as a fresh store, and migrated once only */
    char *got = db_schema(path), *want = db_schema(fresh);
    CHECK(got && strstr(got, "CREATE TABLE resources("));
    CHECK_MSG(got && want && !strcmp(got, want), "migrated:\n%s\nfresh:\n%s", got ? got : "?",
              want ? want : "?");
    free(got);
    free(want);
    s = store_sqlite_open(path, &err);
    CHECK(s != NULL);
    if (s) {
        char *cfg = NULL;
        CHECK(s->ops->resource_get(s, "function", "f", &cfg, &err) == STORE_OK);
        CHECK(cfg && !strcmp(cfg, "{\"Handler\":\"f.h\"}"));
        free(cfg);
        CHECK(s->ops->machine_get(s, M1, &m, &err) == STORE_OK);
        store_machine_clear(&m);
        store_close(s);
    }
    CHECK(db_version(path) == STORE_SCHEMA_VERSION);

    /* migration 3 fails (the name is taken): refused, the file stays v2 */
    make_v2(bad_path, "CREATE TABLE resources(x);");
    s = store_sqlite_open(bad_path, &err);
    CHECK(s == NULL && err.cause && strstr(err.cause, "migration 3"));
    store_close(s);
    val_err_clear(&err);
    CHECK(db_version(bad_path) == 2);
    got = db_schema(bad_path);
    CHECK(got && strstr(got, "CREATE TABLE resources(x)"));
    free(got);
}

/* A database written by schema version 3 (the release before tables):
 * version 2's, plus the resources table as migration 3 made it, with a
 * function in it. extra runs after, when non-NULL. */
static void make_v3(const char *path, const char *extra)
{
    make_v2(path, NULL);
    db_exec(path,
            "CREATE TABLE resources( kind TEXT NOT NULL, name TEXT NOT NULL, config TEXT NOT NULL,"
            " updated_at INTEGER NOT NULL, PRIMARY KEY(kind, name)) WITHOUT ROWID;"
            "INSERT INTO schema_version VALUES(3, 'then');"
            "INSERT INTO resources VALUES('function','f','{\"Handler\":\"f.h\"}',20);");
    if (extra)
        db_exec(path, extra);
}

/* A version 3 database gains the DynamoDB tables and keeps everything
 * else, with the schema of a fresh store; a failed migration 4 leaves it
 * at version 3. */
static void test_migrate_v3(const char *path, const char *bad_path, const char *fresh)
{
    make_v3(path, NULL);
    CHECK(db_version(path) == 3);
    val_err err = {0};
    store *s = store_sqlite_open(path, &err);
    CHECK_MSG(s != NULL, "%s", err.cause ? err.cause : "?");
    if (!s)
        return;
    CHECK(store_sqlite_schema_version(s) == STORE_SCHEMA_VERSION);
    char *cfg = NULL;
    CHECK(s->ops->resource_get(s, "function", "f", &cfg, &err) == STORE_OK);
    CHECK(cfg && !strcmp(cfg, "{\"Handler\":\"f.h\"}"));
    free(cfg);
    struct store_machine m;
    CHECK(s->ops->machine_get(s, M1, &m, &err) == STORE_OK && m.revision_id && !strcmp(m.revision_id, "r2"));
    store_machine_clear(&m);
    struct store_event_list l;
    CHECK(s->ops->history_page(s, XARN("old"), 0, 0, 0, &l, &err) == STORE_OK && l.n == 3);
    store_event_list_free(&l);
    uint64_t task = 0;
    CHECK(s->ops->token_get(s, "tok-v2", NULL, &task, &err) == STORE_OK && task == 4);
    struct store_name_list nl;
    CHECK(s->ops->table_list(s, NULL, 0, &nl, &err) == STORE_OK && nl.n == 0);
    store_name_list_free(&nl);
    CHECK(s->ops->table_create(s, "t", "{}", 30, &err) == STORE_OK);
    CHECK(put_item(s, "t", "k", "{\"a\":1}", 3) == STORE_OK);
    store_close(s);
    CHECK(db_version(path) == STORE_SCHEMA_VERSION);
    char *got = db_schema(path), *want = db_schema(fresh);
    CHECK(got && strstr(got, "CREATE TABLE ddb_items("));
    CHECK_MSG(got && want && !strcmp(got, want), "migrated:\n%s\nfresh:\n%s", got ? got : "?",
              want ? want : "?");
    free(got);
    free(want);
    s = store_sqlite_open(path, &err);
    CHECK(s != NULL);
    if (s) {
        char *js = NULL;
        CHECK(s->ops->item_get(s, "t", "k", 1, &js, &err) == STORE_OK && js && !strcmp(js, "{\"a\":1}"));
        free(js);
        store_close(s);
    }

    make_v3(bad_path, "CREATE TABLE ddb_items(x);");
    s = store_sqlite_open(bad_path, &err);
    CHECK(s == NULL && err.cause && strstr(err.cause, "migration 4"));
    store_close(s);
    val_err_clear(&err);
    CHECK(db_version(bad_path) == 3);
    got = db_schema(bad_path);
    CHECK(got && strstr(got, "CREATE TABLE ddb_items(x)") && !strstr(got, "ddb_tables"));
    free(got);
}

static int db_version(const char *path)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int v = -1;
    if (sqlite3_open(path, &db) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT max(version), count(*) FROM schema_version", -1, &st,
                           NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 1) == sqlite3_column_int(st, 0))
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* WAL is persistent in the file: a plain connection sees it. */
static int db_is_wal(const char *path)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int wal = 0;
    if (sqlite3_open(path, &db) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        wal = !strcmp((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);
    return wal;
}

/* The schema at path, one line per table and index in name order (its
 * SQL, not its page): malloc'd text, NULL when it cannot be read. */
static char *db_schema(const char *path)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    val_buf b = {0};
    int ok = 0;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_master "
                               "ORDER BY name", -1, &st, NULL) == SQLITE_OK) {
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
            val_buf_printf(&b, "%s %s %s %s\n", sqlite3_column_text(st, 0),
                           sqlite3_column_text(st, 1), sqlite3_column_text(st, 2),
                           sqlite3_column_text(st, 3));
        ok = rc == SQLITE_DONE;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    if (!ok) {
        val_buf_free(&b);
        return NULL;
    }
    return val_buf_take(&b);
}

static void db_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    if (sqlite3_open(path, &db) == SQLITE_OK)
        CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
}

int main(void)
{
    val_err err = {0};
    char dir[] = "/tmp/stepd-store-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256], nested[256], junk[256], newer[256];
    snprintf(path, sizeof path, "%s/.stepd/state.db", dir); /* parent made by open */
    snprintf(nested, sizeof nested, "%s/a/b/c/s.db", dir);
    snprintf(junk, sizeof junk, "%s/junk.db", dir);
    snprintf(newer, sizeof newer, "%s/newer.db", dir);

    /* fresh file: migrated to the current version */
    store *s = store_sqlite_open(path, &err);
    CHECK_MSG(s != NULL, "%s", err.cause ? err.cause : "?");
    if (!s)
        TEST_DONE();
    CHECK(store_sqlite_schema_version(s) == STORE_SCHEMA_VERSION);
    run_all(s);
    store_close(s);
    CHECK(db_version(path) == STORE_SCHEMA_VERSION);
    CHECK(db_is_wal(path));

    /* reopen: an already-migrated file is left as is, and committed data
     * is there; the transaction open at close is gone */
    s = store_sqlite_open(path, &err);
    CHECK(s != NULL);
    if (s) {
        CHECK(store_sqlite_schema_version(s) == STORE_SCHEMA_VERSION);
        struct store_exec x;
        CHECK(s->ops->exec_get(s, XARN("tx1"), &x, &err) == STORE_OK);
        store_exec_clear(&x);
        CHECK(s->ops->exec_get(s, XARN("lost"), &x, &err) == STORE_NOT_FOUND);
        CHECK(s->ops->exec_get(s, XARN("e1"), &x, &err) == STORE_OK);
        CHECK(x.error && !strcmp(x.error, "States.TaskFailed"));
        store_exec_clear(&x);
        int64_t n = 0;
        CHECK(s->ops->history_count(s, XARN("e2"), &n, &err) == STORE_OK && n == 25);
        struct store_machine m;
        CHECK(s->ops->machine_get(s, M1, &m, &err) == STORE_OK);
        store_machine_clear(&m);
        struct store_timer_list t;
        CHECK(s->ops->timer_due(s, 1000, 0, &t, &err) == STORE_OK && t.n == 2);
        store_timer_list_free(&t);
        /* resources: what was committed, as it was; not what the open
         * transaction at close did (put "lost", deleted "tx") */
        struct store_resource_list rl;
        CHECK(s->ops->resource_list(s, "function", &rl, &err) == STORE_OK && rl.n == 4);
        if (rl.n == 4) {
            CHECK(!strcmp(rl.items[0].name, "b") && !strcmp(rl.items[1].name, "big") &&
                  !strcmp(rl.items[2].name, "c") && !strcmp(rl.items[3].name, "tx"));
            CHECK(!strcmp(rl.items[3].config, "{\"v\":2}") && rl.items[3].updated_ns == 400);
            CHECK(!strcmp(rl.items[0].config, "{\"Handler\":\"b2.h\"}") &&
                  rl.items[0].updated_ns == 200);
        }
        store_resource_list_free(&rl);
        char *cfg = NULL;
        CHECK(s->ops->resource_get(s, "function", "lost", &cfg, &err) == STORE_NOT_FOUND);
        CHECK(s->ops->resource_get(s, "table", "a", &cfg, &err) == STORE_OK);
        CHECK(cfg && !strcmp(cfg, "{\"KeySchema\":[]}"));
        free(cfg);
        /* tables: what was committed; the open transaction's item put and
         * table delete are gone */
        CHECK(range_is(s, "orders", NULL, 0, NULL, 0, 0, 0, "a,a1,a2,a3,b1,b2,zz"));
        CHECK(range_is(s, "Accounts", NULL, 0, NULL, 0, 0, 0, "a1"));
        store_close(s);
    }
    CHECK(db_version(path) == STORE_SCHEMA_VERSION);

    /* memory */
    s = store_sqlite_open(":memory:", &err);
    CHECK(s != NULL);
    if (s) {
        CHECK(store_sqlite_schema_version(s) == STORE_SCHEMA_VERSION);
        run_all(s);
        store_close(s);
    }
    /* a fresh :memory: store is empty */
    s = store_sqlite_open(":memory:", &err);
    CHECK(s != NULL);
    if (s) {
        struct store_machine_list l;
        CHECK(s->ops->machine_list(s, NULL, 0, &l, &err) == STORE_OK && l.n == 0);
        store_machine_list_free(&l);
        store_close(s);
    }

    /* nested parent directories are created */
    s = store_sqlite_open(nested, &err);
    CHECK(s != NULL);
    store_close(s);
    struct stat sb;
    CHECK(stat(nested, &sb) == 0);

    /* a file that is not a database is refused with a clear error */
    FILE *f = fopen(junk, "w");
    if (f) {
        fputs("this is not a database, not at all; it is plain text long enough\n", f);
        fclose(f);
    }
    s = store_sqlite_open(junk, &err);
    CHECK(s == NULL && err.kind == VAL_ERR_STORE && err.cause && strstr(err.cause, "junk.db"));
    store_close(s);
    val_err_clear(&err);

    /* a file from a newer stepd is refused, untouched */
    db_exec(newer, "CREATE TABLE schema_version(version INTEGER PRIMARY KEY, applied_at TEXT);"
                   "INSERT INTO schema_version VALUES(99, 'x');");
    s = store_sqlite_open(newer, &err);
    CHECK(s == NULL && err.cause && strstr(err.cause, "newer"));
    store_close(s);
    val_err_clear(&err);

    s = store_sqlite_open("", &err);
    CHECK(s == NULL && err.cause);
    val_err_clear(&err);

    char v1[256], v2[256], v2bad[256];
    snprintf(v1, sizeof v1, "%s/v1.db", dir);
    test_migrate_v1(v1);
    snprintf(v2, sizeof v2, "%s/v2.db", dir);
    snprintf(v2bad, sizeof v2bad, "%s/v2bad.db", dir);
    test_migrate_v2(v2, v2bad, path);
    char v3[256], v3bad[256];
    snprintf(v3, sizeof v3, "%s/v3.db", dir);
    snprintf(v3bad, sizeof v3bad, "%s/v3bad.db", dir);
    test_migrate_v3(v3, v3bad, path);

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    TEST_DONE();
}
