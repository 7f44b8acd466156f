/* store — the backend-neutral half of the store module: freeing the
 * records and pages every backend fills, and closing through the ops. */
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

void store_machine_clear(struct store_machine *m)
{
    if (!m)
        return;
    free(m->arn);
    free(m->name);
    free(m->definition);
    free(m->type);
    free(m->role_arn);
    free(m->revision_id);
    memset(m, 0, sizeof *m);
}

void store_exec_clear(struct store_exec *x)
{
    if (!x)
        return;
    free(x->arn);
    free(x->machine_arn);
    free(x->name);
    free(x->status);
    free(x->input);
    free(x->output);
    free(x->error);
    free(x->cause);
    free(x->snapshot);
    free(x->revision_id);
    memset(x, 0, sizeof *x);
}

void store_machine_list_free(struct store_machine_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        store_machine_clear(&l->items[i]);
    free(l->items);
    free(l->next_token);
    memset(l, 0, sizeof *l);
}

void store_exec_list_free(struct store_exec_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        store_exec_clear(&l->items[i]);
    free(l->items);
    free(l->next_token);
    memset(l, 0, sizeof *l);
}

void store_event_list_free(struct store_event_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i].json);
    free(l->items);
    memset(l, 0, sizeof *l);
}

void store_timer_list_free(struct store_timer_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i].exec_arn);
    free(l->items);
    memset(l, 0, sizeof *l);
}

void store_resource_list_free(struct store_resource_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].name);
        free(l->items[i].config);
    }
    free(l->items);
    memset(l, 0, sizeof *l);
}

void store_name_list_free(struct store_name_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        free(l->names[i]);
    free(l->names);
    memset(l, 0, sizeof *l);
}

void store_item_list_free(struct store_item_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].key);
        free(l->items[i].json);
    }
    free(l->items);
    memset(l, 0, sizeof *l);
}

void store_close(store *s)
{
    if (s)
        s->ops->close(s);
}
