/* Parsers for the /proc-based types: nspawn command lines, /proc/PID/stat, command match. */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "target/resolvers.h"

/* A cmdline literal: arguments separated by NULs (sizeof includes the last NUL). */
#define NAME_OF(lit, out) nspawn_machine_name(lit, sizeof(lit), out, sizeof(out))

static void test_nspawn(void)
{
	char n[64];

	CHECK_EQ(NAME_OF("systemd-nspawn\0--quiet\0--register=no\0--keep-unit\0--console=pipe\0"
			 "--private-network\0-M\0cntr-test-nspawn\0-D\0/var/lib/machines/"
			 "cntr-test-nspawn\0/sbin/cntr-test-init",
			 n),
		 0);
	CHECK(!strcmp(n, "cntr-test-nspawn"));
	CHECK_EQ(NAME_OF("systemd-nspawn\0--machine=web\0-D\0/srv/x", n), 0);
	CHECK(!strcmp(n, "web"));
	CHECK_EQ(NAME_OF("systemd-nspawn\0--machine\0web\0-b", n), 0);
	CHECK(!strcmp(n, "web"));
	CHECK_EQ(NAME_OF("systemd-nspawn\0-qMweb\0-b", n), 0); /* clustered short options */
	CHECK(!strcmp(n, "web"));
	CHECK_EQ(NAME_OF("systemd-nspawn\0-qb\0-M\0web", n), 0);
	CHECK(!strcmp(n, "web"));
	/* no -M: the directory's basename, trailing slashes ignored */
	CHECK_EQ(NAME_OF("systemd-nspawn\0-D\0/var/lib/machines/debian/\0-b", n), 0);
	CHECK(!strcmp(n, "debian"));
	CHECK_EQ(NAME_OF("systemd-nspawn\0--directory=/srv/fedora\0/bin/sh", n), 0);
	CHECK(!strcmp(n, "fedora"));
	/* an image: its basename without .raw */
	CHECK_EQ(NAME_OF("systemd-nspawn\0-i\0/var/lib/machines/arch.raw\0-b", n), 0);
	CHECK(!strcmp(n, "arch"));
	/* the values of other options are not taken for options */
	CHECK_EQ(NAME_OF("systemd-nspawn\0--bind\0-M\0-D\0/srv/real", n), 0);
	CHECK(!strcmp(n, "real"));
	CHECK_EQ(NAME_OF("systemd-nspawn\0-u\0-M\0-D\0/srv/real", n), 0);
	CHECK(!strcmp(n, "real"));
	/* the container's own arguments after the command or "--" do not count */
	CHECK_EQ(NAME_OF("systemd-nspawn\0-D\0/srv/a\0/usr/sbin/sshd\0-D\0-M\0x", n), 0);
	CHECK(!strcmp(n, "a"));
	CHECK_EQ(NAME_OF("systemd-nspawn\0-D\0/srv/a\0--\0-M\0x", n), 0);
	CHECK(!strcmp(n, "a"));
	CHECK_EQ(NAME_OF("systemd-nspawn\0-b", n), -ENOENT);
	CHECK_EQ(NAME_OF("systemd-nspawn\0-M", n), -ENOENT); /* value missing */
}

static void test_stat(void)
{
	struct proc_info p;

	CHECK_EQ(proc_stat_parse("16659 (systemd-nspawn) S 1 16659 16659 0 -1 4194560 1015 0 0 0 "
				 "2 3 0 0 20 0 1 0 1234567 26411008 1234 18446744073709551615 "
				 "1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0\n",
				 &p),
		 0);
	CHECK_EQ(p.pid, 16659);
	CHECK_EQ(p.ppid, 1);
	CHECK_EQ(p.state, 'S');
	CHECK_EQ(p.start, 1234567);
	CHECK(!strcmp(p.comm, "systemd-nspawn"));
	/* comm with spaces and parentheses ends at the last ')' */
	CHECK_EQ(
		proc_stat_parse("7 (a) b (c) Z 5 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99 0 0\n", &p),
		0);
	CHECK(!strcmp(p.comm, "a) b (c"));
	CHECK_EQ(p.state, 'Z');
	CHECK_EQ(p.ppid, 5);
	CHECK_EQ(p.start, 99);
	CHECK_EQ(proc_stat_parse("7 (x) S 5 7\n", &p), -EINVAL); /* truncated */
	CHECK_EQ(proc_stat_parse("", &p), -EINVAL);
	CHECK_EQ(proc_stat_parse("x (y) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 9 0\n", &p),
		 -EINVAL);
}

#define MATCH(lit, pat) cmdline_matches(lit, sizeof(lit) - 1, pat)

static void test_cmdline(void)
{
	CHECK(MATCH("nginx: master process\0", "nginx"));
	CHECK(MATCH("/usr/bin/python3\0-m\0http.server\0", "-m http.server"));
	CHECK(MATCH("sleep\0001000\0", "sleep 1000"));
	CHECK(!MATCH("sleep\0001000\0", "sleep 10000"));
	CHECK(!MATCH("sleep\0", "sleepy"));
	CHECK(!MATCH("sleep\0", ""));
	CHECK(!cmdline_matches("", 0, "x"));
}

int main(void)
{
	test_nspawn();
	test_stat();
	test_cmdline();
	return CHECK_DONE();
}
