/*
 * O_PATH fds for inode entries, bounded: entries on filesystems with file
 * handles give their fd back under pressure (least recently used first) and
 * reopen it with open_by_handle_at. Entries without usable handles, with open
 * files, or in use by a request keep theirs.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cntrfs/inode.h"

struct mount_fd {
	uint64_t mnt_id;
	int fd; /* -1: handles cannot be decoded on this mount */
};

static bool evictable(const struct inode_table *t, const struct inode *i)
{
	return i->fh && i->fd >= 0 && i->fd_users == 0 && i->open_count == 0 && i != &t->root;
}

static void lru_unlink(struct inode *i)
{
	i->lru_prev->lru_next = i->lru_next;
	i->lru_next->lru_prev = i->lru_prev;
	i->lru_prev = i->lru_next = NULL;
}

static void lru_push_front(struct inode_table *t, struct inode *i)
{
	i->lru_next = t->lru.lru_next;
	i->lru_prev = &t->lru;
	t->lru.lru_next->lru_prev = i;
	t->lru.lru_next = i;
}

void fdcache_attach_locked(struct inode_table *t, struct inode *i)
{
	if (!i->fh || i->lru_next)
		return;
	lru_push_front(t, i);
	t->open_fds++;
}

void fdcache_detach_locked(struct inode_table *t, struct inode *i)
{
	if (!i->lru_next)
		return;
	lru_unlink(i);
	t->open_fds--;
}

static void trim_locked(struct inode_table *t, unsigned target, unsigned max_scan)
{
	struct inode *i = t->lru.lru_prev;

	while (t->open_fds > target && i != &t->lru && max_scan--) {
		struct inode *prev = i->lru_prev;

		if (evictable(t, i)) {
			close(i->fd);
			i->fd = -1;
			lru_unlink(i);
			t->open_fds--;
		}
		i = prev;
	}
}

void fdcache_trim_locked(struct inode_table *t)
{
	trim_locked(t, t->max_fds, 64);
}

int inode_get_fd(struct inode_table *t, struct inode *i)
{
	int fd;

	pthread_mutex_lock(&t->lock);
	if (i->fd >= 0) {
		i->fd_users++;
		if (i->lru_next) { /* most recently used goes to the front */
			lru_unlink(i);
			lru_push_front(t, i);
		}
		pthread_mutex_unlock(&t->lock);
		return i->fd;
	}
	pthread_mutex_unlock(&t->lock);
	if (!i->fh)
		return -ESTALE;

	fd = open_by_handle_at(i->mount_fd, i->fh, O_PATH | O_CLOEXEC);
	if (fd < 0 && (errno == EMFILE || errno == ENFILE)) {
		pthread_mutex_lock(&t->lock);
		trim_locked(t, t->open_fds / 2, UINT32_MAX);
		pthread_mutex_unlock(&t->lock);
		fd = open_by_handle_at(i->mount_fd, i->fh, O_PATH | O_CLOEXEC);
	}
	if (fd < 0)
		return -errno;

	pthread_mutex_lock(&t->lock);
	if (i->fd >= 0) {
		close(fd); /* another thread reopened it first */
	} else {
		i->fd = fd;
		fdcache_attach_locked(t, i);
		fdcache_trim_locked(t);
	}
	i->fd_users++;
	fd = i->fd;
	pthread_mutex_unlock(&t->lock);
	return fd;
}

void inode_put_fd(struct inode_table *t, struct inode *i)
{
	pthread_mutex_lock(&t->lock);
	if (i->fd_users)
		i->fd_users--;
	pthread_mutex_unlock(&t->lock);
}

void inode_open_ref(struct inode_table *t, struct inode *i)
{
	pthread_mutex_lock(&t->lock);
	i->open_count++;
	pthread_mutex_unlock(&t->lock);
}

int inode_open_unref(struct inode_table *t, struct inode *i)
{
	int backing = -1;

	pthread_mutex_lock(&t->lock);
	if (i->open_count && --i->open_count == 0) {
		backing = i->backing_id;
		i->backing_id = -1;
	}
	pthread_mutex_unlock(&t->lock);
	return backing;
}

/* Finds the fd used to decode handles of mount mnt_id, adding one from fd. */
static int mount_fd_for(struct inode_table *t, uint64_t mnt_id, int fd, uint32_t type,
			const struct file_handle *fh)
{
	struct mount_fd *m, *grown;
	char path[64];
	int mfd, probe;

	pthread_mutex_lock(&t->lock);
	for (size_t k = 0; k < t->nmounts; k++) {
		if (t->mounts[k].mnt_id == mnt_id) {
			mfd = t->mounts[k].fd;
			pthread_mutex_unlock(&t->lock);
			return mfd;
		}
	}
	pthread_mutex_unlock(&t->lock);

	/*
	 * open_by_handle_at wants a real (not O_PATH) fd on the mount. Only
	 * directories and regular files are opened for that: never devices.
	 */
	if (!S_ISDIR(type) && !S_ISREG(type))
		return -EOPNOTSUPP;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	mfd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (mfd < 0)
		return -errno;
	/* Some filesystems encode handles they cannot decode: try once per mount. */
	probe = open_by_handle_at(mfd, (struct file_handle *)fh, O_PATH | O_CLOEXEC);
	if (probe < 0) {
		close(mfd);
		mfd = -1;
	} else {
		close(probe);
	}

	pthread_mutex_lock(&t->lock);
	for (size_t k = 0; k < t->nmounts; k++) {
		if (t->mounts[k].mnt_id == mnt_id) { /* lost a race */
			if (mfd >= 0)
				close(mfd);
			mfd = t->mounts[k].fd;
			pthread_mutex_unlock(&t->lock);
			return mfd;
		}
	}
	grown = realloc(t->mounts, (t->nmounts + 1) * sizeof(*t->mounts));
	if (!grown) {
		pthread_mutex_unlock(&t->lock);
		if (mfd >= 0)
			close(mfd);
		return -ENOMEM;
	}
	t->mounts = grown;
	m = &t->mounts[t->nmounts++];
	m->mnt_id = mnt_id;
	m->fd = mfd;
	pthread_mutex_unlock(&t->lock);
	return mfd;
}

int fdcache_make_handle(struct inode_table *t, struct inode *i, int fd)
{
	struct file_handle *fh = malloc(sizeof(*fh) + MAX_HANDLE_SZ);
	int mnt_id, mfd;

	if (!fh)
		return -ENOMEM;
	fh->handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(fd, "", fh, &mnt_id, AT_EMPTY_PATH) < 0) {
		free(fh); /* no handles here: the entry keeps its fd */
		return 0;
	}
	mfd = mount_fd_for(t, (uint64_t)(unsigned)mnt_id, fd, i->type, fh);
	if (mfd < 0) {
		free(fh);
		return mfd == -ENOMEM ? -ENOMEM : 0;
	}
	i->fh = fh;
	i->mount_fd = mfd;
	return 0;
}

void fdcache_destroy(struct inode_table *t)
{
	for (size_t k = 0; k < t->nmounts; k++)
		if (t->mounts[k].fd >= 0)
			close(t->mounts[k].fd);
	free(t->mounts);
	t->mounts = NULL;
	t->nmounts = 0;
}
