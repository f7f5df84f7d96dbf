#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "target/resolvers.h"
#include "target/target.h"
#include "util/log.h"
#include "util/parse.h"

/* The State: letter of /proc/PID/status, or 0 if the process is gone. */
static char process_state(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strstr(buf, "\nState:");
	if (!p)
		return 0;
	p += strlen("\nState:");
	while (*p == ' ' || *p == '\t')
		p++;
	return *p;
}

int target_process_id(const char *name, struct target_hit *hit)
{
	uint64_t v;
	char state;

	if (parse_uint(name, 1, 4194304, &v) < 0)
		return target_fail(hit, -EINVAL, "'%s' is not a process id", name);
	state = process_state((pid_t)v);
	if (!state)
		return target_fail(hit, -ESRCH, "no process with pid %s", name);
	if (state == 'Z' || state == 'X')
		return target_fail(hit, -ESRCH, "process %s is a zombie (it has exited)", name);
	if ((pid_t)v == getpid())
		return target_fail(hit, -EINVAL, "process %s is cntr itself", name);
	hit->pid = (pid_t)v;
	hit->exact = true;
	return 0;
}

int target_resolve_pid(const char *name, pid_t *pid)
{
	struct target_hit hit = { 0 };
	int r = target_process_id(name, &hit);

	if (r < 0)
		return log_errno(-r, "%s", hit.why);
	*pid = hit.pid;
	return 0;
}
