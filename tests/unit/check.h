/* A minimal test harness: CHECK records failures, main returns their count. */
#pragma once

#include <stdio.h>

static int check_failures;

#define CHECK(cond)                                                                              \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			check_failures++;                                                        \
		}                                                                                \
	} while (0)

#define CHECK_EQ(a, b)                                                                            \
	do {                                                                                      \
		long long va_ = (long long)(a), vb_ = (long long)(b);                             \
		if (va_ != vb_) {                                                                 \
			fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__, \
				#a, va_, vb_);                                                    \
			check_failures++;                                                         \
		}                                                                                 \
	} while (0)

#define CHECK_DONE() \
	(check_failures ? (fprintf(stderr, "%d check(s) failed\n", check_failures), 1) : 0)
