/* CntrFS: a pass-through filesystem served over the FUSE session. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <sys/stat.h>

#include "cntrfs/idmap.h"
#include "cntrfs/inode.h"
#include "fuse/session.h"

struct cntrfs_config {
	unsigned threads;
	double attr_timeout, entry_timeout, negative_timeout;
	bool passthrough; /* kernel passthrough of file data */
	bool writeback; /* writeback cache (excludes passthrough) */
	bool keep_cache; /* keep page cache across opens (non-passthrough files) */
	bool readdirplus;
	bool opendir; /* OPENDIR/RELEASEDIR for every directory open (else cached listings) */
	bool parallel_dirops;
	bool posix_acl;
	bool killpriv; /* FUSE_HANDLE_KILLPRIV_V2: we clear setuid/setgid, the kernel asks less */
	bool io_uring; /* FUSE over io_uring when the kernel offers it */
	bool sched_idle; /* its threads SCHED_IDLE, under a guard against starving */
	bool ro;
	bool stats; /* count requests per opcode, printed at unmount */
	struct idmap uid_map, gid_map;
};

void cntrfs_config_defaults(struct cntrfs_config *c);

struct cntrfs {
	struct cntrfs_config cfg;
	struct inode_table inodes;
	int proc_fd; /* /proc/self/fd, for reopening O_PATH fds without path strings */
	uint64_t self_dev; /* our own mount's device: lookups never descend into it (0: unknown) */
	bool passthrough; /* agreed with the kernel */
	bool no_opendir; /* OPENDIR answered ENOSYS: listings come with fh 0 */
	struct dir_streams *dirs; /* ops_dir.c: open listings for fh 0 */
	/*
	 * Open files, freed at the end if their RELEASE never came (the kernel
	 * may drop it when the mount goes away while a file is open).
	 */
	struct cfile *open_files;
	pthread_mutex_t files_lock;
	bool writeback;
	bool killpriv; /* agreed: FUSE_HANDLE_KILLPRIV_V2 */
	unsigned long entry_sec, attr_sec, neg_sec;
	unsigned entry_nsec, attr_nsec, neg_nsec;
};

/* Opens the source directory and prepares the tables. Logs and returns -errno. */
int cntrfs_init(struct cntrfs *fs, const char *source, const struct cntrfs_config *cfg);
void cntrfs_destroy(struct cntrfs *fs);

/* The session description: handlers, INIT hook, and the flags we want. */
const struct fuse_session_ops *cntrfs_session_ops(void);
void cntrfs_want(const struct cntrfs *fs, struct fuse_want *want);

/* ---- shared by the ops_*.c files ---- */

struct cntrfs_thread; /* creds.h */

static inline struct cntrfs *req_fs(struct fuse_req *req)
{
	return req->se->fs;
}

static inline struct inode *req_inode(struct fuse_req *req)
{
	return inode_from_nodeid(&req_fs(req)->inodes, req->in->nodeid);
}

/* Fills a fuse_attr from statx, shifting ids through the map. */
void cntrfs_fill_attr(const struct cntrfs *fs, struct fuse_attr *a, const struct statx *st);
/* statx of an O_PATH fd (the object itself, never a symlink's target). */
int cntrfs_statx_fd(int fd, struct statx *st);
/* Reopens an O_PATH fd with real open flags. Returns an fd or -errno. */
int cntrfs_reopen(const struct cntrfs *fs, int fd, int flags);
/*
 * A new fd of inode i with real open flags: by its file handle where it has
 * one (no path walk through /proc), else through its O_PATH fd.
 */
int cntrfs_open_inode(struct cntrfs *fs, struct inode *i, int flags);

/*
 * Drops S_ISUID, and S_ISGID where the VFS would (group-exec set, or a caller
 * neither in the file's group nor capable of CAP_FSETID), from regular file fd
 * (any kind of fd): for a write, truncate or O_TRUNC open by a caller without
 * CAP_FSETID, or a chown, which the kernel leaves to us under
 * FUSE_HANDLE_KILLPRIV_V2. Returns 0 or -errno.
 */
int cntrfs_kill_suidgid(struct fuse_req *req, int fd, bool caller_capable);

/*
 * Looks name up in parent and replies with a fuse_entry_out (or a negative
 * entry for ENOENT). Used by LOOKUP and by every creating operation.
 */
void cntrfs_reply_entry(struct fuse_req *req, struct inode *parent, const char *name);
/* A fuse_entry_out for i with our timeouts. */
void cntrfs_fill_entry(const struct cntrfs *fs, struct fuse_entry_out *out, const struct inode *i,
		       const struct statx *st);
/* fsync or, with FUSE_FSYNC_FDATASYNC, fdatasync of fd, and the reply. */
void cntrfs_reply_sync(struct fuse_req *req, int fd, uint32_t fsync_flags);
/* Same lookup without replying: fills *out and adds a lookup. Returns 0/-errno. */
int cntrfs_do_lookup(struct cntrfs *fs, struct inode *parent, const char *name,
		     struct fuse_entry_out *out);

/* ops_dir.c: the open directory streams that serve listings without OPENDIR. */
int dir_streams_init(struct cntrfs *fs);
void dir_streams_destroy(struct cntrfs *fs);
/* A new fd for listing directory i (O_RDONLY | O_DIRECTORY), or -errno. */
int cntrfs_open_dir(struct cntrfs *fs, struct inode *i);

/* Handlers, one file per group. */
void op_lookup(struct fuse_req *, const void *, size_t);
void op_forget(struct fuse_req *, const void *, size_t);
void op_batch_forget(struct fuse_req *, const void *, size_t);
void op_mknod(struct fuse_req *, const void *, size_t);
void op_mkdir(struct fuse_req *, const void *, size_t);
void op_symlink(struct fuse_req *, const void *, size_t);
void op_link(struct fuse_req *, const void *, size_t);
void op_unlink(struct fuse_req *, const void *, size_t);
void op_rmdir(struct fuse_req *, const void *, size_t);
void op_rename(struct fuse_req *, const void *, size_t);
void op_rename2(struct fuse_req *, const void *, size_t);
void op_getattr(struct fuse_req *, const void *, size_t);
void op_setattr(struct fuse_req *, const void *, size_t);
void op_readlink(struct fuse_req *, const void *, size_t);
void op_open(struct fuse_req *, const void *, size_t);
void op_create(struct fuse_req *, const void *, size_t);
void op_tmpfile(struct fuse_req *, const void *, size_t);
void op_read(struct fuse_req *, const void *, size_t);
void op_write(struct fuse_req *, const void *, size_t);
void op_flush(struct fuse_req *, const void *, size_t);
void op_release(struct fuse_req *, const void *, size_t);
void op_fsync(struct fuse_req *, const void *, size_t);
void op_fallocate(struct fuse_req *, const void *, size_t);
void op_lseek(struct fuse_req *, const void *, size_t);
void op_copy_file_range(struct fuse_req *, const void *, size_t);
void op_opendir(struct fuse_req *, const void *, size_t);
void op_readdir(struct fuse_req *, const void *, size_t);
void op_readdirplus(struct fuse_req *, const void *, size_t);
void op_releasedir(struct fuse_req *, const void *, size_t);
void op_fsyncdir(struct fuse_req *, const void *, size_t);
void op_getxattr(struct fuse_req *, const void *, size_t);
void op_setxattr(struct fuse_req *, const void *, size_t);
void op_listxattr(struct fuse_req *, const void *, size_t);
void op_removexattr(struct fuse_req *, const void *, size_t);
void op_statfs(struct fuse_req *, const void *, size_t);
void op_syncfs(struct fuse_req *, const void *, size_t);
void op_ioctl(struct fuse_req *, const void *, size_t);
