/* sqlite — the embedded store: store.h on one SQLite file in WAL mode (or
 * ":memory:"). Statements are prepared once and cached; the schema is
 * brought forward by numbered migrations, each in its own transaction;
 * list pages are keyed on rowids so a page costs an index range scan. */
#include "store/store.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sqlite3.h>
#include <zstd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_PAGE 100000 /* a larger limit is clamped: a page must fit in memory */

/* Every statement the store runs, prepared on first use and kept. */
#define STMTS(X)                                                                                   \
    X(BEGIN, "BEGIN IMMEDIATE")                                                                    \
    X(COMMIT, "COMMIT")                                                                            \
    X(ROLLBACK, "ROLLBACK")                                                                        \
    X(M_INSERT, "INSERT INTO machines(arn,name,definition,type,role_arn,created_ns,updated_ns,"    \
                "revision_id) VALUES(?1,?2,?3,?4,?5,?6,?6,?7)")                                    \
    X(M_GET, "SELECT arn,name,definition,type,role_arn,created_ns,updated_ns,revision_id,id "      \
             "FROM machines WHERE arn=?1")                                                         \
    X(M_LIST, "SELECT arn,name,definition,type,role_arn,created_ns,updated_ns,revision_id,id "     \
              "FROM machines WHERE id>?1 ORDER BY id LIMIT ?2")                                    \
    X(M_UPDATE, "UPDATE machines SET definition=coalesce(?2,definition),"                          \
                "role_arn=coalesce(?3,role_arn),updated_ns=?4,revision_id=?5 WHERE arn=?1")        \
    X(M_DELETE, "DELETE FROM machines WHERE arn=?1")                                               \
    X(R_INSERT, "INSERT OR IGNORE INTO machine_revisions(machine_arn,revision_id,definition,"      \
                "role_arn,first) VALUES(?1,?2,?3,?4,1)")                                           \
    X(R_COPY, "INSERT OR IGNORE INTO machine_revisions(machine_arn,revision_id,definition,"        \
              "role_arn,first) SELECT arn,revision_id,definition,role_arn,0 FROM machines "        \
              "WHERE arn=?1")                                                                      \
    X(R_GET, "SELECT definition,first FROM machine_revisions WHERE machine_arn=?1 AND "            \
             "revision_id=?2")                                                                     \
    X(X_INSERT, "INSERT INTO executions(arn,machine_arn,name,status,input,output,error,cause,"      \
                "start_ns,stop_ns,snapshot,revision_id) "                                          \
                "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)")                                  \
    X(X_GET, "SELECT arn,machine_arn,name,status,input,output,error,cause,start_ns,stop_ns,"       \
             "snapshot,revision_id,id FROM executions WHERE arn=?1")                               \
    X(X_UPDATE, "UPDATE executions SET status=?2,output=?3,error=?4,cause=?5,stop_ns=?6,"          \
                "snapshot=?7 WHERE arn=?1")                                                        \
    X(X_LIST, "SELECT arn,machine_arn,name,status,start_ns,stop_ns,id FROM executions "            \
              "WHERE machine_arn=?1 AND (?2 IS NULL OR status=?2) AND id<?3 "                      \
              "ORDER BY id DESC LIMIT ?4")                                                         \
    X(X_RUNNING, "SELECT arn,machine_arn,name,status,input,output,error,cause,start_ns,stop_ns,"   \
                 "snapshot,revision_id,id FROM executions WHERE status='RUNNING' AND id>?1 "                   \
                 "ORDER BY id LIMIT ?2")                                                           \
    X(X_ID, "SELECT id FROM executions WHERE arn=?1")                                              \
    X(H_INSERT, "INSERT INTO history_batches(exec_id,first_id,last_id,codec,events) "              \
                "VALUES(?1,?2,?3,?4,?5)")                                                          \
    X(H_LAST, "SELECT last_id FROM history_batches WHERE exec_id=?1 ORDER BY first_id DESC "       \
              "LIMIT 1")                                                                           \
    X(H_FWD, "SELECT first_id,last_id,events,codec FROM history_batches WHERE exec_id=?1 AND "           \
             "first_id>=coalesce((SELECT max(first_id) FROM history_batches WHERE exec_id=?1 "     \
             "AND first_id<=?2+1),0) ORDER BY first_id")                                           \
    X(H_REV, "SELECT first_id,last_id,events,codec FROM history_batches WHERE exec_id=?1 AND "           \
             "first_id<?2 ORDER BY first_id DESC")                                                 \
    X(H_COUNT, "SELECT coalesce(sum(last_id-first_id+1),0) FROM history_batches WHERE exec_id=?1") \
    X(T_ARM, "INSERT INTO timers(exec_arn,timer_id,due_ns) VALUES(?1,?2,?3) "                      \
             "ON CONFLICT(exec_arn,timer_id) DO UPDATE SET due_ns=excluded.due_ns")                \
    X(T_CANCEL, "DELETE FROM timers WHERE exec_arn=?1 AND timer_id=?2")                            \
    X(T_CLEAR, "DELETE FROM timers WHERE exec_arn=?1")                                             \
    X(T_DUE, "SELECT exec_arn,timer_id,due_ns FROM timers WHERE due_ns<?1 "                        \
             "ORDER BY due_ns LIMIT ?2")                                                           \
    X(K_PUT, "INSERT INTO tokens(token,exec_arn,task_id) VALUES(?1,?2,?3)")                        \
    X(K_GET, "SELECT exec_arn,task_id FROM tokens WHERE token=?1")                                 \
    X(K_DELETE, "DELETE FROM tokens WHERE token=?1")                                               \
    X(RES_PUT, "INSERT INTO resources(kind,name,config,updated_at) VALUES(?1,?2,?3,?4) "           \
               "ON CONFLICT(kind,name) DO UPDATE SET config=excluded.config,"                      \
               "updated_at=excluded.updated_at")                                                   \
    X(RES_GET, "SELECT config FROM resources WHERE kind=?1 AND name=?2")                           \
    X(RES_LIST, "SELECT name,config,updated_at FROM resources WHERE kind=?1 ORDER BY name")        \
    X(RES_DELETE, "DELETE FROM resources WHERE kind=?1 AND name=?2")                           \
    X(TB_INSERT, "INSERT INTO ddb_tables(name,description,created_ns) VALUES(?1,?2,?3)")           \
    X(TB_GET, "SELECT description FROM ddb_tables WHERE name=?1")                                  \
    X(TB_UPDATE, "UPDATE ddb_tables SET description=?2 WHERE name=?1")                             \
    X(TB_DELETE, "DELETE FROM ddb_tables WHERE name=?1")                                           \
    X(TB_DROP_ITEMS, "DELETE FROM ddb_items WHERE tbl=(SELECT id FROM ddb_tables WHERE name=?1)")  \
    X(TB_LIST, "SELECT name FROM ddb_tables WHERE name>?1 ORDER BY name LIMIT ?2")                 \
    X(TB_STATS, "SELECT (SELECT count(*) FROM ddb_tables WHERE name=?1),count(*),"                 \
                "coalesce(sum(size),0) FROM ddb_items "                                            \
                "WHERE tbl=(SELECT id FROM ddb_tables WHERE name=?1)")                             \
    X(I_GET, "SELECT item FROM ddb_items "                                                         \
             "WHERE tbl=(SELECT id FROM ddb_tables WHERE name=?1) AND k=?2")                       \
    X(I_PUT, "INSERT OR REPLACE INTO ddb_items(tbl,k,item,size) "                                  \
             "SELECT id,?2,?3,?4 FROM ddb_tables WHERE name=?1")                                   \
    X(I_DELETE, "DELETE FROM ddb_items "                                                           \
                "WHERE tbl=(SELECT id FROM ddb_tables WHERE name=?1) AND k=?2")                    \
    X(SP_BEGIN, "SAVEPOINT store_op")                                                              \
    X(SP_RELEASE, "RELEASE store_op")                                                              \
    X(SP_UNDO, "ROLLBACK TO store_op")

#define STMT_ENUM(name, sql) S_##name,
enum { STMTS(STMT_ENUM) S_COUNT };
#define STMT_SQL(name, sql) sql,
static const char *const stmt_sql[S_COUNT] = {STMTS(STMT_SQL)};

/* Forward migrations: migrations[v] brings a version v-1 database to
 * version v. Append only: a released migration is never edited. */
static const char *const migrations[] = {
    NULL,
    /* 1: the first schema. History rows point at their execution's rowid
     * rather than repeating its ARN, which keeps a long history small. */
    "CREATE TABLE machines("
    " id INTEGER PRIMARY KEY,"
    " arn TEXT NOT NULL UNIQUE,"
    " name TEXT NOT NULL,"
    " definition TEXT NOT NULL,"
    " type TEXT NOT NULL,"
    " role_arn TEXT,"
    " created_ns INTEGER NOT NULL,"
    " updated_ns INTEGER NOT NULL,"
    " revision_id TEXT NOT NULL);"
    "CREATE TABLE executions("
    " id INTEGER PRIMARY KEY,"
    " arn TEXT NOT NULL UNIQUE,"
    " machine_arn TEXT NOT NULL,"
    " name TEXT NOT NULL,"
    " status TEXT NOT NULL,"
    " input TEXT NOT NULL,"
    " output TEXT,"
    " error TEXT,"
    " cause TEXT,"
    " start_ns INTEGER NOT NULL,"
    " stop_ns INTEGER NOT NULL DEFAULT 0,"
    " snapshot TEXT);"
    "CREATE INDEX executions_by_machine ON executions(machine_arn, id);"
    "CREATE INDEX executions_running ON executions(id) WHERE status='RUNNING';"
    "CREATE TABLE history("
    " exec_id INTEGER NOT NULL,"
    " id INTEGER NOT NULL,"
    " event TEXT NOT NULL,"
    " PRIMARY KEY(exec_id, id)) WITHOUT ROWID;"
    "CREATE TABLE timers("
    " exec_arn TEXT NOT NULL,"
    " timer_id INTEGER NOT NULL,"
    " due_ns INTEGER NOT NULL,"
    " PRIMARY KEY(exec_arn, timer_id)) WITHOUT ROWID;"
    "CREATE INDEX timers_by_due ON timers(due_ns);"
    "CREATE TABLE tokens("
    " token TEXT PRIMARY KEY,"
    " exec_arn TEXT NOT NULL,"
    " task_id INTEGER NOT NULL) WITHOUT ROWID;",
    /* 2: every revision of a machine's definition is kept, and an execution
     * names the revision it runs: an update does not change the definition
     * of executions already running (AWS's rule), recovery included. */
    "CREATE TABLE machine_revisions("
    " machine_arn TEXT NOT NULL,"
    " revision_id TEXT NOT NULL,"
    " definition TEXT NOT NULL,"
    " role_arn TEXT,"
    " first INTEGER NOT NULL," /* the revision the machine was created with */
    " PRIMARY KEY(machine_arn, revision_id)) WITHOUT ROWID;"
    "INSERT INTO machine_revisions SELECT arn,revision_id,definition,role_arn,"
    " updated_ns=created_ns FROM machines;"
    "ALTER TABLE executions ADD COLUMN revision_id TEXT;"
    /* history in batches (see sq_history_append); each version 1 event
     * becomes a batch of one */
    "CREATE TABLE history_batches("
    " id INTEGER PRIMARY KEY,"
    " exec_id INTEGER NOT NULL,"
    " first_id INTEGER NOT NULL,"
    " last_id INTEGER NOT NULL,"
    " codec INTEGER NOT NULL DEFAULT 0," /* 0: the text as is; 1: zstd */
    " events BLOB NOT NULL);"
    "CREATE UNIQUE INDEX history_batches_key ON history_batches(exec_id, first_id);"
    "INSERT INTO history_batches(exec_id,first_id,last_id,events) "
    " SELECT exec_id,id,id,event FROM history ORDER BY exec_id,id;"
    "DROP TABLE history;",
    /* 3: the resources a deploy creates (functions now, tables later). The
     * key leads with kind so that one kind's list is a range scan that
     * comes out in name order. */
    "CREATE TABLE resources("
    " kind TEXT NOT NULL,"
    " name TEXT NOT NULL,"
    " config TEXT NOT NULL,"
    " updated_at INTEGER NOT NULL," /* ns since the epoch, like the *_ns columns */
    " PRIMARY KEY(kind, name)) WITHOUT ROWID;",
    /* 4: DynamoDB tables. Items point at their table's rowid rather than
     * repeating its name, and are keyed (table, encoded key) without a
     * rowid: a Query is a range scan of the primary key that comes out in
     * DynamoDB's order (src/ddb encodes keys so memcmp is that order). */
    "CREATE TABLE ddb_tables("
    " id INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL UNIQUE,"
    " description TEXT NOT NULL," /* JSON text, as src/ddb gave it */
    " created_ns INTEGER NOT NULL);"
    "CREATE TABLE ddb_items("
    " tbl INTEGER NOT NULL,"
    " k BLOB NOT NULL,"
    " item TEXT NOT NULL,"
    " size INTEGER NOT NULL," /* DynamoDB's size, for ItemCount and TableSizeBytes */
    " PRIMARY KEY(tbl, k)) WITHOUT ROWID;",
};
_Static_assert(sizeof migrations / sizeof migrations[0] == STORE_SCHEMA_VERSION + 1,
               "one migration per schema version");

/* WAL checkpointing (see ck_main): the thread is woken at CK_FRAMES frames;
 * past CK_BOUND (32 MiB of 4 KiB pages) the committing connection bounds
 * the WAL itself (ck_bound). */
#define CK_FRAMES 1000
#define CK_BOUND (8 * CK_FRAMES)

struct sq {
    store base; /* first: a store * is a struct sq * */
    sqlite3 *db;
    /* the checkpointer: its own connection and thread (files only) */
    sqlite3 *ckdb;
    pthread_t ckthread;
    pthread_mutex_t ckmu;
    pthread_cond_t ckcv;
    int ckrunning, ckstop, ckwanted;
    int ckbusy, ckhold; /* the thread is checkpointing / must not start (under ckmu) */
    int ckfinish; /* the thread's checkpoint is done: the main connection finishes it (atomic) */
    int wal_frames; /* frames in the WAL after the last commit (the WAL hook; commit thread only) */
    ZSTD_CCtx *zc; /* history compression, made on first use */
    char *zbuf;
    size_t zcap;
    sqlite3_stmt *stmt[S_COUNT];
    sqlite3_stmt *range[18]; /* item_range: lower x upper bound kind x direction (range_stmt) */
    int in_tx;
};

/* --------------------------------------------------------------- helpers */

static int fail(struct sq *q, val_err *err, const char *what)
{
    val_err_set(err, VAL_ERR_STORE, "StoreError", "%s: %s", what,
                q->db ? sqlite3_errmsg(q->db) : "no database");
    return STORE_ERROR;
}

static int invalid(val_err *err, const char *what)
{
    val_err_set(err, VAL_ERR_STORE, "StoreError", "%s", what);
    return STORE_ERROR;
}

/* The cached statement id, reset and unbound; NULL with err set. */
static sqlite3_stmt *st(struct sq *q, int id, val_err *err)
{
    sqlite3_stmt *s = q->stmt[id];
    if (!s) {
        if (sqlite3_prepare_v3(q->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) !=
            SQLITE_OK) {
            fail(q, err, "prepare");
            return NULL;
        }
        q->stmt[id] = s;
    }
    return s;
}

/* Ends a statement's use so the next one starts clean and, for reads, no
 * read transaction is held open by a half-stepped statement. */
static void done(sqlite3_stmt *s)
{
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
}

static void bind_text(sqlite3_stmt *s, int i, const char *t)
{
    if (t)
        sqlite3_bind_text(s, i, t, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, i);
}

static char *col_dup(sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    return t ? strdup((const char *)t) : NULL;
}

/* Runs a write statement whose parameters are bound: 0, STORE_EXISTS on a
 * uniqueness conflict, or -1. */
static int run_write(struct sq *q, sqlite3_stmt *s, val_err *err, const char *what)
{
    /* SQLite rolls a transaction back by itself on some errors (FULL,
     * IOERR, NOMEM, BUSY): a write after that would autocommit on its own
     * while the caller still believes it is part of the transaction it
     * will roll back (the DynamoDB group commit answers such writes as
     * lost). Refuse it instead. */
    if (q->in_tx && sqlite3_get_autocommit(q->db)) {
        done(s);
        return invalid(err, "the open transaction was rolled back by an earlier failure");
    }
    int rc = sqlite3_step(s);
    int ext = sqlite3_extended_errcode(q->db);
    int r = STORE_OK;
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY)
            r = STORE_EXISTS;
        else
            r = fail(q, err, what);
    }
    done(s);
    return r;
}

/* Runs one statement with no parameters and no rows. */
static int run_simple(struct sq *q, int id, val_err *err, const char *what)
{
    sqlite3_stmt *s = st(q, id, err);
    if (!s)
        return STORE_ERROR;
    int rc = sqlite3_step(s);
    int r = rc == SQLITE_DONE ? STORE_OK : fail(q, err, what);
    done(s);
    return r;
}

/* Tokens are the rowid of a page's last row, in decimal. */
static int parse_token(const char *token, int64_t *out, val_err *err)
{
    if (!token) {
        *out = 0;
        return 0;
    }
    char *end = NULL;
    errno = 0;
    long long v = strtoll(token, &end, 10);
    if (!*token || *end || errno || v <= 0) {
        val_err_set(err, VAL_ERR_STORE, "InvalidToken", "invalid pagination token: %.64s", token);
        return -1;
    }
    *out = v;
    return 0;
}

static char *make_token(int64_t id)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRId64, id);
    return strdup(buf);
}

static size_t page_size(size_t limit, size_t dflt)
{
    if (limit == 0)
        return dflt;
    return limit > MAX_PAGE ? MAX_PAGE : limit;
}

/* Grows *items (of size elem) to hold n + 1; 0 or -1. */
static int grow(void **items, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 16;
    void *p = realloc(*items, c * elem);
    if (!p)
        return -1;
    memset((char *)p + *cap * elem, 0, (c - *cap) * elem);
    *items = p;
    *cap = c;
    return 0;
}

/* A version 4 UUID from SQLite's CSPRNG, for revision ids. */
static char *uuid_new(void)
{
    unsigned char b[16];
    sqlite3_randomness(sizeof b, b);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    char *u = malloc(37);
    if (!u)
        return NULL;
    snprintf(u, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
    return u;
}

/* The rowid of the execution at arn: 0, STORE_NOT_FOUND or -1. */
static int exec_id(struct sq *q, const char *arn, int64_t *id, val_err *err)
{
    if (!arn)
        return invalid(err, "execution ARN is required");
    sqlite3_stmt *s = st(q, S_X_ID, err);
    if (!s)
        return STORE_ERROR;
    bind_text(s, 1, arn);
    int rc = sqlite3_step(s), r;
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(s, 0);
        r = STORE_OK;
    } else if (rc == SQLITE_DONE)
        r = STORE_NOT_FOUND;
    else
        r = fail(q, err, "execution lookup");
    done(s);
    return r;
}

/* ---------------------------------------------------------- transactions */

static int sq_begin(store *sp, val_err *err)
{
    struct sq *q = (struct sq *)sp;
    if (q->in_tx)
        return invalid(err, "a transaction is already open");
    if (run_simple(q, S_BEGIN, err, "begin") != STORE_OK)
        return STORE_ERROR;
    q->in_tx = 1;
    return STORE_OK;
}

static int sq_rollback(store *sp, val_err *err)
{
    struct sq *q = (struct sq *)sp;
    if (!q->in_tx)
        return invalid(err, "no transaction is open");
    q->in_tx = 0;
    /* An I/O error may already have rolled SQLite back: that is success. */
    if (sqlite3_get_autocommit(q->db))
        return STORE_OK;
    return run_simple(q, S_ROLLBACK, err, "rollback");
}

static void ck_bound(struct sq *q);

static int sq_commit(store *sp, val_err *err)
{
    struct sq *q = (struct sq *)sp;
    if (!q->in_tx)
        return invalid(err, "no transaction is open");
    if (run_simple(q, S_COMMIT, err, "commit") == STORE_OK) {
        q->in_tx = 0;
        /* finish what the thread did; or, when it falls behind a writer
         * that never pauses, bound the WAL here (a longer commit now and
         * then instead of a WAL that grows without end) */
        if (q->ckrunning && q->wal_frames > CK_BOUND)
            ck_bound(q);
        else if (q->ckrunning && __atomic_exchange_n(&q->ckfinish, 0, __ATOMIC_ACQ_REL))
            sqlite3_wal_checkpoint_v2(q->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        return STORE_OK;
    }
    /* COMMIT can fail and leave the transaction open (SQLITE_BUSY): the
     * contract says a failed commit kept nothing, so roll it back. */
    q->in_tx = 0;
    if (!sqlite3_get_autocommit(q->db))
        sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
    return STORE_ERROR;
}

/* -------------------------------------------------------- state machines */

static int sq_machine_create(store *sp, const struct store_machine *m, val_err *err)
{
    struct sq *q = (struct sq *)sp;
    if (!m || !m->arn || !m->name || !m->definition || !m->type)
        return invalid(err, "machine_create: arn, name, definition and type are required");
    sqlite3_stmt *s = st(q, S_M_INSERT, err);
    if (!s)
        return STORE_ERROR;
    char *rev = m->revision_id ? NULL : uuid_new();
    if (!m->revision_id && !rev)
        return invalid(err, "out of memory");
    bind_text(s, 1, m->arn);
    bind_text(s, 2, m->name);
    bind_text(s, 3, m->definition);
    bind_text(s, 4, m->type);
    bind_text(s, 5, m->role_arn);
    sqlite3_bind_int64(s, 6, m->created_ns);
    bind_text(s, 7, m->revision_id ? m->revision_id : rev);
    int r = run_write(q, s, err, "machine_create");
    if (r == STORE_OK) {
        sqlite3_stmt *ri = st(q, S_R_INSERT, err);
        if (!ri)
            r = STORE_ERROR;
        else {
            bind_text(ri, 1, m->arn);
            bind_text(ri, 2, m->revision_id ? m->revision_id : rev);
            bind_text(ri, 3, m->definition);
            bind_text(ri, 4, m->role_arn);
            r = run_write(q, ri, err, "machine_create");
        }
    }
    free(rev);
    return r;
}

static void read_machine(sqlite3_stmt *s, struct store_machine *m)
{
    m->arn = col_dup(s, 0);
    m->name = col_dup(s, 1);
    m->definition = col_dup(s, 2);
    m->type = col_dup(s, 3);
    m->role_arn = col_dup(s, 4);
    m->created_ns = sqlite3_column_int64(s, 5);
    m->updated_ns = sqlite3_column_int64(s, 6);
    m->revision_id = col_dup(s, 7);
}

/* Runs statement id with key as ?1 (and key2 as ?2 when non-NULL, for
 * two-column keys) and hands its one row to read (with out): STORE_OK,
 * STORE_NOT_FOUND when there is no row, or -1. */
static int get_one(struct sq *q, int id, const char *key, const char *key2,
                   void (*read)(sqlite3_stmt *, void *), void *out, val_err *err, const char *what)
{
    sqlite3_stmt *s = st(q, id, err);
    if (!s)
        return STORE_ERROR;
    bind_text(s, 1, key);
    if (key2)
        bind_text(s, 2, key2);
    int rc = sqlite3_step(s), r;
    if (rc == SQLITE_ROW) {
        read(s, out);
        r = STORE_OK;
    } else if (rc == SQLITE_DONE)
        r = STORE_NOT_FOUND;
    else
        r = fail(q, err, what);
    done(s);
    return r;
}

static void read_machine_v(sqlite3_stmt *s, void *m) { read_machine(s, m); }

static int sq_machine_get(store *sp, const char *arn, struct store_machine *out, val_err *err)
{
    struct sq *q = (struct sq *)sp;
    memset(out, 0, sizeof *out);
    if (!arn)
        return invalid(err, "machine ARN is required");
    return get_one(q, S_M_GET, arn, NULL, read_machine_v, out, err, "machine_get");
}

static int sq_machine_list(store *sp, const char *token, size_t limit,
                           struct store_machine_list *out, val_err *err)
{
    struct sq *q = (struct sq *)sp;
    memset(out, 0, sizeof *out);
    int64_t after;
    if (parse_token(token, &after, err))
        return STORE_ERROR;
    size_t lim = page_size(limit, 100), cap = 0;
    sqlite3_stmt *s = st(q, S_M_LIST, err);
    if (!s)
        return STORE_ERROR;
    sqlite3_bind_int64(s, 1, after);
    sqlite3_bind_int64(s, 2, (int64_t)lim + 1);
    int rc, r = STORE_OK;
    int64_t last = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (out->n == lim) {
            out->next_token = make_token(last);
            break;
        }
        if (grow((void **)&out->items, &cap, out->n, sizeof *out->items)) {
            r = invalid(err, "out of memory");
            break;
        }
        read_machine(s, &out->items[out->n++]);
        last = sqlite3_column_int64(s, 8);
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        r = fail(q, err, "machine_list");
    done(s);
    if (r != STORE_OK)
        store_machine_list_free(out);
    return r;
}

static int sq_machine_update(store *sp, const char *arn, const char *definition,
                             const char *role_arn, int64_t now_ns, char **revision_id,
                             val_err *err)
{
    struct sq *q = (struct sq *)sp;
    if (revision_id)
        *revision_id = NULL;
    if (!arn)
        return invalid(err, "machine ARN is required");
    sqlite3_stmt *s = st(q, S_M_UPDATE, err);
    if (!s)
        return STORE_ERROR;
    char *rev = uuid_new();
    if (!rev)
        return invalid(err, "out of memory");
    bind_text(s, 1, arn);
    bind_text(s, 2, definition);
    bind_text(s, 3, role_arn);
    sqlite3_bind_int64(s, 4, now_ns);
    bind_text(s, 5, rev);
    int r = run_write(q, s, err, "machine_update");
    if (r == STORE_OK && sqlite3_changes(q->db) == 0)
        r = STORE_NOT_FOUND;
    if (r == STORE_OK) {
        sqlite3_stmt *rc = st(q, S_R_COPY, err);
        if (!rc)
            r = STORE_ERROR;
        else {
            bind_text(rc, 1, arn);
            r = run_write(q, rc, err, "machine_update");
        }
    }
    if (r == STORE_OK && revision_id)
        *revision_id = rev;
    else
        free(rev);
    return r;
}

/* Runs the delete statement id with key as ?1 (and key2 as ?2 when
 * non-NULL): STORE_OK, STORE_NOT_FOUND when it deleted nothing, or -1. */
static int delete_key(struct sq *q, int id, const char *key, const char *key2, val_err *err,
                      const char *what)
{
    sqlite3_stmt *s = st(q, id, err);
    if (!s)
        return STORE_ERROR;
    bind_text(s, 1, key);
    if (key2)
        bind_text(s, 2, key2);
    int r = run_write(q, s, err, what);
    if (r == STORE_OK && sqlite3_changes(q->db) == 0)
        r = STORE_NOT_FOUND;
    return r;
}

static int sq_machine_delete(store *sp, const char *arn, val_err *err)
{
    struct sq *q = (struct sq *)sp;
    if (!arn)
        return invalid(err, "machine ARN is required");
    return delete_key(q, S_M_DELETE, arn, NULL, err, "machine_delete");
}

static int sq_revision_get(store *sp, const char *arn, const char *revision_id, char **definition,
                           int *first, val_err *err)
{
    struct sq *q = (struct sq *)sp;
    *definition = NULL;
    if (first)
        *first = 0;
    if (!arn || !revision_id)
        return invalid(err, "revision_get: machine ARN and revision id are required");
    sqlite3_stmt *s = st(q, S_R_GET, err);
    if (!s)
        return STORE_ERROR;
    bind_text(s, 1, arn);
    bind_text(s, 2, revision_id);
    int rc = sqlite3_step(s), r;
    if (rc == SQLITE_ROW) {
        *definition = col_dup(s, 0);
        if (first)
            *first = sqlite3_column_int(s, 1);
        r = *definition ? STORE_OK : invalid(err, "out of memory");
    } else if (rc == SQLITE_DONE)
        r = STORE_NOT_FOUND;
    else
        r = fail(q, err, "revision_get");
    done(s);
    return r;
}

/* ------------------------------------------------------------ executions */

static int sq_exec_create(store *sp, const struct store_exec *x, val_err *err)
{
    struct sq *q = (struct sq *)sp;
    if (!x || !x->arn || !x->machine_arn || !x->name || !x->status || !x->input)
        return invalid(err,
                       "exec_create: arn, machine_arn, name, status and input are required");
    sqlite3_stmt *s = st(q, S_X_INSERT, err);
    if (!s)
        return STORE_ERROR;
    bind_text(s, 1, x->arn);
    bind_text(s, 2, x->machine_arn);
    bind_text(s, 3, x->name);
    bind_text(s, 4, x->status);
    bind_text(s, 5, x->input);
    bind_text(s, 6, x->output);
    bind_text(s, 7, x->error);
    bind_text(s, 8, x->cause);
    sqlite3_bind_int64(s, 9, x->start_ns);
    sqlite3_bind_int64(s, 10, x->stop_ns);
    bind_text(s, 11, x->snapshot);
    bind_text(s, 12, x->revision_id);
    return run_write(q, s, err, "exec_create");
}

/* Columns of X_GET / X_RUNNING. */
static void read_exec_full(sqlite3_stmt *s, struct store_exec *x)
{
    x->arn = col_dup(s, 0);
    x->machine_arn = col_dup(s, 1);
    x->name = col_dup(s, 2);
    x->status = col_dup(s, 3);
    x->input = col_dup(s, 4);
    x->output = col_dup(s, 5);
    x->error = col_dup(s, 6);
    x->cause = col_dup(s, 7);
    x->start_ns = sqlite3_column_int64(s, 8);
    x->stop_ns = sqlite3_column_int64(s, 9);
    x->snapshot = col_dup(s, 10);
    x->revision_id = col_dup(s, 11);
}

static void read_exec_full_v(sqlite3_stmt *s, void *x) { read_exec_full(s, x); }

static int sq_exec_get(store *sp, const char *arn, struct store_exec *out, val_err *err)
{
    struct sq *q = (struct sq *)sp;
    memset(out, 0, sizeof *out);
    if (!arn)
        return invalid(err, "execution ARN is required");
    return get_one(q, S_X_GET, arn, NULL, read_exec_full_v, out, err, "exec_get");
}

static int sq_exec_update(store *sp, const struct store_exec *x, val_err *err)
{
    struct sq *q = (struct sq *)sp;
    if (!x || !x->arn || !x->status)
        return invalid(err, "exec_update: arn and status are required");
    sqlite3_stmt *s = st(q, S_X_UPDATE, err);
    if (!s)
        return STORE_ERROR;
    bind_text(s, 1, x->arn);
    bind_text(s, 2, x->status);
    bind_text(s, 3, x->output);
    bind_text(s, 4, x->error);
    bind_text(s, 5, x->cause);
    sqlite3_bind_int64(s, 6, x->stop_ns);
    bind_text(s, 7, x->snapshot);
    int r = run_write(q, s, err, "exec_update");
    if (r == STORE_OK && sqlite3_changes(q->db) == 0)
        r = STORE_NOT_FOUND;
    return r;
}

/* Reads rows of s into out, limit per page; idcol is the rowid column. */
static int read_exec_page(struct sq *q, sqlite3_stmt *s, size_t lim, int full, int idcol,
                          struct store_exec_list *out, val_err *err, const char *what)
{
    size_t cap = 0;
    int rc, r = STORE_OK;
    int64_t last = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (out->n == lim) {
            out->next_token = make_token(last);
            break;
        }
        if (grow((void **)&out->items, &cap, out->n, sizeof *out->items)) {
            r = invalid(err, "out of memory");
            break;
        }
        struct store_exec *x = &out->items[out->n++];
        if (full)
            read_exec_full(s, x);
        else {
            x->arn = col_dup(s, 0);
            x->machine_arn = col_dup(s, 1);
            x->name = col_dup(s, 2);
            x->status = col_dup(s, 3);
            x->start_ns = sqlite3_column_int64(s, 4);
            x->stop_ns = sqlite3_column_int64(s, 5);
        }
        last = sqlite3_column_int64(s, idcol);
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        r = fail(q, err, what);
    done(s);
    if (r != STORE_OK)
        store_exec_list_free(out);
    return r;
}

static int sq_exec_list(store *sp, const char *machine_arn, const char *status, const char *token,
                        size_t limit, struct store_exec_list *out, val_err *err)
{
    struct sq *q = (struct sq *)sp;
    memset(out, 0, sizeof *out);
    if (!machine_arn)
        return invalid(err, "machine ARN is required");
    int64_t before;
    if (parse_token(token, &before, err))
        return STORE_ERROR;
    if (!token)
        before = INT64_MAX;
    size_t lim = page_size(limit, 100);
    sqlite3_stmt *s = st(q, S_X_LIST, err);
    if (!s)
        return STORE_ERROR;
    bind_text(s, 1, machine_arn);
    bind_text(s, 2, status);
    sqlite3_bind_int64(s, 3, before);
    sqlite3_bind_int64(s, 4, (int64_t)lim + 1);
    return read_exec_page(q, s, lim, 0, 6, out, err, "exec_list");
}

static int sq_exec_list_running(store *sp, const char *token, size_t limit,
                                struct store_exec_list *out, val_err *err)
{
    struct sq *q = (struct sq *)sp;
    memset(out, 0, sizeof *out);
    int64_t after;
    if (parse_token(token, &after, err))
        return STORE_ERROR;
    size_t lim = page_size(limit, 100);
    sqlite3_stmt *s = st(q, S_X_RUNNING, err);
    if (!s)
        return STORE_ERROR;
    sqlite3_bind_int64(s, 1, after);
    sqlite3_bind_int64(s, 2, (int64_t)lim + 1);
    return read_exec_page(q, s, lim, 1, 12, out, err, "exec_list_running");
}

/* --------------------------------------------------------------- history */

/* History is kept in batches: one row per append (one execution's events
 * of one loop turn), the events' JSON texts joined by newlines (compact
 * JSON has none of its own). One row instead of one per event keeps a turn
 * that records hundreds of large events to one insert, and lets SQLite
 * store the text in full overflow pages instead of a b-tree of small
 * cells. */
/* Batches of 512 bytes or more are stored zstd-compressed (level 1: a
 * history's events repeat each other's inputs and outputs, so a pass
 * chain's history shrinks 70-fold at several GB/s) unless that saves
 * nothing. text holds len bytes, the last event's newline excluded. */
#define ZSTD_MIN 512
static int insert_batch(struct sq *q, int64_t xid, int64_t first, int64_t last, const char *text,
                        size_t len, val_err *err)
{
    sqlite3_stmt *s = st(q, S_H_INSERT, err);
    if (!s)
        return STORE_ERROR;
    sqlite3_bind_int64(s, 1, xid);
    sqlite3_bind_int64(s, 2, first);
    sqlite3_bind_int64(s, 3, last);
    int codec = 0;
    if (len >= ZSTD_MIN) {
        size_t bound = ZSTD_compressBound(len);
        if (bound > q->zcap) {
            char *nb = realloc(q->zbuf, bound);
            if (nb) {
                q->zbuf = nb;
                q->zcap = bound;
            }
        }
        if (!q->zc)
            q->zc = ZSTD_createCCtx();
        if (q->zc && q->zcap >= bound) {
            size_t z = ZSTD_compressCCtx(q->zc, q->zbuf, q->zcap, text, len, 1);
            if (!ZSTD_isError(z) && z < len - len / 8) {
                codec = 1;
                sqlite3_bind_blob(s, 5, q->zbuf, (int)z, SQLITE_STATIC);
            }
        }
    }
    if (!codec)
        sqlite3_bind_blob(s, 5, text, (int)len, SQLITE_STATIC);
    sqlite3_bind_int(s, 4, codec);
    int r = run_write(q, s, err, "history_append");
    if (r == STORE_EXISTS)
        r = invalid(err, "history_append: event id already stored for this execution");
    return r;
}

/* An append must start after the last event stored: -1 (err set) when
 * first is not new for the execution. */
static int check_new(struct sq *q, int64_t xid, int64_t first, val_err *err)
{
    sqlite3_stmt *s = st(q, S_H_LAST, err);
    if (!s)
        return -1;
    sqlite3_bind_int64(s, 1, xid);
    int rc = sqlite3_step(s);
    int64_t last = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    done(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return fail(q, err, "history_append");
    if (first <= last)
        return invalid(err, "history_append: event id already stored for this execution");
    return 0;
}

static int sq_history_append(store *sp, const char *exec_arn, const struct store_event *ev,
                             size_t n, val_err *err)
{
    struct sq *q = (struct sq *)sp;
    int64_t xid;
    int r = exec_id(q, exec_arn, &xid, err);
    if (r != STORE_OK || n == 0)
        return r;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (!ev[i].json || ev[i].id <= 0)
            return invalid(err, "history_append: each event needs an id > 0 and its JSON");
        if (i && ev[i].id <= ev[i - 1].id)
            return invalid(err, "history_append: event ids must increase");
        size_t len = strlen(ev[i].json);
        if (memchr(ev[i].json, '\n', len))
            return invalid(err, "history_append: an event's JSON must be compact (no newline)");
        total += len + 1;
    }
    if (check_new(q, xid, ev[0].id, err))
        return STORE_ERROR;
    char *text = malloc(total);
    if (!text)
        return invalid(err, "out of memory");
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(ev[i].json);
        memcpy(text + off, ev[i].json, len);
        off += len;
        text[off++] = '\n';
    }
    r = insert_batch(q, xid, ev[0].id, ev[n - 1].id, text, total - 1, err);
    free(text);
    return r;
}

static int sq_history_append_text(store *sp, const char *exec_arn, int64_t first_id, size_t n,
                                  const char *text, size_t len, val_err *err)
{
    struct sq *q = (struct sq *)sp;
    int64_t xid;
    int r = exec_id(q, exec_arn, &xid, err);
    if (r != STORE_OK || n == 0)
        return r;
    if (first_id <= 0 || !text || len < 2 || text[len - 1] != '\n')
        return invalid(err, "history_append_text: events must end with a newline and ids start at 1");
    size_t lines = 0;
    for (const char *p = text, *e = text + len; (p = memchr(p, '\n', (size_t)(e - p))); p++)
        lines++;
    if (lines != n)
        return invalid(err, "history_append_text: the text does not hold n events");
    if (check_new(q, xid, first_id, err))
        return STORE_ERROR;
    return insert_batch(q, xid, first_id, first_id + (int64_t)n - 1, text, len - 1, err);
}

/* Adds the event text [p, p+len) with id to out. */
static int page_add(struct store_event_list *out, size_t *cap, int64_t id, const char *p, size_t len)
{
    if (grow((void **)&out->items, cap, out->n, sizeof *out->items))
        return -1;
    char *j = malloc(len + 1);
    if (!j)
        return -1;
    memcpy(j, p, len);
    j[len] = 0;
    out->items[out->n++] = (struct store_event){id, j};
    return 0;
}

static int sq_history_page(store *sp, const char *exec_arn, int64_t after_id, size_t limit,
                           int reverse, struct store_event_list *out, val_err *err)
{
    struct sq *q = (struct sq *)sp;
    memset(out, 0, sizeof *out);
    int64_t xid;
    int r = exec_id(q, exec_arn, &xid, err);
    if (r != STORE_OK)
        return r;
    size_t lim = page_size(limit, 1000), cap = 0;
    sqlite3_stmt *s = st(q, reverse ? S_H_REV : S_H_FWD, err);
    if (!s)
        return STORE_ERROR;
    int64_t bound = reverse && after_id <= 0 ? INT64_MAX : after_id;
    sqlite3_bind_int64(s, 1, xid);
    sqlite3_bind_int64(s, 2, bound);
    int rc, full = 0;
    while (!full && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        int64_t first = sqlite3_column_int64(s, 0), lastid = sqlite3_column_int64(s, 1);
        const char *t = (const char *)sqlite3_column_blob(s, 2);
        size_t tl = (size_t)sqlite3_column_bytes(s, 2);
        char *plain = NULL;
        if (sqlite3_column_int(s, 3) == 1 && t) {
            unsigned long long sz = ZSTD_getFrameContentSize(t, tl);
            if (sz == ZSTD_CONTENTSIZE_ERROR || sz == ZSTD_CONTENTSIZE_UNKNOWN || sz > ((size_t)1 << 31) ||
                !(plain = malloc(sz ? (size_t)sz : 1)) ||
                ZSTD_isError(ZSTD_decompress(plain, (size_t)sz, t, tl))) {
                free(plain);
                r = invalid(err, "history_page: a stored history batch does not decompress");
                break;
            }
            t = plain;
            tl = (size_t)sz;
        }
        /* the line starts of this batch: event first+k is line k */
        size_t n = (size_t)(lastid - first + 1);
        size_t *starts = malloc((n + 1) * sizeof *starts);
        if (!starts || !t) {
            free(starts);
            free(plain);
            r = invalid(err, "out of memory");
            break;
        }
        size_t k = 0;
        starts[k++] = 0;
        for (size_t i = 0; i < tl && k < n; i++)
            if (t[i] == '\n')
                starts[k++] = i + 1;
        n = k;
        starts[n] = tl + 1;
        for (size_t j = 0; j < n && !full; j++) {
            size_t idx = reverse ? n - 1 - j : j;
            int64_t id = first + (int64_t)idx;
            if (reverse ? id >= bound : id <= bound)
                continue;
            if (out->n == lim) {
                out->more = 1;
                full = 1;
                break;
            }
            if (page_add(out, &cap, id, t + starts[idx], starts[idx + 1] - 1 - starts[idx])) {
                r = invalid(err, "out of memory");
                full = 1;
            }
        }
        free(starts);
        free(plain);
    }
    if (!full && rc != SQLITE_DONE && r == STORE_OK)
        r = fail(q, err, "history_page");
    done(s);
    if (r != STORE_OK)
        store_event_list_free(out);
    return r;
}

static int sq_history_count(store *sp, const char *exec_arn, int64_t *count, val_err *err)
{
    struct sq *q = (struct sq *)sp;
    int64_t xid;
    *count = 0;
    int r = exec_id(q, exec_arn, &xid, err);
    if (r != STORE_OK)
        return r;
    sqlite3_stmt *s = st(q, S_H_COUNT, err);
    if (!s)
        return STORE_ERROR;
    sqlite3_bind_int64(s, 1, xid);
    if (sqlite3_step(s) == SQLITE_ROW)
        *count = sqlite3_column_int64(s, 0);
    else
        r = fail(q, err, "history_count");
    done(s);
    return r;
}

/* ---------------------------------------------------------------- timers */

static int sq_timer_arm(store *sp, const char *exec_arn, uint64_t timer_id, int64_t due_ns,
                        val_err *err)
{
    struct sq *q = (struct sq *)sp;
    if (!exec_arn)
        return invalid(err, "execution ARN is required");
    sqlite3_stmt *s = st(q, S_T_ARM, err);
    if (!s)
        return STORE_ERROR;
    bind_text(s, 1, exec_arn);
    sqlite3_bind_int64(s, 2, (int64_t)timer_id); /* stored as its bit pattern */
    sqlite3_bind_int64(s, 3, due_ns);
    return run_write(q, s, err, "timer_arm");
}

static int sq_timer_cancel(store *sp, const char *exec_arn, uint64_t timer_id, val_err *err)
{
    struct sq *q = (struct sq *)sp;
    if (!exec_arn)
        return invalid(err, "execution ARN is required");
    sqlite3_stmt *s = st(q, S_T_CANCEL, err);
    if (!s)
        return STORE_ERROR;
    bind_text(s, 1, exec_arn);
    sqlite3_bind_int64(s, 2, (int64_t)timer_id);
    int r = run_write(q, s, err, "timer_cancel");
    if (r == STORE_OK && sqlite3_changes(q->db) == 0)
        r = STORE_NOT_FOUND;
    return r;
}

static int sq_timer_clear(store *sp, const char *exec_arn, val_err *err)
{
    struct sq *q = (struct sq *)sp;
    if (!exec_arn)
        return invalid(err, "execution ARN is required");
    int r = delete_key(q, S_T_CLEAR, exec_arn, NULL, err, "timer_clear");
    return r == STORE_NOT_FOUND ? STORE_OK : r; /* no timers armed is fine */
}

static int sq_timer_due(store *sp, int64_t before_ns, size_t limit, struct store_timer_list *out,
                        val_err *err)
{
    struct sq *q = (struct sq *)sp;
    memset(out, 0, sizeof *out);
    size_t lim = page_size(limit, 1000), cap = 0;
    sqlite3_stmt *s = st(q, S_T_DUE, err);
    if (!s)
        return STORE_ERROR;
    sqlite3_bind_int64(s, 1, before_ns);
    sqlite3_bind_int64(s, 2, (int64_t)lim);
    int rc, r = STORE_OK;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (grow((void **)&out->items, &cap, out->n, sizeof *out->items)) {
            r = invalid(err, "out of memory");
            break;
        }
        struct store_timer *t = &out->items[out->n++];
        t->exec_arn = col_dup(s, 0);
        t->timer_id = (uint64_t)sqlite3_column_int64(s, 1);
        t->due_ns = sqlite3_column_int64(s, 2);
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        r = fail(q, err, "timer_due");
    done(s);
    if (r != STORE_OK)
        store_timer_list_free(out);
    return r;
}

/* ----------------------------------------------------------- task tokens */

static int sq_token_put(store *sp, const char *token, const char *exec_arn, uint64_t task_id,
                        val_err *err)
{
    struct sq *q = (struct sq *)sp;
    if (!token || !exec_arn)
        return invalid(err, "token_put: token and execution ARN are required");
    sqlite3_stmt *s = st(q, S_K_PUT, err);
    if (!s)
        return STORE_ERROR;
    bind_text(s, 1, token);
    bind_text(s, 2, exec_arn);
    sqlite3_bind_int64(s, 3, (int64_t)task_id);
    return run_write(q, s, err, "token_put");
}

struct token_row {
    char **exec_arn;
    uint64_t *task_id;
};

static void read_token(sqlite3_stmt *s, void *out)
{
    struct token_row *t = out;
    if (t->exec_arn)
        *t->exec_arn = col_dup(s, 0);
    if (t->task_id)
        *t->task_id = (uint64_t)sqlite3_column_int64(s, 1);
}

static int sq_token_get(store *sp, const char *token, char **exec_arn, uint64_t *task_id,
                        val_err *err)
{
    struct sq *q = (struct sq *)sp;
    if (exec_arn)
        *exec_arn = NULL;
    if (!token)
        return invalid(err, "token is required");
    struct token_row row = {exec_arn, task_id};
    return get_one(q, S_K_GET, token, NULL, read_token, &row, err, "token_get");
}

static int sq_token_delete(store *sp, const char *token, val_err *err)
{
    struct sq *q = (struct sq *)sp;
    if (!token)
        return invalid(err, "token is required");
    return delete_key(q, S_K_DELETE, token, NULL, err, "token_delete");
}

/* ------------------------------------------------------------- resources */

static int sq_resource_put(store *sp, const char *kind, const char *name, const char *config,
                           int64_t now_ns, val_err *err)
{
    struct sq *q = (struct sq *)sp;
    if (!kind || !name || !config)
        return invalid(err, "resource_put: kind, name and config are required");
    sqlite3_stmt *s = st(q, S_RES_PUT, err);
    if (!s)
        return STORE_ERROR;
    bind_text(s, 1, kind);
    bind_text(s, 2, name);
    bind_text(s, 3, config);
    sqlite3_bind_int64(s, 4, now_ns);
    return run_write(q, s, err, "resource_put");
}

static void read_config(sqlite3_stmt *s, void *config) { *(char **)config = col_dup(s, 0); }

static int sq_resource_get(store *sp, const char *kind, const char *name, char **config,
                           val_err *err)
{
    struct sq *q = (struct sq *)sp;
    if (config)
        *config = NULL;
    if (!kind || !name || !config)
        return invalid(err, "resource_get: kind, name and a place for the config are required");
    int r = get_one(q, S_RES_GET, kind, name, read_config, config, err, "resource_get");
    if (r == STORE_OK && !*config) /* config is NOT NULL: only strdup can fail */
        r = invalid(err, "out of memory");
    return r;
}

static int sq_resource_list(store *sp, const char *kind, struct store_resource_list *out,
                            val_err *err)
{
    struct sq *q = (struct sq *)sp;
    if (out)
        memset(out, 0, sizeof *out);
    if (!kind || !out)
        return invalid(err, "resource_list: kind and a list to fill are required");
    size_t cap = 0;
    sqlite3_stmt *s = st(q, S_RES_LIST, err);
    if (!s)
        return STORE_ERROR;
    bind_text(s, 1, kind);
    int rc, r = STORE_OK;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (grow((void **)&out->items, &cap, out->n, sizeof *out->items)) {
            r = invalid(err, "out of memory");
            break;
        }
        struct store_resource *res = &out->items[out->n++];
        res->name = col_dup(s, 0);
        res->config = col_dup(s, 1);
        res->updated_ns = sqlite3_column_int64(s, 2);
        if (!res->name || !res->config) {
            r = invalid(err, "out of memory");
            break;
        }
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        r = fail(q, err, "resource_list");
    done(s);
    if (r != STORE_OK)
        store_resource_list_free(out);
    return r;
}

static int sq_resource_delete(store *sp, const char *kind, const char *name, val_err *err)
{
    struct sq *q = (struct sq *)sp;
    if (!kind || !name)
        return invalid(err, "resource_delete: kind and name are required");
    return delete_key(q, S_RES_DELETE, kind, name, err, "resource_delete");
}

/* ---------------------------------------------------------------- tables */

static int sq_table_create(store *sp, const char *name, const char *desc, int64_t now_ns,
                           val_err *err)
{
    struct sq *q = (struct sq *)sp;
    if (!name || !desc)
        return invalid(err, "table_create: name and description are required");
    sqlite3_stmt *s = st(q, S_TB_INSERT, err);
    if (!s)
        return STORE_ERROR;
    bind_text(s, 1, name);
    bind_text(s, 2, desc);
    sqlite3_bind_int64(s, 3, now_ns);
    return run_write(q, s, err, "table_create");
}

static int sq_table_get(store *sp, const char *name, char **desc, val_err *err)
{
    struct sq *q = (struct sq *)sp;
    if (desc)
        *desc = NULL;
    if (!name || !desc)
        return invalid(err, "table_get: name and a place for the description are required");
    int r = get_one(q, S_TB_GET, name, NULL, read_config, desc, err, "table_get");
    if (r == STORE_OK && !*desc)
        r = invalid(err, "out of memory");
    return r;
}

static int sq_table_update(store *sp, const char *name, const char *desc, val_err *err)
{
    struct sq *q = (struct sq *)sp;
    if (!name || !desc)
        return invalid(err, "table_update: name and description are required");
    sqlite3_stmt *s = st(q, S_TB_UPDATE, err);
    if (!s)
        return STORE_ERROR;
    bind_text(s, 1, name);
    bind_text(s, 2, desc);
    int r = run_write(q, s, err, "table_update");
    if (r == STORE_OK && sqlite3_changes(q->db) == 0)
        r = STORE_NOT_FOUND;
    return r;
}

/* The items go first, then the table, under a savepoint: atomic on its
 * own and a plain part of a transaction opened by begin. */
static int sq_table_delete(store *sp, const char *name, val_err *err)
{
    struct sq *q = (struct sq *)sp;
    if (!name)
        return invalid(err, "table name is required");
    /* as in run_write: a SAVEPOINT now would start (and RELEASE commit) a
     * transaction of its own */
    if (q->in_tx && sqlite3_get_autocommit(q->db))
        return invalid(err, "the open transaction was rolled back by an earlier failure");
    if (run_simple(q, S_SP_BEGIN, err, "table_delete") != STORE_OK)
        return STORE_ERROR;
    int r = delete_key(q, S_TB_DROP_ITEMS, name, NULL, err, "table_delete");
    if (r == STORE_OK || r == STORE_NOT_FOUND) /* a table without items */
        r = delete_key(q, S_TB_DELETE, name, NULL, err, "table_delete");
    if (r == STORE_ERROR) {
        val_err e = {0};
        run_simple(q, S_SP_UNDO, &e, "table_delete");
        val_err_clear(&e);
    }
    if (run_simple(q, S_SP_RELEASE, r == STORE_ERROR ? NULL : err, "table_delete") != STORE_OK &&
        r != STORE_ERROR)
        r = STORE_ERROR;
    return r;
}

static int sq_table_list(store *sp, const char *after, size_t limit, struct store_name_list *out,
                         val_err *err)
{
    struct sq *q = (struct sq *)sp;
    if (!out)
        return invalid(err, "table_list: a list to fill is required");
    memset(out, 0, sizeof *out);
    size_t lim = page_size(limit, 100), cap = 0;
    sqlite3_stmt *s = st(q, S_TB_LIST, err);
    if (!s)
        return STORE_ERROR;
    bind_text(s, 1, after ? after : "");
    sqlite3_bind_int64(s, 2, (int64_t)lim + 1);
    int rc, r = STORE_OK;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (out->n == lim) {
            out->more = 1;
            break;
        }
        if (grow((void **)&out->names, &cap, out->n, sizeof *out->names) ||
            !(out->names[out->n] = col_dup(s, 0))) {
            r = invalid(err, "out of memory");
            break;
        }
        out->n++;
    }
    if (r == STORE_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
        r = fail(q, err, "table_list");
    done(s);
    if (r != STORE_OK)
        store_name_list_free(out);
    return r;
}

/* An aggregate over the table's key range: cheap next to a write path
 * that would keep counters (an extra row update per item write). */
static int sq_table_stats(store *sp, const char *name, int64_t *count, int64_t *bytes,
                          val_err *err)
{
    struct sq *q = (struct sq *)sp;
    if (!name)
        return invalid(err, "table name is required");
    sqlite3_stmt *s = st(q, S_TB_STATS, err);
    if (!s)
        return STORE_ERROR;
    bind_text(s, 1, name);
    int r;
    if (sqlite3_step(s) == SQLITE_ROW) {
        r = sqlite3_column_int64(s, 0) ? STORE_OK : STORE_NOT_FOUND;
        if (count)
            *count = sqlite3_column_int64(s, 1);
        if (bytes)
            *bytes = sqlite3_column_int64(s, 2);
    } else
        r = fail(q, err, "table_stats");
    done(s);
    return r;
}

/* ----------------------------------------------------------------- items */

/* Binds key bytes; a zero-length key is an empty blob, not NULL (which
 * sqlite3_bind_blob makes of a NULL pointer). */
static void bind_key(sqlite3_stmt *s, int i, const void *key, size_t len)
{
    sqlite3_bind_blob64(s, i, len ? key : "", len, SQLITE_STATIC);
}

static int sq_item_get(store *sp, const char *table, const void *key, size_t key_len, char **json,
                       val_err *err)
{
    struct sq *q = (struct sq *)sp;
    if (json)
        *json = NULL;
    if (!table || !key || !json)
        return invalid(err, "item_get: table, key and a place for the item are required");
    sqlite3_stmt *s = st(q, S_I_GET, err);
    if (!s)
        return STORE_ERROR;
    bind_text(s, 1, table);
    bind_key(s, 2, key, key_len);
    int rc = sqlite3_step(s), r;
    if (rc == SQLITE_ROW) {
        *json = col_dup(s, 0);
        r = *json ? STORE_OK : invalid(err, "out of memory");
    } else if (rc == SQLITE_DONE)
        r = STORE_NOT_FOUND;
    else
        r = fail(q, err, "item_get");
    done(s);
    return r;
}

static int sq_item_put(store *sp, const char *table, const void *key, size_t key_len,
                       const char *json, size_t len, int64_t size, val_err *err)
{
    struct sq *q = (struct sq *)sp;
    if (!table || !key || !json)
        return invalid(err, "item_put: table, key and item are required");
    if (len > INT32_MAX)
        return invalid(err, "item_put: item too large");
    sqlite3_stmt *s = st(q, S_I_PUT, err);
    if (!s)
        return STORE_ERROR;
    bind_text(s, 1, table);
    bind_key(s, 2, key, key_len);
    sqlite3_bind_text(s, 3, json, (int)len, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, size);
    int r = run_write(q, s, err, "item_put");
    if (r == STORE_OK && sqlite3_changes(q->db) == 0) /* the SELECT found no table */
        r = STORE_NOT_FOUND;
    return r;
}

static int sq_item_delete(store *sp, const char *table, const void *key, size_t key_len,
                          val_err *err)
{
    struct sq *q = (struct sq *)sp;
    if (!table || !key)
        return invalid(err, "item_delete: table and key are required");
    sqlite3_stmt *s = st(q, S_I_DELETE, err);
    if (!s)
        return STORE_ERROR;
    bind_text(s, 1, table);
    bind_key(s, 2, key, key_len);
    int r = run_write(q, s, err, "item_delete");
    if (r == STORE_OK && sqlite3_changes(q->db) == 0)
        r = STORE_NOT_FOUND;
    return r;
}

/* The statement of one shape of range: lo and hi are 0 (unbounded), 1
 * (inclusive) or 2 (exclusive). Each shape is its own statement, so that
 * every bound is a plain comparison on k the planner turns into a range
 * of the primary key (an "?2 IS NULL OR k>?2" would defeat it). */
static sqlite3_stmt *range_stmt(struct sq *q, int lo, int hi, int reverse, val_err *err)
{
    int i = (lo * 3 + hi) * 2 + (reverse != 0);
    if (q->range[i])
        return q->range[i];
    static const char *const los[] = {"", " AND k>=?2", " AND k>?2"};
    static const char *const his[] = {"", " AND k<=?3", " AND k<?3"};
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT k,item FROM ddb_items WHERE tbl=(SELECT id FROM ddb_tables WHERE name=?1)"
             "%s%s ORDER BY k %s LIMIT ?4",
             los[lo], his[hi], reverse ? "DESC" : "ASC");
    if (sqlite3_prepare_v3(q->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &q->range[i], NULL) !=
        SQLITE_OK) {
        q->range[i] = NULL;
        fail(q, err, "prepare");
        return NULL;
    }
    return q->range[i];
}

static int sq_item_range(store *sp, const char *table, struct store_bound lo,
                         struct store_bound hi, int reverse, size_t limit,
                         struct store_item_list *out, val_err *err)
{
    struct sq *q = (struct sq *)sp;
    if (!out)
        return invalid(err, "item_range: a list to fill is required");
    memset(out, 0, sizeof *out);
    if (!table)
        return invalid(err, "item_range: table is required");
    int lk = lo.key ? (lo.inclusive ? 1 : 2) : 0, hk = hi.key ? (hi.inclusive ? 1 : 2) : 0;
    sqlite3_stmt *s = range_stmt(q, lk, hk, reverse, err);
    if (!s)
        return STORE_ERROR;
    size_t lim = page_size(limit, 1000), cap = 0;
    bind_text(s, 1, table);
    if (lk)
        bind_key(s, 2, lo.key, lo.len);
    if (hk)
        bind_key(s, 3, hi.key, hi.len);
    sqlite3_bind_int64(s, 4, (int64_t)lim);
    int rc, r = STORE_OK;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (grow((void **)&out->items, &cap, out->n, sizeof *out->items)) {
            r = invalid(err, "out of memory");
            break;
        }
        struct store_item *it = &out->items[out->n++];
        size_t kl = (size_t)sqlite3_column_bytes(s, 0);
        const void *kb = sqlite3_column_blob(s, 0);
        it->key = malloc(kl ? kl : 1);
        it->json = col_dup(s, 1);
        if (!it->key || !it->json) {
            r = invalid(err, "out of memory");
            break;
        }
        if (kl)
            memcpy(it->key, kb, kl);
        it->key_len = kl;
    }
    if (r == STORE_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
        r = fail(q, err, "item_range");
    done(s);
    if (r != STORE_OK)
        store_item_list_free(out);
    return r;
}

/* ------------------------------------------------------------ open/close */

static void ck_stop(struct sq *q);

static void sq_close(store *sp)
{
    struct sq *q = (struct sq *)sp;
    if (!q)
        return;
    ck_stop(q);
    if (q->db && !sqlite3_get_autocommit(q->db))
        sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
    for (int i = 0; i < S_COUNT; i++)
        sqlite3_finalize(q->stmt[i]);
    for (size_t i = 0; i < sizeof q->range / sizeof q->range[0]; i++)
        sqlite3_finalize(q->range[i]);
    sqlite3_close_v2(q->db);
    ZSTD_freeCCtx(q->zc);
    free(q->zbuf);
    free(q);
}

static const struct store_ops sqlite_ops = {
    .close = sq_close,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .machine_create = sq_machine_create,
    .machine_get = sq_machine_get,
    .machine_list = sq_machine_list,
    .machine_update = sq_machine_update,
    .machine_delete = sq_machine_delete,
    .revision_get = sq_revision_get,
    .exec_create = sq_exec_create,
    .exec_get = sq_exec_get,
    .exec_update = sq_exec_update,
    .exec_list = sq_exec_list,
    .exec_list_running = sq_exec_list_running,
    .history_append = sq_history_append,
    .history_append_text = sq_history_append_text,
    .history_page = sq_history_page,
    .history_count = sq_history_count,
    .timer_arm = sq_timer_arm,
    .timer_cancel = sq_timer_cancel,
    .timer_clear = sq_timer_clear,
    .timer_due = sq_timer_due,
    .token_put = sq_token_put,
    .token_get = sq_token_get,
    .token_delete = sq_token_delete,
    .resource_put = sq_resource_put,
    .resource_get = sq_resource_get,
    .resource_list = sq_resource_list,
    .resource_delete = sq_resource_delete,
    .table_create = sq_table_create,
    .table_get = sq_table_get,
    .table_update = sq_table_update,
    .table_delete = sq_table_delete,
    .table_list = sq_table_list,
    .table_stats = sq_table_stats,
    .item_get = sq_item_get,
    .item_put = sq_item_put,
    .item_delete = sq_item_delete,
    .item_range = sq_item_range,
};

/* mkdir -p of the directory part of path. */
static int make_parent(const char *path, val_err *err)
{
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path)
        return 0;
    char *dir = strndup(path, (size_t)(slash - path));
    if (!dir)
        return invalid(err, "out of memory");
    for (char *p = dir + 1;; p++) {
        int end = *p == '\0';
        if (*p == '/' || end) {
            *p = '\0';
            if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
                val_err_set(err, VAL_ERR_STORE, "StoreError", "cannot create directory %s: %s",
                            dir, strerror(errno));
                free(dir);
                return -1;
            }
            if (end)
                break;
            *p = '/';
        }
    }
    free(dir);
    return 0;
}

static int exec_sql(struct sq *q, const char *sql, val_err *err, const char *what)
{
    char *msg = NULL;
    if (sqlite3_exec(q->db, sql, NULL, NULL, &msg) == SQLITE_OK)
        return 0;
    val_err_set(err, VAL_ERR_STORE, "StoreError", "%s: %s", what,
                msg ? msg : sqlite3_errmsg(q->db));
    sqlite3_free(msg);
    return -1;
}

static int read_version(struct sq *q, int *v, val_err *err)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(q->db, "SELECT coalesce(max(version),0) FROM schema_version", -1, &s,
                           NULL) != SQLITE_OK)
        return fail(q, err, "schema version");
    int r = 0;
    if (sqlite3_step(s) == SQLITE_ROW)
        *v = sqlite3_column_int(s, 0);
    else
        r = fail(q, err, "schema version");
    sqlite3_finalize(s);
    return r;
}

/* Applies every missing migration in order, each with its version row in
 * one IMMEDIATE transaction, re-reading the version inside it so two
 * processes opening one file at once do not both migrate. */
static int migrate(struct sq *q, val_err *err)
{
    for (;;) {
        if (exec_sql(q, "BEGIN IMMEDIATE", err, "migration"))
            return -1;
        int v = 0;
        if (exec_sql(q,
                     "CREATE TABLE IF NOT EXISTS schema_version("
                     "version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)",
                     err, "migration") ||
            read_version(q, &v, err))
            goto undo;
        if (v > STORE_SCHEMA_VERSION) {
            val_err_set(err, VAL_ERR_STORE, "StoreError",
                        "the store was written by a newer stepd (schema version %d, this build "
                        "knows %d)",
                        v, STORE_SCHEMA_VERSION);
            goto undo;
        }
        if (v == STORE_SCHEMA_VERSION)
            return exec_sql(q, "COMMIT", err, "migration");
        char ins[128];
        snprintf(ins, sizeof ins,
                 "INSERT INTO schema_version(version, applied_at) VALUES(%d, datetime('now'))",
                 v + 1);
        char what[48];
        snprintf(what, sizeof what, "migration %d", v + 1);
        if (exec_sql(q, migrations[v + 1], err, what) || exec_sql(q, ins, err, what) ||
            exec_sql(q, "COMMIT", err, what))
            goto undo;
    }
undo:
    if (!sqlite3_get_autocommit(q->db))
        sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

/* Checkpoints run mostly on their own thread and connection, so that
 * copying the WAL into the database and syncing it does not hold up
 * commits (SQLite's automatic checkpoint runs inside the COMMIT that
 * crosses the threshold, and stalls the server for as long as it takes).
 * The main connection's WAL hook wakes the thread once 1,000 frames have
 * gathered; it copies them with a PASSIVE checkpoint while commits go on.
 * The frames written meanwhile are copied by the main connection itself,
 * right after its next commit (a few frames: quick), so that the commit
 * after that starts the WAL over from its beginning: with a writer always
 * busy, the other connection alone could never let the WAL restart, and a
 * blocking checkpoint there would deadlock with a writer waiting for it. */

static void *ck_main(void *arg)
{
    struct sq *q = arg;
    pthread_mutex_lock(&q->ckmu);
    while (!q->ckstop) {
        while ((!q->ckwanted || q->ckhold) && !q->ckstop)
            pthread_cond_wait(&q->ckcv, &q->ckmu);
        if (q->ckstop)
            break;
        q->ckwanted = 0;
        q->ckbusy = 1;
        pthread_mutex_unlock(&q->ckmu);
        sqlite3_wal_checkpoint_v2(q->ckdb, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        __atomic_store_n(&q->ckfinish, 1, __ATOMIC_RELEASE);
        pthread_mutex_lock(&q->ckmu);
        q->ckbusy = 0;
        pthread_cond_broadcast(&q->ckcv);
    }
    pthread_mutex_unlock(&q->ckmu);
    return NULL;
}

static int wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
    (void)db;
    (void)name;
    struct sq *q = arg;
    q->wal_frames = frames;
    if (frames >= CK_FRAMES) {
        pthread_mutex_lock(&q->ckmu);
        q->ckwanted = 1;
        pthread_cond_signal(&q->ckcv);
        pthread_mutex_unlock(&q->ckmu);
    }
    return SQLITE_OK;
}

/* Starts the checkpointer; without it (it cannot start) SQLite's own
 * automatic checkpoint stays on. */
static void ck_start(struct sq *q, const char *path)
{
    if (sqlite3_open_v2(path, &q->ckdb, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        sqlite3_close_v2(q->ckdb);
        q->ckdb = NULL;
        return;
    }
    sqlite3_busy_timeout(q->ckdb, 5000);
    /* the connection learns the database is in WAL mode when it first reads it */
    if (sqlite3_exec(q->ckdb, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK) {
        sqlite3_close_v2(q->ckdb);
        q->ckdb = NULL;
        return;
    }
    pthread_mutex_init(&q->ckmu, NULL);
    pthread_cond_init(&q->ckcv, NULL);
    if (pthread_create(&q->ckthread, NULL, ck_main, q) != 0) {
        pthread_mutex_destroy(&q->ckmu);
        pthread_cond_destroy(&q->ckcv);
        sqlite3_close_v2(q->ckdb);
        q->ckdb = NULL;
        return;
    }
    q->ckrunning = 1;
    sqlite3_wal_autocheckpoint(q->db, 0);
    sqlite3_wal_hook(q->db, wal_hook, q);
}

/* The WAL passed CK_BOUND (a writer that never pauses outruns the thread):
 * keep the thread from starting another pass and, once its current one has
 * ended (a later commit when it is still running: no waiting here),
 * checkpoint on this connection with RESTART, so that the next commit
 * starts the WAL over. The thread never waits on this connection: no
 * deadlock. */
static void ck_bound(struct sq *q)
{
    pthread_mutex_lock(&q->ckmu);
    q->ckhold = 1;
    int busy = q->ckbusy;
    pthread_mutex_unlock(&q->ckmu);
    if (busy)
        return;
    sqlite3_wal_checkpoint_v2(q->db, NULL, SQLITE_CHECKPOINT_RESTART, NULL, NULL);
    pthread_mutex_lock(&q->ckmu);
    q->ckhold = 0;
    pthread_cond_broadcast(&q->ckcv);
    pthread_mutex_unlock(&q->ckmu);
}

static void ck_stop(struct sq *q)
{
    if (!q->ckrunning)
        return;
    sqlite3_wal_hook(q->db, NULL, NULL);
    pthread_mutex_lock(&q->ckmu);
    q->ckstop = 1;
    pthread_cond_signal(&q->ckcv);
    pthread_mutex_unlock(&q->ckmu);
    pthread_join(q->ckthread, NULL);
    pthread_mutex_destroy(&q->ckmu);
    pthread_cond_destroy(&q->ckcv);
    sqlite3_close_v2(q->ckdb);
    q->ckdb = NULL;
    q->ckrunning = 0;
}

store *store_sqlite_open(const char *path, val_err *err)
{
    if (!path || !*path) {
        invalid(err, "store path is empty");
        return NULL;
    }
    int memory = strcmp(path, ":memory:") == 0;
    if (!memory && make_parent(path, err))
        return NULL;
    struct sq *q = calloc(1, sizeof *q);
    if (!q) {
        invalid(err, "out of memory");
        return NULL;
    }
    q->base.ops = &sqlite_ops;
    int rc = sqlite3_open_v2(path, &q->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        val_err_set(err, VAL_ERR_STORE, "StoreError", "cannot open %s: %s", path,
                    q->db ? sqlite3_errmsg(q->db) : sqlite3_errstr(rc));
        sq_close(&q->base);
        return NULL;
    }
    sqlite3_extended_result_codes(q->db, 1);
    sqlite3_busy_timeout(q->db, 5000);
    /* Durability: WAL with synchronous=NORMAL, chosen for speed. A commit
     * appends its frames to the WAL with write(2) before COMMIT returns;
     * they are in the kernel's page cache, so a SIGKILL (or any crash of
     * the process) loses nothing committed: the next open replays the WAL.
     * Only a power loss or kernel crash can drop the last transactions
     * before the next checkpoint's fsync; the database itself is never
     * corrupted. FULL would fsync every commit — group commit keeps that
     * affordable, so switch here if power-loss durability is required. */
    if (exec_sql(q, "PRAGMA journal_mode=WAL", err, "journal mode") ||
        exec_sql(q, "PRAGMA journal_size_limit=67108864", err, "journal size") ||
        exec_sql(q, "PRAGMA synchronous=NORMAL", err, "synchronous") ||
        exec_sql(q, "PRAGMA foreign_keys=OFF", err, "pragma") || migrate(q, err)) {
        char *cause = err && err->cause ? strdup(err->cause) : NULL;
        val_err_set(err, VAL_ERR_STORE, "StoreError", "cannot open store %s: %s", path,
                    cause ? cause : "unknown error");
        free(cause);
        sq_close(&q->base);
        return NULL;
    }
    if (!memory)
        ck_start(q, path);
    return &q->base;
}

int store_sqlite_schema_version(store *s)
{
    struct sq *q = (struct sq *)s;
    int v = -1;
    if (!q || q->base.ops != &sqlite_ops || read_version(q, &v, NULL))
        return -1;
    return v;
}
