/* Strict parsers for command-line values: the whole string must be consumed. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* Decimal unsigned integer in [min, max]. Returns 0 or -EINVAL / -ERANGE. */
int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* Non-negative seconds, fractional allowed ("1", "0.5"). */
int parse_seconds(const char *s, double *out);
