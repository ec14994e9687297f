/* impl_examples.c - async.h's implementation alone, as an example's own file would compile it:
   make builds it once (and once with -DASYNC_USE_EPOLL) and links the examples against
   it, each compiled with -DASYNC_IMPLEMENTATION_INCLUDED (see the Makefile). */
#define ASYNC_IMPLEMENTATION
#include "async.h"
