/* Id translation inside POSIX ACL xattr values (system.posix_acl_*). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "cntrfs/idmap.h"

bool acl_is_posix_acl_name(const char *name);
/* Rewrites ACL_USER/ACL_GROUP ids in place: to_outside for replies, else for requests. */
void acl_map_ids(void *value, size_t len, const struct idmap *uids, const struct idmap *gids,
		 bool to_outside);
