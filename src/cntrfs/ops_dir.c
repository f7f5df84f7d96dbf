/*
 * Directory listing with getdents64. The offset the kernel sees for an entry
 * is the backing filesystem's d_off cookie, so seekdir/telldir stay valid and
 * a listing resumes exactly where the previous reply stopped.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cntrfs/args.h"
#include "cntrfs/creds.h"
#include "cntrfs/fs.h"
#include "cntrfs/handles.h"
#include "fuse/reply.h"

#define DIR_BUFSIZE (32 * 1024)

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

void op_opendir(struct fuse_req *req, const void *arg, size_t len)
{
	struct cntrfs *fs = req_fs(req);
	struct inode *i = req_inode(req);
	struct cntr_fuse_open_out out;
	struct cdir *d;
	int ifd, fd;

	ifd = inode_get_fd(&fs->inodes, i);
	if (ifd < 0) {
		fuse_reply_err(req, -ifd);
		return;
	}
	fd = cntrfs_reopen(fs, ifd, O_RDONLY | O_DIRECTORY);
	inode_put_fd(&fs->inodes, i);
	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	d = calloc(1, sizeof(*d));
	if (!d || !(d->buf = malloc(DIR_BUFSIZE))) {
		free(d);
		close(fd);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	d->fd = fd;
	d->inode = i;
	pthread_mutex_init(&d->lock, NULL);
	memset(&out, 0, sizeof(out));
	out.fh = (uint64_t)(uintptr_t)d;
	/*
	 * No FOPEN_CACHE_DIR: a cached listing can miss entries other processes
	 * add while it is being read (the kernel re-validates it only by mtime).
	 */
	fuse_reply_data(req, &out, sizeof(out));
}

/* Next raw entry of the stream, refilling the buffer; NULL at the end or on error. */
static struct linux_dirent64 *peek_entry(struct cdir *d, int *err)
{
	if (d->used >= d->len) {
		long n = getdents64(d->fd, d->buf, DIR_BUFSIZE);

		if (n < 0) {
			*err = errno;
			return NULL;
		}
		d->len = (size_t)n;
		d->used = 0;
		if (n == 0)
			return NULL;
	}
	return (struct linux_dirent64 *)(d->buf + d->used);
}

static bool is_dot_or_dotdot(const char *name)
{
	return name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

static void do_readdir(struct fuse_req *req, const void *arg, size_t len, bool plus)
{
	const struct fuse_read_in *in = ARG_STRUCT(struct fuse_read_in, arg, len);
	struct cntrfs_thread *t = req->worker_data;
	struct cntrfs *fs = req_fs(req);
	struct cdir *d;
	size_t size, used = 0;
	int err = 0;

	if (!in || !t) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (!t->readbuf && !(t->readbuf = malloc(CNTR_FUSE_MAX_WRITE))) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	size = in->size < CNTR_FUSE_MAX_WRITE ? in->size : CNTR_FUSE_MAX_WRITE;
	d = fh_dir(in->fh);
	pthread_mutex_lock(&d->lock);
	if ((off_t)in->offset != d->pos) {
		if (lseek(d->fd, (off_t)in->offset, SEEK_SET) < 0) {
			err = errno;
			goto out;
		}
		d->pos = (off_t)in->offset;
		d->len = d->used = 0;
	}
	for (;;) {
		struct linux_dirent64 *e = peek_entry(d, &err);
		size_t namelen, reclen;
		struct fuse_dirent *fd;

		if (!e)
			break;
		namelen = strlen(e->d_name);
		reclen = FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET + namelen);
		if (plus)
			reclen = FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET_DIRENTPLUS + namelen);
		if (used + reclen > size)
			break; /* stays buffered for the next call */

		if (plus) {
			struct fuse_direntplus *dp = (void *)(t->readbuf + used);

			memset(&dp->entry_out, 0, sizeof(dp->entry_out));
			/*
			 * "." and ".." get no entry: the kernel would never forget them.
			 * Nor does a name whose lookup fails (gone meanwhile, or our own
			 * mount point): it is listed, and looked up on its own if used.
			 */
			if (!is_dot_or_dotdot(e->d_name) &&
			    cntrfs_do_lookup(fs, d->inode, e->d_name, &dp->entry_out) < 0)
				memset(&dp->entry_out, 0, sizeof(dp->entry_out));
			fd = &dp->dirent;
		} else {
			fd = (void *)(t->readbuf + used);
		}
		fd->ino = e->d_ino;
		fd->off = (uint64_t)e->d_off;
		fd->namelen = (uint32_t)namelen;
		fd->type = e->d_type;
		memcpy(fd->name, e->d_name, namelen);
		memset(fd->name + namelen, 0,
		       reclen - namelen - (plus ? FUSE_NAME_OFFSET_DIRENTPLUS : FUSE_NAME_OFFSET));
		used += reclen;
		d->used += e->d_reclen;
		d->pos = e->d_off;
	}
out:
	pthread_mutex_unlock(&d->lock);
	if (err && used == 0)
		fuse_reply_err(req, err);
	else
		fuse_reply_data(req, t->readbuf, used);
}

void op_readdir(struct fuse_req *req, const void *arg, size_t len)
{
	do_readdir(req, arg, len, false);
}

void op_readdirplus(struct fuse_req *req, const void *arg, size_t len)
{
	do_readdir(req, arg, len, true);
}

void op_releasedir(struct fuse_req *req, const void *arg, size_t len)
{
	const struct fuse_release_in *in = ARG_STRUCT(struct fuse_release_in, arg, len);
	struct cdir *d;

	if (!in) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	d = fh_dir(in->fh);
	close(d->fd);
	pthread_mutex_destroy(&d->lock);
	free(d->buf);
	free(d);
	fuse_reply_err(req, 0);
}

void op_fsyncdir(struct fuse_req *req, const void *arg, size_t len)
{
	const struct fuse_fsync_in *in = ARG_STRUCT(struct fuse_fsync_in, arg, len);

	if (!in)
		fuse_reply_err(req, EINVAL);
	else
		cntrfs_reply_sync(req, fh_dir(in->fh)->fd, in->fsync_flags);
}
