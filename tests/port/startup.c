/* startup.c - minimal Cortex-M startup for the freestanding port test: the
   vector table, a reset handler (copies .data, zeroes .bss, calls main, exits
   with main's verdict), a fault handler that fails loudly instead of hanging,
   memcpy/memset (the compiler and async.h may call them), and ARM semihosting
   (bkpt 0xab, the only form ARMv6-M has). Build it with
   -fno-tree-loop-distribute-patterns so the loops below are not turned into
   calls to memcpy/memset themselves. */
#include <stddef.h>
#include <stdint.h>
#include "port.h"

extern uint32_t _sidata[], _sdata[], _edata[], _sbss[], _ebss[];
extern char _estack[];
int main(void);
void port_reset(void);

enum {
    SYS_WRITE0 = 0x04,
    SYS_EXIT = 0x18,
    ADP_Stopped_RunTimeErrorUnknown = 0x20023,
    ADP_Stopped_ApplicationExit = 0x20026
};

static int semihost(int op, const void *arg) {
    register int r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ __volatile__("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void port_write(const char *s) {
    (void)semihost(SYS_WRITE0, s);
}

/* On 32-bit ARM, SYS_EXIT takes the reason code itself in r1. qemu exits with
   status 0 for ApplicationExit and 1 for any other reason. */
void port_exit(int ok) {
    uintptr_t reason = ok ? ADP_Stopped_ApplicationExit : ADP_Stopped_RunTimeErrorUnknown;
    (void)semihost(SYS_EXIT, (const void *)reason);
    for (;;) {
    }
}

void *memcpy(void *dst, const void *src, size_t n) {
    unsigned char *d = (unsigned char *)dst;
    const unsigned char *s = (const unsigned char *)src;
    while (n--) *d++ = *s++;
    return dst;
}

void *memset(void *dst, int c, size_t n) {
    unsigned char *d = (unsigned char *)dst;
    while (n--) *d++ = (unsigned char)c;
    return dst;
}

void port_reset(void) {
    uint32_t *src = _sidata, *dst;
    for (dst = _sdata; dst < _edata;) *dst++ = *src++;
    for (dst = _sbss; dst < _ebss;) *dst++ = 0;
    port_exit(main() == 0);
}

/* HardFault and everything else: a failed ASYNC_ASSERT (__builtin_trap, an
   undefined instruction), a bad access, or an unexpected interrupt. */
static void port_fault(void) {
    port_write("FAIL fault: HardFault or unexpected exception (a failed ASYNC_ASSERT traps)\n");
    port_exit(0);
}

typedef void (*port_handler)(void);
__attribute__((__section__(".vectors"), __used__))
static const struct {
    void *initial_sp;
    port_handler handler[15];   /* Reset, NMI, HardFault ... SysTick */
} port_vectors = {
    _estack,
    { port_reset, port_fault, port_fault, port_fault, port_fault, port_fault, port_fault,
      port_fault, port_fault, port_fault, port_fault, port_fault, port_fault, port_fault,
      port_fault }
};
