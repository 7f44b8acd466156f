/* av — DynamoDB AttributeValues: the checks a request's values go through
 * (with DynamoDB's own ValidationException texts), exact decimal numbers
 * (38 significant digits, never a double), equality and ordering, item
 * sizes, and the order-preserving key encoding the store sorts with
 * memcmp. See av.h for the contract. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddb/av.h"

#define NUM_MAX_DIGITS 38
#define NUM_MAX_EXP 126  /* 9.99..E+125 = 0.999.. * 10^126 */
#define NUM_MIN_EXP -129 /* 1E-130 = 0.1 * 10^-129 */

/* err = ValidationException with a printf-style message (val_err_set does
 * the formatting and accepts a NULL err). */
#define inval(err, ...) val_err_set((err), VAL_ERR_VALIDATION, "ValidationException", __VA_ARGS__)

/* ---------------------------------------------------------------- base64 */

static int b64_val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Strict RFC 4648 decoding (padding required, unused bits zero, so every
 * byte string has exactly one accepted text and texts compare as bytes
 * do after decoding). Returns a malloc'd buffer (never NULL on success,
 * even for 0 bytes) with its length in *n, or NULL with *why set to the
 * reason. Not static: expr.c needs decoded bytes too and av.h is frozen
 * while items.c is written against it. */
unsigned char *ddbp_b64_decode(const char *s, size_t len, size_t *n, const char **why);
unsigned char *ddbp_b64_decode(const char *s, size_t len, size_t *n, const char **why)
{
    static char badc[64];
    if (len % 4) {
        *why = "Base64 encoded length is expected a multiple of 4 bytes";
        return NULL;
    }
    size_t pad = 0;
    if (len >= 1 && s[len - 1] == '=')
        pad++;
    if (len >= 2 && s[len - 2] == '=')
        pad++;
    unsigned char *out = malloc(len / 4 * 3 + 1);
    if (!out)
        abort();
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        int v[4];
        for (int k = 0; k < 4; k++) {
            size_t at = i + (size_t)k;
            if (at >= len - pad) {
                v[k] = 0;
                continue;
            }
            v[k] = b64_val((unsigned char)s[at]);
            if (v[k] < 0) {
                snprintf(badc, sizeof badc, "Invalid Base64 character: '%c'", s[at]);
                *why = badc;
                free(out);
                return NULL;
            }
        }
        unsigned long w = ((unsigned long)v[0] << 18) | ((unsigned long)v[1] << 12) | ((unsigned long)v[2] << 6) |
                          (unsigned long)v[3];
        size_t take = i + 4 == len ? 3 - pad : 3;
        if (i + 4 == len && ((pad == 1 && (w & 0xff)) || (pad == 2 && (w & 0xffff)))) {
            *why = "Invalid last non-pad Base64 character dectected";
            free(out);
            return NULL;
        }
        if (take >= 1)
            out[o++] = (unsigned char)(w >> 16);
        if (take >= 2)
            out[o++] = (unsigned char)(w >> 8);
        if (take >= 3)
            out[o++] = (unsigned char)w;
    }
    *n = o;
    return out;
}

/* ---------------------------------------------------------------- numbers */

static void num_zero(ddb_num *x) { memset(x, 0, sizeof *x); }

static int num_range(ddb_num *x, val_err *err)
{
    if (x->n == 0) {
        x->neg = 0;
        x->exp = 0;
        return 0;
    }
    /* Range before precision, in DynamoDB's order. */
    if (x->exp > NUM_MAX_EXP) {
        inval(err, "Number overflow. Attempting to store a number with magnitude larger than supported range");
        return -1;
    }
    if (x->exp < NUM_MIN_EXP) {
        inval(err, "Number underflow. Attempting to store a number with magnitude smaller than supported range");
        return -1;
    }
    if (x->n > NUM_MAX_DIGITS) {
        inval(err, "Attempting to store more than 38 significant digits in a Number");
        return -1;
    }
    return 0;
}

int ddb_num_parse(const char *s, ddb_num *out, val_err *err)
{
    if (!s || !*s) {
        inval(err, "The parameter cannot be converted to a numeric value");
        return -1;
    }
    /* First pass: the shape [+-]digits[.digits][(e|E)[+-]digits], and
     * where the significant digits start and end. */
    const char *p = s;
    int neg = 0;
    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    long ndig = 0, intlen = 0, first = -1, last = -1;
    int dot = 0;
    const char *mant = p;
    for (;; p++) {
        if (*p >= '0' && *p <= '9') {
            if (*p != '0') {
                if (first < 0)
                    first = ndig;
                last = ndig;
            }
            ndig++;
            if (!dot)
                intlen++;
        } else if (*p == '.' && !dot) {
            dot = 1;
        } else {
            break;
        }
    }
    const char *mant_end = p;
    if (ndig == 0)
        goto bad;
    long e = 0;
    if (*p == 'e' || *p == 'E') {
        p++;
        int eneg = 0;
        if (*p == '+' || *p == '-')
            eneg = *p++ == '-';
        if (!(*p >= '0' && *p <= '9'))
            goto bad;
        for (; *p >= '0' && *p <= '9'; p++)
            if (e < 100000000)
                e = e * 10 + (*p - '0');
        if (eneg)
            e = -e;
    }
    if (*p)
        goto bad;
    ddb_num x;
    num_zero(&x);
    if (first < 0) {
        *out = x;
        return 0;
    }
    long n = last - first + 1;
    long ex = intlen - first + e;
    if (ex > 1000000)
        ex = 1000000;
    if (ex < -1000000)
        ex = -1000000;
    x.neg = neg;
    x.exp = (int)ex;
    x.n = n > NUM_MAX_DIGITS ? NUM_MAX_DIGITS + 1 : (int)n;
    if (num_range(&x, err) < 0)
        return -1;
    /* Second pass: copy the significant digits. */
    long k = 0;
    for (const char *q = mant; q < mant_end; q++) {
        if (*q == '.')
            continue;
        if (k >= first && k <= last)
            x.d[k - first] = (unsigned char)(*q - '0');
        k++;
    }
    *out = x;
    return 0;
bad:
    inval(err, "The parameter cannot be converted to a numeric value: %s", s);
    return -1;
}

char *ddb_num_format(const ddb_num *x)
{
    val_buf b = {0};
    if (x->n == 0)
        return strdup("0");
    if (x->neg)
        val_buf_putc(&b, '-');
    if (x->exp <= 0) {
        val_buf_puts(&b, "0.");
        for (int i = 0; i < -x->exp; i++)
            val_buf_putc(&b, '0');
        for (int i = 0; i < x->n; i++)
            val_buf_putc(&b, (char)('0' + x->d[i]));
    } else {
        for (int i = 0; i < x->n || i < x->exp; i++) {
            if (i == x->exp)
                val_buf_putc(&b, '.');
            val_buf_putc(&b, (char)('0' + (i < x->n ? x->d[i] : 0)));
        }
    }
    return val_buf_take(&b);
}

/* Compares magnitudes. */
static int num_cmp_abs(const ddb_num *a, const ddb_num *b)
{
    if (a->n == 0 || b->n == 0)
        return (a->n != 0) - (b->n != 0);
    if (a->exp != b->exp)
        return a->exp < b->exp ? -1 : 1;
    for (int i = 0; i < a->n || i < b->n; i++) {
        int da = i < a->n ? a->d[i] : -1, db = i < b->n ? b->d[i] : -1;
        /* A shorter digit string is a prefix followed by zeros: smaller. */
        if (da != db)
            return da < db ? -1 : 1;
    }
    return 0;
}

int ddb_num_cmp(const ddb_num *a, const ddb_num *b)
{
    int sa = a->n == 0 ? 0 : a->neg ? -1 : 1;
    int sb = b->n == 0 ? 0 : b->neg ? -1 : 1;
    if (sa != sb)
        return sa < sb ? -1 : 1;
    if (sa == 0)
        return 0;
    int c = num_cmp_abs(a, b);
    return sa < 0 ? -c : c;
}

/* Exact signed addition over a fixed window of digit positions: operands
 * are in range, so every position lies in [NUM_MIN_EXP - 38, NUM_MAX_EXP]
 * plus one carry. */
#define WIN 400
static int num_addsub(const ddb_num *a, const ddb_num *b, int negate_b, ddb_num *out, val_err *err)
{
    ddb_num A = *a, B = *b;
    if (negate_b && B.n)
        B.neg = !B.neg;
    if (A.n == 0) {
        *out = B;
        return num_range(out, err);
    }
    if (B.n == 0) {
        *out = A;
        return num_range(out, err);
    }
    int hi = (A.exp > B.exp ? A.exp : B.exp) + 1;
    int lo_a = A.exp - A.n, lo_b = B.exp - B.n;
    int lo = lo_a < lo_b ? lo_a : lo_b;
    int w = hi - lo;
    if (w > WIN) {
        inval(err, "Number overflow. Attempting to store a number with magnitude larger than supported range");
        return -1;
    }
    /* r[k] is the digit of weight 10^(hi - 1 - k). */
    int ra[WIN] = {0}, rb[WIN] = {0}, r[WIN] = {0};
    for (int i = 0; i < A.n; i++)
        ra[hi - A.exp + i] = A.d[i];
    for (int i = 0; i < B.n; i++)
        rb[hi - B.exp + i] = B.d[i];
    int neg;
    if (A.neg == B.neg) {
        int carry = 0;
        for (int k = w - 1; k >= 0; k--) {
            int s = ra[k] + rb[k] + carry;
            r[k] = s % 10;
            carry = s / 10;
        }
        neg = A.neg;
    } else {
        int c = num_cmp_abs(&A, &B);
        if (c == 0) {
            num_zero(out);
            return 0;
        }
        int *big = c > 0 ? ra : rb, *small = c > 0 ? rb : ra;
        neg = c > 0 ? A.neg : B.neg;
        int borrow = 0;
        for (int k = w - 1; k >= 0; k--) {
            int s = big[k] - small[k] - borrow;
            borrow = s < 0;
            r[k] = s < 0 ? s + 10 : s;
        }
    }
    int first = 0, last = w - 1;
    while (first < w && r[first] == 0)
        first++;
    while (last > first && r[last] == 0)
        last--;
    ddb_num x;
    num_zero(&x);
    if (first == w) {
        *out = x;
        return 0;
    }
    int n = last - first + 1;
    x.neg = neg;
    x.exp = hi - first;
    x.n = n > NUM_MAX_DIGITS ? NUM_MAX_DIGITS + 1 : n;
    if (num_range(&x, err) < 0)
        return -1;
    for (int i = 0; i < n; i++)
        x.d[i] = (unsigned char)r[first + i];
    *out = x;
    return 0;
}

int ddb_num_add(const ddb_num *a, const ddb_num *b, ddb_num *out, val_err *err)
{
    return num_addsub(a, b, 0, out, err);
}

int ddb_num_sub(const ddb_num *a, const ddb_num *b, ddb_num *out, val_err *err)
{
    return num_addsub(a, b, 1, out, err);
}

/* --------------------------------------------------------- checking input */

static const char *const TYPES[] = {"S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS"};
#define NTYPES (sizeof TYPES / sizeof TYPES[0])

const char *ddb_av_type(json_t *av)
{
    if (!json_is_object(av) || json_object_size(av) != 1)
        return NULL;
    const char *k = json_object_iter_key(json_object_iter(av));
    for (size_t i = 0; i < NTYPES; i++)
        if (strcmp(k, TYPES[i]) == 0)
            return TYPES[i];
    return NULL;
}

/* "[a, b]" as DynamoDB prints a collection in its messages. */
static char *list_text(json_t *arr)
{
    val_buf b = {0};
    val_buf_putc(&b, '[');
    size_t i;
    json_t *m;
    json_array_foreach(arr, i, m)
    {
        if (i)
            val_buf_puts(&b, ", ");
        if (json_is_string(m))
            val_buf_putn(&b, json_string_value(m), json_string_length(m));
        else
            val_buf_dump(&b, m);
        if (b.len > 1000) {
            val_buf_puts(&b, "...");
            break;
        }
    }
    val_buf_putc(&b, ']');
    return val_buf_take(&b);
}

struct member {
    const char *s;
    size_t len;
    ddb_num num;
};

static int member_cmp_bytes(const void *x, const void *y)
{
    const struct member *a = x, *b = y;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->s, b->s, n);
    if (c)
        return c;
    return (a->len > b->len) - (a->len < b->len);
}

static int member_cmp_num(const void *x, const void *y)
{
    const struct member *a = x, *b = y;
    return ddb_num_cmp(&a->num, &b->num);
}

static json_t *canon_set(const char *type, json_t *arr, val_err *err)
{
    if (!json_is_array(arr)) {
        inval(err, "One or more parameter values were invalid: Supplied AttributeValue has an invalid %s value", type);
        return NULL;
    }
    size_t n = json_array_size(arr);
    if (n == 0) {
        if (type[0] == 'S')
            inval(err, "One or more parameter values were invalid: An string set  may not be empty");
        else if (type[0] == 'N')
            inval(err, "One or more parameter values were invalid: An number set  may not be empty");
        else
            inval(err, "One or more parameter values were invalid: Binary sets should not be empty");
        return NULL;
    }
    struct member *ms = calloc(n, sizeof *ms);
    json_t *out = json_array();
    if (!ms || !out)
        abort();
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(arr, i);
        if (!json_is_string(m)) {
            inval(err, "One or more parameter values were invalid: Supplied AttributeValue has an invalid %s member",
                  type);
            goto fail;
        }
        ms[i].s = json_string_value(m);
        ms[i].len = json_string_length(m);
        if (type[0] == 'N') {
            if (ddb_num_parse(ms[i].s, &ms[i].num, err) < 0)
                goto fail;
            char *t = ddb_num_format(&ms[i].num);
            val_arr_append_take(out, json_string(t));
            free(t);
        } else if (type[0] == 'B') {
            const char *why;
            size_t bl;
            unsigned char *bytes = ddbp_b64_decode(ms[i].s, ms[i].len, &bl, &why);
            if (!bytes) {
                inval(err, "Invalid base64 value in BS: '%.100s' can not be converted to a Blob: %s", ms[i].s, why);
                goto fail;
            }
            free(bytes);
            val_arr_append_take(out, val_ref(m));
        } else {
            val_arr_append_take(out, val_ref(m));
        }
    }
    /* Duplicates by sorting, so huge sets cost n log n. Strict base64
     * makes equal BS texts equal bytes. */
    qsort(ms, n, sizeof *ms, type[0] == 'N' ? member_cmp_num : member_cmp_bytes);
    for (size_t i = 1; i < n; i++) {
        int same = type[0] == 'N' ? member_cmp_num(&ms[i - 1], &ms[i]) == 0 : member_cmp_bytes(&ms[i - 1], &ms[i]) == 0;
        if (same) {
            char *t = list_text(arr);
            if (type[0] == 'B')
                inval(err, "One or more parameter values were invalid: Input collection %sof type BS contains duplicates.",
                      t);
            else
                inval(err, "One or more parameter values were invalid: Input collection %s contains duplicates.", t);
            free(t);
            goto fail;
        }
    }
    free(ms);
    json_t *av = json_object();
    val_obj_set_take(av, type, out);
    return av;
fail:
    free(ms);
    json_decref(out);
    return NULL;
}

static json_t *canon(json_t *av, int level, val_err *err);

static json_t *canon_map(json_t *m, int level, val_err *err)
{
    json_t *out = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(m, k, v)
    {
        json_t *c = canon(v, level, err);
        if (!c) {
            json_decref(out);
            return NULL;
        }
        val_obj_set_take(out, k, c);
    }
    return out;
}

/* level: how many M/L containers enclose av. */
static json_t *canon(json_t *av, int level, val_err *err)
{
    if (!json_is_object(av)) {
        inval(err, "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes");
        return NULL;
    }
    const char *type = NULL;
    json_t *v = NULL;
    int count = 0;
    const char *k;
    json_t *x;
    json_object_foreach(av, k, x)
    {
        /* Unknown members are dropped by DynamoDB's deserializer, and a
         * member set to null is as good as absent. */
        if (json_is_null(x))
            continue;
        for (size_t i = 0; i < NTYPES; i++)
            if (strcmp(k, TYPES[i]) == 0) {
                count++;
                type = TYPES[i];
                v = x;
            }
    }
    if (count == 0) {
        inval(err, "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes");
        return NULL;
    }
    if (count > 1) {
        inval(err, "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the "
                   "supported datatypes");
        return NULL;
    }
    json_t *out = NULL;
    if (strcmp(type, "S") == 0) {
        if (!json_is_string(v))
            goto badtype;
        out = json_object();
        val_obj_set_take(out, "S", val_ref(v));
    } else if (strcmp(type, "N") == 0) {
        if (!json_is_string(v))
            goto badtype;
        ddb_num n;
        if (ddb_num_parse(json_string_value(v), &n, err) < 0)
            return NULL;
        char *t = ddb_num_format(&n);
        out = json_object();
        val_obj_set_take(out, "N", json_string(t));
        free(t);
    } else if (strcmp(type, "B") == 0) {
        if (!json_is_string(v))
            goto badtype;
        size_t bl;
        const char *why;
        unsigned char *bytes = ddbp_b64_decode(json_string_value(v), json_string_length(v), &bl, &why);
        if (!bytes) {
            inval(err, "Invalid base64 value: '%.100s' can not be converted to a Blob: %s", json_string_value(v), why);
            return NULL;
        }
        free(bytes);
        out = json_object();
        val_obj_set_take(out, "B", val_ref(v));
    } else if (strcmp(type, "BOOL") == 0) {
        if (!json_is_boolean(v))
            goto badtype;
        out = json_object();
        val_obj_set_take(out, "BOOL", val_ref(v));
    } else if (strcmp(type, "NULL") == 0) {
        if (!json_is_true(v)) {
            inval(err, "One or more parameter values were invalid: Null attribute value types must have the value of "
                       "true");
            return NULL;
        }
        out = json_object();
        val_obj_set_take(out, "NULL", json_true());
    } else if (strcmp(type, "M") == 0 || strcmp(type, "L") == 0) {
        int is_map = type[0] == 'M';
        if (is_map ? !json_is_object(v) : !json_is_array(v))
            goto badtype;
        if (level + 1 > DDB_MAX_DEPTH) {
            inval(err, "Nesting Levels have exceeded supported limits: Attributes in the item have nested levels "
                       "beyond supported limit");
            return NULL;
        }
        json_t *c;
        if (is_map) {
            c = canon_map(v, level + 1, err);
        } else {
            c = json_array();
            size_t i;
            json_t *e;
            json_array_foreach(v, i, e)
            {
                json_t *ce = canon(e, level + 1, err);
                if (!ce) {
                    json_decref(c);
                    return NULL;
                }
                val_arr_append_take(c, ce);
            }
        }
        if (!c)
            return NULL;
        out = json_object();
        val_obj_set_take(out, type, c);
    } else {
        out = canon_set(type, v, err);
    }
    return out;
badtype:
    inval(err, "One or more parameter values were invalid: Supplied AttributeValue has an invalid %s value (a JSON %s)",
          type, val_type_name(v));
    return NULL;
}

json_t *ddb_av_canon(json_t *av, val_err *err) { return canon(av, 0, err); }

json_t *ddb_item_canon(json_t *item, val_err *err)
{
    if (!json_is_object(item)) {
        inval(err, "One or more parameter values were invalid: the item must be a map of attribute names to "
                   "AttributeValues");
        return NULL;
    }
    const char *k;
    json_t *v;
    json_object_foreach(item, k, v)
    {
        if (!*k) {
            inval(err, "One or more parameter values were invalid: An AttributeValue may not contain an empty "
                       "attribute name");
            return NULL;
        }
    }
    return canon_map(item, 0, err);
}

/* ------------------------------------------------------ comparing values */

static json_t *av_payload(json_t *av, const char **type)
{
    *type = ddb_av_type(av);
    return *type ? json_object_iter_value(json_object_iter(av)) : NULL;
}

static int bytes_cmp(const unsigned char *a, size_t na, const unsigned char *b, size_t nb)
{
    size_t n = na < nb ? na : nb;
    int c = n ? memcmp(a, b, n) : 0;
    if (c)
        return c < 0 ? -1 : 1;
    return (na > nb) - (na < nb);
}

/* Number payloads by value; text that does not parse compares as text
 * (only hand-built values get there). */
static int num_text_cmp(json_t *a, json_t *b, int *ok)
{
    ddb_num x, y;
    if (json_is_string(a) && json_is_string(b) && ddb_num_parse(json_string_value(a), &x, NULL) == 0 &&
        ddb_num_parse(json_string_value(b), &y, NULL) == 0) {
        *ok = 1;
        return ddb_num_cmp(&x, &y);
    }
    *ok = 0;
    return 0;
}

static int b64_text_cmp(json_t *a, json_t *b, int *ok)
{
    *ok = 0;
    if (!json_is_string(a) || !json_is_string(b))
        return 0;
    size_t na, nb;
    const char *why;
    unsigned char *x = ddbp_b64_decode(json_string_value(a), json_string_length(a), &na, &why);
    unsigned char *y = x ? ddbp_b64_decode(json_string_value(b), json_string_length(b), &nb, &why) : NULL;
    int c = 0;
    if (x && y) {
        *ok = 1;
        c = bytes_cmp(x, na, y, nb);
    }
    free(x);
    free(y);
    return c;
}

static int str_cmp(json_t *a, json_t *b)
{
    return bytes_cmp((const unsigned char *)json_string_value(a), json_string_length(a),
                     (const unsigned char *)json_string_value(b), json_string_length(b));
}

static int scalar_cmp(char t, json_t *a, json_t *b, int *ok)
{
    if (t == 'N')
        return num_text_cmp(a, b, ok);
    if (t == 'B')
        return b64_text_cmp(a, b, ok);
    *ok = json_is_string(a) && json_is_string(b);
    return *ok ? str_cmp(a, b) : 0;
}

static int set_member_cmp_type;
static int set_member_cmp(const void *x, const void *y)
{
    json_t *a = *(json_t *const *)x, *b = *(json_t *const *)y;
    int ok;
    int c = scalar_cmp((char)set_member_cmp_type, a, b, &ok);
    return ok ? c : str_cmp(a, b);
}

static int sets_equal(char t, json_t *a, json_t *b)
{
    size_t n = json_array_size(a);
    if (n != json_array_size(b))
        return 0;
    json_t **x = malloc((n + 1) * sizeof *x), **y = malloc((n + 1) * sizeof *y);
    if (!x || !y)
        abort();
    int eq = 1;
    for (size_t i = 0; i < n; i++) {
        x[i] = json_array_get(a, i);
        y[i] = json_array_get(b, i);
        if (!json_is_string(x[i]) || !json_is_string(y[i]))
            eq = 0;
    }
    if (eq) {
        set_member_cmp_type = t;
        qsort(x, n, sizeof *x, set_member_cmp);
        qsort(y, n, sizeof *y, set_member_cmp);
        for (size_t i = 0; i < n && eq; i++)
            eq = set_member_cmp(&x[i], &y[i]) == 0;
    }
    free(x);
    free(y);
    return eq;
}

static int av_equal(json_t *a, json_t *b, int depth)
{
    if (!a || !b)
        return a == b;
    if (depth > DDB_MAX_DEPTH * 2)
        return 0;
    const char *ta, *tb;
    json_t *pa = av_payload(a, &ta), *pb = av_payload(b, &tb);
    if (!ta || !tb || ta != tb)
        return 0;
    if (ta == TYPES[0] || ta == TYPES[1] || ta == TYPES[2]) { /* S N B */
        int ok;
        int c = scalar_cmp(ta[0], pa, pb, &ok);
        return ok ? c == 0 : json_equal(pa, pb);
    }
    if (strcmp(ta, "M") == 0) {
        if (!json_is_object(pa) || !json_is_object(pb) || json_object_size(pa) != json_object_size(pb))
            return 0;
        const char *k;
        json_t *v;
        json_object_foreach(pa, k, v)
        {
            if (!av_equal(v, json_object_get(pb, k), depth + 1))
                return 0;
        }
        return 1;
    }
    if (strcmp(ta, "L") == 0) {
        if (!json_is_array(pa) || !json_is_array(pb) || json_array_size(pa) != json_array_size(pb))
            return 0;
        for (size_t i = 0; i < json_array_size(pa); i++)
            if (!av_equal(json_array_get(pa, i), json_array_get(pb, i), depth + 1))
                return 0;
        return 1;
    }
    if (ta[1] == 'S' && ta[2] == 0) { /* SS NS BS */
        if (!json_is_array(pa) || !json_is_array(pb))
            return 0;
        return sets_equal(ta[0], pa, pb);
    }
    return json_equal(pa, pb); /* BOOL, NULL */
}

int ddb_av_equal(json_t *a, json_t *b) { return av_equal(a, b, 0); }

int ddb_av_cmp(json_t *a, json_t *b, int *cmp)
{
    const char *ta, *tb;
    json_t *pa = av_payload(a, &ta), *pb = av_payload(b, &tb);
    if (!ta || ta != tb || !(ta[0] == 'S' || ta[0] == 'N' || ta[0] == 'B') || ta[1])
        return -1;
    int ok;
    int c = scalar_cmp(ta[0], pa, pb, &ok);
    if (!ok)
        return -1;
    *cmp = c < 0 ? -1 : c > 0;
    return 0;
}

/* ------------------------------------------------------------- sizes */

static size_t num_size(json_t *s)
{
    ddb_num x;
    if (!json_is_string(s) || ddb_num_parse(json_string_value(s), &x, NULL) < 0)
        return json_is_string(s) ? json_string_length(s) : 1;
    return (size_t)(x.n + 1) / 2 + 1;
}

static size_t b64_len(json_t *s)
{
    if (!json_is_string(s))
        return 0;
    size_t n = json_string_length(s);
    const char *p = json_string_value(s);
    size_t pad = (n >= 1 && p[n - 1] == '=') + (n >= 2 && p[n - 2] == '=');
    return n / 4 * 3 - (pad <= n / 4 * 3 ? pad : 0);
}

static size_t av_size(json_t *av, int depth)
{
    const char *t;
    json_t *p = av_payload(av, &t);
    if (!t || depth > DDB_MAX_DEPTH * 2)
        return 0;
    switch (t[0]) {
    case 'S':
        if (!t[1])
            return json_string_length(p);
        /* fallthrough: SS */
        {
            size_t s = 0;
            for (size_t i = 0; i < json_array_size(p); i++)
                s += json_string_length(json_array_get(p, i));
            return s;
        }
    case 'N':
        if (!t[1])
            return num_size(p);
        if (strcmp(t, "NULL") == 0)
            return 1;
        {
            size_t s = 0;
            for (size_t i = 0; i < json_array_size(p); i++)
                s += num_size(json_array_get(p, i));
            return s;
        }
    case 'B':
        if (!t[1])
            return b64_len(p);
        if (strcmp(t, "BOOL") == 0)
            return 1;
        {
            size_t s = 0;
            for (size_t i = 0; i < json_array_size(p); i++)
                s += b64_len(json_array_get(p, i));
            return s;
        }
    case 'M': {
        size_t s = 3;
        const char *k;
        json_t *v;
        json_object_foreach(p, k, v) s += 1 + strlen(k) + av_size(v, depth + 1);
        return s;
    }
    case 'L': {
        size_t s = 3;
        for (size_t i = 0; i < json_array_size(p); i++)
            s += 1 + av_size(json_array_get(p, i), depth + 1);
        return s;
    }
    }
    return 0;
}

size_t ddb_av_size(json_t *av) { return av_size(av, 0); }

size_t ddb_item_size(json_t *item)
{
    size_t s = 0;
    const char *k;
    json_t *v;
    json_object_foreach(item, k, v) s += strlen(k) + av_size(v, 0);
    return s;
}

/* ---------------------------------------------------------- key encoding */

/* Bytes with 0x00 escaped as 00 FF and the end marked 00 01: no encoding
 * is a prefix of another, and memcmp orders them as the raw bytes. */
static void put_escaped(val_buf *b, const unsigned char *s, size_t n)
{
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == 0) {
            val_buf_putn(b, (const char *)s + run, i - run);
            val_buf_putn(b, "\x00\xff", 2);
            run = i + 1;
        }
    }
    val_buf_putn(b, (const char *)s + run, n - run);
    val_buf_putn(b, "\x00\x01", 2);
}

/* N: a sign byte (01 negative, 02 zero, 03 positive), then for non-zero
 * the exponent biased into one byte and each digit as 1..10, ended by 00;
 * all inverted for negatives, so a larger magnitude sorts first. */
static void put_num(val_buf *b, const ddb_num *x)
{
    if (x->n == 0) {
        val_buf_putc(b, 0x02);
        return;
    }
    unsigned char buf[2 + sizeof x->d + 1];
    size_t o = 0;
    buf[o++] = x->neg ? 0x01 : 0x03;
    buf[o++] = (unsigned char)(x->exp - NUM_MIN_EXP);
    for (int i = 0; i < x->n; i++)
        buf[o++] = (unsigned char)(x->d[i] + 1);
    buf[o++] = 0x00;
    if (x->neg)
        for (size_t i = 1; i < o; i++)
            buf[i] = (unsigned char)(0xff - buf[i]);
    val_buf_putn(b, (const char *)buf, o);
}

int ddb_key_put(val_buf *b, json_t *av, char type, const char *name, val_err *err)
{
    const char *t;
    json_t *p = av_payload(av, &t);
    const char *want = type == 'S' ? "S" : type == 'N' ? "N" : type == 'B' ? "B" : NULL;
    if (!want) {
        inval(err, "One or more parameter values were invalid: Invalid key type for key %s", name ? name : "");
        return -1;
    }
    if (!t || t != want) {
        inval(err, "One or more parameter values were invalid: Type mismatch for key %s expected: %s actual: %s",
              name ? name : "", want, t ? t : "(none)");
        return -1;
    }
    if (!json_is_string(p))
        goto bad;
    if (type == 'S') {
        if (json_string_length(p) == 0) {
            inval(err, "One or more parameter values are not valid. The AttributeValue for a key attribute cannot "
                       "contain an empty string value. Key: %s",
                  name ? name : "");
            return -1;
        }
        put_escaped(b, (const unsigned char *)json_string_value(p), json_string_length(p));
        return 0;
    }
    if (type == 'B') {
        size_t n;
        const char *why;
        unsigned char *bytes = ddbp_b64_decode(json_string_value(p), json_string_length(p), &n, &why);
        if (!bytes)
            goto bad;
        if (n == 0) {
            free(bytes);
            inval(err, "One or more parameter values are not valid. The AttributeValue for a key attribute cannot "
                       "contain an empty binary value. Key: %s",
                  name ? name : "");
            return -1;
        }
        put_escaped(b, bytes, n);
        free(bytes);
        return 0;
    }
    ddb_num x;
    if (ddb_num_parse(json_string_value(p), &x, err) < 0)
        return -1;
    put_num(b, &x);
    return 0;
bad:
    inval(err, "One or more parameter values were invalid: Invalid value for key %s", name ? name : "");
    return -1;
}
