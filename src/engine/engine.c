/* engine — the ASL interpreter (JSONPath mode) as a pure step function.
 *
 * An execution is a tree of frames: the top-level machine, and one frame per
 * running Parallel branch or Map iteration. A frame sits at one state in
 * one phase. eng_step applies an event to the frame it concerns, then runs
 * every runnable frame (FIFO) until each one blocks on an effect (task,
 * timer) or finishes; a finished child wakes its parent. Nothing here
 * recurses on data depth: frames go through a queue. */
#include "engine/engine_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* ------------------------------------------------------------ utilities */

static char *xstrdup(const char *s) { return s ? strdup(s) : NULL; }

static const struct asl_state *cur(const struct frame *f) { return &f->m->states[f->state]; }

static void set_json(json_t **slot, json_t *v)
{
    json_decref(*slot);
    *slot = v;
}

static void uuid_from(uint64_t *rng, char out[37])
{
    uint64_t a = asl_rand(rng), b = asl_rand(rng);
    unsigned char u[16];
    memcpy(u, &a, 8);
    memcpy(u + 8, &b, 8);
    u[6] = (u[6] & 0x0f) | 0x40;
    u[8] = (u[8] & 0x3f) | 0x80;
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1],
             u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

/* ------------------------------------------------------------- pending */

void engp_pend_add(eng_exec *x, uint64_t id, struct frame *f, int kind, int64_t due_ns)
{
    if (x->n_pend == x->cap_pend) {
        x->cap_pend = x->cap_pend ? x->cap_pend * 2 : 16;
        x->pend = realloc(x->pend, x->cap_pend * sizeof *x->pend);
    }
    x->pend[x->n_pend++] = (struct pending){id, f, kind, due_ns};
    f->n_pending++;
}

/* ids are handed out in increasing order, so pend is sorted by id */
static struct pending *pend_find(eng_exec *x, uint64_t id)
{
    size_t lo = 0, hi = x->n_pend;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (x->pend[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < x->n_pend && x->pend[lo].id == id && x->pend[lo].f)
        return &x->pend[lo];
    return NULL;
}

static void pend_kill(eng_exec *x, struct pending *p)
{
    p->f->n_pending--;
    p->f = NULL;
    if (++x->dead_pend > 64 && x->dead_pend * 2 > x->n_pend) {
        size_t j = 0;
        for (size_t i = 0; i < x->n_pend; i++)
            if (x->pend[i].f)
                x->pend[j++] = x->pend[i];
        x->n_pend = j;
        x->dead_pend = 0;
    }
}

static void pend_cancel_id(eng_exec *x, uint64_t id)
{
    if (!id)
        return;
    struct pending *p = pend_find(x, id);
    if (p)
        pend_kill(x, p);
}

static void pend_drop_frame(eng_exec *x, struct frame *f)
{
    for (size_t i = 0; i < x->n_pend && f->n_pending; i++)
        if (x->pend[i].f == f)
            pend_kill(x, &x->pend[i]);
}

/* -------------------------------------------------------------- effects */

static struct eng_effect *effect_new(eng_exec *x, int kind)
{
    if (x->n_eff == x->cap_eff) {
        x->cap_eff = x->cap_eff ? x->cap_eff * 2 : 8;
        x->effects = realloc(x->effects, x->cap_eff * sizeof *x->effects);
    }
    struct eng_effect *e = &x->effects[x->n_eff++];
    memset(e, 0, sizeof *e);
    e->kind = kind;
    return e;
}

static uint64_t arm_timer(eng_exec *x, struct frame *f, int kind, int64_t due)
{
    uint64_t id = ++x->next_id;
    engp_pend_add(x, id, f, kind + 1, due);
    struct eng_effect *e = effect_new(x, ENG_EFF_TIMER);
    e->id = id;
    e->due_ns = due;
    return id;
}

/* -------------------------------------------------------------- history */

static double ts_seconds(int64_t ns) { return (double)(ns / 1000000) / 1000.0; }

static void dump_details(eng_exec *x, val_buf *b, json_t *d);

/* Adds an event of type with details under key (consumed; may be NULL).
 * Returns its id. Ids are counted even when history is not recorded: the
 * "entered at the event id #N" messages and the 25,000 limit need them. */
static long hist(eng_exec *x, struct frame *f, const char *type, const char *key, json_t *details)
{
    if (f && f->silent) {
        /* a child execution of a distributed Map keeps its own history */
        json_decref(details);
        return ++f->last_id;
    }
    long id = ++x->next_event_id;
    if (x->record == ENG_HISTORY_TEXT) {
        val_buf *b = &x->htext;
        if (x->ts_for != x->now || !x->ts_text[0]) {
            val_fmt_real(ts_seconds(x->now), x->ts_text, sizeof x->ts_text);
            x->ts_for = x->now;
        }
        long prev = f ? f->last_id : id - 1;
        char num[48];
        val_buf_puts(b, "{\"timestamp\":");
        val_buf_puts(b, x->ts_text);
        val_buf_puts(b, ",\"type\":\"");
        val_buf_puts(b, type);
        snprintf(num, sizeof num, "\",\"id\":%ld", id);
        val_buf_puts(b, num);
        snprintf(num, sizeof num, ",\"previousEventId\":%ld", prev);
        val_buf_puts(b, num);
        if (key && details) {
            val_buf_puts(b, ",\"");
            val_buf_puts(b, key);
            val_buf_puts(b, "\":");
            dump_details(x, b, details);
        }
        val_buf_puts(b, "}\n");
        if (!x->htext_n++)
            x->htext_first = id;
        json_decref(details);
    } else if (x->record) {
        json_t *ev = json_object();
        val_obj_set_take(ev, "timestamp", json_real(ts_seconds(x->now)));
        val_obj_set_take(ev, "type", json_string(type));
        val_obj_set_take(ev, "id", json_integer(id));
        long prev = f ? f->last_id : id - 1;
        val_obj_set_take(ev, "previousEventId", json_integer(prev));
        if (key && details)
            val_obj_set_take(ev, key, details);
        else
            json_decref(details);
        val_arr_append_take(x->history, ev);
    } else {
        json_decref(details);
    }
    if (f)
        f->last_id = id;
    return id;
}

/* v as JSON text in a string value. val_dump writes valid UTF-8 (the values
 * were checked when parsed), so jansson's check is skipped. */
static json_t *text_of_uncached(const json_t *v)
{
    size_t n;
    char *s = val_dump(v, &n);
    json_t *j = json_stringn_nocheck(s, n);
    free(s);
    return j;
}

/* Text history (ENG_HISTORY_TEXT): a payload's text is made once as the
 * JSON string literal it becomes in the event ("{\"a\":1}", quotes and
 * escapes included) and kept in a small ring; the event writer copies
 * strings found in the ring verbatim. The ring holds references, so a
 * pointer in it cannot be reused by another value. */
static json_t *literal_of(const json_t *v)
{
    val_buf b = {0};
    val_buf_dump_literal(&b, v);
    size_t len = b.len;
    char *lit = val_buf_take(&b);
    json_t *j = json_stringn_nocheck(lit, len);
    free(lit);
    return j;
}

static void ring_add(eng_exec *x, json_t *lit)
{
    size_t i = x->ring_next++ % ENG_RING;
    json_decref(x->ring[i]);
    x->ring[i] = json_incref(lit);
}

static int ring_has(const eng_exec *x, const json_t *v)
{
    for (size_t i = 0; i < ENG_RING; i++)
        if (x->ring[i] == v)
            return 1;
    return 0;
}

/* The text of v for a history event, remembering the last value: a state's
 * output is usually the next state's input, the same json_t, and is then
 * serialized once. The memory is dropped at the first hit, so that the
 * reference it holds does not make the next state copy the value before
 * changing it. */
static json_t *text_of(eng_exec *x, json_t *v)
{
    if (v == x->text_src) {
        json_t *t = x->text;
        json_decref(x->text_src);
        x->text_src = x->text = NULL;
        return t;
    }
    json_decref(x->text_src);
    json_decref(x->text);
    x->text_src = json_incref(v);
    if (x->record == ENG_HISTORY_TEXT) {
        x->text = literal_of(v);
        ring_add(x, x->text);
    } else {
        x->text = text_of_uncached(v);
    }
    return json_incref(x->text);
}

/* Writes details (an object) for text history: ring strings verbatim. */
static void dump_details(eng_exec *x, val_buf *b, json_t *d)
{
    const char *k;
    json_t *v;
    int first = 1;
    val_buf_putc(b, '{');
    json_object_foreach(d, k, v)
    {
        if (!first)
            val_buf_putc(b, ',');
        first = 0;
        json_t *key = json_string_nocheck(k);
        val_buf_dump(b, key);
        json_decref(key);
        val_buf_putc(b, ':');
        if (json_is_string(v) && ring_has(x, v))
            val_buf_putn(b, json_string_value(v), json_string_length(v));
        else
            val_buf_dump(b, v);
    }
    val_buf_putc(b, '}');
}

static json_t *details_io(eng_exec *x, const char *name, const char *io, json_t *value)
{
    json_t *d = json_object();
    if (name)
        val_obj_set_take(d, "name", json_string(name));
    if (io) {
        val_obj_set_take(d, io, text_of(x, value));
        char key[32];
        snprintf(key, sizeof key, "%sDetails", io);
        val_obj_set_take(d, key, json_pack("{s:b}", "truncated", 0));
    }
    return d;
}

static json_t *details_err(const char *error, const char *cause)
{
    json_t *d = json_object();
    if (error)
        val_obj_set_take(d, "error", json_string(error));
    if (cause)
        val_obj_set_take(d, "cause", json_string(cause));
    return d;
}

static const char *type_prefix(int type) { return asl_state_type_name(type); }

/* ------------------------------------------------------------ context */

static json_t *context_for(eng_exec *x, struct frame *f, int with_item, size_t item_index,
                           json_t *item_value)
{
    json_t *c = json_object();
    val_obj_set_take(c, "Execution", json_incref(x->ctx_execution));
    val_obj_set_take(c, "StateMachine", json_incref(x->ctx_machine));
    json_t *st = json_object();
    val_obj_set_take(st, "Name", json_string(cur(f)->name));
    char ts[64];
    asl_timestamp_format(f->entered_ns, ts, sizeof ts);
    val_obj_set_take(st, "EnteredTime", json_string(ts));
    int type = cur(f)->type;
    if (f->retry_total > 0 || type == ASL_TASK || type == ASL_PARALLEL || type == ASL_MAP)
        val_obj_set_take(st, "RetryCount", json_integer(f->retry_total));
    val_obj_set_take(c, "State", st);
    if (f->token)
        val_obj_set_take(c, "Task", json_pack("{s:s}", "Token", f->token));
    if (with_item)
        val_obj_set_take(c, "Map",
                         json_pack("{s:{s:I,s:O}}", "Item", "Index", (json_int_t)item_index, "Value", item_value));
    return c;
}

/* the env for evaluating the current state's fields against input */
static void env_for(eng_exec *x, struct frame *f, struct asl_env *env, json_t *input)
{
    env->input = input;
    env->vars = f->vars;
    env->rng = &x->rng;
    env->context = cur(f)->uses_context ? context_for(x, f, 0, 0, NULL) : NULL;
}

static void env_done(struct asl_env *env) { json_decref(env->context); }

/* ---------------------------------------------------------- frame life */

static void frame_free(eng_exec *x, struct frame *f);

static void free_kids(eng_exec *x, struct frame *f)
{
    for (size_t i = 0; i < f->n_kids; i++)
        if (f->kids[i])
            frame_free(x, f->kids[i]);
    free(f->kids);
    f->kids = NULL;
    f->n_kids = f->next_kid = f->running = f->n_done = f->n_failed = 0;
    set_json(&f->results, NULL);
    set_json(&f->items, NULL);
    free(f->kid_error);
    free(f->kid_cause);
    f->kid_error = f->kid_cause = NULL;
}

static void frame_free(eng_exec *x, struct frame *f)
{
    if (!f)
        return;
    free_kids(x, f);
    pend_drop_frame(x, f);
    /* a queued frame is removed from the queue lazily: mark it */
    for (size_t i = 0; f->queued && i < x->q_len; i++) {
        size_t k = (x->q_head + i) % x->q_cap;
        if (x->queue[k] == f)
            x->queue[k] = NULL;
    }
    json_decref(f->raw);
    json_decref(f->eff);
    json_decref(f->task_in);
    json_decref(f->vars);
    json_decref(f->output);
    free(f->retry_counts);
    free(f->token);
    free(f->error);
    free(f->cause);
    free(f);
}

static struct frame *frame_new(const struct asl_machine *m, struct frame *parent, size_t index,
                               json_t *input_take, size_t input_size, json_t *vars)
{
    struct frame *f = calloc(1, sizeof *f);
    f->m = m;
    f->parent = parent;
    f->index = index;
    f->state = m->start;
    f->phase = PH_ENTER;
    f->raw = input_take;
    f->raw_size = input_size;
    f->vars = json_incref(vars);
    f->tol_count = f->tol_pct = -1;
    return f;
}

static void enqueue(eng_exec *x, struct frame *f)
{
    if (f->queued)
        return;
    if (x->q_len == x->q_cap) {
        size_t ncap = x->q_cap ? x->q_cap * 2 : 64;
        struct frame **q = malloc(ncap * sizeof *q);
        for (size_t i = 0; i < x->q_len; i++)
            q[i] = x->queue[(x->q_head + i) % (x->q_cap ? x->q_cap : 1)];
        free(x->queue);
        x->queue = q;
        x->q_head = 0;
        x->q_cap = ncap;
    }
    x->queue[(x->q_head + x->q_len) % x->q_cap] = f;
    x->q_len++;
    f->queued = 1;
}

static struct frame *dequeue(eng_exec *x)
{
    while (x->q_len) {
        struct frame *f = x->queue[x->q_head];
        x->q_head = (x->q_head + 1) % x->q_cap;
        x->q_len--;
        if (f) {
            f->queued = 0;
            return f;
        }
    }
    return NULL;
}

/* ------------------------------------------------------- sizes, errors */

/* The "An error occurred while executing the state ..." prefix AWS puts on
 * States.Runtime causes. */
static char *runtime_cause(struct frame *f, const char *detail)
{
    return val_asprintf("An error occurred while executing the state '%s' (entered at the event id #%ld). %s",
                     cur(f)->name, f->entered_id, detail ? detail : "");
}

/* Message for a definite path that names nothing, in Jayway's words. */
static char *path_miss_message(const asl_path *p, const struct asl_env *env)
{
    char *why = asl_path_miss_cause(p, env);
    char *msg = val_asprintf("Invalid path '%s' : %s", asl_path_text(p),
                          why ? why : "No results for path");
    free(why);
    return msg;
}

/* Applies a Path (InputPath / OutputPath) to v. Returns a new reference or
 * NULL with *msg set. */
static json_t *apply_path(const asl_path *p, int is_null, json_t *v, struct asl_env *env, char **msg)
{
    if (is_null)
        return json_object();
    if (!p || asl_path_is_root(p))
        return json_incref(v);
    json_t *saved = env->input;
    env->input = v;
    json_t *r = asl_path_eval(p, env);
    if (!r)
        *msg = path_miss_message(p, env);
    env->input = saved;
    return r;
}

/* ------------------------------------------------------ state outcomes */

static void state_failed(eng_exec *x, struct frame *f, const char *error, const char *cause);
static void frame_succeed(eng_exec *x, struct frame *f, json_t *output);
static void frame_fail(eng_exec *x, struct frame *f, const char *error, const char *cause);

/* AWS's cause for States.DataLimitExceeded; who is a state name, a function
 * ARN or a service. */
static char *data_limit_cause(const char *who)
{
    return val_asprintf("The state/task '%s' returned a result with a size exceeding the maximum number of bytes "
                     "service limit.",
                     who);
}

/* A States.Runtime (or other uncatchable) problem inside a state. */
static void runtime_fail(eng_exec *x, struct frame *f, const char *error, const char *detail)
{
    char *c = runtime_cause(f, detail);
    state_failed(x, f, error ? error : "States.Runtime", c);
    free(c);
}

static void fail_with_err(eng_exec *x, struct frame *f, val_err *err)
{
    const char *name = err->name ? err->name : "States.Runtime";
    if (strcmp(name, "States.Runtime") == 0)
        runtime_fail(x, f, name, err->cause);
    else
        state_failed(x, f, name, err->cause);
    val_err_clear(err);
}

static int apply_assign(eng_exec *x, struct frame *f, const asl_template *assign, json_t *input,
                        json_t **assigned)
{
    *assigned = NULL;
    if (!assign)
        return 0;
    struct asl_env env;
    env_for(x, f, &env, input);
    val_err err = {0};
    json_t *vals = asl_template_eval(assign, &env, &err);
    env_done(&env);
    if (!vals) {
        fail_with_err(x, f, &err);
        return -1;
    }
    *assigned = vals;
    return 0;
}

static void commit_assign(struct frame *f, json_t *vals)
{
    if (!vals)
        return;
    if (json_object_size(vals)) {
        json_t *v = f->vars ? val_own_take(f->vars) : json_object();
        json_object_update(v, vals);
        f->vars = v;
    }
    json_decref(vals);
}

static json_t *assigned_details(json_t *vals)
{
    json_t *d = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(vals, k, v) val_obj_set_take(d, k, text_of_uncached(v));
    return d;
}

/* The state produced output (consumed) of size bound out_size: record the
 * exit, apply its variables (assigned, consumed), and move to state next,
 * or end the frame when next is -1. */
static void state_exit_to(eng_exec *x, struct frame *f, json_t *out, size_t out_size, json_t *assigned, int next)
{
    const struct asl_state *s = cur(f);
    if (out_size > x->max_payload && val_dump_size(out) > x->max_payload) {
        json_decref(out);
        json_decref(assigned);
        char *c = data_limit_cause(s->name);
        frame_fail(x, f, "States.DataLimitExceeded", c);
        free(c);
        return;
    }
    if (x->record) {
        char type[64];
        snprintf(type, sizeof type, "%sStateExited", type_prefix(s->type));
        json_t *d = details_io(x, s->name, "output", out);
        if (assigned && json_object_size(assigned)) {
            val_obj_set_take(d, "assignedVariables", assigned_details(assigned));
            val_obj_set_take(d, "assignedVariablesDetails", json_pack("{s:b}", "truncated", 0));
        }
        hist(x, f, type, "stateExitedEventDetails", d);
    } else {
        hist(x, f, NULL, NULL, NULL);
    }
    commit_assign(f, assigned);
    x->transitions++;
    set_json(&f->eff, NULL);
    set_json(&f->task_in, NULL);
    free(f->retry_counts);
    f->retry_counts = NULL;
    f->retry_total = 0;
    free(f->token);
    f->token = NULL;
    if (next < 0) {
        set_json(&f->raw, NULL);
        frame_succeed(x, f, out);
        return;
    }
    set_json(&f->raw, out);
    f->raw_size = out_size;
    f->state = next;
    f->phase = PH_ENTER;
    enqueue(x, f);
}

static void state_exit(eng_exec *x, struct frame *f, json_t *out, size_t out_size, json_t *assigned)
{
    const struct asl_state *s = cur(f);
    state_exit_to(x, f, out, out_size, assigned, s->end ? -1 : s->next);
}

/* OutputPath over v (consumed, of serialized size bound size), then the
 * state's exit. */
static void exit_through_output_path(eng_exec *x, struct frame *f, json_t *v, size_t size, json_t *assigned)
{
    const struct asl_state *s = cur(f);
    json_t *out = v;
    if (s->output_path || s->output_path_null) {
        struct asl_env env;
        char *msg = NULL;
        env_for(x, f, &env, v);
        out = apply_path(s->output_path, s->output_path_null, v, &env, &msg);
        env_done(&env);
        json_decref(v);
        if (!out) {
            json_decref(assigned);
            runtime_fail(x, f, NULL, msg);
            free(msg);
            return;
        }
    }
    state_exit(x, f, out, size, assigned);
}

/* ResultPath: merges result (consumed, size bound rsize) into the state's
 * raw input, then exits through OutputPath. The raw input is handed to
 * asl_path_set, so an input no one else holds is changed in place. */
static void merge_and_exit(eng_exec *x, struct frame *f, json_t *result, size_t rsize, json_t *assigned)
{
    const struct asl_state *s = cur(f);
    json_t *merged;
    size_t msize;
    if (s->result_path_null) {
        json_decref(result);
        merged = json_incref(f->raw);
        msize = f->raw_size;
    } else if (!s->result_path || asl_path_is_root(s->result_path)) {
        merged = result;
        msize = rsize;
    } else {
        val_err err = {0};
        json_t *raw = f->raw;
        f->raw = NULL;
        msize = f->raw_size + rsize + strlen(asl_path_text(s->result_path)) + 8;
        merged = asl_path_set(s->result_path, raw, result, &err);
        if (!merged) {
            json_decref(assigned);
            fail_with_err(x, f, &err);
            return;
        }
    }
    exit_through_output_path(x, f, merged, msize, assigned);
}

/* The result of a Task/Parallel/Map (consumed): ResultSelector,
 * ResultPath, OutputPath, Assign, exit. */
static void state_result(eng_exec *x, struct frame *f, json_t *result)
{
    const struct asl_state *s = cur(f);
    val_err err = {0};
    struct asl_env env;
    if (s->result_selector) {
        env_for(x, f, &env, result);
        json_t *sel = asl_template_eval(s->result_selector, &env, &err);
        env_done(&env);
        json_decref(result);
        if (!sel) {
            fail_with_err(x, f, &err);
            return;
        }
        result = sel;
    }
    json_t *assigned = NULL;
    if (apply_assign(x, f, s->assign, result, &assigned) < 0) {
        json_decref(result);
        return;
    }
    size_t rsize = val_dump_size(result);
    if (rsize > x->max_payload) {
        json_decref(result);
        json_decref(assigned);
        char *c = data_limit_cause(s->name);
        frame_fail(x, f, "States.DataLimitExceeded", c);
        free(c);
        return;
    }
    merge_and_exit(x, f, result, rsize, assigned);
}

/* States.Runtime is never caught or retried. (States.DataLimitExceeded from
 * a task's result is catchable by States.ALL, as AWS records; an oversized
 * state output fails the frame directly in state_exit.) */
static int error_is_terminal(const char *e) { return strcmp(e, "States.Runtime") == 0; }

static double retry_delay(eng_exec *x, const struct asl_retrier *r, long attempt)
{
    double d = r->interval_seconds * pow(r->backoff_rate, (double)attempt);
    if (r->max_delay_seconds > 0 && d > r->max_delay_seconds)
        d = r->max_delay_seconds;
    if (r->jitter_full)
        d = d * ((double)(asl_rand(&x->rng) >> 11) / 9007199254740992.0);
    return d;
}

/* A Task, Parallel or Map attempt failed (or a Pass/Choice/... raised):
 * retry, catch, or fail the frame. */
static void state_failed(eng_exec *x, struct frame *f, const char *error, const char *cause)
{
    const struct asl_state *s = cur(f);
    int can_handle = !error_is_terminal(error) &&
                     (s->type == ASL_TASK || s->type == ASL_PARALLEL || s->type == ASL_MAP);
    if (can_handle) {
        for (size_t i = 0; i < s->n_retry; i++) {
            const struct asl_retrier *r = &s->retry[i];
            if (!asl_errlist_match(&r->errors, error))
                continue;
            if (!f->retry_counts)
                f->retry_counts = calloc(s->n_retry, sizeof *f->retry_counts);
            if (f->retry_counts[i] >= r->max_attempts)
                break; /* the first matching retrier is exhausted: go to Catch */
            double d = retry_delay(x, r, f->retry_counts[i]);
            f->retry_counts[i]++;
            f->retry_total++;
            free_kids(x, f);
            f->from_kids = 0;
            f->phase = PH_RETRY;
            f->timer_id = arm_timer(x, f, TM_RETRY, x->now + (int64_t)(d * 1e9));
            return;
        }
    }
    if (f->from_kids && s->type == ASL_MAP) {
        if (s->distributed)
            hist(x, f, "MapRunFailed", NULL, NULL);
        hist(x, f, "MapStateFailed", NULL, NULL);
    } else if (f->from_kids && s->type == ASL_PARALLEL) {
        hist(x, f, "ParallelStateFailed", NULL, NULL);
    }
    f->from_kids = 0;
    free_kids(x, f);
    if (can_handle) {
        for (size_t i = 0; i < s->n_catch; i++) {
            const struct asl_catcher *c = &s->catch_[i];
            if (!asl_errlist_match(&c->errors, error))
                continue;
            json_t *eo = json_object();
            val_obj_set_take(eo, "Error", json_string(error));
            val_obj_set_take(eo, "Cause", json_string(cause ? cause : ""));
            if (!cause)
                json_object_del(eo, "Cause");
            json_t *assigned = NULL;
            if (c->assign) {
                struct asl_env env;
                env_for(x, f, &env, eo);
                val_err err = {0};
                assigned = asl_template_eval(c->assign, &env, &err);
                env_done(&env);
                if (!assigned) {
                    json_decref(eo);
                    free_kids(x, f);
                    char *rc = runtime_cause(f, err.cause);
                    frame_fail(x, f, err.name ? err.name : "States.Runtime", rc);
                    free(rc);
                    val_err_clear(&err);
                    return;
                }
            }
            json_t *out;
            size_t osize = f->raw_size + val_dump_size(eo) + 16;
            if (c->result_path_null) {
                json_decref(eo);
                out = json_incref(f->raw);
                osize = f->raw_size;
            } else if (!c->result_path || asl_path_is_root(c->result_path)) {
                out = eo;
            } else {
                val_err err = {0};
                json_t *raw = f->raw;
                f->raw = NULL;
                out = asl_path_set(c->result_path, raw, eo, &err);
                if (!out) {
                    json_decref(assigned);
                    char *rc = runtime_cause(f, err.cause);
                    frame_fail(x, f, err.name ? err.name : "States.Runtime", rc);
                    free(rc);
                    val_err_clear(&err);
                    return;
                }
            }
            state_exit_to(x, f, out, osize, assigned, c->next);
            return;
        }
    }
    frame_fail(x, f, error, cause);
}

/* ------------------------------------------------------ frame outcomes */

static void kid_done(eng_exec *x, struct frame *parent, struct frame *kid);

static void exec_finish(eng_exec *x, int status, json_t *output, const char *error, const char *cause)
{
    x->status = status;
    x->output = output;
    x->error = xstrdup(error);
    x->cause = xstrdup(cause);
    switch (status) {
    case ENG_SUCCEEDED:
        hist(x, x->root, "ExecutionSucceeded", "executionSucceededEventDetails",
             x->record ? details_io(x, NULL, "output", output) : NULL);
        break;
    case ENG_FAILED:
        hist(x, x->root, "ExecutionFailed", "executionFailedEventDetails", x->record ? details_err(error, cause) : NULL);
        break;
    case ENG_TIMED_OUT:
        hist(x, x->root, "ExecutionTimedOut", "executionTimedOutEventDetails",
             x->record ? details_err(error, cause) : NULL);
        break;
    case ENG_ABORTED:
        hist(x, x->root, "ExecutionAborted", "executionAbortedEventDetails",
             x->record ? details_err(error, cause) : NULL);
        break;
    }
    /* nothing may move any more */
    x->n_pend = 0;
    x->dead_pend = 0;
    x->q_len = 0;
}

static void frame_succeed(eng_exec *x, struct frame *f, json_t *output)
{
    f->phase = PH_DONE;
    f->status = ENG_SUCCEEDED;
    f->output = output;
    if (!f->parent)
        exec_finish(x, ENG_SUCCEEDED, json_incref(output), NULL, NULL);
    else
        kid_done(x, f->parent, f);
}

static void frame_fail(eng_exec *x, struct frame *f, const char *error, const char *cause)
{
    f->phase = PH_DONE;
    f->status = ENG_FAILED;
    f->error = xstrdup(error);
    f->cause = xstrdup(cause);
    if (!f->parent)
        exec_finish(x, ENG_FAILED, NULL, error, cause);
    else
        kid_done(x, f->parent, f);
}

static void start_kids(eng_exec *x, struct frame *p);

static void parallel_or_map_done(eng_exec *x, struct frame *p)
{
    const struct asl_state *s = cur(p);
    json_t *results = p->results;
    p->results = NULL;
    if (s->type == ASL_MAP && s->distributed)
        hist(x, p, "MapRunSucceeded", NULL, NULL);
    hist(x, p, s->type == ASL_MAP ? "MapStateSucceeded" : "ParallelStateSucceeded", NULL, NULL);
    free_kids(x, p);
    p->phase = PH_ENTER; /* no longer waiting */
    state_result(x, p, results);
}

/* Whether the failures so far exceed the Map's tolerance. */
static int over_tolerance(struct frame *p)
{
    if (p->tol_count < 0 && p->tol_pct < 0)
        return p->n_failed > 0;
    int over_count = p->tol_count < 0 || (double)p->n_failed > p->tol_count;
    int over_pct = p->tol_pct < 0 || (p->n_kids && 100.0 * (double)p->n_failed / (double)p->n_kids > p->tol_pct);
    return over_count && over_pct;
}

static void kid_done(eng_exec *x, struct frame *p, struct frame *kid)
{
    const struct asl_state *s = cur(p);
    size_t idx = kid->index;
    int is_map = s->type == ASL_MAP;
    p->running--;
    p->n_done++;
    if (kid->status == ENG_SUCCEEDED) {
        if (is_map && !s->distributed)
            hist(x, p, "MapIterationSucceeded", "mapIterationSucceededEventDetails",
                 x->record ? json_pack("{s:s,s:I}", "name", s->name, "index", (json_int_t)idx) : NULL);
        json_array_set(p->results, idx, kid->output);
        p->kids[idx] = NULL;
        frame_free(x, kid);
    } else {
        if (is_map && !s->distributed)
            hist(x, p, "MapIterationFailed", "mapIterationFailedEventDetails",
                 x->record ? json_pack("{s:s,s:I}", "name", s->name, "index", (json_int_t)idx) : NULL);
        p->n_failed++;
        if (!p->kid_error) {
            p->kid_error = xstrdup(kid->error);
            p->kid_cause = xstrdup(kid->cause);
        }
        int terminal = kid->error && error_is_terminal(kid->error);
        p->kids[idx] = NULL;
        frame_free(x, kid);
        if (!is_map || terminal || over_tolerance(p)) {
            char *e = p->kid_error, *c = p->kid_cause;
            p->kid_error = p->kid_cause = NULL;
            if (is_map && !terminal && (p->tol_count >= 0 || p->tol_pct >= 0)) {
                free(e);
                free(c);
                e = xstrdup("States.ExceedToleratedFailureThreshold");
                c = xstrdup("The specified tolerated failure threshold was exceeded");
            }
            p->phase = PH_ENTER;
            p->from_kids = 1;
            state_failed(x, p, e ? e : "States.Runtime", c);
            free(e);
            free(c);
            return;
        }
        json_array_set(p->results, idx, json_null());
    }
    if (p->n_done == p->n_kids)
        parallel_or_map_done(x, p);
    else
        start_kids(x, p);
}

/* Starts children of a Parallel/Map frame up to its concurrency limit. */
static void start_kids(eng_exec *x, struct frame *p)
{
    const struct asl_state *s = cur(p);
    while (p->next_kid < p->n_kids && (p->max_conc <= 0 || (long)p->running < p->max_conc)) {
        size_t i = p->next_kid++;
        struct frame *k;
        if (s->type == ASL_PARALLEL) {
            k = frame_new(s->branches[i], p, i, json_incref(p->eff), p->raw_size, p->vars);
        } else {
            json_t *item = json_array_get(p->items, i);
            json_t *in;
            if (s->parameters) {
                struct asl_env env = {p->eff, NULL, p->vars, &x->rng};
                if (s->uses_context)
                    env.context = context_for(x, p, 1, i, item);
                val_err err = {0};
                in = asl_template_eval(s->parameters, &env, &err);
                json_decref(env.context);
                if (!in) {
                    fail_with_err(x, p, &err);
                    return;
                }
            } else {
                in = json_incref(item);
            }
            size_t sz = val_dump_size(in);
            k = frame_new(s->processor, p, i, in, sz, p->vars);
            if (!s->distributed)
                hist(x, p, "MapIterationStarted", "mapIterationStartedEventDetails",
                 x->record ? json_pack("{s:s,s:I}", "name", s->name, "index", (json_int_t)i) : NULL);
        }
        k->last_id = p->last_id;
        k->silent = p->silent || (s->type == ASL_MAP && s->distributed);
        if (k->silent && !p->silent)
            k->last_id = 0;
        p->kids[i] = k;
        p->running++;
        enqueue(x, k);
    }
}

/* --------------------------------------------------------- state entry */

/* Evaluates the state's Parameters over its effective input and stores the
 * result in *slot. Returns 0, or -1 after failing the state. */
static int eval_parameters(eng_exec *x, struct frame *f, json_t **slot)
{
    struct asl_env env;
    env_for(x, f, &env, f->eff);
    val_err err = {0};
    json_t *p = asl_template_eval(cur(f)->parameters, &env, &err);
    env_done(&env);
    if (!p) {
        fail_with_err(x, f, &err);
        return -1;
    }
    set_json(slot, p);
    return 0;
}

/* Evaluates a Reference Path (ItemsPath, SecondsPath, ...) against input;
 * when it names nothing, fails the state with AWS's message and returns
 * NULL. */
static json_t *eval_ref(eng_exec *x, struct frame *f, const asl_path *p, json_t *input)
{
    struct asl_env env;
    env_for(x, f, &env, input);
    json_t *v = asl_path_eval(p, &env);
    if (!v) {
        char *m = path_miss_message(p, &env);
        env_done(&env);
        runtime_fail(x, f, NULL, m);
        free(m);
        return NULL;
    }
    env_done(&env);
    return v;
}

static int read_intfield(eng_exec *x, struct frame *f, const struct asl_intfield *fld, const char *name,
                         json_t *input, double *out, int want_int)
{
    if (!fld->set)
        return 0;
    if (!fld->path) {
        *out = fld->value;
        return 1;
    }
    json_t *v = eval_ref(x, f, fld->path, input);
    if (!v)
        return -1;
    int64_t iv;
    if (json_is_number(v) && (!want_int || val_as_int64(v, &iv))) {
        *out = json_number_value(v);
        json_decref(v);
        return 1;
    }
    char *txt = json_is_string(v) ? strdup(json_string_value(v)) : val_dump(v, NULL);
    char *m = val_asprintf("The %sPath field refers to value \"%s\" which is not a valid %s: %s", name, txt,
                        want_int ? "integer" : "float", asl_path_text(fld->path));
    free(txt);
    json_decref(v);
    runtime_fail(x, f, NULL, m);
    free(m);
    return -1;
}

static void task_invoke(eng_exec *x, struct frame *f);

static void enter_parallel_or_map(eng_exec *x, struct frame *f)
{
    const struct asl_state *s = cur(f);
    free_kids(x, f);
    if (s->type == ASL_PARALLEL) {
        hist(x, f, "ParallelStateStarted", NULL, NULL);
        f->n_kids = s->n_branches;
        f->max_conc = 0;
    } else {
        json_t *items;
        if (s->items) {
            items = json_incref(s->items);
        } else if (!s->items_path || asl_path_is_root(s->items_path)) {
            items = json_incref(f->eff);
        } else {
            items = eval_ref(x, f, s->items_path, f->eff);
            if (!items)
                return;
        }
        if (!json_is_array(items)) {
            char *txt = val_dump(items, NULL);
            char *m = val_asprintf("Map state input must be an array but was: %s", txt);
            free(txt);
            json_decref(items);
            runtime_fail(x, f, NULL, m);
            free(m);
            return;
        }
        hist(x, f, "MapStateStarted", "mapStateStartedEventDetails",
             x->record ? json_pack("{s:I}", "length", (json_int_t)json_array_size(items)) : NULL);
        double mc = 0, tc = -1, tp = -1;
        if (read_intfield(x, f, &s->max_concurrency, "MaxConcurrency", f->eff, &mc, 1) < 0 ||
            read_intfield(x, f, &s->tolerated_failure_count, "ToleratedFailureCount", f->eff, &tc, 1) < 0 ||
            read_intfield(x, f, &s->tolerated_failure_percentage, "ToleratedFailurePercentage", f->eff, &tp, 0) < 0) {
            json_decref(items);
            return;
        }
        if (s->tolerated_failure_percentage.set && (tp < 0 || tp > 100)) {
            json_decref(items);
            runtime_fail(x, f, NULL, "ToleratedFailurePercentage must be between 0 and 100.");
            return;
        }
        if (s->tolerated_failure_count.set && tc < 0) {
            json_decref(items);
            runtime_fail(x, f, NULL, "ToleratedFailureCount cannot be negative.");
            return;
        }
        f->max_conc = (long)mc;
        f->tol_count = s->tolerated_failure_count.set ? tc : -1;
        f->tol_pct = s->tolerated_failure_percentage.set ? tp : -1;
        f->items = items;
        f->n_kids = json_array_size(items);
        if (s->distributed)
            hist(x, f, "MapRunStarted", NULL, NULL);
    }
    f->kids = calloc(f->n_kids ? f->n_kids : 1, sizeof *f->kids);
    f->results = json_array();
    for (size_t i = 0; i < f->n_kids; i++)
        json_array_append_new(f->results, json_null());
    f->phase = PH_KIDS;
    if (f->n_kids == 0) {
        parallel_or_map_done(x, f);
        return;
    }
    start_kids(x, f);
}

/* A Wait state's time has come: Assign, OutputPath, exit. */
static void wait_done(eng_exec *x, struct frame *f)
{
    json_t *assigned = NULL;
    if (apply_assign(x, f, cur(f)->assign, f->eff, &assigned) < 0)
        return;
    exit_through_output_path(x, f, json_incref(f->eff), f->raw_size, assigned);
}

static void enter_wait(eng_exec *x, struct frame *f)
{
    const struct asl_state *s = cur(f);
    int64_t due = x->now;
    if (s->wait_seconds.set) {
        double secs = 0;
        if (s->wait_seconds.path) {
            json_t *v = eval_ref(x, f, s->wait_seconds.path, f->eff);
            if (!v)
                return;
            int64_t iv;
            if (!json_is_number(v) || !val_as_int64(v, &iv)) {
                char *txt = val_dump(v, NULL);
                char *m = val_asprintf("The SecondsPath parameter cannot be parsed as a long value: %s", txt);
                free(txt);
                json_decref(v);
                runtime_fail(x, f, NULL, m);
                free(m);
                return;
            }
            json_decref(v);
            if (iv < 0) {
                runtime_fail(x, f, NULL, "The SecondsPath parameter references a negative value.");
                return;
            }
            secs = (double)iv;
        } else {
            secs = s->wait_seconds.value;
        }
        if (secs > 9.2e9)
            secs = 9.2e9;
        due = x->now + (int64_t)(secs * 1e9);
    } else {
        const char *ts = s->wait_timestamp;
        json_t *v = NULL;
        if (s->wait_timestamp_path) {
            v = eval_ref(x, f, s->wait_timestamp_path, f->eff);
            if (!v)
                return;
            ts = json_is_string(v) ? json_string_value(v) : NULL;
        }
        int64_t ns;
        if (!ts || asl_timestamp_parse(ts, &ns) < 0) {
            char *m;
            if (s->wait_timestamp_path) {
                char *txt = json_is_string(v) ? strdup(json_string_value(v)) : val_dump(v, NULL);
                m = val_asprintf("The TimestampPath parameter does not reference a valid ISO-8601 extended offset "
                              "date-time format string: %s == %s",
                              asl_path_text(s->wait_timestamp_path), txt);
                free(txt);
            } else {
                m = val_asprintf("The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time "
                              "format string: %s",
                              ts ? ts : "");
            }
            json_decref(v);
            runtime_fail(x, f, NULL, m);
            free(m);
            return;
        }
        json_decref(v);
        due = ns;
    }
    if (due <= x->now) {
        wait_done(x, f); /* no wait: exit at once */
        return;
    }
    f->phase = PH_WAIT;
    f->timer_id = arm_timer(x, f, TM_WAIT, due);
}

static void enter_state(eng_exec *x, struct frame *f)
{
    const struct asl_state *s = cur(f);
    f->entered_ns = x->now;
    if (x->record) {
        char type[64];
        snprintf(type, sizeof type, "%sStateEntered", type_prefix(s->type));
        f->entered_id = hist(x, f, type, "stateEnteredEventDetails", details_io(x, s->name, "input", f->raw));
    } else {
        f->entered_id = hist(x, f, NULL, NULL, NULL);
    }
    if (x->status != ENG_RUNNING)
        return;
    if (x->type == ENG_STANDARD && x->next_event_id >= ENG_MAX_EVENTS) {
        frame_fail(x, f, "States.Runtime",
                   "The execution reached the maximum number of history events (25000).");
        return;
    }
    if (s->type == ASL_FAIL) {
        const char *error = s->error, *cause = s->cause;
        json_t *ev = NULL, *cv = NULL;
        if (s->error_path || s->cause_path) {
            struct asl_env env;
            env_for(x, f, &env, f->raw);
            val_err err = {0};
            if (s->error_path) {
                ev = asl_expr_eval(s->error_path, &env, "ErrorPath", &err);
                if (!ev) {
                    env_done(&env);
                    fail_with_err(x, f, &err);
                    return;
                }
            }
            if (s->cause_path) {
                cv = asl_expr_eval(s->cause_path, &env, "CausePath", &err);
                if (!cv) {
                    env_done(&env);
                    json_decref(ev);
                    fail_with_err(x, f, &err);
                    return;
                }
            }
            env_done(&env);
        }
        char *es = NULL, *cs = NULL;
        if (ev)
            error = json_is_string(ev) ? json_string_value(ev) : (es = val_dump(ev, NULL));
        if (cv)
            cause = json_is_string(cv) ? json_string_value(cv) : (cs = val_dump(cv, NULL));
        frame_fail(x, f, error, cause);
        free(es);
        free(cs);
        json_decref(ev);
        json_decref(cv);
        return;
    }

    /* InputPath */
    struct asl_env env;
    char *msg = NULL;
    env_for(x, f, &env, f->raw);
    json_t *eff = apply_path(s->input_path, s->input_path_null, f->raw, &env, &msg);
    env_done(&env);
    if (!eff) {
        runtime_fail(x, f, NULL, msg);
        free(msg);
        return;
    }
    set_json(&f->eff, eff);

    /* Parameters (Map's ItemSelector is applied per item, a Task's per
     * attempt, once its task token exists) */
    if (s->parameters && s->type != ASL_MAP && s->type != ASL_TASK && eval_parameters(x, f, &f->eff) < 0)
        return;

    switch (s->type) {
    case ASL_PASS: {
        json_t *result = s->result ? json_incref(s->result) : json_incref(f->eff);
        set_json(&f->eff, NULL);
        json_t *assigned = NULL;
        if (apply_assign(x, f, s->assign, result, &assigned) < 0) {
            json_decref(result);
            return;
        }
        size_t rsize = s->result ? val_dump_size(result) : f->raw_size;
        merge_and_exit(x, f, result, rsize, assigned);
        return;
    }
    case ASL_SUCCEED:
    case ASL_CHOICE: {
        int next = -1;
        const asl_template *assign = s->assign;
        if (s->type == ASL_CHOICE) {
            env_for(x, f, &env, f->eff);
            for (size_t i = 0; i < s->n_choices && next < 0; i++) {
                val_err err = {0};
                int r = asl_choice_eval(s->choices[i].cond, &env, &err);
                if (r < 0) {
                    env_done(&env);
                    fail_with_err(x, f, &err);
                    return;
                }
                if (r) {
                    next = s->choices[i].next;
                    assign = s->choices[i].assign;
                }
            }
            env_done(&env);
            if (next < 0)
                next = s->default_next;
            if (next < 0) {
                state_failed(x, f, "States.NoChoiceMatched",
                             "No Choice Rules matched and no Default was specified");
                return;
            }
        }
        json_t *assigned = NULL;
        if (apply_assign(x, f, assign, f->eff, &assigned) < 0)
            return;
        env_for(x, f, &env, f->eff);
        json_t *out = apply_path(s->output_path, s->output_path_null, f->eff, &env, &msg);
        env_done(&env);
        if (!out) {
            json_decref(assigned);
            runtime_fail(x, f, NULL, msg);
            free(msg);
            return;
        }
        state_exit_to(x, f, out, f->raw_size, assigned, s->type == ASL_SUCCEED ? -1 : next);
        return;
    }
    case ASL_WAIT: enter_wait(x, f); return;
    case ASL_TASK: {
        f->attempt = 0;
        task_invoke(x, f);
        return;
    }
    case ASL_PARALLEL:
    case ASL_MAP: enter_parallel_or_map(x, f); return;
    }
}

/* ---------------------------------------------------------------- tasks */

/* Splits a Resource into AWS's resourceType / resource for history. */
static void resource_parts(const char *res, char *type, size_t tcap, char *name, size_t ncap, int *is_lambda_arn)
{
    *is_lambda_arn = 0;
    const char *p;
    if (strncmp(res, "arn:aws:states:::", 17) == 0) {
        p = res + 17;
        const char *colon = strrchr(p, ':');
        if (colon) {
            snprintf(type, tcap, "%.*s", (int)(colon - p), p);
            snprintf(name, ncap, "%s", colon + 1);
        } else {
            snprintf(type, tcap, "%s", p);
            snprintf(name, ncap, "%s", p);
        }
        return;
    }
    if (strncmp(res, "arn:aws:lambda:", 15) == 0)
        *is_lambda_arn = 1;
    snprintf(type, tcap, "lambda");
    snprintf(name, ncap, "%s", res);
}

static void task_invoke(eng_exec *x, struct frame *f)
{
    const struct asl_state *s = cur(f);
    double timeout = 0, heartbeat = 0;
    if (read_intfield(x, f, &s->timeout_seconds, "TimeoutSeconds", f->raw, &timeout, 1) < 0)
        return;
    if (read_intfield(x, f, &s->heartbeat_seconds, "HeartbeatSeconds", f->raw, &heartbeat, 1) < 0)
        return;
    char rtype[256], rname[512];
    int lambda_arn;
    resource_parts(s->resource, rtype, sizeof rtype, rname, sizeof rname, &lambda_arn);
    int callback = strstr(s->resource, ".waitForTaskToken") != NULL;
    free(f->token);
    f->token = NULL;
    if (callback) {
        char u1[37], u2[37];
        uuid_from(&x->rng, u1);
        uuid_from(&x->rng, u2);
        f->token = val_asprintf("%s%s", u1, u2);
    }
    if (s->parameters) {
        if (eval_parameters(x, f, &f->task_in) < 0)
            return;
    } else {
        set_json(&f->task_in, json_incref(f->eff));
    }
    if (x->record) {
        json_t *d = json_object();
        if (lambda_arn) {
            val_obj_set_take(d, "resource", json_string(s->resource));
            val_obj_set_take(d, "input", text_of(x, f->task_in));
            val_obj_set_take(d, "inputDetails", json_pack("{s:b}", "truncated", 0));
            if (timeout > 0)
                val_obj_set_take(d, "timeoutInSeconds", json_integer((json_int_t)timeout));
            hist(x, f, "LambdaFunctionScheduled", "lambdaFunctionScheduledEventDetails", d);
            hist(x, f, "LambdaFunctionStarted", NULL, NULL);
        } else {
            val_obj_set_take(d, "resourceType", json_string(rtype));
            val_obj_set_take(d, "resource", json_string(rname));
            val_obj_set_take(d, "region", json_string(x->region));
            val_obj_set_take(d, "parameters", text_of(x, f->task_in));
            if (timeout > 0)
                val_obj_set_take(d, "timeoutInSeconds", json_integer((json_int_t)timeout));
            if (heartbeat > 0)
                val_obj_set_take(d, "heartbeatInSeconds", json_integer((json_int_t)heartbeat));
            hist(x, f, "TaskScheduled", "taskScheduledEventDetails", d);
            hist(x, f, "TaskStarted", "taskStartedEventDetails",
                 json_pack("{s:s,s:s}", "resourceType", rtype, "resource", rname));
        }
    } else {
        hist(x, f, NULL, NULL, NULL);
        hist(x, f, NULL, NULL, NULL);
    }
    f->phase = PH_TASK;
    f->task_id = ++x->next_id;
    engp_pend_add(x, f->task_id, f, 0, 0);
    /* attempt: how many times this state was invoked before, across the run */
    json_t *cnt = json_object_get(x->invocations, s->name);
    long attempt = cnt ? (long)json_integer_value(cnt) : 0;
    val_obj_set_take(x->invocations, s->name, json_integer(attempt + 1));
    struct eng_effect *e = effect_new(x, ENG_EFF_INVOKE);
    e->id = f->task_id;
    e->state = s->name;
    e->resource = s->resource;
    e->input = f->task_in;
    e->token = f->token;
    e->attempt = attempt;
    f->attempt = attempt;
    f->timeout_timer = timeout > 0 ? arm_timer(x, f, TM_TASK_TIMEOUT, x->now + (int64_t)(timeout * 1e9)) : 0;
    f->heartbeat_ns = heartbeat > 0 ? (int64_t)(heartbeat * 1e9) : 0;
    f->heartbeat_timer = heartbeat > 0 ? arm_timer(x, f, TM_HEARTBEAT, x->now + f->heartbeat_ns) : 0;
}

static void task_clear(eng_exec *x, struct frame *f)
{
    pend_cancel_id(x, f->task_id);
    pend_cancel_id(x, f->timeout_timer);
    pend_cancel_id(x, f->heartbeat_timer);
    f->task_id = f->timeout_timer = f->heartbeat_timer = 0;
}

static void task_succeeded(eng_exec *x, struct frame *f, json_t *output)
{
    const struct asl_state *s = cur(f);
    task_clear(x, f);
    json_t *out = output ? json_incref(output) : json_null();
    if (val_dump_size(out) > x->max_payload) {
        json_decref(out);
        /* AWS names the function ARN (direct Lambda) or the service
         * ("lambda" for lambda:invoke); it is catchable by States.ALL */
        char rtype[256], rname[512];
        int la;
        resource_parts(s->resource, rtype, sizeof rtype, rname, sizeof rname, &la);
        char *c = data_limit_cause(la ? s->resource : rtype);
        if (x->record) {
            json_t *d = details_err("States.DataLimitExceeded", c);
            if (!la) {
                val_obj_set_take(d, "resourceType", json_string(rtype));
                val_obj_set_take(d, "resource", json_string(rname));
            }
            hist(x, f, la ? "LambdaFunctionFailed" : "TaskFailed",
                 la ? "lambdaFunctionFailedEventDetails" : "taskFailedEventDetails", d);
        } else {
            hist(x, f, NULL, NULL, NULL);
        }
        state_failed(x, f, "States.DataLimitExceeded", c);
        free(c);
        return;
    }
    if (x->record) {
        char rtype[256], rname[512];
        int la;
        resource_parts(s->resource, rtype, sizeof rtype, rname, sizeof rname, &la);
        json_t *d = json_object();
        if (!la) {
            val_obj_set_take(d, "resourceType", json_string(rtype));
            val_obj_set_take(d, "resource", json_string(rname));
        }
        val_obj_set_take(d, "output", text_of(x, out));
        val_obj_set_take(d, "outputDetails", json_pack("{s:b}", "truncated", 0));
        hist(x, f, la ? "LambdaFunctionSucceeded" : "TaskSucceeded",
             la ? "lambdaFunctionSucceededEventDetails" : "taskSucceededEventDetails", d);
    } else {
        hist(x, f, NULL, NULL, NULL);
    }
    f->phase = PH_ENTER;
    state_result(x, f, out);
}

static void task_failed(eng_exec *x, struct frame *f, const char *error, const char *cause, int timed_out)
{
    const struct asl_state *s = cur(f);
    task_clear(x, f);
    if (x->record) {
        char rtype[256], rname[512];
        int la;
        resource_parts(s->resource, rtype, sizeof rtype, rname, sizeof rname, &la);
        json_t *d = details_err(error, cause);
        if (!la) {
            val_obj_set_take(d, "resourceType", json_string(rtype));
            val_obj_set_take(d, "resource", json_string(rname));
        }
        const char *type = la ? (timed_out ? "LambdaFunctionTimedOut" : "LambdaFunctionFailed")
                              : (timed_out ? "TaskTimedOut" : "TaskFailed");
        const char *key = la ? (timed_out ? "lambdaFunctionTimedOutEventDetails" : "lambdaFunctionFailedEventDetails")
                             : (timed_out ? "taskTimedOutEventDetails" : "taskFailedEventDetails");
        hist(x, f, type, key, d);
    } else {
        hist(x, f, NULL, NULL, NULL);
    }
    f->phase = PH_ENTER;
    state_failed(x, f, error, cause);
}

/* --------------------------------------------------------------- public */

eng_exec *eng_exec_new(const struct asl_machine *m, const struct eng_config *cfg, json_t *input, uint64_t seed)
{
    eng_exec *x = calloc(1, sizeof *x);
    x->m = m;
    x->type = cfg->type;
    x->record = cfg->record_history;
    x->max_payload = cfg->max_payload ? cfg->max_payload : ENG_MAX_PAYLOAD;
    x->rng = seed;
    x->region = strdup(cfg->region ? cfg->region : "us-east-1");
    x->account = strdup(cfg->account ? cfg->account : "123456789012");
    x->machine_name = strdup(cfg->machine_name ? cfg->machine_name : "StateMachine");
    if (cfg->execution_name) {
        x->exec_name = strdup(cfg->execution_name);
    } else {
        char u[37];
        uuid_from(&x->rng, u);
        x->exec_name = strdup(u);
    }
    x->role_arn = cfg->role_arn ? strdup(cfg->role_arn)
                                : val_asprintf("arn:aws:iam::%s:role/stepd-execution-role", x->account);
    x->sm_arn = val_asprintf("arn:aws:states:%s:%s:stateMachine:%s", x->region, x->account, x->machine_name);
    if (cfg->execution_arn) {
        x->exec_arn = strdup(cfg->execution_arn);
    } else if (x->type == ENG_EXPRESS) {
        char u[37];
        uuid_from(&x->rng, u);
        x->exec_arn = val_asprintf("arn:aws:states:%s:%s:express:%s:%s:%s", x->region, x->account, x->machine_name,
                                x->exec_name, u);
    } else {
        x->exec_arn = val_asprintf("arn:aws:states:%s:%s:execution:%s:%s", x->region, x->account, x->machine_name,
                                x->exec_name);
    }
    x->input = json_incref(input);
    x->history = json_array();
    x->invocations = json_object();
    x->status = ENG_RUNNING;
    return x;
}

void eng_exec_free(eng_exec *x)
{
    if (!x)
        return;
    x->q_len = 0;
    frame_free(x, x->root);
    free(x->region);
    free(x->account);
    free(x->machine_name);
    free(x->exec_name);
    free(x->role_arn);
    free(x->sm_arn);
    free(x->exec_arn);
    json_decref(x->input);
    json_decref(x->ctx_execution);
    json_decref(x->ctx_machine);
    json_decref(x->history);
    json_decref(x->output);
    json_decref(x->invocations);
    json_decref(x->text_src);
    json_decref(x->text);
    for (size_t i = 0; i < ENG_RING; i++)
        json_decref(x->ring[i]);
    val_buf_free(&x->htext);
    free(x->error);
    free(x->cause);
    free(x->queue);
    free(x->pend);
    free(x->effects);
    free(x);
}

static void start(eng_exec *x)
{
    x->start_ns = x->now;
    char ts[64];
    asl_timestamp_format(x->now, ts, sizeof ts);
    x->ctx_execution = json_pack("{s:s,s:O,s:s,s:s,s:s}", "Id", x->exec_arn, "Input", x->input, "StartTime", ts,
                                 "Name", x->exec_name, "RoleArn", x->role_arn);
    if (x->type == ENG_STANDARD)
        val_obj_set_take(x->ctx_execution, "RedriveCount", json_integer(0));
    x->ctx_machine = json_pack("{s:s,s:s}", "Id", x->sm_arn, "Name", x->machine_name);
    size_t in_size = val_dump_size(x->input);
    x->root = frame_new(x->m, NULL, 0, json_incref(x->input), in_size, NULL);
    if (x->record) {
        json_t *d = details_io(x, NULL, "input", x->input);
        val_obj_set_take(d, "roleArn", json_string(x->role_arn));
        hist(x, x->root, "ExecutionStarted", "executionStartedEventDetails", d);
    } else {
        hist(x, x->root, NULL, NULL, NULL);
    }
    if (in_size > x->max_payload) {
        exec_finish(x, ENG_FAILED, NULL, "States.DataLimitExceeded",
                    "The execution input exceeds the maximum number of bytes service limit.");
        return;
    }
    if (x->m->timeout_seconds > 0)
        arm_timer(x, x->root, TM_EXEC_TIMEOUT, x->now + (int64_t)x->m->timeout_seconds * 1000000000LL);
    enqueue(x, x->root);
}

static void on_timer(eng_exec *x, struct pending *p)
{
    struct frame *f = p->f;
    int kind = p->kind - 1;
    pend_kill(x, p);
    switch (kind) {
    case TM_EXEC_TIMEOUT:
        exec_finish(x, ENG_TIMED_OUT, NULL, "States.Timeout", "The execution timed out.");
        return;
    case TM_WAIT:
        f->timer_id = 0;
        f->phase = PH_ENTER;
        wait_done(x, f);
        return;
    case TM_RETRY: {
        const struct asl_state *s = cur(f);
        f->timer_id = 0;
        f->phase = PH_ENTER;
        if (s->type == ASL_TASK)
            task_invoke(x, f);
        else
            enter_parallel_or_map(x, f);
        return;
    }
    case TM_TASK_TIMEOUT:
        f->timeout_timer = 0;
        task_failed(x, f, "States.Timeout", NULL, 1);
        return;
    case TM_HEARTBEAT:
        f->heartbeat_timer = 0;
        task_failed(x, f, "States.HeartbeatTimeout", NULL, 1);
        return;
    }
}

static void run_queue(eng_exec *x)
{
    struct frame *f;
    while (x->status == ENG_RUNNING && (f = dequeue(x))) {
        if (f->phase == PH_ENTER)
            enter_state(x, f);
    }
}

long eng_step(eng_exec *x, const struct eng_event *ev)
{
    x->n_eff = 0;
    long before = x->transitions;
    if (ev->now_ns > x->now)
        x->now = ev->now_ns;
    if (x->status != ENG_RUNNING && ev->kind != ENG_EV_START)
        return 0;
    switch (ev->kind) {
    case ENG_EV_START:
        if (!x->root)
            start(x);
        break;
    case ENG_EV_TASK_SUCCEEDED:
    case ENG_EV_TASK_FAILED: {
        struct pending *p = pend_find(x, ev->id);
        if (!p || p->kind != 0)
            break; /* stale: the task was timed out or aborted */
        struct frame *f = p->f;
        if (ev->kind == ENG_EV_TASK_SUCCEEDED)
            task_succeeded(x, f, ev->output);
        else
            task_failed(x, f, ev->error ? ev->error : "States.TaskFailed", ev->cause, 0);
        break;
    }
    case ENG_EV_HEARTBEAT: {
        struct pending *p = pend_find(x, ev->id);
        if (!p || p->kind != 0)
            break;
        struct frame *f = p->f;
        if (f->heartbeat_timer) {
            pend_cancel_id(x, f->heartbeat_timer);
            f->heartbeat_timer = arm_timer(x, f, TM_HEARTBEAT, x->now + f->heartbeat_ns);
        }
        break;
    }
    case ENG_EV_TIMER: {
        struct pending *p = pend_find(x, ev->id);
        if (p && p->kind != 0)
            on_timer(x, p);
        break;
    }
    case ENG_EV_STOP:
        exec_finish(x, ENG_ABORTED, NULL, ev->error, ev->cause);
        break;
    }
    run_queue(x);
    return x->transitions - before;
}

const struct eng_effect *eng_effects(const eng_exec *x, size_t *n)
{
    *n = x->n_eff;
    return x->effects;
}

int eng_status(const eng_exec *x) { return x->status; }

const char *eng_status_name(int status)
{
    static const char *names[] = {"RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"};
    return status >= 0 && status <= ENG_ABORTED ? names[status] : "UNKNOWN";
}

json_t *eng_output(const eng_exec *x) { return x->output; }
const char *eng_error(const eng_exec *x) { return x->error; }
const char *eng_cause(const eng_exec *x) { return x->cause; }
json_t *eng_history(const eng_exec *x) { return x->history; }

char *eng_history_take_text(eng_exec *x, size_t *len, long *first_id, long *n)
{
    *len = x->htext.len;
    *first_id = x->htext_first;
    *n = x->htext_n;
    x->htext_n = 0;
    x->htext_first = 0;
    if (!x->htext.len) {
        val_buf_free(&x->htext);
        return NULL;
    }
    return val_buf_take(&x->htext);
}

json_t *eng_history_take(eng_exec *x)
{
    json_t *h = x->history;
    x->history = json_array();
    return h;
}

int eng_task_pending(const eng_exec *x, uint64_t task_id)
{
    if (x->status != ENG_RUNNING)
        return 0;
    for (size_t i = 0; i < x->n_pend; i++)
        if (x->pend[i].id == task_id && x->pend[i].f && x->pend[i].kind == 0)
            return 1;
    return 0;
}

int64_t eng_now(const eng_exec *x) { return x->now; }
long eng_event_count(const eng_exec *x) { return x->next_event_id; }
const char *eng_execution_arn(const eng_exec *x) { return x->exec_arn; }
