/* The -t list. */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "target/resolvers.h"
#include "target/target.h"

int main(void)
{
	const struct target_type *t[TARGET_TYPES_MAX];
	char bad[32];

	CHECK_EQ(target_types_parse("docker", t, TARGET_TYPES_MAX, bad, sizeof(bad)), 1);
	CHECK(!strcmp(t[0]->name, "docker"));
	CHECK_EQ(target_types_parse("podman,process_id,kubernetes,command", t, TARGET_TYPES_MAX,
				    bad, sizeof(bad)),
		 4);
	CHECK(!strcmp(t[0]->name, "podman") && !strcmp(t[1]->name, "process_id"));
	CHECK(!strcmp(t[3]->name, "command") && !t[3]->by_default);
	CHECK(t[0]->resolve == target_podman && t[1]->resolve == target_process_id);
	CHECK_EQ(target_types_parse("docker,rkt", t, TARGET_TYPES_MAX, bad, sizeof(bad)), -EINVAL);
	CHECK(!strcmp(bad, "rkt"));
	CHECK_EQ(target_types_parse("dock", t, TARGET_TYPES_MAX, bad, sizeof(bad)), -EINVAL);
	CHECK_EQ(target_types_parse("dockerx", t, TARGET_TYPES_MAX, bad, sizeof(bad)), -EINVAL);
	CHECK_EQ(target_types_parse("", t, TARGET_TYPES_MAX, bad, sizeof(bad)), -EINVAL);
	CHECK_EQ(target_types_parse("docker,", t, TARGET_TYPES_MAX, bad, sizeof(bad)), -EINVAL);
	CHECK_EQ(target_types_parse(",docker", t, TARGET_TYPES_MAX, bad, sizeof(bad)), -EINVAL);
	CHECK(!strcmp(bad, ""));
	CHECK_EQ(target_types_parse("lxc,lxd,nspawn,containerd", t, 2, bad, sizeof(bad)), -EINVAL);
	CHECK_EQ(target_types_check("docker,lxd"), 0);
	CHECK_EQ(target_types_check("docker,x"), -EINVAL);
	return CHECK_DONE();
}
