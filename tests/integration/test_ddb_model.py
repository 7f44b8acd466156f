"""A model-based test of stepd's DynamoDB: a seeded random sequence of
PutItem / UpdateItem / DeleteItem / GetItem / Query / Scan runs both against
stepd (through boto3) and against a small Python model of DynamoDB's
semantics written here; every answer is compared: items, attributes
returned, Count, ScannedCount, order, LastEvaluatedKey and paging.

Two tables: a hash + N range key (negative and decimal sort keys, written in
non-canonical spellings such as "1.50" and "+3"), and a hash + S range key
(sorted by UTF-8 bytes). The seed is printed; STEPD_DDB_SEED=N replays it,
STEPD_DDB_OPS=N changes the number of operations (default 2000), bounded
also by STEPD_DDB_SECONDS of wall time (default 15)."""
import os
import random
import time
from decimal import Decimal

from botocore.exceptions import ClientError

from harness import boto3_client, ddb_server

PKS = ["a", "b", "c", "d"]
N_SKS = ["-100", "-2.5", "-1", "-0.001", "0", "0.5", "1", "1.25", "3", "10", "42", "1000", "123456.789"]
S_CHARS = ["a", "A", "b", "Z", "~", "0", "\u00e9", "\u4e2d", " "]
TAGS = ["red", "green", "blue", "x"]
RVS = ["NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"]


# ---- the model ---------------------------------------------------------------

def canon(n):
    """DynamoDB's canonical spelling of a number."""
    d = Decimal(n)
    if d == 0:
        return "0"
    s = format(d.normalize(), "f")
    return s


def spell(n, rng):
    """A non-canonical spelling of the number n (canonical text)."""
    r = rng.random()
    if r < 0.15 and not n.startswith("-"):
        return "+" + n
    if r < 0.3:
        return n + ("0" if "." in n else ".0")
    if r < 0.4:
        return str(Decimal(n).scaleb(-2)) + "E2" if n != "0" else "0.00"
    return n


def sk_order(t, v):
    """The sort order of a sort key value of type t."""
    return Decimal(v) if t == "N" else v.encode("utf-8")


def norm(av):
    if isinstance(av, dict):
        return {k: (sorted(v) if k in ("SS", "NS") else norm(v)) for k, v in av.items()}
    return av


def eval_cond(cond, vals, item):
    """The model of the few conditions the generator writes."""
    if cond is None:
        return True
    if cond == "attribute_not_exists(pk)":
        return item is None
    if cond == "attribute_exists(pk)":
        return item is not None
    item = item or {}
    if cond == "v > :c":
        return "v" in item and Decimal(item["v"]["N"]) > Decimal(vals[":c"]["N"])
    if cond == "begins_with(s, :b)":
        return "s" in item and item["s"]["S"].startswith(vals[":b"]["S"])
    if cond == "contains(tags, :t1)":
        return "tags" in item and vals[":t1"]["S"] in item["tags"]["SS"]
    if cond == "size(tags) >= :n":
        return "tags" in item and len(item["tags"]["SS"]) >= int(vals[":n"]["N"])
    if cond == "attribute_exists(v) AND v > :f":
        return "v" in item and Decimal(item["v"]["N"]) > Decimal(vals[":f"]["N"])
    if cond == "flag = :t":
        return item.get("flag") == {"BOOL": True}
    if cond == "NOT contains(s, :b) OR attribute_not_exists(s)":
        return "s" not in item or vals[":b"]["S"] not in item["s"]["S"]
    raise AssertionError("no model for " + cond)


class Table:
    def __init__(self, name, sk_type):
        self.name, self.sk_type = name, sk_type
        self.items = {}  # (pk, sk order value) -> item

    def key_of(self, key):
        return key["pk"]["S"], sk_order(self.sk_type, key["sk"][self.sk_type])

    def sorted_items(self, pk):
        return [self.items[k] for k in sorted(k for k in self.items if k[0] == pk)]


# ---- the generator -----------------------------------------------------------

class Gen:
    def __init__(self, rng, table):
        self.rng, self.t = rng, table

    def sk_value(self):
        if self.t.sk_type == "N":
            return self.rng.choice(N_SKS)
        return "".join(self.rng.choice(S_CHARS) for _ in range(self.rng.randint(1, 3)))

    def key(self, canonical=False):
        v = self.sk_value()
        if self.t.sk_type == "N" and not canonical:
            v = spell(v, self.rng)
        return {"pk": {"S": self.rng.choice(PKS)}, "sk": {self.t.sk_type: v}}

    def num(self):
        return canon(str(Decimal(self.rng.randint(-2000, 2000)) / Decimal(self.rng.choice([1, 4, 100]))))

    def cond(self, vals):
        r = self.rng
        c = r.choice([None, None, None, "attribute_not_exists(pk)", "attribute_exists(pk)", "v > :c",
                      "begins_with(s, :b)", "contains(tags, :t1)", "size(tags) >= :n",
                      "NOT contains(s, :b) OR attribute_not_exists(s)"])
        if c and ":c" in c:
            vals[":c"] = {"N": self.num()}
        if c and ":b" in c:
            vals[":b"] = {"S": r.choice(["s", "s1", "x"])}
        if c and ":t1" in c:
            vals[":t1"] = {"S": r.choice(TAGS)}
        if c and ":n" in c:
            vals[":n"] = {"N": str(r.randint(1, 3))}
        return c

    def attrs(self):
        r, a = self.rng, {}
        if r.random() < 0.7:
            a["v"] = {"N": self.num()}
        if r.random() < 0.5:
            a["s"] = {"S": r.choice(["s", "s1", "s22", "xs", ""])}
        if r.random() < 0.4:
            a["tags"] = {"SS": r.sample(TAGS, r.randint(1, 3))}
        if r.random() < 0.4:
            a["flag"] = {"BOOL": r.random() < 0.5}
        return a


# ---- one operation on both sides ----------------------------------------------

def call(fn, **kw):
    """(answer, None) or (None, (code, message))."""
    try:
        return fn(**kw), None
    except ClientError as e:
        return None, (e.response["Error"]["Code"], e.response["Error"].get("Message", ""))


def canon_item(item, sk_type):
    out = dict(item)
    if sk_type == "N":
        out["sk"] = {"N": canon(item["sk"]["N"])}
    if "v" in out:
        out["v"] = {"N": canon(out["v"]["N"])}
    return out


def returned(out):
    a = (out or {}).get("Attributes")
    return norm(a) if a else None


def op_put(ddb, g, t, log):
    vals = {}
    key = g.key()
    item = dict(key, **g.attrs())
    c = g.cond(vals)
    kw = {"TableName": t.name, "Item": item, "ReturnValues": g.rng.choice(["NONE", "ALL_OLD"])}
    if c:
        kw["ConditionExpression"] = c
        if vals:
            kw["ExpressionAttributeValues"] = vals
    log.append(("PutItem", kw))
    out, err = call(ddb.put_item, **kw)
    k = t.key_of(key)
    old = t.items.get(k)
    if not eval_cond(c, vals, old):
        assert err and err[0] == "ConditionalCheckFailedException", (out, err)
        return
    assert err is None, err
    t.items[k] = canon_item(item, t.sk_type)
    want = norm(old) if old and kw["ReturnValues"] == "ALL_OLD" else None
    assert returned(out) == want, (returned(out), want)


def op_delete(ddb, g, t, log):
    vals = {}
    key = g.key()
    c = g.cond(vals)
    kw = {"TableName": t.name, "Key": key, "ReturnValues": g.rng.choice(["NONE", "ALL_OLD"])}
    if c:
        kw["ConditionExpression"] = c
        if vals:
            kw["ExpressionAttributeValues"] = vals
    log.append(("DeleteItem", kw))
    out, err = call(ddb.delete_item, **kw)
    k = t.key_of(key)
    old = t.items.get(k)
    if not eval_cond(c, vals, old):
        assert err and err[0] == "ConditionalCheckFailedException", (out, err)
        return
    assert err is None, err
    t.items.pop(k, None)
    want = norm(old) if old and kw["ReturnValues"] == "ALL_OLD" else None
    assert returned(out) == want, (returned(out), want)


def op_update(ddb, g, t, log):
    r = g.rng
    vals = {}
    key = g.key()
    actions = r.sample(["inc", "add", "set_s", "rm_s", "add_tags", "del_tags", "flag", "strict_inc"], r.randint(1, 3))
    if "inc" in actions and ("add" in actions or "strict_inc" in actions):
        actions.remove("inc")
    if "add" in actions and "strict_inc" in actions:
        actions.remove("add")
    if "set_s" in actions and "rm_s" in actions:
        actions.remove("rm_s")
    if "add_tags" in actions and "del_tags" in actions:
        actions.remove("del_tags")
    sets, removes, adds, deletes = [], [], [], []
    touched = []
    for a in actions:
        if a == "inc":
            vals[":d"], vals[":z"] = {"N": g.num()}, {"N": "0"}
            sets.append("v = if_not_exists(v, :z) + :d")
            touched.append("v")
        elif a == "strict_inc":
            vals[":e"] = {"N": g.num()}
            sets.append("v = v - :e")
            touched.append("v")
        elif a == "add":
            vals[":a"] = {"N": g.num()}
            adds.append("v :a")
            touched.append("v")
        elif a == "set_s":
            vals[":s"] = {"S": r.choice(["s", "s1", "zz"])}
            sets.append("s = :s")
            touched.append("s")
        elif a == "rm_s":
            removes.append("s")
            touched.append("s")
        elif a == "add_tags":
            vals[":ta"] = {"SS": r.sample(TAGS, r.randint(1, 2))}
            adds.append("tags :ta")
            touched.append("tags")
        elif a == "del_tags":
            vals[":td"] = {"SS": r.sample(TAGS, r.randint(1, 2))}
            deletes.append("tags :td")
            touched.append("tags")
        elif a == "flag":
            vals[":fl"] = {"BOOL": r.random() < 0.5}
            sets.append("flag = :fl")
            touched.append("flag")
    clauses = []
    if sets:
        clauses.append("SET " + ", ".join(sets))
    if removes:
        clauses.append("REMOVE " + ", ".join(removes))
    if adds:
        clauses.append("ADD " + ", ".join(adds))
    if deletes:
        clauses.append("DELETE " + ", ".join(deletes))
    r.shuffle(clauses)
    c = g.cond(vals)
    kw = {"TableName": t.name, "Key": key, "UpdateExpression": " ".join(clauses), "ReturnValues": r.choice(RVS)}
    if c:
        kw["ConditionExpression"] = c
    if vals:
        kw["ExpressionAttributeValues"] = vals
    log.append(("UpdateItem", kw))
    out, err = call(ddb.update_item, **kw)
    k = t.key_of(key)
    old = t.items.get(k)
    if not eval_cond(c, vals, old):
        assert err and err[0] == "ConditionalCheckFailedException", (out, err)
        return
    if "strict_inc" in actions and (old is None or "v" not in old):
        assert err and err[0] == "ValidationException", (out, err)
        assert err[1] == "The provided expression refers to an attribute that does not exist in the item", err
        return
    assert err is None, err
    new = dict(old) if old else {"pk": key["pk"], "sk": {t.sk_type: canon(key["sk"]["N"])} if t.sk_type == "N"
                                 else key["sk"]}
    for a in actions:
        if a == "inc":
            base = Decimal(new["v"]["N"]) if "v" in new else Decimal(0)
            new["v"] = {"N": canon(base + Decimal(vals[":d"]["N"]))}
        elif a == "strict_inc":
            new["v"] = {"N": canon(Decimal(new["v"]["N"]) - Decimal(vals[":e"]["N"]))}
        elif a == "add":
            base = Decimal(new["v"]["N"]) if "v" in new else Decimal(0)
            new["v"] = {"N": canon(base + Decimal(vals[":a"]["N"]))}
        elif a == "set_s":
            new["s"] = vals[":s"]
        elif a == "rm_s":
            new.pop("s", None)
        elif a == "add_tags":
            new["tags"] = {"SS": sorted(set(new.get("tags", {}).get("SS", [])) | set(vals[":ta"]["SS"]))}
        elif a == "del_tags":
            if "tags" in new:
                left = sorted(set(new["tags"]["SS"]) - set(vals[":td"]["SS"]))
                if left:
                    new["tags"] = {"SS": left}
                else:
                    del new["tags"]
        elif a == "flag":
            new["flag"] = vals[":fl"]
    t.items[k] = new
    rv = kw["ReturnValues"]
    if rv == "NONE":
        want = None
    elif rv == "ALL_OLD":
        want = old
    elif rv == "ALL_NEW":
        want = new
    elif rv == "UPDATED_OLD":
        want = {a: old[a] for a in touched if old and a in old}
    else:
        want = {a: new[a] for a in touched if a in new}
    assert returned(out) == (norm(want) if want else None), (returned(out), want)


def op_get(ddb, g, t, log):
    key = g.key()
    kw = {"TableName": t.name, "Key": key, "ConsistentRead": g.rng.random() < 0.5}
    proj = g.rng.random() < 0.3
    if proj:
        kw["ProjectionExpression"] = "v, tags, sk"
    log.append(("GetItem", kw))
    out, err = call(ddb.get_item, **kw)
    assert err is None, err
    want = t.items.get(t.key_of(key))
    if want and proj:
        want = {a: want[a] for a in ("v", "tags", "sk") if a in want}
    got = out.get("Item")
    assert (norm(got) if got else None) == (norm(want) if want else None), (got, want)


def filter_expr(g, vals):
    c = g.rng.choice([None, None, "attribute_exists(v) AND v > :f", "flag = :t",
                      "NOT contains(s, :b) OR attribute_not_exists(s)"])
    if c and ":f" in c:
        vals[":f"] = {"N": g.num()}
    if c and ":t" in c:
        vals[":t"] = {"BOOL": True}
    if c and ":b" in c:
        vals[":b"] = {"S": "1"}
    return c


def check_pages(pages_fn, evaluated, filt, vals, limit, ordered, t, what):
    """Pages through a Query or Scan and compares every page with the model:
    `evaluated` is the list of items the operation reads, in order."""
    start, pos, seen, pages = None, 0, [], 0
    while True:
        out = pages_fn(start)
        pages += 1
        assert pages <= len(evaluated) + 3, "%s: paging does not end" % what
        items = out.get("Items", [])
        n = out["ScannedCount"]
        assert out["Count"] == len(items), (what, out["Count"], len(items))
        if limit:
            assert n <= limit, (what, n, limit)
        chunk = evaluated[pos:pos + n] if ordered else None
        if ordered:
            assert n == min(limit or len(evaluated), len(evaluated) - pos), (what, "ScannedCount", n, pos)
            want = [i for i in chunk if eval_cond(filt, vals, i)]
            assert [norm(i) for i in items] == [norm(i) for i in want], (what, items, want)
        seen += items
        pos += n
        lek = out.get("LastEvaluatedKey")
        if pos < len(evaluated):
            assert lek, (what, "no LastEvaluatedKey with items left", pos, len(evaluated))
        if lek:
            if ordered:
                last = chunk[-1]
                assert lek == {"pk": last["pk"], "sk": last["sk"]}, (what, lek, last)
            else:
                assert limit and n == limit, (what, "LastEvaluatedKey on a short page", n)
            start = lek
        else:
            break
    assert pos == len(evaluated), (what, "ScannedCount total", pos, len(evaluated))
    return seen


def op_query(ddb, g, t, log):
    r = g.rng
    pk = r.choice(PKS)
    vals = {":p": {"S": pk}}
    ops = ["=", "<", "<=", ">", ">=", "BETWEEN", None, None] + (["begins_with"] if t.sk_type == "S" else [])
    op = r.choice(ops)
    cond = "pk = :p"
    if op == "BETWEEN":
        a, b = sorted([g.sk_value(), g.sk_value()], key=lambda v: sk_order(t.sk_type, v))
        vals[":lo"], vals[":hi"] = {t.sk_type: a}, {t.sk_type: b}
        cond += " AND sk BETWEEN :lo AND :hi"
    elif op == "begins_with":
        vals[":pre"] = {"S": r.choice(S_CHARS)}
        cond += " AND begins_with(sk, :pre)"
    elif op:
        vals[":k"] = {t.sk_type: g.sk_value()}
        cond += " AND sk %s :k" % op
    filt = filter_expr(g, vals)
    forward = r.random() < 0.6
    limit = r.choice([None, 1, 2, 3, 5, 8])

    def match(item):
        v = sk_order(t.sk_type, item["sk"][t.sk_type])
        if op is None:
            return True
        if op == "BETWEEN":
            return sk_order(t.sk_type, vals[":lo"][t.sk_type]) <= v <= sk_order(t.sk_type, vals[":hi"][t.sk_type])
        if op == "begins_with":
            return item["sk"]["S"].startswith(vals[":pre"]["S"])
        k = sk_order(t.sk_type, vals[":k"][t.sk_type])
        return {"=": v == k, "<": v < k, "<=": v <= k, ">": v > k, ">=": v >= k}[op]

    evaluated = [i for i in t.sorted_items(pk) if match(i)]
    if not forward:
        evaluated.reverse()
    kw = {"TableName": t.name, "KeyConditionExpression": cond, "ExpressionAttributeValues": vals,
          "ScanIndexForward": forward}
    if filt:
        kw["FilterExpression"] = filt
    if limit:
        kw["Limit"] = limit
    log.append(("Query", kw))

    def page(start):
        args = dict(kw)
        if start:
            args["ExclusiveStartKey"] = start
        out, err = call(ddb.query, **args)
        assert err is None, err
        return out

    check_pages(page, evaluated, filt, vals, limit, True, t, "Query")


def op_scan(ddb, g, t, log):
    r = g.rng
    vals = {}
    filt = filter_expr(g, vals)
    limit = r.choice([None, 3, 7, 20])
    kw = {"TableName": t.name}
    if filt:
        kw["FilterExpression"] = filt
        kw["ExpressionAttributeValues"] = vals
    if limit:
        kw["Limit"] = limit
    log.append(("Scan", kw))

    def page(start):
        args = dict(kw)
        if start:
            args["ExclusiveStartKey"] = start
        out, err = call(ddb.scan, **args)
        assert err is None, err
        return out

    evaluated = list(t.items.values())
    seen = check_pages(page, evaluated, filt, vals, limit, False, t, "Scan")
    want = sorted(repr(sorted(norm(i).items())) for i in evaluated if eval_cond(filt, vals, i))
    got = sorted(repr(sorted(norm(i).items())) for i in seen)
    assert got == want, ("Scan items differ", len(got), len(want))


OPS = [(op_put, 30), (op_update, 30), (op_delete, 10), (op_get, 15), (op_query, 12), (op_scan, 3)]


def run_model(ctx, sk_type, name):
    seed = int(os.environ.get("STEPD_DDB_SEED", random.SystemRandom().randrange(1 << 30)))
    n_ops = int(os.environ.get("STEPD_DDB_OPS", "2000"))
    seconds = float(os.environ.get("STEPD_DDB_SECONDS", "15"))
    print("  %s: seed %d (STEPD_DDB_SEED=%d replays it)" % (name, seed, seed), flush=True)
    rng = random.Random(seed)
    t = Table(name, sk_type)
    g = Gen(rng, t)
    fns = [f for f, w in OPS for _ in range(w)]
    with ddb_server(ctx) as srv:
        ddb = boto3_client(srv, "dynamodb")
        ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                    {"AttributeName": "sk", "KeyType": "RANGE"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                               {"AttributeName": "sk", "AttributeType": sk_type}])
        deadline = time.time() + seconds
        log = []
        done = 0
        for i in range(n_ops):
            if time.time() > deadline:
                break
            fn = rng.choice(fns)
            try:
                fn(ddb, g, t, log)
            except AssertionError as e:
                raise AssertionError("seed %d, operation %d: %s %r\n  mismatch: %s" % (
                    seed, i, log[-1][0], log[-1][1], e)) from None
            done += 1
        op_scan(ddb, g, t, log)
        print("  %s: %d operations, %d items at the end" % (name, done, len(t.items)), flush=True)
        assert done >= min(n_ops, 200), "only %d operations in %ss" % (done, seconds)


def test_ddb_model_number_sort_key(ctx):
    run_model(ctx, "N", "model-n")


def test_ddb_model_string_sort_key(ctx):
    run_model(ctx, "S", "model-s")
