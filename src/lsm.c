#include "lsm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/file.h"

int lsm_parse_apparmor(const char *raw, char *label, size_t size)
{
	size_t n = strcspn(raw, " \n");

	if (n == 0 || n >= size || !strncmp(raw, "unconfined", n))
		return LSM_NONE;
	memcpy(label, raw, n);
	label[n] = '\0';
	return LSM_APPARMOR;
}

int lsm_parse_selinux(const char *raw, char *label, size_t size)
{
	size_t n = strcspn(raw, "\n");

	if (n == 0 || n >= size)
		return LSM_NONE;
	memcpy(label, raw, n);
	label[n] = '\0';
	return LSM_SELINUX;
}

static int apparmor_enabled(void)
{
	char buf[8];

	return read_file_at(AT_FDCWD, "/sys/module/apparmor/parameters/enabled", buf, sizeof(buf)) >
		       0 &&
	       buf[0] == 'Y';
}

static int selinux_enabled(void)
{
	return access("/sys/fs/selinux/enforce", F_OK) == 0;
}

int lsm_read_label(int pid_dir, char *label, size_t size)
{
	char raw[512];

	label[0] = '\0';
	if (apparmor_enabled()) {
		/* attr/current belongs to whichever LSM is first when several are stacked. */
		if (read_file_at(pid_dir, "attr/apparmor/current", raw, sizeof(raw)) > 0 ||
		    read_file_at(pid_dir, "attr/current", raw, sizeof(raw)) > 0)
			return lsm_parse_apparmor(raw, label, size);
		return LSM_NONE;
	}
	if (selinux_enabled() && read_file_at(pid_dir, "attr/current", raw, sizeof(raw)) > 0)
		return lsm_parse_selinux(raw, label, size);
	return LSM_NONE;
}

int lsm_exec_command(int kind, const char *label, char *out, size_t size)
{
	int n;

	if (kind == LSM_APPARMOR)
		n = snprintf(out, size, "exec %s", label);
	else if (kind == LSM_SELINUX)
		n = snprintf(out, size, "%s", label);
	else
		return -EINVAL;
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int lsm_apply_on_exec(int kind, const char *label, int proc_fd)
{
	char cmd[600];
	int r;

	if (kind == LSM_NONE)
		return 0;
	r = lsm_exec_command(kind, label, cmd, sizeof(cmd));
	if (r < 0)
		return r;
	if (kind == LSM_APPARMOR) {
		r = write_file_at(proc_fd, "thread-self/attr/apparmor/exec", cmd);
		if (r == -ENOENT)
			r = write_file_at(proc_fd, "thread-self/attr/exec", cmd);
		return r;
	}
	return write_file_at(proc_fd, "thread-self/attr/exec", cmd);
}
