/* snapshot — an execution between two steps, saved as JSON and restored.
 * The frame tree is written depth first; a child's machine is not stored
 * because it follows from its parent's state (a Parallel branch or a Map's
 * processor). Pending tasks and timers name their frame by its position in
 * that depth-first order. */
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"

/* ----------------------------------------------------------------- save */


/* Members equal to what restore assumes when they are absent (0, null,
 * false, an empty array) are left out: a snapshot is written on every
 * step of every STANDARD execution. */
static void put_int(json_t *j, const char *k, json_int_t v)
{
    if (v)
        val_obj_set_take(j, k, json_integer(v));
}

static void put_ref(json_t *j, const char *k, json_t *v)
{
    if (v && !json_is_null(v))
        val_obj_set_take(j, k, json_incref(v));
}

static void put_str(json_t *j, const char *k, const char *v)
{
    if (v)
        val_obj_set_take(j, k, json_string(v));
}

struct walk {
    struct frame **order;
    size_t n, cap;
};

static void walk_add(struct walk *w, struct frame *f)
{
    if (w->n == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 16;
        w->order = realloc(w->order, w->cap * sizeof *w->order);
    }
    w->order[w->n++] = f;
}

static size_t walk_index(const struct walk *w, const struct frame *f)
{
    for (size_t i = 0; i < w->n; i++)
        if (w->order[i] == f)
            return i;
    return (size_t)-1;
}

/* Saves f and (recursively: nesting is bounded by the definition's depth)
 * its children. */
static json_t *save_frame(struct frame *f, struct walk *w)
{
    walk_add(w, f);
    json_t *j = json_object();
    const struct asl_state *s = &f->m->states[f->state];
    put_int(j, "index", (json_int_t)f->index);
    val_obj_set_take(j, "state", json_string(s->name));
    put_int(j, "phase", f->phase);
    put_ref(j, "raw", f->raw);
    put_int(j, "raw_size", (json_int_t)f->raw_size);
    put_ref(j, "eff", f->eff);
    put_ref(j, "task_in", f->task_in);
    put_ref(j, "vars", f->vars);
    put_int(j, "entered_id", f->entered_id);
    put_int(j, "entered_ns", f->entered_ns);
    put_int(j, "last_id", f->last_id);
    if (f->retry_counts && s->n_retry) {
        json_t *rc = json_array();
        for (size_t i = 0; i < s->n_retry; i++)
            val_arr_append_take(rc, json_integer(f->retry_counts[i]));
        val_obj_set_take(j, "retry_counts", rc);
    }
    put_int(j, "retry_total", f->retry_total);
    put_int(j, "task_id", (json_int_t)f->task_id);
    put_int(j, "attempt", f->attempt);
    put_str(j, "token", f->token);
    put_int(j, "timer_id", (json_int_t)f->timer_id);
    put_int(j, "timeout_timer", (json_int_t)f->timeout_timer);
    put_int(j, "heartbeat_timer", (json_int_t)f->heartbeat_timer);
    put_int(j, "heartbeat_ns", f->heartbeat_ns);
    if (f->silent)
        val_obj_set_take(j, "silent", json_true());
    if (f->kids) {
        json_t *kids = json_array();
        for (size_t i = 0; i < f->n_kids; i++)
            val_arr_append_take(kids, f->kids[i] ? save_frame(f->kids[i], w) : json_null());
        val_obj_set_take(j, "kids", kids);
        put_int(j, "next_kid", (json_int_t)f->next_kid);
        put_int(j, "running", (json_int_t)f->running);
        put_int(j, "n_done", (json_int_t)f->n_done);
        put_int(j, "n_failed", (json_int_t)f->n_failed);
        put_ref(j, "results", f->results);
        put_ref(j, "items", f->items);
        put_int(j, "max_conc", f->max_conc);
        val_obj_set_take(j, "tol_count", json_real(f->tol_count));
        val_obj_set_take(j, "tol_pct", json_real(f->tol_pct));
        put_str(j, "kid_error", f->kid_error);
        put_str(j, "kid_cause", f->kid_cause);
    }
    return j;
}

json_t *eng_snapshot(const eng_exec *x)
{
    json_t *j = json_object();
    char rng[32];
    snprintf(rng, sizeof rng, "%016llx", (unsigned long long)x->rng);
    val_obj_set_take(j, "version", json_integer(1));
    val_obj_set_take(j, "type", json_integer(x->type));
    val_obj_set_take(j, "record", json_integer(x->record));
    val_obj_set_take(j, "region", json_string(x->region));
    val_obj_set_take(j, "account", json_string(x->account));
    val_obj_set_take(j, "machine_name", json_string(x->machine_name));
    val_obj_set_take(j, "exec_name", json_string(x->exec_name));
    val_obj_set_take(j, "role_arn", json_string(x->role_arn));
    val_obj_set_take(j, "sm_arn", json_string(x->sm_arn));
    val_obj_set_take(j, "exec_arn", json_string(x->exec_arn));
    val_obj_set_take(j, "input", json_incref(x->input));
    put_ref(j, "ctx_execution", x->ctx_execution);
    put_ref(j, "ctx_machine", x->ctx_machine);
    val_obj_set_take(j, "rng", json_string(rng));
    val_obj_set_take(j, "now", json_integer(x->now));
    val_obj_set_take(j, "start_ns", json_integer(x->start_ns));
    val_obj_set_take(j, "next_event_id", json_integer(x->next_event_id));
    val_obj_set_take(j, "next_id", json_integer((json_int_t)x->next_id));
    if (json_array_size(x->history))
        val_obj_set_take(j, "history", json_incref(x->history));
    put_int(j, "status", x->status);
    put_ref(j, "output", x->output);
    put_str(j, "error", x->error);
    put_str(j, "cause", x->cause);
    if (json_object_size(x->invocations))
        val_obj_set_take(j, "invocations", json_incref(x->invocations));
    val_obj_set_take(j, "transitions", json_integer(x->transitions));
    val_obj_set_take(j, "max_payload", json_integer((json_int_t)x->max_payload));
    struct walk w = {0};
    if (x->root && x->status == ENG_RUNNING) {
        val_obj_set_take(j, "root", save_frame(x->root, &w));
        json_t *pend = json_array();
        for (size_t i = 0; i < x->n_pend; i++) {
            const struct pending *p = &x->pend[i];
            if (!p->f)
                continue;
            val_arr_append_take(pend, json_pack("{s:I,s:I,s:i,s:I}", "id", (json_int_t)p->id, "frame",
                                                (json_int_t)walk_index(&w, p->f), "kind", p->kind, "due",
                                                (json_int_t)p->due_ns));
        }
        val_obj_set_take(j, "pending", pend);
    }
    free(w.order);
    return j;
}

/* -------------------------------------------------------------- restore */

static const char *jstr(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static json_int_t jint(json_t *o, const char *k) { return json_integer_value(json_object_get(o, k)); }

static char *jdup(json_t *o, const char *k)
{
    const char *s = jstr(o, k);
    return s ? strdup(s) : NULL;
}

static json_t *jref(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return v && !json_is_null(v) ? json_incref(v) : NULL;
}

/* The machine a child frame runs: its parent's branch or processor. */
static const struct asl_machine *kid_machine(const struct frame *parent, size_t index)
{
    const struct asl_state *s = &parent->m->states[parent->state];
    if (s->type == ASL_PARALLEL)
        return index < s->n_branches ? s->branches[index] : NULL;
    if (s->type == ASL_MAP)
        return s->processor;
    return NULL;
}

static void free_partial(struct frame *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n_kids; i++)
        free_partial(f->kids ? f->kids[i] : NULL);
    free(f->kids);
    json_decref(f->raw);
    json_decref(f->eff);
    json_decref(f->task_in);
    json_decref(f->vars);
    json_decref(f->results);
    json_decref(f->items);
    free(f->retry_counts);
    free(f->token);
    free(f->kid_error);
    free(f->kid_cause);
    free(f);
}

static struct frame *load_frame(const struct asl_machine *m, struct frame *parent, json_t *j, struct walk *w,
                                val_err *err)
{
    int st = asl_state_index(m, jstr(j, "state") ? jstr(j, "state") : "");
    if (st < 0) {
        val_err_set(err, VAL_ERR_STORE, "SnapshotMismatch", "the snapshot names state '%s', which the definition lacks",
                    jstr(j, "state") ? jstr(j, "state") : "?");
        return NULL;
    }
    struct frame *f = calloc(1, sizeof *f);
    walk_add(w, f);
    const struct asl_state *s = &m->states[st];
    f->m = m;
    f->parent = parent;
    f->index = (size_t)jint(j, "index");
    f->state = st;
    f->phase = (int)jint(j, "phase");
    f->raw = jref(j, "raw");
    f->raw_size = (size_t)jint(j, "raw_size");
    f->eff = jref(j, "eff");
    f->task_in = jref(j, "task_in");
    f->vars = jref(j, "vars");
    f->entered_id = (long)jint(j, "entered_id");
    f->entered_ns = jint(j, "entered_ns");
    f->last_id = (long)jint(j, "last_id");
    json_t *rc = json_object_get(j, "retry_counts");
    if (json_array_size(rc)) {
        f->retry_counts = calloc(s->n_retry ? s->n_retry : 1, sizeof *f->retry_counts);
        for (size_t i = 0; i < s->n_retry && i < json_array_size(rc); i++)
            f->retry_counts[i] = (long)json_integer_value(json_array_get(rc, i));
    }
    f->retry_total = (long)jint(j, "retry_total");
    f->task_id = (uint64_t)jint(j, "task_id");
    f->attempt = (long)jint(j, "attempt");
    f->token = jdup(j, "token");
    f->timer_id = (uint64_t)jint(j, "timer_id");
    f->timeout_timer = (uint64_t)jint(j, "timeout_timer");
    f->heartbeat_timer = (uint64_t)jint(j, "heartbeat_timer");
    f->heartbeat_ns = jint(j, "heartbeat_ns");
    f->silent = json_is_true(json_object_get(j, "silent"));
    f->tol_count = f->tol_pct = -1;
    json_t *kids = json_object_get(j, "kids");
    if (json_is_array(kids)) {
        f->n_kids = json_array_size(kids);
        f->kids = calloc(f->n_kids ? f->n_kids : 1, sizeof *f->kids);
        for (size_t i = 0; i < f->n_kids; i++) {
            json_t *kj = json_array_get(kids, i);
            if (json_is_null(kj))
                continue;
            const struct asl_machine *km = kid_machine(f, i);
            if (!km) {
                val_err_set(err, VAL_ERR_STORE, "SnapshotMismatch", "state '%s' cannot have children", s->name);
                free_partial(f);
                return NULL;
            }
            f->kids[i] = load_frame(km, f, kj, w, err);
            if (!f->kids[i]) {
                free_partial(f);
                return NULL;
            }
        }
        f->next_kid = (size_t)jint(j, "next_kid");
        f->running = (size_t)jint(j, "running");
        f->n_done = (size_t)jint(j, "n_done");
        f->n_failed = (size_t)jint(j, "n_failed");
        f->results = jref(j, "results");
        f->items = jref(j, "items");
        f->max_conc = (long)jint(j, "max_conc");
        f->tol_count = json_number_value(json_object_get(j, "tol_count"));
        f->tol_pct = json_number_value(json_object_get(j, "tol_pct"));
        f->kid_error = jdup(j, "kid_error");
        f->kid_cause = jdup(j, "kid_cause");
    }
    return f;
}

eng_exec *eng_restore(const struct asl_machine *m, json_t *snap, val_err *err)
{
    if (!json_is_object(snap) || jint(snap, "version") != 1) {
        val_err_set(err, VAL_ERR_STORE, "SnapshotMismatch", "not an execution snapshot of version 1");
        return NULL;
    }
    struct eng_config cfg = {.region = jstr(snap, "region"),
                             .account = jstr(snap, "account"),
                             .machine_name = jstr(snap, "machine_name"),
                             .execution_name = jstr(snap, "exec_name"),
                             .role_arn = jstr(snap, "role_arn"),
                             .type = (int)jint(snap, "type"),
                             .record_history = json_is_true(json_object_get(snap, "record"))
                                                   ? ENG_HISTORY_JSON
                                                   : (int)jint(snap, "record"),
                             .max_payload = (size_t)jint(snap, "max_payload")};
    json_t *input = json_object_get(snap, "input");
    eng_exec *x = eng_exec_new(m, &cfg, input ? input : json_null(), 0);
    free(x->sm_arn);
    free(x->exec_arn);
    x->sm_arn = jdup(snap, "sm_arn");
    x->exec_arn = jdup(snap, "exec_arn");
    if (!x->sm_arn || !x->exec_arn) {
        val_err_set(err, VAL_ERR_STORE, "SnapshotMismatch", "the snapshot has no ARNs");
        eng_exec_free(x);
        return NULL;
    }
    x->ctx_execution = jref(snap, "ctx_execution");
    x->ctx_machine = jref(snap, "ctx_machine");
    x->rng = strtoull(jstr(snap, "rng") ? jstr(snap, "rng") : "0", NULL, 16);
    x->now = jint(snap, "now");
    x->start_ns = jint(snap, "start_ns");
    x->next_event_id = (long)jint(snap, "next_event_id");
    x->next_id = (uint64_t)jint(snap, "next_id");
    json_t *h = json_object_get(snap, "history");
    if (json_is_array(h)) {
        json_decref(x->history);
        x->history = json_incref(h);
    }
    x->status = (int)jint(snap, "status");
    x->output = jref(snap, "output");
    x->error = jdup(snap, "error");
    x->cause = jdup(snap, "cause");
    json_t *inv = json_object_get(snap, "invocations");
    if (json_is_object(inv)) {
        json_decref(x->invocations);
        x->invocations = json_copy(inv);
    }
    x->transitions = (long)jint(snap, "transitions");
    json_t *root = json_object_get(snap, "root");
    if (json_is_object(root)) {
        struct walk w = {0};
        x->root = load_frame(m, NULL, root, &w, err);
        if (!x->root) {
            free(w.order);
            eng_exec_free(x);
            return NULL;
        }
        json_t *pend = json_object_get(snap, "pending");
        for (size_t i = 0; i < json_array_size(pend); i++) {
            json_t *p = json_array_get(pend, i);
            size_t fi = (size_t)jint(p, "frame");
            if (fi >= w.n)
                continue;
            engp_pend_add(x, (uint64_t)jint(p, "id"), w.order[fi], (int)jint(p, "kind"), jint(p, "due"));
        }
        free(w.order);
    }
    return x;
}

void eng_outstanding(eng_exec *x)
{
    x->n_eff = 0;
    for (size_t i = 0; i < x->n_pend; i++) {
        const struct pending *p = &x->pend[i];
        if (!p->f)
            continue;
        if (x->n_eff == x->cap_eff) {
            x->cap_eff = x->cap_eff ? x->cap_eff * 2 : 8;
            x->effects = realloc(x->effects, x->cap_eff * sizeof *x->effects);
        }
        struct eng_effect *e = &x->effects[x->n_eff++];
        memset(e, 0, sizeof *e);
        e->id = p->id;
        if (p->kind == 0) {
            const struct asl_state *s = &p->f->m->states[p->f->state];
            e->kind = ENG_EFF_INVOKE;
            e->state = s->name;
            e->resource = s->resource;
            e->input = p->f->task_in;
            e->token = p->f->token;
            e->attempt = p->f->attempt;
        } else {
            e->kind = ENG_EFF_TIMER;
            e->due_ns = p->due_ns;
        }
    }
}
