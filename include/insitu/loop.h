/* loop: the single event loop (after redis' ae.c): poll(2) over fd watchers, timers on the real
 * or the virtual clock, and signals delivered through a self-pipe. Nothing busy-waits: when
 * nothing is due the process sleeps in poll. */
#ifndef INSITU_LOOP_H
#define INSITU_LOOP_H

struct loop;

enum { LOOP_READ = 1, LOOP_WRITE = 2, LOOP_HUP = 4 };

typedef void (*loop_fd_fn)(struct loop *l, int fd, int events, void *arg);
/* Return the delay (seconds, same clock) until the next call, or a negative number to stop. */
typedef double (*loop_timer_fn)(struct loop *l, long long id, void *arg);
typedef void (*loop_signal_fn)(struct loop *l, int signo, void *arg);

struct loop *loop_new(void);
void loop_free(struct loop *l);

/* Watch FD for EVENTS (LOOP_READ|LOOP_WRITE); one watcher per fd. Returns 0 or -1. */
int loop_fd_add(struct loop *l, int fd, int events, loop_fd_fn fn, void *arg);
int loop_fd_events(struct loop *l, int fd, int events);  /* change what is watched */
void loop_fd_del(struct loop *l, int fd);

/* Call FN after DELAY seconds of real time (virtual = 0) or of virtual time (virtual = 1). */
long long loop_timer_add(struct loop *l, double delay, int virtual_time, loop_timer_fn fn, void *arg);
void loop_timer_del(struct loop *l, long long id);

/* Deliver SIGNO to FN from the loop (never from the signal handler). */
int loop_signal_add(struct loop *l, int signo, loop_signal_fn fn, void *arg);
void loop_signal_del(struct loop *l, int signo);

/* Call FN once at the end of the current iteration (deferred work, e.g. a redraw). */
void loop_defer(struct loop *l, void (*fn)(struct loop *, void *), void *arg);

/* Run until loop_stop. */
void loop_run(struct loop *l);
/* One iteration, waiting at most MAX_WAIT real seconds (< 0: as long as needed). Returns the
 * number of events handled. */
int loop_once(struct loop *l, double max_wait);
void loop_stop(struct loop *l);
int loop_stopped(const struct loop *l);

#endif
