/* One tag byte plus optional fds over a unix socket (SCM_RIGHTS). */
#pragma once

#include <stddef.h>

#define FDPASS_MAX 8

/* Sends tag with n fds (n <= FDPASS_MAX). Returns 0 or -errno. */
int fdpass_send_n(int sock, char tag, const int *fds, size_t n);
/*
 * Receives a tag and up to max fds (O_CLOEXEC) into fds, their number into *n.
 * Returns 0, -EPIPE at end of stream, or -errno.
 */
int fdpass_recv_n(int sock, char *tag, int *fds, size_t max, size_t *n);

/* The same for one fd: fd < 0 sends none; *fd is -1 when none came. */
int fdpass_send(int sock, char tag, int fd);
int fdpass_recv(int sock, char *tag, int *fd);
