/*
 * Joining the target's cgroups: cgroup v2 ("0::/path"), v1 hierarchies
 * ("N:cpu,cpuacct:/path", "N:name=systemd:/path") and hybrids of both.
 */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/*
 * For one line of /proc/PID/cgroup, the cgroup.procs file to write, found in
 * mountinfo text (of the reader). Returns 0, or -ENOENT if the hierarchy is
 * not mounted. Pure, unit-tested.
 */
int cgroup_procs_path(const char *mountinfo, const char *line, char *out, size_t size);

/* Moves pid into every cgroup listed in cgroup_text. Failures are warnings; returns their count. */
int cgroup_join(const char *cgroup_text, pid_t pid);
