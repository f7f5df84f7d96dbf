#include "fuse/mount.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/log.h"

int fuse_open_dev(void)
{
	int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);

	if (fd >= 0)
		return fd;
	if (errno == ENOENT || errno == ENODEV || errno == ENXIO)
		return log_errno(errno, "/dev/fuse is not available (is the fuse module loaded?)");
	return log_errno(errno, "cannot open /dev/fuse");
}

static unsigned attr_flags(const struct fuse_mount_opts *o)
{
	return (o->ro ? MOUNT_ATTR_RDONLY : 0) | (o->nosuid ? MOUNT_ATTR_NOSUID : 0) |
	       (o->nodev ? MOUNT_ATTR_NODEV : 0) | (o->noexec ? MOUNT_ATTR_NOEXEC : 0) |
	       (o->noatime ? MOUNT_ATTR_NOATIME : 0) | (o->nodiratime ? MOUNT_ATTR_NODIRATIME : 0);
}

static int set_string(int fsfd, const char *key, const char *val)
{
	return fsconfig(fsfd, FSCONFIG_SET_STRING, key, val, 0) < 0 ? -errno : 0;
}

int fuse_mount_detached(int fuse_fd, const struct fuse_mount_opts *o)
{
	_cleanup_close_ int fsfd = fsopen("fuse", FSOPEN_CLOEXEC);
	char num[32];
	int r, mfd;

	if (fsfd < 0)
		return -errno;
	snprintf(num, sizeof(num), "%d", fuse_fd);
	if ((r = set_string(fsfd, "fd", num)) < 0 ||
	    (r = set_string(fsfd, "rootmode", "40000")) < 0)
		return r;
	snprintf(num, sizeof(num), "%u", (unsigned)getuid());
	if ((r = set_string(fsfd, "user_id", num)) < 0)
		return r;
	snprintf(num, sizeof(num), "%u", (unsigned)getgid());
	if ((r = set_string(fsfd, "group_id", num)) < 0)
		return r;
	if (fsconfig(fsfd, FSCONFIG_SET_FLAG, "allow_other", NULL, 0) < 0 ||
	    fsconfig(fsfd, FSCONFIG_SET_FLAG, "default_permissions", NULL, 0) < 0)
		return -errno;
	if (o->fsname && (r = set_string(fsfd, "source", o->fsname)) < 0)
		return r;
	if (o->subtype && (r = set_string(fsfd, "subtype", o->subtype)) < 0)
		return r;
	if (o->context && (r = set_string(fsfd, "context", o->context)) < 0)
		return r;
	if (fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return -errno;
	mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, attr_flags(o));
	return mfd < 0 ? -errno : mfd;
}

static int mount_legacy(int fuse_fd, const struct fuse_mount_opts *o, const char *target)
{
	char data[512], type[128];
	unsigned long flags = MS_NOSUID * o->nosuid | MS_NODEV * o->nodev | MS_NOEXEC * o->noexec |
			      MS_RDONLY * o->ro | MS_NOATIME * o->noatime |
			      MS_NODIRATIME * o->nodiratime;

	snprintf(type, sizeof(type), "fuse%s%s", o->subtype ? "." : "",
		 o->subtype ? o->subtype : "");
	snprintf(
		data, sizeof(data),
		"fd=%d,rootmode=40000,user_id=%u,group_id=%u,allow_other,default_permissions%s%s%s",
		fuse_fd, (unsigned)getuid(), (unsigned)getgid(), o->context ? ",context=\"" : "",
		o->context ? o->context : "", o->context ? "\"" : "");
	if (mount(o->fsname ? o->fsname : "cntrfs", target, type, flags, data) < 0)
		return -errno;
	return 0;
}

int fuse_mount_at(int fuse_fd, const struct fuse_mount_opts *o, const char *target)
{
	int mfd = fuse_mount_detached(fuse_fd, o);
	int r;

	if (mfd >= 0) {
		r = move_mount(mfd, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0 ? -errno : 0;
		close(mfd);
	} else if (mfd == -ENOSYS || mfd == -EPERM) {
		/* No new mount API (old kernel, or filtered by seccomp). */
		r = mount_legacy(fuse_fd, o, target);
	} else {
		r = mfd;
	}
	if (r < 0)
		return log_errno(r, "cannot mount FUSE on %s", target);
	return 0;
}
