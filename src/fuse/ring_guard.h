/*
 * Keeps SCHED_IDLE ring threads from starving. SCHED_IDLE (ring.c says why it
 * pays) means almost no CPU time while tasks of normal priority in the same
 * scheduling group keep every CPU busy, and a request would then wait for
 * seconds. The guard looks every tick at what each thread's ring shows: work
 * the kernel queued for the thread (a request; IORING_SQ_TASKRUN) that is still
 * there a tick later, with no request answered meanwhile, means the thread
 * cannot get the CPU. Then every ring thread runs at normal priority until
 * the guard has seen none stuck for a while.
 */
#pragma once

#include <stdint.h>
#include <sys/types.h>

/* What the guard reads of one ring thread; it owns none of it. */
struct guard_target {
	const unsigned *sq_flags; /* in the thread's shared submission ring */
	const uint64_t *served; /* requests the thread answered */
	const pid_t *tid; /* 0 until the thread has started */
};

struct ring_guard;

/* Starts the guard thread over n targets. NULL on failure (logged). */
struct ring_guard *ring_guard_start(const struct guard_target *targets, unsigned n);
/* Stops and frees it. */
void ring_guard_stop(struct ring_guard *g);
/* The policy ring threads take when they start: SCHED_IDLE, or normal while boosted. */
int ring_guard_policy(const struct ring_guard *g);
