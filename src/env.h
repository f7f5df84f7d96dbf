/* The session's environment: the container's, with a few variables from our side. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define ENV_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/*
 * Builds a NULL-terminated environment from the NUL-separated container
 * environment (without the unsafe variables when filter is set), then applies
 * the "KEY=VALUE" entries of set (replacing) and of fallback (only where the
 * key is missing). Linear in the number of variables. Returns a malloc'd
 * vector (free with env_free) or NULL.
 */
char **env_build(const char *container, size_t len, bool filter, const char *const *set,
		 const char *const *fallback);
/* True for "KEY=..." (or "KEY") whose key makes programs load or run code. */
bool env_is_unsafe(const char *entry);
void env_free(char **env);
/* The value of key in env, or NULL. */
const char *env_get(char *const *env, const char *key);
