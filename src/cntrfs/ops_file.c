/* Open files: open, create, read, write and the calls on an open file. */
#include <errno.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "cntrfs/args.h"
#include "cntrfs/creds.h"
#include "cntrfs/fs.h"
#include "cntrfs/handles.h"
#include "fuse/reply.h"

/* Flags for our own fd of an open file. */
static int backing_flags(const struct cntrfs *fs, int flags)
{
	/* Direct I/O would need aligned request buffers; the cache choice is the kernel's. */
	flags &= ~(O_NOFOLLOW | O_DIRECT | O_CREAT | O_EXCL | O_NOCTTY);
	if (fs->writeback) {
		/* The kernel may read pages back through a write-only handle, and it sends
		 * explicit offsets for appends. */
		if ((flags & O_ACCMODE) == O_WRONLY)
			flags = (flags & ~O_ACCMODE) | O_RDWR;
		flags &= ~O_APPEND;
	}
	return flags | O_CLOEXEC;
}

/*
 * Registers i's backing file with the kernel on its first open, so reads,
 * writes and mmap bypass this server. Returns the backing id or -1.
 */
static int passthrough_ref(struct fuse_req *req, struct inode *i, int fd)
{
	struct cntrfs *fs = req_fs(req);
	struct inode_table *t = &fs->inodes;
	int id;

	pthread_mutex_lock(&t->lock);
	if (i->backing_id < 0) {
		struct fuse_backing_map map = { .fd = fd };

		i->backing_id = ioctl(req->fd, FUSE_DEV_IOC_BACKING_OPEN, &map);
		if (i->backing_id < 0)
			i->backing_id = -1; /* e.g. stacked too deep: served by us instead */
	}
	id = i->backing_id;
	i->open_count++;
	pthread_mutex_unlock(&t->lock);
	return id;
}

/*
 * Network filesystems (and other FUSE servers) may report write-back errors only when a
 * file is closed, so their closes go through FUSE_FLUSH. Everywhere else the
 * kernel skips that round trip (FOPEN_NOFLUSH): data went to the backing file
 * already, and POSIX locks are the kernel's own.
 */
static bool close_reports_errors(int fd)
{
	static const unsigned long magic[] = {
		NFS_SUPER_MAGIC,  SMB_SUPER_MAGIC,  CIFS_SUPER_MAGIC,
		SMB2_SUPER_MAGIC, CEPH_SUPER_MAGIC, V9FS_MAGIC,
		AFS_SUPER_MAGIC,  AFS_FS_MAGIC,	    FUSE_SUPER_MAGIC,
	};
	struct statfs sf;

	if (fstatfs(fd, &sf) < 0)
		return true;
	for (size_t k = 0; k < sizeof(magic) / sizeof(magic[0]); k++)
		if ((unsigned long)sf.f_type == magic[k])
			return true;
	return false;
}

/* Makes the handle and the open_out for a new open of i through fd (consumed). */
static int new_file(struct fuse_req *req, struct inode *i, int fd, struct cntr_fuse_open_out *out)
{
	struct cntrfs *fs = req_fs(req);
	struct cfile *f = malloc(sizeof(*f));
	int id = -1;

	if (!f) {
		close(fd);
		return -ENOMEM;
	}
	f->fd = fd;
	f->inode = i;
	f->prev = NULL;
	pthread_mutex_lock(&fs->files_lock);
	f->next = fs->open_files;
	if (f->next)
		f->next->prev = f;
	fs->open_files = f;
	pthread_mutex_unlock(&fs->files_lock);
	memset(out, 0, sizeof(*out));
	if (fs->passthrough && i->type == S_IFREG)
		id = passthrough_ref(req, i, fd);
	else
		inode_open_ref(&fs->inodes, i);
	if (id >= 0) {
		out->open_flags = FOPEN_PASSTHROUGH;
		out->backing_id = id;
	} else if (fs->cfg.keep_cache) {
		out->open_flags = FOPEN_KEEP_CACHE;
	}
	if (!close_reports_errors(fd))
		out->open_flags |= FOPEN_NOFLUSH;
	out->fh = (uint64_t)(uintptr_t)f;
	return 0;
}

void op_open(struct fuse_req *req, const void *arg, size_t len)
{
	const struct fuse_open_in *in = ARG_STRUCT(struct fuse_open_in, arg, len);
	struct cntrfs *fs = req_fs(req);
	struct inode *i = req_inode(req);
	struct cntr_fuse_open_out out;
	int fd, r;

	if (!in) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	fd = cntrfs_open_inode(fs, i, backing_flags(fs, (int)in->flags));
	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	/* O_TRUNC by a caller without CAP_FSETID (KILLPRIV_V2). */
	if ((in->open_flags & FUSE_OPEN_KILL_SUIDGID) && (in->flags & O_TRUNC))
		cntrfs_kill_suidgid(req, fd, false);
	r = new_file(req, i, fd, &out);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_data(req, &out, sizeof(out));
}

/*
 * Adds the new object behind file fd, created as name in directory dfd (NULL:
 * O_TMPFILE), to the inode table and fills its entry.
 */
static int entry_from_fd(struct cntrfs *fs, int fd, int dfd, const char *name,
			 struct fuse_entry_out *e, struct inode **ip)
{
	struct statx st, cur;
	struct inode *i;
	int r = cntrfs_statx_fd(fd, &st), pfd = -1;

	if (r < 0)
		return r;
	/* By name is cheaper than through /proc; a rename meanwhile is caught here. */
	if (name) {
		pfd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (pfd >= 0 &&
		    (cntrfs_statx_fd(pfd, &cur) < 0 || cur.stx_ino != st.stx_ino ||
		     cur.stx_dev_major != st.stx_dev_major ||
		     cur.stx_dev_minor != st.stx_dev_minor || cur.stx_mnt_id != st.stx_mnt_id)) {
			close(pfd);
			pfd = -1;
		}
	}
	if (pfd < 0)
		pfd = cntrfs_reopen(fs, fd, O_PATH);
	if (pfd < 0)
		return pfd;
	i = inode_insert_fd(&fs->inodes, pfd, &st);
	if (!i)
		return -errno;
	cntrfs_fill_entry(fs, e, i, &st);
	*ip = i;
	return 0;
}

static void create_common(struct fuse_req *req, const struct fuse_create_in *in, const char *name,
			  bool tmpfile)
{
	struct cntrfs *fs = req_fs(req);
	struct inode *dir = req_inode(req), *i = NULL;
	struct {
		struct fuse_entry_out entry;
		struct cntr_fuse_open_out open;
	} out;
	int pfd, fd = -1, r;

	pfd = inode_get_fd(&fs->inodes, dir);
	if (pfd < 0) {
		fuse_reply_err(req, -pfd);
		return;
	}
	r = creds_become_caller(req, in->umask);
	if (r == 0) {
		int flags = backing_flags(fs, (int)in->flags);

		if (tmpfile)
			fd = openat(pfd, ".", (flags & ~O_CREAT) | O_TMPFILE, in->mode & 07777);
		else
			fd = openat(pfd, name, flags | O_CREAT | (in->flags & O_EXCL) | O_NOFOLLOW,
				    in->mode & 07777);
		r = fd < 0 ? -errno : 0;
	}
	creds_become_server(req);
	if (r < 0) {
		inode_put_fd(&fs->inodes, dir);
		fuse_reply_err(req, -r);
		return;
	}
	if ((in->open_flags & FUSE_OPEN_KILL_SUIDGID) && (in->flags & O_TRUNC))
		cntrfs_kill_suidgid(req, fd, false); /* it existed after all */
	r = entry_from_fd(fs, fd, pfd, tmpfile ? NULL : name, &out.entry, &i);
	inode_put_fd(&fs->inodes, dir);
	if (r < 0 || !i) {
		close(fd);
		fuse_reply_err(req, r < 0 ? -r : EIO);
		return;
	}
	r = new_file(req, i, fd, &out.open);
	if (r < 0) {
		inode_forget(&fs->inodes, i, 1);
		fuse_reply_err(req, -r);
		return;
	}
	fuse_reply_data(req, &out, sizeof(out));
}

void op_create(struct fuse_req *req, const void *arg, size_t len)
{
	const struct fuse_create_in *in = ARG_STRUCT(struct fuse_create_in, arg, len);
	const char *name = arg_string(arg, len, sizeof(*in));

	if (!in || !name) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	create_common(req, in, name, false);
}

void op_tmpfile(struct fuse_req *req, const void *arg, size_t len)
{
	const struct fuse_create_in *in = ARG_STRUCT(struct fuse_create_in, arg, len);

	if (!in) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	create_common(req, in, NULL, true);
}

void op_read(struct fuse_req *req, const void *arg, size_t len)
{
	const struct fuse_read_in *in = ARG_STRUCT(struct fuse_read_in, arg, len);
	struct cntrfs_thread *t = req->worker_data;
	ssize_t n;

	if (!in || !t || in->size > CNTR_FUSE_MAX_WRITE) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (!t->readbuf && !(t->readbuf = malloc(CNTR_FUSE_MAX_WRITE))) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = pread(fh_file(in->fh)->fd, t->readbuf, in->size, (off_t)in->offset);
	if (n < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_data(req, t->readbuf, (size_t)n);
}

void op_write(struct fuse_req *req, const void *arg, size_t len)
{
	const struct fuse_write_in *in = ARG_STRUCT(struct fuse_write_in, arg, len);
	struct fuse_write_out out = { 0 };
	ssize_t n;

	if (!in || len - sizeof(*in) < in->size) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	/* The caller lacks CAP_FSETID; our own write would keep the bits. */
	if (in->write_flags & FUSE_WRITE_KILL_SUIDGID)
		cntrfs_kill_suidgid(req, fh_file(in->fh)->fd, false);
	n = pwrite(fh_file(in->fh)->fd, in + 1, in->size, (off_t)in->offset);
	if (n < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	out.size = (uint32_t)n;
	fuse_reply_data(req, &out, sizeof(out));
}

void op_flush(struct fuse_req *req, const void *arg, size_t len)
{
	const struct fuse_flush_in *in = ARG_STRUCT(struct fuse_flush_in, arg, len);
	int fd;

	if (!in) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	/* Some filesystems (NFS) report write-back errors on close. */
	fd = dup(fh_file(in->fh)->fd);
	if (fd < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	fuse_reply_err(req, close(fd) < 0 ? errno : 0);
}

void op_release(struct fuse_req *req, const void *arg, size_t len)
{
	const struct fuse_release_in *in = ARG_STRUCT(struct fuse_release_in, arg, len);
	struct cntrfs *fs = req_fs(req);
	struct cfile *f;
	int backing;

	if (!in) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	f = fh_file(in->fh);
	backing = inode_open_unref(&fs->inodes, f->inode);
	if (backing >= 0) {
		uint32_t id = (uint32_t)backing;

		ioctl(req->fd, FUSE_DEV_IOC_BACKING_CLOSE, &id);
	}
	pthread_mutex_lock(&fs->files_lock);
	if (f->prev)
		f->prev->next = f->next;
	else
		fs->open_files = f->next;
	if (f->next)
		f->next->prev = f->prev;
	pthread_mutex_unlock(&fs->files_lock);
	close(f->fd);
	free(f);
	fuse_reply_err(req, 0);
}

void op_fsync(struct fuse_req *req, const void *arg, size_t len)
{
	const struct fuse_fsync_in *in = ARG_STRUCT(struct fuse_fsync_in, arg, len);

	if (!in)
		fuse_reply_err(req, EINVAL);
	else
		cntrfs_reply_sync(req, fh_file(in->fh)->fd, in->fsync_flags);
}

void op_fallocate(struct fuse_req *req, const void *arg, size_t len)
{
	const struct fuse_fallocate_in *in = ARG_STRUCT(struct fuse_fallocate_in, arg, len);

	if (!in) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	fuse_reply_err(req, fallocate(fh_file(in->fh)->fd, (int)in->mode, (off_t)in->offset,
				      (off_t)in->length) < 0
				    ? errno
				    : 0);
}

void op_lseek(struct fuse_req *req, const void *arg, size_t len)
{
	const struct fuse_lseek_in *in = ARG_STRUCT(struct fuse_lseek_in, arg, len);
	struct fuse_lseek_out out;
	off_t off;

	if (!in) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	off = lseek(fh_file(in->fh)->fd, (off_t)in->offset, (int)in->whence);
	if (off < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	out.offset = (uint64_t)off;
	fuse_reply_data(req, &out, sizeof(out));
}

void op_copy_file_range(struct fuse_req *req, const void *arg, size_t len)
{
	const struct fuse_copy_file_range_in *in =
		ARG_STRUCT(struct fuse_copy_file_range_in, arg, len);
	struct fuse_write_out out = { 0 };
	loff_t off_in, off_out;
	ssize_t n;

	if (!in) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	off_in = (loff_t)in->off_in;
	off_out = (loff_t)in->off_out;
	n = copy_file_range(fh_file(in->fh_in)->fd, &off_in, fh_file(in->fh_out)->fd, &off_out,
			    in->len, (unsigned)in->flags);
	if (n < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	out.size = (uint32_t)n;
	fuse_reply_data(req, &out, sizeof(out));
}
