#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "context.h"

static const char *status_text =
	"Name:\tsleep\nUmask:\t0027\nState:\tS (sleeping)\nTgid:\t42\nNgid:\t0\nPid:\t42\n"
	"PPid:\t1\nUid:\t1000\t1001\t1002\t1003\nGid:\t2000\t2001\t2002\t2003\n"
	"Groups:\t4 24 2001 \nNStgid:\t42\t1\nNSpid:\t42\t7\t1\n"
	"CapInh:\t0000000000000000\nCapPrm:\t00000000a80425fb\nCapEff:\t00000000a80425fb\n"
	"CapBnd:\t000001ffffffffff\nCapAmb:\t0000000000000400\nNoNewPrivs:\t1\nSeccomp:\t2\n"
	"Seccomp_filters:\t1\n";

static void test_full(void)
{
	struct proc_status st;

	CHECK_EQ(proc_status_parse(status_text, &st), 0);
	CHECK_EQ(st.uid, 1001); /* effective */
	CHECK_EQ(st.gid, 2001);
	CHECK_EQ(st.ngroups, 3);
	CHECK_EQ(st.groups[2], 2001);
	CHECK_EQ(st.cap_prm, 0xa80425fbULL);
	CHECK_EQ(st.cap_bnd, 0x1ffffffffffULL);
	CHECK_EQ(st.cap_amb, 0x400);
	CHECK(st.no_new_privs);
	CHECK_EQ(st.seccomp, 2);
	CHECK_EQ(st.local_pid, 1); /* innermost NSpid column */
	CHECK_EQ(st.umask, 027);
	CHECK_EQ(st.state, 'S');
	proc_status_free(&st);
}

/* status_text without the line starting with key (and its newline). */
static void without(const char *key, char *out, size_t size)
{
	const char *at = strstr(status_text, key), *end = strchr(at, '\n') + 1;

	snprintf(out, size, "%.*s%s", (int)(at - status_text), status_text, end);
}

static void test_missing_required(void)
{
	static const char *const required[] = {
		"Umask:",  "State:",  "Uid:",	 "Gid:",    "Groups:",	   "NSpid:",  "CapInh:",
		"CapPrm:", "CapEff:", "CapBnd:", "CapAmb:", "NoNewPrivs:", "Seccomp:"
	};
	struct proc_status st;
	char text[1024];

	/* A missing NoNewPrivs or Seccomp read as "off" would shed the target's filter. */
	for (size_t k = 0; k < sizeof(required) / sizeof(required[0]); k++) {
		without(required[k], text, sizeof(text));
		if (proc_status_parse(text, &st) == 0) {
			fprintf(stderr, "parsed without %s\n", required[k]);
			CHECK(0);
			proc_status_free(&st);
		}
	}
	/* "Seccomp_filters" must not be taken for "Seccomp". */
	without("Seccomp:", text, sizeof(text));
	CHECK(strstr(text, "Seccomp_filters") != NULL);
	CHECK(proc_status_parse(text, &st) < 0);
	CHECK(proc_status_parse("Seccomp:\tx\n", &st) < 0);
}

/* A status of any length is parsed whole, with every group. */
static void test_many_groups(void)
{
	size_t n = 65536, cap = n * 8 + 1024, len;
	char *text = malloc(cap);
	struct proc_status st;

	if (!text)
		return;
	len = (size_t)snprintf(text, cap,
			       "Umask:\t0022\nState:\tS\nUid:\t0\t0\t0\t0\n"
			       "Gid:\t0\t0\t0\t0\nGroups:\t");
	for (size_t k = 0; k < n; k++)
		len += (size_t)snprintf(text + len, cap - len, "%zu ", k + 1);
	snprintf(text + len, cap - len,
		 "\nNSpid:\t9\nCapInh:\t0\nCapPrm:\t0\nCapEff:\t0\nCapBnd:\t0\n"
		 "CapAmb:\t0\nNoNewPrivs:\t1\nSeccomp:\t2\n");
	CHECK_EQ(proc_status_parse(text, &st), 0);
	CHECK_EQ(st.ngroups, 65536);
	CHECK_EQ(st.groups[65535], 65536);
	CHECK(st.no_new_privs);
	CHECK_EQ(st.seccomp, 2);
	proc_status_free(&st);
	/* One more than the kernel allows is not a status the kernel wrote. */
	snprintf(text + len, cap - len,
		 "99999 \nNSpid:\t9\nCapInh:\t0\nCapPrm:\t0\nCapEff:\t0\nCapBnd:\t0\n"
		 "CapAmb:\t0\nNoNewPrivs:\t1\nSeccomp:\t2\n");
	CHECK(proc_status_parse(text, &st) < 0);
	free(text);
}

int main(void)
{
	test_full();
	test_missing_required();
	test_many_groups();
	return CHECK_DONE();
}
