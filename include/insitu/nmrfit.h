/* nmrfit: peak areas of a 1D spectrum, by integration and by a joint least-squares fit of
 * overlapping peaks (DOMAIN.md section 1: the 7Li metal peak at ~245 ppm and the
 * microstructure shoulder at ~265 ppm overlap and are tracked through a series).
 *
 * Spectra are y[j] over ppm[j]; the axis may run either way (TopSpin's is decreasing) and is
 * assumed monotonic and uniform-ish (only monotonic matters).  Areas are in intensity * ppm
 * everywhere, so a fitted area and nmrfit_integrate of the same peak compare directly.
 *
 * The fit (nmrfit_fit) models, inside the window [wlo, whi] ppm,
 *     y(x) = base0 + base1 * x + sum_k area_k * profile_k(x)
 * with area-normalised profiles, and minimises the unweighted sum of squared residuals over
 * all peaks jointly.  The model is linear in the areas and the baseline, so GSL's
 * trust-region Levenberg-Marquardt (gsl_multifit_nlinear) iterates on positions, widths and
 * eta only, with the areas and the baseline solved by linear least squares at every step
 * (variable projection: the same minimum in fewer iterations).  The fitted area of a peak is
 * its profile's integral over ALL ppm, not only over the window.
 * Bounds are smooth transforms, so the solver itself is unconstrained:
 *     position  lo + (hi - lo) (1 + tanh u) / 2
 *     widths    log-logistic between max(NMRFIT_FWHM_MIN, 2 point spacings) and
 *               NMRFIT_FWHM_MAX (a line narrower than two points could hide between them)
 *     eta       logistic(v)
 *     area      free (may come out negative where the data hold no such peak: an honest
 *               estimate of zero, which keeps averages over a series unbiased)
 * Errors are 1 sigma, from the covariance of all parameters (areas, positions, widths, eta,
 * baseline) at the solution (gsl_multifit_nlinear_covar), scaled by chi2/dof.  It is taken in
 * the physical parameters, which equals propagating the transformed one through the
 * transforms' derivatives but stays meaningful where a bound is reached and tanh saturates.
 * Convergence: GSL's step and gradient tests, or an iteration that lowers chi2 by less than
 * 1e-4 of the noise variance (parameters then move by ~0.01 of their errors); at most
 * NMRFIT_MAX_ITER iterations.  A peak that the data do not show (a shoulder before plating)
 * often shrinks onto a noise spike two points wide: its area is then small with an error as
 * large; its position and width mean nothing.
 *
 * Not thread-safe: GSL's error handler is switched off for the duration of a call. */
#ifndef INSITU_NMRFIT_H
#define INSITU_NMRFIT_H

#define NMRFIT_MAX_PEAKS 16
#define NMRFIT_MAX_ITER 100
#define NMRFIT_FWHM_MIN 0.05   /* ppm: bounds of every width (FWHM, Gaussian and Lorentzian) */
#define NMRFIT_FWHM_MAX 500.0

/* Integral of Y over ppm in [min(lo,hi), max(lo,hi)]: trapezoid rule, with the end intervals
 * cut at the limits by linear interpolation (so exact for piecewise-linear data); limits
 * outside the data are clipped to it.  Positive for a positive peak whatever the direction of
 * the axis.  Units intensity * ppm.  0 for n < 2 or a range outside the data; NaN when a value
 * inside the range is NaN. */
double nmrfit_integrate(const double *ppm, const double *y, long n, double lo, double hi);

enum nmrfit_shape {
    NMRFIT_PVOIGT,   /* eta L + (1 - eta) G, both with the same FWHM */
    NMRFIT_VOIGT,    /* Gaussian (gfwhm) convolved with Lorentzian (lfwhm): libcerf's voigt() */
    NMRFIT_LORENTZ,
    NMRFIT_GAUSS,
};
#define NMRFIT_NSHAPES 4

/* "pvoigt", "voigt", "lorentz", "gauss"; "?" for a value out of range. */
const char *nmrfit_shape_name(enum nmrfit_shape s);
/* The inverse (also accepts "pseudo-voigt", "lorentzian", "gaussian"); 0, or -1 when unknown. */
int nmrfit_shape_parse(const char *name, enum nmrfit_shape *s);

/* One peak: in, the starting values and bounds; out, the fit (only when nmrfit_fit returns 0:
 * on failure the struct is left as it was, so a series can go on from the last good fit). */
struct nmrfit_peak {
    enum nmrfit_shape shape;
    double pos, lo, hi; /* ppm.  lo < hi bound the position; otherwise (e.g. both 0) the
                           window does, and lo/hi are set to it on output.  A pos outside
                           [lo, hi] (or NaN) starts from the middle. */
    double fwhm;        /* ppm. pvoigt, lorentz, gauss: the FWHM; voigt: the total FWHM
                           (Olivero-Longbothum: 0.5346 fL + sqrt(0.2166 fL^2 + fG^2)).
                           <= 0 on input: estimated from the data (the half-height width,
                           then the best of widths sqrt 2 apart by the linear fit of all
                           areas and the baseline, peak by peak). */
    double gfwhm, lfwhm; /* voigt: the components, ppm; <= 0 on input: both from fwhm */
    double eta;         /* pvoigt: Lorentzian fraction; outside (0, 1] on input: start at 0.5 */
    double area;        /* out, intensity * ppm (never an input: the areas are solved
                           linearly at every step) */
    double height;      /* out: the maximum of the profile, area * profile(pos) */
    double pos_err, fwhm_err, area_err; /* out, 1 sigma; fwhm_err of the total FWHM */
    double eta_err;                     /* out, pvoigt (0 for the other shapes) */
    double gfwhm_err, lfwhm_err;        /* out, voigt (0 for the other shapes) */
    int at_bound;       /* out: 1 when the position ended within 0.1 % of hi - lo of a bound (the
                           data want it outside the range: its error is then only local) */
};

enum nmrfit_status {
    NMRFIT_OK = 0,      /* converged (step, gradient or chi2 change below tolerance) */
    NMRFIT_MAXITER,     /* usable fit, but NMRFIT_MAX_ITER iterations without converging */
    NMRFIT_EINPUT,      /* failures (nmrfit_fit returns -1): bad arguments, NaN in the data,
                           too few points in the window */
    NMRFIT_ESINGULAR,   /* a parameter is not determined by the data (e.g. a peak of area 0
                           has no position), or two peaks are indistinguishable */
    NMRFIT_EDIVERGED,   /* the solver failed or the result is not finite */
};

struct nmrfit_result {
    int status;         /* enum nmrfit_status */
    int iter;           /* iterations of the solver */
    long npts;          /* points in the window */
    double chi2;        /* sum of squared residuals, intensity^2 */
    long dof;           /* npts - number of parameters */
    double rms;         /* sqrt(chi2 / dof): the noise estimate that scales the errors */
    double base0, base1; /* baseline base0 + base1 * ppm */
    char msg[160];      /* what happened, in words (always set) */
};

/* Fit NPEAKS (1..NMRFIT_MAX_PEAKS) peaks jointly, plus a linear baseline, to Y over the
 * points with ppm in [min(wlo,whi), max(wlo,whi)].  PEAKS give the starting point (see above;
 * in a series pass the previous fit back in: it is the best start).  RES may be NULL.
 * Returns 0 with the peaks and RES filled (RES->status NMRFIT_OK or NMRFIT_MAXITER), or -1
 * with RES->status and RES->msg telling why; never crashes on any input. */
int nmrfit_fit(const double *ppm, const double *y, long n, double wlo, double whi,
               struct nmrfit_peak *peaks, int npeaks, struct nmrfit_result *res);

/* The peak's profile at X ppm: area times the area-normalised shape (uses shape, pos, area and
 * fwhm/eta, or gfwhm/lfwhm for voigt). */
double nmrfit_profile(const struct nmrfit_peak *p, double x);

/* Olivero-Longbothum total FWHM of a Voigt from its Gaussian and Lorentzian FWHMs. */
double nmrfit_voigt_fwhm(double gfwhm, double lfwhm);

#endif
