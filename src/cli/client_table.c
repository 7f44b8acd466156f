/* client_table — aligned text tables for `--table`. Which list an answer
 * holds and which columns show it is data (the column lists below); every
 * cell goes through cell_text so timestamps, strings and nested JSON look
 * the same everywhere. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/client_table.h"

/* One column of a list: its title and the item's member it shows (NULL: the
 * state name found in the event's *EventDetails). */
struct column {
    const char *title;
    const char *key;
};

static const struct column exec_cols[] = {
    {"NAME", "name"}, {"STATUS", "status"}, {"START", "startDate"}, {"STOP", "stopDate"}, {"ARN", "executionArn"}, {0}};
static const struct column machine_cols[] = {
    {"NAME", "name"}, {"TYPE", "type"}, {"CREATED", "creationDate"}, {"ARN", "stateMachineArn"}, {0}};
static const struct column event_cols[] = {
    {"ID", "id"}, {"TIMESTAMP", "timestamp"}, {"TYPE", "type"}, {"STATE", NULL}, {0}};

static const struct {
    const char *member;
    const struct column *cols;
} lists[] = {{"executions", exec_cols}, {"stateMachines", machine_cols}, {"events", event_cols}};

void cli_table_iso8601(double secs, char *buf, size_t cap)
{
    double whole = floor(secs);
    long ms = lround((secs - whole) * 1000.0);
    if (ms >= 1000) {
        whole += 1;
        ms -= 1000;
    }
    time_t t = (time_t)whole;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        snprintf(buf, cap, "%.3f", secs);
        return;
    }
    char date[24];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, cap, "%s.%03ldZ", date, ms);
}

/* AWS's timestamps are the members named "timestamp" or "...Date". */
static int is_time_key(const char *key)
{
    size_t n = key ? strlen(key) : 0;
    return key && (strcmp(key, "timestamp") == 0 || (n > 4 && strcmp(key + n - 4, "Date") == 0));
}

/* Members whose strings hold JSON text (DescribeExecution's input, output). */
static int is_json_text_key(const char *key)
{
    return key && (strcmp(key, "input") == 0 || strcmp(key, "output") == 0);
}

/* A cell is one line: control characters in strings are shown escaped. */
static void put_plain(val_buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n')
            val_buf_puts(b, "\\n");
        else if (c == '\t')
            val_buf_puts(b, "\\t");
        else if (c == '\r')
            val_buf_puts(b, "\\r");
        else if (c < 0x20 || c == 0x7f)
            val_buf_printf(b, "\\u%04x", c);
        else
            val_buf_putc(b, (char)c);
    }
}

/* The text of one cell (malloc'd): "-" for a missing value. */
static char *cell_text(const char *key, const json_t *v)
{
    val_buf b = {0};
    if (!v || json_is_null(v))
        val_buf_puts(&b, "-");
    else if (json_is_number(v) && is_time_key(key)) {
        char ts[48];
        cli_table_iso8601(json_number_value(v), ts, sizeof ts);
        val_buf_puts(&b, ts);
    } else if (json_is_string(v) && is_json_text_key(key)) {
        /* input and output are JSON text, maybe spread over lines: one line */
        json_t *j = val_parse(json_string_value(v), json_string_length(v), NULL);
        if (j)
            val_buf_dump(&b, j);
        else
            put_plain(&b, json_string_value(v), json_string_length(v));
        json_decref(j);
    } else if (json_is_string(v))
        put_plain(&b, json_string_value(v), json_string_length(v));
    else
        val_buf_dump(&b, v);
    if (!b.len)
        val_buf_puts(&b, "\"\"");
    return val_buf_take(&b);
}

/* The state an event is about: "name" in its *EventDetails member. */
static const json_t *event_state(const json_t *ev)
{
    const char *k;
    json_t *d;
    json_object_foreach((json_t *)ev, k, d)
    {
        size_t n = strlen(k);
        if (n > 12 && strcmp(k + n - 12, "EventDetails") == 0 && json_is_object(d)) {
            json_t *name = json_object_get(d, "name");
            if (json_is_string(name))
                return name;
        }
    }
    return NULL;
}

/* ------------------------------------------------------------- layout */

struct table {
    size_t ncols, nrows, cap;
    char **cells; /* nrows * ncols, owned */
};

static void table_add(struct table *t, char **row)
{
    if (t->nrows == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->cells = realloc(t->cells, t->cap * t->ncols * sizeof *t->cells);
        if (!t->cells)
            abort();
    }
    memcpy(t->cells + t->nrows * t->ncols, row, t->ncols * sizeof *row);
    t->nrows++;
}

/* Display width: code points, not bytes (UTF-8 continuation bytes skipped). */
static size_t width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xc0) != 0x80;
    return w;
}

static void table_print_free(FILE *f, struct table *t)
{
    size_t *w = calloc(t->ncols, sizeof *w);
    if (!w)
        abort();
    for (size_t r = 0; r < t->nrows; r++)
        for (size_t c = 0; c < t->ncols; c++) {
            size_t x = width(t->cells[r * t->ncols + c]);
            if (x > w[c])
                w[c] = x;
        }
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            const char *s = t->cells[r * t->ncols + c];
            fputs(s, f);
            if (c + 1 < t->ncols)
                fprintf(f, "%*s", (int)(w[c] - width(s) + 2), "");
            free(t->cells[r * t->ncols + c]);
        }
        fputc('\n', f);
    }
    free(w);
    free(t->cells);
}

static void print_list(FILE *f, const json_t *items, const struct column *cols)
{
    struct table t = {0};
    while (cols[t.ncols].title)
        t.ncols++;
    char *row[8];
    for (size_t c = 0; c < t.ncols; c++)
        row[c] = strdup(cols[c].title);
    table_add(&t, row);
    size_t i;
    const json_t *it;
    json_array_foreach(items, i, it)
    {
        for (size_t c = 0; c < t.ncols; c++) {
            const json_t *v = cols[c].key ? json_object_get(it, cols[c].key) : event_state(it);
            row[c] = cell_text(cols[c].key, v);
        }
        table_add(&t, row);
    }
    table_print_free(f, &t);
}

static void print_object(FILE *f, const json_t *o)
{
    struct table t = {.ncols = 2};
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v)
    {
        char *row[2] = {strdup(k), cell_text(k, v)};
        table_add(&t, row);
    }
    table_print_free(f, &t);
}

void cli_table_print(FILE *f, const json_t *answer)
{
    if (!json_is_object(answer)) {
        char *s = val_dump(answer, NULL);
        fprintf(f, "%s\n", s);
        free(s);
        return;
    }
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        const json_t *items = json_object_get(answer, lists[i].member);
        if (!json_is_array(items))
            continue;
        print_list(f, items, lists[i].cols);
        const char *next = json_string_value(json_object_get(answer, "nextToken"));
        if (next)
            fprintf(f, "nextToken: %s\n", next);
        return;
    }
    print_object(f, answer);
}

void cli_table_rows(FILE *f, const json_t *rows)
{
    json_t *names = json_object(); /* name -> column index, first seen first */
    size_t i;
    const json_t *r;
    json_array_foreach(rows, i, r)
    {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)r, k, v)
        {
            if (!json_object_get(names, k))
                val_obj_set_take(names, k, json_integer((json_int_t)json_object_size(names)));
        }
    }
    struct table t = {.ncols = json_object_size(names)};
    if (!t.ncols) {
        json_decref(names);
        return;
    }
    char **row = calloc(t.ncols, sizeof *row);
    if (!row)
        abort();
    const char *k;
    json_t *v;
    json_object_foreach(names, k, v)
    {
        row[json_integer_value(v)] = strdup(k);
    }
    table_add(&t, row);
    json_array_foreach(rows, i, r)
    {
        json_object_foreach(names, k, v)
        {
            const char *s = json_string_value(json_object_get(r, k));
            row[json_integer_value(v)] = strdup(s ? s : "");
        }
        table_add(&t, row);
    }
    free(row);
    json_decref(names);
    table_print_free(f, &t);
}
