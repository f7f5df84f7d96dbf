#include "env.h"

#include <stdlib.h>
#include <string.h>

static size_t key_len(const char *entry)
{
	const char *eq = strchr(entry, '=');

	return eq ? (size_t)(eq - entry) : strlen(entry);
}

static int find(char **env, size_t n, const char *entry)
{
	size_t k = key_len(entry);

	for (size_t i = 0; i < n; i++)
		if (key_len(env[i]) == k && !strncmp(env[i], entry, k))
			return (int)i;
	return -1;
}

const char *env_get(char *const *env, const char *key)
{
	size_t k = strlen(key);

	for (; env && *env; env++)
		if (!strncmp(*env, key, k) && (*env)[k] == '=')
			return *env + k + 1;
	return NULL;
}

static size_t count(const char *const *list)
{
	size_t n = 0;

	while (list && list[n])
		n++;
	return n;
}

char **env_build(const char *container, size_t len, const char *const *set,
		 const char *const *fallback)
{
	size_t cap = count(set) + count(fallback) + 1, n = 0;
	char **env;

	for (size_t i = 0; i < len; i++)
		if (container[i] == '\0')
			cap++;
	cap++;
	env = calloc(cap, sizeof(char *));
	if (!env)
		return NULL;
	for (size_t i = 0; i < len;) {
		const char *e = container + i;
		size_t l = strnlen(e, len - i);

		/* Entries without '=' are not variables; a repeated key keeps the first. */
		if (l && memchr(e, '=', l) && find(env, n, e) < 0 && !(env[n] = strndup(e, l)))
			goto fail;
		if (env[n])
			n++;
		i += l + 1;
	}
	for (size_t s = 0; set && set[s]; s++) {
		int at = find(env, n, set[s]);
		char *copy = strdup(set[s]);

		if (!copy)
			goto fail;
		if (at >= 0) {
			free(env[at]);
			env[at] = copy;
		} else {
			env[n++] = copy;
		}
	}
	for (size_t s = 0; fallback && fallback[s]; s++) {
		if (find(env, n, fallback[s]) >= 0)
			continue;
		if (!(env[n] = strdup(fallback[s])))
			goto fail;
		n++;
	}
	return env;
fail:
	env_free(env);
	return NULL;
}

void env_free(char **env)
{
	for (size_t i = 0; env && env[i]; i++)
		free(env[i]);
	free(env);
}
