/* engine — the interpreter: a PURE step function over one execution.
 *
 *   eng_step(exec, event) -> exec', history events, effects
 *
 * It never sleeps, never does I/O, never reads the clock and never draws
 * random numbers of its own: time comes in with each event and randomness
 * from the seed given at creation. Pass, Choice, Succeed and Fail advance
 * inside one call; Task and Wait states (and retry back-off, timeouts)
 * leave effects for the caller (invoke a task, arm a timer) and wait for
 * the matching event. */
#ifndef STEPD_ENGINE_H
#define STEPD_ENGINE_H

#include <stdint.h>

#include "asl/asl.h"

enum eng_type { ENG_STANDARD, ENG_EXPRESS };

enum eng_status { ENG_RUNNING, ENG_SUCCEEDED, ENG_FAILED, ENG_TIMED_OUT, ENG_ABORTED };

#define ENG_MAX_PAYLOAD 262144   /* 256 KiB: States.DataLimitExceeded */
#define ENG_MAX_EVENTS 25000     /* STANDARD history limit */

/* Who and where the execution is, for ARNs and the context object. All
 * strings are copied by eng_exec_new. NULL members take defaults (region
 * us-east-1, account 123456789012, machine "StateMachine", a fresh name). */
struct eng_config {
    const char *region;
    const char *account;
    const char *machine_name;
    const char *execution_name;
    const char *role_arn;
    int type;             /* enum eng_type */
    int record_history;   /* enum eng_history: build history events (GetExecutionHistory shape) */
    size_t max_payload;   /* bytes; 0 = AWS's 256 KiB (raise it only for benchmarks) */
    const char *execution_arn; /* NULL: derived from the names (an EXPRESS one draws a UUID) */
};

/* How history is recorded: not at all (ids are still counted), as JSON
 * values (eng_history), or as compact JSON text, one event per line
 * (eng_history_take_text: what a store writes, made without building the
 * values). */
enum eng_history { ENG_HISTORY_NONE, ENG_HISTORY_JSON, ENG_HISTORY_TEXT };

enum eng_effect_kind {
    ENG_EFF_INVOKE, /* run a task; answer with ENG_EV_TASK_SUCCEEDED/FAILED */
    ENG_EFF_TIMER,  /* fire ENG_EV_TIMER with this id at due_ns (stale ids are ignored) */
};

/* An effect is owned by the execution until the next eng_step; copy what
 * you keep. */
struct eng_effect {
    int kind;
    uint64_t id;           /* task id or timer id */
    int64_t due_ns;        /* TIMER */
    const char *state;     /* INVOKE: the Task state's name */
    const char *resource;  /* INVOKE: the Resource ARN */
    json_t *input;         /* INVOKE: the task's input (after Parameters) */
    const char *token;     /* INVOKE: task token (.waitForTaskToken), else NULL */
    long attempt;          /* INVOKE: 0 for the first invocation of this state */
};

enum eng_event_kind {
    ENG_EV_START,
    ENG_EV_TASK_SUCCEEDED,
    ENG_EV_TASK_FAILED,
    ENG_EV_TIMER,
    ENG_EV_HEARTBEAT,
    ENG_EV_STOP,
};

/* An event; borrowed by eng_step. now_ns is the time it happens. */
struct eng_event {
    int kind;
    uint64_t id;            /* task id (TASK_*, HEARTBEAT) or timer id (TIMER) */
    int64_t now_ns;
    json_t *output;         /* TASK_SUCCEEDED */
    const char *error;      /* TASK_FAILED, STOP */
    const char *cause;
};

typedef struct eng_exec eng_exec;

/* A new execution of machine m (borrowed: it must outlive the execution)
 * with input (borrowed; a reference is kept). seed drives UUIDs, task
 * tokens, MathRandom and jitter. Nothing happens until ENG_EV_START. */
eng_exec *eng_exec_new(const struct asl_machine *m, const struct eng_config *cfg, json_t *input,
                       uint64_t seed);
void eng_exec_free(eng_exec *x); /* NULL allowed */

/* Applies one event and advances everything that can move. Returns the
 * number of state transitions made. Effects produced are read with
 * eng_effects until the next call. */
long eng_step(eng_exec *x, const struct eng_event *ev);

/* The effects produced by the last eng_step (borrowed array). */
const struct eng_effect *eng_effects(const eng_exec *x, size_t *n);

int eng_status(const eng_exec *x);                /* enum eng_status */
const char *eng_status_name(int status);
json_t *eng_output(const eng_exec *x);            /* borrowed; NULL unless SUCCEEDED */
const char *eng_error(const eng_exec *x);         /* borrowed; may be NULL */
const char *eng_cause(const eng_exec *x);
json_t *eng_history(const eng_exec *x);           /* borrowed array of events */
long eng_event_count(const eng_exec *x);
/* Hands over the events recorded since the last take (a new reference to
 * an array, ascending ids) and starts a fresh array: a durable caller
 * writes them out and keeps no history in memory (nor in snapshots). */
json_t *eng_history_take(eng_exec *x);
/* Text history: hands over the events recorded since the last take as
 * compact JSON texts joined by (and ending with) newlines; *first_id is the
 * first one's id and *n their number. NULL (and *n == 0) when there are
 * none. The caller frees the text. */
char *eng_history_take_text(eng_exec *x, size_t *len, long *first_id, long *n);
/* Whether task id is still waiting for its result (a callback for a task
 * that was timed out, stopped or answered is stale). */
int eng_task_pending(const eng_exec *x, uint64_t task_id);
/* The time of the last event applied (ns since the epoch). */
int64_t eng_now(const eng_exec *x);
const char *eng_execution_arn(const eng_exec *x);

/* ------------------------------------------------------------ snapshots */

/* The whole execution between two steps as a JSON value (a new reference):
 * frames, variables, retry counters, pending tasks and timers, history.
 * This is what a durable store keeps. */
json_t *eng_snapshot(const eng_exec *x);

/* Rebuilds an execution of machine m (borrowed, the same definition the
 * snapshot was taken with) from snap (borrowed). NULL with err set when
 * the snapshot does not fit the machine. */
eng_exec *eng_restore(const struct asl_machine *m, json_t *snap, val_err *err);

/* Makes the effects still outstanding (tasks in flight, armed timers)
 * readable with eng_effects, so that after a restore the caller re-issues
 * them: a task is delivered at least once, a timer fires once. */
void eng_outstanding(eng_exec *x);

#endif
