/* The spectrometer model (nmrsim.h), judged by insitu's own processing: simulated FIDs go
 * through nmr_process exactly as a Bruker dataset would (DIGMOD 1 with the sim's GRPDLY, EM,
 * the known phase), and the spectra must show the lines where and as large as the model says. */
#include <check.h>

#include <complex.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "insitu/cell.h"
#include "insitu/nmr.h"
#include "insitu/nmrsim.h"
#include "insitu/util.h"
#include "suites.h"

#define LB 50.0   /* Hz, as the ATMC series */

struct spec {
    long si;
    double *re, *ppm;
    double bf1;
};

static void spec_free(struct spec *s)
{
    free(s->re);
    free(s->ppm);
}

/* Acquire with P on cell state S0..S1 and process as TopSpin would (SI = TD, LB 50 Hz,
 * FCOR 0.5, DIGMOD 1 with the sim's GRPDLY, PHC0/PHC1 from the truth). */
static int acquire(const struct nmrsim_params *p, const struct cell_params *cp,
                   const struct cell_state *s0, const struct cell_state *s1, uint64_t seed,
                   struct spec *out)
{
    struct cell_rng rng;
    cell_rng_seed(&rng, seed);
    long m = p->td / 2;
    double complex *fid = util_malloc((size_t)m * sizeof *fid);
    char err[200];
    int rc = nmrsim_fid(p, cp, s0, s1, &rng, fid, m, err, sizeof err);
    ck_assert_msg(rc >= 0, "%s", err);
    struct nmrsim_truth t;
    ck_assert_msg(nmrsim_truth(p, cp, s0, &t, err, sizeof err) == 0, "%s", err);
    struct nmr_params np = { 0 };
    np.si = 2 * m;
    np.wdw = 1;
    np.lb = LB;
    np.fcor = 0.5;
    np.sw_h = p->sw;
    np.digmod = p->grpdly > 0;
    np.grpdly = p->grpdly;
    np.phc0 = t.phc0;
    np.phc1 = t.phc1;
    np.sf = t.bf1;
    np.offset = (p->o1 + p->sw / 2) / t.bf1;
    np.sw_p = p->sw;
    out->si = np.si;
    out->bf1 = t.bf1;
    out->re = util_malloc((size_t)np.si * sizeof *out->re);
    out->ppm = util_malloc((size_t)np.si * sizeof *out->ppm);
    struct nmr_work *w = nmr_work_new(np.si);
    struct nmr_err ne;
    ck_assert_msg(nmr_process(w, &np, fid, m, out->re, NULL, &ne) == 0, "%s", ne.msg);
    nmr_ppm_axis(&np, out->ppm);
    nmr_work_free(w);
    free(fid);
    return rc;
}

/* The highest point within [lo, hi] ppm, refined by a parabola through its neighbours. */
static double peak_ppm(const struct spec *s, double lo, double hi, double *height)
{
    long best = -1;
    for (long j = 1; j + 1 < s->si; j++)
        if (s->ppm[j] >= lo && s->ppm[j] <= hi && (best < 0 || s->re[j] > s->re[best]))
            best = j;
    ck_assert(best > 0);
    double a = s->re[best - 1], b = s->re[best], c = s->re[best + 1];
    double d = 0.5 * (a - c) / (a - 2 * b + c);
    if (height)
        *height = b;
    return s->ppm[best] + d * (s->ppm[best + 1] - s->ppm[best]);
}

/* Standard deviation of the spectrum within [lo, hi] ppm. */
static double noise_sd(const struct spec *s, double lo, double hi)
{
    double sum = 0, sq = 0;
    long n = 0;
    for (long j = 0; j < s->si; j++)
        if (s->ppm[j] >= lo && s->ppm[j] <= hi) {
            sum += s->re[j];
            sq += s->re[j] * s->re[j];
            n++;
        }
    ck_assert(n > 10);
    return sqrt(sq / n - (sum / n) * (sum / n));
}

/* Least squares of the spectrum within [lo, hi] ppm on absorption Lorentzians at CENTRE with
 * FWHM (ppm; the line width plus LB) and a local polynomial baseline of NPOLY terms (the
 * spectra roll: the first point comes DE after the pulse, as on a real spectrometer): returns
 * the areas (height x width) in AREA. */
static void fit_areas(const struct spec *s, double lo, double hi, int nb, const double *centre,
                      const double *fwhm, int npoly, double *area)
{
    enum { MAXB = 8 };
    int nt = nb + npoly;
    ck_assert(nt <= MAXB);
    double ata[MAXB][MAXB] = { { 0 } }, atb[MAXB] = { 0 }, f[MAXB];
    for (long j = 0; j < s->si; j++) {
        if (s->ppm[j] < lo || s->ppm[j] > hi)
            continue;
        for (int b = 0; b < nb; b++) {
            double x = (s->ppm[j] - centre[b]) / (fwhm[b] / 2);
            f[b] = 1 / (1 + x * x);
        }
        double u = (2 * s->ppm[j] - lo - hi) / (hi - lo), pw = 1;
        for (int b = nb; b < nt; b++, pw *= u)
            f[b] = pw;
        for (int a = 0; a < nt; a++) {
            atb[a] += f[a] * s->re[j];
            for (int b = 0; b < nt; b++)
                ata[a][b] += f[a] * f[b];
        }
    }
    /* Gauss-Jordan on the small normal equations */
    for (int c = 0; c < nt; c++) {
        double piv = ata[c][c];
        ck_assert(fabs(piv) > 0);
        for (int r = 0; r < nt; r++) {
            if (r == c)
                continue;
            double k = ata[r][c] / piv;
            for (int q = 0; q < nt; q++)
                ata[r][q] -= k * ata[c][q];
            atb[r] -= k * atb[c];
        }
    }
    for (int b = 0; b < nb; b++)
        area[b] = atb[b] / ata[b][b] * fwhm[b];
}

static const struct nmrsim_component *comp(const struct nmrsim_truth *t, int c)
{
    for (int i = 0; i < t->n; i++)
        if (t->c[i].comp == c)
            return &t->c[i];
    return NULL;
}

/* Plate at CURRENT for HOURS in 10 s steps. */
static void plate(struct cell_state *s, const struct cell_params *cp, double current,
                  double hours)
{
    for (double t = 0; t < hours * 3600; t += 10)
        cell_step(s, cp, current, 10);
}

START_TEST(nuclei_and_frequencies)
{
    const struct nmrsim_nucleus *li = nmrsim_nucleus_find("7Li"), *na = nmrsim_nucleus_find("23na");
    ck_assert_ptr_nonnull(li);
    ck_assert_ptr_nonnull(na);
    ck_assert_str_eq(na->name, "23Na");
    ck_assert_ptr_null(nmrsim_nucleus_find("8Li"));
    ck_assert_ptr_null(nmrsim_nucleus_find(NULL));
    const char *need[] = { "1H", "6Li", "7Li", "13C", "19F", "23Na", "31P" };
    for (size_t i = 0; i < ARRAY_LEN(need); i++)
        ck_assert_msg(nmrsim_nucleus_find(need[i]), "%s", need[i]);
    ck_assert_double_eq_tol(li->xi, 38.863797, 1e-9);
    ck_assert_double_eq(li->spin, 1.5);
    ck_assert_double_eq_tol(na->xi, 26.451900, 1e-9);
    /* DOMAIN.md's table, from the spectrometer's 1H frequency */
    ck_assert_double_eq_tol(nmrsim_bf1_h1(li, 300.13), 116.642, 5e-4);
    ck_assert_double_eq_tol(nmrsim_bf1_h1(na, 300.13), 79.390, 5e-4);
    ck_assert_double_eq_tol(nmrsim_bf1_h1(li, 600.13), 233.233, 5e-4);
    ck_assert_double_eq_tol(nmrsim_bf1_h1(na, 600.13), 158.746, 5e-4);
    /* and from the field: 1H = 42.577478 MHz/T x B0 */
    const struct nmrsim_nucleus *h = nmrsim_nucleus_find("1h");
    ck_assert_double_eq_tol(nmrsim_bf1(h, 7.05), 42.577478 * 7.05, 1e-9);
    ck_assert_double_eq_tol(nmrsim_bf1(li, 300.13 / 42.577478), 116.642, 5e-4);
    int n = 0;
    while (nmrsim_nucleus_at(n))
        n++;
    ck_assert_int_ge(n, 7);
    ck_assert_int_eq(nmrsim_sample_find("nacl"), NMRSIM_SAMPLE_NACL);
    ck_assert_int_eq(nmrsim_sample_find("Cell"), NMRSIM_SAMPLE_CELL);
    ck_assert_int_eq(nmrsim_sample_find("water"), -1);
}
END_TEST

START_TEST(defaults_and_checks)
{
    struct nmrsim_params p;
    char err[200];
    ck_assert_int_eq(nmrsim_defaults(&p, "xx"), -1);
    ck_assert_int_eq(nmrsim_defaults(&p, "na"), 0);
    ck_assert_str_eq(p.nucleus, "23Na");
    ck_assert_int_eq(nmrsim_defaults(&p, NULL), 0);
    ck_assert_str_eq(p.nucleus, "7Li");
    ck_assert_int_eq(nmrsim_check(&p, err, sizeof err), 0);
    ck_assert_double_eq_tol(nmrsim_aq(&p), 2048 / 200e3, 1e-15);
    ck_assert_double_eq_tol(nmrsim_duration(&p), 64 * (0.5 + 2048 / 200e3 + 2.5e-6), 1e-12);
    struct nmrsim_params q = p;
    q.td = 4095;
    ck_assert_int_eq(nmrsim_check(&q, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "TD 4095"));
    q = p;
    q.match = 1.5;
    ck_assert_int_eq(nmrsim_check(&q, err, sizeof err), -1);
    q = p;
    snprintf(q.nucleus, sizeof q.nucleus, "9Xx");
    ck_assert_int_eq(nmrsim_check(&q, err, sizeof err), -1);
    ck_assert_str_eq(err, "nucleus \"9Xx\": unknown");
    /* the cell sample needs a cell */
    struct nmrsim_truth t;
    ck_assert_int_eq(nmrsim_truth(&p, NULL, NULL, &t, err, sizeof err), -1);
    double complex buf[10];
    ck_assert_int_eq(nmrsim_fid(&p, NULL, NULL, NULL, NULL, buf, 10, err, sizeof err), -1);
    struct cell_params cp;
    cell_params_default(&cp, "li");
    ck_assert_int_eq(nmrsim_fid(&p, &cp, NULL, NULL, NULL, buf, 10, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "TD 4096"));
}
END_TEST

/* Lines where the model puts them: at their shift plus the field error, for 7Li and 23Na,
 * with an integer and a fractional group delay; a flat baseline away from them. */
START_TEST(peaks_at_true_ppm)
{
    struct cell_params cp;
    struct cell_state s, moss;
    struct nmrsim_params p;
    cell_params_default(&cp, "li");
    cell_init(&s, &cp);
    nmrsim_defaults(&p, "li");
    p.td = 16384;
    p.noise = 0;
    double fe = p.field_error;
    for (int frac = 0; frac < 2; frac++) {
        p.grpdly = frac ? 67.9842376708984 : 76;
        struct spec sp;
        acquire(&p, &cp, &s, NULL, 1, &sp);
        double h, he;
        double pm = peak_ppm(&sp, 200, 300, &h);
        double pe = peak_ppm(&sp, -20, 20, &he);
        ck_assert_msg(fabs(pm - (245 + fe)) < 0.5, "metal at %.3f ppm, want %.3f", pm, 245 + fe);
        ck_assert_msg(fabs(pe - (-1 + fe)) < 0.5, "electrolyte at %.3f", pe);
        spec_free(&sp);
        /* Clean: with no dead time and a short pulse (the first point at the pulse, so no
         * roll) the spectrum away from the lines is flat to 0.2 % of the metal peak, which a
         * wrong group delay or a filter artefact would spoil by far. */
        struct nmrsim_params q = p;
        q.de = 0;
        q.p1 = 0.05;
        acquire(&q, &cp, &s, NULL, 1, &sp);
        peak_ppm(&sp, 200, 300, &h);
        for (long j = 0; j < sp.si; j++)
            if (sp.ppm[j] < -250 || sp.ppm[j] > 500)   /* beyond the lines' tails */
                ck_assert_msg(fabs(sp.re[j]) < 2e-3 * h, "GRPDLY %g: %g at %.1f ppm (peak %g)",
                              p.grpdly, sp.re[j], sp.ppm[j], h);
        spec_free(&sp);
    }
    /* microstructure alone: both electrodes stripped bare (nothing of the bulk left) */
    moss = s;
    moss.metal[CELL_A] = moss.metal[CELL_B] = 0;
    moss.micro[CELL_B] = 10;
    struct spec sp;
    acquire(&p, &cp, &moss, NULL, 1, &sp);
    double pu = peak_ppm(&sp, 200, 300, NULL);
    ck_assert_msg(fabs(pu - (265 + fe)) < 0.5, "microstructure at %.3f", pu);
    spec_free(&sp);

    /* 23Na at 1135 / 1141, with the carrier on the metal */
    cell_params_default(&cp, "na");
    cell_init(&s, &cp);
    nmrsim_defaults(&p, "na");
    p.td = 16384;
    p.noise = 0;
    struct nmrsim_truth t;
    char err[200];
    ck_assert(nmrsim_truth(&p, &cp, &s, &t, err, sizeof err) == 0);
    p.o1 = 1100 * t.bf1;
    acquire(&p, &cp, &s, NULL, 1, &sp);
    double pn = peak_ppm(&sp, 1100, 1170, NULL);
    ck_assert_msg(fabs(pn - (1135 + fe)) < 0.5, "Na metal at %.3f", pn);
    spec_free(&sp);
    moss = s;
    moss.metal[CELL_A] = moss.metal[CELL_B] = 0;
    moss.micro[CELL_A] = 10;
    acquire(&p, &cp, &moss, NULL, 1, &sp);
    pn = peak_ppm(&sp, 1100, 1170, NULL);
    ck_assert_msg(fabs(pn - (1141 + fe)) < 0.5, "Na microstructure at %.3f", pn);
    spec_free(&sp);
}
END_TEST

/* The areas of the fitted lines stand in the ratios of the truth. */
START_TEST(amplitude_ratios)
{
    struct cell_params cp;
    struct cell_state s;
    struct nmrsim_params p;
    cell_params_default(&cp, "li");
    cell_init(&s, &cp);
    plate(&s, &cp, 0.5, 7.5);   /* the seed experiment: 7.5 Ah */
    nmrsim_defaults(&p, "li");
    p.td = 16384;
    p.noise = 0;
    struct nmrsim_truth t;
    char err[200];
    ck_assert(nmrsim_truth(&p, &cp, &s, &t, err, sizeof err) == 0);
    const struct nmrsim_component *me = comp(&t, NMRSIM_METAL), *mi = comp(&t, NMRSIM_MICRO),
                                  *de = comp(&t, NMRSIM_DEAD), *el = comp(&t, NMRSIM_ELECTROLYTE),
                                  *se = comp(&t, NMRSIM_SEI);
    ck_assert(me && mi && de && el && se);
    ck_assert_double_gt(mi->amount, 0.3 * me->amount);   /* microstructure comparable by 7.5 Ah */
    struct spec sp;
    acquire(&p, &cp, &s, NULL, 1, &sp);
    double lbp = LB / t.bf1;
    double centre[4] = { me->ppm_obs, mi->ppm_obs, el->ppm_obs, se->ppm_obs };
    double fwhm[4] = { me->fwhm + lbp, mi->fwhm + lbp, el->fwhm + lbp, se->fwhm + lbp };
    double area[4];
    fit_areas(&sp, 150, 350, 2, centre, fwhm, 3, area);
    fit_areas(&sp, -60, 60, 2, centre + 2, fwhm + 2, 3, area + 2);
    /* A Lorentzian fitted under the phase that puts the time origin at the pulse has the
     * FID's amplitude there: the truth's area (the first DE of the FID, which is missing,
     * is the broad roll that the local baseline takes). */
    double want[4] = { me->area, mi->area + de->area, el->area, se->area };
    printf("nmrsim ratios: micro/metal %.4f (truth %.4f), electrolyte/metal %.4f (truth %.4f)\n",
           area[1] / area[0], want[1] / want[0], area[2] / area[0], want[2] / want[0]);
    ck_assert_double_eq_tol(area[1] / area[0], want[1] / want[0], 0.02 * want[1] / want[0]);
    ck_assert_double_eq_tol(area[2] / area[0], want[2] / want[0], 0.02 * want[2] / want[0]);
    spec_free(&sp);
}
END_TEST

/* Noise grows as sqrt(NS), the signal as NS: S/N 4x from NS 16 to NS 256. */
START_TEST(noise_sqrt_ns)
{
    struct cell_params cp;
    struct cell_state s;
    struct nmrsim_params p;
    cell_params_default(&cp, "li");
    cell_init(&s, &cp);
    nmrsim_defaults(&p, "li");
    double snr[2];
    for (int i = 0; i < 2; i++) {
        /* the noise alone: the spectrum less the same acquisition without noise */
        p.ns = i ? 256 : 16;
        struct spec sp, clean;
        acquire(&p, &cp, &s, NULL, 7 + (uint64_t)i, &sp);
        struct nmrsim_params q = p;
        q.noise = 0;
        acquire(&q, &cp, &s, NULL, 1, &clean);
        for (long j = 0; j < sp.si; j++)
            sp.re[j] -= clean.re[j];
        double h;
        peak_ppm(&clean, 200, 300, &h);
        double sd = noise_sd(&sp, -800, 800);
        snr[i] = h / sd;
        printf("nmrsim NS %ld: metal S/N %.1f\n", p.ns, snr[i]);
        spec_free(&sp);
        spec_free(&clean);
    }
    ck_assert_msg(fabs(snr[1] / snr[0] - 4) < 0.6, "S/N ratio %.3f", snr[1] / snr[0]);
}
END_TEST

/* A detuned probe: match 0.5 halves the signal; RG scales signal and noise alike. */
START_TEST(match_and_gain)
{
    struct cell_params cp;
    struct cell_state s;
    struct nmrsim_params p;
    cell_params_default(&cp, "li");
    cell_init(&s, &cp);
    nmrsim_defaults(&p, "li");
    p.noise = 0;
    struct spec a, b;
    acquire(&p, &cp, &s, NULL, 1, &a);
    p.match = 0.5;
    acquire(&p, &cp, &s, NULL, 1, &b);
    double ha, hb;
    peak_ppm(&a, 200, 300, &ha);
    peak_ppm(&b, 200, 300, &hb);
    ck_assert_double_eq_tol(hb / ha, 0.5, 1e-6);
    spec_free(&b);
    struct nmrsim_truth t1, t2;
    char err[200];
    p.match = 1;
    p.noise = 2;
    nmrsim_truth(&p, &cp, &s, &t1, err, sizeof err);
    p.rg = 64;
    p.noise = 2;
    nmrsim_truth(&p, &cp, &s, &t2, err, sizeof err);
    ck_assert_double_eq_tol(t2.c[0].area / t1.c[0].area, 2, 1e-9);
    ck_assert_double_eq_tol(t2.noise / t1.noise, 2, 1e-9);
    /* too much gain overflows the ADC */
    p.rg = 4000;
    struct cell_rng rng;
    cell_rng_seed(&rng, 1);
    double complex *fid = util_malloc((size_t)p.td / 2 * sizeof *fid);
    ck_assert_int_eq(nmrsim_fid(&p, &cp, &s, NULL, &rng, fid, p.td / 2, err, sizeof err), 1);
    p.rg = 32;
    ck_assert_int_eq(nmrsim_fid(&p, &cp, &s, NULL, &rng, fid, p.td / 2, err, sizeof err), 0);
    free(fid);
    spec_free(&a);
}
END_TEST

/* A fresh cell has no microstructure; plating grows it and the bulk peak falls. */
START_TEST(plating_grows_microstructure)
{
    struct cell_params cp;
    struct cell_state s;
    struct nmrsim_params p;
    cell_params_default(&cp, "li");
    cell_init(&s, &cp);
    nmrsim_defaults(&p, "li");
    p.td = 16384;
    p.noise = 0;
    struct nmrsim_truth t0, t1;
    char err[200];
    ck_assert(nmrsim_truth(&p, &cp, &s, &t0, err, sizeof err) == 0);
    ck_assert_double_eq(comp(&t0, NMRSIM_MICRO)->amount, 0);
    ck_assert_double_eq(comp(&t0, NMRSIM_DEAD)->amount, 0);
    /* the skin layers of both electrodes: cell_visible_metal_Ah at the cell file's frequency */
    ck_assert_double_eq_tol(comp(&t0, NMRSIM_METAL)->amount, cell_visible_metal_Ah(&cp) * 3600,
                            1e-3 * cell_visible_metal_Ah(&cp) * 3600);
    double lbp = LB / t0.bf1;
    const struct nmrsim_component *me = comp(&t0, NMRSIM_METAL), *mi = comp(&t0, NMRSIM_MICRO);
    double centre[2] = { me->ppm_obs, mi->ppm_obs }, fwhm[2] = { me->fwhm + lbp, mi->fwhm + lbp };
    double a0[2], a1[2];
    struct spec sp;
    acquire(&p, &cp, &s, NULL, 1, &sp);
    fit_areas(&sp, 150, 350, 2, centre, fwhm, 3, a0);
    spec_free(&sp);
    ck_assert_msg(fabs(a0[1]) < 0.01 * a0[0], "fresh cell: microstructure %g vs metal %g", a0[1],
                  a0[0]);

    struct cell_state s1 = s;
    plate(&s1, &cp, 0.5, 5);
    ck_assert(nmrsim_truth(&p, &cp, &s1, &t1, err, sizeof err) == 0);
    ck_assert_double_gt(comp(&t1, NMRSIM_MICRO)->area, 0.2 * comp(&t1, NMRSIM_METAL)->area);
    ck_assert_double_lt(comp(&t1, NMRSIM_METAL)->area, 0.9 * comp(&t0, NMRSIM_METAL)->area);
    acquire(&p, &cp, &s1, NULL, 1, &sp);
    fit_areas(&sp, 150, 350, 2, centre, fwhm, 3, a1);
    spec_free(&sp);
    printf("nmrsim 2.5 Ah plated: metal %.3g -> %.3g, microstructure %.3g -> %.3g\n", a0[0],
           a1[0], a0[1], a1[1]);
    ck_assert_double_lt(a1[0], 0.9 * a0[0]);
    ck_assert_double_gt(a1[1], 0.2 * a1[0]);

    /* an acquisition during which the cell changed sees the mean of its states */
    struct cell_rng rng;
    long m = p.td / 2;
    double complex *f01 = util_malloc((size_t)m * sizeof *f01), *f0 = util_malloc((size_t)m * 16),
                   *f1 = util_malloc((size_t)m * 16);
    cell_rng_seed(&rng, 1);
    ck_assert(nmrsim_fid(&p, &cp, &s, &s1, &rng, f01, m, err, sizeof err) == 0);
    ck_assert(nmrsim_fid(&p, &cp, &s, NULL, &rng, f0, m, err, sizeof err) == 0);
    ck_assert(nmrsim_fid(&p, &cp, &s1, &s1, &rng, f1, m, err, sizeof err) == 0);
    for (long k = 0; k < m; k++)
        ck_assert(cabs(f01[k] - (f0[k] + f1[k]) / 2) <= 1e-9 * (cabs(f0[0]) + 1));
    free(f01);
    free(f0);
    free(f1);
}
END_TEST

/* Reference solids: NaCl at 7.21 and LiCl at -1.1 ppm, shifted by the field error, which
 * referencing therefore measures; a nucleus the sample lacks shows nothing. */
START_TEST(references)
{
    struct nmrsim_params p;
    struct nmrsim_truth t;
    char err[200];
    nmrsim_defaults(&p, "na");
    p.sample = NMRSIM_SAMPLE_NACL;
    p.d1 = 60;    /* the solids relax slowly */
    p.noise = 0;
    p.td = 16384;
    struct spec sp;
    acquire(&p, NULL, NULL, NULL, 1, &sp);
    double pn = peak_ppm(&sp, -50, 50, NULL);
    ck_assert_msg(fabs(pn - (7.21 + p.field_error)) < 0.3, "NaCl at %.3f", pn);
    ck_assert_double_eq_tol(pn - 7.21, p.field_error, 0.3);   /* what referencing corrects */
    spec_free(&sp);
    nmrsim_defaults(&p, "li");
    p.sample = NMRSIM_SAMPLE_LICL;
    p.d1 = 60;
    p.noise = 0;
    p.td = 16384;
    acquire(&p, NULL, NULL, NULL, 1, &sp);
    pn = peak_ppm(&sp, -50, 50, NULL);
    ck_assert_msg(fabs(pn - (-1.1 + p.field_error)) < 0.3, "LiCl at %.3f", pn);
    spec_free(&sp);
    ck_assert(nmrsim_truth(&p, NULL, NULL, &t, err, sizeof err) == 0);
    ck_assert_int_eq(t.n, 1);
    ck_assert_str_eq(t.c[0].name, "LiCl");
    /* 23Na of LiCl, 7Li of a Na cell, an empty probe: no lines */
    snprintf(p.nucleus, sizeof p.nucleus, "23Na");
    ck_assert(nmrsim_truth(&p, NULL, NULL, &t, err, sizeof err) == 0);
    ck_assert_int_eq(t.n, 0);
    struct cell_params cp;
    cell_params_default(&cp, "na");
    snprintf(p.nucleus, sizeof p.nucleus, "7Li");
    p.sample = NMRSIM_SAMPLE_CELL;
    ck_assert(nmrsim_truth(&p, &cp, NULL, &t, err, sizeof err) == 0);
    ck_assert_int_eq(t.n, 0);
    p.sample = NMRSIM_SAMPLE_EMPTY;
    ck_assert(nmrsim_truth(&p, NULL, NULL, &t, err, sizeof err) == 0);
    ck_assert_int_eq(t.n, 0);
}
END_TEST

/* The pulse and relaxation: sin of the flip angle, saturation of slow lines at short D1. */
START_TEST(pulse_and_t1)
{
    struct cell_params cp;
    struct nmrsim_params p;
    struct nmrsim_truth a, b;
    char err[200];
    cell_params_default(&cp, "li");
    nmrsim_defaults(&p, "li");
    p.o1 = 245 * 116.658;   /* the metal on resonance */
    p.d1 = 20;              /* fully relaxed */
    p.p1 = p.p90;
    nmrsim_truth(&p, &cp, NULL, &a, err, sizeof err);
    ck_assert_double_eq_tol(a.flip, 90, 1e-9);
    p.p1 = p.p90 / 3;       /* 30 degrees */
    nmrsim_truth(&p, &cp, NULL, &b, err, sizeof err);
    double r = comp(&b, NMRSIM_METAL)->area / comp(&a, NMRSIM_METAL)->area;
    ck_assert_msg(fabs(r - 0.5) < 0.01, "30/90 degree signal %.4f", r);
    /* the electrolyte (T1 2 s) is saturated at D1 0.5 s and recovers at D1 20 s; the metal
     * (T1 0.15 s) much less */
    p.p1 = p.p90;
    p.d1 = 0.5;
    nmrsim_truth(&p, &cp, NULL, &a, err, sizeof err);
    p.d1 = 20;
    nmrsim_truth(&p, &cp, NULL, &b, err, sizeof err);
    ck_assert_double_gt(comp(&b, NMRSIM_ELECTROLYTE)->area,
                        2 * comp(&a, NMRSIM_ELECTROLYTE)->area);
    ck_assert_double_eq_tol(comp(&b, NMRSIM_METAL)->area / comp(&a, NMRSIM_METAL)->area, 1, 0.05);
    /* NS scans of a fully relaxed line add up to NS times one */
    ck_assert_double_eq_tol(comp(&b, NMRSIM_METAL)->area / p.ns,
                            comp(&b, NMRSIM_METAL)->amount * p.rg, 1e-3 * p.rg *
                            comp(&b, NMRSIM_METAL)->amount);
}
END_TEST

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

START_TEST(speed)
{
    struct cell_params cp;
    struct cell_state s;
    struct nmrsim_params p;
    cell_params_default(&cp, "li");
    cell_init(&s, &cp);
    nmrsim_defaults(&p, "li");
    struct cell_rng rng;
    cell_rng_seed(&rng, 1);
    char err[200];
    long tds[] = { 4096, 16384, 65536 };
    double ms16 = 0;
    for (size_t i = 0; i < ARRAY_LEN(tds); i++) {
        p.td = tds[i];
        double complex *fid = util_malloc((size_t)p.td / 2 * sizeof *fid);
        int reps = 20;
        double t0 = now_ms();
        for (int k = 0; k < reps; k++)
            ck_assert(nmrsim_fid(&p, &cp, &s, &s, &rng, fid, p.td / 2, err, sizeof err) == 0);
        double ms = (now_ms() - t0) / reps;
        p.grpdly = 67.98;   /* the FFT path */
        t0 = now_ms();
        for (int k = 0; k < reps; k++)
            ck_assert(nmrsim_fid(&p, &cp, &s, &s, &rng, fid, p.td / 2, err, sizeof err) == 0);
        double msf = (now_ms() - t0) / reps;
        p.grpdly = 76;
        printf("nmrsim FID TD %ld: %.3f ms (GRPDLY 76), %.3f ms (GRPDLY 67.98, FFT)\n", p.td, ms,
               msf);
        if (p.td == 16384)
            ms16 = fmax(ms, msf);
        free(fid);
    }
    ck_assert_msg(ms16 < 10, "TD 16k takes %.2f ms", ms16);
}
END_TEST

Suite *nmrsim_suite(void)
{
    Suite *s = suite_create("nmrsim");
    TCase *tc = tcase_create("model");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, nuclei_and_frequencies);
    tcase_add_test(tc, defaults_and_checks);
    tcase_add_test(tc, peaks_at_true_ppm);
    tcase_add_test(tc, amplitude_ratios);
    tcase_add_test(tc, noise_sqrt_ns);
    tcase_add_test(tc, match_and_gain);
    tcase_add_test(tc, plating_grows_microstructure);
    tcase_add_test(tc, references);
    tcase_add_test(tc, pulse_and_t1);
    tcase_add_test(tc, speed);
    suite_add_tcase(s, tc);
    return s;
}
