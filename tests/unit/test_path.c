/* test_path — unit tests of src/asl/path.c: parsing (roots, flags,
 * Reference Paths, hostile input), Jayway's normalized form, evaluation of
 * definite and indefinite paths, the miss causes AWS prints, and ResultPath
 * writes (copy-on-write of the spine, AWS's failure causes). */
#include <time.h>

#include "asl/asl.h"
#include "asl/asl.h"
#include "tap.h"

static json_t *J(const char *text)
{
    json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
    if (!v) {
        fprintf(stderr, "bad test JSON: %s\n", text);
        abort();
    }
    return v;
}

/* Evaluates text on input (and optional context/vars JSON); NULL when the
 * path does not parse or names nothing. */
static json_t *ev(const char *text, const char *input)
{
    val_err e = {0};
    asl_path *p = asl_path_parse(text, 0, &e);
    if (!p) {
        fprintf(stderr, "  parse failed: %s: %s\n", text, e.cause);
        val_err_clear(&e);
        return NULL;
    }
    json_t *in = J(input);
    struct asl_env env = {.input = in};
    json_t *r = asl_path_eval(p, &env);
    json_decref(in);
    asl_path_free(p);
    return r;
}

static int ev_is(const char *text, const char *input, const char *want)
{
    json_t *r = ev(text, input);
    int ok = want ? tap_json_eq(r, want) : r == NULL;
    if (!ok)
        fprintf(stderr, "  path %s on %s\n", text, input);
    json_decref(r);
    return ok;
}
#define EV(text, input, want) CHECK(ev_is(text, input, want))

/* 1 when text is refused under flags (and the cause mentions needle). */
static int refused(const char *text, int flags, const char *needle)
{
    val_err e = {0};
    asl_path *p = asl_path_parse(text, flags, &e);
    int ok = !p && e.kind == VAL_ERR_VALIDATION && e.cause && (!needle || strstr(e.cause, needle));
    if (!ok)
        fprintf(stderr, "  %s: %s\n", text, p ? "accepted" : e.cause);
    asl_path_free(p);
    val_err_clear(&e);
    return ok;
}

static int normal_is(const char *text, const char *want)
{
    asl_path *p = asl_path_parse(text, 0, NULL);
    int ok = p && !strcmp(asl_path_normalized(p), want);
    if (!ok)
        fprintf(stderr, "  %s -> %s, want %s\n", text, p ? asl_path_normalized(p) : "(refused)", want);
    asl_path_free(p);
    return ok;
}

static int miss_is(const char *text, const char *input, const char *want)
{
    asl_path *p = asl_path_parse(text, 0, NULL);
    json_t *in = J(input);
    struct asl_env env = {.input = in};
    char *m = p ? asl_path_miss_cause(p, &env) : NULL;
    int ok = want ? m && !strcmp(m, want) : !m;
    if (!ok)
        fprintf(stderr, "  %s on %s: got %s\n  want %s\n", text, input, m ? m : "(null)",
                want ? want : "(null)");
    free(m);
    json_decref(in);
    asl_path_free(p);
    return ok;
}

static void test_parse(void)
{
    val_err e = {0};
    asl_path *p = asl_path_parse("$", 0, &e);
    CHECK(p && asl_path_is_root(p) && asl_path_is_definite(p) && asl_path_root(p) == ASL_ROOT_INPUT);
    CHECK(p && !strcmp(asl_path_text(p), "$") && !strcmp(asl_path_normalized(p), "$"));
    asl_path_free(p);

    p = asl_path_parse("$$.Execution.Input", ASL_PATH_REFERENCE, &e);
    CHECK(p && asl_path_root(p) == ASL_ROOT_CONTEXT && !asl_path_is_root(p));
    CHECK(p && !strcmp(asl_path_normalized(p), "$$['Execution']['Input']"));
    asl_path_free(p);

    p = asl_path_parse("$my_var.a[0]", 0, &e);
    CHECK(p && asl_path_root(p) == ASL_ROOT_VAR && !strcmp(asl_path_var(p), "my_var"));
    CHECK(p && !strcmp(asl_path_normalized(p), "$my_var['a'][0]"));
    asl_path_free(p);

    p = asl_path_parse("$x", 0, &e);
    CHECK(p && asl_path_root(p) == ASL_ROOT_VAR && !strcmp(asl_path_var(p), "x") && !asl_path_is_root(p));
    asl_path_free(p);

    p = asl_path_parse("  $.a  ", 0, &e); /* Jayway trims; the text stays as written */
    CHECK(p && !strcmp(asl_path_text(p), "  $.a  ") && !strcmp(asl_path_normalized(p), "$['a']"));
    asl_path_free(p);

    /* flags */
    CHECK(refused("$$.a", ASL_PATH_NO_CONTEXT, "$$"));
    CHECK(refused("$v.a", ASL_PATH_NO_VARS, "variables"));
    CHECK(refused("$v", ASL_PATH_NO_VARS, NULL));

    /* Reference Paths */
    const char *not_ref[] = {"$.a[*]", "$.a.*", "$..a", "$.a[1:2]", "$['a','b']", "$[0,1]",
                             "$.a[?(@.x)]", "$.a..b"};
    for (size_t i = 0; i < sizeof not_ref / sizeof *not_ref; i++) {
        CHECK(refused(not_ref[i], ASL_PATH_REFERENCE, "Reference Path"));
        asl_path *q = asl_path_parse(not_ref[i], 0, NULL);
        CHECK(q && !asl_path_is_definite(q) == (i != 4)); /* a final ['a','b'] is definite in Jayway */
        asl_path_free(q);
    }
    const char *ref[] = {"$", "$.a", "$.a.b[0]", "$['a']['b c']", "$[\"a\"]", "$.a[-1]", "$.a-b.c d"};
    for (size_t i = 0; i < sizeof ref / sizeof *ref; i++) {
        asl_path *q = asl_path_parse(ref[i], ASL_PATH_REFERENCE, &e);
        CHECK_MSG(i == 6 ? !q : q && asl_path_is_definite(q), "%s", ref[i]);
        asl_path_free(q);
        val_err_clear(&e);
    }

    /* malformed */
    const char *bad[] = {"", "a", "$.", "$..", "$.a.", "$a-b", "$[", "$[0", "$['a", "$['a'", "$[]",
                         "$[x]", "$.a(", "$.length()", "$...a", "$[?(@.a ==)]", "$[?(@.a == 1]",
                         "$[?(@.a =~ /x/)]", "$[?(@.a in [1])]", "$[?(1)]", "$[1:2:0]",
                         "$[99999999999]", "$.*x", "$ .a", "$.a b"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK(refused(bad[i], 0, NULL));
    CHECK(refused("$.", 0, "must not end"));
    CHECK(refused("$[0]x", 0, "expected '.' or '['"));
    CHECK(refused("$.a[0]b", 0, "expected '.' or '['"));
    CHECK(refused("$[*]", ASL_PATH_REFERENCE, "wildcard"));

    /* hostile sizes: long texts parse without deep recursion */
    size_t n = 10000;
    char *big = malloc(2 * n + 2);
    big[0] = '$';
    for (size_t i = 0; i < n; i++) {
        big[1 + 2 * i] = '.';
        big[2 + 2 * i] = 'a';
    }
    big[1 + 2 * n] = 0;
    p = asl_path_parse(big, ASL_PATH_REFERENCE, &e);
    CHECK(p && asl_path_is_definite(p));
    json_t *in = J("{\"a\":{\"a\":1}}");
    struct asl_env env = {.input = in};
    CHECK(p && asl_path_eval(p, &env) == NULL);
    json_decref(in);
    asl_path_free(p);
    free(big);

    /* 10,000 nested parentheses are refused, not followed */
    val_buf b = {0};
    val_buf_puts(&b, "$[?(");
    for (size_t i = 0; i < n; i++)
        val_buf_putc(&b, '(');
    val_buf_puts(&b, "@.a");
    for (size_t i = 0; i < n; i++)
        val_buf_putc(&b, ')');
    val_buf_puts(&b, ")]");
    CHECK(refused(b.p, 0, "too deeply"));
    val_buf_free(&b);
    val_buf_puts(&b, "$[?(");
    for (size_t i = 0; i < n; i++)
        val_buf_putc(&b, '!');
    val_buf_puts(&b, "@.a)]");
    CHECK(refused(b.p, 0, "too deeply"));
    val_buf_free(&b);

    /* a long && chain is flat, so it is fine */
    val_buf_puts(&b, "$[?(@.a");
    for (size_t i = 0; i < n; i++)
        val_buf_puts(&b, " && @.a");
    val_buf_puts(&b, ")]");
    json_t *r = ev(b.p, "[{\"a\":1},{\"b\":2}]");
    CHECK_JSON(r, "[{\"a\":1}]");
    json_decref(r);
    val_buf_free(&b);

    /* errors go only to err, and err may be NULL */
    CHECK(asl_path_parse("$.", 0, NULL) == NULL);
    asl_path_free(NULL);
    val_err_clear(&e);
}

static void test_normalized(void)
{
    CHECK(normal_is("$.a.b[0]", "$['a']['b'][0]"));
    CHECK(normal_is("$.NoSuchInputPath", "$['NoSuchInputPath']"));
    CHECK(normal_is("$['a b'].c", "$['a b']['c']"));
    CHECK(normal_is("$.a[*].b", "$['a'][*]['b']"));
    CHECK(normal_is("$.a.*", "$['a'][*]"));
    CHECK(normal_is("$..a", "$..['a']"));
    CHECK(normal_is("$.a[1:5]", "$['a'][1:5]"));
    CHECK(normal_is("$.a[:1]", "$['a'][:1]"));
    CHECK(normal_is("$.a[-2:]", "$['a'][-2:]"));
    CHECK(normal_is("$.a[::2]", "$['a'][::2]"));
    CHECK(normal_is("$['a','b']", "$['a','b']"));
    CHECK(normal_is("$[0, 1]", "$[0,1]"));
    CHECK(normal_is("$.u[?(@.s == 0)]", "$['u'][?]"));
    CHECK(normal_is("$.a.0", "$['a']['0']"));
    CHECK(normal_is("$[ 'a' ][ 2 ]", "$['a'][2]"));
}

static void test_eval_definite(void)
{
    const char *doc = "{\"a\":{\"b\":[10,20,30],\"c d\":1,\"e-f\":2,\"0\":\"zero\"},\"n\":null,\"s\":\"x\"}";
    EV("$", doc, doc);
    EV("$.a.b", doc, "[10,20,30]");
    EV("$.a.b[0]", doc, "10");
    EV("$.a.b[2]", doc, "30");
    EV("$.a.b[-1]", doc, "30");
    EV("$.a.b[3]", doc, NULL);
    EV("$.a.b[-4]", doc, NULL);
    EV("$['a']['c d']", doc, "1");
    EV("$[\"a\"][\"c d\"]", doc, "1");
    EV("$.a.e-f", doc, "2");
    EV("$.a['e-f']", doc, "2");
    EV("$.a.0", doc, "\"zero\"");     /* a key on objects */
    EV("$.a.b.0", doc, NULL);         /* not an index on arrays */
    EV("$.a[0]", doc, NULL);          /* an index needs an array */
    EV("$.n", doc, "null");           /* present and null is a value */
    EV("$.n.x", doc, NULL);
    EV("$.s.x", doc, NULL);
    EV("$.missing", doc, NULL);
    EV("$.missing.deeper", doc, NULL);
    EV("$.['a'].e-f", doc, "2"); /* Jayway accepts a bracket after a dot */
    CHECK(refused("$.['a'].c d", 0, "bracket notation"));
    EV("$['a','s']", doc, "{\"a\":{\"b\":[10,20,30],\"c d\":1,\"e-f\":2,\"0\":\"zero\"},\"s\":\"x\"}");
    EV("$['s','nope']", doc, "{\"s\":\"x\"}");
    EV("$['nope1','nope2']", doc, "{}");
    EV("$[0]", "[1,2]", "1");
    EV("$[0][1]", "[[1,2]]", "2");

    /* AWS's escape case: the backslash stays part of the key */
    json_t *in = json_object();
    json_object_set_new(in, "Test\\\"\"Name\"", json_string("Value\"\\"));
    asl_path *p = asl_path_parse("$['Test\\\"\"Name\"']", 0, NULL);
    struct asl_env env = {.input = in};
    json_t *r = p ? asl_path_eval(p, &env) : NULL;
    CHECK(r && json_is_string(r) && !strcmp(json_string_value(r), "Value\"\\"));
    json_decref(r);
    asl_path_free(p);
    json_decref(in);

    /* a definite result is the value itself, shared, not a copy */
    in = J(doc);
    env.input = in;
    p = asl_path_parse("$.a.b", 0, NULL);
    r = asl_path_eval(p, &env);
    CHECK(r == json_object_get(json_object_get(in, "a"), "b"));
    CHECK(r && r->refcount == 2);
    json_decref(r);
    asl_path_free(p);
    json_decref(in);

    /* roots: context and variables */
    json_t *ctx = J("{\"Execution\":{\"Input\":{\"k\":1}},\"Map\":{\"Item\":{\"Value\":[5]}}}");
    json_t *vars = J("{\"x\":{\"y\":[7,8]},\"s\":\"str\"}");
    struct asl_env env2 = {.input = NULL, .context = ctx, .vars = vars};
    struct {
        const char *path, *want;
    } roots[] = {
        {"$$.Execution.Input.k", "1"}, {"$$.Map.Item.Value[0]", "5"}, {"$$", NULL},
        {"$x.y[1]", "8"},              {"$x", "{\"y\":[7,8]}"},      {"$s", "\"str\""},
        {"$nope", NULL},               {"$nope.a", NULL},            {"$x.y[*]", "[7,8]"},
    };
    for (size_t i = 0; i < sizeof roots / sizeof *roots; i++) {
        p = asl_path_parse(roots[i].path, 0, NULL);
        r = p ? asl_path_eval(p, &env2) : NULL;
        if (i == 2)
            CHECK(r == ctx);
        else
            CHECK_MSG(roots[i].want ? tap_json_eq(r, roots[i].want) : r == NULL, "%s", roots[i].path);
        json_decref(r);
        asl_path_free(p);
    }
    /* no input, no context, no vars: nothing, and no crash */
    struct asl_env none = {0};
    p = asl_path_parse("$.a", 0, NULL);
    CHECK(asl_path_eval(p, &none) == NULL);
    asl_path_free(p);
    p = asl_path_parse("$v[*]", 0, NULL);
    CHECK(asl_path_eval(p, &none) == NULL);
    asl_path_free(p);
    json_decref(ctx);
    json_decref(vars);
}

static void test_eval_indefinite(void)
{
    const char *items = "{\"items\":[{\"v\":0},{\"v\":1},{\"v\":2},{\"v\":3},{\"w\":4}]}";
    EV("$.items[*].v", items, "[0,1,2,3]");
    EV("$.items[1:3].v", items, "[1,2]");
    EV("$.items[1:]", items, "[{\"v\":1},{\"v\":2},{\"v\":3},{\"w\":4}]");
    EV("$.items[:1]", items, "[{\"v\":0}]"); /* one match stays an array */
    EV("$.items[-2:]", items, "[{\"v\":3},{\"w\":4}]");
    EV("$.items[:-3]", items, "[{\"v\":0},{\"v\":1}]");
    EV("$.items[::2].v", items, "[0,2]");
    EV("$.items[1:100].w", items, "[4]");
    EV("$.items[3:1]", items, "[]");
    EV("$.items[::-1][0]", "{\"items\":[[1],[2]]}", "[2,1]");
    EV("$.items[0,2,-1,9]", items, "[{\"v\":0},{\"v\":2},{\"w\":4}]");
    EV("$.items[*].nope", items, "[]");

    /* AWS: an indefinite path on missing data is an empty array, not an error */
    EV("$.items[*]", "{}", "[]");
    EV("$.item.items[1:5].itemValue", "{}", "[]");
    EV("$[*]", "{}", "[]");
    EV("$.items[*]", "{\"items\":\"str\"}", "[]");

    /* wildcards on objects give the values in order */
    EV("$.*", "{\"a\":1,\"b\":[2],\"c\":{\"d\":3}}", "[1,[2],{\"d\":3}]");
    EV("$[*].d", "{\"a\":1,\"b\":[2],\"c\":{\"d\":3}}", "[3]");
    EV("$['a','c'].d", "{\"a\":{\"d\":1},\"b\":{\"d\":2},\"c\":{\"d\":3}}", "[1,3]");
    EV("$[*]['x','y']", "[{\"x\":1,\"y\":2,\"z\":3},{\"y\":4},5]", "[{\"x\":1,\"y\":2},{\"y\":4}]");

    /* deep scan: document order, the node itself before its descendants */
    const char *deep = "{\"a\":1,\"b\":{\"a\":2,\"c\":[{\"a\":3},{\"a\":{\"a\":4}}]},\"d\":[[{\"a\":5}]]}";
    EV("$..a", deep, "[1,2,3,{\"a\":4},4,5]");
    EV("$.b..a", deep, "[2,3,{\"a\":4},4]");
    EV("$..c[1].a", deep, "[{\"a\":4}]");
    EV("$..[0]", "{\"x\":[1,[2,3]],\"y\":{\"z\":[4]}}", "[1,2,4]");
    EV("$..*", "{\"a\":{\"b\":1},\"c\":[2]}", "[{\"b\":1},[2],1,2]");
    EV("$..nope", deep, "[]");
    EV("$..[?(@.a == 3)]", deep, "[{\"a\":3}]");
    EV("$..[?(@.a)].a", deep, "[1,2,3,{\"a\":4},4,5]");

    /* filters */
    const char *users = "{\"users\":[{\"year\":1997,\"status\":0,\"name\":\"ann\",\"ok\":true},"
                        "{\"year\":1998,\"status\":1,\"name\":\"bob\",\"ok\":false,\"x\":null},"
                        "{\"year\":2001.5,\"status\":\"1\",\"name\":\"cy\"}]}";
    EV("$.users[?(@.status == 0)]", users,
       "[{\"year\":1997,\"status\":0,\"name\":\"ann\",\"ok\":true}]"); /* the corpus case */
    EV("$.users[?(@.status == 0)].name", users, "[\"ann\"]");
    EV("$.users[?(@.year > 1997)].name", users, "[\"bob\",\"cy\"]");
    EV("$.users[?(@.year >= 1998 && @.year < 2000)].name", users, "[\"bob\"]");
    EV("$.users[?(@.year <= 1997 || @.name == 'cy')].name", users, "[\"ann\",\"cy\"]");
    EV("$.users[?(@.name != 'bob')].name", users, "[\"ann\",\"cy\"]");
    EV("$.users[?(@.name < \"b\")].name", users, "[\"ann\"]");
    EV("$.users[?(@.name > 'b')].name", users, "[\"bob\",\"cy\"]");
    EV("$.users[?(@.ok == true)].name", users, "[\"ann\"]");
    EV("$.users[?(@.ok == false)].name", users, "[\"bob\"]");
    EV("$.users[?(@.x == null)].name", users, "[\"bob\"]");
    EV("$.users[?(@.ok)].name", users, "[\"ann\",\"bob\"]");         /* exists, even when false */
    EV("$.users[?(@.x)].name", users, "[\"bob\"]");                  /* exists, even when null */
    EV("$.users[?(!@.ok)].name", users, "[\"cy\"]");
    EV("$.users[?(!(@.status == 0))].name", users, "[\"bob\",\"cy\"]");
    EV("$.users[?(@.status == 1)].name", users, "[\"bob\",\"cy\"]"); /* "1" == 1 as in Jayway */
    EV("$.users[?(@.status > 0)].name", users, "[\"bob\"]");         /* no ordering across types */
    EV("$.users[?(@.nope == 1)]", users, "[]");
    EV("$.users[?(@.nope != 1)].name", users, "[\"ann\",\"bob\",\"cy\"]");
    EV("$.users[?(@.year == 2001.5)].name", users, "[\"cy\"]");
    EV("$.users[?(@.year == 1.9970e3)].name", users, "[\"ann\"]");
    EV("$.users[?(@['name'] == 'ann')].year", users, "[1997]");
    EV("$.users[?( (@.status==0) || (@.status==1) )].name", users, "[\"ann\",\"bob\",\"cy\"]");
    EV("$.users[?(@.name == $.users[2].name)].year", users, "[2001.5]");
    EV("$.users[?(@.name == 'it\\'s')]", users, "[]");
    EV("$.xs[?(@ > 2)]", "{\"xs\":[1,2,3,4]}", "[3,4]");
    EV("$.xs[?(@ == 'b')]", "{\"xs\":[\"a\",\"b\"]}", "[\"b\"]");
    EV("$.xs[?(@[0] == -1)]", "{\"xs\":[[-1],[1]]}", "[[-1]]");
    EV("$.o[?(@.a == 1)]", "{\"o\":{\"a\":1}}", "[{\"a\":1}]"); /* on an object: tests the object */
    EV("$.o[?(@.a == 2)]", "{\"o\":{\"a\":1}}", "[]");
    EV("$.s[?(@.a == 1)]", "{\"s\":\"x\"}", "[]");
}

static void test_miss_cause(void)
{
    CHECK(miss_is("$.NoSuchInputPath", "{}", "No results for path: $['NoSuchInputPath']"));
    CHECK(miss_is("$.no.such.result.path", "{}", "Missing property in path $['no']"));
    CHECK(miss_is("$.a.no.x", "{\"a\":{}}", "Missing property in path $['a']['no']"));
    CHECK(miss_is("$.a.b", "{\"a\":{}}", "No results for path: $['a']['b']"));
    CHECK(miss_is("$.a[5]", "{\"a\":[1]}", "No results for path: $['a'][5]"));
    CHECK(miss_is("$.a[5].b", "{\"a\":[1]}", "No results for path: $['a'][5]['b']"));
    CHECK(miss_is("$.a.b", "{\"a\":\"s\"}",
                  "Expected to find an object with property ['b'] in path $['a'] but found "
                  "'java.lang.String'. This is not a json object according to the JsonProvider: "
                  "'com.jayway.jsonpath.spi.json.JacksonJsonProvider'."));
    CHECK(miss_is("$.a[0]", "{\"a\":null}", "The path $['a'] is null"));
    CHECK(miss_is("$.a[0]", "{\"a\":{\"k\":1}}",
                  "Filter: [0] can only be applied to arrays. Current context is: {\"k\":1}"));
    CHECK(miss_is("$.a", "{\"a\":1}", NULL));
    CHECK(miss_is("$.a[*]", "{}", NULL));
}

/* ResultPath: p, input and value as text; want is the output or NULL for
 * a failure whose cause must equal want_cause. */
static int set_is(const char *path, const char *input, const char *value, const char *want,
                  const char *want_cause)
{
    val_err e = {0};
    asl_path *p = asl_path_parse(path, ASL_PATH_REFERENCE | ASL_PATH_NO_CONTEXT | ASL_PATH_NO_VARS, &e);
    if (!p) {
        fprintf(stderr, "  %s: %s\n", path, e.cause);
        val_err_clear(&e);
        return 0;
    }
    json_t *r = asl_path_set(p, J(input), J(value), &e);
    int ok;
    if (want) {
        ok = tap_json_eq(r, want);
    } else {
        ok = !r && e.kind == VAL_ERR_RUNTIME && e.name &&
             !strcmp(e.name, "States.ReferencePathConflict") && e.cause && !strcmp(e.cause, want_cause);
        if (!ok)
            fprintf(stderr, "  %s: got %s / %s\n  want %s\n", path, e.name, e.cause, want_cause);
    }
    json_decref(r);
    asl_path_free(p);
    val_err_clear(&e);
    return ok;
}
#define SET(path, in, val, want) CHECK(set_is(path, in, val, want, NULL))
#define SET_FAILS(path, in, val, cause) CHECK(set_is(path, in, val, NULL, cause))

static void test_set(void)
{
    SET("$", "{\"a\":1}", "\"r\"", "\"r\"");
    SET("$.r", "{\"a\":1}", "2", "{\"a\":1,\"r\":2}");
    SET("$.a", "{\"a\":1}", "2", "{\"a\":2}");
    SET("$.x.y.z", "{\"a\":1}", "true", "{\"a\":1,\"x\":{\"y\":{\"z\":true}}}");
    SET("$.x.y", "{\"x\":{\"k\":1}}", "[1]", "{\"x\":{\"k\":1,\"y\":[1]}}");
    SET("$['a b'].c", "{}", "1", "{\"a b\":{\"c\":1}}");
    SET("$.a[1]", "{\"a\":[1,2,3]}", "9", "{\"a\":[1,9,3]}");
    SET("$.a[-1]", "{\"a\":[1,2,3]}", "9", "{\"a\":[1,2,9]}");
    SET("$.a[0].b", "{\"a\":[{\"c\":1}]}", "9", "{\"a\":[{\"c\":1,\"b\":9}]}");
    SET("$[0]", "[1,2]", "9", "[9,2]");
    SET("$.r", "{}", "null", "{\"r\":null}");

    SET_FAILS("$.r", "\"input1\"", "1", "Unable to apply ReferencePath $.r to input \"input1\"");
    SET_FAILS("$.r", "[1,2]", "1", "Unable to apply ReferencePath $.r to input [1,2]");
    SET_FAILS("$.a.b", "{\"a\":\"s\"}", "1", "Unable to apply step \"a\" to input {\"a\":\"s\"}");
    SET_FAILS("$.a.b.c", "{\"a\":{\"b\":5}}", "1", "Unable to apply step \"b\" to input {\"a\":{\"b\":5}}");
    SET_FAILS("$.a.b", "{\"a\":null}", "1", "Unable to apply step \"a\" to input {\"a\":null}");
    SET_FAILS("$.a[5]", "{\"a\":[1]}", "1", "Unable to apply step \"[5]\" to input {\"a\":[1]}");
    SET_FAILS("$.a[0]", "{}", "1", "Unable to apply step \"a\" to input {}");
    SET_FAILS("$.a[0]", "{\"a\":{}}", "1", "Unable to apply step \"a\" to input {\"a\":{}}");

    /* only Reference Paths on $ can be written */
    val_err e = {0};
    asl_path *p = asl_path_parse("$.a[*]", 0, NULL);
    CHECK(asl_path_set(p, J("{}"), J("1"), &e) == NULL && e.kind == VAL_ERR_VALIDATION);
    asl_path_free(p);
    p = asl_path_parse("$$.a", 0, NULL);
    CHECK(asl_path_set(p, J("{}"), J("1"), &e) == NULL && e.kind == VAL_ERR_VALIDATION);
    asl_path_free(p);
    val_err_clear(&e);

    /* an input held only by the caller is changed in place */
    p = asl_path_parse("$.x.y", ASL_PATH_REFERENCE, NULL);
    json_t *in = J("{\"x\":{\"k\":1},\"other\":{\"big\":[1,2,3]}}");
    json_t *x = json_object_get(in, "x");
    json_t *r = asl_path_set(p, in, json_integer(5), NULL);
    CHECK(r == in && json_object_get(r, "x") == x);
    CHECK_JSON(r, "{\"x\":{\"k\":1,\"y\":5},\"other\":{\"big\":[1,2,3]}}");

    /* a shared input is left alone: only the spine is copied */
    json_t *keep = json_incref(r);
    json_t *other = json_object_get(keep, "other");
    json_t *r2 = asl_path_set(p, r, json_integer(6), NULL);
    CHECK(r2 != keep);
    CHECK(json_object_get(r2, "other") == other); /* off the spine: shared */
    CHECK(json_object_get(r2, "x") != json_object_get(keep, "x"));
    CHECK_JSON(keep, "{\"x\":{\"k\":1,\"y\":5},\"other\":{\"big\":[1,2,3]}}");
    CHECK_JSON(r2, "{\"x\":{\"k\":1,\"y\":6},\"other\":{\"big\":[1,2,3]}}");
    json_decref(keep);
    json_decref(r2);

    /* a shared node below an unshared root is copied, its siblings not */
    json_t *shared = J("{\"y\":0,\"z\":[1]}");
    in = json_object();
    json_object_set(in, "x", shared);
    r = asl_path_set(p, in, json_integer(7), NULL);
    CHECK(r == in && json_object_get(r, "x") != shared);
    CHECK(json_object_get(json_object_get(r, "x"), "z") == json_object_get(shared, "z"));
    CHECK_JSON(shared, "{\"y\":0,\"z\":[1]}");
    CHECK_JSON(r, "{\"x\":{\"y\":7,\"z\":[1]}}");
    json_decref(r);
    json_decref(shared);
    asl_path_free(p);

    /* the value may be the input itself (Pass without Result) */
    p = asl_path_parse("$.self", ASL_PATH_REFERENCE, NULL);
    in = J("{\"a\":1}");
    r = asl_path_set(p, json_incref(in), in, NULL);
    CHECK_JSON(r, "{\"a\":1,\"self\":{\"a\":1}}");
    CHECK(json_object_get(r, "self") != r);
    json_decref(r);
    asl_path_free(p);

    /* performance: one field per step onto a growing object is O(1) each */
    asl_path *paths[64];
    char name[32];
    for (int i = 0; i < 64; i++) {
        snprintf(name, sizeof name, "$.f%d", i);
        paths[i] = asl_path_parse(name, ASL_PATH_REFERENCE, NULL);
    }
    json_t *acc = json_object();
    clock_t t0 = clock();
    for (int i = 0; i < 200000; i++) {
        acc = asl_path_set(paths[i % 64], acc, json_integer(i), NULL);
        json_t *got = asl_path_eval(paths[i % 64], &(struct asl_env){.input = acc});
        json_decref(got);
    }
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    CHECK_MSG(secs < 2.0, "200000 ResultPath writes took %.2fs", secs);
    CHECK(json_object_size(acc) == 64);
    json_decref(acc);
    for (int i = 0; i < 64; i++)
        asl_path_free(paths[i]);

    /* growing object: each step adds a new key to a 1-owner object */
    acc = json_object();
    t0 = clock();
    for (int i = 0; i < 20000; i++) {
        snprintf(name, sizeof name, "$.g%d", i);
        asl_path *q = asl_path_parse(name, ASL_PATH_REFERENCE, NULL);
        acc = asl_path_set(q, acc, json_integer(i), NULL);
        asl_path_free(q);
    }
    secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    CHECK_MSG(secs < 2.0, "20000 growing writes took %.2fs", secs);
    CHECK(json_object_size(acc) == 20000);
    json_decref(acc);
}

/* Deep documents: the scan walks them without recursion. */
static void test_deep_doc(void)
{
    json_t *root = json_object(), *cur = root;
    for (int i = 0; i < 100000; i++) {
        json_t *n = json_object();
        json_object_set_new(cur, "a", n);
        cur = n;
    }
    json_object_set_new(cur, "leaf", json_true());
    asl_path *p = asl_path_parse("$..leaf", 0, NULL);
    struct asl_env env = {.input = root};
    json_t *r = asl_path_eval(p, &env);
    CHECK_JSON(r, "[true]");
    json_decref(r);
    asl_path_free(p);
    /* jansson frees recursively; unlink level by level to keep the test's
     * own teardown iterative */
    cur = root;
    json_incref(cur);
    while (cur) {
        json_t *n = json_object_get(cur, "a");
        if (n)
            json_incref(n);
        json_object_clear(cur);
        json_decref(cur);
        cur = n;
    }
    json_decref(root);
}

int main(void)
{
    test_parse();
    test_normalized();
    test_eval_definite();
    test_eval_indefinite();
    test_miss_cause();
    test_set();
    test_deep_doc();
    TEST_DONE();
}
