/* fuzz_expr — libFuzzer target for the expression parsers: the input is
 * taken as the text of a path (under every flag combination) and of an
 * intrinsic call; whatever parses is also evaluated against a small fixed
 * input, context object and variable set. Nothing may crash or leak, and
 * a parse failure must come with an error. Built and run by `make fuzz`. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "asl/asl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char INPUT[] =
    "{\"a\":1,\"b\":\"two\",\"c\":[1,2.5,\"x\",null,true,{\"d\":[]}],"
    "\"o\":{\"k\":\"v\",\"n\":{\"m\":-3}},\"s\":\"a,b,c\",\"e\":\"\",\"z\":null,"
    "\"big\":1e300,\"neg\":-7,\"list\":[3,1,2,1]}";
static const char CONTEXT[] =
    "{\"Execution\":{\"Id\":\"arn:aws:states:us-east-1:123456789012:execution:m:e\","
    "\"Input\":{\"a\":1},\"Name\":\"e\",\"StartTime\":\"2024-01-02T03:04:05.678Z\"},"
    "\"State\":{\"Name\":\"S\",\"EnteredTime\":\"2024-01-02T03:04:05.678Z\"},"
    "\"StateMachine\":{\"Id\":\"arn:aws:states:us-east-1:123456789012:stateMachine:m\",\"Name\":\"m\"},"
    "\"Map\":{\"Item\":{\"Index\":0,\"Value\":{\"a\":1}}}}";
static const char VARS[] = "{\"x\":1,\"name\":\"n\",\"arr\":[1,2],\"obj\":{\"p\":{\"q\":true}}}";

static json_t *parse_const(const char *text)
{
    json_t *v = json_loads(text, 0, NULL);
    if (!v)
        abort(); /* our own constant: a bug here, not input */
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static json_t *input, *context, *vars;
    if (!input) {
        input = parse_const(INPUT);
        context = parse_const(CONTEXT);
        vars = parse_const(VARS);
    }
    if (size > 4096)
        return 0; /* expressions are short; long inputs only slow the search */
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    uint64_t rng = 42;
    struct asl_env env = {.input = input, .context = context, .vars = vars, .rng = &rng};

    for (int flags = 0; flags < 8; flags++) {
        val_err err = {0};
        asl_path *p = asl_path_parse(text, flags, &err);
        if (!p) {
            if (err.kind == VAL_ERR_NONE)
                abort(); /* a refusal must say why */
            val_err_clear(&err);
            continue;
        }
        (void)asl_path_text(p);
        (void)asl_path_normalized(p);
        (void)asl_path_is_definite(p);
        (void)asl_path_is_root(p);
        if (asl_path_root(p) == ASL_ROOT_VAR)
            (void)asl_path_var(p);
        json_t *v = asl_path_eval(p, &env);
        json_decref(v);
        /* ResultPath-shaped paths can also be written into a copy. */
        if ((flags & ASL_PATH_REFERENCE) && (flags & ASL_PATH_NO_CONTEXT) &&
            asl_path_root(p) == ASL_ROOT_INPUT) {
            json_t *root = json_deep_copy(input);
            json_t *w = asl_path_set(p, root, json_string("new"), &err);
            json_decref(w);
            val_err_clear(&err);
        }
        asl_path_free(p);
    }

    val_err err = {0};
    (void)asl_is_intrinsic(text);
    asl_intrinsic *f = asl_intrinsic_parse(text, &err);
    if (f) {
        (void)asl_intrinsic_uses_context(f);
        json_t *v = asl_intrinsic_eval(f, &env, "fuzz.$", &err);
        json_decref(v);
        asl_intrinsic_free(f);
    } else if (err.kind == VAL_ERR_NONE) {
        abort();
    }
    val_err_clear(&err);

    /* The `.$` field compiler that sits on top of both. */
    asl_diags diags = {0};
    asl_expr *e = asl_expr_compile(text, "/States/S/Parameters/fuzz.$", &diags);
    if (e) {
        json_t *v = asl_expr_eval(e, &env, "fuzz.$", &err);
        json_decref(v);
        val_err_clear(&err);
        asl_expr_free(e);
    }
    asl_diags_free(&diags);

    free(text);
    return 0;
}
