/*
 * What the session gets of its own instead of the fat side's: a private /tmp
 * and /var/tmp with HOME in it (the session's shells and editors write their
 * history and caches there, not onto the fat side), and stand-ins for a /dev
 * or /sys that the container lacks (the fat side's would expose its devices).
 */
#include "mountns.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "util/log.h"

static int mount_tmpfs(const char *dst, unsigned long flags, const char *data)
{
	if (mount("tmpfs", dst, "tmpfs", flags, data) < 0)
		return log_errno(errno, "mounting a private tmpfs at %s", dst);
	return 0;
}

int mountns_private_dirs(uid_t uid, gid_t gid)
{
	struct stat st;

	if (stat("/tmp", &st) < 0 || !S_ISDIR(st.st_mode))
		return log_errno(ENOTDIR, "the fat side has no /tmp for the session's own files");
	if (mount_tmpfs("/tmp", MS_NOSUID | MS_NODEV, "mode=1777") < 0)
		return -EPERM;
	if (stat("/var/tmp", &st) == 0 && S_ISDIR(st.st_mode) &&
	    mount_tmpfs("/var/tmp", MS_NOSUID | MS_NODEV, "mode=1777") < 0)
		return -EPERM;
	if (mkdir(MOUNTNS_SESSION_HOME, 0700) < 0 || chown(MOUNTNS_SESSION_HOME, uid, gid) < 0)
		return log_errno(errno, "creating the session's home %s", MOUNTNS_SESSION_HOME);
	return 0;
}

/* The devices every container runtime provides, and a pty instance of its own. */
int mountns_standin_dev(void)
{
	static const struct {
		const char *name;
		unsigned major, minor;
	} nodes[] = { { "null", 1, 3 },	  { "zero", 1, 5 },    { "full", 1, 7 },
		      { "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 } };
	static const char *const links[][2] = { { "/proc/self/fd", "/dev/fd" },
						{ "/proc/self/fd/0", "/dev/stdin" },
						{ "/proc/self/fd/1", "/dev/stdout" },
						{ "/proc/self/fd/2", "/dev/stderr" },
						{ "pts/ptmx", "/dev/ptmx" } };
	char path[64];

	if (mount_tmpfs("/dev", MS_NOSUID | MS_NOEXEC, "mode=755") < 0)
		return -EPERM;
	for (size_t k = 0; k < sizeof(nodes) / sizeof(nodes[0]); k++) {
		snprintf(path, sizeof(path), "/dev/%s", nodes[k].name);
		if (mknod(path, S_IFCHR | 0666, makedev(nodes[k].major, nodes[k].minor)) < 0 ||
		    chmod(path, 0666) < 0)
			return log_errno(errno, "creating %s", path);
	}
	for (size_t k = 0; k < sizeof(links) / sizeof(links[0]); k++)
		if (symlink(links[k][0], links[k][1]) < 0)
			return log_errno(errno, "creating %s", links[k][1]);
	if (mkdir("/dev/pts", 0755) < 0 || mkdir("/dev/shm", 01777) < 0 ||
	    chmod("/dev/shm", 01777) < 0)
		return log_errno(errno, "creating /dev/pts and /dev/shm");
	if (mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
		  "newinstance,ptmxmode=0666,mode=0620") < 0)
		return log_errno(errno, "mounting a devpts instance for the session");
	return 0;
}

int mountns_standin_sys(void)
{
	return mount_tmpfs("/sys", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755");
}
