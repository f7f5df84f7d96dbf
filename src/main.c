/* cntr: attach debugging tools to running containers. Subcommand dispatch. */
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "relay/relay.h"
#include "util/log.h"

static void usage(FILE *out)
{
	fputs("Usage: cntr COMMAND [ARGS...]\n\n"
	      "Commands:\n"
	      "  attach TARGET   a shell in TARGET's container with this host's tools\n"
	      "  exec TARGET     a command in TARGET's container with its own root\n"
	      "  mount SRC MNT   serve directory SRC at MNT through CntrFS (FUSE pass-through)\n"
	      "  version         print the version\n"
	      "  help            this text\n\n"
	      "'cntr COMMAND --help' describes each command.\n",
	      out);
}

/*
 * A caller may start us with stdin, stdout or stderr closed: the next fd we
 * open (/dev/fuse, a namespace) would then sit there and be handed to the
 * session as its stdio. /dev/null takes their place.
 */
static void open_missing_stdio(void)
{
	for (int fd = 0; fd < 3; fd++) {
		int null;

		if (fcntl(fd, F_GETFD) >= 0)
			continue;
		null = open("/dev/null", O_RDWR);
		if (null >= 0 && null != fd) {
			dup2(null, fd);
			close(null);
		}
	}
}

int main(int argc, char **argv)
{
	const char *self = argc > 0 ? basename(argv[0]) : "cntr";
	const char *cmd;

	open_missing_stdio();
	/* mount(8) runs /sbin/mount.fuse.cntrfs SRC MNT [-o OPTS] for fuse.cntrfs. */
	if (!strcmp(self, "mount.fuse.cntrfs"))
		return cmd_mount(argc, argv, 1);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	cmd = argv[1];
	if (!strcmp(cmd, "attach"))
		return cmd_attach(argc - 1, argv + 1);
	if (!strcmp(cmd, "exec"))
		return cmd_exec(argc - 1, argv + 1);
	if (!strcmp(cmd, "__exec-relay"))
		return cmd_exec_relay(argc - 1, argv + 1);
	if (!strcmp(cmd, "mount"))
		return cmd_mount(argc - 1, argv + 1, 0);
	if (!strcmp(cmd, "version") || !strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
		printf("cntr %s\n", CNTR_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
		usage(stdout);
		return 0;
	}
	log_error("unknown command '%s' (see 'cntr help')", cmd);
	return 2;
}
