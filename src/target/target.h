/* Resolving what the user names (a pid, a container of some engine, a command) to a process id. */
#pragma once

#include <sys/types.h>

/*
 * Resolves TARGET to the pid of a process in the container. types is the -t
 * list ("docker,podman"), or NULL for the default order: process_id (numeric
 * names only), then every engine whose tool is installed; the first exact name
 * (or full id) wins, else the first id prefix. A numeric name that is both a
 * live pid and an engine's container name is refused as ambiguous. Logs one line saying what was tried and returns
 * -ENOENT, -ESRCH (not running), -ENOTUNIQ (ambiguous) or -EINVAL on failure.
 */
int target_resolve(const char *name, const char *types, pid_t *pid);

/* Checks a -t list; logs the unknown name and returns -EINVAL. */
int target_types_check(const char *list);

/*
 * Resolves a process-id target. Logs a one-line reason and returns -errno if
 * it is not a number, does not exist, is a zombie, or is cntr itself.
 */
int target_resolve_pid(const char *name, pid_t *pid);
