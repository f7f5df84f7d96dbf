#include <errno.h>
#include <string.h>

#include "cgroup.h"
#include "check.h"

static const char *mountinfo =
	"25 30 0:22 / /sys/fs/cgroup rw - tmpfs tmpfs ro,mode=755\n"
	"26 25 0:23 / /sys/fs/cgroup/unified rw shared:9 - cgroup2 cgroup2 rw,nsdelegate\n"
	"27 25 0:24 / /sys/fs/cgroup/systemd rw shared:10 - cgroup cgroup rw,xattr,name=systemd\n"
	"28 25 0:25 / /sys/fs/cgroup/cpu,cpuacct rw shared:11 - cgroup cgroup rw,cpu,cpuacct\n"
	"29 25 0:26 /docker /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n";

static void expect(const char *line, const char *want)
{
	char out[512];
	int r = cgroup_procs_path(mountinfo, line, out, sizeof(out));

	if (r != 0 || strcmp(out, want) != 0) {
		fprintf(stderr, "%s -> %s (r=%d), expected %s\n", line, r ? "" : out, r, want);
		check_failures++;
	}
}

int main(void)
{
	char out[512];

	expect("0::/user.slice/x", "/sys/fs/cgroup/unified/user.slice/x/cgroup.procs");
	expect("0::/", "/sys/fs/cgroup/unified/cgroup.procs");
	expect("4:cpu,cpuacct:/a/b", "/sys/fs/cgroup/cpu,cpuacct/a/b/cgroup.procs");
	expect("4:cpuacct,cpu:/a", "/sys/fs/cgroup/cpu,cpuacct/a/cgroup.procs");
	expect("1:name=systemd:/s", "/sys/fs/cgroup/systemd/s/cgroup.procs");
	/* A hierarchy mounted from a sub-cgroup: paths are relative to its root. */
	expect("5:memory:/docker/abc", "/sys/fs/cgroup/memory/abc/cgroup.procs");
	CHECK_EQ(cgroup_procs_path(mountinfo, "6:pids:/x", out, sizeof(out)), -ENOENT);
	CHECK_EQ(cgroup_procs_path(mountinfo, "garbage", out, sizeof(out)), -EINVAL);
	/* "cpu" alone must not match a "cpuset" hierarchy. */
	CHECK_EQ(cgroup_procs_path("1 0 0:1 / /c rw - cgroup cgroup rw,cpuset\n", "2:cpu:/", out,
				   sizeof(out)),
		 -ENOENT);
	return CHECK_DONE();
}
