/*
 * Test helper: installs a seccomp filter that fails uname(2) with EPERM, sets
 * no_new_privs when asked (first argument "nnp"), then execs the rest of argv.
 * Used to check that cntr copies the target's filter into the session.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sock_filter insns[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_uname, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(insns) / sizeof(insns[0]), .filter = insns };
	int first = 1;

	if (argc > 1 && !strcmp(argv[1], "nnp"))
		first = 2;
	if (argc <= first) {
		fprintf(stderr, "usage: seccomp_sleep [nnp] COMMAND [ARGS...]\n");
		return 2;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, first == 2, 0, 0, 0) < 0 && first == 2)
		return perror("PR_SET_NO_NEW_PRIVS"), 1;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
		return perror("seccomp"), 1;
	execvp(argv[first], argv + first);
	perror("execvp");
	return 127;
}
