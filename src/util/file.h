/* Reading small files (mostly under /proc) whole. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* Reads up to size-1 bytes and NUL-terminates. Returns the length or -errno. */
ssize_t read_file_at(int dirfd, const char *path, char *buf, size_t size);
/* Reads a file of any size into a malloc'd, NUL-terminated buffer. NULL with errno. */
char *read_file_alloc(int dirfd, const char *path, size_t *len);
/* Writes the whole string; returns 0 or -errno. */
int write_file_at(int dirfd, const char *path, const char *text);
/* Closes every fd from 3 up but keep1 and keep2 (-1: none): nothing of our caller leaks on. */
void close_fds_except(int keep1, int keep2);
