/* pane-log: timestamped messages and command output, scrollable and searchable. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "insitu/canvas.h"
#include "insitu/desk.h"
#include "insitu/keys.h"
#include "insitu/pane.h"
#include "insitu/parse.h"
#include "insitu/util.h"

struct log_state {
    size_t scroll;          /* lines up from the newest; 0 follows new lines */
    char *search;           /* pattern, or NULL */
    long match;             /* index of the highlighted line, -1 none */
    int rows;               /* rows shown at the last draw */
};

static int log_init(struct pane *p)
{
    struct log_state *s = util_calloc(1, sizeof *s);
    s->match = -1;
    p->state = s;
    return 0;
}

static void log_free(struct pane *p)
{
    struct log_state *s = p->state;
    free(s->search);
    free(s);
}

static unsigned log_style(enum msg_kind k)
{
    switch (k) {
    case MSG_ERROR: return CANVAS_HIGHLIGHT | CANVAS_BOLD;
    case MSG_WARN: return CANVAS_SERIES2 | CANVAS_BOLD;
    case MSG_INFO: return CANVAS_AXIS;
    case MSG_DEBUG: return CANVAS_AXIS | CANVAS_DIM;
    default: return CANVAS_DEFAULT;
    }
}

/* Byte length of the first N characters of S (the canvas gives every character one cell). */
static size_t log_prefix(const char *s, int n)
{
    size_t i = 0;
    while (s[i] && n-- > 0) {
        i++;
        while ((s[i] & 0xc0) == 0x80)
            i++;
    }
    return i;
}

static void log_draw(struct pane *p, struct canvas *c, int x, int y, int w, int h)
{
    struct log_state *s = p->state;
    struct desk *d = p->desk;
    s->rows = h;
    if (s->scroll >= d->log_n)
        s->scroll = d->log_n ? d->log_n - 1 : 0;
    /* Long lines wrap under their text, not under the time stamp. */
    int stamp = w >= 40 ? 9 : 0, tw = w - stamp;
    if (tw < 1)
        return;
    size_t end = d->log_n - s->scroll, first = end;
    int used = 0;
    while (first > 0 && used < h) {
        int n = canvas_strwidth(desk_log_line(d, first - 1)->text);
        used += n > tw ? (n + tw - 1) / tw : 1;
        first--;
    }
    int row = y + h - used;   /* may start above the pane: the oldest line's top is cut */
    for (size_t i = first; i < end; i++) {
        const struct desk_line *ln = desk_log_line(d, i);
        int hl = s->match >= 0 && (size_t)s->match == i;
        unsigned st = hl ? CANVAS_HIGHLIGHT | CANVAS_REVERSE : log_style(ln->kind);
        if (stamp && row >= y) {
            time_t t = (time_t)ln->utc;
            struct tm tm;
            localtime_r(&t, &tm);
            char ts[16];
            strftime(ts, sizeof ts, "%H:%M:%S", &tm);
            canvas_text(c, x, row, ts, hl ? st : CANVAS_AXIS | CANVAS_DIM);
        }
        const char *text = ln->text;
        do {
            size_t n = log_prefix(text, tw);
            if (row >= y) {
                char *chunk = util_strndup(text, n);
                canvas_text(c, x + stamp, row, chunk, st);
                free(chunk);
            }
            row++;
            text += n;
        } while (*text);
    }
    if (s->scroll) {
        char m[48];
        snprintf(m, sizeof m, " +%zu newer (End) ", s->scroll);
        canvas_text(c, x + w - (int)strlen(m), y + h - 1, m, CANVAS_TITLE | CANVAS_REVERSE);
    }
}

/* Find the next line (dir -1 older, +1 newer) containing the pattern; scroll to it. */
static int log_find(struct pane *p, int dir)
{
    struct log_state *s = p->state;
    struct desk *d = p->desk;
    if (!s->search || !d->log_n)
        return -1;
    long i = s->match >= 0 ? s->match + dir : (dir < 0 ? (long)d->log_n - 1 : 0);
    for (; i >= 0 && (size_t)i < d->log_n; i += dir)
        if (strstr(desk_log_line(d, (size_t)i)->text, s->search)) {
            s->match = i;
            size_t below = d->log_n - 1 - (size_t)i;
            int half = s->rows > 2 ? s->rows / 2 : 1;
            s->scroll = below > (size_t)half ? below - (size_t)half : 0;
            pane_dirty(p);
            return 0;
        }
    return -1;
}

static int log_key(struct pane *p, int key)
{
    struct log_state *s = p->state;
    size_t page = s->rows > 2 ? (size_t)s->rows - 1 : 1;
    switch (key) {
    case KEYS_UP: case 'k': s->scroll++; break;
    case KEYS_DOWN: case 'j': s->scroll = s->scroll ? s->scroll - 1 : 0; break;
    case KEYS_PPAGE: s->scroll += page; break;
    case KEYS_NPAGE: s->scroll = s->scroll > page ? s->scroll - page : 0; break;
    case KEYS_HOME: case 'g': s->scroll = p->desk->log_n; break;
    case KEYS_END: case 'G': s->scroll = 0; s->match = -1; break;
    case 'n': log_find(p, -1); break;
    case 'N': log_find(p, +1); break;
    default: return 0;
    }
    pane_dirty(p);
    return 1;
}

/* `pane log search TEXT` / `log search TEXT`: the configure hook takes "search TEXT". */
static int log_configure(struct pane *p, int argc, const struct word *argv, char *err, size_t errlen)
{
    struct log_state *s = p->state;
    if (argc >= 1 && !strcmp(argv[0].text, "search")) {
        if (argc < 2) {
            snprintf(err, errlen, "search what?");
            return -1;
        }
        free(s->search);
        struct strbuf b = { 0 };
        for (int i = 1; i < argc; i++)
            strbuf_printf(&b, "%s%s", i > 1 ? " " : "", argv[i].text);
        s->search = strbuf_take(&b);
        s->match = -1;
        if (log_find(p, -1) < 0) {
            snprintf(err, errlen, "\"%s\" not found", s->search);
            return -1;
        }
        return 0;
    }
    if (argc >= 1 && !strcmp(argv[0].text, "end")) {
        s->scroll = 0;
        s->match = -1;
        pane_dirty(p);
        return 0;
    }
    snprintf(err, errlen, "a log pane takes: search TEXT | end");
    return -1;
}

const struct pane_type pane_log_type = {
    .name = "log",
    .help = "timestamped messages, command output and run events; scroll and search",
    .keyhelp = "  Up/Down j/k  scroll a line     PageUp/PageDown  scroll a page\n"
               "  Home/End     oldest / newest   n / N  previous / next match\n"
               "  `log search TEXT` finds TEXT",
    .titled = 1,
    .init = log_init,
    .free = log_free,
    .draw = log_draw,
    .key = log_key,
    .configure = log_configure,
};
