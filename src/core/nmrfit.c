/* nmrfit: integration and joint peak fitting; the model, the transforms and the error
 * convention are described in nmrfit.h. */
#include "insitu/nmrfit.h"

#include <complex.h>
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cerf.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_multifit_nlinear.h>

#include "insitu/util.h"

#define K4LN2 2.772588722239781       /* 4 ln 2 */
#define GNORM 0.9394372786996513      /* sqrt(4 ln 2 / pi): Gaussian height * FWHM */
#define FWHM_PER_SIGMA 2.3548200450309493
#define SQRT_2PI 2.5066282746310002
/* Convergence: GSL's step and gradient tests (on the solver's parameters, y scaled to
 * max |y| = 1), and a chi2 change below FIT_FTOL of the noise variance (see solve()). */
#define FIT_XTOL 1e-7
#define FIT_GTOL 1e-9
#define FIT_FTOL 1e-4

/* ---- integration ----------------------------------------------------------------------- */

/* First index whose value is past V in the direction of the axis (DEC: decreasing); a
 * binary search, so it assumes a monotonic axis but stays in bounds on any input. */
static long axis_search(const double *a, long n, int dec, double v, int strict)
{
    long lo = 0, hi = n;
    while (lo < hi) {
        long mid = lo + (hi - lo) / 2;
        int past = dec ? (strict ? a[mid] < v : a[mid] <= v) : (strict ? a[mid] > v : a[mid] >= v);
        if (past)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

double nmrfit_integrate(const double *ppm, const double *y, long n, double lo, double hi)
{
    if (!ppm || !y || n < 2 || isnan(lo) || isnan(hi))
        return 0;
    if (lo > hi) {
        double t = lo;
        lo = hi;
        hi = t;
    }
    int dec = ppm[0] > ppm[n - 1];
    /* The intervals that can touch [lo, hi]: one more at each end than the points inside, and
     * each is clipped below, so the search only has to be a superset. */
    long a = axis_search(ppm, n, dec, dec ? hi : lo, 0) - 1;
    long b = axis_search(ppm, n, dec, dec ? lo : hi, 1);
    if (a < 0)
        a = 0;
    if (b > n - 2)
        b = n - 2;
    double s = 0;
    for (long j = a; j <= b; j++) {
        double x0 = ppm[j], x1 = ppm[j + 1], y0 = y[j], y1 = y[j + 1];
        if (x0 > x1) {
            double t = x0;
            x0 = x1;
            x1 = t;
            t = y0;
            y0 = y1;
            y1 = t;
        }
        double u = x0 > lo ? x0 : lo, v = x1 < hi ? x1 : hi;
        if (!(v > u))
            continue;
        double k = (y1 - y0) / (x1 - x0);
        s += (v - u) * (y0 + k * (u - x0) + y0 + k * (v - x0)) / 2;
    }
    return s;
}

/* ---- shapes ---------------------------------------------------------------------------- */

static const char *const shape_names[NMRFIT_NSHAPES] = { "pvoigt", "voigt", "lorentz", "gauss" };

const char *nmrfit_shape_name(enum nmrfit_shape s)
{
    return (unsigned)s < NMRFIT_NSHAPES ? shape_names[s] : "?";
}

static int name_eq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != *b)
            return 0;
    return !*a && !*b;
}

int nmrfit_shape_parse(const char *name, enum nmrfit_shape *s)
{
    static const struct {
        const char *name;
        enum nmrfit_shape shape;
    } alias[] = {
        { "pvoigt", NMRFIT_PVOIGT },   { "pseudo-voigt", NMRFIT_PVOIGT },
        { "pseudovoigt", NMRFIT_PVOIGT }, { "voigt", NMRFIT_VOIGT },
        { "lorentz", NMRFIT_LORENTZ }, { "lorentzian", NMRFIT_LORENTZ },
        { "gauss", NMRFIT_GAUSS },     { "gaussian", NMRFIT_GAUSS },
    };
    if (!name)
        return -1;
    for (size_t i = 0; i < ARRAY_LEN(alias); i++)
        if (name_eq(name, alias[i].name)) {
            if (s)
                *s = alias[i].shape;
            return 0;
        }
    return -1;
}

double nmrfit_voigt_fwhm(double gfwhm, double lfwhm)
{
    return 0.5346 * lfwhm + sqrt(0.2166 * lfwhm * lfwhm + gfwhm * gfwhm);
}

/* The area-normalised profile at D = x - pos, with W1, W2 = fwhm, eta (pvoigt), gfwhm, lfwhm
 * (voigt), fwhm, - (lorentz, gauss), in two steps so that the fit can keep the expensive part
 * (an exp or a Faddeeva function per point) from the residuals for the Jacobian: PA and PB get
 * that part (pvoigt, lorentz, gauss: the Gaussian and the Lorentzian; voigt: Re and Im w(z)). */
static inline double shape_parts(enum nmrfit_shape s, double d, double w1, double w2, double *pa,
                                 double *pb)
{
    if (s == NMRFIT_VOIGT) {
        /* V = N Re w(z), z = (d + i gm) / (sg sqrt 2), N = 1 / (sg sqrt(2 pi)): what libcerf's
         * voigt() computes, with Im w kept for the derivatives. */
        double sg = w1 / FWHM_PER_SIGMA, s2 = sg * M_SQRT2;
        double complex wz = w_of_z(d / s2 + I * (w2 / 2 / s2));
        *pa = creal(wz);
        *pb = cimag(wz);
        return *pa / (sg * SQRT_2PI);
    }
    double eta = s == NMRFIT_PVOIGT ? w2 : s == NMRFIT_LORENTZ ? 1 : 0;
    double iw = 1 / w1, q = d * iw, q2 = q * q;
    /* exp's underflow path (errno, subnormals) costs 10x a normal call: cut where the
     * Gaussian is below 1e-300 of its height anyway. */
    double g = eta < 1 && K4LN2 * q2 < 690 ? GNORM * iw * exp(-K4LN2 * q2) : 0;
    double l = eta > 0 ? M_2_PI * iw / (1 + 4 * q2) : 0;
    *pa = g;
    *pb = l;
    return eta * l + (1 - eta) * g;
}

/* The derivatives of the profile with respect to pos, W1 and W2 from shape_parts' PA, PB:
 * the analytic Jacobian, for every shape. */
static inline void shape_deriv(enum nmrfit_shape s, double d, double w1, double w2, double pa,
                               double pb, double *dp)
{
    if (s == NMRFIT_VOIGT) {
        /* w'(z) = -2 z w(z) + 2i / sqrt(pi), dz/dd = 1/s2, dz/dgm = i/s2, dz/dsg = -z/sg,
         * dN/dsg = -N/sg.  Real arithmetic: GCC's complex multiply goes through a library
         * call for C99 Annex G infinities. */
        double sg = w1 / FWHM_PER_SIGMA, s2 = sg * M_SQRT2, nn = 1 / (sg * SQRT_2PI);
        double zr = d / s2, zi = w2 / 2 / s2;
        double dr = -2 * (zr * pa - zi * pb), di = -2 * (zr * pb + zi * pa) + M_2_SQRTPI;
        dp[0] = -nn * dr / s2;
        dp[1] = (-nn * pa - nn * (zr * dr - zi * di)) / sg / FWHM_PER_SIGMA;
        dp[2] = -nn * di / s2 / 2;
        return;
    }
    double eta = s == NMRFIT_PVOIGT ? w2 : s == NMRFIT_LORENTZ ? 1 : 0;
    double iw = 1 / w1, q = d * iw, q2 = q * q, r = 1 / (1 + 4 * q2), g = pa, l = pb;
    double dgp = g * 2 * K4LN2 * q * iw, dlp = l * 8 * q * iw * r;
    double dgw = g * (2 * K4LN2 * q2 - 1) * iw, dlw = l * (4 * q2 - 1) * iw * r;
    dp[0] = eta * dlp + (1 - eta) * dgp;
    dp[1] = eta * dlw + (1 - eta) * dgw;
    dp[2] = l - g;
}

/* The profile, and with DP its derivatives (pos, W1, W2). */
static inline double shape_eval(enum nmrfit_shape s, double d, double w1, double w2, double *dp)
{
    double pa, pb, v = shape_parts(s, d, w1, w2, &pa, &pb);
    if (dp)
        shape_deriv(s, d, w1, w2, pa, pb, dp);
    return v;
}

static void peak_widths(const struct nmrfit_peak *p, double *w1, double *w2)
{
    switch (p->shape) {
    case NMRFIT_VOIGT:
        *w1 = p->gfwhm;
        *w2 = p->lfwhm;
        break;
    case NMRFIT_PVOIGT:
        *w1 = p->fwhm;
        *w2 = p->eta;
        break;
    default:
        *w1 = p->fwhm;
        *w2 = 0;
        break;
    }
}

double nmrfit_profile(const struct nmrfit_peak *p, double x)
{
    if (!p || (unsigned)p->shape >= NMRFIT_NSHAPES)
        return NAN;
    double w1, w2;
    peak_widths(p, &w1, &w2);
    if (p->shape == NMRFIT_VOIGT)
        return p->area * voigt(x - p->pos, w1 / FWHM_PER_SIGMA, w2 / 2);
    return p->area * shape_eval(p->shape, x - p->pos, w1, w2, NULL);
}

/* ---- the fit --------------------------------------------------------------------------- */

/* Parameters of peak k from p[off]: area, u (position), s1 (width), s2 (eta or lfwhm; not
 * for lorentz and gauss); the baseline c0 + c1 t, t = (x - xc) / xh in [-1, 1] over the
 * window (a centred, scaled abscissa keeps the two columns from being nearly collinear), is
 * last. */
struct fpeak {
    enum nmrfit_shape shape;
    int off, npar;
    double lo, hi;
};

struct fctx {
    const double *x, *y; /* window points; y divided by ysc */
    long m;
    int npk, np, nb;     /* peaks, parameters, index of c0 */
    struct fpeak pk[NMRFIT_MAX_PEAKS];
    double xc, ixh;
    double lwmin, lwmax; /* ln of the width bounds */
    /* The solver's nonlinear parameters (variable projection, see project()): nl[j] is the
     * index of the j-th in the full vector. */
    int nnl, nl[NMRFIT_MAX_PEAKS * 3];
    /* At the nonlinear parameters CV of the last residuals: the full vector FULL (with the
     * areas and the baseline solved), the basis PHI (column-major, m x (npk + 2): the
     * unit-area profiles, 1 and t), the Cholesky factor of its normal matrix, and
     * shape_parts of every peak and point (pa[k m + i]).  The solver asks for the Jacobian
     * right after the residuals at the point it accepts, so the Jacobian costs no exp or
     * Faddeeva call and no new factorisation. */
    double *pa, *pb, *cv, *phi, *full, *rwork, *dcol;
    double chol[(NMRFIT_MAX_PEAKS + 2) * (NMRFIT_MAX_PEAKS + 2)];
    double g0[4], b0[2]; /* the baseline columns' part of the normal equations (constant) */
    int cvalid;
};

/* Physical values and their derivatives with respect to the solver's parameters. */
struct phys {
    double a, pos, w1, w2;
    double dpos, dw1, dw2;
};

static double logistic(double s)
{
    return 1 / (1 + exp(-s));
}

static double logit(double p)
{
    return log(p / (1 - p));
}

static void width_decode(const struct fctx *c, double s, double *w, double *dw)
{
    double l = logistic(s);
    *w = exp(c->lwmin + (c->lwmax - c->lwmin) * l);
    *dw = *w * (c->lwmax - c->lwmin) * l * (1 - l);
}

static double width_encode(const struct fctx *c, double w)
{
    double f = (log(w) - c->lwmin) / (c->lwmax - c->lwmin);
    return logit(f < 1e-3 ? 1e-3 : f > 1 - 1e-3 ? 1 - 1e-3 : f);
}

static void decode(const struct fctx *c, const gsl_vector *v, struct phys *ph)
{
    for (int k = 0; k < c->npk; k++) {
        const struct fpeak *pk = &c->pk[k];
        struct phys *p = &ph[k];
        double th = tanh(gsl_vector_get(v, (size_t)pk->off + 1));
        p->a = gsl_vector_get(v, (size_t)pk->off);
        p->pos = pk->lo + (pk->hi - pk->lo) * (1 + th) / 2;
        p->dpos = (pk->hi - pk->lo) / 2 * (1 - th * th);
        width_decode(c, gsl_vector_get(v, (size_t)pk->off + 2), &p->w1, &p->dw1);
        p->w2 = p->dw2 = 0;
        if (pk->shape == NMRFIT_VOIGT) {
            width_decode(c, gsl_vector_get(v, (size_t)pk->off + 3), &p->w2, &p->dw2);
        } else if (pk->shape == NMRFIT_PVOIGT) {
            p->w2 = logistic(gsl_vector_get(v, (size_t)pk->off + 3));
            p->dw2 = p->w2 * (1 - p->w2);
        }
    }
}

/* A dot product with four partial sums: one running sum is a chain of dependent additions
 * (GCC may not reassociate them at -O2), which made these the fit's slowest loops. */
static double dot(const double *a, const double *b, long n)
{
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    long i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    for (; i < n; i++)
        s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

/* Variable projection (Golub and Pereyra): the model is linear in the areas and the baseline,
 * so for given positions and widths those follow from a small linear least-squares solve, and
 * the solver only sees the nonlinear parameters.  The same minimum as fitting everything at
 * once, reached in fewer and cheaper iterations: the strong area-width correlation of each
 * peak, which makes plain Levenberg-Marquardt crawl, is gone.  The covariance is still that
 * of all the parameters together (covariance()).
 * Residuals at the nonlinear parameters V: r = Phi a - y with a the linear solution. */
static int project(struct fctx *c, const gsl_vector *v, double *r, size_t rstride)
{
    enum { NB = NMRFIT_MAX_PEAKS + 2 };
    int nb = c->npk + 2;
    long m = c->m;
    gsl_vector_view fv = gsl_vector_view_array(c->full, (size_t)c->np);
    for (int j = 0; j < c->nnl; j++)
        c->full[c->nl[j]] = gsl_vector_get(v, (size_t)j);
    struct phys ph[NMRFIT_MAX_PEAKS];
    decode(c, &fv.vector, ph);
    double g[NB * NB], b[NB];
    for (int k = 0; k < c->npk; k++) {
        const struct phys *p = &ph[k];
        enum nmrfit_shape s = c->pk[k].shape;
        double *col = c->phi + (size_t)k * (size_t)m;
        double *pa = c->pa + (size_t)k * (size_t)m, *pb = c->pb + (size_t)k * (size_t)m;
        for (long i = 0; i < m; i++)
            col[i] = shape_parts(s, c->x[i] - p->pos, p->w1, p->w2, &pa[i], &pb[i]);
    }
    for (int j = 0; j < nb; j++) {
        const double *cj = c->phi + (size_t)j * (size_t)m;
        if (j >= c->npk) { /* the baseline columns: constant */
            b[j] = c->b0[j - c->npk];
            for (int l = c->npk; l <= j; l++)
                g[j * nb + l] = c->g0[(j - c->npk) * 2 + l - c->npk];
        } else {
            b[j] = dot(cj, c->y, m);
        }
        for (int l = 0; l <= j && l < c->npk; l++)
            g[j * nb + l] = dot(cj, c->phi + (size_t)l * (size_t)m, m);
    }
    for (int j = 0; j < nb; j++) {
        for (int l = 0; l < j; l++)
            g[l * nb + j] = g[j * nb + l];
        g[j * nb + j] *= 1 + 1e-12; /* two identical peaks share the area, not crash */
    }
    memcpy(c->chol, g, (size_t)(nb * nb) * sizeof *g);
    double a[NB];
    gsl_matrix_view G = gsl_matrix_view_array(c->chol, (size_t)nb, (size_t)nb);
    gsl_vector_view B = gsl_vector_view_array(b, (size_t)nb);
    gsl_vector_view A = gsl_vector_view_array(a, (size_t)nb);
    c->cvalid = 0;
    if (gsl_linalg_cholesky_decomp1(&G.matrix) ||
        gsl_linalg_cholesky_solve(&G.matrix, &B.vector, &A.vector))
        return GSL_EBADFUNC;
    for (int k = 0; k < c->npk; k++)
        c->full[c->pk[k].off] = a[k];
    c->full[c->nb] = a[c->npk];
    c->full[c->nb + 1] = a[c->npk + 1];
    for (long i = 0; i < m; i++) {
        double s = -c->y[i];
        for (int j = 0; j < nb; j++)
            s += a[j] * c->phi[(size_t)j * (size_t)m + (size_t)i];
        if (!isfinite(s))
            return GSL_EBADFUNC;
        r[(size_t)i * rstride] = s;
    }
    for (int j = 0; j < c->nnl; j++)
        c->cv[j] = gsl_vector_get(v, (size_t)j);
    c->cvalid = 1;
    return GSL_SUCCESS;
}

static int fit_f(const gsl_vector *v, void *arg, gsl_vector *f)
{
    return project(arg, v, f->data, f->stride);
}

/* Kaufman's Jacobian of the projected residuals: column j is P (dPhi/dv_j) a, P the projector
 * onto the complement of Phi's columns (the term that this drops is small near a good fit and
 * costs as much again). */
static int fit_df(const gsl_vector *v, void *arg, gsl_matrix *J)
{
    enum { NB = NMRFIT_MAX_PEAKS + 2 };
    struct fctx *c = arg;
    int cached = c->cvalid;
    for (int j = 0; j < c->nnl && cached; j++)
        cached = c->cv[j] == gsl_vector_get(v, (size_t)j);
    if (!cached && project(c, v, c->rwork, 1) != GSL_SUCCESS)
        return GSL_EBADFUNC;
    int nb = c->npk + 2;
    long m = c->m;
    gsl_vector_view fv = gsl_vector_view_array(c->full, (size_t)c->np);
    struct phys ph[NMRFIT_MAX_PEAKS];
    decode(c, &fv.vector, ph);
    gsl_matrix_const_view L = gsl_matrix_const_view_array(c->chol, (size_t)nb, (size_t)nb);
    /* The columns dPhi/dv_j a, then minus their projection onto Phi: column by column in
     * DCOL (contiguous, so the loops over the window vectorise), then into J's rows. */
    enum { NQ = NMRFIT_MAX_PEAKS * 3 };
    int nq = c->nnl, col = 0;
    double *dcol = c->dcol;
    for (int k = 0; k < c->npk; k++) {
        const struct phys *p = &ph[k];
        const struct fpeak *pk = &c->pk[k];
        const double *pa = c->pa + (size_t)k * (size_t)m, *pb = c->pb + (size_t)k * (size_t)m;
        double s[3] = { p->a * p->dpos, p->a * p->dw1, p->a * p->dw2 };
        int nk = pk->npar - 1;
        double *d0 = dcol + (size_t)col * (size_t)m, *d1 = d0 + m, *d2 = d1 + m;
        for (long i = 0; i < m; i++) {
            double dp[3];
            shape_deriv(pk->shape, c->x[i] - p->pos, p->w1, p->w2, pa[i], pb[i], dp);
            d0[i] = s[0] * dp[0];
            d1[i] = s[1] * dp[1];
            if (nk > 2)
                d2[i] = s[2] * dp[2];
        }
        col += nk;
    }
    double z[NB * NQ];
    for (int l = 0; l < nb; l++) {
        const double *pl = c->phi + (size_t)l * (size_t)m;
        for (int j = 0; j < nq; j++) {
            z[l * nq + j] = dot(pl, dcol + (size_t)j * (size_t)m, m);
        }
    }
    for (int j = 0; j < nq; j++) {
        gsl_vector_view Z = gsl_vector_view_array_with_stride(z + j, (size_t)nq, (size_t)nb);
        if (gsl_linalg_cholesky_svx(&L.matrix, &Z.vector))
            return GSL_EBADFUNC;
    }
    for (int j = 0; j < nq; j++) {
        double *dj = dcol + (size_t)j * (size_t)m;
        for (int l = 0; l < nb; l++) {
            const double *pl = c->phi + (size_t)l * (size_t)m;
            double zl = z[l * nq + j];
            for (long i = 0; i < m; i++)
                dj[i] -= zl * pl[i];
        }
        for (long i = 0; i < m; i++)
            J->data[(size_t)i * J->tda + (size_t)j] = dj[i];
    }
    return GSL_SUCCESS;
}

/* The Jacobian of the model with respect to all the physical parameters (area, pos, widths,
 * eta, and the baseline's c0, c1), at the full vector V: for the covariance. */
static void jacobian(struct fctx *c, const gsl_vector *v, gsl_matrix *J)
{
    struct phys ph[NMRFIT_MAX_PEAKS];
    decode(c, v, ph);
    for (int k = 0; k < c->npk; k++) {
        const struct phys *p = &ph[k];
        const struct fpeak *pk = &c->pk[k];
        for (long i = 0; i < c->m; i++) {
            double dp[3], *row = J->data + (size_t)i * J->tda + pk->off;
            row[0] = shape_eval(pk->shape, c->x[i] - p->pos, p->w1, p->w2, dp);
            row[1] = p->a * dp[0];
            row[2] = p->a * dp[1];
            if (pk->npar > 3)
                row[3] = p->a * dp[2];
        }
    }
    for (long i = 0; i < c->m; i++) {
        double *row = J->data + (size_t)i * J->tda + c->nb;
        row[0] = 1;
        row[1] = (c->x[i] - c->xc) * c->ixh;
    }
}

static void rmsg(struct nmrfit_result *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void rmsg(struct nmrfit_result *r, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->msg, sizeof r->msg, fmt, ap);
    va_end(ap);
    r->status = status;
}

/* The half-height width around POS over the baseline b0 + b1 x: walk out from the nearest
 * point to the first one below half the height on each side, and take the nearer crossing,
 * since an overlapping neighbour only ever pushes the far one out.  0 when there is no
 * positive peak or no crossing. */
static double estimate_fwhm(const struct fctx *c, double pos, double b0, double b1)
{
    long i0 = 0;
    for (long i = 1; i < c->m; i++)
        if (fabs(c->x[i] - pos) < fabs(c->x[i0] - pos))
            i0 = i;
    double h = c->y[i0] - (b0 + b1 * c->x[i0]);
    if (!(h > 0))
        return 0;
    double best = INFINITY;
    for (int dir = -1; dir <= 1; dir += 2) {
        double yprev = h;
        for (long i = i0 + dir; i >= 0 && i < c->m; i += dir) {
            double yi = c->y[i] - (b0 + b1 * c->x[i]);
            if (yi < h / 2) {
                double xp = c->x[i - dir], f = (yprev - h / 2) / (yprev - yi);
                double hw = fabs(xp + f * (c->x[i] - xp) - pos);
                if (hw < best)
                    best = hw;
                break;
            }
            yprev = yi;
        }
    }
    return isfinite(best) ? 2 * best : 0;
}

static const char *param_name(enum nmrfit_shape s, int j)
{
    static const char *const n[NMRFIT_NSHAPES][4] = {
        { "area", "position", "FWHM", "eta" },
        { "area", "position", "Gaussian FWHM", "Lorentzian FWHM" },
        { "area", "position", "FWHM", "" },
        { "area", "position", "FWHM", "" },
    };
    return n[s][j];
}

/* Put peak K's starting position and width(s) into V: W2 > 0 gives a Voigt's Lorentzian
 * FWHM with W its Gaussian one; otherwise W is the (total) FWHM. */
static void set_start(const struct fctx *c, gsl_vector *v, int k, double pos, double w,
                      double w2)
{
    const struct fpeak *f = &c->pk[k];
    double e = 2 * (pos - f->lo) / (f->hi - f->lo) - 1;
    gsl_vector_set(v, (size_t)f->off + 1, atanh(e < -0.998 ? -0.998 : e > 0.998 ? 0.998 : e));
    if (f->shape == NMRFIT_VOIGT) {
        if (!(w2 > 0))
            w = w2 = w / 1.6376; /* equal parts give the total w (Olivero-Longbothum) */
        gsl_vector_set(v, (size_t)f->off + 2, width_encode(c, w));
        gsl_vector_set(v, (size_t)f->off + 3, width_encode(c, w2));
    } else {
        gsl_vector_set(v, (size_t)f->off + 2, width_encode(c, w));
    }
}

/* The least-squares fit of areas and baseline for the normal equations G (NB x NB) and B
 * (right side), with y'y = YY: returns chi2 and the solution in SOL, or INFINITY when
 * singular. */
static double normal_solve(const double *g, const double *b, int nb, double yy, double *sol)
{
    double a[(NMRFIT_MAX_PEAKS + 2) * (NMRFIT_MAX_PEAKS + 2)], rhs[NMRFIT_MAX_PEAKS + 2];
    memcpy(a, g, (size_t)(nb * nb) * sizeof *a);
    memcpy(rhs, b, (size_t)nb * sizeof *rhs);
    for (int j = 0; j < nb; j++)
        a[j * nb + j] *= 1 + 1e-10; /* splits the area between two identical peaks */
    gsl_matrix_view A = gsl_matrix_view_array(a, (size_t)nb, (size_t)nb);
    gsl_vector_view B = gsl_vector_view_array(rhs, (size_t)nb);
    gsl_vector_view S = gsl_vector_view_array(sol, (size_t)nb);
    if (gsl_linalg_cholesky_decomp1(&A.matrix) ||
        gsl_linalg_cholesky_solve(&A.matrix, &B.vector, &S.vector)) {
        memset(sol, 0, (size_t)nb * sizeof *sol);
        return INFINITY;
    }
    double chi2 = yy;
    for (int j = 0; j < nb; j++)
        chi2 -= sol[j] * b[j];
    return isfinite(chi2) ? chi2 : INFINITY;
}

/* A start for the widths the caller did not give: coordinate descent, peak by peak, over
 * widths a factor sqrt 2 apart at the starting positions, each candidate scored by the linear
 * least-squares fit of all areas and the baseline, and taken only with a positive area.  A
 * half-height width measured on overlapping peaks can be far off (the shoulder has no
 * half-height point on the metal's side), and from there the solver may settle in a wrong
 * minimum, e.g. with a broad shoulder under the metal peak.  (A grid over positions as well
 * was tried: on the metal/shoulder pair it more often led to wrong minima, not fewer.)  On
 * about 128 of the window's points: only the start is at stake. */
static void grid_start(struct fctx *c, gsl_vector *v, const int *need, double dx)
{
    enum { NB = NMRFIT_MAX_PEAKS + 2, NW = 40 };
    long q = c->m / 128 > 1 ? c->m / 128 : 1, ns = (c->m + q - 1) / q;
    int nb = c->npk + 2;
    double *col = util_malloc((size_t)(nb + 3) * (size_t)ns * sizeof *col);
    double *cand = col + (size_t)nb * (size_t)ns, *best = cand + ns, *ys = best + ns;
    double g[NB * NB], b[NB], sol[NB], yy = 0;
    struct phys ph[NMRFIT_MAX_PEAKS];
    decode(c, v, ph);
    for (long s = 0; s < ns; s++) {
        double x = c->x[s * q];
        for (int k = 0; k < c->npk; k++)
            col[(size_t)k * ns + s] = shape_eval(c->pk[k].shape, x - ph[k].pos, ph[k].w1,
                                                 ph[k].w2, NULL);
        col[(size_t)c->npk * ns + s] = 1;
        col[(size_t)(c->npk + 1) * ns + s] = (x - c->xc) * c->ixh;
        yy += c->y[s * q] * c->y[s * q];
    }
    for (long s = 0; s < ns; s++)
        ys[s] = c->y[s * q];
    for (int j = 0; j < nb; j++) {
        b[j] = dot(col + (size_t)j * ns, ys, ns);
        for (int l = 0; l <= j; l++)
            g[j * nb + l] = g[l * nb + j] = dot(col + (size_t)j * ns, col + (size_t)l * ns, ns);
    }
    double width = fabs(c->x[c->m - 1] - c->x[0]);
    double wlo = 2 * (double)q * dx, wmin = exp(c->lwmin), wmax = exp(c->lwmax);
    if (wlo < wmin * 1.01)
        wlo = wmin * 1.01;
    for (int sweep = 0; sweep < 3; sweep++) {
        int changed = 0;
        for (int k = 0; k < c->npk; k++) {
            if (!need[k])
                continue;
            const struct fpeak *f = &c->pk[k];
            double cur = normal_solve(g, b, nb, yy, sol), bestchi = sol[k] > 0 ? cur : INFINITY;
            double pos = ph[k].pos, bw = NAN, gk[NB], bbk = 0, gbest[NB];
            for (int iw = 0; iw < NW; iw++) {
                double w = wlo * pow(M_SQRT2, iw);
                if (w > width || w > wmax / 1.01)
                    break;
                double w1 = w, w2 = ph[k].w2;
                if (f->shape == NMRFIT_VOIGT)
                    w1 = w2 = w / 1.6376;
                for (long s = 0; s < ns; s++)
                    cand[s] = shape_eval(f->shape, c->x[s * q] - pos, w1, w2, NULL);
                for (int j = 0; j < nb; j++)
                    gk[j] = dot(cand, j == k ? cand : col + (size_t)j * ns, ns);
                double bk = dot(cand, ys, ns);
                double g2[NB * NB], b2[NB];
                memcpy(g2, g, (size_t)(nb * nb) * sizeof *g2);
                memcpy(b2, b, (size_t)nb * sizeof *b2);
                for (int j = 0; j < nb; j++)
                    g2[k * nb + j] = g2[j * nb + k] = gk[j];
                b2[k] = bk;
                double chi = normal_solve(g2, b2, nb, yy, sol);
                if (sol[k] > 0 && chi < bestchi * (1 - 1e-9)) {
                    bestchi = chi;
                    bw = w;
                    bbk = bk;
                    memcpy(gbest, gk, (size_t)nb * sizeof *gbest);
                    memcpy(best, cand, (size_t)ns * sizeof *best);
                }
            }
            if (isfinite(bw)) {
                memcpy(col + (size_t)k * ns, best, (size_t)ns * sizeof *best);
                for (int j = 0; j < nb; j++)
                    g[k * nb + j] = g[j * nb + k] = gbest[j];
                b[k] = bbk;
                set_start(c, v, k, pos, bw, 0);
                decode(c, v, ph);
                changed = 1;
            }
        }
        if (!changed)
            break;
    }
    free(col);
}

/* Checks, the window and the starting point; on success the solver's start is in V0 (which
 * this allocates) and the window in C (X and Y in BUF). */
static int fit_setup(const double *ppm, const double *y, long n, double wlo, double whi,
                     struct nmrfit_peak *pk, int npk, struct fctx *c, double **buf,
                     double *ysc, gsl_vector **v0, struct nmrfit_result *r)
{
    if (!ppm || !y || !pk) {
        rmsg(r, NMRFIT_EINPUT, "no data or no peaks (NULL)");
        return -1;
    }
    if (npk < 1 || npk > NMRFIT_MAX_PEAKS) {
        rmsg(r, NMRFIT_EINPUT, "%d peaks: fit 1 to %d at a time", npk, NMRFIT_MAX_PEAKS);
        return -1;
    }
    if (n < 1) {
        rmsg(r, NMRFIT_EINPUT, "empty spectrum (%ld points)", n);
        return -1;
    }
    if (!isfinite(wlo) || !isfinite(whi) || wlo == whi) {
        rmsg(r, NMRFIT_EINPUT, "window %g..%g ppm is not a range", wlo, whi);
        return -1;
    }
    if (wlo > whi) {
        double t = wlo;
        wlo = whi;
        whi = t;
    }
    int np = 0;
    for (int k = 0; k < npk; k++) {
        if ((unsigned)pk[k].shape >= NMRFIT_NSHAPES) {
            rmsg(r, NMRFIT_EINPUT, "peak %d: unknown shape %d", k + 1, (int)pk[k].shape);
            return -1;
        }
        c->pk[k].shape = pk[k].shape;
        c->pk[k].off = np;
        c->pk[k].npar = pk[k].shape == NMRFIT_PVOIGT || pk[k].shape == NMRFIT_VOIGT ? 4 : 3;
        np += c->pk[k].npar;
    }
    c->npk = npk;
    c->nb = np;
    c->np = np + 2;

    int dec = ppm[0] > ppm[n - 1];
    long i0 = axis_search(ppm, n, dec, dec ? whi : wlo, 0);
    long i1 = axis_search(ppm, n, dec, dec ? wlo : whi, 1);
    long m = i1 - i0;
    if (m < 1) {
        rmsg(r, NMRFIT_EINPUT, "window %g..%g ppm holds no point of the spectrum (%g..%g ppm)",
             wlo, whi, ppm[0], ppm[n - 1]);
        return -1;
    }
    r->npts = m;
    if (m < c->np + 1) {
        rmsg(r, NMRFIT_EINPUT, "window %g..%g ppm holds %ld points, too few for %d parameters",
             wlo, whi, m, c->np);
        return -1;
    }
    double ymax = 0;
    for (long i = i0; i < i1; i++) {
        if (!isfinite(y[i]) || !isfinite(ppm[i])) {
            rmsg(r, NMRFIT_EINPUT, "%s at point %ld (ppm %g) in the window",
                 isfinite(ppm[i]) ? "no finite intensity" : "no finite ppm", i, ppm[i]);
            return -1;
        }
        /* Only a monotonic axis gives a contiguous window: say so rather than fit garbage. */
        if (ppm[i] < wlo || ppm[i] > whi || (i > i0 && (dec ? ppm[i] > ppm[i - 1]
                                                            : ppm[i] < ppm[i - 1]))) {
            rmsg(r, NMRFIT_EINPUT, "ppm axis not monotonic near point %ld", i);
            return -1;
        }
        if (fabs(y[i]) > ymax)
            ymax = fabs(y[i]);
    }
    /* Intensities run from 1 to 1e9 (int32 TopSpin data): fit y / max |y| so that the
     * solver's tolerances mean the same thing for every spectrum. */
    *ysc = ymax > 0 ? ymax : 1;
    size_t mk = (size_t)m * (size_t)npk, nb = (size_t)npk + 2;
    double *xb = *buf = util_malloc((3 * (size_t)m + 2 * mk + nb * (size_t)m + 2 * (size_t)c->np +
                                     (size_t)np * (size_t)m) * sizeof *xb);
    double *yb = xb + m;
    c->rwork = yb + m;
    c->pa = c->rwork + m;
    c->pb = c->pa + mk;
    c->phi = c->pb + mk;
    c->cv = c->phi + nb * (size_t)m;
    c->full = c->cv + c->np;
    c->dcol = c->full + c->np;
    c->cvalid = 0;
    for (long i = 0; i < m; i++) {
        xb[i] = ppm[i0 + i];
        yb[i] = y[i0 + i] / *ysc;
    }
    c->x = xb;
    c->y = yb;
    c->m = m;
    for (int k = 0; k < npk; k++)
        for (int j = 1; j < c->pk[k].npar; j++)
            c->nl[c->nnl++] = c->pk[k].off + j;
    double xmin = xb[0] < xb[m - 1] ? xb[0] : xb[m - 1], xmax = xb[0] + xb[m - 1] - xmin;
    c->xc = (xmin + xmax) / 2;
    c->ixh = xmax > xmin ? 2 / (xmax - xmin) : 1;
    memset(c->g0, 0, sizeof c->g0);
    memset(c->b0, 0, sizeof c->b0);
    for (long i = 0; i < m; i++) {
        double t = (xb[i] - c->xc) * c->ixh;
        c->phi[(size_t)npk * (size_t)m + (size_t)i] = 1;
        c->phi[(size_t)(npk + 1) * (size_t)m + (size_t)i] = t;
        c->g0[0] += 1;
        c->g0[2] += t;
        c->g0[3] += t * t;
        c->b0[0] += yb[i];
        c->b0[1] += t * yb[i];
    }
    c->g0[1] = c->g0[2];
    double dx = m > 1 ? (xmax - xmin) / (double)(m - 1) : 1;
    /* A line narrower than two points can hide between them, where its area has no effect on
     * the residuals (a singular fit): the lower width bound follows the sampling. */
    double wmin = 2 * dx > NMRFIT_FWHM_MIN ? 2 * dx : NMRFIT_FWHM_MIN;
    if (!(wmin < NMRFIT_FWHM_MAX / 10))
        wmin = NMRFIT_FWHM_MAX / 10;
    c->lwmin = log(wmin);
    c->lwmax = log(NMRFIT_FWHM_MAX);

    /* A line through the two ends of the window: the baseline under the starting peaks. */
    long ne = m / 20 > 0 ? m / 20 : 1;
    double xa = 0, ya = 0, xe = 0, ye = 0;
    for (long i = 0; i < ne; i++) {
        xa += xb[i], ya += yb[i];
        xe += xb[m - 1 - i], ye += yb[m - 1 - i];
    }
    double b1 = xe != xa ? (ye - ya) / (xe - xa) : 0, b0 = ya / (double)ne - b1 * xa / (double)ne;

    gsl_vector *v = *v0 = gsl_vector_calloc((size_t)c->np);
    int need[NMRFIT_MAX_PEAKS], nneed = 0, bounded[NMRFIT_MAX_PEAKS];
    for (int k = 0; k < npk; k++) {
        struct nmrfit_peak *p = &pk[k];
        struct fpeak *f = &c->pk[k];
        bounded[k] = isfinite(p->lo) && isfinite(p->hi) && p->lo < p->hi;
        f->lo = bounded[k] ? p->lo : wlo;
        f->hi = bounded[k] ? p->hi : whi;
        double pos = isfinite(p->pos) && p->pos >= f->lo && p->pos <= f->hi
                         ? p->pos : (f->lo + f->hi) / 2;
        if (p->shape == NMRFIT_PVOIGT) {
            double eta = isfinite(p->eta) && p->eta > 0 && p->eta <= 1 ? p->eta : 0.5;
            gsl_vector_set(v, (size_t)f->off + 3,
                           logit(eta < 1e-3 ? 1e-3 : eta > 1 - 1e-3 ? 1 - 1e-3 : eta));
        }
        if (p->shape == NMRFIT_VOIGT && isfinite(p->gfwhm) && p->gfwhm > 0 &&
            isfinite(p->lfwhm) && p->lfwhm > 0) {
            set_start(c, v, k, pos, p->gfwhm, p->lfwhm);
            need[k] = 0;
            continue;
        }
        double w = isfinite(p->fwhm) && p->fwhm > 0 ? p->fwhm : 0;
        need[k] = w <= 0;
        nneed += need[k];
        if (w <= 0)
            w = estimate_fwhm(c, pos, b0, b1);
        if (w <= 0) {
            /* No peak to measure: a guess from the range the caller allows. */
            w = bounded[k] ? (f->hi - f->lo) / 2 : (xmax - xmin) / 10;
            if (w < 4 * dx)
                w = 4 * dx;
        }
        set_start(c, v, k, pos, w, 0);
    }
    if (nneed)
        grid_start(c, v, need, dx);
    return 0;
}

/* Covariance of the physical parameters, unscaled (times chi2/dof gives the errors), from
 * the Jacobian at the solution.  Columns are normalised first so that the rank test compares
 * directions, not units: a tiny peak is then merely uncertain, while a column that is zero
 * (a peak of area 0 has no position) or a copy of another is singular.
 * gsl_multifit_nlinear_covar needs only some R with R'R = J'J: the Cholesky factor of the
 * small normal matrix serves, and costs a tenth of a pivoted QR of the whole m x p Jacobian
 * (which is kept for when Cholesky fails, to name the parameter at fault).  Returns the index
 * of the first undetermined parameter (np when GSL fails), or -1 when all are determined. */
static int covariance(struct fctx *c, const gsl_vector *v, gsl_matrix *J, gsl_matrix *C)
{
    enum { P = NMRFIT_MAX_PEAKS * 4 + 2 };
    double norm[P], ata[P * P] = { 0 };
    int np = c->np;
    jacobian(c, v, J);
    for (long i = 0; i < c->m; i++) {
        const double *row = J->data + (size_t)i * J->tda;
        for (int j = 0; j < np; j++)
            for (int l = j; l < np; l++)
                ata[j * np + l] += row[j] * row[l];
    }
    for (int j = 0; j < np; j++) {
        norm[j] = sqrt(ata[j * np + j]);
        if (!(norm[j] > 0) || !isfinite(norm[j]))
            return j;
    }
    for (int j = 0; j < np; j++)
        for (int l = j; l < np; l++)
            ata[l * np + j] = ata[j * np + l] /= norm[j] * norm[l];
    gsl_matrix_view A = gsl_matrix_view_array(ata, (size_t)np, (size_t)np);
    if (gsl_linalg_cholesky_decomp1(&A.matrix) == 0) {
        for (int j = 0; j < np; j++) /* R = L': the upper triangle from the lower */
            for (int l = 0; l < j; l++) {
                ata[l * np + j] = ata[j * np + l];
                ata[j * np + l] = 0;
            }
        if (gsl_multifit_nlinear_covar(&A.matrix, 1e-9, C))
            return np;
    } else {
        for (int j = 0; j < np; j++) {
            gsl_vector_view col = gsl_matrix_column(J, (size_t)j);
            gsl_vector_scale(&col.vector, 1 / norm[j]);
        }
        if (gsl_multifit_nlinear_covar(J, 1e-11, C))
            return np;
    }
    for (int j = 0; j < np; j++) {
        if (!(gsl_matrix_get(C, (size_t)j, (size_t)j) > 0))
            return j;
        for (int l = 0; l < np; l++)
            gsl_matrix_set(C, (size_t)j, (size_t)l,
                           gsl_matrix_get(C, (size_t)j, (size_t)l) / (norm[j] * norm[l]));
    }
    return -1;
}

static double sumsq(const gsl_vector *f)
{
    double s = 0;
    for (size_t i = 0; i < f->size; i++)
        s += f->data[i * f->stride] * f->data[i * f->stride];
    return s;
}

/* GSL's driver loop plus the test on chi2 that its ftol does not provide (disabled in GSL
 * 2.x): stop when an accepted step lowered chi2 by less than FIT_FTOL of the noise variance
 * chi2/dof, i.e. when the parameters move by a small fraction of their errors per step.
 * Without it a peak the data barely determine crawls along its flat valley for all the
 * iterations.  INFO: 1 small step, 2 small gradient, 3 small chi2 change, 4 no better point
 * than the start. */
static int solve(gsl_multifit_nlinear_workspace *w, long dof, int *info)
{
    double chi2 = sumsq(gsl_multifit_nlinear_residual(w));
    for (int it = 0; it < NMRFIT_MAX_ITER; it++) {
        int st = gsl_multifit_nlinear_iterate(w);
        if (st == GSL_ENOPROG && it == 0) {
            *info = 4;
            return GSL_SUCCESS;
        }
        if (st != GSL_SUCCESS && st != GSL_ENOPROG)
            return st;
        if (gsl_multifit_nlinear_test(FIT_XTOL, FIT_GTOL, 0, info, w) != GSL_CONTINUE)
            return GSL_SUCCESS;
        double c2 = sumsq(gsl_multifit_nlinear_residual(w));
        if (chi2 - c2 <= FIT_FTOL * c2 / (double)dof) {
            *info = 3;
            return GSL_SUCCESS;
        }
        chi2 = c2;
    }
    return GSL_EMAXITER;
}

int nmrfit_fit(const double *ppm, const double *y, long n, double wlo, double whi,
               struct nmrfit_peak *peaks, int npeaks, struct nmrfit_result *res)
{
    struct nmrfit_result rloc;
    struct nmrfit_result *r = res ? res : &rloc;
    memset(r, 0, sizeof *r);
    struct fctx c = { 0 };
    double *buf = NULL, ysc = 1;
    gsl_vector *v0 = NULL, *th = NULL;
    gsl_multifit_nlinear_workspace *w = NULL;
    gsl_matrix *J = NULL, *C = NULL;
    int ret = -1;
    /* GSL's default handler aborts the program; here every error is a return value. */
    gsl_error_handler_t *old = gsl_set_error_handler_off();

    if (fit_setup(ppm, y, n, wlo, whi, peaks, npeaks, &c, &buf, &ysc, &v0, r) != 0)
        goto out;

    th = gsl_vector_alloc((size_t)c.nnl);
    for (int j = 0; j < c.nnl; j++)
        gsl_vector_set(th, (size_t)j, gsl_vector_get(v0, (size_t)c.nl[j]));
    gsl_multifit_nlinear_fdf fdf = { .f = fit_f, .df = fit_df, .fvv = NULL,
                                     .n = (size_t)c.m, .p = (size_t)c.nnl, .params = &c };
    gsl_multifit_nlinear_parameters par = gsl_multifit_nlinear_default_parameters();
    /* Forming J'J costs one pass over the window per Jacobian; the damped steps then only
     * solve a p x p system, where QR would redo an m x p factorisation for each. */
    par.solver = gsl_multifit_nlinear_solver_cholesky;
    par.scale = gsl_multifit_nlinear_scale_levenberg;
    w = gsl_multifit_nlinear_alloc(gsl_multifit_nlinear_trust, &par, (size_t)c.m, (size_t)c.nnl);
    if (!w) {
        rmsg(r, NMRFIT_EINPUT, "cannot set up the solver (%ld points, %d parameters)", c.m,
             c.np);
        goto out;
    }
    int info = 0, st = gsl_multifit_nlinear_init(th, &fdf, w);
    if (st == GSL_SUCCESS)
        st = solve(w, c.m - c.np, &info);
    r->iter = (int)gsl_multifit_nlinear_niter(w);
    /* The last residuals the solver asked for may be those of a rejected step: recompute the
     * areas and the baseline at the solution. */
    if ((st == GSL_SUCCESS || st == GSL_EMAXITER) &&
        project(&c, gsl_multifit_nlinear_position(w), c.rwork, 1) != GSL_SUCCESS)
        st = GSL_EBADFUNC;
    gsl_vector_view fullv = gsl_vector_view_array(c.full, (size_t)c.np);
    const gsl_vector *v = &fullv.vector;
    double chi2 = 0;
    for (long i = 0; i < c.m; i++)
        chi2 += c.rwork[i] * c.rwork[i];
    int usable = st == GSL_SUCCESS || st == GSL_EMAXITER;
    for (int j = 0; j < c.np && usable; j++)
        usable = isfinite(gsl_vector_get(v, (size_t)j));
    if (!usable || !isfinite(chi2)) {
        rmsg(r, NMRFIT_EDIVERGED, "diverged: %s after %d iterations",
             st == GSL_SUCCESS || st == GSL_EMAXITER ? "parameters not finite" : gsl_strerror(st),
             r->iter);
        goto out;
    }

    /* A peak of no height has no position or width: with exact (e.g. all-zero) data the
     * normalised covariance would still give 0/0-sized errors that look like numbers. */
    {
        struct phys ph0[NMRFIT_MAX_PEAKS];
        decode(&c, v, ph0);
        for (int k = 0; k < c.npk; k++)
            if (!(fabs(ph0[k].a * shape_eval(c.pk[k].shape, 0, ph0[k].w1, ph0[k].w2, NULL)) >
                  1e-10)) {
                rmsg(r, NMRFIT_ESINGULAR,
                     "singular: peak %d (%s) has no intensity, so no position or width", k + 1,
                     nmrfit_shape_name(c.pk[k].shape));
                goto out;
            }
    }
    J = gsl_matrix_alloc((size_t)c.m, (size_t)c.np);
    C = gsl_matrix_alloc((size_t)c.np, (size_t)c.np);
    int bad = covariance(&c, v, J, C);
    if (bad >= 0) {
        if (bad >= c.np) {
            rmsg(r, NMRFIT_ESINGULAR, "singular: no covariance at the solution");
        } else if (bad >= c.nb) {
            rmsg(r, NMRFIT_ESINGULAR, "singular: the baseline is not determined");
        } else {
            int k = 0;
            while (k + 1 < c.npk && c.pk[k + 1].off <= bad)
                k++;
            rmsg(r, NMRFIT_ESINGULAR,
                 "singular: the %s of peak %d (%s) is not determined by the data%s",
                 param_name(c.pk[k].shape, bad - c.pk[k].off), k + 1,
                 nmrfit_shape_name(c.pk[k].shape),
                 gsl_vector_get(v, (size_t)c.pk[k].off) == 0 ? " (area 0)" : "");
        }
        goto out;
    }

    r->dof = c.m - c.np;
    double s2 = chi2 / (double)r->dof; /* in units of ysc^2 */
    struct phys ph[NMRFIT_MAX_PEAKS];
    decode(&c, v, ph);
    struct nmrfit_peak out[NMRFIT_MAX_PEAKS];
#define COV(a, b) (gsl_matrix_get(C, (size_t)(a), (size_t)(b)) * s2)
    for (int k = 0; k < c.npk; k++) {
        struct nmrfit_peak *p = &out[k];
        const struct phys *q = &ph[k];
        int o = c.pk[k].off;
        *p = peaks[k];
        p->lo = c.pk[k].lo;
        p->hi = c.pk[k].hi;
        p->pos = q->pos;
        p->area = q->a * ysc;
        p->area_err = sqrt(COV(o, o)) * ysc;
        p->pos_err = sqrt(COV(o + 1, o + 1));
        p->eta_err = p->gfwhm_err = p->lfwhm_err = 0;
        if (p->shape == NMRFIT_VOIGT) {
            p->gfwhm = q->w1;
            p->lfwhm = q->w2;
            p->fwhm = nmrfit_voigt_fwhm(q->w1, q->w2);
            p->gfwhm_err = sqrt(COV(o + 2, o + 2));
            p->lfwhm_err = sqrt(COV(o + 3, o + 3));
            double rt = sqrt(0.2166 * q->w2 * q->w2 + q->w1 * q->w1);
            double dg = q->w1 / rt, dl = 0.5346 + 0.2166 * q->w2 / rt;
            double var = dg * dg * COV(o + 2, o + 2) + dl * dl * COV(o + 3, o + 3) +
                         2 * dg * dl * COV(o + 2, o + 3);
            p->fwhm_err = sqrt(var > 0 ? var : 0);
        } else {
            p->fwhm = q->w1;
            p->fwhm_err = sqrt(COV(o + 2, o + 2));
            if (p->shape == NMRFIT_PVOIGT) {
                p->eta = q->w2;
                p->eta_err = sqrt(COV(o + 3, o + 3));
            }
        }
        p->height = p->area * shape_eval(p->shape, 0, q->w1, q->w2, NULL);
        double edge = 1e-3 * (p->hi - p->lo);
        p->at_bound = p->pos - p->lo < edge || p->hi - p->pos < edge;
    }
#undef COV
    double c0 = gsl_vector_get(v, (size_t)c.nb), c1 = gsl_vector_get(v, (size_t)c.nb + 1);
    r->base1 = c1 * c.ixh * ysc;
    r->base0 = (c0 - c1 * c.xc * c.ixh) * ysc;
    r->chi2 = chi2 * ysc * ysc;
    r->rms = sqrt(r->chi2 / (double)r->dof);
    for (int k = 0; k < c.npk; k++) {
        const struct nmrfit_peak *p = &out[k];
        if (!isfinite(p->area) || !isfinite(p->area_err) || !isfinite(p->pos_err) ||
            !isfinite(p->fwhm_err) || !isfinite(p->height)) {
            rmsg(r, NMRFIT_EDIVERGED, "diverged: peak %d has no finite area or error", k + 1);
            goto out;
        }
    }
    memcpy(peaks, out, (size_t)c.npk * sizeof *out);
    if (st == GSL_EMAXITER && r->iter >= NMRFIT_MAX_ITER)
        rmsg(r, NMRFIT_MAXITER, "not converged after %d iterations (chi2 %g)", r->iter, r->chi2);
    else
        rmsg(r, NMRFIT_OK, "converged after %d iterations (%s)", r->iter,
             info == 1   ? "small step"
             : info == 2 ? "small gradient"
             : info == 3 ? "small chi2 change"
                         : "no better point near the start");
    ret = 0;
out:
    gsl_matrix_free(J);
    gsl_matrix_free(C);
    gsl_multifit_nlinear_free(w);
    gsl_vector_free(v0);
    gsl_vector_free(th);
    free(buf);
    gsl_set_error_handler(old);
    return ret;
}
