#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

bool log_verbose;

static void vprint(const char *kind, int err, const char *fmt, va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (err > 0)
		fprintf(stderr, "cntr: %s%s: %s\n", kind, msg, strerror(err));
	else
		fprintf(stderr, "cntr: %s%s\n", kind, msg);
}

int log_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprint("", 0, fmt, ap);
	va_end(ap);
	return -1;
}

int log_errno(int err, const char *fmt, ...)
{
	va_list ap;

	if (err < 0)
		err = -err;
	va_start(ap, fmt);
	vprint("", err, fmt, ap);
	va_end(ap);
	return -err;
}

void log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprint("warning: ", 0, fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	vprint("", 0, fmt, ap);
	va_end(ap);
}
