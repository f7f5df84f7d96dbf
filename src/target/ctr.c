/* Talking to containerd through its ctr client: shared by the containerd and kubernetes types. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "target/resolvers.h"
#include "util/parse.h"
#include "util/run.h"

int ctr_tasks_parse(const char *out, struct ctr_task *tasks, int max)
{
	const char *line = out;
	int n = 0;

	while (*line && n < max) {
		size_t len = strcspn(line, "\n");
		char row[512], id[CTR_ID_MAX], pid[16], status[16];
		uint64_t v;

		snprintf(row, sizeof(row), "%.*s", (int)(len < sizeof(row) ? len : sizeof(row) - 1),
			 line);
		line += len + (line[len] == '\n');
		/* One row: TASK PID STATUS, separated by runs of spaces; the header first. */
		if (!strncmp(row, "TASK ", 5))
			continue;
		if (sscanf(row, "%127s %15s %15s", id, pid, status) != 3)
			continue;
		if (parse_uint(pid, 0, 4194304, &v) < 0)
			return -EINVAL;
		snprintf(tasks[n].id, sizeof(tasks[n].id), "%s", id);
		tasks[n].pid = (pid_t)v;
		tasks[n].running = !strcmp(status, "RUNNING");
		n++;
	}
	return n;
}

char **ctr_lines_parse(const char *out)
{
	size_t n = 0, cap = 8;
	char **lines = calloc(cap, sizeof(*lines));

	if (!lines)
		return NULL;
	for (const char *p = out; *p;) {
		size_t len;

		p += strspn(p, " \t\r\n");
		len = strcspn(p, " \t\r\n");
		if (!len)
			break;
		if (n + 1 == cap) {
			char **bigger = realloc(lines, 2 * cap * sizeof(*lines));

			if (!bigger) {
				ctr_lines_free(lines);
				return NULL;
			}
			lines = bigger;
			cap *= 2;
		}
		lines[n] = strndup(p, len);
		if (!lines[n]) {
			ctr_lines_free(lines);
			return NULL;
		}
		lines[++n] = NULL;
		p += len;
	}
	return lines;
}

void ctr_lines_free(char **lines)
{
	for (size_t i = 0; lines && lines[i]; i++)
		free(lines[i]);
	free(lines);
}

static bool is_socket(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

int ctr_addresses(const char **addrs, int max)
{
	/* The system containerd, and the one dockerd starts for itself when there is none. */
	static const char *const known[] = { "/run/containerd/containerd.sock",
					     "/run/docker/containerd/containerd.sock" };
	const char *env = getenv("CONTAINERD_ADDRESS");
	int n = 0;

	if (env && *env) {
		addrs[n++] = env;
		return n;
	}
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]) && n < max; i++)
		if (is_socket(known[i]))
			addrs[n++] = known[i];
	return n;
}

char *ctr_run(const char *addr, const char *ns, const char *const *args, struct target_hit *hit,
	      int *err)
{
	/* The connect timeout keeps a stale socket from stalling us for ctr's default 10 s. */
	const char *argv[16] = { "ctr", "--address", addr, "--connect-timeout", "2s" };
	struct run_result r;
	char line[200];
	int n = 5, ret;

	if (ns) {
		argv[n++] = "--namespace";
		argv[n++] = ns;
	}
	for (int i = 0; args[i] && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	ret = run_capture((char *const *)argv, RUN_TIMEOUT_MS, &r);
	if (ret < 0) {
		*err = ret == -ETIMEDOUT ? -ETIMEDOUT : -EIO;
		target_fail(hit, *err, "ctr %s: %s", args[0],
			    ret == -ETIMEDOUT ? "timed out" : strerror(-ret));
		return NULL;
	}
	if (!run_succeeded(&r)) {
		*err = -EIO;
		target_fail(hit, -EIO, "ctr at %s: %s", addr,
			    run_first_line(&r, line, sizeof(line)));
		run_result_free(&r);
		return NULL;
	}
	free(r.err);
	return r.out;
}
