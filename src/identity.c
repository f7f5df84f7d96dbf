#include "identity.h"

#include <errno.h>
#include <grp.h>
#include <stdlib.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/log.h"

static uint32_t inside_uid(const struct context *c, uint32_t id)
{
	return c->userns ? idmap_to_inside(&c->uid_map, id) : id;
}

static uint32_t inside_gid(const struct context *c, uint32_t id)
{
	return c->userns ? idmap_to_inside(&c->gid_map, id) : id;
}

uint64_t identity_bounding_set(const struct context *c)
{
	uint64_t keep = c->status.cap_bnd;

	/* A root shell's permitted set after execve is the bounding set. */
	if (inside_uid(c, c->status.uid) == 0)
		keep &= c->status.cap_prm | c->status.cap_eff;
	return keep;
}

/*
 * The session's guard: a capability that no process of the container can
 * have (outside the target's bounding set), kept in the session's permitted,
 * inheritable and ambient sets. The kernel's ptrace access check (used for
 * ptrace, pidfd_getfd and /proc/PID/{root,cwd,fd,environ,mem,ns}) then needs
 * CAP_SYS_PTRACE from a container process, even one with the session's uid:
 * the session's permitted set is not a subset of its own. Chosen among the
 * capabilities that grant least: setting wake alarms, blocking suspend.
 */
int identity_guard_cap(const struct context *c)
{
	static const int harmless[] = { CAP_WAKE_ALARM, CAP_BLOCK_SUSPEND, CAP_AUDIT_READ };
	const struct proc_status *s = &c->status;
	/*
	 * Best: one the container cannot gain at all. Else one the target has not
	 * got: that keeps out processes as privileged as the target; one that can
	 * gain more (setuid root under a full bounding set) can gain CAP_SYS_PTRACE.
	 */
	uint64_t held[] = { s->cap_bnd, s->cap_prm | s->cap_eff | s->cap_inh | s->cap_amb };

	for (size_t h = 0; h < sizeof(held) / sizeof(held[0]); h++)
		for (size_t k = 0; k < sizeof(harmless) / sizeof(harmless[0]); k++)
			if (harmless[k] <= c->last_cap && !(held[h] & (1ULL << harmless[k])))
				return harmless[k];
	return -1;
}

static int capset3(uint64_t eff, uint64_t prm, uint64_t inh)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[2] = {
		{ (uint32_t)eff, (uint32_t)prm, (uint32_t)inh },
		{ (uint32_t)(eff >> 32), (uint32_t)(prm >> 32), (uint32_t)(inh >> 32) },
	};

	return syscall(SYS_capset, &hdr, data) < 0 ? -errno : 0;
}

static uint64_t guard_bit(const struct context *c)
{
	int g = identity_guard_cap(c);

	return g < 0 ? 0 : 1ULL << g;
}

int identity_drop_bounding(const struct context *c)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct now[2];
	uint64_t keep = identity_bounding_set(c), prm;
	int r;

	if (syscall(SYS_capget, &hdr, now) < 0)
		return log_errno(errno, "reading our capabilities");
	prm = now[0].permitted | (uint64_t)now[1].permitted << 32;
	/* The guard may join the inheritable set only while the bounding set has it. */
	if (guard_bit(c) && (r = capset3(prm, prm, guard_bit(c))) < 0)
		return log_errno(r, "keeping the session's guard capability");
	for (int cap = 0; cap <= c->last_cap && cap < 64; cap++) {
		if (keep & (1ULL << cap))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return log_errno(errno, "dropping capability %d from the bounding set",
					 cap);
	}
	return 0;
}

static int set_capabilities(const struct context *c)
{
	const struct proc_status *s = &c->status;
	uint64_t guard = guard_bit(c), amb = s->cap_amb | guard;
	int r = capset3(s->cap_eff, s->cap_prm | guard, s->cap_inh | guard);

	if (r < 0)
		return log_errno(r, "setting the target's capabilities");
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	for (int cap = 0; cap <= c->last_cap && cap < 64; cap++)
		if ((amb & (1ULL << cap)) &&
		    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
			return log_errno(errno, "raising ambient capability %d", cap);
	return 0;
}

int identity_apply(const struct context *c)
{
	const struct proc_status *s = &c->status;
	uint32_t uid = inside_uid(c, s->uid), gid = inside_gid(c, s->gid);
	gid_t *groups = calloc((size_t)s->ngroups + 1, sizeof(gid_t));
	int n = 0, r;

	if (!groups)
		return log_errno(ENOMEM, "setting supplementary groups");
	for (int k = 0; k < s->ngroups; k++) {
		uint32_t g = inside_gid(c, s->groups[k]);

		if (g != IDMAP_OVERFLOW || s->groups[k] == IDMAP_OVERFLOW)
			groups[n++] = g;
	}
	/* A user namespace with setgroups "deny" keeps whatever groups it has. */
	r = c->setgroups_allowed ? (int)syscall(SYS_setgroups, n, groups) : 0;
	free(groups);
	if (r < 0)
		return log_errno(errno, "setting %d supplementary groups", n);
	if (setresgid(gid, gid, gid) < 0)
		return log_errno(errno, "setting group id %u", gid);
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return log_errno(errno, "PR_SET_KEEPCAPS");
	if (setresuid(uid, uid, uid) < 0)
		return log_errno(errno, "setting user id %u", uid);
	if (set_capabilities(c) < 0)
		return -EPERM;
	prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	umask((mode_t)s->umask);
	if (s->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return log_errno(errno, "PR_SET_NO_NEW_PRIVS");
	return 0;
}
