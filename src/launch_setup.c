#include "launch_setup.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/fdpass.h"

/*
 * H's waits during set-up: C looks up paths of the container, and a stuck
 * mount there (a FUSE server that never answers) would block it for good.
 * So H waits for C's next message with a deadline and with its stop signals
 * at hand; C's lookups are killable, so either ends the set-up at once.
 */

void setup_begin(struct setup *s, const sigset_t *sigs, int logfd)
{
	s->sigfd = signalfd(-1, sigs, SFD_CLOEXEC);
	s->logfd = logfd;
	clock_gettime(CLOCK_MONOTONIC, &s->deadline);
	s->deadline.tv_sec += SETUP_SECONDS;
	s->signo = 0;
	s->timed_out = false;
}

/* Copies what C wrote to its stderr to ours; returns what read returned. */
static ssize_t copy_log(struct setup *s)
{
	char buf[4096];
	ssize_t n = read(s->logfd, buf, sizeof(buf));

	if (n > 0 && write(STDERR_FILENO, buf, (size_t)n) < 0)
		return -errno;
	return n;
}

/* 0 once sock has a message (or C closed it), -EINTR or -ETIMEDOUT with *s saying which. */
int setup_wait(struct setup *s, int sock)
{
	for (;;) {
		struct pollfd pfd[3] = { { .fd = sock, .events = POLLIN },
					 { .fd = s->sigfd, .events = POLLIN },
					 { .fd = s->logfd, .events = POLLIN } };
		struct signalfd_siginfo si;
		struct timespec now;
		long left;

		clock_gettime(CLOCK_MONOTONIC, &now);
		left = (s->deadline.tv_sec - now.tv_sec) * 1000 +
		       (s->deadline.tv_nsec - now.tv_nsec) / 1000000;
		if (left <= 0) {
			s->timed_out = true;
			return -ETIMEDOUT;
		}
		if (poll(pfd, 3, (int)left) < 0 && errno != EINTR)
			return -errno;
		if (pfd[2].revents && copy_log(s) <= 0)
			s->logfd = -1; /* C closed it: set-up is over one way or the other */
		if ((pfd[1].revents & POLLIN) && read(s->sigfd, &si, sizeof(si)) == sizeof(si)) {
			s->signo = (int)si.ssi_signo;
			return -EINTR;
		}
		if (pfd[0].revents)
			return 0;
	}
}

/* Hands C the caller's stdio, then copies what C logged before until it closes its end. */
int setup_finish(struct setup *s, int sock, char tag, const int stdio[3])
{
	int r = fdpass_send_n(sock, tag, stdio, 3);

	while (s->logfd >= 0 && copy_log(s) > 0)
		;
	return r;
}

int setup_recv_byte(struct setup *s, int sock, char want)
{
	int r = setup_wait(s, sock);
	char b = 0;

	if (r < 0)
		return r;
	do
		r = (int)recv(sock, &b, 1, 0);
	while (r < 0 && errno == EINTR);
	return r == 1 && b == want ? 0 : -EPIPE;
}

/*
 * SIGKILLs C and reaps it within ms. A FUSE request that its server has taken
 * and never answers blocks even SIGKILL: then C is left to die (of the pending
 * signal) once the container's server answers or dies; false.
 */
bool setup_kill_child(pid_t child, int ms)
{
	int pidfd = (int)syscall(SYS_pidfd_open, child, 0);
	struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
	bool gone;

	kill(child, SIGKILL);
	gone = pidfd < 0 || poll(&pfd, 1, ms) > 0;
	if (gone)
		waitpid(child, NULL, 0);
	if (pidfd >= 0)
		close(pidfd);
	return gone;
}
