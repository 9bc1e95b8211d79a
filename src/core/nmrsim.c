/* nmrsim: the spectrometer model behind insitu-sim's `nmrsim` (see nmrsim.h for the parts and
 * the frequency convention). Everything here is in the spectrometer's rotating frame at SFO1:
 * a line is one damped complex exponential, its complex amplitude fixed by the sample, the
 * pulse and the receiver, so a FID costs a few complex multiplications a point. */
#include "insitu/nmrsim.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <fftw3.h>

#include "insitu/util.h"

/* As nmr.c: glibc has CMPLX only for GCC; clang (the fuzz build) gets this equivalent. */
#ifndef CMPLX
#define CMPLX(x, y) ((double complex)((double)(x) + I * (double)(y)))
#endif

#define NMRSIM_AH 3600.0          /* C per A h */
#define NMRSIM_SW_REF 200e3       /* Hz: the bandwidth P->noise is given for */
#define NMRSIM_FIELD_REF 7.05     /* T: the field the signal unit is defined at */

/* IUPAC recommendations 2001 (R. K. Harris et al., Pure Appl. Chem. 73 (2001) 1795): Xi,
 * spin, natural abundance. The sign of gamma only matters to whoever wires the receiver. */
static const struct nmrsim_nucleus nmrsim_nuclei[] = {
    { "1H", "H", 100.000000, 0.5, 99.9885, 1 },
    { "2H", "H", 15.350609, 1.0, 0.0115, 1 },
    { "6Li", "Li", 14.716086, 1.0, 7.59, 1 },
    { "7Li", "Li", 38.863797, 1.5, 92.41, 1 },
    { "11B", "B", 32.083974, 1.5, 80.1, 1 },
    { "13C", "C", 25.145020, 0.5, 1.07, 1 },
    { "15N", "N", 10.136767, 0.5, 0.368, -1 },
    { "17O", "O", 13.556457, 2.5, 0.038, -1 },
    { "19F", "F", 94.094011, 0.5, 100.0, 1 },
    { "23Na", "Na", 26.451900, 1.5, 100.0, 1 },
    { "27Al", "Al", 26.056859, 2.5, 100.0, 1 },
    { "29Si", "Si", 19.867187, 0.5, 4.6832, -1 },
    { "31P", "P", 40.480742, 0.5, 100.0, 1 },
};

const struct nmrsim_nucleus *nmrsim_nucleus_find(const char *name)
{
    for (size_t i = 0; name && i < ARRAY_LEN(nmrsim_nuclei); i++)
        if (!strcasecmp(name, nmrsim_nuclei[i].name))
            return &nmrsim_nuclei[i];
    return NULL;
}

const struct nmrsim_nucleus *nmrsim_nucleus_at(int i)
{
    return i >= 0 && i < (int)ARRAY_LEN(nmrsim_nuclei) ? &nmrsim_nuclei[i] : NULL;
}

double nmrsim_bf1(const struct nmrsim_nucleus *n, double field_T)
{
    return nmrsim_bf1_h1(n, NMRSIM_GAMMA_1H * field_T);
}

double nmrsim_bf1_h1(const struct nmrsim_nucleus *n, double h1_MHz)
{
    return n->xi / 100 * h1_MHz;
}

/* Signal per atom relative to 7Li per Li atom: the fraction of atoms that are this isotope
 * times gamma^3 I(I+1), the induced voltage of a Curie magnetisation (polarisation ~ gamma B0,
 * moment ~ gamma, precession ~ gamma B0). */
static double nmrsim_receptivity(const struct nmrsim_nucleus *n)
{
    static const double li7_xi = 38.863797, li7_ab = 92.41, li7_ii = 1.5 * 2.5;
    double x = n->xi / li7_xi;
    return n->abundance / li7_ab * x * x * x * n->spin * (n->spin + 1) / li7_ii;
}

static const char *const nmrsim_sample_names[NMRSIM_NSAMPLES] = { "cell", "NaCl", "LiCl",
                                                                  "empty" };
static const char *const nmrsim_comp_names[NMRSIM_NCOMP] = {
    "metal", "micro", "dead", "sei", "electrolyte", "NaCl", "LiCl",
};

const char *nmrsim_sample_name(int sample)
{
    return sample >= 0 && sample < NMRSIM_NSAMPLES ? nmrsim_sample_names[sample] : NULL;
}

int nmrsim_sample_find(const char *name)
{
    for (int i = 0; i < NMRSIM_NSAMPLES; i++)
        if (!strcasecmp(name, nmrsim_sample_names[i]))
            return i;
    return -1;
}

const char *nmrsim_comp_name(int comp)
{
    return comp >= 0 && comp < NMRSIM_NCOMP ? nmrsim_comp_names[comp] : NULL;
}

/* --- parameters -------------------------------------------------------------------------- */

int nmrsim_defaults(struct nmrsim_params *p, const char *metal)
{
    int na = metal && !strcmp(metal, "na");
    if (metal && !na && strcmp(metal, "li"))
        return -1;
    memset(p, 0, sizeof *p);
    snprintf(p->nucleus, sizeof p->nucleus, "%s", na ? "23Na" : "7Li");
    p->field = 7.05;
    p->field_error = 2.4;     /* a magnet a little off its nominal field, as real ones are */
    p->o1 = 0;
    p->sw = 200e3;            /* 1714 ppm of 7Li at 7 T: metal, microstructure and salts */
    p->td = 4096;
    p->ns = 64;
    p->d1 = 0.5;
    p->rg = 32;
    p->p1 = 2.5;
    p->p90 = 5.0;             /* 50 kHz nutation; P1 2.5 us is then a 45 degree pulse */
    p->de = 6.5;
    p->grpdly = 76;           /* DSPFVS 20, DIGMOD 1 */
    p->phase = 37;
    /* Signal unit: 1 C of Li atoms, 7Li, 7.05 T, one fully relaxed 90 degree scan, RG 1 gives
     * a FID of amplitude 1. The default cell's skin layers hold ~37 C, so with these
     * defaults the metal peak of a fresh cell has a S/N of ~170 at NS 64 (LB 50 Hz). */
    p->noise = 2.0;
    p->match = 1;
    p->adc_max = 32768;       /* the default cell overflows from about RG 1200 */
    p->sample = NMRSIM_SAMPLE_CELL;
    /* The cell's lines (DOMAIN.md section 1 and the papers cited there). Widths are static
     * lines broadened by the cell's susceptibility: the groups' pseudo-Voigt fits of Li metal
     * have sigma ~5 ppm (FWHM ~12); microstructure is broader (a spread of shapes and of
     * demagnetising fields). Metals relax by conduction electrons (Korringa, T1 T of tens of
     * s K for 7Li in Li): T1 ~0.1 s for Li and ~20 ms for Na, far below D1. */
    if (!na) {
        p->line[NMRSIM_METAL] = (struct nmrsim_line){ 245, 12, 0.15 };
        p->line[NMRSIM_MICRO] = (struct nmrsim_line){ 265, 15, 0.15 };
        p->line[NMRSIM_DEAD] = (struct nmrsim_line){ 265, 15, 0.15 };
        /* Li2CO3, LiF, Li2O near 0 ppm; a rigid solid: broad and slow to relax */
        p->line[NMRSIM_SEI] = (struct nmrsim_line){ 0, 10, 10 };
        /* 1 M LiPF6 in EC/DMC against 1 M LiCl(aq); liquid, T1 of seconds */
        p->line[NMRSIM_ELECTROLYTE] = (struct nmrsim_line){ -1, 2, 2 };
    } else {
        /* bcc Na is cubic: no quadrupolar broadening of the metal line */
        p->line[NMRSIM_METAL] = (struct nmrsim_line){ 1135, 8, 0.02 };
        p->line[NMRSIM_MICRO] = (struct nmrsim_line){ 1141, 10, 0.02 };
        p->line[NMRSIM_DEAD] = (struct nmrsim_line){ 1141, 10, 0.02 };
        /* NaF, Na2CO3: quadrupolar 23Na in disordered solids, broad */
        p->line[NMRSIM_SEI] = (struct nmrsim_line){ 0, 30, 1 };
        /* NaPF6 in carbonates: solvated Na+ lies a few ppm below 1 M NaCl(aq) (values from -2
         * to -10 ppm are reported for different salts and solvents); quadrupolar
         * relaxation makes T1 short */
        p->line[NMRSIM_ELECTROLYTE] = (struct nmrsim_line){ -5, 3, 0.03 };
    }
    /* Reference solids (DOMAIN.md section 1); cubic, dipolar-broadened, slow to relax */
    p->line[NMRSIM_NACL] = (struct nmrsim_line){ 7.21, 4, 10 };
    p->line[NMRSIM_LICL] = (struct nmrsim_line){ -1.1, 8, 30 };
    p->electrolyte = 4.8;     /* 50 uL of a 1 M salt in the coil: 5e-5 mol x F */
    p->q_shade = 0;
    p->reference = 50;        /* ~0.5 mmol of NaCl or LiCl */
    return 0;
}

static int nmrsim_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int nmrsim_fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int nmrsim_check(const struct nmrsim_params *p, char *err, size_t errlen)
{
    if (!nmrsim_nucleus_find(p->nucleus))
        return nmrsim_fail(err, errlen, "nucleus \"%s\": unknown", p->nucleus);
    if (!(p->field > 0 && p->field <= 100))
        return nmrsim_fail(err, errlen, "field %g T: must be in (0, 100]", p->field);
    if (!(fabs(p->field_error) <= 1e4))
        return nmrsim_fail(err, errlen, "field error %g ppm: must be within +-1e4", p->field_error);
    if (!isfinite(p->o1))
        return nmrsim_fail(err, errlen, "O1 %g: not finite", p->o1);
    if (!(p->sw > 0 && isfinite(p->sw)))
        return nmrsim_fail(err, errlen, "SW %g: must be > 0", p->sw);
    if (p->td < 2 || p->td % 2 || p->td > (1L << 27))
        return nmrsim_fail(err, errlen, "TD %ld: must be even, 2..2^27", p->td);
    if (p->ns < 1)
        return nmrsim_fail(err, errlen, "NS %ld: must be >= 1", p->ns);
    if (!(p->d1 >= 0 && isfinite(p->d1)))
        return nmrsim_fail(err, errlen, "D1 %g: must be >= 0", p->d1);
    if (!(p->rg > 0 && isfinite(p->rg)))
        return nmrsim_fail(err, errlen, "RG %g: must be > 0", p->rg);
    if (!(p->p1 >= 0 && isfinite(p->p1)) || !(p->p90 > 0 && isfinite(p->p90)))
        return nmrsim_fail(err, errlen, "P1 %g, P90 %g: P1 >= 0, P90 > 0", p->p1, p->p90);
    if (!(p->de >= 0 && isfinite(p->de)))
        return nmrsim_fail(err, errlen, "DE %g: must be >= 0", p->de);
    if (!(p->grpdly >= 0 && p->grpdly < (double)(p->td / 2)))
        return nmrsim_fail(err, errlen, "GRPDLY %g: must be in [0, TD/2)", p->grpdly);
    if (!isfinite(p->phase))
        return nmrsim_fail(err, errlen, "phase %g: not finite", p->phase);
    if (!(p->noise >= 0 && isfinite(p->noise)))
        return nmrsim_fail(err, errlen, "noise %g: must be >= 0", p->noise);
    if (!(p->match >= 0 && p->match <= 1))
        return nmrsim_fail(err, errlen, "match %g: must be in [0, 1]", p->match);
    if (!(p->adc_max >= 0 && isfinite(p->adc_max)))
        return nmrsim_fail(err, errlen, "ADC full scale %g: must be >= 0", p->adc_max);
    if (!nmrsim_sample_name(p->sample))
        return nmrsim_fail(err, errlen, "sample %d: unknown", p->sample);
    for (int c = 0; c < NMRSIM_NCOMP; c++) {
        const struct nmrsim_line *l = &p->line[c];
        if (!isfinite(l->ppm) || !(l->fwhm > 0 && isfinite(l->fwhm)) || !(l->t1 > 0))
            return nmrsim_fail(err, errlen, "%s line: ppm finite, FWHM and T1 > 0",
                               nmrsim_comp_names[c]);
    }
    if (!(p->electrolyte >= 0) || !(p->q_shade >= 0) || !(p->reference >= 0))
        return nmrsim_fail(err, errlen, "electrolyte, q_shade and reference must be >= 0");
    return 0;
}

double nmrsim_aq(const struct nmrsim_params *p)
{
    return (double)(p->td / 2) / p->sw;
}

double nmrsim_duration(const struct nmrsim_params *p)
{
    return (double)p->ns * (p->d1 + nmrsim_aq(p) + p->p1 * 1e-6);
}

/* --- the sample -------------------------------------------------------------------------- */

/* The frequency a cell file's skin_depth is given for: the metal's NMR line on a 300.13 MHz
 * spectrometer (the cell files say "7Li at 116.6 MHz", "23Na at 79.4 MHz"). */
static double nmrsim_skin_ref_MHz(const struct cell_params *cp)
{
    return !strcmp(cp->metal, "na") ? 79.390 : 116.642;
}

/* AMOUNT[c] (C) of each line's nuclei that the coil sees; returns a mask of the lines the
 * sample has (for this nucleus' element). */
static unsigned nmrsim_amounts(const struct nmrsim_params *p, const struct nmrsim_nucleus *nuc,
                               double bf1, const struct cell_params *cp,
                               const struct cell_state *s, double amount[NMRSIM_NCOMP])
{
    memset(amount, 0, NMRSIM_NCOMP * sizeof *amount);
    switch (p->sample) {
    case NMRSIM_SAMPLE_NACL:
        if (strcmp(nuc->element, "Na"))
            return 0;
        amount[NMRSIM_NACL] = p->reference;
        return 1u << NMRSIM_NACL;
    case NMRSIM_SAMPLE_LICL:
        if (strcmp(nuc->element, "Li"))
            return 0;
        amount[NMRSIM_LICL] = p->reference;
        return 1u << NMRSIM_LICL;
    case NMRSIM_SAMPLE_CELL:
        break;
    default:
        return 0;
    }
    if (!cp || strcasecmp(nuc->element, cp->metal))
        return 0;   /* a Li cell has no 23Na, and so on */
    struct cell_state fresh;
    if (!s) {
        cell_init(&fresh, cp);
        s = &fresh;
    }
    /* Bulk metal: the rf field penetrates a conductor only to the skin depth, which goes as
     * 1/sqrt(frequency); an electrode with less metal than that shows all it has. */
    double skin = cell_visible_metal_Ah(cp) * NMRSIM_AH / 2 * sqrt(nmrsim_skin_ref_MHz(cp) / bf1);
    /* Microstructure grown over an electrode is itself a conductor in the way of the rf
     * field: its bulk signal falls as exp(-micro / q_shade). One skin layer's worth of moss
     * for 1/e makes the seed's 7.5 Ah (microstructure ~60 % of the visible metal, all on
     * one electrode) cut the bulk peak by ~35 %, as the ATMC series' ~40 %. */
    double qs = p->q_shade > 0 ? p->q_shade : skin;
    for (int e = 0; e < 2; e++)
        amount[NMRSIM_METAL] += fmin(fmax(s->metal[e], 0), skin) * exp(-fmax(s->micro[e], 0) / qs);
    /* Microstructure and dead metal are thinner than the skin depth: seen whole. */
    amount[NMRSIM_MICRO] = fmax(s->micro[CELL_A], 0) + fmax(s->micro[CELL_B], 0);
    /* cell.c keeps dead metal and SEI in one sum; SEI grows by sei_fraction of the charge
     * plated (at most the throughput), the rest is isolated metal. */
    double sei = fmin(fmax(s->dead, 0), cp->sei_fraction * s->throughput);
    amount[NMRSIM_SEI] = sei;
    amount[NMRSIM_DEAD] = s->dead - sei > 1e-9 * s->dead ? s->dead - sei : 0;   /* not rounding */
    amount[NMRSIM_ELECTROLYTE] = p->electrolyte;
    return 1u << NMRSIM_METAL | 1u << NMRSIM_MICRO | 1u << NMRSIM_DEAD | 1u << NMRSIM_SEI |
           1u << NMRSIM_ELECTROLYTE;
}

/* --- the pulse and relaxation -------------------------------------------------------------- */

/* The transverse magnetisation (units of M0, receiver phase 0) that NS scans add up to for a
 * line HZ off resonance with T1. The pulse is a rotation by beta = 2 pi nu_eff P1 about the
 * effective field (nu1, 0, HZ) / nu_eff, nu1 = 1 / (4 P90); from +z it leaves
 *   M+ ~ a sin(beta) + i a c (1 - cos(beta)),  Mz' = cos(beta) + c^2 (1 - cos(beta))
 * with a = nu1/nu_eff, c = HZ/nu_eff (the phase is turned so that an on-resonance pulse gives
 * a real positive signal). Between pulses Mz recovers: Mz(k+1) = 1 + (Mz' Mz(k) - 1) E,
 * E = exp(-TR/T1), TR = D1 + AQ + P1, Mz(1) = 1: a geometric approach to the steady state
 * Mss = (1 - E) / (1 - r), r = E Mz'/Mz, whose sum over NS scans is exact. FIRST gets the
 * first scan alone (for the ADC). */
static double complex nmrsim_excite(const struct nmrsim_params *p, double hz, double t1,
                                    double complex *first)
{
    double nu1 = 1 / (4 * p->p90 * 1e-6), ne = hypot(nu1, hz);
    double a = nu1 / ne, c = hz / ne, beta = 2 * M_PI * ne * p->p1 * 1e-6;
    double cb = cos(beta), sb = sin(beta);
    double complex x = CMPLX(a * sb, a * c * (1 - cb));
    double mz = cb + c * c * (1 - cb);
    double tr = p->d1 + nmrsim_aq(p) + p->p1 * 1e-6;
    double e = exp(-tr / t1), r = e * mz, ns = (double)p->ns, sum;
    if (fabs(1 - r) < 1e-12) {
        sum = ns;   /* no pulse and no relaxation: Mz stays M0 */
    } else {
        double mss = (1 - e) / (1 - r);
        sum = ns * mss + (1 - mss) * (1 - pow(r, ns)) / (1 - r);
    }
    *first = x;
    return x * sum;
}

/* --- truth ------------------------------------------------------------------------------- */

struct nmrsim_lines {
    int n;
    int comp[NMRSIM_NCOMP];
    double hz[NMRSIM_NCOMP], gamma_hz[NMRSIM_NCOMP];
    double complex amp[NMRSIM_NCOMP];     /* all scans, receiver gain, match, receiver phase */
    double first[NMRSIM_NCOMP];           /* |amplitude| of the first scan alone */
};

/* The truth and the lines of the FID for the mean of the samples S0 and S1. */
static int nmrsim_build(const struct nmrsim_params *p, const struct cell_params *cp,
                        const struct cell_state *s0, const struct cell_state *s1,
                        struct nmrsim_truth *t, struct nmrsim_lines *ln, char *err, size_t errlen)
{
    if (nmrsim_check(p, err, errlen) < 0)
        return -1;
    if (p->sample == NMRSIM_SAMPLE_CELL && !cp)
        return nmrsim_fail(err, errlen, "the cell sample needs the cell's parameters");
    const struct nmrsim_nucleus *nuc = nmrsim_nucleus_find(p->nucleus);
    memset(t, 0, sizeof *t);
    memset(ln, 0, sizeof *ln);
    double bf1 = nmrsim_bf1(nuc, p->field);
    t->bf1 = bf1;
    t->sfo1 = bf1 + p->o1 * 1e-6;
    double a0[NMRSIM_NCOMP], a1[NMRSIM_NCOMP];
    unsigned have = nmrsim_amounts(p, nuc, bf1, cp, s0, a0);
    if (s1)
        nmrsim_amounts(p, nuc, bf1, cp, s1, a1);
    else
        memcpy(a1, a0, sizeof a1);
    double b = p->field / NMRSIM_FIELD_REF;
    double k = nmrsim_receptivity(nuc) * b * b * p->match * p->rg;
    double eps = p->field_error * 1e-6;
    double complex rx = cexp(I * p->phase * M_PI / 180);
    for (int c = 0; c < NMRSIM_NCOMP; c++) {
        if (!(have & 1u << c))
            continue;
        const struct nmrsim_line *l = &p->line[c];
        struct nmrsim_component *o = &t->c[t->n++];
        double d = l->ppm * 1e-6;
        o->name = nmrsim_comp_names[c];
        o->comp = c;
        o->ppm = l->ppm;
        o->ppm_obs = ((1 + eps) * (1 + d) - 1) * 1e6;
        o->fwhm = l->fwhm;
        o->hz = bf1 * 1e6 * ((1 + eps) * (1 + d) - 1) - p->o1;
        o->in_window = fabs(o->hz) < p->sw / 2;
        o->amount = (a0[c] + a1[c]) / 2;   /* linear over the acquisition */
        double complex first;
        double complex x = nmrsim_excite(p, o->hz, l->t1, &first);
        double complex amp = k * o->amount * x;
        o->area = cabs(amp);
        if (o->in_window && o->amount > 0) {
            int i = ln->n++;
            ln->comp[i] = c;
            ln->hz[i] = o->hz;
            ln->gamma_hz[i] = l->fwhm * bf1;   /* ppm x MHz = Hz */
            ln->amp[i] = amp * rx;
            ln->first[i] = k * o->amount * cabs(first);
        }
    }
    /* The linear phase: the first point is DE after the pulse, and an off-resonance line has
     * turned by about 2 pi HZ tau during the pulse, tau = tan(beta/2) / (2 pi nu1) (the slope
     * of arg M+ at c = 0: 2 P90/pi for a 90 degree pulse, P1/2 for a short one). */
    double nu1 = 1 / (4 * p->p90 * 1e-6), beta = 2 * M_PI * nu1 * p->p1 * 1e-6;
    double tau = p->p1 * 1e-6 / 2;
    if (fabs(cos(beta / 2)) > 0.15)
        tau = tan(beta / 2) / (2 * M_PI * nu1);
    double teff = p->de * 1e-6 + tau;
    t->phc0 = remainder(p->phase + 180 * p->sw * teff, 360);
    t->phc1 = -360 * p->sw * teff;
    t->flip = 90 * p->p1 / p->p90;
    t->noise = p->noise * p->rg * sqrt((double)p->ns) * sqrt(p->sw / NMRSIM_SW_REF);
    return 0;
}

int nmrsim_truth(const struct nmrsim_params *p, const struct cell_params *cp,
                 const struct cell_state *s, struct nmrsim_truth *t, char *err, size_t errlen)
{
    struct nmrsim_lines ln;
    return nmrsim_build(p, cp, s, NULL, t, &ln, err, errlen);
}

/* --- the FID ----------------------------------------------------------------------------- */

/* Sum of the lines at grid points M0 .. M0+N-1 (time DE + m / SW) into OUT (added). The
 * exponential is stepped by one complex multiplication a point and recomputed every 4096
 * points, so rounding never accumulates beyond ~1e-12. */
static void nmrsim_lines_add(const struct nmrsim_params *p, const struct nmrsim_lines *ln,
                             long m0, long n, double *out)
{
    double dt = 1 / p->sw, t0 = p->de * 1e-6;
    for (int i = 0; i < ln->n; i++) {
        double complex lam = CMPLX(-M_PI * ln->gamma_hz[i], 2 * M_PI * ln->hz[i]);
        double complex w = cexp(lam * dt);
        double wr = creal(w), wi = cimag(w);
        for (long j = 0; j < n; j += 4096) {
            long end = j + 4096 < n ? j + 4096 : n;
            double complex z = ln->amp[i] * cexp(lam * (t0 + (double)(m0 + j) * dt));
            double zr = creal(z), zi = cimag(z);
            for (long m = j; m < end; m++) {
                out[2 * m] += zr;
                out[2 * m + 1] += zi;
                double r = zr * wr - zi * wi;
                zi = zr * wi + zi * wr;
                zr = r;
            }
        }
        /* The receiver opens at the first point: the signal steps from nothing to the FID
         * there, and a band-limited (digitally filtered) step is half way up at its instant. */
        if (m0 == 0 && n > 0) {
            double complex z = ln->amp[i] * cexp(lam * t0);
            out[0] -= creal(z) / 2;
            out[1] -= cimag(z) / 2;
        }
    }
}

/* FFTW plans for the fractional group delay, per size (ESTIMATE: planning costs microseconds).
 * Static and not thread-safe, as nmr.c's. */
struct nmrsim_plan {
    long n;
    fftw_plan fwd, bwd;
};
static struct nmrsim_plan nmrsim_plans[4];
static int nmrsim_plan_next;

static const struct nmrsim_plan *nmrsim_plan_get(long n, fftw_complex *buf)
{
    for (size_t i = 0; i < ARRAY_LEN(nmrsim_plans); i++)
        if (nmrsim_plans[i].fwd && nmrsim_plans[i].n == n)
            return &nmrsim_plans[i];
    struct nmrsim_plan *pl = &nmrsim_plans[nmrsim_plan_next];
    nmrsim_plan_next = (nmrsim_plan_next + 1) % (int)ARRAY_LEN(nmrsim_plans);
    if (pl->fwd) {
        fftw_destroy_plan(pl->fwd);
        fftw_destroy_plan(pl->bwd);
    }
    pl->n = n;
    pl->fwd = fftw_plan_dft_1d((int)n, buf, buf, FFTW_FORWARD, FFTW_ESTIMATE);
    pl->bwd = fftw_plan_dft_1d((int)n, buf, buf, FFTW_BACKWARD, FFTW_ESTIMATE);
    return pl;
}

int nmrsim_fid(const struct nmrsim_params *p, const struct cell_params *cp,
               const struct cell_state *s0, const struct cell_state *s1, struct cell_rng *rng,
               double complex *out, long npoints, char *err, size_t errlen)
{
    struct nmrsim_truth t;
    struct nmrsim_lines ln;
    if (nmrsim_build(p, cp, s0, s1, &t, &ln, err, errlen) < 0)
        return -1;
    long m = p->td / 2, n2 = 2 * m;
    if (npoints != m)
        return nmrsim_fail(err, errlen, "%ld points asked for, TD %ld has %ld", npoints, p->td, m);
    double *o = (double *)out;   /* C11 6.2.5: a complex is laid out as two doubles */
    memset(o, 0, (size_t)m * 2 * sizeof *o);
    /* The digital filter delays the signal by GRPDLY points; TopSpin undoes it by multiplying
     * bin k (signed) of the SI-point spectrum by exp(+2 pi i GRPDLY k / SI). Its inverse on a
     * grid twice the FID: the ideal FID x on 2M points, y = IFFT(FFT(x) exp(-2 pi i G k / 2M)),
     * keep y[0..M). For an integer G that is the circular shift y[n] = x[(n - G) mod 2M]:
     * the first G points are the far tail of x (almost nothing, as a real filter's run-in),
     * then the FID. A fractional G goes through the FFT. */
    double g = p->grpdly;
    if (g == floor(g)) {
        long gi = (long)g;
        nmrsim_lines_add(p, &ln, n2 - gi, gi, o);
        nmrsim_lines_add(p, &ln, 0, m - gi, o + 2 * gi);
    } else {
        fftw_complex *buf = fftw_malloc((size_t)n2 * sizeof *buf);
        double *b = (double *)buf;
        memset(b, 0, (size_t)n2 * 2 * sizeof *b);
        nmrsim_lines_add(p, &ln, 0, n2, b);
        const struct nmrsim_plan *pl = nmrsim_plan_get(n2, buf);
        fftw_execute_dft(pl->fwd, buf, buf);
        for (long k = 0; k < n2; k++) {
            long ks = k >= m ? k - n2 : k;   /* signed, -M .. M-1 as TopSpin's */
            double ang = -2 * M_PI * g * (double)ks / (double)n2, c = cos(ang), s = sin(ang);
            double xr = b[2 * k], xi = b[2 * k + 1];
            b[2 * k] = (xr * c - xi * s) / (double)n2;
            b[2 * k + 1] = (xr * s + xi * c) / (double)n2;
        }
        fftw_execute_dft(pl->bwd, buf, buf);
        memcpy(o, b, (size_t)m * 2 * sizeof *o);
        fftw_free(buf);
    }
    /* The ADC sees each scan: when the first (largest) scan's lines together exceed the full
     * scale, every scan is clipped there. Approximated on the sum: clipped at the full scale
     * times the effective number of scans (the sum's amplitude over the first scan's). */
    int overflow = 0;
    if (p->adc_max > 0) {
        double sum = 0, first = 0;
        for (int i = 0; i < ln.n; i++) {
            sum += cabs(ln.amp[i]);
            first += ln.first[i];
        }
        if (first > p->adc_max) {
            overflow = 1;
            double lim = p->adc_max * sum / first;
            for (long i = 0; i < 2 * m; i++)
                o[i] = fmax(-lim, fmin(lim, o[i]));
        }
    }
    if (t.noise > 0 && rng)
        for (long i = 0; i < 2 * m; i++)
            o[i] += t.noise * cell_rng_gauss(rng);
    return overflow;
}
