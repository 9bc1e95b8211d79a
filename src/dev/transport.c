/* transport: the table of transports (serial, tcp, sim), opening by "scheme:rest", bounded
 * writes and non-blocking reads on the one fd a transport hands out, UUCP lock files, and
 * where insitu-sim lives. The transports themselves are in serial.c, tcp.c and sim.c. */
#include "insitu/transport.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "insitu/util.h"
#include "internal.h"

static const struct transport_ops *const transport_table[] = {
    &transport_serial_ops,
    &transport_tcp_ops,
    &transport_sim_ops,
    &transport_dir_ops,
};

int transport_count(void)
{
    return (int)ARRAY_LEN(transport_table);
}

const struct transport_ops *transport_at(int i)
{
    return i >= 0 && i < transport_count() ? transport_table[i] : NULL;
}

const char *transport_strerror(int errnum, char *buf, size_t len)
{
    char tmp[128];
    /* GNU strerror_r: returns a string that may or may not be TMP. */
    util_strlcpy(buf, strerror_r(errnum, tmp, sizeof tmp), len);
    /* "Connection refused" -> "connection refused", but leave acronyms ("EOF ...") alone. */
    if (len > 1 && buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z'))
        buf[0] = (char)(buf[0] - 'A' + 'a');
    return buf;
}

int transport_fd_setup(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    int fdfl = fcntl(fd, F_GETFD);
    if (fdfl < 0 || fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC) < 0)
        return -1;
    return 0;
}

/* "serial, tcp, sim" for error messages, from the table so it never goes stale. */
static void transport_schemes(char *buf, size_t len)
{
    struct strbuf b = {0};
    for (int i = 0; i < transport_count(); i++) {
        if (i)
            strbuf_addstr(&b, ", ");
        strbuf_addstr(&b, transport_table[i]->scheme);
    }
    util_strlcpy(buf, b.s ? b.s : "", len);
    strbuf_free(&b);
}

struct transport *transport_open(const char *spec, const char *driver, char *err, size_t errlen)
{
    char schemes[128];
    transport_schemes(schemes, sizeof schemes);
    if (!spec)
        spec = "";
    const char *colon = strchr(spec, ':');
    if (!colon) {
        snprintf(err, errlen, "\"%s\": expected SCHEME:ADDRESS, SCHEME one of %s", spec,
                 schemes);
        return NULL;
    }
    size_t n = (size_t)(colon - spec);
    const struct transport_ops *ops = NULL;
    for (int i = 0; i < transport_count(); i++)
        if (strlen(transport_table[i]->scheme) == n &&
            strncmp(transport_table[i]->scheme, spec, n) == 0)
            ops = transport_table[i];
    if (!ops) {
        snprintf(err, errlen, "unknown transport \"%.*s\" (%s)", (int)n, spec, schemes);
        return NULL;
    }

    struct transport *t = util_calloc(1, sizeof *t);
    t->ops = ops;
    t->fd = -1;
    t->spec = util_strdup(spec);
    if (errlen)
        err[0] = '\0';
    if (ops->open(t, colon + 1, driver, err, errlen) < 0) {
        if (errlen && !err[0])
            snprintf(err, errlen, "%s: cannot open", spec);
        if (t->fd >= 0)
            close(t->fd);
        free(t->spec);
        free(t);
        return NULL;
    }
    return t;
}

void transport_close(struct transport *t)
{
    if (!t)
        return;
    if (t->ops && t->ops->close)
        t->ops->close(t);
    if (t->fd >= 0)
        close(t->fd);
    free(t->spec);
    free(t);
}

static double transport_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int transport_write(struct transport *t, const void *buf, size_t len, double timeout)
{
    if (!t || t->fd < 0) {
        errno = EBADF;
        return -1;
    }
    const char *p = buf;
    double deadline = transport_now() + (timeout > 0 ? timeout : 0);
    int hangup = 0;     /* poll said error/hangup: one more write must tell us what */
    while (len > 0) {
        /* send() with MSG_NOSIGNAL so a sim child or TCP peer that went away is an EPIPE,
         * not a SIGPIPE that kills insitu; a serial fd is no socket, so plain write(). */
        ssize_t n = send(t->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == ENOTSOCK)
            n = write(t->fd, p, len);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            hangup = 0;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return -1;
        if (hangup) {
            errno = EIO;
            return -1;
        }
        double left = deadline - transport_now();
        if (left <= 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        struct pollfd pfd = {.fd = t->fd, .events = POLLOUT};
        int ms = left > INT_MAX / 1000 ? INT_MAX : (int)(left * 1000) + 1;
        int r = poll(&pfd, 1, ms);
        if (r < 0 && errno != EINTR)
            return -1;
        if (r > 0 && (pfd.revents & POLLNVAL)) {
            errno = EBADF;
            return -1;
        }
        if (r > 0 && !(pfd.revents & POLLOUT) && (pfd.revents & (POLLERR | POLLHUP)))
            hangup = 1;
    }
    return 0;
}

ssize_t transport_read(struct transport *t, void *buf, size_t len)
{
    if (!t || t->fd < 0) {
        errno = EBADF;
        return -1;
    }
    for (;;) {
        ssize_t n = read(t->fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EWOULDBLOCK)
            errno = EAGAIN;
        return n;
    }
}

/* ---- UUCP lock files ---------------------------------------------------------------------
 * The HDB UUCP convention: DIR/LCK..NAME holds the owner's PID as ten right-aligned ASCII
 * digits and a newline; a lock whose PID is dead is stale and may be taken over. minicom,
 * screen, picocom and cu honour it, and they are what someone in the lab would start on the
 * instrument's port while a run is going.
 *
 * Where the lock directory is missing or not writable (many lab machines have no usable
 * /var/lock, and /var/lock is often root:root 755) we do not refuse the port: the lock is a
 * courtesy to other programs, TIOCEXCL on the open fd still keeps non-root openers out, and a
 * lab that cannot run insitu on its instrument is worse off than one without lock files. So
 * transport_lock returns 1 and the caller warns. An existing lock we cannot read is another
 * matter: someone holds the port, and we refuse. */

static const char *transport_lock_dir(void)
{
    const char *d = getenv("INSITU_LOCK_DIR");
    return d && *d ? d : "/var/lock";
}

char *transport_lock_path(const char *dev)
{
    /* Lock by the device's real name: /dev/serial/by-id/usb-FTDI... and /dev/ttyUSB0 are one
     * port, and minicom started on /dev/ttyUSB0 looks for LCK..ttyUSB0. */
    char *real = realpath(dev, NULL);
    const char *name = real ? real : dev;
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    char *path = util_printf("%s/LCK..%s", transport_lock_dir(), base);
    free(real);
    return path;
}

/* The PID in lock file PATH: >0; 0 when the file is gone; -1 with errno when it cannot be
 * read, EINVAL when it holds no PID (empty, garbage). */
static long transport_lock_read(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    char buf[64];
    ssize_t n;
    do
        n = read(fd, buf, sizeof buf - 1);
    while (n < 0 && errno == EINTR);
    int e = errno;
    close(fd);
    if (n < 0) {
        errno = e;
        return -1;
    }
    buf[n] = '\0';
    char *p = buf;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p >= '0' && *p <= '9') {
        char *end;
        long pid = strtol(p, &end, 10);
        while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')
            end++;
        if (*end == '\0' && pid > 0 && pid <= INT_MAX)
            return pid;
    }
    if (n == (ssize_t)sizeof(int)) {
        /* The old binary convention (Kermit, early UUCP): the PID as a native int. */
        int pid;
        memcpy(&pid, buf, sizeof pid);
        if (pid > 0)
            return pid;
    }
    errno = EINVAL;
    return -1;
}

/* " (minicom)" from /proc/PID/comm, or "" when it cannot be read. */
static void transport_proc_name(long pid, char *buf, size_t len)
{
    char path[64], name[64];
    snprintf(path, sizeof path, "/proc/%ld/comm", pid);
    buf[0] = '\0';
    FILE *f = fopen(path, "re");
    if (!f)
        return;
    if (fgets(name, sizeof name, f)) {
        name[strcspn(name, "\n")] = '\0';
        if (name[0])
            snprintf(buf, len, " (%s)", name);
    }
    fclose(f);
}

int transport_lock(const char *dev, char *err, size_t errlen)
{
    const char *dir = transport_lock_dir();
    char *path = transport_lock_path(dev);
    char why[160];
    int rc = -1;

    /* Write our PID to a private file first and link() it to the lock name: the link is as
     * exclusive as O_CREAT|O_EXCL, and the lock never exists half-written, so another locker
     * never reads an empty file and takes it for stale. */
    char *tmp = util_printf("%s/LTMP.%ld", dir, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0 && errno == EEXIST) {
        /* Ours by name: PIDs are unique among live processes, so a leftover of a dead one. */
        unlink(tmp);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    }
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT)
            snprintf(err, errlen, "no lock file for %s: %s does not exist", dev, dir);
        else if (e == EACCES || e == EPERM || e == EROFS)
            snprintf(err, errlen, "no lock file for %s: %s is not writable (%s)", dev, dir,
                     transport_strerror(e, why, sizeof why));
        else
            snprintf(err, errlen, "no lock file for %s: cannot write in %s (%s)", dev, dir,
                     transport_strerror(e, why, sizeof why));
        rc = 1;
        goto out;
    }
    char pidtext[16];
    int len = snprintf(pidtext, sizeof pidtext, "%10ld\n", (long)getpid());
    ssize_t w = write(fd, pidtext, (size_t)len);
    int we = errno;
    if (close(fd) < 0 && w == len) {
        w = -1;
        we = errno;
    }
    if (w != len) {
        snprintf(err, errlen, "no lock file for %s: cannot write in %s (%s)", dev, dir,
                 transport_strerror(w < 0 ? we : ENOSPC, why, sizeof why));
        rc = 1;
        goto out_tmp;
    }

    for (int tries = 0; tries < 10; tries++) {
        if (link(tmp, path) == 0) {
            rc = 0;
            goto out_tmp;
        }
        if (errno != EEXIST) {
            /* No hard links here (some FUSE or vfat mounts) or another directory problem:
             * like a missing lock directory, not a reason to refuse the port. */
            snprintf(err, errlen, "no lock file for %s: cannot create %s (%s)", dev, path,
                     transport_strerror(errno, why, sizeof why));
            rc = 1;
            goto out_tmp;
        }
        long pid = transport_lock_read(path);
        if (pid == 0)
            continue;                       /* removed meanwhile: try again */
        if (pid < 0 && errno == EINVAL && tries < 3) {
            /* Another program that writes after O_CREAT|O_EXCL may be between the two. */
            nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
            continue;
        }
        if (pid < 0 && errno == EINVAL) {
            snprintf(err, errlen, "port %s is locked by %s, which holds no PID; remove it if "
                     "no program uses the port", dev, path);
            goto out_tmp;
        }
        if (pid < 0) {
            snprintf(err, errlen, "port %s is locked by %s, which cannot be read (%s)", dev,
                     path, transport_strerror(errno, why, sizeof why));
            goto out_tmp;
        }
        /* pid > 0 here: kill() of 0 or a negative number would address process groups. */
        if (kill((pid_t)pid, 0) == 0 || errno == EPERM) {
            char name[80];
            if (pid == (long)getpid())
                util_strlcpy(name, " (this insitu)", sizeof name);
            else
                transport_proc_name(pid, name, sizeof name);
            snprintf(err, errlen, "port %s is in use by PID %ld%s", dev, pid, name);
            goto out_tmp;
        }
        /* Stale: its owner is dead. Two programs taking over the same stale lock at the same
         * moment can race here (as with every UUCP locker); re-reading narrows the window. */
        if (transport_lock_read(path) == pid && unlink(path) < 0 && errno != ENOENT) {
            snprintf(err, errlen, "port %s has a stale lock %s of PID %ld that cannot be "
                     "removed (%s)", dev, path, pid,
                     transport_strerror(errno, why, sizeof why));
            goto out_tmp;
        }
    }
    snprintf(err, errlen, "port %s: cannot take the lock %s (it keeps changing)", dev, path);
out_tmp:
    unlink(tmp);
out:
    free(tmp);
    free(path);
    return rc;
}

void transport_unlock(const char *dev)
{
    char *path = transport_lock_path(dev);
    if (transport_lock_read(path) == (long)getpid())
        unlink(path);
    free(path);
}

/* ---- insitu-sim ------------------------------------------------------------------------ */

static char *transport_exec_beside(const char *prog)
{
    /* /proc/self/exe is the real executable (symlinks such as ./insitu -> build/insitu are
     * already resolved by the kernel). A rebuilt binary reads "... (deleted)". */
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return NULL;
    exe[n] = '\0';
    const char *deleted = " (deleted)";
    size_t dl = strlen(deleted);
    if ((size_t)n > dl && strcmp(exe + n - dl, deleted) == 0)
        exe[n - dl] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return NULL;
    *slash = '\0';
    char *cand = util_printf("%s/%s", exe, prog);
    struct stat st;
    if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0)
        return cand;
    free(cand);
    return NULL;
}

static char *transport_exec_on_path(const char *prog)
{
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        size_t n = strcspn(path, ":");
        char *cand = n ? util_printf("%.*s/%s", (int)n, path, prog) : util_printf("./%s", prog);
        struct stat st;
        if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0)
            return cand;
        free(cand);
        path += n;
        if (*path == ':')
            path++;
    }
    return NULL;
}

char *transport_sim_path(void)
{
    const char *env = getenv("INSITU_SIM");
    if (env && *env)
        return util_strdup(env);
    char *p = transport_exec_beside("insitu-sim");
    if (!p)
        p = transport_exec_on_path("insitu-sim");
    return p ? p : util_strdup("insitu-sim");
}
