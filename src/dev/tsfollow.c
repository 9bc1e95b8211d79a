/* tsfollow: the `topspin` spectrometer driver. TopSpin acquires (multi-zg); this driver polls
 * the data directory every nmr.topspin.poll seconds with topspin_scan and hands each newly
 * finished experiment to the engine, in expno order. Only experiments that end after the
 * driver started following belong to the run; earlier ones are `nmr import topspin`'s. */
#include "insitu/tsfollow.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "insitu/bruker.h"
#include "insitu/clock.h"
#include "insitu/device.h"
#include "insitu/loop.h"
#include "insitu/paths.h"
#include "insitu/run.h"
#include "insitu/session.h"
#include "insitu/settings.h"
#include "insitu/util.h"

int tsfollow_read(const struct topspin_exp *e, struct spectro_fid *f, char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    struct bruker_err be;
    struct jcamp j;
    char *acqus = util_printf("%s/acqus", e->dir);
    int rc = bruker_jcamp_load(acqus, &j, &be);
    free(acqus);
    if (rc < 0) {
        snprintf(err, errlen, "%s", be.msg);
        return -1;
    }
    struct bruker_acqus a;
    if (bruker_acqus_get(&j, &a, &be) < 0) {
        bruker_jcamp_free(&j);
        snprintf(err, errlen, "%s", be.msg);
        return -1;
    }
    const char *nuc;
    struct bruker_err ignore;
    util_strlcpy(f->nucleus, bruker_jcamp_string(&j, "NUC1", &nuc, &ignore) == 0 ? nuc : "?",
                 sizeof f->nucleus);
    double v;
    f->d1 = bruker_jcamp_array_number(&j, "D", 1, &v, &ignore) == 0 ? v : NAN;
    f->p1 = bruker_jcamp_array_number(&j, "P", 1, &v, &ignore) == 0 ? v : NAN;
    f->rg = bruker_jcamp_number(&j, "RG", &v, &ignore) == 0 ? v : NAN;
    f->de = bruker_jcamp_number(&j, "DE", &v, &ignore) == 0 ? v : NAN;
    bruker_jcamp_free(&j);
    f->data = util_malloc((size_t)(a.td / 2 > 0 ? a.td / 2 : 1) * sizeof *f->data);
    char *fid = util_printf("%s/fid", e->dir);
    rc = bruker_read_fid(fid, &a, f->data, &be);
    free(fid);
    if (rc < 0) {
        free(f->data);
        f->data = NULL;
        snprintf(err, errlen, "%s", be.msg);
        return -1;
    }
    f->n = a.td / 2;
    f->bf1 = a.bf1;
    f->sfo1 = a.sfo1;
    f->o1 = a.o1;
    f->sw = a.sw_h;
    f->td = a.td;
    f->ns = a.ns;
    f->digmod = a.digmod;
    f->dspfvs = a.dspfvs;
    f->grpdly = a.grpdly;
    f->decim = a.decim;
    f->expno = e->expno;
    f->t_start = e->start;
    f->t_end = e->end;
    snprintf(f->source, sizeof f->source, "%s", e->dir);
    /* the dataset's own processing, when TopSpin has processed it */
    char *procs = util_printf("%s/pdata/1/procs", e->dir);
    if (bruker_jcamp_load(procs, &j, &ignore) == 0) {
        f->have_procs = bruker_procs_get(&j, &f->procs, &ignore) == 0;
        bruker_jcamp_free(&j);
    }
    free(procs);
    return 0;
}

/* ---- the driver ---- */

struct tsf {
    char *dir;
    spectro_fid_fn fn;
    void *arg;
    long after;             /* highest expno handed on (or skipped) */
    double since;           /* UTC: experiments ending before this are not the run's */
    long long timer;
    int scanning;
};

static struct tsf *tsf_of(struct device *d)
{
    if (!d->drv_state)
        d->drv_state = util_calloc(1, sizeof(struct tsf));
    return d->drv_state;
}

static double tsf_poll(struct loop *l, long long id, void *arg);

static void tsf_schedule(struct device *d)
{
    struct tsf *t = tsf_of(d);
    double every = settings_text("nmr.topspin.poll") ? settings_num("nmr.topspin.poll", 0) : 2;
    if (!t->timer)
        t->timer = loop_timer_add(d->s->loop, every > 0.05 ? every : 0.05, 0, tsf_poll, d);
}

static double tsf_poll(struct loop *l, long long id, void *arg)
{
    struct device *d = arg;
    struct tsf *t = tsf_of(d);
    t->timer = 0;
    if (!t->fn || d->state != DEVICE_READY)
        return -1;
    struct topspin_exp *v = NULL;
    int n = 0;
    struct bruker_err be;
    double settle = settings_text("nmr.topspin.settle") ? settings_num("nmr.topspin.settle", 0) : 120;
    if (topspin_scan(t->dir, t->after, settle, clock_utc(), &v, &n, &be) < 0) {
        /* the directory went away (an unmounted share): the device layer retries */
        device_fail(d, "%s", be.msg);
        return -1;
    }
    for (int i = 0; i < n && t->fn; i++) {
        t->after = v[i].expno;
        if (!v[i].complete) {
            char why[700];
            snprintf(why, sizeof why, "expno %ld skipped: %s", v[i].expno,
                     v[i].error ? v[i].error : "incomplete");
            t->fn(d, NULL, why, t->arg);
            continue;
        }
        if (v[i].end < t->since)
            continue;
        struct spectro_fid f;
        char err[600];
        if (tsfollow_read(&v[i], &f, err, sizeof err) < 0) {
            char why[700];
            snprintf(why, sizeof why, "expno %ld skipped: %s", v[i].expno, err);
            t->fn(d, NULL, why, t->arg);
            continue;
        }
        /* UTC to the experiment clock (a real instrument: clock.speed is 1) */
        double off = clock_now() - clock_utc();
        f.t_start += off;
        f.t_end += off;
        t->fn(d, &f, NULL, t->arg);
        free(f.data);
    }
    topspin_exps_free(v, n);
    if (t->fn)
        tsf_schedule(d);
    return -1;
}

static void tsf_follow(struct device *d, spectro_fid_fn fn, void *arg)
{
    struct tsf *t = tsf_of(d);
    t->fn = fn;
    t->arg = arg;
    if (t->timer) {
        loop_timer_del(d->s->loop, t->timer);
        t->timer = 0;
    }
    if (!fn)
        return;
    t->since = clock_utc();
    if (d->s->run)
        t->since = d->s->run->utc0;
    tsf_schedule(d);
}

static void tsf_start(struct device *d)
{
    struct tsf *t = tsf_of(d);
    free(t->dir);
    const char *spec = d->spec;
    if (!strncmp(spec, "dir:", 4))
        spec += 4;
    else {
        device_fatal(d, "the topspin driver follows a directory: dir:PATH");
        return;
    }
    t->dir = paths_expand(spec);
    snprintf(d->idn, sizeof d->idn, "TopSpin experiment series in %s", t->dir);
    device_ready(d);
    if (t->fn)
        tsf_schedule(d);    /* back after the directory was lost: go on where we were */
}

static void tsf_free(struct device *d)
{
    struct tsf *t = d->drv_state;
    if (!t)
        return;
    if (t->timer)
        loop_timer_del(d->s->loop, t->timer);
    free(t->dir);
    free(t);
    d->drv_state = NULL;
}

static const struct spectrometer_ops tsf_ops = {
    .follows = 1,
    .follow = tsf_follow,
};

const struct driver topspin_driver = {
    .name = "topspin", .klass = "spectrometer",
    .help = "Bruker TopSpin experiment series on disk (dir:PATH), followed as TopSpin acquires",
    .spectrometer = &tsf_ops, .start = tsf_start, .free = tsf_free,
};
