#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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

int target_resolve_pid(const char *name, pid_t *pid)
{
	uint64_t v;
	char state;

	if (parse_uint(name, 1, 4194304, &v) < 0)
		return log_errno(EINVAL, "'%s' is not a process id", name);
	state = process_state((pid_t)v);
	if (!state)
		return log_errno(ESRCH, "no process with pid %s", name);
	if (state == 'Z' || state == 'X')
		return log_errno(ESRCH, "process %s is a zombie (it has exited)", name);
	if ((pid_t)v == getpid())
		return log_errno(EINVAL, "process %s is cntr itself", name);
	*pid = (pid_t)v;
	return 0;
}
