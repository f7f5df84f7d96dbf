/* Walking /proc: the pid list and the few /proc/PID/stat fields the resolvers need. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "target/resolvers.h"
#include "util/file.h"
#include "util/parse.h"

/* The n-th space-separated field of s (0-based) as an unsigned number. */
static int field_uint(const char *s, int n, uint64_t *v)
{
	char buf[32];
	size_t len;

	for (;;) {
		s += strspn(s, " ");
		len = strcspn(s, " \n");
		if (!len)
			return -EINVAL;
		if (n-- == 0)
			break;
		s += len;
	}
	if (len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return parse_uint(buf, 0, UINT64_MAX, v);
}

int proc_stat_parse(const char *text, struct proc_info *p)
{
	/* comm may hold spaces and parentheses: it ends at the last ')'. */
	const char *lp = strchr(text, '('), *rp = strrchr(text, ')');
	uint64_t pid, ppid, start;
	char pidtext[16];

	memset(p, 0, sizeof(*p));
	if (!lp || !rp || rp < lp || lp == text || (size_t)(lp - text) > sizeof(pidtext))
		return -EINVAL;
	snprintf(pidtext, sizeof(pidtext), "%.*s", (int)(lp - text - 1), text);
	/* After comm: state, ppid, 17 fields we skip (pgrp ... itrealvalue), starttime. */
	if (parse_uint(pidtext, 1, 4194304, &pid) < 0 || rp[1] != ' ' || !rp[2] ||
	    field_uint(rp + 2, 1, &ppid) < 0 || ppid > 4194304 ||
	    field_uint(rp + 2, 19, &start) < 0)
		return -EINVAL;
	p->pid = (pid_t)pid;
	p->ppid = (pid_t)ppid;
	p->state = rp[2];
	p->start = start;
	snprintf(p->comm, sizeof(p->comm), "%.*s", (int)(rp - lp - 1), lp + 1);
	return 0;
}

int proc_info_read(pid_t pid, struct proc_info *p)
{
	char path[64], buf[1024];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	n = read_file_at(AT_FDCWD, path, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	return proc_stat_parse(buf, p);
}

int proc_pids(pid_t **pids)
{
	DIR *d = opendir("/proc");
	size_t n = 0, cap = 256;
	pid_t *v = malloc(cap * sizeof(*v));
	struct dirent *e;

	if (!d || !v) {
		int err = d ? ENOMEM : errno;

		if (d)
			closedir(d);
		free(v);
		return -err;
	}
	while ((e = readdir(d))) {
		uint64_t pid;

		if (parse_uint(e->d_name, 1, 4194304, &pid) < 0)
			continue;
		if (n == cap) {
			pid_t *bigger = realloc(v, 2 * cap * sizeof(*v));

			if (!bigger) {
				closedir(d);
				free(v);
				return -ENOMEM;
			}
			v = bigger;
			cap *= 2;
		}
		v[n++] = (pid_t)pid;
	}
	closedir(d);
	*pids = v;
	return (int)n;
}
