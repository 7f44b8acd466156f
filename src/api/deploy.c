/* deploy — a plan (src/sam's shape) applied to a running stepd: see
 * api_deploy in lambda.h. The same code serves `stepd deploy` (through
 * POST /stepd/deploy), `serve --template` and `stepd run template.yaml`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/lambda.h"
#include "asl/asl.h"

static const char *str(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int num(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (int)json_integer_value(v) : 0;
}

static void item(json_t *list, json_t *res, const char *action)
{
    json_t *o = json_object();
    const char *keys[] = {"logical_id", "name", "arn"};
    for (size_t i = 0; i < 3; i++)
        if (str(res, keys[i]))
            val_obj_set_take(o, keys[i], json_string(str(res, keys[i])));
    val_obj_set_take(o, "action", json_string(action));
    val_arr_append_take(list, o);
}

/* A plan's function as the pool's configuration (borrowing o's strings). */
static void fn_config_of(json_t *o, struct fn_config *c)
{
    *c = (struct fn_config){.name = str(o, "name"),
                            .code_dir = str(o, "code_dir"),
                            .handler = str(o, "handler"),
                            .runtime = str(o, "runtime"),
                            .timeout_s = num(o, "timeout"),
                            .memory_mb = num(o, "memory"),
                            .concurrency = num(o, "concurrency"),
                            .environment = json_object_get(o, "environment")};
}

static int keep(struct api_lambda *a, const char *kind, const char *name, json_t *o, val_err *err)
{
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!text)
        abort();
    store *st = sched_lock(a->s);
    int r = st->ops->resource_put(st, kind, name, text, sched_now(), err);
    sched_unlock(a->s);
    free(text);
    return r == STORE_OK ? 0 : -1;
}

static int deploy_function(struct api_lambda *a, json_t *o, json_t *report, val_err *err)
{
    struct fn_config c;
    fn_config_of(o, &c);
    int existed = c.name && fn_exists(a->fn, c.name);
    int r = fn_put(a->fn, &c, err);
    if (r < 0)
        return -1;
    if (keep(a, "function", c.name, o, err) < 0)
        return -1;
    item(report, o, !existed ? "created" : r ? "updated" : "unchanged");
    return 0;
}

/* Runs one DynamoDB operation on the server's store, as the API would. */
static json_t *ddb(struct api_lambda *a, const char *op, json_t *req, val_err *err)
{
    return sched_ddb_now(a->s, op, req, NULL, err);
}

/* What decides where a table's items live and how they are found: its key
 * schema and its indexes' names and key schemas. 1 when desc (a stored
 * description) and req (a CreateTable request) agree on it. */
static int same_layout(json_t *desc, json_t *req)
{
    if (!val_equal(json_object_get(desc, "KeySchema"), json_object_get(req, "KeySchema")))
        return 0;
    static const char *kinds[] = {"GlobalSecondaryIndexes", "LocalSecondaryIndexes"};
    for (int k = 0; k < 2; k++) {
        json_t *x = json_object_get(desc, kinds[k]), *y = json_object_get(req, kinds[k]);
        if (json_array_size(x) != json_array_size(y))
            return 0;
        for (size_t i = 0; i < json_array_size(x); i++) {
            json_t *ix = json_array_get(x, i), *iy = json_array_get(y, i);
            if (!val_equal(json_object_get(ix, "IndexName"), json_object_get(iy, "IndexName")) ||
                !val_equal(json_object_get(ix, "KeySchema"), json_object_get(iy, "KeySchema")))
                return 0;
        }
    }
    return 1;
}

/* A template's table: created when missing; kept with its items when its
 * layout (same_layout) is unchanged; replaced, as CloudFormation replaces
 * a table whose keys change, otherwise (its items are then gone). */
static int deploy_table(struct api_lambda *a, json_t *o, json_t *report, val_err *err)
{
    const char *name = str(o, "name");
    json_t *req = json_deep_copy(json_object_get(o, "create_table"));
    if (!json_is_object(req))
        req = json_object();
    val_obj_set_take(req, "TableName", json_string(name));
    json_t *key = json_pack("{s:s}", "TableName", name);
    val_err e = {0};
    json_t *cur = ddb(a, "DescribeTable", key, &e);
    val_err_clear(&e);
    const char *action = "created";
    int ok = 0;
    if (cur) {
        int same = same_layout(json_object_get(cur, "Table"), req);
        json_decref(cur);
        if (same) {
            action = "unchanged";
            goto done;
        }
        json_t *r = ddb(a, "DeleteTable", key, err);
        if (!r)
            goto fail;
        json_decref(r);
        action = "replaced";
    }
    json_t *r = ddb(a, "CreateTable", req, err);
    if (!r) {
        char *c = val_asprintf("table %s: %s", name, err->cause ? err->cause : "CreateTable failed");
        free(err->cause);
        err->cause = c;
        goto fail;
    }
    json_decref(r);
done:
    item(report, o, action);
    ok = keep(a, "table", name, o, err) == 0;
fail:
    json_decref(key);
    json_decref(req);
    return ok ? 0 : -1;
}

static int streq0(const char *x, const char *y) { return (!x && !y) || (x && y && strcmp(x, y) == 0); }

static int deploy_machine(struct api_lambda *a, json_t *o, json_t *report, val_err *err)
{
    const char *name = str(o, "name"), *arn = str(o, "arn"), *def = str(o, "definition");
    const char *type = str(o, "type") ? str(o, "type") : "STANDARD", *role = str(o, "role_arn");
    if (!name || !arn || !def) {
        val_err_set(err, VAL_ERR_VALIDATION, "InvalidParameterValueException",
                    "a state machine of the plan lacks its name, arn or definition");
        return -1;
    }
    struct store_machine m = {0};
    store *st = sched_lock(a->s);
    int g = st->ops->machine_get(st, arn, &m, err);
    sched_unlock(a->s);
    if (g != STORE_OK && g != STORE_NOT_FOUND)
        return -1;
    const char *action;
    struct store_machine out = {0};
    int r = 0;
    if (g == STORE_NOT_FOUND) {
        action = "created";
        r = sched_machine_create(a->s, name, def, type, role, &out, err);
    } else if (strcmp(m.type, type) != 0) {
        /* the type cannot change in place: CloudFormation replaces the
         * machine; running executions keep their revision */
        action = "replaced";
        r = sched_machine_delete(a->s, arn, err);
        if (r == 0)
            r = sched_machine_create(a->s, name, def, type, role, &out, err);
    } else if (strcmp(m.definition, def) != 0 || !streq0(m.role_arn, role)) {
        action = "updated";
        r = sched_machine_update(a->s, arn, def, role, &out, err);
    } else {
        action = "unchanged";
    }
    store_machine_clear(&m);
    store_machine_clear(&out);
    if (r < 0) {
        if (err->cause) {
            char *c = NULL;
            if (asprintf(&c, "state machine %s: %s", str(o, "logical_id") ? str(o, "logical_id") : name,
                         err->cause) >= 0) {
                free(err->cause);
                err->cause = c;
            }
        }
        return -1;
    }
    item(report, o, action);
    return 0;
}

/* Checks every function and definition of the plan before anything is
 * applied: a template with a bad definition changes nothing (as a failed
 * CloudFormation deploy rolls back). */
static int check_plan(json_t *plan, val_err *err)
{
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(plan, "functions"), i, o) {
        struct fn_config c;
        fn_config_of(o, &c);
        if (fn_check(&c, err) < 0)
            return -1;
    }
    json_array_foreach(json_object_get(plan, "state_machines"), i, o) {
        const char *def = str(o, "definition"), *id = str(o, "logical_id") ? str(o, "logical_id") : str(o, "name");
        if (!def || !str(o, "name") || !str(o, "arn")) {
            val_err_set(err, VAL_ERR_VALIDATION, "InvalidParameterValueException",
                        "state machine %s of the plan lacks its name, arn or definition", id ? id : "?");
            return -1;
        }
        asl_diags d = {0};
        struct asl_machine *m = asl_load(def, strlen(def), &d);
        if (!m) {
            char *msg = asl_diags_message(&d);
            val_err_set(err, VAL_ERR_VALIDATION, "InvalidDefinition", "state machine %s: %s", id ? id : "?",
                        msg ? msg : "invalid definition");
            free(msg);
            asl_diags_free(&d);
            return -1;
        }
        asl_machine_free(m);
        asl_diags_free(&d);
    }
    json_array_foreach(json_object_get(plan, "tables"), i, o) {
        if (!str(o, "name")) {
            val_err_set(err, VAL_ERR_VALIDATION, "InvalidParameterValueException", "a table of the plan has no name");
            return -1;
        }
    }
    return 0;
}

static int in_list(json_t *items, const char *key, const char *v)
{
    size_t i;
    json_t *o;
    json_array_foreach(items, i, o) {
        if (str(o, key) && strcmp(str(o, key), v) == 0)
            return 1;
    }
    return 0;
}

/* What an earlier deploy of the same stack made and this plan no longer
 * has is deleted, as CloudFormation deletes a resource removed from a
 * template. The stack's record ("stack" resources) lists names and ARNs. */
static int prune(struct api_lambda *a, json_t *plan, json_t *rep, val_err *err)
{
    const char *stack = str(plan, "stack_name");
    if (!stack)
        return 0;
    char *old_text = NULL;
    store *st = sched_lock(a->s);
    int r = st->ops->resource_get(st, "stack", stack, &old_text, err);
    sched_unlock(a->s);
    if (r != STORE_OK && r != STORE_NOT_FOUND)
        return -1;
    json_t *old = old_text ? val_parse(old_text, strlen(old_text), NULL) : NULL;
    free(old_text);
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(old, "functions"), i, o) {
        if (!str(o, "name") || in_list(json_object_get(plan, "functions"), "name", str(o, "name")))
            continue;
        fn_delete(a->fn, str(o, "name"));
        st = sched_lock(a->s);
        st->ops->resource_delete(st, "function", str(o, "name"), NULL);
        sched_unlock(a->s);
        item(json_object_get(rep, "functions"), o, "deleted");
    }
    json_array_foreach(json_object_get(old, "state_machines"), i, o) {
        if (!str(o, "arn") || in_list(json_object_get(plan, "state_machines"), "arn", str(o, "arn")))
            continue;
        val_err e = {0};
        sched_machine_delete(a->s, str(o, "arn"), &e); /* its executions finish, as on AWS */
        val_err_clear(&e);
        item(json_object_get(rep, "state_machines"), o, "deleted");
    }
    json_array_foreach(json_object_get(old, "tables"), i, o) {
        if (!str(o, "name") || in_list(json_object_get(plan, "tables"), "name", str(o, "name")))
            continue;
        json_t *del = json_pack("{s:s}", "TableName", str(o, "name"));
        val_err e = {0};
        json_decref(ddb(a, "DeleteTable", del, &e)); /* gone already: nothing to do */
        json_decref(del);
        val_err_clear(&e);
        st = sched_lock(a->s);
        st->ops->resource_delete(st, "table", str(o, "name"), NULL);
        sched_unlock(a->s);
        item(json_object_get(rep, "tables"), o, "deleted");
    }
    json_decref(old);
    /* the stack's record: what this deploy made */
    json_t *now = json_object();
    static const char *kinds[] = {"functions", "state_machines", "tables"};
    for (size_t k = 0; k < 3; k++) {
        json_t *l = json_array();
        json_array_foreach(json_object_get(plan, kinds[k]), i, o) {
            json_t *e = json_object();
            const char *keys[] = {"logical_id", "name", "arn"};
            for (size_t j = 0; j < 3; j++)
                if (str(o, keys[j]))
                    val_obj_set_take(e, keys[j], json_string(str(o, keys[j])));
            val_arr_append_take(l, e);
        }
        val_obj_set_take(now, kinds[k], l);
    }
    r = keep(a, "stack", stack, now, err);
    json_decref(now);
    return r;
}

json_t *api_deploy(struct api_lambda *a, json_t *plan, val_err *err)
{
    if (check_plan(plan, err) < 0)
        return NULL;
    json_t *rep = json_object();
    json_t *fns = json_array(), *sms = json_array(), *tabs = json_array();
    val_obj_set_take(rep, "functions", fns);
    val_obj_set_take(rep, "state_machines", sms);
    val_obj_set_take(rep, "tables", tabs);
    size_t i;
    json_t *o;
    /* functions first: a machine's first execution may call them at once */
    json_array_foreach(json_object_get(plan, "functions"), i, o) {
        if (deploy_function(a, o, fns, err) < 0)
            goto fail;
    }
    json_array_foreach(json_object_get(plan, "tables"), i, o) {
        if (deploy_table(a, o, tabs, err) < 0)
            goto fail;
    }
    json_array_foreach(json_object_get(plan, "state_machines"), i, o) {
        if (deploy_machine(a, o, sms, err) < 0)
            goto fail;
    }
    if (prune(a, plan, rep, err) < 0)
        goto fail;
    json_t *outs = json_object_get(plan, "outputs");
    val_obj_set_take(rep, "outputs", outs ? json_incref(outs) : json_array());
    json_t *warn = json_object_get(plan, "warnings");
    val_obj_set_take(rep, "warnings", warn ? json_incref(warn) : json_array());
    return rep;
fail:
    json_decref(rep);
    return NULL;
}

int api_functions_restore(store *st, fn_pool *fn, val_err *err)
{
    struct store_resource_list l = {0};
    if (st->ops->resource_list(st, "function", &l, err) != STORE_OK)
        return -1;
    int n = 0;
    for (size_t i = 0; i < l.n; i++) {
        json_t *o = val_parse(l.items[i].config, strlen(l.items[i].config), NULL);
        struct fn_config c;
        fn_config_of(o, &c);
        val_err e = {0};
        if (o && fn_put(fn, &c, &e) >= 0)
            n++;
        else
            fprintf(stderr, "stepd: the deployed function %s cannot be restored: %s\n", l.items[i].name,
                    e.cause ? e.cause : "its stored configuration is unreadable");
        val_err_clear(&e);
        json_decref(o);
    }
    store_resource_list_free(&l);
    return n;
}
