/* transport: how bytes reach an instrument. A table of transports (libsigrok's serial
 * transports are the model), chosen by the scheme of a spec:
 *
 *   serial:PATH[,baud=9600,bits=8,parity=none|odd|even|mark|space,stop=1|2,
 *               flow=none|xonxoff|rtscts|dtrdsr]
 *   tcp:HOST:PORT                HOST may be a name, an IPv4 address or [an IPv6 address]
 *   sim:MODEL[,opt=value...]     insitu-sim as a child process over a socketpair
 *   dir:PATH                     a directory written by the instrument's own software (fd -1)
 *
 * Every transport hands out one non-blocking file descriptor that the event loop watches; the
 * device layer does all reading and writing through it. Opening never blocks for long
 * (TCP connects with a short timeout on loopback/LAN; serial opens at once). */
#ifndef INSITU_TRANSPORT_H
#define INSITU_TRANSPORT_H

#include <stddef.h>
#include <sys/types.h>

struct transport;

struct transport_ops {
    const char *scheme;     /* "serial", "tcp", "sim" */
    const char *usage;      /* "serial:PATH[,baud=..]" */
    /* Open SPEC (the text after "scheme:"). DRIVER is the instrument driver's name, which
     * the sim transport passes to insitu-sim so it knows what to emulate. */
    int (*open)(struct transport *t, const char *spec, const char *driver, char *err,
                size_t errlen);
    void (*close)(struct transport *t);
};

struct transport {
    const struct transport_ops *ops;
    int fd;                 /* non-blocking; -1 when closed */
    char *spec;             /* the whole spec as given */
    int real;               /* a real instrument (serial/tcp to hardware): clock.speed must be 1 */
    pid_t child;            /* sim: the insitu-sim process, else 0 */
    void *priv;             /* transport's own state (lock file, libserialport handle) */
};

/* Open SPEC for DRIVER. Returns NULL with err set ("serial:/dev/ttyUSB0: port /dev/ttyUSB0 is
 * in use by PID 1234", "unknown transport \"usb\" (serial, tcp, sim)", ...). */
struct transport *transport_open(const char *spec, const char *driver, char *err, size_t errlen);
/* Close and free (kills and reaps a sim child, removes a lock file). */
void transport_close(struct transport *t);
/* Write all of BUF or fail: the fd is non-blocking, so this waits (poll) at most TIMEOUT
 * seconds for room. Instrument commands are short; this never blocks the loop noticeably.
 * Returns 0 or -1 (errno set). */
int transport_write(struct transport *t, const void *buf, size_t len, double timeout);
/* Read what is there: >0 bytes, 0 at end of file (the instrument went away), -1 with errno
 * EAGAIN when nothing is waiting, other errno on errors. */
ssize_t transport_read(struct transport *t, void *buf, size_t len);

int transport_count(void);
const struct transport_ops *transport_at(int i);

/* UUCP lock files (minicom, screen and others honour them): lock DEV (e.g. "/dev/ttyUSB0")
 * by creating DIR/LCK..ttyUSB0 holding our PID; a lock of a dead PID is taken over. DIR is
 * /var/lock unless the environment sets INSITU_LOCK_DIR (for tests). The lock is named after
 * the device's real path, so /dev/serial/by-id/... and /dev/ttyUSB0 share one lock.
 * Returns 0 when locked; -1 with err "port /dev/ttyUSB0 is in use by PID n" (or an existing
 * lock file that cannot be read); 1 when no lock could be made because of the lock directory
 * (missing, not writable, ...): err says why, and the caller goes on without a lock. */
int transport_lock(const char *dev, char *err, size_t errlen);
/* Remove DEV's lock file if it holds our PID (never someone else's). */
void transport_unlock(const char *dev);
/* The lock file's name for DEV ("/var/lock/LCK..ttyUSB0"); free it. */
char *transport_lock_path(const char *dev);

/* Where insitu-sim is: $INSITU_SIM, else beside the running insitu (the directory of the real
 * executable, so ./insitu -> build/insitu finds build/insitu-sim), else on PATH; else the bare
 * name "insitu-sim". Free it. */
char *transport_sim_path(void);

/* The options of a serial spec, parsed without touching any device (serial_parse_spec). */
enum serial_parity {
    SERIAL_PARITY_NONE, SERIAL_PARITY_ODD, SERIAL_PARITY_EVEN, SERIAL_PARITY_MARK,
    SERIAL_PARITY_SPACE
};
enum serial_flow { SERIAL_FLOW_NONE, SERIAL_FLOW_XONXOFF, SERIAL_FLOW_RTSCTS, SERIAL_FLOW_DTRDSR };
struct serial_params {
    char path[1024];
    int baud;                   /* default 9600 */
    int bits;                   /* 5-8, default 8 */
    enum serial_parity parity;  /* default none */
    int stop;                   /* 1 or 2, default 1 */
    enum serial_flow flow;      /* default none */
};
/* Parse SPEC, the text after "serial:" ("/dev/ttyUSB0,baud=115200,parity=even"). Returns 0, or
 * -1 with err naming the bad part: serial: "baud=fast": baud is a number. */
int serial_parse_spec(const char *spec, struct serial_params *p, char *err, size_t errlen);

#endif
