/* lxd: an instance (local or "remote:name") via `lxc info`, which prints Status and PID. */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "target/resolvers.h"
#include "util/parse.h"
#include "util/run.h"

int target_lxd(const char *name, struct target_hit *hit)
{
	char *argv[] = { "lxc", "info", "--", (char *)name, NULL };
	char status[32], type[32] = "", pid[32], line[200];
	struct run_result r;
	uint64_t v;
	int ret;

	ret = run_capture(argv, RUN_TIMEOUT_MS, &r);
	if (ret < 0)
		return target_fail(hit, ret == -ETIMEDOUT ? ret : -EIO, "lxc info: %s",
				   strerror(-ret));
	if (!run_succeeded(&r)) {
		run_first_line(&r, line, sizeof(line));
		run_result_free(&r);
		/* LXD 5: "Error: Instance not found"; older: "Error: not found" */
		if (strcasestr(line, "not found"))
			return target_fail(hit, -ENOENT, "no such instance");
		if (strcasestr(line, "invalid instance name"))
			return target_fail(hit, -ENOENT, "not an instance name");
		if (strstr(line, "unix.socket") && strstr(line, "connect:"))
			return target_fail(hit, -EIO, "lxd is not running (%s)",
					   strstr(line, "connect:") + strlen("connect: "));
		return target_fail(hit, -EIO, "lxc info: %s", line);
	}
	keyval_find(r.out, "Type", type, sizeof(type));
	ret = keyval_find(r.out, "Status", status, sizeof(status));
	if (ret == 0 && strcasecmp(status, "RUNNING") != 0) {
		run_result_free(&r);
		return target_fail(hit, -ESRCH, "instance %s is %s", name, status);
	}
	if (ret == 0)
		ret = keyval_find(r.out, "PID", pid, sizeof(pid));
	run_result_free(&r);
	if (ret < 0 || parse_uint(pid, 1, 4194304, &v) < 0)
		return target_fail(hit, -EIO, "unexpected output from lxc info");
	/* A VM's PID is its qemu on the host: there is no container to enter. */
	if (!strcasecmp(type, "virtual-machine"))
		return target_fail(hit, -ENOENT, "instance %s is a virtual machine", name);
	hit->pid = (pid_t)v;
	hit->exact = true;
	return 0;
}
