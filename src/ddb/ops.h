/* ops — the DynamoDB operations over the store. Each takes the API's
 * request (the JSON object a client sends) and gives the API's answer,
 * so that the HTTP API (src/api/ddb.c) and Step Functions' optimized
 * integrations (dynamodb:putItem, ... whose Parameters are the API's
 * request) share one implementation.
 *
 * Call with the store locked (sched_lock): an operation's reads and
 * writes are then atomic with respect to every other request. Whether a
 * write commits by itself or joins the caller's transaction is
 * ddb_env.in_tx's choice. */
#ifndef STEPD_DDB_OPS_H
#define STEPD_DDB_OPS_H

#include <stdint.h>

#include "json/val.h"
#include "store/store.h"

struct ddb_env {
    const char *region;  /* for ARNs */
    const char *account;
    int64_t now_ns;      /* CreationDateTime and friends */
    /* 0: a write is its own store transaction (a batch or a transaction
     * one for all of it), committed before the call returns. 1: the caller
     * holds a store transaction open and commits it later (group commit):
     * writes join it, and a write that fails in the store leaves the
     * rollback to the caller (err kind VAL_ERR_STORE). */
    int in_tx;
};

/* Runs operation op ("PutItem", ...; the part after "DynamoDB_20120810.")
 * on req (borrowed). Returns the answer (a new reference) or NULL with err
 * set: err->name is DynamoDB's error code (ValidationException,
 * ResourceNotFoundException, ResourceInUseException,
 * ConditionalCheckFailedException, TransactionCanceledException,
 * UnknownOperationException, InternalServerError for a store failure) and
 * err->cause its message. *extra (when non-NULL) may get members to add to
 * the error body (Item, CancellationReasons): a new reference or NULL. */
json_t *ddb_call(store *st, const char *op, json_t *req, const struct ddb_env *env, json_t **extra,
                 val_err *err);

/* The CRC32 (IEEE) of n bytes, as DynamoDB's x-amz-crc32 header carries it. */
uint32_t ddb_crc32(const void *p, size_t n);

#endif
