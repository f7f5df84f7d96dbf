/* cntr attach TARGET [-- CMD...]: a shell in the container with the fat side's tools. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/target_opts.h"
#include "cntrfs/fs.h"
#include "context.h"
#include "fuse/mount.h"
#include "identity.h"
#include "launch.h"
#include "relay/relay.h"
#include "util/file.h"
#include "util/log.h"

#define DEFAULT_BASE "/var/lib/cntr"

static void usage(FILE *out)
{
	fputs("Usage: cntr attach [OPTIONS] TARGET [-- COMMAND [ARGS...]]\n"
	      "Run COMMAND (default: $SHELL -l) inside the container of TARGET, with this host's\n"
	      "tools at / and the container's root at $CNTR_BASE_DIR (default " DEFAULT_BASE
	      ").\n\n"
	      "  TARGET                a container name or id, or a process id\n"
	      "  -t, --type TYPES      how to read TARGET, a comma list of: process_id, docker,\n"
	      "                        podman, containerd, lxc, lxd, nspawn, kubernetes\n"
	      "                        ([ns/]pod/container or a CRI id), command (the oldest\n"
	      "                        process whose command line contains TARGET). Default:\n"
	      "                        a numeric TARGET as a pid (refused if an engine has a\n"
	      "                        container of that name), then every installed engine\n"
	      "                        in that order: the first exact name wins, else the\n"
	      "                        first id prefix\n"
	      "      --apparmor MODE   auto (default): run under the target's AppArmor/SELinux\n"
	      "                        label when it has one; off: keep ours\n"
	      "      --seccomp MODE    auto (default): copy the target's seccomp filter; off\n"
	      "      --backend B       cntrfs: the fat view through CntrFS (FUSE); bind: bind\n"
	      "                        mounts; auto (default): bind unless the target is in\n"
	      "                        a user namespace or the kernel lacks the mount API\n"
	      "      --map-host-root   for a user-namespaced target, let container root act\n"
	      "                        as the fat side's root on its files (idmapped bind\n"
	      "                        mounts, or CntrFS through the id map); whatever\n"
	      "                        reaches the session then has host root's access to\n"
	      "                        the fat side. Without it the container's ids act as\n"
	      "                        the host ids they are\n"
	      "  -v, --verbose         report what is done\n"
	      "  -h, --help            this text\n",
	      out);
}

/* The base directory must exist in the fat view: create it on the host if missing. */
static int ensure_base(const char *base)
{
	char path[4096];
	struct stat st;

	snprintf(path, sizeof(path), "%s", base);
	for (char *p = path + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char saved = *p;

			*p = '\0';
			if (mkdir(path, 0755) < 0 && errno != EEXIST)
				return log_errno(errno, "creating base directory %s", path);
			*p = saved;
			if (!saved)
				break;
		}
	}
	if (stat(base, &st) < 0 || !S_ISDIR(st.st_mode))
		return log_errno(ENOTDIR, "base directory %s", base);
	return 0;
}

/* The rule for --backend auto; see the README. */
static enum launch_backend choose_backend(const char *wanted, const struct context *ctx)
{
	int probe;

	if (!strcmp(wanted, "cntrfs"))
		return BACKEND_CNTRFS;
	if (!strcmp(wanted, "bind"))
		return BACKEND_BIND;
	/* User namespaces: CntrFS shifts ids on any filesystem; idmapping needs support. */
	if (ctx->userns)
		return BACKEND_CNTRFS;
	probe = open_tree(AT_FDCWD, "/", OPEN_TREE_CLOEXEC);
	if (probe < 0)
		return BACKEND_CNTRFS; /* no mount API (ENOSYS) or filtered (EPERM) */
	close(probe);
	return BACKEND_BIND;
}

/*
 * The files the session takes from the container (src/mountns.c binds them);
 * where the container has none, the session keeps the host's. Said once, with -v.
 */
static void report_missing_files(pid_t pid)
{
	static const char *const files[] = { "etc/passwd",	"etc/group",	"etc/hosts",
					     "etc/resolv.conf", "etc/hostname", "etc/localtime" };
	char path[64], missing[256] = "";
	int root;

	if (!log_verbose)
		return;
	snprintf(path, sizeof(path), "/proc/%d/root", (int)pid);
	root = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return;
	for (size_t k = 0; k < sizeof(files) / sizeof(files[0]); k++) {
		struct open_how how = { .flags = O_PATH | O_CLOEXEC,
					.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
		int fd = (int)syscall(SYS_openat2, root, files[k], &how, sizeof(how));

		if (fd >= 0)
			close(fd);
		else if (errno == ENOENT)
			snprintf(missing + strlen(missing), sizeof(missing) - strlen(missing),
				 ", /%s", files[k]);
	}
	close(root);
	if (missing[0])
		log_info("the container has no %s: the session sees the host's", missing + 2);
}

int cmd_attach(int argc, char **argv)
{
	struct target_opts t;
	struct context ctx;
	struct cntrfs fs;
	struct cntrfs_config cfg;
	struct launch l = { .mode = LAUNCH_ATTACH, .fsname = "cntr" };
	struct relay_target rt;
	const char *base = getenv("CNTR_BASE_DIR");
	int r, status;

	/* No fd of our caller may reach the container (its processes can see the session). */
	close_fds_except(-1, -1);
	r = target_opts_parse(&t, argc, argv, "attach", usage);
	if (r != 0)
		return r > 0 ? 0 : 2;
	if (!t.target) {
		log_error("attach: no TARGET given (see 'cntr attach --help')");
		return 2;
	}
	if (geteuid() != 0) {
		log_error("attach: must be run as root");
		return 1;
	}
	if (!base || !*base)
		base = DEFAULT_BASE;
	if (base[0] != '/') {
		log_error("CNTR_BASE_DIR must be an absolute path, not '%s'", base);
		return 1;
	}
	if (target_opts_load(&t, &ctx) < 0)
		return 1;
	/* Only now: a failed attach leaves nothing behind, not even the directory. */
	if (ensure_base(base) < 0) {
		target_opts_free(&t, &ctx);
		return 1;
	}
	report_missing_files(ctx.pid);
	if (context_is_host_process(&ctx))
		log_warn("process %d is not in a container: attaching to the host's namespaces",
			 (int)ctx.pid);

	rt = (struct relay_target){ .name = t.target,
				    .pidfd = t.pidfd,
				    .pid = ctx.pid,
				    .local_pid = ctx.status.local_pid,
				    .apply_lsm = t.apply_lsm,
				    .copy_seccomp = t.copy_seccomp };
	l.relay = &rt;
	l.backend = choose_backend(t.backend, &ctx);
	log_info("back end: %s", l.backend == BACKEND_BIND ? "bind" : "cntrfs");
	if (identity_guard_cap(&ctx) < 0)
		log_info("no guard capability: the target holds them all, so its container can "
			 "reach the session's processes");
	else
		log_info("guard capability: %d", identity_guard_cap(&ctx));
	l.map_host_root = t.map_host_root;
	if (ctx.userns)
		log_info("container root acts on the fat side's files as %s",
			 t.map_host_root ? "its root (--map-host-root)" : "the host id it is");
	if (l.backend == BACKEND_BIND) {
		l.ctx = &ctx;
		l.argv = t.argv;
		l.base = base;
		l.apply_lsm = t.apply_lsm;
		l.seccomp = t.seccomp.n ? &t.seccomp : NULL;
		l.fuse_fd = -1;
		status = launch_run(&l);
		target_opts_free(&t, &ctx);
		return status;
	}
	cntrfs_config_defaults(&cfg);
	if (ctx.userns && t.map_host_root) {
		/*
		 * Host root's files show as the container's root, and container root
		 * acts as host root on them. Without it, ids are the host's: the kernel
		 * checks the container's requests as those of the host ids they are.
		 */
		cfg.uid_map = ctx.uid_map;
		cfg.gid_map = ctx.gid_map;
	}
	l.fuse_fd = fuse_open_dev();
	if (l.fuse_fd < 0) {
		target_opts_free(&t, &ctx);
		return 1;
	}
	if (cntrfs_init(&fs, "/", &cfg) < 0) {
		close(l.fuse_fd);
		target_opts_free(&t, &ctx);
		return 1;
	}
	l.ctx = &ctx;
	l.argv = t.argv;
	l.base = base;
	l.apply_lsm = t.apply_lsm;
	l.seccomp = t.seccomp.n ? &t.seccomp : NULL;
	l.fs = &fs;
	status = launch_run(&l);
	/* Exiting closes /dev/fuse: the kernel aborts the connection. */
	fflush(NULL);
	_exit(status);
}
