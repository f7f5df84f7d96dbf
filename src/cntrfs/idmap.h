/*
 * Id shifting for user-namespaced targets. Extents have the meaning of
 * /proc/PID/uid_map lines: ids [inside, inside+count) on disk appear as
 * [outside, outside+count) through the mount, and requests from an outside id
 * act as the matching inside id.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define IDMAP_MAX_EXTENTS 340 /* the kernel's limit for uid_map */
#define IDMAP_OVERFLOW 65534u /* shown for ids the map does not cover */

struct idmap_extent {
	uint32_t inside, outside, count;
};

struct idmap {
	unsigned n; /* 0: identity */
	struct idmap_extent ext[IDMAP_MAX_EXTENTS];
};

/*
 * Appends extents from text: "INSIDE:OUTSIDE:COUNT" or "INSIDE OUTSIDE COUNT",
 * separated by ',' or newlines (so /proc/PID/uid_map contents parse too).
 * Returns 0, or -EINVAL for bad syntax, overlaps or overflow.
 */
int idmap_parse(struct idmap *m, const char *text);
bool idmap_is_identity(const struct idmap *m);
/* On-disk id -> id shown to the caller. */
uint32_t idmap_to_outside(const struct idmap *m, uint32_t id);
/* Caller's id -> on-disk id; IDMAP_OVERFLOW when unmapped. */
uint32_t idmap_to_inside(const struct idmap *m, uint32_t id);
/* The same, but an unmapped id is an error (-EOVERFLOW), as on idmapped mounts. */
int idmap_map_inside(const struct idmap *m, uint32_t id, uint32_t *out);
