/*
 * nspawn: a machine by name. With machined, `machinectl show -p Leader`;
 * without it (nspawn --register=no, or no systemd as PID 1) the running
 * systemd-nspawn whose -M name (or -D/-i basename) matches, and its child in a
 * new pid namespace, which is the container's PID 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "target/resolvers.h"
#include "util/file.h"
#include "util/log.h"
#include "util/parse.h"
#include "util/run.h"

/* nspawn's short options that take a value (systemd 252: "+hD:u:abL:M:jS:Z:qi:xp:nUE:P"). */
static const char short_with_value[] = "DuLMSZipE";

/* Its long options with a required value, which may come as the next argument. */
static const char *const long_with_value[] = { "settings",
					       "directory",
					       "template",
					       "image",
					       "oci-bundle",
					       "root-hash",
					       "root-hash-sig",
					       "verity-data",
					       "pivot-root",
					       "chdir",
					       "setenv",
					       "user",
					       "kill-signal",
					       "notify-ready",
					       "suppress-sync",
					       "machine",
					       "hostname",
					       "uuid",
					       "slice",
					       "property",
					       "register",
					       "private-users-ownership",
					       "network-interface",
					       "network-macvlan",
					       "network-ipvlan",
					       "network-veth-extra",
					       "network-bridge",
					       "network-zone",
					       "network-namespace-path",
					       "port",
					       "capability",
					       "drop-capability",
					       "ambient-capability",
					       "system-call-filter",
					       "selinux-context",
					       "selinux-apifs-context",
					       "rlimit",
					       "oom-score-adjust",
					       "cpu-affinity",
					       "personality",
					       "resolv-conf",
					       "timezone",
					       "link-journal",
					       "bind",
					       "bind-ro",
					       "inaccessible",
					       "tmpfs",
					       "overlay",
					       "overlay-ro",
					       "bind-user",
					       "console",
					       "set-credential",
					       "load-credential",
					       "image-policy",
					       NULL };

static bool long_takes_value(const char *opt, size_t len)
{
	for (int i = 0; long_with_value[i]; i++)
		if (strlen(long_with_value[i]) == len && !strncmp(long_with_value[i], opt, len))
			return true;
	return false;
}

/* Where the machine name comes from, in nspawn's order of preference. */
struct names {
	const char *machine, *directory, *image;
};

static void take(struct names *nm, const char *opt, size_t len, const char *value)
{
	if ((len == 1 && *opt == 'M') || (len == 7 && !strncmp(opt, "machine", 7)))
		nm->machine = value;
	else if ((len == 1 && *opt == 'D') || (len == 9 && !strncmp(opt, "directory", 9)))
		nm->directory = value;
	else if ((len == 1 && *opt == 'i') || (len == 5 && !strncmp(opt, "image", 5)))
		nm->image = value;
}

/* Walks the options as getopt would, up to "--" or the first non-option (the command). */
static void scan_options(const char *const *args, int n, struct names *nm)
{
	for (int i = 1; i < n; i++) {
		const char *a = args[i];

		if (!strcmp(a, "--") || a[0] != '-' || !a[1])
			return;
		if (a[1] == '-') {
			const char *opt = a + 2, *eq = strchr(opt, '=');
			size_t len = eq ? (size_t)(eq - opt) : strlen(opt);

			if (eq)
				take(nm, opt, len, eq + 1);
			else if (long_takes_value(opt, len) && i + 1 < n)
				take(nm, opt, len, args[++i]);
			continue;
		}
		/* A cluster such as -qM name or -Mname. */
		for (const char *c = a + 1; *c; c++) {
			if (!strchr(short_with_value, *c))
				continue;
			if (c[1])
				take(nm, c, 1, c + 1);
			else if (i + 1 < n)
				take(nm, c, 1, args[++i]);
			break;
		}
	}
}

static void basename_into(const char *path, const char *strip, char *out, size_t size)
{
	size_t len = strlen(path), slen = strlen(strip);
	const char *base;

	while (len > 1 && path[len - 1] == '/')
		len--;
	base = path + len;
	while (base > path && base[-1] != '/')
		base--;
	len -= (size_t)(base - path);
	if (slen && len > slen && !strncmp(base + len - slen, strip, slen))
		len -= slen;
	snprintf(out, size, "%.*s", (int)len, base);
}

int nspawn_machine_name(const char *cmdline, size_t len, char *name, size_t size)
{
	const char *args[256];
	struct names nm = { NULL, NULL, NULL };
	int n = 0;

	for (size_t off = 0; off < len && n < 256; off += strlen(cmdline + off) + 1)
		args[n++] = cmdline + off;
	scan_options(args, n, &nm);
	if (nm.machine && *nm.machine)
		snprintf(name, size, "%s", nm.machine);
	else if (nm.directory && *nm.directory)
		basename_into(nm.directory, "", name, size);
	else if (nm.image && *nm.image)
		basename_into(nm.image, ".raw", name, size);
	else
		return -ENOENT;
	return *name ? 0 : -ENOENT;
}

/* machined knows the leader when nspawn registered the machine there. */
static int via_machined(const char *name, struct target_hit *hit)
{
	char *argv[] = { "machinectl", "show", "--property=Leader", "--", (char *)name, NULL };
	char tool[PATH_MAX], leader[32];
	struct run_result r;
	uint64_t v;
	int ret;

	if (access("/run/systemd/machines", F_OK) < 0 ||
	    run_find_tool("machinectl", tool, sizeof(tool)) < 0)
		return -ENOENT;
	if (run_capture(argv, RUN_TIMEOUT_MS, &r) < 0)
		return -ENOENT;
	ret = run_succeeded(&r) && !strncmp(r.out, "Leader=", 7) ? 0 : -ENOENT;
	if (ret == 0)
		snprintf(leader, sizeof(leader), "%.*s", (int)strcspn(r.out + 7, "\n"), r.out + 7);
	run_result_free(&r);
	if (ret < 0 || parse_uint(leader, 1, 4194304, &v) < 0)
		return -ENOENT;
	hit->pid = (pid_t)v;
	hit->exact = true;
	log_info("nspawn: machined says machine %s has leader %d", name, (int)hit->pid);
	return 0;
}

static bool same_ns(pid_t a, pid_t b, const char *ns)
{
	char pa[64], pb[64], la[64], lb[64];
	ssize_t na, nb;

	snprintf(pa, sizeof(pa), "/proc/%d/ns/%s", (int)a, ns);
	snprintf(pb, sizeof(pb), "/proc/%d/ns/%s", (int)b, ns);
	na = readlink(pa, la, sizeof(la));
	nb = readlink(pb, lb, sizeof(lb));
	return na > 0 && na == nb && !memcmp(la, lb, (size_t)na);
}

static bool is_machine(pid_t pid, const char *name)
{
	char path[64], machine[256];
	size_t len = 0;
	char *cmdline;
	bool yes;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	cmdline = read_file_alloc(AT_FDCWD, path, &len);
	if (!cmdline)
		return false;
	yes = nspawn_machine_name(cmdline, len, machine, sizeof(machine)) == 0 &&
	      !strcmp(machine, name);
	free(cmdline);
	return yes;
}

static int from_proc(const char *name, struct target_hit *hit)
{
	struct proc_info pi;
	pid_t *pids, nspawn = 0, payload = 0;
	int n = proc_pids(&pids), found = 0;

	if (n < 0)
		return target_fail(hit, n, "cannot list /proc: %s", strerror(-n));
	for (int i = 0; i < n; i++)
		if (proc_info_read(pids[i], &pi) == 0 && !strcmp(pi.comm, "systemd-nspawn") &&
		    pi.state != 'Z' && is_machine(pids[i], name)) {
			nspawn = pids[i];
			found++;
		}
	/* Its child in a new pid namespace; another child is nspawn still setting up. */
	for (int i = 0; found == 1 && i < n; i++)
		if (proc_info_read(pids[i], &pi) == 0 && pi.ppid == nspawn && pi.state != 'Z' &&
		    !same_ns(pids[i], nspawn, "pid"))
			payload = pids[i];
	free(pids);
	if (found > 1)
		return target_fail(hit, -ENOTUNIQ, "%d systemd-nspawn processes run machine %s",
				   found, name);
	if (found && !payload)
		return target_fail(hit, -ESRCH, "machine %s is starting or stopping", name);
	if (!found)
		return -ENOENT;
	log_info("nspawn: machine %s is run by systemd-nspawn %d, container pid %d", name,
		 (int)nspawn, (int)payload);
	hit->pid = payload;
	hit->exact = true;
	return 0;
}

int target_nspawn(const char *name, struct target_hit *hit)
{
	char path[PATH_MAX];
	int r;

	if (strchr(name, '/'))
		return target_fail(hit, -ENOENT, "not a machine name");
	if (via_machined(name, hit) == 0)
		return 0;
	r = from_proc(name, hit);
	if (r != -ENOENT)
		return r;
	/* An image that exists but runs nowhere is a stopped machine. */
	snprintf(path, sizeof(path), "/var/lib/machines/%s", name);
	if (access(path, F_OK) == 0)
		return target_fail(hit, -ESRCH, "machine %s is not running", name);
	snprintf(path, sizeof(path), "/var/lib/machines/%s.raw", name);
	if (access(path, F_OK) == 0)
		return target_fail(hit, -ESRCH, "machine %s is not running", name);
	return target_fail(hit, -ENOENT, "no such machine");
}
