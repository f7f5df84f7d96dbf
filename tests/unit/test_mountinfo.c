#include <errno.h>
#include <string.h>

#include "check.h"
#include "idmap_tree.h"

int main(void)
{
	char out[256], s[] = "/mnt/with\\040space\\011tab\\134back";

	mountinfo_unescape(s);
	CHECK(!strcmp(s, "/mnt/with space\ttab\\back"));
	CHECK_EQ(mountinfo_mountpoint("36 35 98:0 /mnt1 /mnt/a\\040b rw,noatime master:1 - ext3 "
				      "/dev/root rw,errors=continue",
				      out, sizeof(out)),
		 0);
	CHECK(!strcmp(out, "/mnt/a b"));
	CHECK_EQ(mountinfo_mountpoint("36 35 98:0 / / rw - ext4 /dev/vda rw\n", out, sizeof(out)),
		 0);
	CHECK(!strcmp(out, "/"));
	CHECK_EQ(mountinfo_mountpoint("36 35", out, sizeof(out)), -EINVAL);
	return CHECK_DONE();
}
