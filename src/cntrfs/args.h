/* Bounds-checked access to request arguments: a fixed struct, then C strings. */
#pragma once

#include <stddef.h>
#include <string.h>

/* The NUL-terminated string at offset off, or NULL if it runs past len. */
static inline const char *arg_string(const void *arg, size_t len, size_t off)
{
	const char *s = (const char *)arg + off;

	if (off >= len || !memchr(s, '\0', len - off))
		return NULL;
	return s;
}

/* The string following the string at s (for "old\0new\0" pairs). */
static inline const char *arg_next_string(const void *arg, size_t len, const char *s)
{
	if (!s)
		return NULL;
	return arg_string(arg, len, (size_t)(s - (const char *)arg) + strlen(s) + 1);
}

#define ARG_STRUCT(type, arg, len) ((len) >= sizeof(type) ? (const type *)(arg) : NULL)
