#include "env.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * Variables that make programs load, run or write somewhere chosen by whoever
 * set them. The container sets its own environment, and the session runs the
 * fat side's tools with access to the fat side's files: none of these may
 * pass. glibc's list for setuid programs (unsecvars.h), the dynamic loader's
 * LD_*, shell start-up and prompt variables, and interpreters' start-up hooks.
 */
static const char *const unsafe_names[] = {
	/* glibc */
	"GCONV_PATH",
	"GETCONF_DIR",
	"GLIBC_TUNABLES",
	"HOSTALIASES",
	"LOCALDOMAIN",
	"LOCPATH",
	"NIS_PATH",
	"NLSPATH",
	"RESOLV_HOST_CONF",
	"RES_OPTIONS",
	"TMPDIR",
	"TZDIR",
	/* shells */
	"ENV",
	"BASH_ENV",
	"BASH_XTRACEFD",
	"BASHOPTS",
	"SHELLOPTS",
	"PROMPT_COMMAND",
	"PS0",
	"PS1",
	"PS2",
	"PS3",
	"PS4",
	"IFS",
	"CDPATH",
	"GLOBIGNORE",
	"EXECIGNORE",
	"FIGNORE",
	"HISTFILE",
	"INPUTRC",
	"ZDOTDIR",
	"FPATH",
	"KSH_VERSION",
	/* programs that run a command or read start-up code named by a variable */
	"PAGER",
	"MANPAGER",
	"EDITOR",
	"VISUAL",
	"BROWSER",
	"LESSOPEN",
	"LESSCLOSE",
	"LESSKEY",
	"SSH_ASKPASS",
	"SUDO_ASKPASS",
	"VIMINIT",
	"EXINIT",
	"MYVIMRC",
	"TERMINFO",
	"TERMINFO_DIRS",
	"TERMCAP",
	"OPENSSL_CONF",
	"OPENSSL_ENGINES",
	"OPENSSL_MODULES",
	"KRB5_CONFIG",
	"CLASSPATH",
	"JAVA_TOOL_OPTIONS",
	"_JAVA_OPTIONS",
	"JDK_JAVA_OPTIONS",
	"NODE_OPTIONS",
	"NODE_PATH",
	"LUA_INIT",
	"LUA_PATH",
	"LUA_CPATH",
	"TCLLIBPATH",
	"GDBHISTFILE",
	"STRACE_FILTER",
	"PROFILEREAD",
};

static const char *const unsafe_prefixes[] = {
	"LD_",	"MALLOC_", "BASH_FUNC_", "PYTHON",    "PERL",	    "RUBY",  "GEM_",
	"GIT_", "XDG_",	   "LUA_INIT_",	 "LUA_PATH_", "LUA_CPATH_", "DYLD_",
};

static size_t key_len(const char *entry, size_t len)
{
	const char *eq = memchr(entry, '=', len);

	return eq ? (size_t)(eq - entry) : len;
}

bool env_is_unsafe(const char *entry)
{
	size_t k = key_len(entry, strlen(entry));

	for (size_t i = 0; i < sizeof(unsafe_names) / sizeof(unsafe_names[0]); i++)
		if (strlen(unsafe_names[i]) == k && !strncmp(entry, unsafe_names[i], k))
			return true;
	for (size_t i = 0; i < sizeof(unsafe_prefixes) / sizeof(unsafe_prefixes[0]); i++) {
		size_t p = strlen(unsafe_prefixes[i]);

		if (k >= p && !strncmp(entry, unsafe_prefixes[i], p))
			return true;
	}
	return false;
}

const char *env_get(char *const *env, const char *key)
{
	size_t k = strlen(key);

	for (; env && *env; env++)
		if (!strncmp(*env, key, k) && (*env)[k] == '=')
			return *env + k + 1;
	return NULL;
}

/*
 * Keys seen so far, in an open-addressing table of indices into env: a
 * container may have a hundred thousand variables, and a linear search per
 * variable made that minutes.
 */
struct keyset {
	size_t *slot; /* index + 1 into env; 0 is empty */
	size_t mask;
	char **env;
};

static uint64_t hash_key(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h;
}

/* The slot holding key, or the empty slot where it belongs. */
static size_t *keyset_find(const struct keyset *ks, const char *entry)
{
	size_t len = key_len(entry, strlen(entry));

	for (size_t h = (size_t)hash_key(entry, len);; h++) {
		size_t *s = &ks->slot[h & ks->mask];
		const char *e;

		if (!*s)
			return s;
		e = ks->env[*s - 1];
		if (key_len(e, strlen(e)) == len && !strncmp(e, entry, len))
			return s;
	}
}

/* Adds or replaces entry (takes ownership); keeps the first when !replace. */
static void keyset_put(struct keyset *ks, size_t *n, char *entry, bool replace)
{
	size_t *s = keyset_find(ks, entry);

	if (!*s) {
		ks->env[*n] = entry;
		*s = ++*n;
	} else if (replace) {
		free(ks->env[*s - 1]);
		ks->env[*s - 1] = entry;
	} else {
		free(entry);
	}
}

static size_t count(const char *const *list)
{
	size_t n = 0;

	while (list && list[n])
		n++;
	return n;
}

char **env_build(const char *container, size_t len, bool filter, const char *const *set,
		 const char *const *fallback)
{
	size_t cap = count(set) + count(fallback) + 1, n = 0, slots = 16;
	struct keyset ks;

	for (size_t i = 0; i < len; i++)
		if (container[i] == '\0')
			cap++;
	cap++;
	while (slots < 2 * cap)
		slots *= 2;
	ks.mask = slots - 1;
	ks.slot = calloc(slots, sizeof(size_t));
	ks.env = calloc(cap, sizeof(char *));
	if (!ks.slot || !ks.env)
		goto fail;
	for (size_t i = 0; i < len;) {
		const char *e = container + i;
		size_t l = strnlen(e, len - i);
		char *copy;

		i += l + 1;
		/* Entries without '=' are not variables; a repeated key keeps the first. */
		if (!l || !memchr(e, '=', l))
			continue;
		if (!(copy = strndup(e, l)))
			goto fail;
		if (filter && env_is_unsafe(copy))
			free(copy);
		else
			keyset_put(&ks, &n, copy, false);
	}
	for (size_t s = 0; set && set[s]; s++) {
		char *copy = strdup(set[s]);

		if (!copy)
			goto fail;
		keyset_put(&ks, &n, copy, true);
	}
	for (size_t s = 0; fallback && fallback[s]; s++) {
		char *copy = strdup(fallback[s]);

		if (!copy)
			goto fail;
		keyset_put(&ks, &n, copy, false);
	}
	free(ks.slot);
	return ks.env;
fail:
	free(ks.slot);
	env_free(ks.env);
	return NULL;
}

void env_free(char **env)
{
	for (size_t i = 0; env && env[i]; i++)
		free(env[i]);
	free(env);
}
