/* H's side of the exec relay: a thread that starts an agent per request. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "relay/relay.h"
#include "util/fdpass.h"
#include "util/log.h"

#define MAX_AGENTS 64
#define AGENT_FDS 4 /* conversation, stdin, stdout, stderr */

struct server {
	int sock;
	int pidfd; /* the target's */
	char pid[16], local_pid[16];
	char *argv[8];
};

/* The agent: fds in place (conversation at 3, target at 4), nothing else open, then the host's cntr. */
static void agent_exec(const struct server *s, const int *fds, pid_t parent)
{
	int high[AGENT_FDS];
	sigset_t none;

	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (getppid() != parent)
		_exit(125);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setsid(); /* the host terminal's signals are H's to pass on, not ours */
	/* Out of the way first: a received fd may sit on 0-3 if H's stdio was closed. */
	for (int k = 0; k < AGENT_FDS; k++)
		if ((high[k] = fcntl(fds[k], F_DUPFD, 10)) < 0)
			_exit(125);
	if (dup2(high[1], 0) < 0 || dup2(high[2], 1) < 0 || dup2(high[3], 2) < 0 ||
	    dup2(high[0], 3) < 0 || dup2(s->pidfd, 4) < 0)
		_exit(125);
	syscall(SYS_close_range, 5U, ~0U, 0U);
	execv("/proc/self/exe", s->argv);
	_exit(125);
}

static pid_t agent_start(const struct server *s, const int *fds)
{
	pid_t parent = getpid(), pid = fork();

	if (pid == 0)
		agent_exec(s, fds, parent);
	if (pid < 0)
		log_errno(errno, "exec relay: fork");
	return pid;
}

/* One request: an agent for it, tracked by *pidfd (-1 if none started). Returns -EPIPE at the end. */
static int accept_request(struct server *s, bool room, int *pidfd)
{
	int fds[AGENT_FDS];
	size_t n;
	char tag;
	pid_t pid = -1;
	int r = fdpass_recv_n(s->sock, &tag, fds, AGENT_FDS, &n);

	*pidfd = -1;
	if (r < 0)
		return r; /* -EPIPE: every session process is gone */
	if (tag == RELAY_MSG_REQUEST && n == AGENT_FDS && room)
		pid = agent_start(s, fds);
	/* Without an agent, the conversation closes here: the client says so. */
	for (size_t k = 0; k < n; k++)
		close(fds[k]);
	if (pid > 0) {
		*pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
		if (*pidfd < 0)
			waitpid(pid, NULL, 0); /* cannot track it: wait now */
	}
	return 0;
}

static void *serve(void *arg)
{
	struct server *s = arg;
	struct pollfd pfd[1 + MAX_AGENTS];
	size_t agents = 0;

	for (;;) {
		int pidfd;

		pfd[0] = (struct pollfd){ .fd = s->sock, .events = POLLIN };
		if (poll(pfd, 1 + agents, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (size_t k = 1; k <= agents; k++) {
			if (!(pfd[k].revents & POLLIN))
				continue;
			waitid(P_PIDFD, (id_t)pfd[k].fd, NULL, WEXITED);
			close(pfd[k].fd);
			pfd[k--] = pfd[agents--];
		}
		if (!(pfd[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		if (accept_request(s, agents < MAX_AGENTS, &pidfd) < 0)
			break;
		if (pidfd >= 0)
			pfd[1 + agents++] = (struct pollfd){ .fd = pidfd, .events = POLLIN };
	}
	/* The session is gone; agents still running die with this thread (PDEATHSIG). */
	close(s->sock);
	close(s->pidfd);
	free(s);
	return NULL;
}

int relay_serve_start(int sock, const struct relay_target *t)
{
	struct server *s = calloc(1, sizeof(*s));
	pthread_attr_t attr;
	pthread_t thread;
	sigset_t all, old;
	int r;

	if (!s) {
		close(sock);
		return -ENOMEM;
	}
	s->sock = sock;
	s->pidfd = fcntl(t->pidfd, F_DUPFD_CLOEXEC, 10);
	if (s->pidfd < 0) {
		r = -errno;
		close(sock);
		free(s);
		return log_errno(r, "exec relay: holding the target");
	}
	snprintf(s->pid, sizeof(s->pid), "%d", (int)t->pid);
	snprintf(s->local_pid, sizeof(s->local_pid), "%d", (int)t->local_pid);
	s->argv[0] = "cntr";
	s->argv[1] = "__exec-relay";
	s->argv[2] = s->pid;
	s->argv[3] = s->local_pid;
	s->argv[4] = t->apply_lsm ? "auto" : "off";
	s->argv[5] = t->copy_seccomp ? "auto" : "off";
	s->argv[6] = (char *)t->name;
	/* Signals stay with H's main thread, which forwards them to the session. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	r = pthread_create(&thread, &attr, serve, s);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		close(sock);
		close(s->pidfd);
		free(s);
		return log_errno(r, "exec relay: starting its thread");
	}
	return 0;
}

int relay_session_fd(int sock)
{
	int fd = fcntl(sock, F_DUPFD, RELAY_SESSION_FD_MIN);

	return fd < 0 ? -errno : fd;
}
