#include <string.h>

#include "check.h"
#include "env.h"

static size_t count(char **env)
{
	size_t n = 0;

	while (env[n])
		n++;
	return n;
}

int main(void)
{
	static const char container[] = "PATH=/bin\0HOME=/root\0PATH=/dup\0NOEQUALS\0A=1";
	const char *set[] = { "PATH=/usr/bin:/bin", "TERM=xterm", NULL };
	const char *fallback[] = { "HOME=/", "LANG=C", NULL };
	char **env = env_build(container, sizeof(container), set, fallback);

	CHECK(env != NULL);
	if (!env)
		return CHECK_DONE();
	CHECK(!strcmp(env_get(env, "PATH"), "/usr/bin:/bin")); /* set replaces */
	CHECK(!strcmp(env_get(env, "HOME"), "/root")); /* fallback does not */
	CHECK(!strcmp(env_get(env, "LANG"), "C")); /* fallback fills in */
	CHECK(!strcmp(env_get(env, "TERM"), "xterm"));
	CHECK(!strcmp(env_get(env, "A"), "1"));
	CHECK(env_get(env, "NOEQUALS") == NULL);
	CHECK_EQ(count(env), 5); /* PATH HOME A TERM LANG: the duplicate PATH is dropped */
	env_free(env);

	env = env_build("", 0, NULL, NULL);
	CHECK(env && env[0] == NULL);
	env_free(env);
	return CHECK_DONE();
}
