/* Layout check, part 1: the implementation, built with the default (hosted) profile. */
#define ASYNC_IMPLEMENTATION
#include "async.h"
