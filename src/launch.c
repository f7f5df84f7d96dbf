#include "launch.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "cntrfs/fs.h"
#include "env.h"
#include "fuse/mount.h"
#include "fuse/session.h"
#include "identity.h"
#include "launch_setup.h"
#include "leftovers.h"
#include "lsm.h"
#include "mountns.h"
#include "pty.h"
#include "relay/relay.h"
#include "seccomp.h"
#include "stdio_relay.h"
#include "util/fdpass.h"
#include "util/file.h"
#include "util/log.h"

/* Messages on the H <-> C socket. */
#define MSG_MOUNTED 'M' /* C: the FUSE mount exists, start serving */
#define MSG_SERVING 'S' /* H: workers run */
#define MSG_CGROUPS 'G' /* H: C is in the target's cgroups (its children will be too) */
#define MSG_PTY 'P' /* C: here is the container's pty master (or none: use ours) */
#define MSG_VIEW 'V' /* C: the session's mount namespace is complete */
#define MSG_STDIO 'I' /* H: the session's stdin, stdout and stderr (a pty's or relayed pipes) */

static void stop_signals(sigset_t *s)
{
	sigemptyset(s);
	sigaddset(s, SIGINT);
	sigaddset(s, SIGTERM);
	sigaddset(s, SIGHUP);
	sigaddset(s, SIGQUIT);
}

static int exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return LAUNCH_EXIT_FAILURE;
}

static int send_byte(int sock, char b)
{
	return send(sock, &b, 1, MSG_NOSIGNAL) == 1 ? 0 : -EPIPE;
}

static int recv_byte(int sock, char want)
{
	char b;
	ssize_t n;

	do
		n = recv(sock, &b, 1, 0);
	while (n < 0 && errno == EINTR);
	return n == 1 && b == want ? 0 : -EPIPE;
}

static void die_with_parent(pid_t parent)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (getppid() != parent)
		_exit(LAUNCH_EXIT_FAILURE);
}

/* The process stop signals are forwarded to: C's payload, and the payload's command. */
static volatile pid_t payload_pid;

static void run_reaped(struct launch *l, char **argv, char **env, int host_proc);

/* ---- S: the payload ---- */

static char **session_env(const struct launch *l, bool pty)
{
	const char *host_path = getenv("PATH"), *term = getenv("TERM");
	char path[4096], termv[256];
	char pid[64], base[4096], relay[64];
	const char *set[7] = { NULL }, *fallback[4] = { NULL };
	int ns = 0, nf = 0;

	if (l->mode == LAUNCH_ATTACH) {
		/* The tools are the fat side's: its PATH finds them. */
		snprintf(path, sizeof(path), "PATH=%s", host_path ? host_path : ENV_DEFAULT_PATH);
		set[ns++] = path;
	} else {
		fallback[nf++] = "PATH=" ENV_DEFAULT_PATH;
	}
	if (l->mode == LAUNCH_ATTACH) {
		/* For `cntr exec` inside the session: whose environment to use. */
		snprintf(pid, sizeof(pid), "CNTR_TARGET_PID=%d", (int)l->ctx->status.local_pid);
		set[ns++] = pid;
		snprintf(base, sizeof(base), "CNTR_BASE_DIR=%s", l->base);
		set[ns++] = base;
	}
	if (l->relay_fd >= 0) {
		snprintf(relay, sizeof(relay), "%s=%d", RELAY_ENV, l->relay_fd);
		set[ns++] = relay;
	}
	if (term && pty) {
		snprintf(termv, sizeof(termv), "TERM=%s", term);
		set[ns++] = termv;
	}
	if (l->mode == LAUNCH_ATTACH)
		set[ns++] =
			"HOME=" MOUNTNS_SESSION_HOME; /* private: nothing lands on the fat side */
	else
		fallback[nf++] = "HOME=/";
	return env_build(l->ctx->environ, l->ctx->environ_len, l->mode == LAUNCH_ATTACH, set,
			 fallback);
}

static void payload_exec(struct launch *l, struct pty *pty, int host_proc, bool proc_bound)
{
	const struct context *c = l->ctx;
	char *shell_argv[] = { "/bin/sh", "-l", NULL };
	char **argv = l->argv, **env;
	const char *shell = getenv("SHELL");

	/* A container without /proc gets a fresh one for its pid namespace. */
	if (l->mode == LAUNCH_ATTACH && !proc_bound &&
	    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		log_warn("cannot mount /proc for the session: %s", strerror(errno));
	if (c->ns_fd[NS_USER] >= 0 && setns(c->ns_fd[NS_USER], CLONE_NEWUSER) < 0) {
		log_errno(errno, "joining the user namespace of process %d", (int)c->pid);
		_exit(LAUNCH_EXIT_FAILURE);
	}
	/* After setns(user): joining a user namespace resets the bounding set to full. */
	if (identity_drop_bounding(c) < 0)
		_exit(LAUNCH_EXIT_FAILURE);
	/*
	 * Loading a filter needs CAP_SYS_ADMIN or no_new_privs: without the
	 * latter, load it while we still have the capability (as runc does).
	 */
	if (l->seccomp && !c->status.no_new_privs && seccomp_install(l->seccomp) < 0)
		_exit(LAUNCH_EXIT_FAILURE);
	if (identity_apply(c) < 0)
		_exit(LAUNCH_EXIT_FAILURE);
	if (l->seccomp && c->status.no_new_privs && seccomp_install(l->seccomp) < 0)
		_exit(LAUNCH_EXIT_FAILURE);
	/* Credential changes clear the parent-death signal: set it again. */
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	/* The reaper is seen by the container: no ptrace, no /proc/PID/{fd,root,mem}. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (pty->slave >= 0) {
		if (pty_attach_slave(pty) < 0)
			_exit(LAUNCH_EXIT_FAILURE);
	} else {
		setsid(); /* signals reach the command once, forwarded by cntr */
	}
	/* The session's end of the exec relay, inherited by the command. */
	if (l->relay_fd >= 0 && (l->relay_fd = relay_session_fd(l->relay_fd)) < 0)
		log_warn("in-session cntr exec will need CAP_SYS_CHROOT: %s",
			 strerror(-l->relay_fd));
	env = session_env(l, pty->slave >= 0 || isatty(STDIN_FILENO));
	if (!env)
		_exit(LAUNCH_EXIT_FAILURE);
	if (!argv) {
		if (l->mode == LAUNCH_ATTACH && shell && *shell)
			shell_argv[0] = (char *)shell;
		argv = shell_argv;
	}
	run_reaped(l, argv, env, host_proc);
}

/* ---- S: the session's reaper ---- */

static volatile sig_atomic_t parent_gone;

static void on_parent_death(int sig)
{
	(void)sig;
	parent_gone = 1;
}

/*
 * Kills every process left in the session: our children, and orphans as they
 * reparent to us. proc is held open from the start: with CntrFS, a path from
 * the root fails once the server is gone (cntr killed).
 */
static void kill_session(int proc)
{
	char path[64], buf[4096];

	snprintf(path, sizeof(path), "%d/task/%d/children", (int)getpid(), (int)getpid());
	for (int round = 0; round < 1000; round++) {
		ssize_t n;
		char *p = buf, *end;

		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		n = read_file_at(proc, path, buf, sizeof(buf));
		if (n <= 0 || !buf[0]) {
			if (waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD)
				return; /* nothing left, not even an orphan on its way to us */
		}
		for (long pid; n > 0 && (pid = strtol(p, &end, 10)) > 0; p = end)
			kill((pid_t)pid, SIGKILL);
		usleep(1000);
	}
}

/*
 * S stays as the parent of the command: a subreaper in the container's pid
 * namespace, so whatever the command leaves behind (background jobs, daemons)
 * is killed when the command exits or when cntr dies.
 */
static void run_reaped(struct launch *l, char **argv, char **env, int host_proc)
{
	const struct context *c = l->ctx;
	struct sigaction sa = { .sa_handler = on_parent_death };
	sigset_t none;
	int status = 0, proc = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	pid_t cmd, p;

	sigaction(SIGRTMIN + 2, &sa, NULL);
	prctl(PR_SET_PDEATHSIG, SIGRTMIN + 2, 0, 0, 0);
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	sigemptyset(&none);
	cmd = fork();
	if (cmd < 0) {
		log_errno(errno, "fork");
		_exit(LAUNCH_EXIT_FAILURE);
	}
	if (cmd == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		if (l->apply_lsm && c->lsm != LSM_NONE) {
			int r = lsm_apply_on_exec(c->lsm, c->lsm_label, host_proc);

			if (r < 0) {
				log_errno(r, "applying the target's security label %s",
					  c->lsm_label);
				_exit(LAUNCH_EXIT_FAILURE);
			}
		}
		/* Nothing of cntr reaches the command but stdio and the relay. */
		close_fds_except(l->relay_fd, -1);
		for (int sig = 1; sig < NSIG; sig++)
			signal(sig, SIG_DFL);
		sigprocmask(SIG_SETMASK, &none, NULL);
		/* PATH lookup uses the session's PATH, in the session's root. */
		environ = env;
		execvp(argv[0], argv);
		log_errno(errno, "cannot run %s", argv[0]);
		_exit(errno == ENOENT ? 127 : 126);
	}
	if (host_proc >= 0)
		close(host_proc);
	payload_pid = cmd; /* stop signals from C go on to the command */
	sigprocmask(SIG_SETMASK, &none, NULL);
	while (!parent_gone) {
		p = waitpid(-1, &status, 0);
		if (p == cmd)
			break;
		if (p < 0 && errno != EINTR)
			break;
	}
	kill_session(proc);
	_exit(parent_gone ? LAUNCH_EXIT_FAILURE : exit_code(status));
}

/* ---- C: namespaces ---- */

static void forward_signal(int sig)
{
	if (payload_pid > 0)
		kill(payload_pid, sig);
}

static int join_other_namespaces(const struct context *c)
{
	static const struct {
		enum ns_kind kind;
		int flag;
	} order[] = { { NS_UTS, CLONE_NEWUTS }, { NS_IPC, CLONE_NEWIPC },
		      { NS_NET, CLONE_NEWNET }, { NS_CGROUP, CLONE_NEWCGROUP },
		      { NS_PID, CLONE_NEWPID }, { NS_TIME, CLONE_NEWTIME } };

	for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
		int fd = c->ns_fd[order[k].kind];

		if (fd >= 0 && setns(fd, order[k].flag) < 0)
			return log_errno(errno, "joining the %s namespace of process %d",
					 ns_names[order[k].kind], (int)c->pid);
	}
	return 0;
}

static int setup_attach_view(struct launch *l, int sock, bool *proc_bound)
{
	/* No setuid program or device of the fat side works in the session. */
	struct fuse_mount_opts o = {
		.fsname = l->fsname, .subtype = "cntrfs", .nosuid = true, .nodev = true
	};
	int tree, mnt, r;

	tree = mountns_enter(l->ctx);
	if (tree < 0)
		return tree;
	mnt = fuse_mount_detached(l->fuse_fd, &o);
	close(l->fuse_fd);
	if (mnt < 0) {
		close(tree);
		return log_errno(mnt, "creating the CntrFS mount");
	}
	/* Lookups below go through FUSE: the server must run first. */
	if (send_byte(sock, MSG_MOUNTED) < 0 || recv_byte(sock, MSG_SERVING) < 0) {
		close(tree);
		close(mnt);
		return log_error("the cntr server went away");
	}
	r = mountns_build_view(mnt, tree, l->base, proc_bound);
	close(tree);
	close(mnt);
	return r;
}

static int setup_bind_view(struct launch *l, bool *proc_bound)
{
	int tree = mountns_bind_enter(l->ctx), r;

	if (tree < 0)
		return tree;
	r = mountns_bind_build_view(l->ctx, tree, l->base, l->map_host_root, proc_bound);
	close(tree);
	return r;
}

/* stdin and stdout /dev/null, stderr the pipe to H. */
static int quiet_stdio(int log_fd)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(log_fd, 2) < 0)
		return -errno;
	close(null);
	close(log_fd);
	return 0;
}

/* The caller's stdio from H, in place of the set-up's. */
static int take_stdio(int sock)
{
	int fds[3];
	size_t n;
	char tag;
	int r = fdpass_recv_n(sock, &tag, fds, 3, &n);

	if (r == 0 && (tag != MSG_STDIO || n != 3))
		r = -EPROTO;
	for (size_t k = 0; k < n; k++) {
		if (r == 0 && dup2(fds[k], (int)k) < 0)
			r = -errno;
		close(fds[k]);
	}
	return r;
}

static void namespace_child(struct launch *l, pid_t parent, int sock, int log_fd, struct pty *pty)
{
	struct sigaction sa = { .sa_handler = forward_signal };
	bool proc_bound = false;
	int host_proc, status, r;
	sigset_t sigs;

	die_with_parent(parent);
	/*
	 * Until set-up is done C has none of the caller's stdio: a lookup in a
	 * stuck mount of the container can block C for good, and it must not keep
	 * the caller's pipes open then. Messages go to H through log_fd.
	 */
	if (quiet_stdio(log_fd) < 0)
		_exit(LAUNCH_EXIT_FAILURE);
	/* Everything forked from here on must start in the target's cgroups. */
	if (recv_byte(sock, MSG_CGROUPS) < 0)
		_exit(LAUNCH_EXIT_FAILURE);
	/* Before any namespace: a /proc whose thread-self is us, for the LSM label. */
	host_proc = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (l->mode == LAUNCH_ATTACH && l->backend == BACKEND_CNTRFS)
		r = setup_attach_view(l, sock, &proc_bound);
	else if (l->mode == LAUNCH_ATTACH)
		r = setup_bind_view(l, &proc_bound);
	else
		r = mountns_enter_root(l->ctx);
	if (r == 0 && l->mode == LAUNCH_ATTACH)
		r = mountns_private_dirs(l->ctx->status.uid, l->ctx->status.gid);
	if (r == 0)
		r = send_byte(sock, MSG_VIEW);
	/* With a terminal, prefer a pty of the container's devpts; H relays its master. */
	if (r == 0 && pty->master >= 0) {
		bool own = pty_open_in_view(pty, host_proc) == 0;

		r = fdpass_send(sock, MSG_PTY, own ? pty->master : -1);
		if (own && pty->master >= 0) {
			close(pty->master);
			pty->master = -1;
		}
	}
	if (r == 0)
		r = take_stdio(sock);
	close(sock);
	if (r < 0 || join_other_namespaces(l->ctx) < 0)
		_exit(LAUNCH_EXIT_FAILURE);

	stop_signals(&sigs);
	for (int sig = 1; sig < NSIG; sig++)
		if (sigismember(&sigs, sig))
			sigaction(sig, &sa, NULL);
	payload_pid = fork(); /* the fork puts the payload into the pid namespace */
	if (payload_pid < 0) {
		log_errno(errno, "fork");
		_exit(LAUNCH_EXIT_FAILURE);
	}
	if (payload_pid == 0) {
		/* Our parent is outside the pid namespace, so getppid() is 0 here. */
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		payload_exec(l, pty, host_proc, proc_bound);
	}
	pty_close(pty);
	if (host_proc >= 0)
		close(host_proc);
	sigprocmask(SIG_UNBLOCK, &sigs, NULL);
	while (waitpid(payload_pid, &status, 0) < 0)
		if (errno != EINTR)
			_exit(LAUNCH_EXIT_FAILURE);
	_exit(exit_code(status));
}

/* ---- H ---- */

static int serve(struct launch *l, struct setup *s, int sock, struct fuse_session *se)
{
	struct fuse_want want;
	int r = setup_recv_byte(s, sock, MSG_MOUNTED);

	if (r < 0)
		return r; /* C failed and said why, or the set-up was cut short */
	cntrfs_want(l->fs, &want);
	fuse_session_init(se, l->fuse_fd, (unsigned)sysconf(_SC_NPROCESSORS_ONLN),
			  cntrfs_session_ops(), l->fs, &want);
	if (fuse_session_start(se) < 0)
		return -EIO;
	return send_byte(sock, MSG_SERVING);
}

int launch_run(struct launch *l)
{
	struct fuse_session se;
	struct pty pty;
	sigset_t sigs;
	int sv[2], relay[2] = { -1, -1 }, logp[2], status;
	pid_t child, self = getpid();
	struct stat view_ns;
	struct setup setup;
	struct stdio_relay relay_io = { -1, -1, -1 };
	int view_fd = -1;

	if (pty_open(&pty) < 0) {
		pty_close(&pty);
		return LAUNCH_EXIT_FAILURE;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		pty_close(&pty);
		return log_errno(errno, "socketpair"), LAUNCH_EXIT_FAILURE;
	}
	if (pipe2(logp, O_CLOEXEC) < 0) {
		pty_close(&pty);
		close(sv[0]);
		close(sv[1]);
		return log_errno(errno, "pipe"), LAUNCH_EXIT_FAILURE;
	}
	if (l->relay && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, relay) < 0)
		relay[0] = relay[1] = -1;
	l->relay_fd = relay[1];
	stop_signals(&sigs);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	fflush(NULL);
	child = fork();
	if (child < 0) {
		pty_close(&pty);
		return log_errno(errno, "fork"), LAUNCH_EXIT_FAILURE;
	}
	if (child == 0) {
		close(sv[0]);
		close(logp[0]);
		if (relay[0] >= 0)
			close(relay[0]);
		namespace_child(l, self, sv[1], logp[1], &pty);
	}
	close(sv[1]);
	close(logp[1]);
	if (relay[0] >= 0) {
		close(relay[1]);
		l->relay_fd = -1;
		if (relay_serve_start(relay[0], l->relay) < 0)
			log_warn("in-session cntr exec will need CAP_SYS_CHROOT");
	}
	/* The session lives in the target's cgroups; the server stays where it is. */
	cgroup_join(l->ctx->cgroup, child);
	send_byte(sv[0], MSG_CGROUPS);
	setup_begin(&setup, &sigs, logp[0]);
	if (l->mode == LAUNCH_ATTACH && l->backend == BACKEND_CNTRFS &&
	    serve(l, &setup, sv[0], &se) < 0) {
		/* C reports its own failure; make sure it is gone. */
		kill(child, SIGKILL);
	}
	/* The session's mount namespace is how its processes are found if its reaper is killed. */
	if (!setup.signo && !setup.timed_out && setup_recv_byte(&setup, sv[0], MSG_VIEW) == 0 &&
	    l->mode == LAUNCH_ATTACH) {
		char path[64];

		/* Held open: a freed namespace's inode number can be given to a new one. */
		snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)child);
		view_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (view_fd >= 0 && fstat(view_fd, &view_ns) < 0) {
			close(view_fd);
			view_fd = -1;
		}
	}
	if (pty.master >= 0 && !setup.signo && !setup.timed_out && setup_wait(&setup, sv[0]) == 0) {
		char tag;
		int master;

		if (fdpass_recv(sv[0], &tag, &master) == 0 && tag == MSG_PTY && master >= 0) {
			pty_close(&pty);
			pty.master = master;
		}
	}
	/* With a pty the session has its slave; else pipes that we relay, never our own fds. */
	if (!setup.signo && !setup.timed_out) {
		int fds[3] = { 0, 1, 2 }, r = 0;

		if (pty.master < 0 && (r = stdio_relay_open(&relay_io, fds)) < 0)
			log_errno(r, "making the session's stdio pipes"); /* C gets none and ends */
		else
			setup_finish(&setup, sv[0], MSG_STDIO, fds);
		for (int k = 0; k < 3 && pty.master < 0 && r == 0; k++)
			close(fds[k]);
	}
	close(sv[0]);
	close(logp[0]);
	if (setup.sigfd >= 0)
		close(setup.sigfd);
	if (setup.signo || setup.timed_out) {
		bool gone = setup_kill_child(child, 200);

		pty_close(&pty);
		if (setup.signo)
			return 128 + setup.signo;
		log_error("setting up the session took over %d s: a file or mount of the container "
			  "that cntr reads does not answer%s",
			  SETUP_SECONDS,
			  gone ? "" : " (one cntr process stays blocked on it until it answers)");
		return LAUNCH_EXIT_FAILURE;
	}
	if (pty.master >= 0)
		status = pty_relay(&pty, child, &sigs);
	else if (relay_io.in >= 0)
		status = stdio_relay_run(&relay_io, child, &sigs);
	else
		status = wait_forwarding(child, &sigs);
	stdio_relay_close(&relay_io);
	pty_close(&pty);
	if (view_fd >= 0) {
		leftovers_kill(&view_ns);
		close(view_fd);
	}
	return exit_code(status);
}
