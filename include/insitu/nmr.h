/* nmr: 1D NMR processing exactly as TopSpin does it (efp + apk-style phase), on complex doubles.
 *
 * Order (DOMAIN.md section 1), which reproduces TopSpin's pdata/1/1r:
 *   1. use TDeff points when 0 < TDeff < TD (and never more than SI)
 *   2. BC_mod: 0 none; 1 "single": subtract the mean of the real and imaginary values of the
 *      last quarter taken together (one DC for both channels); 2 "quad": subtract the complex
 *      mean of the last quarter.  3..6 (polynomial / filter modes) are unsupported: an error.
 *   3. window on point k, t = k / SW_h:
 *        WDW 0 none; WDW 1 EM  w = exp(-pi LB t);
 *        WDW 2 GM  w = exp(-pi LB t - b t^2), b = -pi LB / (2 GB AQ), AQ = N / SW_h for the N
 *                  points used (TopSpin's Lorentz-to-Gauss: LB < 0, 0 < GB < 1 puts the
 *                  maximum of w at t = GB AQ).  Other WDW values are an error.
 *   4. the first point times FCOR
 *   5. zero fill to SI, FFT (FFTW_FORWARD)
 *   6. DIGMOD != 0: X[k] *= exp(+2 pi i GRPDLY k / SI), k signed in -SI/2..SI/2-1; GRPDLY -1
 *      (DSPFVS 10..13) is looked up in the Westler-Abildgaard table (nmr_grpdly_lookup)
 *   7. order 1r[j] = X[(SI/2 - j) mod SI]  (highest ppm first)
 *   8. phase S_j exp(-i (PHC0 + PHC1 j / SI) degrees): the real part is 1r; TopSpin's 1i is
 *      MINUS the imaginary part (checked against both datasets: correlation -1 otherwise)
 *   ppm_j = OFFSET - j SW_p / (SF SI)
 *
 * Workspace: a struct nmr_work holds the FFT buffer, the FFTW plan and the window and
 * phase/filter vectors (rebuilt only when the parameters change), so processing a series of
 * spectra with the same parameters allocates nothing.  FFTW plans are cached per size in a
 * static table: NOT thread-safe (FFTW planning never is); use the module from one thread. */
#ifndef INSITU_NMR_H
#define INSITU_NMR_H

#include <complex.h>

struct bruker_dataset;

struct nmr_err {
    char msg[256];
};

struct nmr_params {
    long si;           /* complex points of the spectrum (zero fill to this) */
    long tdeff;        /* complex points to use; 0: all */
    int bc_mod;        /* 0, 1, 2 */
    int wdw;           /* 0, 1 EM, 2 GM */
    double lb, gb;     /* Hz; GB a fraction of AQ */
    double fcor;       /* first point factor */
    double sw_h;       /* Hz */
    int digmod;
    double grpdly;     /* points (already resolved from the table when it was -1) */
    double phc0, phc1; /* degrees */
    double sf;         /* MHz */
    double offset;     /* ppm of point 0 */
    double sw_p;       /* Hz */
};

/* TopSpin's parameters of DS (TDeff counted in real+imag values there, complex points here);
 * resolves GRPDLY -1 through the table. */
int nmr_params_from_bruker(const struct bruker_dataset *ds, struct nmr_params *p,
                           struct nmr_err *err);
/* Group delay (points) for firmware DSPFVS 10..13 and decimation DECIM, from W. M. Westler and
 * F. Abildgaard's table; 0 for DSPFVS >= 14 (no delay recorded means none); -1 when unknown. */
double nmr_grpdly_lookup(int dspfvs, double decim);

struct nmr_work;
/* A workspace for spectra of SI points (plans the FFT once: FFTW_MEASURE for the first
 * workspace of a size, cached after). */
struct nmr_work *nmr_work_new(long si);
void nmr_work_free(struct nmr_work *w);

/* Process N complex FID points. RE (1r) and IM (1i, may be NULL) get P->si values.
 * P->si must equal the workspace's size. */
int nmr_process(struct nmr_work *w, const struct nmr_params *p, const double complex *fid,
                long n, double *re, double *im, struct nmr_err *err);
/* Pearson correlation of two spectra of N points (0 when either is flat): how TopSpin's result
 * and ours are compared. */
double nmr_correlation(const double *a, const double *b, long n);

/* The ppm of every point. */
void nmr_ppm_axis(const struct nmr_params *p, double *ppm);

/* Zero- and first-order phase (degrees, same convention as PHC0/PHC1) that make
 * Re{S_j exp(-i (phc0 + phc1 j / n))} a clean absorption spectrum: ACME, entropy of the first
 * derivative plus a penalty on negative intensity (Chen, Weng, Goh, Garland, J. Magn. Reson.
 * 158 (2002) 164), minimised by GSL's Nelder-Mead (nmsimplex2) after a coarse scan of phc0.
 * S is the unphased spectrum (RE + i IM of nmr_process with PHC0 = PHC1 = 0).
 * FIRST_ORDER 0 fixes phc1 at 0. */
int nmr_autophase_acme(const double *re, const double *im, long n, int first_order,
                       double *phc0, double *phc1, struct nmr_err *err);

#define NMR_BASELINE_MAX_ORDER 15
/* Fit a polynomial of ORDER (0..NMR_BASELINE_MAX_ORDER) to Y outside the NEXCL ppm ranges
 * EXCL[2i]..EXCL[2i+1] (either order) and subtract it from all of Y.  COEF (may be NULL) gets
 * ORDER+1 Chebyshev coefficients in t = 2 j / (n - 1) - 1.  Allocates nothing. */
int nmr_baseline_poly(double *y, const double *ppm, long n, int order, const double *excl,
                      int nexcl, double *coef, struct nmr_err *err);

#endif
