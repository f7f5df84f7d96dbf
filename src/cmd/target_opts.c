#include "cmd/target_opts.h"

#include <errno.h>
#include <getopt.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "target/target.h"
#include "util/log.h"
#include "util/parse.h"

static int parse_auto_off(const char *cmd, const char *opt, const char *value, bool *on)
{
	if (!strcmp(value, "auto"))
		*on = true;
	else if (!strcmp(value, "off"))
		*on = false;
	else
		return log_error("%s: %s takes auto or off, not '%s'", cmd, opt, value);
	return 0;
}

int target_opts_parse(struct target_opts *t, int argc, char **argv, const char *cmd,
		      void (*usage)(FILE *))
{
	static const struct option longopts[] = {
		{ "type", required_argument, NULL, 't' },
		{ "apparmor", required_argument, NULL, 'a' },
		{ "seccomp", required_argument, NULL, 's' },
		{ "backend", required_argument, NULL, 'b' },
		{ "map-host-root", no_argument, NULL, 'M' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		/* Internal: the exec relay's agent pins its target by pidfd. */
		{ "__pidfd", required_argument, NULL, 'P' },
		{ 0 },
	};
	bool dashdash;
	int c;

	memset(t, 0, sizeof(*t));
	t->apply_lsm = true;
	t->copy_seccomp = true;
	t->backend = "auto";
	t->pidfd = -1;
	optind = 1;
	opterr = 0;
	/* '+': stop at TARGET, so the command's own options are left alone. */
	while ((c = getopt_long(argc, argv, "+:t:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (target_types_check(optarg) < 0)
				return -EINVAL;
			t->types = optarg;
			break;
		case 'a':
			if (parse_auto_off(cmd, "--apparmor", optarg, &t->apply_lsm) < 0)
				return -EINVAL;
			break;
		case 's':
			if (parse_auto_off(cmd, "--seccomp", optarg, &t->copy_seccomp) < 0)
				return -EINVAL;
			break;
		case 'b':
			if (strcmp(optarg, "auto") != 0 && strcmp(optarg, "cntrfs") != 0 &&
			    strcmp(optarg, "bind") != 0)
				return log_error(
					"%s: --backend takes cntrfs, bind or auto, not '%s'", cmd,
					optarg);
			t->backend = optarg;
			break;
		case 'M':
			if (strcmp(cmd, "attach") != 0)
				return log_error("%s: --map-host-root is an option of attach", cmd);
			t->map_host_root = true;
			break;
		case 'v':
			log_verbose = true;
			break;
		case 'P': {
			uint64_t fd;

			if (parse_uint(optarg, 3, 1 << 20, &fd) < 0)
				return log_error("%s: bad pidfd '%s'", cmd, optarg);
			t->pidfd = (int)fd;
			break;
		}
		case 'h':
			usage(stdout);
			return 1;
		case ':':
			log_error("%s: option '%s' needs a value", cmd, argv[optind - 1]);
			return -EINVAL;
		default:
			log_error("%s: unknown option '%s' (see 'cntr %s --help')", cmd,
				  argv[optind - 1], cmd);
			return -EINVAL;
		}
	}
	/* getopt consumes a "--" that comes before TARGET: then there is none. */
	dashdash = optind > 1 && !strcmp(argv[optind - 1], "--");
	if (!dashdash && optind < argc && strcmp(argv[optind], "--") != 0)
		t->target = argv[optind++];
	if (!dashdash && optind < argc) {
		if (strcmp(argv[optind], "--") != 0) {
			log_error("%s: unexpected '%s': put the command after '--'", cmd,
				  argv[optind]);
			return -EINVAL;
		}
		optind++;
	}
	if (optind < argc)
		t->argv = argv + optind;
	return 0;
}

int target_opts_load(struct target_opts *t, struct context *ctx)
{
	pid_t pid;
	int r;

	if (!t->target)
		return log_errno(EINVAL, "no TARGET given");
	r = target_resolve(t->target, t->types, &pid);
	if (r < 0)
		return r;
	/* From here on the target is held: a pid reused by another process is not it. */
	if (t->pidfd < 0 && (t->pidfd = (int)syscall(SYS_pidfd_open, pid, 0)) < 0)
		return log_errno(errno, "no process with pid %d", (int)pid);
	r = context_load(ctx, pid, t->pidfd);
	if (r < 0)
		return r;
	if (t->copy_seccomp && ctx->status.seccomp == 2) {
		r = seccomp_copy(pid, &t->seccomp);
		if (r < 0) {
			context_free(ctx);
			return r;
		}
		log_info("copied %d seccomp filter(s) of process %d", t->seccomp.n, (int)pid);
	}
	return 0;
}

void target_opts_free(struct target_opts *t, struct context *ctx)
{
	seccomp_free(&t->seccomp);
	context_free(ctx);
	if (t->pidfd >= 0)
		close(t->pidfd);
	t->pidfd = -1;
}
