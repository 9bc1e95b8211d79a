/* cmd-nmr: NMR datasets on disk: nmr load bruker, nmr process topspin, nmr export.
 * The spectrum loaded here is the session's "current spectrum"; the run-level series (time x
 * ppm, tracked peaks) comes with the spectrometer. */
#include <complex.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "insitu/bruker.h"
#include "insitu/cmd.h"
#include "insitu/msg.h"
#include "insitu/nmr.h"
#include "insitu/paths.h"
#include "insitu/util.h"

static struct {
    char *dir;
    struct bruker_dataset ds;
    int loaded;
    struct nmr_params p;
    double *re, *ppm;   /* the processed spectrum, p.si points */
    long n;
} nmr_cur;

static void nmr_cur_clear(void)
{
    if (nmr_cur.loaded)
        bruker_dataset_free(&nmr_cur.ds);
    free(nmr_cur.dir);
    free(nmr_cur.re);
    free(nmr_cur.ppm);
    memset(&nmr_cur, 0, sizeof nmr_cur);
}

static int nmr_cmd_load(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    if (strcmp(argv[0].text, "bruker"))
        return cmd_error(ctx, "\"%s\": the format is bruker (usage: %s)", argv[0].text,
                         ctx->entry->usage);
    char *dir = paths_expand(argv[1].text);
    struct bruker_dataset ds;
    struct bruker_err e;
    if (bruker_read_dataset(dir, &ds, &e) < 0) {
        free(dir);
        return cmd_error(ctx, "%s", e.msg);
    }
    nmr_cur_clear();
    nmr_cur.ds = ds;
    nmr_cur.loaded = 1;
    nmr_cur.dir = dir;
    msg_out("%s: %ld complex points, SFO1 %.6f MHz, SW %.1f Hz; procs SI %ld, WDW %d, LB %g Hz, "
            "PHC0 %g, PHC1 %g", dir, ds.npoints, ds.acq.sfo1, ds.acq.sw_h, ds.proc.si,
            ds.proc.wdw, ds.proc.lb, ds.proc.phc0, ds.proc.phc1);
    return CMD_OK;
}

static int nmr_cmd_process(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    if (strcmp(argv[0].text, "topspin"))
        return cmd_error(ctx, "\"%s\": only `nmr process topspin` (the dataset's own procs) "
                         "so far", argv[0].text);
    if (!nmr_cur.loaded)
        return cmd_error(ctx, "no dataset (`nmr load bruker DIR` first)");
    struct nmr_err e;
    struct nmr_params p;
    if (nmr_params_from_bruker(&nmr_cur.ds, &p, &e) < 0)
        return cmd_error(ctx, "%s", e.msg);
    struct nmr_work *w = nmr_work_new(p.si);
    if (!w)
        return cmd_error(ctx, "cannot plan an FFT of %ld points", p.si);
    double *re = util_malloc((size_t)p.si * sizeof *re), *ppm = util_malloc((size_t)p.si * sizeof *ppm);
    int rc = nmr_process(w, &p, nmr_cur.ds.fid, nmr_cur.ds.npoints, re, NULL, &e);
    nmr_work_free(w);
    if (rc < 0) {
        free(re);
        free(ppm);
        return cmd_error(ctx, "%s", e.msg);
    }
    nmr_ppm_axis(&p, ppm);
    free(nmr_cur.re);
    free(nmr_cur.ppm);
    nmr_cur.re = re;
    nmr_cur.ppm = ppm;
    nmr_cur.n = p.si;
    nmr_cur.p = p;
    /* Where TopSpin's own result is beside the raw data, say how close we came. */
    char *r1 = util_printf("%s/pdata/1/1r", nmr_cur.dir);
    double *ref = util_malloc((size_t)p.si * sizeof *ref);
    struct bruker_err be;
    if (access(r1, R_OK) == 0 && nmr_cur.ds.proc.si == p.si && bruker_read_pdata(r1, &nmr_cur.ds.proc, ref, &be) == 0)
        msg_out("processed: %ld points, %.3f..%.3f ppm; correlation with TopSpin's 1r %.7f", p.si,
                ppm[0], ppm[p.si - 1], nmr_correlation(re, ref, p.si));
    else
        msg_out("processed: %ld points, %.3f..%.3f ppm", p.si, ppm[0], ppm[p.si - 1]);
    free(ref);
    free(r1);
    return CMD_OK;
}

static int nmr_export_csv(FILE *f)
{
    fprintf(f, "ppm,intensity\n");
    for (long i = 0; i < nmr_cur.n; i++)
        fprintf(f, "%.8g,%.10g\n", nmr_cur.ppm[i], nmr_cur.re[i]);
    return 0;
}

/* JCAMP-DX 5.01, NMR SPECTRUM, one (X++(Y..Y)) ordinate per line: the simplest form every
 * reader takes. X is in ppm, high to low as TopSpin stores it. */
static int nmr_export_jdx(FILE *f, const char *title)
{
    long n = nmr_cur.n;
    double first = nmr_cur.ppm[0], last = nmr_cur.ppm[n - 1];
    double dx = n > 1 ? (last - first) / (double)(n - 1) : 0;
    fprintf(f, "##TITLE=%s\n##JCAMP-DX=5.01\n##DATA TYPE=NMR SPECTRUM\n##DATA CLASS=XYDATA\n"
               "##ORIGIN=insitu " INSITU_VERSION "\n##OWNER=\n##.OBSERVE FREQUENCY=%.8f\n"
               "##XUNITS=PPM\n##YUNITS=ARBITRARY UNITS\n##XFACTOR=1\n##YFACTOR=1\n"
               "##FIRSTX=%.10g\n##LASTX=%.10g\n##DELTAX=%.10g\n##NPOINTS=%ld\n"
               "##FIRSTY=%.10g\n##XYDATA=(X++(Y..Y))\n",
            title, nmr_cur.p.sf, first, last, dx, n, nmr_cur.re[0]);
    for (long i = 0; i < n; i++)
        fprintf(f, "%.10g %.10g\n", first + dx * (double)i, nmr_cur.re[i]);
    fprintf(f, "##END=\n");
    return 0;
}

static int nmr_cmd_export(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    if (!nmr_cur.re)
        return cmd_error(ctx, "no processed spectrum (`nmr process topspin` first)");
    int force = argc == 2 && !strcmp(argv[0].text, "-f");
    if (argc == 2 && !force)
        return cmd_error(ctx, "usage: %s", ctx->entry->usage);
    const char *out = argv[argc - 1].text;
    size_t len = strlen(out);
    int jdx = len > 4 && (!strcmp(out + len - 4, ".jdx") || !strcmp(out + len - 4, ".dx"));
    int csv = len > 4 && !strcmp(out + len - 4, ".csv");
    if (!jdx && !csv)
        return cmd_error(ctx, "\"%s\": the name ends in .csv or .jdx", out);
    if (!force && access(out, F_OK) == 0)
        return cmd_error(ctx, "%s exists (-f replaces it)", out);
    char *tmp = util_printf("%s.tmp", out);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        int e = errno;
        free(tmp);
        return cmd_error(ctx, "%s: %s", out, strerror(e));
    }
    if (jdx)
        nmr_export_jdx(f, nmr_cur.dir ? nmr_cur.dir : "spectrum");
    else
        nmr_export_csv(f);
    int bad = ferror(f) | (fclose(f) != 0);
    if (bad || rename(tmp, out) < 0) {
        int e = errno;
        unlink(tmp);
        free(tmp);
        return cmd_error(ctx, "%s: %s", out, strerror(e));
    }
    free(tmp);
    msg_out("%ld points written to %s", nmr_cur.n, out);
    return CMD_OK;
}

const struct cmd_entry cmd_nmr_entries[] = {
    { "nmr", "load", NULL, "choice:bruker dir", "nmr load bruker DIR",
      "Read a Bruker dataset: DIR/acqus, DIR/fid (int32 or float64, either byte order, padded "
      "blocks) and DIR/pdata/1/procs.", nmr_cmd_load },
    { "nmr", "process", NULL, "choice:topspin", "nmr process topspin",
      "Process the loaded FID with the dataset's own procs exactly as TopSpin does (TDeff, BC, "
      "window, FCOR, zero fill, FFT, digital filter, phase, ppm axis). When pdata/1/1r is "
      "there, the correlation with TopSpin's result is printed.", nmr_cmd_process },
    { "nmr", "export", NULL, "word word?", "nmr export [-f] FILE.csv|FILE.jdx",
      "Write the processed spectrum as CSV (ppm, intensity) or JCAMP-DX. An existing FILE is "
      "kept unless -f.", nmr_cmd_export },
    { NULL, NULL, NULL, NULL, NULL, NULL, NULL },
};
