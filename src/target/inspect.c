/* docker and podman: `container inspect` with one format line, judged the same way. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "target/resolvers.h"
#include "util/parse.h"
#include "util/run.h"

/* Copies the next space-separated field of *p into buf; false if there is none. */
static bool next_field(const char **p, char *buf, size_t size)
{
	const char *s = *p + strspn(*p, " \t");
	size_t n = strcspn(s, " \t\r\n");

	if (n == 0 || n >= size)
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	*p = s + n;
	return true;
}

static int parse_bool(const char *s, bool *out)
{
	if (!strcmp(s, "true"))
		*out = true;
	else if (!strcmp(s, "false"))
		*out = false;
	else
		return -EINVAL;
	return 0;
}

int inspect_parse(const char *out, struct inspect_state *st)
{
	char running[8], paused[8], pid[16], name[sizeof(st->name) + 1];
	uint64_t v;

	memset(st, 0, sizeof(*st));
	if (!next_field(&out, running, sizeof(running)) ||
	    !next_field(&out, paused, sizeof(paused)) || !next_field(&out, pid, sizeof(pid)) ||
	    !next_field(&out, st->id, sizeof(st->id)) || !next_field(&out, name, sizeof(name)))
		return -EINVAL;
	if (parse_bool(running, &st->running) < 0 || parse_bool(paused, &st->paused) < 0 ||
	    parse_uint(pid, 0, 4194304, &v) < 0)
		return -EINVAL;
	out += strspn(out, " \t\r");
	if (*out && *out != '\n')
		return -EINVAL;
	st->pid = (pid_t)v;
	/* docker prints "/name", podman "name". */
	memcpy(st->name, name + (name[0] == '/'), sizeof(st->name));
	st->name[sizeof(st->name) - 1] = '\0';
	return 0;
}

int inspect_resolve(const char *tool, const char *engine, const char *name, struct target_hit *hit)
{
	char *argv[] = { (char *)tool,	 "container", "inspect",    "--format",
			 INSPECT_FORMAT, "--",	      (char *)name, NULL };
	struct inspect_state st;
	struct run_result r;
	char line[200];
	int ret;

	ret = run_capture(argv, RUN_TIMEOUT_MS, &r);
	if (ret == -ETIMEDOUT)
		return target_fail(hit, -ETIMEDOUT, "%s inspect timed out after %d s", engine,
				   RUN_TIMEOUT_MS / 1000);
	if (ret < 0)
		return target_fail(hit, ret, "cannot run %s: %s", tool, strerror(-ret));
	if (!run_succeeded(&r)) {
		run_first_line(&r, line, sizeof(line));
		run_result_free(&r);
		if (strcasestr(line, "no such container") || strcasestr(line, "no such object"))
			return target_fail(hit, -ENOENT, "no such container");
		/* docker: "Multiple IDs found with provided prefix"; podman: "more than one result" */
		if (strcasestr(line, "multiple") || strcasestr(line, "more than one"))
			return target_fail(hit, -ENOTUNIQ, "ambiguous: %s", line);
		return target_fail(hit, -EIO, "%s", line);
	}
	ret = inspect_parse(r.out, &st);
	run_result_free(&r);
	if (ret < 0)
		return target_fail(hit, -EIO, "unexpected output from %s container inspect", tool);
	if (!st.running || st.pid <= 0)
		return target_fail(hit, -ESRCH, "container %s is not running", st.name);
	if (st.paused)
		return target_fail(hit, -ESRCH, "container %s is paused", st.name);
	hit->pid = st.pid;
	hit->exact = !strcmp(name, st.name) || !strcmp(name, st.id);
	return 0;
}
