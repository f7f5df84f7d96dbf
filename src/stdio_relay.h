/* The session's stdio without a terminal: pipes that cntr relays. */
#pragma once

#include <signal.h>
#include <sys/types.h>

struct stdio_relay {
	int in; /* cntr writes what it reads from its stdin */
	int out, err; /* cntr reads what the session writes */
};

/* Makes the pipes; session_fds gets the session's ends (stdin, stdout, stderr). 0 or -errno. */
int stdio_relay_open(struct stdio_relay *r, int session_fds[3]);
/* Relays until child exits (forwarding the stop signals in sigs); returns its wait status. */
int stdio_relay_run(struct stdio_relay *r, pid_t child, const sigset_t *sigs);
void stdio_relay_close(struct stdio_relay *r);
