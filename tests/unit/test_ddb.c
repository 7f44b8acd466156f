/* test_ddb — unit tests of src/ddb/av.c and src/ddb/expr.c: exact
 * numbers (parse, canonical text, limits, arithmetic), AttributeValue
 * checking, equality, ordering and sizes, the order-preserving key
 * encoding, and the expression languages (conditions, key conditions,
 * updates, projections) with DynamoDB's error texts. */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "ddb/av.h"
#include "ddb/expr.h"
#include "ddb/ops.h"
#include "store/store.h"
#include "tap.h"

static json_t *J(const char *text)
{
    json_error_t je;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &je);
    if (!v) {
        fprintf(stderr, "bad test JSON: %s (%s)\n", text, je.text);
        abort();
    }
    return v;
}

/* ---------------------------------------------------------------- numbers */

/* 1 when text parses and formats back as want. */
static int num_is(const char *text, const char *want)
{
    ddb_num n;
    val_err e = {0};
    if (ddb_num_parse(text, &n, &e) < 0) {
        fprintf(stderr, "  %s: refused: %s\n", text, e.cause);
        val_err_clear(&e);
        return 0;
    }
    char *f = ddb_num_format(&n);
    int ok = strcmp(f, want) == 0;
    if (!ok)
        fprintf(stderr, "  %s: got %s, want %s\n", text, f, want);
    free(f);
    return ok;
}

/* 1 when text is refused with a cause containing needle. */
static int num_bad(const char *text, const char *needle)
{
    ddb_num n;
    val_err e = {0};
    int r = ddb_num_parse(text, &n, &e);
    int ok = r < 0 && e.kind == VAL_ERR_VALIDATION && e.name && strcmp(e.name, "ValidationException") == 0 &&
             e.cause && strstr(e.cause, needle);
    if (!ok)
        fprintf(stderr, "  %s: %s\n", text, r < 0 ? e.cause : "accepted");
    val_err_clear(&e);
    return ok;
}

/* a op b == want (op '+' or '-'); want NULL: refused with needle. */
static int arith_is(const char *a, char op, const char *b, const char *want, const char *needle)
{
    ddb_num x, y, z;
    val_err e = {0};
    if (ddb_num_parse(a, &x, NULL) < 0 || ddb_num_parse(b, &y, NULL) < 0)
        return 0;
    int r = op == '+' ? ddb_num_add(&x, &y, &z, &e) : ddb_num_sub(&x, &y, &z, &e);
    int ok;
    if (want) {
        char *f = r == 0 ? ddb_num_format(&z) : NULL;
        ok = f && strcmp(f, want) == 0;
        if (!ok)
            fprintf(stderr, "  %s %c %s: got %s, want %s\n", a, op, b, f ? f : e.cause, want);
        free(f);
    } else {
        ok = r < 0 && e.cause && strstr(e.cause, needle);
        if (!ok)
            fprintf(stderr, "  %s %c %s: %s\n", a, op, b, r < 0 ? e.cause : "accepted");
    }
    val_err_clear(&e);
    return ok;
}

static int num_cmp_s(const char *a, const char *b)
{
    ddb_num x, y;
    if (ddb_num_parse(a, &x, NULL) < 0 || ddb_num_parse(b, &y, NULL) < 0)
        return 99;
    return ddb_num_cmp(&x, &y);
}

static void test_numbers(void)
{
    CHECK(num_is("0", "0"));
    CHECK(num_is("-0", "0"));
    CHECK(num_is("+0.000", "0"));
    CHECK(num_is("0E+99999", "0"));
    CHECK(num_is("12", "12"));
    CHECK(num_is("+12", "12"));
    CHECK(num_is("-0.5", "-0.5"));
    CHECK(num_is("0.50", "0.5"));
    CHECK(num_is("1E+3", "1000"));
    CHECK(num_is("1e3", "1000"));
    CHECK(num_is("1.5E-3", "0.0015"));
    CHECK(num_is("00012.3400", "12.34"));
    CHECK(num_is(".5", "0.5"));
    CHECK(num_is("5.", "5"));
    CHECK(num_is("100", "100"));
    CHECK(num_is("-100.0", "-100"));
    {
        char want[200] = "0.";
        for (int i = 0; i < 129; i++)
            strcat(want, "0");
        strcat(want, "1");
        CHECK(num_is("1E-130", want));
        memset(want, 0, sizeof want);
        memset(want, '9', 38);
        memset(want + 38, '0', 126 - 38);
        CHECK(num_is("9.9999999999999999999999999999999999999E+125", want));
    }
    CHECK(num_is("12345678901234567890123456789012345678", "12345678901234567890123456789012345678"));
    CHECK(num_is("1234567890123456789012345678901234567800000", "1234567890123456789012345678901234567800000"));
    CHECK(num_is("0.000012345678901234567890123456789012345678", "0.000012345678901234567890123456789012345678"));
    CHECK(num_bad("", "cannot be converted to a numeric value"));
    CHECK(num_bad("abc", "The parameter cannot be converted to a numeric value: abc"));
    CHECK(num_bad(" 7", "cannot be converted"));
    CHECK(num_bad("7 ", "cannot be converted"));
    CHECK(num_bad("1e", "cannot be converted"));
    CHECK(num_bad("1.2.3", "cannot be converted"));
    CHECK(num_bad(".", "cannot be converted"));
    CHECK(num_bad("-", "cannot be converted"));
    CHECK(num_bad("0x10", "cannot be converted"));
    CHECK(num_bad("NaN", "cannot be converted"));
    CHECK(num_bad("Infinity", "cannot be converted"));
    CHECK(num_bad("123456789012345678901234567890123456789", "more than 38 significant digits"));
    CHECK(num_bad("1.23456789012345678901234567890123456789", "more than 38 significant digits"));
    CHECK(num_bad("1E+126", "Number overflow. Attempting to store a number with magnitude larger than supported range"));
    CHECK(num_bad("-1E+126", "Number overflow"));
    CHECK(num_bad("1E-131", "Number underflow. Attempting to store a number with magnitude smaller than supported "
                            "range"));
    CHECK(num_bad("1E999999999999999999999", "Number overflow"));
    CHECK(num_bad("1E-999999999999999999999", "Number underflow"));

    CHECK(num_cmp_s("1", "2") == -1);
    CHECK(num_cmp_s("2", "1") == 1);
    CHECK(num_cmp_s("1.0", "1") == 0);
    CHECK(num_cmp_s("-1", "1") == -1);
    CHECK(num_cmp_s("-2", "-1") == -1);
    CHECK(num_cmp_s("0", "-0.001") == 1);
    CHECK(num_cmp_s("0.1", "0.09") == 1);
    CHECK(num_cmp_s("10", "9.99") == 1);
    CHECK(num_cmp_s("1.1", "1.11") == -1);
    CHECK(num_cmp_s("-1.1", "-1.11") == 1);
    CHECK(num_cmp_s("1E+125", "1E-130") == 1);

    CHECK(arith_is("1", '+', "2", "3", NULL));
    CHECK(arith_is("0.1", '+', "0.2", "0.3", NULL));
    CHECK(arith_is("9", '+', "1", "10", NULL));
    CHECK(arith_is("999", '+', "1", "1000", NULL));
    CHECK(arith_is("1", '-', "2", "-1", NULL));
    CHECK(arith_is("-1", '-', "-1", "0", NULL));
    CHECK(arith_is("5", '+', "-5", "0", NULL));
    CHECK(arith_is("0", '-', "5.5", "-5.5", NULL));
    CHECK(arith_is("-0.5", '+', "0.25", "-0.25", NULL));
    CHECK(arith_is("1000", '-', "0.001", "999.999", NULL));
    CHECK(arith_is("12345678901234567890123456789012345678", '+', "1", "12345678901234567890123456789012345679",
                   NULL));
    CHECK(arith_is("99999999999999999999999999999999999999", '+', "1", "100000000000000000000000000000000000000",
                   NULL));
    CHECK(arith_is("99999999999999999999999999999999999999", '+', "2", NULL, "more than 38 significant digits"));
    CHECK(arith_is("1E+125", '+', "1", NULL, "more than 38 significant digits"));
    CHECK(arith_is("9.9999999999999999999999999999999999999E+125", '+', "1E+88", NULL, "Number overflow"));
    CHECK(arith_is("-9.9999999999999999999999999999999999999E+125", '-', "1E+88", NULL, "Number overflow"));
    CHECK(arith_is("1E+125", '-', "1E+125", "0", NULL));
    CHECK(arith_is("1E-130", '-', "1E-130", "0", NULL));
    CHECK(arith_is("0.1", '-', "0.3", "-0.2", NULL));
    /* Exactness a double would lose. */
    CHECK(arith_is("10000000000000000000000000000000000001", '-', "1", "10000000000000000000000000000000000000",
                   NULL));
    CHECK(arith_is("0.0000000000000000000000000000000000001", '+', "1", "1.0000000000000000000000000000000000001",
                   NULL));
    CHECK(arith_is("0.00000000000000000000000000000000000001", '+', "1", NULL, "more than 38 significant digits"));
    /* out may alias an operand. */
    ddb_num a, b;
    ddb_num_parse("2.5", &a, NULL);
    ddb_num_parse("0.5", &b, NULL);
    CHECK(ddb_num_add(&a, &b, &a, NULL) == 0 && ddb_num_cmp(&a, &(ddb_num){.n = 1, .exp = 1, .d = {3}}) == 0);
}

/* ------------------------------------------------------- AttributeValues */

static int canon_is(const char *av, const char *want)
{
    json_t *v = J(av);
    val_err e = {0};
    json_t *c = ddb_av_canon(v, &e);
    int ok = c && tap_json_eq(c, want);
    if (!c)
        fprintf(stderr, "  %s: refused: %s\n", av, e.cause);
    json_decref(c);
    json_decref(v);
    val_err_clear(&e);
    return ok;
}

static int canon_bad(const char *av, const char *needle)
{
    json_t *v = J(av);
    val_err e = {0};
    json_t *c = ddb_av_canon(v, &e);
    int ok = !c && e.kind == VAL_ERR_VALIDATION && e.cause && strstr(e.cause, needle);
    if (!ok)
        fprintf(stderr, "  %s: %s\n", av, c ? "accepted" : e.cause);
    json_decref(c);
    json_decref(v);
    val_err_clear(&e);
    return ok;
}

static json_t *nest(const char *type, int levels)
{
    json_t *v = J("{\"S\":\"leaf\"}");
    for (int i = 0; i < levels; i++) {
        json_t *o = json_object();
        if (type[0] == 'M') {
            json_t *m = json_object();
            json_object_set_new(m, "a", v);
            json_object_set_new(o, "M", m);
        } else {
            json_t *l = json_array();
            json_array_append_new(l, v);
            json_object_set_new(o, "L", l);
        }
        v = o;
    }
    return v;
}

static void test_canon(void)
{
    CHECK(canon_is("{\"S\":\"x\"}", "{\"S\":\"x\"}"));
    CHECK(canon_is("{\"S\":\"\"}", "{\"S\":\"\"}"));
    CHECK(canon_is("{\"N\":\"1E+3\"}", "{\"N\":\"1000\"}"));
    CHECK(canon_is("{\"NS\":[\"1.0\",\"2E0\"]}", "{\"NS\":[\"1\",\"2\"]}"));
    CHECK(canon_is("{\"B\":\"AAE=\"}", "{\"B\":\"AAE=\"}"));
    CHECK(canon_is("{\"B\":\"\"}", "{\"B\":\"\"}"));
    CHECK(canon_is("{\"BOOL\":false}", "{\"BOOL\":false}"));
    CHECK(canon_is("{\"NULL\":true}", "{\"NULL\":true}"));
    CHECK(canon_is("{\"M\":{\"a\":{\"N\":\"01\"},\"b\":{\"L\":[{\"N\":\"-0\"}]}}}",
                   "{\"M\":{\"a\":{\"N\":\"1\"},\"b\":{\"L\":[{\"N\":\"0\"}]}}}"));
    CHECK(canon_is("{\"L\":[]}", "{\"L\":[]}"));
    CHECK(canon_is("{\"M\":{}}", "{\"M\":{}}"));
    CHECK(canon_is("{\"SS\":[\"a\",\"b\"]}", "{\"SS\":[\"a\",\"b\"]}"));
    CHECK(canon_is("{\"BS\":[\"AA==\",\"AQ==\"]}", "{\"BS\":[\"AA==\",\"AQ==\"]}"));
    CHECK(canon_is("{\"S\":\"x\",\"N\":null}", "{\"S\":\"x\"}"));

    CHECK(canon_bad("{}", "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"));
    CHECK(canon_bad("{\"Q\":\"x\"}", "Supplied AttributeValue is empty"));
    CHECK(canon_bad("\"x\"", "Supplied AttributeValue is empty"));
    CHECK(canon_bad("{\"S\":\"x\",\"N\":\"1\"}", "Supplied AttributeValue has more than one datatypes set, must "
                                                "contain exactly one of the supported datatypes"));
    CHECK(canon_bad("{\"SS\":[]}",
                    "One or more parameter values were invalid: An string set  may not be empty"));
    CHECK(canon_bad("{\"NS\":[]}",
                    "One or more parameter values were invalid: An number set  may not be empty"));
    CHECK(canon_bad("{\"BS\":[]}", "One or more parameter values were invalid: Binary sets should not be empty"));
    CHECK(canon_bad("{\"SS\":[\"a\",\"a\"]}",
                    "One or more parameter values were invalid: Input collection [a, a] contains duplicates."));
    CHECK(canon_bad("{\"NS\":[\"1\",\"1.0\"]}", "Input collection [1, 1.0] contains duplicates."));
    CHECK(canon_bad("{\"NS\":[\"1\",\"x\"]}", "cannot be converted to a numeric value: x"));
    CHECK(canon_bad("{\"BS\":[\"AA==\",\"AA==\"]}", "of type BS contains duplicates."));
    CHECK(canon_bad("{\"B\":\"AAE\"}", "Base64 encoded length is expected a multiple of 4 bytes"));
    CHECK(canon_bad("{\"B\":\"AA*=\"}", "Invalid Base64 character: '*'"));
    CHECK(canon_bad("{\"B\":\"AB==\"}", "Invalid last non-pad Base64 character"));
    CHECK(canon_bad("{\"B\":\"A===\"}", "Invalid Base64 character: '='"));
    CHECK(canon_bad("{\"N\":\"x1\"}", "cannot be converted to a numeric value: x1"));
    CHECK(canon_bad("{\"N\":12}", "invalid N value"));
    CHECK(canon_bad("{\"S\":12}", "invalid S value"));
    CHECK(canon_bad("{\"BOOL\":\"true\"}", "invalid BOOL value"));
    CHECK(canon_bad("{\"NULL\":false}", "Null attribute value types must have the value of true"));
    CHECK(canon_bad("{\"L\":[{}]}", "Supplied AttributeValue is empty"));
    CHECK(canon_bad("{\"M\":{\"a\":{\"N\":\"1E+200\"}}}", "Number overflow"));
    CHECK(canon_bad("{\"SS\":[\"a\",1]}", "invalid SS member"));

    for (int t = 0; t < 2; t++) {
        const char *type = t ? "L" : "M";
        json_t *ok = nest(type, 32), *deep = nest(type, 33);
        val_err e = {0};
        json_t *c = ddb_av_canon(ok, &e);
        CHECK(c != NULL);
        json_decref(c);
        c = ddb_av_canon(deep, &e);
        CHECK(!c && e.cause && strstr(e.cause, "Nesting Levels have exceeded supported limits"));
        val_err_clear(&e);
        json_decref(ok);
        json_decref(deep);
    }
    /* A document far deeper than the limit is refused without recursing
     * through all of it. */
    json_t *vdeep = nest("M", 5000);
    val_err e = {0};
    CHECK(ddb_av_canon(vdeep, &e) == NULL);
    val_err_clear(&e);
    json_decref(vdeep);

    json_t *item = J("{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"1.50\"}}");
    json_t *c = ddb_item_canon(item, &e);
    CHECK_JSON(c, "{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"1.5\"}}");
    json_decref(c);
    json_decref(item);
    item = J("{\"\":{\"S\":\"a\"}}");
    CHECK(ddb_item_canon(item, &e) == NULL && e.cause && strstr(e.cause, "empty attribute name"));
    val_err_clear(&e);
    json_decref(item);

    json_t *av = J("{\"SS\":[\"a\"]}");
    CHECK(strcmp(ddb_av_type(av), "SS") == 0);
    json_decref(av);
    av = J("{\"S\":\"a\",\"N\":\"1\"}");
    CHECK(ddb_av_type(av) == NULL);
    json_decref(av);
    CHECK(ddb_av_type(NULL) == NULL);
}

static int eq_s(const char *a, const char *b)
{
    json_t *x = J(a), *y = J(b);
    int r = ddb_av_equal(x, y);
    json_decref(x);
    json_decref(y);
    return r;
}

static void test_equal_size(void)
{
    CHECK(eq_s("{\"N\":\"1\"}", "{\"N\":\"1.0\"}"));
    CHECK(!eq_s("{\"N\":\"1\"}", "{\"S\":\"1\"}"));
    CHECK(eq_s("{\"SS\":[\"a\",\"b\"]}", "{\"SS\":[\"b\",\"a\"]}"));
    CHECK(!eq_s("{\"SS\":[\"a\",\"b\"]}", "{\"SS\":[\"a\",\"c\"]}"));
    CHECK(eq_s("{\"NS\":[\"1\",\"2\"]}", "{\"NS\":[\"2.0\",\"1\"]}"));
    CHECK(eq_s("{\"M\":{\"a\":{\"L\":[{\"N\":\"1\"}]}}}", "{\"M\":{\"a\":{\"L\":[{\"N\":\"1.0\"}]}}}"));
    CHECK(!eq_s("{\"L\":[{\"N\":\"1\"},{\"N\":\"2\"}]}", "{\"L\":[{\"N\":\"2\"},{\"N\":\"1\"}]}"));
    CHECK(!eq_s("{\"M\":{\"a\":{\"N\":\"1\"}}}", "{\"M\":{\"b\":{\"N\":\"1\"}}}"));
    CHECK(eq_s("{\"BOOL\":true}", "{\"BOOL\":true}"));
    CHECK(!eq_s("{\"BOOL\":true}", "{\"BOOL\":false}"));
    CHECK(eq_s("{\"B\":\"AAE=\"}", "{\"B\":\"AAE=\"}"));
    CHECK(ddb_av_equal(NULL, NULL));
    json_t *x = J("{\"S\":\"a\"}");
    CHECK(!ddb_av_equal(x, NULL));
    int c = 7;
    json_t *y = J("{\"S\":\"b\"}"), *z = J("{\"N\":\"1\"}"), *m = J("{\"M\":{}}");
    CHECK(ddb_av_cmp(x, y, &c) == 0 && c == -1);
    CHECK(ddb_av_cmp(y, x, &c) == 0 && c == 1);
    CHECK(ddb_av_cmp(x, x, &c) == 0 && c == 0);
    c = 7;
    CHECK(ddb_av_cmp(x, z, &c) == -1 && c == 7);
    CHECK(ddb_av_cmp(m, m, &c) == -1);
    json_decref(x);
    json_decref(y);
    json_decref(z);
    json_decref(m);

    json_t *item = J("{\"pk\":{\"S\":\"abc\"},\"n\":{\"N\":\"12345\"},\"b\":{\"B\":\"AAEC\"},\"t\":{\"BOOL\":true},"
                     "\"z\":{\"NULL\":true},\"l\":{\"L\":[{\"S\":\"x\"},{\"N\":\"1\"}]},"
                     "\"m\":{\"M\":{\"k\":{\"S\":\"vv\"}}},\"ss\":{\"SS\":[\"a\",\"bb\"]}}");
    /* pk 2+3, n 1+(3+1), b 1+3, t 1+1, z 1+1, l 1+(3+(1+1)+(1+2)), m 1+(3+1+1+2), ss 2+3 */
    CHECK(ddb_item_size(item) == 5 + 5 + 4 + 2 + 2 + 9 + 8 + 5);
    CHECK(ddb_av_size(json_object_get(item, "b")) == 3);
    json_decref(item);
    x = J("{\"S\":\"\xc3\xa9t\xc3\xa9\"}");
    CHECK(ddb_av_size(x) == 5);
    json_decref(x);
}

/* ---------------------------------------------------------- key encoding */

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static json_t *rand_num(void)
{
    char buf[128];
    size_t o = 0;
    if (rnd() % 2)
        buf[o++] = '-';
    int nd = 1 + (int)(rnd() % (rnd() % 2 ? 3 : 38));
    for (int i = 0; i < nd; i++)
        buf[o++] = (char)('0' + rnd() % (i == 0 ? 3 : 10));
    snprintf(buf + o, sizeof buf - o, "E%d", (int)(rnd() % 2 ? rnd() % 5 : rnd() % 200) - (int)(rnd() % 2 ? 2 : 100));
    json_t *av = json_pack("{s:s}", "N", buf);
    json_t *c = ddb_av_canon(av, NULL);
    json_decref(av);
    return c ? c : json_pack("{s:s}", "N", "0");
}

static json_t *rand_bytes_av(char type)
{
    unsigned char raw[8];
    size_t n = 1 + rnd() % 6;
    for (size_t i = 0; i < n; i++) {
        unsigned r = (unsigned)(rnd() % 6);
        raw[i] = r == 0 ? 0 : r == 1 ? 1 : r == 2 ? 0xff : (unsigned char)('a' + rnd() % 3);
    }
    if (type == 'B') {
        char *b = val_base64(raw, n);
        json_t *av = json_pack("{s:s}", "B", b);
        free(b);
        return av;
    }
    /* S: keep it valid UTF-8 (jansson checks) by mapping to ASCII plus NUL. */
    char s[8];
    for (size_t i = 0; i < n; i++)
        s[i] = raw[i] == 0xff ? '\x7f' : (char)raw[i];
    return json_pack("{s:s%}", "S", s, n);
}

static json_t *rand_av(char type)
{
    return type == 'N' ? rand_num() : rand_bytes_av(type);
}

static char *enc(json_t *av, char type, size_t *len)
{
    val_buf b = {0};
    if (ddb_key_put(&b, av, type, "k", NULL) < 0)
        return NULL;
    *len = b.len;
    return val_buf_take(&b);
}

static int sgn(int x) { return (x > 0) - (x < 0); }

static int memcmp_len(const char *a, size_t na, const char *b, size_t nb)
{
    size_t n = na < nb ? na : nb;
    int c = memcmp(a, b, n);
    return c ? sgn(c) : sgn((int)(na > nb) - (int)(na < nb));
}

static void test_keys(void)
{
    const char types[] = "NSB";
    int bad = 0;
    for (int t = 0; t < 3; t++) {
        for (int i = 0; i < 3000; i++) {
            json_t *a = rand_av(types[t]), *b = rand_av(types[t]);
            int c;
            size_t la, lb;
            char *ea = enc(a, types[t], &la), *eb = enc(b, types[t], &lb);
            if (!ea || !eb || ddb_av_cmp(a, b, &c) < 0 || memcmp_len(ea, la, eb, lb) != c) {
                if (bad++ < 5) {
                    char *da = val_dump(a, NULL), *db = val_dump(b, NULL);
                    fprintf(stderr, "  key order %s vs %s\n", da, db);
                    free(da);
                    free(db);
                }
            }
            /* pk + sk concatenations order by (pk, sk). */
            json_t *a2 = rand_av(types[(t + 1) % 3]), *b2 = rand_av(types[(t + 1) % 3]);
            if (rnd() % 3 == 0) {
                json_decref(b);
                b = json_incref(a);
            }
            val_buf x = {0}, y = {0};
            char k2 = types[(t + 1) % 3];
            if (ddb_key_put(&x, a, types[t], "pk", NULL) == 0 && ddb_key_put(&x, a2, k2, "sk", NULL) == 0 &&
                ddb_key_put(&y, b, types[t], "pk", NULL) == 0 && ddb_key_put(&y, b2, k2, "sk", NULL) == 0) {
                int c1, c2;
                ddb_av_cmp(a, b, &c1);
                ddb_av_cmp(a2, b2, &c2);
                int want = c1 ? c1 : c2;
                if (memcmp_len(x.p, x.len, y.p, y.len) != want && bad++ < 5)
                    fprintf(stderr, "  pk+sk order differs\n");
            } else {
                bad++;
            }
            val_buf_free(&x);
            val_buf_free(&y);
            free(ea);
            free(eb);
            json_decref(a);
            json_decref(b);
            json_decref(a2);
            json_decref(b2);
        }
    }
    CHECK_MSG(bad == 0, "%d key encodings out of order", bad);

    /* Hand-picked number orders. */
    const char *nums[] = {"-1E+125", "-100", "-10", "-9.99", "-1.11", "-1.1", "-1", "-0.5", "-1E-130", "0",
                          "1E-130", "0.001", "0.5", "1", "1.1", "1.11", "9.99", "10", "100", "1E+125"};
    size_t nn = sizeof nums / sizeof nums[0];
    int inorder = 1;
    for (size_t i = 0; i + 1 < nn; i++) {
        json_t *a = json_pack("{s:s}", "N", nums[i]), *b = json_pack("{s:s}", "N", nums[i + 1]);
        size_t la, lb;
        char *ea = enc(a, 'N', &la), *eb = enc(b, 'N', &lb);
        if (!ea || !eb || memcmp_len(ea, la, eb, lb) >= 0) {
            inorder = 0;
            fprintf(stderr, "  %s !< %s\n", nums[i], nums[i + 1]);
        }
        free(ea);
        free(eb);
        json_decref(a);
        json_decref(b);
    }
    CHECK(inorder);

    val_buf b = {0};
    val_err e = {0};
    json_t *av = J("{\"S\":\"\"}");
    CHECK(ddb_key_put(&b, av, 'S', "pk", &e) < 0 && e.cause &&
          strcmp(e.cause, "One or more parameter values are not valid. The AttributeValue for a key attribute "
                          "cannot contain an empty string value. Key: pk") == 0);
    val_err_clear(&e);
    json_decref(av);
    av = J("{\"B\":\"\"}");
    CHECK(ddb_key_put(&b, av, 'B', "pk", &e) < 0 && e.cause && strstr(e.cause, "empty binary value. Key: pk"));
    val_err_clear(&e);
    json_decref(av);
    av = J("{\"N\":\"1\"}");
    CHECK(ddb_key_put(&b, av, 'S', "pk", &e) < 0 && e.cause &&
          strstr(e.cause, "Type mismatch for key pk expected: S actual: N"));
    val_err_clear(&e);
    json_decref(av);
    val_buf_free(&b);
}


/* ------------------------------------------------------------ expressions */

static const char ITEM[] =
    "{\"pk\":{\"S\":\"p1\"},\"n\":{\"N\":\"5\"},\"s\":{\"S\":\"hello\"},\"b\":{\"B\":\"AAEC\"},"
    "\"t\":{\"BOOL\":true},\"z\":{\"NULL\":true},"
    "\"l\":{\"L\":[{\"N\":\"1\"},{\"S\":\"x\"},{\"M\":{\"k\":{\"S\":\"v\"}}}]},"
    "\"m\":{\"M\":{\"a\":{\"M\":{\"b\":{\"N\":\"2\"}}},\"dot.key\":{\"S\":\"d\"}}},"
    "\"ss\":{\"SS\":[\"a\",\"b\"]},\"ns\":{\"NS\":[\"1\",\"2.5\"]},\"bs\":{\"BS\":[\"AA==\"]},"
    "\"name\":{\"S\":\"reserved\"},\"e\":{\"S\":\"\"}}";

static const char NAMES[] = "{\"#n\":\"n\",\"#name\":\"name\",\"#dk\":\"dot.key\",\"#m\":\"m\",\"#s\":\"s\","
                            "\"#missing\":\"nope\"}";

static const char VALUES[] =
    "{\":5\":{\"N\":\"5\"},\":50\":{\"N\":\"5.0\"},\":6\":{\"N\":\"6\"},\":4\":{\"N\":\"4\"},\":one\":{\"N\":\"1\"},"
    "\":two\":{\"N\":\"2\"},\":hello\":{\"S\":\"hello\"},\":he\":{\"S\":\"he\"},\":ell\":{\"S\":\"ell\"},"
    "\":a\":{\"S\":\"a\"},\":c\":{\"S\":\"c\"},\":x\":{\"S\":\"x\"},\":b0\":{\"B\":\"AA==\"},\":b01\":{\"B\":\"AAE=\"},"
    "\":b2\":{\"B\":\"Ag==\"},\":S\":{\"S\":\"S\"},\":N\":{\"S\":\"N\"},\":SS\":{\"S\":\"SS\"},\":L\":{\"S\":\"L\"},"
    "\":M\":{\"S\":\"M\"},\":NULL\":{\"S\":\"NULL\"},\":BOOL\":{\"S\":\"BOOL\"},\":B\":{\"S\":\"B\"},"
    "\":NS\":{\"S\":\"NS\"},\":BS\":{\"S\":\"BS\"},\":Q\":{\"S\":\"Q\"},\":true\":{\"BOOL\":true},"
    "\":kv\":{\"M\":{\"k\":{\"S\":\"v\"}}},\":d\":{\"S\":\"d\"},\":l1\":{\"L\":[{\"N\":\"1\"}]},"
    "\":three\":{\"N\":\"3\"},\":ss\":{\"SS\":[\"b\",\"c\"]},\":ssa\":{\"SS\":[\"a\"]},\":ns\":{\"NS\":[\"2.50\",\"7\"]},"
    "\":empty\":{\"S\":\"\"},\":null\":{\"NULL\":true},\":bs\":{\"BS\":[\"AQ==\"]}}";

static json_t *g_names, *g_values, *g_item;

static ddb_expr_ctx *ctx(void)
{
    ddb_expr_ctx *c = ddb_ctx_new(g_names, g_values, NULL);
    if (!c)
        abort();
    return c;
}

/* 1 when the condition parses and evaluates to want on the fixed item
 * (item_text NULL) or on item_text ("null" = no item). */
static int cond_on(const char *text, const char *item_text, int want)
{
    ddb_expr_ctx *c = ctx();
    val_err e = {0};
    ddb_expr *x = ddb_expr_parse(DDB_EXPR_CONDITION, text, "ConditionExpression", c, &e);
    int ok = 0;
    if (!x) {
        fprintf(stderr, "  %s: refused: %s\n", text, e.cause);
    } else {
        json_t *item = item_text ? json_loads(item_text, JSON_DECODE_ANY, NULL) : json_incref(g_item);
        int r = ddb_cond_eval(x, json_is_null(item) ? NULL : item, &e);
        ok = r == want;
        if (!ok)
            fprintf(stderr, "  %s: got %d (%s), want %d\n", text, r, r < 0 ? e.cause : "", want);
        json_decref(item);
    }
    ddb_expr_free(x);
    ddb_ctx_free(c);
    val_err_clear(&e);
    return ok;
}
#define COND(text, want) CHECK(cond_on(text, NULL, want))

/* 1 when text is refused as kind; exact message when want starts with
 * '=', else a substring. */
static int refused_as(enum ddb_expr_kind kind, const char *member, const char *text, const char *want)
{
    ddb_expr_ctx *c = ctx();
    val_err e = {0};
    ddb_expr *x = ddb_expr_parse(kind, text, member, c, &e);
    int ok = !x && e.kind == VAL_ERR_VALIDATION && e.name && strcmp(e.name, "ValidationException") == 0 && e.cause &&
             (want[0] == '=' ? strcmp(e.cause, want + 1) == 0 : strstr(e.cause, want) != NULL);
    if (!ok)
        fprintf(stderr, "  %s: %s\n     want: %s\n", text, x ? "accepted" : e.cause, want);
    ddb_expr_free(x);
    ddb_ctx_free(c);
    val_err_clear(&e);
    return ok;
}
#define COND_BAD(text, want) CHECK(refused_as(DDB_EXPR_CONDITION, "ConditionExpression", text, want))
#define UPD_BAD(text, want) CHECK(refused_as(DDB_EXPR_UPDATE, "UpdateExpression", text, want))
#define PROJ_BAD(text, want) CHECK(refused_as(DDB_EXPR_PROJECTION, "ProjectionExpression", text, want))
#define KEY_BAD(text, want) CHECK(refused_as(DDB_EXPR_KEY_CONDITION, "KeyConditionExpression", text, want))

static void test_conditions(void)
{
    COND("n = :5", 1);
    COND("n = :50", 1);
    COND("n = :6", 0);
    COND("n <> :6", 1);
    COND("n <> :5", 0);
    COND("n < :6", 1);
    COND("n < :5", 0);
    COND("n <= :5", 1);
    COND("n > :4", 1);
    COND("n > :5", 0);
    COND("n >= :5", 1);
    COND(":6 > n", 1);
    COND("s = :hello", 1);
    COND("s < :x", 1);
    COND("s > :he", 1);
    COND("b > :b01", 1);
    COND("b < :b2", 1);
    /* Different types: false, <> true; missing attributes likewise. */
    COND("s = :5", 0);
    COND("s <> :5", 1);
    COND("s < :5", 0);
    COND("s >= :5", 0);
    COND("nope = :5", 0);
    COND("nope <> :5", 1);
    COND("nope < :5", 0);
    COND("t = :true", 1);
    COND("m.a.b = :two", 1);
    COND("m.a.b < :three", 1);
    COND("#m.a.b = :two", 1);
    COND("m.#dk = :d", 1);
    COND("l[0] = :one", 1);
    COND("l[1] = :x", 1);
    COND("l[2].k = :x", 0);
    COND("l[2] = :kv", 1);
    COND("l[9] = :one", 0);
    COND("l[0].k = :one", 0);
    COND("m[0] = :one", 0);
    COND("l [ 0 ] = :one", 1);
    COND("m . a . b = :two", 1);
    COND("#name = :hello", 0);
    COND("#n = :5", 1);
    COND("ss = :ssa", 0);
    COND("ns = :ns", 0);
    COND("e = :empty", 1);
    COND("z = :null", 1);

    COND("n BETWEEN :4 AND :6", 1);
    COND("n BETWEEN :5 AND :5", 1);
    COND("n BETWEEN :one AND :4", 0);
    COND("n between :4 and :6", 1);
    COND("s BETWEEN :a AND :x", 1);
    COND("s BETWEEN :4 AND :6", 0);
    COND("nope BETWEEN :4 AND :6", 0);
    COND("n IN (:4, :5, :6)", 1);
    COND("n IN (:4, :6)", 0);
    COND("n in (:50)", 1);
    COND("s IN (:5, :hello)", 1);
    COND("nope IN (:5)", 0);
    COND("l[2] IN (:kv)", 1);

    COND("attribute_exists(n)", 1);
    COND("attribute_exists(nope)", 0);
    COND("attribute_exists(m.a.b)", 1);
    COND("attribute_exists(l[2].k)", 1);
    COND("attribute_exists(#missing)", 0);
    COND("attribute_not_exists(nope)", 1);
    COND("attribute_not_exists(n)", 0);
    CHECK(cond_on("attribute_not_exists(pk)", "null", 1));
    CHECK(cond_on("attribute_exists(pk)", "null", 0));
    CHECK(cond_on("n = :5", "null", 0));
    COND("attribute_type(n, :N)", 1);
    COND("attribute_type(n, :S)", 0);
    COND("attribute_type(s, :S)", 1);
    COND("attribute_type(ss, :SS)", 1);
    COND("attribute_type(l, :L)", 1);
    COND("attribute_type(m, :M)", 1);
    COND("attribute_type(z, :NULL)", 1);
    COND("attribute_type(t, :BOOL)", 1);
    COND("attribute_type(b, :B)", 1);
    COND("attribute_type(ns, :NS)", 1);
    COND("attribute_type(bs, :BS)", 1);
    COND("attribute_type(nope, :S)", 0);
    COND("begins_with(s, :he)", 1);
    COND("begins_with(s, :hello)", 1);
    COND("begins_with(s, :ell)", 0);
    COND("begins_with(s, :empty)", 1);
    COND("begins_with(b, :b01)", 1);
    COND("begins_with(b, :b2)", 0);
    COND("begins_with(n, :he)", 0);
    COND("begins_with(nope, :he)", 0);
    COND("contains(s, :ell)", 1);
    COND("contains(s, :x)", 0);
    COND("contains(ss, :a)", 1);
    COND("contains(ss, :c)", 0);
    COND("contains(ns, :one)", 1);
    COND("contains(ns, :two)", 0);
    COND("contains(bs, :b0)", 1);
    COND("contains(l, :x)", 1);
    COND("contains(l, :one)", 1);
    COND("contains(l, :kv)", 1);
    COND("contains(l, :a)", 0);
    COND("contains(n, :5)", 0);
    COND("contains(b, :b2)", 1);
    COND("contains(nope, :a)", 0);
    COND("size(s) = :5", 1);
    COND("size(ss) = :two", 1);
    COND("size(ns) = :two", 1);
    COND("size(l) = :three", 1);
    COND("size(m) = :two", 1);
    COND("size(b) = :three", 1);
    COND("size(bs) = :one", 1);
    COND("size(e) < :one", 1);
    COND("size(n) = :one", 0);
    COND("size(nope) = :one", 0);
    COND("size(nope) <> :one", 1);
    COND("size(s) BETWEEN :4 AND :6", 1);
    COND("size(m.a) = :one", 1);
    COND(":6 > size(s)", 1);
    COND("size(s) IN (:5)", 1);

    /* Precedence: NOT over AND over OR; parentheses; case-insensitive
     * keywords. */
    COND("n = :6 OR n = :5 AND s = :hello", 1);
    COND("n = :5 OR n = :6 AND s = :x", 1);
    COND("(n = :5 OR n = :6) AND s = :x", 0);
    COND("NOT n = :6", 1);
    COND("NOT n = :5 OR s = :hello", 1);
    COND("NOT (n = :5 OR s = :hello)", 0);
    COND("NOT n = :5 AND s = :hello", 0);
    COND("NOT NOT n = :5", 1);
    COND("not attribute_exists(nope)", 1);
    COND("n = :5 and s = :hello and t = :true", 1);
    COND("n = :6 or s = :x or t = :true", 1);
    COND("(n) = :5", 1);
    COND("(n = :5)", 1);
    COND("((n = :5) AND (s = :hello))", 1);
    COND("n = (:5)", 1);
    COND("(size(s)) = :5", 1);
    COND("\tn\n=\r:5 ", 1);

    /* Syntax errors in DynamoDB's shape. */
    COND_BAD("n ==", "=Invalid ConditionExpression: Syntax error; token: \"=\", near: \"==\"");
    COND_BAD("n = ", "=Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \"=\"");
    COND_BAD("n = :5 AND", "=Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \"AND\"");
    COND_BAD("n", "=Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \"n\"");
    COND_BAD("attribute_type()", "=Invalid ConditionExpression: Syntax error; token: \")\", near: \"()\"");
    COND_BAD("l[a] = :5", "=Invalid ConditionExpression: Syntax error; token: \"a\", near: \"[a]\"");
    COND_BAD("n = :5 :6", "Syntax error; token: \":6\", near: \":5 :6\"");
    COND_BAD("n AND s", "Syntax error; token: \"AND\"");
    COND_BAD("n = :5 AND s", "Syntax error; token: \"<EOF>\", near: \"s\"");
    COND_BAD("n ! :5", "Syntax error; token: \"!\"");
    COND_BAD("n = :5)", "Syntax error; token: \")\"");
    COND_BAD("(n = :5", "Syntax error; token: \"<EOF>\"");
    COND_BAD("n BETWEEN :4 OR :6", "Syntax error; token: \"OR\"");
    COND_BAD("n IN :4", "Syntax error; token: \":4\"");
    COND_BAD("n IN ()", "Syntax error; token: \")\"");
    COND_BAD("l[-1] = :5", "Syntax error; token: \"-\"");
    COND_BAD("l[1.5] = :5", "Syntax error; token: \".\"");
    COND_BAD("# = :5", "Syntax error; token: \"#\"");
    COND_BAD("n = :", "Syntax error; token: \":\"");
    COND_BAD("n = :5 = :6", "Syntax error; token: \"=\"");
    COND_BAD("AND = :5", "Syntax error; token: \"AND\"");
    COND_BAD("n = \xc3\xa9", "Syntax error; token: \"\xc3\xa9\"");
    COND_BAD("n.1 = :5", "Syntax error; token: \"1\"");
    COND_BAD("l[99999999999] = :5", "Syntax error");
    COND_BAD("", "=Invalid ConditionExpression: The expression can not be empty;");
    CHECK(refused_as(DDB_EXPR_CONDITION, "FilterExpression", "", "=Invalid FilterExpression: The expression can not be "
                                                                 "empty;"));
    CHECK(refused_as(DDB_EXPR_CONDITION, "FilterExpression", "n =", "Invalid FilterExpression: Syntax error"));

    /* What DynamoDB checks after parsing. */
    COND_BAD("name = :5", "=Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: name");
    COND_BAD("m.Size = :5", "reserved keyword: Size");
    COND_BAD("attribute_exists(status)", "reserved keyword: status");
    COND_BAD("#undefined = :5", "=Invalid ConditionExpression: An expression attribute name used in the document path "
                                "is not defined; attribute name: #undefined");
    COND_BAD("n = :undefined", "=Invalid ConditionExpression: An expression attribute value used in expression is not "
                               "defined; attribute value: :undefined");
    COND_BAD("foo(n)", "=Invalid ConditionExpression: Invalid function name; function: foo");
    COND_BAD("if_not_exists(n, :5)", "Invalid function name; function: if_not_exists");
    COND_BAD("attribute_exists(n, s)", "=Invalid ConditionExpression: Incorrect number of operands for operator or "
                                       "function; operator or function: attribute_exists, number of operands: 2");
    COND_BAD("begins_with(s)", "operator or function: begins_with, number of operands: 1");
    COND_BAD("attribute_exists(:5)", "Operator or function requires a document path; operator or function: "
                                     "attribute_exists");
    COND_BAD("begins_with(s, :5)", "Incorrect operand type for operator or function; operator or function: "
                                   "begins_with, operand type: N");
    COND_BAD("attribute_type(n, :Q)", "Invalid attribute type name found; type: Q, valid types: "
                                      "{B,NULL,SS,BOOL,L,BS,N,NS,S,M}");
    COND_BAD("attribute_type(n, :5)", "operator or function: attribute_type, operand type: N");
    COND_BAD("size(:5) = :5", "operator or function: size, operand type: N");
    COND_BAD("size(s)", "=Invalid ConditionExpression: The function is not allowed to be used this way in an "
                        "expression; function: size");
    COND_BAD("attribute_exists(n) = :5", "The function is not allowed to be used this way in an expression; function: "
                                         "attribute_exists");
    COND_BAD("size(attribute_exists(n)) = :5", "function: attribute_exists");
    COND_BAD("n = n", "The first operand must be distinct from the remaining operands for this operator or function; "
                      "operator: =, first operand: [n]");
    COND_BAD("begins_with(m.a, m.a)", "operator: begins_with, first operand: [m, a]");
    COND_BAD("n BETWEEN :6 AND :4", "The BETWEEN operator requires upper bound to be greater than or equal to lower "
                                    "bound; lower bound operand: AttributeValue: {N:6}, upper bound operand: "
                                    "AttributeValue: {N:4}");
    COND_BAD("n BETWEEN :5 AND :hello", "The BETWEEN operator requires same data type for lower and upper bounds; lower "
                                        "bound operand: AttributeValue: {N:5}, upper bound operand: AttributeValue: "
                                        "{S:hello}");
    COND_BAD("((n = :5))", "=Invalid ConditionExpression: The expression has redundant parentheses;");
    COND_BAD("((n)) = :5", "The expression has redundant parentheses;");
    /* Order: a redundant parenthesis is reported before a reserved word. */
    COND_BAD("((name = :5))", "redundant parentheses");
    COND_BAD("name = :undefined", "reserved keyword: name");

    /* A BETWEEN whose bounds come from the item is checked when run. */
    {
        ddb_expr_ctx *c = ctx();
        val_err e = {0};
        ddb_expr *x = ddb_expr_parse(DDB_EXPR_CONDITION, "n BETWEEN m.a.b AND l[0]", "ConditionExpression", c, &e);
        CHECK(x != NULL);
        CHECK(x && ddb_cond_eval(x, g_item, &e) == -1 && e.cause &&
              strstr(e.cause, "Invalid ConditionExpression: The BETWEEN operator requires upper bound"));
        val_err_clear(&e);
        ddb_expr_free(x);
        ddb_ctx_free(c);
    }

    /* IN takes at most 100 operands. */
    {
        val_buf b = {0};
        val_buf_puts(&b, "n IN (");
        for (int i = 0; i < 101; i++)
            val_buf_puts(&b, i ? ", :5" : ":5");
        val_buf_puts(&b, ")");
        COND_BAD(b.p, "The IN operator is provided with too many operands; number of operands: 101");
        b.len -= 5;
        b.p[b.len] = 0;
        val_buf_puts(&b, ")");
        COND(b.p, 1);
        val_buf_free(&b);
    }

    /* 4 KB per expression. */
    {
        char *big = malloc(5000);
        memset(big, ' ', 5000);
        memcpy(big, "n = :5", 6);
        big[4096] = 0;
        COND(big, 1);
        big[4096] = ' ';
        big[4097] = 0;
        COND_BAD(big, "=Invalid ConditionExpression: Expression size has exceeded the maximum allowed size; "
                      "expression size: 4097");
        free(big);
    }

    /* Hostile nesting fails cleanly. */
    {
        char *deep = malloc(10001);
        memset(deep, '(', 10000);
        deep[10000] = 0;
        COND_BAD(deep, "Expression size has exceeded");
        memset(deep, '(', 4000);
        deep[4000] = 0;
        COND_BAD(deep, "Invalid ConditionExpression");
        val_buf b = {0};
        for (int i = 0; i < 1300; i++)
            val_buf_puts(&b, "NOT ");
        val_buf_puts(&b, "n = :5");
        COND_BAD(b.p, "Invalid ConditionExpression");
        val_buf_free(&b);
        for (int i = 0; i < 1000; i++)
            val_buf_puts(&b, "(n = :5 AND ");
        COND_BAD(b.p, "Invalid ConditionExpression");
        val_buf_free(&b);
        for (int i = 0; i < 50; i++)
            val_buf_puts(&b, "(n = :5 AND ");
        val_buf_puts(&b, "s = :hello");
        for (int i = 0; i < 50; i++)
            val_buf_puts(&b, ")");
        COND(b.p, 1);
        val_buf_free(&b);
        for (int i = 0; i < 1000; i++)
            val_buf_puts(&b, "size(");
        COND_BAD(b.p, "Invalid ConditionExpression");
        val_buf_free(&b);
        val_buf_puts(&b, "a");
        for (int i = 0; i < 1000; i++)
            val_buf_puts(&b, ".a");
        val_buf_puts(&b, " = :5");
        COND_BAD(b.p, "Invalid ConditionExpression");
        val_buf_free(&b);
        /* A long flat chain is fine: it costs no stack. */
        for (int i = 0; i < 300; i++)
            val_buf_puts(&b, i ? " OR n = :6" : "n = :6");
        val_buf_puts(&b, " OR n = :5");
        COND(b.p, 1);
        val_buf_free(&b);
        free(deep);
    }
}

static void test_context(void)
{
    val_err e = {0};
    json_t *v = J("{}");
    CHECK(!ddb_ctx_new(NULL, v, &e) && e.cause && !strcmp(e.cause, "ExpressionAttributeValues must not be empty"));
    val_err_clear(&e);
    CHECK(!ddb_ctx_new(v, NULL, &e) && e.cause && !strcmp(e.cause, "ExpressionAttributeNames must not be empty"));
    val_err_clear(&e);
    json_decref(v);
    v = J("{\"x\":{\"S\":\"a\"}}");
    CHECK(!ddb_ctx_new(NULL, v, &e) && e.cause &&
          !strcmp(e.cause, "ExpressionAttributeValues contains invalid key: Syntax error; key: \"x\""));
    val_err_clear(&e);
    json_decref(v);
    v = J("{\"n\":\"a\"}");
    CHECK(!ddb_ctx_new(v, NULL, &e) && e.cause &&
          !strcmp(e.cause, "ExpressionAttributeNames contains invalid key: Syntax error; key: \"n\""));
    val_err_clear(&e);
    json_decref(v);
    v = J("{\":v\":{\"SS\":[]}}");
    CHECK(!ddb_ctx_new(NULL, v, &e) && e.cause &&
          strstr(e.cause, "ExpressionAttributeValues contains invalid value: One or more parameter values were "
                          "invalid: An string set  may not be empty for key :v"));
    val_err_clear(&e);
    json_decref(v);

    /* Unused placeholders, names first. */
    json_t *names = J("{\"#a\":\"a\",\"#b\":\"b\"}"), *values = J("{\":x\":{\"N\":\"1\"},\":y\":{\"N\":\"2\"}}");
    ddb_expr_ctx *c = ddb_ctx_new(names, values, &e);
    ddb_expr *x = ddb_expr_parse(DDB_EXPR_CONDITION, "#a = :x", "ConditionExpression", c, &e);
    CHECK(x != NULL);
    CHECK(ddb_ctx_check_unused(c, &e) < 0 && e.cause &&
          !strcmp(e.cause, "Value provided in ExpressionAttributeNames unused in expressions: keys: {#b}"));
    val_err_clear(&e);
    ddb_expr *y = ddb_expr_parse(DDB_EXPR_PROJECTION, "#b", "ProjectionExpression", c, &e);
    CHECK(ddb_ctx_check_unused(c, &e) < 0 && e.cause &&
          !strcmp(e.cause, "Value provided in ExpressionAttributeValues unused in expressions: keys: {:y}"));
    val_err_clear(&e);
    ddb_expr_free(x);
    ddb_expr_free(y);
    ddb_ctx_free(c);
    c = ddb_ctx_new(names, values, &e);
    CHECK(ddb_ctx_check_unused(c, &e) < 0 && e.cause && strstr(e.cause, "keys: {#a, #b}"));
    val_err_clear(&e);
    ddb_ctx_free(c);
    json_decref(names);
    json_decref(values);
    c = ddb_ctx_new(NULL, NULL, &e);
    CHECK(c && ddb_ctx_check_unused(c, &e) == 0);
    x = ddb_expr_parse(DDB_EXPR_CONDITION, "a = :v", "ConditionExpression", c, &e);
    CHECK(!x && e.cause && strstr(e.cause, "attribute value: :v"));
    val_err_clear(&e);
    ddb_ctx_free(c);
    ddb_ctx_free(NULL);
    ddb_expr_free(NULL);
}

/* Applies text to item_text with key schema pk; compares with want (item
 * JSON) or the cause with want_err. */
static int upd_on(const char *text, const char *item_text, const char *want, const char *want_err)
{
    ddb_expr_ctx *c = ctx();
    val_err e = {0};
    int ok = 0;
    ddb_expr *x = ddb_expr_parse(DDB_EXPR_UPDATE, text, "UpdateExpression", c, &e);
    json_t *schema = J("[{\"AttributeName\":\"pk\",\"KeyType\":\"HASH\"}]");
    if (!x) {
        fprintf(stderr, "  %s: refused: %s\n", text, e.cause);
    } else {
        json_t *item = J(item_text);
        json_t *before = json_deep_copy(item);
        /* The caller's shallow copy shares values with the old item,
         * which must come through unchanged. */
        json_t *work = json_copy(item);
        int r = ddb_update_apply(x, work, schema, &e);
        if (want_err) {
            ok = r < 0 && e.cause && strstr(e.cause, want_err);
            if (!ok)
                fprintf(stderr, "  %s: %s\n", text, r < 0 ? e.cause : "applied");
        } else {
            ok = r == 0 && tap_json_eq(work, want);
            if (r < 0)
                fprintf(stderr, "  %s: %s\n", text, e.cause);
        }
        if (!json_equal(item, before)) {
            ok = 0;
            fprintf(stderr, "  %s: changed the old item\n", text);
        }
        json_decref(item);
        json_decref(before);
        json_decref(work);
    }
    json_decref(schema);
    ddb_expr_free(x);
    ddb_ctx_free(c);
    val_err_clear(&e);
    return ok;
}
#define UPD(text, item, want) CHECK(upd_on(text, item, want, NULL))
#define UPD_FAILS(text, item, err) CHECK(upd_on(text, item, NULL, err))

static void test_updates(void)
{
    const char *it = "{\"pk\":{\"S\":\"k\"},\"n\":{\"N\":\"5\"},\"l\":{\"L\":[{\"N\":\"1\"},{\"S\":\"x\"}]},"
                     "\"m\":{\"M\":{\"a\":{\"M\":{\"b\":{\"N\":\"2\"}}}}},\"ss\":{\"SS\":[\"a\",\"b\"]},"
                     "\"ns\":{\"NS\":[\"1\",\"2.5\"]},\"s\":{\"S\":\"hello\"}}";
    UPD("SET s = :x", it,
        "{\"pk\":{\"S\":\"k\"},\"n\":{\"N\":\"5\"},\"l\":{\"L\":[{\"N\":\"1\"},{\"S\":\"x\"}]},"
        "\"m\":{\"M\":{\"a\":{\"M\":{\"b\":{\"N\":\"2\"}}}}},\"ss\":{\"SS\":[\"a\",\"b\"]},"
        "\"ns\":{\"NS\":[\"1\",\"2.5\"]},\"s\":{\"S\":\"x\"}}");
    UPD("SET a = :5, b = :x", "{\"pk\":{\"S\":\"k\"}}", "{\"pk\":{\"S\":\"k\"},\"a\":{\"N\":\"5\"},\"b\":{\"S\":\"x\"}}");
    UPD("set a = :5", "{}", "{\"a\":{\"N\":\"5\"}}");
    UPD("SET n = n + :one", "{\"n\":{\"N\":\"5\"}}", "{\"n\":{\"N\":\"6\"}}");
    UPD("SET n = n - :6", "{\"n\":{\"N\":\"5\"}}", "{\"n\":{\"N\":\"-1\"}}");
    UPD("SET n = :one - n", "{\"n\":{\"N\":\"5\"}}", "{\"n\":{\"N\":\"-4\"}}");
    UPD("SET n = (n + :one)", "{\"n\":{\"N\":\"5\"}}", "{\"n\":{\"N\":\"6\"}}");
    UPD("SET c = if_not_exists(c, :4) + :one", "{}", "{\"c\":{\"N\":\"5\"}}");
    UPD("SET c = if_not_exists(c, :4) + :one", "{\"c\":{\"N\":\"10\"}}", "{\"c\":{\"N\":\"11\"}}");
    UPD("SET c = if_not_exists(n, :4)", "{\"n\":{\"N\":\"7\"}}", "{\"n\":{\"N\":\"7\"},\"c\":{\"N\":\"7\"}}");
    UPD("SET l = list_append(l, :l1)", "{\"l\":{\"L\":[{\"S\":\"x\"}]}}",
        "{\"l\":{\"L\":[{\"S\":\"x\"},{\"N\":\"1\"}]}}");
    UPD("SET l = list_append(:l1, l)", "{\"l\":{\"L\":[{\"S\":\"x\"}]}}",
        "{\"l\":{\"L\":[{\"N\":\"1\"},{\"S\":\"x\"}]}}");
    UPD("SET l = list_append(if_not_exists(l, :l1), :l1)", "{}", "{\"l\":{\"L\":[{\"N\":\"1\"},{\"N\":\"1\"}]}}");
    UPD("SET m.a.b = :5", "{\"m\":{\"M\":{\"a\":{\"M\":{\"b\":{\"N\":\"2\"}}}}}}",
        "{\"m\":{\"M\":{\"a\":{\"M\":{\"b\":{\"N\":\"5\"}}}}}}");
    UPD("SET m.a.c = :5", "{\"m\":{\"M\":{\"a\":{\"M\":{\"b\":{\"N\":\"2\"}}}}}}",
        "{\"m\":{\"M\":{\"a\":{\"M\":{\"b\":{\"N\":\"2\"},\"c\":{\"N\":\"5\"}}}}}}");
    UPD("SET #m.#dk = :d", "{\"m\":{\"M\":{}}}", "{\"m\":{\"M\":{\"dot.key\":{\"S\":\"d\"}}}}");
    UPD("SET l[0] = :x", "{\"l\":{\"L\":[{\"N\":\"1\"},{\"N\":\"2\"}]}}", "{\"l\":{\"L\":[{\"S\":\"x\"},{\"N\":\"2\"}]}}");
    UPD("SET l[7] = :x", "{\"l\":{\"L\":[{\"N\":\"1\"}]}}", "{\"l\":{\"L\":[{\"N\":\"1\"},{\"S\":\"x\"}]}}");
    UPD("SET l[0].k = :x", "{\"l\":{\"L\":[{\"M\":{}}]}}", "{\"l\":{\"L\":[{\"M\":{\"k\":{\"S\":\"x\"}}}]}}");
    /* Every right-hand side reads the item as it was. */
    UPD("SET a = b, b = a", "{\"a\":{\"N\":\"1\"},\"b\":{\"N\":\"2\"}}", "{\"a\":{\"N\":\"2\"},\"b\":{\"N\":\"1\"}}");
    UPD("SET a = :5 REMOVE b", "{\"b\":{\"N\":\"2\"}}", "{\"a\":{\"N\":\"5\"}}");
    UPD("REMOVE a, b", "{\"a\":{\"N\":\"1\"},\"b\":{\"N\":\"2\"},\"c\":{\"N\":\"3\"}}", "{\"c\":{\"N\":\"3\"}}");
    UPD("REMOVE nope", "{\"c\":{\"N\":\"3\"}}", "{\"c\":{\"N\":\"3\"}}");
    UPD("REMOVE m.a.b", "{\"m\":{\"M\":{\"a\":{\"M\":{\"b\":{\"N\":\"2\"}}}}}}", "{\"m\":{\"M\":{\"a\":{\"M\":{}}}}}");
    UPD("REMOVE l[1]", "{\"l\":{\"L\":[{\"N\":\"0\"},{\"N\":\"1\"},{\"N\":\"2\"}]}}",
        "{\"l\":{\"L\":[{\"N\":\"0\"},{\"N\":\"2\"}]}}");
    UPD("REMOVE l[0], l[2]", "{\"l\":{\"L\":[{\"N\":\"0\"},{\"N\":\"1\"},{\"N\":\"2\"},{\"N\":\"3\"}]}}",
        "{\"l\":{\"L\":[{\"N\":\"1\"},{\"N\":\"3\"}]}}");
    UPD("REMOVE l[9]", "{\"l\":{\"L\":[{\"N\":\"0\"}]}}", "{\"l\":{\"L\":[{\"N\":\"0\"}]}}");
    UPD("ADD n :one", "{\"n\":{\"N\":\"5\"}}", "{\"n\":{\"N\":\"6\"}}");
    UPD("ADD n :one", "{}", "{\"n\":{\"N\":\"1\"}}");
    UPD("ADD ss :ss", "{\"ss\":{\"SS\":[\"a\",\"b\"]}}", "{\"ss\":{\"SS\":[\"a\",\"b\",\"c\"]}}");
    UPD("ADD ss :ss", "{}", "{\"ss\":{\"SS\":[\"b\",\"c\"]}}");
    UPD("ADD ns :ns", "{\"ns\":{\"NS\":[\"1\",\"2.5\"]}}", "{\"ns\":{\"NS\":[\"1\",\"2.5\",\"7\"]}}");
    UPD("ADD m.a.b :one", "{\"m\":{\"M\":{\"a\":{\"M\":{\"b\":{\"N\":\"2\"}}}}}}",
        "{\"m\":{\"M\":{\"a\":{\"M\":{\"b\":{\"N\":\"3\"}}}}}}");
    UPD("ADD n :one, c :one", "{\"n\":{\"N\":\"5\"}}", "{\"n\":{\"N\":\"6\"},\"c\":{\"N\":\"1\"}}");
    UPD("DELETE ss :ss", "{\"ss\":{\"SS\":[\"a\",\"b\"]}}", "{\"ss\":{\"SS\":[\"a\"]}}");
    UPD("DELETE ss :ssa", "{\"ss\":{\"SS\":[\"a\"]}}", "{}");
    UPD("DELETE ss :ssa", "{}", "{}");
    UPD("DELETE ns :ns", "{\"ns\":{\"NS\":[\"1\",\"2.5\"]}}", "{\"ns\":{\"NS\":[\"1\"]}}");
    UPD("SET a = :5 REMOVE b ADD c :one DELETE ss :ssa",
        "{\"b\":{\"N\":\"1\"},\"ss\":{\"SS\":[\"a\",\"z\"]}}",
        "{\"a\":{\"N\":\"5\"},\"c\":{\"N\":\"1\"},\"ss\":{\"SS\":[\"z\"]}}");
    UPD("remove b set a = :5", "{\"b\":{\"N\":\"1\"}}", "{\"a\":{\"N\":\"5\"}}");
    UPD("SET n = n + :one", "{\"n\":{\"N\":\"99999999999999999999999999999999999998\"}}",
        "{\"n\":{\"N\":\"99999999999999999999999999999999999999\"}}");

    /* Run-time errors. */
    UPD_FAILS("SET a = b", "{}", "The provided expression refers to an attribute that does not exist in the item");
    UPD_FAILS("SET a = b + :one", "{}", "The provided expression refers to an attribute that does not exist in the item");
    UPD_FAILS("SET a = s + :one", "{\"s\":{\"S\":\"x\"}}", "An operand in the update expression has an incorrect data "
                                                          "type");
    UPD_FAILS("SET l = list_append(s, :l1)", "{\"s\":{\"S\":\"x\"}}", "An operand in the update expression has an "
                                                                      "incorrect data type");
    UPD_FAILS("SET m.a.b = :5", "{}", "The document path provided in the update expression is invalid for update");
    UPD_FAILS("SET s.a = :5", "{\"s\":{\"S\":\"x\"}}", "The document path provided in the update expression is invalid "
                                                       "for update");
    UPD_FAILS("SET l[0] = :5", "{\"l\":{\"M\":{}}}", "invalid for update");
    UPD_FAILS("ADD s :one", "{\"s\":{\"S\":\"x\"}}", "An operand in the update expression has an incorrect data type");
    UPD_FAILS("ADD ss :ns", "{\"ss\":{\"SS\":[\"a\"]}}", "incorrect data type");
    UPD_FAILS("DELETE ss :ns", "{\"ss\":{\"SS\":[\"a\"]}}", "incorrect data type");
    UPD_FAILS("SET pk = :x", "{}", "One or more parameter values were invalid: Cannot update attribute pk. This "
                                   "attribute is part of the key");
    UPD_FAILS("REMOVE pk", "{}", "Cannot update attribute pk");
    UPD_FAILS("SET n = n + :two", "{\"n\":{\"N\":\"99999999999999999999999999999999999999\"}}",
              "more than 38 significant digits");
    {
        /* a holds 32 nested maps, the most DynamoDB keeps: its leaf may
         * become a number, not another map. */
        val_buf b = {0}, p = {0}, w = {0};
        val_buf_puts(&p, "SET a");
        for (int i = 0; i < 32; i++) {
            val_buf_puts(&b, "{\"M\":{\"a\":");
            val_buf_puts(&w, "{\"M\":{\"a\":");
            val_buf_puts(&p, ".a");
        }
        val_buf_puts(&b, "{\"N\":\"1\"}");
        val_buf_puts(&w, "{\"N\":\"5\"}");
        for (int i = 0; i < 32; i++) {
            val_buf_puts(&b, "}}");
            val_buf_puts(&w, "}}");
        }
        char *want = val_asprintf("{\"a\":%s}", w.p);
        val_buf_free(&w);
        char *deep = val_asprintf("{\"a\":%s}", b.p);
        char *text = val_asprintf("%s = :5", p.p);
        UPD(text, deep, want);
        free(text);
        free(want);
        text = val_asprintf("%s = :kv", p.p);
        UPD_FAILS(text, deep, "Nesting Levels have exceeded supported limits");
        free(text);
        free(deep);
        val_buf_free(&b);
        val_buf_free(&p);
    }
    UPD_FAILS("ADD n :one", "{\"n\":{\"N\":\"9.9999999999999999999999999999999999999E+125\"}}",
              "more than 38 significant digits");

    /* Parse-time errors. */
    UPD_BAD("SET", "=Invalid UpdateExpression: Syntax error; token: \"<EOF>\", near: \"SET\"");
    UPD_BAD("SET a", "Syntax error; token: \"<EOF>\", near: \"a\"");
    UPD_BAD("SET a = ", "Syntax error; token: \"<EOF>\"");
    UPD_BAD("a = :5", "Syntax error; token: \"a\"");
    UPD_BAD("SET a = :5,", "Syntax error; token: \"<EOF>\"");
    UPD_BAD("SET a = :5 b = :5", "Syntax error; token: \"b\"");
    UPD_BAD("SET a = :5 + :one + :one", "Syntax error; token: \"+\"");
    UPD_BAD("SET a = (:5 + :one) + :one", "Syntax error; token: \"+\"");
    UPD_BAD("ADD a b", "Syntax error; token: \"b\"");
    UPD_BAD("REMOVE a = :5", "Syntax error; token: \"=\"");
    UPD_BAD("SET a = :5 SET b = :5", "=Invalid UpdateExpression: The \"SET\" section can only be used once in an "
                                     "update expression;");
    UPD_BAD("REMOVE a REMOVE b", "The \"REMOVE\" section can only be used once");
    UPD_BAD("SET name = :5", "=Invalid UpdateExpression: Attribute name is a reserved keyword; reserved keyword: name");
    UPD_BAD("SET a = :5 REMOVE a", "=Invalid UpdateExpression: Two document paths overlap with each other; must "
                                   "remove or rewrite one of these paths; path one: [a], path two: [a]");
    UPD_BAD("SET a = :5, a.b = :5", "Two document paths overlap with each other; must remove or rewrite one of these "
                                    "paths; path one: [a], path two: [a, b]");
    UPD_BAD("SET a.b = :5, a[0] = :5", "Two document paths conflict with each other; must remove or rewrite one of "
                                       "these paths; path one: [a, b], path two: [a, [0]]");
    UPD_BAD("SET a = :5, b = :5, a = :x", "overlap");
    UPD_BAD("ADD a :x", "=Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, "
                        "operand type: STRING, typeSet: ALLOWED_FOR_ADD_OPERAND");
    UPD_BAD("ADD a :l1", "operator: ADD, operand type: LIST, typeSet: ALLOWED_FOR_ADD_OPERAND");
    UPD_BAD("DELETE a :5", "operator: DELETE, operand type: NUMBER, typeSet: ALLOWED_FOR_DELETE_OPERAND");
    UPD_BAD("SET a = :x + :one", "Incorrect operand type for operator or function; operator or function: +, operand "
                                 "type: S");
    UPD_BAD("SET a = list_append(:5, l)", "operator or function: list_append, operand type: N");
    UPD_BAD("SET a = if_not_exists(:5, :5)", "Operator or function requires a document path; operator or function: "
                                             "if_not_exists");
    UPD_BAD("SET a = if_not_exists(a)", "Incorrect number of operands for operator or function; operator or function: "
                                        "if_not_exists, number of operands: 1");
    UPD_BAD("SET a = size(b)", "Invalid function name; function: size");
    UPD_BAD("SET a = foo(b)", "Invalid function name; function: foo");
    UPD_BAD("SET #undefined = :5", "attribute name: #undefined");
    UPD_BAD("SET a = :undefined", "attribute value: :undefined");
    UPD_BAD("", "=Invalid UpdateExpression: The expression can not be empty;");
}

static int proj_is(const char *text, const char *item_text, const char *want)
{
    ddb_expr_ctx *c = ctx();
    val_err e = {0};
    ddb_expr *x = ddb_expr_parse(DDB_EXPR_PROJECTION, text, "ProjectionExpression", c, &e);
    int ok = 0;
    if (!x) {
        fprintf(stderr, "  %s: refused: %s\n", text, e.cause);
    } else {
        json_t *item = item_text ? J(item_text) : json_incref(g_item);
        json_t *r = ddb_project(x, item);
        ok = tap_json_eq(r, want);
        json_decref(r);
        json_decref(item);
    }
    ddb_expr_free(x);
    ddb_ctx_free(c);
    val_err_clear(&e);
    return ok;
}
#define PROJ(text, want) CHECK(proj_is(text, NULL, want))

static void test_projections(void)
{
    PROJ("n", "{\"n\":{\"N\":\"5\"}}");
    PROJ("n, s", "{\"n\":{\"N\":\"5\"},\"s\":{\"S\":\"hello\"}}");
    PROJ("nope", "{}");
    PROJ("n, nope", "{\"n\":{\"N\":\"5\"}}");
    PROJ("m.a.b", "{\"m\":{\"M\":{\"a\":{\"M\":{\"b\":{\"N\":\"2\"}}}}}}");
    PROJ("m.#dk, #n", "{\"m\":{\"M\":{\"dot.key\":{\"S\":\"d\"}}},\"n\":{\"N\":\"5\"}}");
    PROJ("m.a.b, m.#dk", "{\"m\":{\"M\":{\"a\":{\"M\":{\"b\":{\"N\":\"2\"}}},\"dot.key\":{\"S\":\"d\"}}}}");
    PROJ("l[1]", "{\"l\":{\"L\":[{\"S\":\"x\"}]}}");
    PROJ("l[2], l[0]", "{\"l\":{\"L\":[{\"N\":\"1\"},{\"M\":{\"k\":{\"S\":\"v\"}}}]}}");
    PROJ("l[2].k", "{\"l\":{\"L\":[{\"M\":{\"k\":{\"S\":\"v\"}}}]}}");
    PROJ("l[7]", "{}");
    PROJ("l[0].k", "{}");
    PROJ("m.a.zz", "{}");
    PROJ("#name", "{\"name\":{\"S\":\"reserved\"}}");
    PROJ("n", "{\"n\":{\"N\":\"5\"}}");
    CHECK(proj_is("a[10], a[2]", "{\"a\":{\"L\":[{\"N\":\"0\"},{\"N\":\"1\"},{\"N\":\"2\"},{\"N\":\"3\"},{\"N\":\"4\"},"
                                 "{\"N\":\"5\"},{\"N\":\"6\"},{\"N\":\"7\"},{\"N\":\"8\"},{\"N\":\"9\"},{\"N\":\"10\"}]}}",
                  "{\"a\":{\"L\":[{\"N\":\"2\"},{\"N\":\"10\"}]}}"));
    PROJ_BAD("name", "=Invalid ProjectionExpression: Attribute name is a reserved keyword; reserved keyword: name");
    PROJ_BAD("a, a.b", "=Invalid ProjectionExpression: Two document paths overlap with each other; must remove or "
                       "rewrite one of these paths; path one: [a], path two: [a, b]");
    PROJ_BAD("a, a", "overlap");
    PROJ_BAD("a.b, a[0]", "conflict");
    PROJ_BAD("a,", "Syntax error; token: \"<EOF>\"");
    PROJ_BAD("a b", "Syntax error; token: \"b\"");
    PROJ_BAD(":v", "Syntax error; token: \":v\"");
    PROJ_BAD("", "=Invalid ProjectionExpression: The expression can not be empty;");
    PROJ_BAD("#nope", "attribute name: #nope");

    /* UPDATED_OLD / UPDATED_NEW: the paths the update names. */
    ddb_expr_ctx *c = ctx();
    ddb_expr *x = ddb_expr_parse(DDB_EXPR_UPDATE, "SET m.a.b = :5, n = :6 REMOVE s ADD nope :one", "UpdateExpression",
                                 c, NULL);
    CHECK(x != NULL);
    json_t *r = ddb_update_project(x, g_item);
    CHECK_JSON(r, "{\"m\":{\"M\":{\"a\":{\"M\":{\"b\":{\"N\":\"2\"}}}}},\"n\":{\"N\":\"5\"},\"s\":{\"S\":\"hello\"}}");
    json_decref(r);
    ddb_expr_free(x);
    ddb_ctx_free(c);
}

static int keycond_is(const char *text, const char *schema, const char *want)
{
    ddb_expr_ctx *c = ctx();
    val_err e = {0};
    ddb_expr *x = ddb_expr_parse(DDB_EXPR_KEY_CONDITION, text, "KeyConditionExpression", c, &e);
    json_t *ks = J(schema);
    struct ddb_keycond k;
    char got[256] = "";
    if (!x)
        snprintf(got, sizeof got, "parse: %s", e.cause);
    else if (ddb_keycond_get(x, ks, &k, &e) < 0)
        snprintf(got, sizeof got, "get: %s", e.cause);
    else {
        char *v1 = k.v1 ? val_dump(k.v1, NULL) : strdup("-"), *v2 = k.v2 ? val_dump(k.v2, NULL) : strdup("-");
        char *pv = val_dump(k.pk_value, NULL);
        snprintf(got, sizeof got, "%s=%s %s %d %s %s", k.pk_name, pv, k.sk_name ? k.sk_name : "-", (int)k.op, v1, v2);
        free(v1);
        free(v2);
        free(pv);
    }
    int ok = strcmp(got, want) == 0;
    if (!ok)
        fprintf(stderr, "  %s\n    got:  %s\n    want: %s\n", text, got, want);
    json_decref(ks);
    ddb_expr_free(x);
    ddb_ctx_free(c);
    val_err_clear(&e);
    return ok;
}

static void test_keyconds(void)
{
    const char *hs = "[{\"AttributeName\":\"pk\",\"KeyType\":\"HASH\"},{\"AttributeName\":\"sk\",\"KeyType\":\"RANGE\"}]";
    const char *h = "[{\"AttributeName\":\"pk\",\"KeyType\":\"HASH\"}]";
    CHECK(keycond_is("pk = :a", hs, "pk={\"S\":\"a\"} - 0 - -"));
    CHECK(keycond_is("pk = :a", h, "pk={\"S\":\"a\"} - 0 - -"));
    CHECK(keycond_is(":a = pk", h, "pk={\"S\":\"a\"} - 0 - -"));
    CHECK(keycond_is("pk = :a AND sk = :5", hs, "pk={\"S\":\"a\"} sk 1 {\"N\":\"5\"} -"));
    CHECK(keycond_is("pk = :a AND sk < :5", hs, "pk={\"S\":\"a\"} sk 2 {\"N\":\"5\"} -"));
    CHECK(keycond_is("pk = :a AND sk <= :5", hs, "pk={\"S\":\"a\"} sk 3 {\"N\":\"5\"} -"));
    CHECK(keycond_is("pk = :a AND sk > :5", hs, "pk={\"S\":\"a\"} sk 4 {\"N\":\"5\"} -"));
    CHECK(keycond_is("pk = :a AND sk >= :5", hs, "pk={\"S\":\"a\"} sk 5 {\"N\":\"5\"} -"));
    CHECK(keycond_is("pk = :a AND :5 > sk", hs, "pk={\"S\":\"a\"} sk 2 {\"N\":\"5\"} -"));
    CHECK(keycond_is("sk BETWEEN :4 AND :6 AND pk = :a", hs, "pk={\"S\":\"a\"} sk 6 {\"N\":\"4\"} {\"N\":\"6\"}"));
    CHECK(keycond_is("pk = :a AND begins_with(sk, :he)", hs, "pk={\"S\":\"a\"} sk 7 {\"S\":\"he\"} -"));
    CHECK(keycond_is("(pk = :a) AND (sk = :5)", hs, "pk={\"S\":\"a\"} sk 1 {\"N\":\"5\"} -"));
    CHECK(keycond_is("#n = :a", "[{\"AttributeName\":\"n\",\"KeyType\":\"HASH\"}]", "n={\"S\":\"a\"} - 0 - -"));
    CHECK(keycond_is("sk = :5", hs, "get: Query condition missed key schema element: pk"));
    CHECK(keycond_is("pk = :a AND x2 = :5", hs, "get: Query condition missed key schema element: sk"));
    CHECK(keycond_is("pk < :a", hs, "get: Query key condition not supported"));
    CHECK(keycond_is("pk = :a AND sk = :5 AND x = :one", hs, "get: Conditions can be of length 1 or 2 only"));
    KEY_BAD("pk = :a OR sk = :5", "=Invalid KeyConditionExpression: Invalid operator used in KeyConditionExpression: OR");
    KEY_BAD("NOT pk = :a", "Invalid operator used in KeyConditionExpression: NOT");
    KEY_BAD("pk IN (:a)", "Invalid operator used in KeyConditionExpression: IN");
    KEY_BAD("pk <> :a", "Invalid operator used in KeyConditionExpression: <>");
    KEY_BAD("pk = :a AND contains(sk, :a)", "Invalid operator used in KeyConditionExpression: contains");
    KEY_BAD("pk = :a AND attribute_exists(sk)", "Invalid operator used in KeyConditionExpression: attribute_exists");
    KEY_BAD("pk = :a AND size(sk) = :5", "KeyConditionExpressions cannot contain nested operations");
    KEY_BAD("pk = :a AND pk = :a", "KeyConditionExpressions must only contain one condition per key");
    KEY_BAD("pk = sk", "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition");
    KEY_BAD("pk.x = :a", "KeyConditionExpressions cannot have conditions on nested attributes");
    KEY_BAD(":a = :a", "Invalid condition in KeyConditionExpression: No key attribute specified");
    KEY_BAD("pk = :a AND sk BETWEEN :6 AND :4", "requires upper bound to be greater than or equal to lower bound");
    KEY_BAD("pk = :a AND", "=Invalid KeyConditionExpression: Syntax error; token: \"<EOF>\", near: \"AND\"");
    KEY_BAD("name = :a", "reserved keyword: name");
    /* Found by fuzz_ddbexpr: a wrong operand count inside a key condition. */
    KEY_BAD("pk = :a AND begins_with(sk)", "operator or function: begins_with, number of operands: 1");
}

static void test_reserved(void)
{
    /* Reserved words, any case, as bare names; placeholders get around them. */
    const char *words[] = {"ABORT", "zone", "Status", "data", "Name", "year", "Size", "Ttl", "user", "value", "key",
                           "timestamp", "comment", "count", "date", "level", "source", "type", "url", "uuid"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        char text[64], want[128];
        snprintf(text, sizeof text, "%s = :5", words[i]);
        snprintf(want, sizeof want, "=Invalid ConditionExpression: Attribute name is a reserved keyword; reserved "
                                    "keyword: %s",
                 words[i]);
        COND_BAD(text, want);
    }
    const char *fine[] = {"n", "pk", "price", "remove", "abc", "zones", "id", "email", "_x", "x_1"};
    for (size_t i = 0; i < sizeof fine / sizeof fine[0]; i++) {
        char text[64];
        snprintf(text, sizeof text, "%s <> :6", fine[i]);
        COND(text, 1);
    }
}


/* ------------------------------------------------------ review regressions */

static void test_review(void)
{
    /* REMOVE of list elements at several depths: each path names what it
     * named in the item before the update, whatever the order written */
    const char *l3 = "{\"l\":{\"L\":[{\"N\":\"0\"},{\"N\":\"1\"},{\"L\":[{\"N\":\"20\"},{\"N\":\"21\"}]}]}}";
    const char *l3_after = "{\"l\":{\"L\":[{\"N\":\"1\"},{\"L\":[{\"N\":\"21\"}]}]}}";
    UPD("REMOVE l[0], l[2][0]", l3, l3_after);
    UPD("REMOVE l[2][0], l[0]", l3, l3_after);
    UPD("REMOVE l[0], l[2][1], l[1]", l3, "{\"l\":{\"L\":[{\"L\":[{\"N\":\"20\"}]}]}}");
}

/* A request's answer through ddb_call (req text is parsed here): 1 when
 * it succeeded. */
static int ddb_ok(store *st, const struct ddb_env *env, const char *op, const char *req, val_err *e)
{
    json_t *r = J(req);
    json_t *a = ddb_call(st, op, r, env, NULL, e);
    json_decref(r);
    json_decref(a);
    return a != NULL;
}

/* The group commit's contract (ddb_env.in_tx): a write that joins a
 * transaction is either kept with it or lost with it. When a write fails
 * in the store (here: the file size limit, an I/O error for SQLite),
 * SQLite may roll the transaction back by itself; a later write of the
 * same group must then fail, not commit on its own while its caller
 * rolls back and answers it as lost. */
static void test_store_lost_tx(void)
{
    char dir[] = "/tmp/stepd-ddb-XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(!"mkdtemp");
        return;
    }
    char path[256];
    snprintf(path, sizeof path, "%s/s.db", dir);
    val_err e = {0};
    store *st = store_sqlite_open(path, &e);
    CHECK_MSG(st != NULL, "%s", e.cause ? e.cause : "?");
    if (!st)
        return;
    struct ddb_env env = {.region = "us-east-1", .account = "123456789012", .now_ns = 1};
    CHECK(ddb_ok(st, &env, "CreateTable",
                 "{\"TableName\":\"tbl\",\"AttributeDefinitions\":[{\"AttributeName\":\"pk\",\"AttributeType\":"
                 "\"S\"}],\"KeySchema\":[{\"AttributeName\":\"pk\",\"KeyType\":\"HASH\"}],\"BillingMode\":"
                 "\"PAY_PER_REQUEST\"}",
                 &e));
    struct rlimit old, small;
    getrlimit(RLIMIT_FSIZE, &old);
    small = old;
    small.rlim_cur = 4 << 20;
    void (*oldsig)(int) = signal(SIGXFSZ, SIG_IGN);
    setrlimit(RLIMIT_FSIZE, &small);
    env.in_tx = 1;
    CHECK(st->ops->begin(st, &e) == STORE_OK);
    /* big items until the cache spills into a file that may not grow */
    char *big = malloc(300001);
    if (!big)
        abort();
    memset(big, 'x', 300000);
    big[300000] = 0;
    int failed = 0;
    for (int i = 0; i < 200 && !failed; i++) {
        json_t *req = json_pack("{s:s,s:{s:{s:s},s:{s:s}}}", "TableName", "tbl", "Item", "pk", "S", "", "v", "S", big);
        json_object_set_new(json_object_get(json_object_get(req, "Item"), "pk"), "S", json_sprintf("k%d", i));
        val_err_clear(&e);
        json_t *a = ddb_call(st, "PutItem", req, &env, NULL, &e);
        failed = !a && e.kind == VAL_ERR_STORE;
        json_decref(a);
        json_decref(req);
    }
    free(big);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, oldsig);
    CHECK_MSG(failed, "no store failure under a 4 MB file size limit");
    /* the same group writes on, then rolls back as the loop would */
    val_err_clear(&e);
    CHECK(!ddb_ok(st, &env, "PutItem", "{\"TableName\":\"tbl\",\"Item\":{\"pk\":{\"S\":\"after\"}}}", &e));
    st->ops->rollback(st, NULL);
    env.in_tx = 0;
    val_err_clear(&e);
    json_t *req = J("{\"TableName\":\"tbl\",\"Key\":{\"pk\":{\"S\":\"after\"}}}");
    json_t *a = ddb_call(st, "GetItem", req, &env, NULL, &e);
    CHECK_JSON(a, "{}"); /* nothing of the rolled back group is kept */
    json_decref(a);
    json_decref(req);
    val_err_clear(&e);
    store_close(st);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

int main(void)
{
    test_numbers();
    test_canon();
    test_equal_size();
    test_keys();
    g_names = J(NAMES);
    g_values = J(VALUES);
    g_item = J(ITEM);
    test_conditions();
    test_context();
    test_updates();
    test_projections();
    test_keyconds();
    test_reserved();
    test_review();
    test_store_lost_tx();
    json_decref(g_names);
    json_decref(g_values);
    json_decref(g_item);
    TEST_DONE();
}
