#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "util/options.h"
#include "util/parse.h"

static void test_uint(void)
{
	uint64_t v = 0;

	CHECK_EQ(parse_uint("42", 1, 100, &v), 0);
	CHECK_EQ(v, 42);
	CHECK_EQ(parse_uint("0", 1, 100, &v), -ERANGE);
	CHECK_EQ(parse_uint("101", 1, 100, &v), -ERANGE);
	CHECK_EQ(parse_uint("", 0, 100, &v), -EINVAL);
	CHECK_EQ(parse_uint("4x", 0, 100, &v), -EINVAL);
	CHECK_EQ(parse_uint("-1", 0, 100, &v), -EINVAL);
	CHECK_EQ(parse_uint(" 1", 0, 100, &v), -EINVAL);
	CHECK_EQ(parse_uint("99999999999999999999999", 0, UINT64_MAX, &v), -ERANGE);
}

static void test_seconds(void)
{
	double d = -1;

	CHECK_EQ(parse_seconds("1.5", &d), 0);
	CHECK(d == 1.5);
	CHECK_EQ(parse_seconds("0", &d), 0);
	CHECK(d == 0);
	CHECK_EQ(parse_seconds(".25", &d), 0);
	CHECK_EQ(parse_seconds("-1", &d), -EINVAL);
	CHECK_EQ(parse_seconds("nan", &d), -EINVAL);
	CHECK_EQ(parse_seconds("inf", &d), -EINVAL);
	CHECK_EQ(parse_seconds("1s", &d), -EINVAL);
}

static void test_optlist(void)
{
	char buf[] = "ro,,fsname=src,uid_map=0:1:2,x";
	char *cursor = buf, *value, *key;

	key = optlist_next(&cursor, &value);
	CHECK(key && !strcmp(key, "ro") && !value);
	key = optlist_next(&cursor, &value);
	CHECK(key && !strcmp(key, "fsname") && value && !strcmp(value, "src"));
	key = optlist_next(&cursor, &value);
	CHECK(key && !strcmp(key, "uid_map") && value && !strcmp(value, "0:1:2"));
	key = optlist_next(&cursor, &value);
	CHECK(key && !strcmp(key, "x") && !value);
	CHECK(optlist_next(&cursor, &value) == NULL);
}

int main(void)
{
	test_uint();
	test_seconds();
	test_optlist();
	return CHECK_DONE();
}
