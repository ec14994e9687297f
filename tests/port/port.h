/* port.h - what startup.c gives the freestanding port test: output and exit
   through ARM semihosting (qemu-system-arm -semihosting-config enable=on). */
#ifndef PORT_H
#define PORT_H

void port_write(const char *s);                         /* SYS_WRITE0 */
void port_exit(int ok) __attribute__((__noreturn__));   /* SYS_EXIT: qemu exits 0 if ok */

#endif
