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
}

static void test_missing_required(void)
{
	struct proc_status st;

	CHECK(proc_status_parse("Name:\tx\nUid:\t0\t0\t0\t0\n", &st) < 0);
	/* "Seccomp_filters" must not be taken for "Seccomp". */
	CHECK_EQ(proc_status_parse("Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nCapInh:\t0\nCapPrm:\t0\n"
				   "CapEff:\t0\nCapBnd:\t0\nSeccomp_filters:\t3\n",
				   &st),
		 0);
	CHECK_EQ(st.seccomp, 0);
	CHECK_EQ(st.umask, -1);
	CHECK_EQ(st.ngroups, 0);
}

int main(void)
{
	test_full();
	test_missing_required();
	return CHECK_DONE();
}
