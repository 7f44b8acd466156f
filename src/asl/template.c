/* template — payload templates (Parameters, ResultSelector, ItemSelector,
 * Assign) and the `.$` expressions inside them. A template is compiled once:
 * subtrees without any `.$` key stay as shared literal JSON, and only the
 * dynamic spine is rebuilt per evaluation. */
#include <stdlib.h>
#include <string.h>

#include "asl/asl.h"

uint64_t asl_rand(uint64_t *rng)
{
    uint64_t z = (*rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* ----------------------------------------------------------------- exprs */

struct asl_expr {
    asl_path *path;      /* one of path / fn is set */
    asl_intrinsic *fn;
};

asl_expr *asl_expr_compile(const char *text, const char *path, asl_diags *d)
{
    val_err err = {0};
    asl_expr *e = calloc(1, sizeof *e);
    if (asl_is_intrinsic(text)) {
        e->fn = asl_intrinsic_parse(text, &err);
    } else if (text[0] == '$') {
        e->path = asl_path_parse(text, 0, &err);
    } else {
        asl_diag_add(d, "SCHEMA_VALIDATION_FAILED", path,
                     "The value for the field must be a valid JSONPath or a valid intrinsic function call");
        free(e);
        return NULL;
    }
    if (!e->path && !e->fn) {
        asl_diag_add(d, "SCHEMA_VALIDATION_FAILED", path, "%s",
                     err.cause ? err.cause : "The value must be a valid JSONPath or intrinsic function call");
        val_err_clear(&err);
        free(e);
        return NULL;
    }
    return e;
}

void asl_expr_free(asl_expr *e)
{
    if (!e)
        return;
    asl_path_free(e->path);
    asl_intrinsic_free(e->fn);
    free(e);
}

int asl_expr_uses_context(const asl_expr *e)
{
    if (!e)
        return 0;
    if (e->path)
        return asl_path_root(e->path) == ASL_ROOT_CONTEXT;
    return asl_intrinsic_uses_context(e->fn);
}

json_t *asl_expr_eval(const asl_expr *e, const struct asl_env *env, const char *field, val_err *err)
{
    if (e->fn)
        return asl_intrinsic_eval(e->fn, env, field, err);
    json_t *v = asl_path_eval(e->path, env);
    if (v)
        return v;
    if (asl_path_root(e->path) == ASL_ROOT_VAR) {
        val_err_set(err, VAL_ERR_RUNTIME, "States.Runtime",
                    "The JSONPath '%s' specified for the field '%s' could not be found in the input variables",
                    asl_path_text(e->path), field);
        return NULL;
    }
    char *in = env->input ? val_dump(env->input, NULL) : strdup("null");
    val_err_set(err, VAL_ERR_RUNTIME, "States.Runtime",
                "The JSONPath '%s' specified for the field '%s' could not be found in the input '%s'",
                asl_path_text(e->path), field, in);
    free(in);
    return NULL;
}

/* ------------------------------------------------------------- templates */

enum { T_LITERAL, T_EXPR, T_OBJECT, T_ARRAY };

struct tnode {
    int kind;
    json_t *literal;     /* T_LITERAL */
    asl_expr *expr;      /* T_EXPR */
    char *field;         /* T_EXPR: the key as written ("x.$"), for messages */
    char **keys;         /* T_OBJECT: output keys (".$" removed) */
    struct tnode *kids;  /* T_OBJECT / T_ARRAY */
    size_t n;
};

struct asl_template {
    struct tnode root;
    int uses_context;
};

/* Whether any key below v ends in ".$" (a dynamic subtree). */
static int has_dynamic(json_t *v, int depth)
{
    if (depth > 200)
        return 1; /* let compile report it */
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x)
        {
            size_t kl = strlen(k);
            if (kl >= 2 && strcmp(k + kl - 2, ".$") == 0)
                return 1;
            if (has_dynamic(x, depth + 1))
                return 1;
        }
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            if (has_dynamic(json_array_get(v, i), depth + 1))
                return 1;
    }
    return 0;
}

static void tnode_free(struct tnode *t)
{
    switch (t->kind) {
    case T_LITERAL: json_decref(t->literal); break;
    case T_EXPR:
        asl_expr_free(t->expr);
        free(t->field);
        break;
    default:
        for (size_t i = 0; i < t->n; i++) {
            tnode_free(&t->kids[i]);
            if (t->keys)
                free(t->keys[i]);
        }
        free(t->kids);
        free(t->keys);
    }
}

static int tnode_compile(struct tnode *t, json_t *v, const char *path, asl_diags *d, int depth,
                         int *uses_ctx)
{
    memset(t, 0, sizeof *t);
    if (depth > 200) {
        asl_diag_add(d, "SCHEMA_VALIDATION_FAILED", path, "The payload template is nested too deeply");
        t->kind = T_LITERAL;
        t->literal = json_null();
        return -1;
    }
    if (!has_dynamic(v, depth)) {
        t->kind = T_LITERAL;
        t->literal = json_incref(v);
        return 0;
    }
    int rc = 0;
    if (json_is_array(v)) {
        t->kind = T_ARRAY;
        t->n = json_array_size(v);
        t->kids = calloc(t->n ? t->n : 1, sizeof *t->kids);
        for (size_t i = 0; i < t->n; i++) {
            char *sub;
            if (asprintf(&sub, "%s[%zu]", path, i) < 0)
                abort();
            rc |= tnode_compile(&t->kids[i], json_array_get(v, i), sub, d, depth + 1, uses_ctx);
            free(sub);
        }
        return rc;
    }
    t->kind = T_OBJECT;
    t->n = json_object_size(v);
    t->kids = calloc(t->n ? t->n : 1, sizeof *t->kids);
    t->keys = calloc(t->n ? t->n : 1, sizeof *t->keys);
    size_t i = 0;
    const char *k;
    json_t *x;
    json_object_foreach(v, k, x)
    {
        size_t kl = strlen(k);
        char *sub;
        if (asprintf(&sub, "%s/%s", path, k) < 0)
            abort();
        struct tnode *kid = &t->kids[i];
        if (kl >= 2 && strcmp(k + kl - 2, ".$") == 0) {
            t->keys[i] = strndup(k, kl - 2);
            kid->kind = T_EXPR;
            kid->field = strdup(k);
            if (!json_is_string(x)) {
                asl_diag_add(d, "SCHEMA_VALIDATION_FAILED", sub,
                             "The value for the field '%s' must be a STRING that contains a JSONPath "
                             "or an intrinsic function call", k);
                rc = -1;
            } else {
                kid->expr = asl_expr_compile(json_string_value(x), sub, d);
                if (!kid->expr)
                    rc = -1;
                else if (asl_expr_uses_context(kid->expr))
                    *uses_ctx = 1;
            }
        } else {
            t->keys[i] = strdup(k);
            rc |= tnode_compile(kid, x, sub, d, depth + 1, uses_ctx);
        }
        free(sub);
        i++;
    }
    return rc;
}

asl_template *asl_template_compile(json_t *tmpl, const char *path, asl_diags *d)
{
    asl_template *t = calloc(1, sizeof *t);
    if (tnode_compile(&t->root, tmpl, path, d, 0, &t->uses_context) < 0) {
        asl_template_free(t);
        return NULL;
    }
    return t;
}

void asl_template_free(asl_template *t)
{
    if (!t)
        return;
    tnode_free(&t->root);
    free(t);
}

int asl_template_uses_context(const asl_template *t) { return t && t->uses_context; }

static json_t *tnode_eval(const struct tnode *t, const struct asl_env *env, val_err *err)
{
    switch (t->kind) {
    case T_LITERAL: return json_incref(t->literal);
    case T_EXPR:
        if (!t->expr) {
            val_err_set(err, VAL_ERR_RUNTIME, "States.Runtime", "invalid expression in field '%s'", t->field);
            return NULL;
        }
        return asl_expr_eval(t->expr, env, t->field, err);
    case T_ARRAY: {
        json_t *a = json_array();
        for (size_t i = 0; i < t->n; i++) {
            json_t *v = tnode_eval(&t->kids[i], env, err);
            if (!v) {
                json_decref(a);
                return NULL;
            }
            val_arr_append_take(a, v);
        }
        return a;
    }
    default: {
        json_t *o = json_object();
        for (size_t i = 0; i < t->n; i++) {
            json_t *v = tnode_eval(&t->kids[i], env, err);
            if (!v) {
                json_decref(o);
                return NULL;
            }
            val_obj_set_take(o, t->keys[i], v);
        }
        return o;
    }
    }
}

json_t *asl_template_eval(const asl_template *t, const struct asl_env *env, val_err *err)
{
    return tnode_eval(&t->root, env, err);
}
