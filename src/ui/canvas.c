/* canvas: off-screen grid of styled cells (no ncurses here: see canvas.h). */
#include "insitu/canvas.h"

#include <stdlib.h>
#include <string.h>

#include "insitu/util.h"

/* Length in bytes of the well-formed UTF-8 character at S (1..4), or 0 when S does not start
 * one (stray continuation byte, overlong form, surrogate, truncated sequence). Checking here
 * keeps every cell a complete character, so the terminal never gets half a sequence. */
static int canvas_utf8_len(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    int n;
    if (u[0] < 0x80)
        return 1;
    if (u[0] >= 0xc2 && u[0] < 0xe0)
        n = 2;
    else if (u[0] >= 0xe0 && u[0] < 0xf0)
        n = 3;
    else if (u[0] >= 0xf0 && u[0] < 0xf5)
        n = 4;
    else
        return 0;
    for (int i = 1; i < n; i++)
        if ((u[i] & 0xc0) != 0x80)
            return 0;
    if ((u[0] == 0xe0 && u[1] < 0xa0) || (u[0] == 0xed && u[1] >= 0xa0) ||
        (u[0] == 0xf0 && u[1] < 0x90) || (u[0] == 0xf4 && u[1] >= 0x90))
        return 0;
    return n;
}

struct canvas *canvas_new(int w, int h)
{
    struct canvas *c = util_calloc(1, sizeof *c);
    canvas_resize(c, w, h);
    return c;
}

void canvas_free(struct canvas *c)
{
    if (!c)
        return;
    free(c->cells);
    free(c);
}

void canvas_resize(struct canvas *c, int w, int h)
{
    c->w = w > 0 ? w : 0;
    c->h = h > 0 ? h : 0;
    free(c->cells);
    c->cells = util_calloc((size_t)c->w * (size_t)c->h, sizeof *c->cells);
    canvas_reset_clip(c);
    canvas_clear(c);
}

void canvas_set_utf8(struct canvas *c, int on)
{
    c->utf8 = on != 0;
}

void canvas_clear(struct canvas *c)
{
    size_t n = (size_t)c->w * (size_t)c->h;
    for (size_t i = 0; i < n; i++) {
        c->cells[i].ch[0] = ' ';
        c->cells[i].ch[1] = '\0';
        c->cells[i].style = CANVAS_DEFAULT;
    }
}

void canvas_set_clip(struct canvas *c, int x, int y, int w, int h)
{
    /* Compute in long long: x + w may overflow int for absurd arguments. */
    long long x0 = x, y0 = y, x1 = (long long)x + (w > 0 ? w : 0),
              y1 = (long long)y + (h > 0 ? h : 0);
    c->clip_x0 = (int)(x0 < 0 ? 0 : x0 > c->w ? c->w : x0);
    c->clip_y0 = (int)(y0 < 0 ? 0 : y0 > c->h ? c->h : y0);
    c->clip_x1 = (int)(x1 < c->clip_x0 ? c->clip_x0 : x1 > c->w ? c->w : x1);
    c->clip_y1 = (int)(y1 < c->clip_y0 ? c->clip_y0 : y1 > c->h ? c->h : y1);
}

void canvas_reset_clip(struct canvas *c)
{
    c->clip_x0 = c->clip_y0 = 0;
    c->clip_x1 = c->w;
    c->clip_y1 = c->h;
}

const struct canvas_cell *canvas_cell(const struct canvas *c, int x, int y)
{
    if (x < 0 || y < 0 || x >= c->w || y >= c->h)
        return NULL;
    return &c->cells[(size_t)y * (size_t)c->w + (size_t)x];
}

/* Store N bytes of one character; the single place that writes cells, so the clip and the
 * ASCII substitution cannot be bypassed. */
static void canvas_set(struct canvas *c, int x, int y, const char *ch, int n, unsigned style)
{
    if (x < c->clip_x0 || x >= c->clip_x1 || y < c->clip_y0 || y >= c->clip_y1)
        return;
    struct canvas_cell *cell = &c->cells[(size_t)y * (size_t)c->w + (size_t)x];
    if (n <= 0 || (n == 1 && ((unsigned char)ch[0] < 0x20 || ch[0] == 0x7f)) ||
        (n > 1 && !c->utf8)) {
        ch = "?";
        n = 1;
    }
    memcpy(cell->ch, ch, (size_t)n);
    cell->ch[n] = '\0';
    cell->style = (uint16_t)style;
}

void canvas_put(struct canvas *c, int x, int y, const char *ch, unsigned style)
{
    if (!ch || !*ch)
        ch = " ";
    canvas_set(c, x, y, ch, canvas_utf8_len(ch), style);
}

int canvas_text(struct canvas *c, int x, int y, const char *str, unsigned style)
{
    int cells = 0;
    if (!str)
        return 0;
    while (*str) {
        int n = canvas_utf8_len(str);
        canvas_set(c, x + cells, y, str, n, style);
        str += n ? n : 1;
        cells++;
    }
    return cells;
}

int canvas_strwidth(const char *str)
{
    int cells = 0;
    if (!str)
        return 0;
    while (*str) {
        int n = canvas_utf8_len(str);
        str += n ? n : 1;
        cells++;
    }
    return cells;
}

void canvas_fill(struct canvas *c, int x, int y, int w, int h, const char *ch, unsigned style)
{
    if (!ch || !*ch)
        ch = " ";
    int n = canvas_utf8_len(ch);
    /* Only the visible part is visited, so huge rectangles cost nothing. */
    int x0 = x > c->clip_x0 ? x : c->clip_x0, y0 = y > c->clip_y0 ? y : c->clip_y0;
    long long xe = (long long)x + w, ye = (long long)y + h;
    int x1 = xe < c->clip_x1 ? (int)xe : c->clip_x1, y1 = ye < c->clip_y1 ? (int)ye : c->clip_y1;
    for (int j = y0; j < y1; j++)
        for (int i = x0; i < x1; i++)
            canvas_set(c, i, j, ch, n, style);
}

void canvas_hline(struct canvas *c, int x, int y, int len, unsigned style)
{
    canvas_fill(c, x, y, len, 1, c->utf8 ? "\u2500" : "-", style);
}

void canvas_vline(struct canvas *c, int x, int y, int len, unsigned style)
{
    canvas_fill(c, x, y, 1, len, c->utf8 ? "\u2502" : "|", style);
}

void canvas_box(struct canvas *c, int x, int y, int w, int h, unsigned style)
{
    if (w <= 0 || h <= 0)
        return;
    int u = c->utf8;
    canvas_hline(c, x + 1, y, w - 2, style);
    canvas_hline(c, x + 1, y + h - 1, w - 2, style);
    canvas_vline(c, x, y + 1, h - 2, style);
    canvas_vline(c, x + w - 1, y + 1, h - 2, style);
    canvas_put(c, x, y, u ? "\u250c" : "+", style);
    canvas_put(c, x + w - 1, y, u ? "\u2510" : "+", style);
    canvas_put(c, x, y + h - 1, u ? "\u2514" : "+", style);
    canvas_put(c, x + w - 1, y + h - 1, u ? "\u2518" : "+", style);
}

void canvas_braille(struct canvas *c, int x, int y, unsigned dots, unsigned style)
{
    dots &= 0xff;
    if (c->utf8) {
        /* U+2800 + dots in UTF-8: E2, A0 + top two bits, 80 + low six bits. */
        char s[4] = {(char)0xe2, (char)(0xa0 | (dots >> 6)), (char)(0x80 | (dots & 0x3f)), 0};
        canvas_set(c, x, y, s, 3, style);
        return;
    }
    /* Dots 1,2,4,5 are the upper half of the cell, 3,6,7,8 the lower. */
    int up = (dots & 0x1b) != 0, down = (dots & 0xe4) != 0;
    canvas_set(c, x, y, up && down ? ":" : up ? "'" : down ? "." : " ", 1, style);
}

void canvas_to_text(const struct canvas *c, struct strbuf *out)
{
    for (int y = 0; y < c->h; y++) {
        const struct canvas_cell *row = &c->cells[(size_t)y * (size_t)c->w];
        int end = c->w;
        while (end > 0 && strcmp(row[end - 1].ch, " ") == 0)
            end--;
        for (int x = 0; x < end; x++)
            strbuf_addstr(out, row[x].ch);
        strbuf_addch(out, '\n');
    }
}
