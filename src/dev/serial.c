/* serial: serial:PATH[,baud=..,bits=..,parity=..,stop=..,flow=..] through libserialport, with
 * a UUCP lock file and TIOCEXCL for exclusive access. libserialport opens and configures the
 * port; reading and writing go through its fd, non-blocking, watched by the event loop.
 *
 * Debian's libserialport 0.1.1 looks ports up under /sys/class/tty, so it cannot open
 * pseudo-terminals: simulated instruments use the sim transport instead. */
#include <errno.h>
#include <libserialport.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "insitu/msg.h"
#include "insitu/transport.h"
#include "insitu/util.h"
#include "internal.h"

#define SERIAL_USAGE "serial:PATH[,baud=9600,bits=8,parity=none|odd|even|mark|space,stop=1|2," \
                     "flow=none|xonxoff|rtscts|dtrdsr]"

struct serial_priv {
    struct sp_port *port;
    char path[1024];
    int locked;             /* we hold the UUCP lock of path */
};

/* A decimal number in [lo, hi], nothing else. */
static int serial_number(const char *s, long lo, long hi, long *out)
{
    if (!(*s >= '0' && *s <= '9'))
        return -1;
    errno = 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || errno || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int serial_word(const char *s, const char *const words[], int n)
{
    for (int i = 0; i < n; i++)
        if (strcasecmp(s, words[i]) == 0)
            return i;
    return -1;
}

/* The words are in the order of enum serial_parity and enum serial_flow. */
static const char *const serial_parities[] = {"none", "odd", "even", "mark", "space"};
static const char *const serial_flows[] = {"none", "xonxoff", "rtscts", "dtrdsr"};

int serial_parse_spec(const char *spec, struct serial_params *p, char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    p->baud = 9600;
    p->bits = 8;
    p->parity = SERIAL_PARITY_NONE;
    p->stop = 1;
    p->flow = SERIAL_FLOW_NONE;

    size_t n = strcspn(spec, ",");
    if (n == 0) {
        snprintf(err, errlen, "serial: \"%s\": no port given (%s)", spec, SERIAL_USAGE);
        return -1;
    }
    if (n >= sizeof p->path) {
        snprintf(err, errlen, "serial: \"%.*s...\": path too long", 40, spec);
        return -1;
    }
    memcpy(p->path, spec, n);
    p->path[n] = '\0';

    const char *s = spec + n;
    while (*s == ',') {
        s++;
        size_t len = strcspn(s, ",");
        if (len == 0)
            continue;       /* "PATH," or ",,": nothing to set */
        char opt[128];
        if (len >= sizeof opt) {
            snprintf(err, errlen, "serial: \"%.*s...\": unknown option (baud, bits, parity, "
                     "stop, flow)", 40, s);
            return -1;
        }
        memcpy(opt, s, len);
        opt[len] = '\0';
        s += len;

        char *eq = strchr(opt, '=');
        size_t klen = eq ? (size_t)(eq - opt) : len;
        const char *val = eq ? eq + 1 : "";
        const char *keys[] = {"baud", "bits", "parity", "stop", "flow"};
        int key = -1;
        for (int i = 0; i < (int)ARRAY_LEN(keys); i++)
            if (strlen(keys[i]) == klen && strncasecmp(opt, keys[i], klen) == 0)
                key = i;
        if (key < 0) {
            snprintf(err, errlen, "serial: \"%s\": unknown option (baud, bits, parity, stop, "
                     "flow)", opt);
            return -1;
        }
        if (!eq || !*val) {
            snprintf(err, errlen, "serial: \"%s\": %s needs a value (%s=...)", opt, keys[key],
                     keys[key]);
            return -1;
        }
        long v;
        int w;
        switch (key) {
        case 0:
            /* 4 Mbaud is beyond any instrument's UART; the port itself says what it can. */
            if (serial_number(val, 1, 4000000, &v) < 0) {
                snprintf(err, errlen, "serial: \"%s\": baud is a number (1-4000000)", opt);
                return -1;
            }
            p->baud = (int)v;
            break;
        case 1:
            if (serial_number(val, 5, 8, &v) < 0) {
                snprintf(err, errlen, "serial: \"%s\": bits is 5, 6, 7 or 8", opt);
                return -1;
            }
            p->bits = (int)v;
            break;
        case 2:
            if ((w = serial_word(val, serial_parities, (int)ARRAY_LEN(serial_parities))) < 0) {
                snprintf(err, errlen, "serial: \"%s\": parity is none, odd, even, mark or space",
                         opt);
                return -1;
            }
            p->parity = (enum serial_parity)w;
            break;
        case 3:
            if (serial_number(val, 1, 2, &v) < 0) {
                snprintf(err, errlen, "serial: \"%s\": stop is 1 or 2", opt);
                return -1;
            }
            p->stop = (int)v;
            break;
        default:
            if ((w = serial_word(val, serial_flows, (int)ARRAY_LEN(serial_flows))) < 0) {
                snprintf(err, errlen, "serial: \"%s\": flow is none, xonxoff, rtscts or dtrdsr",
                         opt);
                return -1;
            }
            p->flow = (enum serial_flow)w;
            break;
        }
    }
    return 0;
}

/* Why libserialport said no, for the end of a message. */
static const char *serial_sp_error(enum sp_return r, char *buf, size_t len)
{
    switch (r) {
    case SP_ERR_FAIL:
        return transport_strerror(sp_last_error_code(), buf, len);
    case SP_ERR_SUPP:
        return "not supported by this port or system";
    case SP_ERR_MEM:
        return "out of memory";
    default:
        return "invalid argument";
    }
}

static void serial_free(struct serial_priv *sp)
{
    if (sp->port) {
        sp_close(sp->port);
        sp_free_port(sp->port);
    }
    if (sp->locked)
        transport_unlock(sp->path);
    free(sp);
}

static int serial_open(struct transport *t, const char *spec, const char *driver, char *err,
                       size_t errlen)
{
    (void)driver;
    struct serial_params p;
    if (serial_parse_spec(spec, &p, err, errlen) < 0)
        return -1;
    const char *path = p.path;
    char why[160];

    /* Look before locking: a typo should say "no such port", not leave a lock file behind. */
    struct stat st;
    if (stat(path, &st) < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            snprintf(err, errlen, "serial:%s: no such port", path);
        else
            snprintf(err, errlen, "serial:%s: %s", path,
                     transport_strerror(errno, why, sizeof why));
        return -1;
    }
    if (!S_ISCHR(st.st_mode)) {
        snprintf(err, errlen, "serial:%s: not a serial port (not a character device)", path);
        return -1;
    }

    struct serial_priv *sp = util_calloc(1, sizeof *sp);
    util_strlcpy(sp->path, path, sizeof sp->path);
    int lk = transport_lock(path, why, sizeof why);
    if (lk < 0) {
        snprintf(err, errlen, "serial:%s: %s", path, why);
        goto fail;
    }
    if (lk > 0)
        msg_warn("serial:%s: %s; opening the port without one", path, why);
    sp->locked = lk == 0;

    enum sp_return r = sp_get_port_by_name(path, &sp->port);
    if (r != SP_OK) {
        sp->port = NULL;
        snprintf(err, errlen, "serial:%s: libserialport does not know it as a serial port "
                 "(pseudo-terminals are not supported)", path);
        goto fail;
    }
    r = sp_open(sp->port, SP_MODE_READ_WRITE);
    if (r != SP_OK) {
        int e = r == SP_ERR_FAIL ? sp_last_error_code() : 0;
        sp_free_port(sp->port);
        sp->port = NULL;
        if (e == EACCES || e == EPERM)
            snprintf(err, errlen, "serial:%s: permission denied (are you in group dialout?)",
                     path);
        else if (e == EBUSY)
            snprintf(err, errlen, "serial:%s: port is busy (another program has it open "
                     "exclusively)", path);
        else if (e == ENOENT || e == ENODEV || e == ENXIO)
            snprintf(err, errlen, "serial:%s: no such port (%s)", path,
                     transport_strerror(e, why, sizeof why));
        else
            snprintf(err, errlen, "serial:%s: cannot open: %s", path,
                     serial_sp_error(r, why, sizeof why));
        goto fail;
    }

    static const enum sp_parity parities[] = {
        [SERIAL_PARITY_NONE] = SP_PARITY_NONE, [SERIAL_PARITY_ODD] = SP_PARITY_ODD,
        [SERIAL_PARITY_EVEN] = SP_PARITY_EVEN, [SERIAL_PARITY_MARK] = SP_PARITY_MARK,
        [SERIAL_PARITY_SPACE] = SP_PARITY_SPACE,
    };
    static const enum sp_flowcontrol flows[] = {
        [SERIAL_FLOW_NONE] = SP_FLOWCONTROL_NONE, [SERIAL_FLOW_XONXOFF] = SP_FLOWCONTROL_XONXOFF,
        [SERIAL_FLOW_RTSCTS] = SP_FLOWCONTROL_RTSCTS, [SERIAL_FLOW_DTRDSR] = SP_FLOWCONTROL_DTRDSR,
    };
    char what[48];
    if ((r = sp_set_baudrate(sp->port, p.baud)) != SP_OK)
        snprintf(what, sizeof what, "baud=%d", p.baud);
    else if ((r = sp_set_bits(sp->port, p.bits)) != SP_OK)
        snprintf(what, sizeof what, "bits=%d", p.bits);
    else if ((r = sp_set_parity(sp->port, parities[p.parity])) != SP_OK)
        snprintf(what, sizeof what, "parity=%s", serial_parities[p.parity]);
    else if ((r = sp_set_stopbits(sp->port, p.stop)) != SP_OK)
        snprintf(what, sizeof what, "stop=%d", p.stop);
    else if ((r = sp_set_flowcontrol(sp->port, flows[p.flow])) != SP_OK)
        snprintf(what, sizeof what, "flow=%s", serial_flows[p.flow]);
    if (r != SP_OK) {
        snprintf(err, errlen, "serial:%s: cannot set %s: %s", path, what,
                 serial_sp_error(r, why, sizeof why));
        goto fail;
    }

    int fd = -1;
    if (sp_get_port_handle(sp->port, &fd) != SP_OK || fd < 0 || transport_fd_setup(fd) < 0) {
        snprintf(err, errlen, "serial:%s: cannot set up the port's file descriptor", path);
        goto fail;
    }
    /* The lock file only stops programs that look for it; TIOCEXCL makes any further open()
     * of the tty fail with EBUSY (except for root). Without it we still have the port, so a
     * failure is worth a warning, not a refusal. */
    if (ioctl(fd, TIOCEXCL) < 0)
        msg_warn("serial:%s: no exclusive access (TIOCEXCL: %s)", path,
                 transport_strerror(errno, why, sizeof why));
    /* Whatever the instrument sent before we opened is not an answer to anything of ours. */
    sp_flush(sp->port, SP_BUF_INPUT);

    t->fd = fd;
    t->real = 1;
    t->priv = sp;
    return 0;

fail:
    serial_free(sp);
    return -1;
}

static void serial_close(struct transport *t)
{
    struct serial_priv *sp = t->priv;
    if (!sp)
        return;
    if (t->fd >= 0) {
        ioctl(t->fd, TIOCNXCL);
        /* close() of a tty waits up to closing_wait (30 s by default) for unsent output to
         * drain, and under flow control with the instrument switched off it never drains:
         * drop it, so closing never stalls the event loop. */
        tcflush(t->fd, TCOFLUSH);
    }
    t->fd = -1;             /* sp_close closes it */
    serial_free(sp);
    t->priv = NULL;
}

const struct transport_ops transport_serial_ops = {
    .scheme = "serial",
    .usage = SERIAL_USAGE,
    .open = serial_open,
    .close = serial_close,
};
