/* resp_check.h - is a byte string well-formed RESP2, as a server sends it? Shared by
   tests/test_srv_redis.c and tests/fuzz/fuzz_redis_cmd.c.

   resp_value_len(p, n) is the length of the one value at p[0..n): > 0 complete, 0 the
   bytes end before it does, -1 malformed. Strict about what a client would choke on:
   a simple string or error is one line without a bare CR or LF (an error is not
   empty), an integer is Redis's ("-0", "+1", "01" are not), a bulk has exactly its
   length then CRLF, an array has its count of values (nested up to 8 deep); -1 is
   allowed as a null bulk or array. */
#ifndef RESP_CHECK_H
#define RESP_CHECK_H
#include <stddef.h>
#include <string.h>

/* The line at p (up to CRLF): its length without the CRLF, -2 need more, -1 bad. */
static inline long resp_check_line(const char *p, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) {
        if (p[i] == '\n') return -1;
        if (p[i] == '\r') {
            if (i + 1 >= n) return -2;
            return p[i + 1] == '\n' ? (long)i : -1;
        }
    }
    return -2;
}

/* A decimal integer as Redis prints one: 0, or an optional '-' and no leading zero. */
static inline int resp_check_int(const char *p, size_t n, long long *v) {
    size_t i = 0;
    int neg = 0;
    unsigned long long u = 0;
    if (n == 0 || n > 20) return -1;
    if (p[0] == '-') {
        neg = 1;
        i = 1;
    }
    if (i >= n || p[i] < '0' || p[i] > '9' || (p[i] == '0' && n > i + 1) ||
        (neg && p[i] == '0'))
        return -1;
    for (; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return -1;
        if (u > 922337203685477580ull) return -1;
        u = u * 10 + (unsigned)(p[i] - '0');
    }
    if (u > 9223372036854775807ull + (unsigned long long)neg) return -1;
    *v = neg ? -(long long)(u - 1) - 1 : (long long)u;
    return 0;
}

static inline long resp_value_len_(const char *p, size_t n, int depth) {
    long line;
    long long v;
    size_t pos;
    if (n == 0) return 0;
    if (depth > 8) return -1;
    line = resp_check_line(p + 1, n - 1);
    if (line == -2) return 0;
    if (line < 0) return -1;
    pos = 1 + (size_t)line + 2;
    switch (p[0]) {
    case '+':
        return (long)pos;
    case '-':
        return line > 0 ? (long)pos : -1;
    case ':':
        return resp_check_int(p + 1, (size_t)line, &v) < 0 ? -1 : (long)pos;
    case '$':
        if (resp_check_int(p + 1, (size_t)line, &v) < 0 || v < -1) return -1;
        if (v == -1) return (long)pos;
        if (n - pos < (size_t)v + 2) return 0;
        if (p[pos + (size_t)v] != '\r' || p[pos + (size_t)v + 1] != '\n') return -1;
        return (long)(pos + (size_t)v + 2);
    case '*':
        if (resp_check_int(p + 1, (size_t)line, &v) < 0 || v < -1) return -1;
        for (; v > 0; v--) {
            long k = resp_value_len_(p + pos, n - pos, depth + 1);
            if (k <= 0) return k;
            pos += (size_t)k;
        }
        return (long)pos;
    default:
        return -1;
    }
}

static inline long resp_value_len(const char *p, size_t n) {
    return resp_value_len_(p, n, 0);
}

/* How many values p[0..n) holds if it is a sequence of complete well-formed values,
   else -1 (malformed, or the last one is cut short). */
static inline long resp_values(const char *p, size_t n) {
    size_t pos = 0;
    long count = 0;
    while (pos < n) {
        long k = resp_value_len(p + pos, n - pos);
        if (k <= 0) return -1;
        pos += (size_t)k;
        count++;
    }
    return count;
}
#endif
