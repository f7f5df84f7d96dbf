/*
 * The session's private mount namespace, nested in the container's: the fat
 * view (CntrFS) at /, the container's root at the base directory, and the
 * container's /proc, /dev, /sys and identity files in /etc bound over the fat
 * ones. Nothing propagates back: the container never sees these mounts.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "context.h"

/*
 * Joins the target's mount namespace, unshares a private copy and clones the
 * target's root tree. Returns the detached tree's fd or -errno.
 */
int mountns_enter(const struct context *c);

/*
 * Stacks the FUSE mount on /, chroots into it, attaches the container tree at
 * base and binds the container's special files. *proc_bound tells whether the
 * container had a /proc to bind. Returns 0 or -errno.
 */
int mountns_build_view(int fuse_mnt, int ctr_tree, const char *base, bool *proc_bound);

/*
 * The bind back end: a private copy of our own mount namespace as the fat view
 * (idmapped with the target's user namespace when asked: --map-host-root), and a clone of the container's root
 * made in its namespace. Returns the clone's fd or -errno.
 */
int mountns_bind_enter(const struct context *c);
int mountns_bind_build_view(const struct context *c, int ctr_tree, const char *base, bool idmap,
			    bool *proc_bound);

/* The session's home, in its private /tmp. */
#define MOUNTNS_SESSION_HOME "/tmp/home"

/*
 * attach: a private /tmp and /var/tmp over the fat side's, and the session's
 * home in it, owned by uid and gid (as the host sees them). Returns 0 or -errno.
 */
int mountns_private_dirs(uid_t uid, gid_t gid);
/* Stand-ins for a /dev or /sys the container lacks: never the fat side's own. */
int mountns_standin_dev(void);
int mountns_standin_sys(void);

/* exec: joins the mount namespace and chroots into the target's root. */
int mountns_enter_root(const struct context *c);
