/* session: the event loop, the active run and its archive, and the engine's settings. */
#include "insitu/session.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "insitu/archive.h"
#include "insitu/clock.h"
#include "insitu/cycler.h"
#include "insitu/nmrrun.h"
#include "insitu/device.h"
#include "insitu/loop.h"
#include "insitu/msg.h"
#include "insitu/paths.h"
#include "insitu/run.h"
#include "insitu/settings.h"
#include "insitu/units.h"
#include "insitu/util.h"

static struct session *session_the;   /* for setting hooks, which have no session argument */

static int session_apply_speed(const struct setting *s, const char *text, const double *v,
                               char *err, size_t errlen)
{
    if (!(v[0] > 0) || v[0] > 1e7) {
        snprintf(err, errlen, "clock.speed must be > 0 and <= 1e7");
        return -1;
    }
    if (session_the && v[0] != 1 && device_any_real(session_the)) {
        snprintf(err, errlen, "a real instrument is connected: clock.speed must stay 1");
        return -1;
    }
    /* the run's time axis is experiment time: a change of speed is part of its record */
    if (session_the && session_the->run && v[0] != clock_speed())
        run_event(session_the->run, RUN_INFO, "clock.speed %g -> %g", clock_speed(), v[0]);
    clock_set_speed(v[0]);
    return 0;
}

static int session_apply_sync(const struct setting *s, const char *text, const double *v,
                              char *err, size_t errlen)
{
    if (v[0] < 0.05 || v[0] > 60) {
        snprintf(err, errlen, "archive.sync must be between 50ms and 60s");
        return -1;
    }
    return 0;
}

static const struct setting session_settings[] = {
    { "clock.speed", "1", NULL, "1",
      "How many times faster than real time the experiment clock runs (simulated instruments "
      "only; real instruments need 1).", 1, session_apply_speed },
    { "archive.dir", NULL, NULL, "",
      "Directory that run files are written to (default $XDG_DATA_HOME/insitu/runs).", 1, NULL },
    { "archive.sync", "s", NULL, "2s",
      "Longest time a scalar record may wait before it is made durable on disk.", 1,
      session_apply_sync },
    { NULL, NULL, NULL, NULL, NULL, 0, NULL },
};

struct session *session_new(void)
{
    struct session *s = util_calloc(1, sizeof *s);
    session_the = s;
    s->loop = loop_new();
    if (!s->loop) {
        free(s);
        return NULL;
    }
    if (!settings_find("clock.speed")) {
        settings_register(session_settings);
        cycler_register_settings();
        nmrrun_register_settings();
        char *dir = paths_data_dir();
        char *runs = util_printf("%s/runs", dir);
        char *argv[] = { runs };
        char err[128];
        settings_set("archive.dir", 1, argv, err, sizeof err);
        free(runs);
        free(dir);
    }
    return s;
}

void session_free(struct session *s)
{
    if (!s)
        return;
    if (s->run)
        session_run_stop(s, "exit", NULL, 0);
    device_drain_all(s, 2.0);
    cycler_free(s);
    nmrrun_free(s);
    device_free_all(s);
    loop_free(s->loop);
    free(s->waiters);
    free(s->listeners);
    free(s->last_path);
    if (session_the == s)
        session_the = NULL;
    free(s);
}

static double session_sync_tick(struct loop *l, long long id, void *arg)
{
    struct session *s = arg;
    static int warned;
    if (!s->archive)
        return -1;
    if (archive_dirty(s->archive) && archive_sync(s->archive) < 0 && !warned) {
        warned = 1;
        msg_error("archive: %s", archive_error(s->archive) ? archive_error(s->archive)
                                                           : "sync failed");
    }
    return settings_num("archive.sync", 0);
}

int session_run_start(struct session *s, const char *name, int nkv, char *const *kv,
                      char *err, size_t errlen)
{
    return session_run_start_utc(s, name, clock_utc(), nkv, kv, err, errlen);
}

int session_run_start_utc(struct session *s, const char *name, double utc0, int nkv,
                          char *const *kv, char *err, size_t errlen)
{
    if (s->run) {
        snprintf(err, errlen, "run %s is active; `run stop` it first", s->run->name);
        return -1;
    }
    if (!util_valid_name(name)) {
        snprintf(err, errlen,
                 "\"%s\": a run name is letters, digits, '_', '.' and '-', starting with a letter or '_'",
                 name);
        return -1;
    }
    for (int i = 0; i < nkv; i++) {
        const char *eq = strchr(kv[i], '=');
        char *key = eq ? util_strndup(kv[i], (size_t)(eq - kv[i])) : NULL;
        int ok = key && util_valid_name(key);
        /* what the archive itself writes (CF and our own state) cannot be overridden */
        static const char *const reserved[] = { "Conventions", "source", "history",
            "date_created", "time_coverage_start", "time_coverage_end", NULL };
        int taken = 0;
        for (int k = 0; ok && reserved[k]; k++)
            taken |= !strcmp(key, reserved[k]);
        if (ok && (taken || util_startswith(key, "insitu_"))) {
            snprintf(err, errlen, "\"%s\": insitu writes this attribute itself", key);
            free(key);
            return -1;
        }
        free(key);
        if (!ok) {
            snprintf(err, errlen, "\"%s\": metadata is KEY=VALUE with KEY a name", kv[i]);
            return -1;
        }
    }
    struct run *r = run_new(name, utc0, clock_now());
    /* Metadata a lab expects in every file even when nobody typed it. */
    const char *user = getenv("USER");
    if (user && *user)
        run_attr_text(r, NULL, "operator", user);
    char host[256];
    if (gethostname(host, sizeof host) == 0) {
        host[sizeof host - 1] = '\0';
        run_attr_text(r, NULL, "host", host);
    }
    run_attr_text(r, NULL, "clock_speed", settings_text("clock.speed"));
    for (int i = 0; i < nkv; i++) {
        const char *eq = strchr(kv[i], '=');
        char *key = util_strndup(kv[i], (size_t)(eq - kv[i]));
        run_attr_text(r, NULL, key, eq + 1);
        free(key);
    }
    char *dir = paths_expand(settings_text("archive.dir"));
    char aerr[512];
    struct archive *a = archive_create(r, dir, aerr, sizeof aerr);
    free(dir);
    if (!a) {
        snprintf(err, errlen, "%s", aerr);
        run_free(r);
        return -1;
    }
    s->run = r;
    s->archive = a;
    free(s->last_path);
    s->last_path = util_strdup(archive_path(a));
    run_event(r, RUN_INFO, "run %s started", name);
    for (int i = 0; i < s->nlisteners; i++)
        s->listeners[i].fn(s->listeners[i].arg, r);
    s->sync_timer = loop_timer_add(s->loop, settings_num("archive.sync", 0), 0,
                                   session_sync_tick, s);
    return 0;
}

int session_run_stop(struct session *s, const char *reason, char *err, size_t errlen)
{
    if (!s->run) {
        if (err)
            snprintf(err, errlen, "no active run");
        return -1;
    }
    if (s->stopping)
        return 0;
    s->stopping = 1;
    cycler_run_ending(s);   /* the cycler's output goes off before the files close */
    nmrrun_run_ending(s);
    struct run *r = s->run;
    int rc = 0;
    run_event(r, RUN_INFO, "run %s ended: %s", r->name, reason);
    run_end(r, reason);
    for (int i = 0; i < s->nlisteners; i++)
        s->listeners[i].fn(s->listeners[i].arg, NULL);
    loop_timer_del(s->loop, s->sync_timer);
    char aerr[512];
    if (archive_close(s->archive, aerr, sizeof aerr) < 0) {
        msg_error("archive: %s (the journal is kept: `archive recover %s`)", aerr, s->last_path);
        if (err)
            snprintf(err, errlen, "%s", aerr);
        rc = -1;
    }
    s->archive = NULL;
    s->run = NULL;
    s->stopping = 0;
    run_free(r);
    /* Waiters may start new waits: take the list first. */
    int n = s->nwaiters;
    struct session_waiter *w = s->waiters;
    s->waiters = NULL;
    s->nwaiters = 0;
    for (int i = 0; i < n; i++)
        w[i].fn(w[i].arg);
    free(w);
    return rc;
}

void session_on_run_end(struct session *s, void (*fn)(void *arg), void *arg)
{
    s->waiters = util_reallocarray(s->waiters, (size_t)s->nwaiters + 1, sizeof *s->waiters);
    s->waiters[s->nwaiters++] = (struct session_waiter){ fn, arg };
}

void session_listen(struct session *s, void (*fn)(void *arg, struct run *r), void *arg)
{
    s->listeners = util_reallocarray(s->listeners, (size_t)s->nlisteners + 1, sizeof *s->listeners);
    s->listeners[s->nlisteners++] = (struct session_listener){ fn, arg };
}

void session_cancel_wait(struct session *s, void *arg)
{
    for (int i = 0; i < s->nwaiters; i++) {
        if (s->waiters[i].arg == arg) {
            memmove(&s->waiters[i], &s->waiters[i + 1],
                    (size_t)(s->nwaiters - i - 1) * sizeof *s->waiters);
            s->nwaiters--;
            i--;
        }
    }
}

void session_event(struct session *s, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = util_vprintf(fmt, ap);
    va_end(ap);
    if (s->run)
        run_event(s->run, (enum run_level)level, "%s", text);
    enum msg_kind k = level >= RUN_ERROR ? MSG_ERROR : level == RUN_WARN ? MSG_WARN
                    : level == RUN_DEBUG ? MSG_DEBUG : MSG_INFO;
    msg_emit(k, text);
    free(text);
}
