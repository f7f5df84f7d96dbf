/*
 * Open file and directory handles. The fh the kernel keeps is the address of
 * one of these; the kernel returns only values we gave it.
 */
#pragma once

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "cntrfs/inode.h"

struct cfile {
	int fd;
	struct inode *inode;
	struct cfile *prev, *next; /* in cntrfs.open_files: a RELEASE may never come */
};

struct cdir {
	int fd;
	struct inode *inode;
	pthread_mutex_t lock; /* a handle's stream position is shared */
	off_t pos; /* offset the stream is at (getdents64 d_off cookie) */
	char *buf; /* buffered getdents64 output */
	size_t len, used;
};

static inline struct cfile *fh_file(uint64_t fh)
{
	return (struct cfile *)(uintptr_t)fh;
}

static inline struct cdir *fh_dir(uint64_t fh)
{
	return (struct cdir *)(uintptr_t)fh;
}
