#include "idmap_tree.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "util/file.h"
#include "util/log.h"

void mountinfo_unescape(char *s)
{
	char *out = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

int mountinfo_mountpoint(const char *line, char *out, size_t size)
{
	const char *p = line;
	size_t n;

	for (int field = 0; field < 4; field++) {
		p = strchr(p, ' ');
		if (!p)
			return -EINVAL;
		p++;
	}
	n = strcspn(p, " \n");
	if (n == 0 || n >= size)
		return -EINVAL;
	memcpy(out, p, n);
	out[n] = '\0';
	mountinfo_unescape(out);
	return 0;
}

/* Was path already handled? Mounts stacked on one path are cloned once, from the top. */
static int seen_before(char **paths, size_t n, const char *path)
{
	for (size_t k = 0; k < n; k++)
		if (!strcmp(paths[k], path))
			return 1;
	return 0;
}

static int stack_clone(int orig_root, const char *path, int userns_fd)
{
	struct mount_attr idmap = { .attr_set = MOUNT_ATTR_IDMAP,
				    .userns_fd = (uint64_t)userns_fd };
	const char *rel = path[1] ? path + 1 : ".";
	int clone, r = 0;

	clone = open_tree(orig_root, rel, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (clone < 0) {
		log_info("not replicating mount %s: %s", path, strerror(errno));
		return 0;
	}
	if (mount_setattr(clone, "", AT_EMPTY_PATH, &idmap, sizeof(idmap)) < 0)
		log_info("mount %s stays unmapped: %s", path, strerror(errno));
	if (move_mount(clone, "", AT_FDCWD, path, MOVE_MOUNT_F_EMPTY_PATH) < 0) {
		r = !strcmp(path, "/") ? log_errno(errno, "stacking the idmapped root") : 0;
		if (!r)
			log_info("cannot stack the copy of %s: %s", path, strerror(errno));
	} else if (!strcmp(path, "/") && (fchdir(clone) < 0 || chroot(".") < 0)) {
		/* Later paths resolve in the new tree; the originals through orig_root. */
		r = log_errno(errno, "entering the idmapped root");
	}
	close(clone);
	return r;
}

int idmap_tree_rebuild(int userns_fd)
{
	char *mountinfo = read_file_alloc(AT_FDCWD, "/proc/self/mountinfo", NULL);
	char **done = NULL;
	size_t ndone = 0;
	int orig_root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC), r = 0;

	if (!mountinfo || orig_root < 0) {
		r = log_errno(errno, "reading the mount table");
		goto out;
	}
	/* mountinfo lists parents before their children. */
	for (char *line = mountinfo, *next; line && *line && r == 0; line = next) {
		char path[4096];
		char **grown;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (mountinfo_mountpoint(line, path, sizeof(path)) < 0 ||
		    seen_before(done, ndone, path))
			continue;
		grown = realloc(done, (ndone + 1) * sizeof(char *));
		if (!grown || !(grown[ndone] = strdup(path))) {
			done = grown ? grown : done;
			r = -ENOMEM;
			break;
		}
		done = grown;
		ndone++;
		r = stack_clone(orig_root, path, userns_fd);
	}
out:
	for (size_t k = 0; k < ndone; k++)
		free(done[k]);
	free(done);
	free(mountinfo);
	if (orig_root >= 0)
		close(orig_root);
	return r;
}
