/* floor-client — the floor's worker: a bare C client that does what any
 * Runtime API client must and nothing more. On one keep-alive connection,
 * N times: GET next, find Content-Length and the request ID, POST the
 * event back to /invocation/{id}/response (one writev), read the 202.
 *   floor-client [-n N] [ADDR]
 * ADDR is host:port (IPv4) or unix:/path; default $AWS_LAMBDA_RUNTIME_API.
 * Exits 0 after N invocations, or quietly when the server closes. */
#include "floor.h"

#include <getopt.h>
#include <sys/uio.h>

#define GET_NEXT "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: floor\r\n\r\n"

int main(int argc, char **argv)
{
    long n = 21000;
    int opt;
    while ((opt = getopt(argc, argv, "n:")) != -1) {
        if (opt != 'n') {
            fprintf(stderr, "usage: floor-client [-n N] [host:port | unix:/path]\n");
            return 2;
        }
        n = atol(optarg);
    }
    const char *api = optind < argc ? argv[optind] : getenv("AWS_LAMBDA_RUNTIME_API");
    struct sockaddr_storage sa;
    socklen_t salen = api ? floor_addr(api, &sa) : 0;
    if (!salen) {
        fprintf(stderr, "floor-client: need host:port or unix:/path\n");
        return 2;
    }
    static floor_conn c;
    c.fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c.fd < 0 || connect(c.fd, (struct sockaddr *)&sa, salen) < 0) {
        perror("floor-client: connect");
        return 1;
    }
    if (sa.ss_family == AF_INET)
        floor_nodelay(c.fd);

    char head[512], event[FLOOR_BUF];
    for (long i = 0; i < n; i++) {
        size_t hend;
        if (floor_write(c.fd, GET_NEXT, sizeof GET_NEXT - 1) < 0)
            return 1;
        long total = floor_read_msg(&c, &hend, NULL);
        if (total <= 0)
            return total == 0 ? 0 : 1;
        size_t idlen = 0, elen = (size_t)total - hend;
        const char *id = floor_header(c.buf, hend, "Lambda-Runtime-Aws-Request-Id", &idlen);
        if (!id || idlen > 128)
            return 1;
        /* The identity handler: the event is the result. */
        int hl = snprintf(head, sizeof head,
                          "POST /2018-06-01/runtime/invocation/%.*s/response HTTP/1.1\r\n"
                          "Host: floor\r\nContent-Length: %zu\r\n\r\n",
                          (int)idlen, id, elen);
        memcpy(event, c.buf + hend, elen);
        floor_consume(&c, (size_t)total);
        struct iovec iov[2] = { { head, (size_t)hl }, { event, elen } };
        if (writev(c.fd, iov, 2) != (ssize_t)((size_t)hl + elen))
            return 1;
        total = floor_read_msg(&c, &hend, NULL);
        if (total <= 0)
            return total == 0 ? 0 : 1;
        floor_consume(&c, (size_t)total);
    }
    return 0;
}
