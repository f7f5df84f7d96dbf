#include "fuse/reply.h"

#include "fuse/ring.h"

#include <errno.h>
#include <string.h>

static void send_reply(struct fuse_req *req, int err, struct iovec *iov, int n)
{
	struct fuse_out_header out;
	size_t len = sizeof(out);

	if (req->ring) {
		fuse_ring_reply(req, err, iov, n);
		req->replied = true;
		return;
	}

	for (int i = 1; i < n; i++)
		len += iov[i].iov_len;
	out.unique = req->in->unique;
	out.error = err ? -err : 0;
	out.len = (uint32_t)len;
	iov[0].iov_base = &out;
	iov[0].iov_len = sizeof(out);
	req->replied = true;
	/*
	 * ENOENT: the request was interrupted and is gone; ENODEV: the connection
	 * was aborted. Neither leaves anyone waiting, so there is nothing to do.
	 */
	while (writev(req->fd, iov, n) < 0 && errno == EINTR)
		;
}

void fuse_reply_err(struct fuse_req *req, int err)
{
	struct iovec iov[1];

	send_reply(req, err, iov, 1);
}

void fuse_reply_data(struct fuse_req *req, const void *data, size_t len)
{
	struct iovec iov[2];

	iov[1].iov_base = (void *)data;
	iov[1].iov_len = len;
	send_reply(req, 0, iov, len ? 2 : 1);
}

void fuse_reply_iov(struct fuse_req *req, struct iovec *iov, int n)
{
	send_reply(req, 0, iov, n);
}

void fuse_reply_none(struct fuse_req *req)
{
	req->replied = true;
}
