/* cntr mount SRC MNT: serve SRC through CntrFS at MNT. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cntrfs/fs.h"
#include "fuse/mount.h"
#include "fuse/reply.h"
#include "idmap_tree.h"
#include "util/file.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/options.h"
#include "util/parse.h"

struct mount_args {
	struct cntrfs_config cfg;
	struct fuse_mount_opts mnt;
	char fsname[256], subtype[64];
	bool foreground;
	const char *src, *dst;
};

static void usage(FILE *out)
{
	fputs("Usage: cntr mount [OPTIONS] SRC MNT\n"
	      "Serve directory SRC at MNT through CntrFS, a FUSE pass-through filesystem.\n\n"
	      "  -f, --foreground          serve in the foreground (default: detach once mounted)\n"
	      "  -o OPT[,OPT...]           fsname=, subtype=, ro, rw, nosuid, nodev, noexec,\n"
	      "                            noatime, and every long option below as key[=value]\n"
	      "      --threads N           worker threads (default: number of CPUs)\n"
	      "      --uid-map MAP         shift user ids: INSIDE:OUTSIDE:COUNT[,...]\n"
	      "      --gid-map MAP         shift group ids, same format\n"
	      "      --attr-timeout S      attribute cache timeout in seconds (default 1)\n"
	      "      --entry-timeout S     name cache timeout (default 1)\n"
	      "      --negative-timeout S  cache of absent names (default 1)\n"
	      "      --no-passthrough      serve file data here, not by kernel passthrough\n"
	      "      --writeback           writeback cache (turns passthrough off)\n"
	      "      --no-keep-cache       drop cached file data on every open\n"
	      "      --no-readdirplus      plain readdir\n"
	      "      --no-opendir          list directories without OPENDIR, and let the kernel\n"
	      "                            cache listings (a listing can then miss a name\n"
	      "                            created while another process was listing)\n"
	      "      --no-parallel-dirops  serialise lookups and readdir per directory\n"
	      "      --no-posix-acl        do not enforce POSIX ACLs in the kernel\n"
	      "      --no-killpriv         let the kernel clear setuid bits (asks for\n"
	      "                            security.capability before writes)\n"
	      "      --no-io-uring         /dev/fuse only, even if the kernel offers io_uring\n"
	      "      --no-sched-idle       io_uring threads always at normal priority (default:\n"
	      "                            SCHED_IDLE while no request waits for CPU time)\n"
	      "      --stats               count requests per opcode, print them at unmount\n"
	      "  -v, --verbose             report negotiated settings\n"
	      "  -h, --help                this text\n",
	      out);
}

static int bad_value(const char *key, const char *value)
{
	log_error("mount: invalid value for %s: '%s'", key, value ? value : "");
	return -EINVAL;
}

static int set_seconds(double *out, const char *key, const char *value)
{
	return parse_seconds(value, out) < 0 ? bad_value(key, value) : 0;
}

static int set_map(struct idmap *m, const char *key, const char *value)
{
	return !value || idmap_parse(m, value) < 0 ? bad_value(key, value) : 0;
}

/* Options without a value that take none; value != NULL is an error for them. */
static int set_flag(bool *field, bool on, const char *key, const char *value)
{
	if (value)
		return bad_value(key, value);
	*field = on;
	return 0;
}

/* One option, from a long option or an -o item ('-' and '_' are the same). */
static int apply_option(struct mount_args *a, const char *raw_key, const char *value)
{
	char key[64];
	uint64_t n;

	snprintf(key, sizeof(key), "%s", raw_key);
	for (char *p = key; *p; p++)
		if (*p == '-')
			*p = '_';

	if (!strcmp(key, "fsname") || !strcmp(key, "subtype")) {
		if (!value || !*value || strchr(value, ' '))
			return bad_value(key, value);
		if (!strcmp(key, "fsname"))
			return snprintf(a->fsname, sizeof(a->fsname), "%s", value) <
					       (int)sizeof(a->fsname)
				       ? 0
				       : bad_value(key, value);
		return snprintf(a->subtype, sizeof(a->subtype), "%s", value) <
				       (int)sizeof(a->subtype)
			       ? 0
			       : bad_value(key, value);
	}
	if (!strcmp(key, "threads")) {
		if (parse_uint(value, 1, 256, &n) < 0)
			return bad_value(key, value);
		a->cfg.threads = (unsigned)n;
		return 0;
	}
	if (!strcmp(key, "uid_map"))
		return set_map(&a->cfg.uid_map, key, value);
	if (!strcmp(key, "gid_map"))
		return set_map(&a->cfg.gid_map, key, value);
	if (!strcmp(key, "attr_timeout"))
		return set_seconds(&a->cfg.attr_timeout, key, value);
	if (!strcmp(key, "entry_timeout"))
		return set_seconds(&a->cfg.entry_timeout, key, value);
	if (!strcmp(key, "negative_timeout"))
		return set_seconds(&a->cfg.negative_timeout, key, value);

	static const struct {
		const char *key;
		size_t field; /* offset of the bool in struct mount_args */
		bool on;
	} flags[] = {
		{ "ro", offsetof(struct mount_args, mnt.ro), true },
		{ "rw", offsetof(struct mount_args, mnt.ro), false },
		{ "nosuid", offsetof(struct mount_args, mnt.nosuid), true },
		{ "suid", offsetof(struct mount_args, mnt.nosuid), false },
		{ "nodev", offsetof(struct mount_args, mnt.nodev), true },
		{ "dev", offsetof(struct mount_args, mnt.nodev), false },
		{ "noexec", offsetof(struct mount_args, mnt.noexec), true },
		{ "exec", offsetof(struct mount_args, mnt.noexec), false },
		{ "noatime", offsetof(struct mount_args, mnt.noatime), true },
		{ "atime", offsetof(struct mount_args, mnt.noatime), false },
		{ "nodiratime", offsetof(struct mount_args, mnt.nodiratime), true },
		{ "passthrough", offsetof(struct mount_args, cfg.passthrough), true },
		{ "no_passthrough", offsetof(struct mount_args, cfg.passthrough), false },
		{ "writeback", offsetof(struct mount_args, cfg.writeback), true },
		{ "no_writeback", offsetof(struct mount_args, cfg.writeback), false },
		{ "keep_cache", offsetof(struct mount_args, cfg.keep_cache), true },
		{ "no_keep_cache", offsetof(struct mount_args, cfg.keep_cache), false },
		{ "readdirplus", offsetof(struct mount_args, cfg.readdirplus), true },
		{ "no_readdirplus", offsetof(struct mount_args, cfg.readdirplus), false },
		{ "opendir", offsetof(struct mount_args, cfg.opendir), true },
		{ "no_opendir", offsetof(struct mount_args, cfg.opendir), false },
		{ "parallel_dirops", offsetof(struct mount_args, cfg.parallel_dirops), true },
		{ "no_parallel_dirops", offsetof(struct mount_args, cfg.parallel_dirops), false },
		{ "posix_acl", offsetof(struct mount_args, cfg.posix_acl), true },
		{ "no_posix_acl", offsetof(struct mount_args, cfg.posix_acl), false },
		{ "killpriv", offsetof(struct mount_args, cfg.killpriv), true },
		{ "no_killpriv", offsetof(struct mount_args, cfg.killpriv), false },
		{ "io_uring", offsetof(struct mount_args, cfg.io_uring), true },
		{ "no_io_uring", offsetof(struct mount_args, cfg.io_uring), false },
		{ "sched_idle", offsetof(struct mount_args, cfg.sched_idle), true },
		{ "no_sched_idle", offsetof(struct mount_args, cfg.sched_idle), false },
		{ "foreground", offsetof(struct mount_args, foreground), true },
		{ "stats", offsetof(struct mount_args, cfg.stats), true },
	};
	if (!strcmp(key, "verbose")) {
		log_verbose = true;
		return 0;
	}
	for (size_t k = 0; k < ARRAY_SIZE(flags); k++)
		if (!strcmp(key, flags[k].key))
			return set_flag((bool *)((char *)a + flags[k].field), flags[k].on, key,
					value);

	/* Always on, or for mount(8) and fstab only. */
	static const char *const ignored[] = { "allow_other", "default_permissions",
					       "defaults",    "auto",
					       "noauto",      "nofail",
					       "_netdev",     "user",
					       "nouser",      "users",
					       "relatime",    "strictatime",
					       "lazytime" };
	for (size_t k = 0; k < ARRAY_SIZE(ignored); k++)
		if (!strcmp(key, ignored[k]))
			return 0;
	if (!strncmp(key, "x_", 2) || !strncmp(raw_key, "x-", 2) || !strcmp(key, "comment"))
		return 0;
	log_error("mount: unknown option '%s'", raw_key);
	return -EINVAL;
}

static int apply_optlist(struct mount_args *a, const char *list)
{
	_cleanup_free_ char *copy = strdup(list);
	char *cursor = copy, *key, *value;

	if (!copy)
		return -ENOMEM;
	while ((key = optlist_next(&cursor, &value)))
		if (apply_option(a, key, value) < 0)
			return -EINVAL;
	return 0;
}

/* Returns 0 to go on, 1 after --help, or -EINVAL. */
static int parse_args(struct mount_args *a, int argc, char **argv, int helper_mode)
{
	static const struct option longopts[] = { { "foreground", no_argument, NULL, 'f' },
						  { "verbose", no_argument, NULL, 'v' },
						  { "help", no_argument, NULL, 'h' },
						  { "threads", required_argument, NULL, 1 },
						  { "uid-map", required_argument, NULL, 1 },
						  { "gid-map", required_argument, NULL, 1 },
						  { "attr-timeout", required_argument, NULL, 1 },
						  { "entry-timeout", required_argument, NULL, 1 },
						  { "negative-timeout", required_argument, NULL,
						    1 },
						  { "no-passthrough", no_argument, NULL, 1 },
						  { "writeback", no_argument, NULL, 1 },
						  { "no-keep-cache", no_argument, NULL, 1 },
						  { "no-readdirplus", no_argument, NULL, 1 },
						  { "no-opendir", no_argument, NULL, 1 },
						  { "no-parallel-dirops", no_argument, NULL, 1 },
						  { "no-posix-acl", no_argument, NULL, 1 },
						  { "no-killpriv", no_argument, NULL, 1 },
						  { "no-io-uring", no_argument, NULL, 1 },
						  { "no-sched-idle", no_argument, NULL, 1 },
						  { "stats", no_argument, NULL, 1 },
						  { 0 } };
	/* mount(8) passes -n (no mtab), -s (sloppy), -v; we accept them as helper. */
	const char *shortopts = helper_mode ? ":fvho:ns" : ":fvho:";
	int c, idx;

	optind = 1;
	opterr = 0;
	for (;;) {
		c = getopt_long(argc, argv, shortopts, longopts, &idx);
		if (c == -1)
			break; /* getopt permutes: mount(8) puts options after the operands */
		switch (c) {
		case 'f':
			a->foreground = true;
			break;
		case 'v':
			log_verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 1;
		case 'o':
			if (apply_optlist(a, optarg) < 0)
				return -EINVAL;
			break;
		case 'n':
		case 's':
			break;
		case 1:
			if (apply_option(a, longopts[idx].name, optarg) < 0)
				return -EINVAL;
			break;
		case ':':
			log_error("mount: option '%s' needs a value", argv[optind - 1]);
			return -EINVAL;
		default:
			log_error("mount: unknown option '%s'", argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (argc - optind != 2) {
		log_error("mount: expected SRC and MNT (see 'cntr mount --help')");
		return -EINVAL;
	}
	a->src = argv[optind];
	a->dst = argv[optind + 1];
	return 0;
}

static int check_mountpoint(const char *dst)
{
	struct stat st;

	if (stat(dst, &st) < 0)
		return log_errno(errno, "mount: %s", dst);
	if (!S_ISDIR(st.st_mode))
		return log_errno(ENOTDIR, "mount: %s", dst);
	return 0;
}

/* In the detached child: the parent learns the outcome through this pipe. */
static void report_ready(int fd, char status)
{
	if (fd < 0)
		return;
	if (write(fd, &status, 1) != 1) {
		/* The parent is gone; nothing to tell. */
	}
	close(fd);
}

static void detach_stdio(void)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (null < 0)
		return;
	dup2(null, STDIN_FILENO);
	dup2(null, STDOUT_FILENO);
	dup2(null, STDERR_FILENO);
	close(null);
}

/* The device of the newest fuse.cntrfs mount at mnt, from mountinfo (stat would ask us). */
static uint64_t mount_device(const char *mnt)
{
	char *info = read_file_alloc(AT_FDCWD, "/proc/self/mountinfo", NULL);
	unsigned major;
	uint64_t dev = 0;
	char *end;

	for (char *line = info, *next; line && *line; line = next) {
		char point[PATH_MAX];

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		/* "ID PARENT MAJOR:MINOR ..." */
		const char *f = strchr(line, ' ');

		f = f ? strchr(f + 1, ' ') : NULL;
		if (!f || mountinfo_mountpoint(line, point, sizeof(point)) < 0 ||
		    strcmp(point, mnt) != 0 || !strstr(line, " - fuse."))
			continue;
		major = (unsigned)strtoul(f + 1, &end, 10);
		if (*end == ':')
			dev = makedev(major, (unsigned)strtoul(end + 1, NULL, 10));
	}
	free(info);
	return dev;
}

static int serve(struct mount_args *a, const char *mnt, int ready_fd)
{
	struct cntrfs fs;
	struct fuse_session se;
	struct fuse_want want;
	sigset_t stop;
	int fd, r;

	fd = fuse_open_dev();
	if (fd < 0)
		return 1;
	if (cntrfs_init(&fs, a->src, &a->cfg) < 0) {
		close(fd);
		return 1;
	}
	a->mnt.fsname = a->fsname[0] ? a->fsname : a->src;
	a->mnt.subtype = a->subtype[0] ? a->subtype : "cntrfs";
	if (fuse_mount_at(fd, &a->mnt, mnt) < 0) {
		close(fd);
		cntrfs_destroy(&fs);
		return 1;
	}
	fs.self_dev = mount_device(mnt);
	/* Stop signals are taken by the session loop, in this thread only. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGHUP);
	sigaddset(&stop, SIGQUIT);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	signal(SIGPIPE, SIG_IGN);

	cntrfs_want(&fs, &want);
	fuse_session_init(&se, fd,
			  a->cfg.threads ? a->cfg.threads : (unsigned)sysconf(_SC_NPROCESSORS_ONLN),
			  cntrfs_session_ops(), &fs, &want);
	if (ready_fd >= 0) {
		report_ready(ready_fd, 0);
		if (!log_verbose)
			detach_stdio();
	}
	r = fuse_session_loop(&se, &stop);
	if (r > 0) {
		/* A stop signal: unmount; exiting closes /dev/fuse, which aborts the connection. */
		log_info("signal %d: unmounting %s", r, mnt);
		fuse_session_print_stats(&se);
		if (umount2(mnt, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
			log_errno(errno, "umount %s", mnt);
		_exit(0);
	}
	fuse_session_print_stats(&se);
	cntrfs_destroy(&fs);
	return r < 0 ? 1 : 0;
}

int cmd_mount(int argc, char **argv, int helper_mode)
{
	struct mount_args a;
	char mnt[PATH_MAX], src[PATH_MAX];
	int pipefd[2], r;
	pid_t pid;
	char status = 1;

	memset(&a, 0, sizeof(a));
	cntrfs_config_defaults(&a.cfg);
	r = parse_args(&a, argc, argv, helper_mode);
	if (r != 0)
		return r > 0 ? 0 : 2;
	if (geteuid() != 0) {
		log_error("mount: must be run as root");
		return 1;
	}
	if (a.cfg.writeback && a.mnt.ro)
		a.cfg.writeback = false;
	a.cfg.ro = a.mnt.ro;
	if (check_mountpoint(a.dst) < 0 || !realpath(a.dst, mnt))
		return 1;
	/* Detaching changes directory: relative paths are resolved now. */
	if (!realpath(a.src, src))
		return log_errno(errno, "mount: %s", a.src), 1;
	a.src = src;
	if (a.foreground)
		return serve(&a, mnt, -1);

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return log_errno(errno, "pipe"), 1;
	pid = fork();
	if (pid < 0)
		return log_errno(errno, "fork"), 1;
	if (pid == 0) {
		close(pipefd[0]);
		setsid();
		if (chdir("/") < 0) {
			/* "/" always exists; keep the old cwd otherwise */
		}
		r = serve(&a, mnt, pipefd[1]);
		report_ready(pipefd[1], 1);
		_exit(r);
	}
	close(pipefd[1]);
	/* 0: mounted and serving; EOF or 1: the child failed and said why. */
	if (read(pipefd[0], &status, 1) != 1)
		status = 1;
	close(pipefd[0]);
	return status == 0 ? 0 : 1;
}
