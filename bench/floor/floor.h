/* floor.h — what the floor responder and the bare floor client share: a
 * monotonic clock, opening `host:port` or `unix:/path`, and reading one
 * HTTP/1.1 message delimited by Content-Length. Deliberately minimal: the
 * floor is what any Runtime API exchange costs, so nothing here may cost
 * more than a real client would. Header-only, everything static. */
#ifndef STEPD_BENCH_FLOOR_H
#define STEPD_BENCH_FLOOR_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* memmem, accept4 */
#endif

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define FLOOR_BUF (64 * 1024)

static inline int64_t floor_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Fills `sa` from "host:port" (IPv4 literal) or "unix:/path"; returns its
 * length, or 0 when `addr` is malformed. */
static inline socklen_t floor_addr(const char *addr, struct sockaddr_storage *sa)
{
    memset(sa, 0, sizeof *sa);
    if (strncmp(addr, "unix:", 5) == 0) {
        struct sockaddr_un *un = (struct sockaddr_un *)sa;
        size_t n = strlen(addr + 5);
        if (n == 0 || n >= sizeof un->sun_path)
            return 0;
        un->sun_family = AF_UNIX;
        memcpy(un->sun_path, addr + 5, n + 1);
        return (socklen_t)sizeof *un;
    }
    struct sockaddr_in *in = (struct sockaddr_in *)sa;
    char host[64];
    const char *colon = strrchr(addr, ':');
    if (!colon || (size_t)(colon - addr) >= sizeof host)
        return 0;
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    in->sin_family = AF_INET;
    in->sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, strcmp(host, "localhost") ? host : "127.0.0.1", &in->sin_addr) != 1)
        return 0;
    return (socklen_t)sizeof *in;
}

static inline void floor_nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* One connection's receive side: buf[0, len) holds what has been read. */
typedef struct floor_conn {
    int fd;
    size_t len;
    char buf[FLOOR_BUF];
} floor_conn;

/* The value of header `name` in the header block buf[0, hend), or NULL;
 * *vlen gets its length. */
static inline const char *floor_header(const char *buf, size_t hend, const char *name, size_t *vlen)
{
    size_t n = strlen(name);
    const char *p = memchr(buf, '\n', hend), *end = buf + hend;
    while (p && ++p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            break;
        if ((size_t)(eol - p) > n && p[n] == ':' && strncasecmp(p, name, n) == 0) {
            const char *v = p + n + 1;
            while (*v == ' ')
                v++;
            const char *ve = eol;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' '))
                ve--;
            *vlen = (size_t)(ve - v);
            return v;
        }
        p = eol;
    }
    return NULL;
}

/* Reads one complete message (headers, then Content-Length bytes of body)
 * into c->buf, blocking. Returns its total length and sets *hend to the
 * end of its headers; 0 on EOF before a message, -1 on error. *t_ns, when
 * not NULL, gets the time the read completing the message returned. The
 * caller drops the message with floor_consume() once done with it. */
static inline long floor_read_msg(floor_conn *c, size_t *hend, int64_t *t_ns)
{
    size_t total = 0;
    *hend = 0;
    for (;;) {
        if (!*hend) {
            char *e = c->len >= 4 ? memmem(c->buf, c->len, "\r\n\r\n", 4) : NULL;
            if (e) {
                *hend = (size_t)(e - c->buf) + 4;
                size_t vlen = 0;
                const char *v = floor_header(c->buf, *hend, "Content-Length", &vlen);
                total = *hend + (v ? strtoul(v, NULL, 10) : 0);
                if (total > FLOOR_BUF)
                    return -1;
            }
        }
        if (*hend && c->len >= total)
            return (long)total;
        if (c->len == FLOOR_BUF)
            return -1;
        ssize_t r = read(c->fd, c->buf + c->len, FLOOR_BUF - c->len);
        if (t_ns)
            *t_ns = floor_now_ns();
        if (r == 0)
            return c->len ? -1 : 0;
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return errno == ECONNRESET && !c->len ? 0 : -1;
        }
        c->len += (size_t)r;
    }
}

static inline void floor_consume(floor_conn *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

/* write(2) all of it. */
static inline int floor_write(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

#endif
