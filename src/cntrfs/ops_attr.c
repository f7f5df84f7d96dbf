/* Attributes: getattr, setattr, readlink. */
#include <errno.h>
#include <limits.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cntrfs/args.h"
#include "cntrfs/creds.h"
#include "cntrfs/fs.h"
#include "cntrfs/handles.h"
#include "fuse/reply.h"

static void reply_attr(struct fuse_req *req, const struct statx *st)
{
	struct cntrfs *fs = req_fs(req);
	struct fuse_attr_out out;

	memset(&out, 0, sizeof(out));
	out.attr_valid = fs->attr_sec;
	out.attr_valid_nsec = fs->attr_nsec;
	cntrfs_fill_attr(fs, &out.attr, st);
	fuse_reply_data(req, &out, sizeof(out));
}

void op_getattr(struct fuse_req *req, const void *arg, size_t len)
{
	const struct fuse_getattr_in *in = ARG_STRUCT(struct fuse_getattr_in, arg, len);
	struct cntrfs *fs = req_fs(req);
	struct inode *i = req_inode(req);
	struct statx st;
	int fd, r;

	if (in && (in->getattr_flags & FUSE_GETATTR_FH) && in->fh && i->type == S_IFREG) {
		r = cntrfs_statx_fd(fh_file(in->fh)->fd, &st);
	} else {
		fd = inode_get_fd(&fs->inodes, i);
		if (fd < 0) {
			fuse_reply_err(req, -fd);
			return;
		}
		r = cntrfs_statx_fd(fd, &st);
		inode_put_fd(&fs->inodes, i);
	}
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		reply_attr(req, &st);
}

static struct timespec attr_time(uint32_t valid, uint32_t set_bit, uint32_t now_bit, uint64_t sec,
				 uint32_t nsec)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = UTIME_OMIT };

	if (valid & now_bit) {
		ts.tv_nsec = UTIME_NOW;
	} else if (valid & set_bit) {
		ts.tv_sec = (time_t)sec;
		ts.tv_nsec = nsec;
	}
	return ts;
}

/* Applies the changes in order chown, chmod, truncate, times, like separate calls would. */
static int apply_setattr(struct cntrfs *fs, const struct fuse_setattr_in *in, int fd, int file_fd)
{
	char name[16];

	snprintf(name, sizeof(name), "%d", fd);
	if (in->valid & (FATTR_UID | FATTR_GID)) {
		uint32_t uid = (uint32_t)-1, gid = (uint32_t)-1;

		/* An id with no on-disk counterpart cannot be stored. */
		if ((in->valid & FATTR_UID) &&
		    idmap_map_inside(&fs->cfg.uid_map, in->uid, &uid) < 0)
			return -EOVERFLOW;
		if ((in->valid & FATTR_GID) &&
		    idmap_map_inside(&fs->cfg.gid_map, in->gid, &gid) < 0)
			return -EOVERFLOW;
		if (fchownat(fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
	}
	/* Through /proc/self/fd: works on O_PATH fds and never opens devices or fifos. */
	if ((in->valid & FATTR_MODE) && fchmodat(fs->proc_fd, name, in->mode & 07777, 0) < 0)
		return -errno;
	if (in->valid & FATTR_SIZE) {
		int tfd = file_fd >= 0 ? file_fd : cntrfs_reopen(fs, fd, O_WRONLY | O_NONBLOCK);
		int r = 0;

		if (tfd < 0)
			return tfd;
		if (ftruncate(tfd, (off_t)in->size) < 0)
			r = -errno;
		if (tfd != file_fd)
			close(tfd);
		if (r < 0)
			return r;
	}
	if (in->valid & (FATTR_ATIME | FATTR_MTIME | FATTR_ATIME_NOW | FATTR_MTIME_NOW)) {
		struct timespec ts[2] = {
			attr_time(in->valid, FATTR_ATIME, FATTR_ATIME_NOW, in->atime,
				  in->atimensec),
			attr_time(in->valid, FATTR_MTIME, FATTR_MTIME_NOW, in->mtime,
				  in->mtimensec),
		};

		if (utimensat(fs->proc_fd, name, ts, 0) < 0)
			return -errno;
	}
	return 0;
}

void op_setattr(struct fuse_req *req, const void *arg, size_t len)
{
	const struct fuse_setattr_in *in = ARG_STRUCT(struct fuse_setattr_in, arg, len);
	struct cntrfs *fs = req_fs(req);
	struct inode *i = req_inode(req);
	int file_fd = -1, fd, r;
	struct statx st;

	if (!in) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	/* Only regular files come with a handle; fh 0 is a directory opened without OPENDIR. */
	if ((in->valid & FATTR_FH) && in->fh && i->type == S_IFREG)
		file_fd = fh_file(in->fh)->fd;
	fd = inode_get_fd(&fs->inodes, i);
	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	r = apply_setattr(fs, in, fd, file_fd);
	if (r == 0 && fs->killpriv && i->type == S_IFREG) {
		/*
		 * Under KILLPRIV_V2 the kernel leaves these mode changes to us:
		 * truncate by a caller without CAP_FSETID; and a SETATTR that
		 * changes nothing (ctime alone with --writeback), which is either
		 * the privilege removal before a passthrough write (sent only when
		 * something must go) or a chown to -1 -1, which clears S_ISUID
		 * even for root. For a caller with CAP_FSETID the two differ on a
		 * setuid file that also has file capabilities; the chown's rule
		 * is taken. A real chown is done by us as root, which clears
		 * the bits as the VFS does.
		 */
		uint32_t rest =
			in->valid & ~(uint32_t)(FATTR_FH | FATTR_LOCKOWNER | FATTR_KILL_SUIDGID);

		if ((in->valid & FATTR_KILL_SUIDGID) && (in->valid & FATTR_SIZE))
			r = cntrfs_kill_suidgid(req, fd, false);
		else if (rest == 0 || (rest == FATTR_CTIME && fs->writeback))
			r = cntrfs_kill_suidgid(req, fd, creds_caller_capable(req, CAP_FSETID));
	}
	if (r == 0)
		r = cntrfs_statx_fd(fd, &st);
	inode_put_fd(&fs->inodes, i);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		reply_attr(req, &st);
}

void op_readlink(struct fuse_req *req, const void *arg, size_t len)
{
	struct cntrfs *fs = req_fs(req);
	struct inode *i = req_inode(req);
	char buf[PATH_MAX + 1];
	int fd = inode_get_fd(&fs->inodes, i);
	ssize_t n;

	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	n = readlinkat(fd, "", buf, sizeof(buf));
	inode_put_fd(&fs->inodes, i);
	if (n < 0)
		fuse_reply_err(req, errno);
	else if ((size_t)n >= sizeof(buf))
		fuse_reply_err(req, ENAMETOOLONG);
	else
		fuse_reply_data(req, buf, (size_t)n);
}
