/* statfs, syncfs and the ioctl whitelist. */
#include <errno.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "cntrfs/args.h"
#include "cntrfs/fs.h"
#include "cntrfs/handles.h"
#include "fuse/reply.h"

void op_statfs(struct fuse_req *req, const void *arg, size_t len)
{
	struct cntrfs *fs = req_fs(req);
	struct inode *i = req_inode(req);
	struct fuse_statfs_out out;
	struct statfs st;
	int fd = inode_get_fd(&fs->inodes, i), r;

	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	/* Per inode: df inside a submount reports that filesystem. */
	r = fstatfs(fd, &st) < 0 ? errno : 0;
	inode_put_fd(&fs->inodes, i);
	if (r) {
		fuse_reply_err(req, r);
		return;
	}
	memset(&out, 0, sizeof(out));
	out.st.blocks = st.f_blocks;
	out.st.bfree = st.f_bfree;
	out.st.bavail = st.f_bavail;
	out.st.files = st.f_files;
	out.st.ffree = st.f_ffree;
	out.st.bsize = (uint32_t)st.f_bsize;
	out.st.namelen = (uint32_t)st.f_namelen;
	out.st.frsize = (uint32_t)st.f_frsize;
	fuse_reply_data(req, &out, sizeof(out));
}

void op_syncfs(struct fuse_req *req, const void *arg, size_t len)
{
	struct cntrfs *fs = req_fs(req);
	struct inode *root = inode_from_nodeid(&fs->inodes, FUSE_ROOT_ID);
	int ifd = inode_get_fd(&fs->inodes, root), fd, r;

	if (ifd < 0) {
		fuse_reply_err(req, -ifd);
		return;
	}
	fd = cntrfs_reopen(fs, ifd, O_RDONLY | O_DIRECTORY);
	inode_put_fd(&fs->inodes, root);
	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	r = syncfs(fd) < 0 ? errno : 0;
	close(fd);
	fuse_reply_err(req, r);
}

/*
 * Only the inode-flag ioctls, which the kernel routes through its fileattr
 * code: that code has already checked ownership and CAP_LINUX_IMMUTABLE of the
 * caller before the request reaches us. Anything else would run with the
 * server's privileges, so it is refused.
 */
static bool ioctl_allowed(uint32_t cmd)
{
	return cmd == (uint32_t)FS_IOC_GETFLAGS || cmd == (uint32_t)FS_IOC_SETFLAGS ||
	       cmd == (uint32_t)FS_IOC_FSGETXATTR || cmd == (uint32_t)FS_IOC_FSSETXATTR;
}

void op_ioctl(struct fuse_req *req, const void *arg, size_t len)
{
	const struct fuse_ioctl_in *in = ARG_STRUCT(struct fuse_ioctl_in, arg, len);
	struct fuse_ioctl_out out;
	struct iovec iov[3];
	char buf[256];
	int fd, own_fd = -1, r, err;

	if (!in || len - sizeof(*in) < in->in_size) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if ((in->flags & FUSE_IOCTL_UNRESTRICTED) || !ioctl_allowed(in->cmd) ||
	    in->in_size > sizeof(buf) || in->out_size > sizeof(buf)) {
		fuse_reply_err(req, ENOTTY);
		return;
	}
	if (!(in->flags & FUSE_IOCTL_DIR))
		fd = fh_file(in->fh)->fd;
	else if (in->fh)
		fd = fh_dir(in->fh)->fd;
	else /* a directory opened without OPENDIR */
		fd = own_fd = cntrfs_open_dir(req_fs(req), req_inode(req));
	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	memset(buf, 0, sizeof(buf));
	memcpy(buf, in + 1, in->in_size);
	r = ioctl(fd, (unsigned long)in->cmd, buf);
	err = errno;
	if (own_fd >= 0)
		close(own_fd);
	if (r < 0) {
		fuse_reply_err(req, err);
		return;
	}
	memset(&out, 0, sizeof(out));
	out.result = r;
	iov[1].iov_base = &out;
	iov[1].iov_len = sizeof(out);
	iov[2].iov_base = buf;
	iov[2].iov_len = in->out_size;
	fuse_reply_iov(req, iov, in->out_size ? 3 : 2);
}
