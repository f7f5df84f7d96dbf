/* The tool runner, with real processes: capture, exit status, timeout, missing tools. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "check.h"
#include "util/run.h"

static double seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_capture(void)
{
	char *argv[] = { "sh", "-c", "echo out; echo err >&2; exit 3", NULL };
	struct run_result r;
	char line[64];

	CHECK_EQ(run_capture(argv, 5000, &r), 0);
	CHECK(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 3);
	CHECK(!run_succeeded(&r));
	CHECK(!strcmp(r.out, "out\n") && r.out_len == 4);
	CHECK(!strcmp(r.err, "err\n"));
	CHECK(!strcmp(run_first_line(&r, line, sizeof(line)), "err"));
	run_result_free(&r);
}

static void test_env_and_stdin(void)
{
	/* LC_ALL=C for parsable output; stdin is /dev/null so nothing waits for input. */
	char *argv[] = { "sh", "-c", "echo $LC_ALL; cat", NULL };
	struct run_result r;

	CHECK_EQ(run_capture(argv, 5000, &r), 0);
	CHECK(run_succeeded(&r));
	CHECK(!strcmp(r.out, "C\n"));
	CHECK(!strcmp(r.err, ""));
	run_result_free(&r);
}

static void test_timeout(void)
{
	/* The sleep is in the tool's process group: killed along with it. */
	char *argv[] = { "sh", "-c", "sleep 30 & sleep 30", NULL };
	struct run_result r;
	double t0 = seconds();

	CHECK_EQ(run_capture(argv, 300, &r), -ETIMEDOUT);
	CHECK(seconds() - t0 < 5);
}

static void test_lingering_child(void)
{
	/* The tool exits while a background child keeps stdout open: no wait for the child. */
	char *argv[] = { "sh", "-c", "echo done; sleep 30 &", NULL };
	struct run_result r;
	double t0 = seconds();

	CHECK_EQ(run_capture(argv, 10000, &r), 0);
	CHECK(seconds() - t0 < 5);
	CHECK(!strcmp(r.out, "done\n"));
	run_result_free(&r);
}

static void test_big_output(void)
{
	char *argv[] = { "sh", "-c", "head -c 6000000 /dev/zero | tr '\\0' x", NULL };
	struct run_result r;

	CHECK_EQ(run_capture(argv, 20000, &r), 0);
	CHECK(run_succeeded(&r));
	CHECK(r.out_len >= 4000000 && r.out_len <= RUN_MAX_OUTPUT);
	CHECK_EQ(strlen(r.out), r.out_len);
	run_result_free(&r);
}

static void test_missing(void)
{
	char *argv[] = { "cntr-no-such-tool", NULL };
	char *path_argv[] = { "/nonexistent/tool", NULL };
	struct run_result r;
	char path[256];

	CHECK_EQ(run_capture(argv, 1000, &r), -ENOENT);
	CHECK_EQ(run_capture(path_argv, 1000, &r), -ENOENT);
	CHECK_EQ(run_find_tool("sh", path, sizeof(path)), 0);
	CHECK(strchr(path, '/') != NULL);
	CHECK_EQ(run_find_tool("cntr-no-such-tool", path, sizeof(path)), -ENOENT);
	CHECK_EQ(run_find_tool("/bin/sh", path, sizeof(path)), 0);
	CHECK(!strcmp(path, "/bin/sh"));
	CHECK_EQ(run_find_tool("/etc/passwd", path, sizeof(path)), -ENOENT);
	CHECK_EQ(run_find_tool("/tmp", path, sizeof(path)), -ENOENT);
}

static void test_first_line(void)
{
	struct run_result r = { .status = 1 << 8,
				.out = "",
				.err = "  Error: No such container: x\n"
				       "more\n" };
	char line[64];

	CHECK(!strcmp(run_first_line(&r, line, sizeof(line)), "Error: No such container: x"));
	r.err = "";
	r.out = "only stdout\n";
	CHECK(!strcmp(run_first_line(&r, line, sizeof(line)), "only stdout"));
	r.out = "";
	CHECK(!strcmp(run_first_line(&r, line, sizeof(line)), "exit status 1"));
}

int main(void)
{
	test_capture();
	test_env_and_stdin();
	test_timeout();
	test_lingering_child();
	test_big_output();
	test_missing();
	test_first_line();
	return CHECK_DONE();
}
