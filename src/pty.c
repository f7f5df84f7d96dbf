#include "pty.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/log.h"

int pty_open(struct pty *p)
{
	struct winsize ws;
	struct termios tio;
	char name[64];

	p->master = p->slave = -1;
	p->raw = false;
	if (!isatty(STDIN_FILENO))
		return 0;
	p->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (p->master < 0)
		return log_errno(errno, "opening a pseudo-terminal");
	if (grantpt(p->master) < 0 || unlockpt(p->master) < 0 ||
	    ptsname_r(p->master, name, sizeof(name)) != 0)
		return log_errno(errno, "setting up the pseudo-terminal");
	p->slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (p->slave < 0)
		return log_errno(errno, "opening %s", name);
	/* The session starts with our terminal's settings and size. */
	if (tcgetattr(STDIN_FILENO, &tio) == 0)
		tcsetattr(p->slave, TCSANOW, &tio);
	if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
		ioctl(p->master, TIOCSWINSZ, &ws);
	return 0;
}

int pty_attach_slave(struct pty *p)
{
	if (p->slave < 0)
		return 0;
	if (setsid() < 0)
		return log_errno(errno, "setsid");
	if (ioctl(p->slave, TIOCSCTTY, 0) < 0)
		return log_errno(errno, "making the pty the controlling terminal");
	for (int fd = 0; fd < 3; fd++)
		if (dup2(p->slave, fd) < 0)
			return log_errno(errno, "dup2");
	close(p->slave);
	p->slave = -1;
	if (p->master >= 0)
		close(p->master);
	p->master = -1;
	return 0;
}

static void set_raw(struct pty *p)
{
	struct termios tio;

	if (tcgetattr(STDIN_FILENO, &p->saved) < 0)
		return;
	tio = p->saved;
	cfmakeraw(&tio);
	tio.c_cc[VMIN] = 1;
	tio.c_cc[VTIME] = 0;
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &tio) == 0)
		p->raw = true;
}

static void restore(struct pty *p)
{
	if (p->raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &p->saved);
	p->raw = false;
}

/* Writes all of buf; false if the peer is gone. */
static bool write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };

			poll(&pfd, 1, 1000);
			continue;
		}
		if (n <= 0)
			return false;
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

static int reap(pid_t child)
{
	int status;

	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR)
			return 1 << 8; /* exit status 1 */
	return status;
}

int pty_relay(struct pty *p, pid_t child, const sigset_t *sigs)
{
	sigset_t mask = *sigs;
	int sigfd, pidfd;
	bool in_open = true, out_open = true;
	char buf[16384];

	sigaddset(&mask, SIGWINCH);
	/* signalfd only sees blocked signals; the payload unblocks all before exec. */
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sigfd = signalfd(-1, &mask, SFD_CLOEXEC);
	pidfd = (int)syscall(SYS_pidfd_open, child, 0);
	if (p->slave >= 0) {
		close(p->slave);
		p->slave = -1;
	}
	set_raw(p);
	while (out_open) {
		struct pollfd pfd[4] = {
			{ .fd = in_open ? STDIN_FILENO : -1, .events = POLLIN },
			{ .fd = p->master, .events = POLLIN },
			{ .fd = sigfd, .events = POLLIN },
			{ .fd = pidfd, .events = POLLIN },
		};
		ssize_t n;

		if (poll(pfd, 4, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[2].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sigfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGWINCH) {
					struct winsize ws;

					if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
						ioctl(p->master, TIOCSWINSZ, &ws);
				} else {
					kill(child, (int)si.ssi_signo);
				}
			}
		}
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = read(STDIN_FILENO, buf, sizeof(buf));
			if (n > 0)
				write_all(p->master, buf, (size_t)n);
			else if (n == 0 || (errno != EINTR && errno != EAGAIN))
				in_open = false;
		}
		if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = read(p->master, buf, sizeof(buf));
			if (n > 0)
				write_all(STDOUT_FILENO, buf, (size_t)n);
			else if (n == 0 || (errno != EINTR && errno != EAGAIN))
				out_open = false; /* EIO: every slave is closed */
		}
		if (pfd[3].revents & POLLIN) {
			/* The child is gone: print what it left in the pty, then stop. */
			int fl = fcntl(p->master, F_GETFL);

			fcntl(p->master, F_SETFL, fl | O_NONBLOCK);
			while ((n = read(p->master, buf, sizeof(buf))) > 0)
				write_all(STDOUT_FILENO, buf, (size_t)n);
			break;
		}
	}
	restore(p);
	if (sigfd >= 0)
		close(sigfd);
	if (pidfd >= 0)
		close(pidfd);
	return reap(child);
}

int wait_forwarding(pid_t child, const sigset_t *sigs)
{
	int sigfd = signalfd(-1, sigs, SFD_CLOEXEC);
	int pidfd = (int)syscall(SYS_pidfd_open, child, 0);

	while (sigfd >= 0 && pidfd >= 0) {
		struct pollfd pfd[2] = { { .fd = sigfd, .events = POLLIN },
					 { .fd = pidfd, .events = POLLIN } };
		struct signalfd_siginfo si;

		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			break;
		if ((pfd[0].revents & POLLIN) && read(sigfd, &si, sizeof(si)) == sizeof(si))
			kill(child, (int)si.ssi_signo);
		if (pfd[1].revents & POLLIN)
			break;
	}
	if (sigfd >= 0)
		close(sigfd);
	if (pidfd >= 0)
		close(pidfd);
	return reap(child);
}

/* path resolved below dirfd as if dirfd were the root, symlinks included, magic links not. */
static int lookup_in_root(int dirfd, const char *path, struct stat *st)
{
	struct open_how how = { .flags = O_PATH | O_CLOEXEC,
				.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
	int fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));

	memset(st, 0, sizeof(*st));
	if (fd >= 0 && fstat(fd, st) < 0) {
		close(fd);
		return -errno;
	}
	return fd < 0 ? -errno : fd;
}

/*
 * The container's /dev/ptmx, opened by privileged cntr. Looked up inside the
 * container's root (the working directory here) so that no symlink leads
 * out of it, and only if it is the pty multiplexer (char 5:2). It is opened
 * through the session's /dev (the container's, bound there), so that the
 * pty's name is /dev/pts/N, and only if that is the very same inode.
 */
static int open_container_ptmx(int host_proc)
{
	struct stat in_ctr, in_view = { 0 };
	char path[64];
	int ctr, view, root, fd;

	ctr = lookup_in_root(AT_FDCWD, "dev/ptmx", &in_ctr);
	if (ctr < 0)
		return ctr;
	close(ctr);
	if (!S_ISCHR(in_ctr.st_mode) || major(in_ctr.st_rdev) != 5 || minor(in_ctr.st_rdev) != 2) {
		log_info("the container's /dev/ptmx is no pty multiplexer: using cntr's pty");
		return -ENODEV;
	}
	root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return -errno;
	view = lookup_in_root(root, "dev/ptmx", &in_view);
	close(root);
	if (view < 0)
		return view;
	if (in_view.st_dev != in_ctr.st_dev || in_view.st_ino != in_ctr.st_ino ||
	    in_view.st_rdev != in_ctr.st_rdev) {
		close(view);
		log_info("the container's /dev/ptmx changed while cntr looked: using cntr's pty");
		return -ENODEV;
	}
	/* Reopen the very inode checked, not the path again (our /proc: the container's cannot see us). */
	snprintf(path, sizeof(path), "self/fd/%d", view);
	fd = openat(host_proc, path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		fd = -errno;
	close(view);
	return fd;
}

int pty_open_in_view(struct pty *p, int host_proc)
{
	int unlock = 0, master, slave;

	master = open_container_ptmx(host_proc);
	if (master < 0)
		return master;
	/* TIOCGPTPEER opens the slave of this very master, whatever /dev/pts holds. */
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0 ||
	    (slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) {
		int err = errno;

		close(master);
		return -err;
	}
	if (p->slave >= 0) {
		struct termios tio;
		struct winsize ws;

		if (tcgetattr(p->slave, &tio) == 0)
			tcsetattr(slave, TCSANOW, &tio);
		if (ioctl(p->slave, TIOCGWINSZ, &ws) == 0)
			ioctl(master, TIOCSWINSZ, &ws);
	}
	pty_close(p);
	p->master = master;
	p->slave = slave;
	return 0;
}

void pty_close(struct pty *p)
{
	if (p->master >= 0)
		close(p->master);
	if (p->slave >= 0)
		close(p->slave);
	p->master = p->slave = -1;
}
