/* Running a helper tool (docker, ctr, lxc-info...) without a shell, bounded in time. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Output beyond this is read and dropped, so a chatty tool cannot block or exhaust us. */
#define RUN_MAX_OUTPUT (4 << 20)
#define RUN_TIMEOUT_MS 10000

struct run_result {
	int status; /* wait status of the tool */
	char *out; /* stdout, NUL-terminated (never NULL after a successful run_capture) */
	char *err; /* stderr, likewise */
	size_t out_len, err_len;
};

/*
 * Runs argv (looked up on PATH) with stdin on /dev/null and LC_ALL=C,
 * capturing stdout and stderr; after timeout_ms the tool's process group is
 * killed. Returns 0 once the tool has exited (see r->status), -ENOENT if it
 * cannot be found, -ETIMEDOUT, or -errno. Logs nothing.
 */
int run_capture(char *const argv[], int timeout_ms, struct run_result *r);
void run_result_free(struct run_result *r);
/* True if the tool exited with status 0. */
int run_succeeded(const struct run_result *r);
/* The first line of the tool's stderr (or stdout), trimmed, into buf: for messages. */
const char *run_first_line(const struct run_result *r, char *buf, size_t size);

/* Finds an executable NAME on PATH (or NAME itself if it has a '/'). Returns 0 or -ENOENT. */
int run_find_tool(const char *name, char *path, size_t size);
