/*
 * Session processes that outlive the session's reaper: a container can kill
 * the reaper (same uid, or CAP_KILL), and its children are then reparented to
 * the container's init. Every session process, and nothing else, lives in the
 * session's private mount namespace (joining it needs ptrace access to a
 * session process, which the guard capability denies), so that is how they
 * are found again.
 */
#include "leftovers.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Kills every process in the mount namespace; returns how many there were. */
static int kill_round(const struct stat *ns)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int found = 0;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		char path[64];
		struct stat st;
		long pid = strtol(e->d_name, NULL, 10);

		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/ns/mnt", pid);
		if (stat(path, &st) < 0 || st.st_dev != ns->st_dev || st.st_ino != ns->st_ino)
			continue;
		kill((pid_t)pid, SIGKILL);
		found++;
	}
	closedir(d);
	return found;
}

void leftovers_kill(const struct stat *ns)
{
	struct timespec pause = { 0, 5 * 1000 * 1000 };

	/* Bounded: a process mid-fork may add one more per round. */
	for (int round = 0; round < 400 && kill_round(ns) > 0; round++)
		nanosleep(&pause, NULL);
}
