#include "cntrfs/inode.h"

#include "util/cleanup.h"

#include <errno.h>
#include <linux/fuse.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static uint64_t key_dev(const struct statx *st)
{
	return makedev(st->stx_dev_major, st->stx_dev_minor);
}

static size_t bucket_of(const struct inode_table *t, uint64_t dev, uint64_t ino, uint64_t mnt)
{
	uint64_t h = ino * 0x9e3779b97f4a7c15ULL ^ dev * 0xc2b2ae3d27d4eb4fULL ^ mnt;

	h ^= h >> 29;
	return (size_t)(h & (t->nbuckets - 1));
}

static struct inode *find_locked(struct inode_table *t, uint64_t dev, uint64_t ino, uint64_t mnt)
{
	for (struct inode *i = t->buckets[bucket_of(t, dev, ino, mnt)]; i; i = i->hash_next)
		if (i->ino == ino && i->dev == dev && i->mnt_id == mnt)
			return i;
	return NULL;
}

static void insert_locked(struct inode_table *t, struct inode *i)
{
	size_t b;

	if (t->count + 1 > t->nbuckets) {
		size_t n = t->nbuckets * 2;
		struct inode **nb = calloc(n, sizeof(struct inode *));

		if (nb) { /* on ENOMEM keep the old table: only chains get longer */
			struct inode **old = t->buckets;
			size_t oldn = t->nbuckets;

			t->buckets = nb;
			t->nbuckets = n;
			for (size_t k = 0; k < oldn; k++) {
				for (struct inode *e = old[k], *next; e; e = next) {
					next = e->hash_next;
					b = bucket_of(t, e->dev, e->ino, e->mnt_id);
					e->hash_next = nb[b];
					nb[b] = e;
				}
			}
			free(old);
		}
	}
	b = bucket_of(t, i->dev, i->ino, i->mnt_id);
	i->hash_next = t->buckets[b];
	t->buckets[b] = i;
	t->count++;
}

static void remove_locked(struct inode_table *t, struct inode *i)
{
	struct inode **p = &t->buckets[bucket_of(t, i->dev, i->ino, i->mnt_id)];

	for (; *p; p = &(*p)->hash_next) {
		if (*p == i) {
			*p = i->hash_next;
			t->count--;
			return;
		}
	}
}

static void fill_key(struct inode *i, const struct statx *st)
{
	i->dev = key_dev(st);
	i->ino = st->stx_ino;
	i->mnt_id = st->stx_mnt_id;
	i->type = st->stx_mode & S_IFMT;
}

int inode_table_init(struct inode_table *t, int root_fd, unsigned max_fds)
{
	struct statx st;

	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->lock, NULL);
	t->nbuckets = 1024;
	t->buckets = calloc(t->nbuckets, sizeof(struct inode *));
	if (!t->buckets)
		return -ENOMEM;
	t->lru.lru_next = t->lru.lru_prev = &t->lru;
	t->max_fds = max_fds;
	if (statx(root_fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW,
		  STATX_TYPE | STATX_INO | STATX_MNT_ID, &st) < 0)
		return -errno;
	fill_key(&t->root, &st);
	t->root.fd = root_fd; /* pinned for the table's lifetime */
	t->root.mount_fd = -1;
	t->root.backing_id = -1;
	t->root.nlookup = 1;
	t->root.serial = 1;
	t->next_serial = 2;
	insert_locked(t, &t->root);
	return 0;
}

static void free_inode(struct inode *i)
{
	if (i->fd >= 0)
		close(i->fd);
	free(i->fh);
	free(i);
}

void inode_table_destroy(struct inode_table *t)
{
	for (size_t k = 0; k < t->nbuckets; k++) {
		for (struct inode *e = t->buckets[k], *next; e; e = next) {
			next = e->hash_next;
			if (e != &t->root)
				free_inode(e);
		}
	}
	free(t->buckets);
	fdcache_destroy(t);
	if (t->root.fd >= 0)
		close(t->root.fd);
	pthread_mutex_destroy(&t->lock);
}

struct inode *inode_from_nodeid(struct inode_table *t, uint64_t nodeid)
{
	if (nodeid == FUSE_ROOT_ID)
		return &t->root;
	return (struct inode *)(uintptr_t)nodeid;
}

uint64_t inode_nodeid(const struct inode_table *t, const struct inode *i)
{
	return i == &t->root ? FUSE_ROOT_ID : (uint64_t)(uintptr_t)i;
}

struct inode *inode_insert_fd(struct inode_table *t, int fd, const struct statx *st)
{
	struct inode *i, *n = calloc(1, sizeof(*n));
	int r;

	if (!n) {
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	fill_key(n, st);
	n->fd = -1;
	n->mount_fd = -1;
	n->backing_id = -1;
	pthread_mutex_lock(&t->lock);
	i = find_locked(t, n->dev, n->ino, n->mnt_id);
	if (i)
		i->nlookup++;
	pthread_mutex_unlock(&t->lock);
	if (!i) {
		r = fdcache_make_handle(t, n, fd);
		if (r < 0) {
			close(fd);
			free(n);
			errno = -r;
			return NULL;
		}
		pthread_mutex_lock(&t->lock);
		i = find_locked(t, n->dev, n->ino, n->mnt_id);
		if (i) { /* another thread inserted it meanwhile */
			i->nlookup++;
		} else {
			n->nlookup = 1;
			n->serial = t->next_serial++;
			n->fd = steal_fd(&fd);
			insert_locked(t, n);
			fdcache_attach_locked(t, n);
			fdcache_trim_locked(t);
			i = n;
			n = NULL;
		}
		pthread_mutex_unlock(&t->lock);
	}
	if (n) {
		free(n->fh);
		free(n);
	}
	if (fd >= 0)
		close(fd);
	return i;
}

struct inode *inode_lookup(struct inode_table *t, struct inode *parent, const char *name,
			   const struct statx *st)
{
	struct inode *i;
	int pfd, fd;
	struct statx cur;

	pthread_mutex_lock(&t->lock);
	i = find_locked(t, key_dev(st), st->stx_ino, st->stx_mnt_id);
	if (i)
		i->nlookup++;
	pthread_mutex_unlock(&t->lock);
	if (i)
		return i;

	pfd = inode_get_fd(t, parent);
	if (pfd < 0) {
		errno = -pfd;
		return NULL;
	}
	fd = openat(pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	inode_put_fd(t, parent);
	if (fd < 0)
		return NULL;
	if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW,
		  STATX_TYPE | STATX_INO | STATX_MNT_ID, &cur) < 0 ||
	    cur.stx_ino != st->stx_ino || key_dev(&cur) != key_dev(st) ||
	    cur.stx_mnt_id != st->stx_mnt_id) {
		/* Raced with a rename or unlink: the caller looks again. */
		close(fd);
		errno = ESTALE;
		return NULL;
	}
	return inode_insert_fd(t, fd, &cur);
}

void inode_forget(struct inode_table *t, struct inode *i, uint64_t n)
{
	bool gone = false;

	pthread_mutex_lock(&t->lock);
	i->nlookup = n >= i->nlookup ? 0 : i->nlookup - n;
	if (i->nlookup == 0 && i != &t->root && i->fd_users == 0 && i->open_count == 0) {
		remove_locked(t, i);
		fdcache_detach_locked(t, i);
		gone = true;
	}
	pthread_mutex_unlock(&t->lock);
	if (gone)
		free_inode(i);
}
