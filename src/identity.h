/*
 * The target's credentials for the payload: bounding set (before joining the
 * user namespace, while we still may), then groups, gid, uid, capabilities and
 * no_new_privs (after). Ids are those of /proc/PID/status, translated into the
 * target's user namespace.
 */
#pragma once

#include <stdint.h>

#include "context.h"

/* Which bounding-set caps the payload keeps: for root the exec'd shell gets exactly these. */
uint64_t identity_bounding_set(const struct context *c);
int identity_drop_bounding(const struct context *c);
/* After setns(user): groups, ids, capability sets, ambient caps, no_new_privs. */
int identity_apply(const struct context *c);
