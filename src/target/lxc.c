/* lxc: a container of the default lxcpath, via `lxc-info`. */
#include <errno.h>
#include <string.h>

#include "target/resolvers.h"
#include "util/parse.h"
#include "util/run.h"

int target_lxc(const char *name, struct target_hit *hit)
{
	char *argv[] = { "lxc-info", "--no-humanize", "--state", "--pid",
			 "--name",   (char *)name,    NULL };
	char state[32], pid[32], line[200];
	struct run_result r;
	uint64_t v;
	int ret;

	ret = run_capture(argv, RUN_TIMEOUT_MS, &r);
	if (ret < 0)
		return target_fail(hit, ret == -ETIMEDOUT ? ret : -EIO, "lxc-info: %s",
				   strerror(-ret));
	if (!run_succeeded(&r)) {
		run_first_line(&r, line, sizeof(line));
		run_result_free(&r);
		/* "NAME doesn't exist" */
		if (strstr(line, "doesn't exist") || strstr(line, "does not exist"))
			return target_fail(hit, -ENOENT, "no such container");
		return target_fail(hit, -EIO, "lxc-info: %s", line);
	}
	ret = keyval_find(r.out, "State", state, sizeof(state));
	if (ret == 0 && strcmp(state, "RUNNING") != 0) {
		run_result_free(&r);
		return target_fail(hit, -ESRCH, "container %s is %s", name, state);
	}
	if (ret == 0)
		ret = keyval_find(r.out, "PID", pid, sizeof(pid));
	run_result_free(&r);
	if (ret < 0 || parse_uint(pid, 1, 4194304, &v) < 0)
		return target_fail(hit, -EIO, "unexpected output from lxc-info");
	hit->pid = (pid_t)v;
	hit->exact = true;
	return 0;
}
