/* docker: name, id or id prefix via `docker container inspect`; DOCKER_HOST is honoured. */
#include <unistd.h>

#include "target/resolvers.h"

int target_docker(const char *name, struct target_hit *hit)
{
	/* Debian's client matches Debian's daemon; a /usr/local/bin one may be newer than it. */
	const char *tool = access("/usr/bin/docker", X_OK) == 0 ? "/usr/bin/docker" : "docker";

	return inspect_resolve(tool, "docker", name, hit);
}
