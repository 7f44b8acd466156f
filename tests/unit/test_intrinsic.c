/* test_intrinsic — unit tests for src/asl/intrinsic.c: parsing (arity,
 * escapes, nesting limit, hostile text), every States.* function with its
 * successes and failures, and the causes AWS words. asl_rand normally lives
 * in template.c; this file brings its own so it links without it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asl/asl.h"
#include "tap.h"

#ifndef NO_STANDALONE_RAND
uint64_t asl_rand(uint64_t *rng)
{
    uint64_t z = (*rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
#endif

static uint64_t rng_state = 42;
static json_t *g_input, *g_context, *g_vars;
static val_err g_err;

static void set_input(const char *text)
{
    json_decref(g_input);
    g_input = text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
}

/* Parses and evaluates expr against the current input; NULL on any error
 * (left in g_err). */
static json_t *ev(const char *expr)
{
    val_err_clear(&g_err);
    asl_intrinsic *f = asl_intrinsic_parse(expr, &g_err);
    if (!f)
        return NULL;
    struct asl_env env = {g_input, g_context, g_vars, &rng_state};
    json_t *v = asl_intrinsic_eval(f, &env, "x.$", &g_err);
    asl_intrinsic_free(f);
    return v;
}

static int ok_eq(const char *expr, const char *want)
{
    json_t *v = ev(expr);
    int ok = tap_json_eq(v, want);
    if (!ok)
        fprintf(stderr, "  expr: %s\n  err:  %s\n", expr, g_err.cause ? g_err.cause : "-");
    json_decref(v);
    return ok;
}

/* Evaluation fails at run time with States.Runtime and a cause containing want. */
static int runtime_err(const char *expr, const char *want)
{
    json_t *v = ev(expr);
    int ok = !v && g_err.kind == VAL_ERR_RUNTIME && g_err.name && strcmp(g_err.name, "States.Runtime") == 0 &&
             g_err.cause && strstr(g_err.cause, want);
    if (!ok) {
        char *d = v ? val_dump(v, NULL) : NULL;
        fprintf(stderr, "  expr: %s\n  got value %s, cause: %s\n  want cause containing: %s\n", expr,
                d ? d : "-", g_err.cause ? g_err.cause : "-", want);
        free(d);
    }
    json_decref(v);
    return ok;
}

/* Parsing fails (a definition error) with a cause containing want. */
static int parse_err(const char *expr, const char *want)
{
    val_err_clear(&g_err);
    asl_intrinsic *f = asl_intrinsic_parse(expr, &g_err);
    int ok = !f && g_err.kind == VAL_ERR_VALIDATION && g_err.cause && strstr(g_err.cause, want);
    if (!ok)
        fprintf(stderr, "  expr: %.200s\n  cause: %s\n  want: %s\n", expr, g_err.cause ? g_err.cause : "-", want);
    asl_intrinsic_free(f);
    return ok;
}

#define OK(expr, want) CHECK_MSG(ok_eq(expr, want), "%s", expr)
#define RT_ERR(expr, want) CHECK_MSG(runtime_err(expr, want), "%s", expr)
#define PARSE_ERR(expr, want) CHECK_MSG(parse_err(expr, want), "%.120s", expr)

static void test_detection(void)
{
    CHECK(asl_is_intrinsic("States.Array()"));
    CHECK(asl_is_intrinsic("  States.Format('x')"));
    CHECK(!asl_is_intrinsic("$.a"));
    CHECK(!asl_is_intrinsic("States.Array"));
    CHECK(!asl_is_intrinsic("States.(1)"));
    CHECK(!asl_is_intrinsic("Stat"));
    CHECK(!asl_is_intrinsic(NULL));
}

static void test_parse_errors(void)
{
    PARSE_ERR("States.Nope(1)", "'States.Nope' is not supported");
    PARSE_ERR("States.ArrayLength()", "takes 1 argument");
    PARSE_ERR("States.ArrayLength($.a, $.b)", "takes 1 argument");
    PARSE_ERR("States.MathRandom(1)", "takes 2 to 3 arguments");
    PARSE_ERR("States.MathRandom(1, 2, 3, 4)", "takes 2 to 3 arguments");
    PARSE_ERR("States.Format()", "at least 1 argument");
    PARSE_ERR("States.UUID(1)", "takes 0 arguments");
    PARSE_ERR("States.JsonMerge($.a, $.b)", "takes 3 arguments");
    PARSE_ERR("States.Format('abc)", "not closed with a single quote");
    PARSE_ERR("States.Format('abc\\", "escapes nothing");
    PARSE_ERR("States.Format('abc\\')", "not closed with a single quote");
    PARSE_ERR("States.Array(1, 2", "not closed");
    PARSE_ERR("States.Array(1 2)", "',' or ')' expected");
    PARSE_ERR("States.Array(1) trailing", "unexpected text after");
    PARSE_ERR("States.Array(@)", "unexpected character '@'");
    PARSE_ERR("States.Array(1.2.3)", "not a valid number");
    PARSE_ERR("States.Array(1e999)", "not a valid number");
    PARSE_ERR("States.Array(truthy)", "unexpected character 't'");
    PARSE_ERR("States.Array($.a[)", "is not valid");
    PARSE_ERR("$.a", "not an intrinsic function call");

    /* ten nested calls are allowed, eleven are not */
    char buf[512] = "";
    for (int i = 0; i < 9; i++)
        strcat(buf, "States.Array(");
    strcat(buf, "States.Array(7)");
    for (int i = 0; i < 9; i++)
        strcat(buf, ")");
    OK(buf, "[[[[[[[[[[7]]]]]]]]]]");
    char deeper[600] = "States.Array(";
    strcat(deeper, buf);
    strcat(deeper, ")");
    PARSE_ERR(deeper, "nested more than 10 deep");

    /* hostile: 10,000 nested calls fail quickly without deep recursion */
    size_t n = 10000, len = n * strlen("States.Array(") + n + 1;
    char *huge = malloc(len + 1);
    huge[0] = 0;
    char *p = huge;
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "States.Array(");
    for (size_t i = 0; i < n; i++)
        *p++ = ')';
    *p = 0;
    PARSE_ERR(huge, "nested more than 10 deep");
    free(huge);

    /* a parse error leaves nothing behind and a reused err is reset */
    val_err e = {0};
    val_err_set(&e, VAL_ERR_RUNTIME, "Old", "old cause");
    CHECK(!asl_intrinsic_parse("States.Nope()", &e));
    CHECK(e.kind == VAL_ERR_VALIDATION && strstr(e.cause, "Nope"));
    val_err_clear(&e);
    CHECK(!asl_intrinsic_parse("States.Nope()", NULL));
}

static void test_literals_and_escapes(void)
{
    set_input("{}");
    OK("States.Array('plain', 12, -3, 2.25, 1e3, true, false, null)",
       "[\"plain\", 12, -3, 2.25, 1000.0, true, false, null]");
    OK("States.Array( 'spaced' ,  7 )", "[\"spaced\", 7]");
    OK("States.Array('it\\'s', 'a\\\\b', '\\{x\\}')", "[\"it's\", \"a\\\\b\", \"{x}\"]");
    /* braces need no escape outside a Format template, other pairs stay */
    OK("States.Array('{\"k\": 1}', 'c:\\temp')", "[\"{\\\"k\\\": 1}\", \"c:\\\\temp\"]");
    OK("States.Array('caf\xC3\xA9, na\xC3\xAFve')", "[\"caf\\u00e9, na\\u00efve\"]");
    OK("States.Array()", "[]");
}

static void test_paths(void)
{
    set_input("{\"n\": {\"deep\": [10, 20, 30]}, \"s\": \"str\", \"nul\": null}");
    json_decref(g_context);
    g_context = json_loads("{\"Execution\": {\"Name\": \"run-7\"}}", 0, NULL);
    json_decref(g_vars);
    g_vars = json_loads("{\"myVar\": {\"inner\": 5}}", 0, NULL);

    OK("States.Array($.n.deep[1], $.s, $.nul)", "[20, \"str\", null]");
    OK("States.Array($)", "[{\"n\": {\"deep\": [10, 20, 30]}, \"s\": \"str\", \"nul\": null}]");
    OK("States.Array($$.Execution.Name)", "[\"run-7\"]");
    OK("States.Array($myVar.inner)", "[5]");
    OK("States.Array($.n['deep'][0])", "[10]");
    OK("States.ArrayLength($.n.deep[*])", "3");
    OK("States.Array($.n.deep[?(@ > 15)])", "[[20, 30]]");

    asl_intrinsic *f = asl_intrinsic_parse("States.Format('{}', $$.Execution.Name)", NULL);
    CHECK(f && asl_intrinsic_uses_context(f));
    asl_intrinsic_free(f);
    f = asl_intrinsic_parse("States.Format('{}', States.Array($.s))", NULL);
    CHECK(f && !asl_intrinsic_uses_context(f));
    asl_intrinsic_free(f);
    f = asl_intrinsic_parse("States.Array(States.Array($$.Execution.Name))", NULL);
    CHECK(f && asl_intrinsic_uses_context(f));
    asl_intrinsic_free(f);
    CHECK(!asl_intrinsic_uses_context(NULL));

    /* a missing argument names the whole expression as written and the input */
    set_input("{\"have\":1}");
    RT_ERR("States.Format('{}',  $.missing)",
           "The function 'States.Format('{}',  $.missing)' had the following error: The JsonPath argument "
           "for the field '$.missing' could not be found in the input '{\"have\":1}'");
    RT_ERR("States.Array(1, States.Array($.x.y))", "The function 'States.Array(1, States.Array($.x.y))'");
    RT_ERR("States.Array($$.Nope)", "for the field '$.Nope' could not be found in the input '{\"have\":1}'");
    RT_ERR("States.Array($noSuchVar)", "for the field '$noSuchVar' could not be found");
}

static void test_format(void)
{
    set_input("{\"who\": \"Ada\", \"n\": 3, \"r\": 0.5, \"t\": true, \"z\": null, "
              "\"obj\": {\"p\": 1, \"q\": [\"x\", 2]}, \"arr\": [1, \"two\"], \"tmpl\": \"<{}|{}>\", "
              "\"esc\": \"\\\\{{}\\\\}\", \"bad\": \"{x}\"}");
    OK("States.Format('Hi {}!', $.who)", "\"Hi Ada!\"");
    OK("States.Format('{}/{}/{}/{}', $.n, $.r, $.t, $.z)", "\"3/0.5/true/null\"");
    OK("States.Format('no placeholders')", "\"no placeholders\"");
    OK("States.Format('{}{}', '', '')", "\"\"");
    /* objects and arrays render as Java's toString */
    OK("States.Format('o={} a={}', $.obj, $.arr)", "\"o={p=1, q=[x, 2]} a=[1, two]\"");
    OK("States.Format('{}', 1.0)", "\"1.0\"");
    /* escaped braces are text, not placeholders */
    OK("States.Format('\\{\\} {} \\'q\\'', $.who)", "\"{} Ada 'q'\"");
    /* the template may come from a path (its own \\{ \\} are read the same way) */
    OK("States.Format($.tmpl, 1, 'b')", "\"<1|b>\"");
    OK("States.Format($.esc, 'mid')", "\"{mid}\"");
    OK("States.Format(States.Format('{}{}', '{', '}'), 9)", "\"9\"");
    OK("States.Format('{} then {}', States.MathAdd(1, 1), States.ArrayLength($.arr))", "\"2 then 2\"");

    RT_ERR("States.Format('{} {}', $.who)",
           "Invalid arguments in States.Format: number of arguments do not match the occurrences of {}.");
    RT_ERR("States.Format('{}', 1, 2)", "number of arguments do not match");
    RT_ERR("States.Format($.n)", "Invalid arguments in States.Format");
    RT_ERR("States.Format('a { b', 1)", "Invalid template in States.Format");
    RT_ERR("States.Format($.bad, 1)", "Invalid template in States.Format");
}

static void test_json_string(void)
{
    set_input("{\"text\": \"{\\\"k\\\": [1, 2.5, \\\"v\\\"]}\", \"blank\": \"  \", \"empty\": \"\", "
              "\"neg0\": \"-0\", \"broken\": \"{oops\", \"two\": \"1 2\", \"obj\": {\"a\": [1, {\"b\": null}]}, "
              "\"real\": 2.0, \"uni\": \"\\u00e9\\n\"}");
    OK("States.StringToJson($.text)", "{\"k\": [1, 2.5, \"v\"]}");
    OK("States.StringToJson($.blank)", "null");
    OK("States.StringToJson($.empty)", "null");
    OK("States.StringToJson($.neg0)", "0");
    OK("States.StringToJson('false')", "false");
    OK("States.StringToJson('\"quoted\"')", "\"quoted\"");
    RT_ERR("States.StringToJson($.broken)", "Invalid arguments in States.StringToJson");
    RT_ERR("States.StringToJson($.two)", "Invalid arguments in States.StringToJson");
    RT_ERR("States.StringToJson($.obj)", "Invalid arguments in States.StringToJson");
    RT_ERR("States.StringToJson(5)", "Invalid arguments in States.StringToJson");

    OK("States.JsonToString($.obj)", "\"{\\\"a\\\":[1,{\\\"b\\\":null}]}\"");
    OK("States.JsonToString($.real)", "\"2.0\"");
    OK("States.JsonToString($.uni)", "\"\\\"\\u00e9\\\\n\\\"\"");
    OK("States.JsonToString(null)", "\"null\"");
    OK("States.StringToJson(States.JsonToString($.obj))", "{\"a\": [1, {\"b\": null}]}");
}

static void test_arrays(void)
{
    set_input("{\"a\": [5, 6, 7, 8, 9], \"mixed\": [1, \"1\", [1], {\"k\": 1}, null], "
              "\"dups\": [3, \"x\", 3, {\"a\": 1, \"b\": 2}, \"x\", {\"b\": 2, \"a\": 1}, 3.0, [1]], "
              "\"empty\": [], \"notarr\": {\"k\": 1}}");
    OK("States.Array($.a, $.empty)", "[[5, 6, 7, 8, 9], []]");

    OK("States.ArrayPartition($.a, 2)", "[[5, 6], [7, 8], [9]]");
    OK("States.ArrayPartition($.a, 5)", "[[5, 6, 7, 8, 9]]");
    OK("States.ArrayPartition($.a, 100)", "[[5, 6, 7, 8, 9]]");
    OK("States.ArrayPartition($.empty, 3)", "[]");
    OK("States.ArrayPartition($.a, 2.6)", "[[5, 6, 7], [8, 9]]");
    RT_ERR("States.ArrayPartition($.a, 0)", "Invalid arguments in States.ArrayPartition");
    RT_ERR("States.ArrayPartition($.a, -2)", "Invalid arguments in States.ArrayPartition");
    RT_ERR("States.ArrayPartition($.a, 0.4)", "Invalid arguments in States.ArrayPartition");
    RT_ERR("States.ArrayPartition($.notarr, 2)", "Invalid arguments in States.ArrayPartition");
    RT_ERR("States.ArrayPartition($.a, '2')", "Invalid arguments in States.ArrayPartition");

    OK("States.ArrayContains($.a, 7)", "true");
    OK("States.ArrayContains($.a, 7.0)", "true");
    OK("States.ArrayContains($.a, 4)", "false");
    OK("States.ArrayContains($.mixed, '1')", "true");
    OK("States.ArrayContains($.mixed, States.Array(1))", "true");
    OK("States.ArrayContains($.mixed, States.StringToJson('{\"k\":1}'))", "true");
    OK("States.ArrayContains($.mixed, null)", "true");
    OK("States.ArrayContains($.empty, null)", "false");
    RT_ERR("States.ArrayContains($.notarr, 1)", "Invalid arguments in States.ArrayContains");

    OK("States.ArrayRange(1, 7, 2)", "[1, 3, 5, 7]");
    OK("States.ArrayRange(1, 8, 2)", "[1, 3, 5, 7]");
    OK("States.ArrayRange(4, 4, 1)", "[4]");
    OK("States.ArrayRange(5, 1, -2)", "[5, 3, 1]");
    OK("States.ArrayRange(5, 1, 1)", "[]");
    OK("States.ArrayRange(-3, 3, 3)", "[-3, 0, 3]");
    {
        json_t *v = ev("States.ArrayRange(1, 1000, 1)");
        CHECK(json_is_array(v) && json_array_size(v) == 1000 &&
              json_integer_value(json_array_get(v, 999)) == 1000);
        json_decref(v);
    }
    RT_ERR("States.ArrayRange(0, 1000, 1)", "Invalid arguments in States.ArrayRange");
    RT_ERR("States.ArrayRange(1, 5, 0)", "Invalid arguments in States.ArrayRange");
    RT_ERR("States.ArrayRange(1, 'a', 1)", "Invalid arguments in States.ArrayRange");
    RT_ERR("States.ArrayRange(0, 1e308, 1)", "Invalid arguments in States.ArrayRange");
    RT_ERR("States.ArrayRange(-2147483648, 2147483647, 1)", "Invalid arguments in States.ArrayRange");
    OK("States.ArrayRange(-2147483647, 2147483647, 2147483647)", "[-2147483647, 0, 2147483647]");

    OK("States.ArrayGetItem($.a, 0)", "5");
    OK("States.ArrayGetItem($.a, 4)", "9");
    OK("States.ArrayGetItem($.mixed, 3)", "{\"k\": 1}");
    RT_ERR("States.ArrayGetItem($.a, 5)", "Invalid arguments in States.ArrayGetItem");
    RT_ERR("States.ArrayGetItem($.a, -1)", "Invalid arguments in States.ArrayGetItem");
    RT_ERR("States.ArrayGetItem($.empty, 0)", "Invalid arguments in States.ArrayGetItem");
    RT_ERR("States.ArrayGetItem($.a, '1')", "Invalid arguments in States.ArrayGetItem");
    RT_ERR("States.ArrayGetItem($.notarr, 0)", "Invalid arguments in States.ArrayGetItem");
    RT_ERR("States.ArrayGetItem($.a, 1e300)", "Invalid arguments in States.ArrayGetItem");

    OK("States.ArrayLength($.a)", "5");
    OK("States.ArrayLength($.empty)", "0");
    RT_ERR("States.ArrayLength($.notarr)", "Invalid arguments in States.ArrayLength");
    RT_ERR("States.ArrayLength('abc')", "Invalid arguments in States.ArrayLength");

    OK("States.ArrayUnique($.dups)", "[3, \"x\", {\"a\": 1, \"b\": 2}, [1]]");
    OK("States.ArrayUnique($.empty)", "[]");
    OK("States.ArrayUnique($.a)", "[5, 6, 7, 8, 9]");
    RT_ERR("States.ArrayUnique($.notarr)", "Invalid arguments in States.ArrayUnique");
}

static void test_base64_and_hash(void)
{
    set_input("{\"s\": \"Step by step\", \"e\": \"\", \"u\": \"\\u00fcber \\ud83d\\ude00\"}");
    OK("States.Base64Encode($.s)", "\"U3RlcCBieSBzdGVw\"");
    OK("States.Base64Encode('ab')", "\"YWI=\"");
    OK("States.Base64Encode('abc')", "\"YWJj\"");
    OK("States.Base64Encode('a')", "\"YQ==\"");
    OK("States.Base64Encode($.e)", "\"\"");
    OK("States.Base64Decode('U3RlcCBieSBzdGVw')", "\"Step by step\"");
    OK("States.Base64Decode('YQ')", "\"a\""); /* padding is optional */
    OK("States.Base64Decode('')", "\"\"");
    OK("States.Base64Decode(States.Base64Encode($.u))", "\"\\u00fcber \\ud83d\\ude00\"");
    OK("States.Base64Decode('/w==')", "\"\\ufffd\""); /* a stray byte becomes U+FFFD */
    RT_ERR("States.Base64Decode('abc$')", "Invalid arguments in States.Base64Decode");
    RT_ERR("States.Base64Decode('Y')", "Invalid arguments in States.Base64Decode");
    RT_ERR("States.Base64Decode('YQ=')", "Invalid arguments in States.Base64Decode");
    RT_ERR("States.Base64Decode('YQ==YQ==')", "Invalid arguments in States.Base64Decode");
    RT_ERR("States.Base64Encode(12)", "Invalid arguments in States.Base64Encode");

    /* the 10,000-character limit, counted in Java chars */
    char *big = malloc(10100);
    memset(big, 'q', 10000);
    big[10000] = 0;
    json_t *in = json_object();
    json_object_set_new(in, "ok", json_string(big));
    big[10000] = 'q';
    big[10001] = 0;
    json_object_set_new(in, "over", json_string(big));
    /* 5,000 emoji are 10,000 Java chars but 20,000 bytes: still allowed */
    char *emoji = malloc(5001 * 4 + 1);
    for (int i = 0; i < 5000; i++)
        memcpy(emoji + 4 * i, "\xF0\x9F\x98\x80", 4);
    emoji[20000] = 0;
    json_object_set_new(in, "emoji", json_string(emoji));
    memcpy(emoji + 20000, "!", 2);
    json_object_set_new(in, "emoji_over", json_string(emoji));
    json_decref(g_input);
    g_input = in;
    json_t *v = ev("States.Base64Encode($.ok)");
    CHECK(json_is_string(v) && json_string_length(v) == 13336);
    json_decref(v);
    v = ev("States.Base64Encode($.emoji)");
    CHECK(json_is_string(v));
    json_decref(v);
    RT_ERR("States.Base64Encode($.over)", "Invalid arguments in States.Base64Encode");
    RT_ERR("States.Base64Encode($.emoji_over)", "Invalid arguments in States.Base64Encode");
    RT_ERR("States.Base64Decode($.over)", "Invalid arguments in States.Base64Decode");
    RT_ERR("States.Hash($.over, 'MD5')", "Invalid arguments in States.Hash");
    v = ev("States.Hash($.ok, 'SHA-512')");
    CHECK(json_is_string(v) && json_string_length(v) == 128);
    json_decref(v);
    free(big);
    free(emoji);

    set_input("{\"s\": \"stepd\"}");
    OK("States.Hash('', 'MD5')", "\"d41d8cd98f00b204e9800998ecf8427e\"");
    OK("States.Hash('abc', 'MD5')", "\"900150983cd24fb0d6963f7d28e17f72\"");
    OK("States.Hash('abc', 'SHA-1')", "\"a9993e364706816aba3e25717850c26c9cd0d89d\"");
    OK("States.Hash('abc', 'SHA-256')", "\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"");
    OK("States.Hash('abc', 'SHA-384')",
       "\"cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7\"");
    OK("States.Hash('abc', 'SHA-512')",
       "\"ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd"
       "454d4423643ce80e2a9ac94fa54ca49f\"");
    /* 56 bytes: the length no longer fits the first block */
    OK("States.Hash('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq', 'SHA-256')",
       "\"248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1\"");
    OK("States.Hash('abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu', "
       "'SHA-512')",
       "\"8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018501d289e4900f7e4331b99dec4b5433a"
       "c7d329eeb6dd26545e96e55b874be909\"");
    RT_ERR("States.Hash($.s, 'SHA-3')", "Invalid arguments in States.Hash");
    RT_ERR("States.Hash($.s, 'sha-256')", "Invalid arguments in States.Hash");
    RT_ERR("States.Hash(1, 'MD5')", "Invalid arguments in States.Hash");
}

static void test_json_merge(void)
{
    set_input("{\"l\": {\"x\": 1, \"keep\": {\"deep\": 1}, \"y\": 2}, \"r\": {\"keep\": {\"other\": 2}, \"z\": 3}, "
              "\"arr\": [1]}");
    OK("States.JsonMerge($.l, $.r, false)", "{\"x\": 1, \"keep\": {\"other\": 2}, \"y\": 2, \"z\": 3}");
    OK("States.JsonMerge($.l, States.StringToJson('{}'), false)",
       "{\"x\": 1, \"keep\": {\"deep\": 1}, \"y\": 2}");
    /* the inputs are shared, never changed */
    OK("States.Array($.l)", "[{\"x\": 1, \"keep\": {\"deep\": 1}, \"y\": 2}]");
    RT_ERR("States.JsonMerge($.l, $.r, true)", "Invalid arguments in States.JsonMerge");
    RT_ERR("States.JsonMerge($.l, $.r, 'false')", "Invalid arguments in States.JsonMerge");
    RT_ERR("States.JsonMerge($.l, $.arr, false)", "Invalid arguments in States.JsonMerge");
    RT_ERR("States.JsonMerge($.arr, $.l, false)", "Invalid arguments in States.JsonMerge");
}

static void test_math(void)
{
    set_input("{\"a\": 40, \"b\": 2}");
    OK("States.MathAdd($.a, $.b)", "42");
    OK("States.MathAdd(-10, 4)", "-6");
    OK("States.MathAdd($.a, -40)", "0");
    /* non-integers round half up first, each on its own (Java's Math.round) */
    OK("States.MathAdd(0.5, 0)", "1");
    OK("States.MathAdd(-0.5, 0)", "0");
    OK("States.MathAdd(-3.5, 0)", "-3");
    OK("States.MathAdd(2.4, 2.4)", "4");
    OK("States.MathAdd(-1.6, 0.6)", "-1");
    OK("States.MathAdd(2147483646, 1)", "2147483647");
    RT_ERR("States.MathAdd(2147483647, 1)", "Invalid arguments in States.MathAdd");
    RT_ERR("States.MathAdd(1e308, 1)", "Invalid arguments in States.MathAdd");
    RT_ERR("States.MathAdd(-1e308, 1)", "Invalid arguments in States.MathAdd");
    RT_ERR("States.MathAdd(4294967296, 0)", "Invalid arguments in States.MathAdd");
    RT_ERR("States.MathAdd('1', 2)", "Invalid arguments in States.MathAdd");
    RT_ERR("States.MathAdd(null, 2)", "Invalid arguments in States.MathAdd");

    /* unseeded: in [start, end), from the engine's rng */
    int in_range = 1, saw_low = 0, saw_high = 0;
    for (int i = 0; i < 400; i++) {
        json_t *v = ev("States.MathRandom(3, 6)");
        json_int_t x = json_integer_value(v);
        in_range &= json_is_integer(v) && x >= 3 && x < 6;
        saw_low |= x == 3;
        saw_high |= x == 5;
        json_decref(v);
    }
    CHECK(in_range && saw_low && saw_high);
    uint64_t before = rng_state;
    json_decref(ev("States.MathRandom(0, 100)"));
    CHECK(rng_state != before); /* the callee advances the engine's state */

    /* seeded: the same seed gives the same number, java.util.Random's */
    OK("States.MathRandom(0, 1000, 7)", "236");
    OK("States.MathRandom(0, 1000, 7)", "236");
    OK("States.MathRandom(10, 20, 42)", "10");
    OK("States.MathRandom(0, 1024, 12345)", "370");
    OK("States.MathRandom(5, 6, 99)", "5");
    {
        json_t *a = ev("States.MathRandom(-50, 50, -8)"), *b = ev("States.MathRandom(-50, 50, -8)");
        CHECK(a && val_equal(a, b) && json_integer_value(a) == -14);
        json_decref(a);
        json_decref(b);
    }
    /* bounds are truncated: [1.6, 5.4) is [1, 5) */
    int trunc_ok = 1;
    for (int i = 0; i < 100; i++) {
        json_t *v = ev("States.MathRandom(1.6, 5.4)");
        trunc_ok &= json_integer_value(v) >= 1 && json_integer_value(v) < 5;
        json_decref(v);
    }
    CHECK(trunc_ok);
    RT_ERR("States.MathRandom(5, 5)", "Invalid arguments in States.MathRandom");
    RT_ERR("States.MathRandom(9, 2)", "Invalid arguments in States.MathRandom");
    RT_ERR("States.MathRandom(1.4, 1.6)", "Invalid arguments in States.MathRandom");
    RT_ERR("States.MathRandom('a', 5)", "Invalid arguments in States.MathRandom");
    RT_ERR("States.MathRandom(1, 5, 'seed')", "Invalid arguments in States.MathRandom");
    RT_ERR("States.MathRandom(1, 5, null)", "Invalid arguments in States.MathRandom");
    RT_ERR("States.MathRandom(0, 1e308)", "Invalid arguments in States.MathRandom");
    RT_ERR("States.MathRandom(-2147483648, 2147483647)", "Invalid arguments in States.MathRandom");
}

static void test_string_split(void)
{
    set_input("{\"csv\": \"red,green,,blue\", \"multi\": \"a-b_c d\", \"edge\": \";;x;;\", "
              "\"uni\": \"x\\u00e9y\\u00e9z\", \"nl\": \"one\\ntwo\"}");
    OK("States.StringSplit($.csv, ',')", "[\"red\", \"green\", \"blue\"]");
    OK("States.StringSplit($.multi, '-_ ')", "[\"a\", \"b\", \"c\", \"d\"]");
    OK("States.StringSplit($.edge, ';')", "[\"x\"]");
    OK("States.StringSplit(';;;', ';')", "[]");
    OK("States.StringSplit('', ',')", "[]");
    OK("States.StringSplit('whole', '')", "[\"whole\"]");
    OK("States.StringSplit('whole', '|')", "[\"whole\"]");
    OK("States.StringSplit($.uni, '\xC3\xA9')", "[\"x\", \"y\", \"z\"]");
    OK("States.StringSplit($.nl, '\n')", "[\"one\", \"two\"]");
    /* a multi-byte delimiter does not split a different character sharing its lead byte */
    OK("States.StringSplit('a\xC3\xA8" "b', '\xC3\xA9')", "[\"a\\u00e8b\"]");
    RT_ERR("States.StringSplit(5, ',')", "Invalid arguments in States.StringSplit");
    RT_ERR("States.StringSplit($.csv, 1)", "Invalid arguments in States.StringSplit");
}

static int is_uuid_v4(const char *s)
{
    if (!s || strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return 0;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return 0;
        }
    }
    return s[14] == '4' && strchr("89ab", s[19]);
}

static void test_uuid(void)
{
    set_input("{}");
    json_t *a = ev("States.UUID()"), *b = ev("States.UUID()");
    CHECK(json_is_string(a) && is_uuid_v4(json_string_value(a)));
    CHECK(json_is_string(b) && is_uuid_v4(json_string_value(b)));
    CHECK(a && b && !val_equal(a, b));
    json_decref(a);
    json_decref(b);
    /* without an engine rng it still works */
    asl_intrinsic *f = asl_intrinsic_parse("States.UUID()", NULL);
    struct asl_env env = {g_input, NULL, NULL, NULL};
    json_t *v = asl_intrinsic_eval(f, &env, "id.$", NULL);
    CHECK(json_is_string(v) && is_uuid_v4(json_string_value(v)));
    json_decref(v);
    asl_intrinsic_free(f);
}

static void test_nesting_and_reuse(void)
{
    set_input("{\"name\": \"alpha-beta-gamma\"}");
    OK("States.ArrayGetItem(States.StringSplit($.name, '-'), "
       "States.MathAdd(States.ArrayLength(States.StringSplit($.name, '-')), -1))",
       "\"gamma\"");
    /* one parse, many evaluations with different inputs */
    asl_intrinsic *f = asl_intrinsic_parse("States.Format('<{}>', $.name)", NULL);
    CHECK(f != NULL);
    const char *names[] = {"{\"name\": \"one\"}", "{\"name\": 2}", "{\"name\": [3]}"};
    const char *want[] = {"\"<one>\"", "\"<2>\"", "\"<[3]>\""};
    for (int i = 0; i < 3; i++) {
        set_input(names[i]);
        struct asl_env env = {g_input, NULL, NULL, &rng_state};
        json_t *v = asl_intrinsic_eval(f, &env, "x.$", NULL);
        CHECK_JSON(v, want[i]);
        json_decref(v);
    }
    asl_intrinsic_free(f);
    asl_intrinsic_free(NULL);
}

static void test_hostile(void)
{
    /* a huge literal string and many arguments parse and run */
    size_t n = 200000;
    char *expr = malloc(n + 64);
    strcpy(expr, "States.ArrayLength(States.Array(");
    size_t at = strlen(expr);
    for (size_t i = 0; i < 20000; i++) {
        memcpy(expr + at, "1,", 2);
        at += 2;
    }
    memcpy(expr + at, "1))", 4);
    set_input("{}");
    OK(expr, "20001");

    strcpy(expr, "States.StringSplit('");
    at = strlen(expr);
    memset(expr + at, 'z', n);
    strcpy(expr + at + n, "', 'q')");
    json_t *v = ev(expr);
    CHECK(json_is_array(v) && json_array_size(v) == 1 && json_string_length(json_array_get(v, 0)) == n);
    json_decref(v);
    free(expr);

    /* a deep value given to Format and ArrayUnique stays within bounds */
    size_t depth = 1500;
    char *deep = malloc(2 * depth + 16);
    strcpy(deep, "{\"d\":");
    at = strlen(deep);
    for (size_t i = 0; i < depth; i++)
        deep[at++] = '[';
    for (size_t i = 0; i < depth; i++)
        deep[at++] = ']';
    strcpy(deep + at, "}");
    set_input(deep);
    free(deep);
    CHECK(g_input != NULL);
    RT_ERR("States.Format('{}', $.d)", "Invalid arguments in States.Format");
    v = ev("States.ArrayUnique(States.Array($.d, $.d))");
    CHECK(json_is_array(v) && json_array_size(v) == 1);
    json_decref(v);

    /* ArrayUnique over many distinct values is not quadratic */
    json_t *big = json_array();
    for (int i = 0; i < 100000; i++)
        json_array_append_new(big, json_integer(i % 50000));
    json_t *in = json_object();
    json_object_set_new(in, "big", big);
    json_decref(g_input);
    g_input = in;
    OK("States.ArrayLength(States.ArrayUnique($.big))", "50000");
    OK("States.ArrayLength(States.ArrayPartition($.big, 1))", "100000");
}

int main(void)
{
    test_detection();
    test_parse_errors();
    test_literals_and_escapes();
    test_paths();
    test_format();
    test_json_string();
    test_arrays();
    test_base64_and_hash();
    test_json_merge();
    test_math();
    test_string_split();
    test_uuid();
    test_nesting_and_reuse();
    test_hostile();
    json_decref(g_input);
    json_decref(g_context);
    json_decref(g_vars);
    val_err_clear(&g_err);
    TEST_DONE();
}
