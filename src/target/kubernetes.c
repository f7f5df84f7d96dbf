/*
 * kubernetes: a container of a pod on this node, found through the labels the
 * kubelet puts on CRI containers in containerd's k8s.io namespace - no
 * API server needed. Names: ns/pod/container, pod/container (or ns/pod), pod
 * (if it has one running container), or a CRI container id or unique prefix.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "target/resolvers.h"
#include "util/log.h"

#define K8S_NS "k8s.io"
#define L_NS "labels.\"io.kubernetes.pod.namespace\""
#define L_POD "labels.\"io.kubernetes.pod.name\""
#define L_CONTAINER "labels.\"io.kubernetes.container.name\""
#define MAX_TASKS 4096
#define MAX_IDS 64

static bool kube_chars(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '.' && s[i] != '_')
			return false;
	return true;
}

int kube_ref_parse(const char *name, struct kube_ref *ref)
{
	char *parts[3] = { ref->ns, ref->pod, ref->container };
	const char *p = name;
	int n = 0;

	memset(ref, 0, sizeof(*ref));
	for (;;) {
		size_t len = strcspn(p, "/");

		if (n == 3 || len == 0 || len >= sizeof(ref->pod) || !kube_chars(p, len))
			return -EINVAL;
		memcpy(parts[n++], p, len);
		p += len;
		if (!*p++)
			break;
	}
	/* Stored as ns/pod/container: shift the shorter forms into place. */
	if (n == 2) {
		memcpy(ref->container, ref->pod, sizeof(ref->pod));
		memcpy(ref->pod, ref->ns, sizeof(ref->ns));
		ref->ns[0] = '\0';
	} else if (n == 1) {
		memcpy(ref->pod, ref->ns, sizeof(ref->ns));
		ref->ns[0] = '\0';
	}
	return n;
}

struct ids {
	char id[MAX_IDS][CTR_ID_MAX];
	bool exact[MAX_IDS]; /* named by its labels or its full id, not an id prefix */
	int n;
};

static void ids_add(struct ids *ids, const char *id, bool exact)
{
	for (int i = 0; i < ids->n; i++)
		if (!strcmp(ids->id[i], id)) {
			ids->exact[i] |= exact;
			return;
		}
	if (ids->n < MAX_IDS) {
		ids->exact[ids->n] = exact;
		snprintf(ids->id[ids->n++], CTR_ID_MAX, "%s", id);
	}
}

/* Adds the ids `ctr containers ls -q FILTER` prints (or, filter NULL, those prefixed by name). */
static int list_ids(const char *addr, const char *filter, const char *prefix, struct ids *ids,
		    struct target_hit *hit)
{
	const char *args[] = { "containers", "ls", "-q", filter, NULL };
	char *out, **lines;
	int err = 0;

	out = ctr_run(addr, K8S_NS, args, hit, &err);
	if (!out)
		return err;
	lines = ctr_lines_parse(out);
	free(out);
	for (size_t i = 0; lines && lines[i]; i++)
		if (!prefix || !strncmp(lines[i], prefix, strlen(prefix)))
			ids_add(ids, lines[i], !prefix || !strcmp(lines[i], prefix));
	ctr_lines_free(lines);
	return 0;
}

/* Every reading of the name, as containerd label filters (and the id prefix). */
static int collect(const char *addr, const char *name, const struct kube_ref *ref, int parts,
		   struct ids *ids, struct target_hit *hit)
{
	char f[1024];
	int r = 0;

	if (parts == 3) {
		snprintf(f, sizeof(f), L_NS "==\"%s\"," L_POD "==\"%s\"," L_CONTAINER "==\"%s\"",
			 ref->ns, ref->pod, ref->container);
		return list_ids(addr, f, NULL, ids, hit);
	}
	if (parts == 2) {
		snprintf(f, sizeof(f), L_POD "==\"%s\"," L_CONTAINER "==\"%s\"", ref->pod,
			 ref->container);
		r = list_ids(addr, f, NULL, ids, hit);
		/* "ns/pod": upstream's reading of two parts */
		snprintf(f, sizeof(f), L_NS "==\"%s\"," L_POD "==\"%s\"," L_CONTAINER, ref->pod,
			 ref->container);
		return r < 0 ? r : list_ids(addr, f, NULL, ids, hit);
	}
	snprintf(f, sizeof(f), L_POD "==\"%s\"," L_CONTAINER, ref->pod);
	r = list_ids(addr, f, NULL, ids, hit);
	/* A CRI container id, full or a prefix. */
	return r < 0 ? r : list_ids(addr, NULL, name, ids, hit);
}

static int pick(const char *name, const struct ids *ids, const struct ctr_task *tasks, int ntasks,
		struct target_hit *hit)
{
	const struct ctr_task *found = NULL;
	char list[200] = "";
	int running = 0, exact = 0;

	for (int i = 0; i < ids->n; i++)
		for (int j = 0; j < ntasks; j++) {
			if (strcmp(ids->id[i], tasks[j].id) != 0 || !tasks[j].running)
				continue;
			running++;
			found = &tasks[j];
			exact = ids->exact[i];
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%.12s",
				 running > 1 ? ", " : "", tasks[j].id);
		}
	if (running > 1)
		return target_fail(hit, -ENOTUNIQ, "%d running containers match: %s", running,
				   list);
	if (!found)
		return target_fail(hit, -ESRCH, "container %s is not running", name);
	log_info("kubernetes: %s is CRI container %s", name, found->id);
	hit->pid = found->pid;
	hit->exact = exact;
	return 0;
}

int target_kubernetes(const char *name, struct target_hit *hit)
{
	static const char *const task_args[] = { "task", "ls", NULL };
	const char *addrs[2];
	struct kube_ref ref;
	struct ids *ids;
	struct ctr_task *tasks = NULL;
	int parts = kube_ref_parse(name, &ref), n, r = 0, ntasks = 0;
	char *out = NULL;

	if (parts < 0)
		return target_fail(hit, -ENOENT, "not a Kubernetes name (ns/pod/container)");
	n = ctr_addresses(addrs, 2);
	if (n == 0)
		return target_fail(hit, -EIO, "containerd is not running (no socket)");
	ids = calloc(1, sizeof(*ids));
	tasks = calloc(MAX_TASKS, sizeof(*tasks));
	if (!ids || !tasks) {
		r = target_fail(hit, -ENOMEM, "out of memory");
		goto out;
	}
	/* The kubelet's containerd is the system one: the first address. */
	r = collect(addrs[0], name, &ref, parts, ids, hit);
	if (r < 0)
		goto out;
	if (ids->n == 0) {
		r = target_fail(hit, -ENOENT, "no such pod or container in namespace " K8S_NS);
		goto out;
	}
	out = ctr_run(addrs[0], K8S_NS, task_args, hit, &r);
	if (!out)
		goto out;
	ntasks = ctr_tasks_parse(out, tasks, MAX_TASKS);
	r = pick(name, ids, tasks, ntasks < 0 ? 0 : ntasks, hit);
out:
	free(out);
	free(tasks);
	free(ids);
	return r;
}
