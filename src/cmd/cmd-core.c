/* cmd-core: the language's own commands: help, source, set, show, echo, wait, repeat, quit. */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "insitu/cmd.h"
#include "insitu/desk.h"
#include "insitu/run.h"
#include "insitu/loop.h"
#include "insitu/msg.h"
#include "insitu/parse.h"
#include "insitu/paths.h"
#include "insitu/session.h"
#include "insitu/settings.h"
#include "insitu/units.h"
#include "insitu/util.h"

/* ---- help ---- */

static void core_help_line(struct strbuf *b, const struct cmd_entry *e)
{
    const char *h = e->help ? e->help : "";
    /* the first sentence: up to ". " or a newline (a dot inside "archive.dir" is no end) */
    size_t n = strcspn(h, "\n");
    const char *stop = strstr(h, ". ");
    if (stop && (size_t)(stop - h) < n)
        n = (size_t)(stop - h);
    if (n && h[n - 1] == '.')
        n--;
    strbuf_printf(b, "  %-40s %.*s\n", e->usage, (int)n, h);
}

static int core_help(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    struct strbuf b = { 0 };
    if (argc == 0) {
        strbuf_addstr(&b, "Commands (help COMMAND for details):\n");
        for (int i = 0; i < cmd_count(); i++)
            core_help_line(&b, cmd_at(i));
        strbuf_addstr(&b, "Quantities take units with SI prefixes: 500mA 5nA 0.005V 15h 90s "
                          "245ppm 116.64MHz 10mV/s.");
        msg_out("%s", b.s);
        strbuf_free(&b);
        return CMD_OK;
    }
    /* help NAME [SUB]: the single command, or every sub-command of a group */
    int shown = 0;
    for (int i = 0; i < cmd_count(); i++) {
        const struct cmd_entry *e = cmd_at(i);
        if (strcmp(e->name, argv[0].text) && !(e->alias && !strcmp(e->alias, argv[0].text)))
            continue;
        if (argc > 1 && (!e->sub || strcmp(e->sub, argv[1].text)))
            continue;
        if (shown++)
            strbuf_addch(&b, '\n');
        strbuf_printf(&b, "usage: %s\n", e->usage);
        if (e->alias)
            strbuf_printf(&b, "alias: %s\n", e->alias);
        strbuf_printf(&b, "%s", e->help ? e->help : "");
    }
    if (!shown) {
        char *what = cmd_join(argc, argv, 0);
        cmd_error(ctx, "%s: no such command (`help` lists commands)", what);
        free(what);
        strbuf_free(&b);
        return CMD_ERR;
    }
    msg_out("%s", b.s);
    strbuf_free(&b);
    return CMD_OK;
}

/* ---- source ---- */

/* A relative path in a script is looked up beside that script first, so an experiment folder
 * can be moved as a whole; then relative to the working directory. */
static char *core_resolve(const char *file, const char *from)
{
    char *p = paths_expand(file);
    if (p[0] == '/' || !from)
        return p;
    char *fromdup = util_strdup(from);
    char *cand = util_printf("%s/%s", dirname(fromdup), p);
    free(fromdup);
    if (access(cand, F_OK) == 0) {
        free(p);
        return cand;
    }
    free(cand);
    return p;
}

static int core_source(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    char *path = core_resolve(argv[0].text, ctx->file);
    char *text = paths_read_file(path, NULL);
    if (!text) {
        cmd_error(ctx, "%s: %s", argv[0].text, strerror(errno));
        free(path);
        return CMD_ERR;
    }
    struct cmdlist l;
    struct parse_error pe;
    int rc = CMD_OK;
    if (parse_text(text, path, 1, &l, &pe) != PARSE_OK) {
        /* The error is in the sourced file: name that file and line. */
        msg_error("%s:%d: %s", path, pe.line, pe.msg);
        rc = CMD_ERR;
    } else {
        char err[256];
        if (exec_push_list(ctx->ex, &l, 1, err, sizeof err) < 0)
            rc = cmd_error(ctx, "%s", err);
    }
    free(text);
    free(path);
    return rc;
}

/* ---- set / show ---- */

static int core_set(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    char **v = util_calloc((size_t)argc, sizeof *v);
    for (int i = 1; i < argc; i++)
        v[i - 1] = argv[i].text;
    char err[256];
    int rc = settings_set(argv[0].text, argc - 1, v, err, sizeof err);
    free(v);
    if (rc < 0)
        return cmd_error(ctx, "%s", err);
    return CMD_OK;
}

static void core_show_one(struct strbuf *b, const struct setting *s, int verbose)
{
    const char *t = settings_text(s->name);
    char *q = t && *t ? (s->nvalues > 1 ? util_strdup(t) : parse_quote(t)) : util_strdup("''");
    strbuf_printf(b, "%s %s\n", s->name, q);
    free(q);
    if (verbose) {
        strbuf_printf(b, "  %s\n", s->help ? s->help : "");
        if (s->choices)
            strbuf_printf(b, "  values: %s\n", s->choices);
        else if (s->unit && strcmp(s->unit, "1"))
            strbuf_printf(b, "  unit: %s (%s)\n", s->unit, units_kind(s->unit) ? units_kind(s->unit) : "");
        if (s->defval && *s->defval)
            strbuf_printf(b, "  default: %s\n", s->defval);
    }
}

static int core_show(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    struct strbuf b = { 0 };
    if (argc == 0) {
        for (int i = 0; i < settings_count(); i++)
            core_show_one(&b, settings_at(i), 0);
    } else {
        for (int i = 0; i < argc; i++) {
            const struct setting *s = settings_find(argv[i].text);
            if (!s) {
                /* "show clock" lists every clock.* setting */
                size_t n = strlen(argv[i].text);
                int any = 0;
                for (int k = 0; k < settings_count(); k++) {
                    const struct setting *t = settings_at(k);
                    if (!strncmp(t->name, argv[i].text, n) && t->name[n] == '.') {
                        core_show_one(&b, t, 0);
                        any = 1;
                    }
                }
                if (!any) {
                    strbuf_free(&b);
                    return cmd_error(ctx, "unknown setting \"%s\" (`show` lists them)",
                                     argv[i].text);
                }
                continue;
            }
            core_show_one(&b, s, 1);
        }
    }
    cmd_print_buf(&b);
    return CMD_OK;
}

/* ---- echo ---- */

static int core_echo(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    char *t = cmd_join(argc, argv, 0);
    msg_out("%s", t);
    free(t);
    return CMD_OK;
}

/* ---- wait ---- */

struct core_wait {
    struct exec *ex;
    struct session *s;
    long long timer, timeout;
    struct cmd_ctx ctx;     /* for the timeout's message: file and line */
    char *file;
};

static void core_wait_cancel(struct exec *ex, void *arg)
{
    struct core_wait *w = arg;
    if (w->timer)
        loop_timer_del(w->s->loop, w->timer);
    if (w->timeout)
        loop_timer_del(w->s->loop, w->timeout);
    session_cancel_wait(w->s, w);
    free(w->file);
    free(w);
}

static double core_wait_done(struct loop *l, long long id, void *arg)
{
    struct core_wait *w = arg;
    struct exec *ex = w->ex;
    free(w);
    exec_resume(ex, CMD_OK);
    return -1;
}

static void core_wait_run_ended(void *arg)
{
    struct core_wait *w = arg;
    struct exec *ex = w->ex;
    if (w->timeout)
        loop_timer_del(w->s->loop, w->timeout);
    free(w->file);
    free(w);
    exec_resume(ex, CMD_OK);
}

static double core_wait_timeout(struct loop *l, long long id, void *arg)
{
    struct core_wait *w = arg;
    struct exec *ex = w->ex;
    session_cancel_wait(w->s, w);
    w->ctx.file = w->file;
    cmd_error(&w->ctx, "timed out; the run goes on");
    free(w->file);
    free(w);
    exec_resume(ex, CMD_ERR);
    return -1;
}

static int core_wait(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    struct session *s = ctx->s;
    if (strcmp(argv[0].text, "run") == 0) {
        double limit = 0;
        if (argc > 1 && cmd_qty(ctx, &argv[1], "s", &limit) < 0)
            return CMD_ERR;
        if (!s->run)
            return CMD_OK;   /* nothing to wait for: it has already ended */
        struct core_wait *w = util_calloc(1, sizeof *w);
        w->ex = ctx->ex;
        w->s = s;
        w->ctx = *ctx;
        w->file = ctx->file ? util_strdup(ctx->file) : NULL;
        session_on_run_end(s, core_wait_run_ended, w);
        if (limit > 0)
            w->timeout = loop_timer_add(s->loop, limit, 1, core_wait_timeout, w);
        exec_wait(ctx->ex, core_wait_cancel, w);
        return CMD_WAIT;
    }
    if (argc > 1)
        return cmd_error(ctx, "too many arguments (usage: %s)", ctx->entry->usage);
    double d;
    if (cmd_qty(ctx, &argv[0], "s", &d) < 0)
        return CMD_ERR;
    if (d < 0)
        return cmd_error(ctx, "\"%s\": a duration cannot be negative", argv[0].text);
    struct core_wait *w = util_calloc(1, sizeof *w);
    w->ex = ctx->ex;
    w->s = s;
    /* Waits run on the experiment clock: at clock.speed 3600 "wait 1h" takes a second. */
    w->timer = loop_timer_add(s->loop, d, 1, core_wait_done, w);
    exec_wait(ctx->ex, core_wait_cancel, w);
    return CMD_WAIT;
}

/* ---- repeat ---- */

static int core_repeat(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    char *end;
    long n = strtol(argv[0].text, &end, 10);
    if (*end || end == argv[0].text || n < 0)
        return cmd_error(ctx, "\"%s\": expected a count (0 or more)", argv[0].text);
    if (n == 0)
        return CMD_OK;
    struct cmdlist l;
    struct parse_error pe;
    if (parse_text(argv[1].text, ctx->file ? ctx->file : "", argv[1].line, &l, &pe) != PARSE_OK) {
        if (ctx->file)
            msg_error("%s:%d: %s", ctx->file, pe.line, pe.msg);
        else
            msg_error("repeat: %s", pe.msg);
        return CMD_ERR;
    }
    char err[256];
    if (exec_push_list(ctx->ex, &l, n, err, sizeof err) < 0)
        return cmd_error(ctx, "%s", err);
    return CMD_OK;
}

/* ---- quit ---- */

static int core_quit(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    int force = argc && !strcmp(argv[0].text, "-f");
    if (argc && !force)
        return cmd_error(ctx, "\"%s\": the only option is -f", argv[0].text);
    /* At the screen, leaving with a run going asks first: a stray q must not end a night. */
    if (!force && ctx->s->run && desk_current && desk_current->term) {
        char q[200];
        snprintf(q, sizeof q, "Run %s is active. Stop it and quit?", ctx->s->run->name);
        desk_confirm(desk_current, q, "quit -f");
        return CMD_OK;
    }
    ctx->s->quit = 1;
    exec_cancel(ctx->ex);
    loop_stop(ctx->s->loop);
    return CMD_OK;
}

const struct cmd_entry cmd_core_entries[] = {
    { "help", NULL, NULL, "cmd? word?", "help [COMMAND [SUB-COMMAND]]",
      "List the commands, or show the usage and description of one.\n"
      "`help run` shows every run sub-command.", core_help },
    { "source", NULL, ".", "file", "source FILE",
      "Run the commands in FILE, as if typed, stopping at the first error.\n"
      "A relative FILE is looked up beside the script that sources it, then in the working "
      "directory.", core_source },
    { "set", NULL, NULL, "setting value+", "set NAME VALUE...",
      "Change a setting. Quantities take units: `set clock.speed 3600`, "
      "`set archive.sync 1s`.", core_set },
    { "show", NULL, NULL, "setting*", "show [NAME|PREFIX]...",
      "Print settings as `NAME VALUE` lines (the form `set` takes). With a name, also its "
      "description, unit and default; a prefix such as `clock` shows all clock.* settings.",
      core_show },
    { "echo", NULL, NULL, "text?", "echo [TEXT...]",
      "Print the words, separated by blanks.", core_echo },
    { "wait", NULL, NULL, "word qty:s?", "wait DURATION | wait run [TIMEOUT]",
      "Pause this script for a time, or until the active run has ended. `wait 90s`, "
      "`wait 15h`: DURATION is experiment time, which passes clock.speed times faster. "
      "`wait run [TIMEOUT]`: until the run ends, failing after TIMEOUT if given. The "
      "instruments, the archive and other commands go on meanwhile.", core_wait },
    { "repeat", NULL, NULL, "int block", "repeat COUNT { COMMANDS }",
      "Run the block COUNT times.", core_repeat },
    { "quit", NULL, "exit", "word?", "quit [-f]",
      "Leave insitu. An active run is stopped cleanly first: the cycler output goes off and "
      "the archive is closed. At the screen, insitu asks first while a run is active (-f "
      "does not ask).", core_quit },
    { NULL, NULL, NULL, NULL, NULL, NULL, NULL },
};
