/* sched — see sched.h. The pieces, top to bottom: a string-keyed hash, the
 * machine cache (compiled definitions by machine and revision), the
 * execution records (struct sx) with their inbound events, the timer heap,
 * one loop turn (step, group commit, effects), the loop thread, recovery,
 * and the domain operations the API calls. */
#include "sched/sched.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


#include "asl/asl.h"
#include "ddb/ops.h"
#include "engine/engine.h"

/* ------------------------------------------------------------ string hash */

struct hent {
    char *key;
    void *val;
    struct hent *next;
};

struct htab {
    struct hent **b;
    size_t cap, n;
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static void *htab_get(const struct htab *t, const char *key)
{
    if (!t->cap)
        return NULL;
    for (struct hent *e = t->b[hash_str(key) & (t->cap - 1)]; e; e = e->next)
        if (strcmp(e->key, key) == 0)
            return e->val;
    return NULL;
}

static void htab_grow(struct htab *t)
{
    size_t cap = t->cap ? t->cap * 2 : 64;
    struct hent **b = calloc(cap, sizeof *b);
    if (!b)
        abort();
    for (size_t i = 0; i < t->cap; i++) {
        struct hent *e = t->b[i], *next;
        for (; e; e = next) {
            next = e->next;
            size_t j = hash_str(e->key) & (cap - 1);
            e->next = b[j];
            b[j] = e;
        }
    }
    free(t->b);
    t->b = b;
    t->cap = cap;
}

/* Adds key -> val (key copied); the key must not be present. */
static void htab_put(struct htab *t, const char *key, void *val)
{
    if (t->n >= t->cap)
        htab_grow(t);
    struct hent *e = malloc(sizeof *e);
    if (!e || !(e->key = strdup(key)))
        abort();
    e->val = val;
    size_t j = hash_str(key) & (t->cap - 1);
    e->next = t->b[j];
    t->b[j] = e;
    t->n++;
}

static void *htab_del(struct htab *t, const char *key)
{
    if (!t->cap)
        return NULL;
    struct hent **pp = &t->b[hash_str(key) & (t->cap - 1)];
    for (; *pp; pp = &(*pp)->next) {
        struct hent *e = *pp;
        if (strcmp(e->key, key) == 0) {
            void *v = e->val;
            *pp = e->next;
            free(e->key);
            free(e);
            t->n--;
            return v;
        }
    }
    return NULL;
}

static void htab_free(struct htab *t, void (*free_val)(void *))
{
    for (size_t i = 0; i < t->cap; i++) {
        struct hent *e = t->b[i], *next;
        for (; e; e = next) {
            next = e->next;
            if (free_val)
                free_val(e->val);
            free(e->key);
            free(e);
        }
    }
    free(t->b);
    memset(t, 0, sizeof *t);
}

/* -------------------------------------------------------------- machines */

/* One compiled revision of a machine. Executions hold references; the
 * cache holds one while the revision is the machine's current one. */
struct mach {
    char *arn, *name, *type, *rev, *role;
    struct asl_machine *m;
    int express;
    long refs;
};

static void mach_unref(struct mach *m)
{
    if (!m || --m->refs > 0)
        return;
    asl_machine_free(m->m);
    free(m->arn);
    free(m->name);
    free(m->type);
    free(m->rev);
    free(m->role);
    free(m);
}

static void mach_unref_v(void *m) { mach_unref(m); }

/* ------------------------------------------------------------ executions */

/* A StartExecution waiting for the commit of its execution's row. */
struct waiter {
    sched_started_fn fn;
    void *ud;
};

/* An event waiting for its execution's next turn. */
struct sev {
    int kind;
    uint64_t id;
    int64_t now;
    json_t *output;
    char *error, *cause;
};

/* An execution the scheduler knows: every RUNNING one. x is its engine
 * state while loaded; NULL when it is evicted (sleeping: restored from its
 * snapshot when an event comes) or not started yet (fresh). */
struct sx {
    char *arn, *name;
    struct mach *mach;
    eng_exec *x;
    int express;
    int fresh;      /* START not applied yet */
    int recover;    /* restore and re-issue the outstanding effects */
    int queued;     /* on the run queue with something to do */
    int finished;   /* ended: out of the table, waiting for its last references */
    long refs;      /* the table, run-queue entries and timer-heap entries */
    char *input;    /* the input text until START (EXPRESS: until the end) */
    int64_t start_ns;
    uint64_t seed;
    struct sev *ev;
    size_t n_ev, cap_ev;
    sched_done_fn done;
    void *done_ud;
    struct sx *lru_prev, *lru_next; /* loaded and idle: eviction order */
    int in_lru;
    int busy;       /* a turn is stepping it with the lock let go */
    int pending_row; /* STANDARD, accepted but its row not committed yet */
    int64_t stop_ns; /* when it ended (finished ones) */
    struct waiter *waiters; /* StartExecution answers waiting for that commit */
    size_t n_waiters;
};

struct heap_ent {
    int64_t due;
    uint64_t id;
    struct sx *sx;
};

/* An effect copied out of the engine, to run after the commit. */
struct fx {
    struct sx *sx;
    int kind;
    uint64_t id;
    int64_t due;
    char *state, *resource, *token;
    json_t *input;
};

struct sched {
    store *st;
    fn_pool *fn;
    char *region, *account;
    size_t max_loaded;
    int quiet;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_cond_t idle; /* a turn finished stepping its executions */
    pthread_t thread;
    int running, stopping;

    struct htab execs;    /* arn -> struct sx (RUNNING ones) */
    struct htab revs;     /* "arn\nrev" -> struct mach */
    struct htab current;  /* machine arn -> struct mach (its current revision) */

    struct sx **runq;
    size_t n_runq, cap_runq;
    struct heap_ent *heap;
    size_t n_heap, cap_heap;
    struct sx *lru_head, *lru_tail;
    long loaded;

    struct htab warned; /* resources we told the user we do not call */
    uint64_t seed;
    struct sched_stats stats;

    /* DynamoDB writes waiting for their group commit (sched_ddb) */
    int ddb_tx;        /* a store transaction holding them is open */
    size_t ddb_last;   /* how many the last group commit held */
    int ddb_tx_failed; /* one of them failed in the store: roll all back */
    struct ddb_wait *ddb_w;
    size_t n_ddb_w, cap_ddb_w;
};

/* A DynamoDB call answered at the commit of the transaction it joined. */
struct ddb_wait {
    sched_ddb_fn done;
    void *ud;
    json_t *answer, *extra;
    val_err err;
};

int64_t sched_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void notice(sched *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void notice(sched *s, const char *fmt, ...)
{
    if (s->quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("stepd: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static uint64_t next_seed(sched *s)
{
    uint64_t z = (s->seed += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void sev_clear(struct sev *e)
{
    json_decref(e->output);
    free(e->error);
    free(e->cause);
}

static void lru_remove(sched *s, struct sx *x)
{
    if (!x->in_lru)
        return;
    if (x->lru_prev)
        x->lru_prev->lru_next = x->lru_next;
    else
        s->lru_head = x->lru_next;
    if (x->lru_next)
        x->lru_next->lru_prev = x->lru_prev;
    else
        s->lru_tail = x->lru_prev;
    x->lru_prev = x->lru_next = NULL;
    x->in_lru = 0;
}

static void lru_push(sched *s, struct sx *x)
{
    lru_remove(s, x);
    x->lru_prev = s->lru_tail;
    if (s->lru_tail)
        s->lru_tail->lru_next = x;
    else
        s->lru_head = x;
    s->lru_tail = x;
    x->in_lru = 1;
}

static void sx_unload(sched *s, struct sx *x)
{
    lru_remove(s, x);
    if (x->x) {
        eng_exec_free(x->x);
        x->x = NULL;
        s->loaded--;
    }
}

static void sx_unref(sched *s, struct sx *x)
{
    if (--x->refs > 0)
        return;
    sx_unload(s, x);
    for (size_t i = 0; i < x->n_ev; i++)
        sev_clear(&x->ev[i]);
    free(x->ev);
    free(x->waiters);
    mach_unref(x->mach);
    free(x->arn);
    free(x->name);
    free(x->input);
    free(x);
}

static struct sx *sx_new(sched *s, const char *arn, const char *name, struct mach *m)
{
    struct sx *x = calloc(1, sizeof *x);
    if (!x || !(x->arn = strdup(arn)) || !(x->name = strdup(name)))
        abort();
    x->mach = m;
    m->refs++;
    x->express = m->express;
    x->refs = 1; /* the table's */
    x->seed = next_seed(s);
    htab_put(&s->execs, arn, x);
    return x;
}

static void add_waiter(struct sx *x, sched_started_fn fn, void *ud)
{
    struct waiter *w = realloc(x->waiters, (x->n_waiters + 1) * sizeof *w);
    if (!w)
        abort();
    x->waiters = w;
    x->waiters[x->n_waiters++] = (struct waiter){fn, ud};
}

/* Answers the StartExecutions waiting on x: accepted (err NULL) or not. */
static void answer_waiters(struct sx *x, const val_err *err)
{
    struct store_exec row = {.arn = x->arn, .name = x->name, .start_ns = x->start_ns};
    for (size_t i = 0; i < x->n_waiters; i++)
        x->waiters[i].fn(x->waiters[i].ud, err ? NULL : &row, err);
    free(x->waiters);
    x->waiters = NULL;
    x->n_waiters = 0;
}

static void enqueue(sched *s, struct sx *x)
{
    if (x->queued)
        return;
    x->queued = 1;
    if (s->n_runq == s->cap_runq) {
        s->cap_runq = s->cap_runq ? s->cap_runq * 2 : 256;
        s->runq = realloc(s->runq, s->cap_runq * sizeof *s->runq);
        if (!s->runq)
            abort();
    }
    s->runq[s->n_runq++] = x;
    x->refs++;
    pthread_cond_signal(&s->cv);
}

/* Queues an event for x (strings and output are copied / referenced). */
static void push_event(sched *s, struct sx *x, int kind, uint64_t id, int64_t now, json_t *output,
                       const char *error, const char *cause)
{
    if (x->n_ev == x->cap_ev) {
        x->cap_ev = x->cap_ev ? x->cap_ev * 2 : 4;
        x->ev = realloc(x->ev, x->cap_ev * sizeof *x->ev);
        if (!x->ev)
            abort();
    }
    x->ev[x->n_ev++] = (struct sev){kind, id, now, output ? json_incref(output) : NULL,
                                    error ? strdup(error) : NULL, cause ? strdup(cause) : NULL};
    enqueue(s, x);
}

/* ------------------------------------------------------------ timer heap */

static void heap_push(sched *s, struct sx *x, uint64_t id, int64_t due)
{
    if (s->n_heap == s->cap_heap) {
        s->cap_heap = s->cap_heap ? s->cap_heap * 2 : 256;
        s->heap = realloc(s->heap, s->cap_heap * sizeof *s->heap);
        if (!s->heap)
            abort();
    }
    size_t i = s->n_heap++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (s->heap[p].due <= due)
            break;
        s->heap[i] = s->heap[p];
        i = p;
    }
    s->heap[i] = (struct heap_ent){due, id, x};
    x->refs++;
    if (i == 0)
        pthread_cond_signal(&s->cv); /* the loop may be sleeping until a later time */
}

static struct heap_ent heap_pop(sched *s)
{
    struct heap_ent top = s->heap[0];
    struct heap_ent last = s->heap[--s->n_heap];
    size_t i = 0, n = s->n_heap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && s->heap[c + 1].due < s->heap[c].due)
            c++;
        if (s->heap[c].due >= last.due)
            break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (n)
        s->heap[i] = last;
    return top;
}

/* --------------------------------------------------------- machine cache */

/* Compiles definition; on failure err holds AWS's InvalidDefinition. */
static struct asl_machine *compile(const char *definition, val_err *err)
{
    asl_diags d = {0};
    struct asl_machine *m = asl_load(definition, strlen(definition), &d);
    if (!m) {
        char *msg = asl_diags_message(&d);
        val_err_setc(err, VAL_ERR_VALIDATION, "InvalidDefinition", msg ? msg : "Invalid State Machine Definition");
        free(msg);
    }
    asl_diags_free(&d);
    return m;
}

static char *rev_key(const char *arn, const char *rev)
{
    char *k = NULL;
    if (asprintf(&k, "%s\n%s", arn, rev ? rev : "") < 0)
        abort();
    return k;
}

static struct mach *mach_from(const struct store_machine *sm, const char *definition, val_err *err)
{
    struct asl_machine *m = compile(definition, err);
    if (!m)
        return NULL;
    struct mach *c = calloc(1, sizeof *c);
    if (!c)
        abort();
    c->arn = strdup(sm->arn);
    c->name = strdup(sm->name);
    c->type = strdup(sm->type);
    c->rev = strdup(sm->revision_id ? sm->revision_id : "");
    c->role = sm->role_arn ? strdup(sm->role_arn) : NULL;
    c->express = strcmp(sm->type, "EXPRESS") == 0;
    c->m = m;
    c->refs = 0;
    return c;
}

/* The revision cache entry for (arn, rev); the caller takes no reference
 * (sx_new does). */
static struct mach *mach_cache(sched *s, struct mach *c)
{
    char *k = rev_key(c->arn, c->rev);
    struct mach *old = htab_get(&s->revs, k);
    if (old) {
        free(k);
        c->refs = 1;
        mach_unref(c);
        return old;
    }
    c->refs = 1; /* the cache's */
    htab_put(&s->revs, k, c);
    free(k);
    return c;
}

/* The machine's current revision (StartExecution). NULL with
 * StateMachineDoesNotExist. */
static struct mach *mach_current(sched *s, const char *arn, val_err *err)
{
    struct mach *c = htab_get(&s->current, arn);
    if (c)
        return c;
    struct store_machine sm = {0};
    int r = s->st->ops->machine_get(s->st, arn, &sm, err);
    if (r == STORE_NOT_FOUND) {
        val_err_set(err, VAL_ERR_VALIDATION, "StateMachineDoesNotExist", "State Machine Does Not Exist: '%s'", arn);
        return NULL;
    }
    if (r != STORE_OK)
        return NULL;
    c = mach_from(&sm, sm.definition, err);
    if (c) {
        c = mach_cache(s, c);
        c->refs++; /* the current table's */
        htab_put(&s->current, arn, c);
    }
    store_machine_clear(&sm);
    return c;
}

/* The revision an execution runs (recovery). A NULL revision (a row from
 * schema version 1) means the machine's current one. */
static struct mach *mach_revision(sched *s, const char *arn, const char *rev, val_err *err)
{
    if (!rev)
        return mach_current(s, arn, err);
    char *k = rev_key(arn, rev);
    struct mach *c = htab_get(&s->revs, k);
    free(k);
    if (c)
        return c;
    char *def = NULL;
    int r = s->st->ops->revision_get(s->st, arn, rev, &def, NULL, err);
    if (r == STORE_NOT_FOUND) {
        val_err_set(err, VAL_ERR_STORE, "StateMachineDoesNotExist", "revision %s of %s is missing", rev, arn);
        return NULL;
    }
    if (r != STORE_OK)
        return NULL;
    /* name and type: from the machine when it still exists, else from the ARN */
    struct store_machine sm = {0};
    int g = s->st->ops->machine_get(s->st, arn, &sm, NULL);
    const char *colon = strrchr(arn, ':');
    struct store_machine meta = {.arn = (char *)arn,
                                 .name = g == STORE_OK ? sm.name : (char *)(colon ? colon + 1 : arn),
                                 .type = g == STORE_OK ? sm.type : (char *)"STANDARD",
                                 .role_arn = g == STORE_OK ? sm.role_arn : NULL,
                                 .revision_id = (char *)rev};
    c = mach_from(&meta, def, err);
    store_machine_clear(&sm);
    free(def);
    return c ? mach_cache(s, c) : NULL;
}

static void mach_forget_current(sched *s, const char *arn)
{
    struct mach *c = htab_del(&s->current, arn);
    mach_unref(c);
}

/* ------------------------------------------------------------ loop turn */

static struct eng_config exec_config(sched *s, struct sx *x)
{
    return (struct eng_config){.region = s->region,
                               .account = s->account,
                               .machine_name = x->mach->name,
                               .execution_name = x->name,
                               .execution_arn = x->arn,
                               .role_arn = x->mach->role,
                               .type = x->express ? ENG_EXPRESS : ENG_STANDARD,
                               .record_history = x->express ? ENG_HISTORY_NONE : ENG_HISTORY_TEXT};
}

/* Makes x->x the engine state: a fresh execution, or one restored from
 * its last committed snapshot. -1 when the store cannot give it back. */
static int sx_load(sched *s, struct sx *x)
{
    if (x->x) {
        lru_remove(s, x);
        return 0;
    }
    if (x->fresh) {
        val_err e = {0};
        json_t *in = val_parse(x->input ? x->input : "{}", x->input ? strlen(x->input) : 2, &e);
        val_err_clear(&e);
        if (!in)
            in = json_object(); /* checked at StartExecution; cannot happen */
        struct eng_config cfg = exec_config(s, x);
        x->x = eng_exec_new(x->mach->m, &cfg, in, x->seed);
        json_decref(in);
        s->loaded++;
        return 0;
    }
    struct store_exec row = {0};
    val_err err = {0};
    int r = s->st->ops->exec_get(s->st, x->arn, &row, &err);
    if (r != STORE_OK || !row.snapshot) {
        notice(s, "cannot restore %s: %s", x->arn, r == STORE_OK ? "no snapshot" : err.cause ? err.cause : "not found");
        val_err_clear(&err);
        store_exec_clear(&row);
        return -1;
    }
    json_t *snap = val_parse(row.snapshot, strlen(row.snapshot), &err);
    if (snap)
        x->x = eng_restore(x->mach->m, snap, &err);
    json_decref(snap);
    store_exec_clear(&row);
    if (!x->x) {
        notice(s, "cannot restore %s: %s", x->arn, err.cause ? err.cause : "bad snapshot");
        val_err_clear(&err);
        return -1;
    }
    s->loaded++;
    return 0;
}

/* One execution's part of a turn. Filled in phase 1 (locked: events taken,
 * engine state loaded), phase 2 (unlocked: stepped, history and snapshot
 * serialized) and used in phase 3 (locked: written, committed, effects). */
struct work {
    struct sx *x;
    struct sev *ev;
    size_t n_ev;
    int recover, fresh;
    int moved;
    long transitions;
    char *htext;       /* history events of this turn, one per line */
    size_t hlen;
    long hfirst, hn;
    char *snapshot;    /* RUNNING STANDARD executions */
    char *output;      /* finished executions */
    int status;
};

struct turn {
    struct work *w;
    size_t n_w;
    struct fx *fx;
    size_t n_fx, cap_fx;
};

static void turn_free(struct turn *t)
{
    for (size_t i = 0; i < t->n_fx; i++) {
        free(t->fx[i].state);
        free(t->fx[i].resource);
        free(t->fx[i].token);
        json_decref(t->fx[i].input);
    }
    for (size_t i = 0; i < t->n_w; i++) {
        free(t->w[i].htext);
        free(t->w[i].snapshot);
        free(t->w[i].output);
    }
    free(t->fx);
    free(t->w);
}

static void collect_effects(struct turn *t, struct sx *x)
{
    size_t n;
    const struct eng_effect *e = eng_effects(x->x, &n);
    for (size_t i = 0; i < n; i++) {
        if (t->n_fx == t->cap_fx) {
            t->cap_fx = t->cap_fx ? t->cap_fx * 2 : 64;
            t->fx = realloc(t->fx, t->cap_fx * sizeof *t->fx);
            if (!t->fx)
                abort();
        }
        struct fx *f = &t->fx[t->n_fx++];
        *f = (struct fx){.sx = x, .kind = e[i].kind, .id = e[i].id, .due = e[i].due_ns};
        if (e[i].kind == ENG_EFF_INVOKE) {
            f->state = strdup(e[i].state);
            f->resource = strdup(e[i].resource);
            f->token = e[i].token ? strdup(e[i].token) : NULL;
            f->input = e[i].input ? json_incref(e[i].input) : NULL;
        }
    }
}

/* The result members of a row (status, output, error, cause, stop). */
static void result_row(const struct work *w, struct store_exec *row)
{
    eng_exec *e = w->x->x;
    row->arn = w->x->arn;
    row->status = (char *)eng_status_name(w->status);
    row->output = w->output;
    row->error = (char *)eng_error(e);
    row->cause = (char *)eng_cause(e);
    row->stop_ns = w->status == ENG_RUNNING ? 0 : eng_now(e);
}

/* Phase 2, unlocked: x is busy, so nothing else touches its engine. */
static void step_work(struct work *w, struct turn *t, int64_t now)
{
    struct sx *x = w->x;
    if (w->recover) {
        eng_outstanding(x->x);
        collect_effects(t, x);
    }
    if (w->fresh) {
        struct eng_event ev = {.kind = ENG_EV_START, .now_ns = x->start_ns};
        w->transitions += eng_step(x->x, &ev);
        collect_effects(t, x);
        w->moved = 1;
    }
    for (size_t k = 0; k < w->n_ev; k++) {
        struct sev *q = &w->ev[k];
        /* events happen now: a timer that fires late (the server was down)
         * fires at the time it really fires */
        struct eng_event ev = {.kind = q->kind, .id = q->id, .now_ns = q->now > now ? q->now : now,
                               .output = q->output, .error = q->error, .cause = q->cause};
        w->transitions += eng_step(x->x, &ev);
        collect_effects(t, x);
        w->moved = 1;
    }
    w->status = eng_status(x->x);
    if (!w->moved)
        return;
    json_t *out = eng_output(x->x);
    w->output = out ? val_dump(out, NULL) : NULL;
    if (!x->express) {
        w->htext = eng_history_take_text(x->x, &w->hlen, &w->hfirst, &w->hn);
        if (w->status == ENG_RUNNING) {
            json_t *sj = eng_snapshot(x->x);
            w->snapshot = val_dump(sj, NULL);
            json_decref(sj);
        }
    }
}

/* Phase 3: writes what w did into the open transaction. */
static int write_work(sched *s, struct work *w, struct turn *t, val_err *err)
{
    store *st = s->st;
    struct sx *x = w->x;
    struct store_exec row = {0};
    result_row(w, &row);
    int r = STORE_OK;
    if (x->express) {
        if (w->status != ENG_RUNNING) {
            row.machine_arn = x->mach->arn;
            row.name = x->name;
            row.input = x->input ? x->input : (char *)"{}";
            row.start_ns = x->start_ns;
            row.revision_id = x->mach->rev;
            r = st->ops->exec_create(st, &row, err);
            if (r == STORE_EXISTS)
                r = STORE_OK;
        }
        /* its task tokens, so that callbacks find it */
        for (size_t i = 0; r == STORE_OK && i < t->n_fx; i++)
            if (t->fx[i].sx == x && t->fx[i].kind == ENG_EFF_INVOKE && t->fx[i].token) {
                r = st->ops->token_put(st, t->fx[i].token, x->arn, t->fx[i].id, err);
                if (r == STORE_EXISTS)
                    r = STORE_OK;
            }
        return r;
    }
    if (x->pending_row) {
        /* accepted in this turn: its row, as it stands after its first
         * steps, joins the same transaction */
        row.machine_arn = x->mach->arn;
        row.name = x->name;
        row.input = x->input ? x->input : (char *)"{}";
        row.start_ns = x->start_ns;
        row.revision_id = x->mach->rev;
        row.snapshot = w->snapshot;
        r = st->ops->exec_create(st, &row, err);
        if (r == STORE_EXISTS)
            val_err_set(err, VAL_ERR_STORE, "StoreError", "execution %s is already stored", x->arn);
    }
    if (r == STORE_OK && w->hn)
        r = st->ops->history_append_text(st, x->arn, w->hfirst, (size_t)w->hn, w->htext, w->hlen, err);
    if (r == STORE_OK && w->moved && !x->pending_row) { /* a recovered execution that did not move keeps its row */
        row.snapshot = w->snapshot;
        r = st->ops->exec_update(st, &row, err);
        if (r == STORE_OK && w->status != ENG_RUNNING)
            r = st->ops->timer_clear(st, x->arn, err);
    }
    for (size_t i = 0; r == STORE_OK && i < t->n_fx; i++) {
        struct fx *f = &t->fx[i];
        if (f->sx != x)
            continue;
        if (f->kind == ENG_EFF_TIMER)
            r = st->ops->timer_arm(st, x->arn, f->id, f->due, err);
        else if (f->kind == ENG_EFF_INVOKE && f->token) {
            r = st->ops->token_put(st, f->token, x->arn, f->id, err);
            if (r == STORE_EXISTS)
                r = STORE_OK;
        }
    }
    return r;
}

static int is_lambda(const char *res)
{
    return strncmp(res, "arn:aws:lambda:", 15) == 0 || strncmp(res, "arn:aws:states:::lambda:", 24) == 0;
}

static void uuid4(sched *s, char out[37]);

/* ------------------------------------------------------------ Lambda tasks */

/* How a Lambda task's result comes back: a function ARN as Resource gives
 * the bare payload; lambda:invoke wraps it as the SDK's Invoke result;
 * lambda:invoke.waitForTaskToken only fails here (success is the
 * callback's). */
enum { LT_DIRECT, LT_INVOKE, LT_TOKEN };

struct ltask {
    sched *s;
    char *exec_arn;
    uint64_t id;
    int mode;
    int tail;
};

static void http_date(char out[40])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 40, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* The SDK's Invoke result, as Step Functions' lambda:invoke gives it. */
static json_t *invoke_result(const struct fn_result *r, json_t *payload, int tail, int status)
{
    char len[32], date[40], trace[80];
    snprintf(len, sizeof len, "%zu", r->len);
    http_date(date);
    /* Root=1-<epoch hex>-<24 hex>: the request id's hex digits serve */
    char hex[40] = "";
    size_t k = 0;
    for (const char *c = r->request_id ? r->request_id : ""; *c && k < 24; c++)
        if (*c != '-')
            hex[k++] = *c;
    hex[k] = 0;
    snprintf(trace, sizeof trace, "root=1-%08lx-%s;sampled=0", (unsigned long)time(NULL), hex);
    char *log = tail ? val_base64(r->log_tail ? r->log_tail : "", r->log_tail ? strlen(r->log_tail) : 0) : NULL;
    struct {
        const char *k, *v;
    } h[] = {{"Connection", "keep-alive"},         {"Content-Length", len},
             {"Content-Type", "application/json"}, {"Date", date},
             {"X-Amz-Executed-Version", "$LATEST"}, {"X-Amz-Log-Result", log},
             {"x-amzn-Remapped-Content-Length", "0"}, {"x-amzn-RequestId", r->request_id},
             {"X-Amzn-Trace-Id", trace}};
    json_t *all = json_object(), *one = json_object();
    for (size_t i = 0; i < sizeof h / sizeof h[0]; i++) {
        if (!h[i].v)
            continue;
        json_t *l = json_array();
        val_arr_append_take(l, json_string(h[i].v));
        val_obj_set_take(all, h[i].k, l);
        val_obj_set_take(one, h[i].k, json_string(h[i].v));
    }
    json_t *meta = json_object();
    val_obj_set_take(meta, "AllHttpHeaders", all);
    val_obj_set_take(meta, "HttpHeaders", one);
    val_obj_set_take(meta, "HttpStatusCode", json_integer(status));
    json_t *rm = json_object();
    val_obj_set_take(rm, "RequestId", json_string(r->request_id));
    json_t *o = json_object();
    val_obj_set_take(o, "ExecutedVersion", json_string("$LATEST"));
    if (log)
        val_obj_set_take(o, "LogResult", json_string(log));
    val_obj_set_take(o, "Payload", payload);
    val_obj_set_take(o, "SdkHttpMetadata", meta);
    val_obj_set_take(o, "SdkResponseMetadata", rm);
    val_obj_set_take(o, "StatusCode", json_integer(status));
    free(log);
    return o;
}

/* Queues a task's result for its execution (the loop takes it in its
 * next turn), taking output's reference. A result for an execution that
 * has ended, or for a task that is no longer pending, is dropped by the
 * engine. */
static void task_done(sched *s, const char *exec_arn, uint64_t id, json_t *output, const char *error,
                      const char *cause)
{
    pthread_mutex_lock(&s->mu);
    struct sx *x = s->stopping ? NULL : htab_get(&s->execs, exec_arn);
    if (x && !x->finished)
        push_event(s, x, error ? ENG_EV_TASK_FAILED : ENG_EV_TASK_SUCCEEDED, id, sched_now(), output, error,
                   cause);
    /* the caller's reference goes under the lock too: the loop thread
     * takes the value from here, and the lock orders the two threads'
     * reference counting */
    json_decref(output);
    pthread_mutex_unlock(&s->mu);
}

static void lambda_done(void *ud, const struct fn_result *r)
{
    struct ltask *t = ud;
    json_t *out = NULL;
    char *cause = NULL;
    const char *error = NULL;
    switch (r->status) {
    case FN_OK: {
        if (t->mode == LT_TOKEN)
            break; /* the callback answers */
        json_t *v = val_parse(r->payload, r->len, NULL);
        if (!v)
            v = json_stringn(r->payload, r->len); /* not JSON: the text itself */
        out = t->mode == LT_INVOKE ? invoke_result(r, v, t->tail, 200) : v;
        break;
    }
    case FN_FUNCTION_ERROR: {
        error = r->error_type && *r->error_type && strcmp(r->error_type, "Unhandled") != 0 ? r->error_type
                                                                                            : "Lambda.Unknown";
        if (t->mode == LT_DIRECT) {
            cause = strndup(r->payload, r->len);
        } else {
            /* the SDK parsed the payload; Step Functions shows it compact */
            json_t *d = val_parse(r->payload, r->len, NULL);
            cause = d ? json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER) : strndup(r->payload, r->len);
            json_decref(d);
        }
        break;
    }
    case FN_NOT_FOUND: {
        error = "Lambda.ResourceNotFoundException";
        const char *arn = r->message && strncmp(r->message, "Function not found: ", 20) == 0 ? r->message + 20 : "";
        /* lambda:invoke names the version it asked for: $LATEST when unqualified */
        const char *fname = strstr(arn, ":function:");
        int latest = t->mode != LT_DIRECT && fname && !strchr(fname + 10, ':');
        if (asprintf(&cause,
                     "Function not found: %s%s (Service: AWSLambda; Status Code: 404; Error Code: "
                     "ResourceNotFoundException; Request ID: %s; Proxy: null)",
                     arn, latest ? ":$LATEST" : "", r->request_id ? r->request_id : "") < 0)
            cause = NULL;
        break;
    }
    default:
        error = "Lambda.ServiceException";
        if (asprintf(&cause,
                     "%s (Service: AWSLambda; Status Code: 500; Error Code: ServiceException; Request ID: %s; "
                     "Proxy: null)",
                     r->message ? r->message : "stepd could not run the function",
                     r->request_id ? r->request_id : "") < 0)
            cause = NULL;
        break;
    }
    if (out || error)
        task_done(t->s, t->exec_arn, t->id, out, error, cause); /* takes out */
    free(cause);
    free(t->exec_arn);
    free(t);
}

/* Hands a Lambda task to the function pool. */
static void dispatch_lambda(sched *s, struct fx *f, int64_t now)
{
    int mode = strncmp(f->resource, "arn:aws:lambda:", 15) == 0 ? LT_DIRECT : f->token ? LT_TOKEN : LT_INVOKE;
    const char *name;
    json_t *payload;
    int tail = 0;
    if (mode == LT_DIRECT) {
        name = f->resource;
        payload = f->input;
    } else {
        json_t *fnv = json_object_get(f->input, "FunctionName");
        if (!json_is_string(fnv)) {
            push_event(s, f->sx, ENG_EV_TASK_FAILED, f->id, now, NULL, "States.Runtime",
                       "The lambda:invoke parameters must name the function: FunctionName is missing or not "
                       "a string");
            return;
        }
        name = json_string_value(fnv);
        payload = json_object_get(f->input, "Payload");
        json_t *lt = json_object_get(f->input, "LogType");
        tail = json_is_string(lt) && strcmp(json_string_value(lt), "Tail") == 0;
    }
    /* lambda:invoke's string Payload is the payload's text itself (the
     * SDK sends its bytes); any other value, and a direct ARN's input, is
     * sent as JSON */
    size_t len = 0;
    char *text = NULL;
    if (mode != LT_DIRECT && json_is_string(payload)) {
        len = json_string_length(payload);
        text = malloc(len + 1);
        if (!text)
            abort();
        memcpy(text, json_string_value(payload), len + 1);
    } else if (payload && !json_is_null(payload)) {
        text = val_dump(payload, &len);
    }
    json_t *it = mode == LT_INVOKE ? json_object_get(f->input, "InvocationType") : NULL;
    if (json_is_string(it) && strcmp(json_string_value(it), "Event") == 0 && fn_exists(s->fn, name)) {
        /* asynchronous: queued, and the task succeeds at once with 202 */
        char id[37];
        uuid4(s, id);
        int queued = fn_invoke(s->fn, name, text, len, 0, NULL, NULL) == 0;
        free(text);
        if (!queued)
            return; /* stopping: re-issued after the restart */
        struct fn_result r = {.status = FN_OK, .payload = "", .len = 0, .request_id = id};
        json_t *out = invoke_result(&r, json_string(""), 0, 202);
        push_event(s, f->sx, ENG_EV_TASK_SUCCEEDED, f->id, now, out, NULL, NULL);
        json_decref(out);
        return;
    }
    struct ltask *t = calloc(1, sizeof *t);
    if (!t || !(t->exec_arn = strdup(f->sx->arn)))
        abort();
    t->s = s;
    t->id = f->id;
    t->mode = mode;
    t->tail = tail;
    if (fn_invoke(s->fn, name, text, len, tail ? FN_INVOKE_TAIL : 0, lambda_done, t) < 0) {
        /* the pool has stopped: the task stays outstanding in the
         * execution's snapshot and is invoked again after the restart */
        free(t->exec_arn);
        free(t);
    }
    free(text);
}

/* ------------------------------------------------- DynamoDB group commit */

static struct ddb_env ddb_env_of(sched *s, int in_tx)
{
    return (struct ddb_env){.region = s->region, .account = s->account, .now_ns = sched_now(), .in_tx = in_tx};
}

/* The operations that change the store. */
static int ddb_writes(const char *op)
{
    static const char *const w[] = {"PutItem",     "UpdateItem",  "DeleteItem",        "BatchWriteItem",
                                    "CreateTable", "DeleteTable", "UpdateTable", "TransactWriteItems"};
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++)
        if (strcmp(op, w[i]) == 0)
            return 1;
    return 0;
}

/* Answers the calls that waited for the open transaction, which is now
 * committed (ok) or rolled back (ok 0: each gets why). Lock held. */
static void ddb_settle(sched *s, int ok, const val_err *why)
{
    size_t n = s->n_ddb_w;
    struct ddb_wait *w = s->ddb_w;
    s->stats.ddb_commits++;
    s->ddb_last = n;
    s->ddb_w = NULL;
    s->n_ddb_w = s->cap_ddb_w = 0;
    s->ddb_tx = s->ddb_tx_failed = 0;
    val_err lost = {0};
    if (!ok)
        val_err_set(&lost, VAL_ERR_STORE, "InternalServerError", "the write could not be stored: %s",
                    why && why->cause ? why->cause : "commit failed");
    for (size_t i = 0; i < n; i++) {
        if (ok)
            w[i].done(w[i].ud, w[i].answer, w[i].extra, &w[i].err);
        else
            w[i].done(w[i].ud, NULL, NULL, &lost);
        json_decref(w[i].answer);
        json_decref(w[i].extra);
        val_err_clear(&w[i].err);
    }
    val_err_clear(&lost);
    free(w);
}

/* Commits the open DynamoDB transaction, if any, and answers its calls.
 * Lock held. */
static void ddb_flush(sched *s)
{
    if (!s->ddb_tx)
        return;
    val_err err = {0};
    int ok = !s->ddb_tx_failed && s->st->ops->commit(s->st, &err) == STORE_OK;
    if (!ok) {
        s->st->ops->rollback(s->st, NULL);
        notice(s, "a DynamoDB group commit failed: %s", err.cause ? err.cause : "a write failed in the store");
    }
    ddb_settle(s, ok, &err);
    val_err_clear(&err);
}

/* How long the loop lets more DynamoDB writes join an open transaction:
 * it commits once DDB_PAUSE_NS pass without a new one, DDB_LINGER_NS after
 * it started lingering at most, or at DDB_BATCH writes. It lingers only
 * when the last commit held several writes (concurrent clients), so a lone
 * client's write is committed at once and waits for nobody. */
#define DDB_PAUSE_NS 40000
#define DDB_LINGER_NS 400000
#define DDB_BATCH 512

/* The loop's DynamoDB group commit. Lock held (released while it lingers). */
static void ddb_commit_batch(sched *s)
{
    if (!s->ddb_tx)
        return;
    if (s->ddb_last > 1) {
        int64_t start = sched_now();
        size_t seen = 0;
        while (s->ddb_tx && !s->ddb_tx_failed && !s->stopping && s->n_ddb_w != seen && s->n_ddb_w < DDB_BATCH) {
            int64_t now = sched_now();
            if (now - start >= DDB_LINGER_NS)
                break;
            seen = s->n_ddb_w;
            int64_t due = now + DDB_PAUSE_NS;
            struct timespec ts = {(time_t)(due / 1000000000LL), (long)(due % 1000000000LL)};
            pthread_cond_timedwait(&s->cv, &s->mu, &ts);
        }
    }
    ddb_flush(s);
}

/* sched_ddb with the lock held: 0 after done ran, 1 when it waits. */
static int ddb_locked(sched *s, const char *op, json_t *req, sched_ddb_fn done, sched_ddb_wait_fn wait, void *ud)
{
    val_err err = {0};
    json_t *extra = NULL;
    if (!s->running || (!s->ddb_tx && !ddb_writes(op))) {
        /* no loop to commit later, or a read of committed data only */
        struct ddb_env env = ddb_env_of(s, 0);
        json_t *r = ddb_call(s->st, op, req, &env, &extra, &err);
        done(ud, r, extra, &err);
        json_decref(r);
        json_decref(extra);
        val_err_clear(&err);
        return 0;
    }
    if (!s->ddb_tx) {
        if (s->st->ops->begin(s->st, &err) != STORE_OK) {
            val_err_set(&err, VAL_ERR_STORE, "InternalServerError", "the store refused a transaction");
            done(ud, NULL, NULL, &err);
            val_err_clear(&err);
            return 0;
        }
        s->ddb_tx = 1;
        pthread_cond_signal(&s->cv); /* the loop commits it */
    }
    struct ddb_env env = ddb_env_of(s, 1);
    json_t *r = ddb_call(s->st, op, req, &env, &extra, &err);
    if (!r && err.kind == VAL_ERR_STORE)
        s->ddb_tx_failed = 1;
    if (s->n_ddb_w == s->cap_ddb_w) {
        s->cap_ddb_w = s->cap_ddb_w ? 2 * s->cap_ddb_w : 64;
        s->ddb_w = realloc(s->ddb_w, s->cap_ddb_w * sizeof *s->ddb_w);
        if (!s->ddb_w)
            abort();
    }
    s->ddb_w[s->n_ddb_w++] = (struct ddb_wait){.done = done, .ud = ud, .answer = r, .extra = extra, .err = err};
    s->stats.ddb_writes++;
    if (wait && !wait(ud)) {
        ddb_flush(s); /* it cannot wait: commit now, answering everyone */
        return 0;
    }
    return 1;
}

int sched_ddb(sched *s, const char *op, json_t *req, sched_ddb_fn done, sched_ddb_wait_fn wait, void *ud)
{
    pthread_mutex_lock(&s->mu);
    int r = ddb_locked(s, op, req, done, wait, ud);
    pthread_mutex_unlock(&s->mu);
    return r;
}

json_t *sched_ddb_now(sched *s, const char *op, json_t *req, json_t **extra, val_err *err)
{
    pthread_mutex_lock(&s->mu);
    ddb_flush(s);
    struct ddb_env env = ddb_env_of(s, 0);
    json_t *r = ddb_call(s->st, op, req, &env, extra, err);
    pthread_mutex_unlock(&s->mu);
    return r;
}

/* ------------------------------------------------------- DynamoDB tasks */

#define DDB_OPTIMIZED "arn:aws:states:::dynamodb:"
#define DDB_SDK "arn:aws:states:::aws-sdk:dynamodb:"

/* The DynamoDB operation a Task's resource names ("PutItem"), written into
 * op; NULL when it names none. The optimized integration has four
 * operations; the AWS SDK integration has every one (camelCase in the ARN,
 * as AWS writes it). */
static const char *ddb_op_of(const char *res, char op[64], int *sdk)
{
    const char *name;
    if (strncmp(res, DDB_OPTIMIZED, strlen(DDB_OPTIMIZED)) == 0) {
        name = res + strlen(DDB_OPTIMIZED);
        if (strcmp(name, "putItem") && strcmp(name, "getItem") && strcmp(name, "updateItem") &&
            strcmp(name, "deleteItem"))
            return NULL;
        *sdk = 0;
    } else if (strncmp(res, DDB_SDK, strlen(DDB_SDK)) == 0) {
        name = res + strlen(DDB_SDK);
        *sdk = 1;
    } else {
        return NULL;
    }
    size_t n = strlen(name);
    if (n == 0 || n >= 64 || strchr(name, '.'))
        return NULL; /* .sync and .waitForTaskToken are not DynamoDB's */
    memcpy(op, name, n + 1);
    op[0] = (char)(op[0] >= 'a' && op[0] <= 'z' ? op[0] - 32 : op[0]);
    return op;
}

/* What the optimized integration adds to DynamoDB's answer: the SDK's
 * HTTP metadata (the answer's length, DynamoDB's headers). */
static void ddb_sdk_metadata(json_t *out, const char *request_id)
{
    char len[32], date[40], crc[16];
    size_t n;
    char *text = val_dump(out, &n);
    snprintf(len, sizeof len, "%zu", n);
    snprintf(crc, sizeof crc, "%u", ddb_crc32(text, n));
    free(text);
    http_date(date);
    struct {
        const char *k, *v;
    } h[] = {{"Connection", "keep-alive"}, {"Content-Length", len}, {"Content-Type", "application/x-amz-json-1.0"},
             {"Date", date},              {"Server", "Server"},   {"x-amz-crc32", crc},
             {"x-amzn-RequestId", request_id}};
    json_t *all = json_object(), *one = json_object();
    for (size_t i = 0; i < sizeof h / sizeof h[0]; i++) {
        val_obj_set_take(all, h[i].k, json_pack("[s]", h[i].v));
        val_obj_set_take(one, h[i].k, json_string(h[i].v));
    }
    json_t *meta = json_object();
    val_obj_set_take(meta, "AllHttpHeaders", all);
    val_obj_set_take(meta, "HttpHeaders", one);
    val_obj_set_take(meta, "HttpStatusCode", json_integer(200));
    val_obj_set_take(out, "SdkHttpMetadata", meta);
    val_obj_set_take(out, "SdkResponseMetadata", json_pack("{s:s}", "RequestId", request_id));
}

/* A DynamoDB task waiting for its answer (the commit of its write). */
struct dtask {
    sched *s;
    struct sx *sx;
    uint64_t id;
    int sdk;
};

static void dynamodb_done(void *ud, json_t *answer, json_t *extra, const val_err *e)
{
    (void)extra;
    struct dtask *t = ud;
    sched *s = t->s;
    char rid[37];
    uuid4(s, rid);
    for (char *c = rid; *c; c++)
        *c = (char)(*c >= 'a' && *c <= 'z' ? *c - 32 : *c);
    int64_t now = sched_now();
    if (answer && !t->sx->finished) {
        json_t *out = json_deep_copy(answer);
        if (!t->sdk)
            ddb_sdk_metadata(out, rid);
        push_event(s, t->sx, ENG_EV_TASK_SUCCEEDED, t->id, now, out, NULL, NULL);
        json_decref(out);
    } else if (!t->sx->finished) {
        const char *code = e->name ? e->name : "InternalServerError";
        int server = e->kind == VAL_ERR_STORE;
        char *error, *cause;
        if (t->sdk) {
            error = val_asprintf("DynamoDb.%s", code);
            cause = val_asprintf("%s (Service: DynamoDb, Status Code: %d, Request ID: %s)", e->cause ? e->cause : "",
                                 server ? 500 : 400, rid);
        } else {
            error = val_asprintf("DynamoDB.%s",
                                 strcmp(code, "ValidationException") == 0 ? "AmazonDynamoDBException" : code);
            cause = val_asprintf("%s (Service: AmazonDynamoDBv2; Status Code: %d; Error Code: %s; Request ID: %s; "
                                 "Proxy: null)",
                                 e->cause ? e->cause : "", server ? 500 : 400, code, rid);
        }
        push_event(s, t->sx, ENG_EV_TASK_FAILED, t->id, now, NULL, error, cause);
        free(error);
        free(cause);
    }
    sx_unref(s, t->sx);
    free(t);
}

/* A DynamoDB task runs at once, on the loop's store (the lock is held):
 * its write joins the DynamoDB group commit and its result reaches the
 * execution only after that commit, so the write is durable before the
 * step that follows it; a crash between the two runs the task again (at
 * least once, as AWS delivers tasks). Errors are named as Step Functions
 * names them: DynamoDB.<Code> (ValidationException is the SDK's
 * DynamoDB.AmazonDynamoDBException), the SDK integration's DynamoDb.<Code>. */
static void dispatch_dynamodb(sched *s, struct fx *f, const char *op, int sdk)
{
    struct dtask *t = malloc(sizeof *t);
    if (!t)
        abort();
    *t = (struct dtask){.s = s, .sx = f->sx, .id = f->id, .sdk = sdk};
    f->sx->refs++;
    json_t *empty = json_is_object(f->input) ? NULL : json_object();
    ddb_locked(s, op, empty ? empty : f->input, dynamodb_done, NULL, t);
    json_decref(empty);
}

/* Runs a task effect: Lambda tasks go to the function pool (when there
 * is one); a task with a token for anything else waits for its
 * callback; any other task fails the way AWS fails a call to something
 * that is not there. */
static void dispatch(sched *s, struct fx *f, int64_t now)
{
    if (s->fn && is_lambda(f->resource)) {
        dispatch_lambda(s, f, now);
        return;
    }
    char op[64];
    int sdk;
    if (!f->token && ddb_op_of(f->resource, op, &sdk)) {
        dispatch_dynamodb(s, f, op, sdk);
        return;
    }
    if (f->token) {
        if (!htab_get(&s->warned, f->resource)) {
            htab_put(&s->warned, f->resource, (void *)1);
            notice(s, "%s: stepd does not deliver to this resource; the task waits for "
                      "SendTaskSuccess/SendTaskFailure with its token",
                   f->resource);
        }
        return;
    }
    char *cause = NULL;
    const char *error;
    if (is_lambda(f->resource)) {
        const char *fn = NULL;
        char arn[600];
        if (strncmp(f->resource, "arn:aws:lambda:", 15) == 0)
            fn = f->resource;
        else {
            json_t *v = json_object_get(f->input, "FunctionName");
            fn = json_is_string(v) ? json_string_value(v) : "";
        }
        if (strncmp(fn, "arn:", 4) == 0)
            snprintf(arn, sizeof arn, "%s", fn);
        else
            snprintf(arn, sizeof arn, "arn:aws:lambda:%s:%s:function:%s", s->region, s->account, fn);
        error = "Lambda.ResourceNotFoundException";
        if (asprintf(&cause,
                     "Function not found: %s (Service: AWSLambda; Status Code: 404; Error Code: "
                     "ResourceNotFoundException; Request ID: 00000000-0000-0000-0000-000000000000; Proxy: null)",
                     arn) < 0)
            cause = NULL;
    } else {
        error = "States.TaskFailed";
        if (asprintf(&cause, "stepd cannot call the resource %s of Task state '%s'", f->resource,
                     f->state) < 0)
            cause = NULL;
    }
    push_event(s, f->sx, ENG_EV_TASK_FAILED, f->id, now, NULL, error, cause);
    free(cause);
}

static void finish_sx(sched *s, struct work *w)
{
    struct sx *x = w->x;
    x->stop_ns = eng_now(x->x);
    if (x->done) {
        struct store_exec row = {0};
        result_row(w, &row);
        row.machine_arn = x->mach->arn;
        row.name = x->name;
        row.input = x->input ? x->input : (char *)"{}";
        row.start_ns = x->start_ns;
        x->done(x->done_ud, &row);
        x->done = NULL;
    }
    x->finished = 1;
    htab_del(&s->execs, x->arn);
    sx_unload(s, x);
    sx_unref(s, x);
}

/* One turn over the executions in list (each with a reference the turn
 * releases): step them, commit, run the effects. Called and returning with
 * the lock held; the lock is let go while the engines step, so that the
 * API keeps answering (executions of this turn are busy meanwhile). */
static int turn(sched *s, struct sx **list, size_t n)
{
    struct turn t = {0};
    int64_t now = sched_now();

    /* phase 1: take the events, load the engine states */
    t.w = calloc(n ? n : 1, sizeof *t.w);
    if (!t.w)
        abort();
    for (size_t i = 0; i < n; i++) {
        struct sx *x = list[i];
        if (x->finished || (!x->queued && !x->recover))
            continue;
        if (x->busy) {
            /* an API call is stepping it right now: next turn */
            x->queued = 0;
            enqueue(s, x);
            continue;
        }
        x->queued = 0;
        if (sx_load(s, x) < 0) {
            for (size_t k = 0; k < x->n_ev; k++)
                sev_clear(&x->ev[k]);
            x->n_ev = 0;
            continue;
        }
        struct work *w = &t.w[t.n_w++];
        *w = (struct work){.x = x, .ev = x->ev, .n_ev = x->n_ev, .recover = x->recover, .fresh = x->fresh};
        x->ev = NULL;
        x->n_ev = x->cap_ev = 0;
        x->recover = x->fresh = 0;
        x->busy = 1;
        x->refs++;
    }

    /* phase 2: step, unlocked */
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; i < t.n_w; i++)
        step_work(&t.w[i], &t, now);
    pthread_mutex_lock(&s->mu);

    /* phase 3: group commit, then effects */
    int64_t t_commit = sched_now();
    s->stats.step_ns += t_commit - now;
    val_err err = {0};
    int ok = 1, durable = 0;
    for (size_t i = 0; i < t.n_w; i++) {
        struct work *w = &t.w[i];
        s->stats.transitions += w->transitions;
        for (size_t k = 0; k < w->n_ev; k++)
            sev_clear(&w->ev[k]);
        free(w->ev);
        w->ev = NULL;
        if (w->moved && (!w->x->express || w->status != ENG_RUNNING))
            durable = 1;
    }
    for (size_t i = 0; i < t.n_fx; i++)
        if (t.fx[i].token)
            durable = 1; /* an EXPRESS execution's task token */
    if (s->ddb_tx_failed)
        ddb_flush(s); /* rolls the failed DynamoDB writes back, answers them */
    if (durable) {
        /* DynamoDB writes waiting for their commit share this one */
        int joined = s->ddb_tx;
        ok = joined || s->st->ops->begin(s->st, &err) == STORE_OK;
        for (size_t i = 0; ok && i < t.n_w; i++)
            if (t.w[i].moved || t.n_fx)
                ok = write_work(s, &t.w[i], &t, &err) == STORE_OK;
        if (ok)
            ok = s->st->ops->commit(s->st, &err) == STORE_OK;
        else
            s->st->ops->rollback(s->st, NULL);
        if (joined)
            ddb_settle(s, ok, &err);
        s->stats.commits++;
        s->stats.commit_ns += sched_now() - t_commit;
    }
    for (size_t i = 0; i < t.n_w; i++)
        t.w[i].x->busy = 0;
    pthread_cond_broadcast(&s->idle);
    if (!ok) {
        /* Nothing of this turn was kept: forget the engine states and redo
         * from the last committed snapshots (their outstanding effects are
         * issued again). Executions accepted in this turn were not: their
         * StartExecutions get the error. */
        notice(s, "commit failed, retrying from the last committed state: %s", err.cause ? err.cause : "");
        val_err refused = {0};
        val_err_set(&refused, VAL_ERR_STORE, "StoreError", "the execution could not be stored: %s",
                err.cause ? err.cause : "commit failed");
        val_err_clear(&err);
        for (size_t i = 0; i < t.n_w; i++) {
            struct work *w = &t.w[i];
            struct sx *x = w->x;
            if (x->pending_row) {
                answer_waiters(x, &refused);
                x->pending_row = 0;
                x->finished = 1;
                htab_del(&s->execs, x->arn);
                sx_unload(s, x);
                sx_unref(s, x);
                continue;
            }
            if (x->express)
                continue; /* in memory: it goes on below, only its record is lost */
            sx_unload(s, x);
            if (w->fresh)
                x->fresh = 1; /* never stored a snapshot: start it again (input kept) */
            else
                x->recover = 1;
            enqueue(s, x);
        }
        val_err_clear(&refused);
    }
    {
        /* committed (or nothing to commit): answer, run the effects, end
         * what ended. EXPRESS executions go on even when their commit
         * failed: they live in memory. */
        for (size_t i = 0; ok && i < t.n_w; i++) {
            struct sx *x = t.w[i].x;
            if (x->pending_row) {
                x->pending_row = 0;
                answer_waiters(x, NULL);
            }
            if (!x->express && x->input) {
                free(x->input); /* started: a STANDARD input lives in the store */
                x->input = NULL;
            }
        }
        for (size_t i = 0; i < t.n_fx; i++) {
            struct fx *f = &t.fx[i];
            if (f->sx->finished || !f->sx->x || eng_status(f->sx->x) != ENG_RUNNING)
                continue;
            if (!ok && !f->sx->express)
                continue;
            if (f->kind == ENG_EFF_TIMER)
                heap_push(s, f->sx, f->id, f->due);
            else
                dispatch(s, f, now);
        }
        for (size_t i = 0; i < t.n_w; i++)
            if (t.w[i].status != ENG_RUNNING && (ok || t.w[i].x->express) && !t.w[i].x->finished)
                finish_sx(s, &t.w[i]);
    }
    /* idle loaded executions join the eviction order */
    for (size_t i = 0; i < t.n_w; i++) {
        struct sx *x = t.w[i].x;
        if (!x->finished && x->x && !x->queued && !x->express)
            lru_push(s, x);
    }
    while ((size_t)s->loaded > s->max_loaded && s->lru_head)
        sx_unload(s, s->lru_head);
    for (size_t i = 0; i < t.n_w; i++)
        sx_unref(s, t.w[i].x);
    for (size_t i = 0; i < n; i++)
        sx_unref(s, list[i]);
    turn_free(&t);
    s->stats.turns++;
    return ok;
}

/* Runs one sx's queued events at once (API calls that must be committed
 * before they answer). */
static int turn_one(sched *s, struct sx *x)
{
    x->refs++;
    struct sx *one[1] = {x};
    return turn(s, one, 1);
}

/* Waits until no turn is stepping x (its engine may then be read). */
static void wait_idle(sched *s, struct sx *x)
{
    while (x->busy)
        pthread_cond_wait(&s->idle, &s->mu);
}

/* ------------------------------------------------------------ the loop */

static void fire_timers(sched *s, int64_t now)
{
    while (s->n_heap && s->heap[0].due <= now) {
        struct heap_ent h = heap_pop(s);
        if (!h.sx->finished)
            push_event(s, h.sx, ENG_EV_TIMER, h.id, h.due, NULL, NULL, NULL);
        sx_unref(s, h.sx);
    }
}

/* Executions per turn: enough for group commit to pay, few enough that
 * the histories a turn holds before its commit stay small. */
#define TURN_MAX 256

/* One turn over the first TURN_MAX executions of the run queue. */
static void turn_next(sched *s)
{
    size_t n = s->n_runq < TURN_MAX ? s->n_runq : TURN_MAX;
    struct sx **batch = malloc(n * sizeof *batch);
    if (!batch)
        abort();
    memcpy(batch, s->runq, n * sizeof *batch);
    memmove(s->runq, s->runq + n, (s->n_runq - n) * sizeof *s->runq);
    s->n_runq -= n;
    turn(s, batch, n);
    free(batch);
}

static void *loop(void *arg)
{
    sched *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!s->stopping) {
        /* DynamoDB writes first: their callers wait for this commit */
        ddb_commit_batch(s);
        fire_timers(s, sched_now());
        if (!s->n_runq) {
            if (s->n_heap) {
                int64_t due = s->heap[0].due;
                struct timespec ts = {(time_t)(due / 1000000000LL), (long)(due % 1000000000LL)};
                pthread_cond_timedwait(&s->cv, &s->mu, &ts);
            } else {
                pthread_cond_wait(&s->cv, &s->mu);
            }
            continue;
        }
        turn_next(s);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ------------------------------------------------------------ lifecycle */

static int recover(sched *s, val_err *err)
{
    char *token = NULL;
    int64_t now = sched_now();
    (void)now;
    do {
        struct store_exec_list page = {0};
        if (s->st->ops->exec_list_running(s->st, token, 500, &page, err) != STORE_OK) {
            free(token);
            return -1;
        }
        free(token);
        token = page.next_token ? strdup(page.next_token) : NULL;
        for (size_t i = 0; i < page.n; i++) {
            struct store_exec *row = &page.items[i];
            val_err e = {0};
            struct mach *m = mach_revision(s, row->machine_arn, row->revision_id, &e);
            if (!m) {
                notice(s, "cannot recover %s: %s", row->arn, e.cause ? e.cause : "machine missing");
                val_err_clear(&e);
                continue;
            }
            struct sx *x = sx_new(s, row->arn, row->name, m);
            x->start_ns = row->start_ns;
            if (!row->snapshot) {
                x->fresh = 1;
                x->input = row->input;
                row->input = NULL;
                enqueue(s, x);
            } else {
                x->recover = 1;
                enqueue(s, x);
            }
            s->stats.recovered++;
        }
        store_exec_list_free(&page);
    } while (token);
    /* step the recovered executions in turns now, so that their effects
     * (timers) are armed before the API answers anything */
    while (s->n_runq) {
        turn_next(s);
    }
    return 0;
}

sched *sched_new(store *st, const struct sched_opts *o, val_err *err)
{
    sched *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    s->st = st;
    s->region = strdup(o && o->region ? o->region : "us-east-1");
    s->account = strdup(o && o->account ? o->account : "123456789012");
    s->max_loaded = o && o->max_loaded ? o->max_loaded : 4096;
    s->quiet = o ? o->quiet : 0;
    s->fn = o ? o->fn : NULL;
    s->seed = (uint64_t)sched_now() ^ ((uint64_t)(uintptr_t)s << 16);
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_REALTIME);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&s->idle, NULL);
    pthread_mutex_lock(&s->mu); /* turns let go of it while they step */
    int r = recover(s, err);
    pthread_mutex_unlock(&s->mu);
    if (r < 0) {
        sched_free(s);
        return NULL;
    }
    return s;
}

int sched_start(sched *s, val_err *err)
{
    int e = pthread_create(&s->thread, NULL, loop, s);
    if (e) {
        val_err_set(err, VAL_ERR_IO, "ThreadFailed", "cannot start the scheduler thread: %s", strerror(e));
        return -1;
    }
    s->running = 1;
    return 0;
}

static void cancel_sync(void *v)
{
    struct sx *x = v;
    if (x->done) {
        x->done(x->done_ud, NULL);
        x->done = NULL;
    }
}

void sched_stop(sched *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stopping = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (s->running) {
        pthread_join(s->thread, NULL);
    }
    pthread_mutex_lock(&s->mu);
    s->running = 0; /* under the lock: sched_ddb reads it there */
    ddb_flush(s); /* what was written is kept and answered */
    val_err down = {0};
    val_err_set(&down, VAL_ERR_VALIDATION, "ServiceUnavailable", "stepd is shutting down");
    for (size_t i = 0; i < s->execs.cap; i++)
        for (struct hent *e = s->execs.b[i]; e; e = e->next) {
            struct sx *x = e->val;
            cancel_sync(x);
            if (x->pending_row)
                answer_waiters(x, &down); /* never stored: nothing to recover */
        }
    val_err_clear(&down);
    pthread_mutex_unlock(&s->mu);
}

void sched_free(sched *s)
{
    if (!s)
        return;
    sched_stop(s);
    for (size_t i = 0; i < s->n_runq; i++)
        sx_unref(s, s->runq[i]);
    for (size_t i = 0; i < s->n_heap; i++)
        sx_unref(s, s->heap[i].sx);
    /* the table's references last */
    for (size_t i = 0; i < s->execs.cap; i++) {
        struct hent *e = s->execs.b[i];
        for (; e; e = e->next)
            sx_unref(s, e->val);
    }
    htab_free(&s->execs, NULL);
    htab_free(&s->current, mach_unref_v);
    htab_free(&s->revs, mach_unref_v);
    htab_free(&s->warned, NULL);
    free(s->runq);
    free(s->heap);
    free(s->region);
    free(s->account);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    pthread_cond_destroy(&s->idle);
    free(s);
}

void sched_stats_get(sched *s, struct sched_stats *out)
{
    pthread_mutex_lock(&s->mu);
    *out = s->stats;
    out->loaded = s->loaded;
    out->known = (long)s->execs.n;
    out->timers = (long)s->n_heap;
    pthread_mutex_unlock(&s->mu);
}

store *sched_lock(sched *s)
{
    pthread_mutex_lock(&s->mu);
    ddb_flush(s);
    return s->st;
}

void sched_unlock(sched *s) { pthread_mutex_unlock(&s->mu); }

const char *sched_region(sched *s) { return s->region; }
const char *sched_account(sched *s) { return s->account; }

/* ------------------------------------------------------------- machines */

static char *machine_arn(sched *s, const char *name)
{
    char *a = NULL;
    if (asprintf(&a, "arn:aws:states:%s:%s:stateMachine:%s", s->region, s->account, name) < 0)
        abort();
    return a;
}

static int streq0(const char *a, const char *b) { return (!a && !b) || (a && b && strcmp(a, b) == 0); }

int sched_machine_create(sched *s, const char *name, const char *definition, const char *type,
                         const char *role_arn, struct store_machine *out, val_err *err)
{
    memset(out, 0, sizeof *out);
    struct asl_machine *m = compile(definition, err);
    if (!m)
        return -1;
    asl_machine_free(m);
    char *arn = machine_arn(s, name);
    pthread_mutex_lock(&s->mu);
    struct store_machine sm = {.arn = arn,
                               .name = (char *)name,
                               .definition = (char *)definition,
                               .type = (char *)type,
                               .role_arn = (char *)role_arn,
                               .created_ns = sched_now()};
    ddb_flush(s); /* answered as stored: nothing waiting may share it */
    int r = s->st->ops->machine_create(s->st, &sm, err);
    if (r == STORE_OK || r == STORE_EXISTS) {
        int g = s->st->ops->machine_get(s->st, arn, out, err);
        if (g != STORE_OK)
            r = STORE_ERROR;
        else if (r == STORE_EXISTS &&
                 !(streq0(out->definition, definition) && streq0(out->type, type) && streq0(out->role_arn, role_arn))) {
            val_err_set(err, VAL_ERR_VALIDATION, "StateMachineAlreadyExists", "State Machine Already Exists: '%s'", arn);
            store_machine_clear(out);
            r = STORE_ERROR;
        } else
            r = STORE_OK;
    }
    pthread_mutex_unlock(&s->mu);
    free(arn);
    return r == STORE_OK ? 0 : -1;
}

int sched_machine_update(sched *s, const char *arn, const char *definition, const char *role_arn,
                         struct store_machine *out, val_err *err)
{
    memset(out, 0, sizeof *out);
    if (definition) {
        struct asl_machine *m = compile(definition, err);
        if (!m)
            return -1;
        asl_machine_free(m);
    }
    pthread_mutex_lock(&s->mu);
    ddb_flush(s);
    int r = s->st->ops->machine_update(s->st, arn, definition, role_arn, sched_now(), NULL, err);
    if (r == STORE_NOT_FOUND)
        val_err_set(err, VAL_ERR_VALIDATION, "StateMachineDoesNotExist", "State Machine Does Not Exist: '%s'", arn);
    if (r == STORE_OK) {
        mach_forget_current(s, arn);
        if (s->st->ops->machine_get(s->st, arn, out, err) != STORE_OK)
            r = STORE_ERROR;
    }
    pthread_mutex_unlock(&s->mu);
    return r == STORE_OK ? 0 : -1;
}

int sched_machine_delete(sched *s, const char *arn, val_err *err)
{
    pthread_mutex_lock(&s->mu);
    ddb_flush(s);
    int r = s->st->ops->machine_delete(s->st, arn, err);
    mach_forget_current(s, arn);
    pthread_mutex_unlock(&s->mu);
    if (r == STORE_NOT_FOUND)
        return 0; /* AWS: deleting a machine that is not there succeeds */
    return r == STORE_OK ? 0 : -1;
}

/* ------------------------------------------------------------ executions */

static void uuid4(sched *s, char out[37])
{
    uint64_t a = next_seed(s), b = next_seed(s);
    unsigned char u[16];
    memcpy(u, &a, 8);
    memcpy(u + 8, &b, 8);
    u[6] = (unsigned char)((u[6] & 0x0f) | 0x40);
    u[8] = (unsigned char)((u[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1],
             u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

int sched_exec_start(sched *s, const char *machine_arn_, const char *name, const char *input,
                     sched_started_fn started, sched_done_fn sync_done, void *ud, struct store_exec *out,
                     val_err *err)
{
    memset(out, 0, sizeof *out);
    if (!input)
        input = "{}";
    val_err pe = {0};
    json_t *in = val_parse(input, strlen(input), &pe);
    if (!in) {
        val_err_set(err, VAL_ERR_VALIDATION, "InvalidExecutionInput", "Invalid State Machine Execution Input: '%s'",
                pe.cause ? pe.cause : "not JSON");
        val_err_clear(&pe);
        return -1;
    }
    json_decref(in);
    pthread_mutex_lock(&s->mu);
    int rc = -1;
    if ((sync_done || started) && s->stopping) {
        val_err_set(err, VAL_ERR_VALIDATION, "ServiceUnavailable", "stepd is shutting down");
        goto out;
    }
    struct mach *m = mach_current(s, machine_arn_, err);
    if (!m)
        goto out;
    if (sync_done && !m->express) {
        val_err_set(err, VAL_ERR_VALIDATION, "StateMachineTypeNotSupported",
                "This operation is not supported by this type of state machine");
        goto out;
    }
    char uuid[37];
    uuid4(s, uuid);
    if (!name)
        name = uuid;
    char *arn = NULL;
    if (m->express) {
        char u2[37];
        uuid4(s, u2);
        if (asprintf(&arn, "arn:aws:states:%s:%s:express:%s:%s:%s", s->region, s->account, m->name, name, u2) < 0)
            abort();
    } else if (asprintf(&arn, "arn:aws:states:%s:%s:execution:%s:%s", s->region, s->account, m->name, name) < 0)
        abort();
    int64_t now = sched_now();
    if (!m->express && name != uuid) {
        /* AWS: the same name and input while the first is RUNNING is the
         * first; any other reuse of a name is ExecutionAlreadyExists. (A
         * name drawn here is a fresh UUID: nothing to look up.) */
        struct sx *old = htab_get(&s->execs, arn);
        if (old && old->pending_row) {
            if (strcmp(old->input, input) != 0) {
                val_err_set(err, VAL_ERR_VALIDATION, "ExecutionAlreadyExists", "Execution Already Exists: '%s'", arn);
            } else if (started) {
                add_waiter(old, started, ud); /* answered with the first, at its commit */
                rc = 1;
            } else {
                val_err_set(err, VAL_ERR_VALIDATION, "ExecutionAlreadyExists", "Execution Already Exists: '%s'", arn);
            }
            free(arn);
            goto out;
        }
        struct store_exec row = {0};
        int r = s->st->ops->exec_get(s->st, arn, &row, err);
        if (r == STORE_OK) {
            if (strcmp(row.status, "RUNNING") == 0 && strcmp(row.input, input) == 0) {
                out->arn = row.arn;
                out->name = row.name;
                out->start_ns = row.start_ns;
                row.arn = row.name = NULL;
                rc = 0;
            } else {
                val_err_set(err, VAL_ERR_VALIDATION, "ExecutionAlreadyExists", "Execution Already Exists: '%s'", arn);
            }
            store_exec_clear(&row);
            free(arn);
            goto out;
        }
        if (r != STORE_NOT_FOUND) {
            free(arn);
            goto out;
        }
    }
    if (!m->express) {
        if (!started) {
            /* no one to answer later: store the row now, on its own */
            ddb_flush(s);
            struct store_exec nrow = {.arn = arn,
                                      .machine_arn = m->arn,
                                      .name = (char *)name,
                                      .status = "RUNNING",
                                      .input = (char *)input,
                                      .start_ns = now,
                                      .revision_id = m->rev};
            if (s->st->ops->exec_create(s->st, &nrow, err) != STORE_OK) {
                free(arn);
                goto out;
            }
        }
    }
    struct sx *x = sx_new(s, arn, name, m);
    x->fresh = 1;
    x->input = strdup(input);
    x->start_ns = now;
    x->done = sync_done;
    x->done_ud = ud;
    if (!m->express && started) {
        x->pending_row = 1; /* the loop's next commit stores it, then answers */
        add_waiter(x, started, ud);
        rc = 1;
    } else {
        out->arn = arn;
        out->name = strdup(name);
        out->start_ns = now;
        rc = 0;
    }
    enqueue(s, x);
    if (rc == 1)
        free(arn);
out:
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int sched_exec_stop(sched *s, const char *arn, const char *error, const char *cause, int64_t *stop_ns,
                    val_err *err)
{
    pthread_mutex_lock(&s->mu);
    int rc = 0;
    struct sx *x = htab_get(&s->execs, arn);
    if (x) {
        x->refs++;
        wait_idle(s, x);
        if (!x->finished) {
            push_event(s, x, ENG_EV_STOP, 0, sched_now(), NULL, error, cause);
            if (!turn_one(s, x)) {
                val_err_set(err, VAL_ERR_STORE, "StoreError", "the stop could not be stored; try again");
                rc = -1;
            }
        }
        *stop_ns = x->stop_ns;
        sx_unref(s, x);
    } else {
        struct store_exec row = {0};
        int r = s->st->ops->exec_get(s->st, arn, &row, err);
        if (r == STORE_NOT_FOUND) {
            val_err_set(err, VAL_ERR_VALIDATION, "ExecutionDoesNotExist", "Execution Does Not Exist: '%s'", arn);
            rc = -1;
        } else if (r != STORE_OK)
            rc = -1;
        else
            *stop_ns = row.stop_ns;
        store_exec_clear(&row);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int sched_task_callback(sched *s, const char *token, int kind, const char *output, const char *error,
                        const char *cause, val_err *err)
{
    json_t *out = NULL;
    if (kind == SCHED_TASK_SUCCESS) {
        val_err pe = {0};
        out = val_parse(output ? output : "", output ? strlen(output) : 0, &pe);
        if (!out) {
            val_err_set(err, VAL_ERR_VALIDATION, "InvalidOutput", "Invalid Output: '%s'", pe.cause ? pe.cause : "not JSON");
            val_err_clear(&pe);
            return -1;
        }
    }
    pthread_mutex_lock(&s->mu);
    int rc = -1;
    char *exec_arn = NULL;
    uint64_t task_id = 0;
    int r = s->st->ops->token_get(s->st, token, &exec_arn, &task_id, err);
    if (r == STORE_NOT_FOUND) {
        val_err_set(err, VAL_ERR_VALIDATION, "InvalidToken", "Invalid Token: '%s'", token);
        goto out;
    }
    if (r != STORE_OK)
        goto out;
    struct sx *x = htab_get(&s->execs, exec_arn);
    if (x) {
        x->refs++;
        wait_idle(s, x);
    }
    int loaded = x && !x->finished ? sx_load(s, x) : 0;
    if (loaded < 0)
        val_err_set(err, VAL_ERR_STORE, "StoreError", "the execution %s could not be restored", exec_arn);
    if (!x || x->finished || loaded < 0 || !eng_task_pending(x->x, task_id)) {
        if (loaded == 0)
            val_err_set(err, VAL_ERR_VALIDATION, "TaskTimedOut", "Task Timed Out: 'Provided task does not exist anymore'");
        if (x) {
            if (x->x && !x->finished && !x->queued && !x->express)
                lru_push(s, x); /* loaded to look: evictable again */
            sx_unref(s, x);
        }
        goto out;
    }
    int64_t now = sched_now();
    int ev = kind == SCHED_TASK_SUCCESS ? ENG_EV_TASK_SUCCEEDED
             : kind == SCHED_TASK_FAILURE ? ENG_EV_TASK_FAILED
                                          : ENG_EV_HEARTBEAT;
    push_event(s, x, ev, task_id, now, out, error, cause);
    if (turn_one(s, x))
        rc = 0;
    else
        val_err_set(err, VAL_ERR_STORE, "StoreError", "the callback could not be stored; try again");
    sx_unref(s, x);
out:
    free(exec_arn);
    json_decref(out);
    pthread_mutex_unlock(&s->mu);
    return rc;
}
