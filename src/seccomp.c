#include "seccomp.h"

#include <errno.h>
#include <linux/seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/log.h"

/*
 * Every filter, until the kernel says there is no more (ENOENT): their number
 * is bounded only by the kernel's limit on their total size.
 */
static int get_filters(pid_t pid, struct seccomp_filters *f)
{
	for (long i = 0;; i++) {
		long n = ptrace(PTRACE_SECCOMP_GET_FILTER, pid, (void *)i, NULL);
		struct sock_filter *insns;
		struct sock_fprog *grown;

		if (n < 0)
			return errno == ENOENT ? 0 : -errno; /* ENOENT: no more filters */
		insns = calloc((size_t)n, sizeof(*insns));
		grown = realloc(f->progs, (size_t)(f->n + 1) * sizeof(*grown));
		if (!insns || !grown) {
			free(insns);
			if (grown)
				f->progs = grown;
			return -ENOMEM;
		}
		f->progs = grown;
		if (ptrace(PTRACE_SECCOMP_GET_FILTER, pid, (void *)i, insns) != n) {
			free(insns);
			return -errno;
		}
		f->progs[f->n].len = (unsigned short)n;
		f->progs[f->n].filter = insns;
		f->n++;
	}
}

int seccomp_copy(pid_t pid, struct seccomp_filters *f)
{
	int status, r;

	memset(f, 0, sizeof(*f));
	if (ptrace(PTRACE_SEIZE, pid, NULL, NULL) < 0)
		return log_errno(errno,
				 "cannot trace process %d to copy its seccomp filter "
				 "(--seccomp off skips it)",
				 (int)pid);
	if (ptrace(PTRACE_INTERRUPT, pid, NULL, NULL) < 0) {
		r = log_errno(errno, "cannot stop process %d to copy its seccomp filter", (int)pid);
		ptrace(PTRACE_DETACH, pid, NULL, NULL);
		return r;
	}
	while (waitpid(pid, &status, __WALL) < 0)
		if (errno != EINTR)
			return log_errno(errno, "waiting for process %d", (int)pid);
	r = get_filters(pid, f);
	ptrace(PTRACE_DETACH, pid, NULL, NULL);
	if (r < 0) {
		seccomp_free(f);
		return log_errno(r, "reading the seccomp filter of process %d", (int)pid);
	}
	return 0;
}

int seccomp_install(const struct seccomp_filters *f)
{
	for (int i = f->n - 1; i >= 0; i--)
		if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &f->progs[i]) < 0)
			return log_errno(errno, "installing the target's seccomp filter");
	return 0;
}

void seccomp_free(struct seccomp_filters *f)
{
	for (int i = 0; i < f->n; i++)
		free(f->progs[i].filter);
	free(f->progs);
	f->progs = NULL;
	f->n = 0;
}
