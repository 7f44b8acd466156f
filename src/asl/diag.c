/* diag — the list of problems a definition has, and the one message AWS
 * builds from them for InvalidDefinition. The loader keeps going after the
 * first problem so the user sees every one at once, as AWS does. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asl/asl.h"

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

void asl_diag_add(asl_diags *d, const char *code, const char *path, const char *fmt, ...)
{
    if (!d)
        return;
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 4;
        struct asl_diag *v = realloc(d->v, cap * sizeof *v);
        if (!v)
            return; /* out of memory: losing a diagnostic beats crashing */
        d->v = v;
        d->cap = cap;
    }
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);

    struct asl_diag *g = &d->v[d->n++];
    g->code = dup_or_null(code ? code : "SCHEMA_VALIDATION_FAILED");
    g->message = msg;
    g->path = dup_or_null(path);
}

void asl_diags_free(asl_diags *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++) {
        free(d->v[i].code);
        free(d->v[i].message);
        free(d->v[i].path);
    }
    free(d->v);
    d->v = NULL;
    d->n = d->cap = 0;
}

/* AWS joins the problems with ", " inside one pair of quotes; each one is
 * "CODE: message at /path" (no " at" when a problem has no place). */
char *asl_diags_message(const asl_diags *d)
{
    val_buf b = {0};
    val_buf_puts(&b, "Invalid State Machine Definition: '");
    for (size_t i = 0; d && i < d->n; i++) {
        const struct asl_diag *g = &d->v[i];
        if (i)
            val_buf_puts(&b, ", ");
        val_buf_puts(&b, g->code ? g->code : "SCHEMA_VALIDATION_FAILED");
        if (g->message && *g->message) {
            val_buf_puts(&b, ": ");
            val_buf_puts(&b, g->message);
        }
        if (g->path && *g->path) {
            val_buf_puts(&b, " at ");
            val_buf_puts(&b, g->path);
        }
    }
    val_buf_putc(&b, '\'');
    return val_buf_take(&b);
}
