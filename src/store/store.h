/* store — where durable state lives: state machines, executions (with the
 * engine's snapshot), history events, timers, task tokens and the
 * resources a deploy creates (functions, later tables). ONE
 * interface, a struct of function pointers, so that the embedded SQLite
 * backend (sqlite.c) and a later PostgreSQL one are interchangeable and no
 * caller ever sees SQL or a backend's types.
 *
 * Calling convention: every operation is s->ops->NAME(s, ...).
 *
 * Results (enum store_rc): 0 on success; -1 on failure with err filled
 * (kind VAL_ERR_STORE, name "StoreError", cause the backend's message) when
 * err is non-NULL; STORE_NOT_FOUND and STORE_EXISTS are answers, not
 * failures, and leave err untouched.
 *
 * Strings: every const char * parameter is borrowed for the call only.
 * Records filled by the store hold malloc'd strings owned by the caller and
 * freed with the matching *_clear / *_free function below.
 *
 * Times are nanoseconds since the Unix epoch (int64). JSON (definitions,
 * inputs, outputs, snapshots, history events) is stored as text: the store
 * never parses it.
 *
 * Transactions: outside begin/commit every write is its own transaction.
 * Between begin and commit (or rollback) every call joins one transaction;
 * this is the group commit of the service loop: the history and snapshots
 * of every execution that moved in one loop turn are written in ONE
 * transaction. Transactions do not nest.
 *
 * Threads: a store handle is used by one thread at a time. */
#ifndef STEPD_STORE_H
#define STEPD_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "json/val.h"

enum store_rc {
    STORE_ERROR = -1,
    STORE_OK = 0,
    STORE_NOT_FOUND = 1, /* no row with that key */
    STORE_EXISTS = 2,    /* a create met a row with the same key (ARN or name) */
};

typedef struct store store;

/* ---------------------------------------------------------------- records */

/* A state machine. */
struct store_machine {
    char *arn;
    char *name;
    char *definition;  /* the ASL text as given */
    char *type;        /* "STANDARD" or "EXPRESS" */
    char *role_arn;    /* may be NULL */
    int64_t created_ns;
    int64_t updated_ns; /* == created_ns until the first update */
    char *revision_id; /* changes on every update */
};

/* One execution. status is AWS's name: "RUNNING", "SUCCEEDED", "FAILED",
 * "TIMED_OUT", "ABORTED". input/output/snapshot are JSON text; output,
 * error, cause and snapshot may be NULL; stop_ns is 0 while running. */
struct store_exec {
    char *arn;
    char *machine_arn;
    char *name;
    char *status;
    char *input;
    char *output;
    char *error;
    char *cause;
    int64_t start_ns;
    int64_t stop_ns;
    char *snapshot;    /* eng_snapshot as JSON text */
    char *revision_id; /* the machine revision it runs (revision_get); may be NULL */
};

/* One history event: id is AWS's event id (1, 2, ... per execution). */
struct store_event {
    int64_t id;
    char *json; /* the whole event object as JSON text */
};

/* One armed timer. */
struct store_timer {
    char *exec_arn;
    uint64_t timer_id;
    int64_t due_ns;
};

/* Pages. next_token is NULL on the last page (malloc'd otherwise, opaque:
 * pass it back unchanged to read the next page). more says whether rows
 * follow the page (history). */
struct store_machine_list {
    struct store_machine *items;
    size_t n;
    char *next_token;
};
struct store_exec_list {
    struct store_exec *items;
    size_t n;
    char *next_token;
};
struct store_event_list {
    struct store_event *items;
    size_t n;
    int more;
};
struct store_timer_list {
    struct store_timer *items;
    size_t n;
};

/* One resource a deploy created, of the kind asked for (resource_list). */
struct store_resource {
    char *name;
    char *config;       /* JSON text, exactly as put */
    int64_t updated_ns; /* now_ns of its last put */
};
struct store_resource_list {
    struct store_resource *items;
    size_t n;
};

/* Names, in order (table_list). more says whether names follow the page. */
struct store_name_list {
    char **names;
    size_t n;
    int more;
};

/* One stored item (item_range): its key (the bytes item_put was given) and
 * its JSON text. */
struct store_item {
    unsigned char *key;
    size_t key_len;
    char *json;
};
struct store_item_list {
    struct store_item *items;
    size_t n;
};

/* One bound of an item range: key bytes (NULL = unbounded on that side)
 * and whether the bound itself is inside the range. */
struct store_bound {
    const void *key;
    size_t len;
    int inclusive;
};

/* Free what a record or page holds and zero it; NULL allowed. The struct
 * itself belongs to the caller (usually on its stack). */
void store_machine_clear(struct store_machine *m);
void store_exec_clear(struct store_exec *x);
void store_machine_list_free(struct store_machine_list *l);
void store_exec_list_free(struct store_exec_list *l);
void store_event_list_free(struct store_event_list *l);
void store_timer_list_free(struct store_timer_list *l);
void store_resource_list_free(struct store_resource_list *l);
void store_name_list_free(struct store_name_list *l);
void store_item_list_free(struct store_item_list *l);

/* ------------------------------------------------------------- interface */

struct store_ops {
    /* Closes the store and frees s. A transaction still open is rolled
     * back. s may be NULL. */
    void (*close)(store *s);

    /* ---- transactions (group commit) */

    /* Opens a write transaction that every following call joins. -1 if
     * one is already open or the backend refuses. */
    int (*begin)(store *s, val_err *err);
    /* Makes everything since begin durable, atomically. On -1 the
     * transaction has been rolled back: nothing since begin was kept. */
    int (*commit)(store *s, val_err *err);
    /* Forgets everything since begin. -1 if no transaction is open. */
    int (*rollback)(store *s, val_err *err);

    /* ---- state machines */

    /* Stores m (borrowed). m->arn, name, definition, type and created_ns
     * are required; role_arn may be NULL; updated_ns is set to created_ns;
     * a NULL revision_id makes the store draw a fresh UUID. Returns 0,
     * STORE_EXISTS when a machine with this ARN exists (nothing changed),
     * or -1. */
    int (*machine_create)(store *s, const struct store_machine *m, val_err *err);
    /* Fills *out (caller frees with store_machine_clear) with the machine
     * at arn. Returns 0, STORE_NOT_FOUND (*out zeroed) or -1. */
    int (*machine_get)(store *s, const char *arn, struct store_machine *out, val_err *err);
    /* Lists machines in creation order, at most limit (0 = 100) per page,
     * starting after token (NULL = from the first). The caller frees *out
     * with store_machine_list_free. Returns 0 or -1; a token this store did
     * not issue is -1 with err name "InvalidToken". */
    int (*machine_list)(store *s, const char *token, size_t limit,
                        struct store_machine_list *out, val_err *err);
    /* Changes the machine at arn: definition and role_arn when non-NULL
     * (NULL keeps the old value), updated_ns = now_ns, and a new revision
     * id drawn by the store, returned in *revision_id (malloc'd, caller
     * frees) when revision_id is non-NULL. Returns 0, STORE_NOT_FOUND or
     * -1. */
    int (*machine_update)(store *s, const char *arn, const char *definition, const char *role_arn,
                          int64_t now_ns, char **revision_id, val_err *err);
    /* Deletes the machine at arn. Its executions stay (AWS lets running
     * executions finish). Returns 0, STORE_NOT_FOUND or -1. */
    int (*machine_delete)(store *s, const char *arn, val_err *err);
    /* The definition of revision revision_id of the machine at arn (every
     * revision created or updated is kept, also after the machine is
     * deleted): *definition gets a malloc'd copy; *first (may be NULL) is 1
     * for the revision the machine was created with (AWS shows that one as
     * no revision id at all). Returns 0, STORE_NOT_FOUND or -1. */
    int (*revision_get)(store *s, const char *arn, const char *revision_id, char **definition,
                        int *first, val_err *err);

    /* ---- executions */

    /* Stores x (borrowed): arn, machine_arn, name, status, input and
     * start_ns are required; the others (revision_id too) may be NULL / 0. Returns 0,
     * STORE_EXISTS when the ARN (it holds the machine and the name) is taken
     * — nothing is changed and the caller compares inputs to answer as AWS
     * does (same input: the existing execution; else
     * ExecutionAlreadyExists) — or -1. */
    int (*exec_create)(store *s, const struct store_exec *x, val_err *err);
    /* Fills *out (caller frees with store_exec_clear) with every member of
     * the execution at arn, snapshot included. Returns 0, STORE_NOT_FOUND
     * or -1. */
    int (*exec_get)(store *s, const char *arn, struct store_exec *out, val_err *err);
    /* Writes the mutable members of the execution at x->arn: status,
     * output, error, cause, stop_ns and snapshot (NULL members are stored
     * as NULL). Returns 0, STORE_NOT_FOUND or -1. */
    int (*exec_update)(store *s, const struct store_exec *x, val_err *err);
    /* Lists the executions of machine_arn, newest first, whose status is
     * status (NULL = any), at most limit (0 = 100) per page, after token
     * (NULL = from the newest). Items hold arn, machine_arn, name, status,
     * start_ns and stop_ns; input, output, error, cause and snapshot are
     * NULL (a list must stay cheap). Caller frees with
     * store_exec_list_free. Returns 0 or -1 (a foreign token: -1, err name
     * "InvalidToken"). */
    int (*exec_list)(store *s, const char *machine_arn, const char *status, const char *token,
                     size_t limit, struct store_exec_list *out, val_err *err);
    /* Lists RUNNING executions of every machine for recovery, oldest first,
     * at most limit (0 = 100) per page, after token (NULL = first). Items
     * are complete, snapshot and input included. Caller frees with
     * store_exec_list_free. Returns 0 or -1. */
    int (*exec_list_running)(store *s, const char *token, size_t limit,
                             struct store_exec_list *out, val_err *err);

    /* ---- history events */

    /* Appends n events (borrowed) to the history of exec_arn. Ids must be
     * new for this execution: a repeated id is -1 (a committed transition
     * never runs twice, so a repeat is a bug the store refuses). Returns 0,
     * STORE_NOT_FOUND when the execution does not exist, or -1. n == 0 is
     * a no-op returning 0. */
    int (*history_append)(store *s, const char *exec_arn, const struct store_event *ev, size_t n,
                          val_err *err);
    /* The same for events already joined: text holds n compact JSON events
     * with ids first_id, first_id+1, ..., each followed by a newline (len
     * bytes; the form eng_history_take_text gives). No copy of the text is
     * made on the way. */
    int (*history_append_text)(store *s, const char *exec_arn, int64_t first_id, size_t n,
                               const char *text, size_t len, val_err *err);
    /* Reads at most limit (0 = 1000) events of exec_arn. Ascending: ids
     * greater than after_id (0 = from the first). reverse != 0: descending
     * ids smaller than after_id (0 = from the last). out->more tells
     * whether events follow the page. Caller frees with
     * store_event_list_free. Returns 0, STORE_NOT_FOUND or -1. */
    int (*history_page)(store *s, const char *exec_arn, int64_t after_id, size_t limit,
                        int reverse, struct store_event_list *out, val_err *err);
    /* Stores the number of events of exec_arn in *count. Returns 0,
     * STORE_NOT_FOUND or -1. */
    int (*history_count)(store *s, const char *exec_arn, int64_t *count, val_err *err);

    /* ---- timers */

    /* Arms timer (exec_arn, timer_id) to fire at due_ns; arming an armed
     * timer moves it. Returns 0 or -1. */
    int (*timer_arm)(store *s, const char *exec_arn, uint64_t timer_id, int64_t due_ns,
                     val_err *err);
    /* Disarms a timer. Returns 0, STORE_NOT_FOUND or -1. */
    int (*timer_cancel)(store *s, const char *exec_arn, uint64_t timer_id, val_err *err);
    /* Disarms every timer of exec_arn (it ended). Returns 0 or -1. */
    int (*timer_clear)(store *s, const char *exec_arn, val_err *err);
    /* Lists timers with due_ns < before_ns, earliest first, at most limit
     * (0 = 1000). They stay armed until cancelled. Caller frees with
     * store_timer_list_free. Returns 0 or -1. */
    int (*timer_due)(store *s, int64_t before_ns, size_t limit, struct store_timer_list *out,
                     val_err *err);

    /* ---- task tokens (.waitForTaskToken) */

    /* Maps token to (exec_arn, task_id). Returns 0, STORE_EXISTS when the
     * token is already mapped, or -1. */
    int (*token_put)(store *s, const char *token, const char *exec_arn, uint64_t task_id,
                     val_err *err);
    /* Looks token up: *exec_arn gets a malloc'd copy (caller frees; the
     * pointer may be NULL to skip it) and *task_id the task (may be NULL).
     * Returns 0, STORE_NOT_FOUND or -1. */
    int (*token_get)(store *s, const char *token, char **exec_arn, uint64_t *task_id,
                     val_err *err);
    /* Forgets token. Returns 0, STORE_NOT_FOUND or -1. */
    int (*token_delete)(store *s, const char *token, val_err *err);

    /* ---- resources (what a deploy creates: kind "function", later "table")
     *
     * A resource is a (kind, name) key and its configuration, JSON text the
     * store keeps as given and never parses. kind and name are any text:
     * the store gives them no meaning, and one name may exist under two
     * kinds. NULL for any of them is -1 with err set. */

    /* Stores config under (kind, name), replacing the config there, with
     * updated_ns = now_ns. Returns 0 or -1. */
    int (*resource_put)(store *s, const char *kind, const char *name, const char *config,
                        int64_t now_ns, val_err *err);
    /* The config of (kind, name): *config gets a malloc'd copy (caller
     * frees; a NULL config is -1). Returns 0, STORE_NOT_FOUND (*config
     * NULL) or -1 (*config NULL). */
    int (*resource_get)(store *s, const char *kind, const char *name, char **config,
                        val_err *err);
    /* Fills *out (caller frees with store_resource_list_free; a NULL out
     * is -1) with every resource of kind, in name order (bytewise); an
     * unknown kind is an empty list. Returns 0 or -1 (*out empty). */
    int (*resource_list)(store *s, const char *kind, struct store_resource_list *out,
                         val_err *err);
    /* Forgets (kind, name). Returns 0, STORE_NOT_FOUND or -1. */
    int (*resource_delete)(store *s, const char *kind, const char *name, val_err *err);

    /* ---- tables (src/ddb): a table is a name, a description (JSON text
     * the store keeps as given) and items. An item is an opaque key (bytes
     * compared with memcmp, shorter first on a common prefix: src/ddb
     * encodes keys so that this is DynamoDB's order) and its JSON text.
     * Item writes join an open transaction like every other call. */

    /* Creates table name with description desc. Returns 0, STORE_EXISTS
     * (nothing changed) or -1. */
    int (*table_create)(store *s, const char *name, const char *desc, int64_t now_ns, val_err *err);
    /* *desc gets a malloc'd copy of the description (caller frees).
     * Returns 0, STORE_NOT_FOUND (*desc NULL) or -1. */
    int (*table_get)(store *s, const char *name, char **desc, val_err *err);
    /* Replaces the description. Returns 0, STORE_NOT_FOUND or -1. */
    int (*table_update)(store *s, const char *name, const char *desc, val_err *err);
    /* Deletes the table and every item in it. Returns 0, STORE_NOT_FOUND
     * or -1. */
    int (*table_delete)(store *s, const char *name, val_err *err);
    /* Table names in bytewise order, after after (NULL = from the first),
     * at most limit (0 = 100). Caller frees with store_name_list_free.
     * Returns 0 or -1. */
    int (*table_list)(store *s, const char *after, size_t limit, struct store_name_list *out,
                      val_err *err);
    /* The number of items and the sum of their sizes (as item_put gave
     * them). Returns 0, STORE_NOT_FOUND or -1. */
    int (*table_stats)(store *s, const char *name, int64_t *count, int64_t *bytes, val_err *err);

    /* *json gets a malloc'd copy of the item at key (caller frees).
     * Returns 0, STORE_NOT_FOUND (*json NULL) or -1. */
    int (*item_get)(store *s, const char *table, const void *key, size_t key_len, char **json,
                    val_err *err);
    /* Stores json (len bytes) at key, replacing what was there; size is
     * the item's DynamoDB size, summed by table_stats. Returns 0,
     * STORE_NOT_FOUND when the table does not exist, or -1. */
    int (*item_put)(store *s, const char *table, const void *key, size_t key_len, const char *json,
                    size_t len, int64_t size, val_err *err);
    /* Deletes the item at key. Returns 0, STORE_NOT_FOUND (no such item)
     * or -1. */
    int (*item_delete)(store *s, const char *table, const void *key, size_t key_len, val_err *err);
    /* The items of table whose keys lie between lo and hi (either may
     * have a NULL key: unbounded), in key order (descending when reverse),
     * at most limit (0 = 1000). Caller frees with store_item_list_free.
     * Returns 0 or -1 (an unknown table is an empty list). */
    int (*item_range)(store *s, const char *table, struct store_bound lo, struct store_bound hi,
                      int reverse, size_t limit, struct store_item_list *out, val_err *err);
};

/* What every backend's handle starts with: backends embed it as their
 * first member. */
struct store {
    const struct store_ops *ops;
};

/* Closes s (NULL allowed): s->ops->close(s). */
void store_close(store *s);

/* ---------------------------------------------------------------- backends */

/* Opens (creating if missing) the SQLite store at path, a file name or
 * ":memory:". The parent directory of a file is created when missing
 * (./.stepd/state.db works on a fresh checkout). The schema is brought to
 * the current version by forward migrations, each in its own transaction.
 * Returns a new store (free with store_close) or NULL with err set (a file
 * that is not a database, or one written by a newer stepd, is refused). */
store *store_sqlite_open(const char *path, val_err *err);

/* The schema version this build writes and the version of an open SQLite
 * store (for tests and `stepd serve` diagnostics); -1 on error. */
#define STORE_SCHEMA_VERSION 4
int store_sqlite_schema_version(store *s);

#endif
