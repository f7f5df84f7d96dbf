#include "context.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lsm.h"
#include "util/file.h"
#include "util/log.h"

const char *const ns_names[NS_COUNT] = {
	"user", "mnt", "uts", "ipc", "net", "cgroup", "pid", "time"
};

/* The text after "\nKey:" up to the end of its line, or NULL. */
static const char *field(const char *text, const char *key)
{
	size_t klen = strlen(key);

	for (const char *p = text; p; p = strchr(p, '\n')) {
		if (*p == '\n')
			p++;
		if (!strncmp(p, key, klen) && p[klen] == ':') {
			p += klen + 1;
			while (*p == ' ' || *p == '\t')
				p++;
			return p;
		}
	}
	return NULL;
}

static int parse_hex(const char *text, const char *key, uint64_t *out)
{
	const char *p = field(text, key);
	char *end;

	if (!p)
		return -EINVAL;
	*out = strtoull(p, &end, 16);
	return end == p ? -EINVAL : 0;
}

/* The second number of "Uid:\treal\teffective\tsaved\tfs". */
static int parse_effective(const char *text, const char *key, uint32_t *out)
{
	const char *p = field(text, key);
	char *end;

	if (!p)
		return -EINVAL;
	strtoul(p, &end, 10);
	if (end == p)
		return -EINVAL;
	p = end;
	*out = (uint32_t)strtoul(p, &end, 10);
	return end == p ? -EINVAL : 0;
}

/* Blank-separated decimal numbers up to the end of the line; -EINVAL on junk or overflow. */
static int parse_numbers(const char *p, long *out, int max)
{
	int n = 0;

	while (*p == ' ' || *p == '\t')
		p++;
	while (*p && *p != '\n') {
		char *end;
		long v;

		errno = 0;
		v = strtol(p, &end, 10);
		if (end == p || errno || v < 0 || n == max)
			return -EINVAL;
		out[n++] = v;
		for (p = end; *p == ' ' || *p == '\t';)
			p++;
	}
	return n;
}

/* A decimal number at p (the rest of the line may follow), or -EINVAL. */
static int parse_decimal(const char *p, int base, int *out)
{
	char *end;
	long v;

	if (!p)
		return -EINVAL;
	errno = 0;
	v = strtol(p, &end, base);
	if (end == p || errno || v < 0 || v > 0x7fffffff)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

static int parse_groups(const char *text, struct proc_status *st)
{
	const char *p = field(text, "Groups");
	long *groups;
	int n;

	if (!p)
		return -EINVAL;
	groups = malloc(CONTEXT_MAX_GROUPS * sizeof(long));
	if (!groups)
		return -ENOMEM;
	n = parse_numbers(p, groups, CONTEXT_MAX_GROUPS);
	if (n > 0 && !(st->groups = malloc((size_t)n * sizeof(gid_t))))
		n = -ENOMEM;
	for (int k = 0; k < n; k++)
		st->groups[k] = (gid_t)groups[k];
	free(groups);
	if (n < 0)
		return n;
	st->ngroups = n;
	return 0;
}

/*
 * Every field the session's security depends on must be there: a missing
 * NoNewPrivs or Seccomp line read as "off" would let the session shed them.
 */
int proc_status_parse(const char *text, struct proc_status *st)
{
	const char *p;
	long pids[32];
	int n, nnp;

	memset(st, 0, sizeof(*st));
	if (parse_effective(text, "Uid", &st->uid) < 0 ||
	    parse_effective(text, "Gid", &st->gid) < 0 ||
	    parse_hex(text, "CapInh", &st->cap_inh) < 0 ||
	    parse_hex(text, "CapPrm", &st->cap_prm) < 0 ||
	    parse_hex(text, "CapEff", &st->cap_eff) < 0 ||
	    parse_hex(text, "CapBnd", &st->cap_bnd) < 0 ||
	    parse_hex(text, "CapAmb", &st->cap_amb) < 0 ||
	    parse_decimal(field(text, "NoNewPrivs"), 10, &nnp) < 0 ||
	    parse_decimal(field(text, "Seccomp"), 10, &st->seccomp) < 0 ||
	    parse_decimal(field(text, "Umask"), 8, &st->umask) < 0 || !field(text, "State") ||
	    !(p = field(text, "NSpid")) || (n = parse_numbers(p, pids, 32)) <= 0)
		return -EINVAL;
	st->no_new_privs = nnp != 0;
	st->state = *field(text, "State");
	/* NSpid lists the pid in each nested namespace; the last is the innermost. */
	st->local_pid = (pid_t)pids[n - 1];
	if (parse_groups(text, st) < 0) {
		proc_status_free(st);
		return -EINVAL;
	}
	return 0;
}

void proc_status_free(struct proc_status *st)
{
	free(st->groups);
	st->groups = NULL;
	st->ngroups = 0;
}

static bool same_ns(int a_dirfd, int b_dirfd, const char *name)
{
	struct stat a, b;

	return fstatat(a_dirfd, name, &a, 0) == 0 && fstatat(b_dirfd, name, &b, 0) == 0 &&
	       a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

static int open_namespaces(struct context *c, int pid_dir)
{
	int self = open("/proc/self/ns", O_PATH | O_DIRECTORY | O_CLOEXEC);
	int ns = openat(pid_dir, "ns", O_PATH | O_DIRECTORY | O_CLOEXEC);
	int r = 0;

	for (int k = 0; k < NS_COUNT; k++)
		c->ns_fd[k] = -1;
	if (self < 0 || ns < 0) {
		r = log_errno(errno, "reading namespaces of process %d", (int)c->pid);
		goto out;
	}
	for (int k = 0; k < NS_COUNT; k++) {
		if (same_ns(self, ns, ns_names[k]))
			continue;
		c->ns_fd[k] = openat(ns, ns_names[k], O_RDONLY | O_CLOEXEC);
		if (c->ns_fd[k] < 0 && errno != ENOENT) {
			r = log_errno(errno, "opening %s namespace of process %d", ns_names[k],
				      (int)c->pid);
			goto out;
		}
	}
out:
	if (self >= 0)
		close(self);
	if (ns >= 0)
		close(ns);
	return r;
}

static int load_map(int pid_dir, const char *name, struct idmap *map, pid_t pid)
{
	char *text = read_file_alloc(pid_dir, name, NULL);
	int r;

	if (!text)
		return log_errno(errno, "cannot read /proc/%d/%s", (int)pid, name);
	r = idmap_parse(map, text);
	free(text);
	if (r < 0)
		return log_errno(EINVAL, "cannot parse /proc/%d/%s", (int)pid, name);
	return 0;
}

static int load_maps(struct context *c, int pid_dir)
{
	char buf[64];

	c->userns = c->ns_fd[NS_USER] >= 0;
	c->setgroups_allowed = true;
	if (!c->userns)
		return 0;
	if (load_map(pid_dir, "uid_map", &c->uid_map, c->pid) < 0 ||
	    load_map(pid_dir, "gid_map", &c->gid_map, c->pid) < 0)
		return -EINVAL;
	if (read_file_at(pid_dir, "setgroups", buf, sizeof(buf)) > 0)
		c->setgroups_allowed = strncmp(buf, "deny", 4) != 0;
	return 0;
}

/* True if pidfd's process is alive and has number pid in our pid namespace. */
static bool pidfd_is(int pidfd, pid_t pid)
{
	char path[64], *info, *p;
	bool same;

	if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0)
		return false;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
	info = read_file_alloc(AT_FDCWD, path, NULL);
	p = info ? strstr(info, "\nPid:") : NULL;
	same = p && strtol(p + 5, NULL, 10) == pid;
	free(info);
	return same;
}

int context_load(struct context *c, pid_t pid, int pidfd)
{
	char path[64], buf[64], *status;
	int pid_dir, r = 0;
	ssize_t n;

	memset(c, 0, sizeof(*c));
	c->pid = pid;
	c->root_fd = -1;
	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	pid_dir = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (pid_dir < 0)
		return log_errno(errno, "no process with pid %d", (int)pid);
	/* Alive now, so /proc/PID opened before is that process: numbers are not reused while alive. */
	if (pidfd >= 0 && !pidfd_is(pidfd, pid)) {
		close(pid_dir);
		return log_errno(ESRCH, "process %d has exited", (int)pid);
	}

	/* Read whole: a cut-off status must not lose the lines at its end. */
	status = read_file_alloc(pid_dir, "status", NULL);
	if (!status) {
		r = log_errno(errno, "cannot read the status of process %d", (int)pid);
		goto out;
	}
	r = proc_status_parse(status, &c->status);
	free(status);
	if (r < 0) {
		r = log_errno(EINVAL, "cannot parse /proc/%d/status (a field is missing)",
			      (int)pid);
		goto out;
	}
	if (c->status.state == 'Z') {
		r = log_errno(ESRCH, "process %d is a zombie (it has exited)", (int)pid);
		goto out;
	}
	if ((r = open_namespaces(c, pid_dir)) < 0)
		goto out;
	if ((r = load_maps(c, pid_dir)) < 0)
		goto out;

	c->root_fd = openat(pid_dir, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
	n = readlinkat(pid_dir, "root", c->root_path, sizeof(c->root_path) - 1);
	if (c->root_fd < 0 || n <= 0) {
		r = log_errno(errno, "cannot open the root of process %d", (int)pid);
		goto out;
	}
	c->root_path[n] = '\0';
	c->environ = read_file_alloc(pid_dir, "environ", &c->environ_len);
	c->cgroup = read_file_alloc(pid_dir, "cgroup", NULL);
	if (!c->environ || !c->cgroup) {
		r = log_errno(errno, "cannot read the environment of process %d", (int)pid);
		goto out;
	}
	c->lsm = lsm_read_label(pid_dir, c->lsm_label, sizeof(c->lsm_label));
	c->last_cap = 40;
	if (read_file_at(AT_FDCWD, "/proc/sys/kernel/cap_last_cap", buf, sizeof(buf)) > 0)
		c->last_cap = (int)strtol(buf, NULL, 10);
out:
	close(pid_dir);
	if (r < 0)
		context_free(c);
	return r;
}

void context_free(struct context *c)
{
	for (int k = 0; k < NS_COUNT; k++) {
		if (c->ns_fd[k] >= 0)
			close(c->ns_fd[k]);
		c->ns_fd[k] = -1;
	}
	if (c->root_fd >= 0)
		close(c->root_fd);
	c->root_fd = -1;
	proc_status_free(&c->status);
	free(c->environ);
	free(c->cgroup);
	c->environ = c->cgroup = NULL;
}

bool context_is_host_process(const struct context *c)
{
	for (int k = 0; k < NS_COUNT; k++)
		if (c->ns_fd[k] >= 0)
			return false;
	return true;
}
