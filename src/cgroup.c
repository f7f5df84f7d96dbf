#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/file.h"
#include "util/log.h"

/* Does the comma list opts contain every item of the comma list want? */
static bool has_all_options(const char *opts, size_t opts_len, const char *want, size_t want_len)
{
	const char *w = want, *wend = want + want_len;

	while (w < wend) {
		const char *comma = memchr(w, ',', (size_t)(wend - w));
		size_t n = comma ? (size_t)(comma - w) : (size_t)(wend - w);
		bool found = false;

		for (const char *o = opts, *oend = opts + opts_len; o < oend;) {
			const char *oc = memchr(o, ',', (size_t)(oend - o));
			size_t on = oc ? (size_t)(oc - o) : (size_t)(oend - o);

			if (on == n && !memcmp(o, w, n)) {
				found = true;
				break;
			}
			o += on + 1;
		}
		if (!found)
			return false;
		w += n + 1;
	}
	return true;
}

/* Splits a mountinfo line into the fields we need. Returns false for malformed lines. */
static bool mountinfo_fields(const char *line, size_t len, char *root, char *mnt, char *fstype,
			     char *super, size_t fsize)
{
	char copy[4096], *save = NULL, *tok;
	int field = 0;
	bool after_sep = false;
	int post = 0;

	if (len >= sizeof(copy))
		return false;
	memcpy(copy, line, len);
	copy[len] = '\0';
	for (tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save), field++) {
		if (after_sep) {
			if (post == 0)
				snprintf(fstype, fsize, "%s", tok);
			else if (post == 2)
				snprintf(super, fsize, "%s", tok);
			post++;
		} else if (field == 3) {
			snprintf(root, fsize, "%s", tok);
		} else if (field == 4) {
			snprintf(mnt, fsize, "%s", tok);
		} else if (field >= 6 && !strcmp(tok, "-")) {
			after_sep = true;
		}
	}
	return post >= 3;
}

int cgroup_procs_path(const char *mountinfo, const char *line, char *out, size_t size)
{
	const char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	const char *ctrl, *path;
	size_t ctrl_len;
	bool v2;

	if (!c1 || !c2)
		return -EINVAL;
	ctrl = c1 + 1;
	ctrl_len = (size_t)(c2 - ctrl);
	path = c2 + 1;
	v2 = ctrl_len == 0;

	for (const char *l = mountinfo; l && *l;) {
		const char *nl = strchr(l, '\n');
		size_t len = nl ? (size_t)(nl - l) : strlen(l);
		char root[1024], mnt[1024], fstype[1024], super[1024];

		if (mountinfo_fields(l, len, root, mnt, fstype, super, sizeof(root))) {
			bool match = v2 ? !strcmp(fstype, "cgroup2")
					: !strcmp(fstype, "cgroup") &&
						     has_all_options(super, strlen(super), ctrl,
								     ctrl_len);

			if (match) {
				const char *rel = path;
				size_t plen = strcspn(path, "\n");
				size_t rlen = strlen(root);
				int n;

				/* A hierarchy mounted from a sub-cgroup: paths are below its root. */
				if (strcmp(root, "/") != 0 && !strncmp(path, root, rlen) &&
				    (path[rlen] == '/' || path[rlen] == '\n' || !path[rlen])) {
					rel = path + rlen;
					plen -= rlen;
				}
				while (plen && rel[plen - 1] == '/')
					plen--; /* "/" is the hierarchy's root itself */
				n = snprintf(out, size, "%s%s%.*s/cgroup.procs", mnt,
					     (plen && rel[0] != '/') ? "/" : "", (int)plen, rel);
				return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
			}
		}
		l = nl ? nl + 1 : NULL;
	}
	return -ENOENT;
}

int cgroup_join(const char *cgroup_text, pid_t pid)
{
	char *mountinfo = read_file_alloc(AT_FDCWD, "/proc/self/mountinfo", NULL);
	char pidstr[32];
	int failures = 0;

	if (!mountinfo) {
		log_warn("cannot read /proc/self/mountinfo: not joining the target's cgroups");
		return 1;
	}
	snprintf(pidstr, sizeof(pidstr), "%d", (int)pid);
	for (const char *l = cgroup_text; l && *l;) {
		const char *nl = strchr(l, '\n');
		char line[4096], path[4096];
		size_t len = nl ? (size_t)(nl - l) : strlen(l);
		int r;

		snprintf(line, sizeof(line), "%.*s", (int)len, l);
		l = nl ? nl + 1 : NULL;
		if (!line[0])
			continue;
		r = cgroup_procs_path(mountinfo, line, path, sizeof(path));
		if (r == -ENOENT)
			continue; /* hierarchy not mounted here: nothing to join */
		if (r == 0)
			r = write_file_at(AT_FDCWD, path, pidstr);
		if (r < 0) {
			log_info("cannot join cgroup %s: %s", line, strerror(-r));
			failures++;
		}
	}
	free(mountinfo);
	return failures;
}
