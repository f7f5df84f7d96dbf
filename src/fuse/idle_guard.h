/*
 * Keeps SCHED_IDLE server threads from starving. Running the io_uring threads
 * as SCHED_IDLE lets a woken caller stay on its CPU (ring.c says why that
 * pays), but such threads get almost no CPU time while tasks of normal
 * priority in the same scheduling group keep every CPU busy, and a request
 * would then wait for seconds. The guard looks every tick at each thread's
 * ring: a request the kernel queued to the thread (IORING_SQ_TASKRUN) that
 * still waits a tick later, with no request answered meanwhile, means the
 * thread cannot get the CPU. Then every thread runs at normal
 * priority until the guard has seen none wait for a while.
 *
 * (The /dev/fuse workers stay at normal priority: measured with fs-bench,
 * SCHED_IDLE there helped warm metadata work and hurt cold lookups about as
 * much, pinned or not.)
 */
#pragma once

#include <stdint.h>
#include <sys/types.h>

/* What the guard reads of one ring thread; it owns none of it. */
struct idle_target {
	const unsigned *sq_flags; /* in the thread's shared submission ring */
	const uint64_t *served; /* requests the thread answered */
	const pid_t *tid; /* 0 until the thread has started */
};

struct idle_guard;

/*
 * Moves the started targets to SCHED_IDLE and starts the guard thread. NULL on
 * failure, or without the right to move threads back (logged): the threads
 * then keep normal priority.
 */
struct idle_guard *idle_guard_start(const struct idle_target *targets, unsigned n);
/* Stops and frees it (NULL is fine). */
void idle_guard_stop(struct idle_guard *g);
/* The policy a target thread takes when it starts late: SCHED_IDLE, or normal while boosted. */
int idle_guard_policy(const struct idle_guard *g);
