/* cmd-cycler: cycling protocols: cycler start|pause|resume|stop|status|check. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "insitu/cmd.h"
#include "insitu/cycler.h"
#include "insitu/msg.h"
#include "insitu/session.h"
#include "insitu/util.h"

static int cyc_start(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    char err[600];
    if (cycler_start(ctx->s, argv[0].text, ctx->file, argv[0].line, err, sizeof err) < 0) {
        /* protocol errors already name FILE:LINE and the step */
        if (ctx->file && strstr(err, ctx->file) == err)
            msg_error("%s", err);
        else
            cmd_error(ctx, "%s", err);
        return CMD_ERR;
    }
    return CMD_OK;
}

static int cyc_check(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    char err[600];
    int n = cycler_parse_check(argv[0].text, ctx->file, argv[0].line, err, sizeof err);
    if (n < 0) {
        if (ctx->file && strstr(err, ctx->file) == err)
            msg_error("%s", err);
        else
            cmd_error(ctx, "%s", err);
        return CMD_ERR;
    }
    msg_out("protocol ok: %d step%s", n, n == 1 ? "" : "s");
    return CMD_OK;
}

#define CYC_SIMPLE(fn, call)                                         \
    static int fn(struct cmd_ctx *ctx, int argc, struct word *argv)  \
    {                                                                \
        char err[300];                                               \
        if (call < 0)                                                \
            return cmd_error(ctx, "%s", err);                        \
        return CMD_OK;                                               \
    }
CYC_SIMPLE(cyc_pause, cycler_pause(ctx->s, err, sizeof err))
CYC_SIMPLE(cyc_resume, cycler_resume(ctx->s, err, sizeof err))
CYC_SIMPLE(cyc_stop, cycler_stop(ctx->s, "stopped", err, sizeof err))

static int cyc_status(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    struct strbuf b = { 0 };
    cycler_status(ctx->s, &b);
    cmd_print_buf(&b);
    return CMD_OK;
}

const struct cmd_entry cmd_cycler_entries[] = {
    { "cycler", "start", NULL, "block", "cycler start { STEPS }",
      "Run a cycling protocol on the cycler (starting a run if none is active). Steps: "
      "`cc CURRENT [until DURATION|VOLTAGE|CHARGE]... [limits VMIN VMAX]`, `rest DURATION`, "
      "`loop COUNT { STEPS }`, `gcpl CURRENT limits VMIN VMAX [cycles N] [rest DURATION]`, "
      "`cv V1 V2 RATE [cycles N]`. When the protocol ends the output goes off and, unless "
      "run.end is manual, the run ends with it.", cyc_start },
    { "cycler", "check", NULL, "block", "cycler check { STEPS }",
      "Parse a protocol and report errors without running it.", cyc_check },
    { "cycler", "pause", NULL, "", "cycler pause", "Output off; the step's clock stops.", cyc_pause },
    { "cycler", "resume", NULL, "", "cycler resume", "Continue a paused protocol.", cyc_resume },
    { "cycler", "stop", NULL, "", "cycler stop", "End the protocol: output off.", cyc_stop },
    { "cycler", "status", NULL, "", "cycler status",
      "Print the state, step, elapsed and remaining time, V, I, charge, limits and alarms.",
      cyc_status },
    { NULL, NULL, NULL, NULL, NULL, NULL, NULL },
};
