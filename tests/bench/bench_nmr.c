/* bench_nmr: spectra per second of the full TopSpin-style pipeline (BC, EM, FCOR, zero fill x2,
 * FFT, digital filter, phase, 5th-order baseline) beside the bare FFTW transform of the same
 * size, for 4k, 16k and 64k complex FID points. Goal: the pipeline within 2x of the FFT. */
#include <complex.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <fftw3.h>

#include "insitu/nmr.h"
#include "insitu/util.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Run FN until at least 0.5 s have passed; spectra per second. */
#define RATE(body)                                                                             \
    ({                                                                                         \
        long reps_ = 0;                                                                        \
        double t0_ = now(), dt_;                                                               \
        do {                                                                                   \
            for (int r_ = 0; r_ < 10; r_++) {                                                  \
                body;                                                                          \
            }                                                                                  \
            reps_ += 10;                                                                       \
        } while ((dt_ = now() - t0_) < 0.5);                                                   \
        (double)reps_ / dt_;                                                                   \
    })

static void bench_size(long td)
{
    long si = 2 * td;
    double sw = 100000;
    double complex *fid = util_malloc((size_t)td * sizeof *fid);
    unsigned seed = 1;
    for (long k = 0; k < td; k++) {
        double t = (double)k / sw;
        seed = seed * 1103515245u + 12345u;
        fid[k] = 1e6 * cexp(I * 2 * M_PI * 3000 * t) * exp(-t / 0.002) +
                 (double)(seed >> 16) / 65536.0;
    }
    struct nmr_params p = { .si = si, .bc_mod = 2, .wdw = 1, .lb = 50, .fcor = 0.5,
                            .sw_h = sw, .digmod = 3, .grpdly = 67.98, .phc0 = 30, .phc1 = -10,
                            .sf = 116.64, .sw_p = sw };
    p.offset = 250 + sw / (2 * p.sf);
    double *re = util_malloc((size_t)si * sizeof *re), *ppm = util_malloc((size_t)si * 8);
    nmr_ppm_axis(&p, ppm);
    double excl[2] = { 200, 300 };
    struct nmr_work *w = nmr_work_new(si);
    struct nmr_err e;
    if (!w || nmr_process(w, &p, fid, td, re, NULL, &e)) {
        fprintf(stderr, "bench_nmr: %s\n", w ? e.msg : "no workspace");
        exit(1);
    }
    double pipe = RATE({
        nmr_process(w, &p, fid, td, re, NULL, &e);
        nmr_baseline_poly(re, ppm, si, 5, excl, 1, NULL, &e);
    });
    fftw_complex *buf = fftw_malloc((size_t)si * sizeof *buf);
    fftw_plan pl = fftw_plan_dft_1d((int)si, buf, buf, FFTW_FORWARD, FFTW_MEASURE);
    for (long k = 0; k < si; k++)
        buf[k] = 0;  /* fftw_complex is double complex once complex.h is in */
    double fft = RATE(fftw_execute(pl));
    printf("nmr TD %3ldk -> SI %3ldk: pipeline %8.0f spectra/s, bare FFT %8.0f /s, "
           "ratio %.2f\n", td / 1024, si / 1024, pipe, fft, fft / pipe);
    fftw_destroy_plan(pl);
    fftw_free(buf);
    nmr_work_free(w);
    free(fid);
    free(re);
    free(ppm);
}

int main(void)
{
    bench_size(4096);
    bench_size(16384);
    bench_size(65536);
    return 0;
}
