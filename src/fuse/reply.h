/* Replies to FUSE requests. Every request gets exactly one (FORGET excepted). */
#pragma once

#include <stddef.h>
#include <sys/uio.h>

#include "fuse/session.h"

/* err is a positive errno; 0 means an empty success reply. */
void fuse_reply_err(struct fuse_req *req, int err);
void fuse_reply_data(struct fuse_req *req, const void *data, size_t len);
/* iov[0] is reserved for the header; payload in iov[1..n-1]. */
void fuse_reply_iov(struct fuse_req *req, struct iovec *iov, int n);
/* Requests that take no reply (FORGET): only marks them handled. */
void fuse_reply_none(struct fuse_req *req);
