/*
 * A minimal io_uring on the raw system calls (Debian 12's liburing predates
 * what we need of it): one submission queue of 128-byte entries, one
 * completion queue, used by a single thread.
 */
#pragma once

#include <linux/io_uring.h>
#include <stdbool.h>
#include <stddef.h>

struct uring {
	int fd;
	unsigned *sq_head, *sq_tail, *sq_mask, *sq_array;
	unsigned *cq_head, *cq_tail, *cq_mask;
	unsigned *sq_flags; /* IORING_SQ_TASKRUN: the kernel has work queued for our thread */
	struct io_uring_sqe *sqes; /* 128 bytes each: index them with uring_sqe() */
	struct io_uring_cqe *cqes;
	void *sq_map, *cq_map;
	size_t sq_map_len, cq_map_len, sqes_len;
	unsigned entries, unsubmitted;
};

/*
 * Sets up a ring of SQE128 entries, with extra IORING_SETUP_* flags. Returns 0
 * or -errno (ring unusable).
 */
int uring_init(struct uring *r, unsigned entries, unsigned setup_flags);
void uring_exit(struct uring *r);

/* A zeroed submission entry, or NULL if the queue is full. */
struct io_uring_sqe *uring_get_sqe(struct uring *r);
/* Submits what was queued and waits for at least wait completions. Returns 0 or -errno. */
int uring_submit_wait(struct uring *r, unsigned wait);
/* The next completion, or NULL; uring_cqe_seen() releases it. */
struct io_uring_cqe *uring_peek_cqe(struct uring *r);
void uring_cqe_seen(struct uring *r);
