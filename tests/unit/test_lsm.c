#include <string.h>

#include "check.h"
#include "lsm.h"

int main(void)
{
	char label[64], cmd[128];

	CHECK_EQ(lsm_parse_apparmor("docker-default (enforce)\n", label, sizeof(label)),
		 LSM_APPARMOR);
	CHECK(!strcmp(label, "docker-default"));
	CHECK_EQ(lsm_parse_apparmor("unconfined\n", label, sizeof(label)), LSM_NONE);
	CHECK_EQ(lsm_parse_apparmor("", label, sizeof(label)), LSM_NONE);
	CHECK_EQ(
		lsm_parse_selinux("system_u:system_r:container_t:s0:c1,c2\n", label, sizeof(label)),
		LSM_SELINUX);
	CHECK(!strcmp(label, "system_u:system_r:container_t:s0:c1,c2"));
	CHECK_EQ(lsm_exec_command(LSM_APPARMOR, "docker-default", cmd, sizeof(cmd)), 0);
	CHECK(!strcmp(cmd, "exec docker-default"));
	CHECK_EQ(lsm_exec_command(LSM_SELINUX, "u:r:t:s0", cmd, sizeof(cmd)), 0);
	CHECK(!strcmp(cmd, "u:r:t:s0"));
	CHECK(lsm_exec_command(LSM_NONE, "x", cmd, sizeof(cmd)) < 0);
	/* A label that does not fit is refused, not cut. */
	CHECK(lsm_parse_apparmor(
		      "a-very-long-profile-name-that-does-not-fit-here-at-all-no (enforce)", label,
		      16) == LSM_NONE);
	return CHECK_DONE();
}
