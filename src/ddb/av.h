/* av — DynamoDB AttributeValues: checking what a client sent (with
 * DynamoDB's ValidationException texts), numbers as DynamoDB keeps them
 * (38 significant decimal digits, never rounded through a double),
 * equality and ordering, item sizes, and the order-preserving encoding of
 * key values that the store sorts with memcmp.
 *
 * An AttributeValue (AV) is a jansson object with exactly one member:
 * {"S": "..."}, {"N": "12.5"}, {"B": "<base64>"}, {"BOOL": true},
 * {"NULL": true}, {"M": {name: AV}}, {"L": [AV]}, {"SS": [..]},
 * {"NS": [..]}, {"BS": [..]}. An item is an object of name -> AV. Private
 * to src/ddb (prefix ddb_). */
#ifndef STEPD_DDB_AV_H
#define STEPD_DDB_AV_H

#include <stddef.h>
#include <stdint.h>

#include "json/val.h"

/* The deepest M/L nesting DynamoDB accepts (32 levels). */
#define DDB_MAX_DEPTH 32
/* The largest item, in DynamoDB's size (names + values). */
#define DDB_MAX_ITEM 409600

/* ---------------------------------------------------------------- numbers */

/* A decimal as DynamoDB keeps it: value = (-1)^neg * 0.d[0]d[1]...d[n-1] *
 * 10^exp, d[0] != 0 (no leading zeros, no trailing zeros: n is the number
 * of significant digits, at most 38). Zero is n == 0, neg == 0. */
typedef struct ddb_num {
    int neg;
    int exp;
    int n;
    unsigned char d[40]; /* digits 0-9, not characters */
} ddb_num;

/* Parses a number string as DynamoDB does ("12", "-0.5", "1E+3", " 7"
 * is refused): 0, or -1 with err = ValidationException ("The parameter
 * cannot be converted to a numeric value: X", or "Attempting to store
 * more than 38 significant digits in a Number", or the magnitude limits
 * 1E-130 / 9.9999999999999999999999999999999999999E+125 texts). */
int ddb_num_parse(const char *s, ddb_num *out, val_err *err);
/* The canonical text DynamoDB gives back ("1E+3" -> "1000", "0.50" ->
 * "0.5", "-0" -> "0"): malloc'd, caller frees. */
char *ddb_num_format(const ddb_num *n);
/* -1, 0, 1 as a < b, a == b, a > b. */
int ddb_num_cmp(const ddb_num *a, const ddb_num *b);
/* out = a + b (sub: a - b), exactly; -1 with ValidationException when the
 * result needs more than 38 significant digits or leaves DynamoDB's
 * range ("Number overflow. Attempting to store a number with magnitude
 * larger than supported range", or "... more than 38 significant digits").
 * out may alias a or b. */
int ddb_num_add(const ddb_num *a, const ddb_num *b, ddb_num *out, val_err *err);
int ddb_num_sub(const ddb_num *a, const ddb_num *b, ddb_num *out, val_err *err);

/* --------------------------------------------------------- checking input */

/* Checks av (borrowed) and returns a canonical copy (a new reference):
 * numbers in their canonical text (also inside NS), set members checked
 * for duplicates (by value for NS: "1" and "1.0" are duplicates), depth at
 * most DDB_MAX_DEPTH. On bad input NULL with err = ValidationException in
 * DynamoDB's words, e.g. "Supplied AttributeValue is empty, must contain
 * exactly one of the supported datatypes", "Supplied AttributeValue has
 * more than one datatypes set, must contain exactly one of the supported
 * datatypes", "One or more parameter values were invalid: An string set
 * may not be empty", "Input collection [a, a] contains duplicates.",
 * "One or more parameter values were invalid: An number set may not be
 * empty", "Invalid base64 ...", "Nesting Levels have exceeded supported
 * limits". Never recurses deeper than DDB_MAX_DEPTH + 1. */
json_t *ddb_av_canon(json_t *av, val_err *err);
/* The same for an item (an object of name -> AV); names must be non-empty
 * ("One or more parameter values were invalid: An AttributeValue may not
 * contain an empty attribute name" -- wording may follow DynamoDB's). */
json_t *ddb_item_canon(json_t *item, val_err *err);

/* The type key of av ("S", "N", ...), NULL when av is not an AV. */
const char *ddb_av_type(json_t *av);

/* ------------------------------------------------------ comparing values */

/* 1 when a and b are equal as DynamoDB compares them (same type; N by
 * value; B by decoded bytes; sets as sets, order ignored; M and L
 * deeply), else 0. Both borrowed; either may be NULL (NULL == NULL only). */
int ddb_av_equal(json_t *a, json_t *b);
/* Orders two scalars of the same type: N numerically, S by UTF-8 bytes, B
 * by decoded bytes. Stores -1/0/1 in *cmp and returns 0; returns -1 (cmp
 * untouched) when the types differ or are not S, N or B. */
int ddb_av_cmp(json_t *a, json_t *b, int *cmp);

/* ------------------------------------------------------------- sizes */

/* DynamoDB's size of an item: the UTF-8 length of each attribute name
 * plus its value's size (S: bytes; N: roughly 1 byte per 2 significant
 * digits + 1; B: decoded bytes; BOOL/NULL: 1; M/L: 3 + members, each
 * member 1 + its size (M members also their name); sets: sum of members). */
size_t ddb_item_size(json_t *item);
size_t ddb_av_size(json_t *av);

/* ---------------------------------------------------------- key encoding */

/* Appends to b the encoding of a key value av of type type ('S', 'N' or
 * 'B'; av must already be canonical): self-delimiting (a sort key can
 * follow a partition key) and order-preserving (memcmp of two encodings
 * orders them as DynamoDB orders the values: N numerically, S and B
 * bytewise). 0, or -1 with ValidationException when av is not of that type
 * or is empty ("One or more parameter values are not valid. The
 * AttributeValue for a key attribute cannot contain an empty string
 * value. Key: X" -- name is the key attribute's name, for the message). */
int ddb_key_put(val_buf *b, json_t *av, char type, const char *name, val_err *err);

#endif
