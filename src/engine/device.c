/* device: connection, request queue, timeouts, garbage and loss detection, reconnection with
 * back-off, and raw traces, for every instrument whatever its driver. */
#include "insitu/device.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "insitu/clock.h"
#include "insitu/loop.h"
#include "insitu/msg.h"
#include "insitu/nmrrun.h"
#include "insitu/run.h"
#include "insitu/session.h"
#include "insitu/settings.h"
#include "insitu/transport.h"
#include "insitu/util.h"

#define DEVICE_MAX_FAILURES 3      /* consecutive failed requests before the link is dropped */
#define DEVICE_BACKOFF_MIN 0.5
#define DEVICE_BACKOFF_MAX 30.0

struct device_req {
    char *cmd;
    device_reply_fn fn;
    device_block_fn block;      /* the reply is an IEEE 488.2 binary block, not a line */
    void *arg;
    double timeout;
};

/* A definite-length arbitrary block on its way in: "#", one digit D, D digits of length,
 * then that many bytes (IEEE 488.2, 7.7.6). */
#define DEVICE_BLOCK_MAX (256u << 20)   /* larger claims are noise, not data */
struct device_blk {
    int phase;                  /* 0 '#', 1 digit count, 2 length digits, 3 data */
    int ndig, got;
    size_t len, have;
    char *buf;
};

/* ---- the driver table ---- */

extern const struct driver keithley2400_driver;
extern const struct driver keithley2450_driver;
extern const struct driver keithley6430_driver;
extern const struct driver nmrsim_driver;
extern const struct driver topspin_driver;

static const struct driver *const drivers[] = {
    &keithley2400_driver,
    &keithley2450_driver,
    &keithley6430_driver,
    &nmrsim_driver,
    &topspin_driver,
};

const struct driver *driver_find(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(drivers); i++)
        if (!strcmp(drivers[i]->name, name))
            return drivers[i];
    return NULL;
}

int driver_count(void)
{
    return (int)ARRAY_LEN(drivers);
}

const struct driver *driver_at(int i)
{
    return i >= 0 && i < driver_count() ? drivers[i] : NULL;
}

const char *device_state_name(enum device_state st)
{
    static const char *const n[] = { "connecting", "ready", "lost", "closed" };
    return (unsigned)st < ARRAY_LEN(n) ? n[st] : "?";
}

/* ---- tracing ---- */

static void device_trace(struct device *d, const char *dir, const char *bytes, size_t n)
{
    if (!d->trace)
        return;
    struct strbuf b = { 0 };
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)bytes[i];
        if (c == '\n')
            strbuf_addstr(&b, "\\n");
        else if (c == '\r')
            strbuf_addstr(&b, "\\r");
        else if (c < 0x20 || c >= 0x7f)
            strbuf_printf(&b, "\\x%02x", c);
        else
            strbuf_addch(&b, (char)c);
    }
    msg_info("%s %s %s", d->name, dir, b.s ? b.s : "");
    strbuf_free(&b);
}

/* ---- the queue ---- */

static void device_pop(struct device *d)
{
    free(d->q[0].cmd);
    memmove(d->q, d->q + 1, (size_t)(d->nq - 1) * sizeof *d->q);
    d->nq--;
}

static void device_notify(struct device *d)
{
    /* `device add` waits through transient trouble (a garbled or lost reply is retried) and
     * gives up only when the instrument is ready, or wrong for good */
    if (d->waiter && (d->state == DEVICE_READY || d->fatal)) {
        void (*w)(struct device *, void *) = d->waiter;
        d->waiter = NULL;
        w(d, d->waiter_arg);
    }
    if (d->on_state)
        d->on_state(d, d->on_state_arg);
}

static void device_lost(struct device *d, const char *why, int close_link);
static void device_pump(struct device *d);

static void device_block_reset(struct device *d)
{
    struct device_blk *b = d->blk;
    if (!b)
        return;
    free(b->buf);
    memset(b, 0, sizeof *b);
}

static double device_timeout(struct loop *l, long long id, void *arg)
{
    struct device *d = arg;
    d->timer = 0;
    if (!d->busy || !d->nq)
        return -1;
    struct device_req r = d->q[0];
    d->q[0].cmd = NULL;
    device_pop(d);
    d->busy = 0;
    d->timeouts++;
    d->failures++;
    char why[160];
    snprintf(why, sizeof why, "no reply to %s within %gs", r.cmd, r.timeout);
    free(r.cmd);
    device_block_reset(d);
    if (r.block)
        r.block(d, NULL, 0, r.arg);
    else if (r.fn)
        r.fn(d, NULL, r.arg);
    if (d->failures >= DEVICE_MAX_FAILURES)
        device_lost(d, why, 0);
    else
        device_pump(d);
    return -1;
}

static void device_pump(struct device *d)
{
    while (!d->busy && d->nq && d->tp && d->state != DEVICE_LOST) {
        struct device_req *r = &d->q[0];
        size_t n = strlen(r->cmd);
        char *line = util_printf("%s\n", r->cmd);
        device_trace(d, ">", line, n + 1);
        int rc = transport_write(d->tp, line, n + 1, 0.5);
        free(line);
        if (rc < 0) {
            char why[160];
            snprintf(why, sizeof why, "write failed: %s", strerror(errno));
            device_lost(d, why, 1);
            return;
        }
        if (r->fn || r->block) {
            d->busy = 1;
            device_block_reset(d);
            d->timer = loop_timer_add(d->s->loop, r->timeout, 0, device_timeout, d);
            return;
        }
        device_pop(d);
    }
}

static int device_queue(struct device *d, const char *cmd, device_reply_fn fn,
                        device_block_fn block, void *arg, double timeout, int front)
{
    if (!d->tp || d->tp->fd < 0 || d->state == DEVICE_LOST || d->state == DEVICE_CLOSED)
        return -1;
    if (d->nq == d->capq) {
        d->capq = d->capq ? d->capq * 2 : 16;
        d->q = util_reallocarray(d->q, (size_t)d->capq, sizeof *d->q);
    }
    struct device_req r = { util_strdup(cmd), fn, block, arg, timeout > 0 ? timeout : 2.0 };
    /* a safety command jumps the queue, but never ahead of a request already on the wire */
    int at = front ? (d->busy ? 1 : 0) : d->nq;
    memmove(d->q + at + 1, d->q + at, (size_t)(d->nq - at) * sizeof *d->q);
    d->q[at] = r;
    d->nq++;
    device_pump(d);
    return 0;
}

int device_send(struct device *d, const char *cmd, device_reply_fn fn, void *arg,
                double timeout, int front)
{
    return device_queue(d, cmd, fn, NULL, arg, timeout, front);
}

int device_send_block(struct device *d, const char *cmd, device_block_fn fn, void *arg,
                      double timeout)
{
    if (!d->blk)
        d->blk = util_calloc(1, sizeof *d->blk);
    return device_queue(d, cmd, NULL, fn, arg, timeout, 0);
}

/* ---- reading ---- */

/* The head request got its whole answer: take it off the queue. */
static struct device_req device_answered(struct device *d)
{
    struct device_req r = d->q[0];
    d->q[0].cmd = NULL;
    device_pop(d);
    d->busy = 0;
    if (d->timer) {
        loop_timer_del(d->s->loop, d->timer);
        d->timer = 0;
    }
    d->replies++;
    d->failures = 0;
    free(r.cmd);
    return r;
}

/* Feed N bytes to the block the head request waits for; returns how many were used. A
 * terminator after the block is left to the line reader, which skips empty lines. */
static size_t device_block_feed(struct device *d, const char *p, size_t n)
{
    struct device_blk *b = d->blk;
    size_t used = 0;
    while (used < n) {
        unsigned char c = (unsigned char)p[used];
        if (b->phase == 0) {
            used++;
            if (c == '\r' || c == '\n')
                continue;
            if (c != '#')
                goto garbage;
            b->phase = 1;
        } else if (b->phase == 1) {
            used++;
            if (c < '1' || c > '9')     /* "#0" (indefinite length) is not spoken here */
                goto garbage;
            b->ndig = c - '0';
            b->got = 0;
            b->len = 0;
            b->phase = 2;
        } else if (b->phase == 2) {
            used++;
            if (c < '0' || c > '9')
                goto garbage;
            b->len = b->len * 10 + (size_t)(c - '0');
            if (b->len > DEVICE_BLOCK_MAX)
                goto garbage;
            if (++b->got == b->ndig) {
                b->phase = 3;
                b->have = 0;
                b->buf = util_malloc(b->len ? b->len : 1);
            }
        } else {
            size_t take = n - used < b->len - b->have ? n - used : b->len - b->have;
            memcpy(b->buf + b->have, p + used, take);
            b->have += take;
            used += take;
        }
        if (b->phase == 3 && b->have == b->len) {
            char *data = b->buf;
            size_t len = b->len;
            b->buf = NULL;
            device_block_reset(d);
            struct device_req r = device_answered(d);
            r.block(d, data, len, r.arg);
            free(data);
            return used;
        }
    }
    return used;
garbage:
    device_block_reset(d);
    {
        struct device_req r = device_answered(d);
        d->replies--;
        r.block(d, NULL, 0, r.arg);
    }
    device_garbage(d, "(not a binary block)");
    return used;
}

static void device_line(struct device *d, const char *line)
{
    if (!*line)
        return;
    if (!d->busy || !d->nq) {
        /* an instrument that talks unasked is confused or not what we think it is */
        device_garbage(d, line);
        return;
    }
    struct device_req r = device_answered(d);
    if (r.fn)
        r.fn(d, line, r.arg);
}

static void device_read(struct loop *l, int fd, int events, void *arg)
{
    struct device *d = arg;
    for (;;) {
        if (d->inlen >= sizeof d->inbuf - 1) {
            /* a line longer than any reply: noise on the line */
            d->inlen = 0;
            device_garbage(d, "(over-long line)");
            if (d->state == DEVICE_LOST || !d->tp)
                return;
        }
        ssize_t n = transport_read(d->tp, d->inbuf + d->inlen, sizeof d->inbuf - 1 - d->inlen);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            break;
        if (n <= 0) {
            device_lost(d, n == 0 ? "connection closed" : strerror(errno), 1);
            return;
        }
        if (d->state == DEVICE_LOST) {
            /* late answers to requests already given up: not worth parsing */
            device_trace(d, "< (ignored)", d->inbuf + d->inlen, (size_t)n);
            continue;
        }
        device_trace(d, "<", d->inbuf + d->inlen, (size_t)n);
        d->inlen += (size_t)n;
        /* Replies end in CR, LF, CRLF or LFCR (the Keithley's terminator is configurable);
         * a request for a binary block takes bytes as they come instead. */
        size_t start = 0, i = 0;
        while (i < d->inlen) {
            if (d->busy && d->nq && d->q[0].block) {
                start += device_block_feed(d, d->inbuf + start, d->inlen - start);
                if (d->state == DEVICE_LOST || !d->tp)
                    return;
                i = start;
                continue;
            }
            if (d->inbuf[i] == '\n' || d->inbuf[i] == '\r') {
                d->inbuf[i] = '\0';
                char *line = util_strdup(d->inbuf + start);
                start = i + 1;
                device_line(d, line);
                free(line);
                if (d->state == DEVICE_LOST || !d->tp)
                    return;
            }
            i++;
        }
        memmove(d->inbuf, d->inbuf + start, d->inlen - start);
        d->inlen -= start;
    }
    device_pump(d);
}

void device_garbage(struct device *d, const char *what)
{
    d->garbage++;
    d->failures++;
    msg_warn("%s: unexpected reply \"%.60s\"", d->name, what);
    if (d->failures >= DEVICE_MAX_FAILURES)
        device_lost(d, "answers that make no sense", 0);
}

/* ---- connection ---- */

/* Give up on everything queued: every waiting request is told no reply will come. */
static void device_flush(struct device *d)
{
    if (d->timer)
        loop_timer_del(d->s->loop, d->timer);
    d->timer = 0;
    d->busy = 0;
    d->inlen = 0;
    device_block_reset(d);
    /* everybody waiting is told: no reply will come */
    while (d->nq) {
        struct device_req r = d->q[0];
        d->q[0].cmd = NULL;
        device_pop(d);
        free(r.cmd);
        if (r.block)
            r.block(d, NULL, 0, r.arg);
        else if (r.fn)
            r.fn(d, NULL, r.arg);
    }
}

static void device_close_transport(struct device *d)
{
    device_flush(d);
    if (d->tp) {
        if (d->tp->fd >= 0)
            loop_fd_del(d->s->loop, d->tp->fd);
        transport_close(d->tp);
        d->tp = NULL;
    }
}

static int device_connect(struct device *d, char *err, size_t errlen)
{
    d->tp = transport_open(d->spec, d->drv->name, err, errlen);
    if (!d->tp)
        return -1;
    if (d->tp->real && clock_speed() != 1) {
        /* a real instrument lives in real time: the experiment clock must not run faster */
        snprintf(err, errlen, "clock.speed is %g: a real instrument needs 1 (`set clock.speed 1`)",
                 clock_speed());
        transport_close(d->tp);
        d->tp = NULL;
        return -1;
    }
    if (d->tp->fd >= 0)     /* a watched directory has no byte stream */
        loop_fd_add(d->s->loop, d->tp->fd, LOOP_READ, device_read, d);
    d->state = DEVICE_CONNECTING;
    d->failures = 0;
    d->drv->start(d);
    return 0;
}

static double device_retry(struct loop *l, long long id, void *arg)
{
    struct device *d = arg;
    d->reconnect_timer = 0;
    char err[256];
    if (d->tp) {
        /* the link is up but the instrument stopped making sense: identify it again */
        d->state = DEVICE_CONNECTING;
        d->failures = 0;
        d->inlen = 0;
        d->drv->start(d);
        return -1;
    }
    if (device_connect(d, err, sizeof err) < 0) {
        free(d->why);
        d->why = util_strdup(err);
        d->backoff = d->backoff * 2 > DEVICE_BACKOFF_MAX ? DEVICE_BACKOFF_MAX : d->backoff * 2;
        d->reconnect_timer = loop_timer_add(d->s->loop, d->backoff, 0, device_retry, d);
    }
    return -1;
}

/* CLOSE_LINK: the connection itself is broken (EOF, write error) and must be reopened; else
 * the link stays and the instrument is identified again over it (a stalled or confused
 * instrument: reopening would not help, and a simulator would lose its cell). */
static void device_lost(struct device *d, const char *why, int close_link)
{
    if (d->state == DEVICE_LOST || d->state == DEVICE_CLOSED)
        return;
    int was_ready = d->state == DEVICE_READY;
    free(d->why);
    d->why = util_strdup(why);
    if (d->s->run && d->lost_since < 0)
        d->lost_since = run_time(d->s->run);
    session_event(d->s, RUN_WARN, "%s: %s: %s; reconnecting", d->name,
                  was_ready ? "communication lost" : "cannot connect", why);
    d->state = DEVICE_LOST;
    if (close_link)
        device_close_transport(d);
    else
        device_flush(d);
    if (!d->backoff)
        d->backoff = DEVICE_BACKOFF_MIN;
    d->reconnects++;
    if (!d->reconnect_timer)
        d->reconnect_timer = loop_timer_add(d->s->loop, d->backoff, 0, device_retry, d);
    device_notify(d);
}

void device_ready(struct device *d)
{
    d->fatal = 0;
    d->state = DEVICE_READY;
    d->backoff = 0;
    d->failures = 0;
    if (d->lost_since >= 0 && d->s->run) {
        double now = run_time(d->s->run);
        session_event(d->s, RUN_WARN, "%s: back; no data from %.1fs to %.1fs (run time)",
                      d->name, d->lost_since, now);
    }
    d->lost_since = -1;
    device_notify(d);
}

void device_fail(struct device *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *why = util_vprintf(fmt, ap);
    va_end(ap);
    device_lost(d, why, 0);
    free(why);
}

void device_fatal(struct device *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *why = util_vprintf(fmt, ap);
    va_end(ap);
    d->fatal = 1;
    device_lost(d, why, 0);
    free(why);
}

/* ---- the session's devices ---- */

struct device *device_find(struct session *s, const char *name)
{
    for (int i = 0; i < s->ndevices; i++)
        if (!strcmp(s->devices[i]->name, name))
            return s->devices[i];
    return NULL;
}

int device_count(const struct session *s)
{
    return s->ndevices;
}

struct device *device_at(const struct session *s, int i)
{
    return i >= 0 && i < s->ndevices ? s->devices[i] : NULL;
}

int device_any_real(const struct session *s)
{
    for (int i = 0; i < s->ndevices; i++)
        if (s->devices[i]->tp && s->devices[i]->tp->real)
            return 1;
    return 0;
}

struct device *device_add(struct session *s, const char *name, const char *driver,
                          const char *spec, char *err, size_t errlen)
{
    if (!util_valid_name(name)) {
        snprintf(err, errlen, "\"%s\": a device name is letters, digits, '_', '.' and '-'", name);
        return NULL;
    }
    if (device_find(s, name)) {
        snprintf(err, errlen, "there is already a device \"%s\"", name);
        return NULL;
    }
    const struct driver *drv = driver_find(driver);
    if (!drv) {
        struct strbuf b = { 0 };
        for (int i = 0; i < driver_count(); i++)
            strbuf_printf(&b, "%s%s", i ? ", " : "", driver_at(i)->name);
        snprintf(err, errlen, "\"%s\": no such driver (%s)", driver, b.s);
        strbuf_free(&b);
        return NULL;
    }
    struct device *d = util_calloc(1, sizeof *d);
    d->name = util_strdup(name);
    d->drv = drv;
    d->spec = util_strdup(spec);
    d->s = s;
    d->lost_since = -1;
    if (device_connect(d, err, errlen) < 0) {
        free(d->name);
        free(d->spec);
        free(d);
        return NULL;
    }
    s->devices = util_reallocarray(s->devices, (size_t)s->ndevices + 1, sizeof *s->devices);
    s->devices[s->ndevices++] = d;
    return d;
}

static void device_free(struct device *d)
{
    if (d->reconnect_timer)
        loop_timer_del(d->s->loop, d->reconnect_timer);
    d->state = DEVICE_CLOSED;
    device_close_transport(d);
    if (d->drv->free)
        d->drv->free(d);
    free(d->q);
    device_block_reset(d);
    free(d->blk);
    free(d->why);
    free(d->name);
    free(d->spec);
    free(d);
}

int device_remove(struct session *s, const char *name, char *err, size_t errlen)
{
    for (int i = 0; i < s->ndevices; i++) {
        struct device *d = s->devices[i];
        if (strcmp(d->name, name))
            continue;
        if (d->on_state) {
            snprintf(err, errlen, "%s is in use (stop the cycler first)", name);
            return -1;
        }
        if (d->drv->spectrometer && nmrrun_busy(s)) {
            snprintf(err, errlen, "%s may be in use (`nmr stop` first)", name);
            return -1;
        }
        if (d->state == DEVICE_READY && d->drv->safe)
            d->drv->safe(d);
        memmove(&s->devices[i], &s->devices[i + 1], (size_t)(s->ndevices - i - 1) * sizeof *s->devices);
        s->ndevices--;
        device_free(d);
        return 0;
    }
    snprintf(err, errlen, "no device \"%s\" (`device list` shows them)", name);
    return -1;
}

/* Before the program ends: let what is queued (an output-off above all) reach the
 * instruments, waiting at most TIMEOUT seconds for replies in flight. */
void device_drain_all(struct session *s, double timeout)
{
    double until = clock_mono() + timeout;
    for (;;) {
        int pending = 0;
        for (int i = 0; i < s->ndevices; i++)
            pending |= s->devices[i]->nq > 0 && s->devices[i]->state != DEVICE_LOST;
        if (!pending || clock_mono() >= until)
            return;
        loop_once(s->loop, 0.05);
    }
}

void device_free_all(struct session *s)
{
    for (int i = 0; i < s->ndevices; i++)
        device_free(s->devices[i]);
    free(s->devices);
    s->devices = NULL;
    s->ndevices = 0;
}

void device_info(struct device *d, struct strbuf *out)
{
    strbuf_printf(out, "%s: %s %s (%s)\n", d->name, d->drv->klass, d->drv->name, d->drv->help);
    strbuf_printf(out, "  transport: %s%s\n", d->spec, d->tp && d->tp->real ? " (real instrument)" : "");
    strbuf_printf(out, "  state: %s%s%s\n", device_state_name(d->state), d->why && d->state != DEVICE_READY ? ": " : "",
                  d->why && d->state != DEVICE_READY ? d->why : "");
    if (*d->idn)
        strbuf_printf(out, "  identity: %s\n", d->idn);
    strbuf_printf(out, "  replies %lu, timeouts %lu, garbage %lu, reconnects %lu%s\n", d->replies,
                  d->timeouts, d->garbage, d->reconnects, d->trace ? ", tracing" : "");
}
