#include "util/uring.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SQE_SIZE 128

static int sys_setup(unsigned entries, struct io_uring_params *p)
{
	return (int)syscall(SYS_io_uring_setup, entries, p);
}

static int sys_enter(int fd, unsigned submit, unsigned wait, unsigned flags)
{
	return (int)syscall(SYS_io_uring_enter, fd, submit, wait, flags, NULL, 0);
}

static void *map(int fd, size_t len, off_t off)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, off);

	return p == MAP_FAILED ? NULL : p;
}

static void *at(void *base, unsigned off)
{
	return (char *)base + off;
}

int uring_init(struct uring *r, unsigned entries, unsigned setup_flags)
{
	struct io_uring_params p;
	int err;

	memset(r, 0, sizeof(*r));
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SQE128 | IORING_SETUP_CQSIZE | setup_flags;
	p.cq_entries = entries * 2;
	r->fd = sys_setup(entries, &p);
	if (r->fd < 0)
		return -errno;
	r->entries = p.sq_entries;
	r->sq_map_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	r->cq_map_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	if (p.features & IORING_FEAT_SINGLE_MMAP) {
		if (r->cq_map_len > r->sq_map_len)
			r->sq_map_len = r->cq_map_len;
		r->cq_map_len = 0;
	}
	r->sq_map = map(r->fd, r->sq_map_len, IORING_OFF_SQ_RING);
	r->cq_map = r->cq_map_len ? map(r->fd, r->cq_map_len, IORING_OFF_CQ_RING) : r->sq_map;
	r->sqes_len = p.sq_entries * SQE_SIZE;
	r->sqes = map(r->fd, r->sqes_len, IORING_OFF_SQES);
	if (!r->sq_map || !r->cq_map || !r->sqes) {
		err = -errno;
		uring_exit(r);
		return err;
	}
	r->sq_head = at(r->sq_map, p.sq_off.head);
	r->sq_tail = at(r->sq_map, p.sq_off.tail);
	r->sq_mask = at(r->sq_map, p.sq_off.ring_mask);
	r->sq_array = at(r->sq_map, p.sq_off.array);
	r->sq_flags = at(r->sq_map, p.sq_off.flags);
	r->cq_head = at(r->cq_map, p.cq_off.head);
	r->cq_tail = at(r->cq_map, p.cq_off.tail);
	r->cq_mask = at(r->cq_map, p.cq_off.ring_mask);
	r->cqes = at(r->cq_map, p.cq_off.cqes);
	return 0;
}

void uring_exit(struct uring *r)
{
	if (r->sqes)
		munmap(r->sqes, r->sqes_len);
	if (r->cq_map && r->cq_map_len)
		munmap(r->cq_map, r->cq_map_len);
	if (r->sq_map)
		munmap(r->sq_map, r->sq_map_len);
	if (r->fd >= 0)
		close(r->fd);
	memset(r, 0, sizeof(*r));
	r->fd = -1;
}

struct io_uring_sqe *uring_get_sqe(struct uring *r)
{
	unsigned tail = *r->sq_tail, head = __atomic_load_n(r->sq_head, __ATOMIC_ACQUIRE);
	unsigned idx = tail & *r->sq_mask;
	struct io_uring_sqe *sqe;

	if (tail - head >= r->entries)
		return NULL;
	sqe = (struct io_uring_sqe *)((char *)r->sqes + (size_t)idx * SQE_SIZE);
	memset(sqe, 0, SQE_SIZE);
	r->sq_array[idx] = idx;
	/*
	 * Without SQPOLL the kernel reads entries only inside io_uring_enter, so
	 * the tail may move before the caller has filled the entry in.
	 */
	__atomic_store_n(r->sq_tail, tail + 1, __ATOMIC_RELEASE);
	r->unsubmitted++;
	return sqe;
}

int uring_submit_wait(struct uring *r, unsigned wait)
{
	for (;;) {
		int n = sys_enter(r->fd, r->unsubmitted, wait, wait ? IORING_ENTER_GETEVENTS : 0);

		if (n >= 0) {
			r->unsubmitted -=
				(unsigned)n < r->unsubmitted ? (unsigned)n : r->unsubmitted;
			return 0;
		}
		if (errno != EINTR)
			return -errno;
	}
}

struct io_uring_cqe *uring_peek_cqe(struct uring *r)
{
	unsigned head = *r->cq_head;

	if (head == __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE))
		return NULL;
	return &r->cqes[head & *r->cq_mask];
}

void uring_cqe_seen(struct uring *r)
{
	__atomic_store_n(r->cq_head, *r->cq_head + 1, __ATOMIC_RELEASE);
}
