/* tests/port/echo_check.c PORT - a client of examples/echo.c on 127.0.0.1:PORT (built
   for the host; make port-windows runs it against echo.exe under Wine): 1 MB of a known
   pattern sent, the write side shut, everything read back up to the server's EOF.
   Exit 0 when the bytes came back whole and in order, 1 otherwise (a hang: 20 s). */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define N (1 << 20)
static unsigned char out[N], in[N + 1];

int main(int argc, char **argv) {
    struct sockaddr_in a;
    size_t sent = 0, got = 0;
    int fd, i, wr_open = 1;
    if (argc != 2) return 2;
    for (i = 0; i < N; i++) out[i] = (unsigned char)(i * 7 + (i >> 11));
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)atoi(argv[1]));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
        connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        perror("echo_check: connect");
        return 1;
    }
    for (;;) {                          /* write and read side by side: no deadlock */
        struct pollfd p;
        ssize_t n;
        p.fd = fd;
        p.events = (short)(POLLIN | (wr_open ? POLLOUT : 0));
        if (poll(&p, 1, 20000) <= 0) {
            fprintf(stderr, "echo_check: no progress in 20 s (%zu sent, %zu back)\n", sent, got);
            return 1;
        }
        if (wr_open && (p.revents & POLLOUT)) {
            n = send(fd, out + sent, N - sent > 65536 ? 65536 : N - sent, 0);
            if (n > 0) sent += (size_t)n;
            if (sent == N) {
                shutdown(fd, SHUT_WR);
                wr_open = 0;
            }
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            n = recv(fd, in + got, sizeof in - got, 0);
            if (n <= 0) break;          /* the server's EOF (or an error) */
            got += (size_t)n;
        }
    }
    close(fd);
    if (got != N || memcmp(in, out, N) != 0) {
        fprintf(stderr, "echo_check: %zu of %d bytes came back%s\n", got, N,
                got == N ? ", not the same" : "");
        return 1;
    }
    return 0;
}
