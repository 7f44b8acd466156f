/* ops — see ops.h. Tables here; items in items.c. */
#include "ddb/ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddb/ops_int.h"

/* ---------------------------------------------------------------- helpers */

uint32_t ddb_crc32(const void *p, size_t n)
{
    static uint32_t table[256];
    static int ready;
    if (!__atomic_load_n(&ready, __ATOMIC_ACQUIRE)) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        __atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
    }
    uint32_t c = 0xFFFFFFFFu;
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        c = table[(c ^ b[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

int ddb_tx_begin(store *st, const struct ddb_env *env, val_err *err)
{
    if (env->in_tx || st->ops->begin(st, err) == STORE_OK)
        return 0;
    return ddb_store_failed(err);
}

int ddb_tx_commit(store *st, const struct ddb_env *env, val_err *err)
{
    if (env->in_tx || st->ops->commit(st, err) == STORE_OK)
        return 0;
    return ddb_store_failed(err);
}

void ddb_tx_undo(store *st, const struct ddb_env *env)
{
    if (env->in_tx)
        return;
    val_err e = {0};
    st->ops->rollback(st, &e);
    val_err_clear(&e);
}

void ddb_invalid(val_err *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    val_err_setc(err, VAL_ERR_VALIDATION, "ValidationException", msg ? msg : "invalid request");
    free(msg);
}

const char *ddb_str(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

int ddb_store_failed(val_err *err)
{
    if (err->kind != VAL_ERR_STORE) {
        char *c = err->cause ? strdup(err->cause) : NULL;
        val_err_setc(err, VAL_ERR_STORE, "InternalServerError", c ? c : "the store failed");
        free(c);
    } else {
        free(err->name);
        err->name = strdup("InternalServerError");
    }
    return -1;
}

/* AWS's TableName rule: 3-255 of [a-zA-Z0-9_.-]. */
int ddb_table_name_ok(const char *name, const char *member, val_err *err)
{
    if (!name) {
        ddb_invalid(err, "1 validation error detected: Value null at '%s' failed to satisfy constraint: Member "
                         "must not be null",
                    member);
        return -1;
    }
    size_t n = strlen(name);
    if (n < 3 || n > 255) {
        ddb_invalid(err, "1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member "
                         "must have length %s",
                    name, member, n < 3 ? "greater than or equal to 3" : "less than or equal to 255");
        return -1;
    }
    if (strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != n) {
        ddb_invalid(err, "1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member "
                         "must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
                    name, member);
        return -1;
    }
    return 0;
}

static json_t *epoch(int64_t ns) { return json_real((double)(ns / 1000000) / 1000.0); }

/* Reads the stored description of table name: 0, or -1 with
 * ResourceNotFoundException (msg_kind 1: DescribeTable's "Table: X not
 * found" text) or a store error. */
int ddb_table_load(store *st, const char *name, int describe_msg, json_t **desc, val_err *err)
{
    char *text = NULL;
    int r = st->ops->table_get(st, name, &text, err);
    if (r == STORE_NOT_FOUND) {
        if (describe_msg)
            val_err_set(err, VAL_ERR_VALIDATION, "ResourceNotFoundException",
                        "Requested resource not found: Table: %s not found", name);
        else
            val_err_setc(err, VAL_ERR_VALIDATION, "ResourceNotFoundException", "Requested resource not found");
        return -1;
    }
    if (r != STORE_OK)
        return ddb_store_failed(err);
    *desc = val_parse(text, strlen(text), err);
    free(text);
    if (!*desc)
        return ddb_store_failed(err);
    return 0;
}

/* The description as the API shows it: the stored one with the live
 * counters. */
static json_t *shown(store *st, json_t *desc, const char *status)
{
    json_t *d = json_deep_copy(desc);
    int64_t count = 0, bytes = 0;
    val_err e = {0};
    st->ops->table_stats(st, ddb_str(desc, "TableName"), &count, &bytes, &e);
    val_err_clear(&e);
    val_obj_set_take(d, "ItemCount", json_integer(count));
    val_obj_set_take(d, "TableSizeBytes", json_integer(bytes));
    val_obj_set_take(d, "TableStatus", json_string(status));
    size_t i;
    json_t *ix;
    json_array_foreach(json_object_get(d, "GlobalSecondaryIndexes"), i, ix) {
        val_obj_set_take(ix, "IndexStatus", json_string("ACTIVE"));
        val_obj_set_take(ix, "ItemCount", json_integer(count));
        val_obj_set_take(ix, "IndexSizeBytes", json_integer(bytes));
    }
    json_array_foreach(json_object_get(d, "LocalSecondaryIndexes"), i, ix) {
        val_obj_set_take(ix, "ItemCount", json_integer(count));
        val_obj_set_take(ix, "IndexSizeBytes", json_integer(bytes));
    }
    return d;
}

/* ----------------------------------------------------------- CreateTable */

/* The type ('S', 'N' or 'B') AttributeDefinitions give name, 0 if none. */
char ddb_attr_type(json_t *defs, const char *name)
{
    size_t i;
    json_t *d;
    json_array_foreach(defs, i, d) {
        const char *n = ddb_str(d, "AttributeName"), *t = ddb_str(d, "AttributeType");
        if (n && t && strcmp(n, name) == 0)
            return t[0];
    }
    return 0;
}

/* Checks a KeySchema (HASH, then optional RANGE) against the definitions;
 * used[] marks the definitions it names. */
static int key_schema_ok(json_t *ks, json_t *defs, const char *what, int *used, val_err *err)
{
    if (!json_is_array(ks) || json_array_size(ks) < 1 || json_array_size(ks) > 2) {
        ddb_invalid(err, "1 validation error detected: Value '%s' at 'keySchema' failed to satisfy constraint: "
                         "Member must have length less than or equal to 2",
                    what);
        if (json_is_array(ks) && json_array_size(ks) == 0)
            ddb_invalid(err, "1 validation error detected: Value '[]' at 'keySchema' failed to satisfy "
                             "constraint: Member must have length greater than or equal to 1");
        return -1;
    }
    for (size_t i = 0; i < json_array_size(ks); i++) {
        json_t *k = json_array_get(ks, i);
        const char *n = ddb_str(k, "AttributeName"), *t = ddb_str(k, "KeyType");
        if (!n || !t || (strcmp(t, "HASH") != 0 && strcmp(t, "RANGE") != 0)) {
            ddb_invalid(err, "Invalid KeySchema: every element needs an AttributeName and a KeyType of HASH "
                             "or RANGE");
            return -1;
        }
        if ((i == 0) != (strcmp(t, "HASH") == 0)) {
            ddb_invalid(err, "Invalid KeySchema: The first KeySchemaElement is not a HASH key type");
            return -1;
        }
        if (i == 1 && strcmp(n, ddb_str(json_array_get(ks, 0), "AttributeName")) == 0) {
            /* a key no item could match: every Key would have one member too few */
            ddb_invalid(err, "Invalid KeySchema: Both the Hash Key and the Range Key element in the KeySchema "
                             "have the same name");
            return -1;
        }
        size_t j;
        json_t *d;
        int found = 0;
        json_array_foreach(defs, j, d) {
            const char *dn = ddb_str(d, "AttributeName");
            if (dn && strcmp(dn, n) == 0) {
                used[j] = 1;
                found = 1;
            }
        }
        if (!found) {
            ddb_invalid(err, "One or more parameter values were invalid: Some index key attributes are not "
                             "defined in AttributeDefinitions. Keys: [%s], AttributeDefinitions: [...]",
                        n);
            return -1;
        }
    }
    return 0;
}

static json_t *throughput(json_t *pt)
{
    json_t *o = json_object();
    val_obj_set_take(o, "NumberOfDecreasesToday", json_integer(0));
    json_t *r = json_object_get(pt, "ReadCapacityUnits"), *w = json_object_get(pt, "WriteCapacityUnits");
    val_obj_set_take(o, "ReadCapacityUnits", json_integer(json_is_integer(r) ? json_integer_value(r) : 0));
    val_obj_set_take(o, "WriteCapacityUnits", json_integer(json_is_integer(w) ? json_integer_value(w) : 0));
    return o;
}

static json_t *op_create_table(store *st, json_t *req, const struct ddb_env *env, val_err *err)
{
    const char *name = ddb_str(req, "TableName");
    if (ddb_table_name_ok(name, "tableName", err) < 0)
        return NULL;
    json_t *defs = json_object_get(req, "AttributeDefinitions"), *ks = json_object_get(req, "KeySchema");
    if (!json_is_array(defs) || !json_is_array(ks)) {
        ddb_invalid(err, "1 validation error detected: Value null at '%s' failed to satisfy constraint: Member "
                         "must not be null",
                    !json_is_array(ks) ? "keySchema" : "attributeDefinitions");
        return NULL;
    }
    size_t nd = json_array_size(defs);
    int *used = calloc(nd ? nd : 1, sizeof *used);
    if (!used)
        abort();
    json_t *out = NULL;
    size_t i;
    json_t *d;
    json_array_foreach(defs, i, d) {
        const char *t = ddb_str(d, "AttributeType");
        if (!ddb_str(d, "AttributeName") || !t || (strcmp(t, "S") && strcmp(t, "N") && strcmp(t, "B"))) {
            ddb_invalid(err, "1 validation error detected: Value '%s' at 'attributeDefinitions.%zu.member."
                             "attributeType' failed to satisfy constraint: Member must satisfy enum value set: "
                             "[B, N, S]",
                        t ? t : "null", i + 1);
            goto done;
        }
    }
    for (i = 0; i < nd; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(ddb_str(json_array_get(defs, i), "AttributeName"),
                       ddb_str(json_array_get(defs, j), "AttributeName")) == 0) {
                /* else the first definition's type would silently win */
                ddb_invalid(err, "One or more parameter values were invalid: Cannot have two attributes with the "
                                 "same name: %s",
                            ddb_str(json_array_get(defs, i), "AttributeName"));
                goto done;
            }
    if (key_schema_ok(ks, defs, "keySchema", used, err) < 0)
        goto done;
    static const char *kinds[] = {"GlobalSecondaryIndexes", "LocalSecondaryIndexes"};
    for (int k = 0; k < 2; k++) {
        json_t *ix;
        json_array_foreach(json_object_get(req, kinds[k]), i, ix) {
            if (!ddb_str(ix, "IndexName") || key_schema_ok(json_object_get(ix, "KeySchema"), defs, "keySchema",
                                                           used, err) < 0) {
                if (!err->name)
                    ddb_invalid(err, "One or more parameter values were invalid: an index needs an IndexName and "
                                     "a KeySchema");
                goto done;
            }
            /* index names are unique across both kinds (a query names one) */
            for (int k2 = 0; k2 <= k; k2++) {
                size_t j;
                json_t *other;
                json_array_foreach(json_object_get(req, kinds[k2]), j, other) {
                    if (k2 == k && j >= i)
                        break;
                    const char *on = ddb_str(other, "IndexName");
                    if (on && strcmp(on, ddb_str(ix, "IndexName")) == 0) {
                        ddb_invalid(err, "One or more parameter values were invalid: Duplicate index name: %s",
                                    ddb_str(ix, "IndexName"));
                        goto done;
                    }
                }
            }
        }
    }
    for (i = 0; i < nd; i++)
        if (!used[i]) {
            ddb_invalid(err, "One or more parameter values were invalid: Number of attributes in KeySchema does "
                             "not exactly match number of attributes defined in AttributeDefinitions");
            goto done;
        }
    const char *mode = ddb_str(req, "BillingMode");
    json_t *pt = json_object_get(req, "ProvisionedThroughput");
    if (mode && strcmp(mode, "PROVISIONED") && strcmp(mode, "PAY_PER_REQUEST")) {
        ddb_invalid(err, "1 validation error detected: Value '%s' at 'billingMode' failed to satisfy constraint: "
                         "Member must satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]",
                    mode);
        goto done;
    }
    if (!mode && !pt) { /* PROVISIONED is the default, as in AWS */
        ddb_invalid(err, "No provisioned throughput specified for the table");
        goto done;
    }
    if (!mode)
        mode = "PROVISIONED";
    if (strcmp(mode, "PROVISIONED") == 0 && !pt) {
        ddb_invalid(err, "One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits "
                         "must both be specified when BillingMode is PROVISIONED");
        goto done;
    }
    if (strcmp(mode, "PAY_PER_REQUEST") == 0 && pt) {
        ddb_invalid(err, "One or more parameter values were invalid: Neither ReadCapacityUnits nor "
                         "WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST");
        goto done;
    }
    char arn[400], id[40];
    snprintf(arn, sizeof arn, "arn:aws:dynamodb:%s:%s:table/%s", env->region, env->account, name);
    uint32_t h = ddb_crc32(name, strlen(name));
    snprintf(id, sizeof id, "%08x-%04x-4%03x-8%03x-%012llx", h, (unsigned)(env->now_ns & 0xffff),
             (unsigned)((env->now_ns >> 16) & 0xfff), (unsigned)((env->now_ns >> 28) & 0xfff),
             (unsigned long long)(env->now_ns & 0xffffffffffffULL));
    json_t *desc = json_object();
    val_obj_set_take(desc, "AttributeDefinitions", json_deep_copy(defs));
    val_obj_set_take(desc, "TableName", json_string(name));
    val_obj_set_take(desc, "KeySchema", json_deep_copy(ks));
    val_obj_set_take(desc, "TableStatus", json_string("ACTIVE"));
    val_obj_set_take(desc, "CreationDateTime", epoch(env->now_ns));
    val_obj_set_take(desc, "ProvisionedThroughput", throughput(pt));
    val_obj_set_take(desc, "TableArn", json_string(arn));
    val_obj_set_take(desc, "TableId", json_string(id));
    json_t *bm = json_object();
    val_obj_set_take(bm, "BillingMode", json_string(mode));
    if (strcmp(mode, "PAY_PER_REQUEST") == 0)
        val_obj_set_take(bm, "LastUpdateToPayPerRequestDateTime", epoch(env->now_ns));
    val_obj_set_take(desc, "BillingModeSummary", bm);
    for (int k = 0; k < 2; k++) {
        json_t *src = json_object_get(req, kinds[k]);
        if (!json_array_size(src))
            continue;
        json_t *list = json_array();
        json_t *ix;
        json_array_foreach(src, i, ix) {
            json_t *o = json_object();
            val_obj_set_take(o, "IndexName", json_string(ddb_str(ix, "IndexName")));
            val_obj_set_take(o, "KeySchema", json_deep_copy(json_object_get(ix, "KeySchema")));
            json_t *proj = json_object_get(ix, "Projection");
            val_obj_set_take(o, "Projection", proj ? json_deep_copy(proj) : json_pack("{s:s}", "ProjectionType", "ALL"));
            if (k == 0)
                val_obj_set_take(o, "ProvisionedThroughput", throughput(json_object_get(ix, "ProvisionedThroughput")));
            char iarn[700];
            snprintf(iarn, sizeof iarn, "%s/index/%s", arn, ddb_str(ix, "IndexName"));
            val_obj_set_take(o, "IndexArn", json_string(iarn));
            val_arr_append_take(list, o);
        }
        val_obj_set_take(desc, kinds[k], list);
    }
    json_t *ss = json_object_get(req, "StreamSpecification");
    if (json_is_object(ss))
        val_obj_set_take(desc, "StreamSpecification", json_deep_copy(ss));
    val_obj_set_take(desc, "DeletionProtectionEnabled", json_false());
    char *text = json_dumps(desc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    int r = st->ops->table_create(st, name, text, env->now_ns, err);
    free(text);
    if (r == STORE_EXISTS) {
        val_err_set(err, VAL_ERR_VALIDATION, "ResourceInUseException", "Table already exists: %s", name);
    } else if (r != STORE_OK) {
        ddb_store_failed(err);
    } else {
        out = json_object();
        val_obj_set_take(out, "TableDescription", shown(st, desc, "ACTIVE"));
    }
    json_decref(desc);
done:
    free(used);
    return out;
}

/* ------------------------------------------------ describe, list, delete */

static json_t *op_describe_table(store *st, json_t *req, val_err *err)
{
    const char *name = ddb_str(req, "TableName");
    json_t *desc;
    if (ddb_table_name_ok(name, "tableName", err) < 0 || ddb_table_load(st, name, 1, &desc, err) < 0)
        return NULL;
    json_t *o = json_object();
    val_obj_set_take(o, "Table", shown(st, desc, "ACTIVE"));
    json_decref(desc);
    return o;
}

static json_t *op_delete_table(store *st, json_t *req, val_err *err)
{
    const char *name = ddb_str(req, "TableName");
    json_t *desc;
    if (ddb_table_name_ok(name, "tableName", err) < 0 || ddb_table_load(st, name, 0, &desc, err) < 0)
        return NULL;
    json_t *o = json_object();
    val_obj_set_take(o, "TableDescription", shown(st, desc, "DELETING"));
    json_decref(desc);
    if (st->ops->table_delete(st, name, err) != STORE_OK) {
        json_decref(o);
        ddb_store_failed(err);
        return NULL;
    }
    return o;
}

static json_t *op_update_table(store *st, json_t *req, val_err *err)
{
    const char *name = ddb_str(req, "TableName");
    json_t *desc;
    if (ddb_table_name_ok(name, "tableName", err) < 0 || ddb_table_load(st, name, 0, &desc, err) < 0)
        return NULL;
    /* billing and throughput are accepted and shown; nothing is throttled */
    const char *mode = ddb_str(req, "BillingMode");
    if (mode)
        val_obj_set_take(json_object_get(desc, "BillingModeSummary"), "BillingMode", json_string(mode));
    json_t *pt = json_object_get(req, "ProvisionedThroughput");
    if (pt)
        val_obj_set_take(desc, "ProvisionedThroughput", throughput(pt));
    char *text = json_dumps(desc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    int r = st->ops->table_update(st, name, text, err);
    free(text);
    if (r != STORE_OK) {
        json_decref(desc);
        ddb_store_failed(err);
        return NULL;
    }
    json_t *o = json_object();
    val_obj_set_take(o, "TableDescription", shown(st, desc, "ACTIVE"));
    json_decref(desc);
    return o;
}

static json_t *op_list_tables(store *st, json_t *req, val_err *err)
{
    json_t *lim = json_object_get(req, "Limit");
    json_int_t limit = 100;
    if (lim) {
        if (!json_is_integer(lim) || json_integer_value(lim) < 1 || json_integer_value(lim) > 100) {
            ddb_invalid(err, "1 validation error detected: Value '%s' at 'limit' failed to satisfy constraint: "
                             "Member must have value %s",
                        json_is_integer(lim) ? "out of range" : "not a number",
                        json_is_integer(lim) && json_integer_value(lim) > 100 ? "less than or equal to 100"
                                                                             : "greater than or equal to 1");
            return NULL;
        }
        limit = json_integer_value(lim);
    }
    const char *after = ddb_str(req, "ExclusiveStartTableName");
    struct store_name_list l = {0};
    if (st->ops->table_list(st, after, (size_t)limit, &l, err) != STORE_OK) {
        ddb_store_failed(err);
        return NULL;
    }
    json_t *names = json_array();
    for (size_t i = 0; i < l.n; i++)
        val_arr_append_take(names, json_string(l.names[i]));
    json_t *o = json_object();
    val_obj_set_take(o, "TableNames", names);
    if (l.more && l.n)
        val_obj_set_take(o, "LastEvaluatedTableName", json_string(l.names[l.n - 1]));
    store_name_list_free(&l);
    return o;
}

/* ------------------------------------------------------------- dispatch */

json_t *ddb_call(store *st, const char *op, json_t *req, const struct ddb_env *env, json_t **extra,
                 val_err *err)
{
    if (extra)
        *extra = NULL;
    if (!json_is_object(req)) {
        ddb_invalid(err, "the request must be a JSON object");
        return NULL;
    }
    if (strcmp(op, "CreateTable") == 0)
        return op_create_table(st, req, env, err);
    if (strcmp(op, "DescribeTable") == 0)
        return op_describe_table(st, req, err);
    if (strcmp(op, "DeleteTable") == 0)
        return op_delete_table(st, req, err);
    if (strcmp(op, "UpdateTable") == 0)
        return op_update_table(st, req, err);
    if (strcmp(op, "ListTables") == 0)
        return op_list_tables(st, req, err);
    json_t *r = ddb_items_call(st, op, req, env, extra, err);
    if (!r && !err->name)
        val_err_set(err, VAL_ERR_VALIDATION, "UnknownOperationException", "Unknown operation: %s", op);
    return r;
}
