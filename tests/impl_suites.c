/* impl_suites.c - async.h's implementation with the tests' hooks (tests/test.h: the
   counting allocator that can fail the Nth allocation, the recording ASYNC_ASSERT),
   compiled once per form (C99 with -DTEST_FAULTS, computed goto, C++, and with
   -DASYNC_USE_EPOLL) by make test; each suite is compiled with the same flags plus
   -DTEST_SPLIT and linked against it. */
#ifndef TEST_SPLIT
#define TEST_SPLIT
#endif
#define TEST_IMPL
#include "test.h"
