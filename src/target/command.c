/*
 * command: the process whose command line contains a string. Never cntr
 * itself, its ancestors (a `sudo cntr attach -t command foo` or a shell
 * running it would match), or any other cntr process. If several match, the
 * oldest is taken - the one that started the others, such as a server's
 * master process - and -v lists how many matched.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "target/resolvers.h"
#include "util/file.h"
#include "util/log.h"

#define MAX_ANCESTORS 256

bool cmdline_matches(const char *cmdline, size_t len, const char *pattern)
{
	size_t plen = strlen(pattern);

	if (!plen || len < plen)
		return false;
	for (size_t i = 0; i + plen <= len; i++) {
		size_t j = 0;

		/* The NULs between arguments read as spaces. */
		while (j < plen && (cmdline[i + j] ? cmdline[i + j] : ' ') == pattern[j])
			j++;
		if (j == plen)
			return true;
	}
	return false;
}

static int ancestors(pid_t *out, int max)
{
	struct proc_info pi;
	pid_t pid = getpid();
	int n = 0;

	while (pid > 0 && n < max) {
		out[n++] = pid;
		if (proc_info_read(pid, &pi) < 0)
			break;
		pid = pi.ppid;
	}
	return n;
}

static bool excluded(pid_t pid, const pid_t *skip, int nskip, const struct stat *self)
{
	char path[64];
	struct stat st;

	for (int i = 0; i < nskip; i++)
		if (skip[i] == pid)
			return true;
	/* Other cntr processes: a session whose command line holds the same pattern. */
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	return stat(path, &st) == 0 && st.st_dev == self->st_dev && st.st_ino == self->st_ino;
}

int target_command(const char *pattern, struct target_hit *hit)
{
	pid_t skip[MAX_ANCESTORS], *pids, best = 0;
	unsigned long long best_start = 0;
	int nskip = ancestors(skip, MAX_ANCESTORS), n, matches = 0;
	struct stat self;

	if (stat("/proc/self/exe", &self) < 0)
		return target_fail(hit, -errno, "cannot stat /proc/self/exe: %s", strerror(errno));
	n = proc_pids(&pids);
	if (n < 0)
		return target_fail(hit, n, "cannot list /proc: %s", strerror(-n));
	for (int i = 0; i < n; i++) {
		struct proc_info pi;
		char path[64], *cmdline;
		size_t len = 0;
		bool match;

		snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pids[i]);
		cmdline = read_file_alloc(AT_FDCWD, path, &len);
		if (!cmdline)
			continue;
		match = cmdline_matches(cmdline, len, pattern);
		free(cmdline);
		if (!match || excluded(pids[i], skip, nskip, &self) ||
		    proc_info_read(pids[i], &pi) < 0 || pi.state == 'Z')
			continue;
		matches++;
		if (!best || pi.start < best_start || (pi.start == best_start && pi.pid < best)) {
			best = pi.pid;
			best_start = pi.start;
		}
	}
	free(pids);
	if (!matches)
		return target_fail(hit, -ENOENT, "no process's command line contains '%s'",
				   pattern);
	if (matches > 1)
		log_info("command: %d processes match '%s'; taking the oldest, pid %d", matches,
			 pattern, (int)best);
	hit->pid = best;
	hit->exact = false;
	return 0;
}
