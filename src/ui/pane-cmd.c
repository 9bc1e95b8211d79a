/* pane-cmd: the command line. Readline edits it (term.c); this pane only shows the prompt and
 * the line, scrolled so the cursor stays visible, and says where the cursor goes. */
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "insitu/canvas.h"
#include "insitu/desk.h"
#include "insitu/pane.h"
#include "insitu/util.h"

/* Columns the terminal gives the first N bytes of S (wide characters count two). */
static int cmd_columns(const char *s, size_t n)
{
    mbstate_t st;
    memset(&st, 0, sizeof st);
    int cols = 0;
    size_t i = 0;
    while (i < n) {
        wchar_t wc;
        size_t k = mbrtowc(&wc, s + i, n - i, &st);
        if (k == (size_t)-1 || k == (size_t)-2) {
            memset(&st, 0, sizeof st);
            cols++;
            i++;
            continue;
        }
        if (k == 0)
            break;
        int cw = wcwidth(wc);
        cols += cw < 0 ? 1 : cw;
        i += k;
    }
    return cols;
}

static void cmd_draw(struct pane *p, struct canvas *c, int x, int y, int w, int h)
{
    struct desk *d = p->desk;
    int focused = d->focus == p;
    const char *prompt = d->cl.prompt ? d->cl.prompt : "insitu> ";
    const char *line = d->cl.line ? d->cl.line : "";
    if (!focused && !*line) {
        canvas_text(c, x, y, "  (Esc or : to type a command, F1 for keys)", CANVAS_AXIS | CANVAS_DIM);
        return;
    }
    int pw = canvas_strwidth(prompt);
    canvas_text(c, x, y, prompt, focused ? CANVAS_TITLE | CANVAS_BOLD : CANVAS_AXIS);
    size_t point = d->cl.point < 0 ? 0 : (size_t)d->cl.point;
    if (point > strlen(line))
        point = strlen(line);
    int avail = w - pw - 1;
    if (avail < 4)
        return;
    /* Scroll whole characters off the left until the cursor fits. */
    const char *start = line;
    while (cmd_columns(start, (size_t)(line + point - start)) > avail) {
        int k = mblen(start, MB_CUR_MAX);
        start += k > 0 ? k : 1;
    }
    canvas_text(c, x + pw, y, start, CANVAS_DEFAULT);
    if (start != line)
        canvas_text(c, x + pw - 1, y, "<", CANVAS_AXIS);
    if (focused) {
        p->cursor_x = x + pw + cmd_columns(start, (size_t)(line + point - start));
        p->cursor_y = y;
    }
}

const struct pane_type pane_cmd_type = {
    .name = "cmd",
    .help = "the command line (readline: Tab completes, C-r searches history)",
    .titled = 0,
    .fixed_rows = 1,
    .draw = cmd_draw,
};
