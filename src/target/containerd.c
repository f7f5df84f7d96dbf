/*
 * containerd: a task id (or unique id prefix) in any namespace - default, moby
 * (docker's), k8s.io (the kubelet's) - of every containerd socket found.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "target/resolvers.h"
#include "util/log.h"

#define MAX_TASKS 4096
#define MAX_ADDRS 2

struct found {
	int exact, prefix, stopped; /* counts */
	pid_t pid;
	bool pid_exact;
	char where[160]; /* "ns/id" of the pick, for -v */
};

static void consider(struct found *f, const char *ns, const struct ctr_task *t, const char *name)
{
	bool exact = !strcmp(t->id, name);

	if (!exact && strncmp(t->id, name, strlen(name)) != 0)
		return;
	if (!t->running) {
		f->stopped++;
		return;
	}
	if (exact)
		f->exact++;
	else
		f->prefix++;
	/* An exact id beats any prefix match. */
	if (exact || !f->pid_exact) {
		f->pid = t->pid;
		f->pid_exact = exact;
		snprintf(f->where, sizeof(f->where), "%s/%s", ns, t->id);
	}
}

/* Listing containers first keeps a miss at one ctr call per namespace. */
static int scan_namespace(const char *addr, const char *ns, const char *name,
			  struct ctr_task *tasks, struct found *f, struct target_hit *hit)
{
	static const char *const ls_args[] = { "containers", "ls", "-q", NULL };
	static const char *const task_args[] = { "task", "ls", NULL };
	char *out, **ids;
	int err = 0, n, matched = 0;

	out = ctr_run(addr, ns, ls_args, hit, &err);
	if (!out)
		return err;
	ids = ctr_lines_parse(out);
	free(out);
	for (size_t i = 0; ids && ids[i]; i++)
		if (!strncmp(ids[i], name, strlen(name)))
			matched++;
	ctr_lines_free(ids);
	if (!matched)
		return 0;
	out = ctr_run(addr, ns, task_args, hit, &err);
	if (!out)
		return err;
	n = ctr_tasks_parse(out, tasks, MAX_TASKS);
	free(out);
	for (int j = 0; j < n; j++)
		consider(f, ns, &tasks[j], name);
	/* Matching containers without a task exist but are not running. */
	if (!f->exact && !f->prefix && !f->stopped)
		f->stopped = matched;
	return 0;
}

static int scan_address(const char *addr, const char *name, struct ctr_task *tasks, struct found *f,
			struct target_hit *hit)
{
	static const char *const ns_args[] = { "namespaces", "ls", "-q", NULL };
	char *out, **namespaces;
	int err = 0;

	out = ctr_run(addr, NULL, ns_args, hit, &err);
	if (!out)
		return err;
	namespaces = ctr_lines_parse(out);
	free(out);
	if (!namespaces)
		return target_fail(hit, -ENOMEM, "out of memory");
	for (size_t i = 0; namespaces[i]; i++) {
		int r = scan_namespace(addr, namespaces[i], name, tasks, f, hit);

		if (r < 0 && !err)
			err = r;
	}
	ctr_lines_free(namespaces);
	return err;
}

int target_containerd(const char *name, struct target_hit *hit)
{
	const char *addrs[MAX_ADDRS];
	struct found f = { 0 };
	struct ctr_task *tasks;
	int n = ctr_addresses(addrs, MAX_ADDRS), err = 0;

	if (n == 0)
		return target_fail(hit, -EIO, "containerd is not running (no socket)");
	tasks = calloc(MAX_TASKS, sizeof(*tasks));
	if (!tasks)
		return target_fail(hit, -ENOMEM, "out of memory");
	for (int i = 0; i < n; i++) {
		int r = scan_address(addrs[i], name, tasks, &f, hit);

		if (r < 0 && !err)
			err = r;
	}
	free(tasks);
	if (f.exact > 1 || (!f.exact && f.prefix > 1))
		return target_fail(hit, -ENOTUNIQ, "%d running tasks match '%s'",
				   f.exact ? f.exact : f.prefix, name);
	if (f.exact || f.prefix) {
		log_info("containerd: task %s, pid %d", f.where, (int)f.pid);
		hit->pid = f.pid;
		hit->exact = f.pid_exact;
		return 0;
	}
	if (f.stopped)
		return target_fail(hit, -ESRCH, "container %s has no running task", name);
	if (err && n == 1)
		return err; /* hit->why says what failed */
	return target_fail(hit, -ENOENT, "no such container");
}
