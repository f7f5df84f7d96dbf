/* cntr exec [TARGET] [-- CMD...]: a command with the container's own root, like docker exec. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/target_opts.h"
#include "env.h"
#include "launch.h"
#include "lsm.h"
#include "relay/relay.h"
#include "util/file.h"
#include "util/log.h"

static void usage(FILE *out)
{
	fputs("Usage: cntr exec [OPTIONS] [TARGET] [-- COMMAND [ARGS...]]\n"
	      "Run COMMAND (default: /bin/sh -l) in the container of TARGET with the container's\n"
	      "own root, environment and credentials. Inside a 'cntr attach' session TARGET may\n"
	      "be left out: the command (default: /bin/sh) then runs in the attached container's\n"
	      "root (through the cntr attach process on the host when the session may not\n"
	      "chroot); only the attached container can be named there.\n\n"
	      "  TARGET                a container name or id, or a process id\n"
	      "  -t, --type TYPES      how to read TARGET, as for attach\n"
	      "      --apparmor MODE   auto (default) or off, as for attach\n"
	      "      --seccomp MODE    auto (default) or off, as for attach\n"
	      "  -v, --verbose         report what is done\n"
	      "  -h, --help            this text\n",
	      out);
}

/*
 * On the chroot path the command inherits the session process's seccomp filter
 * and security label, which nothing here can shed: asking to is refused, with
 * the relay's words (src/relay/agent.c), rather than ignored. Without a filter
 * or label there is nothing to keep, and "off" is what happens anyway.
 */
static int refuse_relaxing(const struct target_opts *t)
{
	char label[256];
	int self, kind, r;

	if (!t->copy_seccomp) {
		r = prctl(PR_GET_SECCOMP, 0, 0, 0, 0);
		/* A filter may deny prctl itself; EINVAL: no seccomp in this kernel. */
		if (r == 2 || (r < 0 && errno != EINVAL))
			return log_error("exec: --seccomp off is not allowed inside a session "
					 "attached with --seccomp auto");
	}
	if (!t->apply_lsm) {
		self = open("/proc/self", O_PATH | O_DIRECTORY | O_CLOEXEC);
		kind = self < 0 ? LSM_NONE : lsm_read_label(self, label, sizeof(label));
		if (self >= 0)
			close(self);
		if (kind != LSM_NONE)
			return log_error("exec: --apparmor off is not allowed inside a session "
					 "attached with --apparmor auto");
	}
	return 0;
}

/*
 * Inside an attach session: the container's root is mounted at the base
 * directory. A session without CAP_SYS_CHROOT asks the host's cntr instead.
 */
static int exec_in_session(const struct target_opts *t)
{
	char **argv = t->argv;
	const char *pid = getenv("CNTR_TARGET_PID"), *base = getenv("CNTR_BASE_DIR");
	char *default_argv[] = { "/bin/sh", NULL };
	char path[64], *environ_text, **env;
	size_t len = 0;
	int r;

	if (!pid) {
		log_error("exec: no TARGET given, and this is not a cntr attach session");
		return 2;
	}
	if (!base || !*base)
		base = "/var/lib/cntr";
	if (refuse_relaxing(t) < 0)
		return 1;
	snprintf(path, sizeof(path), "/proc/%s/environ", pid);
	environ_text = read_file_alloc(AT_FDCWD, path, &len);
	if (!environ_text) {
		log_errno(errno, "exec: the attached process %s is gone", pid);
		return LAUNCH_EXIT_FAILURE;
	}
	r = chroot(base);
	if (r < 0 && errno == EPERM && relay_client_available()) {
		free(environ_text);
		return relay_client_run(NULL, t->apply_lsm, t->copy_seccomp, argv);
	}
	if (r < 0 || chdir("/") < 0) {
		log_errno(errno, "exec: cannot enter the container root %s%s", base,
			  errno == EPERM ? " (the session lacks CAP_SYS_CHROOT; run 'cntr exec "
					   "TARGET' on the host)"
					 : "");
		free(environ_text);
		return LAUNCH_EXIT_FAILURE;
	}
	{
		const char *fallback[] = { "PATH=" ENV_DEFAULT_PATH, NULL };

		env = env_build(environ_text, len, false, NULL, fallback);
	}
	free(environ_text);
	if (!env)
		return LAUNCH_EXIT_FAILURE;
	if (!argv)
		argv = default_argv;
	environ = env;
	execvp(argv[0], argv);
	log_errno(errno, "exec: cannot run %s", argv[0]);
	return errno == ENOENT ? 127 : 126;
}

int cmd_exec(int argc, char **argv)
{
	struct target_opts t;
	struct context ctx;
	struct launch l = { .mode = LAUNCH_EXEC };
	int r;

	r = target_opts_parse(&t, argc, argv, "exec", usage);
	if (r != 0)
		return r > 0 ? 0 : 2;
	/* No fd of our caller may reach the container; in a session, the relay stays. */
	close_fds_except(relay_client_fd(), t.pidfd);
	if (!t.target)
		return exec_in_session(&t);
	/* In a session the host's engines and /proc are out of reach: H resolves TARGET. */
	if (relay_client_available())
		return relay_client_run(t.target, t.apply_lsm, t.copy_seccomp, t.argv);
	if (geteuid() != 0) {
		log_error("exec: must be run as root");
		return 1;
	}
	if (target_opts_load(&t, &ctx) < 0)
		return 1;
	if (context_is_host_process(&ctx))
		log_warn("process %d is not in a container: running in the host's namespaces",
			 (int)ctx.pid);
	l.ctx = &ctx;
	l.argv = t.argv;
	l.apply_lsm = t.apply_lsm;
	l.seccomp = t.seccomp.n ? &t.seccomp : NULL;
	r = launch_run(&l);
	target_opts_free(&t, &ctx);
	return r;
}
