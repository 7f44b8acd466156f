/* engine_int — the engine's internal types, shared by engine.c (the step
 * function) and snapshot.c (saving and restoring an execution). Nothing
 * outside src/engine includes this. */
#ifndef STEPD_ENGINE_INT_H
#define STEPD_ENGINE_INT_H

#include "engine/engine.h"

enum phase {
    PH_ENTER,     /* about to enter the current state */
    PH_TASK,      /* waiting for a task result */
    PH_WAIT,      /* Wait state: waiting for its timer */
    PH_RETRY,     /* waiting for a retry back-off timer */
    PH_KIDS,      /* Parallel/Map: waiting for children */
    PH_DONE,      /* finished (status set) */
};

enum timer_kind { TM_WAIT, TM_RETRY, TM_TASK_TIMEOUT, TM_HEARTBEAT, TM_EXEC_TIMEOUT };

struct frame {
    const struct asl_machine *m;
    struct frame *parent;
    size_t index;            /* branch / item index within the parent */
    int state;
    int phase;
    int queued;
    json_t *raw;             /* raw input of the current state */
    size_t raw_size;         /* upper bound of raw's serialized size */
    json_t *eff;             /* effective input (after InputPath; after Parameters but for Task/Map) */
    json_t *task_in;         /* Task: the input of the current attempt (after Parameters) */
    json_t *vars;            /* visible variables (object) or NULL */
    long entered_id;
    int64_t entered_ns;
    long last_id;
    long *retry_counts;
    long retry_total;
    uint64_t task_id;
    long attempt;
    char *token;
    uint64_t timer_id;
    uint64_t timeout_timer, heartbeat_timer;
    int64_t heartbeat_ns;
    /* Parallel / Map */
    struct frame **kids;
    size_t n_kids, next_kid, running, n_done, n_failed;
    json_t *results;
    json_t *items;
    long max_conc;
    double tol_count;    /* -1: none */
    double tol_pct;      /* -1: none */
    char *kid_error, *kid_cause;
    int from_kids;           /* the failure being handled came from a child */
    int silent;              /* a distributed Map's child execution: its events are its own */
    size_t n_pending;        /* live entries in exec->pend that point here */
    /* outcome */
    int status;
    json_t *output;
    char *error, *cause;
};

struct pending {
    uint64_t id;
    struct frame *f;
    int kind; /* 0 task, 1+ timer kinds (enum timer_kind + 1) */
    int64_t due_ns; /* timers: when it fires */
};

struct eng_exec {
    const struct asl_machine *m;
    int type;
    int record;
    char *region, *account, *machine_name, *exec_name, *role_arn;
    char *sm_arn, *exec_arn;
    json_t *input;
    json_t *ctx_execution, *ctx_machine;
    uint64_t rng;
    int64_t now;
    int64_t start_ns;
    long next_event_id;
    uint64_t next_id;
    json_t *history;
    int status;
    json_t *output;
    char *error, *cause;
    struct frame *root;
    struct frame **queue;
    size_t q_head, q_len, q_cap;
    struct pending *pend;
    size_t n_pend, cap_pend, dead_pend;
    struct eng_effect *effects;
    size_t n_eff, cap_eff;
    json_t *invocations; /* state name -> count of invocations (for attempt numbers) */
    long transitions;
    size_t max_payload;
    json_t *text_src, *text; /* the last value serialized for history, and its text */
#define ENG_RING 8
    json_t *ring[ENG_RING];  /* text history: string literals written verbatim */
    size_t ring_next;
    val_buf htext;           /* text history: events not taken yet, one per line */
    long htext_first, htext_n;
    int64_t ts_for;          /* text history: the time ts_text shows */
    char ts_text[40];
};

/* Adds a pending task or timer (ids increase, so the table stays sorted). */
void engp_pend_add(eng_exec *x, uint64_t id, struct frame *f, int kind, int64_t due_ns);

#endif
