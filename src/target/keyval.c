/* "Key: value" lines, as lxc-info and LXD's `lxc info` print them. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "target/resolvers.h"

int keyval_find(const char *text, const char *key, char *val, size_t size)
{
	size_t klen = strlen(key);

	for (const char *line = text; *line;) {
		size_t len = strcspn(line, "\n");

		/* Only unindented lines: LXD indents the sections below its header. */
		if (len > klen && !strncasecmp(line, key, klen) && line[klen] == ':') {
			const char *v = line + klen + 1;
			size_t n = len - klen - 1;

			while (n && (*v == ' ' || *v == '\t')) {
				v++;
				n--;
			}
			while (n && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r'))
				n--;
			snprintf(val, size, "%.*s", (int)n, v);
			return 0;
		}
		line += len + (line[len] == '\n');
	}
	return -ENOENT;
}
