/* aws.c — stepd_aws_json (include/stepd/aws.h): one AWS JSON 1.0 request
 * signed with SigV4, sent over plain HTTP/1.1 to the endpoint the
 * environment names. SHA-256 (FIPS 180-4) and HMAC (RFC 2104) are our own
 * so that libstepd-runtime.a keeps needing libc only: a C function then
 * runs on any provided.al2023 image whatever OpenSSL it carries. Kept apart
 * from runtime.c so that functions that never call AWS do not link it. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* memmem, strcasestr */
#endif
#include "stepd/aws.h"

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define AWS_CONTENT_TYPE "application/x-amz-json-1.0"
#define AWS_IO_TIMEOUT_S 30
#define AWS_MAX_ANSWER ((size_t)64 << 20)  /* far above any JSON API's answer */

/* ---- SHA-256 and HMAC-SHA256 ---------------------------------------------- */

typedef struct sha256 {
    uint32_t h[8];
    uint64_t bytes;       /* message length so far */
    unsigned char blk[64];
    size_t fill;          /* bytes waiting in blk */
} sha256;

static const uint32_t sha_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha_block(sha256 *c, const unsigned char *p)
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 |
               (uint32_t)p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = c->h[0], b = c->h[1], cc = c->h[2], d = c->h[3];
    uint32_t e = c->h[4], f = c->h[5], g = c->h[6], h = c->h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = h + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + sha_k[i] + w[i];
        uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & cc) ^ (b & cc));
        h = g, g = f, f = e, e = d + t1;
        d = cc, cc = b, b = a, a = t1 + t2;
    }
    c->h[0] += a, c->h[1] += b, c->h[2] += cc, c->h[3] += d;
    c->h[4] += e, c->h[5] += f, c->h[6] += g, c->h[7] += h;
}

static void sha_init(sha256 *c)
{
    static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(c->h, iv, sizeof iv);
    c->bytes = 0;
    c->fill = 0;
}

static void sha_update(sha256 *c, const void *data, size_t n)
{
    const unsigned char *p = data;
    c->bytes += n;
    if (c->fill) {
        size_t take = 64 - c->fill < n ? 64 - c->fill : n;
        memcpy(c->blk + c->fill, p, take);
        c->fill += take, p += take, n -= take;
        if (c->fill < 64)
            return;
        sha_block(c, c->blk);
        c->fill = 0;
    }
    for (; n >= 64; p += 64, n -= 64)
        sha_block(c, p);
    memcpy(c->blk, p, n);
    c->fill = n;
}

static void sha_final(sha256 *c, unsigned char out[32])
{
    uint64_t bits = c->bytes * 8;
    static const unsigned char pad[64] = {0x80};
    size_t padn = c->fill < 56 ? 56 - c->fill : 120 - c->fill;
    sha_update(c, pad, padn);
    unsigned char len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (unsigned char)(bits >> (56 - 8 * i));
    sha_update(c, len, 8);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (unsigned char)(c->h[i] >> 24);
        out[4 * i + 1] = (unsigned char)(c->h[i] >> 16);
        out[4 * i + 2] = (unsigned char)(c->h[i] >> 8);
        out[4 * i + 3] = (unsigned char)c->h[i];
    }
}

static void sha_hex(const void *data, size_t n, char hex[65])
{
    static const char digits[] = "0123456789abcdef";
    sha256 c;
    unsigned char d[32];
    sha_init(&c);
    sha_update(&c, data, n);
    sha_final(&c, d);
    for (int i = 0; i < 32; i++)
        hex[2 * i] = digits[d[i] >> 4], hex[2 * i + 1] = digits[d[i] & 15];
    hex[64] = '\0';
}

static void hmac(const void *key, size_t klen, const void *msg, size_t mlen, unsigned char out[32])
{
    unsigned char k[64] = {0}, pad[64], inner[32];
    sha256 c;
    if (klen > 64) {
        sha_init(&c);
        sha_update(&c, key, klen);
        sha_final(&c, k);
    } else {
        memcpy(k, key, klen);
    }
    for (int i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x36;
    sha_init(&c);
    sha_update(&c, pad, 64);
    sha_update(&c, msg, mlen);
    sha_final(&c, inner);
    for (int i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x5c;
    sha_init(&c);
    sha_update(&c, pad, 64);
    sha_update(&c, inner, 32);
    sha_final(&c, out);
}

/* ---- a growable string ---------------------------------------------------- */

typedef struct abuf {
    char *p;
    size_t len, cap;
    int oom;
} abuf;

static void ab_add(abuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (n + 1 > b->cap - b->len) {
        size_t cap = b->cap ? b->cap : 512;
        while (cap - b->len < n + 1) {
            if (cap > SIZE_MAX / 2) {
                b->oom = 1;
                return;
            }
            cap *= 2;
        }
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p, b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void ab_printf(abuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ab_printf(abuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[512];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = 1;
        return;
    }
    if ((size_t)n < sizeof small) {
        ab_add(b, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        b->oom = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    ab_add(b, big, (size_t)n);
    free(big);
}

/* ---- the answer ----------------------------------------------------------- */

/* Fills *out with status 0 and a message; returns -1. */
static int fail(stepd_aws_answer *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(stepd_aws_answer *out, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    free(out->body);
    out->status = 0;
    out->body = strdup(msg);
    out->len = out->body ? strlen(out->body) : 0;
    if (!out->body)
        out->body = (char *)calloc(1, 1);  /* NULL only if even this fails */
    return -1;
}

void stepd_aws_answer_free(stepd_aws_answer *a)
{
    if (!a)
        return;
    free(a->body);
    a->body = NULL;
    a->status = 0;
    a->len = 0;
}

const char *stepd_aws_error_code(const stepd_aws_answer *a, char *buf, size_t size)
{
    const char *fallback = !a || !a->status ? "RequestError" : a->status >= 500 ? "ServiceException" : "ClientError";
    const char *p = a && a->status && a->body ? strstr(a->body, "\"__type\"") : NULL;
    const char *v = NULL, *e = NULL;
    if (p) {
        p += 8;
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        if (*p == ':') {
            p++;
            while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
                p++;
            if (*p == '"') {
                v = ++p;
                while (*p && *p != '"' && *p != '\\')
                    p++;
                if (*p == '"')
                    e = p;
            }
        }
    }
    if (v && e) {
        for (const char *h = v; h < e; h++)
            if (*h == '#')
                v = h + 1;
    }
    if (!v || !e || v == e)
        v = fallback, e = fallback + strlen(fallback);
    if (size) {
        size_t n = (size_t)(e - v) < size - 1 ? (size_t)(e - v) : size - 1;
        memcpy(buf, v, n);
        buf[n] = '\0';
    }
    return buf;
}

/* ---- the endpoint --------------------------------------------------------- */

struct endpoint {
    char host[256];     /* without brackets for IPv6 */
    char port[8];
    char hosthdr[300];  /* the Host header's value: as written in the URL */
    char path[1024];    /* "/" when the URL has none */
};

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* Parses "http://host[:port][/path]" into *ep; -1 with a message. */
static int parse_url(const char *url, struct endpoint *ep, stepd_aws_answer *out)
{
    if (strncasecmp(url, "https://", 8) == 0)
        return fail(out, "stepd_aws_json: %s: https endpoints are not supported by this client; "
                         "set AWS_ENDPOINT_URL to an http:// endpoint", url);
    if (strncasecmp(url, "http://", 7) != 0)
        return fail(out, "stepd_aws_json: %s: the endpoint must be an http:// URL", url);
    const char *h = url + 7, *slash = strchr(h, '/');
    size_t hn = slash ? (size_t)(slash - h) : strlen(h);
    if (hn == 0 || hn >= sizeof ep->hosthdr || memchr(h, '@', hn) || memchr(h, '?', hn))
        return fail(out, "stepd_aws_json: %s: not a host[:port] after http://", url);
    memcpy(ep->hosthdr, h, hn);
    ep->hosthdr[hn] = '\0';
    snprintf(ep->path, sizeof ep->path, "%s", slash && slash[1] ? slash : "/");
    if (strpbrk(ep->path, "?# \r\n"))
        return fail(out, "stepd_aws_json: %s: the endpoint's path must be a plain path", url);
    const char *hs = ep->hosthdr, *he, *colon;
    if (*hs == '[') {
        he = strchr(hs, ']');
        if (!he)
            return fail(out, "stepd_aws_json: %s: unclosed '[' in the host", url);
        colon = he[1] == ':' ? he + 1 : NULL;
        if (he[1] && !colon)
            return fail(out, "stepd_aws_json: %s: not a host[:port] after http://", url);
        hs++;
    } else {
        colon = strrchr(hs, ':');
        he = colon ? colon : hs + strlen(hs);
    }
    if ((size_t)(he - hs) >= sizeof ep->host || he == hs)
        return fail(out, "stepd_aws_json: %s: bad host", url);
    memcpy(ep->host, hs, (size_t)(he - hs));
    ep->host[he - hs] = '\0';
    const char *port = colon ? colon + 1 : "80";
    if (!*port || strlen(port) >= sizeof ep->port || strspn(port, "0123456789") != strlen(port))
        return fail(out, "stepd_aws_json: %s: bad port", url);
    strcpy(ep->port, port);
    return 0;
}

/* ---- HTTP ----------------------------------------------------------------- */

static int connect_to(const struct endpoint *ep, stepd_aws_answer *out)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC}, *res = NULL;
    int rc = getaddrinfo(ep->host, ep->port, &hints, &res);
    if (rc != 0)
        return fail(out, "stepd_aws_json: cannot resolve %s: %s", ep->host, gai_strerror(rc));
    int fd = -1, err = 0;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        struct timeval tv = {.tv_sec = AWS_IO_TIMEOUT_S};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
            break;
        err = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return fail(out, "stepd_aws_json: cannot connect to %s: %s", ep->hosthdr, strerror(err));
    return fd;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w, n -= (size_t)w;
    }
    return 0;
}

/* Decodes a chunked body in place; returns its length, or -1. */
static long dechunk(char *p, size_t n)
{
    size_t r = 0, w = 0;
    for (;;) {
        char *end;
        if (r >= n)
            return -1;
        errno = 0;
        unsigned long sz = strtoul(p + r, &end, 16);
        if (end == p + r || errno)
            return -1;
        char *crlf = memmem(end, n - (size_t)(end - p), "\r\n", 2);
        if (!crlf)
            return -1;
        r = (size_t)(crlf - p) + 2;
        if (sz == 0)
            return (long)w;
        if (sz > n - r || n - r - sz < 2)
            return -1;
        memmove(p + w, p + r, sz);
        w += sz, r += sz + 2;
    }
}

/* Reads the whole answer (the server closes after it) and parses it into
 * *out. */
static int read_answer(int fd, const struct endpoint *ep, stepd_aws_answer *out)
{
    abuf in = {0};
    char chunk[16384];
    for (;;) {
        ssize_t r = recv(fd, chunk, sizeof chunk, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            free(in.p);
            return fail(out, "stepd_aws_json: reading the answer of %s: %s", ep->hosthdr,
                        e == EAGAIN || e == EWOULDBLOCK ? "timed out" : strerror(e));
        }
        if (r == 0)
            break;
        ab_add(&in, chunk, (size_t)r);
        if (in.oom || in.len > AWS_MAX_ANSWER) {
            free(in.p);
            return fail(out, "stepd_aws_json: the answer of %s is too large", ep->hosthdr);
        }
    }
    int status = 0;
    char *hend = in.p ? strstr(in.p, "\r\n\r\n") : NULL;
    if (!hend || sscanf(in.p, "HTTP/1.%*d %3d", &status) != 1 || status < 100) {
        free(in.p);
        return fail(out, "stepd_aws_json: %s did not answer with HTTP/1.x", ep->hosthdr);
    }
    *hend = '\0';
    char *body = hend + 4;
    size_t blen = in.len - (size_t)(body - in.p);
    char *h = strcasestr(in.p, "\r\nTransfer-Encoding:"), *eol = h ? strchr(h + 2, '\r') : NULL;
    if (eol)
        *eol = '\0';  /* the header's value alone; put back below */
    int chunked = h && strcasestr(h, "chunked");
    if (eol)
        *eol = '\r';
    if (chunked) {
        long n = dechunk(body, blen);
        if (n < 0) {
            free(in.p);
            return fail(out, "stepd_aws_json: %s sent a malformed chunked body", ep->hosthdr);
        }
        blen = (size_t)n;
    } else if ((h = strcasestr(in.p, "\r\nContent-Length:")) != NULL) {
        unsigned long long cl = strtoull(h + 17, NULL, 10);
        if (cl > blen) {
            free(in.p);
            return fail(out, "stepd_aws_json: %s closed the connection before the end of its answer",
                        ep->hosthdr);
        }
        blen = (size_t)cl;
    }
    out->body = malloc(blen + 1);
    if (!out->body) {
        free(in.p);
        return fail(out, "stepd_aws_json: out of memory");
    }
    memcpy(out->body, body, blen);
    out->body[blen] = '\0';
    out->len = blen;
    out->status = status;
    free(in.p);
    return status >= 200 && status < 300 ? 0 : -1;
}

/* ---- SigV4 ---------------------------------------------------------------- */

static void hexify(const unsigned char *d, size_t n, char *hex)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++)
        hex[2 * i] = digits[d[i] >> 4], hex[2 * i + 1] = digits[d[i] & 15];
    hex[2 * n] = '\0';
}

/* The canonical URI of a path: each byte outside RFC 3986's unreserved set
 * (and '/') percent-encoded, as SigV4 wants for every service but S3. */
static void canonical_uri(abuf *b, const char *path)
{
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~' || *p == '/')
            ab_add(b, (const char *)p, 1);
        else
            ab_printf(b, "%%%02X", *p);
    }
}

int stepd_aws_json(const char *service, const char *target, const char *body, stepd_aws_answer *out)
{
    out->status = 0;
    out->body = NULL;
    out->len = 0;
    if (!body)
        body = "{}";
    if (!*service || strpbrk(service, "/\r\n ") || !*target || strpbrk(target, "\r\n"))
        return fail(out, "stepd_aws_json: bad service or target");

    const char *region = env("AWS_REGION");
    if (!region)
        region = env("AWS_DEFAULT_REGION");
    if (!region)
        region = "us-east-1";
    const char *akid = env("AWS_ACCESS_KEY_ID"), *secret = env("AWS_SECRET_ACCESS_KEY");
    const char *token = env("AWS_SESSION_TOKEN");
    if (!akid || !secret)
        return fail(out, "stepd_aws_json: no credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set");
    if (strpbrk(akid, "/\r\n") || strpbrk(region, "/\r\n") || (token && strpbrk(token, "\r\n")))
        return fail(out, "stepd_aws_json: malformed credentials or region in the environment");

    char var[96] = "AWS_ENDPOINT_URL_", fallback[300];
    size_t vn = strlen(var);
    for (const char *s = service; *s && vn < sizeof var - 1; s++)
        var[vn++] = *s == '-' ? '_' : (char)toupper((unsigned char)*s);
    var[vn] = '\0';
    const char *url = env(var);
    if (!url)
        url = env("AWS_ENDPOINT_URL");
    if (!url) {
        snprintf(fallback, sizeof fallback, "https://%s.%s.amazonaws.com", service, region);
        url = fallback;
    }
    struct endpoint ep;
    if (parse_url(url, &ep, out) < 0)
        return -1;

    /* The time, twice: 20240101T120000Z and its date. */
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char amzdate[20], date[9];
    strftime(amzdate, sizeof amzdate, "%Y%m%dT%H%M%SZ", &tm);
    strftime(date, sizeof date, "%Y%m%d", &tm);

    size_t blen = strlen(body);
    char body_hash[65];
    sha_hex(body, blen, body_hash);

    /* Canonical request: the signed headers in their sorted order. */
    abuf canon = {0};
    ab_add(&canon, "POST\n", 5);
    canonical_uri(&canon, ep.path);
    ab_printf(&canon, "\n\ncontent-type:%s\nhost:%s\nx-amz-date:%s\n", AWS_CONTENT_TYPE, ep.hosthdr, amzdate);
    if (token)
        ab_printf(&canon, "x-amz-security-token:%s\n", token);
    ab_printf(&canon, "x-amz-target:%s\n\n", target);
    const char *signed_headers = token ? "content-type;host;x-amz-date;x-amz-security-token;x-amz-target"
                                       : "content-type;host;x-amz-date;x-amz-target";
    ab_printf(&canon, "%s\n%s", signed_headers, body_hash);
    if (canon.oom) {
        free(canon.p);
        return fail(out, "stepd_aws_json: out of memory");
    }
    char canon_hash[65];
    sha_hex(canon.p, canon.len, canon_hash);
    free(canon.p);

    char scope[256], to_sign[512];
    snprintf(scope, sizeof scope, "%s/%s/%s/aws4_request", date, region, service);
    int sn = snprintf(to_sign, sizeof to_sign, "AWS4-HMAC-SHA256\n%s\n%s\n%s", amzdate, scope, canon_hash);
    if (sn < 0 || (size_t)sn >= sizeof to_sign)
        return fail(out, "stepd_aws_json: the region or service name is too long");

    /* The signing key: HMAC chain over date, region, service. */
    size_t slen = strlen(secret);
    char *k0 = malloc(slen + 5);
    if (!k0)
        return fail(out, "stepd_aws_json: out of memory");
    memcpy(k0, "AWS4", 4);
    memcpy(k0 + 4, secret, slen + 1);
    unsigned char k[32], sig[32];
    hmac(k0, slen + 4, date, strlen(date), k);
    free(k0);
    hmac(k, 32, region, strlen(region), k);
    hmac(k, 32, service, strlen(service), k);
    hmac(k, 32, "aws4_request", 12, k);
    hmac(k, 32, to_sign, (size_t)sn, sig);
    char sig_hex[65];
    hexify(sig, 32, sig_hex);

    abuf req = {0};
    ab_add(&req, "POST ", 5);
    canonical_uri(&req, ep.path);
    ab_printf(&req,
              " HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nX-Amz-Target: %s\r\nX-Amz-Date: %s\r\n",
              ep.hosthdr, AWS_CONTENT_TYPE, target, amzdate);
    if (token)
        ab_printf(&req, "X-Amz-Security-Token: %s\r\n", token);
    ab_printf(&req,
              "Authorization: AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s\r\n"
              "Content-Length: %zu\r\nConnection: close\r\nUser-Agent: stepd-runtime-c\r\n\r\n",
              akid, scope, signed_headers, sig_hex, blen);
    ab_add(&req, body, blen);
    if (req.oom) {
        free(req.p);
        return fail(out, "stepd_aws_json: out of memory");
    }

    int fd = connect_to(&ep, out);
    if (fd < 0) {
        free(req.p);
        return -1;
    }
    int rc;
    if (send_all(fd, req.p, req.len) < 0) {
        int e = errno;
        rc = fail(out, "stepd_aws_json: sending to %s: %s", ep.hosthdr,
                  e == EAGAIN || e == EWOULDBLOCK ? "timed out" : strerror(e));
    } else {
        rc = read_answer(fd, &ep, out);
    }
    close(fd);
    free(req.p);
    return rc;
}
