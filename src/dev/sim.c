/* sim: sim:MODEL[,opt=value...] runs `insitu-sim --stdio DRIVER:MODEL[,opts]` as a child with
 * its stdin and stdout on one end of a socketpair; insitu keeps the other end, non-blocking,
 * as the transport's fd. To the device layer it is an instrument like any other; a
 * pseudo-terminal would be closer to a serial line, but libserialport 0.1.1 cannot open one.
 *
 * The simulated instruments of one insitu share one cell through a state file (insitu-sim(1),
 * STATE FILE): the child gets INSITU_SIM_STATE, the user's when set, else a file of this
 * insitu process, removed when its last simulator has gone.
 *
 * Everything here is prefixed simt_ so it is not confused with the simulator in src/sim. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "insitu/transport.h"
#include "insitu/util.h"
#include "internal.h"

#define SIMT_USAGE "sim:MODEL[,opt=value...]"

extern char **environ;

/* Simulators open with this process's own state file (their transports' priv is its path). */
static int simt_state_users;

/* $XDG_RUNTIME_DIR (private, on tmpfs) or /tmp, and this process's id. */
static char *simt_state_default(void)
{
    const char *dir = getenv("XDG_RUNTIME_DIR");
    if (!dir || !*dir || access(dir, W_OK | X_OK) != 0)
        dir = "/tmp";
    return util_printf("%s/insitu-sim-%ld.state", dir, (long)getpid());
}

/* In the child between fork and exec: only async-signal-safe calls. Reports exec failure as
 * an errno through ERRPIPE (close-on-exec, so a successful exec closes it and the parent
 * reads end of file). */
__attribute__((noreturn))
static void simt_child(const char *path, char *const argv[], char *const envp[], int sock,
                       int errpipe, pid_t parent)
{
    /* Keep both fds clear of 0-2 so the dup2s below cannot overwrite them. */
    if (sock <= 2)
        sock = fcntl(sock, F_DUPFD_CLOEXEC, 3);
    if (errpipe <= 2)
        errpipe = fcntl(errpipe, F_DUPFD_CLOEXEC, 3);
    int e = 0;
    if (sock < 0 || dup2(sock, 0) < 0 || dup2(sock, 1) < 0)
        e = errno;
    /* stderr stays insitu's: the simulator's diagnostics go where insitu's would. */

    if (!e) {
        /* A blocked mask and ignored signals survive exec; insitu ignores SIGPIPE and its loop
         * may block signals it reads through a signalfd. The simulator starts clean. */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        const int sigs[] = {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD};
        for (size_t i = 0; i < ARRAY_LEN(sigs); i++)
            sigaction(sigs[i], &dfl, NULL);
        /* Its own process group: Ctrl-C at insitu's terminal is for insitu to interpret, not
         * a reason for simulated instruments to vanish mid-run. */
        setpgid(0, 0);
        /* And if insitu dies without closing (SIGKILL, a crash), take the simulator along
         * instead of leaving an orphan; the check catches a parent that died before. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(127);
        execve(path, argv, envp);
        e = errno;
    }
    /* The parent turns this into the error message; writing one here as well would only
     * print it twice (and into the middle of the screen). */
    ssize_t w = write(errpipe, &e, sizeof e);
    (void)w;
    _exit(127);
}

/* Stop and reap child PID: EOF on its stdin (already sent by closing the socket) is the polite
 * request, SIGTERM the firm one, SIGKILL after about a second. Never leaves a zombie. */
static void simt_reap(pid_t pid)
{
    int st;
    pid_t r;
    /* Reaped already (by someone's waitpid(-1), or SIGCHLD ignored)? Then PID may belong to
     * another process by now: do not signal it. */
    do
        r = waitpid(pid, &st, WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r != 0)
        return;
    kill(pid, SIGTERM);
    for (int i = 0; i < 100; i++) {
        r = waitpid(pid, &st, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD))
            return;
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    kill(pid, SIGKILL);
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
}

static int simt_open(struct transport *t, const char *spec, const char *driver, char *err,
                     size_t errlen)
{
    char why[160];
    if (!spec[0] || spec[0] == ',') {
        snprintf(err, errlen, "sim: \"%s\": no model given (%s)", spec, SIMT_USAGE);
        return -1;
    }
    if (!driver || !driver[0]) {
        snprintf(err, errlen, "sim:%s: no instrument driver given (insitu-sim needs it to know "
                 "what to simulate)", spec);
        return -1;
    }
    char *path = transport_sim_path();
    if (!strchr(path, '/')) {
        snprintf(err, errlen, "sim: cannot run insitu-sim: not found (set INSITU_SIM, or put it "
                 "beside insitu or on PATH)");
        free(path);
        return -1;
    }
    char *what = util_printf("%s:%s", driver, spec);
    char stdio_arg[] = "--stdio";
    char *argv[] = {path, stdio_arg, what, NULL};
    /* The environment is built here: between fork and exec only async-signal-safe calls. */
    char *state = NULL, *state_env = NULL, **envp = environ;
    if (!getenv("INSITU_SIM_STATE")) {
        state = simt_state_default();
        state_env = util_printf("INSITU_SIM_STATE=%s", state);
        size_t n = 0;
        while (environ[n])
            n++;
        envp = util_calloc(n + 2, sizeof *envp);
        memcpy(envp, environ, n * sizeof *envp);
        envp[n] = state_env;
    }

    int sv[2] = {-1, -1}, ep[2] = {-1, -1};
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
        pipe2(ep, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "sim: cannot run insitu-sim (%s): %s", path,
                 transport_strerror(errno, why, sizeof why));
        goto fail;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "sim: cannot run insitu-sim (%s): %s", path,
                 transport_strerror(errno, why, sizeof why));
        goto fail;
    }
    if (pid == 0)
        simt_child(path, argv, envp, sv[1], ep[1], parent);

    close(sv[1]);
    close(ep[1]);
    sv[1] = ep[1] = -1;
    /* Blocks only until the child has exec'd or failed to: a few milliseconds. */
    int e = 0;
    ssize_t n;
    do
        n = read(ep[0], &e, sizeof e);
    while (n < 0 && errno == EINTR);
    close(ep[0]);
    ep[0] = -1;
    if (n == (ssize_t)sizeof e) {
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
        snprintf(err, errlen, "sim: cannot run insitu-sim (%s): %s", path,
                 transport_strerror(e, why, sizeof why));
        goto fail;
    }
    if (transport_fd_setup(sv[0]) < 0) {
        snprintf(err, errlen, "sim: cannot set up the socket: %s",
                 transport_strerror(errno, why, sizeof why));
        close(sv[0]);
        sv[0] = -1;
        simt_reap(pid);
        goto fail;
    }
    t->fd = sv[0];
    t->child = pid;
    t->real = 0;
    if (state) {
        t->priv = state;
        simt_state_users++;
    }
    if (envp != environ)
        free(envp);
    free(state_env);
    free(what);
    free(path);
    return 0;

fail:
    for (int i = 0; i < 2; i++) {
        if (sv[i] >= 0)
            close(sv[i]);
        if (ep[i] >= 0)
            close(ep[i]);
    }
    if (envp != environ)
        free(envp);
    free(state_env);
    free(state);
    free(what);
    free(path);
    return -1;
}

static void simt_close(struct transport *t)
{
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
    if (t->child > 0)
        simt_reap(t->child);
    t->child = 0;
    /* The simulator has exited (its last word to the file included): the last one of this
     * process takes the file along, as the cell goes with the instruments. */
    if (t->priv) {
        char *state = t->priv;
        if (--simt_state_users == 0) {
            char *lock = util_printf("%s.lock", state);
            unlink(state);
            unlink(lock);
            free(lock);
        }
        free(state);
        t->priv = NULL;
    }
}

const struct transport_ops transport_sim_ops = {
    .scheme = "sim",
    .usage = SIMT_USAGE,
    .open = simt_open,
    .close = simt_close,
};
