/* tcp: tcp:HOST:PORT, for instruments on the LAN and serial device servers (a Moxa box in
 * the lab is a real instrument as much as a USB adapter is). IPv4 and IPv6; the connect is
 * non-blocking and bounded so that opening never holds up the event loop for long.
 *
 * Name resolution uses getaddrinfo, which cannot be bounded: numeric addresses and names in
 * /etc/hosts resolve at once, DNS names as fast as the resolver answers. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "insitu/transport.h"
#include "insitu/util.h"
#include "internal.h"

#define TCP_USAGE "tcp:HOST:PORT"
#define TCP_CONNECT_TIMEOUT 3.0     /* seconds, for all addresses of HOST together */

/* Split "HOST:PORT" or "[V6ADDR]:PORT". */
static int tcp_parse_spec(const char *spec, char *host, size_t hostlen, char *port,
                          size_t portlen, char *err, size_t errlen)
{
    const char *colon, *h = spec;
    size_t hl;
    if (spec[0] == '[') {
        const char *rb = strchr(spec, ']');
        if (!rb || rb[1] != ':') {
            snprintf(err, errlen, "tcp: \"%s\": expected %s ([IPV6]:PORT for IPv6)", spec,
                     TCP_USAGE);
            return -1;
        }
        h = spec + 1;
        hl = (size_t)(rb - h);
        colon = rb + 1;
    } else {
        /* The last colon, so that an unbracketed "::1:5025" still means host ::1. */
        colon = strrchr(spec, ':');
        if (!colon) {
            snprintf(err, errlen, "tcp: \"%s\": expected %s", spec, TCP_USAGE);
            return -1;
        }
        hl = (size_t)(colon - spec);
    }
    if (hl == 0) {
        snprintf(err, errlen, "tcp: \"%s\": no host given (%s)", spec, TCP_USAGE);
        return -1;
    }
    const char *ps = colon + 1;
    char *end;
    errno = 0;
    long pn = strtol(ps, &end, 10);
    if (!(*ps >= '0' && *ps <= '9') || *end || errno || pn < 1 || pn > 65535) {
        snprintf(err, errlen, "tcp: \"%s\": port is a number (1-65535)", spec);
        return -1;
    }
    if (hl >= hostlen) {
        snprintf(err, errlen, "tcp: \"%.40s...\": host name too long", spec);
        return -1;
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    snprintf(port, portlen, "%ld", pn);
    return 0;
}

static double tcp_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Connect to one address before DEADLINE. Returns the fd, or -1 with errno. */
static int tcp_connect_one(const struct addrinfo *ai, double deadline)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    ai->ai_protocol);
    if (fd < 0)
        return -1;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
        return fd;
    if (errno != EINPROGRESS && errno != EINTR)
        goto fail;
    for (;;) {
        double left = deadline - tcp_now();
        if (left <= 0) {
            errno = ETIMEDOUT;
            goto fail;
        }
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        int r = poll(&pfd, 1, (int)(left * 1000) + 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            goto fail;
        if (r == 0)
            continue;       /* the deadline check above ends it */
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
            goto fail;
        if (soerr) {
            errno = soerr;
            goto fail;
        }
        return fd;
    }
fail:;
    int e = errno;
    close(fd);
    errno = e;
    return -1;
}

static int tcp_open(struct transport *t, const char *spec, const char *driver, char *err,
                    size_t errlen)
{
    (void)driver;
    char host[256], port[8], why[160];
    if (tcp_parse_spec(spec, host, sizeof host, port, sizeof port, err, errlen) < 0)
        return -1;

    struct addrinfo hints = {
        .ai_family = AF_UNSPEC,
        .ai_socktype = SOCK_STREAM,
        .ai_flags = AI_NUMERICSERV,
    };
    struct addrinfo *res = NULL;
    int g = getaddrinfo(host, port, &hints, &res);
    if (g != 0) {
        if (g == EAI_SYSTEM)
            transport_strerror(errno, why, sizeof why);
        else
            util_strlcpy(why, gai_strerror(g), sizeof why);
        if (why[0] >= 'A' && why[0] <= 'Z' && !(why[1] >= 'A' && why[1] <= 'Z'))
            why[0] = (char)(why[0] - 'A' + 'a');
        snprintf(err, errlen, "tcp:%s: cannot find host %s: %s", spec, host, why);
        return -1;
    }

    /* Every address of HOST in turn ("localhost" is ::1 and 127.0.0.1, and the instrument may
     * listen on one only), within one budget for them all. */
    double deadline = tcp_now() + TCP_CONNECT_TIMEOUT;
    int fd = -1, lasterr = EHOSTUNREACH;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = tcp_connect_one(ai, deadline);
        if (fd < 0)
            lasterr = errno;
        if (fd < 0 && lasterr == ETIMEDOUT)
            break;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        if (lasterr == ETIMEDOUT)
            snprintf(err, errlen, "tcp:%s: no answer within %g s", spec, TCP_CONNECT_TIMEOUT);
        else
            snprintf(err, errlen, "tcp:%s: %s", spec,
                     transport_strerror(lasterr, why, sizeof why));
        return -1;
    }

    /* Instrument commands are short lines that want to go out now, not after Nagle's 40 ms. */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* A device server that loses power never sends a FIN; keepalive finds out. The kernel's
     * default first probe after 2 h is useless during a run, so probe after a minute idle
     * and give up after three unanswered probes 10 s apart. */
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    int idle = 60, intvl = 10, cnt = 3;
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);

    t->fd = fd;
    t->real = 1;
    return 0;
}

static void tcp_close(struct transport *t)
{
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
}

const struct transport_ops transport_tcp_ops = {
    .scheme = "tcp",
    .usage = TCP_USAGE,
    .open = tcp_open,
    .close = tcp_close,
};
