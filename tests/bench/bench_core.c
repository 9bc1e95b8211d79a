/* bench_core: the foundation's numbers: parser throughput, event-loop timer rate, how many
 * records per second the archive (journal + netCDF) sustains, scalar and array, and how many
 * NMR peak fits per second the core makes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "insitu/archive.h"
#include "insitu/clock.h"
#include "insitu/loop.h"
#include "insitu/nmrfit.h"
#include "insitu/parse.h"
#include "insitu/run.h"
#include "insitu/units.h"
#include "insitu/util.h"

static void bench_parse(void)
{
    struct strbuf b = { 0 };
    for (int i = 0; i < 2000; i++)
        strbuf_printf(&b, "cycler start { cc %dmA until 15h ; rest 1h } # step %d\n"
                          "set clock.speed 3600 ; note \"spectrum %d\" \n", i, i, i);
    double t0 = clock_mono();
    int reps = 20;
    size_t cmds = 0;
    for (int r = 0; r < reps; r++) {
        struct cmdlist l;
        struct parse_error e;
        parse_text(b.s, "bench", 1, &l, &e);
        cmds += (size_t)l.n;
        cmdlist_free(&l);
    }
    double dt = clock_mono() - t0;
    printf("parse: %.1f MB/s, %.0f commands/s\n", b.len * reps / dt / 1e6, cmds / dt);
    strbuf_free(&b);
}

static void bench_units(void)
{
    units_init(NULL, 0);
    double t0 = clock_mono(), v, sum = 0;
    int n = 20000;
    for (int i = 0; i < n; i++) {
        units_parse(i & 1 ? "500mA" : "10mV/s", i & 1 ? "A" : "V/s", &v, NULL, 0);
        sum += v;
    }
    double dt = clock_mono() - t0;
    printf("units: %.0f quantities/s parsed and converted (checksum %g)\n", n / dt, sum);
}

static long loop_count;
static double bench_tick(struct loop *l, long long id, void *arg)
{
    if (++loop_count >= 200000)
        loop_stop(l);
    return 0;
}

static void bench_loop(void)
{
    struct loop *l = loop_new();
    for (int i = 0; i < 10; i++)
        loop_timer_add(l, 0, 0, bench_tick, NULL);
    double t0 = clock_mono();
    loop_run(l);
    double dt = clock_mono() - t0;
    printf("loop: %.0f timer callbacks/s (10 timers due at once)\n", loop_count / dt);
    loop_free(l);
}

static void bench_archive(void)
{
    char dir[] = "/tmp/insitu-bench-XXXXXX";
    if (!mkdtemp(dir))
        return;
    struct run *r = run_new("bench", clock_utc(), clock_now());
    char err[256];
    struct archive *a = archive_create(r, dir, err, sizeof err);
    if (!a) {
        printf("archive: %s\n", err);
        run_free(r);
        return;
    }
    struct run_field ec[] = {
        { "voltage", "V", "cell voltage", RUN_F64, NULL, 0, NULL },
        { "current", "A", "cell current", RUN_F64, NULL, 0, NULL },
        { "charge", "A h", "charge passed", RUN_F64, NULL, 0, NULL },
        { "step", "1", "protocol step", RUN_I32, NULL, 0, NULL },
    };
    struct run_table *t = run_table_add(r, "ec", NULL, ec, 4, err, sizeof err);
    int n = 100000;
    double t0 = clock_mono(), last_sync = t0;
    for (int i = 0; i < n; i++) {
        union run_value v[4] = { { .f64 = 0.01 * i }, { .f64 = 0.5 }, { .f64 = i / 3600.0 },
                                 { .i32 = 1 } };
        run_append(t, i, v);
        if (clock_mono() - last_sync > 2) {   /* the engine's archive.sync */
            archive_sync(a);
            last_sync = clock_mono();
        }
    }
    archive_sync(a);
    double dt = clock_mono() - t0;
    printf("archive: %.0f scalar records/s (4 fields, journal + netCDF, synced every 2 s)\n",
           n / dt);

    enum { SI = 8192 };
    double *ppm = util_malloc(SI * sizeof *ppm), *spec = util_malloc(SI * sizeof *spec);
    for (int j = 0; j < SI; j++) {
        ppm[j] = 400.0 - j * 0.05;
        spec[j] = (double)j;
    }
    run_axis_set(r, "nmr", "ppm", SI, "ppm", "chemical shift", ppm);
    struct run_field sf = { "spectrum", "1", "real spectrum", RUN_F64, "ppm", SI, NULL };
    struct run_table *st = run_table_add(r, "nmr", NULL, &sf, 1, err, sizeof err);
    int m = 200;
    t0 = clock_mono();
    for (int i = 0; i < m; i++) {
        union run_value v = { .arr = spec };
        run_append(st, i, &v);
    }
    dt = clock_mono() - t0;
    printf("archive: %.0f spectra/s of %d points, each fsync'd (journal) and nc_sync'd\n",
           m / dt, SI);
    archive_close(a, err, sizeof err);
    run_free(r);
    free(ppm);
    free(spec);
    char *cmd = util_printf("rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup failed\n");
    free(cmd);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak RSS of this bench: %ld MB\n", ru.ru_maxrss / 1024);
}

/* Two overlapping pseudo-Voigt peaks (7Li metal and microstructure) over a 1001-point window:
 * from the position alone (the first spectrum of a series), and from the previous fit (every
 * later one: each spectrum differs from the last, as in a real series). */
static void bench_nmrfit(void)
{
    enum { N = 4096, SPECTRA = 16 };
    double *ppm = util_malloc(N * sizeof *ppm), *y = util_malloc((size_t)SPECTRA * N * sizeof *y);
    unsigned long seed = 1;
    for (int j = 0; j < N; j++)
        ppm[j] = 400 - j * 0.09; /* 220..310 ppm holds 1001 points */
    for (int s = 0; s < SPECTRA; s++) {
        struct nmrfit_peak pk[2] = {
            { .shape = NMRFIT_PVOIGT, .pos = 245 - 0.05 * s, .fwhm = 12, .eta = 0.6,
              .area = 100 - s },
            { .shape = NMRFIT_PVOIGT, .pos = 266, .fwhm = 18, .eta = 0.3, .area = 10 + 2 * s },
        };
        for (int j = 0; j < N; j++) {
            double u = 0; /* noise: a sum of uniforms, deterministic and portable */
            for (int k = 0; k < 12; k++) {
                seed = seed * 6364136223846793005UL + 1442695040888963407UL;
                u += (double)(seed >> 11) / 9007199254740992.0;
            }
            y[(size_t)s * N + j] = nmrfit_profile(&pk[0], ppm[j]) + nmrfit_profile(&pk[1], ppm[j]) +
                                   0.5 - 0.001 * ppm[j] + 0.02 * (u - 6);
        }
    }
    struct nmrfit_peak start[2] = {
        { .shape = NMRFIT_PVOIGT, .pos = 248, .lo = 244, .hi = 252.5 },
        { .shape = NMRFIT_PVOIGT, .pos = 266, .lo = 256, .hi = 276 },
    };
    struct nmrfit_result r;
    for (int mode = 0; mode < 2; mode++) {
        struct nmrfit_peak p[2] = { start[0], start[1] };
        int fits = 0, failed = 0;
        long iters = 0;
        double t0 = clock_mono(), dt;
        int pass = 0;
        do { /* forth and back through the series, so that neighbours are always close */
            for (int i = 0; i < SPECTRA; i++, fits++) {
                int s = pass & 1 ? SPECTRA - 1 - i : i;
                if (mode == 0) {
                    p[0] = start[0];
                    p[1] = start[1];
                }
                failed += nmrfit_fit(ppm, y + (size_t)s * N, N, 220, 310, p, 2, &r) != 0;
                iters += r.iter;
            }
            pass++;
        } while ((dt = clock_mono() - t0) < 0.5);
        printf("nmrfit: %.0f fits/s (%.0f us each, %.1f iterations) of 2 pseudo-Voigt peaks "
               "over %ld points, %s%s\n", fits / dt, 1e6 * dt / fits, (double)iters / fits,
               r.npts, mode ? "each from the previous fit" : "from the positions alone",
               failed ? " (FAILURES)" : "");
    }
    free(ppm);
    free(y);
}

int main(void)
{
    bench_parse();
    bench_units();
    bench_loop();
    bench_archive();
    bench_nmrfit();
    return 0;
}
