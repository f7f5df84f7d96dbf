/*
 * The exec relay: `cntr exec` inside an attach session, run by the host-side cntr.
 *
 * A session whose target lacks CAP_SYS_CHROOT cannot enter the container's
 * root by itself. The attach process (H) therefore keeps one end of a
 * SOCK_SEQPACKET pair; the session inherits the other (CNTR_EXEC_FD). A
 * client sends over it a fresh conversation socket and its stdin, stdout and
 * stderr. H answers each with an agent (`cntr __exec-relay`, on the host) that
 * reads the request from the conversation and runs the same path as a host's
 * `cntr exec TARGET` with the client's stdio, forwarding the client's signals
 * and returning the exit status. Only the attached target can be asked for,
 * with no fewer restrictions than the session has.
 *
 *   session socket:  'R' + fds [conversation, stdin, stdout, stderr]
 *   client -> agent: 'Q' target \0 TERM \0 apparmor \0 seccomp \0 argv...
 *                    'S' + one byte: a signal to pass on
 *   agent -> client: 'E' + int32 exit status
 *
 * The agent gets the target's pidfd too (fd 4), so a pid that was reused by
 * the time of a request names nothing: the request fails.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#define RELAY_ENV "CNTR_EXEC_FD"
#define RELAY_MSG_REQUEST 'R'
#define RELAY_MSG_QUERY 'Q'
#define RELAY_MSG_SIGNAL 'S'
#define RELAY_MSG_EXIT 'E'
#define RELAY_MAX_QUERY (128 * 1024)
/* Where the session's end is placed: above the fds scripts use by number. */
#define RELAY_SESSION_FD_MIN 64

/* What H knows of its target, handed to every agent. */
struct relay_target {
	const char *name; /* TARGET as given to attach */
	pid_t pid; /* as the host sees it */
	pid_t local_pid; /* as the container sees it */
	int pidfd; /* the target itself: a request after it died never reaches another process */
	bool apply_lsm;
	bool copy_seccomp;
};

/* H: starts the thread that answers requests on sock (which it then owns). */
int relay_serve_start(int sock, const struct relay_target *t);

/* S: the session's end as an inheritable fd; returns its number or -errno. */
int relay_session_fd(int sock);

/* In the session: runs argv (NULL: /bin/sh) through the relay. Returns the exit status. */
int relay_client_run(const char *target, bool apply_lsm, bool copy_seccomp, char **argv);
/* The relay socket named by RELAY_ENV, checked to be one; -1 if none. */
int relay_client_fd(void);
/* True if this process was given a relay (RELAY_ENV is set). */
bool relay_client_available(void);

/* `cntr __exec-relay`: the agent, run by H with fd 3 the conversation. */
int cmd_exec_relay(int argc, char **argv);
