/* items_batch — BatchWriteItem, BatchGetItem, TransactWriteItems and
 * TransactGetItems. Every element is checked before anything is written,
 * so a bad request changes nothing; the writes of one call are one store
 * transaction (a batch is all-or-nothing here, which DynamoDB allows:
 * UnprocessedItems is always empty). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddb/av.h"
#include "ddb/expr.h"
#include "ddb/ops_int.h"

#define BATCH_GET_BYTES (16 * 1024 * 1024) /* BatchGetItem answers at most 16 MB */

/* The tables one call names, each opened once. */
struct tables {
    struct ddb_table **t;
    size_t n, cap;
};

static struct ddb_table *tables_open(store *st, struct tables *ts, const char *name, val_err *err)
{
    for (size_t i = 0; name && i < ts->n; i++)
        if (strcmp(ts->t[i]->name, name) == 0)
            return ts->t[i];
    struct ddb_table *t;
    if (ddb_table_open(st, name, &t, err) < 0)
        return NULL;
    if (ts->n == ts->cap) {
        ts->cap = ts->cap ? ts->cap * 2 : 4;
        ts->t = realloc(ts->t, ts->cap * sizeof *ts->t);
        if (!ts->t)
            abort();
    }
    ts->t[ts->n++] = t;
    return t;
}

static void tables_close(struct tables *ts)
{
    for (size_t i = 0; i < ts->n; i++)
        ddb_table_close(ts->t[i]);
    free(ts->t);
}

/* One element of a batch or transaction. */
struct op {
    enum { OP_PUT, OP_DELETE, OP_UPDATE, OP_CHECK, OP_GET } kind;
    struct ddb_table *t; /* owned by the call's tables */
    struct ddb_exprs x;
    json_t *item; /* Put: the canonical item; else the canonical Key */
    val_buf key;
    int want_old; /* ReturnValuesOnConditionCheckFailure ALL_OLD */
};

static void ops_free(struct op *ops, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        ddb_exprs_free(&ops[i].x);
        json_decref(ops[i].item);
        val_buf_free(&ops[i].key);
    }
    free(ops);
}

/* 1 when two elements name the same item. */
static int same_item(const struct op *a, const struct op *b)
{
    return a->t == b->t && a->key.len == b->key.len && memcmp(a->key.p, b->key.p, a->key.len) == 0;
}

/* Reads given, an item (Put) or a Key (others), into op. */
static int op_key_of(struct op *op, json_t *given, val_err *err)
{
    int put = op->kind == OP_PUT;
    if (!json_is_object(given)) {
        ddb_invalid(err, "1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must "
                         "not be null",
                    put ? "item" : "key");
        return -1;
    }
    op->item = ddb_item_canon(given, err);
    if (!op->item || ddb_key_encode(op->t, op->item, put ? DDB_KEY_ITEM : DDB_KEY_KEY, &op->key, err) < 0)
        return -1;
    if (put && ddb_index_keys_ok(op->t, op->item, err) < 0)
        return -1;
    if (put && ddb_item_size(op->item) > DDB_MAX_ITEM) {
        ddb_invalid(err, "Item size has exceeded the maximum allowed size");
        return -1;
    }
    return 0;
}

/* The same for the Item or Key member of o. */
static int op_key(struct op *op, json_t *o, val_err *err)
{
    return op_key_of(op, json_object_get(o, op->kind == OP_PUT ? "Item" : "Key"), err);
}

/* Undoes the transaction after a failure already in err (nothing, when
 * it is the caller's: ddb_env.in_tx). */
static int undo(store *st, const struct ddb_env *env)
{
    ddb_tx_undo(st, env);
    return -1;
}

/* Runs the writes of ops[0..n) (all checked; news: UpdateItem's new
 * items) inside the open transaction, and commits; rolls back on -1. */
static int write_all(store *st, const struct ddb_env *env, struct op *ops, size_t n, json_t **news, val_err *err)
{
    for (size_t i = 0; i < n; i++) {
        struct op *op = &ops[i];
        int r = 0;
        if (op->kind == OP_PUT)
            r = ddb_item_save(st, op->t->name, &op->key, op->item, "Item size has exceeded the maximum allowed size",
                              err);
        else if (op->kind == OP_UPDATE)
            r = ddb_item_save(st, op->t->name, &op->key, news[i],
                              "Item size to update has exceeded the maximum allowed size", err);
        else if (op->kind == OP_DELETE) {
            int d = st->ops->item_delete(st, op->t->name, op->key.p, op->key.len, err);
            r = d == STORE_OK || d == STORE_NOT_FOUND ? 0 : ddb_store_failed(err);
        }
        if (r < 0)
            return undo(st, env);
    }
    return ddb_tx_commit(st, env, err);
}

/* ------------------------------------------------------- BatchWriteItem */

json_t *ddb_op_batch_write(store *st, json_t *req, const struct ddb_env *env, val_err *err)
{
    json_t *ri = json_object_get(req, "RequestItems");
    if (!json_is_object(ri) || json_object_size(ri) == 0) {
        ddb_invalid(err, "1 validation error detected: Value '{}' at 'requestItems' failed to satisfy constraint: "
                         "Member must have length greater than or equal to 1");
        return NULL;
    }
    size_t total = 0;
    const char *name;
    json_t *list;
    json_object_foreach(ri, name, list) {
        size_t k = json_array_size(list);
        if (!json_is_array(list) || k < 1 || k > 25) {
            ddb_invalid(err, "1 validation error detected: Value at 'requestItems' failed to satisfy constraint: Map "
                             "value must satisfy constraint: [Member must have length less than or equal to 25, "
                             "Member must have length greater than or equal to 1]");
            return NULL;
        }
        total += k;
    }
    if (total > 25) {
        ddb_invalid(err, "Too many items requested for the BatchWriteItem call");
        return NULL;
    }
    struct tables ts = {0};
    struct op *ops = calloc(total, sizeof *ops);
    if (!ops)
        abort();
    size_t n = 0;
    json_t *out = NULL;
    json_object_foreach(ri, name, list) {
        struct ddb_table *t = tables_open(st, &ts, name, err);
        if (!t)
            goto done;
        size_t i;
        json_t *w;
        json_array_foreach(list, i, w) {
            json_t *put = json_object_get(w, "PutRequest"), *del = json_object_get(w, "DeleteRequest");
            if (!json_is_object(w) || !put == !del || json_object_size(w) != 1) {
                ddb_invalid(err, "One or more parameter values were invalid: a WriteRequest must hold exactly one of "
                                 "PutRequest and DeleteRequest");
                goto done;
            }
            struct op *op = &ops[n++];
            op->kind = put ? OP_PUT : OP_DELETE;
            op->t = t;
            if (op_key(op, put ? put : del, err) < 0)
                goto done;
            for (size_t j = 0; j + 1 < n; j++)
                if (same_item(&ops[j], op)) {
                    ddb_invalid(err, "Provided list of item keys contains duplicates");
                    goto done;
                }
        }
    }
    if (ddb_tx_begin(st, env, err) < 0 || write_all(st, env, ops, n, NULL, err) < 0)
        goto done;
    out = json_object();
    val_obj_set_take(out, "UnprocessedItems", json_object());
done:
    ops_free(ops, n);
    tables_close(&ts);
    return out;
}

/* --------------------------------------------------------- BatchGetItem */

json_t *ddb_op_batch_get(store *st, json_t *req, val_err *err)
{
    json_t *ri = json_object_get(req, "RequestItems");
    if (!json_is_object(ri) || json_object_size(ri) == 0) {
        ddb_invalid(err, "1 validation error detected: Value '{}' at 'requestItems' failed to satisfy constraint: "
                         "Member must have length greater than or equal to 1");
        return NULL;
    }
    size_t total = 0;
    const char *name;
    json_t *ka;
    json_object_foreach(ri, name, ka) {
        json_t *keys = json_object_get(ka, "Keys");
        size_t k = json_array_size(keys);
        if (!json_is_array(keys) || k < 1 || k > 100) {
            ddb_invalid(err, "1 validation error detected: Value at 'requestItems.%s.member.keys' failed to satisfy "
                             "constraint: Member must have length %s",
                        name, k ? "less than or equal to 100" : "greater than or equal to 1");
            return NULL;
        }
        total += k;
    }
    if (total > 100) {
        ddb_invalid(err, "Too many items requested for the BatchGetItem call");
        return NULL;
    }
    struct tables ts = {0};
    struct op *ops = calloc(total, sizeof *ops);
    size_t ntab = json_object_size(ri), nx = 0;
    struct ddb_exprs *xs = calloc(ntab, sizeof *xs); /* per table, in RequestItems' order */
    size_t *xof = calloc(total, sizeof *xof);         /* each key's table's expressions */
    if (!ops || !xs || !xof)
        abort();
    size_t n = 0;
    json_t *out = NULL, *resp = json_object(), *unproc = json_object();
    /* check everything first */
    json_object_foreach(ri, name, ka) {
        struct ddb_table *t = tables_open(st, &ts, name, err);
        if (!t || ddb_no_legacy(ka, err) < 0 || ddb_exprs_parse(ka, DDB_X_PROJ, &xs[nx], err) < 0)
            goto done;
        nx++;
        size_t i;
        json_t *k;
        json_array_foreach(json_object_get(ka, "Keys"), i, k) {
            struct op *op = &ops[n];
            xof[n++] = nx - 1;
            op->kind = OP_GET;
            op->t = t;
            if (op_key_of(op, k, err) < 0)
                goto done;
            for (size_t j = 0; j + 1 < n; j++)
                if (same_item(&ops[j], op)) {
                    ddb_invalid(err, "Provided list of item keys contains duplicates");
                    goto done;
                }
        }
    }
    /* then read, up to 16 MB; the rest is UnprocessedKeys */
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        struct op *op = &ops[i];
        json_t *list = json_object_get(resp, op->t->name);
        if (!list) {
            list = json_array();
            val_obj_set_take(resp, op->t->name, list);
        }
        if (bytes >= BATCH_GET_BYTES) {
            json_t *u = json_object_get(unproc, op->t->name);
            if (!u) {
                u = json_deep_copy(json_object_get(ri, op->t->name));
                val_obj_set_take(u, "Keys", json_array());
                val_obj_set_take(unproc, op->t->name, u);
            }
            json_array_append(json_object_get(u, "Keys"), op->item);
            continue;
        }
        json_t *item;
        if (ddb_item_load(st, op->t->name, &op->key, &item, err) < 0)
            goto done;
        if (item) {
            bytes += ddb_item_size(item);
            val_arr_append_take(list, ddb_exprs_project(&xs[xof[i]], item));
            json_decref(item);
        }
    }
    out = json_object();
    val_obj_set_take(out, "Responses", json_incref(resp));
    val_obj_set_take(out, "UnprocessedKeys", json_incref(unproc));
done:
    json_decref(resp);
    json_decref(unproc);
    for (size_t i = 0; i < nx; i++)
        ddb_exprs_free(&xs[i]);
    free(xs);
    free(xof);
    ops_free(ops, n);
    tables_close(&ts);
    return out;
}

/* --------------------------------------------------- TransactWriteItems */

static int transact_items(json_t *req, val_err *err)
{
    json_t *ti = json_object_get(req, "TransactItems");
    size_t k = json_array_size(ti);
    if (!json_is_array(ti) || k < 1 || k > 100) {
        ddb_invalid(err, "1 validation error detected: Value at 'transactItems' failed to satisfy constraint: Member "
                         "must have length %s",
                    k ? "less than or equal to 100" : "greater than or equal to 1");
        return -1;
    }
    return 0;
}

/* Reads one TransactItems element of a write into op. */
static int transact_elem(store *st, struct tables *ts, json_t *el, size_t at, struct op *op, val_err *err)
{
    static const struct {
        const char *member;
        int kind;
        unsigned exprs;
        const char *required;
    } kinds[] = {
        {"Put", OP_PUT, DDB_X_COND, NULL},
        {"Update", OP_UPDATE, DDB_X_COND | DDB_X_UPDATE, "UpdateExpression"},
        {"Delete", OP_DELETE, DDB_X_COND, NULL},
        {"ConditionCheck", OP_CHECK, DDB_X_COND, "ConditionExpression"},
    };
    json_t *o = NULL;
    int which = -1;
    for (int k = 0; k < 4; k++) {
        json_t *v = json_object_get(el, kinds[k].member);
        if (v && !json_is_null(v)) {
            if (o) {
                which = -2;
                break;
            }
            o = v;
            which = k;
        }
    }
    if (which < 0 || !json_is_object(o)) {
        ddb_invalid(err, "TransactItems can only contain one of Check, Put, Update or Delete");
        return -1;
    }
    op->kind = kinds[which].kind;
    if (kinds[which].required && !json_is_string(json_object_get(o, kinds[which].required))) {
        ddb_invalid(err, "1 validation error detected: Value null at 'transactItems.%zu.member.%s' failed to satisfy "
                         "constraint: Member must not be null",
                    at + 1, kinds[which].required);
        return -1;
    }
    if (!(op->t = tables_open(st, ts, ddb_str(o, "TableName"), err)))
        return -1;
    if ((op->want_old = ddb_rv_on_fail(o, err)) < 0 || ddb_no_legacy(o, err) < 0 ||
        ddb_exprs_parse(o, kinds[which].exprs, &op->x, err) < 0)
        return -1;
    return op_key(op, o, err);
}

json_t *ddb_op_transact_write(store *st, json_t *req, const struct ddb_env *env, json_t **extra, val_err *err)
{
    if (transact_items(req, err) < 0)
        return NULL;
    json_t *ti = json_object_get(req, "TransactItems");
    size_t total = json_array_size(ti), n = 0;
    struct tables ts = {0};
    struct op *ops = calloc(total, sizeof *ops);
    json_t **news = calloc(total, sizeof *news);
    if (!ops || !news)
        abort();
    json_t *out = NULL, *reasons = NULL;
    for (size_t i = 0; i < total; i++) {
        if (transact_elem(st, &ts, json_array_get(ti, i), i, &ops[n++], err) < 0)
            goto done;
        for (size_t j = 0; j < i; j++)
            if (same_item(&ops[j], &ops[i])) {
                ddb_invalid(err, "Transaction request cannot include multiple operations on one item");
                goto done;
            }
    }
    /* every condition on the items as they are, then every write or none,
     * all in one store transaction */
    if (ddb_tx_begin(st, env, err) < 0)
        goto done;
    reasons = json_array();
    int cancelled = 0;
    for (size_t i = 0; i < n; i++) {
        struct op *op = &ops[i];
        json_t *old = NULL, *reason = json_object();
        int ok = 1;
        if (ddb_item_load(st, op->t->name, &op->key, &old, err) < 0) {
            json_decref(reason);
            undo(st, env);
            goto done;
        }
        if (op->x.cond) {
            val_err e = {0};
            ok = ddb_cond_eval(op->x.cond, old, &e);
            if (ok < 0) {
                val_obj_set_take(reason, "Code", json_string("ValidationError"));
                val_obj_set_take(reason, "Message", json_string(e.cause ? e.cause : "invalid condition"));
            } else if (!ok) {
                val_obj_set_take(reason, "Code", json_string("ConditionalCheckFailed"));
                val_obj_set_take(reason, "Message", json_string("The conditional request failed"));
                if (op->want_old && old)
                    json_object_set(reason, "Item", old);
            }
            val_err_clear(&e);
        }
        if (ok > 0 && op->kind == OP_UPDATE) {
            val_err e = {0};
            news[i] = ddb_update_new(op->t, op->x.update, op->item, old, &e);
            if (!news[i] || ddb_item_size(news[i]) > DDB_MAX_ITEM) {
                ok = -1;
                val_obj_set_take(reason, "Code", json_string("ValidationError"));
                val_obj_set_take(reason, "Message",
                                 json_string(e.cause ? e.cause
                                                     : "Item size to update has exceeded the maximum allowed size"));
            }
            val_err_clear(&e);
        }
        if (ok > 0)
            val_obj_set_take(reason, "Code", json_string("None"));
        else
            cancelled = 1;
        val_arr_append_take(reasons, reason);
        json_decref(old);
    }
    if (cancelled) {
        undo(st, env);
        val_buf b = {0};
        val_buf_puts(&b, "Transaction cancelled, please refer cancellation reasons for specific reasons [");
        for (size_t i = 0; i < n; i++)
            val_buf_printf(&b, "%s%s", i ? ", " : "", ddb_str(json_array_get(reasons, i), "Code"));
        val_buf_putc(&b, ']');
        char *msg = val_buf_take(&b);
        val_err_setc(err, VAL_ERR_VALIDATION, "TransactionCanceledException", msg);
        free(msg);
        if (extra) {
            *extra = json_object();
            val_obj_set_take(*extra, "CancellationReasons", json_incref(reasons));
        }
        goto done;
    }
    if (write_all(st, env, ops, n, news, err) < 0)
        goto done;
    out = json_object();
done:
    json_decref(reasons);
    for (size_t i = 0; i < total; i++)
        json_decref(news[i]);
    free(news);
    ops_free(ops, n);
    tables_close(&ts);
    return out;
}

/* ----------------------------------------------------- TransactGetItems */

json_t *ddb_op_transact_get(store *st, json_t *req, val_err *err)
{
    if (transact_items(req, err) < 0)
        return NULL;
    json_t *ti = json_object_get(req, "TransactItems");
    size_t total = json_array_size(ti), n = 0;
    struct tables ts = {0};
    struct op *ops = calloc(total, sizeof *ops);
    if (!ops)
        abort();
    json_t *out = NULL, *resp = NULL;
    for (size_t i = 0; i < total; i++) {
        json_t *g = json_object_get(json_array_get(ti, i), "Get");
        struct op *op = &ops[n++];
        op->kind = OP_GET;
        if (!json_is_object(g)) {
            ddb_invalid(err, "1 validation error detected: Value null at 'transactItems.%zu.member.get' failed to "
                             "satisfy constraint: Member must not be null",
                        i + 1);
            goto done;
        }
        if (!(op->t = tables_open(st, &ts, ddb_str(g, "TableName"), err)) || ddb_no_legacy(g, err) < 0 ||
            ddb_exprs_parse(g, DDB_X_PROJ, &op->x, err) < 0 || op_key(op, g, err) < 0)
            goto done;
        for (size_t j = 0; j < i; j++)
            if (same_item(&ops[j], op)) {
                ddb_invalid(err, "Transaction request cannot include multiple operations on one item");
                goto done;
            }
    }
    resp = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *item, *r = json_object();
        if (ddb_item_load(st, ops[i].t->name, &ops[i].key, &item, err) < 0) {
            json_decref(r);
            goto done;
        }
        if (item)
            val_obj_set_take(r, "Item", ddb_exprs_project(&ops[i].x, item));
        json_decref(item);
        val_arr_append_take(resp, r);
    }
    out = json_object();
    val_obj_set_take(out, "Responses", json_incref(resp));
done:
    json_decref(resp);
    ops_free(ops, n);
    tables_close(&ts);
    return out;
}
