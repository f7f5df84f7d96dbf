/*
 * The kernel FUSE ABI as this server speaks it: <linux/fuse.h> from the build
 * host plus what Debian 12's 6.1 headers (protocol 7.38) lack. Every addition
 * is guarded, so newer headers win and their definitions are used.
 */
#pragma once

#include <linux/fuse.h>
#include <stdint.h>
#include <sys/ioctl.h>

/* Protocol version we implement; the kernel negotiates down. */
#define CNTR_FUSE_MAJOR 7
#define CNTR_FUSE_MINOR 41

#if FUSE_KERNEL_MINOR_VERSION < 39
#define FUSE_STATX 52
#endif

#if FUSE_KERNEL_MINOR_VERSION < 40
/* 7.39: */
#define FUSE_DIRECT_IO_ALLOW_MMAP (1ULL << 36)
/* 7.40: kernel passthrough of open files to a backing file. */
#define FUSE_PASSTHROUGH (1ULL << 37)
#define FUSE_NO_EXPORT_SUPPORT (1ULL << 38)
#define FUSE_HAS_RESEND (1ULL << 39)
#define FOPEN_PASSTHROUGH (1 << 7)

struct fuse_backing_map {
	int32_t fd;
	uint32_t flags;
	uint64_t padding;
};
#define FUSE_DEV_IOC_BACKING_OPEN _IOW(FUSE_DEV_IOC_MAGIC, 1, struct fuse_backing_map)
#define FUSE_DEV_IOC_BACKING_CLOSE _IOW(FUSE_DEV_IOC_MAGIC, 2, uint32_t)
#endif

#ifndef FUSE_DEV_IOC_CLONE
#define FUSE_DEV_IOC_CLONE _IOR(FUSE_DEV_IOC_MAGIC, 0, uint32_t)
#endif

/* Largest stacking depth the kernel accepts (FILESYSTEM_MAX_STACK_DEPTH). */
#define CNTR_FUSE_MAX_STACK_DEPTH 2

/*
 * fuse_init_out and fuse_open_out as of 7.40: the fields that older headers
 * call unused/padding carry max_stack_depth and backing_id.
 */
struct cntr_fuse_init_out {
	uint32_t major;
	uint32_t minor;
	uint32_t max_readahead;
	uint32_t flags;
	uint16_t max_background;
	uint16_t congestion_threshold;
	uint32_t max_write;
	uint32_t time_gran;
	uint16_t max_pages;
	uint16_t map_alignment;
	uint32_t flags2;
	uint32_t max_stack_depth;
	uint32_t unused[6];
};

struct cntr_fuse_open_out {
	uint64_t fh;
	uint32_t open_flags;
	int32_t backing_id;
};

/* 1 MiB requests: the kernel's default limit for max_pages. */
#define CNTR_FUSE_MAX_PAGES 256
#define CNTR_FUSE_MAX_WRITE (CNTR_FUSE_MAX_PAGES * 4096u)
/* Room for the largest request: header + write_in + payload. */
#define CNTR_FUSE_BUFSIZE (CNTR_FUSE_MAX_WRITE + 4096u)

#define CNTR_FUSE_OPCODE_MAX 64

#if FUSE_KERNEL_MINOR_VERSION < 42
/* 7.42: requests and replies through io_uring, one queue per CPU. */
#define FUSE_OVER_IO_URING (1ULL << 41)
#define FUSE_URING_IN_OUT_HEADER_SZ 128
#define FUSE_URING_OP_IN_OUT_SZ 128

struct fuse_uring_ent_in_out {
	uint64_t flags;
	uint64_t commit_id; /* the request's unique, echoed back by the commit */
	uint32_t payload_sz; /* argument bytes in the payload buffer, either way */
	uint32_t padding;
	uint64_t reserved;
};

/* iov[0] of a ring entry; iov[1] is the payload buffer. */
struct fuse_uring_req_header {
	char in_out[FUSE_URING_IN_OUT_HEADER_SZ]; /* fuse_in_header / fuse_out_header */
	char op_in[FUSE_URING_OP_IN_OUT_SZ]; /* the request's first argument (its *_in struct) */
	struct fuse_uring_ent_in_out ring_ent_in_out;
};

enum fuse_uring_cmd {
	FUSE_IO_URING_CMD_INVALID = 0,
	FUSE_IO_URING_CMD_REGISTER = 1,
	FUSE_IO_URING_CMD_COMMIT_AND_FETCH = 2,
};

/* The command area of an IORING_OP_URING_CMD submission. */
struct fuse_uring_cmd_req {
	uint64_t flags;
	uint64_t commit_id;
	uint16_t qid;
	uint8_t padding[6];
};
#endif
