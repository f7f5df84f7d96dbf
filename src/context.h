/*
 * Everything cntr needs to know about the target, read from /proc/PID on the
 * host before any namespace is entered (the container may have no /proc, and
 * its own procfs cannot see host pids).
 */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cntrfs/idmap.h"

/* NGROUPS_MAX of the kernel: every supplementary group is applied. */
#define CONTEXT_MAX_GROUPS 65536

enum ns_kind { NS_USER, NS_MNT, NS_UTS, NS_IPC, NS_NET, NS_CGROUP, NS_PID, NS_TIME, NS_COUNT };

/* The parts of /proc/PID/status we use; ids as the host sees them. */
struct proc_status {
	uid_t uid; /* effective */
	gid_t gid;
	gid_t *groups; /* malloc'd, ngroups long */
	int ngroups;
	uint64_t cap_inh, cap_prm, cap_eff, cap_bnd, cap_amb;
	bool no_new_privs;
	int umask;
	int seccomp; /* 0 none, 1 strict, 2 filter */
	pid_t local_pid; /* last NSpid column: the pid inside its own namespace */
	char state;
};

struct context {
	pid_t pid;
	struct proc_status status;
	struct idmap uid_map, gid_map; /* empty (identity) when not user-namespaced */
	bool userns; /* in a user namespace other than ours */
	bool setgroups_allowed;
	int ns_fd[NS_COUNT]; /* -1 where the namespace is ours already */
	int root_fd; /* /proc/PID/root, O_PATH */
	char root_path[PATH_MAX]; /* the same as a path in the target's mount ns */
	char *environ; /* NUL-separated, as in /proc/PID/environ */
	size_t environ_len;
	char *cgroup; /* /proc/PID/cgroup text */
	char lsm_label[256]; /* "" when no LSM confines the target */
	int lsm; /* enum lsm_kind (lsm.h) */
	int last_cap;
};

extern const char *const ns_names[NS_COUNT];

/*
 * Reads everything of process pid, which must be the process of pidfd (-1:
 * any); logs and returns -errno on failure.
 */
int context_load(struct context *c, pid_t pid, int pidfd);
void context_free(struct context *c);
/* True if the target shares every namespace with us (not in a container). */
bool context_is_host_process(const struct context *c);

/* Pure parser, unit-tested. Returns 0 or -EINVAL if a required line is missing or malformed. */
int proc_status_parse(const char *text, struct proc_status *st);
void proc_status_free(struct proc_status *st);
