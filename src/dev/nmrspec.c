/* nmrspec: insitu-sim's simulated spectrometer. First the pure protocol functions, then the
 * driver `nmrsim`: identify, configure the acquisition (checked with SYST:ERR?), ZG, poll STAT?
 * on the experiment clock until DONE, then PARS? and the FID? block. */
#include "insitu/nmrspec.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "insitu/clock.h"
#include "insitu/device.h"
#include "insitu/loop.h"
#include "insitu/scpi.h"
#include "insitu/session.h"
#include "insitu/util.h"

/* ---- pure protocol ---- */

int nmrspec_parse_idn(const char *line, char *err, size_t errlen)
{
    const char *c = strchr(line, ',');
    if (!c || strncasecmp(c + 1, "NMRSIM,", 7)) {
        snprintf(err, errlen, "not insitu-sim's spectrometer: \"%.60s\"", line);
        return -1;
    }
    return 0;
}

int nmrspec_parse_stat(const char *line, enum nmrspec_state *st, long *done, long *ns)
{
    *done = *ns = 0;
    if (!strcasecmp(line, "IDLE")) {
        *st = NMRSPEC_IDLE;
        return 0;
    }
    if (!strcasecmp(line, "DONE")) {
        *st = NMRSPEC_DONE;
        return 0;
    }
    char tail;
    if (sscanf(line, "ACQ %ld,%ld%c", done, ns, &tail) == 2 && *done >= 0 && *ns > 0 &&
        *done <= *ns) {
        *st = NMRSPEC_ACQ;
        return 0;
    }
    return -1;
}

static int nmrspec_number(const char *text, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end || errno || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

int nmrspec_parse_pars(const char *line, struct spectro_fid *f, char *err, size_t errlen)
{
    static const char *const req[] = { "NUC", "BF1", "SFO1", "O1", "SW", "TD", "NS",
                                       "DIGMOD", "GRPDLY", "TSTART", "TEND" };
    unsigned seen = 0;
    char *copy = util_strdup(line), *save = NULL;
    int rc = 0;
    f->d1 = f->rg = f->p1 = f->de = NAN;
    f->dspfvs = 0;
    f->decim = 0;
    for (char *t = strtok_r(copy, ",", &save); t && !rc; t = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(t, '=');
        if (!eq) {
            snprintf(err, errlen, "PARS?: \"%.40s\" is not KEY=value", t);
            rc = -1;
            break;
        }
        *eq = 0;
        const char *k = t, *v = eq + 1;
        for (unsigned i = 0; i < ARRAY_LEN(req); i++)
            if (!strcasecmp(k, req[i]))
                seen |= 1u << i;
        if (!strcasecmp(k, "NUC")) {
            if (!*v || strlen(v) >= sizeof f->nucleus) {
                snprintf(err, errlen, "PARS?: bad nucleus \"%.20s\"", v);
                rc = -1;
            } else {
                util_strlcpy(f->nucleus, v, sizeof f->nucleus);
            }
            continue;
        }
        struct { const char *key; double *d; long *l; int *i; } map[] = {
            { "BF1", &f->bf1, NULL, NULL }, { "SFO1", &f->sfo1, NULL, NULL },
            { "O1", &f->o1, NULL, NULL }, { "SW", &f->sw, NULL, NULL },
            { "TD", NULL, &f->td, NULL }, { "NS", NULL, &f->ns, NULL },
            { "D1", &f->d1, NULL, NULL }, { "RG", &f->rg, NULL, NULL },
            { "P1", &f->p1, NULL, NULL }, { "DE", &f->de, NULL, NULL },
            { "DIGMOD", NULL, NULL, &f->digmod }, { "DSPFVS", NULL, NULL, &f->dspfvs },
            { "GRPDLY", &f->grpdly, NULL, NULL }, { "DECIM", &f->decim, NULL, NULL },
            { "TSTART", &f->t_start, NULL, NULL }, { "TEND", &f->t_end, NULL, NULL },
        };
        for (unsigned i = 0; i < ARRAY_LEN(map); i++) {
            if (strcasecmp(k, map[i].key))
                continue;
            double x;
            if (nmrspec_number(v, &x) < 0 ||
                ((map[i].l || map[i].i) && (x != floor(x) || fabs(x) > 1e9))) {
                snprintf(err, errlen, "PARS?: %s=\"%.20s\" is not a %s", map[i].key, v,
                         map[i].d ? "number" : "whole number");
                rc = -1;
            } else if (map[i].d) {
                *map[i].d = x;
            } else if (map[i].l) {
                *map[i].l = (long)x;
            } else {
                *map[i].i = (int)x;
            }
            break;
        }
    }
    free(copy);
    if (rc)
        return rc;
    for (unsigned i = 0; i < ARRAY_LEN(req); i++)
        if (!(seen & (1u << i))) {
            snprintf(err, errlen, "PARS?: no %s", req[i]);
            return -1;
        }
    if (f->td < 2 || f->td % 2 || f->td > (1L << 24) || f->sw <= 0 || f->bf1 <= 0 ||
        f->sfo1 <= 0 || f->ns < 0) {
        snprintf(err, errlen, "PARS?: impossible values (TD %ld, SW %g, BF1 %g, NS %ld)", f->td,
                 f->sw, f->bf1, f->ns);
        return -1;
    }
    return 0;
}

int nmrspec_decode_fid(const char *data, size_t len, long td, double complex *out, char *err,
                       size_t errlen)
{
    if (td < 2 || len != (size_t)td * 8) {
        snprintf(err, errlen, "FID?: %zu bytes, expected %ld (TD %ld float64 values)", len,
                 td * 8, td);
        return -1;
    }
    const unsigned char *p = (const unsigned char *)data;
    for (long k = 0; k < td / 2; k++) {
        double v[2];
        for (int c = 0; c < 2; c++) {
            uint64_t u = 0;
            for (int b = 7; b >= 0; b--)
                u = u << 8 | p[(size_t)(2 * k + c) * 8 + (size_t)b];
            memcpy(&v[c], &u, sizeof u);
            if (!isfinite(v[c])) {
                snprintf(err, errlen, "FID?: value %ld is not a number", 2 * k + c);
                return -1;
            }
        }
        out[k] = CMPLX(v[0], v[1]);
    }
    return 0;
}

/* ---- the driver ---- */

struct nsp {
    struct spectro_acq acq;
    int have_acq;
    spectro_done_fn done;
    void *done_arg;
    spectro_fid_fn fn;          /* an acquisition is under way */
    void *arg;
    long long poll;
    long count;
    struct spectro_fid fid;
};

static struct nsp *nsp_of(struct device *d)
{
    if (!d->drv_state)
        d->drv_state = util_calloc(1, sizeof(struct nsp));
    return d->drv_state;
}

static void nsp_send(struct device *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void nsp_send(struct device *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *cmd = util_vprintf(fmt, ap);
    va_end(ap);
    device_send(d, cmd, NULL, NULL, 0, 0);
    free(cmd);
}

/* End the acquisition under way: FN is called once, whatever happened. */
static void nsp_finish(struct device *d, const struct spectro_fid *f, const char *why)
{
    struct nsp *n = nsp_of(d);
    if (n->poll) {
        loop_timer_del(d->s->loop, n->poll);
        n->poll = 0;
    }
    spectro_fid_fn fn = n->fn;
    n->fn = NULL;
    if (fn)
        fn(d, f, why, n->arg);
}

static void nsp_free(struct device *d)
{
    struct nsp *n = d->drv_state;
    if (!n)
        return;
    /* the engine that asked goes away with the session: nobody to tell */
    n->fn = NULL;
    if (n->poll)
        loop_timer_del(d->s->loop, n->poll);
    free(n->fid.data);
    free(n);
    d->drv_state = NULL;
}

static void nsp_clock(struct device *d)
{
    nsp_send(d, ":SYST:SIM:CLOCK %.6f,%.9g", clock_now(), clock_speed());
}

static void nsp_ready(struct device *d, const char *reply, void *arg)
{
    if (!reply) {
        if (d->state == DEVICE_CONNECTING)
            device_fail(d, "no answer to SYST:ERR?");
        return;
    }
    int code;
    char msg[160];
    if (scpi_parse_error(reply, &code, msg, sizeof msg) < 0) {
        device_garbage(d, reply);
        return;
    }
    device_ready(d);
}

static void nsp_idn(struct device *d, const char *reply, void *arg)
{
    if (!reply) {
        if (d->state == DEVICE_CONNECTING)
            device_fail(d, "no answer to *IDN?");
        return;
    }
    char err[200];
    if (nmrspec_parse_idn(reply, err, sizeof err) < 0) {
        if (strchr(reply, ',') && strlen(reply) < 200)
            device_fatal(d, "%s", err);
        else
            device_fail(d, "%s", err);
        return;
    }
    util_strlcpy(d->idn, reply, sizeof d->idn);
    d->sim = 1;
    nsp_send(d, "*CLS");
    nsp_clock(d);
    device_send(d, "SYST:ERR?", nsp_ready, NULL, 3.0, 0);
}

static void nsp_start(struct device *d)
{
    struct nsp *n = nsp_of(d);
    /* an acquisition in flight when the link broke is gone: say so, the engine retries */
    nsp_finish(d, NULL, "the spectrometer was reconnected");
    n->have_acq = 0;
    device_send(d, "*IDN?", nsp_idn, NULL, 3.0, 0);
}

static void nsp_configured(struct device *d, const char *reply, void *arg)
{
    struct nsp *n = nsp_of(d);
    spectro_done_fn done = n->done;
    n->done = NULL;
    int code = -1;
    char msg[160] = "no reply";
    if (reply && scpi_parse_error(reply, &code, msg, sizeof msg) < 0) {
        snprintf(msg, sizeof msg, "unexpected reply \"%.60s\"", reply);
        code = -1;
    }
    n->have_acq = code == 0;
    if (done) {
        char why[256];
        snprintf(why, sizeof why, "the spectrometer refused the parameters: %s", msg);
        done(d, code == 0, code == 0 ? NULL : why, n->done_arg);
    }
}

static void nsp_configure(struct device *d, const struct spectro_acq *a, spectro_done_fn done,
                          void *arg)
{
    struct nsp *n = nsp_of(d);
    n->acq = *a;
    n->done = done;
    n->done_arg = arg;
    nsp_send(d, "*CLS");
    nsp_clock(d);   /* clock.speed may have changed since the last acquisition */
    nsp_send(d, "NUC %s;FIELD %.9g;O1 %.9g;SW %.9g;TD %ld", a->nucleus, a->field, a->o1, a->sw,
             a->td);
    nsp_send(d, "NS %ld;D1 %.9g;RG %.9g;P1 %.9g;DE %.9g", a->ns, a->d1, a->rg, a->p1, a->de);
    if (device_send(d, "SYST:ERR?", nsp_configured, NULL, 3.0, 0) < 0) {
        n->done = NULL;
        if (done)
            done(d, 0, "the spectrometer is not connected", arg);
    }
}

static void nsp_fid(struct device *d, const char *data, size_t len, void *arg)
{
    struct nsp *n = nsp_of(d);
    if (!n->fn)
        return;
    if (!data) {
        nsp_finish(d, NULL, "no FID from the spectrometer");
        return;
    }
    char err[200];
    struct spectro_fid *f = &n->fid;
    free(f->data);
    f->data = util_malloc((size_t)(f->td / 2) * sizeof *f->data);
    if (nmrspec_decode_fid(data, len, f->td, f->data, err, sizeof err) < 0) {
        nsp_finish(d, NULL, err);
        return;
    }
    f->n = f->td / 2;
    f->expno = ++n->count;
    snprintf(f->source, sizeof f->source, "acquisition %ld on %s", f->expno, d->name);
    nsp_finish(d, f, NULL);
}

static void nsp_pars(struct device *d, const char *reply, void *arg)
{
    struct nsp *n = nsp_of(d);
    if (!n->fn)
        return;
    if (!reply) {
        nsp_finish(d, NULL, "no answer to PARS?");
        return;
    }
    char err[200];
    struct spectro_fid *f = &n->fid;
    double complex *keep = f->data;
    memset(f, 0, sizeof *f);
    f->data = keep;
    if (nmrspec_parse_pars(reply, f, err, sizeof err) < 0) {
        device_garbage(d, reply);
        nsp_finish(d, NULL, err);
        return;
    }
    /* a large FID takes a while over a serial line; allow for 10 kB/s */
    double timeout = 3.0 + (double)f->td * 8 / 1e4;
    if (device_send_block(d, "FID?", nsp_fid, NULL, timeout) < 0)
        nsp_finish(d, NULL, "the spectrometer went away");
}

static double nsp_poll(struct loop *l, long long id, void *arg);

/* The acquisition's length on the experiment clock: NS (D1 + AQ + P1). */
static double nsp_scan_time(const struct spectro_acq *a)
{
    return a->d1 + (double)a->td / 2 / a->sw + a->p1 * 1e-6;
}

static void nsp_schedule(struct device *d, double virtual_delay)
{
    struct nsp *n = nsp_of(d);
    if (virtual_delay < 0.05)
        virtual_delay = 0.05;
    /* never wait more than 2 s of real time between looks: a halted or restarted simulator
     * must not leave the engine waiting for the full estimate */
    if (virtual_delay / clock_speed() > 2)
        virtual_delay = 2 * clock_speed();
    n->poll = loop_timer_add(d->s->loop, virtual_delay, 1, nsp_poll, d);
}

static void nsp_stat(struct device *d, const char *reply, void *arg)
{
    struct nsp *n = nsp_of(d);
    if (!n->fn)
        return;
    if (!reply) {
        nsp_finish(d, NULL, "no answer to STAT?");
        return;
    }
    enum nmrspec_state st;
    long done, ns;
    if (nmrspec_parse_stat(reply, &st, &done, &ns) < 0) {
        device_garbage(d, reply);
        nsp_schedule(d, 0.5);
        return;
    }
    if (st == NMRSPEC_ACQ) {
        nsp_schedule(d, (double)(ns - done) * nsp_scan_time(&n->acq));
    } else if (st == NMRSPEC_DONE) {
        if (device_send(d, "PARS?", nsp_pars, NULL, 3.0, 0) < 0)
            nsp_finish(d, NULL, "the spectrometer went away");
    } else {
        nsp_finish(d, NULL, "the spectrometer is idle: the acquisition was lost");
    }
}

static double nsp_poll(struct loop *l, long long id, void *arg)
{
    struct device *d = arg;
    struct nsp *n = nsp_of(d);
    n->poll = 0;
    if (n->fn && device_send(d, "STAT?", nsp_stat, NULL, 3.0, 0) < 0)
        nsp_finish(d, NULL, "the spectrometer went away");
    return -1;
}

static void nsp_started(struct device *d, const char *reply, void *arg)
{
    struct nsp *n = nsp_of(d);
    if (!n->fn)
        return;
    int code = -1;
    char msg[160] = "no reply";
    if (!reply || scpi_parse_error(reply, &code, msg, sizeof msg) < 0 || code != 0) {
        char why[200];
        snprintf(why, sizeof why, "ZG refused: %s", msg);
        nsp_finish(d, NULL, why);
        return;
    }
    nsp_schedule(d, (double)n->acq.ns * nsp_scan_time(&n->acq));
}

static void nsp_acquire(struct device *d, spectro_fid_fn fn, void *arg)
{
    struct nsp *n = nsp_of(d);
    if (n->fn) {
        fn(d, NULL, "an acquisition is already under way", arg);
        return;
    }
    if (!n->have_acq) {
        fn(d, NULL, "no acquisition parameters set", arg);
        return;
    }
    n->fn = fn;
    n->arg = arg;
    nsp_send(d, "ZG");
    if (device_send(d, "SYST:ERR?", nsp_started, NULL, 3.0, 0) < 0)
        nsp_finish(d, NULL, "the spectrometer is not connected");
}

static void nsp_halt(struct device *d)
{
    struct nsp *n = nsp_of(d);
    if (!n->fn)
        return;
    device_send(d, "HALT", NULL, NULL, 0, 1);
    if (n->poll) {
        loop_timer_del(d->s->loop, n->poll);
        n->poll = 0;
    }
    nsp_schedule(d, 0);
}

static void nsp_sample(struct device *d, const char *sample)
{
    nsp_send(d, ":SYST:SIM:SAMPLE %s", sample);
}

static void nsp_safe(struct device *d)
{
    /* nothing to make safe: a halted acquisition leaves no transmitter on */
    struct nsp *n = d->drv_state;
    if (n && n->fn)
        device_send(d, "HALT", NULL, NULL, 0, 1);
}

static const struct spectrometer_ops nsp_ops = {
    .follows = 0,
    .configure = nsp_configure,
    .acquire = nsp_acquire,
    .halt = nsp_halt,
    .sample = nsp_sample,
};

const struct driver nmrsim_driver = {
    .name = "nmrsim", .klass = "spectrometer",
    .help = "insitu-sim's simulated NMR spectrometer (line protocol, FID as a binary block)",
    .spectrometer = &nsp_ops, .start = nsp_start, .safe = nsp_safe, .clock = nsp_clock,
    .free = nsp_free,
};
