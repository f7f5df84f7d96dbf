/*
 * Without a terminal, the session's stdin, stdout and stderr are pipes that
 * cntr copies to and from its own: the container's processes share the
 * session's pid namespace, and none of the caller's fds (a pty, a socket,
 * a file) is ever in a process they could reach. splice(2) moves the data
 * without copying it through user space where it can.
 */
#include "stdio_relay.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHUNK (1 << 20)

int stdio_relay_open(struct stdio_relay *r, int session_fds[3])
{
	int p[3][2];

	for (int k = 0; k < 3; k++) {
		if (pipe2(p[k], O_CLOEXEC) < 0) {
			int err = -errno;

			while (k-- > 0) {
				close(p[k][0]);
				close(p[k][1]);
			}
			return err;
		}
	}
	/*
	 * Large pipes: fewer round trips for bulk output. Our ends never block:
	 * an empty or full session pipe is EAGAIN, while our own stdout, blocking,
	 * holds the session back when its reader is slow.
	 */
	for (int k = 0; k < 3; k++) {
		fcntl(p[k][0], F_SETPIPE_SZ, CHUNK);
		fcntl(p[k][k == 0 ? 1 : 0], F_SETFL, O_NONBLOCK);
	}
	session_fds[0] = p[0][0];
	r->in = p[0][1];
	session_fds[1] = p[1][1];
	r->out = p[1][0];
	session_fds[2] = p[2][1];
	r->err = p[2][0];
	return 0;
}

/*
 * Moves what is there from 'from' to 'to': -EAGAIN if our (non-blocking)
 * end of a session pipe is empty or full, 0 at the end of input, <0 on an
 * error, else the bytes moved.
 */
static ssize_t move(int from, int to)
{
	ssize_t n = splice(from, NULL, to, NULL, CHUNK, SPLICE_F_MOVE);
	char buf[65536];

	if (n >= 0 || (errno != EINVAL && errno != ENOSYS))
		return n < 0 ? -errno : n;
	/* A descriptor splice does not take (an O_APPEND file, some sockets): copy. */
	n = read(from, buf, sizeof(buf));
	if (n < 0)
		return -errno;
	for (ssize_t done = 0; done < n;) {
		ssize_t w = write(to, buf + done, (size_t)(n - done));

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		done += w;
	}
	return n;
}

/*
 * Moves session output to our stdout or stderr, waiting while that is full
 * (a pipe-to-pipe splice does not wait when either end is non-blocking):
 * -EAGAIN only when the session's pipe is empty.
 */
static ssize_t move_out(int from, int to)
{
	for (;;) {
		ssize_t n = move(from, to);
		struct pollfd in = { .fd = from, .events = POLLIN };
		struct pollfd out = { .fd = to, .events = POLLOUT };

		if (n != -EAGAIN || poll(&in, 1, 0) <= 0 || !(in.revents & (POLLIN | POLLHUP)))
			return n;
		if (poll(&out, 1, -1) < 0 && errno != EINTR)
			return -errno;
	}
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* After the child is gone: what the session wrote and cntr has not yet passed on. */
static void drain(int *from, int to)
{
	if (*from < 0)
		return;
	while (move_out(*from, to) > 0)
		;
	close_fd(from);
}

int stdio_relay_run(struct stdio_relay *r, pid_t child, const sigset_t *sigs)
{
	int sigfd = signalfd(-1, sigs, SFD_CLOEXEC);
	int pidfd = (int)syscall(SYS_pidfd_open, child, 0), status;
	bool room = true; /* the session's stdin pipe can take more */

	/* A reader of our stdout that went away must not kill us: the session gets EPIPE. */
	signal(SIGPIPE, SIG_IGN);
	while (sigfd >= 0 && pidfd >= 0) {
		struct pollfd pfd[6] = {
			{ .fd = sigfd, .events = POLLIN },
			{ .fd = pidfd, .events = POLLIN },
			{ .fd = r->in >= 0 && room ? STDIN_FILENO : -1, .events = POLLIN },
			{ .fd = r->in >= 0 && !room ? r->in : -1, .events = POLLOUT },
			{ .fd = r->out, .events = POLLIN },
			{ .fd = r->err, .events = POLLIN },
		};
		struct signalfd_siginfo si;
		ssize_t n;

		if (poll(pfd, 6, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if ((pfd[0].revents & POLLIN) && read(sigfd, &si, sizeof(si)) == sizeof(si))
			kill(child, (int)si.ssi_signo);
		if (pfd[3].revents)
			room = true;
		if (pfd[2].revents) {
			n = move(STDIN_FILENO, r->in);
			if (n == -EAGAIN)
				room = false;
			else if (n <= 0)
				close_fd(
					&r->in); /* our input ended, or the session closed its stdin */
		}
		if (pfd[4].revents && (n = move_out(r->out, STDOUT_FILENO)) <= 0 && n != -EAGAIN)
			close_fd(&r->out);
		if (pfd[5].revents && (n = move_out(r->err, STDERR_FILENO)) <= 0 && n != -EAGAIN)
			close_fd(&r->err);
		if (pfd[1].revents & POLLIN)
			break;
	}
	close_fd(&r->in);
	drain(&r->out, STDOUT_FILENO);
	drain(&r->err, STDERR_FILENO);
	if (sigfd >= 0)
		close(sigfd);
	if (pidfd >= 0)
		close(pidfd);
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR)
			return 1 << 8;
	return status;
}

void stdio_relay_close(struct stdio_relay *r)
{
	close_fd(&r->in);
	close_fd(&r->out);
	close_fd(&r->err);
}
