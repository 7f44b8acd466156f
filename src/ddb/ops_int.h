/* ops_int — what the DynamoDB operations' files (ops.c: tables, items.c:
 * items) share. Private to src/ddb. */
#ifndef STEPD_DDB_OPS_INT_H
#define STEPD_DDB_OPS_INT_H

#include <stdarg.h>

#include "ddb/ops.h"

/* A write's transaction (see ddb_env.in_tx): begin, commit and undo
 * (roll back, for a failure already in err) do their work when the call
 * owns its transaction, and nothing when it joins the caller's. begin and
 * commit return 0, or -1 with err an InternalServerError. */
int ddb_tx_begin(store *st, const struct ddb_env *env, val_err *err);
int ddb_tx_commit(store *st, const struct ddb_env *env, val_err *err);
void ddb_tx_undo(store *st, const struct ddb_env *env);

/* err = ValidationException with a printf-style message. */
void ddb_invalid(val_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A string member of o, NULL when absent or not a string. */
const char *ddb_str(json_t *o, const char *k);
/* Turns a store failure in err into InternalServerError; returns -1. */
int ddb_store_failed(val_err *err);
/* AWS's TableName rule (3-255 of [a-zA-Z0-9_.-]), member names the
 * request member in the message. 0 or -1 with err set. */
int ddb_table_name_ok(const char *name, const char *member, val_err *err);
/* The stored description of a table (a new reference in *desc): 0, or -1
 * with ResourceNotFoundException (describe_msg: DescribeTable's "Table: X
 * not found" text) or a store failure. */
int ddb_table_load(store *st, const char *name, int describe_msg, json_t **desc, val_err *err);
/* The type ('S', 'N', 'B') the definitions give an attribute, 0 if none. */
char ddb_attr_type(json_t *defs, const char *name);

/* ------------------------------------------------------------ items */

#include "ddb/expr.h"

/* A key attribute: its name (borrowed from the description) and type
 * ('S', 'N' or 'B'); name NULL when there is none (no sort key). */
struct ddb_keydef {
    const char *name;
    char type;
};

enum ddb_proj { DDB_PROJ_ALL, DDB_PROJ_KEYS_ONLY, DDB_PROJ_INCLUDE };

/* A secondary index of a table. */
struct ddb_index {
    const char *name;
    int global;        /* GSI (else LSI) */
    json_t *key_schema; /* borrowed from the description */
    struct ddb_keydef pk, sk;
    enum ddb_proj proj;
    json_t *nonkey; /* INCLUDE's NonKeyAttributes: array of strings (borrowed) */
};

/* A table's description, parsed once and shared by every call that
 * uses it (ddb_table_open); read-only. */
struct ddb_table {
    int refs; /* under the cache's lock */
    char *name;
    char *text; /* the stored description it was parsed from */
    json_t *desc;
    json_t *key_schema; /* borrowed from desc */
    struct ddb_keydef pk, sk;
    size_t nix;
    struct ddb_index *ix;
};

/* The table called name: *out is shared (release with ddb_table_close).
 * 0, or -1 with ResourceNotFoundException ("Requested resource not
 * found") or a store failure. The description is read on every call and
 * reparsed only when its text changed, so no invalidation is needed. */
int ddb_table_open(store *st, const char *name, struct ddb_table **out, val_err *err);
void ddb_table_close(struct ddb_table *t); /* NULL allowed */
/* The index called name of t, or NULL. */
const struct ddb_index *ddb_table_index(const struct ddb_table *t, const char *name);

enum ddb_key_kind {
    DDB_KEY_ITEM, /* an Item: every key attribute present (other attributes allowed) */
    DDB_KEY_KEY,  /* a Key: exactly the key attributes */
};
/* Appends the store key of obj (an item or a Key, canonical) to b: the
 * partition key's encoding, then the sort key's. -1 with DynamoDB's
 * ValidationException texts ("Missing the key X in the item", "Type
 * mismatch for key ...", "The provided key element does not match the
 * schema", empty strings, key sizes). */
int ddb_key_encode(const struct ddb_table *t, json_t *obj, enum ddb_key_kind kind, val_buf *b,
                   val_err *err);
/* Checks that an item about to be written has index key attributes of
 * the types the indexes define (absent is fine: the index is sparse). */
int ddb_index_keys_ok(const struct ddb_table *t, json_t *item, val_err *err);
/* A new object with the attributes name (borrowed from the table) of
 * item: the key of an item. Values shared. */
json_t *ddb_key_of(const struct ddb_table *t, const struct ddb_index *ix, json_t *item);

/* The expressions of one request (or one element of a batch). Members
 * not asked for or absent are NULL. */
struct ddb_exprs {
    ddb_expr_ctx *ctx;
    ddb_expr *cond, *update, *proj, *filter, *keycond;
    json_t *attrs; /* AttributesToGet (borrowed from the request) */
};
enum {
    DDB_X_COND = 1,
    DDB_X_UPDATE = 2,
    DDB_X_PROJ = 4,
    DDB_X_FILTER = 8,
    DDB_X_KEYCOND = 16,
};
/* Parses the expression members of req that allowed names (DDB_X_*),
 * with its ExpressionAttributeNames/Values, and checks that every
 * placeholder was used. 0, or -1 with err (x is then freed). */
int ddb_exprs_parse(json_t *req, unsigned allowed, struct ddb_exprs *x, val_err *err);
void ddb_exprs_free(struct ddb_exprs *x);
/* item (borrowed) as the request's projection shows it: a new reference
 * (item itself when there is no projection). */
json_t *ddb_exprs_project(const struct ddb_exprs *x, json_t *item);

/* The item at key (b) of table: *item a new reference, or NULL when there
 * is none. 0 or -1 (store failure). */
int ddb_item_load(store *st, const char *table, const val_buf *key, json_t **item, val_err *err);
/* Writes item (canonical, borrowed) at key after the 400 KB check
 * (too_big: the message). 0 or -1. */
int ddb_item_save(store *st, const char *table, const val_buf *key, json_t *item, const char *too_big,
                  val_err *err);
/* err = ConditionalCheckFailedException; *extra gets {"Item": old} when
 * want_old (ReturnValuesOnConditionCheckFailure ALL_OLD) and old exists.
 * Returns -1. */
int ddb_cond_failed(val_err *err, json_t **extra, json_t *old, int want_old);
/* Reads ReturnValuesOnConditionCheckFailure: 1 for ALL_OLD, 0 for NONE
 * or absent, -1 with err for anything else. */
int ddb_rv_on_fail(json_t *req, val_err *err);
/* The boolean member k of req: 0 or 1 (dflt when absent or null), -1
 * with a ValidationException when it is not a boolean (member: its name
 * in the message, e.g. "consistentRead"). */
int ddb_bool(json_t *req, const char *k, const char *member, int dflt, val_err *err);
/* Refuses the legacy (pre-expression) parameters of req with a clear
 * ValidationException: -1; 0 when there is none. */
int ddb_no_legacy(json_t *req, val_err *err);

/* The item an UpdateItem writes: a copy of old (NULL: a new item made of
 * key) with update (NULL: none) applied, index key types checked. A new
 * reference, or NULL with err. */
json_t *ddb_update_new(const struct ddb_table *t, const ddb_expr *update, json_t *key, json_t *old,
                       val_err *err);

/* Adds ConsumedCapacity to out when req asks for it (ReturnConsumedCapacity
 * TOTAL or INDEXES; NONE or absent adds nothing): bytes read or written
 * in DynamoDB's units, a write 1 per KB, a read 0.5 per 4 KB (1 when
 * consistent). Nothing is throttled; clients that log capacity get a
 * plausible figure. */
void ddb_consumed(json_t *out, json_t *req, const char *table, size_t bytes, int write);

/* Query and Scan (items_query.c); the batch and transaction calls
 * (items_batch.c). */
json_t *ddb_op_query(store *st, json_t *req, int scan, val_err *err);
json_t *ddb_op_batch_write(store *st, json_t *req, const struct ddb_env *env, val_err *err);
json_t *ddb_op_batch_get(store *st, json_t *req, val_err *err);
json_t *ddb_op_transact_write(store *st, json_t *req, const struct ddb_env *env, json_t **extra, val_err *err);
json_t *ddb_op_transact_get(store *st, json_t *req, val_err *err);

/* The item operations (items.c): the answer, or NULL with err set; NULL
 * with err unset when op is not one of them. */
json_t *ddb_items_call(store *st, const char *op, json_t *req, const struct ddb_env *env, json_t **extra,
                       val_err *err);

#endif
