/* nmrsim: a physical model of a pulse NMR spectrometer observing the simulated metal cell
 * (cell.h), for insitu-sim's spectrometer and for tests of the NMR processing. Pure
 * computation: no I/O.
 *
 * What the FID is made of (each step is explained where it is computed, src/core/nmrsim.c):
 *   - the sample: the NMR-visible amounts of the cell (bulk metal only in its skin layer and
 *     shaded by the microstructure grown over it; microstructure, dead metal and SEI seen
 *     whole; a fixed amount of electrolyte), or a reference solid (NaCl, LiCl), each a
 *     Lorentzian line at its shift with an amplitude proportional to its number of nuclei
 *     times the nucleus' receptivity (abundance x Xi^3 x I(I+1)) times B0^2;
 *   - the magnet: the true field differs from the nominal one by field_error ppm, so an
 *     unreferenced spectrum is off by that much (referencing with NaCl/LiCl removes it);
 *   - the pulse: a rotation about the tilted effective field of each line (flip angle
 *     90 P1/P90 on resonance, less and phase-shifted off resonance), and T1 saturation over
 *     NS scans repeated every D1 + AQ + P1 (the exact sum of the Bloch recursion);
 *   - the receiver: the FID starts DE after the pulse (a first-order phase), carries the
 *     receiver phase, is delayed by the digital filter's GRPDLY points exactly as TopSpin's
 *     correction undoes it, scaled by RG and the probe match factor, clipped at the ADC's full
 *     scale, plus complex Gaussian noise of sqrt(NS) * noise * RG * sqrt(SW / 200 kHz).
 *
 * A line at shift delta (ppm) is a component exp(+i 2 pi f t) of the FID with
 *   f = BF1 ((1 + field_error 1e-6)(1 + delta 1e-6) - 1) - O1   (Hz, BF1 in Hz)
 * which nmr_process (nmr.h) with SF = BF1 and OFFSET = (O1 + SW/2) / BF1 puts at
 * delta + field_error (+ a negligible product term). */
#ifndef INSITU_NMRSIM_H
#define INSITU_NMRSIM_H

#include <complex.h>
#include <stddef.h>

#include "insitu/cell.h"

/* gamma / 2 pi of the proton, MHz/T: the 1H frequency is this times B0. */
#define NMRSIM_GAMMA_1H 42.577478

struct nmrsim_nucleus {
    const char *name;       /* "7Li" */
    const char *element;    /* "Li" */
    double xi;              /* IUPAC frequency ratio Xi, % (1H in TMS = 100) */
    double spin;            /* I */
    double abundance;       /* natural abundance, % */
    int gamma_sign;         /* sign of the gyromagnetic ratio */
};

/* The nucleus called NAME ("7Li", "7li", "23Na"; case-insensitive), or NULL. */
const struct nmrsim_nucleus *nmrsim_nucleus_find(const char *name);
/* The I-th nucleus of the table (for listings), NULL past its end. */
const struct nmrsim_nucleus *nmrsim_nucleus_at(int i);
/* BF1, MHz: the reference frequency of nucleus N in a field of FIELD_T tesla,
 * Xi/100 * NMRSIM_GAMMA_1H * FIELD_T. Note that magnets are named by a rounded field: a
 * "7.05 T" magnet whose 1H frequency is 300.13 MHz has 7.0490 T; prefer nmrsim_bf1_h1 when
 * the spectrometer's 1H frequency is known. */
double nmrsim_bf1(const struct nmrsim_nucleus *n, double field_T);
/* BF1, MHz, from the spectrometer's 1H frequency: Xi/100 * H1_MHZ (DOMAIN.md's table). */
double nmrsim_bf1_h1(const struct nmrsim_nucleus *n, double h1_MHz);

/* What is in the probe. */
enum nmrsim_sample {
    NMRSIM_SAMPLE_CELL, NMRSIM_SAMPLE_NACL, NMRSIM_SAMPLE_LICL, NMRSIM_SAMPLE_EMPTY, NMRSIM_NSAMPLES
};
const char *nmrsim_sample_name(int sample);            /* "cell", "NaCl", "LiCl", "empty" */
int nmrsim_sample_find(const char *name);              /* case-insensitive; -1 if unknown */

/* The lines a sample can show. */
enum nmrsim_comp {
    NMRSIM_METAL,        /* bulk metal, its skin layer (Knight shift) */
    NMRSIM_MICRO,        /* dendritic / mossy microstructure (Knight shift, slightly higher) */
    NMRSIM_DEAD,         /* isolated metal, also thinner than the skin depth: at the micro shift */
    NMRSIM_SEI,          /* diamagnetic ions bound in SEI (broad, long T1: mostly saturated) */
    NMRSIM_ELECTROLYTE,  /* cations of the electrolyte */
    NMRSIM_NACL,         /* reference solid NaCl (23Na 7.21 ppm against 1 M NaCl(aq)) */
    NMRSIM_LICL,         /* reference solid LiCl (7Li -1.1 ppm against 1 M LiCl(aq)) */
    NMRSIM_NCOMP
};
const char *nmrsim_comp_name(int comp);                 /* "metal", "micro", ... "NaCl" */

struct nmrsim_line {
    double ppm;          /* shift against the IUPAC reference of the nucleus */
    double fwhm;         /* ppm, full width at half height of the Lorentzian */
    double t1;           /* s, longitudinal relaxation */
};

struct nmrsim_params {
    char nucleus[8];     /* "7Li" */
    double field;        /* T, nominal B0: BF1 = nmrsim_bf1(nucleus, field) */
    double field_error;  /* ppm, true field = field (1 + field_error 1e-6) */
    double o1;           /* Hz, carrier offset from BF1 */
    double sw;           /* Hz, spectral width (the dwell time is 1/SW) */
    long td;             /* real + imaginary values of the FID (Bruker's TD), even */
    long ns;             /* scans */
    double d1;           /* s, relaxation delay */
    double rg;           /* receiver gain: scales signal and noise */
    double p1, p90;      /* us, the pulse and the 90 degree pulse of this probe */
    double de;           /* us, dead time: the first point is taken DE after the pulse */
    double grpdly;       /* points, the digital filter's group delay; 0: none (DIGMOD 0) */
    double phase;        /* degrees, receiver phase */
    double noise;        /* per scan, per channel, at RG 1 and SW 200 kHz (signal units) */
    double match;        /* probe match factor 0..1: received power 1 - |Gamma|^2, x signal */
    double adc_max;      /* per scan, the ADC's full scale after RG (signal units); 0: none */
    int sample;          /* enum nmrsim_sample */
    struct nmrsim_line line[NMRSIM_NCOMP];
    double electrolyte;  /* C, the electrolyte's cations in the coil, as charge */
    double q_shade;      /* C of microstructure on an electrode that shades its bulk signal
                          * to 1/e; 0: one skin layer of that electrode */
    double reference;    /* C, the NaCl or LiCl of a reference sample, as charge */
};

/* Defaults for a cell of METAL "li" or "na" (NULL: li): nucleus 7Li / 23Na, 7.05 T, O1 0,
 * SW 200 kHz, TD 4096, NS 64, D1 0.5 s, RG 32, P1 2.5 us (P90 5 us: a 45 degree pulse),
 * DE 6.5 us, GRPDLY 76, phase 37 degrees, field error +2.4 ppm, and the lines documented in
 * nmrsim.c. Returns 0, or -1 for another metal. */
int nmrsim_defaults(struct nmrsim_params *p, const char *metal);
/* Is P usable? 0, or -1 with the reason ("TD 63: must be even, 64..1048576"). */
int nmrsim_check(const struct nmrsim_params *p, char *err, size_t errlen);

/* The acquisition time AQ = TD/2 / SW and the duration of ZG, NS (D1 + AQ + P1), seconds. */
double nmrsim_aq(const struct nmrsim_params *p);
double nmrsim_duration(const struct nmrsim_params *p);

struct nmrsim_component {
    const char *name;    /* nmrsim_comp_name */
    int comp;            /* enum nmrsim_comp */
    double ppm;          /* shift: where a referenced spectrum shows it */
    double ppm_obs;      /* where it lands on the spectrometer's own scale (+ field error) */
    double fwhm;         /* ppm */
    double hz;           /* offset from SFO1 */
    int in_window;       /* |hz| < SW/2: otherwise the digital filter removes it */
    double amount;       /* C: the element's atoms the coil sees, as charge (atoms x e) */
    double area;         /* FID amplitude at t = 0 (the pulse), all scans: the spectral area */
};

struct nmrsim_truth {
    int n;
    struct nmrsim_component c[NMRSIM_NCOMP];
    double bf1, sfo1;    /* MHz */
    double flip;         /* degrees, on resonance */
    double noise;        /* standard deviation per FID point and channel */
    /* TopSpin's PHC0 / PHC1 (degrees) that phase the spectrum to absorption: the receiver
     * phase and the time from the pulse's effective centre to the first point (DE plus the
     * pulse's own off-resonance phase, linearised). */
    double phc0, phc1;
};

/* The lines the sample shows with parameters P. For the cell sample CP and S are the cell
 * (a fresh cell when S is NULL); the other samples ignore them. Returns 0 or -1. */
int nmrsim_truth(const struct nmrsim_params *p, const struct cell_params *cp,
                 const struct cell_state *s, struct nmrsim_truth *t, char *err, size_t errlen);

/* The FID of an acquisition with P (P->ns scans) during which the cell went from S0 to S1
 * (the sample is the mean of the two: a linear change over the acquisition); S1 NULL: S0.
 * OUT gets NPOINTS = P->td / 2 complex points, as Bruker's fid with DIGMOD 1 and GRPDLY
 * P->grpdly. RNG gives the noise. Returns 0, 1 when the ADC overflowed (the FID is clipped),
 * or -1 with err. TD 16k takes well under a millisecond (no allocation for integer GRPDLY). */
int nmrsim_fid(const struct nmrsim_params *p, const struct cell_params *cp,
               const struct cell_state *s0, const struct cell_state *s1, struct cell_rng *rng,
               double complex *out, long npoints, char *err, size_t errlen);

#endif
