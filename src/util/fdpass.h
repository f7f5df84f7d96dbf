/* One byte plus an optional fd over a unix socket (SCM_RIGHTS). */
#pragma once

/* Sends tag, and fd when fd >= 0. Returns 0 or -errno. */
int fdpass_send(int sock, char tag, int fd);
/* Receives a tag and, if one came along, an fd (O_CLOEXEC) into *fd (else -1). */
int fdpass_recv(int sock, char *tag, int *fd);
