/* Record (fn-order bench), in C: keeps {...order, payment_id, charged}
 * under order.id in this worker's memory (an open-addressing hash table;
 * no tables yet) and answers {"status":"recorded"}.
 * shared/bench/handlers.mjs semantics. */
#include <stdint.h>
#include <stdlib.h>

#include <stepd/runtime.h>

#include "minijson.h"

struct slot {
    char *key; /* order.id as raw JSON text */
    size_t klen;
    char *val; /* the stored item, JSON text */
};

static struct slot *table;
static size_t cap, count;

static uint64_t hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

static struct slot *find(const char *k, size_t n)
{
    size_t i = hash(k, n) & (cap - 1);
    while (table[i].key && !(table[i].klen == n && memcmp(table[i].key, k, n) == 0))
        i = (i + 1) & (cap - 1);
    return &table[i];
}

static int grow(void)
{
    struct slot *old = table;
    size_t ocap = cap;
    cap = cap ? cap * 2 : 1024;
    table = calloc(cap, sizeof *table);
    if (!table)
        return -1;
    for (size_t i = 0; i < ocap; i++)
        if (old[i].key)
            *find(old[i].key, old[i].klen) = old[i];
    free(old);
    return 0;
}

static int put(const char *k, size_t n, char *val)
{
    if ((count + 1) * 2 > cap && grow() < 0)
        return -1;
    struct slot *s = find(k, n);
    if (s->key) {
        free(s->val);
        s->val = val;
        return 0;
    }
    s->key = malloc(n);
    if (!s->key)
        return -1;
    memcpy(s->key, k, n);
    s->klen = n;
    s->val = val;
    count++;
    return 0;
}

static int handle(const char *event, size_t len, const stepd_context *ctx, stepd_response *out)
{
    (void)ctx;
    const char *e = event + len, *o, *oe, *id, *ide, *v, *ve;
    if (!mj_get(event, e, "order", &o, &oe) || !mj_get(o, oe, "id", &id, &ide))
        return stepd_response_set_error(out, "TypeError", "the event has no order.id");
    static const char *const drop[] = {"payment_id", "charged", NULL};
    mj_buf item = {0};
    mj_puts(&item, "{");
    int n = mj_copy_members(&item, o, oe, 0, drop);
    if (n < 0) {
        free(item.p);
        return stepd_response_set_error(out, "TypeError", "order is not a JSON object");
    }
    static const char *const keys[] = {"payment_id", "charged"};
    for (int i = 0; i < 2; i++)
        if (mj_get(event, e, keys[i], &v, &ve)) { /* as JSON.stringify: absent stays absent */
            mj_puts(&item, n++ ? ",\"" : "\"");
            mj_puts(&item, keys[i]);
            mj_puts(&item, "\":");
            mj_put(&item, v, (size_t)(ve - v));
        }
    mj_puts(&item, "}");
    if (item.oom || put(id, (size_t)(ide - id), item.p) < 0)
        return -1;
    return stepd_response_set(out, "{\"status\":\"recorded\"}");
}

int main(void)
{
    return stepd_run(handle) == 0 ? 0 : 1;
}
