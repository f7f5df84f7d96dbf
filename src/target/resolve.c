/* TARGET -> pid: the -t list, the default order, and one line saying what was tried. */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "target/resolvers.h"
#include "target/target.h"
#include "util/log.h"
#include "util/run.h"

/* Upstream's names; the default order puts the cheap and common first. */
static const struct target_type types[] = {
	{ "process_id", { NULL }, true, target_process_id },
	{ "docker", { "/usr/bin/docker", "docker", NULL }, true, target_docker },
	{ "podman", { "podman", NULL }, true, target_podman },
	{ "containerd", { "ctr", NULL }, true, target_containerd },
	{ "lxc", { "lxc-info", NULL }, true, target_lxc },
	{ "lxd", { "lxc", NULL }, true, target_lxd },
	{ "nspawn", { "systemd-nspawn", "machinectl", NULL }, true, target_nspawn },
	{ "kubernetes", { "ctr", NULL }, true, target_kubernetes },
	/* Never by default: a pattern matches too easily. */
	{ "command", { NULL }, false, target_command },
};

#define NTYPES (sizeof(types) / sizeof(types[0]))

int target_fail(struct target_hit *hit, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(hit->why, sizeof(hit->why), fmt, ap);
	va_end(ap);
	return err;
}

int target_types_parse(const char *list, const struct target_type **out, size_t max, char *bad,
		       size_t bad_size)
{
	size_t n = 0;

	for (const char *p = list;; p++) {
		size_t len = strcspn(p, ",");
		const struct target_type *found = NULL;

		for (size_t i = 0; i < NTYPES && len; i++)
			if (strlen(types[i].name) == len && !strncmp(types[i].name, p, len))
				found = &types[i];
		if (!found || n == max) {
			snprintf(bad, bad_size, "%.*s", (int)len, p);
			return -EINVAL;
		}
		out[n++] = found;
		p += len;
		if (!*p)
			return (int)n;
	}
}

const char *target_type_tool(const struct target_type *t, char *path, size_t size)
{
	for (int i = 0; t->tools[i]; i++)
		if (run_find_tool(t->tools[i], path, size) == 0)
			return path;
	return NULL;
}

int target_types_check(const char *list)
{
	const struct target_type *want[TARGET_TYPES_MAX];
	char bad[64];

	if (target_types_parse(list, want, TARGET_TYPES_MAX, bad, sizeof(bad)) >= 0)
		return 0;
	log_error("%s%s%s in -t %s (known: process_id, docker, podman, containerd, lxc, lxd, "
		  "nspawn, kubernetes, command)",
		  *bad ? "unknown container type '" : "empty container type", bad, *bad ? "'" : "",
		  list);
	return -EINVAL;
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

/* The "tried: a: why; b: why" list of the failure line. */
struct tried {
	char text[2048];
	size_t len;
	int worst; /* the most telling failure: ambiguous > not running > not found */
};

static void tried_add(struct tried *t, const char *type, int err, const char *why)
{
	int n = snprintf(t->text + t->len, sizeof(t->text) - t->len, "%s%s: %s", t->len ? "; " : "",
			 type, why);

	if (n > 0)
		t->len += (size_t)n < sizeof(t->text) - t->len ? (size_t)n
							       : sizeof(t->text) - t->len - 1;
	if (err == -ENOTUNIQ || (err == -ESRCH && t->worst != -ENOTUNIQ) || !t->worst)
		t->worst = err;
}

struct probe {
	const struct target_type *type;
	const char *name;
	pthread_t thread;
	struct target_hit hit;
	int r;
	bool threaded;
};

static void *probe_run(void *arg)
{
	struct probe *p = arg;

	p->r = p->type->resolve(p->name, &p->hit);
	return NULL;
}

/*
 * A numeric name in the default order: a live pid wins unless an engine has a
 * container with exactly that name (or id). Then the user has to choose. Every
 * engine has to be asked, so they are asked at once (the threads only wait on
 * the tools), which keeps `cntr attach PID` close to the slowest engine's time.
 */
static int check_not_a_container(const char *name, pid_t pid)
{
	struct probe probes[TARGET_TYPES_MAX];
	char tool[4096];
	size_t n = 0;
	int r = 0;

	for (size_t i = 1; i < NTYPES && n < TARGET_TYPES_MAX; i++) {
		if (!types[i].by_default || !target_type_tool(&types[i], tool, sizeof(tool)))
			continue;
		probes[n] = (struct probe){ .type = &types[i], .name = name };
		probes[n].threaded =
			pthread_create(&probes[n].thread, NULL, probe_run, &probes[n]) == 0;
		if (!probes[n].threaded)
			probe_run(&probes[n]);
		n++;
	}
	for (size_t i = 0; i < n; i++)
		if (probes[i].threaded)
			pthread_join(probes[i].thread, NULL);
	for (size_t i = 0; i < n && !r; i++) {
		const struct probe *p = &probes[i];

		if (p->r < 0 || p->hit.pid == pid) /* the same process either way */
			continue;
		if (!p->hit.exact) {
			log_info("'%s' is also a prefix of a %s container id; taking process %d",
				 name, p->type->name, (int)pid);
			continue;
		}
		log_error("'%s' is ambiguous: process %d and %s container '%s' (pid %d); choose "
			  "with -t process_id or -t %s",
			  name, (int)pid, p->type->name, name, (int)p->hit.pid, p->type->name);
		r = -ENOTUNIQ;
	}
	return r;
}

static int found(const char *name, const struct target_type *t, const struct target_hit *hit,
		 pid_t *pid)
{
	if (t->resolve == target_process_id)
		log_info("'%s' is process %d", name, (int)hit->pid);
	else if (t->resolve == target_command)
		log_info("'%s' matches process %d", name, (int)hit->pid);
	else
		log_info("'%s' is a %s container, pid %d", name, t->name, (int)hit->pid);
	*pid = hit->pid;
	return 0;
}

int target_resolve(const char *name, const char *list, pid_t *pid)
{
	const struct target_type *want[TARGET_TYPES_MAX], *prefix_type = NULL;
	struct target_hit prefix_hit = { 0 };
	struct tried tried = { .len = 0 };
	char tool[4096], bad[64];
	int n = 0;

	if (!*name)
		return log_errno(EINVAL, "empty TARGET");
	if (list) {
		n = target_types_parse(list, want, TARGET_TYPES_MAX, bad, sizeof(bad));
		if (n < 0)
			return target_types_check(list);
	} else {
		for (size_t i = 0; i < NTYPES; i++)
			if (types[i].by_default && (i > 0 || all_digits(name)))
				want[n++] = &types[i];
	}
	for (int i = 0; i < n; i++) {
		const struct target_type *t = want[i];
		struct target_hit hit = { 0 };
		int r;

		if (t->tools[0] && !target_type_tool(t, tool, sizeof(tool))) {
			tried_add(&tried, t->name, -ENOENT, "not installed");
			log_info("%s: %s is not on PATH", t->name,
				 strrchr(t->tools[0], '/') ? strrchr(t->tools[0], '/') + 1
							   : t->tools[0]);
			continue;
		}
		r = t->resolve(name, &hit);
		if (r == -ESRCH && t->resolve == target_process_id)
			r = -ENOENT; /* a dead pid is not a stopped container */
		if (r < 0) {
			log_info("%s: %s", t->name, hit.why);
			tried_add(&tried, t->name, r, hit.why);
			continue;
		}
		if (!list && t->resolve == target_process_id) {
			r = check_not_a_container(name, hit.pid);
			if (r < 0)
				return r;
		}
		/*
		 * In the default order an id prefix ("db" of "db41...") must not
		 * shadow a container called exactly that in a later engine.
		 */
		if (!list && !hit.exact) {
			if (!prefix_type) {
				prefix_type = t;
				prefix_hit = hit;
			}
			log_info("%s: '%s' is an id prefix; looking for an exact name first",
				 t->name, name);
			continue;
		}
		return found(name, t, &hit, pid);
	}
	if (prefix_type)
		return found(name, prefix_type, &prefix_hit, pid);
	if (tried.worst == -ENOTUNIQ)
		log_error("'%s' is ambiguous (tried: %s)", name, tried.text);
	else if (tried.worst == -ESRCH)
		log_error("container '%s' is not running (tried: %s)", name, tried.text);
	else
		log_error("no container '%s' found (tried: %s)", name,
			  tried.len ? tried.text : "no type applies");
	return tried.worst == -ENOTUNIQ || tried.worst == -ESRCH ? tried.worst : -ENOENT;
}
