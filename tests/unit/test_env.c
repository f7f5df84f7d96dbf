#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "env.h"

static size_t count(char **env)
{
	size_t n = 0;

	while (env[n])
		n++;
	return n;
}

static void test_merge(void)
{
	static const char container[] = "PATH=/bin\0HOME=/root\0PATH=/dup\0NOEQUALS\0A=1";
	const char *set[] = { "PATH=/usr/bin:/bin", "TERM=xterm", NULL };
	const char *fallback[] = { "HOME=/", "LANG=C", NULL };
	char **env = env_build(container, sizeof(container), true, set, fallback);

	CHECK(env != NULL);
	if (!env)
		return;
	CHECK(!strcmp(env_get(env, "PATH"), "/usr/bin:/bin")); /* set replaces */
	CHECK(!strcmp(env_get(env, "HOME"), "/root")); /* fallback does not */
	CHECK(!strcmp(env_get(env, "LANG"), "C")); /* fallback fills in */
	CHECK(!strcmp(env_get(env, "TERM"), "xterm"));
	CHECK(!strcmp(env_get(env, "A"), "1"));
	CHECK(env_get(env, "NOEQUALS") == NULL);
	CHECK_EQ(count(env), 5); /* PATH HOME A TERM LANG: the duplicate PATH is dropped */
	env_free(env);

	env = env_build("", 0, true, NULL, NULL);
	CHECK(env && env[0] == NULL);
	env_free(env);
}

static void test_filter(void)
{
	static const char container[] =
		"LD_PRELOAD=/x.so\0LD_LIBRARY_PATH=/l\0GCONV_PATH=/g\0"
		"BASH_ENV=/b\0ENV=/e\0PS1=$(evil)\0BASH_FUNC_ls%%=() { :; }\0"
		"PYTHONSTARTUP=/p\0PERL5OPT=-d\0NODE_OPTIONS=-r\0TMPDIR=/t\0"
		"MALLOC_ARENA_MAX=1\0LESSOPEN=|evil %s\0ENVIRONMENT=prod\0"
		"LDX=1\0FOO=bar\0";
	const char *set[] = { "LD_LIBRARY_PATH=/ours", NULL };
	char **env = env_build(container, sizeof(container), true, set, NULL);

	CHECK(env != NULL);
	if (!env)
		return;
	/* Near misses of unsafe names are ordinary variables. */
	CHECK(!strcmp(env_get(env, "FOO"), "bar"));
	CHECK(!strcmp(env_get(env, "ENVIRONMENT"), "prod"));
	CHECK(!strcmp(env_get(env, "LDX"), "1"));
	/* What cntr itself sets passes: the filter is for the container's side. */
	CHECK(!strcmp(env_get(env, "LD_LIBRARY_PATH"), "/ours"));
	CHECK_EQ(count(env), 4);
	env_free(env);

	/* exec runs the container's own programs: its environment stays whole. */
	env = env_build(container, sizeof(container), false, NULL, NULL);
	CHECK(env && !strcmp(env_get(env, "LD_PRELOAD"), "/x.so"));
	env_free(env);

	CHECK(env_is_unsafe("LD_AUDIT=/a"));
	CHECK(env_is_unsafe("IFS"));
	CHECK(!env_is_unsafe("IFSX=1"));
	CHECK(!env_is_unsafe("HOME=/root"));
}

/* 120,000 variables took a minute with a search per variable. */
static void test_many(void)
{
	size_t n = 120000, len = 0;
	char *text = malloc(n * 24);
	struct timespec a, b;
	char **env;

	if (!text)
		return;
	for (size_t i = 0; i < n; i++)
		len += (size_t)sprintf(text + len, "VAR_%zu=%zu", i % (n / 2), i) + 1;
	clock_gettime(CLOCK_MONOTONIC, &a);
	env = env_build(text, len, true, NULL, NULL);
	clock_gettime(CLOCK_MONOTONIC, &b);
	CHECK(env != NULL);
	if (env) {
		CHECK_EQ(count(env), n / 2); /* every key twice: the first wins */
		CHECK(!strcmp(env_get(env, "VAR_7"), "7"));
	}
	/* Generous: linear is ~20 ms here, quadratic was over 30 s. */
	CHECK((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 < 3000);
	env_free(env);
	free(text);
}

int main(void)
{
	test_merge();
	test_filter();
	test_many();
	return CHECK_DONE();
}
