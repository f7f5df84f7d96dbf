#include "util/run.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"

struct sink {
	int fd;
	char *buf;
	size_t len, cap;
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* dup2 that also works when the pipe already sits on the target fd (dup2 keeps CLOEXEC then). */
static int move_fd(int fd, int target)
{
	if (fd == target)
		return fcntl(fd, F_SETFD, 0);
	return dup2(fd, target) < 0 ? -1 : 0;
}

/* environ with LC_ALL=C, built before fork: the child must not allocate (we may have threads). */
static char **tool_environ(void)
{
	size_t n = 0, k = 0;
	char **env;

	while (environ[n])
		n++;
	env = calloc(n + 2, sizeof(*env));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "LC_ALL=", 7) != 0)
			env[k++] = environ[i];
	/* the parsers expect untranslated output */
	env[k] = "LC_ALL=C";
	return env;
}

static __attribute__((noreturn)) void child(char *const argv[], char **env, int out, int err,
					    int report)
{
	sigset_t all;
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC), e;

	setpgid(0, 0); /* one process group: a timeout kills whatever the tool started */
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	signal(SIGPIPE, SIG_DFL);
	if (null < 0 || move_fd(null, 0) < 0 || move_fd(out, 1) < 0 || move_fd(err, 2) < 0)
		goto fail;
	execvpe(argv[0], argv, env);
fail:
	e = errno;
	if (write(report, &e, sizeof(e)) < 0)
		_exit(127);
	_exit(127);
}

/* Reads what is there; returns false at EOF or on error. Output past the cap is dropped. */
static bool drain(struct sink *s)
{
	char scratch[4096];

	for (;;) {
		char *dst = scratch;
		size_t room = sizeof(scratch);
		ssize_t n;

		if (s->len < RUN_MAX_OUTPUT) {
			if (s->cap - s->len < 4097) {
				size_t cap = s->cap ? s->cap * 2 : 8192;
				char *bigger = realloc(s->buf, cap);

				if (bigger) {
					s->buf = bigger;
					s->cap = cap;
				}
			}
			if (s->cap - s->len >= 4097) {
				dst = s->buf + s->len;
				room = s->cap - s->len - 1;
				if (room > RUN_MAX_OUTPUT - s->len)
					room = RUN_MAX_OUTPUT - s->len;
			}
		}
		n = read(s->fd, dst, room);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN;
		if (n == 0)
			return false;
		if (dst != scratch)
			s->len += (size_t)n;
	}
}

static char *finish(struct sink *s, size_t *len)
{
	char *buf = s->buf ? s->buf : malloc(1);

	if (buf)
		buf[s->len] = '\0';
	*len = s->len;
	s->buf = NULL;
	return buf;
}

static void kill_tool(pid_t pid, int *status)
{
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	while (waitpid(pid, status, 0) < 0 && errno == EINTR)
		;
}

/* Collects output until the tool exits (pidfd, else polling waitpid) or time runs out. */
static int collect(pid_t pid, struct sink sinks[2], int timeout_ms, int *status)
{
	long long deadline = now_ms() + timeout_ms;
	_cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	bool open_[2] = { true, true };

	for (;;) {
		struct pollfd p[3];
		long long left = deadline - now_ms();
		int n = 0, wait_ms;
		pid_t w;

		if (left <= 0) {
			kill_tool(pid, status);
			return -ETIMEDOUT;
		}
		for (int i = 0; i < 2; i++)
			if (open_[i])
				p[n++] = (struct pollfd){ .fd = sinks[i].fd, .events = POLLIN };
		if (pidfd >= 0)
			p[n++] = (struct pollfd){ .fd = pidfd, .events = POLLIN };
		wait_ms = pidfd >= 0 ? (int)left : (int)(left < 20 ? left : 20);
		if (poll(p, n, wait_ms) < 0 && errno != EINTR)
			return -errno;
		for (int i = 0; i < 2; i++)
			if (open_[i] && !drain(&sinks[i]))
				open_[i] = false;
		w = waitpid(pid, status, WNOHANG);
		if (w == pid) {
			/* What a lingering grandchild still writes is not the tool's answer. */
			for (int i = 0; i < 2; i++)
				if (open_[i])
					drain(&sinks[i]);
			return 0;
		}
		if (w < 0 && errno != EINTR)
			return -errno;
	}
}

int run_capture(char *const argv[], int timeout_ms, struct run_result *r)
{
	int out[2] = { -1, -1 }, err[2] = { -1, -1 }, report[2] = { -1, -1 };
	struct sink sinks[2] = { { .fd = -1 }, { .fd = -1 } };
	char **env = tool_environ();
	int e = 0, ret;
	pid_t pid;
	ssize_t n;

	memset(r, 0, sizeof(*r));
	if (!env)
		return -ENOMEM;
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 ||
	    pipe2(report, O_CLOEXEC) < 0) {
		ret = -errno;
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		goto out;
	}
	if (pid == 0)
		child(argv, env, out[1], err[1], report[1]);
	setpgid(pid, pid); /* also here: no race with a timeout before the child ran */
	close(out[1]);
	close(err[1]);
	close(report[1]);
	out[1] = err[1] = report[1] = -1;
	/* The report pipe closes on a successful exec, or carries execvp's errno. */
	do
		n = read(report[0], &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	if (n == sizeof(e)) {
		while (waitpid(pid, &r->status, 0) < 0 && errno == EINTR)
			;
		ret = -e;
		goto out;
	}
	sinks[0].fd = out[0];
	sinks[1].fd = err[0];
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	fcntl(err[0], F_SETFL, O_NONBLOCK);
	ret = collect(pid, sinks, timeout_ms, &r->status);
	if (ret == 0) {
		r->out = finish(&sinks[0], &r->out_len);
		r->err = finish(&sinks[1], &r->err_len);
		if (!r->out || !r->err) {
			run_result_free(r);
			ret = -ENOMEM;
		}
	}
out:
	free(env);
	free(sinks[0].buf);
	free(sinks[1].buf);
	for (int i = 0; i < 2; i++) {
		cleanup_fdp(&out[i]);
		cleanup_fdp(&err[i]);
		cleanup_fdp(&report[i]);
	}
	return ret;
}

void run_result_free(struct run_result *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

int run_succeeded(const struct run_result *r)
{
	return WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0;
}

const char *run_first_line(const struct run_result *r, char *buf, size_t size)
{
	const char *s = r->err && *r->err ? r->err : r->out ? r->out : "";
	size_t n;

	while (*s == ' ' || *s == '\t' || *s == '\n')
		s++;
	n = strcspn(s, "\n");
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		n--;
	if (n == 0 && !WIFEXITED(r->status))
		snprintf(buf, size, "killed by signal %d", WTERMSIG(r->status));
	else if (n == 0)
		snprintf(buf, size, "exit status %d", WEXITSTATUS(r->status));
	else
		snprintf(buf, size, "%.*s", (int)n, s);
	return buf;
}

static bool executable(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

int run_find_tool(const char *name, char *path, size_t size)
{
	const char *dirs = getenv("PATH");

	if (strchr(name, '/')) {
		if (!executable(name))
			return -ENOENT;
		snprintf(path, size, "%s", name);
		return 0;
	}
	if (!dirs || !*dirs)
		dirs = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	while (*dirs) {
		size_t n = strcspn(dirs, ":");

		/* An empty PATH element means the current directory; skip it, we run as root. */
		if (n > 0 && (size_t)snprintf(path, size, "%.*s/%s", (int)n, dirs, name) < size &&
		    executable(path))
			return 0;
		dirs += n;
		if (*dirs == ':')
			dirs++;
	}
	return -ENOENT;
}
