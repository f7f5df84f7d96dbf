/*
 * An idmapped copy of the fat side's whole mount tree, for the bind back end
 * with user-namespaced targets: each mount is cloned, idmapped with the
 * target's user namespace where its filesystem allows, and stacked at its
 * place, so host root's files show as the container's root (as CntrFS's id
 * shift does). Mounts whose filesystem cannot be idmapped are kept as they are.
 */
#pragma once

#include <stddef.h>

/* Rebuilds / in the calling process's (private) mount namespace. Returns 0 or -errno. */
int idmap_tree_rebuild(int userns_fd);

/* Decodes mountinfo's octal escapes ("\\040" for a space) in place. Pure, unit-tested. */
void mountinfo_unescape(char *s);
/* The mount point (5th field) of a mountinfo line into out. Returns 0 or -EINVAL. */
int mountinfo_mountpoint(const char *line, char *out, size_t size);
