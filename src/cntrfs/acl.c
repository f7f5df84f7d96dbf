#include "cntrfs/acl.h"

#include <stdint.h>
#include <string.h>

/* The xattr encoding of <linux/posix_acl_xattr.h>. */
#define ACL_XATTR_VERSION 2
#define ACL_TAG_USER 0x02
#define ACL_TAG_GROUP 0x08

struct acl_entry {
	uint16_t tag, perm;
	uint32_t id;
};

bool acl_is_posix_acl_name(const char *name)
{
	return !strcmp(name, "system.posix_acl_access") ||
	       !strcmp(name, "system.posix_acl_default");
}

void acl_map_ids(void *value, size_t len, const struct idmap *uids, const struct idmap *gids,
		 bool to_outside)
{
	uint32_t version;
	char *p = (char *)value + sizeof(version);

	if (len < sizeof(version) || (len - sizeof(version)) % sizeof(struct acl_entry))
		return;
	memcpy(&version, value, sizeof(version));
	if (version != ACL_XATTR_VERSION)
		return;
	for (; p + sizeof(struct acl_entry) <= (char *)value + len; p += sizeof(struct acl_entry)) {
		struct acl_entry e;
		const struct idmap *m;

		memcpy(&e, p, sizeof(e));
		if (e.tag == ACL_TAG_USER)
			m = uids;
		else if (e.tag == ACL_TAG_GROUP)
			m = gids;
		else
			continue;
		e.id = to_outside ? idmap_to_outside(m, e.id) : idmap_to_inside(m, e.id);
		memcpy(p, &e, sizeof(e));
	}
}
