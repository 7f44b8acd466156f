/* path_int — what path.c offers beyond the "paths" section of asl.h.
 * asl_path_miss_cause belongs with the public path functions (the engine
 * needs it to word InputPath/OutputPath failures as AWS does); it lives here
 * only until the contract in asl.h gains it. */
#ifndef STEPD_ASL_PATH_INT_H
#define STEPD_ASL_PATH_INT_H

#include "asl/asl.h"

/* Jayway's explanation of why the definite path p names nothing in env,
 * the text AWS puts after "Invalid path '<text>' : ":
 *   "No results for path: $['a']['b']"   the last step is missing (or an
 *                                         index is out of range)
 *   "Missing property in path $['a']"    a key before the last is missing
 *   "Expected to find an object with property ['b'] in path $['a'] but
 *    found 'java.lang.String'. ..."      a key step meets a non-object
 * Returns a malloc'd string, or NULL when p does name a value or is
 * indefinite (an indefinite path never fails: it yields an array). */
char *asl_path_miss_cause(const asl_path *p, const struct asl_env *env);

#endif
