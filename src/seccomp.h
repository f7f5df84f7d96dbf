/*
 * The target's seccomp filters, copied to the session. The kernel hands them
 * out only to a ptrace tracer of the stopped target (PTRACE_SECCOMP_GET_FILTER):
 * cntr seizes the target, interrupts it for the time of the copy (well under a
 * millisecond) and detaches; the target's syscalls are not affected.
 */
#pragma once

#include <linux/filter.h>
#include <stdbool.h>
#include <sys/types.h>

struct seccomp_filters {
	int n;
	struct sock_fprog *progs; /* progs[0] is the newest, as the kernel numbers them */
};

/* Copies pid's filters. Returns 0 (n may be 0) or -errno with a message. */
int seccomp_copy(pid_t pid, struct seccomp_filters *f);
/* Installs the filters on the calling thread, oldest first. Returns 0 or -errno. */
int seccomp_install(const struct seccomp_filters *f);
void seccomp_free(struct seccomp_filters *f);
