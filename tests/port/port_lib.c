/* port_lib.c - the library alone: async.h's implementation (coroutine, core,
   time and debug layers) as one object, so tests/port/run.sh can check what it
   imports (arm-none-eabi-nm -u) and how big it is (arm-none-eabi-size). Built
   with -ffreestanding, so async.h selects ASYNC_FREESTANDING by itself. */
#define ASYNC_IMPLEMENTATION
#include "async.h"
