#include "cntrfs/creds.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cntrfs/fs.h"
#include "util/log.h"

/*
 * What a worker may need of root: file access and ownership as any caller,
 * ids per request, device nodes, trusted xattrs and backing files
 * (CAP_SYS_ADMIN), file capabilities, LSM labels, reserved blocks, leaving
 * SCHED_IDLE, and reading a caller's /proc/PID/ns/user (CAP_SYS_PTRACE: the
 * kernel's ptrace read check, for callers with more capabilities than us).
 * Capabilities are per thread: a worker drops every other one (kill, raw
 * I/O, modules, networking, BPF ...), so a bug in request handling cannot use
 * them. The rest of cntr keeps what it needs.
 */
static const int worker_caps[] = {
	CAP_CHOWN,     CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER,
	CAP_FSETID,    CAP_SETGID,	 CAP_SETUID,	      CAP_LINUX_IMMUTABLE,
	CAP_SYS_ADMIN, CAP_SYS_NICE,	 CAP_SYS_RESOURCE,    CAP_MKNOD,
	CAP_SETFCAP,   CAP_MAC_OVERRIDE, CAP_MAC_ADMIN,	      CAP_SYS_PTRACE,
};

static void drop_worker_caps(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct d[2];
	uint64_t keep = 0, prm, eff;

	if (syscall(SYS_capget, &hdr, d) < 0)
		return;
	for (size_t k = 0; k < sizeof(worker_caps) / sizeof(worker_caps[0]); k++)
		keep |= 1ULL << worker_caps[k];
	prm = (d[0].permitted | (uint64_t)d[1].permitted << 32) & keep;
	eff = (d[0].effective | (uint64_t)d[1].effective << 32) & keep;
	d[0] = (struct __user_cap_data_struct){ (uint32_t)eff, (uint32_t)prm, 0 };
	d[1] = (struct __user_cap_data_struct){ (uint32_t)(eff >> 32), (uint32_t)(prm >> 32), 0 };
	if (syscall(SYS_capset, &hdr, d) < 0)
		log_warn("a CntrFS worker keeps all its capabilities: %s", strerror(errno));
}

void *creds_thread_start(void *fs)
{
	struct cntrfs_thread *t = calloc(1, sizeof(*t));

	drop_worker_caps();
	/*
	 * A private umask per thread: creating ops set the caller's (modes arrive
	 * unmasked, FUSE_DONT_MASK). Without CLONE_FS the server's own umask is
	 * shared, which is only safe in a process that serves and does nothing else.
	 */
	if (unshare(CLONE_FS) < 0)
		log_warn("unshare(CLONE_FS): %s; umask is shared between workers", strerror(errno));
	umask(0);
	if (t)
		t->groups_pid = -1;
	return t;
}

void creds_thread_stop(void *fs, void *thread)
{
	struct cntrfs_thread *t = thread;

	if (t)
		free(t->readbuf);
	free(t);
}

int creds_parse_groups(const char *status, gid_t *groups, int max)
{
	const char *p = strstr(status, "\nGroups:");
	int n = 0;

	if (!p)
		return -EINVAL;
	p += strlen("\nGroups:");
	while (*p && *p != '\n') {
		char *end;
		unsigned long v;

		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\n' || !*p)
			break;
		v = strtoul(p, &end, 10);
		if (end == p)
			return -EINVAL;
		if (n < max)
			groups[n++] = (gid_t)v;
		p = end;
	}
	return n;
}

/* The caller's supplementary groups, from /proc (host ids), mapped inside. */
static void load_groups(struct cntrfs *fs, struct cntrfs_thread *t, pid_t pid, uid_t uid)
{
	char path[64], buf[4096];
	gid_t raw[CREDS_MAX_GROUPS];
	ssize_t len;
	int fd, n;

	t->ngroups = 0;
	t->groups_pid = pid;
	t->groups_uid = uid;
	if (pid <= 0)
		return;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return;
	buf[len] = '\0';
	n = creds_parse_groups(buf, raw, CREDS_MAX_GROUPS);
	for (int k = 0; k < n; k++) {
		uint32_t g = idmap_to_inside(&fs->cfg.gid_map, raw[k]);

		if (g != IDMAP_OVERFLOW || raw[k] == IDMAP_OVERFLOW)
			t->groups[t->ngroups++] = g;
	}
}

static int set_fsid(long nr, uint32_t id)
{
	syscall(nr, id);
	/* setfsuid/setfsgid report no errors: read the value back. */
	return (uint32_t)syscall(nr, -1) == id ? 0 : -EPERM;
}

int creds_become_caller(struct fuse_req *req, mode_t mask)
{
	struct cntrfs *fs = req_fs(req);
	struct cntrfs_thread *t = req->worker_data;
	uint32_t uid, gid;

	umask(mask & 07777);
	if (!t)
		return -ENOMEM;
	/* A caller without an on-disk id could only create files owned by nobody. */
	if (idmap_map_inside(&fs->cfg.uid_map, req->in->uid, &uid) < 0 ||
	    idmap_map_inside(&fs->cfg.gid_map, req->in->gid, &gid) < 0)
		return -EOVERFLOW;
	if (t->groups_pid != (pid_t)req->in->pid || t->groups_uid != uid) {
		load_groups(fs, t, (pid_t)req->in->pid, uid);
		if (syscall(SYS_setgroups, t->ngroups, t->groups) < 0)
			return -errno;
	}
	if (t->fsgid != gid) {
		if (set_fsid(SYS_setfsgid, gid) < 0)
			return -EPERM;
		t->fsgid = gid;
	}
	if (t->fsuid != uid) {
		if (set_fsid(SYS_setfsuid, uid) < 0)
			return -EPERM;
		t->fsuid = uid;
	}
	return 0;
}

bool creds_caller_in_group(struct fuse_req *req, gid_t gid)
{
	struct cntrfs *fs = req_fs(req);
	char path[64], buf[4096];
	gid_t raw[CREDS_MAX_GROUPS];
	uint32_t inside;
	ssize_t len;
	int fd, n;

	if (idmap_map_inside(&fs->cfg.gid_map, req->in->gid, &inside) == 0 && inside == gid)
		return true;
	snprintf(path, sizeof(path), "/proc/%u/status", req->in->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return false;
	buf[len] = '\0';
	n = creds_parse_groups(buf, raw, CREDS_MAX_GROUPS);
	for (int k = 0; k < n; k++) {
		uint32_t g = idmap_to_inside(&fs->cfg.gid_map, raw[k]);

		if (g == gid && (g != IDMAP_OVERFLOW || raw[k] == IDMAP_OVERFLOW))
			return true;
	}
	return false;
}

bool creds_caller_capable(struct fuse_req *req, int cap)
{
	char path[64], buf[4096], *p;
	struct stat ours, theirs;
	unsigned long long eff;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%u/ns/user", req->in->pid);
	/* Capabilities in a child user namespace do not count here. */
	if (stat("/proc/self/ns/user", &ours) < 0 || stat(path, &theirs) < 0 ||
	    ours.st_ino != theirs.st_ino)
		return false;
	snprintf(path, sizeof(path), "/proc/%u/status", req->in->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	p = strstr(buf, "\nCapEff:");
	if (!p)
		return false;
	eff = strtoull(p + strlen("\nCapEff:"), NULL, 16);
	return cap >= 0 && cap < 64 && (eff & (1ULL << cap));
}

void creds_become_server(struct fuse_req *req)
{
	struct cntrfs_thread *t = req->worker_data;

	if (!t)
		return;
	if (t->fsuid != 0) {
		syscall(SYS_setfsuid, 0);
		t->fsuid = 0;
	}
	if (t->fsgid != 0) {
		syscall(SYS_setfsgid, 0);
		t->fsgid = 0;
	}
}
