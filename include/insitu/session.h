/* session: one running insitu: its event loop, the active run and its archive, and the hooks
 * that let commands wait for things. The UI and the headless driver both sit on top of it. */
#ifndef INSITU_SESSION_H
#define INSITU_SESSION_H

#include <stddef.h>

struct loop;
struct run;
struct archive;
struct device;
struct cycler;
struct nmrrun;

struct session_waiter {
    void (*fn)(void *arg);
    void *arg;
};

struct session_listener {
    void (*fn)(void *arg, struct run *r);   /* r: a run started; NULL: it is about to end */
    void *arg;
};

struct session {
    struct loop *loop;
    struct run *run;            /* the active run, or NULL */
    struct archive *archive;    /* its archive file */
    char *last_path;            /* file of the last run (for messages) */
    long long sync_timer;
    int quit;                   /* quit requested */
    int nwaiters;
    struct session_waiter *waiters;   /* told when the active run ends */
    int nlisteners;
    struct session_listener *listeners;
    int ndevices;
    struct device **devices;    /* instruments, in the order they were added */
    struct cycler *cycler;      /* the cycler engine, when a cycler protocol exists */
    struct nmrrun *nmr;         /* the NMR series engine, once used */
    int stopping;               /* session_run_stop is under way */
};

struct session *session_new(void);
void session_free(struct session *s);

/* Start a run named NAME with metadata KV ("key=value" words). The archive file is created
 * first; on failure nothing is left and err says why. */
int session_run_start(struct session *s, const char *name, int nkv, char *const *kv,
                      char *err, size_t errlen);
/* The same for a run whose time zero is UTC0 (imports of earlier data: run time 0 is when the
 * first experiment started, not now). */
int session_run_start_utc(struct session *s, const char *name, double utc0, int nkv,
                          char *const *kv, char *err, size_t errlen);
/* End the active run (reason: "stopped", "interrupted", ...), close its archive. */
int session_run_stop(struct session *s, const char *reason, char *err, size_t errlen);
/* Call FN once when the active run ends (immediately-next-iteration if none is active). */
void session_on_run_end(struct session *s, void (*fn)(void *arg), void *arg);
void session_cancel_wait(struct session *s, void *arg);
/* Be told of every run start (with the run) and end (NULL, while the run still exists). */
void session_listen(struct session *s, void (*fn)(void *arg, struct run *r), void *arg);

/* Record an engine event: into the active run's log and to the user. */
void session_event(struct session *s, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
