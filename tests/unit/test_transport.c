/* Tests of the transports: the table and spec errors, serial option parsing, serial errors
 * (missing port, a pseudo-terminal, /dev/ttyS0 when it can be used safely), TCP to a loopback
 * listener (round trip, refused, bounded writes, a peer that went away), sim with stand-in
 * programs (round trip, the child is killed and reaped, exec failures), UUCP lock files
 * between two processes, stale locks, and where insitu-sim is looked for. */
#include <check.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "insitu/transport.h"
#include "insitu/util.h"
#include "suites.h"

/* ---- helpers ----------------------------------------------------------------------------- */

static char *tp_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char *t = util_printf("%s/insitu-transport-XXXXXX", base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(t));
    return t;
}

static int tp_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void tp_tmpdir_free(char *t)
{
    nftw(t, tp_rm, 16, FTW_DEPTH | FTW_PHYS);
    free(t);
}

static int tp_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static void tp_write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(chmod(path, mode), 0);
}

static char *tp_read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char buf[256];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return util_strdup(buf);
}

static double tp_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Read from T until BUF holds a newline or TIMEOUT passes; returns the length (0 at EOF with
 * nothing read). The way the event loop uses a transport: poll, then a non-blocking read. */
static size_t tp_read_line(struct transport *t, char *buf, size_t len, double timeout)
{
    size_t got = 0;
    double end = tp_now() + timeout;
    buf[0] = '\0';
    while (got < len - 1 && !memchr(buf, '\n', got) && tp_now() < end) {
        struct pollfd pfd = {.fd = t->fd, .events = POLLIN};
        poll(&pfd, 1, 50);
        ssize_t n = transport_read(t, buf + got, len - 1 - got);
        if (n == 0)
            break;
        if (n < 0) {
            ck_assert_int_eq(errno, EAGAIN);
            continue;
        }
        got += (size_t)n;
        buf[got] = '\0';
    }
    return got;
}

/* A TCP listener on loopback at an ephemeral port. */
static int tp_listen(int family, int *port)
{
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t sl;
    if (family == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_addr = in6addr_loopback;
        sl = sizeof *s6;
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        sl = sizeof *s4;
    }
    if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 4) < 0) {
        close(fd);
        return -1;
    }
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *port = ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                     : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

static int tp_accept(int lfd)
{
    struct pollfd pfd = {.fd = lfd, .events = POLLIN};
    ck_assert_int_eq(poll(&pfd, 1, 2000), 1);
    int fd = accept(lfd, NULL, NULL);
    ck_assert_int_ge(fd, 0);
    return fd;
}

static int tp_nonblocking(int fd)
{
    return (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0;
}

/* The process is gone and reaped: no zombie left behind. */
static void tp_assert_gone(pid_t pid)
{
    int st;
    errno = 0;
    ck_assert_int_eq(waitpid(pid, &st, WNOHANG), -1);
    ck_assert_int_eq(errno, ECHILD);
    ck_assert_int_eq(kill(pid, 0), -1);
    ck_assert_int_eq(errno, ESRCH);
}

/* ---- the table and spec errors ----------------------------------------------------------- */

START_TEST(table)
{
    ck_assert_int_eq(transport_count(), 4);
    const char *want[] = {"serial", "tcp", "sim", "dir"};
    for (int i = 0; i < 4; i++) {
        ck_assert_str_eq(transport_at(i)->scheme, want[i]);
        ck_assert(util_startswith(transport_at(i)->usage, want[i]));
        ck_assert_ptr_nonnull(transport_at(i)->open);
        ck_assert_ptr_nonnull(transport_at(i)->close);
    }
    ck_assert_ptr_null(transport_at(-1));
    ck_assert_ptr_null(transport_at(4));
}
END_TEST

/* A directory written by the instrument's software: no byte stream; a missing one is an error
 * naming it (the device layer then retries). */
START_TEST(dir_transport)
{
    char err[256];
    struct transport *t = transport_open("dir:/tmp", "topspin", err, sizeof err);
    ck_assert_msg(t != NULL, "%s", err);
    ck_assert_int_eq(t->fd, -1);
    ck_assert_int_eq(t->real, 1);
    transport_close(t);
    ck_assert_ptr_null(transport_open("dir:/nonexistent/insitu", "topspin", err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/insitu"));
    ck_assert_ptr_null(transport_open("dir:/etc/passwd", "topspin", err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "not a directory"));
}
END_TEST

START_TEST(unknown_scheme)
{
    char err[256];
    ck_assert_ptr_null(transport_open("usb:0", "x", err, sizeof err));
    ck_assert_str_eq(err, "unknown transport \"usb\" (serial, tcp, sim, dir)");
    ck_assert_ptr_null(transport_open(":x", "x", err, sizeof err));
    ck_assert_str_eq(err, "unknown transport \"\" (serial, tcp, sim, dir)");
    ck_assert_ptr_null(transport_open("ttyUSB0", "x", err, sizeof err));
    ck_assert_str_eq(err, "\"ttyUSB0\": expected SCHEME:ADDRESS, SCHEME one of serial, tcp, sim, dir");
    /* A short buffer truncates; it never overflows. */
    char small[8];
    ck_assert_ptr_null(transport_open("usb:0", "x", small, sizeof small));
    ck_assert_str_eq(small, "unknown");
}
END_TEST

/* ---- serial: options --------------------------------------------------------------------- */

START_TEST(serial_spec_good)
{
    struct serial_params p;
    char err[256];
    ck_assert_int_eq(serial_parse_spec("/dev/ttyUSB0", &p, err, sizeof err), 0);
    ck_assert_str_eq(p.path, "/dev/ttyUSB0");
    ck_assert_int_eq(p.baud, 9600);
    ck_assert_int_eq(p.bits, 8);
    ck_assert_int_eq(p.parity, SERIAL_PARITY_NONE);
    ck_assert_int_eq(p.stop, 1);
    ck_assert_int_eq(p.flow, SERIAL_FLOW_NONE);

    ck_assert_int_eq(serial_parse_spec("/dev/serial/by-id/usb-FTDI_A50285BI-if00-port0,"
                                       "baud=115200,bits=7,parity=even,stop=2,flow=rtscts",
                                       &p, err, sizeof err), 0);
    ck_assert_str_eq(p.path, "/dev/serial/by-id/usb-FTDI_A50285BI-if00-port0");
    ck_assert_int_eq(p.baud, 115200);
    ck_assert_int_eq(p.bits, 7);
    ck_assert_int_eq(p.parity, SERIAL_PARITY_EVEN);
    ck_assert_int_eq(p.stop, 2);
    ck_assert_int_eq(p.flow, SERIAL_FLOW_RTSCTS);

    /* Any order, names and words in any case, the last of a repeated option wins, and an
     * empty item (a trailing comma) sets nothing. */
    ck_assert_int_eq(serial_parse_spec("/dev/ttyS1,Flow=XonXoff,PARITY=Odd,bits=5,baud=300,"
                                       "baud=19200,", &p, err, sizeof err), 0);
    ck_assert_int_eq(p.flow, SERIAL_FLOW_XONXOFF);
    ck_assert_int_eq(p.parity, SERIAL_PARITY_ODD);
    ck_assert_int_eq(p.bits, 5);
    ck_assert_int_eq(p.baud, 19200);
    ck_assert_int_eq(serial_parse_spec("/dev/ttyS1,parity=mark,flow=dtrdsr", &p, err,
                                       sizeof err), 0);
    ck_assert_int_eq(p.parity, SERIAL_PARITY_MARK);
    ck_assert_int_eq(p.flow, SERIAL_FLOW_DTRDSR);
    ck_assert_int_eq(serial_parse_spec("/dev/ttyS1,parity=space,flow=none", &p, err,
                                       sizeof err), 0);
    ck_assert_int_eq(p.parity, SERIAL_PARITY_SPACE);
    ck_assert_int_eq(p.flow, SERIAL_FLOW_NONE);
}
END_TEST

START_TEST(serial_spec_bad)
{
    static const struct {
        const char *spec, *err;
    } cases[] = {
        {"/dev/ttyUSB0,baud=fast", "serial: \"baud=fast\": baud is a number (1-4000000)"},
        {"/dev/ttyUSB0,baud=0", "serial: \"baud=0\": baud is a number (1-4000000)"},
        {"/dev/ttyUSB0,baud=-9600", "serial: \"baud=-9600\": baud is a number (1-4000000)"},
        {"/dev/ttyUSB0,baud=9600x", "serial: \"baud=9600x\": baud is a number (1-4000000)"},
        {"/dev/ttyUSB0,baud=99999999999999999999",
         "serial: \"baud=99999999999999999999\": baud is a number (1-4000000)"},
        {"/dev/ttyUSB0,bits=9", "serial: \"bits=9\": bits is 5, 6, 7 or 8"},
        {"/dev/ttyUSB0,bits=4", "serial: \"bits=4\": bits is 5, 6, 7 or 8"},
        {"/dev/ttyUSB0,parity=maybe",
         "serial: \"parity=maybe\": parity is none, odd, even, mark or space"},
        {"/dev/ttyUSB0,stop=1.5", "serial: \"stop=1.5\": stop is 1 or 2"},
        {"/dev/ttyUSB0,stop=3", "serial: \"stop=3\": stop is 1 or 2"},
        {"/dev/ttyUSB0,flow=hardware",
         "serial: \"flow=hardware\": flow is none, xonxoff, rtscts or dtrdsr"},
        {"/dev/ttyUSB0,speed=9600",
         "serial: \"speed=9600\": unknown option (baud, bits, parity, stop, flow)"},
        {"/dev/ttyUSB0,baudrate=9600",
         "serial: \"baudrate=9600\": unknown option (baud, bits, parity, stop, flow)"},
        {"/dev/ttyUSB0,baud", "serial: \"baud\": baud needs a value (baud=...)"},
        {"/dev/ttyUSB0,parity=", "serial: \"parity=\": parity needs a value (parity=...)"},
        {"", "serial: \"\": no port given (serial:PATH[,baud=9600,bits=8,"
             "parity=none|odd|even|mark|space,stop=1|2,flow=none|xonxoff|rtscts|dtrdsr])"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct serial_params p;
        char err[256] = "";
        ck_assert_msg(serial_parse_spec(cases[i].spec, &p, err, sizeof err) == -1, "%s",
                      cases[i].spec);
        ck_assert_str_eq(err, cases[i].err);
    }
    struct serial_params p;
    char err[256];
    ck_assert_int_eq(serial_parse_spec(",baud=9600", &p, err, sizeof err), -1);
    ck_assert(util_startswith(err, "serial: \",baud=9600\": no port given"));

    /* Through transport_open: the options are checked before anything is opened. */
    ck_assert_ptr_null(transport_open("serial:/dev/ttyUSB0,baud=fast", "x", err, sizeof err));
    ck_assert_str_eq(err, "serial: \"baud=fast\": baud is a number (1-4000000)");
}
END_TEST

/* ---- serial: opening --------------------------------------------------------------------- */

START_TEST(serial_no_such_port)
{
    char *dir = tp_tmpdir();
    setenv("INSITU_LOCK_DIR", dir, 1);
    char err[256];
    ck_assert_ptr_null(transport_open("serial:/dev/ttyINSITU9", "x", err, sizeof err));
    ck_assert_str_eq(err, "serial:/dev/ttyINSITU9: no such port");
    ck_assert_ptr_null(transport_open("serial:/dev/ttyINSITU9,baud=115200", "x", err,
                                      sizeof err));
    ck_assert_str_eq(err, "serial:/dev/ttyINSITU9: no such port");

    /* A file is no port either; and neither leaves a lock file behind. */
    char *file = util_printf("%s/ttyFILE", dir);
    tp_write_file(file, "", 0644);
    char *spec = util_printf("serial:%s", file);
    ck_assert_ptr_null(transport_open(spec, "x", err, sizeof err));
    char *want = util_printf("%s: not a serial port (not a character device)", spec);
    ck_assert_str_eq(err, want);
    char *lock = util_printf("%s/LCK..ttyFILE", dir);
    ck_assert(!tp_exists(lock));
    free(lock);
    free(want);
    free(spec);
    free(file);
    unsetenv("INSITU_LOCK_DIR");
    tp_tmpdir_free(dir);
}
END_TEST

/* A pseudo-terminal: a real character device libserialport 0.1.1 cannot open. The lock file
 * comes before libserialport, so lock contention shows here too, and a failed open must not
 * leave its lock behind. */
START_TEST(serial_pty)
{
    int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0) {
        if (master >= 0)
            close(master);
        return;     /* no ptys in this sandbox */
    }
    const char *pts = ptsname(master);
    ck_assert_ptr_nonnull(pts);
    char *dir = tp_tmpdir();
    setenv("INSITU_LOCK_DIR", dir, 1);
    char *spec = util_printf("serial:%s", pts);
    char *lock = transport_lock_path(pts);
    const char *base = strrchr(pts, '/') + 1;
    char *want_lock = util_printf("%s/LCK..%s", dir, base);
    ck_assert_str_eq(lock, want_lock);

    char err[512];
    ck_assert_ptr_null(transport_open(spec, "x", err, sizeof err));
    char *want = util_printf("%s: libserialport does not know it as a serial port "
                             "(pseudo-terminals are not supported)", spec);
    ck_assert_str_eq(err, want);
    ck_assert(!tp_exists(lock));

    /* Held by another live process (our parent): refused, and its lock stays. */
    char *text = util_printf("%10ld\n", (long)getppid());
    tp_write_file(lock, text, 0644);
    ck_assert_ptr_null(transport_open(spec, "x", err, sizeof err));
    char *inuse = util_printf("%s: port %s is in use by PID %ld", spec, pts, (long)getppid());
    ck_assert_msg(util_startswith(err, inuse), "%s", err);
    char *now = tp_read_file(lock);
    ck_assert_str_eq(now, text);

    free(now);
    free(inuse);
    free(text);
    free(want);
    free(want_lock);
    free(lock);
    free(spec);
    unsetenv("INSITU_LOCK_DIR");
    tp_tmpdir_free(dir);
    close(master);
}
END_TEST

/* Nothing here depends on /dev/ttyS0; but where it exists and may be opened, open it for real
 * (never writing to it: it may be wired to something). A serial console is left alone. */
static int tp_ttys0_usable(void)
{
    if (access("/dev/ttyS0", R_OK | W_OK) < 0)
        return 0;
    char *active = tp_read_file("/sys/class/tty/console/active");
    char *cmdline = tp_read_file("/proc/cmdline");
    int console = (active && strstr(active, "ttyS0")) || (cmdline && strstr(cmdline, "ttyS0"));
    free(active);
    free(cmdline);
    return !console;
}

START_TEST(serial_ttys0)
{
    if (!tp_ttys0_usable())
        return;
    char *dir = tp_tmpdir();
    setenv("INSITU_LOCK_DIR", dir, 1);
    char err[512];
    char *lock = util_printf("%s/LCK..ttyS0", dir);
    double t0 = tp_now();
    struct transport *t = transport_open("serial:/dev/ttyS0,baud=19200,parity=even", "x", err,
                                         sizeof err);
    ck_assert(tp_now() - t0 < 2.0);
    if (!t) {
        /* No UART behind it (EIO) or libserialport refuses it: a clear message, no lock. */
        ck_assert_msg(util_startswith(err, "serial:/dev/ttyS0: "), "%s", err);
        ck_assert(!tp_exists(lock));
    } else {
        ck_assert_int_eq(t->real, 1);
        ck_assert_int_ge(t->fd, 0);
        ck_assert(tp_nonblocking(t->fd));
        ck_assert(fcntl(t->fd, F_GETFD) & FD_CLOEXEC);
        char *text = tp_read_file(lock), *want = util_printf("%10ld\n", (long)getpid());
        ck_assert_str_eq(text, want);
        /* The same port again, even from this process: in use. */
        ck_assert_ptr_null(transport_open("serial:/dev/ttyS0", "x", err, sizeof err));
        char *inuse = util_printf("serial:/dev/ttyS0: port /dev/ttyS0 is in use by PID %ld",
                                  (long)getpid());
        ck_assert_msg(util_startswith(err, inuse), "%s", err);
        char c;
        ssize_t n = transport_read(t, &c, 1);
        ck_assert(n == 1 || (n < 0 && errno == EAGAIN) || (n < 0 && errno == EIO));
        transport_close(t);
        ck_assert(!tp_exists(lock));
        free(inuse);
        free(want);
        free(text);
    }
    free(lock);
    unsetenv("INSITU_LOCK_DIR");
    tp_tmpdir_free(dir);
}
END_TEST

/* ---- tcp --------------------------------------------------------------------------------- */

static void tp_tcp_roundtrip(const char *host, int family)
{
    int port;
    int lfd = tp_listen(family, &port);
    if (lfd < 0)
        return;     /* no such loopback (IPv6 disabled) */
    char spec[128], err[256], buf[256];
    snprintf(spec, sizeof spec, "tcp:%s:%d", host, port);
    struct transport *t = transport_open(spec, "keithley2400", err, sizeof err);
    ck_assert_msg(t != NULL, "%s", err);
    ck_assert_str_eq(t->spec, spec);
    ck_assert_int_eq(t->real, 1);
    ck_assert_int_eq(t->child, 0);
    ck_assert(tp_nonblocking(t->fd));
    int sfd = tp_accept(lfd);

    /* Nothing there yet: EAGAIN, never a wait. */
    ck_assert_int_eq(transport_read(t, buf, sizeof buf), -1);
    ck_assert_int_eq(errno, EAGAIN);

    ck_assert_int_eq(transport_write(t, "*IDN?\n", 6, 1.0), 0);
    ssize_t n = 0;
    struct pollfd pfd = {.fd = sfd, .events = POLLIN};
    ck_assert_int_eq(poll(&pfd, 1, 2000), 1);
    n = read(sfd, buf, sizeof buf - 1);
    ck_assert_int_eq(n, 6);
    buf[n] = '\0';
    ck_assert_str_eq(buf, "*IDN?\n");
    ck_assert_int_eq(write(sfd, "KEITHLEY,2400\n", 14), 14);
    ck_assert_uint_eq(tp_read_line(t, buf, sizeof buf, 2.0), 14);
    ck_assert_str_eq(buf, "KEITHLEY,2400\n");

    /* The instrument goes away: end of file. */
    close(sfd);
    ck_assert_uint_eq(tp_read_line(t, buf, sizeof buf, 2.0), 0);
    ck_assert_int_eq(transport_read(t, buf, sizeof buf), 0);
    transport_close(t);
    close(lfd);
}

START_TEST(tcp_roundtrip)
{
    tp_tcp_roundtrip("127.0.0.1", AF_INET);
    /* localhost is ::1 as well as 127.0.0.1; the listener has only the latter. */
    tp_tcp_roundtrip("localhost", AF_INET);
    tp_tcp_roundtrip("[::1]", AF_INET6);
}
END_TEST

/* A port with nobody listening: the one that was just bound and closed. */
static int tp_free_port(void)
{
    int port;
    int fd = tp_listen(AF_INET, &port);
    ck_assert_int_ge(fd, 0);
    close(fd);
    return port;
}

START_TEST(tcp_refused)
{
    char spec[64], err[256], want[256];
    int port = tp_free_port();
    snprintf(spec, sizeof spec, "tcp:127.0.0.1:%d", port);
    double t0 = tp_now();
    ck_assert_ptr_null(transport_open(spec, "x", err, sizeof err));
    ck_assert(tp_now() - t0 < 1.0);
    snprintf(want, sizeof want, "%s: connection refused", spec);
    ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(tcp_spec_bad)
{
    static const struct {
        const char *spec, *err;
    } cases[] = {
        {"tcp:localhost", "tcp: \"localhost\": expected tcp:HOST:PORT"},
        {"tcp:", "tcp: \"\": expected tcp:HOST:PORT"},
        {"tcp::5025", "tcp: \":5025\": no host given (tcp:HOST:PORT)"},
        {"tcp:localhost:", "tcp: \"localhost:\": port is a number (1-65535)"},
        {"tcp:localhost:scpi", "tcp: \"localhost:scpi\": port is a number (1-65535)"},
        {"tcp:localhost:0", "tcp: \"localhost:0\": port is a number (1-65535)"},
        {"tcp:localhost:65536", "tcp: \"localhost:65536\": port is a number (1-65535)"},
        {"tcp:[::1]5025", "tcp: \"[::1]5025\": expected tcp:HOST:PORT ([IPV6]:PORT for IPv6)"},
        {"tcp:[]:5025", "tcp: \"[]:5025\": no host given (tcp:HOST:PORT)"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char err[256] = "";
        ck_assert_ptr_null(transport_open(cases[i].spec, "x", err, sizeof err));
        ck_assert_str_eq(err, cases[i].err);
    }
    /* A name that cannot resolve (.invalid is reserved for that: RFC 6761). */
    char err[256];
    ck_assert_ptr_null(transport_open("tcp:no-such-host.invalid:5025", "x", err, sizeof err));
    ck_assert_msg(util_startswith(err, "tcp:no-such-host.invalid:5025: cannot find host "
                                       "no-such-host.invalid: "), "%s", err);
}
END_TEST

/* A peer that never reads: transport_write gives up after its timeout instead of waiting. */
START_TEST(tcp_write_timeout)
{
    int port;
    int lfd = tp_listen(AF_INET, &port);
    ck_assert_int_ge(lfd, 0);
    char spec[64], err[256];
    snprintf(spec, sizeof spec, "tcp:127.0.0.1:%d", port);
    struct transport *t = transport_open(spec, "x", err, sizeof err);
    ck_assert_msg(t != NULL, "%s", err);
    int sfd = tp_accept(lfd);
    static char chunk[65536];
    memset(chunk, 'x', sizeof chunk);
    int rc = 0;
    double took = 0;
    for (int i = 0; i < 1000 && rc == 0; i++) {
        double t0 = tp_now();
        rc = transport_write(t, chunk, sizeof chunk, 0.2);
        took = tp_now() - t0;
    }
    ck_assert_int_eq(rc, -1);
    ck_assert_int_eq(errno, ETIMEDOUT);
    ck_assert_msg(took >= 0.15 && took < 1.0, "took %g s", took);
    transport_close(t);
    close(sfd);
    close(lfd);
}
END_TEST

/* Writing to a peer that closed is an error (EPIPE or ECONNRESET), not a SIGPIPE death. */
START_TEST(tcp_write_peer_gone)
{
    int port;
    int lfd = tp_listen(AF_INET, &port);
    ck_assert_int_ge(lfd, 0);
    char spec[64], err[256];
    snprintf(spec, sizeof spec, "tcp:127.0.0.1:%d", port);
    struct transport *t = transport_open(spec, "x", err, sizeof err);
    ck_assert_msg(t != NULL, "%s", err);
    close(tp_accept(lfd));
    int rc = 0;
    for (int i = 0; i < 50 && rc == 0; i++) {
        rc = transport_write(t, "OUTP ON\n", 8, 0.5);
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    ck_assert_int_eq(rc, -1);
    ck_assert_msg(errno == EPIPE || errno == ECONNRESET, "errno %d", errno);
    transport_close(t);
    close(lfd);
}
END_TEST

/* ---- sim --------------------------------------------------------------------------------- */

/* A stand-in for insitu-sim: says how it was called, then echoes. */
static char *tp_standin(const char *dir, const char *name, const char *body)
{
    char *path = util_printf("%s/%s", dir, name);
    char *text = util_printf("#!/bin/sh\n%s", body);
    tp_write_file(path, text, 0755);
    free(text);
    return path;
}

START_TEST(sim_roundtrip)
{
    char *dir = tp_tmpdir();
    char *prog = tp_standin(dir, "echo-sim", "printf '%s %s\\n' \"$1\" \"$2\"\nexec cat\n");
    setenv("INSITU_SIM", prog, 1);
    char err[256], buf[256];
    struct transport *t = transport_open("sim:2400,noise=0", "keithley2400", err, sizeof err);
    ck_assert_msg(t != NULL, "%s", err);
    ck_assert_str_eq(t->spec, "sim:2400,noise=0");
    ck_assert_int_eq(t->real, 0);
    ck_assert_int_gt(t->child, 0);
    ck_assert(tp_nonblocking(t->fd));
    ck_assert(fcntl(t->fd, F_GETFD) & FD_CLOEXEC);
    /* Its own process group, so Ctrl-C at insitu's terminal does not reach it. */
    ck_assert_int_eq(getpgid(t->child), t->child);

    ck_assert_uint_gt(tp_read_line(t, buf, sizeof buf, 3.0), 0);
    ck_assert_str_eq(buf, "--stdio keithley2400:2400,noise=0\n");
    ck_assert_int_eq(transport_write(t, "*IDN?\n", 6, 1.0), 0);
    ck_assert_uint_eq(tp_read_line(t, buf, sizeof buf, 3.0), 6);
    ck_assert_str_eq(buf, "*IDN?\n");

    pid_t pid = t->child;
    transport_close(t);
    tp_assert_gone(pid);
    unsetenv("INSITU_SIM");
    free(prog);
    tp_tmpdir_free(dir);
}
END_TEST

/* A simulator that ignores SIGTERM (and EOF) is killed after about a second, and reaped. */
START_TEST(sim_close_kills)
{
    char *dir = tp_tmpdir();
    char *prog = tp_standin(dir, "stubborn-sim", "trap '' TERM\necho ready\nexec sleep 30\n");
    setenv("INSITU_SIM", prog, 1);
    char err[256], buf[64];
    struct transport *t = transport_open("sim:x", "d", err, sizeof err);
    ck_assert_msg(t != NULL, "%s", err);
    ck_assert_uint_gt(tp_read_line(t, buf, sizeof buf, 3.0), 0);   /* the trap is set */
    pid_t pid = t->child;
    double t0 = tp_now();
    transport_close(t);
    double took = tp_now() - t0;
    ck_assert_msg(took >= 0.5 && took < 2.5, "took %g s", took);
    tp_assert_gone(pid);

    /* One that exits by itself while open: the fd reads end of file; close still reaps. */
    free(prog);
    prog = tp_standin(dir, "brief-sim", "echo bye\n");
    setenv("INSITU_SIM", prog, 1);
    t = transport_open("sim:x", "d", err, sizeof err);
    ck_assert_msg(t != NULL, "%s", err);
    ck_assert_uint_eq(tp_read_line(t, buf, sizeof buf, 3.0), 4);
    ck_assert_uint_eq(tp_read_line(t, buf, sizeof buf, 3.0), 0);
    pid = t->child;
    t0 = tp_now();
    transport_close(t);
    ck_assert(tp_now() - t0 < 0.5);
    tp_assert_gone(pid);

    unsetenv("INSITU_SIM");
    free(prog);
    tp_tmpdir_free(dir);
}
END_TEST

START_TEST(sim_cannot_run)
{
    char err[256];
    int st;
    setenv("INSITU_SIM", "/nonexistent/insitu-sim", 1);
    ck_assert_ptr_null(transport_open("sim:2400", "keithley2400", err, sizeof err));
    ck_assert_str_eq(err, "sim: cannot run insitu-sim (/nonexistent/insitu-sim): "
                          "no such file or directory");
    /* The failed child was reaped: this process has no children at all. */
    ck_assert_int_eq(waitpid(-1, &st, WNOHANG), -1);
    ck_assert_int_eq(errno, ECHILD);

    char *dir = tp_tmpdir();
    char *prog = util_printf("%s/not-executable", dir);
    tp_write_file(prog, "#!/bin/sh\nexec cat\n", 0644);
    setenv("INSITU_SIM", prog, 1);
    ck_assert_ptr_null(transport_open("sim:2400", "keithley2400", err, sizeof err));
    /* No x bit: not even root may run it. */
    char *want = util_printf("sim: cannot run insitu-sim (%s): permission denied", prog);
    ck_assert_str_eq(err, want);
    ck_assert_int_eq(waitpid(-1, &st, WNOHANG), -1);

    /* Bad specs never start anything. */
    ck_assert_ptr_null(transport_open("sim:", "keithley2400", err, sizeof err));
    ck_assert_str_eq(err, "sim: \"\": no model given (sim:MODEL[,opt=value...])");
    ck_assert_ptr_null(transport_open("sim:2400", NULL, err, sizeof err));
    ck_assert_str_eq(err, "sim:2400: no instrument driver given (insitu-sim needs it to know "
                          "what to simulate)");

    free(want);
    free(prog);
    unsetenv("INSITU_SIM");
    tp_tmpdir_free(dir);
}
END_TEST

START_TEST(sim_path)
{
    setenv("INSITU_SIM", "/opt/x/insitu-sim", 1);
    char *p = transport_sim_path();
    ck_assert_str_eq(p, "/opt/x/insitu-sim");
    free(p);
    unsetenv("INSITU_SIM");

    /* Beside this test program (build/check_insitu -> build/insitu-sim) when it is there. */
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    ck_assert_int_gt(n, 0);
    exe[n] = '\0';
    *strrchr(exe, '/') = '\0';
    char *beside = util_printf("%s/insitu-sim", exe);
    int have_beside = access(beside, X_OK) == 0;

    char *dir = tp_tmpdir();
    char *onpath = tp_standin(dir, "insitu-sim", "exec cat\n");
    char *oldpath = util_strdup(getenv("PATH") ? getenv("PATH") : "");
    char *newpath = util_printf("/nonexistent:%s", dir);
    setenv("PATH", newpath, 1);
    p = transport_sim_path();
    ck_assert_str_eq(p, have_beside ? beside : onpath);
    free(p);
    if (!have_beside) {
        setenv("PATH", "/nonexistent", 1);
        p = transport_sim_path();
        ck_assert_str_eq(p, "insitu-sim");
        free(p);
        char err[256];
        ck_assert_ptr_null(transport_open("sim:2400", "keithley2400", err, sizeof err));
        ck_assert_str_eq(err, "sim: cannot run insitu-sim: not found (set INSITU_SIM, or put it "
                              "beside insitu or on PATH)");
    }
    setenv("PATH", oldpath, 1);
    free(newpath);
    free(oldpath);
    free(onpath);
    free(beside);
    tp_tmpdir_free(dir);
}
END_TEST

/* ---- lock files -------------------------------------------------------------------------- */

static char *tp_lock_env(void)
{
    char *dir = tp_tmpdir();
    setenv("INSITU_LOCK_DIR", dir, 1);
    return dir;
}

START_TEST(lock_two_processes)
{
    char *dir = tp_lock_env();
    char err[256];
    char *lock = util_printf("%s/LCK..ttyFAKE0", dir);
    char *path = transport_lock_path("/dev/ttyFAKE0");
    ck_assert_str_eq(path, lock);

    ck_assert_int_eq(transport_lock("/dev/ttyFAKE0", err, sizeof err), 0);
    char *text = tp_read_file(lock), *want = util_printf("%10ld\n", (long)getpid());
    ck_assert_str_eq(text, want);
    ck_assert_int_eq(strlen(text), 11);
    char *tmp = util_printf("%s/LTMP.%ld", dir, (long)getpid());
    ck_assert(!tp_exists(tmp));     /* the temporary file is gone */

    /* A second process (another PID) is refused and told who holds the port. */
    int pfd[2];
    ck_assert_int_eq(pipe(pfd), 0);
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        close(pfd[0]);
        char cerr[256] = "";
        int rc = transport_lock("/dev/ttyFAKE0", cerr, sizeof cerr);
        ssize_t w = write(pfd[1], cerr, strlen(cerr));
        (void)w;
        _exit(rc == -1 ? 0 : 1);
    }
    close(pfd[1]);
    char cerr[256];
    ssize_t n = read(pfd[0], cerr, sizeof cerr - 1);
    close(pfd[0]);
    ck_assert_int_gt(n, 0);
    cerr[n] = '\0';
    int st;
    ck_assert_int_eq(waitpid(child, &st, 0), child);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    char *inuse = util_printf("port /dev/ttyFAKE0 is in use by PID %ld", (long)getpid());
    ck_assert_msg(util_startswith(cerr, inuse), "%s", cerr);
    /* ... still ours, untouched by the refused child. */
    free(text);
    text = tp_read_file(lock);
    ck_assert_str_eq(text, want);

    /* This process again: refused too (one port, one owner), and told it is itself. */
    ck_assert_int_eq(transport_lock("/dev/ttyFAKE0", err, sizeof err), -1);
    char *self = util_printf("%s (this insitu)", inuse);
    ck_assert_str_eq(err, self);
    free(self);

    transport_unlock("/dev/ttyFAKE0");
    ck_assert(!tp_exists(lock));
    /* Free again: the child's attempt now succeeds. */
    child = fork();
    if (child == 0) {
        char e2[256];
        int rc = transport_lock("/dev/ttyFAKE0", e2, sizeof e2);
        transport_unlock("/dev/ttyFAKE0");
        _exit(rc == 0 ? 0 : 1);
    }
    ck_assert_int_eq(waitpid(child, &st, 0), child);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    ck_assert(!tp_exists(lock));

    free(inuse);
    free(tmp);
    free(want);
    free(text);
    free(path);
    free(lock);
    unsetenv("INSITU_LOCK_DIR");
    tp_tmpdir_free(dir);
}
END_TEST

START_TEST(lock_stale)
{
    char *dir = tp_lock_env();
    char err[256];
    char *lock = util_printf("%s/LCK..ttyUSB3", dir);
    /* The PID of a process that has exited (and been reaped). */
    pid_t dead = fork();
    if (dead == 0)
        _exit(0);
    int st;
    ck_assert_int_eq(waitpid(dead, &st, 0), dead);
    char *text = util_printf("%10ld\n", (long)dead);
    tp_write_file(lock, text, 0644);
    ck_assert_int_eq(transport_lock("/dev/ttyUSB3", err, sizeof err), 0);
    char *now = tp_read_file(lock), *want = util_printf("%10ld\n", (long)getpid());
    ck_assert_str_eq(now, want);
    transport_unlock("/dev/ttyUSB3");
    ck_assert(!tp_exists(lock));

    /* Other writers' formats: no padding, and the old binary int. */
    free(text);
    text = util_printf("%ld\n", (long)dead);
    tp_write_file(lock, text, 0644);
    ck_assert_int_eq(transport_lock("/dev/ttyUSB3", err, sizeof err), 0);
    transport_unlock("/dev/ttyUSB3");
    int live = (int)getppid();
    FILE *f = fopen(lock, "w");
    ck_assert_ptr_nonnull(f);
    fwrite(&live, sizeof live, 1, f);
    fclose(f);
    ck_assert_int_eq(transport_lock("/dev/ttyUSB3", err, sizeof err), -1);
    char *inuse = util_printf("port /dev/ttyUSB3 is in use by PID %d", live);
    ck_assert_msg(util_startswith(err, inuse), "%s", err);

    /* A lock that holds no PID is not taken over: someone must look at it. */
    tp_write_file(lock, "garbage\n", 0644);
    ck_assert_int_eq(transport_lock("/dev/ttyUSB3", err, sizeof err), -1);
    char *nopid = util_printf("port /dev/ttyUSB3 is locked by %s, which holds no PID; remove it "
                              "if no program uses the port", lock);
    ck_assert_str_eq(err, nopid);

    free(nopid);
    free(inuse);
    free(want);
    free(now);
    free(text);
    free(lock);
    unsetenv("INSITU_LOCK_DIR");
    tp_tmpdir_free(dir);
}
END_TEST

START_TEST(lock_unlock_only_ours)
{
    char *dir = tp_lock_env();
    char *lock = util_printf("%s/LCK..ttyACM0", dir);
    char *text = util_printf("%10ld\n", (long)getppid());
    tp_write_file(lock, text, 0644);
    transport_unlock("/dev/ttyACM0");
    char *now = tp_read_file(lock);
    ck_assert_str_eq(now, text);
    /* Unlocking another port leaves it alone too. */
    transport_unlock("/dev/ttyACM1");
    ck_assert(tp_exists(lock));
    /* Ours goes. */
    char err[256];
    char *ours = util_printf("%s/LCK..ttyACM1", dir);
    ck_assert_int_eq(transport_lock("/dev/ttyACM1", err, sizeof err), 0);
    ck_assert(tp_exists(ours));
    transport_unlock("/dev/ttyACM1");
    ck_assert(!tp_exists(ours));
    ck_assert(tp_exists(lock));
    free(ours);
    free(now);
    free(text);
    free(lock);
    unsetenv("INSITU_LOCK_DIR");
    tp_tmpdir_free(dir);
}
END_TEST

START_TEST(lock_dir_problems)
{
    char *dir = tp_tmpdir();
    char *missing = util_printf("%s/no-such-dir", dir);
    setenv("INSITU_LOCK_DIR", missing, 1);
    char err[512];
    ck_assert_int_eq(transport_lock("/dev/ttyFAKE0", err, sizeof err), 1);
    char *want = util_printf("no lock file for /dev/ttyFAKE0: %s does not exist", missing);
    ck_assert_str_eq(err, want);
    transport_unlock("/dev/ttyFAKE0");      /* harmless */

    if (geteuid() != 0) {       /* root writes anywhere */
        ck_assert_int_eq(chmod(dir, 0555), 0);
        setenv("INSITU_LOCK_DIR", dir, 1);
        ck_assert_int_eq(transport_lock("/dev/ttyFAKE0", err, sizeof err), 1);
        char *w2 = util_printf("no lock file for /dev/ttyFAKE0: %s is not writable "
                               "(permission denied)", dir);
        ck_assert_str_eq(err, w2);
        free(w2);
        chmod(dir, 0755);
    }
    free(want);
    free(missing);
    unsetenv("INSITU_LOCK_DIR");
    tp_tmpdir_free(dir);
}
END_TEST

/* /dev/serial/by-id/... names and the tty they point at share one lock. */
START_TEST(lock_follows_symlinks)
{
    char *dir = tp_lock_env();
    char *real = util_printf("%s/ttyREAL0", dir), *alias = util_printf("%s/usb-FTDI-port0", dir);
    tp_write_file(real, "", 0644);
    ck_assert_int_eq(symlink(real, alias), 0);
    char *path = transport_lock_path(alias), *want = util_printf("%s/LCK..ttyREAL0", dir);
    ck_assert_str_eq(path, want);
    char err[256];
    ck_assert_int_eq(transport_lock(alias, err, sizeof err), 0);
    ck_assert(tp_exists(want));
    ck_assert_int_eq(transport_lock(real, err, sizeof err), -1);
    transport_unlock(alias);
    ck_assert(!tp_exists(want));
    free(want);
    free(path);
    free(alias);
    free(real);
    unsetenv("INSITU_LOCK_DIR");
    tp_tmpdir_free(dir);
}
END_TEST

Suite *transport_suite(void)
{
    Suite *s = suite_create("transport");
    TCase *tc = tcase_create("spec");
    tcase_add_test(tc, table);
    tcase_add_test(tc, unknown_scheme);
    tcase_add_test(tc, dir_transport);
    tcase_add_test(tc, serial_spec_good);
    tcase_add_test(tc, serial_spec_bad);
    tcase_add_test(tc, tcp_spec_bad);
    suite_add_tcase(s, tc);

    tc = tcase_create("serial");
    tcase_add_test(tc, serial_no_such_port);
    tcase_add_test(tc, serial_pty);
    tcase_add_test(tc, serial_ttys0);
    suite_add_tcase(s, tc);

    tc = tcase_create("tcp");
    tcase_set_timeout(tc, 15);
    tcase_add_test(tc, tcp_roundtrip);
    tcase_add_test(tc, tcp_refused);
    tcase_add_test(tc, tcp_write_timeout);
    tcase_add_test(tc, tcp_write_peer_gone);
    suite_add_tcase(s, tc);

    tc = tcase_create("sim");
    tcase_set_timeout(tc, 15);
    tcase_add_test(tc, sim_roundtrip);
    tcase_add_test(tc, sim_close_kills);
    tcase_add_test(tc, sim_cannot_run);
    tcase_add_test(tc, sim_path);
    suite_add_tcase(s, tc);

    tc = tcase_create("lock");
    tcase_add_test(tc, lock_two_processes);
    tcase_add_test(tc, lock_stale);
    tcase_add_test(tc, lock_unlock_only_ours);
    tcase_add_test(tc, lock_dir_problems);
    tcase_add_test(tc, lock_follows_symlinks);
    suite_add_tcase(s, tc);
    return s;
}
