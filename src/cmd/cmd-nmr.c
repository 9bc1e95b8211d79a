/* cmd-nmr: the NMR commands. Datasets on disk (nmr load bruker, nmr process topspin), the
 * run's series (nmr start|stop|wait|status, regions and peaks, reprocess, reference) and
 * exports. `nmr export` writes the run's newest spectrum, else the loaded dataset's. */
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
#include "insitu/nmrrun.h"
#include "insitu/session.h"
#include "insitu/units.h"
#include "insitu/loop.h"
#include "insitu/paths.h"
#include "insitu/clock.h"
#include "insitu/ecfile.h"
#include "insitu/run.h"
#include "insitu/tsfollow.h"
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
    /* what the spectrum pane shows: the run's newest spectrum when there is one */
    const double *ppm;
    long n;
    double sf;
    const double *spec = nmrrun_latest(ctx->s, &ppm, &n, &sf);
    if (spec) {
        free(nmr_cur.re);
        free(nmr_cur.ppm);
        nmr_cur.re = util_malloc((size_t)n * sizeof *nmr_cur.re);
        nmr_cur.ppm = util_malloc((size_t)n * sizeof *nmr_cur.ppm);
        memcpy(nmr_cur.re, spec, (size_t)n * sizeof *spec);
        memcpy(nmr_cur.ppm, ppm, (size_t)n * sizeof *ppm);
        nmr_cur.n = n;
        nmr_cur.p.sf = sf;
    }
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

/* ---- the run's series ---- */

/* A chemical shift: "245ppm", "245 ppm" or a bare number (ppm is what everybody means). */
static int nmr_ppm(struct cmd_ctx *ctx, const struct word *w, double *out)
{
    char *end;
    double v = strtod(w->text, &end);
    if (end != w->text && !*end && isfinite(v)) {
        *out = v;
        return 0;
    }
    return cmd_qty(ctx, w, "ppm", out);
}

static int nmr_cmd_start(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    long count = -1;
    const char *dev = NULL;
    for (int i = 0; i < argc; i++) {
        char *end;
        long v = strtol(argv[i].text, &end, 10);
        if (end != argv[i].text && !*end) {
            if (v < 1)
                return cmd_error(ctx, "\"%s\": the number of spectra is 1 or more", argv[i].text);
            count = v;
        } else {
            dev = argv[i].text;
        }
    }
    char err[300];
    if (nmrrun_start(ctx->s, dev, count, err, sizeof err) < 0)
        return cmd_error(ctx, "%s", err);
    return CMD_OK;
}

static int nmr_cmd_stop(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    char err[300];
    if (nmrrun_stop(ctx->s, err, sizeof err) < 0)
        return cmd_error(ctx, "%s", err);
    return CMD_OK;
}

struct nmr_wait {
    struct exec *ex;
    struct session *s;
    long long timer;
    struct cmd_ctx ctx;
    char *file;
};

static void nmr_wait_free(struct nmr_wait *w)
{
    free(w->file);
    free(w);
}

static void nmr_wait_cancel(struct exec *ex, void *arg)
{
    struct nmr_wait *w = arg;
    nmrrun_cancel_idle(w->s, w);
    if (w->timer)
        loop_timer_del(w->s->loop, w->timer);
    nmr_wait_free(w);
}

static void nmr_wait_idle(void *arg)
{
    struct nmr_wait *w = arg;
    struct exec *ex = w->ex;
    if (w->timer)
        loop_timer_del(w->s->loop, w->timer);
    nmr_wait_free(w);
    exec_resume(ex, CMD_OK);
}

static double nmr_wait_timeout(struct loop *l, long long id, void *arg)
{
    struct nmr_wait *w = arg;
    struct exec *ex = w->ex;
    nmrrun_cancel_idle(w->s, w);
    w->ctx.file = w->file;
    cmd_error(&w->ctx, "timed out; the acquisition goes on");
    nmr_wait_free(w);
    exec_resume(ex, CMD_ERR);
    return -1;
}

static int nmr_cmd_wait(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    double limit = 0;
    if (argc && cmd_qty(ctx, &argv[0], "s", &limit) < 0)
        return CMD_ERR;
    if (!nmrrun_busy(ctx->s))
        return CMD_OK;
    struct nmr_wait *w = util_calloc(1, sizeof *w);
    w->ex = ctx->ex;
    w->s = ctx->s;
    w->ctx = *ctx;
    w->file = ctx->file ? util_strdup(ctx->file) : NULL;
    if (limit > 0)
        w->timer = loop_timer_add(ctx->s->loop, limit, 1, nmr_wait_timeout, w);
    nmrrun_on_idle(ctx->s, nmr_wait_idle, w);
    exec_wait(ctx->ex, nmr_wait_cancel, w);
    return CMD_WAIT;
}

static int nmr_cmd_status(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    struct strbuf b = { 0 };
    nmrrun_status(ctx->s, &b);
    cmd_print_buf(&b);
    return CMD_OK;
}

static int nmr_cmd_region(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    char err[300];
    const char *verb = argv[0].text;
    if (!strcmp(verb, "list")) {
        struct strbuf b = { 0 };
        nmrrun_list(ctx->s, &b);
        cmd_print_buf(&b);
        return CMD_OK;
    }
    if (!strcmp(verb, "remove")) {
        if (argc != 2)
            return cmd_error(ctx, "usage: nmr %s remove NAME", ctx->entry->sub);
        if (nmrrun_remove(ctx->s, argv[1].text, err, sizeof err) < 0)
            return cmd_error(ctx, "%s", err);
        return CMD_OK;
    }
    if (argc != 4)
        return cmd_error(ctx, "usage: %s", ctx->entry->usage);
    double lo, hi;
    if (nmr_ppm(ctx, &argv[2], &lo) < 0 || nmr_ppm(ctx, &argv[3], &hi) < 0)
        return CMD_ERR;
    if (nmrrun_region_add(ctx->s, argv[1].text, lo, hi, err, sizeof err) < 0)
        return cmd_error(ctx, "%s", err);
    return CMD_OK;
}

static int nmr_cmd_peak(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    const char *verb = argv[0].text;
    if (strcmp(verb, "add"))
        return nmr_cmd_region(ctx, argc, argv);
    if (argc < 3)
        return cmd_error(ctx, "usage: %s", ctx->entry->usage);
    struct nmrfit_peak pk;
    memset(&pk, 0, sizeof pk);
    pk.shape = NMRFIT_PVOIGT;
    pk.eta = 0.5;
    if (nmr_ppm(ctx, &argv[2], &pk.pos) < 0)
        return CMD_ERR;
    pk.lo = pk.pos - 10;
    pk.hi = pk.pos + 10;
    int pos = 0;
    for (int i = 3; i < argc; i++) {
        const char *t = argv[i].text;
        if (!strncmp(t, "shape=", 6)) {
            if (nmrfit_shape_parse(t + 6, &pk.shape) < 0)
                return cmd_error(ctx, "\"%s\": shapes are pvoigt, voigt, lorentz, gauss", t + 6);
        } else if (!strncmp(t, "fwhm=", 5)) {
            struct word w = argv[i];
            w.text = (char *)t + 5;
            if (nmr_ppm(ctx, &w, &pk.fwhm) < 0)
                return CMD_ERR;
            if (pk.fwhm <= 0)
                return cmd_error(ctx, "\"%s\": the width must be positive", t);
        } else if (pos < 2) {
            double v;
            if (nmr_ppm(ctx, &argv[i], &v) < 0)
                return CMD_ERR;
            if (pos++ == 0)
                pk.lo = v;
            else
                pk.hi = v;
        } else {
            return cmd_error(ctx, "\"%s\": unexpected (usage: %s)", t, ctx->entry->usage);
        }
    }
    if (pos == 1)
        return cmd_error(ctx, "a position range needs two limits (usage: %s)", ctx->entry->usage);
    if (pk.lo > pk.hi) {
        double x = pk.lo;
        pk.lo = pk.hi;
        pk.hi = x;
    }
    pk.gfwhm = pk.lfwhm = pk.fwhm / 2;
    char err[300];
    if (nmrrun_peak_add(ctx->s, argv[1].text, &pk, err, sizeof err) < 0)
        return cmd_error(ctx, "%s", err);
    return CMD_OK;
}

static int nmr_cmd_reprocess(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    char err[300];
    if (nmrrun_reprocess(ctx->s, err, sizeof err) < 0)
        return cmd_error(ctx, "%s", err);
    msg_out("reprocessed");
    return CMD_OK;
}

struct nmr_refwait {
    struct exec *ex;
    struct cmd_ctx ctx;
    char *file;
    int cancelled;
};

static void nmr_ref_cancel(struct exec *ex, void *arg)
{
    struct nmr_refwait *w = arg;
    w->cancelled = 1;    /* the measurement finishes on its own; nobody waits for it */
}

static void nmr_ref_done(void *arg, int ok, const char *msg)
{
    struct nmr_refwait *w = arg;
    if (w->cancelled) {
        free(w->file);
        free(w);
        return;
    }
    w->ctx.file = w->file;
    if (ok)
        msg_out("%s", msg);
    else
        cmd_error(&w->ctx, "%s", msg);
    struct exec *ex = w->ex;
    free(w->file);
    free(w);
    exec_resume(ex, ok ? CMD_OK : CMD_ERR);
}

static int nmr_cmd_reference(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    struct nmr_refwait *w = util_calloc(1, sizeof *w);
    w->ex = ctx->ex;
    w->ctx = *ctx;
    w->file = ctx->file ? util_strdup(ctx->file) : NULL;
    char err[300];
    if (nmrrun_reference(ctx->s, argv[0].text, nmr_ref_done, w, err, sizeof err) < 0) {
        free(w->file);
        free(w);
        return cmd_error(ctx, "%s", err);
    }
    exec_wait(ctx->ex, nmr_ref_cancel, w);
    return CMD_WAIT;
}

static int nmr_cmd_standard(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    if (argc == 0) {
        struct strbuf b = { 0 };
        nmrrun_standards(&b);
        cmd_print_buf(&b);
        return CMD_OK;
    }
    if (argc != 3)
        return cmd_error(ctx, "usage: %s", ctx->entry->usage);
    double ppm;
    if (nmr_ppm(ctx, &argv[2], &ppm) < 0)
        return CMD_ERR;
    char err[200];
    if (nmrrun_standard_set(argv[0].text, argv[1].text, ppm, err, sizeof err) < 0)
        return cmd_error(ctx, "%s", err);
    return CMD_OK;
}

static int nmr_cmd_export_trend(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    int force = argc == 2 && !strcmp(argv[0].text, "-f");
    if (argc == 2 && !force)
        return cmd_error(ctx, "usage: %s", ctx->entry->usage);
    const char *out = argv[argc - 1].text;
    if (!force && access(out, F_OK) == 0)
        return cmd_error(ctx, "%s exists (-f replaces it)", out);
    char err[300];
    if (nmrrun_export_trend(ctx->s, out, err, sizeof err) < 0)
        return cmd_error(ctx, "%s", err);
    msg_out("trend written to %s", out);
    return CMD_OK;
}

/* ---- import ---- */

static char *nmr_base_name(const char *dir)
{
    char *copy = util_strdup(dir);
    size_t n = strlen(copy);
    while (n > 1 && copy[n - 1] == '/')
        copy[--n] = 0;
    const char *b = strrchr(copy, '/');
    b = b ? b + 1 : copy;
    struct strbuf out = { 0 };
    if (!((*b >= 'A' && *b <= 'Z') || (*b >= 'a' && *b <= 'z') || *b == '_'))
        strbuf_addch(&out, '_');
    for (; *b && out.len < 60; b++)
        strbuf_addch(&out, util_valid_name((char[]){ 'a', *b, 0 }) ? *b : '_');
    free(copy);
    return out.s ? strbuf_take(&out) : util_strdup("topspin");
}

static int nmr_cmd_import(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    struct session *s = ctx->s;
    if (strcmp(argv[0].text, "topspin"))
        return cmd_error(ctx, "\"%s\": the format is topspin (usage: %s)", argv[0].text,
                         ctx->entry->usage);
    if (s->run)
        return cmd_error(ctx, "run %s is active: an import makes a run of its own (`run stop` "
                         "first)", s->run->name);
    const char *name_arg = NULL, *mpt_file = NULL;
    for (int i = 2; i < argc; i++) {
        if (!strncmp(argv[i].text, "mpt=", 4))
            mpt_file = argv[i].text + 4;
        else if (!name_arg)
            name_arg = argv[i].text;
        else
            return cmd_error(ctx, "\"%s\": unexpected (usage: %s)", argv[i].text, ctx->entry->usage);
    }
    char *dir = paths_expand(argv[1].text);
    struct topspin_exp *v = NULL;
    int n = 0;
    struct bruker_err be;
    /* settle 0: a series on disk is finished, whatever its last fid's age */
    if (topspin_scan(dir, 0, 0, clock_utc(), &v, &n, &be) < 0) {
        free(dir);
        return cmd_error(ctx, "%s", be.msg);
    }
    int good = 0;
    double first = INFINITY, last = -INFINITY;
    for (int i = 0; i < n; i++)
        if (v[i].complete) {
            good++;
            first = fmin(first, v[i].start);
            last = fmax(last, v[i].end);
        }
    if (!good) {
        topspin_exps_free(v, n);
        int rc = cmd_error(ctx, "%s: no finished experiment (numbered directories with acqus "
                           "and a complete fid)", dir);
        free(dir);
        return rc;
    }
    /* the electrochemistry of the same cell, when given, goes into the same run */
    struct mpt m;
    int have_mpt = 0;
    double utc0 = first;
    char err[800];
    if (mpt_file) {
        char *path = paths_expand(mpt_file);
        size_t len = 0;
        char *text = paths_read_file(path, &len);
        free(path);
        if (!text) {
            topspin_exps_free(v, n);
            free(dir);
            return cmd_error(ctx, "%s: cannot read: %s", mpt_file, strerror(errno));
        }
        int rc = mpt_parse(text, len, mpt_file, &m, err, sizeof err);
        free(text);
        if (rc < 0) {
            topspin_exps_free(v, n);
            free(dir);
            return cmd_error(ctx, "%s", err);
        }
        if (mpt_start_utc(&m, &utc0) < 0) {
            mpt_free(&m);
            topspin_exps_free(v, n);
            free(dir);
            return cmd_error(ctx, "%s: no acquisition start in the file: the spectra cannot be "
                             "lined up with it", mpt_file);
        }
        have_mpt = 1;
    }
    char *name = name_arg ? util_strdup(name_arg) : nmr_base_name(dir);
    char *src = util_printf("source_dir=%s", dir);
    char *kv[] = { src };
    int rc = session_run_start_utc(s, name, utc0, 1, kv, err, sizeof err);
    free(src);
    if (rc < 0) {
        if (have_mpt)
            mpt_free(&m);
        topspin_exps_free(v, n);
        free(dir);
        free(name);
        return cmd_error(ctx, "%s", err);
    }
    struct run *r = s->run;
    run_attr_text(r, NULL, "imported_format", "Bruker TopSpin experiment series");
    /* the run's clock ends with the last spectrum, so the archive states the duration */
    r->t0 = clock_now() - (last - utc0);
    if (have_mpt) {
        size_t nrec, nskip;
        if (mpt_to_run(&m, r, &nrec, &nskip, err, sizeof err) < 0)
            msg_warn("import: %s", err);
        else
            msg_out("%s: %zu records of electrochemistry", mpt_file, nrec);
        mpt_free(&m);
    }
    int taken = 0, skipped = 0;
    for (int i = 0; i < n; i++) {
        struct spectro_fid f;
        if (!v[i].complete) {
            msg_warn("import: expno %ld skipped: %s", v[i].expno, v[i].error ? v[i].error : "incomplete");
            skipped++;
            continue;
        }
        if (tsfollow_read(&v[i], &f, err, sizeof err) < 0 ||
            nmrrun_add_fid(s, &f, f.t_start - utc0, f.t_end - utc0, err, sizeof err) < 0) {
            msg_warn("import: expno %ld skipped: %s", v[i].expno, err);
            free(f.data);
            skipped++;
            continue;
        }
        free(f.data);
        taken++;
    }
    topspin_exps_free(v, n);
    msg_out("%s: %d experiments imported%s%.0d%s into run %s", dir, taken,
            skipped ? ", " : "", skipped, skipped ? " skipped" : "", name);
    free(dir);
    free(name);
    /* the run stays open: regions, peaks and `nmr reprocess` work on it; `run stop` files it */
    return CMD_OK;
}

const struct cmd_entry cmd_nmr_entries[] = {
    { "nmr", "import", NULL, "choice:topspin dir word*", "nmr import topspin DIR [NAME] [mpt=FILE]",
      "Make a run of a TopSpin experiment series on disk: every finished expno in order, timed "
      "from audita.txt (else acqus), processed with the nmr.* settings. With mpt=FILE the cycler's "
      "EC-Lab export goes into the same run, so spectra line up with the charge passed. The run "
      "stays open for `nmr region`, `nmr peak` and `nmr reprocess`; `run stop` files it.",
      nmr_cmd_import },
    { "nmr", "start", NULL, "word? word?", "nmr start [COUNT] [DEVICE]",
      "Acquire spectra into the active run, one after the other (COUNT of them, else until the "
      "run ends or `nmr stop`), each processed, integrated, fitted and archived in group nmr. "
      "With a TopSpin device, follow its experiments as they finish.", nmr_cmd_start },
    { "nmr", "stop", NULL, "", "nmr stop",
      "Stop acquiring; an acquisition under way is halted and kept with the scans it has.",
      nmr_cmd_stop },
    { "nmr", "wait", NULL, "qty:s?", "nmr wait [TIMEOUT]",
      "Wait until the acquisition loop is over (COUNT spectra taken, stopped, or the run "
      "ended).", nmr_cmd_wait },
    { "nmr", "status", NULL, "", "nmr status",
      "The spectrometer, the acquisition parameters, the series, the reference, the regions "
      "and peaks with their last fits.", nmr_cmd_status },
    { "nmr", "region", NULL, "choice:add|remove|list word*", "nmr region add NAME FROM TO",
      "Integrate FROM..TO ppm (`240ppm 252ppm`) in every spectrum: variable integral_NAME. "
      "`nmr region remove NAME`, `nmr region list`.", nmr_cmd_region },
    { "nmr", "peak", NULL, "choice:add|remove|list word*",
      "nmr peak add NAME POS [FROM TO] [shape=pvoigt|voigt|lorentz|gauss] [fwhm=W]",
      "Fit a line at POS (bounded to FROM..TO, default +-10 ppm) in every spectrum, all peaks "
      "together, each spectrum starting from the previous fit: integral_, position_, width_ "
      "(and eta_) NAME with their _err.", nmr_cmd_peak },
    { "nmr", "reprocess", NULL, "", "nmr reprocess",
      "Process the run's whole series again with the present settings, regions and peaks, and "
      "rewrite spectrum and the derived variables (the raw FIDs stay).", nmr_cmd_reprocess },
    { "nmr", "reference", NULL, "word", "nmr reference STANDARD",
      "Measure a solid standard (NaCl for 23Na, LiCl for 7Li; `nmr standard` lists them) and set "
      "nmr.sr so that its line reads at its tabulated shift.", nmr_cmd_reference },
    { "nmr", "standard", NULL, "word? word? word?", "nmr standard [NAME NUCLEUS SHIFT]",
      "List the reference standards, or add or change one (`nmr standard NaCl 23Na 7.21ppm`).",
      nmr_cmd_standard },
    { "nmr", "export-trend", NULL, "word word?", "nmr export-trend [-f] FILE.csv",
      "Write time, charge and every region and peak variable of the run's series as CSV.",
      nmr_cmd_export_trend },
    { "nmr", "load", NULL, "choice:bruker dir", "nmr load bruker DIR",
      "Read a Bruker dataset: DIR/acqus, DIR/fid (int32 or float64, either byte order, padded "
      "blocks) and DIR/pdata/1/procs.", nmr_cmd_load },
    { "nmr", "process", NULL, "choice:topspin", "nmr process topspin",
      "Process the loaded FID with the dataset's own procs exactly as TopSpin does (TDeff, BC, "
      "window, FCOR, zero fill, FFT, digital filter, phase, ppm axis). When pdata/1/1r is "
      "there, the correlation with TopSpin's result is printed.", nmr_cmd_process },
    { "nmr", "export", NULL, "word word?", "nmr export [-f] FILE.csv|FILE.jdx",
      "Write the newest spectrum of the run (else the processed dataset) as CSV (ppm, intensity) or JCAMP-DX. An existing FILE is "
      "kept unless -f.", nmr_cmd_export },
    { NULL, NULL, NULL, NULL, NULL, NULL, NULL },
};
