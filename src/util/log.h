/* One-line diagnostics on stderr, always prefixed "cntr: ". */
#pragma once

#include <stdbool.h>

extern bool log_verbose;

/* Prints "cntr: <msg>" and returns -1. */
int log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "cntr: <msg>: <strerror(err)>" and returns -err (err > 0). */
int log_errno(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Printed only with -v. */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
