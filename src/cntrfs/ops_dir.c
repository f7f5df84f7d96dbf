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

/*
 * --no-opendir: without OPENDIR (the kernel's FUSE_NO_OPENDIR_SUPPORT: OPENDIR
 * answered ENOSYS once), listings arrive with fh 0 and no RELEASEDIR follows,
 * which saves two of the three round trips of listing a small directory, and
 * the kernel caches listings (see op_opendir). A listing
 * is then served from one of a few open streams kept per directory inode and
 * dropped once it reached the end; a listing that finds no stream of its
 * directory (evicted, or another offset) opens one and seeks to the offset,
 * which is the backing filesystem's d_off cookie, valid on any fd of it.
 */
#define DIR_STREAMS 64

struct dir_stream {
	struct cdir d; /* d.lock is held while the stream is used */
	struct inode *inode; /* owner, NULL when free; changes under both locks */
	uint64_t serial; /* the owner's serial: a reused address never matches */
	uint64_t used; /* LRU stamp */
};

struct dir_streams {
	pthread_mutex_t lock;
	uint64_t clock;
	struct dir_stream s[DIR_STREAMS];
};

int dir_streams_init(struct cntrfs *fs)
{
	struct dir_streams *ds = calloc(1, sizeof(*ds));

	if (!ds)
		return -ENOMEM;
	pthread_mutex_init(&ds->lock, NULL);
	for (int k = 0; k < DIR_STREAMS; k++) {
		ds->s[k].d.fd = -1;
		pthread_mutex_init(&ds->s[k].d.lock, NULL);
	}
	fs->dirs = ds;
	return 0;
}

void dir_streams_destroy(struct cntrfs *fs)
{
	struct dir_streams *ds = fs->dirs;

	if (!ds)
		return;
	for (int k = 0; k < DIR_STREAMS; k++) {
		if (ds->s[k].d.fd >= 0)
			close(ds->s[k].d.fd);
		free(ds->s[k].d.buf);
		pthread_mutex_destroy(&ds->s[k].d.lock);
	}
	pthread_mutex_destroy(&ds->lock);
	free(ds);
	fs->dirs = NULL;
}

int cntrfs_open_dir(struct cntrfs *fs, struct inode *i)
{
	return cntrfs_open_inode(fs, i, O_RDONLY | O_DIRECTORY);
}

/* Empties a stream (its lock held): the next use opens the directory again. */
static void stream_reset(struct cdir *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	d->len = d->used = 0;
	d->pos = 0;
}

/* Which stream to give up: a free one, else the least recently used. */
static bool better_victim(const struct dir_stream *c, const struct dir_stream *v)
{
	if (!c->inode != !v->inode)
		return !c->inode;
	return c->used < v->used;
}

/*
 * The stream of directory i, locked, or NULL when every stream is busy (the
 * caller then lists through a private one).
 */
static struct dir_stream *stream_get(struct dir_streams *ds, struct inode *i)
{
	for (;;) {
		struct dir_stream *found = NULL, *victim = NULL;

		pthread_mutex_lock(&ds->lock);
		for (int k = 0; k < DIR_STREAMS && !found; k++)
			if (ds->s[k].inode == i && ds->s[k].serial == i->serial)
				found = &ds->s[k];
		if (!found) {
			/* Streams in use by another request are never taken over. */
			for (int k = 0; k < DIR_STREAMS; k++) {
				struct dir_stream *c = &ds->s[k];

				if (victim && !better_victim(c, victim))
					continue;
				if (pthread_mutex_trylock(&c->d.lock) != 0)
					continue;
				if (victim)
					pthread_mutex_unlock(&victim->d.lock);
				victim = c;
			}
			if (!victim) {
				pthread_mutex_unlock(&ds->lock);
				return NULL;
			}
			stream_reset(&victim->d);
			victim->inode = i;
			victim->serial = i->serial;
			victim->used = ++ds->clock;
			pthread_mutex_unlock(&ds->lock);
			return victim;
		}
		found->used = ++ds->clock;
		pthread_mutex_unlock(&ds->lock);
		pthread_mutex_lock(&found->d.lock);
		if (found->inode == i && found->serial == i->serial)
			return found;
		/* Taken over for another directory meanwhile: look again. */
		pthread_mutex_unlock(&found->d.lock);
	}
}

/* Gives the stream back; a listing that reached its end frees it. */
static void stream_put(struct dir_streams *ds, struct dir_stream *st, bool done)
{
	if (done) {
		stream_reset(&st->d);
		pthread_mutex_lock(&ds->lock);
		st->inode = NULL;
		st->serial = 0;
		pthread_mutex_unlock(&ds->lock);
	}
	pthread_mutex_unlock(&st->d.lock);
}

void op_opendir(struct fuse_req *req, const void *arg, size_t len)
{
	struct cntrfs *fs = req_fs(req);
	struct inode *i = req_inode(req);
	struct cntr_fuse_open_out out;
	struct cdir *d;
	int fd;

	if (fs->no_opendir) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	fd = cntrfs_open_dir(fs, i);
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
	 * add while it is being read. Without OPENDIR (--no-opendir) the kernel
	 * caches listings all the same (FOPEN_CACHE_DIR | FOPEN_KEEP_CACHE is its
	 * default then): it drops the cache when the directory changes through
	 * the mount, or when its mtime differs once the attributes expired, but a
	 * listing read while another process creates a name can be cached with
	 * the version that already counts that name, and then misses it
	 * (test_concurrent_creates_renames_links_unlinks_in_one_directory).
	 */
	fuse_reply_data(req, &out, sizeof(out));
}

/* Next raw entry of the stream, refilling the buffer; NULL at the end or on error. */
static struct linux_dirent64 *peek_entry(struct cdir *d, int *err, bool *eof)
{
	if (d->used >= d->len) {
		long n = getdents64(d->fd, d->buf, DIR_BUFSIZE);

		if (n < 0) {
			*err = errno;
			return NULL;
		}
		d->len = (size_t)n;
		d->used = 0;
		if (n == 0) {
			*eof = true;
			return NULL;
		}
	}
	return (struct linux_dirent64 *)(d->buf + d->used);
}

static bool is_dot_or_dotdot(const char *name)
{
	return name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

/*
 * Fills out (size bytes) with the entries of stream d (locked, of directory
 * dir) from offset on. Returns the bytes used; *err and *eof tell why it stopped.
 */
static size_t fill_listing(struct cntrfs *fs, struct cdir *d, struct inode *dir, off_t offset,
			   char *out, size_t size, bool plus, int *err, bool *eof)
{
	size_t used = 0;

	if (d->fd < 0) {
		int fd = cntrfs_open_dir(fs, dir);

		if (fd < 0) {
			*err = -fd;
			return 0;
		}
		d->fd = fd;
		d->pos = 0;
		d->len = d->used = 0;
	}
	/* Offset 0 is a rewind: read the directory afresh, not what is buffered. */
	if (offset != d->pos || offset == 0) {
		if (lseek(d->fd, offset, SEEK_SET) < 0) {
			*err = errno;
			return 0;
		}
		d->pos = offset;
		d->len = d->used = 0;
	}
	for (;;) {
		struct linux_dirent64 *e = peek_entry(d, err, eof);
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
			struct fuse_direntplus *dp = (void *)(out + used);

			memset(&dp->entry_out, 0, sizeof(dp->entry_out));
			/*
			 * "." and ".." get no entry: the kernel would never forget them.
			 * Nor does a name whose lookup fails (gone meanwhile, or our own
			 * mount point): it is listed, and looked up on its own if used.
			 */
			if (!is_dot_or_dotdot(e->d_name) &&
			    cntrfs_do_lookup(fs, dir, e->d_name, &dp->entry_out) < 0)
				memset(&dp->entry_out, 0, sizeof(dp->entry_out));
			fd = &dp->dirent;
		} else {
			fd = (void *)(out + used);
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
	return used;
}

static void do_readdir(struct fuse_req *req, const void *arg, size_t len, bool plus)
{
	const struct fuse_read_in *in = ARG_STRUCT(struct fuse_read_in, arg, len);
	struct cntrfs_thread *t = req->worker_data;
	struct cntrfs *fs = req_fs(req);
	size_t size, used;
	int err = 0;
	bool eof = false;

	if (!in || !t) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (!t->readbuf && !(t->readbuf = malloc(CNTR_FUSE_MAX_WRITE))) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	size = in->size < CNTR_FUSE_MAX_WRITE ? in->size : CNTR_FUSE_MAX_WRITE;
	if (in->fh) {
		struct cdir *d = fh_dir(in->fh);

		pthread_mutex_lock(&d->lock);
		used = fill_listing(fs, d, d->inode, (off_t)in->offset, t->readbuf, size, plus,
				    &err, &eof);
		pthread_mutex_unlock(&d->lock);
	} else {
		struct inode *dir = req_inode(req);
		struct dir_stream *st = stream_get(fs->dirs, dir);

		if (st) {
			if (!st->d.buf && !(st->d.buf = malloc(DIR_BUFSIZE))) {
				stream_put(fs->dirs, st, true);
				fuse_reply_err(req, ENOMEM);
				return;
			}
			used = fill_listing(fs, &st->d, dir, (off_t)in->offset, t->readbuf, size,
					    plus, &err, &eof);
			/* Done at the end, and after an error: reopen rather than trust it. */
			stream_put(fs->dirs, st, eof || err);
		} else {
			struct cdir priv = { .fd = -1, .buf = malloc(DIR_BUFSIZE) };

			if (!priv.buf) {
				fuse_reply_err(req, ENOMEM);
				return;
			}
			used = fill_listing(fs, &priv, dir, (off_t)in->offset, t->readbuf, size,
					    plus, &err, &eof);
			stream_reset(&priv);
			free(priv.buf);
		}
	}
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
	int fd;

	if (!in) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (in->fh) {
		cntrfs_reply_sync(req, fh_dir(in->fh)->fd, in->fsync_flags);
		return;
	}
	/* Opened without OPENDIR: any fd of the directory syncs it. */
	fd = cntrfs_open_dir(req_fs(req), req_inode(req));
	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	cntrfs_reply_sync(req, fd, in->fsync_flags);
	close(fd);
}
