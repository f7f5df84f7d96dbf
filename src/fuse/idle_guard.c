#include "fuse/idle_guard.h"

#include <errno.h>
#include <linux/io_uring.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"

/* A request stuck for two ticks in a row counts as starved: 20-40 ms while requests
 * flow, up to 200 ms for the first one after a quiet second (fewer wake-ups when idle). */
#define TICK_MS 20
#define QUIET_TICK_MS 100
#define QUIET_NS 1000000000LL
/* Normal priority for this long after the last starved request. */
#define BOOST_NS (10 * 1000000000LL)

struct idle_guard {
	const struct idle_target *targets;
	unsigned n;
	bool *was_pending;
	uint64_t *last_served;
	int stop_fd;
	pthread_t thread;
	int policy; /* what the threads run as now */
	int64_t boost_until, last_activity;
	bool told;
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void set_all(struct idle_guard *g, int policy)
{
	struct sched_param sp = { 0 };

	__atomic_store_n(&g->policy, policy, __ATOMIC_RELAXED);
	for (unsigned i = 0; i < g->n; i++) {
		pid_t tid = __atomic_load_n(g->targets[i].tid, __ATOMIC_ACQUIRE);

		if (tid > 0 && sched_setscheduler(tid, policy, &sp) < 0 && errno != ESRCH)
			log_warn("FUSE: cannot change the priority of thread %d: %s", (int)tid,
				 strerror(errno));
	}
}

/* One look at every ring; true if some thread left a request waiting a whole tick. */
static bool any_starved(struct idle_guard *g, int64_t now)
{
	bool starved = false;

	for (unsigned i = 0; i < g->n; i++) {
		const struct idle_target *t = &g->targets[i];
		/* The kernel queued work (a request) that the thread has not run yet. */
		bool pending = __atomic_load_n(t->sq_flags, __ATOMIC_ACQUIRE) & IORING_SQ_TASKRUN;
		uint64_t served = __atomic_load_n(t->served, __ATOMIC_RELAXED);

		if (pending && g->was_pending[i] && served == g->last_served[i])
			starved = true;
		if (pending || served != g->last_served[i])
			g->last_activity = now;
		g->was_pending[i] = pending;
		g->last_served[i] = served;
	}
	return starved;
}

static void *guard_main(void *arg)
{
	struct idle_guard *g = arg;
	struct pollfd stop = { .fd = g->stop_fd, .events = POLLIN };
	struct sched_param sp = { 0 };

	/* Whatever the creating thread runs as: the guard itself must never starve. */
	sched_setscheduler(0, SCHED_OTHER, &sp);
	for (;;) {
		int64_t now = now_ns();
		int tick = now - g->last_activity < QUIET_NS ? TICK_MS : QUIET_TICK_MS;
		int r = poll(&stop, 1, tick);

		if (r > 0 || (r < 0 && errno != EINTR))
			break;
		now = now_ns();
		if (any_starved(g, now)) {
			g->boost_until = now + BOOST_NS;
			if (g->policy == SCHED_IDLE) {
				set_all(g, SCHED_OTHER);
				if (!g->told)
					log_info("FUSE: every CPU is busy; server threads run at "
						 "normal priority while that lasts");
				g->told = true;
			}
		} else if (g->policy != SCHED_IDLE && now > g->boost_until) {
			set_all(g, SCHED_IDLE);
		}
	}
	return NULL;
}

static void *probe_main(void *arg)
{
	struct sched_param sp = { 0 };

	*(bool *)arg = sched_setscheduler(0, SCHED_IDLE, &sp) == 0 &&
		       sched_setscheduler(0, SCHED_OTHER, &sp) == 0;
	return NULL;
}

/*
 * Any thread may drop to SCHED_IDLE, but only CAP_SYS_NICE (in the initial user
 * namespace) or a RLIMIT_NICE of 20 lets it back: try it on a throwaway thread.
 */
static bool can_leave_idle(void)
{
	pthread_t probe;
	bool ok = false;

	if (pthread_create(&probe, NULL, probe_main, &ok) != 0)
		return false;
	pthread_join(probe, NULL);
	return ok;
}

struct idle_guard *idle_guard_start(const struct idle_target *targets, unsigned n)
{
	struct idle_guard *g;

	if (!can_leave_idle()) {
		log_info("FUSE: no CAP_SYS_NICE to undo SCHED_IDLE: server threads at normal "
			 "priority");
		return NULL;
	}
	if (!(g = calloc(1, sizeof(*g))))
		return NULL;
	g->targets = targets;
	g->n = n;
	g->policy = SCHED_IDLE;
	g->was_pending = calloc(n, sizeof(*g->was_pending));
	g->last_served = calloc(n, sizeof(*g->last_served));
	g->stop_fd = eventfd(0, EFD_CLOEXEC);
	/* Started before the targets turn SCHED_IDLE: the creator may be one of them. */
	if (g->was_pending && g->last_served && g->stop_fd >= 0 &&
	    pthread_create(&g->thread, NULL, guard_main, g) == 0) {
		pthread_setname_np(g->thread, "cntrfs-guard");
		set_all(g, SCHED_IDLE);
		return g;
	}
	log_warn("FUSE: cannot start the guard of SCHED_IDLE threads: normal priority");
	if (g->stop_fd >= 0)
		close(g->stop_fd);
	free(g->was_pending);
	free(g->last_served);
	free(g);
	return NULL;
}

void idle_guard_stop(struct idle_guard *g)
{
	uint64_t one = 1;

	if (!g)
		return;
	if (write(g->stop_fd, &one, sizeof(one)) < 0)
		log_errno(errno, "stopping the FUSE ring guard");
	pthread_join(g->thread, NULL);
	close(g->stop_fd);
	free(g->was_pending);
	free(g->last_served);
	free(g);
}

int idle_guard_policy(const struct idle_guard *g)
{
	return __atomic_load_n(&g->policy, __ATOMIC_RELAXED);
}
