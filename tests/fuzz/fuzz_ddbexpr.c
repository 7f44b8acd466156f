/* fuzz_ddbexpr — libFuzzer target for DynamoDB's expression languages:
 * the input is parsed as a condition, a key condition, an update and a
 * projection against a fixed set of #names and :values; whatever parses
 * is evaluated, applied (to a copy) and projected on a fixed item. The
 * input is also tried as a number and as an AttributeValue. Nothing may
 * crash or leak, and every refusal must say why. Built by `make fuzz`. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ddb/av.h"
#include "ddb/expr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char ITEM[] =
    "{\"pk\":{\"S\":\"p\"},\"sk\":{\"N\":\"1\"},\"n\":{\"N\":\"5\"},\"s\":{\"S\":\"hello\"},\"b\":{\"B\":\"AAEC\"},"
    "\"t\":{\"BOOL\":true},\"z\":{\"NULL\":true},"
    "\"l\":{\"L\":[{\"N\":\"1\"},{\"S\":\"x\"},{\"M\":{\"k\":{\"S\":\"v\"}}},{\"L\":[{\"N\":\"2\"}]}]},"
    "\"m\":{\"M\":{\"a\":{\"M\":{\"b\":{\"N\":\"2\"}}},\"c\":{\"L\":[]}}},"
    "\"ss\":{\"SS\":[\"a\",\"b\"]},\"ns\":{\"NS\":[\"1\",\"2.5\"]},\"bs\":{\"BS\":[\"AA==\"]}}";
static const char NAMES[] = "{\"#a\":\"a\",\"#n\":\"n\",\"#m\":\"m\",\"#l\":\"l\",\"#pk\":\"pk\",\"#name\":\"name\","
                            "\"#d\":\"dot.ted\"}";
static const char VALUES[] =
    "{\":v\":{\"N\":\"1\"},\":w\":{\"N\":\"-2.5E+3\"},\":s\":{\"S\":\"he\"},\":e\":{\"S\":\"\"},"
    "\":b\":{\"B\":\"AA==\"},\":t\":{\"S\":\"N\"},\":l\":{\"L\":[{\"N\":\"1\"}]},\":m\":{\"M\":{\"x\":{\"N\":\"3\"}}},"
    "\":ss\":{\"SS\":[\"b\",\"c\"]},\":ns\":{\"NS\":[\"7\"]},\":bs\":{\"BS\":[\"AQ==\"]},\":x\":{\"BOOL\":false},"
    "\":z\":{\"NULL\":true},\":big\":{\"N\":\"99999999999999999999999999999999999999\"}}";
static const char SCHEMA[] =
    "[{\"AttributeName\":\"pk\",\"KeyType\":\"HASH\"},{\"AttributeName\":\"sk\",\"KeyType\":\"RANGE\"}]";

static json_t *parse_const(const char *text)
{
    json_t *v = json_loads(text, 0, NULL);
    if (!v)
        abort(); /* our own constant: a bug here, not input */
    return v;
}

static void must_say_why(const val_err *err)
{
    if (err->kind == VAL_ERR_NONE || !err->cause || !err->name)
        abort(); /* a refusal must say why */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static json_t *item, *names, *values, *schema;
    if (!item) {
        item = parse_const(ITEM);
        names = parse_const(NAMES);
        values = parse_const(VALUES);
        schema = parse_const(SCHEMA);
    }
    if (size > 6000)
        return 0; /* a little past the 4 KB limit covers its check */
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    val_err err = {0};
    ddb_expr_ctx *c = ddb_ctx_new(names, values, &err);
    if (!c)
        abort();

    static const enum ddb_expr_kind kinds[] = {DDB_EXPR_CONDITION, DDB_EXPR_KEY_CONDITION, DDB_EXPR_UPDATE,
                                               DDB_EXPR_PROJECTION};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        ddb_expr *e = ddb_expr_parse(kinds[k], text, "FuzzExpression", c, &err);
        if (!e) {
            must_say_why(&err);
            val_err_clear(&err);
            continue;
        }
        switch (kinds[k]) {
        case DDB_EXPR_CONDITION:
            if (ddb_cond_eval(e, item, &err) < 0)
                must_say_why(&err);
            val_err_clear(&err);
            if (ddb_cond_eval(e, NULL, &err) < 0)
                must_say_why(&err);
            break;
        case DDB_EXPR_KEY_CONDITION: {
            struct ddb_keycond kc;
            if (ddb_keycond_get(e, schema, &kc, &err) < 0)
                must_say_why(&err);
            else if (!kc.pk_name || !kc.pk_value)
                abort();
            break;
        }
        case DDB_EXPR_UPDATE: {
            /* As the item code does: a shallow copy, which must leave
             * the original untouched. */
            json_t *before = json_deep_copy(item);
            json_t *work = json_copy(item);
            if (ddb_update_apply(e, work, schema, &err) < 0)
                must_say_why(&err);
            json_t *p = ddb_update_project(e, work);
            json_decref(p);
            if (!json_equal(before, item))
                abort(); /* the update reached through a shared value */
            json_decref(work);
            json_decref(before);
            /* And on an item that does not exist yet. */
            work = json_object();
            val_err_clear(&err);
            if (ddb_update_apply(e, work, NULL, &err) < 0)
                must_say_why(&err);
            json_decref(work);
            break;
        }
        case DDB_EXPR_PROJECTION: {
            json_t *p = ddb_project(e, item);
            if (!json_is_object(p))
                abort();
            json_decref(p);
            break;
        }
        }
        val_err_clear(&err);
        ddb_expr_free(e);
    }
    (void)ddb_ctx_check_unused(c, &err);
    val_err_clear(&err);
    ddb_ctx_free(c);

    /* The same bytes as a number and as an AttributeValue. */
    ddb_num n;
    if (ddb_num_parse(text, &n, &err) == 0) {
        char *f = ddb_num_format(&n);
        ddb_num back;
        if (ddb_num_parse(f, &back, NULL) < 0 || ddb_num_cmp(&n, &back) != 0)
            abort(); /* the canonical text must read back equal */
        ddb_num sum;
        if (ddb_num_add(&n, &back, &sum, &err) < 0)
            must_say_why(&err);
        val_err_clear(&err);
        if (ddb_num_sub(&n, &back, &sum, &err) < 0 || sum.n != 0)
            abort(); /* x - x is exactly zero */
        val_buf b = {0};
        json_t *av = json_pack("{s:s}", "N", f);
        if (ddb_key_put(&b, av, 'N', "k", &err) < 0)
            abort();
        json_decref(av);
        val_buf_free(&b);
        free(f);
    } else {
        must_say_why(&err);
    }
    val_err_clear(&err);
    json_t *j = json_loadb(text, size, JSON_DECODE_ANY, NULL);
    if (j) {
        json_t *cv = ddb_av_canon(j, &err);
        if (cv) {
            (void)ddb_av_size(cv);
            if (!ddb_av_equal(cv, cv))
                abort();
            json_t *again = ddb_av_canon(cv, NULL);
            if (!again || !json_equal(again, cv))
                abort(); /* canonical forms are fixed points */
            json_decref(again);
            json_decref(cv);
        } else {
            must_say_why(&err);
        }
        val_err_clear(&err);
        json_t *ci = ddb_item_canon(j, &err);
        if (ci)
            (void)ddb_item_size(ci);
        json_decref(ci);
        val_err_clear(&err);
        json_decref(j);
    }
    free(text);
    return 0;
}
