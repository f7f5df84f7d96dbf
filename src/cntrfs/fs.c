#include "cntrfs/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cntrfs/creds.h"
#include "cntrfs/handles.h"
#include "fuse/reply.h"
#include "util/log.h"

void cntrfs_config_defaults(struct cntrfs_config *c)
{
	memset(c, 0, sizeof(*c));
	c->threads = 0; /* one per CPU */
	c->attr_timeout = 1.0;
	c->entry_timeout = 1.0;
	c->negative_timeout = 1.0;
	c->passthrough = true;
	c->keep_cache = true;
	c->readdirplus = true;
	c->parallel_dirops = true;
	c->posix_acl = true;
	c->killpriv = true;
	c->opendir = true;
	c->io_uring = true;
	c->sched_idle = true;
}

static void split_time(double t, unsigned long *sec, unsigned *nsec)
{
	*sec = (unsigned long)t;
	*nsec = (unsigned)((t - floor(t)) * 1e9);
}

/* Largest fd table grown in advance (8 bytes an entry): 512 KiB. */
#define PRESIZED_FDS 65536

/*
 * Grows the fd table to the size the server will use, now, while the process
 * has one thread. The kernel grows it by doubling, and in a process with
 * several threads every growth waits for an RCU grace period (milliseconds):
 * serving the first 10,000 inodes cost about 10 us a new fd that way.
 */
static void presize_fd_table(int fd, rlim_t limit)
{
	int top;

	if (limit > PRESIZED_FDS)
		limit = PRESIZED_FDS;
	if (limit < 2)
		return;
	/* The lowest free number from limit-1 up: never replaces an open fd. */
	top = fcntl(fd, F_DUPFD_CLOEXEC, (int)(limit - 1));
	if (top >= 0)
		close(top);
}

/* Half of the fd limit goes to the inode fd cache; the rest to open files. */
static unsigned fd_budget(int any_fd)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max; /* raising the soft limit needs no privilege */
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY) {
		presize_fd_table(any_fd, PRESIZED_FDS);
		return 8192;
	}
	presize_fd_table(any_fd, rl.rlim_cur);
	return rl.rlim_cur > 64 ? (unsigned)(rl.rlim_cur / 2) : 16;
}

int cntrfs_init(struct cntrfs *fs, const char *source, const struct cntrfs_config *cfg)
{
	int root, r;
	struct stat st;

	memset(fs, 0, sizeof(*fs));
	pthread_mutex_init(&fs->files_lock, NULL);
	fs->cfg = *cfg;
	fs->proc_fd = -1;
	root = open(source, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return log_errno(errno, "%s", source);
	if (fstat(root, &st) < 0 || !S_ISDIR(st.st_mode)) {
		close(root);
		return log_errno(ENOTDIR, "%s", source);
	}
	fs->proc_fd = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fs->proc_fd < 0) {
		r = log_errno(errno, "/proc/self/fd (is /proc mounted?)");
		close(root);
		return r;
	}
	r = inode_table_init(&fs->inodes, root, fd_budget(root));
	if (r < 0) {
		close(fs->proc_fd);
		return log_errno(r, "inode table");
	}
	r = dir_streams_init(fs);
	if (r < 0) {
		inode_table_destroy(&fs->inodes);
		close(fs->proc_fd);
		return log_errno(r, "directory streams");
	}
	split_time(cfg->entry_timeout, &fs->entry_sec, &fs->entry_nsec);
	split_time(cfg->attr_timeout, &fs->attr_sec, &fs->attr_nsec);
	split_time(cfg->negative_timeout, &fs->neg_sec, &fs->neg_nsec);
	return 0;
}

void cntrfs_destroy(struct cntrfs *fs)
{
	while (fs->open_files) {
		struct cfile *f = fs->open_files;

		fs->open_files = f->next;
		close(f->fd);
		free(f);
	}
	pthread_mutex_destroy(&fs->files_lock);
	dir_streams_destroy(fs);
	inode_table_destroy(&fs->inodes);
	if (fs->proc_fd >= 0)
		close(fs->proc_fd);
}

static void fs_init(void *data, const struct fuse_conn *conn)
{
	struct cntrfs *fs = data;

	fs->passthrough = conn->passthrough;
	fs->writeback = conn->flags & FUSE_WRITEBACK_CACHE;
	fs->killpriv = conn->flags & FUSE_HANDLE_KILLPRIV_V2;
	/* The kernel remembers an ENOSYS to OPENDIR only if it says so. */
	fs->no_opendir = !fs->cfg.opendir && (conn->kernel_flags & FUSE_NO_OPENDIR_SUPPORT);
}

void cntrfs_want(const struct cntrfs *fs, struct fuse_want *want)
{
	const struct cntrfs_config *c = &fs->cfg;
	uint64_t f = FUSE_ASYNC_READ | FUSE_ATOMIC_O_TRUNC | FUSE_BIG_WRITES | FUSE_DONT_MASK |
		     FUSE_HAS_IOCTL_DIR | FUSE_AUTO_INVAL_DATA | FUSE_ASYNC_DIO |
		     FUSE_CACHE_SYMLINKS | FUSE_SETXATTR_EXT;

	if (c->readdirplus)
		f |= FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO;
	if (c->parallel_dirops)
		f |= FUSE_PARALLEL_DIROPS;
	if (c->writeback && !c->ro)
		f |= FUSE_WRITEBACK_CACHE;
	if (c->posix_acl)
		f |= FUSE_POSIX_ACL;
	/*
	 * We clear setuid/setgid bits on write, truncate and O_TRUNC; the kernel
	 * then marks inodes it found clean (S_NOSEC) and stops asking for
	 * security.capability before every write. Passthrough writes bypass us,
	 * but before one the kernel still works out what to clear and, leaving
	 * the mode to us, sends a SETATTR that changes nothing (ops_attr.c).
	 */
	if (c->killpriv)
		f |= FUSE_HANDLE_KILLPRIV_V2;
	memset(want, 0, sizeof(*want));
	want->flags = f;
	want->max_write = CNTR_FUSE_MAX_WRITE;
	want->max_background = 64;
	want->passthrough = c->passthrough && !c->writeback;
	want->io_uring = c->io_uring;
	want->sched_idle = c->sched_idle;
	want->stats = c->stats;
}

int cntrfs_statx_fd(int fd, struct statx *st)
{
	if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW | AT_STATX_SYNC_AS_STAT,
		  STATX_BASIC_STATS | STATX_MNT_ID, st) < 0)
		return -errno;
	return 0;
}

int cntrfs_reopen(const struct cntrfs *fs, int fd, int flags)
{
	char name[16];
	int r;

	snprintf(name, sizeof(name), "%d", fd);
	/* O_NOFOLLOW would refuse the /proc magic link itself. */
	r = openat(fs->proc_fd, name, (flags & ~O_NOFOLLOW) | O_CLOEXEC);
	return r < 0 ? -errno : r;
}

int cntrfs_kill_suidgid(struct fuse_req *req, int fd, bool caller_capable)
{
	const struct cntrfs *fs = req_fs(req);
	struct statx st;
	char name[16];
	mode_t kill = S_ISUID;
	int r = cntrfs_statx_fd(fd, &st);

	if (r < 0)
		return r;
	if (!S_ISREG(st.stx_mode) || !(st.stx_mode & (S_ISUID | S_ISGID)))
		return 0;
	if ((st.stx_mode & S_IXGRP) || (!caller_capable && !creds_caller_in_group(req, st.stx_gid)))
		kill |= S_ISGID;
	if (!(st.stx_mode & kill))
		return 0;
	snprintf(name, sizeof(name), "%d", fd);
	if (fchmodat(fs->proc_fd, name, st.stx_mode & 07777 & ~kill, 0) < 0)
		return -errno;
	return 0;
}

int cntrfs_open_inode(struct cntrfs *fs, struct inode *i, int flags)
{
	int ifd, fd;

	/* fh and mount_fd are set before the entry is published and never change. */
	if (i->fh && i->mount_fd >= 0) {
		fd = open_by_handle_at(i->mount_fd, i->fh, flags | O_CLOEXEC);
		if (fd >= 0)
			return fd;
		/* ESTALE: unlinked, but still open here; the O_PATH fd still reaches it. */
		if (errno != ESTALE)
			return -errno;
	}
	ifd = inode_get_fd(&fs->inodes, i);
	if (ifd < 0)
		return ifd;
	fd = cntrfs_reopen(fs, ifd, flags);
	inode_put_fd(&fs->inodes, i);
	return fd;
}

void cntrfs_fill_attr(const struct cntrfs *fs, struct fuse_attr *a, const struct statx *st)
{
	memset(a, 0, sizeof(*a));
	a->ino = st->stx_ino;
	a->size = st->stx_size;
	a->blocks = st->stx_blocks;
	a->atime = (uint64_t)st->stx_atime.tv_sec;
	a->mtime = (uint64_t)st->stx_mtime.tv_sec;
	a->ctime = (uint64_t)st->stx_ctime.tv_sec;
	a->atimensec = st->stx_atime.tv_nsec;
	a->mtimensec = st->stx_mtime.tv_nsec;
	a->ctimensec = st->stx_ctime.tv_nsec;
	a->mode = st->stx_mode;
	a->nlink = st->stx_nlink;
	a->uid = idmap_to_outside(&fs->cfg.uid_map, st->stx_uid);
	a->gid = idmap_to_outside(&fs->cfg.gid_map, st->stx_gid);
	a->rdev = (uint32_t)makedev(st->stx_rdev_major, st->stx_rdev_minor);
	a->blksize = st->stx_blksize;
}

int cntrfs_do_lookup(struct cntrfs *fs, struct inode *parent, const char *name,
		     struct fuse_entry_out *out)
{
	struct statx st;
	struct inode *i = NULL;
	int pfd;

	for (int attempt = 0; attempt < 3 && !i; attempt++) {
		pfd = inode_get_fd(&fs->inodes, parent);
		if (pfd < 0)
			return pfd;
		if (statx(pfd, name, AT_SYMLINK_NOFOLLOW | AT_STATX_SYNC_AS_STAT,
			  STATX_BASIC_STATS | STATX_MNT_ID, &st) < 0) {
			int err = errno;
			inode_put_fd(&fs->inodes, parent);
			return -err;
		}
		inode_put_fd(&fs->inodes, parent);
		/* Serving our own mount through itself would recurse without end. */
		if (fs->self_dev && makedev(st.stx_dev_major, st.stx_dev_minor) == fs->self_dev)
			return -ELOOP;
		i = inode_lookup(&fs->inodes, parent, name, &st);
		if (!i && errno != ESTALE)
			return -errno;
	}
	if (!i)
		return -ESTALE;
	cntrfs_fill_entry(fs, out, i, &st);
	return 0;
}

void cntrfs_fill_entry(const struct cntrfs *fs, struct fuse_entry_out *out, const struct inode *i,
		       const struct statx *st)
{
	memset(out, 0, sizeof(*out));
	out->nodeid = inode_nodeid(&fs->inodes, i);
	out->entry_valid = fs->entry_sec;
	out->entry_valid_nsec = fs->entry_nsec;
	out->attr_valid = fs->attr_sec;
	out->attr_valid_nsec = fs->attr_nsec;
	cntrfs_fill_attr(fs, &out->attr, st);
}

void cntrfs_reply_sync(struct fuse_req *req, int fd, uint32_t fsync_flags)
{
	int r = (fsync_flags & FUSE_FSYNC_FDATASYNC) ? fdatasync(fd) : fsync(fd);

	fuse_reply_err(req, r < 0 ? errno : 0);
}

void cntrfs_reply_entry(struct fuse_req *req, struct inode *parent, const char *name)
{
	struct cntrfs *fs = req_fs(req);
	struct fuse_entry_out out;
	int r = cntrfs_do_lookup(fs, parent, name, &out);

	if (r == -ENOENT && (fs->neg_sec || fs->neg_nsec) && req->in->opcode == FUSE_LOOKUP) {
		/* nodeid 0: the kernel caches the absence for entry_valid. */
		memset(&out, 0, sizeof(out));
		out.entry_valid = fs->neg_sec;
		out.entry_valid_nsec = fs->neg_nsec;
		fuse_reply_data(req, &out, sizeof(out));
		return;
	}
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_data(req, &out, sizeof(out));
}

static const struct fuse_session_ops session_ops = {
	.handlers = {
		[FUSE_LOOKUP] = op_lookup,
		[FUSE_FORGET] = op_forget,
		[FUSE_BATCH_FORGET] = op_batch_forget,
		[FUSE_GETATTR] = op_getattr,
		[FUSE_SETATTR] = op_setattr,
		[FUSE_READLINK] = op_readlink,
		[FUSE_SYMLINK] = op_symlink,
		[FUSE_MKNOD] = op_mknod,
		[FUSE_MKDIR] = op_mkdir,
		[FUSE_UNLINK] = op_unlink,
		[FUSE_RMDIR] = op_rmdir,
		[FUSE_RENAME] = op_rename,
		[FUSE_RENAME2] = op_rename2,
		[FUSE_LINK] = op_link,
		[FUSE_OPEN] = op_open,
		[FUSE_CREATE] = op_create,
		[FUSE_TMPFILE] = op_tmpfile,
		[FUSE_READ] = op_read,
		[FUSE_WRITE] = op_write,
		[FUSE_FLUSH] = op_flush,
		[FUSE_RELEASE] = op_release,
		[FUSE_FSYNC] = op_fsync,
		[FUSE_FALLOCATE] = op_fallocate,
		[FUSE_LSEEK] = op_lseek,
		[FUSE_COPY_FILE_RANGE] = op_copy_file_range,
		[FUSE_OPENDIR] = op_opendir,
		[FUSE_READDIR] = op_readdir,
		[FUSE_READDIRPLUS] = op_readdirplus,
		[FUSE_RELEASEDIR] = op_releasedir,
		[FUSE_FSYNCDIR] = op_fsyncdir,
		[FUSE_GETXATTR] = op_getxattr,
		[FUSE_SETXATTR] = op_setxattr,
		[FUSE_LISTXATTR] = op_listxattr,
		[FUSE_REMOVEXATTR] = op_removexattr,
		[FUSE_STATFS] = op_statfs,
		[FUSE_SYNCFS] = op_syncfs,
		[FUSE_IOCTL] = op_ioctl,
	},
	.init = fs_init,
	.thread_start = creds_thread_start,
	.thread_stop = creds_thread_stop,
};

const struct fuse_session_ops *cntrfs_session_ops(void)
{
	return &session_ops;
}
