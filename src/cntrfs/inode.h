/*
 * The inode table: one entry per backing object the kernel knows, keyed by
 * (st_dev, st_ino, mount id), with the kernel's lookup count. The node id the
 * kernel uses is the entry's address (the root is FUSE_ROOT_ID).
 *
 * Entries do not each hold an open fd: the open-file limit (20000 hard here)
 * would cap the tree size. They hold a file handle (name_to_handle_at) and
 * get an O_PATH fd from a bounded LRU cache on demand (fdcache.c).
 */
#pragma once

#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

struct inode {
	uint64_t dev, ino, mnt_id;
	uint32_t type; /* S_IFMT bits */
	uint64_t serial; /* unique for the table's lifetime, unlike the address */
	uint64_t nlookup;
	struct inode *hash_next;

	/* fd cache state, under the table lock */
	int fd; /* O_PATH, -1 when evicted */
	unsigned fd_users; /* pins: fd may not be closed while > 0 */
	struct file_handle *fh; /* NULL: filesystem has no handles, fd stays open */
	int mount_fd; /* any fd on the same mount, for open_by_handle_at */
	struct inode *lru_prev, *lru_next;

	/* kernel passthrough: one backing id per inode while it has open files */
	unsigned open_count;
	int backing_id;
};

struct inode_table {
	pthread_mutex_t lock;
	struct inode **buckets;
	size_t nbuckets, count;
	uint64_t next_serial;
	struct inode root;

	/* fd cache */
	struct inode lru; /* list head: most recently used after it */
	unsigned open_fds, max_fds;
	struct mount_fd *mounts;
	size_t nmounts;
};

int inode_table_init(struct inode_table *t, int root_fd, unsigned max_fds);
void inode_table_destroy(struct inode_table *t);

/* Node id <-> entry. */
struct inode *inode_from_nodeid(struct inode_table *t, uint64_t nodeid);
uint64_t inode_nodeid(const struct inode_table *t, const struct inode *i);

/*
 * Finds or creates the entry for the object name in parent (st already filled
 * by the caller's statx with AT_SYMLINK_NOFOLLOW) and adds one lookup.
 * Returns the entry or NULL with errno set.
 */
struct inode *inode_lookup(struct inode_table *t, struct inode *parent, const char *name,
			   const struct statx *st);

/*
 * Finds or creates the entry for the object behind fd (an O_PATH fd whose
 * ownership passes to the table) and adds one lookup. st is its statx.
 */
struct inode *inode_insert_fd(struct inode_table *t, int fd, const struct statx *st);

/* Drops n lookups; the entry is freed at zero. */
void inode_forget(struct inode_table *t, struct inode *i, uint64_t n);

/* fdcache.c: an O_PATH fd for i, valid until inode_put_fd. Returns -errno. */
int inode_get_fd(struct inode_table *t, struct inode *i);
void inode_put_fd(struct inode_table *t, struct inode *i);
/* Counts opens; an inode with open files keeps its fd (unlinked files have no handle). */
void inode_open_ref(struct inode_table *t, struct inode *i);
/* Returns the backing id to close if this was the last open, else -1. */
int inode_open_unref(struct inode_table *t, struct inode *i);
/* Internal to the table: evict fds over the limit (lock held). */
void fdcache_trim_locked(struct inode_table *t);
void fdcache_attach_locked(struct inode_table *t, struct inode *i);
void fdcache_detach_locked(struct inode_table *t, struct inode *i);
/* Records the handle of a new entry; fd is its O_PATH fd. Returns 0 or -errno. */
int fdcache_make_handle(struct inode_table *t, struct inode *i, int fd);
void fdcache_destroy(struct inode_table *t);
