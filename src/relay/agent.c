/*
 * `cntr __exec-relay`: one in-session `cntr exec`, run on the host by H with
 * the client's stdio and the conversation at fd 3. The command runs exactly
 * as a host's `cntr exec -t process_id PID` would run it; this process passes
 * the client's signals on and returns the exit status.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "relay/relay.h"
#include "util/log.h"

#define CONV_FD 3
#define TARGET_PIDFD 4
#define HANGUP_GRACE_MS 2000

struct query {
	const char *target, *term, *apparmor, *seccomp;
	char **argv; /* NULL-terminated; empty: the default shell */
	int argc;
};

/* Splits 'Q' target \0 TERM \0 apparmor \0 seccomp \0 argv... (buf is NUL-terminated past len). */
static int query_parse(char *buf, size_t len, struct query *q)
{
	const char *fields[4];
	char *p = buf + 1, *end = buf + len;
	size_t k = 0;

	if (len < 1 || buf[0] != RELAY_MSG_QUERY || buf[len - 1] != '\0')
		return -EINVAL;
	for (; k < 4 && p < end; k++, p += strlen(p) + 1)
		fields[k] = p;
	if (k < 4)
		return -EINVAL;
	q->target = fields[0];
	q->term = fields[1];
	q->apparmor = fields[2];
	q->seccomp = fields[3];
	q->argc = 0;
	for (char *a = p; a < end; a += strlen(a) + 1)
		q->argc++;
	q->argv = calloc((size_t)q->argc + 1, sizeof(char *));
	if (!q->argv)
		return -ENOMEM;
	for (int i = 0; i < q->argc; i++, p += strlen(p) + 1)
		q->argv[i] = p;
	return 0;
}

/* TARGET inside the session may only name the attached container: by its name, or either pid. */
static bool same_target(const char *asked, const char *name, const char *pid, const char *local)
{
	return !*asked || !strcmp(asked, name) || !strcmp(asked, pid) || !strcmp(asked, local);
}

/* The session runs under the target's LSM label and seccomp filter; no request may shed them. */
static int check_no_relaxing(const struct query *q, const char *apparmor, const char *seccomp)
{
	if (!strcmp(apparmor, "auto") && strcmp(q->apparmor, "auto") != 0)
		return log_error("exec: --apparmor off is not allowed inside a session attached "
				 "with --apparmor auto");
	if (!strcmp(seccomp, "auto") && strcmp(q->seccomp, "auto") != 0)
		return log_error("exec: --seccomp off is not allowed inside a session attached "
				 "with --seccomp auto");
	return 0;
}

static bool passable(int sig)
{
	return sig == SIGINT || sig == SIGTERM || sig == SIGHUP || sig == SIGQUIT ||
	       sig == SIGWINCH || sig == SIGUSR1 || sig == SIGUSR2;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Passes signals on until the command's cntr exec ends; returns its wait status. */
static int supervise(pid_t child)
{
	int pidfd = (int)syscall(SYS_pidfd_open, child, 0), status = 0;
	bool conv_open = true;
	long hangup_at = 0;

	while (pidfd >= 0) {
		struct pollfd pfd[2] = { { .fd = conv_open ? CONV_FD : -1, .events = POLLIN },
					 { .fd = pidfd, .events = POLLIN } };
		int timeout = conv_open ? -1 : (int)(hangup_at + HANGUP_GRACE_MS - now_ms());

		if (!conv_open && timeout <= 0) {
			kill(child, SIGKILL); /* the client is gone and the command stays */
			break;
		}
		if (poll(pfd, 2, timeout) < 0 && errno != EINTR)
			break;
		if (pfd[1].revents & POLLIN)
			break;
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			unsigned char msg[2];
			ssize_t n = recv(CONV_FD, msg, sizeof(msg), 0);

			if (n == 2 && msg[0] == RELAY_MSG_SIGNAL && passable(msg[1])) {
				kill(child, msg[1]);
			} else if (n <= 0) {
				/* The client died: hang up on the command, as a closed terminal would. */
				conv_open = false;
				hangup_at = now_ms();
				kill(child, SIGHUP);
			}
		}
	}
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR)
			return 125 << 8;
	if (pidfd >= 0)
		close(pidfd);
	return status;
}

static void __attribute__((noreturn))
run_exec(const struct query *q, char *pid, char *apparmor, char *seccomp)
{
	char *default_argv[] = { "/bin/sh", NULL };
	char **cmd = q->argc ? q->argv : default_argv;
	int cmdc = q->argc ? q->argc : 1;
	char **argv = calloc((size_t)cmdc + 13, sizeof(char *));
	int n = 0;

	if (!argv) {
		log_errno(ENOMEM, "exec relay");
		exit(125);
	}
	argv[n++] = "exec";
	argv[n++] = "-t";
	argv[n++] = "process_id";
	argv[n++] = "--apparmor";
	argv[n++] = apparmor;
	argv[n++] = "--seccomp";
	argv[n++] = seccomp;
	argv[n++] = "--__pidfd";
	argv[n++] = "4";
	argv[n++] = pid;
	argv[n++] = "--";
	for (int i = 0; i < cmdc; i++)
		argv[n++] = cmd[i];
	exit(cmd_exec(n, argv));
}

int cmd_exec_relay(int argc, char **argv)
{
	static char buf[RELAY_MAX_QUERY + 1];
	struct query q;
	struct stat st;
	ssize_t len;
	int status, code;
	pid_t child;

	/* __exec-relay PID LOCAL_PID APPARMOR SECCOMP NAME, conversation at fd 3, target at 4 */
	if (argc != 6 || fstat(CONV_FD, &st) < 0 || !S_ISSOCK(st.st_mode) ||
	    fstat(TARGET_PIDFD, &st) < 0) {
		log_error("__exec-relay is run by cntr attach for its session, not by hand");
		return 2;
	}
	len = recv(CONV_FD, buf, RELAY_MAX_QUERY, MSG_TRUNC);
	if (len <= 0 || len > RELAY_MAX_QUERY || query_parse(buf, (size_t)len, &q) < 0) {
		log_error("exec: the session's request was malformed or too long");
		return 125;
	}
	if (!same_target(q.target, argv[5], argv[1], argv[2])) {
		log_error("exec: inside this session the target can only be the attached "
			  "container ('%s', process %s), not '%s'",
			  argv[5], argv[2], q.target);
		code = 1;
	} else if (check_no_relaxing(&q, argv[3], argv[4]) < 0) {
		code = 1;
	} else {
		if (*q.term)
			setenv("TERM", q.term, 1);
		else
			unsetenv("TERM");
		fflush(NULL);
		child = fork();
		if (child == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
			close(CONV_FD);
			run_exec(&q, argv[1], argv[3], argv[4]);
		}
		if (child < 0) {
			log_errno(errno, "exec relay: fork");
			code = 125;
		} else {
			status = supervise(child);
			code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
		}
	}
	free(q.argv);
	{
		char msg[1 + sizeof(int32_t)] = { RELAY_MSG_EXIT };
		int32_t c = code;

		memcpy(msg + 1, &c, sizeof(c));
		send(CONV_FD, msg, sizeof(msg), MSG_NOSIGNAL);
	}
	return 0;
}
