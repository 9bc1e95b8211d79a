/* Tests of nmrfit: integration against exact results, the joint peak fit on synthetic 7Li
 * spectra with known parameters (seeded noise), the honesty of the reported errors over many
 * noise realisations, and inputs that must fail cleanly. */
#include <check.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cerf.h>

#include "insitu/nmrfit.h"
#include "insitu/util.h"
#include "suites.h"

/* A 7Li spectrum as the lab records it: 116.6 MHz, SW 200 kHz = 1715 ppm over SI 8192 points
 * (0.21 ppm apart), highest ppm first, centred at 150 ppm. */
enum { SI = 8192 };
#define SW_PPM (200000.0 / 116.6)

static void axis_li(double *ppm)
{
    for (int j = 0; j < SI; j++)
        ppm[j] = 150 + SW_PPM / 2 - j * SW_PPM / SI;
}

/* Y = peaks + base0 + base1 * ppm + Gaussian noise of SD NOISE. */
static void synth(const double *ppm, double *y, long n, const struct nmrfit_peak *pk, int npk,
                  double base0, double base1, double noise, gsl_rng *rng)
{
    for (long j = 0; j < n; j++) {
        double v = base0 + base1 * ppm[j];
        for (int k = 0; k < npk; k++)
            v += nmrfit_profile(&pk[k], ppm[j]);
        y[j] = v + (noise > 0 ? gsl_ran_gaussian(rng, noise) : 0);
    }
}

static gsl_rng *rng_new(unsigned long seed)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, seed);
    return r;
}

/* The metal peak and the microstructure shoulder (DOMAIN.md section 1). */
static const struct nmrfit_peak metal = { .shape = NMRFIT_PVOIGT, .pos = 245, .fwhm = 12,
                                          .eta = 0.6, .area = 100 };
static const struct nmrfit_peak dendrite = { .shape = NMRFIT_PVOIGT, .pos = 265, .fwhm = 18,
                                             .eta = 0.3, .area = 40 };

/* What `nmr peak add metal 245ppm` knows: a position and the group's bounds, nothing else. */
static void start_groups(struct nmrfit_peak *p, enum nmrfit_shape s)
{
    memset(p, 0, 2 * sizeof *p);
    p[0].shape = p[1].shape = s;
    p[0].pos = 248, p[0].lo = 244, p[0].hi = 252.5;
    p[1].pos = 266, p[1].lo = 256, p[1].hi = 276;
}

/* ---- integration ------------------------------------------------------------------------ */

START_TEST(integrate_triangle)
{
    /* A unit triangle on [0, 2] with vertices on grid points: the trapezoid rule is exact, and
     * so are limits between points, since the data are linear between them. */
    enum { N = 17 };
    double x[N], y[N], xr[N], yr[N];
    for (int j = 0; j < N; j++) {
        x[j] = 3 - 0.25 * j; /* decreasing, 3 .. -1 */
        y[j] = x[j] >= 0 && x[j] <= 2 ? 1 - fabs(x[j] - 1) : 0;
        xr[N - 1 - j] = x[j];
        yr[N - 1 - j] = y[j];
    }
    ck_assert_double_eq_tol(nmrfit_integrate(x, y, N, -1, 3), 1, 1e-14);
    ck_assert_double_eq_tol(nmrfit_integrate(x, y, N, 3, -1), 1, 1e-14);
    ck_assert_double_eq_tol(nmrfit_integrate(xr, yr, N, -1, 3), 1, 1e-14);
    /* fractional limits: int_0.3^1 x dx + int_1^1.55 (2 - x) dx */
    double want = (1 - 0.09) / 2 + (2 * 1.55 - 1.55 * 1.55 / 2) - 1.5;
    ck_assert_double_eq_tol(nmrfit_integrate(x, y, N, 0.3, 1.55), want, 1e-14);
    ck_assert_double_eq_tol(nmrfit_integrate(x, y, N, 1.55, 0.3), want, 1e-14);
    ck_assert_double_eq_tol(nmrfit_integrate(xr, yr, N, 0.3, 1.55), want, 1e-14);
    /* both limits inside one interval */
    ck_assert_double_eq_tol(nmrfit_integrate(x, y, N, 0.55, 0.6), (0.6 * 0.6 - 0.55 * 0.55) / 2,
                            1e-14);
    /* limits beyond the data are clipped to it; a negative peak integrates negative */
    ck_assert_double_eq_tol(nmrfit_integrate(x, y, N, -100, 100), 1, 1e-14);
    for (int j = 0; j < N; j++)
        y[j] = -y[j];
    ck_assert_double_eq_tol(nmrfit_integrate(x, y, N, 0, 2), -1, 1e-14);
    /* a constant: the width of the range exactly, limits anywhere */
    for (int j = 0; j < N; j++)
        y[j] = 2;
    ck_assert_double_eq_tol(nmrfit_integrate(x, y, N, -0.13, 2.71), 2 * 2.84, 1e-13);
}
END_TEST

START_TEST(integrate_lorentz)
{
    double *ppm = util_malloc(SI * sizeof *ppm), *y = util_malloc(SI * sizeof *y);
    axis_li(ppm);
    struct nmrfit_peak l = { .shape = NMRFIT_LORENTZ, .pos = 245, .fwhm = 10, .area = 100 };
    synth(ppm, y, SI, &l, 1, 0, 0, 0, NULL);
    double lo = 220, hi = 310;
    double exact = 100 / M_PI * (atan(2 * (hi - 245) / 10.0) - atan(2 * (lo - 245) / 10.0));
    double got = nmrfit_integrate(ppm, y, SI, lo, hi);
    /* the trapezoid's error at 0.21 ppm spacing over a 10 ppm line: ~h^2/12 of the curvature */
    ck_assert_msg(fabs(got / exact - 1) < 2e-4, "%.8g vs %.8g", got, exact);
    /* a 16x finer axis: the error falls as h^2 */
    long n2 = 16L * SI;
    double *p2 = util_malloc((size_t)n2 * sizeof *p2), *y2 = util_malloc((size_t)n2 * sizeof *y2);
    for (long j = 0; j < n2; j++)
        p2[j] = 150 + SW_PPM / 2 - (double)j * SW_PPM / (double)n2;
    synth(p2, y2, n2, &l, 1, 0, 0, 0, NULL);
    double fine = nmrfit_integrate(p2, y2, n2, lo, hi);
    ck_assert_msg(fabs(fine / exact - 1) < 2e-6, "%.10g vs %.10g", fine, exact);
    /* the units match the fit's area: a Gaussian integrates to its area */
    struct nmrfit_peak g = { .shape = NMRFIT_GAUSS, .pos = 250, .fwhm = 15, .area = 37 };
    synth(ppm, y, SI, &g, 1, 0, 0, 0, NULL);
    ck_assert_double_eq_tol(nmrfit_integrate(ppm, y, SI, -1e9, 1e9), 37, 1e-9);
    free(p2);
    free(y2);
    free(ppm);
    free(y);
}
END_TEST

START_TEST(integrate_degenerate)
{
    double x[4] = { 4, 3, 2, 1 }, y[4] = { 1, 1, 1, 1 };
    ck_assert_double_eq(nmrfit_integrate(x, y, 0, 0, 10), 0);
    ck_assert_double_eq(nmrfit_integrate(x, y, 1, 0, 10), 0);
    ck_assert_double_eq(nmrfit_integrate(NULL, y, 4, 0, 10), 0);
    ck_assert_double_eq(nmrfit_integrate(x, NULL, 4, 0, 10), 0);
    ck_assert_double_eq(nmrfit_integrate(x, y, 4, 5, 10), 0);
    ck_assert_double_eq(nmrfit_integrate(x, y, 4, 2, 2), 0);
    ck_assert_double_eq(nmrfit_integrate(x, y, 4, NAN, 2), 0);
    /* a NaN counts only inside the range (an interval touching it interpolates with it) */
    y[3] = NAN;
    ck_assert(isnan(nmrfit_integrate(x, y, 4, 0, 10)));
    ck_assert(isnan(nmrfit_integrate(x, y, 4, 1.5, 2.5)));
    ck_assert_double_eq_tol(nmrfit_integrate(x, y, 4, 2, 3.5), 1.5, 1e-15);
    ck_assert_double_eq_tol(nmrfit_integrate(x, y, 4, 2.5, 3.5), 1, 1e-15);
}
END_TEST

/* ---- shapes ----------------------------------------------------------------------------- */

START_TEST(shapes)
{
    enum nmrfit_shape s;
    for (int i = 0; i < NMRFIT_NSHAPES; i++) {
        ck_assert_int_eq(nmrfit_shape_parse(nmrfit_shape_name((enum nmrfit_shape)i), &s), 0);
        ck_assert_int_eq(s, i);
    }
    ck_assert_int_eq(nmrfit_shape_parse("Gaussian", &s), 0);
    ck_assert_int_eq(s, NMRFIT_GAUSS);
    ck_assert_int_eq(nmrfit_shape_parse("pseudo-voigt", &s), 0);
    ck_assert_int_eq(s, NMRFIT_PVOIGT);
    ck_assert_int_eq(nmrfit_shape_parse("voig", &s), -1);
    ck_assert_int_eq(nmrfit_shape_parse("", &s), -1);
    ck_assert_int_eq(nmrfit_shape_parse(NULL, &s), -1);
    ck_assert_str_eq(nmrfit_shape_name((enum nmrfit_shape)7), "?");

    /* heights: the textbook maxima */
    struct nmrfit_peak p = { .shape = NMRFIT_PVOIGT, .pos = 10, .fwhm = 4, .eta = 0.25,
                             .area = 3 };
    double h = 3 * (0.25 * 2 / (M_PI * 4) + 0.75 * sqrt(4 * log(2) / M_PI) / 4);
    ck_assert_double_eq_tol(nmrfit_profile(&p, 10), h, 1e-14);
    /* half maximum at pos +- fwhm/2, for every shape */
    ck_assert_double_eq_tol(nmrfit_profile(&p, 12), h / 2, 1e-14);
    p.shape = NMRFIT_LORENTZ;
    ck_assert_double_eq_tol(nmrfit_profile(&p, 8), nmrfit_profile(&p, 10) / 2, 1e-14);
    p.shape = NMRFIT_GAUSS;
    ck_assert_double_eq_tol(nmrfit_profile(&p, 8), nmrfit_profile(&p, 10) / 2, 1e-14);
    p.shape = NMRFIT_VOIGT;
    p.gfwhm = 3;
    p.lfwhm = 2;
    double sg = 3 / (2 * sqrt(2 * log(2)));
    ck_assert_double_eq_tol(nmrfit_profile(&p, 11.5), 3 * voigt(1.5, sg, 1), 1e-15);
    /* Olivero-Longbothum is good to 0.02 %: check against the profile's own half maximum */
    double fv = nmrfit_voigt_fwhm(3, 2), top = nmrfit_profile(&p, 10);
    ck_assert_msg(fabs(nmrfit_profile(&p, 10 + fv / 2) / top - 0.5) < 5e-4, "%g",
                  nmrfit_profile(&p, 10 + fv / 2) / top);
    ck_assert_double_eq_tol(nmrfit_voigt_fwhm(3, 0), 3, 1e-12);
    ck_assert_double_eq_tol(nmrfit_voigt_fwhm(0, 2), 2, 1e-3);
}
END_TEST

/* ---- the fit ---------------------------------------------------------------------------- */

START_TEST(fit_two_pvoigt_noise)
{
    /* 50 noise realisations: every one recovers the truth, and the reported errors are the
     * actual scatter (about 68 % of the estimates within 1 sigma of the truth). */
    double *ppm = util_malloc(SI * sizeof *ppm), *y = util_malloc(SI * sizeof *y);
    axis_li(ppm);
    struct nmrfit_peak truth[2] = { metal, dendrite };
    gsl_rng *rng = rng_new(20240611);
    int within = 0, total = 0, reps = 50;
    double sum_err[2] = { 0 }, sum_dev2[2] = { 0 };
    for (int rep = 0; rep < reps; rep++) {
        synth(ppm, y, SI, truth, 2, 1.0, -0.002, 0.01, rng);
        struct nmrfit_peak p[2];
        start_groups(p, NMRFIT_PVOIGT);
        struct nmrfit_result r;
        int rc = nmrfit_fit(ppm, y, SI, 220, 310, p, 2, &r);
        ck_assert_msg(rc == 0, "rep %d: %s", rep, r.msg);
        ck_assert_int_eq(r.status, NMRFIT_OK);
        ck_assert_int_eq(r.npts, 430);
        ck_assert_int_eq(r.dof, 430 - 10);
        ck_assert_msg(fabs(r.rms / 0.01 - 1) < 0.15, "rms %g", r.rms);
        ck_assert_msg(fabs(r.base1 + 0.002) < 5e-4 && fabs(r.base0 - 1) < 0.15, "base %g %g",
                      r.base0, r.base1);
        for (int k = 0; k < 2; k++) {
            ck_assert_msg(fabs(p[k].pos - truth[k].pos) < 0.2, "rep %d peak %d pos %g", rep, k,
                          p[k].pos);
            ck_assert_msg(fabs(p[k].area / truth[k].area - 1) < 0.02, "rep %d peak %d area %g",
                          rep, k, p[k].area);
            ck_assert(!p[k].at_bound);
            const double got[4] = { p[k].pos, p[k].area, p[k].fwhm, p[k].eta };
            const double err[4] = { p[k].pos_err, p[k].area_err, p[k].fwhm_err, p[k].eta_err };
            const double want[4] = { truth[k].pos, truth[k].area, truth[k].fwhm, truth[k].eta };
            for (int q = 0; q < 4; q++) {
                ck_assert(err[q] > 0 && isfinite(err[q]));
                within += fabs(got[q] - want[q]) < err[q];
                total++;
            }
            sum_err[k] += p[k].area_err;
            sum_dev2[k] += (p[k].area - truth[k].area) * (p[k].area - truth[k].area);
        }
    }
    double frac = (double)within / total;
    printf("nmrfit: %.0f %% of %d estimates within 1 sigma; area error reported %.3f %.3f, "
           "scatter %.3f %.3f\n", 100 * frac, total, sum_err[0] / reps, sum_err[1] / reps,
           sqrt(sum_dev2[0] / reps), sqrt(sum_dev2[1] / reps));
    ck_assert_msg(frac > 0.5 && frac < 0.85, "%.2f within 1 sigma", frac);
    for (int k = 0; k < 2; k++) {
        double ratio = sum_err[k] / reps / sqrt(sum_dev2[k] / reps);
        ck_assert_msg(ratio > 0.7 && ratio < 1.4, "peak %d: error / scatter %.2f", k, ratio);
    }
    gsl_rng_free(rng);
    free(ppm);
    free(y);
}
END_TEST

START_TEST(fit_voigt)
{
    double *ppm = util_malloc(SI * sizeof *ppm), *y = util_malloc(SI * sizeof *y);
    axis_li(ppm);
    struct nmrfit_peak truth[2] = {
        { .shape = NMRFIT_VOIGT, .pos = 245, .gfwhm = 8, .lfwhm = 6, .area = 100 },
        { .shape = NMRFIT_VOIGT, .pos = 266, .gfwhm = 12, .lfwhm = 8, .area = 40 },
    };
    gsl_rng *rng = rng_new(7);
    synth(ppm, y, SI, truth, 2, 0.3, 0.001, 0.01, rng);
    struct nmrfit_peak p[2];
    start_groups(p, NMRFIT_VOIGT);
    struct nmrfit_result r;
    ck_assert_msg(nmrfit_fit(ppm, y, SI, 220, 310, p, 2, &r) == 0, "%s", r.msg);
    for (int k = 0; k < 2; k++) {
        double fv = nmrfit_voigt_fwhm(truth[k].gfwhm, truth[k].lfwhm);
        ck_assert_msg(fabs(p[k].pos - truth[k].pos) < 0.2, "pos %g", p[k].pos);
        ck_assert_msg(fabs(p[k].area / truth[k].area - 1) < 0.02, "area %g", p[k].area);
        ck_assert_msg(fabs(p[k].fwhm / fv - 1) < 0.02, "fwhm %g vs %g", p[k].fwhm, fv);
        /* the split between the components is the weakly determined part: 4 sigma */
        ck_assert_msg(fabs(p[k].gfwhm - truth[k].gfwhm) < 4 * p[k].gfwhm_err + 0.01,
                      "gfwhm %g +- %g", p[k].gfwhm, p[k].gfwhm_err);
        ck_assert_msg(fabs(p[k].lfwhm - truth[k].lfwhm) < 4 * p[k].lfwhm_err + 0.01,
                      "lfwhm %g +- %g", p[k].lfwhm, p[k].lfwhm_err);
        ck_assert(p[k].fwhm_err > 0 && p[k].gfwhm_err > 0 && p[k].lfwhm_err > 0);
        ck_assert_double_eq(p[k].eta_err, 0);
        ck_assert_double_eq_tol(p[k].height, nmrfit_profile(&p[k], p[k].pos), 1e-12);
    }
    gsl_rng_free(rng);
    free(ppm);
    free(y);
}
END_TEST

START_TEST(fit_lorentz_gauss)
{
    double *ppm = util_malloc(SI * sizeof *ppm), *y = util_malloc(SI * sizeof *y);
    axis_li(ppm);
    struct nmrfit_peak truth[2] = {
        { .shape = NMRFIT_LORENTZ, .pos = 246, .fwhm = 10, .area = 80 },
        { .shape = NMRFIT_GAUSS, .pos = 262, .fwhm = 14, .area = 30 },
    };
    gsl_rng *rng = rng_new(11);
    synth(ppm, y, SI, truth, 2, 0, 0, 0.01, rng);
    struct nmrfit_peak p[2];
    start_groups(p, NMRFIT_LORENTZ);
    p[1].shape = NMRFIT_GAUSS;
    struct nmrfit_result r;
    ck_assert_msg(nmrfit_fit(ppm, y, SI, 310, 220, p, 2, &r) == 0, "%s", r.msg);
    for (int k = 0; k < 2; k++) {
        ck_assert_msg(fabs(p[k].pos - truth[k].pos) < 0.2, "pos %g", p[k].pos);
        ck_assert_msg(fabs(p[k].area / truth[k].area - 1) < 0.02, "area %g", p[k].area);
        ck_assert_msg(fabs(p[k].fwhm / truth[k].fwhm - 1) < 0.02, "fwhm %g", p[k].fwhm);
        ck_assert_double_eq(p[k].eta_err, 0);
    }
    gsl_rng_free(rng);
    free(ppm);
    free(y);
}
END_TEST

START_TEST(fit_tiny_dendrite)
{
    /* Before plating the shoulder is absent: its area must come out near zero with a large
     * error, and the metal peak must not suffer. */
    double *ppm = util_malloc(SI * sizeof *ppm), *y = util_malloc(SI * sizeof *y);
    axis_li(ppm);
    struct nmrfit_peak truth[2] = { metal, dendrite };
    truth[1].area = 0.1;
    gsl_rng *rng = rng_new(3);
    for (int rep = 0; rep < 10; rep++) {
        synth(ppm, y, SI, truth, 2, 0.2, 0, 0.02, rng);
        struct nmrfit_peak p[2];
        start_groups(p, NMRFIT_PVOIGT);
        struct nmrfit_result r;
        int rc = nmrfit_fit(ppm, y, SI, 220, 310, p, 2, &r);
        ck_assert_msg(rc == 0, "rep %d: %s", rep, r.msg);
        ck_assert(r.status == NMRFIT_OK || r.status == NMRFIT_MAXITER);
        ck_assert_msg(fabs(p[0].pos - 245) < 0.2, "metal at %g", p[0].pos);
        ck_assert_msg(fabs(p[0].area / 100 - 1) < 0.03, "metal area %g", p[0].area);
        ck_assert(isfinite(p[1].area) && isfinite(p[1].area_err) && isfinite(p[1].pos_err));
        /* an undetectable shoulder: its area within a few sigma of zero, and that sigma as
         * large as the area itself (least squares often shrinks such a peak onto a noise
         * spike two points wide, whose small area is then well "determined") */
        ck_assert_msg(fabs(p[1].area - 0.1) < 4 * p[1].area_err + 0.5, "dendrite %g +- %g",
                      p[1].area, p[1].area_err);
        ck_assert_msg(p[1].area_err > 0.3 * fabs(p[1].area), "dendrite %g +- %g", p[1].area,
                      p[1].area_err);
        ck_assert(p[1].pos >= 256 && p[1].pos <= 276);
        ck_assert(p[1].fwhm >= NMRFIT_FWHM_MIN && p[1].fwhm <= NMRFIT_FWHM_MAX);
    }
    gsl_rng_free(rng);
    free(ppm);
    free(y);
}
END_TEST

START_TEST(fit_series)
{
    /* Each spectrum starts from the previous fit: fewer iterations, same answer. */
    double *ppm = util_malloc(SI * sizeof *ppm), *y = util_malloc(SI * sizeof *y);
    axis_li(ppm);
    struct nmrfit_peak truth[2] = { metal, dendrite };
    gsl_rng *rng = rng_new(5);
    struct nmrfit_peak p[2];
    start_groups(p, NMRFIT_PVOIGT);
    struct nmrfit_result r;
    int cold = 0, warm = 0;
    for (int s = 0; s < 10; s++) {
        truth[0].area = 100 - 3 * s; /* the metal loses, the shoulder grows */
        truth[0].pos = 245 - 0.1 * s;
        truth[1].area = 10 + 5 * s;
        synth(ppm, y, SI, truth, 2, 0, 0, 0.02, rng);
        ck_assert_msg(nmrfit_fit(ppm, y, SI, 220, 310, p, 2, &r) == 0, "%s", r.msg);
        if (s == 0)
            cold = r.iter;
        else
            warm += r.iter;
        for (int k = 0; k < 2; k++) {
            ck_assert_msg(fabs(p[k].pos - truth[k].pos) < 0.2, "%d: pos %g", s, p[k].pos);
            double tol = 0.02 * truth[k].area + 4 * p[k].area_err;
            ck_assert_msg(fabs(p[k].area - truth[k].area) < tol, "%d: area %g", s, p[k].area);
        }
    }
    printf("nmrfit: %d iterations from the position alone, %.1f from the previous fit\n", cold,
           warm / 9.0);
    ck_assert_msg(warm / 9.0 < cold, "%d cold, %.1f warm", cold, warm / 9.0);
    gsl_rng_free(rng);
    free(ppm);
    free(y);
}
END_TEST

START_TEST(fit_invariance)
{
    /* The same spectrum scaled by 1e6 and on an increasing axis: the same fit. */
    double *ppm = util_malloc(SI * sizeof *ppm), *y = util_malloc(SI * sizeof *y);
    double *pr = util_malloc(SI * sizeof *pr), *yr = util_malloc(SI * sizeof *yr);
    axis_li(ppm);
    struct nmrfit_peak truth[2] = { metal, dendrite };
    gsl_rng *rng = rng_new(9);
    synth(ppm, y, SI, truth, 2, 0.5, 0.001, 0.02, rng);
    struct nmrfit_peak a[2], b[2], c[2];
    start_groups(a, NMRFIT_PVOIGT);
    start_groups(b, NMRFIT_PVOIGT);
    start_groups(c, NMRFIT_PVOIGT);
    struct nmrfit_result ra, rb, rc;
    ck_assert(nmrfit_fit(ppm, y, SI, 220, 310, a, 2, &ra) == 0);
    for (int j = 0; j < SI; j++) {
        pr[SI - 1 - j] = ppm[j];
        yr[SI - 1 - j] = y[j];
    }
    ck_assert(nmrfit_fit(pr, yr, SI, 220, 310, b, 2, &rb) == 0);
    for (int j = 0; j < SI; j++)
        y[j] *= 1e6;
    ck_assert(nmrfit_fit(ppm, y, SI, 220, 310, c, 2, &rc) == 0);
    for (int k = 0; k < 2; k++) {
        ck_assert_double_eq_tol(b[k].pos, a[k].pos, 1e-4);
        ck_assert_double_eq_tol(b[k].area, a[k].area, 1e-4 * a[k].area);
        ck_assert_double_eq_tol(b[k].area_err, a[k].area_err, 1e-3 * a[k].area_err);
        ck_assert_double_eq_tol(c[k].pos, a[k].pos, 1e-4);
        ck_assert_double_eq_tol(c[k].area, 1e6 * a[k].area, 1e-4 * 1e6 * a[k].area);
        ck_assert_double_eq_tol(c[k].area_err, 1e6 * a[k].area_err, 1e-3 * 1e6 * a[k].area_err);
        ck_assert_double_eq_tol(c[k].height, 1e6 * a[k].height, 1e-4 * 1e6 * a[k].height);
    }
    ck_assert_double_eq_tol(rb.chi2, ra.chi2, 1e-6 * ra.chi2);
    ck_assert_double_eq_tol(rc.chi2, 1e12 * ra.chi2, 1e-5 * 1e12 * ra.chi2);
    ck_assert_double_eq_tol(rc.base0, 1e6 * ra.base0, 1e-3 * fabs(1e6 * ra.base0) + 1);
    gsl_rng_free(rng);
    free(ppm);
    free(y);
    free(pr);
    free(yr);
}
END_TEST

START_TEST(fit_degenerate)
{
    double *ppm = util_malloc(SI * sizeof *ppm), *y = util_malloc(SI * sizeof *y);
    axis_li(ppm);
    struct nmrfit_peak truth[2] = { metal, dendrite };
    gsl_rng *rng = rng_new(1);
    synth(ppm, y, SI, truth, 2, 0, 0, 0.02, rng);
    struct nmrfit_peak p[2], keep[2];
    struct nmrfit_result r;
    start_groups(p, NMRFIT_PVOIGT);
    memcpy(keep, p, sizeof p);

#define FAILS(call, what)                                                                      \
    do {                                                                                       \
        memset(&r, 0x55, sizeof r);                                                            \
        ck_assert_int_eq((call), -1);                                                          \
        ck_assert_msg(strstr(r.msg, what), "message '%s' lacks '%s'", r.msg, what);            \
        ck_assert(r.status >= NMRFIT_EINPUT);                                                  \
        ck_assert(memcmp(p, keep, sizeof p) == 0); /* peaks untouched on failure */            \
    } while (0)

    FAILS(nmrfit_fit(ppm, y, 0, 220, 310, p, 2, &r), "empty");
    FAILS(nmrfit_fit(NULL, y, SI, 220, 310, p, 2, &r), "NULL");
    FAILS(nmrfit_fit(ppm, NULL, SI, 220, 310, p, 2, &r), "NULL");
    FAILS(nmrfit_fit(ppm, y, SI, 220, 310, p, 0, &r), "0 peaks");
    FAILS(nmrfit_fit(ppm, y, SI, 220, 310, p, NMRFIT_MAX_PEAKS + 1, &r), "peaks");
    FAILS(nmrfit_fit(ppm, y, SI, 2000, 3000, p, 2, &r), "no point");
    FAILS(nmrfit_fit(ppm, y, SI, -2000, -3000, p, 2, &r), "no point");
    FAILS(nmrfit_fit(ppm, y, SI, 250, 250, p, 2, &r), "not a range");
    FAILS(nmrfit_fit(ppm, y, SI, NAN, 250, p, 2, &r), "not a range");
    FAILS(nmrfit_fit(ppm, y, SI, 250, INFINITY, p, 2, &r), "not a range");
    FAILS(nmrfit_fit(ppm, y, SI, 250, 251.5, p, 2, &r), "too few");
    y[3600] = NAN; /* ppm 253.9 */
    FAILS(nmrfit_fit(ppm, y, SI, 220, 310, p, 2, &r), "intensity");
    y[3600] = INFINITY;
    FAILS(nmrfit_fit(ppm, y, SI, 220, 310, p, 2, &r), "intensity");
    /* bad values outside the window are none of the fit's business */
    y[3600] = 0;
    y[0] = NAN;
    y[SI - 1] = INFINITY;
    ck_assert_msg(nmrfit_fit(ppm, y, SI, 220, 310, p, 2, &r) == 0, "%s", r.msg);
    memcpy(p, keep, sizeof p);
    ppm[3600] = NAN;
    FAILS(nmrfit_fit(ppm, y, SI, 220, 310, p, 2, &r), "ppm");
    ppm[3600] = 300; /* not monotonic */
    FAILS(nmrfit_fit(ppm, y, SI, 220, 310, p, 2, &r), "monotonic");
    axis_li(ppm);
    p[1].shape = (enum nmrfit_shape)9;
    memcpy(keep, p, sizeof p);
    FAILS(nmrfit_fit(ppm, y, SI, 220, 310, p, 2, &r), "shape");

    /* no signal at all: nothing to place the peaks by */
    start_groups(p, NMRFIT_PVOIGT);
    memcpy(keep, p, sizeof p);
    for (int j = 0; j < SI; j++)
        y[j] = 0;
    FAILS(nmrfit_fit(ppm, y, SI, 220, 310, p, 2, &r), "singular");
    for (int j = 0; j < SI; j++)
        y[j] = 5;
    FAILS(nmrfit_fit(ppm, y, SI, 220, 310, p, 2, &r), "singular");
    /* RES may be NULL */
    ck_assert_int_eq(nmrfit_fit(ppm, y, 0, 220, 310, p, 2, NULL), -1);
#undef FAILS
    gsl_rng_free(rng);
    free(ppm);
    free(y);
}
END_TEST

START_TEST(fit_defaults)
{
    /* Unset bounds (0, 0) mean the window; a start outside the bounds, NaN widths and an
     * eta of 0 are replaced by usable values; identical starting peaks still separate. */
    double *ppm = util_malloc(SI * sizeof *ppm), *y = util_malloc(SI * sizeof *y);
    axis_li(ppm);
    struct nmrfit_peak truth[2] = { metal, dendrite };
    gsl_rng *rng = rng_new(2);
    synth(ppm, y, SI, truth, 2, 0, 0, 0.02, rng);
    struct nmrfit_peak p[2] = {
        { .shape = NMRFIT_PVOIGT, .pos = 244, .fwhm = NAN, .eta = 0 },
        { .shape = NMRFIT_PVOIGT, .pos = 500, .lo = 256, .hi = 276, .eta = 7 },
    };
    struct nmrfit_result r;
    ck_assert_msg(nmrfit_fit(ppm, y, SI, 220, 310, p, 2, &r) == 0, "%s", r.msg);
    ck_assert_double_eq(p[0].lo, 220);
    ck_assert_double_eq(p[0].hi, 310);
    for (int k = 0; k < 2; k++) {
        ck_assert_msg(fabs(p[k].pos - truth[k].pos) < 0.2, "pos %g", p[k].pos);
        ck_assert_msg(fabs(p[k].area / truth[k].area - 1) < 0.02, "area %g", p[k].area);
    }
    /* a position bound that excludes the truth: the peak stops at a bound and says so */
    struct nmrfit_peak q[2];
    start_groups(q, NMRFIT_PVOIGT);
    q[0].lo = 250;
    q[0].hi = 252.5;
    q[0].pos = 251;
    ck_assert_msg(nmrfit_fit(ppm, y, SI, 220, 310, q, 2, &r) == 0, "%s", r.msg);
    ck_assert(q[0].at_bound);
    ck_assert_msg(q[0].pos < 250.01 || q[0].pos > 252.49, "pos %g", q[0].pos);
    ck_assert(isfinite(q[0].pos_err) && q[0].pos_err > 0);
    gsl_rng_free(rng);
    free(ppm);
    free(y);
}
END_TEST

START_TEST(fit_fuzz)
{
    /* Random axes, data, windows and starting peaks: every call returns 0 with finite results
     * or -1 with a message, and never crashes (the ASan build checks the memory). */
    gsl_rng *rng = rng_new(12345);
    enum { NMAX = 400 };
    double ppm[NMAX], y[NMAX];
    int ok = 0;
    for (int it = 0; it < 1500; it++) {
        long n = (long)gsl_rng_uniform_int(rng, NMAX + 1);
        int kind = (int)gsl_rng_uniform_int(rng, 4);
        double x0 = gsl_rng_uniform(rng) * 600 - 300, dx = gsl_rng_uniform(rng) * 2 + 1e-3;
        for (long j = 0; j < n; j++) {
            ppm[j] = kind == 3 ? gsl_rng_uniform(rng) * 400 - 200 : x0 + (kind ? -dx : dx) * j;
            double r = gsl_rng_uniform(rng);
            y[j] = r < 0.002 ? NAN : r < 0.004 ? -INFINITY : r < 0.3 ? 0 :
                   gsl_ran_gaussian(rng, 1) * pow(10, gsl_rng_uniform(rng) * 20 - 10);
            if (kind == 2)
                y[j] = 5 * exp(-(ppm[j] - x0 + 50) * (ppm[j] - x0 + 50) / 30.0) +
                       gsl_ran_gaussian(rng, 0.05);
        }
        struct nmrfit_peak p[3];
        int np = 1 + (int)gsl_rng_uniform_int(rng, 3);
        for (int k = 0; k < np; k++) {
            p[k] = (struct nmrfit_peak){
                .shape = (enum nmrfit_shape)gsl_rng_uniform_int(rng, NMRFIT_NSHAPES + 1),
                .pos = x0 + gsl_ran_gaussian(rng, 100),
                .lo = x0 + gsl_ran_gaussian(rng, 100),
                .hi = x0 + gsl_ran_gaussian(rng, 100),
                .fwhm = gsl_ran_gaussian(rng, 20),
                .gfwhm = gsl_ran_gaussian(rng, 20),
                .lfwhm = gsl_ran_gaussian(rng, 20),
                .eta = gsl_ran_gaussian(rng, 1),
            };
        }
        double wlo = x0 + gsl_ran_gaussian(rng, 200), whi = x0 + gsl_ran_gaussian(rng, 200);
        struct nmrfit_result r;
        int rc = nmrfit_fit(ppm, y, n, wlo, whi, p, np, &r);
        ck_assert(rc == 0 || rc == -1);
        ck_assert(r.msg[0] != 0 && memchr(r.msg, 0, sizeof r.msg));
        if (rc == 0) {
            ok++;
            ck_assert(isfinite(r.chi2) && r.dof > 0);
            for (int k = 0; k < np; k++)
                ck_assert(isfinite(p[k].pos) && isfinite(p[k].area) && isfinite(p[k].fwhm) &&
                          isfinite(p[k].area_err) && isfinite(p[k].pos_err));
        } else {
            ck_assert(r.status >= NMRFIT_EINPUT);
        }
        (void)nmrfit_integrate(ppm, y, n, wlo, whi);
    }
    printf("nmrfit fuzz: %d of 1500 random fits succeeded\n", ok);
    ck_assert(ok > 0);
    gsl_rng_free(rng);
}
END_TEST

Suite *nmrfit_suite(void)
{
    Suite *s = suite_create("nmrfit");
    TCase *t = tcase_create("integrate");
    tcase_add_test(t, integrate_triangle);
    tcase_add_test(t, integrate_lorentz);
    tcase_add_test(t, integrate_degenerate);
    tcase_add_test(t, shapes);
    suite_add_tcase(s, t);
    t = tcase_create("fit");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, fit_two_pvoigt_noise);
    tcase_add_test(t, fit_voigt);
    tcase_add_test(t, fit_lorentz_gauss);
    tcase_add_test(t, fit_tiny_dendrite);
    tcase_add_test(t, fit_series);
    tcase_add_test(t, fit_invariance);
    tcase_add_test(t, fit_degenerate);
    tcase_add_test(t, fit_defaults);
    tcase_add_test(t, fit_fuzz);
    suite_add_tcase(s, t);
    return s;
}
