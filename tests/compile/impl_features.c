/* The implementation file sees what any other file of the user's sees: in GNU mode
   (the default) async.h does not narrow the C library's feature set. It used to
   force _POSIX_C_SOURCE, which hid the user's usleep (and SO_REUSEPORT) in this file
   only. (In strict -std=c99 it asks for POSIX, which glibc then hides.) */
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include <unistd.h>
#include <sys/socket.h>

int main(void) {
    usleep(1);
    return SO_REUSEPORT > 0 ? 0 : 1;
}
