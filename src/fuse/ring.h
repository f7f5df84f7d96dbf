/*
 * FUSE over io_uring (kernel 6.14+, when fuse.enable_uring=1): the kernel
 * queues each request on the queue of the CPU it was made on, and a server
 * thread pinned to that CPU answers it. Request and reply never cross CPUs,
 * which saves two cross-CPU wake-ups per request; on virtual machines those
 * cost more than the rest of the round trip.
 *
 * The /dev/fuse workers keep running beside the ring: INIT, FORGET and
 * INTERRUPT always come that way, and so does everything until every queue
 * has registered.
 */
#pragma once

#include <sys/uio.h>

#include "fuse/session.h"

/* Called once INIT is answered. Returns 0 or -errno; on failure the session goes on without. */
int fuse_ring_start(struct fuse_session *se);
/* Wakes and joins the ring threads and frees the ring. */
void fuse_ring_stop(struct fuse_session *se);
/* The reply to a request that came through the ring; iov[0] is unused. */
void fuse_ring_reply(struct fuse_req *req, int err, const struct iovec *iov, int n);
