/* cmd-archive: looking at run files: archive info|list|recover. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "insitu/archive.h"
#include "insitu/cmd.h"
#include "insitu/msg.h"
#include "insitu/paths.h"
#include "insitu/session.h"
#include "insitu/settings.h"
#include "insitu/util.h"

static int archive_cmd_info(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    struct strbuf b = { 0 };
    char err[600];
    char *path = paths_expand(argv[0].text);
    int rc = archive_info(path, &b, err, sizeof err);
    free(path);
    if (rc < 0) {
        strbuf_free(&b);
        return cmd_error(ctx, "%s", err);
    }
    cmd_print_buf(&b);
    return CMD_OK;
}

static int archive_cmd_list(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    struct strbuf b = { 0 };
    char err[600];
    char *dir = paths_expand(argc ? argv[0].text : settings_text("archive.dir"));
    int rc = archive_list(dir, &b, err, sizeof err);
    free(dir);
    if (rc < 0) {
        strbuf_free(&b);
        return cmd_error(ctx, "%s", err);
    }
    cmd_print_buf(&b);
    return CMD_OK;
}

static int archive_cmd_recover(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    char msg[800];
    char *path = paths_expand(argv[0].text);
    if (ctx->s->archive) {
        char *a = realpath(archive_path(ctx->s->archive), NULL), *b = realpath(path, NULL);
        int same = a && b && !strcmp(a, b);
        free(a);
        free(b);
        if (same) {
            free(path);
            return cmd_error(ctx, "%s is the active run's file", argv[0].text);
        }
    }
    int rc = archive_recover(path, msg, sizeof msg);
    free(path);
    if (rc < 0)
        return cmd_error(ctx, "%s", msg);
    msg_out("%s", msg);
    return CMD_OK;
}

const struct cmd_entry cmd_archive_entries[] = {
    { "archive", "info", NULL, "file", "archive info FILE",
      "Print a run file's metadata, groups, variables (with units) and record counts.",
      archive_cmd_info },
    { "archive", "list", NULL, "dir?", "archive list [DIR]",
      "List the run files in DIR (default archive.dir) with their start, name, records and "
      "state: complete, recording, recovered, needs recovery (crashed: `archive recover`), "
      "incomplete (no journal to recover from) or unreadable.", archive_cmd_list },
    { "archive", "recover", NULL, "file", "archive recover FILE",
      "Rebuild FILE from its journal after a crash (kill, power cut). The damaged original "
      "is kept as FILE.damaged.", archive_cmd_recover },
    { NULL, NULL, NULL, NULL, NULL, NULL, NULL },
};
