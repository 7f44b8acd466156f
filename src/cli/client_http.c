/* client_http — the transport of the client commands: AWS JSON 1.0 over
 * libcurl, one easy handle per process so that a polling loop keeps its
 * connection. See client_http.h for the contract. */
#include <ctype.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "cli/client_http.h"

struct cli_conn {
    CURL *curl;
    char *endpoint;
    struct curl_slist *headers;
    char errbuf[CURL_ERROR_SIZE];
};

cli_conn *cli_conn_new(const char *endpoint)
{
    static int inited;
    if (!inited) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return NULL;
        inited = 1;
    }
    cli_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->curl = curl_easy_init();
    c->endpoint = strdup(endpoint);
    if (!c->curl || !c->endpoint) {
        cli_conn_free(c);
        return NULL;
    }
    /* "Expect:" turns off curl's 100-continue round trip for bodies over 1 KiB. */
    c->headers = curl_slist_append(c->headers, "Content-Type: application/x-amz-json-1.0");
    c->headers = curl_slist_append(c->headers, "Expect:");
    return c;
}

void cli_conn_free(cli_conn *c)
{
    if (!c)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    curl_slist_free_all(c->headers);
    free(c->endpoint);
    free(c);
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    val_buf_putn(ud, p, size * n);
    return size * n;
}

/* Keeps the X-Amzn-ErrorType header: the error code when a body lacks it. */
static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    static const char name[] = "x-amzn-errortype:";
    size_t len = size * n;
    if (len > sizeof name - 1 && strncasecmp(p, name, sizeof name - 1) == 0) {
        const char *v = p + sizeof name - 1, *end = p + len;
        while (v < end && isspace((unsigned char)*v))
            v++;
        while (end > v && isspace((unsigned char)end[-1]))
            end--;
        val_buf *b = ud;
        b->len = 0;
        val_buf_putn(b, v, (size_t)(end - v));
    }
    return len;
}

/* AWS writes the code as "Code", "namespace#Code" or "Code:http://..." (the
 * last in headers); the user wants "Code". Returns a malloc'd string. */
static char *error_code(const char *t)
{
    const char *hash = strrchr(t, '#');
    if (hash)
        t = hash + 1;
    size_t n = strcspn(t, ":");
    return strndup(t, n);
}

static void set_http_error(val_err *err, long status, const json_t *ans, const char *hdr_type,
                           const char *text)
{
    const char *type = NULL, *msg = NULL;
    if (json_is_object(ans)) {
        type = json_string_value(json_object_get(ans, "__type"));
        msg = json_string_value(json_object_get(ans, "message"));
        if (!msg)
            msg = json_string_value(json_object_get(ans, "Message"));
    }
    if (!type && hdr_type && *hdr_type)
        type = hdr_type;
    int kind = status >= 500 ? VAL_ERR_RUNTIME : VAL_ERR_VALIDATION;
    if (type) {
        char *code = error_code(type);
        val_err_setc(err, kind, code, msg ? msg : "");
        free(code);
    } else {
        char name[32];
        snprintf(name, sizeof name, "HTTP %ld", status);
        val_err_set(err, kind, name, "%.300s", msg ? msg : text);
    }
}

int cli_call(cli_conn *c, const char *op, const json_t *body, json_t **out, val_err *err)
{
    *out = NULL;
    char target[160];
    /* "Operation" is Step Functions'; "Service.Operation" names another */
    snprintf(target, sizeof target, "X-Amz-Target: %s%s", strchr(op, '.') ? "" : "AWSStepFunctions.", op);
    struct curl_slist *h = curl_slist_append(NULL, target);
    for (struct curl_slist *s = c->headers; s; s = s->next)
        h = curl_slist_append(h, s->data);
    size_t blen;
    char *text = val_dump(body, &blen);
    val_buf resp = {0}, etype = {0};
    CURL *k = c->curl;
    curl_easy_reset(k);
    curl_easy_setopt(k, CURLOPT_URL, c->endpoint);
    curl_easy_setopt(k, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(k, CURLOPT_POSTFIELDS, text);
    curl_easy_setopt(k, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
    curl_easy_setopt(k, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(k, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(k, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(k, CURLOPT_HEADERDATA, &etype);
    curl_easy_setopt(k, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(k, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(k, CURLOPT_NOSIGNAL, 1L);
    /* A proxy set for the outside world must not capture a local server. */
    curl_easy_setopt(k, CURLOPT_NOPROXY, "localhost,127.0.0.1,::1");
    curl_easy_setopt(k, CURLOPT_USERAGENT, "stepd-cli");
    c->errbuf[0] = 0;
    CURLcode rc = curl_easy_perform(k);
    curl_slist_free_all(h);
    free(text);
    int ret = -1;
    if (rc != CURLE_OK) {
        const char *why = c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc);
        int no_conn = rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
                      rc == CURLE_COULDNT_RESOLVE_PROXY || rc == CURLE_OPERATION_TIMEDOUT;
        val_err_set(err, VAL_ERR_IO, NULL, "%s %s (%s): is `stepd serve` running there?",
                    no_conn ? "cannot connect to" : "no answer from", c->endpoint, why);
        goto done;
    }
    long status = 0;
    curl_easy_getinfo(k, CURLINFO_RESPONSE_CODE, &status);
    val_buf_putc(&resp, 0); /* resp.p is then never NULL and always terminated */
    resp.len--;
    val_buf_putc(&etype, 0);
    json_t *ans = NULL;
    if (resp.len) {
        val_err perr = {0};
        ans = val_parse(resp.p, resp.len, &perr);
        if (!ans && status >= 200 && status < 300) {
            val_err_set(err, VAL_ERR_IO, NULL, "%s answered %s with something that is not JSON (%s): %.200s",
                        c->endpoint, op, perr.cause ? perr.cause : "?", resp.p);
            val_err_clear(&perr);
            goto done;
        }
        val_err_clear(&perr);
    }
    if (status >= 200 && status < 300) {
        *out = ans ? ans : json_object();
        ret = 0;
    } else {
        set_http_error(err, status, ans, etype.p, resp.p);
        json_decref(ans);
    }
done:
    val_buf_free(&resp);
    val_buf_free(&etype);
    return ret;
}

/* ------------------------------------------------------------- rest calls */

static size_t on_rest_header(char *p, size_t size, size_t n, void *ud)
{
    struct cli_rest_resp *r = ud;
    size_t len = size * n;
    static const struct {
        const char *name;
        size_t off;
    } keep[] = {{"x-amzn-errortype:", offsetof(struct cli_rest_resp, error_type)},
                {"x-amz-function-error:", offsetof(struct cli_rest_resp, function_error)},
                {"x-amz-log-result:", offsetof(struct cli_rest_resp, log_result)},
                {"x-stepd-log-offset:", offsetof(struct cli_rest_resp, log_offset)}};
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
        size_t nl = strlen(keep[i].name);
        if (len > nl && strncasecmp(p, keep[i].name, nl) == 0) {
            const char *v = p + nl, *end = p + len;
            while (v < end && isspace((unsigned char)*v))
                v++;
            while (end > v && isspace((unsigned char)end[-1]))
                end--;
            char **slot = (char **)((char *)r + keep[i].off);
            free(*slot);
            *slot = strndup(v, (size_t)(end - v));
        }
    }
    return len;
}

int cli_rest(cli_conn *c, const char *method, const char *path, const char *const *headers, const char *body,
             size_t len, struct cli_rest_resp *out, val_err *err)
{
    memset(out, 0, sizeof *out);
    size_t el = strlen(c->endpoint);
    while (el && c->endpoint[el - 1] == '/')
        el--;
    char *url = malloc(el + strlen(path) + 1);
    if (!url)
        abort();
    memcpy(url, c->endpoint, el);
    strcpy(url + el, path);
    struct curl_slist *h = curl_slist_append(NULL, "Expect:");
    for (size_t i = 0; headers && headers[i]; i++)
        h = curl_slist_append(h, headers[i]);
    val_buf resp = {0};
    CURL *k = c->curl;
    curl_easy_reset(k);
    curl_easy_setopt(k, CURLOPT_URL, url);
    curl_easy_setopt(k, CURLOPT_HTTPHEADER, h);
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(k, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(k, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? len : 0));
    }
    curl_easy_setopt(k, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(k, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(k, CURLOPT_HEADERFUNCTION, on_rest_header);
    curl_easy_setopt(k, CURLOPT_HEADERDATA, out);
    curl_easy_setopt(k, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(k, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(k, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(k, CURLOPT_NOPROXY, "localhost,127.0.0.1,::1");
    curl_easy_setopt(k, CURLOPT_USERAGENT, "stepd-cli");
    c->errbuf[0] = 0;
    CURLcode rc = curl_easy_perform(k);
    curl_slist_free_all(h);
    free(url);
    if (rc != CURLE_OK) {
        const char *why = c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc);
        val_err_set(err, VAL_ERR_IO, NULL, "cannot reach %s (%s): is `stepd serve` running there?", c->endpoint,
                    why);
        val_buf_free(&resp);
        cli_rest_clear(out);
        return -1;
    }
    curl_easy_getinfo(k, CURLINFO_RESPONSE_CODE, &out->status);
    val_buf_putc(&resp, 0);
    out->len = resp.len - 1;
    out->body = resp.p;
    return 0;
}

void cli_rest_clear(struct cli_rest_resp *r)
{
    free(r->body);
    free(r->error_type);
    free(r->function_error);
    free(r->log_result);
    free(r->log_offset);
    memset(r, 0, sizeof *r);
}

void cli_rest_error(const struct cli_rest_resp *r, val_err *err)
{
    json_t *ans = r->len ? val_parse(r->body, r->len, NULL) : NULL;
    set_http_error(err, r->status, ans, r->error_type, r->body ? r->body : "");
    json_decref(ans);
}
