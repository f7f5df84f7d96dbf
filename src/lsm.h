/*
 * AppArmor and SELinux: the session runs under the target's label. The label
 * is read on the host before anything else; it is applied by the payload
 * process itself, on exec, through its own attr file (an attr file opened by
 * another task cannot be used).
 */
#pragma once

#include <stddef.h>

enum lsm_kind { LSM_NONE, LSM_APPARMOR, LSM_SELINUX };

/* Which LSM confines process pid_dir (a /proc/PID dir fd) and with which label. */
int lsm_read_label(int pid_dir, char *label, size_t size);

/*
 * Pure decisions, unit-tested: the AppArmor profile name from an attr/current
 * text ("docker-default (enforce)\n" -> "docker-default"; "unconfined" -> none),
 * and the SELinux context (strip the trailing NUL/newline).
 */
int lsm_parse_apparmor(const char *raw, char *label, size_t size);
int lsm_parse_selinux(const char *raw, char *label, size_t size);
/* The text to write to attr/exec for the kind. */
int lsm_exec_command(int kind, const char *label, char *out, size_t size);

/*
 * Makes the next execve of the calling thread switch to label. proc_fd is a
 * /proc dir fd whose thread-self is the caller. Returns 0 or -errno.
 */
int lsm_apply_on_exec(int kind, const char *label, int proc_fd);
