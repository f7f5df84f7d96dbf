/* Opening /dev/fuse and mounting a FUSE connection (new mount API, mount(2) fallback). */
#pragma once

#include <stdbool.h>

struct fuse_mount_opts {
	const char *fsname; /* shown as the mount source */
	const char *subtype; /* fstype becomes fuse.<subtype> */
	bool ro, nosuid, nodev, noexec, noatime, nodiratime;
	const char *context; /* SELinux context= option, or NULL */
};

/* Opens /dev/fuse with O_CLOEXEC; logs and returns -errno on failure. */
int fuse_open_dev(void);

/*
 * Creates a detached FUSE mount for fuse_fd (fsopen/fsconfig/fsmount).
 * Returns the mount fd (O_CLOEXEC) or -errno, without logging: callers may fall back.
 */
int fuse_mount_detached(int fuse_fd, const struct fuse_mount_opts *o);

/* Mounts fuse_fd on target; logs and returns -errno on failure. */
int fuse_mount_at(int fuse_fd, const struct fuse_mount_opts *o, const char *target);
