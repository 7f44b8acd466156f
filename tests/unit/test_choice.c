/* test_choice — Choice rules (every JSONPath operator, the type matrix,
 * missing paths, And/Or/Not, validation diagnostics), RFC 3339 timestamps
 * and the InvalidDefinition message builder. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asl/asl.h"
#include "tap.h"

static json_t *J(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &e);
    if (!v) {
        fprintf(stderr, "bad test JSON: %s (%s)\n", text, e.text);
        abort();
    }
    return v;
}

/* Compiles rule (top level) and evaluates it on input; -2 when it does not
 * compile. The last error is kept in last_err for the caller to inspect. */
static val_err last_err;

static int run_env(const char *rule, const char *input, const char *context, const char *vars)
{
    json_t *r = J(rule), *in = J(input);
    json_t *ctx = context ? J(context) : NULL, *vs = vars ? J(vars) : NULL;
    asl_diags d = {0};
    asl_choice *c = asl_choice_compile(r, 1, "/States/C/Choices[0]", &d);
    int res = -2;
    val_err_clear(&last_err);
    if (c) {
        struct asl_env env = {in, ctx, vs, NULL};
        res = asl_choice_eval(c, &env, &last_err);
    } else {
        char *m = asl_diags_message(&d);
        fprintf(stderr, "  (did not compile: %s)\n", m);
        free(m);
    }
    asl_choice_free(c);
    asl_diags_free(&d);
    json_decref(r);
    json_decref(in);
    json_decref(ctx);
    json_decref(vs);
    return res;
}

static int run(const char *rule, const char *input)
{
    return run_env(rule, input, NULL, NULL);
}

/* Evaluates `{"Variable": "$.v", <op>: <operand>}` on {"v": value}. */
static int op1(const char *op, const char *operand, const char *value)
{
    char rule[512], input[512];
    snprintf(rule, sizeof rule, "{\"Variable\":\"$.v\",\"%s\":%s,\"Next\":\"X\"}", op, operand);
    snprintf(input, sizeof input, "{\"v\":%s}", value);
    return run(rule, input);
}

/* Same with the operand read from $.w. */
static int op2(const char *op, const char *value, const char *other)
{
    char rule[512], input[512];
    snprintf(rule, sizeof rule, "{\"Variable\":\"$.v\",\"%sPath\":\"$.w\",\"Next\":\"X\"}", op);
    snprintf(input, sizeof input, "{\"v\":%s,\"w\":%s}", value, other);
    return run(rule, input);
}

/* Compiles rule; returns the InvalidDefinition message (malloc'd) or NULL
 * when it compiled. *n receives the number of problems. */
static char *reject(const char *rule, int top_level, size_t *n)
{
    json_t *r = J(rule);
    asl_diags d = {0};
    asl_choice *c = asl_choice_compile(r, top_level, "/States/C/Choices[0]", &d);
    char *m = c ? NULL : asl_diags_message(&d);
    if (n)
        *n = d.n;
    asl_choice_free(c);
    asl_diags_free(&d);
    json_decref(r);
    return m;
}

static int rejects_with(const char *rule, const char *needle)
{
    char *m = reject(rule, 1, NULL);
    int ok = m && strstr(m, needle);
    if (!ok)
        fprintf(stderr, "  rule %s\n  message: %s\n  wanted: %s\n", rule, m ? m : "(compiled)",
                needle);
    free(m);
    return ok;
}

/* A spread of values of every JSON type, used for the type matrix. */
static const char *const samples[] = {
    "null", "0", "-7", "2.5", "\"\"", "\"pear\"", "\"12\"", "\"2030-06-01T10:00:00Z\"",
    "true", "false", "[]", "[1]", "{}", "{\"k\":\"pear\"}",
};
#define N_SAMPLES (sizeof samples / sizeof samples[0])

static int is_type(const char *v, char t)
{
    switch (t) {
    case 's': return v[0] == '"';
    case 'n': return (v[0] >= '0' && v[0] <= '9') || v[0] == '-';
    case 'b': return v[0] == 't' || v[0] == 'f';
    case 'z': return v[0] == 'n';
    }
    return 0;
}

static void test_type_matrix(void)
{
    /* Every operator family: a value of another type never matches (and is
     * never an error); a value of the right type can. */
    for (size_t i = 0; i < N_SAMPLES; i++) {
        const char *v = samples[i];
        int s = is_type(v, 's'), n = is_type(v, 'n'), b = is_type(v, 'b');
        CHECK_MSG(op1("StringEquals", "\"pear\"", v) == (s && !strcmp(v, "\"pear\"")), "%s", v);
        CHECK_MSG(op1("StringGreaterThanEquals", "\"\"", v) == s, "%s", v);
        CHECK_MSG(op1("StringMatches", "\"*\"", v) == s, "%s", v);
        CHECK_MSG(op1("NumericLessThan", "100", v) == n, "%s", v);
        CHECK_MSG(op1("NumericGreaterThanEquals", "-100.5", v) == n, "%s", v);
        CHECK_MSG(op1("BooleanEquals", "true", v) == !strcmp(v, "true"), "%s", v);
        CHECK_MSG(op1("BooleanEquals", "false", v) == !strcmp(v, "false"), "%s", v);
        CHECK_MSG(op1("TimestampLessThanEquals", "\"2040-01-01T00:00:00Z\"", v) ==
                      !strcmp(v, "\"2030-06-01T10:00:00Z\""),
                  "%s", v);
        CHECK_MSG(op1("IsNull", "true", v) == is_type(v, 'z'), "%s", v);
        CHECK_MSG(op1("IsNull", "false", v) == !is_type(v, 'z'), "%s", v);
        CHECK_MSG(op1("IsNumeric", "true", v) == n, "%s", v);
        CHECK_MSG(op1("IsNumeric", "false", v) == !n, "%s", v);
        CHECK_MSG(op1("IsString", "true", v) == s, "%s", v);
        CHECK_MSG(op1("IsString", "false", v) == !s, "%s", v);
        CHECK_MSG(op1("IsBoolean", "true", v) == b, "%s", v);
        CHECK_MSG(op1("IsBoolean", "false", v) == !b, "%s", v);
        CHECK_MSG(op1("IsTimestamp", "true", v) == !strcmp(v, "\"2030-06-01T10:00:00Z\""), "%s",
                  v);
        CHECK_MSG(op1("IsPresent", "true", v) == 1, "%s", v);
        CHECK_MSG(op1("IsPresent", "false", v) == 0, "%s", v);
        /* Path forms: a wrong-typed value on either side is false. */
        CHECK_MSG(op2("NumericEquals", v, "0") == !strcmp(v, "0"), "%s", v);
        CHECK_MSG(op2("NumericEquals", "0", v) == !strcmp(v, "0"), "%s", v);
        CHECK_MSG(op2("StringEquals", v, "\"pear\"") == !strcmp(v, "\"pear\""), "%s", v);
        CHECK_MSG(op2("StringEquals", "\"pear\"", v) == !strcmp(v, "\"pear\""), "%s", v);
        CHECK_MSG(op2("BooleanEquals", "false", v) == !strcmp(v, "false"), "%s", v);
    }
    /* Numeric strings are strings, not numbers. */
    CHECK(op1("NumericEquals", "12", "\"12\"") == 0);
    CHECK(op1("IsNumeric", "true", "\"12\"") == 0);
}

static void test_strings(void)
{
    CHECK(op1("StringEquals", "\"Kiwi\"", "\"Kiwi\"") == 1);
    CHECK(op1("StringEquals", "\"Kiwi\"", "\"kiwi\"") == 0);
    CHECK(op1("StringEquals", "\"  \"", "\" \"") == 0);
    CHECK(op1("StringEquals", "\"\"", "\"\"") == 1);
    CHECK(op1("StringLessThan", "\"plum\"", "\"pear\"") == 1);
    CHECK(op1("StringLessThan", "\"pear\"", "\"pear\"") == 0);
    CHECK(op1("StringLessThanEquals", "\"pear\"", "\"pear\"") == 1);
    CHECK(op1("StringGreaterThan", "\"pea\"", "\"pear\"") == 1);   /* longer wins */
    CHECK(op1("StringGreaterThan", "\"pear \"", "\"pear\"") == 0); /* trailing space */
    CHECK(op1("StringGreaterThanEquals", "\"pear\"", "\"pea\"") == 0);
    CHECK(op1("StringLessThan", "\"a\"", "\"B\"") == 1); /* 'B' (66) < 'a' (97) */
    /* UTF-16 order: an emoji (surrogates D83D..) sorts below U+FF5E. */
    CHECK(op1("StringLessThan", "\"\\uFF5E\"", "\"\\uD83D\\uDE00\"") == 1);
    CHECK(op1("StringGreaterThan", "\"\\uFF5E\"", "\"\\uD83D\\uDE00\"") == 0);
    CHECK(op1("StringLessThan", "\"\\u00E9\"", "\"z\"") == 1); /* 0x7A < 0xE9 */
    CHECK(op2("StringLessThan", "\"fig\"", "\"figs\"") == 1);
    CHECK(op2("StringGreaterThan", "\"fig\"", "\"fig\"") == 0);
    CHECK(op2("StringGreaterThanEquals", "\"fig\"", "\"fig\"") == 1);
    CHECK(op2("StringLessThanEquals", "\"fih\"", "\"fig\"") == 0);

    /* StringMatches */
    CHECK(op1("StringMatches", "\"report-*.csv\"", "\"report-2024.csv\"") == 1);
    CHECK(op1("StringMatches", "\"report-*.csv\"", "\"report-.csv\"") == 1);
    CHECK(op1("StringMatches", "\"report-*.csv\"", "\"report-2024.csvx\"") == 0);
    CHECK(op1("StringMatches", "\"*a*b*\"", "\"xxaxxbxx\"") == 1);
    CHECK(op1("StringMatches", "\"*a*b*\"", "\"xxbxxaxx\"") == 0);
    CHECK(op1("StringMatches", "\"abc\"", "\"abc\"") == 1);
    CHECK(op1("StringMatches", "\"abc\"", "\"abcd\"") == 0);
    CHECK(op1("StringMatches", "\"\"", "\"\"") == 1);
    CHECK(op1("StringMatches", "\"**\"", "\"\"") == 1);
    CHECK(op1("StringMatches", "\"a\\\\*\"", "\"a*\"") == 1);       /* pattern a\* */
    CHECK(op1("StringMatches", "\"a\\\\*\"", "\"ab\"") == 0);
    CHECK(op1("StringMatches", "\"c:\\\\\\\\*\"", "\"c:\\\\tmp\"") == 1); /* c:\\* */
    CHECK(op1("StringMatches", "\"c:\\\\\\\\*\"", "\"c:/tmp\"") == 0);
    CHECK(op1("StringMatches", "\"*\\u00E9t\\u00E9\"", "\"un \\u00E9t\\u00E9\"") == 1);
}

static void test_numbers(void)
{
    CHECK(op1("NumericEquals", "3", "3.0") == 1);
    CHECK(op1("NumericEquals", "3.0", "3") == 1);
    CHECK(op1("NumericEquals", "3", "3.25") == 0);
    CHECK(op1("NumericEquals", "-0.0", "0") == 1);
    CHECK(op1("NumericLessThan", "3", "2.999") == 1);
    CHECK(op1("NumericLessThan", "3", "3") == 0);
    CHECK(op1("NumericGreaterThan", "-1", "-0.5") == 1);
    CHECK(op1("NumericGreaterThanEquals", "4", "4") == 1);
    CHECK(op1("NumericLessThanEquals", "4", "4.0001") == 0);
    CHECK(op1("NumericEquals", "1e3", "1000") == 1);
    /* Above 2^53 integers stay exact; an int against a real is not rounded. */
    CHECK(op1("NumericEquals", "9007199254740993", "9007199254740992") == 0);
    CHECK(op1("NumericGreaterThan", "9007199254740992.0", "9007199254740993") == 1);
    CHECK(op1("NumericLessThan", "1e300", "9223372036854775807") == 1);
    CHECK(op1("NumericGreaterThan", "-1e300", "-9223372036854775807") == 1);
    CHECK(op2("NumericEquals", "7", "7.0") == 1);
    CHECK(op2("NumericLessThan", "6", "7") == 1);
    CHECK(op2("NumericGreaterThan", "6", "7") == 0);
    CHECK(op2("NumericLessThanEquals", "7", "7") == 1);
    CHECK(op2("NumericGreaterThanEquals", "6.5", "7") == 0);
    CHECK(op2("BooleanEquals", "true", "true") == 1);
    CHECK(op2("BooleanEquals", "true", "false") == 0);
}

static void test_timestamps_in_rules(void)
{
    const char *t = "\"2031-03-04T05:06:07Z\"";
    CHECK(op1("TimestampEquals", t, t) == 1);
    CHECK(op1("TimestampEquals", t, "\"2031-03-04T06:06:07+01:00\"") == 1); /* same instant */
    CHECK(op1("TimestampEquals", t, "\"2031-03-04T05:06:07.000Z\"") == 1);
    CHECK(op1("TimestampEquals", t, "\"2031-03-04T05:06:07.001Z\"") == 0);
    CHECK(op1("TimestampGreaterThan", t, "\"2031-03-04T05:06:07.001Z\"") == 1);
    CHECK(op1("TimestampLessThan", t, "\"2031-03-04T05:06:06.999999999Z\"") == 1);
    CHECK(op1("TimestampLessThan", t, "\"2031-03-04T01:06:07-05:00\"") == 0); /* 06:06Z */
    CHECK(op1("TimestampGreaterThanEquals", t, t) == 1);
    CHECK(op1("TimestampLessThanEquals", t, "\"2031-03-04T05:06:08Z\"") == 0);
    /* Not a timestamp: false, not an error. */
    CHECK(op1("TimestampEquals", t, "\"2031-03-04T05:06:07\"") == 0);
    CHECK(op1("TimestampEquals", t, "\"2031-03-04 05:06:07Z\"") == 0);
    CHECK(op1("TimestampLessThan", t, "\"1999-12-31\"") == 0);
    CHECK(op2("TimestampEquals", t, "\"2031-03-04T05:06:07Z\"") == 1);
    CHECK(op2("TimestampLessThan", t, "\"2031-03-04T05:06:08Z\"") == 1);
    CHECK(op2("TimestampGreaterThan", t, "\"2031-03-04T05:06:08Z\"") == 0);
    CHECK(op2("TimestampLessThanEquals", t, "\"not a time\"") == 0);
    CHECK(op2("TimestampGreaterThanEquals", t, "42") == 0);
    /* Far from 1970 still compares exactly. */
    CHECK(op1("TimestampLessThan", "\"9999-12-31T23:59:59Z\"", "\"2500-01-01T00:00:00Z\"") == 1);
    CHECK(op1("TimestampGreaterThan", "\"0001-01-01T00:00:00Z\"", "\"1200-05-05T00:00:00Z\"") == 1);
    CHECK(op1("IsTimestamp", "true", "\"2031-03-04T05:06:07.5+05:30\"") == 1);
    CHECK(op1("IsTimestamp", "true", "\"2031-02-29T05:06:07Z\"") == 0);
}

static const char *missing_cause(const char *p)
{
    static char buf[256];
    snprintf(buf, sizeof buf,
             "Invalid path '%s': The choice state's condition path references an invalid value.",
             p);
    return buf;
}

static int err_is(const char *path)
{
    return last_err.kind == VAL_ERR_RUNTIME && last_err.name &&
           !strcmp(last_err.name, "States.Runtime") && last_err.cause &&
           !strcmp(last_err.cause, missing_cause(path));
}

static void test_missing(void)
{
    static const char *const ops[] = {
        "\"StringEquals\":\"x\"",   "\"StringMatches\":\"*\"",   "\"NumericEquals\":1",
        "\"BooleanEquals\":true",   "\"TimestampEquals\":\"2030-01-01T00:00:00Z\"",
        "\"IsNull\":true",          "\"IsNull\":false",          "\"IsNumeric\":false",
        "\"IsString\":false",       "\"IsBoolean\":false",       "\"IsTimestamp\":false",
        "\"StringLessThanPath\":\"$.a\"",
    };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        char rule[256];
        snprintf(rule, sizeof rule, "{\"Variable\":\"$.gone.deeper\",%s,\"Next\":\"X\"}", ops[i]);
        CHECK_MSG(run(rule, "{\"a\":\"x\"}") == -1 && err_is("$.gone.deeper"), "%s", ops[i]);
    }
    /* IsPresent is the one operator that may ask about nothing. */
    CHECK(run("{\"Variable\":\"$.gone\",\"IsPresent\":false}", "{}") == 1);
    CHECK(run("{\"Variable\":\"$.gone\",\"IsPresent\":true}", "{}") == 0);
    CHECK(run("{\"Variable\":\"$.list[5]\",\"IsPresent\":true}", "{\"list\":[1]}") == 0);
    CHECK(run("{\"Variable\":\"$.list[0]\",\"IsPresent\":true}", "{\"list\":[1]}") == 1);
    /* A present null is present, and IsNull sees it. */
    CHECK(run("{\"Variable\":\"$.n\",\"IsPresent\":true}", "{\"n\":null}") == 1);
    CHECK(run("{\"Variable\":\"$.n\",\"IsNull\":true}", "{\"n\":null}") == 1);
    /* A …Path operand that names nothing is the same runtime error. */
    CHECK(run("{\"Variable\":\"$.a\",\"NumericEqualsPath\":\"$.other\"}", "{\"a\":1}") == -1 &&
          err_is("$.other"));
    /* The Variable is read first. */
    CHECK(run("{\"Variable\":\"$.b\",\"NumericEqualsPath\":\"$.c\"}", "{}") == -1 && err_is("$.b"));
}

static void test_roots(void)
{
    const char *ctx = "{\"Execution\":{\"Name\":\"run-7\"},\"State\":{\"RetryCount\":0}}";
    CHECK(run_env("{\"Variable\":\"$$.Execution.Name\",\"StringEquals\":\"run-7\"}", "{}", ctx,
                  NULL) == 1);
    CHECK(run_env("{\"Variable\":\"$.x\",\"StringEqualsPath\":\"$$.Execution.Name\"}",
                  "{\"x\":\"run-7\"}", ctx, NULL) == 1);
    CHECK(run_env("{\"Variable\":\"$limit\",\"NumericGreaterThan\":10}", "{}", NULL,
                  "{\"limit\":11}") == 1);
    CHECK(run_env("{\"Variable\":\"$cfg.mode\",\"StringEquals\":\"fast\"}", "{}", NULL,
                  "{\"cfg\":{\"mode\":\"fast\"}}") == 1);
    CHECK(run_env("{\"Variable\":\"$.n\",\"NumericLessThanPath\":\"$limit\"}", "{\"n\":3}", NULL,
                  "{\"limit\":4}") == 1);
    CHECK(run_env("{\"Variable\":\"$nope\",\"IsPresent\":false}", "{}", NULL, "{}") == 1);
    CHECK(run_env("{\"Variable\":\"$nope\",\"IsNull\":false}", "{}", NULL, "{}") == -1 &&
          err_is("$nope"));
    CHECK(run("{\"Variable\":\"$\",\"StringEquals\":\"whole\"}", "\"whole\"") == 1);
    CHECK(run("{\"Variable\":\"$['odd key']\",\"NumericEquals\":1}", "{\"odd key\":1}") == 1);
    CHECK(run("{\"Variable\":\"$.a[1].b\",\"BooleanEquals\":false}", "{\"a\":[0,{\"b\":false}]}") ==
          1);

    /* uses_context says whether the engine must build `$$`. */
    const char *rules[][2] = {
        {"{\"Variable\":\"$.a\",\"IsPresent\":true}", "0"},
        {"{\"Variable\":\"$$.State.Name\",\"IsPresent\":true}", "1"},
        {"{\"Variable\":\"$.a\",\"StringEqualsPath\":\"$$.Execution.Id\"}", "1"},
        {"{\"Not\":{\"Or\":[{\"Variable\":\"$.a\",\"IsNull\":true},"
         "{\"Variable\":\"$$.Map.Item.Index\",\"NumericEquals\":0}]}}",
         "1"},
        {"{\"And\":[{\"Variable\":\"$.a\",\"IsNull\":true},{\"Variable\":\"$b\",\"IsNull\":true}]}",
         "0"},
    };
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        json_t *r = J(rules[i][0]);
        asl_diags d = {0};
        asl_choice *c = asl_choice_compile(r, 0, "/p", &d);
        CHECK(c && asl_choice_uses_context(c) == (rules[i][1][0] == '1'));
        asl_choice_free(c);
        asl_diags_free(&d);
        json_decref(r);
    }
}

static void test_logic(void)
{
    const char *both = "{\"And\":[{\"Variable\":\"$.age\",\"NumericGreaterThanEquals\":18},"
                       "{\"Variable\":\"$.name\",\"IsString\":true}],\"Next\":\"Adult\"}";
    CHECK(run(both, "{\"age\":30,\"name\":\"Ada\"}") == 1);
    CHECK(run(both, "{\"age\":12,\"name\":\"Ada\"}") == 0);
    CHECK(run(both, "{\"age\":30,\"name\":5}") == 0);

    const char *either = "{\"Or\":[{\"Variable\":\"$.tier\",\"StringEquals\":\"gold\"},"
                         "{\"Variable\":\"$.spend\",\"NumericGreaterThan\":1000}]}";
    CHECK(run(either, "{\"tier\":\"gold\",\"spend\":0}") == 1);
    CHECK(run(either, "{\"tier\":\"tin\",\"spend\":5000}") == 1);
    CHECK(run(either, "{\"tier\":\"tin\",\"spend\":5}") == 0);
    /* Short-circuit: the missing $.spend is never read once gold matched... */
    CHECK(run(either, "{\"tier\":\"gold\"}") == 1);
    /* ...but is an error when it has to be read. */
    CHECK(run(either, "{\"tier\":\"tin\"}") == -1 && err_is("$.spend"));

    CHECK(run("{\"Not\":{\"Variable\":\"$.x\",\"IsNull\":true}}", "{\"x\":1}") == 1);
    CHECK(run("{\"Not\":{\"Variable\":\"$.x\",\"IsNull\":true}}", "{\"x\":null}") == 0);
    CHECK(run("{\"Not\":{\"Not\":{\"Variable\":\"$.x\",\"IsNull\":true}}}", "{\"x\":null}") == 1);
    CHECK(run("{\"Not\":{\"Variable\":\"$.x\",\"IsNull\":true}}", "{}") == -1 && err_is("$.x"));
    CHECK(run("{\"Not\":{\"Variable\":\"$.x\",\"IsPresent\":true}}", "{}") == 1);

    /* A nesting of 200 Nots around one test compiles and evaluates. */
    val_buf b = {0};
    for (int i = 0; i < 200; i++)
        val_buf_puts(&b, "{\"Not\":");
    val_buf_puts(&b, "{\"Variable\":\"$.x\",\"BooleanEquals\":true}");
    for (int i = 0; i < 200; i++)
        val_buf_putc(&b, '}');
    char *deep = val_buf_take(&b);
    CHECK(run(deep, "{\"x\":true}") == 1);
    CHECK(run(deep, "{\"x\":false}") == 0);
    free(deep);
}

static void test_validation(void)
{
    /* The caller's keys are ignored at the top level only. */
    CHECK(run("{\"Variable\":\"$.a\",\"IsNull\":false,\"Next\":\"N\",\"Assign\":{\"z\":1},"
              "\"Comment\":\"c\",\"Output\":{}}",
              "{\"a\":1}") == 1);
    CHECK(rejects_with("{\"And\":[{\"Variable\":\"$.a\",\"IsNull\":true,\"Next\":\"N\"}]}",
                       "SCHEMA_VALIDATION_FAILED: Field 'Next' is not supported at "
                       "/States/C/Choices[0]/And[0]/Next"));
    CHECK(rejects_with("{\"Not\":{\"Variable\":\"$.a\",\"IsNull\":true,\"Assign\":{}}}",
                       "Field 'Assign' is not supported at /States/C/Choices[0]/Not/Assign"));
    CHECK(rejects_with("{\"Variable\":\"$.a\",\"StringEquals\":\"x\",\"Colour\":1}",
                       "Field 'Colour' is not supported at /States/C/Choices[0]/Colour"));
    CHECK(rejects_with("{\"Variable\":\"$.a\",\"Next\":\"N\"}",
                       "exactly one comparison operator"));
    CHECK(rejects_with("{\"Next\":\"N\"}", "exactly one comparison operator"));
    CHECK(rejects_with("{\"Variable\":\"$.a\",\"StringEquals\":\"x\",\"IsNull\":true}",
                       "exactly one comparison operator"));
    CHECK(rejects_with("{\"And\":[{\"Variable\":\"$.a\",\"IsNull\":true}],\"Not\":{}}",
                       "exactly one comparison operator"));
    CHECK(rejects_with("{\"StringEquals\":\"x\"}", "must have a 'Variable' field"));
    CHECK(rejects_with("{\"Variable\":\"$.a\",\"And\":[{\"Variable\":\"$.a\",\"IsNull\":true}]}",
                       "Field 'Variable' is not supported"));
    CHECK(rejects_with("{\"Variable\":\"$.a\",\"StringEquals\":7}",
                       "Expected value of type String at /States/C/Choices[0]/StringEquals"));
    CHECK(rejects_with("{\"Variable\":\"$.a\",\"StringMatches\":null}",
                       "Expected value of type String"));
    CHECK(rejects_with("{\"Variable\":\"$.a\",\"NumericEquals\":\"7\"}",
                       "Expected value of type Number at /States/C/Choices[0]/NumericEquals"));
    CHECK(rejects_with("{\"Variable\":\"$.a\",\"BooleanEquals\":\"true\"}",
                       "Expected value of type Boolean"));
    CHECK(rejects_with("{\"Variable\":\"$.a\",\"IsPresent\":1}", "Expected value of type Boolean"));
    CHECK(rejects_with("{\"Variable\":\"$.a\",\"TimestampEquals\":\"tomorrow\"}",
                       "at /States/C/Choices[0]/TimestampEquals"));
    CHECK(rejects_with("{\"Variable\":\"$.a\",\"TimestampLessThan\":1}",
                       "Expected value of type String"));
    CHECK(rejects_with("{\"Variable\":\"$.a\",\"NumericEqualsPath\":5}",
                       "Expected value of type String at /States/C/Choices[0]/NumericEqualsPath"));
    CHECK(rejects_with("{\"Variable\":\"a.b\",\"IsNull\":true}",
                       "Value is not a Reference Path: "));
    CHECK(rejects_with("{\"Variable\":\"a.b\",\"IsNull\":true}", "at /States/C/Choices[0]/Variable"));
    CHECK(rejects_with("{\"Variable\":\"$.a[*]\",\"IsNull\":true}", "Value is not a Reference Path"));
    CHECK(rejects_with("{\"Variable\":\"$.a\",\"StringEqualsPath\":\"$..b\"}",
                       "Value is not a Reference Path"));
    CHECK(rejects_with("{\"Variable\":17,\"IsNull\":true}",
                       "Expected value of type String at /States/C/Choices[0]/Variable"));
    CHECK(rejects_with("{\"And\":[]}", "at /States/C/Choices[0]/And"));
    CHECK(rejects_with("{\"Or\":{}}", "Expected value of type Array at /States/C/Choices[0]/Or"));
    CHECK(rejects_with("{\"Not\":[]}", "Expected value of type Object at /States/C/Choices[0]/Not"));
    CHECK(rejects_with("{\"Or\":[{\"Variable\":\"$.a\",\"IsNull\":true},3]}",
                       "Expected value of type Object at /States/C/Choices[0]/Or[1]"));

    /* Every problem is reported, joined AWS's way. */
    size_t n = 0;
    char *m = reject("{\"And\":[{\"Variable\":\"$.a\",\"NumericEquals\":\"x\"},"
                     "{\"Variable\":\"$.b\",\"BooleanEquals\":1}]}",
                     1, &n);
    CHECK(n == 2);
    CHECK(m && !strcmp(m, "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: Expected "
                          "value of type Number at /States/C/Choices[0]/And[0]/NumericEquals, "
                          "SCHEMA_VALIDATION_FAILED: Expected value of type Boolean at "
                          "/States/C/Choices[0]/And[1]/BooleanEquals'"));
    free(m);

    /* A rule that is not an object at all. */
    m = reject("\"StringEquals\"", 1, &n);
    CHECK(m && n == 1 && strstr(m, "Expected value of type Object"));
    free(m);
}

/* 10,000 nested Nots: a diagnostic, not a stack overflow. Built directly
 * (jansson's parser has its own depth limit) and freed from the inside out. */
static void test_hostile_depth(void)
{
    enum { DEPTH = 10000 };
    json_t *leaf = J("{\"Variable\":\"$.x\",\"IsNull\":true}");
    json_t *cur = leaf;
    json_t **chain = malloc(DEPTH * sizeof *chain);
    for (int i = 0; i < DEPTH; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "Not", cur);
        chain[i] = o;
        cur = o;
    }
    asl_diags d = {0};
    asl_choice *c = asl_choice_compile(cur, 1, "/States/C/Choices[0]", &d);
    CHECK(c == NULL);
    CHECK(d.n == 1 && strstr(d.v[0].message, "nested deeper"));
    asl_choice_free(c);
    asl_diags_free(&d);
    /* jansson frees recursively: unlink from the outside in so each object
     * is freed with no children left. */
    for (int i = DEPTH - 1; i >= 0; i--) {
        json_incref(i ? chain[i - 1] : leaf);
        json_object_del(chain[i], "Not");
    }
    for (int i = DEPTH - 1; i >= 0; i--)
        json_decref(chain[i]);
    json_decref(leaf);
    free(chain);
}

static void test_timestamp_parse(void)
{
    int64_t ns = 0;
    CHECK(asl_timestamp_parse("1970-01-01T00:00:00Z", &ns) == 0 && ns == 0);
    CHECK(asl_timestamp_parse("1970-01-01T00:00:01.5Z", &ns) == 0 && ns == 1500000000);
    CHECK(asl_timestamp_parse("1970-01-01T01:00:00+01:00", &ns) == 0 && ns == 0);
    CHECK(asl_timestamp_parse("1969-12-31T19:00:00-05:00", &ns) == 0 && ns == 0);
    CHECK(asl_timestamp_parse("2001-09-09T01:46:40Z", &ns) == 0 && ns == 1000000000LL * 1000000000);
    CHECK(asl_timestamp_parse("2020-05-06T07:08:09.123456789Z", &ns) == 0 &&
          ns % 1000000000 == 123456789);
    /* More than nine fraction digits: accepted, the rest ignored. */
    CHECK(asl_timestamp_parse("2020-05-06T07:08:09.1234567891234Z", &ns) == 0 &&
          ns % 1000000000 == 123456789);
    CHECK(asl_timestamp_parse("2024-02-29T00:00:00Z", &ns) == 0);    /* leap year */
    CHECK(asl_timestamp_parse("2000-02-29T00:00:00Z", &ns) == 0);    /* 400-year rule */
    CHECK(asl_timestamp_parse("1900-02-29T00:00:00Z", &ns) == -1);   /* 100-year rule */
    CHECK(asl_timestamp_parse("2023-02-29T00:00:00Z", &ns) == -1);
    CHECK(asl_timestamp_parse("2023-02-30T00:00:00Z", &ns) == -1);
    CHECK(asl_timestamp_parse("2023-04-31T00:00:00Z", &ns) == -1);
    CHECK(asl_timestamp_parse("2023-13-01T00:00:00Z", &ns) == -1);
    CHECK(asl_timestamp_parse("2023-00-01T00:00:00Z", &ns) == -1);
    CHECK(asl_timestamp_parse("2023-01-00T00:00:00Z", &ns) == -1);
    CHECK(asl_timestamp_parse("2023-01-01T24:00:00Z", &ns) == -1);
    CHECK(asl_timestamp_parse("2023-01-01T23:60:00Z", &ns) == -1);
    CHECK(asl_timestamp_parse("2023-01-01T23:59:60Z", &ns) == -1);
    CHECK(asl_timestamp_parse("2023-01-01 23:59:59Z", &ns) == -1);   /* no T */
    CHECK(asl_timestamp_parse("2023-01-01t23:59:59Z", &ns) == -1);   /* lower-case t */
    CHECK(asl_timestamp_parse("2023-01-01T23:59:59", &ns) == -1);    /* no zone */
    CHECK(asl_timestamp_parse("2023-01-01T23:59:59z", &ns) == -1);
    CHECK(asl_timestamp_parse("2023-01-01T23:59:59.Z", &ns) == -1);  /* empty fraction */
    CHECK(asl_timestamp_parse("2023-01-01T23:59Z", &ns) == -1);      /* no seconds */
    CHECK(asl_timestamp_parse("2023-01-01T23:59:59+0100", &ns) == -1);
    CHECK(asl_timestamp_parse("2023-01-01T23:59:59+01", &ns) == -1);
    CHECK(asl_timestamp_parse("2023-01-01T23:59:59+19:00", &ns) == -1);
    CHECK(asl_timestamp_parse("2023-01-01T23:59:59+01:60", &ns) == -1);
    CHECK(asl_timestamp_parse("2023-01-01T23:59:59Z ", &ns) == -1);  /* trailing space */
    CHECK(asl_timestamp_parse("23-01-01T23:59:59Z", &ns) == -1);
    CHECK(asl_timestamp_parse("01-02-2023T23:59:59Z", &ns) == -1);
    CHECK(asl_timestamp_parse("2023-1-01T23:59:59Z", &ns) == -1);
    CHECK(asl_timestamp_parse("", &ns) == -1);
    CHECK(asl_timestamp_parse(NULL, &ns) == -1);
    /* Valid but beyond int64 nanoseconds: saturates. */
    CHECK(asl_timestamp_parse("9999-12-31T23:59:59Z", &ns) == 0 && ns == INT64_MAX);
    CHECK(asl_timestamp_parse("0001-01-01T00:00:00Z", &ns) == 0 && ns == INT64_MIN);

    char buf[40];
    asl_timestamp_format(0, buf, sizeof buf);
    CHECK(!strcmp(buf, "1970-01-01T00:00:00.000Z"));
    CHECK(asl_timestamp_parse("2024-02-29T23:59:58.987654321+00:00", &ns) == 0);
    asl_timestamp_format(ns, buf, sizeof buf);
    CHECK(!strcmp(buf, "2024-02-29T23:59:58.987Z"));
    asl_timestamp_format(-1, buf, sizeof buf); /* 1 ns before the epoch */
    CHECK(!strcmp(buf, "1969-12-31T23:59:59.999Z"));
    CHECK(asl_timestamp_parse("1901-03-01T12:00:00+03:00", &ns) == 0);
    asl_timestamp_format(ns, buf, sizeof buf);
    CHECK(!strcmp(buf, "1901-03-01T09:00:00.000Z"));
    /* Round trip over a spread of days. */
    int ok = 1;
    for (int64_t day = -40000; day < 40000; day += 37) {
        int64_t t = day * 86400LL * 1000000000LL + 12345000000LL;
        int64_t back;
        asl_timestamp_format(t, buf, sizeof buf);
        if (asl_timestamp_parse(buf, &back) || back != t)
            ok = 0;
    }
    CHECK(ok);
}

static void test_diag_message(void)
{
    asl_diags d = {0};
    char *m = asl_diags_message(&d);
    CHECK(!strcmp(m, "Invalid State Machine Definition: ''"));
    free(m);
    asl_diag_add(&d, "MISSING_TRANSITION_TARGET", "/States/A/Next", "Missing 'Next' target: %s",
                 "B");
    m = asl_diags_message(&d);
    CHECK(!strcmp(m, "Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET: Missing "
                     "'Next' target: B at /States/A/Next'"));
    free(m);
    asl_diag_add(&d, "SCHEMA_VALIDATION_FAILED", "/States/C", "Field '%s' is not supported", "X");
    asl_diag_add(&d, "SCHEMA_VALIDATION_FAILED", NULL, "no place");
    m = asl_diags_message(&d);
    CHECK(!strcmp(m, "Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET: Missing "
                     "'Next' target: B at /States/A/Next, SCHEMA_VALIDATION_FAILED: Field 'X' is "
                     "not supported at /States/C, SCHEMA_VALIDATION_FAILED: no place'"));
    free(m);
    CHECK(d.n == 3 && !strcmp(d.v[1].path, "/States/C"));
    asl_diags_free(&d);
    CHECK(d.n == 0 && d.v == NULL);
    asl_diags_free(&d); /* twice is fine */
    asl_diag_add(NULL, "X", "/", "ignored");
    asl_diags_free(NULL);
}

int main(void)
{
    test_type_matrix();
    test_strings();
    test_numbers();
    test_timestamps_in_rules();
    test_missing();
    test_roots();
    test_logic();
    test_validation();
    test_hostile_depth();
    test_timestamp_parse();
    test_diag_message();
    val_err_clear(&last_err);
    TEST_DONE();
}
