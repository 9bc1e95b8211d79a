/* cmd-ui: the screen: split, pane, layout, bind/unbind, keys, redraw, plot, log. These work on
 * the desk, which exists headless too, so layouts can be loaded, checked and shown anywhere. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "insitu/canvas.h"
#include "insitu/cmd.h"
#include "insitu/desk.h"
#include "insitu/layout.h"
#include "insitu/msg.h"
#include "insitu/pane.h"
#include "insitu/util.h"

static struct desk *ui_desk(struct cmd_ctx *ctx)
{
    if (!desk_current)
        cmd_error(ctx, "no screen");
    return desk_current;
}

static int ui_split(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    struct desk *d = ui_desk(ctx);
    if (!d)
        return CMD_ERR;
    const char *dir = argv[0].text;
    if (strcmp(dir, "-h") && strcmp(dir, "-v"))
        return cmd_error(ctx, "\"%s\": -h (side by side) or -v (one above the other)", dir);
    if (argc < 2)
        return cmd_error(ctx, "missing size (usage: %s)", ctx->entry->usage);
    char err[400];
    if (desk_split(d, dir[1] == 'v', argv[1].text, argc - 2, argv + 2, err, sizeof err) < 0)
        return cmd_error(ctx, "%s", err);
    return CMD_OK;
}

static int ui_pane(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    struct desk *d = ui_desk(ctx);
    char err[400];
    if (!d)
        return CMD_ERR;
    if (desk_pane(d, argc, argv, err, sizeof err) < 0)
        return cmd_error(ctx, "%s", err);
    return CMD_OK;
}

static int ui_pane_type(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    struct desk *d = ui_desk(ctx);
    char err[400];
    if (!d)
        return CMD_ERR;
    if (desk_pane_type(d, argc, argv, err, sizeof err) < 0)
        return cmd_error(ctx, "%s", err);
    return CMD_OK;
}

static int ui_pane_focus(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    struct desk *d = ui_desk(ctx);
    char err[400];
    if (!d)
        return CMD_ERR;
    if (desk_focus(d, argv[0].text, err, sizeof err) < 0)
        return cmd_error(ctx, "%s", err);
    return CMD_OK;
}

static int ui_pane_zoom(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    struct desk *d = ui_desk(ctx);
    if (!d)
        return CMD_ERR;
    desk_zoom(d);
    return CMD_OK;
}

static int ui_pane_swap(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    struct desk *d = ui_desk(ctx);
    char err[400];
    if (!d)
        return CMD_ERR;
    if (desk_swap(d, argc ? argv[0].text : NULL, err, sizeof err) < 0)
        return cmd_error(ctx, "%s", err);
    return CMD_OK;
}

static int ui_pane_close(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    struct desk *d = ui_desk(ctx);
    char err[400];
    if (!d)
        return CMD_ERR;
    if (desk_close(d, err, sizeof err) < 0)
        return cmd_error(ctx, "%s", err);
    return CMD_OK;
}

static int ui_pane_list(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    struct desk *d = ui_desk(ctx);
    if (!d)
        return CMD_ERR;
    struct strbuf b = { 0 };
    desk_list(d, &b);
    cmd_print_buf(&b);
    return CMD_OK;
}

static int ui_pane_types(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    struct strbuf b = { 0 };
    for (int i = 0; i < pane_type_count(); i++)
        strbuf_printf(&b, "%-8s %s\n", pane_type_at(i)->name, pane_type_at(i)->help);
    cmd_print_buf(&b);
    return CMD_OK;
}

static int ui_layout_load(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    struct desk *d = ui_desk(ctx);
    char err[600];
    if (!d)
        return CMD_ERR;
    if (desk_layout_load(d, argv[0].text, err, sizeof err) < 0)
        return cmd_error(ctx, "%s", err);
    return CMD_OK;
}

static int ui_layout_save(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    struct desk *d = ui_desk(ctx);
    char err[600], path[512];
    if (!d)
        return CMD_ERR;
    if (desk_layout_save(d, argv[0].text, path, sizeof path, err, sizeof err) < 0)
        return cmd_error(ctx, "%s", err);
    msg_out("layout saved: %s", path);
    return CMD_OK;
}

static int ui_layout_list(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    struct desk *d = ui_desk(ctx);
    if (!d)
        return CMD_ERR;
    struct strbuf b = { 0 };
    desk_layout_list(d, &b);
    cmd_print_buf(&b);
    return CMD_OK;
}

static int ui_layout_show(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    struct desk *d = ui_desk(ctx);
    if (!d)
        return CMD_ERR;
    int w = 100, h = 30;
    if (argc) {
        char x;
        if (sscanf(argv[0].text, "%d%c%d", &w, &x, &h) != 3 || x != 'x' || w < 1 || h < 1 ||
            w > 1000 || h > 500)
            return cmd_error(ctx, "\"%s\": a size is COLSxROWS, e.g. 120x40", argv[0].text);
    }
    struct strbuf b = { 0 };
    if (argc > 1 && !strcmp(argv[1].text, "-c")) {
        desk_layout_dump(d, &b);
        cmd_print_buf(&b);
        return CMD_OK;
    }
    /* A drawing of the screen at that size, as it would look in a terminal. */
    struct canvas *c = canvas_new(w, h);
    desk_draw(d, c);
    canvas_to_text(c, &b);
    canvas_free(c);
    desk_dirty(d);
    cmd_print_buf(&b);
    return CMD_OK;
}

static int ui_bind(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    struct desk *d = ui_desk(ctx);
    if (!d)
        return CMD_ERR;
    if (argc == 0) {
        struct strbuf b = { 0 };
        desk_bindings(d, &b);
        cmd_print_buf(&b);
        return CMD_OK;
    }
    if (argc < 2)
        return cmd_error(ctx, "missing command (usage: %s)", ctx->entry->usage);
    char *cmd = argv[1].block && argc == 2 ? util_strdup(argv[1].text) : cmd_join(argc, argv, 1);
    char err[400];
    int rc = desk_bind(d, argv[0].text, cmd, err, sizeof err);
    free(cmd);
    if (rc < 0)
        return cmd_error(ctx, "%s", err);
    return CMD_OK;
}

static int ui_unbind(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    struct desk *d = ui_desk(ctx);
    char err[400];
    if (!d)
        return CMD_ERR;
    if (desk_unbind(d, argv[0].text, err, sizeof err) < 0)
        return cmd_error(ctx, "%s", err);
    return CMD_OK;
}

static int ui_keys(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    struct desk *d = ui_desk(ctx);
    if (!d)
        return CMD_ERR;
    if (d->term) {
        desk_help(d);
        return CMD_OK;
    }
    struct strbuf b = { 0 };
    desk_bindings(d, &b);
    cmd_print_buf(&b);
    return CMD_OK;
}

static int ui_redraw(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    struct desk *d = ui_desk(ctx);
    if (!d)
        return CMD_ERR;
    d->clear = 1;
    desk_dirty(d);
    return CMD_OK;
}

/* Configure the pane of TYPE that has the focus, or else the first one. */
static int ui_configure(struct cmd_ctx *ctx, const char *type, int argc, struct word *argv)
{
    struct desk *d = ui_desk(ctx);
    if (!d)
        return CMD_ERR;
    struct pane *p = desk_find_type(d, type);
    if (!p)
        return cmd_error(ctx, "no %s pane on the screen (`pane %s` makes one)", type, type);
    char err[400];
    if (p->type->configure(p, argc, argv, err, sizeof err) < 0)
        return cmd_error(ctx, "%s", err);
    return CMD_OK;
}

static int ui_plot(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    return ui_configure(ctx, "plot", argc, argv);
}

/* The NMR panes that take a ppm zoom: the focused one, else the first in layout order. */
static int ui_zoomable(const struct pane *p)
{
    return p && (!strcmp(p->type->name, "spectrum") || !strcmp(p->type->name, "stack"));
}

static int ui_zoom(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    struct desk *d = ui_desk(ctx);
    if (!d)
        return CMD_ERR;
    struct pane *p = ui_zoomable(d->focus) ? d->focus : NULL;
    for (struct layout_cell *l = layout_first_leaf(d->root); l && !p; l = layout_next_leaf(l))
        if (ui_zoomable(l->pane))
            p = l->pane;
    if (!p)
        return cmd_error(ctx, "no spectrum or stack pane on the screen (`pane spectrum` makes one)");
    /* "350 ppm 100 ppm" reads naturally too: a lone unit belongs to the number before it. */
    const char *v[2];
    int n = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcasecmp(argv[i].text, "ppm") && i > 0)
            continue;
        if (n == 2)
            return cmd_error(ctx, "too many values: zoom takes FROM and TO in ppm (usage: %s)",
                             ctx->entry->usage);
        v[n++] = argv[i].text;
    }
    if (n == 1 && !strchr(v[0], ','))
        return cmd_error(ctx, "\"%s\": zoom needs two values, FROM and TO in ppm (e.g. zoom "
                         "350ppm 100ppm), or none for the full range", v[0]);
    char *word = n == 0 ? util_strdup("zoom=full")
               : n == 1 ? util_printf("zoom=%s", v[0]) : util_printf("zoom=%s,%s", v[0], v[1]);
    struct word w = { .text = word };
    char err[400];
    int rc = p->type->configure(p, 1, &w, err, sizeof err);
    free(word);
    if (rc < 0)
        return cmd_error(ctx, "%s", err);
    return CMD_OK;
}

static int ui_log_search(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    struct word *v = util_calloc((size_t)argc + 1, sizeof *v);
    v[0].text = "search";
    memcpy(v + 1, argv, (size_t)argc * sizeof *v);
    int rc = ui_configure(ctx, "log", argc + 1, v);
    free(v);
    return rc;
}

const struct cmd_entry cmd_ui_entries[] = {
    { "split", NULL, NULL, "word word word*", "split -h|-v SIZE [TYPE [ARGS...]]",
      "Split the focused pane: -h side by side, -v one above the other. SIZE is that of the "
      "first part, in cells (20) or percent (65%); -N or -N% gives the second part's size. "
      "The new second part holds a pane of TYPE (default log). In a layout file, split takes "
      "only -h|-v SIZE and the following `pane` commands fill the parts in order.", ui_split },
    { "pane", "focus", NULL, "pane", "pane focus N|NAME|TYPE|next|prev",
      "Give the focus to a pane (its number, name or type).", ui_pane_focus },
    { "pane", "zoom", NULL, "", "pane zoom",
      "Show the focused pane full screen, or back (the command line stays).", ui_pane_zoom },
    { "pane", "swap", NULL, "pane?", "pane swap [N|NAME]",
      "Swap the focused pane with the next one (or with N).", ui_pane_swap },
    { "pane", "type", NULL, "panetype word*", "pane type TYPE [ARGS...]",
      "Change what the focused pane shows.", ui_pane_type },
    { "pane", "close", NULL, "", "pane close",
      "Remove the focused pane; its neighbour takes the space.", ui_pane_close },
    { "pane", "list", NULL, "", "pane list",
      "List the panes: number, type, name, size, focus.", ui_pane_list },
    { "pane", "types", NULL, "", "pane types",
      "List the pane types.", ui_pane_types },
    { "pane", NULL, NULL, "panetype word*", "pane TYPE [name=NAME] [ARGS...]",
      "In a layout file: put a pane of TYPE into the next empty part. Typed: change the "
      "focused pane to TYPE (like `pane type`).", ui_pane },
    { "layout", "load", NULL, "layout", "layout load NAME|FILE",
      "Replace the screen's layout with a layout file ($XDG_CONFIG_HOME/insitu/layouts/NAME "
      "first, then the installed ones). A bad file is reported with FILE:LINE and the current "
      "layout stays.", ui_layout_load },
    { "layout", "save", NULL, "name", "layout save NAME",
      "Write the current layout to $XDG_CONFIG_HOME/insitu/layouts/NAME.", ui_layout_save },
    { "layout", "list", NULL, "", "layout list",
      "List the layouts that `layout load` finds; the user's override the installed.",
      ui_layout_list },
    { "layout", "show", NULL, "word? word?", "layout show [COLSxROWS] [-c]",
      "Print the screen as it would look at that size (default 100x30), or with -c the "
      "commands that rebuild the layout.", ui_layout_show },
    { "bind", NULL, NULL, "key? word*", "bind [KEY COMMAND...]",
      "Make KEY run COMMAND (words or a { block }); without arguments, list the bindings. "
      "Keys: q ? z (plain keys act when a pane other than the command line has the focus), "
      "C-l, M-z (Alt), F1-F12, Up, PageDown, BTab, ...", ui_bind },
    { "unbind", NULL, NULL, "key", "unbind KEY", "Remove KEY's binding.", ui_unbind },
    { "keys", NULL, NULL, "", "keys",
      "Show the key bindings (in the terminal, as an overlay).", ui_keys },
    { "redraw", NULL, NULL, "", "redraw", "Repaint the whole screen.", ui_redraw },
    { "plot", NULL, NULL, "word*", "plot [GROUP/FIELD...]",
      "Choose the channels the plot pane shows (the focused one, else the first), e.g. "
      "`plot manual/room_temperature`; none: the run's first channels.", ui_plot },
    { "zoom", NULL, NULL, "word*", "zoom [FROM TO]",
      "Show FROM..TO ppm in the spectrum or stack pane (the focused one, else the first), "
      "e.g. `zoom 350ppm 100ppm` (the unit is optional, the order free); no values: the full "
      "range. In the pane, + and - zoom further and 0 comes back to this range.", ui_zoom },
    { "log", "search", NULL, "text", "log search TEXT",
      "Scroll the log pane to the newest line containing TEXT (n/N in the pane go on).",
      ui_log_search },
    { NULL, NULL, NULL, NULL, NULL, NULL, NULL },
};
