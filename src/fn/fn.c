/* fn — the worker pool and the Lambda Runtime API (see fn.h).
 *
 * Everything lives on one epoll loop (the pool's thread) under one mutex:
 * other threads only register functions, queue invocations and, when a
 * worker is already waiting in GET next, hand the event over directly (the
 * warm path costs no thread hop). Objects that die while an epoll batch
 * may still point at them go to a graveyard freed after the batch. */
#include "fn/fn.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define INIT_LIMIT_NS (10LL * 1000000000LL) /* Lambda's init phase limit */
#define KILL_GRACE_NS (2LL * 1000000000LL)  /* SIGTERM, then SIGKILL after this */
#define CHECK_EVERY_NS (10LL * 1000000LL)   /* timeouts and reaping are checked this often */
#define MAX_HEADER 65536
#define MAX_CONNS 16 /* connections one worker may hold open */
#define LAT_RING 65536

/* ------------------------------------------------------------- objects */

enum ep_kind { EP_WAKE, EP_LISTEN, EP_CONN, EP_PIPE, EP_PID };
struct ep {
    int kind;
};

struct fn_func;
struct worker;

struct inv {
    char id[37];
    char *name;          /* as asked for */
    struct fn_func *fn;  /* resolved (NULL: not found) */
    char *payload;
    size_t len;
    int flags;
    fn_done_fn done;
    void *ud;
    int64_t sent_ns;     /* the event was written to the worker */
    int64_t deadline_ns; /* monotonic */
    struct worker *w;
    /* the result, once known */
    int status;
    char *out;
    size_t out_len;
    char *error_type;
    char *message;
    char *tail;
    char *arn;
    struct inv *next;
};

struct conn {
    struct ep ep;
    int fd;
    struct worker *w;
    char *in;
    size_t in_len, in_cap;
    char *out;
    size_t out_len, out_off;
    int want_out;    /* EPOLLOUT registered */
    int close_after; /* close once out is written */
    int dead;
    struct conn *next; /* the worker's connections */
};

enum wstate { W_STARTING, W_IDLE, W_BUSY, W_READY, W_DEAD };

struct worker {
    struct ep ep_listen, ep_pipe, ep_pid;
    struct fn_func *fn;
    long generation;
    pid_t pid;
    int pidfd, lfd, outfd;
    int port;
    int state;
    int reaped;
    int exit_status; /* waitpid status */
    struct conn *conns;
    struct conn *parked; /* the connection waiting in GET next (W_IDLE) */
    struct inv *inv;     /* W_BUSY */
    int64_t spawned_ns, idle_ns, init_ns, kill_at;
    int kill_sent;       /* 0, SIGTERM or SIGKILL */
    int gone;            /* its process has exited: it takes no more work */
    int64_t ready_ns;    /* when it answered (W_READY): it must ask for more in time */
    long mem_mb;         /* its peak memory as last read, and when */
    int64_t mem_ns;
    int cold;            /* no invocation finished yet: REPORT shows Init Duration */
    char *init_error;    /* the body of POST /init/error */
    char line[4096];     /* a partial output line */
    size_t line_len;
    char *tail;          /* the current invocation's log */
    size_t tail_len;
    struct worker *next;
};

struct fn_func {
    char *name, *arn, *code_dir, *handler, *runtime;
    int timeout_s, memory_mb, concurrency;
    json_t *env;
    char *last_modified;
    char *sha;
    long generation;
    int kind; /* RT_PYTHON, RT_PROVIDED, RT_OTHER */
    char *exe; /* the interpreter (python) or bootstrap path */
    int log_fd;
    char *log_path;
    int n_workers;
    struct worker *workers;
    struct inv *q_head, *q_tail; /* waiting for a worker */
    long queued;
    int deleted;
    int dirty;
    struct fn_func *next;
};

enum { RT_PYTHON, RT_PROVIDED, RT_OTHER };

struct lat_ring {
    int64_t v[LAT_RING];
    long n; /* total pushed since reset */
};

struct fn_pool {
    char *region, *account, *endpoint_url, *runtime_dir, *log_dir;
    int echo_fd, idle_s, default_conc, quiet, hold;
    pthread_mutex_t mu;
    pthread_t thread;
    int epfd, wakefd;
    struct ep ep_wake;
    int stopping;
    int stopped; /* the thread has ended: fn_invoke refuses */
    struct fn_func *funcs;
    struct inv *done_head, *done_tail;   /* results to deliver */
    struct inv *new_head, *new_tail;     /* invocations not routed yet */
    struct worker *grave_w;
    struct conn *grave_c;
    struct fn_func *grave_f;
    int64_t next_check;
    uint64_t rng;
    struct lat_ring lat_py, lat_pr;
    long invocations, cold_starts, n_workers;
    long procs; /* worker processes not reaped yet */
    json_t *py_cache; /* runtime name -> interpreter path */
};

/* --------------------------------------------------------------- helpers */

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        abort();
    return p;
}

static char *xstrdup(const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d)
        abort();
    return d;
}

static void notice(fn_pool *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void notice(fn_pool *p, const char *fmt, ...)
{
    if (p->quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("stepd: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static uint64_t rnd(fn_pool *p)
{
    /* xorshift64*: request ids need to be unique, not secret */
    uint64_t x = p->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    p->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static void uuid(fn_pool *p, char out[37])
{
    uint64_t a = rnd(p), b = rnd(p);
    a = (a & ~0xF000ULL) | 0x4000ULL;
    b = (b & ~(3ULL << 62)) | (2ULL << 62);
    snprintf(out, 37, "%08x-%04x-%04x-%04x-%012llx", (unsigned)(a >> 32), (unsigned)((a >> 16) & 0xFFFF),
             (unsigned)(a & 0xFFFF), (unsigned)(b >> 48), (unsigned long long)(b & 0xFFFFFFFFFFFFULL));
}

static void ep_add(fn_pool *p, int fd, struct ep *e, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = e};
    epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev);
}

static void wake(fn_pool *p)
{
    uint64_t one = 1;
    ssize_t r = write(p->wakefd, &one, sizeof one);
    (void)r;
}

/* The function name out of a name, name:qualifier, or a full or partial
 * ARN. *qual gets the qualifier (or NULL). Returns a malloc'd name, NULL
 * when s is empty. */
static char *name_of(const char *s, char **qual)
{
    *qual = NULL;
    if (!s || !*s)
        return NULL;
    const char *n = s;
    const char *f = strstr(s, ":function:");
    if (f)
        n = f + 10;
    const char *colon = strchr(n, ':');
    if (colon) {
        *qual = xstrdup(colon + 1);
        return strndup(n, (size_t)(colon - n));
    }
    return xstrdup(n);
}

static struct fn_func *find(fn_pool *p, const char *name)
{
    for (struct fn_func *f = p->funcs; f; f = f->next)
        if (!f->deleted && strcmp(f->name, name) == 0)
            return f;
    return NULL;
}

/* Resolves what a caller names; NULL when not found (a qualifier other
 * than $LATEST: versions and aliases are not kept). */
static struct fn_func *resolve(fn_pool *p, const char *s)
{
    char *qual;
    char *name = name_of(s, &qual);
    struct fn_func *f = name ? find(p, name) : NULL;
    if (qual && strcmp(qual, "$LATEST") != 0)
        f = NULL;
    free(name);
    free(qual);
    return f;
}

char *fn_arn(fn_pool *p, const char *s)
{
    if (s && strncmp(s, "arn:", 4) == 0)
        return xstrdup(s);
    char *qual;
    char *name = name_of(s, &qual);
    char *arn = val_asprintf("arn:aws:lambda:%s:%s:function:%s%s%s", p->region, p->account, name ? name : "",
                          qual ? ":" : "", qual ? qual : "");
    free(name);
    free(qual);
    return arn;
}

/* ------------------------------------------------------------------ logs */

static void log_write(fn_pool *p, struct fn_func *f, const char *s, size_t n)
{
    if (f->log_fd >= 0) {
        ssize_t r = write(f->log_fd, s, n);
        (void)r;
    }
    if (p->echo_fd > 0) {
        char pre[300];
        int k = snprintf(pre, sizeof pre, "[%s] ", f->name);
        struct iovec iov[2] = {{pre, (size_t)k}, {(void *)s, n}};
        ssize_t r = writev(p->echo_fd, iov, 2);
        (void)r;
    }
}

/* Appends to the current invocation's log, keeping its last 4 KB. */
static void tail_add(struct worker *w, const char *s, size_t n)
{
    if (!w->tail)
        w->tail = xmalloc(FN_TAIL_BYTES);
    if (n >= FN_TAIL_BYTES) {
        memcpy(w->tail, s + n - FN_TAIL_BYTES, FN_TAIL_BYTES);
        w->tail_len = FN_TAIL_BYTES;
        return;
    }
    if (w->tail_len + n > FN_TAIL_BYTES) {
        size_t drop = w->tail_len + n - FN_TAIL_BYTES;
        memmove(w->tail, w->tail + drop, w->tail_len - drop);
        w->tail_len -= drop;
    }
    memcpy(w->tail + w->tail_len, s, n);
    w->tail_len += n;
}

/* A line of ours (START, END, REPORT, a timeout), newline included. */
static void log_line(fn_pool *p, struct worker *w, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void log_line(fn_pool *p, struct worker *w, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof buf - 2)
        n = (int)sizeof buf - 2;
    buf[n++] = '\n';
    log_write(p, w->fn, buf, (size_t)n);
    if (w->state == W_BUSY)
        tail_add(w, buf, (size_t)n);
}

/* Reads what the worker printed; complete lines go to the log. */
static void pipe_drain(fn_pool *p, struct worker *w)
{
    if (w->outfd < 0)
        return;
    for (;;) {
        char buf[8192];
        ssize_t r = read(w->outfd, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
                if (w->line_len) { /* the last line had no newline */
                    w->line[w->line_len++] = '\n';
                    log_write(p, w->fn, w->line, w->line_len);
                    if (w->state == W_BUSY)
                        tail_add(w, w->line, w->line_len);
                    w->line_len = 0;
                }
                epoll_ctl(p->epfd, EPOLL_CTL_DEL, w->outfd, NULL);
                close(w->outfd);
                w->outfd = -1;
            }
            return;
        }
        /* whole lines are written through; a line longer than the buffer
         * is cut into pieces */
        size_t i = 0, n = (size_t)r;
        while (i < n) {
            char *nl = memchr(buf + i, '\n', n - i);
            size_t take = nl ? (size_t)(nl - (buf + i)) + 1 : n - i;
            if (w->line_len + take > sizeof w->line - 1) {
                size_t room = sizeof w->line - 1 - w->line_len;
                if (room > take)
                    room = take;
                memcpy(w->line + w->line_len, buf + i, room);
                w->line_len += room;
                i += room;
                w->line[w->line_len++] = '\n';
            } else {
                memcpy(w->line + w->line_len, buf + i, take);
                w->line_len += take;
                i += take;
                if (!nl)
                    continue;
            }
            log_write(p, w->fn, w->line, w->line_len);
            if (w->state == W_BUSY)
                tail_add(w, w->line, w->line_len);
            w->line_len = 0;
        }
    }
}

/* The worker's peak resident memory, MB (0 when unknown). */
static long max_mem_mb(pid_t pid)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    char *h = strstr(buf, "VmHWM:");
    return h ? (strtol(h + 6, NULL, 10) + 1023) / 1024 : 0;
}

/* The worker's peak memory for a REPORT line: /proc is read at most once
 * a second per worker (a read costs about as much as a warm invocation's
 * whole round trip). */
static long worker_mem(struct worker *w, int64_t now)
{
    if (!w->mem_ns || now - w->mem_ns > 1000000000LL) {
        w->mem_mb = max_mem_mb(w->pid);
        w->mem_ns = now;
    }
    return w->mem_mb;
}

/* ----------------------------------------------------------- invocations */

static void inv_free(struct inv *v)
{
    free(v->name);
    free(v->payload);
    free(v->out);
    free(v->error_type);
    free(v->message);
    free(v->tail);
    free(v->arn);
    free(v);
}

/* Moves v to the results (delivered after the batch, lock let go). */
static void inv_finish(fn_pool *p, struct inv *v)
{
    v->next = NULL;
    if (p->done_tail)
        p->done_tail->next = v;
    else
        p->done_head = v;
    p->done_tail = v;
}

static void inv_fail_doc(fn_pool *p, struct inv *v, const char *type, const char *doc)
{
    v->status = FN_FUNCTION_ERROR;
    v->error_type = xstrdup(type);
    v->out = xstrdup(doc);
    v->out_len = strlen(doc);
    inv_finish(p, v);
}

/* A failure stepd reports for the function (timeout, exit, init), in
 * Lambda's error document shape. */
static void inv_fail(fn_pool *p, struct inv *v, const char *type, const char *message)
{
    json_t *d = json_object();
    val_obj_set_take(d, "errorType", json_string(type));
    val_obj_set_take(d, "errorMessage", json_string(message));
    char *s = json_dumps(d, JSON_COMPACT);
    json_decref(d);
    inv_fail_doc(p, v, type, s);
    free(s);
}

static void inv_service_error(fn_pool *p, struct inv *v, int status, const char *message)
{
    v->status = status;
    v->message = xstrdup(message);
    inv_finish(p, v);
}

static void queue_push(struct fn_func *f, struct inv *v)
{
    v->next = NULL;
    if (f->q_tail)
        f->q_tail->next = v;
    else
        f->q_head = v;
    f->q_tail = v;
    f->queued++;
}

static struct inv *queue_pop(struct fn_func *f)
{
    struct inv *v = f->q_head;
    if (v) {
        f->q_head = v->next;
        if (!f->q_head)
            f->q_tail = NULL;
        v->next = NULL;
        f->queued--;
    }
    return v;
}

/* --------------------------------------------------------- connections */

static void conn_close(fn_pool *p, struct conn *c)
{
    if (c->dead)
        return;
    c->dead = 1;
    epoll_ctl(p->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    struct worker *w = c->w;
    if (w) {
        if (w->parked == c)
            w->parked = NULL;
        for (struct conn **pp = &w->conns; *pp; pp = &(*pp)->next)
            if (*pp == c) {
                *pp = c->next;
                break;
            }
        c->w = NULL;
    }
    c->next = p->grave_c;
    p->grave_c = c;
}

/* Writes what c has queued; EPOLLOUT while something is left. */
static void conn_flush(fn_pool *p, struct conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t r = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (!c->want_out) {
                    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = &c->ep};
                    epoll_ctl(p->epfd, EPOLL_CTL_MOD, c->fd, &ev);
                    c->want_out = 1;
                }
                return;
            }
            conn_close(p, c);
            return;
        }
        c->out_off += (size_t)r;
    }
    c->out_off = c->out_len = 0;
    if (c->want_out) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &c->ep};
        epoll_ctl(p->epfd, EPOLL_CTL_MOD, c->fd, &ev);
        c->want_out = 0;
    }
    if (c->close_after)
        conn_close(p, c);
}

/* Sends head (and body) on c: straight to the socket when nothing is
 * queued before it, the rest kept for EPOLLOUT. */
static void conn_send(fn_pool *p, struct conn *c, const char *head, size_t hlen, const char *body, size_t blen)
{
    if (c->dead)
        return;
    size_t done = 0;
    if (c->out_len == 0) {
        struct iovec iov[2] = {{(void *)head, hlen}, {(void *)body, blen}};
        struct msghdr m = {.msg_iov = iov, .msg_iovlen = blen ? 2 : 1};
        ssize_t r;
        do
            r = sendmsg(c->fd, &m, MSG_NOSIGNAL);
        while (r < 0 && errno == EINTR);
        if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            conn_close(p, c);
            return;
        }
        done = r > 0 ? (size_t)r : 0;
    }
    size_t total = hlen + blen;
    if (done == total) {
        if (c->close_after)
            conn_close(p, c);
        return;
    }
    size_t need = c->out_len + total - done;
    char *o = realloc(c->out, need);
    if (!o)
        abort();
    c->out = o;
    for (size_t i = done; i < total; i++) /* rarely more than a few bytes */
        c->out[c->out_len++] = i < hlen ? head[i] : body[i - hlen];
    conn_flush(p, c);
}

static void reply(fn_pool *p, struct conn *c, int status, const char *reason, const char *body)
{
    char head[256];
    size_t blen = strlen(body);
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n%s\r\n",
                     status, reason, blen, c->close_after ? "Connection: close\r\n" : "");
    conn_send(p, c, head, (size_t)n, body, blen);
}

/* --------------------------------------------------------------- workers */

static void worker_kill(fn_pool *p, struct worker *w, int sig)
{
    if (w->reaped || w->kill_sent == SIGKILL)
        return;
    if (w->kill_sent == 0 || sig == SIGKILL) {
        kill(-w->pid, sig); /* its process group: what it started goes too */
        kill(w->pid, sig);
        w->kill_sent = sig;
        w->kill_at = mono_ns() + KILL_GRACE_NS;
    }
    (void)p;
}

/* The worker will not take work again: its connections close and, unless
 * it has exited already, it is stopped. */
static void worker_retire(fn_pool *p, struct worker *w, int sig)
{
    if (w->state != W_DEAD) {
        w->state = W_DEAD;
        w->fn->n_workers--;
        p->n_workers--;
    }
    while (w->conns)
        conn_close(p, w->conns);
    if (w->lfd >= 0) {
        epoll_ctl(p->epfd, EPOLL_CTL_DEL, w->lfd, NULL);
        close(w->lfd);
        w->lfd = -1;
    }
    worker_kill(p, w, sig);
}

static void worker_unlink_free(fn_pool *p, struct worker *w)
{
    struct fn_func *f = w->fn;
    for (struct worker **pp = &f->workers; *pp; pp = &(*pp)->next)
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    w->next = p->grave_w;
    p->grave_w = w;
    p->procs--;
}

static const char *env_skip[] = {"AWS_", "_HANDLER", "LAMBDA_", "_X_AMZN_TRACE_ID", NULL};

static int env_skipped(const char *kv)
{
    for (int i = 0; env_skip[i]; i++)
        if (strncmp(kv, env_skip[i], strlen(env_skip[i])) == 0)
            return 1;
    return 0;
}

struct strv {
    char **v;
    size_t n, cap;
};

static void strv_add(struct strv *s, char *str)
{
    if (s->n + 2 > s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        if (!s->v)
            abort();
    }
    s->v[s->n++] = str;
    s->v[s->n] = NULL;
}

static void strv_free(struct strv *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
}

static int env_has(const struct strv *e, const char *kv)
{
    size_t n = strcspn(kv, "=");
    for (size_t i = 0; i < e->n; i++)
        if (strncmp(e->v[i], kv, n) == 0 && e->v[i][n] == '=')
            return 1;
    return 0;
}

/* The environment Lambda gives a function, on top of stepd's own (its
 * AWS_* variables removed: a developer's profile or keys must not leak
 * into a function that is meant to talk to stepd). The template's
 * variables win over Lambda's (a user's AWS_ENDPOINT_URL included), which
 * win over the inherited ones: each name appears once. */
static void build_env(fn_pool *p, struct fn_func *f, int port, struct strv *e)
{
    const char *k;
    json_t *v;
    json_object_foreach(f->env, k, v) {
        if (json_is_string(v) && !strchr(k, '='))
            strv_add(e, val_asprintf("%s=%s", k, json_string_value(v)));
    }
    struct strv l = {0};
    strv_add(&l, val_asprintf("AWS_LAMBDA_RUNTIME_API=127.0.0.1:%d", port));
    strv_add(&l, val_asprintf("_HANDLER=%s", f->handler));
    strv_add(&l, val_asprintf("LAMBDA_TASK_ROOT=%s", f->code_dir));
    strv_add(&l, val_asprintf("LAMBDA_RUNTIME_DIR=%s", p->runtime_dir ? p->runtime_dir : ""));
    strv_add(&l, val_asprintf("AWS_LAMBDA_FUNCTION_NAME=%s", f->name));
    strv_add(&l, xstrdup("AWS_LAMBDA_FUNCTION_VERSION=$LATEST"));
    strv_add(&l, val_asprintf("AWS_LAMBDA_FUNCTION_MEMORY_SIZE=%d", f->memory_mb));
    strv_add(&l, val_asprintf("AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/%s", f->name));
    strv_add(&l, val_asprintf("AWS_LAMBDA_LOG_STREAM_NAME=stepd/[$LATEST]%d", port));
    strv_add(&l, xstrdup("AWS_LAMBDA_INITIALIZATION_TYPE=on-demand"));
    if (f->kind == RT_PYTHON)
        strv_add(&l, val_asprintf("AWS_EXECUTION_ENV=AWS_Lambda_%s", f->runtime));
    strv_add(&l, val_asprintf("AWS_REGION=%s", p->region));
    strv_add(&l, val_asprintf("AWS_DEFAULT_REGION=%s", p->region));
    strv_add(&l, xstrdup("AWS_ACCESS_KEY_ID=stepd"));
    strv_add(&l, xstrdup("AWS_SECRET_ACCESS_KEY=stepd"));
    strv_add(&l, xstrdup("AWS_SESSION_TOKEN=stepd"));
    strv_add(&l, xstrdup("TZ=:UTC"));
    if (p->endpoint_url)
        strv_add(&l, val_asprintf("AWS_ENDPOINT_URL=%s", p->endpoint_url));
    for (size_t i = 0; i < l.n; i++)
        if (!env_has(e, l.v[i]))
            strv_add(e, xstrdup(l.v[i]));
    strv_free(&l);
    for (char **kv = environ; *kv; kv++)
        if (!env_skipped(*kv) && strchr(*kv, '=') && !env_has(e, *kv))
            strv_add(e, xstrdup(*kv));
}

static int listen_loopback(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 16) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &al) < 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

/* Starts a worker for f. NULL when it cannot (the reason is logged). */
static struct worker *worker_spawn(fn_pool *p, struct fn_func *f, char **why)
{
    *why = NULL;
    if (f->kind == RT_OTHER) {
        *why = val_asprintf("stepd does not run the runtime %s yet: it runs python3.*, provided, provided.al2 "
                         "and provided.al2023",
                         f->runtime);
        return NULL;
    }
    if (f->kind == RT_PYTHON && !p->runtime_dir) {
        *why = xstrdup("runtimes/python/bootstrap.py was not found beside the stepd executable (set "
                       "STEPD_RUNTIME_DIR to the runtimes directory)");
        return NULL;
    }
    if (!f->exe || access(f->exe, X_OK) != 0) {
        if (f->kind == RT_PROVIDED)
            *why = val_asprintf("Couldn't find valid bootstrap(s): [%s/bootstrap]", f->code_dir);
        else
            *why = val_asprintf("no Python interpreter found for %s", f->runtime);
        return NULL;
    }
    int port;
    int lfd = listen_loopback(&port);
    if (lfd < 0) {
        *why = val_asprintf("cannot listen on loopback: %s", strerror(errno));
        return NULL;
    }
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0) {
        close(lfd);
        *why = val_asprintf("pipe: %s", strerror(errno));
        return NULL;
    }
    struct strv env = {0}, argv = {0};
    build_env(p, f, port, &env);
    strv_add(&argv, xstrdup(f->exe));
    if (f->kind == RT_PYTHON)
        strv_add(&argv, val_asprintf("%s/python/bootstrap.py", p->runtime_dir));

    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
    posix_spawn_file_actions_addchdir_np(&fa, f->code_dir);
    posix_spawnattr_init(&at);
    sigset_t none, dflt;
    sigemptyset(&none);
    sigemptyset(&dflt);
    sigaddset(&dflt, SIGPIPE);
    sigaddset(&dflt, SIGTERM);
    sigaddset(&dflt, SIGINT);
    sigaddset(&dflt, SIGCHLD);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &dflt);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid;
    int rc = posix_spawn(&pid, argv.v[0], &fa, &at, argv.v, env.v);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    strv_free(&env);
    strv_free(&argv);
    close(pfd[1]);
    if (rc != 0) {
        close(lfd);
        close(pfd[0]);
        *why = val_asprintf("cannot start %s: %s", f->exe, strerror(rc));
        return NULL;
    }
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    struct worker *w = calloc(1, sizeof *w);
    if (!w)
        abort();
    w->ep_listen.kind = EP_LISTEN;
    w->ep_pipe.kind = EP_PIPE;
    w->ep_pid.kind = EP_PID;
    w->fn = f;
    w->generation = f->generation;
    w->pid = pid;
    w->pidfd = pidfd;
    w->lfd = lfd;
    w->outfd = pfd[0];
    w->port = port;
    w->state = W_STARTING;
    w->cold = 1;
    w->spawned_ns = mono_ns();
    fcntl(w->outfd, F_SETFL, O_NONBLOCK);
    ep_add(p, lfd, &w->ep_listen, EPOLLIN);
    ep_add(p, w->outfd, &w->ep_pipe, EPOLLIN);
    if (pidfd >= 0)
        ep_add(p, pidfd, &w->ep_pid, EPOLLIN);
    w->next = f->workers;
    f->workers = w;
    f->n_workers++;
    p->n_workers++;
    p->procs++;
    p->cold_starts++;
    return w;
}

/* Hands v to w, which waits in GET next on w->parked. */
static void worker_give(fn_pool *p, struct worker *w, struct inv *v)
{
    struct conn *c = w->parked;
    w->parked = NULL;
    w->state = W_BUSY;
    w->inv = v;
    w->tail_len = 0;
    v->w = w;
    struct fn_func *f = w->fn;
    int64_t now = mono_ns();
    v->deadline_ns = now + (int64_t)f->timeout_s * 1000000000LL;
    log_line(p, w, "START RequestId: %s Version: $LATEST", v->id);
    char head[1024];
    uint64_t t1 = rnd(p), t2 = rnd(p);
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     "Lambda-Runtime-Aws-Request-Id: %s\r\n"
                     "Lambda-Runtime-Deadline-Ms: %lld\r\n"
                     "Lambda-Runtime-Invoked-Function-Arn: %s\r\n"
                     "Lambda-Runtime-Trace-Id: Root=1-%08llx-%016llx%08x;Sampled=0\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     v->id, (long long)(wall_ms() + (int64_t)f->timeout_s * 1000), f->arn,
                     (unsigned long long)(time(NULL) & 0xffffffff), (unsigned long long)t1, (unsigned)t2, v->len);
    v->sent_ns = mono_ns();
    conn_send(p, c, head, (size_t)n, v->payload, v->len);
}

/* The worker is waiting in GET next (or just finished): give it work,
 * park it, or stop it if its function changed. */
static void worker_ready(fn_pool *p, struct worker *w)
{
    struct fn_func *f = w->fn;
    if (w->gone || f->deleted || w->generation != f->generation) {
        worker_retire(p, w, SIGTERM);
        return;
    }
    if (!w->parked) {
        w->state = W_READY;
        return;
    }
    struct inv *v = queue_pop(f);
    if (v) {
        worker_give(p, w, v);
        return;
    }
    w->state = W_IDLE;
    w->idle_ns = mono_ns();
}

/* Starts workers while invocations wait and the bound allows. */
static void fn_reconcile(fn_pool *p, struct fn_func *f)
{
    f->dirty = 0;
    for (struct worker *w = f->workers; w; w = w->next)
        if (w->state == W_IDLE && (f->deleted || w->generation != f->generation))
            worker_retire(p, w, SIGTERM);
    if (f->deleted) {
        struct inv *v;
        while ((v = queue_pop(f))) {
            char *m = val_asprintf("Function not found: %s", f->arn);
            inv_service_error(p, v, FN_NOT_FOUND, m);
            free(m);
        }
        return;
    }
    /* idle workers of this generation take queued work first */
    for (struct worker *w = f->workers; w && f->q_head; w = w->next)
        if (w->state == W_IDLE && w->parked)
            worker_give(p, w, queue_pop(f));
    long starting = 0;
    for (struct worker *w = f->workers; w; w = w->next)
        if (w->state == W_STARTING || w->state == W_READY)
            starting++;
    int bound = f->concurrency > 0 ? f->concurrency : p->default_conc;
    while (!p->hold && f->queued > starting && f->n_workers < bound) {
        char *why;
        struct worker *w = worker_spawn(p, f, &why);
        if (!w) {
            struct inv *v = queue_pop(f);
            char line[1200];
            int n = snprintf(line, sizeof line, "%s\n", why);
            log_write(p, f, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
            const char *type = f->kind == RT_OTHER      ? "Runtime.InvalidRuntime"
                               : f->kind == RT_PROVIDED ? "Runtime.InvalidEntrypoint"
                                                        : "Runtime.Unknown";
            inv_fail(p, v, type, why);
            free(why);
            continue;
        }
        starting++;
    }
}

static void conn_read(fn_pool *p, struct conn *c);
static void listen_accept(fn_pool *p, struct worker *w);

/* The worker's process is gone (reaped) or it broke the protocol. */
static void worker_gone(fn_pool *p, struct worker *w)
{
    struct fn_func *f = w->fn;
    w->gone = 1;
    pipe_drain(p, w);
    /* what it sent before exiting is read first: an answer already in a
     * socket buffer is an answer, not a crash */
    if (w->lfd >= 0)
        listen_accept(p, w);
    for (struct conn *c = w->conns, *nx; c; c = nx) {
        nx = c->next;
        conn_read(p, c);
    }
    char why[128];
    if (WIFSIGNALED(w->exit_status))
        snprintf(why, sizeof why, "signal: %s", WTERMSIG(w->exit_status) == SIGKILL ? "killed"
                                                  : strsignal(WTERMSIG(w->exit_status)));
    else
        snprintf(why, sizeof why, "exit status %d", WEXITSTATUS(w->exit_status));
    if (w->state == W_BUSY && w->inv) {
        struct inv *v = w->inv;
        w->inv = NULL;
        char *m = val_asprintf("RequestId: %s Error: Runtime exited with error: %s", v->id, why);
        log_line(p, w, "%s", m);
        log_line(p, w, "Runtime.ExitError");
        log_line(p, w, "END RequestId: %s", v->id);
        inv_fail(p, v, "Runtime.ExitError", m);
        v->tail = w->tail_len ? strndup(w->tail, w->tail_len) : NULL;
        free(m);
    } else if (w->state == W_STARTING && f->q_head) {
        /* it died in its init phase: the invocation that waits for it
         * gets the init error (AWS retries init on the next one) */
        struct inv *v = queue_pop(f);
        if (w->init_error) {
            json_t *d = val_parse(w->init_error, strlen(w->init_error), NULL);
            json_t *t = json_object_get(d, "errorType");
            inv_fail_doc(p, v, json_is_string(t) ? json_string_value(t) : "Runtime.Unknown", w->init_error);
            json_decref(d);
        } else {
            char *m = val_asprintf("RequestId: %s Error: Runtime exited with error: %s", v->id, why);
            inv_fail(p, v, "Runtime.ExitError", m);
            free(m);
        }
    }
    worker_retire(p, w, SIGKILL);
    if (w->pidfd >= 0) {
        epoll_ctl(p->epfd, EPOLL_CTL_DEL, w->pidfd, NULL);
        close(w->pidfd);
        w->pidfd = -1;
    }
    if (w->outfd >= 0) {
        epoll_ctl(p->epfd, EPOLL_CTL_DEL, w->outfd, NULL);
        close(w->outfd);
        w->outfd = -1;
    }
    worker_unlink_free(p, w);
    f->dirty = 1;
}

static void worker_reap(fn_pool *p, struct worker *w)
{
    if (w->reaped)
        return;
    int st;
    pid_t r = waitpid(w->pid, &st, WNOHANG);
    if (r == w->pid || (r < 0 && errno == ECHILD)) {
        w->reaped = 1;
        w->exit_status = r == w->pid ? st : 0;
        worker_gone(p, w);
    }
}

/* The invocation w holds is answered (ok: its response; else an error
 * document). */
static void inv_answered(fn_pool *p, struct worker *w, int ok, const char *body, size_t len,
                         const char *type_hdr)
{
    struct inv *v = w->inv;
    int64_t now = mono_ns();
    pipe_drain(p, w); /* what it printed before answering belongs to this invocation */
    w->inv = NULL;
    struct fn_func *f = w->fn;
    if (!w->cold) {
        struct lat_ring *r = f->kind == RT_PYTHON ? &p->lat_py : &p->lat_pr;
        r->v[r->n % LAT_RING] = now - v->sent_ns;
        r->n++;
    }
    if (ok) {
        v->status = FN_OK;
        v->out = xmalloc(len + 1);
        memcpy(v->out, body, len);
        v->out[len] = 0;
        v->out_len = len;
    } else {
        json_t *d = val_parse(body, len, NULL);
        json_t *t = json_object_get(d, "errorType");
        const char *type = json_is_string(t) ? json_string_value(t) : type_hdr && *type_hdr ? type_hdr : NULL;
        v->status = FN_FUNCTION_ERROR;
        if (d && json_is_object(d)) {
            v->out = xmalloc(len + 1);
            memcpy(v->out, body, len);
            v->out[len] = 0;
            v->out_len = len;
        } else {
            json_t *e = json_object();
            val_obj_set_take(e, "errorType", json_string(type ? type : "Unhandled"));
            val_obj_set_take(e, "errorMessage", json_stringn(body, len));
            v->out = json_dumps(e, JSON_COMPACT);
            v->out_len = strlen(v->out);
            json_decref(e);
        }
        v->error_type = xstrdup(type ? type : "Unhandled");
        json_decref(d);
    }
    double ms = (double)(now - v->sent_ns) / 1e6;
    log_line(p, w, "END RequestId: %s", v->id);
    long billed = (long)ms + 1;
    if (w->cold)
        log_line(p, w,
                 "REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %ld ms\tMemory Size: %d MB\tMax "
                 "Memory Used: %ld MB\tInit Duration: %.2f ms\t",
                 v->id, ms, billed, f->memory_mb, worker_mem(w, now), (double)w->init_ns / 1e6);
    else
        log_line(p, w,
                 "REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %ld ms\tMemory Size: %d MB\tMax "
                 "Memory Used: %ld MB\t",
                 v->id, ms, billed, f->memory_mb, worker_mem(w, now));
    if (v->flags & FN_INVOKE_TAIL)
        v->tail = strndup(w->tail ? w->tail : "", w->tail_len);
    w->cold = 0;
    inv_finish(p, v);
    w->state = W_READY;
    w->ready_ns = now;
    p->invocations++;
}

/* ------------------------------------------------------- the runtime API */

static const char *hdr_get(const char *head, size_t hlen, const char *name, size_t *vlen)
{
    size_t nl = strlen(name);
    const char *e = head + hlen;
    const char *s = memchr(head, '\n', hlen);
    while (s && s + 1 < e) {
        s++;
        if ((size_t)(e - s) > nl + 1 && strncasecmp(s, name, nl) == 0 && s[nl] == ':') {
            const char *v = s + nl + 1;
            while (v < e && (*v == ' ' || *v == '\t'))
                v++;
            const char *ve = v;
            while (ve < e && *ve != '\r' && *ve != '\n')
                ve++;
            *vlen = (size_t)(ve - v);
            return v;
        }
        s = memchr(s, '\n', (size_t)(e - s));
    }
    return NULL;
}

/* Parses a chunked body: a first pass checks that it is complete (the
 * buffer is left untouched while more bytes are needed, so a body that
 * arrives in several reads is parsed again from its start), a second moves
 * the chunks' data together in place. Returns the decoded length, -1 when
 * more bytes are needed, -2 when malformed, -3 when the data would pass
 * max; *used gets the bytes consumed (trailers included). */
static long dechunk(char *b, size_t n, size_t *used, size_t max)
{
    size_t r = 0, total = 0;
    for (int pass = 0; pass < 2; pass++) {
        r = 0;
        size_t w = 0;
        for (;;) {
            char *nl = memchr(b + r, '\n', n - r);
            if (!nl)
                return -1;
            size_t line = (size_t)(nl - (b + r)) + 1;
            size_t sz = 0, k = r;
            int digits = 0;
            for (; k < r + line; k++, digits++) {
                char ch = b[k];
                int v = ch >= '0' && ch <= '9' ? ch - '0'
                        : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                        : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                                 : -1;
                if (v < 0)
                    break;
                if (sz > (max - total) / 16 + 1) /* beyond any size we would take */
                    return -3;
                sz = sz * 16 + (size_t)v;
            }
            if (!digits)
                return -2;
            if (sz == 0) {
                /* trailers end with an empty line */
                size_t q = r + line;
                for (;;) {
                    char *l = memchr(b + q, '\n', n - q);
                    if (!l)
                        return -1;
                    size_t ll = (size_t)(l - (b + q));
                    q += ll + 1;
                    if (ll == 0 || (ll == 1 && b[q - 2] == '\r'))
                        break;
                }
                *used = q;
                if (pass == 1)
                    return (long)w;
                break;
            }
            if (sz > max - (pass ? w : total))
                return -3;
            size_t avail = n - r - line;
            if (avail < sz || avail - sz < 2)
                return -1;
            if (pass == 1)
                memmove(b + w, b + r + line, sz);
            w += sz;
            if (pass == 0)
                total += sz;
            r += line + sz + 2;
        }
    }
    return -2; /* not reached */
}

/* One complete request from a worker's connection. */
static void handle_request(fn_pool *p, struct conn *c, const char *method, const char *path, const char *head,
                           size_t hlen, const char *body, size_t blen, int too_large)
{
    struct worker *w = c->w;
    if (!w)
        return;
    static const char pre[] = "/2018-06-01/runtime/";
    if (strncmp(path, pre, sizeof pre - 1) != 0) {
        reply(p, c, 404, "Not Found", "{\"errorMessage\":\"unknown path\",\"errorType\":\"InvalidPath\"}");
        return;
    }
    const char *rest = path + sizeof pre - 1;
    if (strcmp(method, "GET") == 0 && strcmp(rest, "invocation/next") == 0) {
        if (w->state == W_BUSY && w->inv) {
            /* asked for more without answering: the runtime is broken */
            struct inv *v = w->inv;
            w->inv = NULL;
            char *m = val_asprintf("RequestId: %s Error: the runtime asked for the next invocation without "
                                "answering this one",
                                v->id);
            inv_fail(p, v, "Runtime.ExitError", m);
            free(m);
            w->state = W_READY;
        }
        if (w->state == W_STARTING) {
            w->init_ns = mono_ns() - w->spawned_ns;
            w->state = W_READY;
        }
        if (w->parked && w->parked != c)
            conn_close(p, w->parked);
        w->parked = c;
        if (w->state == W_READY || w->state == W_IDLE)
            worker_ready(p, w);
        return;
    }
    if (strcmp(method, "POST") == 0 && strcmp(rest, "init/error") == 0) {
        free(w->init_error);
        w->init_error = strndup(body, blen);
        reply(p, c, 202, "Accepted", "{\"status\":\"OK\"}");
        return;
    }
    if (strcmp(method, "POST") == 0 && strncmp(rest, "invocation/", 11) == 0) {
        const char *id = rest + 11;
        const char *slash = strchr(id, '/');
        if (!slash || w->state != W_BUSY || !w->inv || (size_t)(slash - id) != strlen(w->inv->id) ||
            strncmp(id, w->inv->id, (size_t)(slash - id)) != 0) {
            reply(p, c, 400, "Bad Request",
                  "{\"errorMessage\":\"Invalid request ID\",\"errorType\":\"InvalidRequestID\"}");
            return;
        }
        const char *what = slash + 1;
        if (strcmp(what, "response") == 0) {
            if (too_large) {
                c->close_after = 1;
                reply(p, c, 413, "Request Entity Too Large",
                      "{\"errorMessage\":\"Exceeded maximum allowed payload size (6291556 bytes).\","
                      "\"errorType\":\"RequestEntityTooLarge\"}");
                char doc[256];
                snprintf(doc, sizeof doc,
                         "{\"errorMessage\":\"Response payload size exceeded maximum allowed payload size "
                         "(6291556 bytes).\",\"errorType\":\"Function.ResponseSizeTooLarge\"}");
                inv_answered(p, w, 0, doc, strlen(doc), NULL);
                return;
            }
            reply(p, c, 202, "Accepted", "{\"status\":\"OK\"}");
            inv_answered(p, w, 1, body, blen, NULL);
            return;
        }
        if (strcmp(what, "error") == 0) {
            size_t tl = 0;
            const char *t = hdr_get(head, hlen, "Lambda-Runtime-Function-Error-Type", &tl);
            char type[256] = "";
            if (t)
                snprintf(type, sizeof type, "%.*s", (int)(tl < 255 ? tl : 255), t);
            reply(p, c, 202, "Accepted", "{\"status\":\"OK\"}");
            inv_answered(p, w, 0, too_large ? "{}" : body, too_large ? 2 : blen, type);
            return;
        }
    }
    reply(p, c, 404, "Not Found", "{\"errorMessage\":\"unknown path\",\"errorType\":\"InvalidPath\"}");
}

/* Parses as many complete requests as c holds. */
static void conn_process(fn_pool *p, struct conn *c)
{
    while (!c->dead && c->in_len) {
        char *he = memmem(c->in, c->in_len, "\r\n\r\n", 4);
        if (!he) {
            if (c->in_len > MAX_HEADER)
                conn_close(p, c);
            return;
        }
        size_t hlen = (size_t)(he - c->in) + 4;
        char method[8] = "", path[512] = "";
        const char *sp = memchr(c->in, ' ', hlen);
        const char *sp2 = sp ? memchr(sp + 1, ' ', hlen - (size_t)(sp + 1 - c->in)) : NULL;
        if (!sp || !sp2 || sp - c->in >= (long)sizeof method || sp2 - sp - 1 >= (long)sizeof path) {
            conn_close(p, c);
            return;
        }
        memcpy(method, c->in, (size_t)(sp - c->in));
        memcpy(path, sp + 1, (size_t)(sp2 - sp - 1));
        char *q = strchr(path, '?');
        if (q)
            *q = 0;
        size_t vl;
        const char *te = hdr_get(c->in, hlen, "Transfer-Encoding", &vl);
        const char *cl = hdr_get(c->in, hlen, "Content-Length", &vl);
        const char *conn_hdr = hdr_get(c->in, hlen, "Connection", &vl);
        if (conn_hdr && vl >= 5 && strncasecmp(conn_hdr, "close", 5) == 0)
            c->close_after = 1;
        char *body = c->in + hlen;
        size_t avail = c->in_len - hlen, blen = 0, used = 0;
        int too_large = 0;
        if (te && strncasecmp(te, "chunked", 7) == 0) {
            long r = dechunk(body, avail, &used, FN_MAX_PAYLOAD);
            if (r == -1)
                return; /* more to read */
            if (r == -2) {
                conn_close(p, c);
                return;
            }
            if (r == -3) {
                too_large = 1;
                used = avail;
                c->close_after = 1;
            } else {
                blen = (size_t)r;
            }
        } else if (cl) {
            unsigned long long n = strtoull(cl, NULL, 10);
            if (n > FN_MAX_PAYLOAD) {
                too_large = 1;
                c->close_after = 1;
                used = avail;
            } else {
                if (avail < n)
                    return;
                blen = used = (size_t)n;
            }
        }
        char save = 0;
        if (!too_large) {
            save = body[blen];
            body[blen] = 0;
        }
        handle_request(p, c, method, path, c->in, hlen, body, blen, too_large);
        if (c->dead)
            return;
        if (!too_large)
            body[blen] = save;
        size_t consumed = hlen + used;
        memmove(c->in, c->in + consumed, c->in_len - consumed);
        c->in_len -= consumed;
        if (too_large)
            return;
    }
}

static void conn_read(fn_pool *p, struct conn *c)
{
    if (c->dead)
        return;
    for (;;) {
        if (c->in_cap - c->in_len < 16384) {
            size_t cap = c->in_cap ? c->in_cap * 2 : 32768;
            if (cap > (size_t)FN_MAX_PAYLOAD * 2 + MAX_HEADER) {
                if (c->close_after) { /* a too-large body being discarded */
                    c->in_len = 0;
                } else {
                    conn_close(p, c);
                    return;
                }
            } else {
                char *n = realloc(c->in, cap + 1);
                if (!n)
                    abort();
                c->in = n;
                c->in_cap = cap;
            }
        }
        ssize_t r = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (r <= 0) {
            /* a request complete before the close still counts (a worker
             * that answers and exits, or half-closes) */
            conn_process(p, c);
            conn_close(p, c);
            return;
        }
        c->in_len += (size_t)r;
        if ((size_t)r < 16384)
            break;
    }
    conn_process(p, c);
}

static void listen_accept(fn_pool *p, struct worker *w)
{
    for (;;) {
        int fd = accept4(w->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        int n = 0;
        for (struct conn *k = w->conns; k; k = k->next)
            n++;
        if (n >= MAX_CONNS) { /* a runtime needs one or two */
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct conn *c = calloc(1, sizeof *c);
        if (!c)
            abort();
        c->ep.kind = EP_CONN;
        c->fd = fd;
        c->w = w;
        c->next = w->conns;
        w->conns = c;
        ep_add(p, fd, &c->ep, EPOLLIN);
    }
}

/* --------------------------------------------------------------- the loop */

static void route(fn_pool *p, struct inv *v)
{
    struct fn_func *f = resolve(p, v->name);
    v->fn = f;
    if (!f) {
        char *arn = fn_arn(p, v->name);
        char *m = val_asprintf("Function not found: %s", arn);
        free(arn);
        inv_service_error(p, v, FN_NOT_FOUND, m);
        free(m);
        return;
    }
    v->arn = xstrdup(f->arn);
    if (p->stopping) {
        inv_service_error(p, v, FN_SERVICE_ERROR, "stepd is stopping");
        return;
    }
    /* a warm worker waiting in GET next takes it at once */
    if (!f->q_head)
        for (struct worker *w = f->workers; w; w = w->next)
            if (w->state == W_IDLE && w->parked && w->generation == f->generation) {
                worker_give(p, w, v);
                return;
            }
    queue_push(f, v);
    f->dirty = 1;
}

static void periodic(fn_pool *p, int64_t now)
{
    for (struct fn_func *f = p->funcs; f; f = f->next) {
        for (struct worker *w = f->workers, *nx; w; w = nx) {
            nx = w->next;
            if (w->state == W_BUSY && w->inv && now >= w->inv->deadline_ns) {
                struct inv *v = w->inv;
                w->inv = NULL;
                pipe_drain(p, w);
                char *m = val_asprintf("RequestId: %s Error: Task timed out after %d.00 seconds", v->id,
                                    f->timeout_s);
                log_line(p, w, "%s", m);
                log_line(p, w, "END RequestId: %s", v->id);
                log_line(p, w, "REPORT RequestId: %s\tDuration: %d000.00 ms\tBilled Duration: %d000 ms\tMemory "
                               "Size: %d MB\tMax Memory Used: %ld MB\tStatus: timeout",
                         v->id, f->timeout_s, f->timeout_s, f->memory_mb, max_mem_mb(w->pid));
                inv_fail(p, v, "Sandbox.Timedout", m);
                v->tail = w->tail_len ? strndup(w->tail, w->tail_len) : NULL;
                free(m);
                worker_retire(p, w, SIGKILL);
                f->dirty = 1;
            } else if (w->state == W_STARTING && now - w->spawned_ns > INIT_LIMIT_NS && !w->kill_sent) {
                char line[200];
                int n = snprintf(line, sizeof line, "INIT_REPORT Init Duration: 10000.00 ms\tPhase: init\tStatus: timeout\n");
                log_write(p, f, line, (size_t)n);
                worker_kill(p, w, SIGKILL);
            } else if (w->state == W_READY && !w->parked &&
                       now - w->ready_ns > (int64_t)f->timeout_s * 1000000000LL) {
                /* it answered but never asked for more: it holds a slot of
                 * the function's concurrency for nothing */
                log_line(p, w, "stepd: the worker answered but did not ask for the next invocation within %d s: stopped",
                         f->timeout_s);
                worker_retire(p, w, SIGKILL);
                f->dirty = 1;
            } else if (w->state == W_IDLE && now - w->idle_ns > (int64_t)p->idle_s * 1000000000LL) {
                worker_retire(p, w, SIGTERM);
            }
            if (w->kill_sent == SIGTERM && !w->reaped && now >= w->kill_at)
                worker_kill(p, w, SIGKILL);
            if (w->pidfd < 0 && !w->reaped)
                worker_reap(p, w); /* no pidfd: polled */
        }
        if (f->dirty)
            fn_reconcile(p, f);
    }
}

static void free_grave(fn_pool *p)
{
    while (p->grave_c) {
        struct conn *c = p->grave_c;
        p->grave_c = c->next;
        free(c->in);
        free(c->out);
        free(c);
    }
    while (p->grave_w) {
        struct worker *w = p->grave_w;
        p->grave_w = w->next;
        free(w->init_error);
        free(w->tail);
        free(w);
    }
}

static void deliver(fn_pool *p, struct inv *list)
{
    (void)p;
    while (list) {
        struct inv *v = list;
        list = v->next;
        if (v->done) {
            struct fn_result r = {.status = v->status,
                                  .payload = v->out ? v->out : "",
                                  .len = v->out_len,
                                  .error_type = v->error_type,
                                  .message = v->message,
                                  .log_tail = (v->flags & FN_INVOKE_TAIL) ? (v->tail ? v->tail : "") : NULL,
                                  .request_id = v->id,
                                  .function_arn = v->arn};
            v->done(v->ud, &r);
        }
        inv_free(v);
    }
}

static void *loop(void *arg)
{
    fn_pool *p = arg;
    struct epoll_event evs[64];
    pthread_mutex_lock(&p->mu);
    for (;;) {
        int timeout = p->procs ? 10 : (p->new_head || p->done_head ? 0 : 1000);
        if (p->stopping && !p->procs)
            break;
        pthread_mutex_unlock(&p->mu);
        int n = epoll_wait(p->epfd, evs, 64, timeout);
        pthread_mutex_lock(&p->mu);
        for (int i = 0; i < n; i++) {
            struct ep *e = evs[i].data.ptr;
            switch (e->kind) {
            case EP_WAKE: {
                uint64_t v;
                ssize_t r = read(p->wakefd, &v, sizeof v);
                (void)r;
                break;
            }
            case EP_LISTEN: {
                struct worker *w = (struct worker *)((char *)e - offsetof(struct worker, ep_listen));
                if (w->lfd >= 0)
                    listen_accept(p, w);
                break;
            }
            case EP_CONN: {
                struct conn *c = (struct conn *)e;
                if (c->dead)
                    break;
                if (evs[i].events & EPOLLOUT)
                    conn_flush(p, c);
                if (!c->dead && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                    conn_read(p, c);
                break;
            }
            case EP_PIPE: {
                struct worker *w = (struct worker *)((char *)e - offsetof(struct worker, ep_pipe));
                pipe_drain(p, w);
                break;
            }
            case EP_PID: {
                struct worker *w = (struct worker *)((char *)e - offsetof(struct worker, ep_pid));
                worker_reap(p, w);
                break;
            }
            }
        }
        while (p->new_head) {
            struct inv *v = p->new_head;
            p->new_head = v->next;
            if (!p->new_head)
                p->new_tail = NULL;
            route(p, v);
        }
        int64_t now = mono_ns();
        int dirty = 0;
        for (struct fn_func *f = p->funcs; f; f = f->next)
            dirty |= f->dirty;
        if (dirty || now >= p->next_check) {
            periodic(p, now);
            if (now >= p->next_check)
                p->next_check = now + CHECK_EVERY_NS;
        }
        free_grave(p);
        struct inv *done = p->done_head;
        p->done_head = p->done_tail = NULL;
        if (done) {
            pthread_mutex_unlock(&p->mu);
            deliver(p, done);
            pthread_mutex_lock(&p->mu);
        }
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* ------------------------------------------------------------- registry */

static int is_python(const char *rt) { return strncmp(rt, "python3", 7) == 0; }
static int is_provided(const char *rt) { return strncmp(rt, "provided", 8) == 0; }

/* The interpreter for a python3.x runtime: python3.x when it runs here,
 * else python3 (a developer seldom has the exact version; AWS's pain
 * point is refusing to build then). Resolved once per runtime, through
 * the interpreter itself so that a pyenv shim becomes the real binary. */
static char *python_for(fn_pool *p, const char *runtime)
{
    json_t *c = json_object_get(p->py_cache, runtime);
    if (c)
        return xstrdup(json_string_value(c));
    const char *cands[2] = {runtime, "python3"};
    char *found = NULL;
    for (int i = 0; i < 2 && !found; i++) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "%s -c 'import sys; print(sys.executable)' 2>/dev/null", cands[i]);
        if (strchr(cands[i], '\'') || strchr(cands[i], ' '))
            continue;
        FILE *f = popen(cmd, "re");
        if (!f)
            continue;
        char line[PATH_MAX];
        if (fgets(line, sizeof line, f)) {
            line[strcspn(line, "\n")] = 0;
            if (line[0] == '/')
                found = xstrdup(line);
        }
        if (pclose(f) != 0) {
            free(found);
            found = NULL;
        }
        if (found && i == 1)
            notice(p, "%s is not installed here; functions of that runtime run with %s", runtime, found);
    }
    if (found)
        val_obj_set_take(p->py_cache, runtime, json_string(found));
    return found;
}

static void fn_func_free(struct fn_func *f)
{
    free(f->name);
    free(f->arn);
    free(f->code_dir);
    free(f->handler);
    free(f->runtime);
    free(f->last_modified);
    free(f->sha);
    free(f->exe);
    free(f->log_path);
    json_decref(f->env);
    if (f->log_fd >= 0)
        close(f->log_fd);
    free(f);
}

static int same_config(const struct fn_func *f, const struct fn_config *c, json_t *env)
{
    return strcmp(f->code_dir, c->code_dir) == 0 && strcmp(f->handler, c->handler) == 0 &&
           strcmp(f->runtime, c->runtime) == 0 && f->timeout_s == (c->timeout_s ? c->timeout_s : 3) &&
           f->memory_mb == (c->memory_mb ? c->memory_mb : 128) && f->concurrency == c->concurrency &&
           json_equal(f->env, env);
}

static void iso_now(char out[40])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 40 - n, ".%03ld+0000", ts.tv_nsec / 1000000);
}

/* A fingerprint of the code directory: every file's path, size and
 * modification time (compiled Python caches and dot-files left out: the
 * interpreter writes the first, and a store under .stepd/ may be in the
 * directory). A changed file changes it, so a redeploy after an edit
 * restarts the workers. Order-independent; at most 20,000 entries and 32
 * levels are looked at. */
static void code_walk(const char *dir, size_t root_len, int depth, uint64_t *h, long *budget)
{
    if (depth > 32 || *budget <= 0)
        return;
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) && --*budget > 0) {
        const char *n = e->d_name;
        if (n[0] == '.' || strcmp(n, "__pycache__") == 0) /* .stepd/, .git/, .aws-sam/ too */
            continue;
        size_t nl = strlen(n);
        if (nl > 4 && strcmp(n + nl - 4, ".pyc") == 0)
            continue;
        char *path = val_asprintf("%s/%s", dir, n);
        struct stat sb;
        if (lstat(path, &sb) == 0) {
            if (S_ISDIR(sb.st_mode)) {
                code_walk(path, root_len, depth + 1, h, budget);
            } else {
                /* FNV-1a over the relative path, size and mtime; summed */
                uint64_t x = 1469598103934665603ULL;
                for (const char *q = path + root_len; *q; q++)
                    x = (x ^ (unsigned char)*q) * 1099511628211ULL;
                int64_t vals[3] = {(int64_t)sb.st_size, (int64_t)sb.st_mtim.tv_sec, (int64_t)sb.st_mtim.tv_nsec};
                for (int i = 0; i < 3; i++)
                    for (int b = 0; b < 8; b++)
                        x = (x ^ (unsigned char)(vals[i] >> (8 * b))) * 1099511628211ULL;
                *h += x;
            }
        }
        free(path);
    }
    closedir(d);
}

static char *code_fingerprint(const char *dir)
{
    uint64_t h = 0;
    long budget = 20000;
    code_walk(dir, strlen(dir), 0, &h, &budget);
    return val_asprintf("%016llx", (unsigned long long)h);
}

int fn_check(const struct fn_config *c, val_err *err)
{
    if (!c->name || !*c->name || strlen(c->name) > 140 || strchr(c->name, '/') || strchr(c->name, ':')) {
        val_err_set(err, VAL_ERR_VALIDATION, "InvalidParameterValueException",
                    "a function name is 1 to 140 letters, digits, hyphens and underscores, not '%s'",
                    c->name ? c->name : "");
        return -1;
    }
    if (!c->code_dir || c->code_dir[0] != '/') {
        val_err_set(err, VAL_ERR_VALIDATION, "InvalidParameterValueException",
                    "function %s: the code directory must be an absolute path", c->name);
        return -1;
    }
    struct stat sb;
    if (stat(c->code_dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        val_err_set(err, VAL_ERR_VALIDATION, "InvalidParameterValueException",
                    "function %s: the code directory %s does not exist", c->name, c->code_dir);
        return -1;
    }
    if (!c->runtime || !*c->runtime) {
        val_err_set(err, VAL_ERR_VALIDATION, "InvalidParameterValueException", "function %s has no Runtime",
                    c->name);
        return -1;
    }
    if (is_python(c->runtime) && (!c->handler || !*c->handler)) {
        val_err_set(err, VAL_ERR_VALIDATION, "InvalidParameterValueException", "function %s has no Handler",
                    c->name);
        return -1;
    }
    return 0;
}

int fn_put(fn_pool *p, const struct fn_config *c, val_err *err)
{
    if (fn_check(c, err) < 0)
        return -1;
    char *sha = code_fingerprint(c->code_dir);
    json_t *env = c->environment ? json_deep_copy(c->environment) : json_object();
    char *exe = NULL;
    int kind = is_python(c->runtime) ? RT_PYTHON : is_provided(c->runtime) ? RT_PROVIDED : RT_OTHER;
    if (kind == RT_PROVIDED)
        exe = val_asprintf("%s/bootstrap", c->code_dir);
    else if (kind == RT_PYTHON) {
        pthread_mutex_lock(&p->mu);
        json_t *cached = json_object_get(p->py_cache, c->runtime);
        exe = cached ? xstrdup(json_string_value(cached)) : NULL;
        pthread_mutex_unlock(&p->mu);
        if (!exe) {
            exe = python_for(p, c->runtime); /* runs an interpreter: not under the lock */
            if (exe) {
                pthread_mutex_lock(&p->mu);
                val_obj_set_take(p->py_cache, c->runtime, json_string(exe));
                pthread_mutex_unlock(&p->mu);
            }
        }
    }
    pthread_mutex_lock(&p->mu);
    struct fn_func *f = find(p, c->name);
    int changed = 1;
    if (f && same_config(f, c, env) && strcmp(f->sha ? f->sha : "", sha) == 0) {
        changed = 0;
        json_decref(env);
        free(exe);
        free(sha);
    } else {
        int fresh = !f;
        if (fresh) {
            f = calloc(1, sizeof *f);
            if (!f)
                abort();
            f->name = xstrdup(c->name);
            f->arn = val_asprintf("arn:aws:lambda:%s:%s:function:%s", p->region, p->account, c->name);
            f->log_fd = -1;
            if (p->log_dir) {
                mkdir(p->log_dir, 0755);
                f->log_path = val_asprintf("%s/%s.log", p->log_dir, c->name);
                f->log_fd = open(f->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
            }
        } else {
            free(f->code_dir);
            free(f->handler);
            free(f->runtime);
            free(f->exe);
            free(f->last_modified);
            json_decref(f->env);
        }
        f->code_dir = xstrdup(c->code_dir);
        f->handler = xstrdup(c->handler ? c->handler : "");
        f->runtime = xstrdup(c->runtime);
        f->timeout_s = c->timeout_s > 0 ? c->timeout_s : 3;
        f->memory_mb = c->memory_mb > 0 ? c->memory_mb : 128;
        f->concurrency = c->concurrency > 0 ? c->concurrency : 0;
        f->env = env;
        f->kind = kind;
        f->exe = exe;
        free(f->sha);
        f->sha = sha;
        char iso[40];
        iso_now(iso);
        f->last_modified = xstrdup(iso);
        f->generation++;
        f->dirty = 1;
        if (fresh) {
            f->next = p->funcs;
            p->funcs = f;
        }
    }
    pthread_mutex_unlock(&p->mu);
    if (changed)
        wake(p);
    return changed;
}

void fn_set_endpoint(fn_pool *p, const char *url)
{
    pthread_mutex_lock(&p->mu);
    free(p->endpoint_url);
    p->endpoint_url = url ? xstrdup(url) : NULL;
    p->hold = 0;
    for (struct fn_func *f = p->funcs; f; f = f->next)
        f->dirty = 1;
    pthread_mutex_unlock(&p->mu);
    wake(p);
}

int fn_delete(fn_pool *p, const char *name)
{
    pthread_mutex_lock(&p->mu);
    struct fn_func *f = resolve(p, name);
    if (f) {
        f->deleted = 1;
        f->dirty = 1;
    }
    pthread_mutex_unlock(&p->mu);
    wake(p);
    return f ? 0 : -1;
}

int fn_exists(fn_pool *p, const char *name)
{
    pthread_mutex_lock(&p->mu);
    int r = resolve(p, name) != NULL;
    pthread_mutex_unlock(&p->mu);
    return r;
}

static json_t *describe(fn_pool *p, const struct fn_func *f)
{
    json_t *o = json_object();
    val_obj_set_take(o, "FunctionName", json_string(f->name));
    val_obj_set_take(o, "FunctionArn", json_string(f->arn));
    val_obj_set_take(o, "Runtime", json_string(f->runtime));
    char *role = val_asprintf("arn:aws:iam::%s:role/%s-role", p->account, f->name);
    val_obj_set_take(o, "Role", json_string(role));
    free(role);
    val_obj_set_take(o, "Handler", json_string(f->handler));
    val_obj_set_take(o, "CodeSize", json_integer(0));
    val_obj_set_take(o, "Description", json_string(""));
    val_obj_set_take(o, "Timeout", json_integer(f->timeout_s));
    val_obj_set_take(o, "MemorySize", json_integer(f->memory_mb));
    val_obj_set_take(o, "LastModified", json_string(f->last_modified));
    val_obj_set_take(o, "CodeSha256", json_string(f->sha ? f->sha : ""));
    val_obj_set_take(o, "Version", json_string("$LATEST"));
    json_t *env = json_object();
    val_obj_set_take(env, "Variables", json_incref(f->env));
    val_obj_set_take(o, "Environment", env);
    val_obj_set_take(o, "State", json_string("Active"));
    val_obj_set_take(o, "LastUpdateStatus", json_string("Successful"));
    val_obj_set_take(o, "PackageType", json_string("Zip"));
    json_t *arch = json_array();
    val_arr_append_take(arch, json_string("x86_64"));
    val_obj_set_take(o, "Architectures", arch);
    json_t *eph = json_object();
    val_obj_set_take(eph, "Size", json_integer(512));
    val_obj_set_take(o, "EphemeralStorage", eph);
    return o;
}

json_t *fn_describe(fn_pool *p, const char *name)
{
    pthread_mutex_lock(&p->mu);
    struct fn_func *f = resolve(p, name);
    json_t *o = f ? describe(p, f) : NULL;
    if (o) {
        val_obj_set_take(o, "_CodeDir", json_string(f->code_dir));
        if (f->concurrency)
            val_obj_set_take(o, "_ReservedConcurrentExecutions", json_integer(f->concurrency));
    }
    pthread_mutex_unlock(&p->mu);
    return o;
}

static int by_name(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    return strcmp(json_string_value(json_object_get(x, "FunctionName")),
                  json_string_value(json_object_get(y, "FunctionName")));
}

json_t *fn_list(fn_pool *p)
{
    pthread_mutex_lock(&p->mu);
    size_t n = 0;
    for (struct fn_func *f = p->funcs; f; f = f->next)
        n += !f->deleted;
    json_t **v = xmalloc(n * sizeof *v);
    size_t i = 0;
    for (struct fn_func *f = p->funcs; f; f = f->next)
        if (!f->deleted)
            v[i++] = describe(p, f);
    pthread_mutex_unlock(&p->mu);
    qsort(v, n, sizeof *v, by_name);
    json_t *a = json_array();
    for (i = 0; i < n; i++)
        val_arr_append_take(a, v[i]);
    free(v);
    return a;
}

char *fn_log_path(fn_pool *p, const char *name)
{
    pthread_mutex_lock(&p->mu);
    struct fn_func *f = resolve(p, name);
    char *path = f && f->log_path ? xstrdup(f->log_path) : NULL;
    pthread_mutex_unlock(&p->mu);
    return path;
}

int fn_invoke(fn_pool *p, const char *name, const char *payload, size_t len, int flags, fn_done_fn done,
              void *ud)
{
    struct inv *v = calloc(1, sizeof *v);
    if (!v)
        abort();
    v->name = xstrdup(name);
    if (!payload || !len) {
        payload = "{}";
        len = 2;
    }
    v->payload = xmalloc(len + 1);
    memcpy(v->payload, payload, len);
    v->payload[len] = 0;
    v->len = len;
    v->flags = flags;
    v->done = done;
    v->ud = ud;
    pthread_mutex_lock(&p->mu);
    if (p->stopped) {
        pthread_mutex_unlock(&p->mu);
        inv_free(v);
        return -1;
    }
    uuid(p, v->id);
    /* the warm path: a worker waits in GET next, the event goes now */
    struct fn_func *f = p->stopping ? NULL : resolve(p, name);
    if (f && !f->q_head) {
        for (struct worker *w = f->workers; w; w = w->next)
            if (w->state == W_IDLE && w->parked && w->generation == f->generation) {
                v->fn = f;
                v->arn = xstrdup(f->arn);
                worker_give(p, w, v);
                pthread_mutex_unlock(&p->mu);
                return 0;
            }
    }
    v->next = NULL;
    if (p->new_tail)
        p->new_tail->next = v;
    else
        p->new_head = v;
    p->new_tail = v;
    pthread_mutex_unlock(&p->mu);
    wake(p);
    return 0;
}

/* ---------------------------------------------------------------- stats */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void lat_get(struct lat_ring *r, struct fn_lat *out, int reset)
{
    long n = r->n < LAT_RING ? r->n : LAT_RING;
    memset(out, 0, sizeof *out);
    out->n = r->n;
    if (n) {
        int64_t *v = xmalloc((size_t)n * sizeof *v);
        memcpy(v, r->v, (size_t)n * sizeof *v);
        qsort(v, (size_t)n, sizeof *v, cmp_i64);
        out->p50 = v[n / 2];
        out->p90 = v[n * 9 / 10];
        out->p99 = v[n * 99 / 100];
        out->max = v[n - 1];
        free(v);
    }
    if (reset)
        r->n = 0;
}

void fn_stats_get(fn_pool *p, struct fn_stats *out, int reset)
{
    pthread_mutex_lock(&p->mu);
    lat_get(&p->lat_py, &out->python, reset);
    lat_get(&p->lat_pr, &out->provided, reset);
    out->invocations = p->invocations;
    out->cold_starts = p->cold_starts;
    out->workers = p->n_workers;
    if (reset)
        p->invocations = p->cold_starts = 0;
    pthread_mutex_unlock(&p->mu);
}

/* ------------------------------------------------------------ lifecycle */

/* runtimes/ beside the executable: build/stepd (and build/asan/stepd)
 * in a checkout, or an installed lib/stepd/runtimes. */
static char *find_runtime_dir(void)
{
    const char *env = getenv("STEPD_RUNTIME_DIR");
    if (env && *env)
        return xstrdup(env);
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return NULL;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = 0;
    static const char *rel[] = {"/../runtimes", "/../../runtimes", "/../lib/stepd/runtimes",
                                "/../share/stepd/runtimes", NULL};
    for (int i = 0; rel[i]; i++) {
        char path[PATH_MAX + 64];
        snprintf(path, sizeof path, "%s%s/python/bootstrap.py", exe, rel[i]);
        if (access(path, R_OK) == 0) {
            char dir[PATH_MAX + 64];
            snprintf(dir, sizeof dir, "%s%s", exe, rel[i]);
            char *real = realpath(dir, NULL);
            return real ? real : xstrdup(dir);
        }
    }
    return NULL;
}

/* What fn_new allocates, released (its thread is not running). */
static void pool_release(fn_pool *p)
{
    if (p->epfd >= 0)
        close(p->epfd);
    if (p->wakefd >= 0)
        close(p->wakefd);
    json_decref(p->py_cache);
    free(p->region);
    free(p->account);
    free(p->endpoint_url);
    free(p->runtime_dir);
    free(p->log_dir);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

fn_pool *fn_new(const struct fn_opts *o, val_err *err)
{
    fn_pool *p = calloc(1, sizeof *p);
    if (!p)
        abort();
    p->region = xstrdup(o && o->region ? o->region : "us-east-1");
    p->account = xstrdup(o && o->account ? o->account : "123456789012");
    p->endpoint_url = o && o->endpoint_url ? xstrdup(o->endpoint_url) : NULL;
    p->runtime_dir = o && o->runtime_dir ? xstrdup(o->runtime_dir) : find_runtime_dir();
    p->log_dir = o && o->log_dir ? xstrdup(o->log_dir) : NULL;
    p->echo_fd = o && o->echo_fd > 0 ? o->echo_fd : -1;
    p->idle_s = o && o->idle_s > 0 ? o->idle_s : 300;
    p->default_conc = o && o->default_concurrency > 0 ? o->default_concurrency : 8;
    p->quiet = o ? o->quiet : 0;
    p->hold = o ? o->hold : 0;
    p->py_cache = json_object();
    p->ep_wake.kind = EP_WAKE;
    pthread_mutex_init(&p->mu, NULL);
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof seed, 0) != sizeof seed)
        seed = (uint64_t)mono_ns();
    p->rng = seed | 1;
    p->epfd = epoll_create1(EPOLL_CLOEXEC);
    p->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->epfd < 0 || p->wakefd < 0) {
        val_err_set(err, VAL_ERR_IO, "ServiceException", "cannot start the function pool: %s", strerror(errno));
        goto fail;
    }
    ep_add(p, p->wakefd, &p->ep_wake, EPOLLIN);
    if (!p->runtime_dir && !p->quiet)
        notice(p, "runtimes/python/bootstrap.py not found beside the executable (set STEPD_RUNTIME_DIR): "
                  "Python functions cannot start");
    int rc = pthread_create(&p->thread, NULL, loop, p);
    if (rc != 0) {
        val_err_set(err, VAL_ERR_IO, "ServiceException", "cannot start the function pool: %s", strerror(rc));
        goto fail;
    }
    return p;
fail:
    pool_release(p);
    return NULL;
}

void fn_stop(fn_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    if (p->stopped) {
        pthread_mutex_unlock(&p->mu);
        return;
    }
    p->stopping = 1;
    for (struct fn_func *f = p->funcs; f; f = f->next) {
        struct inv *v;
        while ((v = queue_pop(f)))
            inv_service_error(p, v, FN_SERVICE_ERROR, "stepd is stopping");
        for (struct worker *w = f->workers; w; w = w->next) {
            if (w->state == W_BUSY && w->inv) {
                inv_service_error(p, w->inv, FN_SERVICE_ERROR, "stepd is stopping");
                w->inv = NULL;
            }
            worker_retire(p, w, SIGTERM);
        }
    }
    while (p->new_head) {
        struct inv *v = p->new_head;
        p->new_head = v->next;
        inv_service_error(p, v, FN_SERVICE_ERROR, "stepd is stopping");
    }
    p->new_tail = NULL;
    pthread_mutex_unlock(&p->mu);
    wake(p);
    pthread_join(p->thread, NULL);
    /* the loop ended with every worker reaped; deliver what is left */
    pthread_mutex_lock(&p->mu);
    p->stopped = 1;
    while (p->new_head) { /* queued while the loop was ending */
        struct inv *v = p->new_head;
        p->new_head = v->next;
        inv_service_error(p, v, FN_SERVICE_ERROR, "stepd is stopping");
    }
    p->new_tail = NULL;
    struct inv *done = p->done_head;
    p->done_head = p->done_tail = NULL;
    free_grave(p);
    pthread_mutex_unlock(&p->mu);
    deliver(p, done);
}

void fn_free(fn_pool *p)
{
    if (!p)
        return;
    fn_stop(p);
    while (p->funcs) {
        struct fn_func *f = p->funcs;
        p->funcs = f->next;
        fn_func_free(f);
    }
    pool_release(p);
}
