#include "cmd/target_opts.h"

#include <errno.h>
#include <getopt.h>
#include <string.h>

#include "target/target.h"
#include "util/log.h"

int target_opts_parse(struct target_opts *t, int argc, char **argv, const char *cmd,
		      void (*usage)(FILE *))
{
	static const struct option longopts[] = {
		{ "apparmor", required_argument, NULL, 'a' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	memset(t, 0, sizeof(*t));
	t->apply_lsm = true;
	optind = 1;
	opterr = 0;
	/* '+': stop at TARGET, so the command's own options are left alone. */
	while ((c = getopt_long(argc, argv, "+:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'a':
			if (!strcmp(optarg, "auto"))
				t->apply_lsm = true;
			else if (!strcmp(optarg, "off"))
				t->apply_lsm = false;
			else
				return log_error("%s: --apparmor takes auto or off, not '%s'", cmd,
						 optarg),
				       -EINVAL;
			break;
		case 'v':
			log_verbose = true;
			break;
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
	if (optind < argc && strcmp(argv[optind], "--") != 0 && strcmp(argv[optind - 1], "--") != 0)
		t->target = argv[optind++];
	if (optind < argc && !strcmp(argv[optind], "--"))
		optind++;
	else if (optind < argc) {
		log_error("%s: unexpected '%s': put the command after '--'", cmd, argv[optind]);
		return -EINVAL;
	}
	if (optind < argc)
		t->argv = argv + optind;
	return 0;
}

int target_opts_load(const struct target_opts *t, struct context *ctx)
{
	pid_t pid;
	int r;

	if (!t->target)
		return log_errno(EINVAL, "no TARGET given");
	r = target_resolve_pid(t->target, &pid);
	if (r < 0)
		return r;
	return context_load(ctx, pid);
}
