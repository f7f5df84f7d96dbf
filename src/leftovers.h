/* Ending whatever is left of a session whose reaper was killed. */
#pragma once

#include <sys/stat.h>

/* SIGKILLs every process in the mount namespace ns (stat of /proc/PID/ns/mnt) until none is left. */
void leftovers_kill(const struct stat *ns);
