/* Options shared by attach and exec: TARGET, -t, --apparmor, -v, and the command after "--". */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "context.h"
#include "seccomp.h"

struct target_opts {
	const char *target; /* NULL: none given */
	const char *types; /* -t list, NULL: the default order */
	char **argv; /* command, or NULL */
	bool apply_lsm;
	bool copy_seccomp;
	const char *backend; /* attach: "cntrfs", "bind" or "auto" */
	bool map_host_root; /* attach: --map-host-root */
	struct seccomp_filters seccomp; /* filled by target_opts_load */
	int pidfd; /* the target, held from its lookup on (or given by the exec relay); -1 */
};

/* Returns 0, 1 after --help, or -EINVAL (message printed). */
int target_opts_parse(struct target_opts *t, int argc, char **argv, const char *cmd,
		      void (*usage)(FILE *));
/* Resolves the target, snapshots it and copies its seccomp filters. Logs and returns -errno. */
int target_opts_load(struct target_opts *t, struct context *ctx);
void target_opts_free(struct target_opts *t, struct context *ctx);
