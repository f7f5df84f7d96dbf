/*
 * Running a command in the target's context, for attach and exec:
 *
 *   cntr (H) --fork--> C: mount namespace, then uts ipc net cgroup pid time
 *                      C --fork--> S (inside the pid namespace): user namespace
 *                                  last, credentials, terminal, LSM, execve
 *
 * H serves CntrFS (attach), relays the terminal and returns the command's
 * exit status (128+N for a signal). C and S die with H (PDEATHSIG).
 */
#pragma once

#include <stdbool.h>

#include "context.h"

struct cntrfs;
struct relay_target;
struct seccomp_filters;

enum launch_mode { LAUNCH_ATTACH, LAUNCH_EXEC };
enum launch_backend { BACKEND_CNTRFS, BACKEND_BIND };

struct launch {
	enum launch_mode mode;
	enum launch_backend backend; /* attach: how the fat view is made */
	struct context *ctx;
	char **argv; /* NULL: a login shell */
	const char *base; /* attach: where the container's root appears */
	bool apply_lsm;
	bool map_host_root; /* attach, bind: idmap the fat view with the target's user namespace */
	const struct seccomp_filters *seccomp; /* the target's filters, or NULL */
	struct cntrfs *fs; /* attach: the server for the fat view */
	int fuse_fd; /* attach: /dev/fuse, O_CLOEXEC */
	const char *fsname; /* attach: shown as the FUSE mount's source */
	const struct relay_target *relay; /* attach: serve in-session cntr exec, or NULL */
	int relay_fd; /* internal: the session's end of the relay, or -1 */
};

/* cntr's own failures exit with this, like docker and podman do. */
#define LAUNCH_EXIT_FAILURE 125

/* Returns the exit status for cntr. */
int launch_run(struct launch *l);
