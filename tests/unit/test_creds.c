#include <errno.h>

#include "check.h"
#include "cntrfs/creds.h"

static void test_groups(void)
{
	gid_t g[8];
	const char *status = "Name:\tbash\nUid:\t0\t0\t0\t0\nGroups:\t4 24 27 \nNgid:\t0\n";

	CHECK_EQ(creds_parse_groups(status, g, 8), 3);
	CHECK_EQ(g[0], 4);
	CHECK_EQ(g[2], 27);
}

static void test_no_groups(void)
{
	gid_t g[8];

	CHECK_EQ(creds_parse_groups("Name:\tx\nGroups:\nNgid:\t0\n", g, 8), 0);
	CHECK_EQ(creds_parse_groups("Name:\tx\n", g, 8), -EINVAL);
}

static void test_truncates_to_max(void)
{
	gid_t g[2];

	CHECK_EQ(creds_parse_groups("x\nGroups:\t1 2 3\n", g, 2), 2);
	CHECK_EQ(g[1], 2);
}

int main(void)
{
	test_groups();
	test_no_groups();
	test_truncates_to_max();
	return CHECK_DONE();
}
