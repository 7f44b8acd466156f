/* floor-responder — the trivial Runtime API server the floor is measured
 * against: one thread, one connection at a time. GET next is answered at
 * once with a small event and the Lambda-Runtime-* headers; a POST to
 * /invocation/{id}/response or /error gets 202. For each invocation it
 * measures, on CLOCK_MONOTONIC, from the moment it writes the GET answer
 * (just before write(2)) to the read completing the POST: the worker's
 * whole share of a warm invocation, both deliveries included. After WARMUP + N invocations
 * (WARMUP >= 1) it prints p50/p90/p99/max of the last N as one JSON line and exits; the
 * line also has cycle_p50/p99: from one POST read to the next, a whole
 * invocation as the server sees it.
 *   floor-responder [-n N] [-w WARMUP] [-o FILE] [-p PORT | -u PATH]
 * With -p (default 0: any free port) it listens on 127.0.0.1 and prints
 * the port on stdout first; with -u it listens on a Unix socket at PATH
 * and prints the path. -o writes the N raw samples to FILE, one line each:
 * "<latency ns> <cycle ns>", for pooling several runs (bench/floor/run.sh). */
#include "floor.h"

#include <getopt.h>

#define EVENT "{\"key1\":\"value1\",\"key2\":\"value2\",\"key3\":\"value3\"}"
#define NEXT_PATH "/2018-06-01/runtime/invocation/next"
#define INV_PREFIX "/2018-06-01/runtime/invocation/"

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of the sorted v[0, n), in µs. */
static double pct_us(const int64_t *v, long n, double p)
{
    long k = (long)(p / 100.0 * (double)n + 0.999999);
    if (k < 1)
        k = 1;
    if (k > n)
        k = n;
    return (double)v[k - 1] / 1000.0;
}

static void usage(void)
{
    fprintf(stderr, "usage: floor-responder [-n N] [-w WARMUP] [-o FILE] [-p PORT | -u PATH]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    long n = 20000, warmup = 1000;
    int port = 0;
    const char *upath = NULL, *raw = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "n:w:o:p:u:")) != -1) {
        switch (opt) {
        case 'o': raw = optarg; break;
        case 'n': n = atol(optarg); break;
        case 'w': warmup = atol(optarg); break;
        case 'p': port = atoi(optarg); break;
        case 'u': upath = optarg; break;
        default: usage();
        }
    }
    if (n < 1 || warmup < 1 || optind != argc)
        usage();

    int lfd;
    if (upath) {
        struct sockaddr_un un = { .sun_family = AF_UNIX };
        if (strlen(upath) >= sizeof un.sun_path)
            usage();
        strcpy(un.sun_path, upath);
        unlink(upath);
        lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (lfd < 0 || bind(lfd, (struct sockaddr *)&un, sizeof un) < 0 || listen(lfd, 16) < 0) {
            perror("floor-responder: listen");
            return 1;
        }
        printf("%s\n", upath);
    } else {
        struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
        in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof in;
        int one = 1;
        lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0
            || bind(lfd, (struct sockaddr *)&in, sizeof in) < 0 || listen(lfd, 16) < 0
            || getsockname(lfd, (struct sockaddr *)&in, &len) < 0) {
            perror("floor-responder: listen");
            return 1;
        }
        printf("%d\n", ntohs(in.sin_port));
    }
    fflush(stdout);

    /* lat: GET answer written -> POST read (the worker's share);
     * cyc: POST read -> next POST read (a whole invocation, the server's
     * share and the 202 + GET next round trip included). */
    int64_t *lat = malloc((size_t)n * sizeof *lat), *cyc = malloc((size_t)n * sizeof *cyc);
    int64_t t_prev = 0;
    static floor_conn c;
    char out[1024], id[64];
    long done = 0, mismatched = 0;
    int64_t t_get = 0;
    if (!lat || !cyc)
        return 1;

    for (;;) {
        c.fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (c.fd < 0) {
            if (errno == EINTR)
                continue;
            perror("floor-responder: accept");
            return 1;
        }
        if (!upath)
            floor_nodelay(c.fd);
        c.len = 0;
        id[0] = '\0';
        for (;;) {
            size_t hend;
            int64_t t_read = 0;
            long total = floor_read_msg(&c, &hend, &t_read);
            if (total <= 0)
                break;
            int olen;
            if (strncmp(c.buf, "GET " NEXT_PATH " ", sizeof "GET " NEXT_PATH) == 0) {
                snprintf(id, sizeof id, "8476a536-e9f4-11e8-9739-%012ld", done);
                struct timespec rt;
                clock_gettime(CLOCK_REALTIME, &rt);
                long long deadline = (long long)rt.tv_sec * 1000 + rt.tv_nsec / 1000000 + 3000;
                olen = snprintf(out, sizeof out,
                    "HTTP/1.1 200 OK\r\n"
                    "Content-Type: application/json\r\n"
                    "Lambda-Runtime-Aws-Request-Id: %s\r\n"
                    "Lambda-Runtime-Deadline-Ms: %lld\r\n"
                    "Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:floor\r\n"
                    "Lambda-Runtime-Trace-Id: Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1\r\n"
                    "Content-Length: %zu\r\n\r\n" EVENT,
                    id, deadline, sizeof EVENT - 1);
                floor_consume(&c, (size_t)total);
                /* Stamped before the write: on one CPU the woken worker
                 * may run, and even send its POST, inside write(). */
                t_get = floor_now_ns();
                if (floor_write(c.fd, out, (size_t)olen) < 0)
                    break;
                continue;
            }
            if (strncmp(c.buf, "POST " INV_PREFIX, sizeof "POST " INV_PREFIX - 1) == 0) {
                const char *p = c.buf + sizeof "POST " INV_PREFIX - 1;
                size_t idlen = strlen(id);
                int ok = id[0] && strncmp(p, id, idlen) == 0
                         && (strncmp(p + idlen, "/response ", 10) == 0
                             || strncmp(p + idlen, "/error ", 7) == 0);
                floor_consume(&c, (size_t)total);
                if (!ok) {
                    mismatched++;
                    olen = snprintf(out, sizeof out, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
                    if (floor_write(c.fd, out, (size_t)olen) < 0)
                        break;
                    continue;
                }
                id[0] = '\0';
                if (done >= warmup) {
                    lat[done - warmup] = t_read - t_get;
                    cyc[done - warmup] = t_read - t_prev;
                }
                t_prev = t_read;
                done++;
                olen = snprintf(out, sizeof out,
                    "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\n"
                    "Content-Length: 16\r\n\r\n{\"status\":\"OK\"}\n");
                if (floor_write(c.fd, out, (size_t)olen) < 0)
                    break;
                if (done == warmup + n)
                    goto report;
                continue;
            }
            floor_consume(&c, (size_t)total);
            olen = snprintf(out, sizeof out, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
            if (floor_write(c.fd, out, (size_t)olen) < 0)
                break;
        }
        close(c.fd);
    }

report:
    if (raw) {
        FILE *f = fopen(raw, "w");
        if (!f) {
            perror(raw);
            return 1;
        }
        for (long i = 0; i < n; i++)
            fprintf(f, "%lld %lld\n", (long long)lat[i], (long long)cyc[i]);
        if (fclose(f) != 0) {
            perror(raw);
            return 1;
        }
    }
    qsort(lat, (size_t)n, sizeof *lat, cmp_i64);
    qsort(cyc, (size_t)n, sizeof *cyc, cmp_i64);
    double sum = 0;
    for (long i = 0; i < n; i++)
        sum += (double)lat[i];
    printf("{\"transport\":\"%s\",\"n\":%ld,\"warmup\":%ld,\"p50_us\":%.1f,\"p90_us\":%.1f,"
           "\"p99_us\":%.1f,\"max_us\":%.1f,\"mean_us\":%.1f,"
           "\"cycle_p50_us\":%.1f,\"cycle_p99_us\":%.1f,\"rejected\":%ld}\n",
           upath ? "unix" : "tcp", n, warmup, pct_us(lat, n, 50), pct_us(lat, n, 90),
           pct_us(lat, n, 99), (double)lat[n - 1] / 1000.0, sum / (double)n / 1000.0,
           pct_us(cyc, n, 50), pct_us(cyc, n, 99), mismatched);
    fflush(stdout);
    free(lat);
    free(cyc);
    if (upath)
        unlink(upath);
    return 0;
}
