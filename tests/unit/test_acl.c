#include <stdint.h>
#include <string.h>

#include "check.h"
#include "cntrfs/acl.h"

struct entry {
	uint16_t tag, perm;
	uint32_t id;
};

int main(void)
{
	struct {
		uint32_t version;
		struct entry e[4];
	} acl = {
		2,
		{ { 0x01, 7, 0xffffffff }, { 0x02, 6, 5 }, { 0x08, 4, 7 }, { 0x20, 5, 0xffffffff } }
	};
	struct idmap uids = { 0 }, gids = { 0 };

	CHECK(acl_is_posix_acl_name("system.posix_acl_access"));
	CHECK(acl_is_posix_acl_name("system.posix_acl_default"));
	CHECK(!acl_is_posix_acl_name("user.posix_acl_access"));

	CHECK_EQ(idmap_parse(&uids, "0:1000:100"), 0);
	CHECK_EQ(idmap_parse(&gids, "0:2000:100"), 0);
	acl_map_ids(&acl, sizeof(acl), &uids, &gids, true);
	CHECK_EQ(acl.e[0].id, 0xffffffff); /* USER_OBJ carries no id */
	CHECK_EQ(acl.e[1].id, 1005);
	CHECK_EQ(acl.e[2].id, 2007);
	acl_map_ids(&acl, sizeof(acl), &uids, &gids, false);
	CHECK_EQ(acl.e[1].id, 5);
	CHECK_EQ(acl.e[2].id, 7);

	/* A malformed value is left alone. */
	acl_map_ids(&acl, sizeof(acl) - 1, &uids, &gids, true);
	CHECK_EQ(acl.e[1].id, 5);
	return CHECK_DONE();
}
