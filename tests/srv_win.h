/* tests/srv_win.h - what the servers' tests use of POSIX, on Windows (mingw-w64; run
   under Wine by make port-windows). Included by a server's test under _WIN32, after
   test.h (async.h has brought Winsock and windows.h):
     srv_spawn(exe, args, &pid, &port)  the server started (CreateProcess, in a process
                        group of its own, CREATE_NEW_PROCESS_GROUP), its first line of
                        stdout read ("listening on 127.0.0.1:N", 10 s at most): 0 and
                        its pid and port, or -1 (it is ended then)
     srv_run(exe, args, err, cap)  a program run to its end (30 s at most), its stdout
                        dropped, its stderr into err (cap bytes, NUL-terminated; err
                        NULL: dropped): its exit status, or -1
     kill(pid, sig)     SIGKILL: TerminateProcess. SIGTERM: the server's Windows
                        shutdown path, Ctrl-Break to its process group
                        (GenerateConsoleCtrlEvent), which async_signal reports as
                        SIGTERM; -1 when it cannot be sent (Wine: CTRL_BREAK_EVENT is
                        not implemented there, and without a console nothing is: the
                        callers skip what needs it, saying so). SIGINT: -1 (Ctrl-C
                        does not reach a process group of its own)
     waitpid(pid, &st, 0 or WNOHANG)  its end (30 s at most, then it is ended):
                        WIFEXITED(st) and WEXITSTATUS(st) as on POSIX
     srv_win_alarm(s, fn)  alarm and its SIGALRM handler: fn(0) on a thread after s s
     read, write, close on a socket (recv, send, closesocket; on anything else the C
                        library's), recv and send with MSG_DONTWAIT and MSG_WAITALL,
                        errno set from Winsock's error; poll: WSAPoll, pipes too (the
                        C library's descriptors: srv_win_poll); pipe: _pipe
     srv_win_start(argv, out_fd, err_fd)  fork and exec: the server with those as its
                        stdout and stderr
     srv_win_cloexec(fd)  FD_CLOEXEC (a socket or a C library descriptor)
   Winsock is started by the first srv_spawn or srv_dial_init. */
#ifndef SRV_WIN_H
#define SRV_WIN_H
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
#include <errno.h>
#include <fcntl.h>
#include <io.h>
#include <limits.h>
#include <signal.h>
#include <sys/types.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef SIGKILL
#define SIGKILL 9
#endif
#define WNOHANG 1
#define WIFEXITED(st) ((st) >= 0)
#define WEXITSTATUS(st) ((st) & 0xff)

#define SRV_WIN_MAYBE_UNUSED __attribute__((unused))     /* (each test uses a part) */
enum { SRV_WIN_PROCS = 16 };
static struct { DWORD pid; HANDLE h; } srv_win_procs[SRV_WIN_PROCS];

static SRV_WIN_MAYBE_UNUSED void srv_dial_init(void) {
    static int started;
    WSADATA wd;
    if (!started && WSAStartup(MAKEWORD(2, 2), &wd) == 0) started = 1;
}

/* Winsock's error as errno (what the tests compare with) */
static SRV_WIN_MAYBE_UNUSED int srv_win_errno(void) {
    switch (WSAGetLastError()) {
    case WSAECONNRESET: return ECONNRESET;
    case WSAECONNABORTED: return ECONNABORTED;
    case WSAETIMEDOUT: return ETIMEDOUT;
    case WSAEWOULDBLOCK: return EAGAIN;
    case WSAECONNREFUSED: return ECONNREFUSED;
    case WSAESHUTDOWN: return EPIPE;
    default: return EIO;
    }
}
static SRV_WIN_MAYBE_UNUSED int srv_win_is_socket(int fd) {
    int type, len = (int)sizeof type;
    return getsockopt((SOCKET)fd, SOL_SOCKET, SO_TYPE, (char *)&type, &len) == 0;
}
/* FD_CLOEXEC: not inherited by the servers started next (sockets are inheritable
   handles by default on Windows; a server holding a client's copy would keep it open) */
static SRV_WIN_MAYBE_UNUSED void srv_win_cloexec(int fd) {
    HANDLE h = srv_win_is_socket(fd) ? (HANDLE)(SOCKET)fd : (HANDLE)_get_osfhandle(fd);
    if (h != INVALID_HANDLE_VALUE) SetHandleInformation(h, HANDLE_FLAG_INHERIT, 0);
}

/* "exe args" for CreateProcess, exe with backslashes (a relative path is taken from
   the current directory, as execl takes it) */
static SRV_WIN_MAYBE_UNUSED int srv_win_cmdline(char *cmd, size_t size, const char *exe,
                                                const char *args) {
    char *p;
    int n = snprintf(cmd, size, "%s%s%s", exe, args && *args ? " " : "", args ? args : "");
    if (n < 0 || (size_t)n >= size) return -1;
    for (p = cmd; *p && *p != ' '; p++)
        if (*p == '/') *p = '\\';
    return 0;
}

static SRV_WIN_MAYBE_UNUSED HANDLE srv_win_handle(int pid) {
    int i;
    for (i = 0; i < SRV_WIN_PROCS; i++)
        if (srv_win_procs[i].h && srv_win_procs[i].pid == (DWORD)pid)
            return srv_win_procs[i].h;
    return NULL;
}
static SRV_WIN_MAYBE_UNUSED void srv_win_forget(int pid) {
    int i;
    for (i = 0; i < SRV_WIN_PROCS; i++)
        if (srv_win_procs[i].h && srv_win_procs[i].pid == (DWORD)pid) {
            CloseHandle(srv_win_procs[i].h);
            srv_win_procs[i].h = NULL;
        }
}

static SRV_WIN_MAYBE_UNUSED int srv_win_kill(int pid, int sig) {
    HANDLE h = srv_win_handle(pid);
    if (!h) return -1;
    if (sig == SIGTERM)
        return GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT, (DWORD)pid) ? 0 : -1;
    if (sig == SIGINT) return -1;       /* Ctrl-C does not reach a process group of its own */
    return TerminateProcess(h, 128 + (unsigned)sig) ? 0 : -1;
}

static SRV_WIN_MAYBE_UNUSED int srv_win_waitpid(int pid, int *status, int flags) {
    HANDLE h = srv_win_handle(pid);
    DWORD code = 0, r;
    if (!h) return -1;
    r = WaitForSingleObject(h, flags & WNOHANG ? 0 : 30000);
    if (r == WAIT_TIMEOUT && (flags & WNOHANG)) return 0;
    if (r != WAIT_OBJECT_0) {                   /* stuck: ended, and said so */
        TerminateProcess(h, 137);
        WaitForSingleObject(h, 5000);
        code = 137;
    } else if (!GetExitCodeProcess(h, &code)) {
        code = 255;
    }
    if (status) *status = (int)(code & 0xff);
    srv_win_forget(pid);
    return pid;
}

/* alarm(seconds) with its handler: a thread that calls fn after the delay */
static void (*srv_win_alarm_fn)(int);
static DWORD srv_win_alarm_s;
static SRV_WIN_MAYBE_UNUSED DWORD WINAPI srv_win_alarm_run(void *arg) {
    (void)arg;
    Sleep(srv_win_alarm_s * 1000);
    srv_win_alarm_fn(0);
    return 0;
}
static SRV_WIN_MAYBE_UNUSED void srv_win_alarm(unsigned seconds, void (*fn)(int)) {
    HANDLE h;
    srv_win_alarm_fn = fn;
    srv_win_alarm_s = seconds;
    if ((h = CreateThread(NULL, 0, srv_win_alarm_run, NULL, 0, NULL)) != NULL) CloseHandle(h);
}

/* recv and send with MSG_DONTWAIT (here a flag of ours: not ready is EAGAIN, looked
   at with WSAPoll first; a send then takes at most 64 KB) and MSG_WAITALL (a loop),
   errno set */
#define SRV_WIN_DONTWAIT 0x40000000
static SRV_WIN_MAYBE_UNUSED int srv_win_ready(int fd, short ev) {
    WSAPOLLFD p;
    p.fd = (SOCKET)fd;
    p.events = ev;
    p.revents = 0;
    return WSAPoll(&p, 1, 0) > 0;
}
static SRV_WIN_MAYBE_UNUSED ssize_t srv_win_recv(int fd, void *buf, size_t n,
                                                 int flags) {
    size_t got = 0;
    int k;
    if ((flags & SRV_WIN_DONTWAIT) && !srv_win_ready(fd, POLLIN)) {
        errno = EAGAIN;
        return -1;
    }
    flags &= ~SRV_WIN_DONTWAIT;
    do {
        k = recv((SOCKET)fd, (char *)buf + got, n - got > INT_MAX ? INT_MAX : (int)(n - got),
                 flags & ~MSG_WAITALL);
        if (k < 0) {
            errno = srv_win_errno();
            return got ? (ssize_t)got : -1;
        }
        got += (size_t)k;
    } while ((flags & MSG_WAITALL) && k > 0 && got < n);
    return (ssize_t)got;
}
static SRV_WIN_MAYBE_UNUSED ssize_t srv_win_send(int fd, const void *buf, size_t n,
                                                 int flags) {
    int k;
    if (flags & SRV_WIN_DONTWAIT) {
        if (!srv_win_ready(fd, POLLOUT)) {
            errno = EAGAIN;
            return -1;
        }
        if (n > 65536) n = 65536;
    }
    k = send((SOCKET)fd, (const char *)buf, n > INT_MAX ? INT_MAX : (int)n,
             flags & ~SRV_WIN_DONTWAIT);
    if (k < 0) errno = srv_win_errno();
    return k;
}

/* SO_RCVTIMEO in milliseconds (Winsock's DWORD, not a timeval) */
static SRV_WIN_MAYBE_UNUSED void srv_win_recv_timeout(int fd, int ms) {
    DWORD v = (DWORD)ms;
    setsockopt((SOCKET)fd, SOL_SOCKET, SO_RCVTIMEO, (const char *)&v, sizeof v);
}
/* exe (".exe" added) with argv[1..] (quoted where empty or with a space), its stdout
   and stderr the C library's descriptors out_fd and err_fd (-1: ours), in a process
   group of its own: its pid, or -1 */
static SRV_WIN_MAYBE_UNUSED int srv_win_start(char *const argv[], int out_fd,
                                              int err_fd) {
    STARTUPINFOA si;
    PROCESS_INFORMATION pi;
    HANDLE ho = out_fd >= 0 ? (HANDLE)_get_osfhandle(out_fd) : GetStdHandle(STD_OUTPUT_HANDLE);
    HANDLE he = err_fd >= 0 ? (HANDLE)_get_osfhandle(err_fd) : GetStdHandle(STD_ERROR_HANDLE);
    char cmd[2048];
    size_t n;
    int i, ok;
    srv_dial_init();
    n = (size_t)snprintf(cmd, sizeof cmd, "%s.exe", argv[0]);
    for (i = 0; cmd[i]; i++)
        if (cmd[i] == '/') cmd[i] = '\\';
    for (i = 1; argv[i] && n < sizeof cmd - 8; i++) {
        int q = !argv[i][0] || strchr(argv[i], ' ');
        n += (size_t)snprintf(cmd + n, sizeof cmd - n, q ? " \"%s\"" : " %s", argv[i]);
    }
    if (n >= sizeof cmd - 8) return -1;
    for (i = 0; i < SRV_WIN_PROCS && srv_win_procs[i].h; i++) continue;
    if (i == SRV_WIN_PROCS) return -1;
    memset(&si, 0, sizeof si);
    si.cb = sizeof si;
    si.dwFlags = STARTF_USESTDHANDLES;
    si.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
    si.hStdOutput = ho;
    si.hStdError = he;
    if (out_fd >= 0) SetHandleInformation(ho, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT);
    if (err_fd >= 0) SetHandleInformation(he, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT);
    ok = CreateProcessA(NULL, cmd, NULL, NULL, TRUE, CREATE_NEW_PROCESS_GROUP, NULL, NULL, &si,
                        &pi);
    if (out_fd >= 0) SetHandleInformation(ho, HANDLE_FLAG_INHERIT, 0);
    if (err_fd >= 0) SetHandleInformation(he, HANDLE_FLAG_INHERIT, 0);
    if (!ok) return -1;
    CloseHandle(pi.hThread);
    srv_win_procs[i].pid = pi.dwProcessId;
    srv_win_procs[i].h = pi.hProcess;
    return (int)pi.dwProcessId;
}

/* poll where some entries may be the C library's descriptors of pipes (WSAPoll takes
   sockets only): those are looked at with PeekNamedPipe, every few milliseconds; no
   entries: a sleep */
static SRV_WIN_MAYBE_UNUSED int srv_win_poll(WSAPOLLFD *p, unsigned long n, int ms) {
    DWORD t0 = GetTickCount();
    unsigned long i;
    int sockets = 1;
    if (n == 0) {
        Sleep(ms < 0 ? 0 : (DWORD)ms);
        return 0;
    }
    for (i = 0; i < n; i++)
        if ((int)p[i].fd >= 0 && !srv_win_is_socket((int)p[i].fd)) sockets = 0;
    if (sockets) return WSAPoll(p, n, ms);
    for (;;) {
        int ready = 0;
        for (i = 0; i < n; i++) {
            DWORD avail = 0;
            p[i].revents = 0;
            if ((int)p[i].fd < 0) continue;
            if (srv_win_is_socket((int)p[i].fd)) {
                WSAPOLLFD one = p[i];
                if (WSAPoll(&one, 1, 0) > 0) p[i].revents = one.revents;
            } else if (!PeekNamedPipe((HANDLE)_get_osfhandle((int)p[i].fd), NULL, 0, NULL,
                                      &avail, NULL)) {
                p[i].revents = POLLHUP;
            } else if (avail) {
                p[i].revents = POLLIN & p[i].events;
            }
            if (p[i].revents) ready++;
        }
        if (ready || (ms >= 0 && GetTickCount() - t0 >= (DWORD)ms)) return ready;
        Sleep(2);
    }
}

static SRV_WIN_MAYBE_UNUSED int srv_spawn(const char *exe, const char *args, int *pid,
                                          int *port) {
    SECURITY_ATTRIBUTES sa;
    STARTUPINFOA si;
    PROCESS_INFORMATION pi;
    HANDLE rd, wr;
    char cmd[1024], line[128];
    DWORD got, avail, t0;
    size_t n = 0;
    int i;
    srv_dial_init();
    *pid = -1;
    if (srv_win_cmdline(cmd, sizeof cmd, exe, args) < 0) return -1;
    memset(&sa, 0, sizeof sa);
    sa.nLength = sizeof sa;
    sa.bInheritHandle = TRUE;
    if (!CreatePipe(&rd, &wr, &sa, 0)) return -1;
    SetHandleInformation(rd, HANDLE_FLAG_INHERIT, 0);
    memset(&si, 0, sizeof si);
    si.cb = sizeof si;
    si.dwFlags = STARTF_USESTDHANDLES;
    si.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
    si.hStdOutput = wr;
    si.hStdError = GetStdHandle(STD_ERROR_HANDLE);
    if (!CreateProcessA(NULL, cmd, NULL, NULL, TRUE, CREATE_NEW_PROCESS_GROUP, NULL, NULL,
                        &si, &pi)) {
        CloseHandle(rd);
        CloseHandle(wr);
        return -1;
    }
    CloseHandle(wr);
    CloseHandle(pi.hThread);
    for (i = 0; i < SRV_WIN_PROCS && srv_win_procs[i].h; i++) continue;
    if (i == SRV_WIN_PROCS) {
        TerminateProcess(pi.hProcess, 1);
        CloseHandle(pi.hProcess);
        CloseHandle(rd);
        return -1;
    }
    srv_win_procs[i].pid = pi.dwProcessId;
    srv_win_procs[i].h = pi.hProcess;
    *pid = (int)pi.dwProcessId;
    t0 = GetTickCount();
    while (n < sizeof line - 1 && GetTickCount() - t0 < 10000) {  /* one line, 10 s */
        if (!PeekNamedPipe(rd, NULL, 0, NULL, &avail, NULL)) break;
        if (avail == 0) {
            Sleep(5);
            continue;
        }
        if (!ReadFile(rd, line + n, 1, &got, NULL) || got != 1) break;
        if (line[n++] == '\n') break;
    }
    line[n] = 0;
    CloseHandle(rd);                            /* later lines: the server's write fails */
    if (strncmp(line, "listening on 127.0.0.1:", 23) != 0 || (*port = atoi(line + 23)) <= 0) {
        srv_win_kill(*pid, SIGKILL);
        srv_win_waitpid(*pid, NULL, 0);
        *pid = -1;
        return -1;
    }
    return 0;
}

static SRV_WIN_MAYBE_UNUSED int srv_run(const char *exe, const char *args, char *err,
                                        size_t cap) {
    SECURITY_ATTRIBUTES sa;
    STARTUPINFOA si;
    PROCESS_INFORMATION pi;
    HANDLE rd, wr, nul;
    char cmd[1024], sink[256];
    DWORD code = 255, got, avail, t0;
    size_t n = 0;
    if (srv_win_cmdline(cmd, sizeof cmd, exe, args) < 0) return -1;
    memset(&sa, 0, sizeof sa);
    sa.nLength = sizeof sa;
    sa.bInheritHandle = TRUE;
    if (!CreatePipe(&rd, &wr, &sa, 65536)) return -1;
    SetHandleInformation(rd, HANDLE_FLAG_INHERIT, 0);
    nul = CreateFileA("NUL", GENERIC_WRITE, FILE_SHARE_WRITE, &sa, OPEN_EXISTING, 0, NULL);
    memset(&si, 0, sizeof si);
    si.cb = sizeof si;
    si.dwFlags = STARTF_USESTDHANDLES;
    si.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
    si.hStdOutput = nul;
    si.hStdError = wr;
    if (!CreateProcessA(NULL, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi)) {
        CloseHandle(rd);
        CloseHandle(wr);
        CloseHandle(nul);
        return -1;
    }
    CloseHandle(wr);
    CloseHandle(nul);
    CloseHandle(pi.hThread);
    t0 = GetTickCount();
    for (;;) {                                  /* its stderr, until it ends (30 s) */
        if (!PeekNamedPipe(rd, NULL, 0, NULL, &avail, NULL)) break;     /* closed */
        if (avail) {
            char *to = err && n + 1 < cap ? err + n : sink;
            DWORD want = (DWORD)(to == sink ? sizeof sink : cap - 1 - n);
            if (!ReadFile(rd, to, want, &got, NULL)) break;
            if (to != sink) n += got;
        } else if (WaitForSingleObject(pi.hProcess, 5) == WAIT_OBJECT_0 &&
                   (!PeekNamedPipe(rd, NULL, 0, NULL, &avail, NULL) || !avail)) {
            break;
        } else if (GetTickCount() - t0 > 30000) {
            TerminateProcess(pi.hProcess, 255);
            break;
        }
    }
    if (err && cap) err[n] = 0;
    CloseHandle(rd);
    WaitForSingleObject(pi.hProcess, 5000);
    GetExitCodeProcess(pi.hProcess, &code);
    CloseHandle(pi.hProcess);
    return (int)code;
}

static SRV_WIN_MAYBE_UNUSED ssize_t srv_win_read(int fd, void *buf, size_t n) {
    int k;
    if (!srv_win_is_socket(fd)) return _read(fd, buf, (unsigned)n);
    k = recv((SOCKET)fd, (char *)buf, n > INT_MAX ? INT_MAX : (int)n, 0);
    if (k < 0) errno = srv_win_errno();
    return k;
}
static SRV_WIN_MAYBE_UNUSED ssize_t srv_win_write(int fd, const void *buf, size_t n) {
    int k;
    if (!srv_win_is_socket(fd)) return _write(fd, buf, (unsigned)n);
    k = send((SOCKET)fd, (const char *)buf, n > INT_MAX ? INT_MAX : (int)n, 0);
    if (k < 0) errno = srv_win_errno();
    return k;
}
static SRV_WIN_MAYBE_UNUSED int srv_win_close(int fd) {
    if (!srv_win_is_socket(fd)) return _close(fd);
    return closesocket((SOCKET)fd) == 0 ? 0 : -1;
}
/* the names the tests call, from here on ours */
#define read(fd, b, n) srv_win_read(fd, b, n)
#define write(fd, b, n) srv_win_write(fd, b, n)
#define close(fd) srv_win_close(fd)
#define poll(p, n, ms) srv_win_poll(p, (unsigned long)(n), ms)
#define pipe(p) _pipe(p, 65536, _O_BINARY | _O_NOINHERIT)
#define WTERMSIG(st) 0
#define kill(pid, sig) srv_win_kill(pid, sig)
#define waitpid(pid, st, fl) srv_win_waitpid(pid, st, fl)
#define recv(fd, b, n, fl) srv_win_recv(fd, b, n, fl)
#define send(fd, b, n, fl) srv_win_send(fd, b, n, fl)
#define SHUT_WR SD_SEND
#define MSG_DONTWAIT SRV_WIN_DONTWAIT
#endif