/*
 * One resolver per target type, and the pure parsers behind them (unit-tested
 * in tests/unit/test_target_*.c). Resolvers log nothing but -v details: the
 * dispatcher (resolve.c) turns their reasons into one line.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define TARGET_WHY_MAX 256

struct target_hit {
	pid_t pid;
	/* The name is the container's full name or id (not an id prefix or a pattern). */
	bool exact;
	/* On failure the reason, for the "tried:" list ("no such container"). */
	char why[TARGET_WHY_MAX];
};

/*
 * Each returns 0 with hit->pid set, or -ENOENT (no such container), -ESRCH
 * (exists but is not running), -ENOTUNIQ (ambiguous), -EIO (the engine failed)
 * or -ETIMEDOUT, with hit->why set.
 */
int target_process_id(const char *name, struct target_hit *hit);
int target_docker(const char *name, struct target_hit *hit);
int target_podman(const char *name, struct target_hit *hit);
int target_containerd(const char *name, struct target_hit *hit);
int target_lxc(const char *name, struct target_hit *hit);
int target_lxd(const char *name, struct target_hit *hit);
int target_nspawn(const char *name, struct target_hit *hit);
int target_kubernetes(const char *name, struct target_hit *hit);
int target_command(const char *name, struct target_hit *hit);

/* Sets hit->why (printf-style) and returns err, for one-line failure paths. */
int target_fail(struct target_hit *hit, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* --- the -t list (resolve.c) --- */

struct target_type {
	const char *name;
	/* Any one of these on PATH makes the type available; none: always available. */
	const char *tools[3];
	bool by_default;
	int (*resolve)(const char *name, struct target_hit *hit);
};

#define TARGET_TYPES_MAX 16

/*
 * Parses "docker,podman" into the types table's entries. Returns the count, or
 * -EINVAL with the unknown (or empty) name copied to bad.
 */
int target_types_parse(const char *list, const struct target_type **out, size_t max, char *bad,
		       size_t bad_size);
/* The first of the type's tools found on PATH, or NULL. */
const char *target_type_tool(const struct target_type *t, char *path, size_t size);

/* --- docker and podman (inspect.c) --- */

struct inspect_state {
	bool running, paused;
	pid_t pid;
	char id[80];
	char name[256]; /* without docker's leading '/' */
};

/* Parses "RUNNING PAUSED PID ID NAME" as printed by INSPECT_FORMAT. 0 or -EINVAL. */
int inspect_parse(const char *out, struct inspect_state *st);
/* Runs TOOL container inspect for name and judges the result (docker and podman alike). */
int inspect_resolve(const char *tool, const char *engine, const char *name, struct target_hit *hit);

#define INSPECT_FORMAT "{{.State.Running}} {{.State.Paused}} {{.State.Pid}} {{.Id}} {{.Name}}"

/* --- containerd and kubernetes (ctr.c) --- */

#define CTR_ID_MAX 128

struct ctr_task {
	char id[CTR_ID_MAX];
	pid_t pid;
	bool running;
};

/*
 * Parses `ctr task ls` (header "TASK PID STATUS", then one row each) into
 * tasks[]. Returns the number of rows (at most max) or -EINVAL.
 */
int ctr_tasks_parse(const char *out, struct ctr_task *tasks, int max);
/*
 * Parses one id per line (`ctr namespaces ls -q`, `ctr containers ls -q`) into
 * a malloc'd NULL-terminated array. NULL on allocation failure.
 */
char **ctr_lines_parse(const char *out);
void ctr_lines_free(char **lines);
/* The containerd sockets to ask ($CONTAINERD_ADDRESS, else the ones that exist). */
int ctr_addresses(const char **addrs, int max);
/*
 * Runs `ctr --address ADDR --connect-timeout 2s [-n NS] ARGS...` and returns
 * its stdout (malloc'd) or NULL with hit->why set and *err = -errno.
 */
char *ctr_run(const char *addr, const char *ns, const char *const *args, struct target_hit *hit,
	      int *err);

/* --- lxc (lxc.c) and lxd (lxd.c) --- */

/*
 * Parses "Key: value" lines (lxc-info, lxc info): the value of the first
 * line whose key equals key (case-insensitively) and starts the line, into val.
 * Returns 0 or -ENOENT.
 */
int keyval_find(const char *text, const char *key, char *val, size_t size);

/* --- nspawn (nspawn.c) --- */

/*
 * From a systemd-nspawn command line (NUL-separated, as in /proc/PID/cmdline),
 * the machine name: -M/--machine, else the basename of -D/--directory or
 * -i/--image (without ".raw"). Returns 0 or -ENOENT.
 */
int nspawn_machine_name(const char *cmdline, size_t len, char *name, size_t size);

/* --- kubernetes (kubernetes.c) --- */

struct kube_ref {
	char ns[256], pod[256], container[256]; /* "" where not given */
};

/*
 * Splits "ns/pod/container", "pod/container" or "pod" (a 2-part name is also
 * tried as "ns/pod" by the resolver). Returns the number of parts, or -EINVAL
 * for empty parts, more than three, or characters that are not in Kubernetes
 * names.
 */
int kube_ref_parse(const char *name, struct kube_ref *ref);

/* --- scanning /proc (procscan.c), for nspawn and command --- */

struct proc_info {
	pid_t pid, ppid;
	char state;
	unsigned long long start; /* clock ticks after boot */
	char comm[32];
};

/* Parses the text of /proc/PID/stat. Returns 0 or -EINVAL. */
int proc_stat_parse(const char *text, struct proc_info *p);
/* Reads /proc/PID/stat. Returns 0 or -errno (the process is gone). */
int proc_info_read(pid_t pid, struct proc_info *p);
/* Every pid in /proc, as a malloc'd array; the count, or -errno. */
int proc_pids(pid_t **pids);

/* --- command (command.c) --- */

/* True if the NUL-separated cmdline, with NULs read as spaces, contains pattern. */
bool cmdline_matches(const char *cmdline, size_t len, const char *pattern);
