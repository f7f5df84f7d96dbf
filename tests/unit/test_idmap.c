#include <errno.h>
#include <string.h>

#include "check.h"
#include "cntrfs/idmap.h"

static void test_identity(void)
{
	struct idmap m = { 0 };

	CHECK(idmap_is_identity(&m));
	CHECK_EQ(idmap_to_outside(&m, 1234), 1234);
	CHECK_EQ(idmap_to_inside(&m, 0), 0);
}

static void test_colon_syntax(void)
{
	struct idmap m = { 0 };

	CHECK_EQ(idmap_parse(&m, "0:100000:65536"), 0);
	CHECK_EQ(m.n, 1);
	CHECK_EQ(idmap_to_outside(&m, 0), 100000);
	CHECK_EQ(idmap_to_outside(&m, 65535), 165535);
	CHECK_EQ(idmap_to_outside(&m, 65536), IDMAP_OVERFLOW);
	CHECK_EQ(idmap_to_inside(&m, 100000), 0);
	CHECK_EQ(idmap_to_inside(&m, 99999), IDMAP_OVERFLOW);
}

static void test_proc_syntax(void)
{
	struct idmap m = { 0 };

	/* What /proc/PID/uid_map prints, two extents. */
	CHECK_EQ(
		idmap_parse(&m,
			    "         0     100000       1000\n      1000     200000         10\n"),
		0);
	CHECK_EQ(m.n, 2);
	CHECK_EQ(idmap_to_outside(&m, 1005), 200005);
	CHECK_EQ(idmap_to_inside(&m, 200009), 1009);
	CHECK_EQ(idmap_to_inside(&m, 200010), IDMAP_OVERFLOW);
}

static void test_full_range(void)
{
	struct idmap m = { 0 };

	CHECK_EQ(idmap_parse(&m, "0 0 4294967295"), 0);
	CHECK_EQ(idmap_to_outside(&m, 4294967294u), 4294967294u);
}

static void test_rejects(void)
{
	const char *bad[] = { "0:1",
			      "a:b:c",
			      "0:1:0",
			      "0:1:2:3",
			      "0:4294967295:2",
			      "1:2:3x",
			      "0:100:10,5:200:10" /* inside overlap */,
			      "0:100:10,20:105:10" /* outside overlap */,
			      "-1:0:1" };

	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		struct idmap m = { 0 };

		if (idmap_parse(&m, bad[k]) != -EINVAL) {
			fprintf(stderr, "accepted bad map '%s'\n", bad[k]);
			check_failures++;
		}
	}
}

int main(void)
{
	test_identity();
	test_colon_syntax();
	test_proc_syntax();
	test_full_range();
	test_rejects();
	return CHECK_DONE();
}
