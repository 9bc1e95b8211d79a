/* nmrrun: acquisition loop, processing, region integrals and peak fits of a run's NMR series.
 * See include/insitu/nmrrun.h for the table it writes. */
#include "insitu/nmrrun.h"

#include <complex.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "insitu/archive.h"
#include "insitu/clock.h"
#include "insitu/device.h"
#include "insitu/ec.h"
#include "insitu/loop.h"
#include "insitu/msg.h"
#include "insitu/nmr.h"
#include "insitu/nmrsim.h"
#include "insitu/run.h"
#include "insitu/session.h"
#include "insitu/settings.h"
#include "insitu/units.h"
#include "insitu/util.h"

#define NMR_MAX_TRACKS 32
#define NMR_RETRY 5.0           /* s (experiment clock) before retrying a failed acquisition */

enum track_kind { TRACK_REGION, TRACK_PEAK };

/* Variables of a track, in the order of NMR_VARS. */
enum { V_INTEGRAL, V_INTEGRAL_ERR, V_POSITION, V_POSITION_ERR, V_WIDTH, V_WIDTH_ERR, V_ETA,
       V_NVARS };
static const struct { const char *prefix, *suffix, *units, *what; } nmr_vars[V_NVARS] = {
    { "integral_", "", "1", "integral" },
    { "integral_", "_err", "1", "standard error of the integral" },
    { "position_", "", "ppm", "position" },
    { "position_", "_err", "ppm", "standard error of the position" },
    { "width_", "", "ppm", "full width at half maximum" },
    { "width_", "_err", "ppm", "standard error of the width" },
    { "eta_", "", "1", "Lorentzian fraction (pseudo-Voigt)" },
};

struct track {
    char *name;
    enum track_kind kind;
    double lo, hi;              /* region: the integration range; peak: the position bounds */
    struct nmrfit_peak start;   /* peak: as added */
    struct nmrfit_peak last;    /* peak: the previous spectrum's fit (the next one's start) */
    int have_last;
    int var[V_NVARS];           /* field indices in the table, -1 when none */
};

struct nmr_standard {
    char *name, *nucleus;
    double ppm;
};

struct nmr_idle {
    void (*fn)(void *arg);
    void *arg;
};

struct nmrrun {
    struct session *s;
    /* the acquisition loop */
    struct device *dev;
    int active;                 /* the loop runs */
    long remaining;             /* spectra still to take; < 0 endless */
    int busy;                   /* configure/acquire under way */
    long long timer;            /* next acquisition */
    double last_start;          /* experiment clock of the last acquisition start */
    long taken, failed;
    int nidle;
    struct nmr_idle *idle;
    /* the series */
    struct run *run;
    struct run_table *t;
    long npoints, si;           /* of the series (fixed once it exists) */
    int phased;                 /* the series' phase is fixed */
    int baseline_warned;
    double phc0, phc1;
    int ntracks;
    struct track tracks[NMR_MAX_TRACKS];
    struct nmr_work *w;
    double *re, *im, *ppm;      /* work arrays of si points */
    double *latest, *latest_ppm;/* the newest spectrum (export, status) */
    long nlatest;
    double latest_sf;
    /* referencing */
    void (*ref_done)(void *arg, int ok, const char *msg);
    void *ref_arg;
    char *ref_std;
};

static struct nmr_standard *nmr_standards;
static int nmr_nstandards;

/* ---- settings ---- */

static int nmr_locked(const struct setting *st, const char *text, const double *v, char *err,
                      size_t errlen);

static const struct setting nmr_settings[] = {
    { "nmr.device", NULL, NULL, "", "the spectrometer device (empty: the only one)", 0, NULL },
    { "nmr.nucleus", NULL, NULL, "7Li", "observed nucleus (7Li, 23Na, ...)", 0, nmr_locked },
    { "nmr.h1", "MHz", NULL, "300.13MHz",
      "the magnet as its 1H frequency (300.13MHz at 7.05 T, 600.13MHz at 14.1 T): BF1 of the "
      "nucleus is its frequency ratio times this", 0, nmr_locked },
    { "nmr.o1", "Hz", NULL, "0Hz", "carrier offset O1 from BF1", 0, nmr_locked },
    { "nmr.sw", "Hz", NULL, "200kHz", "spectral width SW", 0, nmr_locked },
    { "nmr.td", "1", NULL, "4096", "TD: real+imaginary points of the FID", 0, nmr_locked },
    { "nmr.ns", "1", NULL, "64", "NS: scans per spectrum", 0, NULL },
    { "nmr.d1", "s", NULL, "0.5s", "D1: relaxation delay", 0, NULL },
    { "nmr.rg", "1", NULL, "32", "RG: receiver gain", 0, NULL },
    { "nmr.p1", "us", NULL, "2.5us", "P1: pulse length", 0, NULL },
    { "nmr.de", "us", NULL, "6.5us", "DE: dead time before sampling", 0, NULL },
    { "nmr.interval", "s", NULL, "0s",
      "least time from one acquisition start to the next (0: back to back)", 0, NULL },
    { "nmr.si", "1", NULL, "0", "SI: spectrum points (0: TD zero filled x2, a power of 2)", 0,
      nmr_locked },
    { "nmr.bc", NULL, "none|single|quad", "quad", "BC_mod: DC correction of the FID", 0, NULL },
    { "nmr.wdw", NULL, "none|em|gm", "em", "window function", 0, NULL },
    { "nmr.lb", "Hz", NULL, "50Hz", "LB: line broadening (EM), or -LB for GM", 0, NULL },
    { "nmr.gb", "1", NULL, "0", "GB: Gaussian maximum as a fraction of AQ (GM)", 0, NULL },
    { "nmr.phase", NULL, "auto|fixed", "auto",
      "auto: ACME on the first spectrum, then fixed for the series; fixed: nmr.phc0/phc1", 0,
      NULL },
    { "nmr.phc0", "degree", NULL, "0degree", "zero-order phase (nmr.phase fixed)", 0, NULL },
    { "nmr.phc1", "degree", NULL, "0degree", "first-order phase (nmr.phase fixed)", 0, NULL },
    { "nmr.baseline", "1", NULL, "5", "order of the polynomial baseline (-1: none)", 0, NULL },
    { "nmr.baseline.exclude", NULL, NULL, "",
      "more ppm ranges kept out of the baseline fit, as pairs (\"20 -20 1200 1100\"); regions "
      "and peaks are always kept out", 0, NULL },
    { "nmr.sr", "Hz", NULL, "0Hz", "SR: spectrum reference (set by `nmr reference`)", 0, NULL },
    { "nmr.topspin.poll", "s", NULL, "2s", "how often a TopSpin series directory is looked at",
      0, NULL },
    { "nmr.topspin.settle", "s", NULL, "120s",
      "a fid unchanged this long counts as finished when TopSpin leaves no other sign", 0,
      NULL },
    { NULL, NULL, NULL, NULL, NULL, 0, NULL },
};

static struct nmrrun *nmr_of(struct session *s);
static struct session *nmr_session;   /* for the settings veto (one session per process) */

static int nmr_locked(const struct setting *st, const char *text, const double *v, char *err,
                      size_t errlen)
{
    struct nmrrun *n = nmr_session ? nmr_session->nmr : NULL;
    if (n && n->t) {
        snprintf(err, errlen, "the run's NMR series has fixed %s (it is a dimension of the "
                 "archive); stop the run first", st->name + 4);
        return -1;
    }
    if (!strcmp(st->name, "nmr.td") && (v[0] < 64 || v[0] > 1048576 || fmod(v[0], 2) != 0)) {
        snprintf(err, errlen, "TD is an even number of points from 64 to 1048576");
        return -1;
    }
    if (!strcmp(st->name, "nmr.si") && (v[0] < 0 || v[0] > 4194304 || v[0] != floor(v[0]))) {
        snprintf(err, errlen, "SI is 0 (automatic) or a number of points up to 4194304");
        return -1;
    }
    if (!strcmp(st->name, "nmr.sw") && (v[0] <= 0)) {
        snprintf(err, errlen, "SW must be positive");
        return -1;
    }
    return 0;
}

void nmrrun_register_settings(void)
{
    settings_register(nmr_settings);
    if (!nmr_nstandards) {
        char err[80];
        /* DOMAIN.md: solid standards against 1 M aqueous solutions (commonly quoted) */
        nmrrun_standard_set("NaCl", "23Na", 7.21, err, sizeof err);
        nmrrun_standard_set("LiCl", "7Li", -1.1, err, sizeof err);
    }
}

static const char *nmr_choice(const char *name)
{
    const char *t = settings_text(name);
    return t ? t : "";
}

/* ---- state ---- */

static struct nmrrun *nmr_of(struct session *s)
{
    if (!s->nmr) {
        s->nmr = util_calloc(1, sizeof *s->nmr);
        s->nmr->s = s;
        nmr_session = s;
    }
    return s->nmr;
}

static void nmr_series_drop(struct nmrrun *n)
{
    n->run = NULL;
    n->t = NULL;
    n->npoints = n->si = 0;
    n->phased = 0;
    nmr_work_free(n->w);
    n->w = NULL;
    free(n->re);
    free(n->im);
    free(n->ppm);
    n->re = n->im = n->ppm = NULL;
    for (int i = 0; i < n->ntracks; i++) {
        n->tracks[i].have_last = 0;
        for (int k = 0; k < V_NVARS; k++)
            n->tracks[i].var[k] = -1;
    }
}

void nmrrun_free(struct session *s)
{
    struct nmrrun *n = s->nmr;
    if (!n)
        return;
    if (n->timer)
        loop_timer_del(s->loop, n->timer);
    nmr_series_drop(n);
    for (int i = 0; i < n->ntracks; i++)
        free(n->tracks[i].name);
    free(n->latest);
    free(n->latest_ppm);
    free(n->idle);
    free(n->ref_std);
    free(n);
    s->nmr = NULL;
    if (nmr_session == s)
        nmr_session = NULL;
}

/* ---- processing ---- */

long nmrrun_si(const struct spectro_fid *f)
{
    double si = settings_text("nmr.si") ? settings_num("nmr.si", 0) : 0;
    if (si >= 16)
        return (long)si;
    long n = 16;
    while (n < 2 * f->n)
        n *= 2;
    return n;
}

/* TopSpin's processing parameters for F from the settings. SF carries the reference SR. */
static void nmr_params_for(const struct spectro_fid *f, long si, struct nmr_params *p)
{
    memset(p, 0, sizeof *p);
    p->si = si;
    const char *bc = nmr_choice("nmr.bc");
    p->bc_mod = !strcmp(bc, "single") ? 1 : !strcmp(bc, "quad") ? 2 : 0;
    const char *wdw = nmr_choice("nmr.wdw");
    p->wdw = !strcmp(wdw, "em") ? 1 : !strcmp(wdw, "gm") ? 2 : 0;
    p->lb = settings_num("nmr.lb", 0);
    p->gb = settings_num("nmr.gb", 0);
    /* digitally filtered data start at the top of the echo of the filter: half weight for the
     * first point (TopSpin's FCOR 0.5) avoids a baseline offset */
    p->fcor = f->digmod ? 0.5 : 1.0;
    p->sw_h = f->sw;
    p->digmod = f->digmod;
    p->grpdly = f->grpdly;
    if (f->digmod && f->grpdly < 0)
        p->grpdly = nmr_grpdly_lookup(f->dspfvs, f->decim);
    if (p->grpdly < 0)
        p->grpdly = 0;
    double sr = settings_num("nmr.sr", 0);
    p->sf = f->bf1 + sr * 1e-6;
    p->offset = ((f->sfo1 - p->sf) * 1e6 + f->sw / 2) / p->sf;
    p->sw_p = f->sw;
}

/* Ranges kept out of the baseline: every region and peak window and nmr.baseline.exclude. */
static int nmr_exclusions(struct nmrrun *n, double *excl, int max)
{
    int k = 0;
    for (int i = 0; i < n->ntracks && k + 2 <= max; i++) {
        const struct track *t = &n->tracks[i];
        double lo = t->lo, hi = t->hi;
        if (t->kind == TRACK_PEAK) {
            double w = t->have_last ? t->last.fwhm : t->start.fwhm > 0 ? t->start.fwhm
                                                                       : (t->hi - t->lo) / 4;
            lo -= 2 * w;
            hi += 2 * w;
        }
        excl[k++] = lo;
        excl[k++] = hi;
    }
    const char *x = nmr_choice("nmr.baseline.exclude");
    char *copy = util_strdup(x), *save = NULL;
    for (char *w = strtok_r(copy, " \t,", &save); w && k < max; w = strtok_r(NULL, " \t,", &save)) {
        char *end;
        double v = strtod(w, &end);
        if (end != w && (!*end || !strcasecmp(end, "ppm")))
            excl[k++] = v;
    }
    free(copy);
    return k / 2;
}

static int nmr_ensure_work(struct nmrrun *n, long si)
{
    if (n->w && n->si == si)
        return 0;
    nmr_work_free(n->w);
    free(n->re);
    free(n->im);
    free(n->ppm);
    n->w = nmr_work_new(si);
    if (!n->w)
        return -1;
    n->si = si;
    n->re = util_malloc((size_t)si * sizeof *n->re);
    n->im = util_malloc((size_t)si * sizeof *n->im);
    n->ppm = util_malloc((size_t)si * sizeof *n->ppm);
    return 0;
}

/* Process F into n->re / n->ppm (SI points) with the series' phase; fixes the phase of the
 * series from this spectrum when nmr.phase is auto and none is fixed yet. */
static int nmr_process_fid(struct nmrrun *n, const struct spectro_fid *f, long si, char *err,
                           size_t errlen)
{
    if (nmr_ensure_work(n, si) < 0) {
        snprintf(err, errlen, "cannot plan an FFT of %ld points", si);
        return -1;
    }
    struct nmr_params p;
    nmr_params_for(f, si, &p);
    struct nmr_err e;
    int fixed = !strcmp(nmr_choice("nmr.phase"), "fixed");
    if (fixed) {
        n->phc0 = settings_num("nmr.phc0", 0);
        n->phc1 = settings_num("nmr.phc1", 0);
    } else if (!n->phased) {
        /* One phase for the whole series: per-spectrum automatic phasing makes intensities
         * jump (DOMAIN.md), so the first spectrum decides. */
        if (nmr_process(n->w, &p, f->data, f->n, n->re, n->im, &e) < 0 ||
            nmr_autophase_acme(n->re, n->im, si, 1, &n->phc0, &n->phc1, &e) < 0) {
            snprintf(err, errlen, "%s", e.msg);
            return -1;
        }
        n->phased = 1;
    }
    p.phc0 = n->phc0;
    p.phc1 = n->phc1;
    if (nmr_process(n->w, &p, f->data, f->n, n->re, NULL, &e) < 0) {
        snprintf(err, errlen, "%s", e.msg);
        return -1;
    }
    nmr_ppm_axis(&p, n->ppm);
    int order = (int)settings_num("nmr.baseline", 0);
    if (order >= 0) {
        if (order > NMR_BASELINE_MAX_ORDER)
            order = NMR_BASELINE_MAX_ORDER;
        double excl[2 * (NMR_MAX_TRACKS + 16)];
        int nexcl = nmr_exclusions(n, excl, (int)ARRAY_LEN(excl));
        if (nmr_baseline_poly(n->re, n->ppm, si, order, excl, nexcl, NULL, &e) < 0) {
            /* regions covering (nearly) the whole spectrum leave nothing to fit a baseline
             * to: keep the spectrum without one rather than lose it, and say so once */
            if (!n->baseline_warned && n->s->run)
                run_event(n->s->run, RUN_WARN, "nmr: no baseline correction: %s", e.msg);
            n->baseline_warned = 1;
        }
    }
    n->latest_sf = p.sf;
    return 0;
}

/* Integrate and fit N->re for every track into VALS (indexed by track and variable). */
static void nmr_track_all(struct nmrrun *n, double vals[][V_NVARS])
{
    for (int i = 0; i < n->ntracks; i++)
        for (int k = 0; k < V_NVARS; k++)
            vals[i][k] = NAN;
    struct nmrfit_peak peaks[NMR_MAX_TRACKS];
    int idx[NMR_MAX_TRACKS], np = 0;
    double wlo = INFINITY, whi = -INFINITY;
    for (int i = 0; i < n->ntracks; i++) {
        struct track *t = &n->tracks[i];
        if (t->kind == TRACK_REGION) {
            vals[i][V_INTEGRAL] = nmrfit_integrate(n->ppm, n->re, n->si, t->lo, t->hi);
            continue;
        }
        peaks[np] = t->have_last ? t->last : t->start;
        peaks[np].lo = t->lo;
        peaks[np].hi = t->hi;
        double w = peaks[np].fwhm > 0 ? peaks[np].fwhm : (t->hi - t->lo) / 4;
        wlo = fmin(wlo, t->lo - 2 * w);
        whi = fmax(whi, t->hi + 2 * w);
        idx[np++] = i;
    }
    if (!np)
        return;
    /* overlapping lines (metal and microstructure) are fitted together */
    struct nmrfit_result res;
    if (nmrfit_fit(n->ppm, n->re, n->si, wlo, whi, peaks, np, &res) < 0) {
        if (n->run)
            run_event(n->run, RUN_DEBUG, "nmr: peak fit: %s", res.msg);
        for (int j = 0; j < np; j++)
            n->tracks[idx[j]].have_last = 0;
        return;
    }
    for (int j = 0; j < np; j++) {
        struct track *t = &n->tracks[idx[j]];
        const struct nmrfit_peak *pk = &peaks[j];
        t->last = *pk;
        t->have_last = 1;
        double *v = vals[idx[j]];
        v[V_INTEGRAL] = pk->area;
        v[V_INTEGRAL_ERR] = pk->area_err;
        v[V_POSITION] = pk->pos;
        v[V_POSITION_ERR] = pk->pos_err;
        v[V_WIDTH] = pk->fwhm;
        v[V_WIDTH_ERR] = pk->fwhm_err;
        v[V_ETA] = pk->shape == NMRFIT_PVOIGT ? pk->eta : NAN;
    }
}

/* ---- the table ---- */

enum { F_TIME_END, F_NS, F_EXPNO, F_Q0, F_Q1, F_V0, F_V1, F_PHC0, F_PHC1, F_FID_RE, F_FID_IM,
       F_SPECTRUM, F_NFIXED };

static int nmr_track_vars(struct nmrrun *n, struct track *t, char *err, size_t errlen)
{
    for (int k = 0; k < V_NVARS; k++) {
        t->var[k] = -1;
        if (t->kind == TRACK_REGION && k != V_INTEGRAL)
            continue;
        char name[128], long_name[200];
        snprintf(name, sizeof name, "%s%s%s", nmr_vars[k].prefix, t->name, nmr_vars[k].suffix);
        snprintf(long_name, sizeof long_name, "%s %s of %s", t->kind == TRACK_REGION ? "region" :
                 "fitted", nmr_vars[k].what, t->name);
        struct run_field f = { name, nmr_vars[k].units, long_name, RUN_F64, NULL, 0, NULL };
        if (run_field_add(n->t, &f, err, errlen) < 0)
            return -1;
        t->var[k] = run_field_index(n->t, name);
    }
    return 0;
}

static void nmr_track_attr(struct nmrrun *n, const struct track *t)
{
    if (!n->run)
        return;
    char key[128];
    snprintf(key, sizeof key, "%s_%s", t->kind == TRACK_REGION ? "region" : "peak", t->name);
    if (t->kind == TRACK_REGION) {
        double v[2] = { t->lo, t->hi };
        run_attr_num(n->run, "nmr", key, v, 2);
    } else {
        double v[3] = { t->start.pos, t->lo, t->hi };
        run_attr_num(n->run, "nmr", key, v, 3);
        snprintf(key, sizeof key, "shape_%s", t->name);
        run_attr_text(n->run, "nmr", key, nmrfit_shape_name(t->start.shape));
    }
}

/* Processing parameters as group attributes, in TopSpin's names (they describe `spectrum`). */
static void nmr_proc_attrs(struct nmrrun *n)
{
    struct run *r = n->run;
    static const char *const num[][2] = {
        { "LB", "nmr.lb" }, { "GB", "nmr.gb" }, { "SR", "nmr.sr" }, { "ABSG", "nmr.baseline" },
    };
    for (size_t i = 0; i < ARRAY_LEN(num); i++) {
        double v = settings_num(num[i][1], 0);
        run_attr_num(r, "nmr", num[i][0], &v, 1);
    }
    double si = (double)n->si;
    run_attr_num(r, "nmr", "SI", &si, 1);
    run_attr_text(r, "nmr", "WDW", nmr_choice("nmr.wdw"));
    run_attr_text(r, "nmr", "BC_mod", nmr_choice("nmr.bc"));
    run_attr_text(r, "nmr", "phase_mode", nmr_choice("nmr.phase"));
}

static int nmr_table(struct nmrrun *n, const struct spectro_fid *f, long si, char *err,
                     size_t errlen)
{
    struct run *r = n->s->run;
    if (n->t && n->run == r) {
        if (f->n != n->npoints) {
            snprintf(err, errlen, "%s has %ld points, the series %ld (TD is fixed in a run)",
                     f->source, f->n, n->npoints);
            return -1;
        }
        return 0;
    }
    nmr_series_drop(n);
    const struct run_field fields[F_NFIXED] = {
        { "time_end", "s", "end of the acquisition (run time)", RUN_F64, NULL, 0, NULL },
        { "ns", "1", "scans", RUN_I32, NULL, 0, NULL },
        { "expno", "1", "experiment number", RUN_I32, NULL, 0, NULL },
        { "charge_start", "A h", "charge passed when the acquisition started", RUN_F64, NULL, 0, NULL },
        { "charge_end", "A h", "charge passed when the acquisition ended", RUN_F64, NULL, 0, NULL },
        { "voltage_start", "V", "cell voltage when the acquisition started", RUN_F64, NULL, 0, NULL },
        { "voltage_end", "V", "cell voltage when the acquisition ended", RUN_F64, NULL, 0, NULL },
        { "phc0", "degree", "zero-order phase applied", RUN_F64, NULL, 0, NULL },
        { "phc1", "degree", "first-order phase applied", RUN_F64, NULL, 0, NULL },
        { "fid_re", "1", "FID, real part (raw)", RUN_F64, "fid_time", (size_t)f->n, NULL },
        { "fid_im", "1", "FID, imaginary part (raw)", RUN_F64, "fid_time", (size_t)f->n, NULL },
        { "spectrum", "1", "processed spectrum, real part", RUN_F64, "ppm", (size_t)si, NULL },
    };
    struct run_table *t = run_table_add(r, "nmr", "time", fields, F_NFIXED, err, errlen);
    if (!t)
        return -1;
    n->run = r;
    n->t = t;
    n->npoints = f->n;
    double *ft = util_malloc((size_t)f->n * sizeof *ft);
    for (long k = 0; k < f->n; k++)
        ft[k] = (double)k / f->sw;
    run_axis_set(r, "nmr", "fid_time", (size_t)f->n, "s", "time after the start of sampling", ft);
    free(ft);
    run_attr_text(r, "nmr", "nucleus", f->nucleus);
    struct { const char *k; double v; } acq[] = {
        { "BF1", f->bf1 }, { "SFO1", f->sfo1 }, { "O1", f->o1 }, { "SW_h", f->sw },
        { "TD", (double)f->td }, { "D1", f->d1 }, { "RG", f->rg }, { "P1", f->p1 },
        { "DE", f->de }, { "DIGMOD", f->digmod }, { "GRPDLY", f->grpdly },
    };
    for (size_t i = 0; i < ARRAY_LEN(acq); i++)
        if (isfinite(acq[i].v))
            run_attr_num(r, "nmr", acq[i].k, &acq[i].v, 1);
    for (int i = 0; i < n->ntracks; i++) {
        if (nmr_track_vars(n, &n->tracks[i], err, errlen) < 0)
            return -1;
        nmr_track_attr(n, &n->tracks[i]);
    }
    return 0;
}

/* The cell at run time TIME from group ec (linear between records); NAN without a cycler. */
static void nmr_ec_at(struct run *r, double time, double *q, double *v)
{
    *q = *v = NAN;
    struct run_table *t = run_table_find(r, "ec", "time");
    if (!t || !t->nrec)
        return;
    size_t lo = 0, hi = t->nrec - 1;
    if (time <= t->time[0]) {
        hi = 0;
    } else if (time >= t->time[hi]) {
        lo = hi;
    } else {
        while (hi - lo > 1) {
            size_t mid = (lo + hi) / 2;
            if (t->time[mid] <= time)
                lo = mid;
            else
                hi = mid;
        }
    }
    double span = t->time[hi] - t->time[lo];
    double a = span > 0 ? (time - t->time[lo]) / span : 0;
    *q = run_get_f64(t, EC_CHARGE, lo) * (1 - a) + run_get_f64(t, EC_CHARGE, hi) * a;
    *v = run_get_f64(t, EC_VOLTAGE, lo) * (1 - a) + run_get_f64(t, EC_VOLTAGE, hi) * a;
}

static void nmr_keep_latest(struct nmrrun *n)
{
    if (n->nlatest != n->si) {
        free(n->latest);
        free(n->latest_ppm);
        n->latest = util_malloc((size_t)n->si * sizeof *n->latest);
        n->latest_ppm = util_malloc((size_t)n->si * sizeof *n->latest_ppm);
        n->nlatest = n->si;
    }
    memcpy(n->latest, n->re, (size_t)n->si * sizeof *n->re);
    memcpy(n->latest_ppm, n->ppm, (size_t)n->si * sizeof *n->ppm);
}

int nmrrun_add_fid(struct session *s, const struct spectro_fid *f, double time, double time_end,
                   char *err, size_t errlen)
{
    struct nmrrun *n = nmr_of(s);
    if (!s->run) {
        snprintf(err, errlen, "no active run");
        return -1;
    }
    long si = n->t && n->run == s->run ? n->si : nmrrun_si(f);
    if (nmr_table(n, f, si, err, errlen) < 0)
        return -1;
    if (nmr_process_fid(n, f, si, err, errlen) < 0)
        return -1;
    const struct run_axis *ax = run_axis_find(s->run, "nmr", "ppm");
    if (!ax || memcmp(ax->values, n->ppm, (size_t)si * sizeof *n->ppm)) {
        run_axis_set(s->run, "nmr", "ppm", (size_t)si, "ppm", "chemical shift", n->ppm);
        nmr_proc_attrs(n);
    }
    double vals[NMR_MAX_TRACKS][V_NVARS];
    nmr_track_all(n, vals);
    union run_value *v = util_calloc((size_t)n->t->nfields, sizeof *v);
    for (int i = 0; i < n->t->nfields; i++)
        v[i].f64 = NAN;
    double q0, v0, q1, v1;
    nmr_ec_at(s->run, time, &q0, &v0);
    nmr_ec_at(s->run, time_end, &q1, &v1);
    v[F_TIME_END].f64 = time_end;
    v[F_NS].i32 = (int32_t)f->ns;
    v[F_EXPNO].i32 = (int32_t)f->expno;
    v[F_Q0].f64 = q0;
    v[F_Q1].f64 = q1;
    v[F_V0].f64 = v0;
    v[F_V1].f64 = v1;
    v[F_PHC0].f64 = n->phc0;
    v[F_PHC1].f64 = n->phc1;
    double *fre = util_malloc((size_t)f->n * sizeof *fre), *fim = util_malloc((size_t)f->n * sizeof *fim);
    for (long k = 0; k < f->n; k++) {
        fre[k] = creal(f->data[k]);
        fim[k] = cimag(f->data[k]);
    }
    v[F_FID_RE].arr = fre;
    v[F_FID_IM].arr = fim;
    v[F_SPECTRUM].arr = n->re;
    for (int i = 0; i < n->ntracks; i++)
        for (int k = 0; k < V_NVARS; k++)
            if (n->tracks[i].var[k] >= 0)
                v[n->tracks[i].var[k]].f64 = vals[i][k];
    int rc = run_append(n->t, time, v);
    free(fre);
    free(fim);
    free(v);
    nmr_keep_latest(n);
    if (rc < 0) {
        snprintf(err, errlen, "the archive could not keep spectrum %ld", f->expno);
        return -1;
    }
    return 0;
}

/* ---- reprocessing ---- */

static int nmr_read_array(struct session *s, struct run_table *t, int field, size_t i,
                          double *out, size_t len, char *err, size_t errlen)
{
    const double *a = run_get_array(t, field, i);
    if (a) {
        memcpy(out, a, len * sizeof *out);
        return 0;
    }
    if (!s->archive) {
        snprintf(err, errlen, "record %zu is no longer in memory and there is no archive", i);
        return -1;
    }
    return archive_read_array(s->archive, t, field, i, out, len, err, errlen);
}

int nmrrun_reprocess(struct session *s, char *err, size_t errlen)
{
    struct nmrrun *n = nmr_of(s);
    if (!s->run || !n->t || n->run != s->run || !n->t->nrec) {
        snprintf(err, errlen, "no NMR series in the active run");
        return -1;
    }
    if (n->busy) {
        snprintf(err, errlen, "an acquisition is under way (`nmr stop` first, or wait)");
        return -1;
    }
    struct run_table *t = n->t;
    const struct run_attr *a;
    struct spectro_fid f;
    memset(&f, 0, sizeof f);
    /* the acquisition parameters of the series, as recorded */
    const char *txt[] = { "BF1", "SFO1", "O1", "SW_h", "DIGMOD", "GRPDLY" };
    double val[ARRAY_LEN(txt)];
    for (size_t i = 0; i < ARRAY_LEN(txt); i++) {
        a = run_attr_find(s->run, "nmr", txt[i]);
        if (!a || !a->num || a->n < 1) {
            snprintf(err, errlen, "the series has no %s attribute", txt[i]);
            return -1;
        }
        val[i] = a->num[0];
    }
    f.bf1 = val[0];
    f.sfo1 = val[1];
    f.o1 = val[2];
    f.sw = val[3];
    f.digmod = (int)val[4];
    f.grpdly = val[5];
    f.n = n->npoints;
    f.data = util_malloc((size_t)f.n * sizeof *f.data);
    double *re = util_malloc((size_t)f.n * sizeof *re), *im = util_malloc((size_t)f.n * sizeof *im);
    n->phased = 0;
    for (int i = 0; i < n->ntracks; i++)
        n->tracks[i].have_last = 0;
    int rc = 0;
    size_t done = 0;
    for (size_t i = 0; i < t->nrec && !rc; i++) {
        if (nmr_read_array(s, t, F_FID_RE, i, re, (size_t)f.n, err, errlen) < 0 ||
            nmr_read_array(s, t, F_FID_IM, i, im, (size_t)f.n, err, errlen) < 0) {
            rc = -1;
            break;
        }
        for (long k = 0; k < f.n; k++)
            f.data[k] = CMPLX(re[k], im[k]);
        snprintf(f.source, sizeof f.source, "spectrum %zu", i + 1);
        if (nmr_process_fid(n, &f, n->si, err, errlen) < 0) {
            rc = -1;
            break;
        }
        if (i == 0) {
            const struct run_axis *ax = run_axis_find(s->run, "nmr", "ppm");
            if (!ax || memcmp(ax->values, n->ppm, (size_t)n->si * sizeof *n->ppm))
                run_axis_set(s->run, "nmr", "ppm", (size_t)n->si, "ppm", "chemical shift", n->ppm);
            nmr_proc_attrs(n);
        }
        double vals[NMR_MAX_TRACKS][V_NVARS];
        nmr_track_all(n, vals);
        union run_value v;
        v.arr = n->re;
        rc |= run_update(t, i, F_SPECTRUM, &v);
        v.f64 = n->phc0;
        rc |= run_update(t, i, F_PHC0, &v);
        v.f64 = n->phc1;
        rc |= run_update(t, i, F_PHC1, &v);
        for (int j = 0; j < n->ntracks; j++)
            for (int k = 0; k < V_NVARS; k++)
                if (n->tracks[j].var[k] >= 0) {
                    v.f64 = vals[j][k];
                    rc |= run_update(t, i, n->tracks[j].var[k], &v);
                }
        if (rc)
            snprintf(err, errlen, "the archive could not take the new values of spectrum %zu", i + 1);
        done++;
    }
    if (!rc)
        nmr_keep_latest(n);
    free(f.data);
    free(re);
    free(im);
    if (!rc)
        run_event(s->run, RUN_INFO, "nmr: %zu spectra reprocessed (phase %.2f, %.2f degrees)",
                  done, n->phc0, n->phc1);
    return rc ? -1 : 0;
}

/* ---- regions and peaks ---- */

static struct track *nmr_track_find(struct nmrrun *n, const char *name)
{
    for (int i = 0; i < n->ntracks; i++)
        if (!strcmp(n->tracks[i].name, name))
            return &n->tracks[i];
    return NULL;
}

static struct track *nmr_track_new(struct nmrrun *n, const char *name, char *err, size_t errlen)
{
    if (!util_valid_name(name) || strlen(name) > 40) {
        snprintf(err, errlen, "\"%s\": a name is up to 40 letters, digits, '_', '.' and '-'", name);
        return NULL;
    }
    if (nmr_track_find(n, name)) {
        snprintf(err, errlen, "there is already a region or peak \"%s\"", name);
        return NULL;
    }
    if (n->ntracks == NMR_MAX_TRACKS) {
        snprintf(err, errlen, "at most %d regions and peaks", NMR_MAX_TRACKS);
        return NULL;
    }
    struct track *t = &n->tracks[n->ntracks];
    memset(t, 0, sizeof *t);
    for (int k = 0; k < V_NVARS; k++)
        t->var[k] = -1;
    return t;
}

static int nmr_track_commit(struct nmrrun *n, struct track *t, const char *name, char *err,
                            size_t errlen)
{
    t->name = util_strdup(name);
    n->ntracks++;
    if (n->t && n->run == n->s->run) {
        if (nmr_track_vars(n, t, err, errlen) < 0) {
            n->ntracks--;
            free(t->name);
            return -1;
        }
        nmr_track_attr(n, t);
        run_event(n->s->run, RUN_INFO, "nmr: %s %s added (earlier spectra: `nmr reprocess`)",
                  t->kind == TRACK_REGION ? "region" : "peak", name);
    }
    return 0;
}

int nmrrun_region_add(struct session *s, const char *name, double lo, double hi, char *err,
                      size_t errlen)
{
    struct nmrrun *n = nmr_of(s);
    if (!isfinite(lo) || !isfinite(hi) || lo == hi) {
        snprintf(err, errlen, "a region needs two different limits");
        return -1;
    }
    struct track *t = nmr_track_new(n, name, err, errlen);
    if (!t)
        return -1;
    t->kind = TRACK_REGION;
    t->lo = fmin(lo, hi);
    t->hi = fmax(lo, hi);
    return nmr_track_commit(n, t, name, err, errlen);
}

int nmrrun_peak_add(struct session *s, const char *name, const struct nmrfit_peak *start,
                    char *err, size_t errlen)
{
    struct nmrrun *n = nmr_of(s);
    if (!isfinite(start->pos) || !(start->lo < start->pos && start->pos < start->hi)) {
        snprintf(err, errlen, "the position %g ppm must lie inside its range %g..%g ppm",
                 start->pos, start->lo, start->hi);
        return -1;
    }
    struct track *t = nmr_track_new(n, name, err, errlen);
    if (!t)
        return -1;
    t->kind = TRACK_PEAK;
    t->start = *start;
    t->lo = start->lo;
    t->hi = start->hi;
    return nmr_track_commit(n, t, name, err, errlen);
}

int nmrrun_remove(struct session *s, const char *name, char *err, size_t errlen)
{
    struct nmrrun *n = nmr_of(s);
    struct track *t = nmr_track_find(n, name);
    if (!t) {
        snprintf(err, errlen, "no region or peak \"%s\"", name);
        return -1;
    }
    /* the variables already in the archive stay: they are the record of what was tracked */
    free(t->name);
    int i = (int)(t - n->tracks);
    memmove(t, t + 1, (size_t)(n->ntracks - i - 1) * sizeof *t);
    n->ntracks--;
    return 0;
}

void nmrrun_list(struct session *s, struct strbuf *out)
{
    struct nmrrun *n = nmr_of(s);
    if (!n->ntracks)
        strbuf_printf(out, "no regions or peaks (`nmr region add`, `nmr peak add`)\n");
    for (int i = 0; i < n->ntracks; i++) {
        const struct track *t = &n->tracks[i];
        if (t->kind == TRACK_REGION) {
            strbuf_printf(out, "region %-12s %9.2f .. %9.2f ppm\n", t->name, t->hi, t->lo);
            continue;
        }
        strbuf_printf(out, "peak   %-12s %9.2f ppm in %.2f .. %.2f, %s", t->name, t->start.pos,
                      t->hi, t->lo, nmrfit_shape_name(t->start.shape));
        if (t->have_last)
            strbuf_printf(out, "; last fit %.2f +- %.2f ppm, FWHM %.2f ppm, area %.4g +- %.2g",
                          t->last.pos, t->last.pos_err, t->last.fwhm, t->last.area,
                          t->last.area_err);
        strbuf_addch(out, '\n');
    }
}

/* ---- the acquisition loop ---- */

static void nmr_idle_now(struct nmrrun *n)
{
    int k = n->nidle;
    struct nmr_idle *w = n->idle;
    n->idle = NULL;
    n->nidle = 0;
    for (int i = 0; i < k; i++)
        w[i].fn(w[i].arg);
    free(w);
}

static void nmr_loop_end(struct nmrrun *n, const char *why)
{
    if (!n->active)
        return;
    n->active = 0;
    if (n->timer) {
        loop_timer_del(n->s->loop, n->timer);
        n->timer = 0;
    }
    session_event(n->s, RUN_INFO, "nmr: acquisition ended (%s): %ld spectra", why, n->taken);
    if (!n->busy)
        nmr_idle_now(n);
}

static void nmr_next(struct nmrrun *n, double delay);

static void nmr_got_fid(struct device *d, const struct spectro_fid *f, const char *why, void *arg)
{
    struct nmrrun *n = arg;
    struct session *s = n->s;
    n->busy = 0;
    if (!f) {
        n->failed++;
        if (s->run)
            session_event(s, RUN_WARN, "nmr: acquisition failed: %s", why);
        if (n->active)
            nmr_next(n, NMR_RETRY);
        else
            nmr_idle_now(n);
        return;
    }
    char err[300];
    double t0 = s->run ? f->t_start - s->run->t0 : 0, t1 = s->run ? f->t_end - s->run->t0 : 0;
    if (!s->run) {
        /* the run ended while the spectrometer was busy: nothing to keep it in */
    } else if (nmrrun_add_fid(s, f, t0, t1, err, sizeof err) < 0) {
        n->failed++;
        session_event(s, RUN_ERROR, "nmr: %s: %s", f->source, err);
    } else {
        n->taken++;
        if (n->remaining > 0)
            n->remaining--;
    }
    if (!n->active) {
        nmr_idle_now(n);
        return;
    }
    if (n->remaining == 0) {
        nmr_loop_end(n, "all spectra taken");
        return;
    }
    double interval = settings_num("nmr.interval", 0);
    nmr_next(n, interval > 0 ? n->last_start + interval - clock_now() : 0);
}

static void nmr_configured(struct device *d, int ok, const char *why, void *arg)
{
    struct nmrrun *n = arg;
    if (!n->active) {
        n->busy = 0;
        nmr_idle_now(n);
        return;
    }
    if (!ok) {
        n->busy = 0;
        n->failed++;
        session_event(n->s, RUN_WARN, "nmr: %s", why);
        nmr_next(n, NMR_RETRY);
        return;
    }
    n->last_start = clock_now();
    d->drv->spectrometer->acquire(d, nmr_got_fid, n);
}

static void nmr_acq_from_settings(struct spectro_acq *a)
{
    memset(a, 0, sizeof *a);
    util_strlcpy(a->nucleus, nmr_choice("nmr.nucleus"), sizeof a->nucleus);
    /* the spectrometer takes the field in tesla; labs name magnets by their 1H frequency,
     * which fixes BF1 exactly (DOMAIN.md's table), where a rounded "7.05 T" would not */
    a->field = settings_num("nmr.h1", 0) / NMRSIM_GAMMA_1H;
    a->o1 = settings_num("nmr.o1", 0);
    a->sw = settings_num("nmr.sw", 0);
    a->td = (long)settings_num("nmr.td", 0);
    a->ns = (long)settings_num("nmr.ns", 0);
    a->d1 = settings_num("nmr.d1", 0);
    a->rg = settings_num("nmr.rg", 0);
    a->p1 = settings_num("nmr.p1", 0);
    a->de = settings_num("nmr.de", 0);
}

static double nmr_tick(struct loop *l, long long id, void *arg)
{
    struct nmrrun *n = arg;
    n->timer = 0;
    if (!n->active || n->busy)
        return -1;
    struct device *d = n->dev;
    if (!n->s->run) {
        nmr_loop_end(n, "no run");
        return -1;
    }
    if (d->state != DEVICE_READY) {
        /* the device layer reconnects; look again in a while */
        n->timer = loop_timer_add(n->s->loop, 1.0, 0, nmr_tick, n);
        return -1;
    }
    struct spectro_acq a;
    nmr_acq_from_settings(&a);
    n->busy = 1;
    d->drv->spectrometer->configure(d, &a, nmr_configured, n);
    return -1;
}

static void nmr_next(struct nmrrun *n, double delay)
{
    if (n->timer)
        loop_timer_del(n->s->loop, n->timer);
    n->timer = loop_timer_add(n->s->loop, delay > 0 ? delay : 0, 1, nmr_tick, n);
}

static void nmr_follow_fid(struct device *d, const struct spectro_fid *f, const char *why,
                           void *arg)
{
    struct nmrrun *n = arg;
    struct session *s = n->s;
    if (!f) {
        session_event(s, RUN_WARN, "nmr: %s", why);
        return;
    }
    if (!s->run)
        return;
    char err[300];
    double t0 = f->t_start - s->run->t0, t1 = f->t_end - s->run->t0;
    if (nmrrun_add_fid(s, f, t0, t1, err, sizeof err) < 0) {
        n->failed++;
        session_event(s, RUN_ERROR, "nmr: %s: %s", f->source, err);
        return;
    }
    n->taken++;
    if (n->remaining > 0 && --n->remaining == 0) {
        d->drv->spectrometer->follow(d, NULL, NULL);
        nmr_loop_end(n, "all spectra taken");
    }
}

static struct device *nmr_pick_device(struct session *s, const char *name, char *err,
                                      size_t errlen)
{
    if (!name || !*name)
        name = nmr_choice("nmr.device");
    if (*name) {
        struct device *d = device_find(s, name);
        if (!d)
            snprintf(err, errlen, "no device \"%s\" (`device list`)", name);
        else if (!d->drv->spectrometer) {
            snprintf(err, errlen, "%s is a %s, not a spectrometer", name, d->drv->klass);
            d = NULL;
        }
        return d;
    }
    struct device *found = NULL;
    for (int i = 0; i < device_count(s); i++) {
        struct device *d = device_at(s, i);
        if (!d->drv->spectrometer)
            continue;
        if (found) {
            snprintf(err, errlen, "several spectrometers: name one (`set nmr.device NAME`)");
            return NULL;
        }
        found = d;
    }
    if (!found)
        snprintf(err, errlen, "no spectrometer (`device add nmr nmrsim sim:li-li`)");
    return found;
}

int nmrrun_start(struct session *s, const char *device, long count, char *err, size_t errlen)
{
    struct nmrrun *n = nmr_of(s);
    if (!s->run) {
        snprintf(err, errlen, "no active run (`run start` first): spectra are kept in a run");
        return -1;
    }
    if (n->active || n->busy || n->ref_done) {
        snprintf(err, errlen, "the spectrometer is busy (`nmr stop`)");
        return -1;
    }
    struct device *d = nmr_pick_device(s, device, err, errlen);
    if (!d)
        return -1;
    n->dev = d;
    n->active = 1;
    n->remaining = count > 0 ? count : -1;
    n->taken = n->failed = 0;
    if (d->drv->spectrometer->follows) {
        d->drv->spectrometer->follow(d, nmr_follow_fid, n);
        session_event(s, RUN_INFO, "nmr: following %s", d->name);
    } else {
        session_event(s, RUN_INFO, "nmr: acquiring %s on %s (NS %s, TD %s)",
                      count > 0 ? "spectra" : "spectra until the run ends", d->name,
                      nmr_choice("nmr.ns"), nmr_choice("nmr.td"));
        nmr_next(n, 0);
    }
    return 0;
}

int nmrrun_stop(struct session *s, char *err, size_t errlen)
{
    struct nmrrun *n = nmr_of(s);
    if (!n->active) {
        snprintf(err, errlen, "no acquisition under way");
        return -1;
    }
    struct device *d = n->dev;
    if (d->drv->spectrometer->follows)
        d->drv->spectrometer->follow(d, NULL, NULL);
    else if (n->busy && d->drv->spectrometer->halt)
        d->drv->spectrometer->halt(d);   /* the scans so far still make a spectrum */
    nmr_loop_end(n, "stopped");
    return 0;
}

int nmrrun_busy(struct session *s)
{
    struct nmrrun *n = s->nmr;
    return n && (n->active || n->busy);
}

void nmrrun_on_idle(struct session *s, void (*fn)(void *arg), void *arg)
{
    struct nmrrun *n = nmr_of(s);
    if (!n->active && !n->busy) {
        fn(arg);
        return;
    }
    n->idle = util_reallocarray(n->idle, (size_t)n->nidle + 1, sizeof *n->idle);
    n->idle[n->nidle++] = (struct nmr_idle){ fn, arg };
}

void nmrrun_cancel_idle(struct session *s, void *arg)
{
    struct nmrrun *n = nmr_of(s);
    for (int i = 0; i < n->nidle; i++)
        if (n->idle[i].arg == arg) {
            memmove(&n->idle[i], &n->idle[i + 1], (size_t)(n->nidle - i - 1) * sizeof *n->idle);
            n->nidle--;
            i--;
        }
}

void nmrrun_run_ending(struct session *s)
{
    struct nmrrun *n = s->nmr;
    if (!n)
        return;
    if (n->active) {
        struct device *d = n->dev;
        if (d->drv->spectrometer->follows)
            d->drv->spectrometer->follow(d, NULL, NULL);
        else if (n->busy && d->drv->spectrometer->halt)
            d->drv->spectrometer->halt(d);
        nmr_loop_end(n, "the run ended");
    }
    nmr_series_drop(n);
}

void nmrrun_status(struct session *s, struct strbuf *out)
{
    struct nmrrun *n = nmr_of(s);
    strbuf_printf(out, "nmr: %s", n->active ? "acquiring" : n->busy ? "finishing" : "idle");
    if (n->dev)
        strbuf_printf(out, " on %s (%s)", n->dev->name, device_state_name(n->dev->state));
    strbuf_printf(out, "; %s at 1H %s, SW %s, TD %s, NS %s, D1 %s\n", nmr_choice("nmr.nucleus"),
                  nmr_choice("nmr.h1"), nmr_choice("nmr.sw"), nmr_choice("nmr.td"),
                  nmr_choice("nmr.ns"), nmr_choice("nmr.d1"));
    if (n->t && n->run == s->run)
        strbuf_printf(out, "  series: %zu spectra, SI %ld, phase %.2f / %.2f degrees (%s)\n",
                      n->t->nrec, n->si, n->phc0, n->phc1, nmr_choice("nmr.phase"));
    if (n->active || n->taken || n->failed)
        strbuf_printf(out, "  this acquisition: %ld taken, %ld failed\n", n->taken, n->failed);
    if (n->active && n->remaining > 0)
        strbuf_printf(out, "  %ld to go\n", n->remaining);
    strbuf_printf(out, "  reference: SR %s\n", nmr_choice("nmr.sr"));
    nmrrun_list(s, out);
}

const double *nmrrun_latest(struct session *s, const double **ppm, long *n, double *sf)
{
    struct nmrrun *m = s->nmr;
    if (!m || !m->latest)
        return NULL;
    *ppm = m->latest_ppm;
    *n = m->nlatest;
    if (sf)
        *sf = m->latest_sf;
    return m->latest;
}

/* ---- referencing ---- */

int nmrrun_standard_set(const char *name, const char *nucleus, double ppm, char *err,
                        size_t errlen)
{
    if (!util_valid_name(name) || !*nucleus || !isfinite(ppm)) {
        snprintf(err, errlen, "a standard is NAME NUCLEUS SHIFT");
        return -1;
    }
    for (int i = 0; i < nmr_nstandards; i++)
        if (!strcasecmp(nmr_standards[i].name, name)) {
            free(nmr_standards[i].nucleus);
            nmr_standards[i].nucleus = util_strdup(nucleus);
            nmr_standards[i].ppm = ppm;
            return 0;
        }
    nmr_standards = util_reallocarray(nmr_standards, (size_t)nmr_nstandards + 1,
                                      sizeof *nmr_standards);
    nmr_standards[nmr_nstandards++] = (struct nmr_standard){ util_strdup(name),
                                                             util_strdup(nucleus), ppm };
    return 0;
}

void nmrrun_standards(struct strbuf *out)
{
    for (int i = 0; i < nmr_nstandards; i++)
        strbuf_printf(out, "%-8s %-6s %8.3f ppm\n", nmr_standards[i].name,
                      nmr_standards[i].nucleus, nmr_standards[i].ppm);
}

static const struct nmr_standard *nmr_standard_find(const char *name)
{
    for (int i = 0; i < nmr_nstandards; i++)
        if (!strcasecmp(nmr_standards[i].name, name))
            return &nmr_standards[i];
    return NULL;
}

static void nmr_ref_finish(struct nmrrun *n, int ok, const char *msg)
{
    void (*done)(void *, int, const char *) = n->ref_done;
    void *arg = n->ref_arg;
    n->ref_done = NULL;
    n->busy = 0;
    if (n->dev && n->dev->drv->spectrometer->sample)
        n->dev->drv->spectrometer->sample(n->dev, "cell");
    /* waiters first: DONE may resume a script that starts (and waits for) the next thing */
    nmr_idle_now(n);
    if (done)
        done(arg, ok, msg);
}

static void nmr_ref_fid(struct device *d, const struct spectro_fid *f, const char *why, void *arg)
{
    struct nmrrun *n = arg;
    char msg[400];
    const struct nmr_standard *st = nmr_standard_find(n->ref_std);
    if (!f || !st) {
        snprintf(msg, sizeof msg, "%s", why ? why : "the standard went away");
        nmr_ref_finish(n, 0, msg);
        return;
    }
    /* measure with no reference at all: SF = BF1 */
    char err[300];
    char save[64];
    util_strlcpy(save, nmr_choice("nmr.sr"), sizeof save);
    char *zero[] = { "0Hz" };
    settings_set("nmr.sr", 1, zero, err, sizeof err);
    int phased = n->phased;
    double phc0 = n->phc0, phc1 = n->phc1;
    n->phased = 0;     /* the standard gets its own phase, the series keeps its own */
    long si = nmrrun_si(f);
    struct nmrrun tmp = *n;
    tmp.ntracks = 0;   /* no region exclusions from the cell's peaks */
    tmp.w = NULL;
    tmp.re = tmp.im = tmp.ppm = NULL;
    tmp.si = 0;
    int rc = nmr_process_fid(&tmp, f, si, err, sizeof err);
    n->phased = phased;
    n->phc0 = phc0;
    n->phc1 = phc1;
    char *back[] = { save };
    if (rc < 0) {
        settings_set("nmr.sr", 1, back, err, sizeof err);
        snprintf(msg, sizeof msg, "processing the standard: %s", err);
        nmr_work_free(tmp.w);
        free(tmp.re);
        free(tmp.im);
        free(tmp.ppm);
        nmr_ref_finish(n, 0, msg);
        return;
    }
    long imax = 0;
    for (long j = 1; j < si; j++)
        if (tmp.re[j] > tmp.re[imax])
            imax = j;
    /* the line's centre from a Lorentzian fit around the tallest point, for sub-point
     * precision */
    struct nmrfit_peak pk;
    memset(&pk, 0, sizeof pk);
    pk.shape = NMRFIT_LORENTZ;
    pk.pos = tmp.ppm[imax];
    pk.lo = pk.pos - 5;
    pk.hi = pk.pos + 5;
    struct nmrfit_result res;
    double measured = pk.pos;
    if (nmrfit_fit(tmp.ppm, tmp.re, si, pk.pos - 20, pk.pos + 20, &pk, 1, &res) == 0)
        measured = pk.pos;
    nmr_work_free(tmp.w);
    free(tmp.re);
    free(tmp.im);
    free(tmp.ppm);
    /* SF = BF1 + SR: with SF the standard's line reads at its table shift */
    double fline = f->bf1 * (1 + measured * 1e-6);
    double sf = fline / (1 + st->ppm * 1e-6);
    double sr = (sf - f->bf1) * 1e6;
    char val[64];
    snprintf(val, sizeof val, "%.4fHz", sr);
    char *nv[] = { val };
    if (settings_set("nmr.sr", 1, nv, err, sizeof err) < 0) {
        settings_set("nmr.sr", 1, back, err, sizeof err);
        nmr_ref_finish(n, 0, err);
        return;
    }
    snprintf(msg, sizeof msg, "%s (%s %.3f ppm) measured at %.3f ppm: SR %.2f Hz (%.3f ppm)",
             st->name, st->nucleus, st->ppm, measured, sr, sr / f->bf1);
    if (n->s->run)
        run_event(n->s->run, RUN_NOTE, "nmr reference: %s", msg);
    nmr_ref_finish(n, 1, msg);
}

static void nmr_ref_configured(struct device *d, int ok, const char *why, void *arg)
{
    struct nmrrun *n = arg;
    if (!ok) {
        nmr_ref_finish(n, 0, why);
        return;
    }
    d->drv->spectrometer->acquire(d, nmr_ref_fid, n);
}

int nmrrun_reference(struct session *s, const char *name,
                     void (*done)(void *arg, int ok, const char *msg), void *arg, char *err,
                     size_t errlen)
{
    struct nmrrun *n = nmr_of(s);
    const struct nmr_standard *st = nmr_standard_find(name);
    if (!st) {
        struct strbuf b = { 0 };
        for (int i = 0; i < nmr_nstandards; i++)
            strbuf_printf(&b, "%s%s", i ? ", " : "", nmr_standards[i].name);
        snprintf(err, errlen, "\"%s\": no such standard (%s; `nmr standard` adds one)", name,
                 b.s ? b.s : "none");
        strbuf_free(&b);
        return -1;
    }
    if (strcasecmp(st->nucleus, nmr_choice("nmr.nucleus"))) {
        snprintf(err, errlen, "%s is a %s standard, but nmr.nucleus is %s", st->name, st->nucleus,
                 nmr_choice("nmr.nucleus"));
        return -1;
    }
    if (n->active || n->busy || n->ref_done) {
        snprintf(err, errlen, "the spectrometer is busy (`nmr stop`)");
        return -1;
    }
    struct device *d = nmr_pick_device(s, NULL, err, errlen);
    if (!d)
        return -1;
    if (d->drv->spectrometer->follows || d->state != DEVICE_READY) {
        snprintf(err, errlen, "%s cannot measure a standard now (%s)", d->name,
                 d->drv->spectrometer->follows ? "TopSpin acquires by itself: reference there"
                                               : device_state_name(d->state));
        return -1;
    }
    n->dev = d;
    free(n->ref_std);
    n->ref_std = util_strdup(st->name);
    n->ref_done = done;
    n->ref_arg = arg;
    n->busy = 1;
    if (d->drv->spectrometer->sample)
        d->drv->spectrometer->sample(d, st->name);
    else
        msg_info("nmr: measuring what is in the probe as %s", st->name);
    struct spectro_acq a;
    nmr_acq_from_settings(&a);
    d->drv->spectrometer->configure(d, &a, nmr_ref_configured, n);
    return 0;
}

/* ---- export ---- */

int nmrrun_export_trend(struct session *s, const char *path, char *err, size_t errlen)
{
    struct run_table *t = s->run ? run_table_find(s->run, "nmr", "time") : NULL;
    if (!t || !t->nrec) {
        snprintf(err, errlen, "no NMR series in the active run");
        return -1;
    }
    char *tmp = util_printf("%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        free(tmp);
        return -1;
    }
    /* every scalar F64 variable but the raw bookkeeping, in table order */
    int cols[256], nc = 0;
    for (int i = 0; i < t->nfields && nc < 256; i++)
        if (!t->fields[i].dim && t->fields[i].type == RUN_F64)
            cols[nc++] = i;
    fprintf(f, "time_s,charge_mAh");
    for (int c = 0; c < nc; c++)
        fprintf(f, ",%s", t->fields[cols[c]].name);
    fputc('\n', f);
    int iq0 = run_field_index(t, "charge_start"), iq1 = run_field_index(t, "charge_end");
    for (size_t r = 0; r < t->nrec; r++) {
        double q = (run_get_f64(t, iq0, r) + run_get_f64(t, iq1, r)) / 2 * 1000;
        fprintf(f, "%.3f,%.8g", t->time[r], q);
        for (int c = 0; c < nc; c++)
            fprintf(f, ",%.10g", run_get_f64(t, cols[c], r));
        fputc('\n', f);
    }
    int bad = ferror(f) | (fclose(f) != 0);
    if (bad || rename(tmp, path) < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        unlink(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}
