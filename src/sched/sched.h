/* sched — the service loop of `stepd serve`: it joins the pure engine to the
 * store. Executions that can move sit in a run queue; Wait states, retry
 * back-off and timeouts sit in a timer heap; each loop turn steps every
 * execution that can move, then commits the history events and snapshots
 * of all of them in ONE store transaction (group commit), and only then
 * runs their effects. So a committed transition never runs twice, and an
 * execution whose StartExecution was answered is never lost.
 *
 * A sleeping STANDARD execution costs a timer-heap entry and a small
 * record, not its engine state: executions that have nothing to do are
 * evicted from memory and restored from their snapshot when an event
 * arrives for them. EXPRESS executions live in memory only; their final
 * result is recorded when they end.
 *
 * Recovery (sched_new): every RUNNING execution in the store is restored
 * and its outstanding effects re-issued: timers re-armed (they fire at
 * their original due time), tasks delivered again (at least once).
 *
 * Threads: every function here is thread-safe; they serialize on one lock
 * with the loop thread. Results are AWS's: errors come back in a val_err
 * whose name is the AWS error code (StateMachineDoesNotExist, ...) and
 * whose cause is the message; STORE errors have kind VAL_ERR_STORE.
 * Nothing in here knows about HTTP. */
#ifndef STEPD_SCHED_H
#define STEPD_SCHED_H

#include <stdint.h>

#include "fn/fn.h"
#include "json/val.h"
#include "store/store.h"

typedef struct sched sched;

struct sched_opts {
    fn_pool *fn;         /* runs Lambda tasks (borrowed; free it after sched_stop). NULL: a
                            Lambda task fails with Lambda.ResourceNotFoundException */
    const char *region;  /* default us-east-1 */
    const char *account; /* default 123456789012 */
    size_t max_loaded;   /* idle executions kept in memory before evicting (default 4096) */
    int quiet;           /* no notices on stderr */
};

/* Opens the scheduler over st (borrowed: close it after sched_free) and
 * recovers what st holds. NULL with err set when recovery cannot read the
 * store. The loop does not run until sched_start. */
sched *sched_new(store *st, const struct sched_opts *o, val_err *err);
/* Starts the loop thread. -1 with err set when the thread cannot start. */
int sched_start(sched *s, val_err *err);
/* Graceful stop: the loop finishes its turn and commits; executions
 * waiting for StartSyncExecution answers get ServiceUnavailable; the thread
 * is joined. Running STANDARD executions stay RUNNING in the store and
 * continue after the next start. Safe to call twice. */
void sched_stop(sched *s);
void sched_free(sched *s); /* stops first when needed; NULL allowed */

/* Counters for `serve` diagnostics and benches. */
struct sched_stats {
    long loaded, known, timers, recovered;
    long turns, commits, transitions;
    int64_t step_ns, commit_ns; /* time spent stepping engines / in store writes and commits */
    long ddb_writes, ddb_commits; /* DynamoDB calls that joined a group commit, and those commits */
};
void sched_stats_get(sched *s, struct sched_stats *out);

/* The store, for reads (describe, list, history), under the lock:
 * sched_lock returns it; call sched_unlock when done. DynamoDB writes
 * waiting for their group commit (sched_ddb) are committed first, so what
 * the caller writes is never answered before it is durable. */
store *sched_lock(sched *s);
void sched_unlock(sched *s);

/* ---------------------------------------------------------------- tables */

/* The answer to a DynamoDB call: answer (the API's answer) or err (its
 * error; extra: members to add to the error body, or NULL), all borrowed
 * for the call. */
typedef void (*sched_ddb_fn)(void *ud, json_t *answer, json_t *extra, const val_err *err);

/* Told, under the lock and in the caller's thread, that a call will be
 * answered later (so that it can park its request): returns 1, or 0 when
 * it cannot wait (the transaction is then committed at once). */
typedef int (*sched_ddb_wait_fn)(void *ud);

/* Runs DynamoDB operation op ("PutItem", ...) with request req (borrowed)
 * on the store, under the lock. Writes are group-committed: they join one
 * open store transaction, which the loop commits as soon as it runs
 * (together with its own turn's writes when one is due), and their answers
 * wait for that commit: a failed commit answers them InternalServerError.
 * A read made while writes wait sees them, so it waits too; any other read
 * is answered at once. done is called exactly once: before sched_ddb
 * returns (returns 0), or later from the loop thread, under the lock
 * (returns 1), after wait (NULL: the caller can always wait) said yes. */
int sched_ddb(sched *s, const char *op, json_t *req, sched_ddb_fn done, sched_ddb_wait_fn wait, void *ud);

/* The same, answered before it returns: the call runs on its own store
 * transaction (waiting writes are committed first). Returns the answer (a
 * new reference) or NULL with err (*extra, when extra is non-NULL, as
 * ddb_call gives it). For deploys and one-off reads, not the hot path. */
json_t *sched_ddb_now(sched *s, const char *op, json_t *req, json_t **extra, val_err *err);

/* The region and account ARNs are made with. */
const char *sched_region(sched *s);
const char *sched_account(sched *s);

/* The current time, ns since the epoch (the clock the loop uses). */
int64_t sched_now(void);

/* ---------------------------------------------------------------- machines */

/* Creates a machine. type is "STANDARD" or "EXPRESS". The definition is
 * validated (InvalidDefinition with AWS's message). A machine of the same
 * name with the same definition, type and role is returned as is (AWS's
 * idempotency); otherwise StateMachineAlreadyExists. *out is filled
 * (store_machine_clear). */
int sched_machine_create(sched *s, const char *name, const char *definition, const char *type,
                         const char *role_arn, struct store_machine *out, val_err *err);
/* Updates definition and/or role (NULL: unchanged); running executions
 * keep the revision they started with. *out gets the updated machine. */
int sched_machine_update(sched *s, const char *arn, const char *definition, const char *role_arn,
                         struct store_machine *out, val_err *err);
int sched_machine_delete(sched *s, const char *arn, val_err *err);

/* -------------------------------------------------------------- executions */

/* Called once when a StartSyncExecution's execution ends, under the
 * scheduler's lock (do not call back into sched): x holds the result
 * (arn, machine_arn, name, status, input, output, error, cause, dates). x
 * is NULL when the server stops first. */
typedef void (*sched_done_fn)(void *ud, const struct store_exec *x);

/* Called once when a STANDARD StartExecution is accepted: its row has been
 * committed, with the first steps of its execution, in the loop's group
 * commit. x holds arn, name and start_ns; x is NULL and err set when it
 * could not be stored (or the server stops first). Called under the
 * scheduler's lock (do not call back into sched). */
typedef void (*sched_started_fn)(void *ud, const struct store_exec *x, const val_err *err);

/* Starts an execution of the machine at machine_arn. name NULL draws a
 * UUID; input NULL is "{}" (it must be JSON text: else
 * InvalidExecutionInput). A repeated name with the same input while the
 * first is RUNNING is the first (AWS's idempotency), any other reuse
 * ExecutionAlreadyExists.
 *
 * Returns -1 with err set; 0 when *out (arn, name, start_ns; free with
 * store_exec_clear) is the answer now; 1 when the answer comes later
 * through started (STANDARD with started non-NULL: the row is committed by
 * the loop's next group commit). With started NULL a STANDARD row is
 * committed on its own before this returns (0).
 *
 * sync_done non-NULL (StartSyncExecution, EXPRESS only) is called when the
 * execution ends. */
int sched_exec_start(sched *s, const char *machine_arn, const char *name, const char *input,
                     sched_started_fn started, sched_done_fn sync_done, void *ud, struct store_exec *out,
                     val_err *err);

/* Stops a RUNNING execution (status ABORTED) and commits before
 * returning; *stop_ns gets its stop time. An execution that has already
 * ended is left as it is and its stop time returned. */
int sched_exec_stop(sched *s, const char *arn, const char *error, const char *cause,
                    int64_t *stop_ns, val_err *err);

/* .waitForTaskToken callbacks, committed before they return. Errors:
 * InvalidToken (unknown token), TaskTimedOut (the task is no longer
 * waiting: timed out, answered, or its execution ended), InvalidOutput
 * (output not JSON). */
enum sched_callback { SCHED_TASK_SUCCESS, SCHED_TASK_FAILURE, SCHED_TASK_HEARTBEAT };
int sched_task_callback(sched *s, const char *token, int kind, const char *output,
                        const char *error, const char *cause, val_err *err);

#endif
