/* cmd-io: files of other programs: import mpt (BioLogic EC-Lab text exports into run files),
 * export bdf (a run's ec group as Battery Data Format CSV).
 *
 * An import writes a run file of its own (run_new, archive_create, records, archive_close)
 * and never touches the session's run: it can be done while a run records. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "insitu/archive.h"
#include "insitu/clock.h"
#include "insitu/cmd.h"
#include "insitu/ecfile.h"
#include "insitu/msg.h"
#include "insitu/paths.h"
#include "insitu/run.h"
#include "insitu/session.h"
#include "insitu/settings.h"
#include "insitu/util.h"

/* The run name a file suggests: its base name without the extension, with every character a
 * run name cannot have made '_' ("Li 1 (GCPL).mpt" -> "Li_1__GCPL_"). */
static char *io_name_from_file(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    size_t n = dot && dot > base ? (size_t)(dot - base) : strlen(base);
    struct strbuf b = { 0 };
    if (n == 0 || !(isalpha((unsigned char)base[0]) || base[0] == '_'))
        strbuf_addch(&b, '_');
    for (size_t i = 0; i < n && b.len < 64; i++) {
        unsigned char c = (unsigned char)base[i];
        strbuf_addch(&b, isalnum(c) || c == '_' || c == '.' || c == '-' ? (char)c : '_');
    }
    return strbuf_take(&b);
}

static void io_warnings(const struct mpt *m)
{
    int kept = m->nwarn < (int)ARRAY_LEN(m->warn) ? m->nwarn : (int)ARRAY_LEN(m->warn);
    for (int i = 0; i < kept; i++)
        msg_warn("import mpt: %s", m->warn[i]);
    if (m->nwarn > kept)
        msg_warn("import mpt: %s: %d more warnings like these", m->file, m->nwarn - kept);
}

/* Remove what a failed import left: the run file and its journal. */
static void io_remove_run(const char *path)
{
    char *j = util_printf("%s.journal", path);
    unlink(path);
    unlink(j);
    free(j);
}

/* Write M into the new run R and its own archive file. */
static int io_import_run(struct cmd_ctx *ctx, const struct mpt *m, struct run *r,
                         const char *file)
{
    char err[800];
    char *dir = paths_expand(settings_text("archive.dir"));
    struct archive *a = archive_create(r, dir, err, sizeof err);
    free(dir);
    if (!a)
        return cmd_error(ctx, "%s", err);
    char *runpath = util_strdup(archive_path(a));
    run_event_at(r, 0, RUN_INFO, "imported from an EC-Lab text export");
    size_t nrec = 0, nskip = 0;
    if (mpt_to_run(m, r, &nrec, &nskip, err, sizeof err) < 0) {
        /* half a file is worth less than none: the import can simply be run again */
        archive_abandon(a);
        io_remove_run(runpath);
        free(runpath);
        return cmd_error(ctx, "%s", err);
    }
    if (nskip)
        msg_warn("import mpt: %s: %zu rows without a time left out", file, nskip);
    run_end(r, "imported");
    int status = CMD_OK;
    if (archive_close(a, err, sizeof err) < 0)
        status = cmd_error(ctx, "%s", err);
    else
        msg_out("imported %zu records from %s: %s", nrec, file, runpath);
    free(runpath);
    return status;
}

static int io_cmd_import_mpt(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    const char *file = argv[0].text;
    char *name = argc > 1 ? util_strdup(argv[1].text) : io_name_from_file(file);
    if (!util_valid_name(name)) {
        cmd_error(ctx, "\"%s\": not a run name (a letter or _, then letters, digits, _ . -; "
                  "at most 64)", name);
        free(name);
        return CMD_ERR;
    }
    char *path = paths_expand(file);
    struct stat st;
    size_t len = 0;
    char *text = NULL;
    if (stat(path, &st) == 0)
        text = S_ISDIR(st.st_mode) ? (errno = EISDIR, NULL) : paths_read_file(path, &len);
    if (!text) {
        int e = errno;
        free(path);
        free(name);
        return cmd_error(ctx, "%s: cannot read: %s", file, strerror(e));
    }
    struct mpt m;
    char err[800];
    int rc = mpt_parse(text, len, file, &m, err, sizeof err);
    free(text);
    if (rc < 0) {
        free(path);
        free(name);
        return cmd_error(ctx, "%s", err);
    }
    io_warnings(&m);

    /* The run starts when the acquisition did (the header's local time); a file without that
     * line starts at its modification time. */
    double utc0;
    if (mpt_start_utc(&m, &utc0) < 0) {
        utc0 = (double)st.st_mtim.tv_sec + (double)st.st_mtim.tv_nsec * 1e-9;
        msg_info("import mpt: %s: no acquisition start in the file: the run starts at the "
                 "file's modification time", file);
    }
    /* The run's clock is set so that it ends at the last record: the archive states the
     * duration from it. */
    double tend = 0;
    const int tc = mpt_find(&m, "time");
    for (size_t i = 0; tc >= 0 && i < m.nrows; i++)
        if (isfinite(m.cols[tc].v[i]) && m.cols[tc].v[i] > tend)
            tend = m.cols[tc].v[i];
    struct run *r = run_new(name, utc0, clock_now() - tend);
    char *abs = realpath(path, NULL);
    run_attr_text(r, NULL, "imported_from", abs ? abs : path);
    run_attr_text(r, NULL, "imported_format", "BioLogic EC-Lab text export (.mpt)");
    free(abs);
    int status = io_import_run(ctx, &m, r, file);
    run_free(r);
    mpt_free(&m);
    free(path);
    free(name);
    return status;
}

static int io_cmd_export_bdf(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    int force = 0, n = 0;
    const char *arg[2] = { NULL, NULL };
    for (int i = 0; i < argc; i++) {
        const char *w = argv[i].text;
        if (strcmp(w, "-f") == 0)
            force = 1;
        else if (w[0] == '-' && w[1])
            return cmd_error(ctx, "%s: unknown option (usage: %s)", w, ctx->entry->usage);
        else if (n < 2)
            arg[n++] = w;
        else
            return cmd_error(ctx, "too many arguments (usage: %s)", ctx->entry->usage);
    }
    if (n == 0)
        return cmd_error(ctx, "missing OUT.csv (usage: %s)", ctx->entry->usage);
    char *run;
    const char *out = arg[n - 1];
    /* "export bdf -f RUN.nc" with OUT forgotten would put CSV over a run file */
    size_t ol = strlen(out);
    if (ol >= 3 && strcmp(out + ol - 3, ".nc") == 0)
        return cmd_error(ctx, "%s: that is a run file's name; the CSV file comes last (usage: "
                         "%s)", out, ctx->entry->usage);
    if (n == 2) {
        run = paths_expand(arg[0]);
    } else if (ctx->s->archive) {
        /* the active run: what has been recorded so far, made readable first */
        if (archive_sync(ctx->s->archive) < 0)
            return cmd_error(ctx, "%s", archive_error(ctx->s->archive));
        run = util_strdup(archive_path(ctx->s->archive));
    } else if (ctx->s->last_path) {
        run = util_strdup(ctx->s->last_path);
    } else {
        return cmd_error(ctx, "no run file given and no run in this session (usage: %s)",
                         ctx->entry->usage);
    }
    char *outpath = paths_expand(out);
    char err[800];
    size_t rows = 0;
    int rc = bdf_export_file(run, outpath, force, &rows, err, sizeof err);
    if (rc < 0)
        cmd_error(ctx, "%s", err);
    else
        msg_out("exported %zu records of %s: %s", rows, run, out);
    free(outpath);
    free(run);
    return rc < 0 ? CMD_ERR : CMD_OK;
}

const struct cmd_entry cmd_io_entries[] = {
    { "import", "mpt", NULL, "file name?", "import mpt FILE [NAME]",
      "Import a BioLogic EC-Lab text export (.mpt) as a new run file in archive.dir: its "
      "voltage, current, charge, step, cycle and half cycle as the group ec, impedance "
      "columns (freq, Re(Z), -Im(Z)) as the group eis. The run starts at the header's "
      "\"Acquisition started on\" (local time of this machine, TZ), else at the file's "
      "modification time; NAME defaults to the file's base name. Units are converted to SI "
      "(mA to A, mA.h to A h), a decimal comma is recognised, and charge columns that are "
      "missing are integrated from I dt. The active run is not touched.",
      io_cmd_import_mpt },
    { "export", "bdf", NULL, "file+", "export bdf [-f] [RUNFILE] OUT.csv",
      "Write the group ec of RUNFILE (default: the active run, else the last one) as Battery "
      "Data Format CSV: Test Time / s, Voltage / V, Current / A, Unix Time / s, Cycle Count "
      "/ 1, Step Count / 1, Net Capacity / Ah, Charging and Discharging Capacity / Ah (per "
      "half cycle). OUT.csv is never overwritten unless -f is given.",
      io_cmd_export_bdf },
    { NULL, NULL, NULL, NULL, NULL, NULL, NULL },
};
