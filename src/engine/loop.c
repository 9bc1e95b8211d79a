/* loop: a small poll(2) event loop in the manner of redis' ae.c.
 *
 * Watchers and timers are kept in plain arrays: an instrument workstation has a handful of fds
 * and tens of timers, so a linear scan is both the simplest and the fastest structure. Entries
 * are only marked dead while callbacks run and compacted afterwards, so any callback may add or
 * remove any watcher or timer, itself included. */
#include "insitu/loop.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "insitu/clock.h"
#include "insitu/util.h"

struct loop_fd {
    int fd, events, dead;
    loop_fd_fn fn;
    void *arg;
};

struct loop_timer {
    long long id;
    double due;         /* on its own clock */
    int virt, dead;
    loop_timer_fn fn;
    void *arg;
};

struct loop_defer {
    void (*fn)(struct loop *, void *);
    void *arg;
};

#define LOOP_NSIG 65

struct loop {
    struct loop_fd *fds;
    int nfds, capfds;
    struct loop_timer *timers;
    int ntimers, captimers;
    long long next_id;
    struct loop_defer *defers;
    int ndefers, capdefers;
    struct {
        loop_signal_fn fn;
        void *arg;
        struct sigaction old;
    } sig[LOOP_NSIG];
    int stop;
    struct pollfd *pfd;
    int cappfd;
};

/* The self-pipe is process-wide because signal handlers are. */
static int loop_sigpipe[2] = { -1, -1 };

static void loop_sighandler(int signo)
{
    int saved = errno;
    unsigned char b = (unsigned char)signo;
    if (loop_sigpipe[1] >= 0)
        (void)!write(loop_sigpipe[1], &b, 1);
    errno = saved;
}

static void loop_sigread(struct loop *l, int fd, int events, void *arg)
{
    unsigned char buf[64];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            int s = buf[i];
            if (s < LOOP_NSIG && l->sig[s].fn)
                l->sig[s].fn(l, s, l->sig[s].arg);
        }
    }
}

struct loop *loop_new(void)
{
    struct loop *l = util_calloc(1, sizeof *l);
    l->next_id = 1;
    if (loop_sigpipe[0] < 0 && pipe2(loop_sigpipe, O_NONBLOCK | O_CLOEXEC) < 0) {
        free(l);
        return NULL;
    }
    loop_fd_add(l, loop_sigpipe[0], LOOP_READ, loop_sigread, NULL);
    return l;
}

void loop_free(struct loop *l)
{
    if (!l)
        return;
    for (int s = 1; s < LOOP_NSIG; s++)
        if (l->sig[s].fn)
            loop_signal_del(l, s);
    free(l->fds);
    free(l->timers);
    free(l->defers);
    free(l->pfd);
    free(l);
}

static struct loop_fd *loop_fd_find(struct loop *l, int fd)
{
    for (int i = 0; i < l->nfds; i++)
        if (l->fds[i].fd == fd && !l->fds[i].dead)
            return &l->fds[i];
    return NULL;
}

int loop_fd_add(struct loop *l, int fd, int events, loop_fd_fn fn, void *arg)
{
    if (fd < 0 || loop_fd_find(l, fd))
        return -1;
    if (l->nfds == l->capfds) {
        l->capfds = l->capfds ? l->capfds * 2 : 16;
        l->fds = util_reallocarray(l->fds, (size_t)l->capfds, sizeof *l->fds);
    }
    l->fds[l->nfds++] = (struct loop_fd){ fd, events, 0, fn, arg };
    return 0;
}

int loop_fd_events(struct loop *l, int fd, int events)
{
    struct loop_fd *w = loop_fd_find(l, fd);
    if (!w)
        return -1;
    w->events = events;
    return 0;
}

void loop_fd_del(struct loop *l, int fd)
{
    struct loop_fd *w = loop_fd_find(l, fd);
    if (w)
        w->dead = 1;
}

static double loop_clock(int virt)
{
    return virt ? clock_now() : clock_mono();
}

long long loop_timer_add(struct loop *l, double delay, int virt, loop_timer_fn fn, void *arg)
{
    if (l->ntimers == l->captimers) {
        l->captimers = l->captimers ? l->captimers * 2 : 16;
        l->timers = util_reallocarray(l->timers, (size_t)l->captimers, sizeof *l->timers);
    }
    if (!(delay > 0))
        delay = 0;
    long long id = l->next_id++;
    l->timers[l->ntimers++] = (struct loop_timer){ id, loop_clock(virt) + delay, virt, 0, fn, arg };
    return id;
}

void loop_timer_del(struct loop *l, long long id)
{
    for (int i = 0; i < l->ntimers; i++)
        if (l->timers[i].id == id)
            l->timers[i].dead = 1;
}

int loop_signal_add(struct loop *l, int signo, loop_signal_fn fn, void *arg)
{
    if (signo <= 0 || signo >= LOOP_NSIG)
        return -1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = loop_sighandler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    if (!l->sig[signo].fn && sigaction(signo, &sa, &l->sig[signo].old) < 0)
        return -1;
    l->sig[signo].fn = fn;
    l->sig[signo].arg = arg;
    return 0;
}

void loop_signal_del(struct loop *l, int signo)
{
    if (signo <= 0 || signo >= LOOP_NSIG || !l->sig[signo].fn)
        return;
    sigaction(signo, &l->sig[signo].old, NULL);
    l->sig[signo].fn = NULL;
}

void loop_defer(struct loop *l, void (*fn)(struct loop *, void *), void *arg)
{
    for (int i = 0; i < l->ndefers; i++)
        if (l->defers[i].fn == fn && l->defers[i].arg == arg)
            return;   /* once per iteration is enough */
    if (l->ndefers == l->capdefers) {
        l->capdefers = l->capdefers ? l->capdefers * 2 : 8;
        l->defers = util_reallocarray(l->defers, (size_t)l->capdefers, sizeof *l->defers);
    }
    l->defers[l->ndefers++] = (struct loop_defer){ fn, arg };
}

static void loop_compact(struct loop *l)
{
    int j = 0;
    for (int i = 0; i < l->nfds; i++)
        if (!l->fds[i].dead)
            l->fds[j++] = l->fds[i];
    l->nfds = j;
    j = 0;
    for (int i = 0; i < l->ntimers; i++)
        if (!l->timers[i].dead)
            l->timers[j++] = l->timers[i];
    l->ntimers = j;
}

/* Real seconds until the earliest timer, or -1 when there is none. */
static double loop_next_timeout(struct loop *l)
{
    double best = -1, now_r = clock_mono(), now_v = clock_now(), sp = clock_speed();
    for (int i = 0; i < l->ntimers; i++) {
        struct loop_timer *t = &l->timers[i];
        if (t->dead)
            continue;
        double d = t->virt ? (t->due - now_v) / sp : t->due - now_r;
        if (d < 0)
            d = 0;
        if (best < 0 || d < best)
            best = d;
    }
    return best;
}

static int loop_run_timers(struct loop *l)
{
    int handled = 0;
    /* Only timers that exist now run in this pass: a timer added by a callback waits for the
     * next iteration, so a zero-delay timer cannot starve fd events. */
    int n = l->ntimers;
    for (int i = 0; i < n; i++) {
        struct loop_timer *t = &l->timers[i];
        if (t->dead || t->due > loop_clock(t->virt))
            continue;
        long long id = t->id;
        int virt = t->virt;
        double again = t->fn(l, id, t->arg);
        handled++;
        /* The array may have moved during the callback. */
        for (int k = 0; k < l->ntimers; k++) {
            struct loop_timer *u = &l->timers[k];
            if (u->id != id)
                continue;
            if (again >= 0 && !u->dead)
                u->due = loop_clock(virt) + again;
            else
                u->dead = 1;
            break;
        }
    }
    return handled;
}

int loop_once(struct loop *l, double max_wait)
{
    double wait = loop_next_timeout(l);
    if (max_wait >= 0 && (wait < 0 || wait > max_wait))
        wait = max_wait;
    if (l->ndefers || l->stop)
        wait = 0;
    int timeout_ms = wait < 0 ? -1 : (int)ceil(wait * 1000.0);

    if (l->cappfd < l->nfds) {
        l->cappfd = l->nfds;
        l->pfd = util_reallocarray(l->pfd, (size_t)l->cappfd, sizeof *l->pfd);
    }
    int np = 0;
    for (int i = 0; i < l->nfds; i++) {
        if (l->fds[i].dead)
            continue;
        short ev = 0;
        if (l->fds[i].events & LOOP_READ)
            ev |= POLLIN;
        if (l->fds[i].events & LOOP_WRITE)
            ev |= POLLOUT;
        l->pfd[np++] = (struct pollfd){ l->fds[i].fd, ev, 0 };
    }
    int handled = 0;
    int rc = poll(l->pfd, (nfds_t)np, timeout_ms);
    if (rc > 0) {
        for (int i = 0; i < np; i++) {
            short re = l->pfd[i].revents;
            if (!re)
                continue;
            struct loop_fd *w = loop_fd_find(l, l->pfd[i].fd);
            if (!w)
                continue;
            int ev = 0;
            if (re & (POLLIN | POLLPRI))
                ev |= LOOP_READ;
            if (re & POLLOUT)
                ev |= LOOP_WRITE;
            if (re & (POLLHUP | POLLERR | POLLNVAL))
                ev |= LOOP_HUP | (w->events & LOOP_READ);
            if (re & POLLNVAL)
                w->dead = 1;   /* a closed fd left registered would spin the loop */
            w->fn(l, w->fd, ev, w->arg);
            handled++;
        }
    }
    handled += loop_run_timers(l);
    while (l->ndefers) {
        struct loop_defer d = l->defers[0];
        memmove(l->defers, l->defers + 1, (size_t)(l->ndefers - 1) * sizeof *l->defers);
        l->ndefers--;
        d.fn(l, d.arg);
        handled++;
    }
    loop_compact(l);
    return handled;
}

void loop_run(struct loop *l)
{
    l->stop = 0;
    while (!l->stop)
        loop_once(l, -1);
}

void loop_stop(struct loop *l)
{
    l->stop = 1;
}

int loop_stopped(const struct loop *l)
{
    return l->stop;
}
