/* Resolving what the user names (a pid for now; engines later) to a process id. */
#pragma once

#include <sys/types.h>

/*
 * Resolves a process-id target. Logs a one-line reason and returns -errno if
 * it is not a number, does not exist, is a zombie, or is cntr itself.
 */
int target_resolve_pid(const char *name, pid_t *pid);
