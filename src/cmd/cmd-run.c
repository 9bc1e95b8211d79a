/* cmd-run: runs and what is written into them by hand: run start|stop|status, note, record. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "insitu/archive.h"
#include "insitu/clock.h"
#include "insitu/cmd.h"
#include "insitu/msg.h"
#include "insitu/run.h"
#include "insitu/session.h"
#include "insitu/settings.h"
#include "insitu/units.h"
#include "insitu/util.h"

static int run_cmd_start(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    const char *name = "run";
    int first = 0;
    if (argc > 0 && !strchr(argv[0].text, '=')) {
        name = argv[0].text;
        first = 1;
    }
    char **kv = util_calloc((size_t)argc + 1, sizeof *kv);
    for (int i = first; i < argc; i++)
        kv[i - first] = argv[i].text;
    char err[600];
    int rc = session_run_start(ctx->s, name, argc - first, kv, err, sizeof err);
    free(kv);
    if (rc < 0)
        return cmd_error(ctx, "%s", err);
    msg_out("run %s started: %s", name, archive_path(ctx->s->archive));
    return CMD_OK;
}

static int run_cmd_stop(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    struct session *s = ctx->s;
    if (!s->run)
        return cmd_error(ctx, "no active run");
    char *name = util_strdup(s->run->name);
    char dur[64];
    units_format_duration(run_time(s->run), dur, sizeof dur);
    char err[600];
    int rc = session_run_stop(s, "stopped", err, sizeof err);
    if (rc < 0) {
        cmd_error(ctx, "%s", err);
    } else {
        msg_out("run %s stopped after %s: %s", name, dur, s->last_path);
    }
    free(name);
    return rc < 0 ? CMD_ERR : CMD_OK;
}

static int run_cmd_status(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    struct session *s = ctx->s;
    if (!s->run) {
        if (s->last_path)
            msg_out("no active run (last: %s)", s->last_path);
        else
            msg_out("no active run");
        return CMD_OK;
    }
    struct run *r = s->run;
    struct strbuf b = { 0 };
    char t0[40], el[64], wall[64];
    strbuf_printf(&b, "run %s\n", r->name);
    strbuf_printf(&b, "  file: %s\n", archive_path(s->archive));
    strbuf_printf(&b, "  started: %s\n", clock_format_utc(r->utc0, 1, t0, sizeof t0));
    strbuf_printf(&b, "  elapsed: %s (experiment clock, speed %s), %s wall\n",
                  units_format_duration(run_time(r), el, sizeof el), settings_text("clock.speed"),
                  units_format_duration(clock_utc() - r->utc0, wall, sizeof wall));
    for (int i = 0; i < r->ntables; i++) {
        struct run_table *t = r->tables[i];
        if (t == r->log)
            continue;
        strbuf_printf(&b, "  %s/%s: %zu records\n", t->group, t->recdim, t->nrec);
    }
    strbuf_printf(&b, "  events: %zu (%zu warnings, %zu errors)\n", r->log->nrec, r->nwarn,
                  r->nerror);
    const char *ae = archive_error(s->archive);
    strbuf_printf(&b, "  archive: %s", ae ? ae : "ok");
    msg_out("%s", b.s);
    strbuf_free(&b);
    return CMD_OK;
}

static int run_cmd_note(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    if (!ctx->s->run)
        return cmd_error(ctx, "no active run to note in");
    char *t = cmd_join(argc, argv, 0);
    int rc = run_event(ctx->s->run, RUN_NOTE, "%s", t);
    free(t);
    if (rc < 0)
        return cmd_error(ctx, "could not write the note: %s",
                         archive_error(ctx->s->archive) ? archive_error(ctx->s->archive) : "?");
    return CMD_OK;
}

/* record NAME QUANTITY: a value read off by hand (room temperature, a gauge). Each name is its
 * own series in group "manual"; the unit of its first value is kept and later values are
 * converted to it. */
static int run_cmd_record(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    struct run *r = ctx->s->run;
    if (!r)
        return cmd_error(ctx, "no active run to record in");
    const char *name = argv[0].text;
    if (!util_valid_name(name) || strlen(name) > 48)
        return cmd_error(ctx, "\"%s\": not a valid name", name);
    char recdim[64];
    snprintf(recdim, sizeof recdim, "%s_time", name);
    struct run_table *t = run_table_find(r, "manual", recdim);
    const char *text = argv[1].text;
    double v;
    char err[256];
    if (!t) {
        char *end;
        strtod(text, &end);
        if (end == text)
            return cmd_error(ctx, "\"%s\": not a number", text);
        while (isspace((unsigned char)*end))
            end++;
        const char *unit = *end ? end : "1";
        if (!units_valid(unit, NULL))
            return cmd_error(ctx, "\"%s\": unknown unit", text);
        if (units_parse(text, unit, &v, err, sizeof err) < 0)
            return cmd_error(ctx, "%s", err);
        const char *kind = units_kind(unit);
        struct run_field f = { name, unit, kind ? kind : name, RUN_F64, NULL, 0, NULL };
        t = run_table_add(r, "manual", recdim, &f, 1, err, sizeof err);
        if (!t)
            return cmd_error(ctx, "%s", err);
    } else if (units_parse(text, t->fields[0].units, &v, err, sizeof err) < 0) {
        return cmd_error(ctx, "%s", err);
    }
    union run_value val = { .f64 = v };
    if (run_append(t, run_time(r), &val) < 0)
        return cmd_error(ctx, "could not write the record: %s",
                         archive_error(ctx->s->archive) ? archive_error(ctx->s->archive) : "?");
    return CMD_OK;
}

const struct cmd_entry cmd_run_entries[] = {
    { "run", "start", NULL, "name? kv*", "run start [NAME] [KEY=VALUE]...",
      "Start a run and its archive file <archive.dir>/<UTC>-<NAME>.nc (NAME defaults to "
      "\"run\"). KEY=VALUE pairs become metadata: title, operator, cell, institution, "
      "comment, or any other name.", run_cmd_start },
    { "run", "stop", NULL, "", "run stop",
      "End the active run and close its archive.", run_cmd_stop },
    { "run", "status", NULL, "", "run status",
      "Print the active run: file, start, elapsed time, records per group, events.",
      run_cmd_status },
    { "note", NULL, NULL, "text", "note TEXT...",
      "Write an annotation into the active run's event log.", run_cmd_note },
    { "record", NULL, NULL, "name word", "record NAME QUANTITY",
      "Record a value read off by hand (e.g. `record room_temperature 22.5degC`) in the "
      "run's group `manual`.", run_cmd_record },
    { NULL, NULL, NULL, NULL, NULL, NULL, NULL },
};
