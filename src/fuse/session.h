/*
 * The FUSE request loop on the kernel ABI: INIT negotiation, one worker thread
 * per cloned /dev/fuse fd, dispatch by opcode, and shutdown. It knows nothing
 * about the filesystem behind it; handlers get the raw argument bytes.
 */
#pragma once

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fuse/abi.h"

struct fuse_session;
struct fuse_ring;
struct ring_thread;

struct fuse_req {
	struct fuse_session *se;
	int fd; /* this worker's /dev/fuse fd, also for backing-file ioctls */
	const struct fuse_in_header *in;
	bool replied;
	void *worker_data; /* the filesystem's per-thread state */
	struct ring_thread *ring; /* set when the request came through io_uring */
};

typedef void (*fuse_handler)(struct fuse_req *req, const void *arg, size_t len);

/* What the filesystem asks for; the session intersects it with the kernel's offer. */
struct fuse_want {
	uint64_t flags; /* FUSE_* INIT flags, 64-bit (flags2 is the high word) */
	uint32_t max_write;
	uint16_t max_background;
	bool passthrough; /* request FUSE_PASSTHROUGH (needs no writeback cache) */
	bool io_uring; /* serve through io_uring when the kernel offers it */
	bool sched_idle; /* io_uring threads run SCHED_IDLE under a guard (idle_guard.h) */
	bool stats; /* count requests and their time per opcode (fuse_session_print_stats) */
};

/* What was agreed in INIT; valid once the first request after INIT arrives. */
struct fuse_conn {
	uint32_t proto_minor;
	uint64_t kernel_flags; /* what the kernel offered */
	uint64_t flags; /* what we accepted */
	uint32_t max_write;
	bool passthrough;
	bool io_uring;
};

struct fuse_session_ops {
	fuse_handler handlers[CNTR_FUSE_OPCODE_MAX];
	/* Called once INIT is agreed, before any other request. */
	void (*init)(void *fs, const struct fuse_conn *conn);
	/* Per worker thread state (may be NULL). */
	void *(*thread_start)(void *fs);
	void (*thread_stop)(void *fs, void *worker_data);
};

struct fuse_session {
	int fd;
	unsigned nthreads;
	const struct fuse_session_ops *ops;
	void *fs;
	struct fuse_want want;
	struct fuse_conn conn;
	struct worker *workers; /* alive until the process exits if a signal stopped us */
	unsigned nstarted;
	struct fuse_ring *ring; /* NULL unless requests also come through io_uring */
	int done_fd; /* eventfd: readable once the connection has ended */
	volatile sig_atomic_t stopping;
	/* With want.stats: requests and nanoseconds spent handling them, per opcode. */
	uint64_t op_count[CNTR_FUSE_OPCODE_MAX], op_nsec[CNTR_FUSE_OPCODE_MAX];
	uint64_t ring_count; /* how many of them came through io_uring */
};

/* Takes ownership of fd (an O_CLOEXEC /dev/fuse fd the kernel mounted). */
void fuse_session_init(struct fuse_session *se, int fd, unsigned nthreads,
		       const struct fuse_session_ops *ops, void *fs, const struct fuse_want *want);

/*
 * Serves until the filesystem is unmounted (returns 0) or one of the signals in
 * stop_signals arrives (returns that signal number). The caller blocks those
 * signals in all threads before calling. Worker threads are gone on return.
 */
int fuse_session_loop(struct fuse_session *se, const sigset_t *stop_signals);

/* Starts the worker threads (the connection must be mounted). Returns 0 or -errno. */
int fuse_session_start(struct fuse_session *se);
/* After done_fd became readable: waits for the workers and frees them. */
void fuse_session_join(struct fuse_session *se);

/* Runs the handler for one request read from either transport. */
void fuse_session_dispatch(struct fuse_req *req, const void *arg, size_t len);

/* Writes the request counters (want.stats) to stderr, one line per opcode used. */
void fuse_session_print_stats(const struct fuse_session *se);

/* The fd passed to fuse_session_init, for ioctls outside a request. */
static inline int fuse_session_fd(const struct fuse_session *se)
{
	return se->fd;
}
