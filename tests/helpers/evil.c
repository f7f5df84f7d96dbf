/*
 * Test helper: a library a hostile container puts into LD_PRELOAD for the
 * session's tools (tests/integration/test_hostile.py). When a program loads
 * it, it says so on stderr and appends a line to every file named in
 * EVIL_MARKERS (colon-separated), creating it.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

__attribute__((constructor)) static void evil_loaded(void)
{
	static const char fallback[] = "/var/lib/cntr/evil-loaded:/evil-loaded";
	const char *list = getenv("EVIL_MARKERS");
	char buf[4096], line[128];
	char *save = NULL;
	int n;

	n = snprintf(line, sizeof(line), "EVIL-LOADED pid=%d uid=%d\n", (int)getpid(),
		     (int)getuid());
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	if (write(STDERR_FILENO, line, (size_t)n) < 0) {
		/* nothing to do: the marker files below still tell */
	}
	snprintf(buf, sizeof(buf), "%s", list && *list ? list : fallback);
	for (char *p = strtok_r(buf, ":", &save); p; p = strtok_r(NULL, ":", &save)) {
		int fd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

		if (fd < 0)
			continue;
		if (write(fd, line, (size_t)n) < 0) {
			/* as above */
		}
		close(fd);
	}
}
