/*
 * H's side of the session's set-up: waiting for C with a deadline and with
 * the stop signals at hand, C's messages meanwhile, and handing C the
 * caller's stdio once set-up is done.
 */
#pragma once

#include <stdbool.h>
#include <signal.h>
#include <sys/types.h>
#include <time.h>

#define SETUP_SECONDS 4

struct setup {
	int sigfd;
	int logfd; /* C's stderr until set-up is done: copied to ours */
	struct timespec deadline;
	int signo; /* the stop signal that ended the set-up, or 0 */
	bool timed_out;
};

void setup_begin(struct setup *s, const sigset_t *sigs, int logfd);
/* 0 once sock has a message (or C closed it), -EINTR or -ETIMEDOUT with *s saying which. */
int setup_wait(struct setup *s, int sock);
/* setup_wait, then one byte that must be want. */
int setup_recv_byte(struct setup *s, int sock, char want);
/* Hands C the session's stdio (tag), then copies what C logged until it closes its end. */
int setup_finish(struct setup *s, int sock, char tag, const int stdio[3]);
/* SIGKILLs child and reaps it within ms; false if it could not be (see launch_setup.c). */
bool setup_kill_child(pid_t child, int ms);
