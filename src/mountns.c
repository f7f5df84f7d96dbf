#include "mountns.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "idmap_tree.h"
#include "util/log.h"

/* Bound from the container over the fat view; directories keep their submounts. */
static const char *const bind_paths[] = {
	"proc",
	"dev",
	"sys",
	"etc/passwd",
	"etc/group",
	"etc/hosts",
	"etc/resolv.conf",
	"etc/hostname",
	"etc/localtime",
};

static int join_mnt(const struct context *c)
{
	if (c->ns_fd[NS_MNT] >= 0 && setns(c->ns_fd[NS_MNT], CLONE_NEWNS) < 0)
		return log_errno(errno, "joining the mount namespace of process %d", (int)c->pid);
	return 0;
}

int mountns_enter(const struct context *c)
{
	int tree;

	if (join_mnt(c) < 0)
		return -EPERM;
	if (unshare(CLONE_NEWNS) < 0)
		return log_errno(errno, "creating the session's mount namespace");
	/* Before any mount: nothing may propagate into the container. */
	if (mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return log_errno(errno, "making the session's mounts private");
	tree = open_tree(AT_FDCWD, c->root_path,
			 OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
	if (tree < 0)
		return log_errno(errno, "cloning the container's root %s", c->root_path);
	return tree;
}

/* Resolves path inside the container root, as the container itself would. */
static int open_in_container(int ctr_tree, const char *path)
{
	struct open_how how = { .flags = O_PATH | O_CLOEXEC,
				.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };

	return (int)syscall(SYS_openat2, ctr_tree, path, &how, sizeof(how));
}

static bool same_kind(mode_t a, mode_t b)
{
	return S_ISDIR(a) == S_ISDIR(b);
}

static int bind_from_container(int ctr_tree, const char *path, bool *bound)
{
	char dst[256] = "/";
	struct stat src_st, dst_st;
	int src, tree, r = 0;

	*bound = false;
	src = open_in_container(ctr_tree, path);
	if (src < 0)
		return 0; /* the container has none: keep the fat one */
	strncat(dst, path, sizeof(dst) - 2);
	/* An empty /proc directory is no procfs: the payload mounts a fresh one. */
	if (!strcmp(path, "proc")) {
		struct statfs sfs;

		if (fstatfs(src, &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC) {
			close(src);
			return 0;
		}
	}
	if (fstat(src, &src_st) < 0 || stat(dst, &dst_st) < 0 ||
	    !same_kind(src_st.st_mode, dst_st.st_mode)) {
		log_info("not binding /%s: missing on one side or of another type", path);
		close(src);
		return 0;
	}
	tree = open_tree(src, "",
			 OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
	close(src);
	if (tree < 0)
		return log_errno(errno, "cloning the container's /%s", path);
	/* The fat side's file may be a symlink (resolv.conf): bind where it points. */
	if (move_mount(tree, "", AT_FDCWD, dst, MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_SYMLINKS) <
	    0)
		r = log_errno(errno, "binding the container's /%s", path);
	else
		*bound = true;
	close(tree);
	return r;
}

/* The container's root at base, then its special files over the fat ones. */
static int attach_container(int ctr_tree, const char *base, bool *proc_bound)
{
	struct stat st;

	if (stat(base, &st) < 0 || !S_ISDIR(st.st_mode))
		return log_errno(ENOTDIR, "base directory %s in the fat view", base);
	if (move_mount(ctr_tree, "", AT_FDCWD, base, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return log_errno(errno, "attaching the container's root at %s", base);
	for (size_t k = 0; k < sizeof(bind_paths) / sizeof(bind_paths[0]); k++) {
		bool bound;
		int r = bind_from_container(ctr_tree, bind_paths[k], &bound);

		/* The fat side's /dev and /sys never show: they are its devices. */
		if (!bound && !strcmp(bind_paths[k], "dev"))
			r = mountns_standin_dev();
		else if (!bound && !strcmp(bind_paths[k], "sys"))
			r = mountns_standin_sys();
		else if (r < 0)
			log_warn("the session keeps the fat side's /%s", bind_paths[k]);
		if (r < 0 && (!strcmp(bind_paths[k], "dev") || !strcmp(bind_paths[k], "sys")))
			return r;
		if (!strcmp(bind_paths[k], "proc"))
			*proc_bound = bound;
	}
	if (chdir(base) < 0)
		return log_errno(errno, "chdir %s", base);
	return 0;
}

int mountns_build_view(int fuse_mnt, int ctr_tree, const char *base, bool *proc_bound)
{
	if (move_mount(fuse_mnt, "", AT_FDCWD, "/", MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return log_errno(errno, "attaching CntrFS");
	/* The mount now sits on top of /; its fd is the way into it. */
	if (fchdir(fuse_mnt) < 0 || chroot(".") < 0)
		return log_errno(errno, "entering CntrFS");
	return attach_container(ctr_tree, base, proc_bound);
}

int mountns_bind_enter(const struct context *c)
{
	struct mount_attr private = { .propagation = MS_PRIVATE };
	int own, tree;

	/* A private copy of our own (the fat side's) mount namespace. */
	if (unshare(CLONE_NEWNS) < 0)
		return log_errno(errno, "creating the session's mount namespace");
	if (mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return log_errno(errno, "making the session's mounts private");
	own = c->ns_fd[NS_MNT] < 0 ? -1 : open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	if (c->ns_fd[NS_MNT] < 0) {
		/* The target shares our mount namespace (not a container). */
		tree = open_tree(AT_FDCWD, c->root_path,
				 OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
		goto cloned;
	}
	if (own < 0)
		return log_errno(errno, "opening our mount namespace");
	/* A detached clone made in the container's namespace can be attached in ours. */
	if (setns(c->ns_fd[NS_MNT], CLONE_NEWNS) < 0) {
		close(own);
		return log_errno(errno, "joining the mount namespace of process %d", (int)c->pid);
	}
	tree = open_tree(AT_FDCWD, c->root_path,
			 OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
	if (setns(own, CLONE_NEWNS) < 0) {
		close(own);
		if (tree >= 0)
			close(tree);
		return log_errno(errno, "returning to the session's mount namespace");
	}
	close(own);
cloned:
	if (tree < 0)
		return log_errno(errno, "cloning the container's root %s", c->root_path);
	/* The clone keeps the container's peer groups: cut them before attaching. */
	if (mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &private, sizeof(private)) < 0) {
		close(tree);
		return log_errno(errno, "making the container's tree private");
	}
	return tree;
}

int mountns_bind_build_view(const struct context *c, int ctr_tree, const char *base, bool idmap,
			    bool *proc_bound)
{
	struct mount_attr fat = { .attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV };

	if (c->userns && idmap && idmap_tree_rebuild(c->ns_fd[NS_USER]) < 0)
		return -EPERM;
	/* No setuid program or device of the fat side works in the session. */
	if (mount_setattr(AT_FDCWD, "/", AT_RECURSIVE, &fat, sizeof(fat)) < 0)
		return log_errno(errno, "making the fat view nosuid,nodev");
	return attach_container(ctr_tree, base, proc_bound);
}

int mountns_enter_root(const struct context *c)
{
	if (join_mnt(c) < 0)
		return -EPERM;
	if (fchdir(c->root_fd) < 0 || chroot(".") < 0 || chdir("/") < 0)
		return log_errno(errno, "entering the root of process %d", (int)c->pid);
	return 0;
}
