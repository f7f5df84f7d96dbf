/* Parsers of engine tool output: docker/podman inspect, ctr, lxc-info, lxc info, k8s names. */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "target/resolvers.h"

static void test_inspect(void)
{
	struct inspect_state st;

	CHECK_EQ(inspect_parse("true false 13770 5c2ac51fb22b /cntr-test-docker\n", &st), 0);
	CHECK(st.running && !st.paused);
	CHECK_EQ(st.pid, 13770);
	CHECK(!strcmp(st.id, "5c2ac51fb22b"));
	CHECK(!strcmp(st.name, "cntr-test-docker")); /* docker's leading '/' dropped */
	CHECK_EQ(inspect_parse("true false 1 d250f940 cntr-test-podman", &st), 0);
	CHECK(!strcmp(st.name, "cntr-test-podman"));
	CHECK_EQ(inspect_parse("false false 0 1acdb778 /stopped1\n", &st), 0);
	CHECK(!st.running);
	CHECK_EQ(st.pid, 0);
	CHECK_EQ(inspect_parse("true true 42 abc /paused\n", &st), 0);
	CHECK(st.paused);
	CHECK_EQ(inspect_parse("", &st), -EINVAL);
	CHECK_EQ(inspect_parse("true false 42 abc\n", &st), -EINVAL);
	CHECK_EQ(inspect_parse("yes false 42 abc /x\n", &st), -EINVAL);
	CHECK_EQ(inspect_parse("true false -1 abc /x\n", &st), -EINVAL);
	CHECK_EQ(inspect_parse("true false 42 abc /x extra\n", &st), -EINVAL);
	/* a template error printed instead of the fields */
	CHECK_EQ(inspect_parse("<no value>\n", &st), -EINVAL);
}

static void test_ctr_tasks(void)
{
	struct ctr_task t[4];
	const char *out =
		"TASK                    PID      STATUS    \n"
		"cntr-test-containerd    14915    RUNNING\n"
		"stopped-one             0        STOPPED\n"
		"46b31ed176836fe88be01560ad3e121e934b00e747367724d14fd3d25b8f92fb    17278    "
		"RUNNING\n";

	CHECK_EQ(ctr_tasks_parse(out, t, 4), 3);
	CHECK(!strcmp(t[0].id, "cntr-test-containerd"));
	CHECK_EQ(t[0].pid, 14915);
	CHECK(t[0].running);
	CHECK(!t[1].running);
	CHECK_EQ(t[2].pid, 17278);
	CHECK_EQ(strlen(t[2].id), 64);
	CHECK_EQ(ctr_tasks_parse("TASK    PID    STATUS    \n", t, 4), 0);
	CHECK_EQ(ctr_tasks_parse("", t, 4), 0);
	CHECK_EQ(ctr_tasks_parse(out, t, 1), 1); /* bounded by max */
	CHECK_EQ(ctr_tasks_parse("x notapid RUNNING\n", t, 4), -EINVAL);
	/* a short row does not borrow fields from the next line */
	CHECK_EQ(ctr_tasks_parse("a 1\nb 2 RUNNING\n", t, 4), 1);
	CHECK(!strcmp(t[0].id, "b"));
}

static void test_ctr_lines(void)
{
	char **l = ctr_lines_parse("default\nk8s.io\n\nmoby\n");
	int n = 0;

	CHECK(l != NULL);
	while (l && l[n])
		n++;
	CHECK_EQ(n, 3);
	if (n == 3)
		CHECK(!strcmp(l[1], "k8s.io") && !strcmp(l[2], "moby"));
	ctr_lines_free(l);
	l = ctr_lines_parse("");
	CHECK(l && !l[0]);
	ctr_lines_free(l);
	{
		char many[301];

		for (int i = 0; i < 100; i++)
			memcpy(many + 3 * i, "id\n", 3);
		many[300] = '\0';
		l = ctr_lines_parse(many);
		n = 0;
		while (l && l[n])
			n++;
		CHECK_EQ(n, 100);
		ctr_lines_free(l);
	}
}

static void test_keyval(void)
{
	const char *lxc = "State:          RUNNING\nPID:            15784\n";
	const char *lxd = "Name: cntr-test-lxd\nStatus: RUNNING\nType: container\n"
			  "Architecture: x86_64\nPID: 16837\nCreated: 2026/11/27 00:12 UTC\n\n"
			  "Resources:\n  Processes: 2\n  PID: 99\n";
	char v[64];

	CHECK_EQ(keyval_find(lxc, "State", v, sizeof(v)), 0);
	CHECK(!strcmp(v, "RUNNING"));
	CHECK_EQ(keyval_find(lxc, "PID", v, sizeof(v)), 0);
	CHECK(!strcmp(v, "15784"));
	CHECK_EQ(keyval_find("State:          STOPPED\n", "PID", v, sizeof(v)), -ENOENT);
	CHECK_EQ(keyval_find(lxd, "Status", v, sizeof(v)), 0);
	CHECK(!strcmp(v, "RUNNING"));
	CHECK_EQ(keyval_find(lxd, "pid", v, sizeof(v)), 0); /* older LXD prints "Pid:" */
	CHECK(!strcmp(v, "16837"));
	CHECK_EQ(keyval_find(lxd, "Type", v, sizeof(v)), 0);
	CHECK(!strcmp(v, "container"));
	CHECK_EQ(keyval_find("Processes: 2\n", "Process", v, sizeof(v)), -ENOENT);
	CHECK_EQ(keyval_find("PID:\n", "PID", v, sizeof(v)), 0);
	CHECK(!strcmp(v, ""));
}

static void test_kube_ref(void)
{
	struct kube_ref r;

	CHECK_EQ(kube_ref_parse("default/web-0/nginx", &r), 3);
	CHECK(!strcmp(r.ns, "default") && !strcmp(r.pod, "web-0") && !strcmp(r.container, "nginx"));
	CHECK_EQ(kube_ref_parse("web-0/nginx", &r), 2);
	CHECK(!r.ns[0] && !strcmp(r.pod, "web-0") && !strcmp(r.container, "nginx"));
	CHECK_EQ(kube_ref_parse("web-0", &r), 1);
	CHECK(!r.ns[0] && !strcmp(r.pod, "web-0") && !r.container[0]);
	CHECK_EQ(kube_ref_parse("46b31ed17683", &r), 1);
	CHECK_EQ(kube_ref_parse("a/b/c/d", &r), -EINVAL);
	CHECK_EQ(kube_ref_parse("a//c", &r), -EINVAL);
	CHECK_EQ(kube_ref_parse("/a", &r), -EINVAL);
	CHECK_EQ(kube_ref_parse("a/", &r), -EINVAL);
	CHECK_EQ(kube_ref_parse("", &r), -EINVAL);
	CHECK_EQ(kube_ref_parse("a\"b", &r), -EINVAL); /* would break the label filter */
	CHECK_EQ(kube_ref_parse("a,b", &r), -EINVAL);
}

int main(void)
{
	test_inspect();
	test_ctr_tasks();
	test_ctr_lines();
	test_keyval();
	test_kube_ref();
	return CHECK_DONE();
}
