/* The session's side of the exec relay: `cntr exec` where chroot is not allowed. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "launch.h"
#include "relay/relay.h"
#include "util/fdpass.h"
#include "util/log.h"

bool relay_client_available(void)
{
	return getenv(RELAY_ENV) != NULL;
}

/* The session's socket from the environment, checked: a script may have reused the number. */
int relay_client_fd(void)
{
	const char *text = getenv(RELAY_ENV);
	char *end;
	long fd = strtol(text ? text : "", &end, 10);
	int type = 0;
	socklen_t len = sizeof(type);
	struct stat st;

	if (!text || !*text || *end || fd < 0 || fd > INT32_MAX || fstat((int)fd, &st) < 0 ||
	    !S_ISSOCK(st.st_mode) || getsockopt((int)fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
	    type != SOCK_SEQPACKET)
		return -1;
	return (int)fd;
}

/* 'Q' target \0 TERM \0 apparmor \0 seccomp \0 argv... */
static char *build_query(const char *target, bool apply_lsm, bool copy_seccomp, char **argv,
			 size_t *len)
{
	const char *term = getenv("TERM");
	const char *fixed[4] = { target ? target : "", term ? term : "", apply_lsm ? "auto" : "off",
				 copy_seccomp ? "auto" : "off" };
	size_t n = 1;
	char *buf, *p;

	for (int k = 0; k < 4; k++)
		n += strlen(fixed[k]) + 1;
	for (char **a = argv; a && *a; a++)
		n += strlen(*a) + 1;
	if (n > RELAY_MAX_QUERY || !(buf = malloc(n)))
		return NULL;
	p = buf;
	*p++ = RELAY_MSG_QUERY;
	for (int k = 0; k < 4; k++)
		p = stpcpy(p, fixed[k]) + 1;
	for (char **a = argv; a && *a; a++)
		p = stpcpy(p, *a) + 1;
	*len = n;
	return buf;
}

/*
 * A closed stdin, stdout or stderr becomes /dev/null before anything else is
 * opened: otherwise our own sockets would take its number and be handed over.
 */
static int fill_stdio(void)
{
	for (int k = 0; k < 3; k++) {
		int fd;

		if (fcntl(k, F_GETFD) >= 0)
			continue;
		fd = open("/dev/null", O_RDWR);
		if (fd != k) {
			if (fd >= 0)
				close(fd);
			return -EBADF;
		}
	}
	return 0;
}

/* Sends the request with our stdio. Returns the conversation. */
static int send_request(int sock, const char *query, size_t len)
{
	int conv[2], r = 0;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, conv) < 0)
		return -errno;
	if (send(conv[0], query, len, MSG_NOSIGNAL) < 0)
		r = -errno;
	if (r == 0) {
		int fds[4] = { conv[1], STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO };

		r = fdpass_send_n(sock, RELAY_MSG_REQUEST, fds, 4);
	}
	close(conv[1]);
	if (r < 0) {
		close(conv[0]);
		return r;
	}
	return conv[0];
}

/* Passes our signals on until the exit status arrives. */
static int await_exit(int conv)
{
	static const int passed[] = {
		SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH, SIGUSR1, SIGUSR2
	};
	sigset_t mask, old;
	int sigfd, code = -1;

	sigemptyset(&mask);
	for (size_t k = 0; k < sizeof(passed) / sizeof(passed[0]); k++)
		sigaddset(&mask, passed[k]);
	sigprocmask(SIG_BLOCK, &mask, &old);
	sigfd = signalfd(-1, &mask, SFD_CLOEXEC);
	while (code < 0) {
		struct pollfd pfd[2] = { { .fd = conv, .events = POLLIN },
					 { .fd = sigfd, .events = POLLIN } };
		char msg[1 + sizeof(int32_t)];
		ssize_t n;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sigfd, &si, sizeof(si)) == sizeof(si)) {
				char sig[2] = { RELAY_MSG_SIGNAL, (char)si.ssi_signo };

				send(conv, sig, sizeof(sig), MSG_NOSIGNAL);
			}
		}
		if (!(pfd[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		n = recv(conv, msg, sizeof(msg), 0);
		if (n == (ssize_t)sizeof(msg) && msg[0] == RELAY_MSG_EXIT) {
			int32_t c;

			memcpy(&c, msg + 1, sizeof(c));
			code = c >= 0 && c <= 255 ? c : LAUNCH_EXIT_FAILURE;
		} else if (n <= 0) {
			break;
		}
	}
	if (sigfd >= 0)
		close(sigfd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (code < 0)
		log_error(
			"exec: the attach session's cntr ended the request without an exit status");
	return code < 0 ? LAUNCH_EXIT_FAILURE : code;
}

int relay_client_run(const char *target, bool apply_lsm, bool copy_seccomp, char **argv)
{
	int sock, conv, code;
	size_t len;
	char *query;

	if (fill_stdio() < 0) {
		log_error("exec: cannot open /dev/null for a closed stdin, stdout or stderr");
		return LAUNCH_EXIT_FAILURE;
	}
	sock = relay_client_fd();
	if (sock < 0) {
		log_error("exec: %s=%s is not this session's relay socket any more (closed or "
			  "reused by a script?)",
			  RELAY_ENV, getenv(RELAY_ENV) ? getenv(RELAY_ENV) : "");
		return LAUNCH_EXIT_FAILURE;
	}
	query = build_query(target, apply_lsm, copy_seccomp, argv, &len);
	if (!query) {
		log_error("exec: the command line is too long for the session relay");
		return LAUNCH_EXIT_FAILURE;
	}
	conv = send_request(sock, query, len);
	free(query);
	if (conv < 0) {
		log_errno(conv, "exec: sending the request to the attach session's cntr");
		return LAUNCH_EXIT_FAILURE;
	}
	code = await_exit(conv);
	close(conv);
	return code;
}
