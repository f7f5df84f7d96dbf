/*
 * podman: name, id or id prefix via `podman container inspect`. Run as root it
 * sees rootful containers only; rootless ones live in each user's storage.
 */
#include "target/resolvers.h"

int target_podman(const char *name, struct target_hit *hit)
{
	return inspect_resolve("podman", "podman", name, hit);
}
