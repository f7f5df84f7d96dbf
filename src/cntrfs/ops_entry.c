/* Name-space operations: lookup, forget, creating and removing names. */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cntrfs/args.h"
#include "cntrfs/creds.h"
#include "cntrfs/fs.h"
#include "fuse/reply.h"

void op_lookup(struct fuse_req *req, const void *arg, size_t len)
{
	const char *name = arg_string(arg, len, 0);

	if (!name)
		return fuse_reply_err(req, EINVAL);
	cntrfs_reply_entry(req, req_inode(req), name);
}

void op_forget(struct fuse_req *req, const void *arg, size_t len)
{
	const struct fuse_forget_in *in = ARG_STRUCT(struct fuse_forget_in, arg, len);

	if (in)
		inode_forget(&req_fs(req)->inodes, req_inode(req), in->nlookup);
	fuse_reply_none(req);
}

void op_batch_forget(struct fuse_req *req, const void *arg, size_t len)
{
	const struct fuse_batch_forget_in *in = ARG_STRUCT(struct fuse_batch_forget_in, arg, len);
	struct cntrfs *fs = req_fs(req);

	if (in && (len - sizeof(*in)) / sizeof(struct fuse_forget_one) >= in->count) {
		const struct fuse_forget_one *one = (const void *)(in + 1);

		for (uint32_t k = 0; k < in->count; k++)
			inode_forget(&fs->inodes, inode_from_nodeid(&fs->inodes, one[k].nodeid),
				     one[k].nlookup);
	}
	fuse_reply_none(req);
}

enum create_kind { MAKE_NODE, MAKE_DIR, MAKE_SYMLINK };

/* Creates name in the request's directory as the caller, then replies with its entry. */
static void make_entry(struct fuse_req *req, enum create_kind kind, const char *name, mode_t mode,
		       dev_t rdev, mode_t umask, const char *target)
{
	struct cntrfs *fs = req_fs(req);
	struct inode *dir = req_inode(req);
	int pfd = inode_get_fd(&fs->inodes, dir);
	int r;

	if (pfd < 0)
		return fuse_reply_err(req, -pfd);
	r = creds_become_caller(req, umask);
	if (r == 0) {
		if (kind == MAKE_DIR)
			r = mkdirat(pfd, name, mode);
		else if (kind == MAKE_SYMLINK)
			r = symlinkat(target, pfd, name);
		else
			r = mknodat(pfd, name, mode, rdev);
		r = r < 0 ? -errno : 0;
	}
	creds_become_server(req);
	inode_put_fd(&fs->inodes, dir);
	if (r < 0)
		return fuse_reply_err(req, -r);
	cntrfs_reply_entry(req, dir, name);
}

void op_mknod(struct fuse_req *req, const void *arg, size_t len)
{
	const struct fuse_mknod_in *in = ARG_STRUCT(struct fuse_mknod_in, arg, len);
	const char *name = arg_string(arg, len, sizeof(*in));

	if (!in || !name)
		return fuse_reply_err(req, EINVAL);
	make_entry(req, MAKE_NODE, name, in->mode, in->rdev, in->umask, NULL);
}

void op_mkdir(struct fuse_req *req, const void *arg, size_t len)
{
	const struct fuse_mkdir_in *in = ARG_STRUCT(struct fuse_mkdir_in, arg, len);
	const char *name = arg_string(arg, len, sizeof(*in));

	if (!in || !name)
		return fuse_reply_err(req, EINVAL);
	make_entry(req, MAKE_DIR, name, in->mode, 0, in->umask, NULL);
}

void op_symlink(struct fuse_req *req, const void *arg, size_t len)
{
	const char *name = arg_string(arg, len, 0);
	const char *target = arg_next_string(arg, len, name);

	if (!name || !target)
		return fuse_reply_err(req, EINVAL);
	make_entry(req, MAKE_SYMLINK, name, 0, 0, 0, target);
}

void op_link(struct fuse_req *req, const void *arg, size_t len)
{
	const struct fuse_link_in *in = ARG_STRUCT(struct fuse_link_in, arg, len);
	const char *name = arg_string(arg, len, sizeof(*in));
	struct cntrfs *fs = req_fs(req);
	struct inode *dir = req_inode(req), *src;
	int pfd, sfd, r;

	if (!in || !name)
		return fuse_reply_err(req, EINVAL);
	src = inode_from_nodeid(&fs->inodes, in->oldnodeid);
	pfd = inode_get_fd(&fs->inodes, dir);
	if (pfd < 0)
		return fuse_reply_err(req, -pfd);
	sfd = inode_get_fd(&fs->inodes, src);
	if (sfd < 0) {
		inode_put_fd(&fs->inodes, dir);
		return fuse_reply_err(req, -sfd);
	}
	r = linkat(sfd, "", pfd, name, AT_EMPTY_PATH) < 0 ? -errno : 0;
	inode_put_fd(&fs->inodes, src);
	inode_put_fd(&fs->inodes, dir);
	if (r < 0)
		return fuse_reply_err(req, -r);
	cntrfs_reply_entry(req, dir, name);
}

static void remove_entry(struct fuse_req *req, const void *arg, size_t len, int flags)
{
	const char *name = arg_string(arg, len, 0);
	struct cntrfs *fs = req_fs(req);
	struct inode *dir = req_inode(req);
	int pfd, r;

	if (!name)
		return fuse_reply_err(req, EINVAL);
	pfd = inode_get_fd(&fs->inodes, dir);
	if (pfd < 0)
		return fuse_reply_err(req, -pfd);
	r = unlinkat(pfd, name, flags) < 0 ? errno : 0;
	inode_put_fd(&fs->inodes, dir);
	fuse_reply_err(req, r);
}

void op_unlink(struct fuse_req *req, const void *arg, size_t len)
{
	remove_entry(req, arg, len, 0);
}

void op_rmdir(struct fuse_req *req, const void *arg, size_t len)
{
	remove_entry(req, arg, len, AT_REMOVEDIR);
}

static void do_rename(struct fuse_req *req, uint64_t newdir_id, unsigned flags, const void *arg,
		      size_t len, size_t off)
{
	const char *oldname = arg_string(arg, len, off);
	const char *newname = arg_next_string(arg, len, oldname);
	struct cntrfs *fs = req_fs(req);
	struct inode *olddir = req_inode(req), *newdir;
	int ofd, nfd, r;

	if (!oldname || !newname)
		return fuse_reply_err(req, EINVAL);
	newdir = inode_from_nodeid(&fs->inodes, newdir_id);
	ofd = inode_get_fd(&fs->inodes, olddir);
	if (ofd < 0)
		return fuse_reply_err(req, -ofd);
	nfd = inode_get_fd(&fs->inodes, newdir);
	if (nfd < 0) {
		inode_put_fd(&fs->inodes, olddir);
		return fuse_reply_err(req, -nfd);
	}
	r = renameat2(ofd, oldname, nfd, newname, flags) < 0 ? errno : 0;
	inode_put_fd(&fs->inodes, newdir);
	inode_put_fd(&fs->inodes, olddir);
	fuse_reply_err(req, r);
}

void op_rename(struct fuse_req *req, const void *arg, size_t len)
{
	const struct fuse_rename_in *in = ARG_STRUCT(struct fuse_rename_in, arg, len);

	if (!in)
		return fuse_reply_err(req, EINVAL);
	do_rename(req, in->newdir, 0, arg, len, sizeof(*in));
}

void op_rename2(struct fuse_req *req, const void *arg, size_t len)
{
	const struct fuse_rename2_in *in = ARG_STRUCT(struct fuse_rename2_in, arg, len);

	if (!in)
		return fuse_reply_err(req, EINVAL);
	do_rename(req, in->newdir, in->flags, arg, len, sizeof(*in));
}
