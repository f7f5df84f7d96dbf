/*
 * Caller identity per worker thread. Objects are created with the caller's
 * fsuid, fsgid and supplementary groups, so the backing filesystem applies
 * ownership, setgid-directory and ACL-inheritance rules exactly as it would
 * natively. The glibc wrappers for setgroups broadcast to every thread, so the
 * raw syscalls are used; each worker also has its own umask (CLONE_FS).
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "fuse/session.h"

#define CREDS_MAX_GROUPS 256

struct cntrfs_thread {
	uid_t fsuid;
	gid_t fsgid;
	pid_t groups_pid; /* cache key for groups[] */
	uid_t groups_uid;
	gid_t groups[CREDS_MAX_GROUPS];
	int ngroups;
	char *readbuf; /* reply buffer for READ, allocated on first use */
};

void *creds_thread_start(void *fs);
void creds_thread_stop(void *fs, void *thread);

/* Acts as the request's caller with the given umask. Returns 0 or -errno. */
int creds_become_caller(struct fuse_req *req, mode_t umask);
/* Back to the server's root identity. */
void creds_become_server(struct fuse_req *req);

/*
 * Whether the request's caller has capability cap in the server's user
 * namespace (what capable() would say for it). Reads /proc; for rare calls.
 */
bool creds_caller_capable(struct fuse_req *req, int cap);

/*
 * Whether the request's caller is in group gid (an on-disk id): its gid or
 * one of its supplementary groups. Reads /proc; for rare calls.
 */
bool creds_caller_in_group(struct fuse_req *req, gid_t gid);

/* Parses the "Groups:" line of a /proc/PID/status text. Returns the count or -EINVAL. */
int creds_parse_groups(const char *status, gid_t *groups, int max);
