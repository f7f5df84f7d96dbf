/*
 * The target's credentials for the payload, after joining its user namespace:
 * bounding set, then groups, gid, uid, capabilities and no_new_privs. Ids are those of /proc/PID/status, translated into the
 * target's user namespace.
 */
#pragma once

#include <stdint.h>

#include "context.h"

/* Which bounding-set caps the payload keeps: for root the exec'd shell gets exactly these. */
uint64_t identity_bounding_set(const struct context *c);
/* Call after joining the target's user namespace: joining resets the bounding set. */
int identity_drop_bounding(const struct context *c);
/* The capability that keeps container processes out of the session, or -1 if none can. */
int identity_guard_cap(const struct context *c);
/* After setns(user): groups, ids, capability sets, ambient caps, no_new_privs. */
int identity_apply(const struct context *c);
