/* nmr: TopSpin-compatible 1D processing, automatic phase (ACME) and polynomial baseline.
 * See nmr.h for the order of the steps and the formulas. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fftw3.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_multimin.h>

#include "insitu/bruker.h"
#include "insitu/nmr.h"
#include "insitu/util.h"

/* glibc defines CMPLX only for GCC >= 4.7; clang (the fuzz build) gets this equivalent, which is
 * exact for the finite values used here. */
#ifndef CMPLX
#define CMPLX(x, y) ((double complex)((double)(x) + I * (double)(y)))
#endif

static void nerr(struct nmr_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void nerr(struct nmr_err *err, const char *fmt, ...)
{
    if (!err)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
}

/* Group delays of the old DSP firmware, keyed by DSPFVS and DECIM: the un-rounded table that
 * nmrglue (nmrglue/fileio/bruker.py, bruker_dsp_table, BSD) derived from W. M. Westler and
 * F. Abildgaard, "DMX digital filters and non-Bruker offline processing III" (1996). */
static const double dsp_decim[21] = { 2,   3,   4,   6,   8,   12,  16,   24,   32,   48,  64,
                                      96,  128, 192, 256, 384, 512, 768, 1024, 1536, 2048 };
static const double dsp_table[4][21] = {
    /* DSPFVS 10 */
    { 44.75, 33.5, 66.625, 59.083333333333333, 68.5625, 60.375, 69.53125, 61.020833333333333,
      70.015625, 61.34375, 70.2578125, 61.505208333333333, 70.37890625, 61.5859375,
      70.439453125, 61.626302083333333, 70.4697265625, 61.646484375, 70.48486328125,
      61.656575520833333, 70.492431640625 },
    /* DSPFVS 11 */
    { 46., 36.5, 48., 50.166666666666667, 53.25, 69.5, 72.25, 70.166666666666667, 72.75, 70.5,
      73., 70.666666666666667, 72.5, 71.333333333333333, 72.25, 71.666666666666667, 72.125,
      71.833333333333333, 72.0625, 71.916666666666667, 72.03125 },
    /* DSPFVS 12 */
    { 46., 36.5, 48., 50.166666666666667, 53.25, 69.5, 71.625, 70.166666666666667, 72.125,
      70.5, 72.375, 70.666666666666667, 72.5, 71.333333333333333, 72.25, 71.666666666666667,
      72.125, 71.833333333333333, 72.0625, 71.916666666666667, 72.03125 },
    /* DSPFVS 13: only up to DECIM 96 */
    { 2.75, 2.8333333333333333, 2.875, 2.9166666666666667, 2.9375, 2.9583333333333333,
      2.96875, 2.9791666666666667, 2.984375, 2.9895833333333333, 2.9921875,
      2.9947916666666667, -1, -1, -1, -1, -1, -1, -1, -1, -1 },
};

double nmr_grpdly_lookup(int dspfvs, double decim)
{
    if (dspfvs >= 14)
        return 0;
    if (dspfvs < 10)
        return -1;
    for (size_t i = 0; i < ARRAY_LEN(dsp_decim); i++)
        if (dsp_decim[i] == decim)
            return dsp_table[dspfvs - 10][i];
    return -1;
}

int nmr_params_from_bruker(const struct bruker_dataset *ds, struct nmr_params *p,
                           struct nmr_err *err)
{
    const struct bruker_acqus *a = &ds->acq;
    const struct bruker_procs *q = &ds->proc;
    memset(p, 0, sizeof *p);
    p->si = q->si;
    p->tdeff = q->tdeff / 2;
    p->bc_mod = q->bc_mod;
    p->wdw = q->wdw;
    p->lb = q->lb;
    p->gb = q->gb;
    p->fcor = q->fcor;
    p->sw_h = a->sw_h;
    p->digmod = a->digmod;
    p->grpdly = a->grpdly;
    if (a->digmod && a->grpdly < 0) {
        p->grpdly = nmr_grpdly_lookup(a->dspfvs, a->decim);
        if (p->grpdly < 0) {
            nerr(err, "digital filter: GRPDLY -1 and (DSPFVS %d, DECIM %g) not in the table",
                 a->dspfvs, a->decim);
            return -1;
        }
    }
    p->phc0 = q->phc0;
    p->phc1 = q->phc1;
    p->sf = q->sf;
    p->offset = q->offset;
    p->sw_p = q->sw_p;
    return 0;
}

/* ---- FFT plans, cached per size ---- */

struct plan_slot {
    long n;
    fftw_plan plan;
};
static struct plan_slot plan_cache[16];

/* In-place forward plan for N points; the cache is static and not thread-safe (see nmr.h). */
static fftw_plan plan_get(long n)
{
    for (size_t i = 0; i < ARRAY_LEN(plan_cache); i++)
        if (plan_cache[i].plan && plan_cache[i].n == n)
            return plan_cache[i].plan;
    fftw_complex *tmp = fftw_malloc((size_t)n * sizeof *tmp);
    /* MEASURE is worth its planning time for a series of thousands of spectra; planning
     * overwrites the buffer, which is why it is a scratch one. */
    fftw_plan pl = fftw_plan_dft_1d((int)n, tmp, tmp, FFTW_FORWARD, FFTW_MEASURE);
    fftw_free(tmp);
    /* Plans are never destroyed: workspaces point at them.  Past sixteen sizes (no program
     * here uses more than two or three) a plan is simply not cached. */
    size_t slot = ARRAY_LEN(plan_cache);
    for (size_t i = 0; i < ARRAY_LEN(plan_cache); i++)
        if (!plan_cache[i].plan) {
            slot = i;
            break;
        }
    if (slot == ARRAY_LEN(plan_cache))
        return pl;
    plan_cache[slot].n = n;
    plan_cache[slot].plan = pl;
    return pl;
}

struct nmr_work {
    long si;
    fftw_plan plan;
    fftw_complex *buf;  /* SI points, FFT in place */
    double *win;        /* SI window values (with FCOR on point 0) */
    double complex *fac; /* SI output factors: digital filter times phase, in output order */
    /* what win and fac were built for */
    int win_ok, fac_ok;
    long win_n;
    int win_wdw;
    double win_lb, win_gb, win_swh, win_fcor;
    int fac_digmod;
    double fac_grpdly, fac_phc0, fac_phc1;
};

struct nmr_work *nmr_work_new(long si)
{
    if (si < 2 || si > (1L << 28))
        return NULL;
    struct nmr_work *w = util_calloc(1, sizeof *w);
    w->si = si;
    w->plan = plan_get(si);
    w->buf = fftw_malloc((size_t)si * sizeof *w->buf);
    w->win = util_malloc((size_t)si * sizeof *w->win);
    w->fac = util_malloc((size_t)si * sizeof *w->fac);
    if (!w->plan || !w->buf) {
        nmr_work_free(w);
        return NULL;
    }
    return w;
}

void nmr_work_free(struct nmr_work *w)
{
    if (!w)
        return;
    fftw_free(w->buf);
    free(w->win);
    free(w->fac);
    free(w);
}

static int window_build(struct nmr_work *w, const struct nmr_params *p, long n,
                        struct nmr_err *err)
{
    if (w->win_ok && w->win_n == n && w->win_wdw == p->wdw && w->win_lb == p->lb &&
        w->win_gb == p->gb && w->win_swh == p->sw_h && w->win_fcor == p->fcor)
        return 0;
    double aq = (double)n / p->sw_h;
    double a = M_PI * p->lb, b = 0;
    if (p->wdw == 2) {
        if (!(p->gb > 0 && p->gb < 1) || !(p->lb < 0)) {
            nerr(err, "GM window needs LB < 0 and 0 < GB < 1 (LB %g, GB %g)", p->lb, p->gb);
            return -1;
        }
        b = -a / (2 * p->gb * aq);
    } else if (p->wdw != 0 && p->wdw != 1) {
        nerr(err, "WDW %d not supported (0 none, 1 EM, 2 GM)", p->wdw);
        return -1;
    }
    for (long k = 0; k < n; k++) {
        double t = (double)k / p->sw_h;
        w->win[k] = p->wdw == 0 ? 1.0 : exp(-a * t - b * t * t);
    }
    w->win[0] *= p->fcor;
    w->win_ok = 1;
    w->win_n = n;
    w->win_wdw = p->wdw;
    w->win_lb = p->lb;
    w->win_gb = p->gb;
    w->win_swh = p->sw_h;
    w->win_fcor = p->fcor;
    return 0;
}

/* Output point j takes bin src = (SI/2 - j) mod SI, signed k = src - SI for src >= SI/2. */
static void factors_build(struct nmr_work *w, const struct nmr_params *p)
{
    if (w->fac_ok && w->fac_digmod == p->digmod && w->fac_grpdly == p->grpdly &&
        w->fac_phc0 == p->phc0 && w->fac_phc1 == p->phc1)
        return;
    long si = w->si;
    double g = p->digmod ? p->grpdly : 0.0;
    for (long j = 0; j < si; j++) {
        long src = ((si / 2 - j) % si + si) % si;
        long k = src >= si - si / 2 ? src - si : src;
        double ang = 2 * M_PI * g * (double)k / (double)si -
                     (p->phc0 + p->phc1 * (double)j / (double)si) * M_PI / 180.0;
        w->fac[j] = CMPLX(cos(ang), sin(ang));
    }
    w->fac_ok = 1;
    w->fac_digmod = p->digmod;
    w->fac_grpdly = p->grpdly;
    w->fac_phc0 = p->phc0;
    w->fac_phc1 = p->phc1;
}

int nmr_process(struct nmr_work *w, const struct nmr_params *p, const double complex *fid,
                long n, double *re, double *im, struct nmr_err *err)
{
    long si = w->si;
    if (p->si != si) {
        nerr(err, "SI %ld but the workspace is for %ld points", p->si, si);
        return -1;
    }
    if (!(p->sw_h > 0)) {
        nerr(err, "SW_h %g: must be > 0", p->sw_h);
        return -1;
    }
    if (p->bc_mod < 0 || p->bc_mod > 2) {
        nerr(err, "BC_mod %d not supported (0 none, 1 single, 2 quad)", p->bc_mod);
        return -1;
    }
    if (p->tdeff > 0 && p->tdeff < n)
        n = p->tdeff;
    if (n > si)
        n = si;  /* TopSpin uses at most SI points of the FID */
    if (n < 1) {
        nerr(err, "empty FID");
        return -1;
    }
    if (window_build(w, p, n, err))
        return -1;
    factors_build(w, p);

    double complex dc = 0;
    if (p->bc_mod) {
        long from = n - n / 4;
        if (from >= n)
            from = 0;
        double complex sum = 0;
        for (long k = from; k < n; k++)
            sum += fid[k];
        dc = sum / (double)(n - from);
        if (p->bc_mod == 1) {
            double m = (creal(dc) + cimag(dc)) / 2;
            dc = CMPLX(m, m);
        }
    }
    double complex *buf = (double complex *)w->buf;
    for (long k = 0; k < n; k++)
        buf[k] = (fid[k] - dc) * w->win[k];
    memset(buf + n, 0, (size_t)(si - n) * sizeof *buf);
    fftw_execute_dft(w->plan, w->buf, w->buf);

    /* Reorder, digital filter and phase in one pass: j = 0..SI/2 read bins SI/2 down to 1...
     * the index arithmetic is a reversal, so do it in two straight runs. */
    long half = si / 2;
    /* Real arithmetic spelled out: C's complex multiply carries an Annex G NaN check that
     * keeps the loop scalar. Output j reads bin half - j, wrapping below 0. */
    const double *x = (const double *)buf, *f = (const double *)w->fac;
    for (long j = 0; j < si; j++) {
        long src = half - j;
        if (src < 0)
            src += si;
        double xr = x[2 * src], xi = x[2 * src + 1], fr = f[2 * j], fi = f[2 * j + 1];
        re[j] = xr * fr - xi * fi;
        if (im)
            im[j] = xr * fi + xi * fr;
    }
    return 0;
}

void nmr_ppm_axis(const struct nmr_params *p, double *ppm)
{
    for (long j = 0; j < p->si; j++)
        ppm[j] = p->offset - (double)j * p->sw_p / (p->sf * (double)p->si);
}

/* ---- ACME automatic phase ---- */

struct acme_ctx {
    const double *re, *im;
    long n;
    double scale;  /* 1 / max|S|: makes the penalty independent of the data's units */
    int first_order;
};

static double acme_cost(const struct acme_ctx *c, double p0, double p1)
{
    double sum_d = 0, neg = 0, prev = 0;
    /* Two passes would need a buffer; instead the entropy is computed from sum|d| and
     * sum |d| ln |d|:  -sum h ln h = ln D - (1/D) sum |d| ln |d|, with h = |d| / D. */
    double sum_dlnd = 0;
    double d2r = M_PI / 180.0;
    for (long j = 0; j < c->n; j++) {
        double ang = (p0 + p1 * (double)j / (double)c->n) * d2r;
        double r = (c->re[j] * cos(ang) + c->im[j] * sin(ang)) * c->scale;
        if (j > 0) {
            double d = fabs(r - prev);
            if (d > 0) {
                sum_d += d;
                sum_dlnd += d * log(d);
            }
        }
        if (r < 0)
            neg += r * r;
        prev = r;
    }
    double ent = sum_d > 0 ? log(sum_d) - sum_dlnd / sum_d : 0;
    return ent + 1000.0 * neg;
}

static double acme_f(const gsl_vector *x, void *arg)
{
    const struct acme_ctx *c = arg;
    return acme_cost(c, gsl_vector_get(x, 0), c->first_order ? gsl_vector_get(x, 1) : 0);
}

int nmr_autophase_acme(const double *re, const double *im, long n, int first_order,
                       double *phc0, double *phc1, struct nmr_err *err)
{
    if (n < 4) {
        nerr(err, "autophase: %ld points are too few", n);
        return -1;
    }
    double mx = 0;
    for (long j = 0; j < n; j++) {
        double a = hypot(re[j], im[j]);
        if (!isfinite(a)) {
            nerr(err, "autophase: point %ld is not finite", j);
            return -1;
        }
        if (a > mx)
            mx = a;
    }
    if (mx == 0) {
        nerr(err, "autophase: the spectrum is all zero");
        return -1;
    }
    struct acme_ctx c = { re, im, n, 1.0 / mx, first_order };
    /* Nelder-Mead finds a local minimum: start it from the best of a coarse phc0 scan. */
    double best = INFINITY, best0 = 0;
    for (int d = -180; d < 180; d += 10) {
        double v = acme_cost(&c, d, 0);
        if (v < best) {
            best = v;
            best0 = d;
        }
    }
    size_t dim = first_order ? 2 : 1;
    gsl_multimin_fminimizer *m = gsl_multimin_fminimizer_alloc(gsl_multimin_fminimizer_nmsimplex2,
                                                              dim);
    gsl_vector *x = gsl_vector_alloc(dim), *step = gsl_vector_alloc(dim);
    gsl_vector_set(x, 0, best0);
    gsl_vector_set(step, 0, 5);
    if (first_order) {
        gsl_vector_set(x, 1, 0);
        gsl_vector_set(step, 1, 20);
    }
    gsl_multimin_function f = { acme_f, dim, &c };
    gsl_multimin_fminimizer_set(m, &f, x, step);
    int status = GSL_CONTINUE;
    for (int it = 0; it < 2000 && status == GSL_CONTINUE; it++) {
        if (gsl_multimin_fminimizer_iterate(m))
            break;
        status = gsl_multimin_test_size(gsl_multimin_fminimizer_size(m), 1e-3);
    }
    double p0 = gsl_vector_get(m->x, 0);
    double p1 = first_order ? gsl_vector_get(m->x, 1) : 0;
    gsl_multimin_fminimizer_free(m);
    gsl_vector_free(x);
    gsl_vector_free(step);
    p0 = fmod(p0, 360.0);
    if (p0 > 180)
        p0 -= 360;
    if (p0 <= -180)
        p0 += 360;
    *phc0 = p0;
    *phc1 = p1;
    return 0;
}

/* ---- polynomial baseline ---- */

#define NMR_BASELINE_MAX_EXCL 64

static int excluded(double x, const double *lo, const double *hi, int nexcl)
{
    for (int i = 0; i < nexcl; i++)
        if (x >= lo[i] && x <= hi[i])
            return 1;
    return 0;
}

/* Least squares by the normal equations in a Chebyshev basis on t in [-1, 1]: the basis keeps
 * the (order+1)^2 system well conditioned up to order 15, and it costs O(n order) with no
 * n x p design matrix: gsl_multifit_linear (an SVD of that matrix) would allocate it per
 * spectrum and be slower than the FFT itself. The small system is solved with GSL's
 * Cholesky decomposition on stack storage. */
/* The lane loops vectorise only at -O3 with GCC (its -O2 cost model refuses them): about 2x. */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("O3")))
#endif
int nmr_baseline_poly(double *y, const double *ppm, long n, int order, const double *excl,
                      int nexcl, double *coef, struct nmr_err *err)
{
    if (order < 0 || order > NMR_BASELINE_MAX_ORDER) {
        nerr(err, "baseline: order %d outside 0..%d", order, NMR_BASELINE_MAX_ORDER);
        return -1;
    }
    if (n < 2 || nexcl < 0 || nexcl > NMR_BASELINE_MAX_EXCL) {
        nerr(err, "baseline: %ld points, %d excluded ranges (at most %d)", n, nexcl,
             NMR_BASELINE_MAX_EXCL);
        return -1;
    }
    /* Sorted bounds once, not per point: this loop is the baseline's whole cost. */
    double lo[NMR_BASELINE_MAX_EXCL], hi[NMR_BASELINE_MAX_EXCL];
    for (int i = 0; i < nexcl; i++) {
        lo[i] = excl[2 * i] < excl[2 * i + 1] ? excl[2 * i] : excl[2 * i + 1];
        hi[i] = excl[2 * i] < excl[2 * i + 1] ? excl[2 * i + 1] : excl[2 * i];
    }
    enum { P = NMR_BASELINE_MAX_ORDER + 1 };
    int np = order + 1;
    /* T_a T_b = (T_{a+b} + T_{|a-b|}) / 2: the normal matrix needs only the sums of
     * T_0..T_{2 order} over the fitted points, not (order+1)^2 products per point.
     * The Chebyshev recurrence is a serial chain per point, so points go in blocks of L
     * independent lanes that the compiler interleaves or vectorises (4x faster than one by
     * one). Excluded points get weight 0. */
    enum { L = 8 };
    /* Per-lane partial sums: a single running sum would be a serial chain again. */
    double tsv[2 * P][L] = { { 0 } }, abv[P][L] = { { 0 } };
    int nt = 2 * order + 1;
    double scale = 2.0 / (double)(n - 1);
    for (long j0 = 0; j0 < n; j0 += L) {
        double t[L], wt[L], yw[L], tk[L], tk1[L], tk2[L];
        if (j0 + L <= n) {
            /* a whole block: branch-free, so that it vectorises */
            for (int l = 0; l < L; l++) {
                t[l] = (double)(j0 + l) * scale - 1.0;
                wt[l] = 1.0;
                yw[l] = y[j0 + l];
            }
        } else {
            for (int l = 0; l < L; l++) {
                long j = j0 + l < n ? j0 + l : n - 1;
                t[l] = (double)j * scale - 1.0;
                wt[l] = j0 + l < n ? 1.0 : 0.0;
                yw[l] = j0 + l < n ? y[j] : 0.0;
            }
        }
        if (nexcl)
            for (int l = 0; l < L; l++)
                if (j0 + l < n && excluded(ppm[j0 + l], lo, hi, nexcl))
                    wt[l] = yw[l] = 0.0;
        for (int l = 0; l < L; l++) {
            tsv[0][l] += wt[l];
            tsv[1][l] += wt[l] * t[l];
            abv[0][l] += yw[l];
            abv[1][l] += yw[l] * t[l];
            tk2[l] = 1.0;
            tk1[l] = t[l];
        }
        for (int k = 2; k < nt; k++) {
            for (int l = 0; l < L; l++) {
                tk[l] = 2 * t[l] * tk1[l] - tk2[l];
                tsv[k][l] += wt[l] * tk[l];
                tk2[l] = tk1[l];
                tk1[l] = tk[l];
            }
            if (k < np)
                for (int l = 0; l < L; l++)
                    abv[k][l] += yw[l] * tk[l];
        }
    }
    double ata[P * P], atb[P] = { 0 }, c[P], tsum[2 * P] = { 0 };
    for (int k = 0; k < nt; k++)
        for (int l = 0; l < L; l++) {
            tsum[k] += tsv[k][l];
            if (k < np)
                atb[k] += abv[k][l];
        }
    double usedw = tsum[0];
    long used = (long)usedw;
    if (used < 2L * np) {
        nerr(err, "baseline: %ld points outside the excluded ranges, order %d needs %d", used,
             order, 2 * np);
        return -1;
    }
    for (int a = 0; a < np; a++)
        for (int b = 0; b < np; b++)
            ata[a * np + b] = (tsum[a + b] + tsum[a > b ? a - b : b - a]) / 2;
    gsl_matrix_view A = gsl_matrix_view_array(ata, (size_t)np, (size_t)np);
    gsl_vector_view B = gsl_vector_view_array(atb, (size_t)np);
    gsl_vector_view C = gsl_vector_view_array(c, (size_t)np);
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    int rc = gsl_linalg_cholesky_decomp1(&A.matrix);
    if (rc == 0)
        rc = gsl_linalg_cholesky_solve(&A.matrix, &B.vector, &C.vector);
    gsl_set_error_handler(old);
    if (rc) {
        nerr(err, "baseline: singular fit (points too clustered for order %d)", order);
        return -1;
    }
    /* Clenshaw's recurrence evaluates the Chebyshev sum stably; blocked like the fit. */
    for (long j0 = 0; j0 < n; j0 += L) {
        double t[L], b1[L], b2[L];
        for (int l = 0; l < L; l++) {
            t[l] = (double)(j0 + l) * scale - 1.0;
            b1[l] = b2[l] = 0;
        }
        for (int k = np - 1; k >= 1; k--)
            for (int l = 0; l < L; l++) {
                double b0 = 2 * t[l] * b1[l] - b2[l] + c[k];
                b2[l] = b1[l];
                b1[l] = b0;
            }
        int m = n - j0 < L ? (int)(n - j0) : L;
        for (int l = 0; l < m; l++)
            y[j0 + l] -= t[l] * b1[l] - b2[l] + c[0];
    }
    if (coef)
        memcpy(coef, c, (size_t)np * sizeof *c);
    return 0;
}

double nmr_correlation(const double *a, const double *b, long n)
{
    double ma = 0, mb = 0;
    for (long i = 0; i < n; i++) {
        ma += a[i];
        mb += b[i];
    }
    ma /= (double)n;
    mb /= (double)n;
    double sab = 0, saa = 0, sbb = 0;
    for (long i = 0; i < n; i++) {
        sab += (a[i] - ma) * (b[i] - mb);
        saa += (a[i] - ma) * (a[i] - ma);
        sbb += (b[i] - mb) * (b[i] - mb);
    }
    return saa > 0 && sbb > 0 ? sab / sqrt(saa * sbb) : 0;
}
