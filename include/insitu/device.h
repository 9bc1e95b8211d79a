/* device: an instrument on a transport, spoken to by a driver.
 *
 * The device layer owns the connection: it writes commands one after another, collects reply
 * lines, times out requests, and when an instrument stops answering, answers garbage or goes
 * away, it reports that, lets the driver make its outputs safe where it still can, and
 * reconnects with back-off while the run goes on (the gap is logged in the run). Drivers are
 * rows of a table per instrument class; their protocol parsing and formatting are pure
 * functions (src/dev/<instrument>.c) with their own tests. Nothing here ever blocks the loop. */
#ifndef INSITU_DEVICE_H
#define INSITU_DEVICE_H

#include <stddef.h>

struct session;
struct transport;
struct device;
struct strbuf;

/* A reply line, or NULL when the request timed out or the device went away. */
typedef void (*device_reply_fn)(struct device *d, const char *reply, void *arg);
/* A binary block reply (LEN bytes), or DATA NULL when it timed out, was not a block, or the
 * device went away. DATA is freed after the call. */
typedef void (*device_block_fn)(struct device *d, const char *data, size_t len, void *arg);
struct spectrometer_ops;

/* One reading of a cycler or potentiostat. */
struct cycler_sample {
    double v, i;            /* V, A (positive charges the cell) */
    int compliance;         /* the instrument limited the output */
    int overflow;           /* a value was out of range (9.91e37) */
};

/* What the cycler engine asks of a cycler driver. Every call queues commands and returns at
 * once; DONE (if given) is called when the instrument has taken them (ok 1) or failed (ok 0). */
struct cycler_ops {
    int can_source_voltage;
    /* Set the voltage compliance window (symmetric instruments use the larger magnitude). */
    void (*compliance)(struct device *d, double vmin, double vmax, double imax);
    void (*source_current)(struct device *d, double amps);
    void (*source_voltage)(struct device *d, double volts);
    void (*output)(struct device *d, int on);
    /* Take one reading; FN gets NULL when it failed. */
    void (*measure)(struct device *d, void (*fn)(struct device *d, const struct cycler_sample *s,
                                                  void *arg), void *arg);
};

struct driver {
    const char *name;       /* "keithley2400" */
    const char *klass;      /* "cycler" */
    const char *help;
    const struct cycler_ops *cycler;
    const struct spectrometer_ops *spectrometer;    /* include/insitu/spectrometer.h */
    /* After (re)connecting: identify and configure, then call device_ready (or device_fail). */
    void (*start)(struct device *d);
    /* Make outputs safe (output off) as far as the instrument still listens. */
    void (*safe)(struct device *d);
    /* Tell the instrument the experiment clock (simulators only). */
    void (*clock)(struct device *d);
    void (*free)(struct device *d);
};

enum device_state { DEVICE_CONNECTING, DEVICE_READY, DEVICE_LOST, DEVICE_CLOSED };

struct device_req;

struct device {
    char *name;
    const struct driver *drv;
    char *spec;                 /* transport spec */
    struct transport *tp;
    struct session *s;
    enum device_state state;
    char *why;                  /* what went wrong last */
    char idn[256];
    int sim;                    /* the instrument is insitu-sim */
    int trace;
    void *drv_state;

    struct device_req *q;       /* requests waiting or in progress, in order */
    int nq, capq;
    int busy;                   /* the head request was written and waits for its reply */
    char inbuf[4096];
    struct device_blk *blk;     /* a binary block being received */
    size_t inlen;
    long long timer, reconnect_timer;
    double backoff;
    int failures;               /* consecutive failed requests */
    double lost_since;          /* run time the device was lost, < 0 when not lost */
    unsigned long replies, timeouts, garbage, reconnects;
    void (*on_state)(struct device *d, void *arg);   /* the engine's hook */
    void *on_state_arg;
    int fatal;                  /* the last failure will not mend by retrying */
    void (*waiter)(struct device *d, void *arg);     /* one-shot: `device add` waits for this */
    void *waiter_arg;
};

/* The driver table. */
const struct driver *driver_find(const char *name);
int driver_count(void);
const struct driver *driver_at(int i);

/* Devices of the session. */
struct device *device_add(struct session *s, const char *name, const char *driver,
                          const char *spec, char *err, size_t errlen);
int device_remove(struct session *s, const char *name, char *err, size_t errlen);
struct device *device_find(struct session *s, const char *name);
int device_count(const struct session *s);
struct device *device_at(const struct session *s, int i);
void device_info(struct device *d, struct strbuf *out);
const char *device_state_name(enum device_state st);
/* Are any of the session's devices real instruments (clock.speed must stay 1)? */
int device_any_real(const struct session *s);
void device_free_all(struct session *s);
/* Let queued commands reach the instruments before exit (at most TIMEOUT seconds). */
void device_drain_all(struct session *s, double timeout);

/* For drivers: send a command line (a terminator is added). With FN, one reply line is
 * expected within TIMEOUT seconds (real time); without, the command completes once written.
 * FRONT puts it before everything queued (safety commands). Returns 0 or -1 (not connected). */
int device_send(struct device *d, const char *cmd, device_reply_fn fn, void *arg,
                double timeout, int front);
/* Send CMD and expect an IEEE 488.2 definite-length block ("#<d><len><bytes>", a terminator
 * after it is optional) within TIMEOUT seconds: how waveforms and FIDs come back. */
int device_send_block(struct device *d, const char *cmd, device_block_fn fn, void *arg,
                      double timeout);
/* Driver says: configured and ready / this went wrong (reconnect later). */
void device_ready(struct device *d);
void device_fail(struct device *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Like device_fail, for what retrying cannot mend (a wrong model): `device add` gives up at
 * once instead of retrying until its timeout. */
void device_fatal(struct device *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A reply could not be understood (counts towards giving up on the connection). */
void device_garbage(struct device *d, const char *what);

#endif
