/*
 * The session's terminal: a pty only when our stdin is a terminal (then raw
 * mode, window size and SIGWINCH, job control in the session); otherwise the
 * payload gets our stdio as it is, byte for byte.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <termios.h>

struct pty {
	int master, slave; /* -1 when stdin is not a terminal */
	bool raw;
	struct termios saved;
};

/* Opens a pty pair (host devpts) sized like our terminal when stdin is one. */
int pty_open(struct pty *p);
/* In the payload: new session, the slave as controlling terminal and stdio. */
int pty_attach_slave(struct pty *p);
/*
 * In cntr: copies between our terminal and the master until child exits, then
 * restores the terminal. Stop signals in sigs are forwarded to child. Returns
 * the child's wait status.
 */
int pty_relay(struct pty *p, pid_t child, const sigset_t *sigs);
/* Without a pty: waits for child, forwarding the signals in sigs. */
int wait_forwarding(pid_t child, const sigset_t *sigs);
/*
 * In the session's view: replaces p's pair by one from the container's own
 * devpts (so tty(1) and ttyname work there), keeping settings and size.
 * The working directory is the container's root; host_proc is our own /proc.
 * Returns 0 or -errno (p unchanged).
 */
int pty_open_in_view(struct pty *p, int host_proc);
void pty_close(struct pty *p);
