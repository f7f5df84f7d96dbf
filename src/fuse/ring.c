#include "fuse/ring.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "fuse/idle_guard.h"
#include "fuse/reply.h"
#include "util/file.h"
#include "util/log.h"
#include "util/uring.h"

/* Threads per CPU queue, each with one entry: a slow request stalls only its thread. */
#define RING_THREADS_PER_QUEUE 2
/* Room before the payload for the request's own *_in struct, so handlers see one buffer. */
#define HEADROOM 4096
#define STOP_TAG UINT64_MAX

struct ring_thread {
	struct fuse_session *se;
	struct fuse_ring *ring;
	pthread_t thread;
	bool started;
	unsigned qid;
	struct uring uring;
	struct fuse_uring_req_header *hdr;
	char *buf; /* HEADROOM, then the payload */
	struct iovec iov[2];
	uint64_t commit_id;
	pid_t tid; /* for the guard */
	uint64_t served; /* requests answered, for the guard */
};

struct fuse_ring {
	unsigned nqueues, nthreads;
	int stop_fd;
	size_t payload_size;
	struct ring_thread *threads;
	struct idle_target *targets;
	struct idle_guard *guard; /* only with SCHED_IDLE threads */
};

/* The kernel has one queue per possible CPU (nr_cpu_ids). */
static unsigned possible_cpus(void)
{
	char text[256];
	unsigned max = 0;
	const char *p = text;

	if (read_file_at(AT_FDCWD, "/sys/devices/system/cpu/possible", text, sizeof(text)) <= 0)
		return (unsigned)get_nprocs_conf();
	while (*p) {
		char *end;
		unsigned long v = strtoul(p, &end, 10);

		if (end == p)
			break;
		if (v > max)
			max = (unsigned)v;
		p = *end ? end + 1 : end;
	}
	return max + 1;
}

static struct fuse_uring_cmd_req *sqe_cmd(struct io_uring_sqe *sqe)
{
	return (struct fuse_uring_cmd_req *)sqe->cmd;
}

/* Queues the thread's next command: register its entry, or commit a reply and fetch. */
static int queue_cmd(struct ring_thread *t, uint32_t op)
{
	struct io_uring_sqe *sqe = uring_get_sqe(&t->uring);

	if (!sqe)
		return -EBUSY;
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = fuse_session_fd(t->se);
	sqe->cmd_op = op;
	sqe->user_data = 0;
	if (op == FUSE_IO_URING_CMD_REGISTER) {
		sqe->addr = (uint64_t)(uintptr_t)t->iov;
		sqe->len = 2;
	}
	sqe_cmd(sqe)->qid = (uint16_t)t->qid;
	sqe_cmd(sqe)->commit_id = op == FUSE_IO_URING_CMD_COMMIT_AND_FETCH ? t->commit_id : 0;
	return 0;
}

static int queue_stop_poll(struct ring_thread *t)
{
	struct io_uring_sqe *sqe = uring_get_sqe(&t->uring);

	if (!sqe)
		return -EBUSY;
	sqe->opcode = IORING_OP_POLL_ADD;
	sqe->fd = t->ring->stop_fd;
	sqe->poll32_events = POLLIN;
	sqe->user_data = STOP_TAG;
	return 0;
}

static void serve(struct ring_thread *t, void *wdata)
{
	struct fuse_uring_req_header *hdr = t->hdr;
	struct fuse_in_header in;
	size_t payload = hdr->ring_ent_in_out.payload_sz, oplen = 0;
	char *payload_start = t->buf + HEADROOM;
	struct fuse_req req = { .se = t->se,
				.fd = fuse_session_fd(t->se),
				.in = &in,
				.worker_data = wdata,
				.ring = t };

	/* The reply overwrites in_out, so the handler reads a copy of the header. */
	memcpy(&in, hdr->in_out, sizeof(in));
	t->commit_id = hdr->ring_ent_in_out.commit_id;
	if (in.len >= sizeof(in) + payload)
		oplen = in.len - sizeof(in) - payload;
	if (in.len < sizeof(in) + payload || oplen > sizeof(hdr->op_in) ||
	    payload > t->ring->payload_size) {
		log_error("malformed FUSE ring request (opcode %u, %u bytes, payload %zu)",
			  in.opcode, in.len, payload);
		fuse_reply_err(&req, EIO);
		return;
	}
	memcpy(payload_start - oplen, hdr->op_in, oplen);
	fuse_session_dispatch(&req, payload_start - oplen, oplen + payload);
}

static void pin_to_cpu(unsigned cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	/* An offline CPU or a narrower cpuset: the queue is still served, from elsewhere. */
	sched_setaffinity(0, sizeof(set), &set);
}

/*
 * SCHED_IDLE: when a reply wakes the caller, the kernel places it on an idle
 * CPU; a CPU running only SCHED_IDLE tasks counts as idle, so the caller stays
 * on this one (no wake-up of another CPU: 20-60 µs on a VM) and preempts us at
 * once. The price is starvation when normal tasks keep every CPU busy, which
 * the guard (idle_guard.h) notices and ends by switching to normal priority.
 */
static void set_policy(int policy)
{
	struct sched_param sp = { 0 };

	if (sched_setscheduler(0, policy, &sp) < 0)
		log_warn("FUSE ring: cannot change the thread priority: %s", strerror(errno));
}

static void *ring_main(void *arg)
{
	struct ring_thread *t = arg;
	struct fuse_session *se = t->se;
	void *wdata;
	bool done = false;

	pin_to_cpu(t->qid);
	__atomic_store_n(&t->tid, gettid(), __ATOMIC_RELEASE);
	if (t->ring->guard)
		set_policy(idle_guard_policy(t->ring->guard));
	wdata = se->ops->thread_start ? se->ops->thread_start(se->fs) : NULL;
	/* Registered from this thread: completions are delivered to the task that submitted. */
	if (queue_cmd(t, FUSE_IO_URING_CMD_REGISTER) < 0 || queue_stop_poll(t) < 0)
		done = true;
	while (!done) {
		struct io_uring_cqe *cqe;
		int r = uring_submit_wait(&t->uring, 1);

		if (r < 0) {
			log_errno(-r, "FUSE ring %u", t->qid);
			break;
		}
		while (!done && (cqe = uring_peek_cqe(&t->uring))) {
			uint64_t tag = cqe->user_data;
			int res = cqe->res;

			uring_cqe_seen(&t->uring);
			if (tag == STOP_TAG) {
				done = true;
			} else if (res < 0) {
				/* ENOTCONN, ECANCELED: the connection ended; others are real errors. */
				if (res != -ENOTCONN && res != -ECANCELED && res != -ENODEV)
					log_errno(-res, "FUSE ring queue %u", t->qid);
				done = true;
			} else {
				serve(t, wdata);
				__atomic_store_n(&t->served, t->served + 1, __ATOMIC_RELAXED);
				done = queue_cmd(t, FUSE_IO_URING_CMD_COMMIT_AND_FETCH) < 0;
			}
		}
	}
	if (se->ops->thread_stop)
		se->ops->thread_stop(se->fs, wdata);
	return NULL;
}

static void free_ring(struct fuse_ring *ring)
{
	for (unsigned i = 0; ring->threads && i < ring->nthreads; i++) {
		struct ring_thread *t = &ring->threads[i];

		if (t->uring.sq_map)
			uring_exit(&t->uring);
		free(t->hdr);
		free(t->buf);
	}
	free(ring->threads);
	free(ring->targets);
	if (ring->stop_fd >= 0)
		close(ring->stop_fd);
	free(ring);
}

static int setup_thread(struct fuse_session *se, struct fuse_ring *ring, struct ring_thread *t,
			unsigned qid)
{
	int r;

	t->se = se;
	t->ring = ring;
	t->qid = qid;
	t->uring.fd = -1;
	t->hdr = aligned_alloc(4096, 4096);
	t->buf = aligned_alloc(4096, HEADROOM + ring->payload_size);
	if (!t->hdr || !t->buf)
		return -ENOMEM;
	memset(t->hdr, 0, sizeof(*t->hdr));
	t->iov[0] = (struct iovec){ t->hdr, sizeof(*t->hdr) };
	t->iov[1] = (struct iovec){ t->buf + HEADROOM, ring->payload_size };
	/* One entry in flight plus the stop poll; CQ room for both. The guard reads the
	 * task-run flag; COOP_TASKRUN only spares a running thread an interrupt. */
	r = uring_init(&t->uring, 4,
		       se->want.sched_idle ? IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG
					   : 0);
	return r;
}

/* Without a guard the threads stay at normal priority: SCHED_IDLE alone can starve. */
static void start_guard(struct fuse_ring *ring)
{
	ring->targets = calloc(ring->nthreads, sizeof(*ring->targets));
	if (!ring->targets)
		return;
	for (unsigned i = 0; i < ring->nthreads; i++) {
		struct ring_thread *t = &ring->threads[i];

		ring->targets[i] = (struct idle_target){ t->uring.sq_flags, &t->served, &t->tid };
	}
	ring->guard = idle_guard_start(ring->targets, ring->nthreads);
}

int fuse_ring_start(struct fuse_session *se)
{
	struct fuse_ring *ring = calloc(1, sizeof(*ring));
	int r = 0;

	if (!ring)
		return -ENOMEM;
	ring->stop_fd = eventfd(0, EFD_CLOEXEC);
	ring->nqueues = possible_cpus();
	ring->nthreads = ring->nqueues * RING_THREADS_PER_QUEUE;
	/* The kernel refuses payload buffers smaller than a whole request. */
	ring->payload_size = CNTR_FUSE_MAX_WRITE > 8192 ? CNTR_FUSE_MAX_WRITE : 8192;
	ring->threads = calloc(ring->nthreads, sizeof(*ring->threads));
	if (ring->stop_fd < 0 || !ring->threads)
		r = -ENOMEM;
	for (unsigned i = 0; r == 0 && i < ring->nthreads; i++)
		r = setup_thread(se, ring, &ring->threads[i], i / RING_THREADS_PER_QUEUE);
	if (r < 0) {
		free_ring(ring);
		return r;
	}
	se->ring = ring;
	if (se->want.sched_idle)
		start_guard(ring);
	for (unsigned i = 0; i < ring->nthreads; i++) {
		struct ring_thread *t = &ring->threads[i];

		t->started = pthread_create(&t->thread, NULL, ring_main, t) == 0;
		if (!t->started)
			r = -EAGAIN;
		else
			pthread_setname_np(t->thread, "cntrfs-ring");
	}
	if (r == 0)
		log_info("FUSE over io_uring: %u queues, %u threads each", ring->nqueues,
			 RING_THREADS_PER_QUEUE);
	return r;
}

void fuse_ring_stop(struct fuse_session *se)
{
	struct fuse_ring *ring = se->ring;
	uint64_t one = 1;

	if (!ring)
		return;
	idle_guard_stop(ring->guard);
	if (write(ring->stop_fd, &one, sizeof(one)) < 0)
		log_errno(errno, "waking the FUSE ring threads");
	for (unsigned i = 0; i < ring->nthreads; i++)
		if (ring->threads[i].started)
			pthread_join(ring->threads[i].thread, NULL);
	free_ring(ring);
	se->ring = NULL;
}

void fuse_ring_reply(struct fuse_req *req, int err, const struct iovec *iov, int n)
{
	struct ring_thread *t = req->ring;
	struct fuse_out_header *out = (struct fuse_out_header *)t->hdr->in_out;
	char *payload = t->buf + HEADROOM;
	size_t len = 0;

	for (int i = 1; i < n; i++)
		len += iov[i].iov_len;
	if (len > t->ring->payload_size) {
		log_error("FUSE reply of %zu bytes does not fit the ring buffer", len);
		err = EIO;
		n = 1;
	}
	len = 0;
	/* memmove: a reply may quote the request, which sits in the same buffer. */
	for (int i = 1; i < n; i++) {
		memmove(payload + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	out->unique = req->in->unique;
	out->error = err ? -err : 0;
	out->len = (uint32_t)(sizeof(*out) + len);
	t->hdr->ring_ent_in_out.payload_sz = (uint32_t)len;
}
