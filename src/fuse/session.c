#include "fuse/session.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <stdio.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "fuse/reply.h"
#include "fuse/ring.h"
#include "util/log.h"

struct worker {
	struct fuse_session *se;
	pthread_t thread;
	int fd;
	int done_fd; /* eventfd: tells the main thread the connection is gone */
};

void fuse_session_init(struct fuse_session *se, int fd, unsigned nthreads,
		       const struct fuse_session_ops *ops, void *fs, const struct fuse_want *want)
{
	memset(se, 0, sizeof(*se));
	se->fd = fd;
	se->nthreads = nthreads ? nthreads : 1;
	se->ops = ops;
	se->fs = fs;
	se->want = *want;
	se->done_fd = -1;
}

static void handle_init(struct fuse_req *req, const void *arg, size_t len)
{
	struct fuse_session *se = req->se;
	const struct fuse_init_in *in = arg;
	struct cntr_fuse_init_out out;
	uint64_t offered, accepted;

	if (len < offsetof(struct fuse_init_in, flags) + sizeof(in->flags)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	memset(&out, 0, sizeof(out));
	out.major = CNTR_FUSE_MAJOR;
	out.minor = CNTR_FUSE_MINOR;
	if (in->major > CNTR_FUSE_MAJOR) {
		/* The kernel retries with our major. */
		fuse_reply_data(req, &out, sizeof(out));
		return;
	}
	if (in->major < CNTR_FUSE_MAJOR || in->minor < 31) {
		log_error("kernel FUSE protocol %u.%u is too old (need 7.31)", in->major,
			  in->minor);
		fuse_reply_err(req, EPROTO);
		return;
	}

	offered = in->flags;
	if ((in->flags & FUSE_INIT_EXT) && len >= sizeof(*in))
		offered |= (uint64_t)in->flags2 << 32;
	accepted = se->want.flags & offered;
	if (offered & FUSE_INIT_EXT)
		accepted |= FUSE_INIT_EXT;
	if (offered & FUSE_MAX_PAGES) {
		accepted |= FUSE_MAX_PAGES;
		out.max_pages = CNTR_FUSE_MAX_PAGES;
	}
	/* The kernel refuses passthrough together with the writeback cache. */
	if (se->want.io_uring && (offered & FUSE_OVER_IO_URING))
		accepted |= FUSE_OVER_IO_URING;
	if (se->want.passthrough && (offered & FUSE_PASSTHROUGH) &&
	    !(accepted & FUSE_WRITEBACK_CACHE)) {
		accepted |= FUSE_PASSTHROUGH;
		out.max_stack_depth = CNTR_FUSE_MAX_STACK_DEPTH;
	}

	se->conn.proto_minor = in->minor < CNTR_FUSE_MINOR ? in->minor : CNTR_FUSE_MINOR;
	se->conn.kernel_flags = offered;
	se->conn.flags = accepted;
	se->conn.max_write = se->want.max_write;
	se->conn.passthrough = accepted & FUSE_PASSTHROUGH;
	se->conn.io_uring = accepted & FUSE_OVER_IO_URING;

	out.max_readahead = in->max_readahead;
	out.flags = (uint32_t)accepted;
	out.flags2 = (uint32_t)(accepted >> 32);
	out.max_background = se->want.max_background;
	out.congestion_threshold = se->want.max_background * 3 / 4;
	out.max_write = se->want.max_write;
	out.time_gran = 1;

	if (se->ops->init)
		se->ops->init(se->fs, &se->conn);
	log_info("FUSE %u.%u, flags %#llx of %#llx offered, passthrough %s", in->major,
		 se->conn.proto_minor, (unsigned long long)accepted, (unsigned long long)offered,
		 se->conn.passthrough ? "on" : "off");
	fuse_reply_data(req, &out, sizeof(out));
	/* The kernel accepts ring entries only once it has processed this reply. */
	if (se->conn.io_uring) {
		int r = fuse_ring_start(se);

		if (r < 0)
			log_warn("FUSE over io_uring unavailable (%s): using /dev/fuse only",
				 strerror(-r));
	} else if (se->want.io_uring) {
		log_info("FUSE over io_uring not offered by the kernel (fuse.enable_uring=0?)");
	}
}

static uint64_t now_nsec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void dispatch(struct fuse_req *req, const void *arg, size_t len);

void fuse_session_dispatch(struct fuse_req *req, const void *arg, size_t len)
{
	struct fuse_session *se = req->se;
	uint32_t op = req->in->opcode;
	uint64_t start;

	if (!se->want.stats || op >= CNTR_FUSE_OPCODE_MAX) {
		dispatch(req, arg, len);
		return;
	}
	start = now_nsec();
	dispatch(req, arg, len);
	__atomic_fetch_add(&se->op_count[op], 1, __ATOMIC_RELAXED);
	if (req->ring)
		__atomic_fetch_add(&se->ring_count, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&se->op_nsec[op], now_nsec() - start, __ATOMIC_RELAXED);
}

static const char *const op_names[CNTR_FUSE_OPCODE_MAX] = {
	[FUSE_LOOKUP] = "LOOKUP",
	[FUSE_FORGET] = "FORGET",
	[FUSE_GETATTR] = "GETATTR",
	[FUSE_SETATTR] = "SETATTR",
	[FUSE_READLINK] = "READLINK",
	[FUSE_SYMLINK] = "SYMLINK",
	[FUSE_MKNOD] = "MKNOD",
	[FUSE_MKDIR] = "MKDIR",
	[FUSE_UNLINK] = "UNLINK",
	[FUSE_RMDIR] = "RMDIR",
	[FUSE_RENAME] = "RENAME",
	[FUSE_LINK] = "LINK",
	[FUSE_OPEN] = "OPEN",
	[FUSE_READ] = "READ",
	[FUSE_WRITE] = "WRITE",
	[FUSE_STATFS] = "STATFS",
	[FUSE_RELEASE] = "RELEASE",
	[FUSE_FSYNC] = "FSYNC",
	[FUSE_SETXATTR] = "SETXATTR",
	[FUSE_GETXATTR] = "GETXATTR",
	[FUSE_LISTXATTR] = "LISTXATTR",
	[FUSE_REMOVEXATTR] = "REMOVEXATTR",
	[FUSE_FLUSH] = "FLUSH",
	[FUSE_INIT] = "INIT",
	[FUSE_OPENDIR] = "OPENDIR",
	[FUSE_READDIR] = "READDIR",
	[FUSE_RELEASEDIR] = "RELEASEDIR",
	[FUSE_FSYNCDIR] = "FSYNCDIR",
	[FUSE_GETLK] = "GETLK",
	[FUSE_SETLK] = "SETLK",
	[FUSE_SETLKW] = "SETLKW",
	[FUSE_ACCESS] = "ACCESS",
	[FUSE_CREATE] = "CREATE",
	[FUSE_INTERRUPT] = "INTERRUPT",
	[FUSE_BMAP] = "BMAP",
	[FUSE_DESTROY] = "DESTROY",
	[FUSE_IOCTL] = "IOCTL",
	[FUSE_POLL] = "POLL",
	[FUSE_NOTIFY_REPLY] = "NOTIFY_REPLY",
	[FUSE_BATCH_FORGET] = "BATCH_FORGET",
	[FUSE_FALLOCATE] = "FALLOCATE",
	[FUSE_READDIRPLUS] = "READDIRPLUS",
	[FUSE_RENAME2] = "RENAME2",
	[FUSE_LSEEK] = "LSEEK",
	[FUSE_COPY_FILE_RANGE] = "COPY_FILE_RANGE",
	[FUSE_SETUPMAPPING] = "SETUPMAPPING",
	[FUSE_REMOVEMAPPING] = "REMOVEMAPPING",
	[FUSE_SYNCFS] = "SYNCFS",
	[FUSE_TMPFILE] = "TMPFILE",
	[FUSE_STATX] = "STATX",
};

void fuse_session_print_stats(const struct fuse_session *se)
{
	uint64_t total = 0, nsec = 0;

	if (!se->want.stats)
		return;
	fprintf(stderr, "cntr: FUSE requests by opcode (count, average handling time):\n");
	for (unsigned op = 0; op < CNTR_FUSE_OPCODE_MAX; op++) {
		uint64_t n = __atomic_load_n(&se->op_count[op], __ATOMIC_RELAXED);
		uint64_t t = __atomic_load_n(&se->op_nsec[op], __ATOMIC_RELAXED);

		if (!n)
			continue;
		total += n;
		nsec += t;
		if (op_names[op])
			fprintf(stderr, "cntr:   %-15s %10llu %8.1f us\n", op_names[op],
				(unsigned long long)n, (double)t / (double)n / 1000.0);
		else
			fprintf(stderr, "cntr:   opcode %-8u %10llu %8.1f us\n", op,
				(unsigned long long)n, (double)t / (double)n / 1000.0);
	}
	fprintf(stderr, "cntr:   %-15s %10llu %8.1f us\n", "total", (unsigned long long)total,
		total ? (double)nsec / (double)total / 1000.0 : 0.0);
	fprintf(stderr, "cntr:   %-15s %10llu\n", "via io_uring",
		(unsigned long long)__atomic_load_n(&se->ring_count, __ATOMIC_RELAXED));
}

static void dispatch(struct fuse_req *req, const void *arg, size_t len)
{
	struct fuse_session *se = req->se;
	uint32_t op = req->in->opcode;

	switch (op) {
	case FUSE_INIT:
		handle_init(req, arg, len);
		return;
	case FUSE_DESTROY:
		se->stopping = 1;
		fuse_reply_err(req, 0);
		return;
	case FUSE_INTERRUPT:
		/*
		 * Every operation here finishes in bounded time (locks are handled
		 * by the kernel), so the interrupted request simply completes.
		 */
		return;
	default:
		break;
	}
	if (op < CNTR_FUSE_OPCODE_MAX && se->ops->handlers[op])
		se->ops->handlers[op](req, arg, len);
	else
		fuse_reply_err(req, ENOSYS);
	if (!req->replied && op != FUSE_FORGET && op != FUSE_BATCH_FORGET)
		fuse_reply_err(req, EIO); /* never leave a caller waiting */
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct fuse_session *se = w->se;
	void *wdata = se->ops->thread_start ? se->ops->thread_start(se->fs) : NULL;
	char *buf = aligned_alloc(4096, CNTR_FUSE_BUFSIZE);
	uint64_t one = 1;

	while (buf && !se->stopping) {
		ssize_t n = read(w->fd, buf, CNTR_FUSE_BUFSIZE);
		const struct fuse_in_header *in = (const void *)buf;
		struct fuse_req req = { .se = se, .fd = w->fd, .in = in, .worker_data = wdata };

		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == ENOENT)
				continue; /* ENOENT: the request was interrupted before we read it */
			if (errno != ENODEV)
				log_errno(errno, "reading /dev/fuse");
			break;
		}
		if ((size_t)n < sizeof(*in) || in->len != (uint32_t)n) {
			log_error("short FUSE request (%zd bytes)", n);
			break;
		}
		fuse_session_dispatch(&req, buf + sizeof(*in), (size_t)n - sizeof(*in));
	}
	if (!buf)
		log_errno(ENOMEM, "request buffer");
	free(buf);
	if (se->ops->thread_stop)
		se->ops->thread_stop(se->fs, wdata);
	se->stopping = 1;
	if (write(w->done_fd, &one, sizeof(one)) < 0) {
		/* The main thread polls the eventfd; a failed write cannot happen for a counter this small. */
	}
	return NULL;
}

static int clone_fd(int session_fd)
{
	uint32_t master = (uint32_t)session_fd;
	int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (ioctl(fd, FUSE_DEV_IOC_CLONE, &master) < 0) {
		int err = errno;
		close(fd);
		return -err;
	}
	return fd;
}

int fuse_session_start(struct fuse_session *se)
{
	unsigned started = 0;

	se->workers = calloc(se->nthreads, sizeof(struct worker));
	se->done_fd = eventfd(0, EFD_CLOEXEC);
	if (!se->workers || se->done_fd < 0)
		return log_errno(errno ? errno : ENOMEM, "starting FUSE workers");
	for (unsigned i = 0; i < se->nthreads; i++) {
		struct worker *w = &se->workers[i];
		int fd = i == 0 ? se->fd : clone_fd(se->fd);

		if (fd < 0) {
			/* An old kernel without cloning still works, with fewer threads. */
			log_warn("cannot clone /dev/fuse (%s): using %u thread(s)", strerror(-fd),
				 i);
			break;
		}
		w->se = se;
		w->fd = fd;
		w->done_fd = se->done_fd;
		if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
			if (i)
				close(fd);
			break;
		}
		pthread_setname_np(w->thread, "cntrfs-dev");
		started++;
	}
	se->nstarted = started;
	if (!started)
		return log_error("could not start any FUSE worker thread");
	return 0;
}

void fuse_session_join(struct fuse_session *se)
{
	/*
	 * One worker saw the connection end; the others get ENODEV as well
	 * (unmount aborts every reader), so joining them terminates.
	 */
	for (unsigned i = 0; i < se->nstarted; i++) {
		pthread_join(se->workers[i].thread, NULL);
		if (i)
			close(se->workers[i].fd);
	}
	se->nstarted = 0;
	fuse_ring_stop(se);
	free(se->workers);
	se->workers = NULL;
	close(se->done_fd);
	se->done_fd = -1;
}

int fuse_session_loop(struct fuse_session *se, const sigset_t *stop_signals)
{
	int sig_fd = signalfd(-1, stop_signals, SFD_CLOEXEC);
	int result;

	if (sig_fd < 0)
		return log_errno(errno, "signalfd");
	result = fuse_session_start(se);
	while (result == 0) {
		struct pollfd pfd[2] = { { .fd = se->done_fd, .events = POLLIN },
					 { .fd = sig_fd, .events = POLLIN } };
		struct signalfd_siginfo si;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			result = log_errno(errno, "poll");
			break;
		}
		if ((pfd[1].revents & POLLIN) && read(sig_fd, &si, sizeof(si)) == sizeof(si)) {
			/* Workers stay blocked in read(); the caller exits. */
			close(sig_fd);
			return (int)si.ssi_signo;
		}
		if (pfd[0].revents & POLLIN) {
			fuse_session_join(se);
			break;
		}
	}
	close(sig_fd);
	return result;
}
