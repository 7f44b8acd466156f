/* expr — DynamoDB's expression languages: ConditionExpression and
 * FilterExpression (one grammar), KeyConditionExpression, UpdateExpression
 * and ProjectionExpression. An expression is parsed once per request into
 * a tree (no recursion on hostile nesting beyond a fixed depth), with its
 * #name and :value placeholders resolved through the request's
 * ExpressionAttributeNames / ExpressionAttributeValues, then evaluated
 * against items. Errors are DynamoDB's ValidationException texts, e.g.
 * "Invalid ConditionExpression: Syntax error; token: \"=\", near: \"== :v\""
 * (near: the text from the token before the bad one to the token after),
 * "Value provided in ExpressionAttributeValues unused in expressions:
 * keys: {:x}", "An expression attribute name used in the document path is
 * not defined; attribute name: #n", "Invalid UpdateExpression: Attribute
 * name is a reserved keyword; reserved keyword: name".
 * Private to src/ddb (prefix ddb_). */
#ifndef STEPD_DDB_EXPR_H
#define STEPD_DDB_EXPR_H

#include "json/val.h"

enum ddb_expr_kind {
    DDB_EXPR_CONDITION,     /* ConditionExpression, FilterExpression */
    DDB_EXPR_KEY_CONDITION, /* KeyConditionExpression */
    DDB_EXPR_UPDATE,        /* UpdateExpression */
    DDB_EXPR_PROJECTION,    /* ProjectionExpression */
};

/* The placeholders of one request, shared by every expression in it, and
 * which of them the expressions used. */
typedef struct ddb_expr_ctx ddb_expr_ctx;

/* One parsed expression. */
typedef struct ddb_expr ddb_expr;

/* A context over names (ExpressionAttributeNames: object of "#n" ->
 * string) and values (ExpressionAttributeValues: object of ":v" -> AV);
 * both borrowed for the context's life, either may be NULL. Values are
 * checked and canonicalised (ddb_av_canon) here. NULL with err
 * (ValidationException) on a malformed map, e.g. "ExpressionAttributeValues
 * must not be empty", "ExpressionAttributeValues contains invalid key:
 * Syntax error; key: \"x\"". */
ddb_expr_ctx *ddb_ctx_new(json_t *names, json_t *values, val_err *err);
void ddb_ctx_free(ddb_expr_ctx *c);
/* After every expression of the request was parsed: -1 with DynamoDB's
 * "Value provided in ExpressionAttributeValues unused in expressions:
 * keys: {:a, :b}" or "Value provided in ExpressionAttributeNames unused in
 * expressions: keys: {#a}" when one was never used; else 0. */
int ddb_ctx_check_unused(ddb_expr_ctx *c, val_err *err);

/* Parses text as an expression of kind. member is the request member it
 * came from ("ConditionExpression", "FilterExpression", ...) for the
 * messages ("Invalid ConditionExpression: ..."). Placeholders are
 * resolved through c (an undefined one is an error now) and marked used.
 * Returns the expression (free with ddb_expr_free) or NULL with err. An
 * empty text is "Invalid <member>: The expression can not be empty;", a
 * text over 4096 bytes "Invalid <member>: Expression size has exceeded
 * the maximum allowed size; expression size: N"; nesting (parentheses,
 * NOT, function calls) deeper than 100 levels and paths longer than 64
 * elements are refused too. The expression borrows values from c: free
 * it before c. */
ddb_expr *ddb_expr_parse(enum ddb_expr_kind kind, const char *text, const char *member, ddb_expr_ctx *c,
                         val_err *err);
void ddb_expr_free(ddb_expr *e);

/* ------------------------------------------------- conditions and filters */

/* Evaluates a condition on item (borrowed; NULL = no item, as for a
 * PutItem on a new key: attribute_not_exists(pk) is then true). Returns 1
 * (true), 0 (false) or -1 with err (ValidationException for a type error
 * DynamoDB reports at run time, e.g. an operand of BETWEEN whose bounds are
 * out of order: "Invalid ConditionExpression: The BETWEEN operator
 * requires upper bound to be greater than or equal to lower bound; ..."). */
int ddb_cond_eval(const ddb_expr *e, json_t *item, val_err *err);

/* -------------------------------------------------------- key conditions */

enum ddb_sk_op { DDB_SK_NONE, DDB_SK_EQ, DDB_SK_LT, DDB_SK_LE, DDB_SK_GT, DDB_SK_GE, DDB_SK_BETWEEN, DDB_SK_BEGINS };

/* A key condition taken apart for a Query, against the key schema of the
 * table or index queried (KeySchema: [{AttributeName, KeyType}]). Values
 * are borrowed from the context (canonical AVs). */
struct ddb_keycond {
    const char *pk_name;
    json_t *pk_value;
    const char *sk_name; /* NULL when there is no sort key condition */
    enum ddb_sk_op op;
    json_t *v1, *v2; /* v2 for BETWEEN only */
};
/* Fills *out from a DDB_EXPR_KEY_CONDITION expression. -1 with DynamoDB's
 * texts when it does not fit the schema: "Query condition missed key
 * schema element: pk", "Query key condition not supported", "Conditions
 * can be of length 1 or 2 only", "KeyConditionExpressions must only
 * contain one condition per key". */
int ddb_keycond_get(const ddb_expr *e, json_t *key_schema, struct ddb_keycond *out, val_err *err);

/* ------------------------------------------------------------- updates */

/* Applies an update expression to item (owned by the caller and changed
 * in place; an empty object for an item that did not exist, with its key
 * attributes already set). key_schema names the key attributes, which an
 * update may not touch ("Cannot update attribute pk. This attribute is
 * part of the key"). All of SET (=, +, -, if_not_exists, list_append),
 * REMOVE (attributes and list elements), ADD (numbers, sets) and DELETE
 * (sets). 0, or -1 with err (ValidationException: "An operand in the
 * update expression has an incorrect data type", "The document path
 * provided in the update expression is invalid for update", "Two document
 * paths overlap with each other; must remove or rewrite one of these
 * paths; path one: [a], path two: [a, b]", ...). On -1 item may be half
 * changed: the caller applies the update to a copy. */
int ddb_update_apply(const ddb_expr *e, json_t *item, json_t *key_schema, val_err *err);
/* item (borrowed) reduced to the paths an update's actions name, as
 * ReturnValues UPDATED_OLD (old item) / UPDATED_NEW (new item) return it:
 * a new object, possibly empty. */
json_t *ddb_update_project(const ddb_expr *e, json_t *item);

/* ---------------------------------------------------------- projections */

/* item (borrowed) reduced to the paths of a DDB_EXPR_PROJECTION (nested
 * paths and list indexes keep the enclosing structure, as DynamoDB does):
 * a new object. */
json_t *ddb_project(const ddb_expr *e, json_t *item);

#endif
