/*
 * Extended attributes through /proc/self/fd/N: that path reaches the object
 * itself for every type (a symlink's own xattrs, never its target's) without
 * opening devices or fifos.
 */
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "cntrfs/acl.h"
#include "cntrfs/args.h"
#include "cntrfs/creds.h"
#include "cntrfs/fs.h"
#include "fuse/reply.h"

#define XATTR_MAX (64 * 1024)

static void proc_path(char *buf, size_t len, int fd)
{
	snprintf(buf, len, "/proc/self/fd/%d", fd);
}

static bool maps_ids(const struct cntrfs *fs)
{
	return !idmap_is_identity(&fs->cfg.uid_map) || !idmap_is_identity(&fs->cfg.gid_map);
}

/* Shared by getxattr and listxattr: a size probe, or the value itself. */
static void reply_xattr(struct fuse_req *req, uint32_t size,
			ssize_t (*fetch)(const char *path, const char *name, void *buf, size_t len),
			const char *name)
{
	struct cntrfs *fs = req_fs(req);
	struct inode *i = req_inode(req);
	char path[64];
	char *buf = NULL;
	ssize_t n;
	int fd;

	if (size > XATTR_MAX)
		size = XATTR_MAX;
	if (size && !(buf = malloc(size))) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fd = inode_get_fd(&fs->inodes, i);
	if (fd < 0) {
		free(buf);
		fuse_reply_err(req, -fd);
		return;
	}
	proc_path(path, sizeof(path), fd);
	n = fetch(path, name, buf, size);
	inode_put_fd(&fs->inodes, i);
	if (n < 0) {
		int err = errno;

		/* Kernels turn EOPNOTSUPP for ACLs into failed path walks and execs. */
		if (name && (err == EOPNOTSUPP) && acl_is_posix_acl_name(name))
			err = ENODATA;
		fuse_reply_err(req, err);
	} else if (size == 0) {
		struct fuse_getxattr_out out = { .size = (uint32_t)n };

		fuse_reply_data(req, &out, sizeof(out));
	} else {
		if (name && acl_is_posix_acl_name(name) && maps_ids(fs))
			acl_map_ids(buf, (size_t)n, &fs->cfg.uid_map, &fs->cfg.gid_map, true);
		fuse_reply_data(req, buf, (size_t)n);
	}
	free(buf);
}

static ssize_t fetch_value(const char *path, const char *name, void *buf, size_t len)
{
	return getxattr(path, name, buf, len);
}

void op_getxattr(struct fuse_req *req, const void *arg, size_t len)
{
	const struct fuse_getxattr_in *in = ARG_STRUCT(struct fuse_getxattr_in, arg, len);
	const char *name = arg_string(arg, len, sizeof(*in));

	if (!in || !name) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	reply_xattr(req, in->size, fetch_value, name);
}

/* Drops "trusted." names, which only CAP_SYS_ADMIN may see. Returns the new length. */
static size_t hide_trusted(char *list, size_t len)
{
	size_t out = 0;

	for (size_t i = 0; i < len;) {
		size_t n = strnlen(list + i, len - i) + 1;

		if (strncmp(list + i, "trusted.", 8) != 0) {
			memmove(list + out, list + i, n);
			out += n;
		}
		i += n;
	}
	return out;
}

void op_listxattr(struct fuse_req *req, const void *arg, size_t len)
{
	const struct fuse_getxattr_in *in = ARG_STRUCT(struct fuse_getxattr_in, arg, len);
	struct cntrfs *fs = req_fs(req);
	struct inode *i = req_inode(req);
	char path[64], *buf;
	ssize_t n;
	int fd;

	if (!in) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	/* The whole list, even for a size probe: filtering changes its length. */
	buf = malloc(XATTR_MAX);
	fd = buf ? inode_get_fd(&fs->inodes, i) : -ENOMEM;
	if (fd < 0) {
		free(buf);
		fuse_reply_err(req, -fd);
		return;
	}
	proc_path(path, sizeof(path), fd);
	n = listxattr(path, buf, XATTR_MAX);
	inode_put_fd(&fs->inodes, i);
	if (n < 0) {
		fuse_reply_err(req, errno);
	} else {
		/* The server runs as root: do what the backing fs would for the caller. */
		if (memmem(buf, (size_t)n, "trusted.", 8) &&
		    !creds_caller_capable(req, CAP_SYS_ADMIN))
			n = (ssize_t)hide_trusted(buf, (size_t)n);
		if (in->size == 0) {
			struct fuse_getxattr_out out = { .size = (uint32_t)n };

			fuse_reply_data(req, &out, sizeof(out));
		} else if ((size_t)n > in->size) {
			fuse_reply_err(req, ERANGE);
		} else {
			fuse_reply_data(req, buf, (size_t)n);
		}
	}
	free(buf);
}

void op_setxattr(struct fuse_req *req, const void *arg, size_t len)
{
	struct cntrfs *fs = req_fs(req);
	bool ext = req->se->conn.flags & FUSE_SETXATTR_EXT;
	size_t hdr = ext ? sizeof(struct fuse_setxattr_in) : FUSE_COMPAT_SETXATTR_IN_SIZE;
	const struct fuse_setxattr_in *in = len >= hdr ? arg : NULL;
	const char *name = in ? arg_string(arg, len, hdr) : NULL;
	struct inode *i = req_inode(req);
	char path[64];
	void *value;
	int fd, r;

	if (!in || !name || len - hdr - strlen(name) - 1 < in->size) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	value = malloc(in->size ? in->size : 1);
	if (!value) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	memcpy(value, name + strlen(name) + 1, in->size);
	if (acl_is_posix_acl_name(name) && maps_ids(fs))
		acl_map_ids(value, in->size, &fs->cfg.uid_map, &fs->cfg.gid_map, false);
	fd = inode_get_fd(&fs->inodes, i);
	if (fd < 0) {
		free(value);
		fuse_reply_err(req, -fd);
		return;
	}
	proc_path(path, sizeof(path), fd);
	r = setxattr(path, name, value, in->size, (int)in->flags) < 0 ? errno : 0;
	/* The caller could not keep the setgid bit (the kernel checked); we, as root, did. */
	if (r == 0 && ext && (in->setxattr_flags & FUSE_SETXATTR_ACL_KILL_SGID)) {
		struct stat st;

		if (stat(path, &st) == 0 && (st.st_mode & S_ISGID))
			chmod(path, st.st_mode & 07777 & ~S_ISGID);
	}
	inode_put_fd(&fs->inodes, i);
	free(value);
	fuse_reply_err(req, r);
}

void op_removexattr(struct fuse_req *req, const void *arg, size_t len)
{
	const char *name = arg_string(arg, len, 0);
	struct cntrfs *fs = req_fs(req);
	struct inode *i = req_inode(req);
	char path[64];
	int fd, r;

	if (!name) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	fd = inode_get_fd(&fs->inodes, i);
	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	proc_path(path, sizeof(path), fd);
	r = removexattr(path, name) < 0 ? errno : 0;
	inode_put_fd(&fs->inodes, i);
	if (r == EOPNOTSUPP && acl_is_posix_acl_name(name))
		r = ENODATA;
	fuse_reply_err(req, r);
}
