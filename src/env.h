/* The session's environment: the container's, with a few variables from our side. */
#pragma once

#include <stddef.h>

#define ENV_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/*
 * Builds a NULL-terminated environment from the NUL-separated container
 * environment, then applies the "KEY=VALUE" entries of set (replacing) and of
 * fallback (only where the key is missing). Returns a malloc'd vector (free
 * with env_free) or NULL.
 */
char **env_build(const char *container, size_t len, const char *const *set,
		 const char *const *fallback);
void env_free(char **env);
/* The value of key in env, or NULL. */
const char *env_get(char *const *env, const char *key);
