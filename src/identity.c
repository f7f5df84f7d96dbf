#include "identity.h"

#include <errno.h>
#include <grp.h>
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

int identity_drop_bounding(const struct context *c)
{
	uint64_t keep = identity_bounding_set(c);

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
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[2];
	const struct proc_status *s = &c->status;

	data[0].effective = (uint32_t)s->cap_eff;
	data[1].effective = (uint32_t)(s->cap_eff >> 32);
	data[0].permitted = (uint32_t)s->cap_prm;
	data[1].permitted = (uint32_t)(s->cap_prm >> 32);
	data[0].inheritable = (uint32_t)s->cap_inh;
	data[1].inheritable = (uint32_t)(s->cap_inh >> 32);
	if (syscall(SYS_capset, &hdr, data) < 0)
		return log_errno(errno, "setting the target's capabilities");
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	for (int cap = 0; cap <= c->last_cap && cap < 64; cap++)
		if ((s->cap_amb & (1ULL << cap)) &&
		    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
			return log_errno(errno, "raising ambient capability %d", cap);
	return 0;
}

int identity_apply(const struct context *c)
{
	const struct proc_status *s = &c->status;
	uint32_t uid = inside_uid(c, s->uid), gid = inside_gid(c, s->gid);
	gid_t groups[CONTEXT_MAX_GROUPS];
	int n = 0;

	for (int k = 0; k < s->ngroups; k++) {
		uint32_t g = inside_gid(c, s->groups[k]);

		if (g != IDMAP_OVERFLOW || s->groups[k] == IDMAP_OVERFLOW)
			groups[n++] = g;
	}
	/* A user namespace with setgroups "deny" keeps whatever groups it has. */
	if (c->setgroups_allowed && syscall(SYS_setgroups, n, groups) < 0)
		return log_errno(errno, "setting supplementary groups");
	if (setresgid(gid, gid, gid) < 0)
		return log_errno(errno, "setting group id %u", gid);
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return log_errno(errno, "PR_SET_KEEPCAPS");
	if (setresuid(uid, uid, uid) < 0)
		return log_errno(errno, "setting user id %u", uid);
	if (set_capabilities(c) < 0)
		return -EPERM;
	prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	if (s->umask >= 0)
		umask((mode_t)s->umask);
	if (s->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return log_errno(errno, "PR_SET_NO_NEW_PRIVS");
	return 0;
}
