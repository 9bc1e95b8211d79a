/* layout: a binary tree of screen cells. */
#include "insitu/layout.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "insitu/util.h"

int layout_parse_size(const char *text, struct layout_size *out)
{
    struct layout_size s = { 0, 0, 0 };
    const char *p = text;
    if (*p == '-') {
        s.second = 1;
        p++;
    }
    if (!isdigit((unsigned char)*p))
        return -1;
    char *end;
    long v = strtol(p, &end, 10);
    if (*end == '%') {
        s.percent = 1;
        end++;
        if (v < 1 || v > 99)
            return -1;
    } else if (v < 1 || v > 10000) {
        return -1;
    }
    if (*end)
        return -1;
    s.value = (int)v;
    *out = s;
    return 0;
}

void layout_format_size(const struct layout_size *s, char *buf, size_t len)
{
    snprintf(buf, len, "%s%d%s", s->second ? "-" : "", s->value, s->percent ? "%" : "");
}

struct layout_cell *layout_leaf(void)
{
    return util_calloc(1, sizeof(struct layout_cell));
}

struct layout_cell *layout_split(struct layout_cell *leaf, enum layout_kind kind,
                                 const struct layout_size *size)
{
    struct layout_cell *a = layout_leaf(), *b = layout_leaf();
    a->pane = leaf->pane;
    a->parent = b->parent = leaf;
    leaf->pane = NULL;
    leaf->kind = kind;
    leaf->a = a;
    leaf->b = b;
    leaf->size = *size;
    return a;
}

struct layout_cell *layout_remove(struct layout_cell *root, struct layout_cell *leaf)
{
    struct layout_cell *parent = leaf->parent;
    if (!parent) {
        leaf->pane = NULL;
        return root;
    }
    struct layout_cell *sib = parent->a == leaf ? parent->b : parent->a;
    /* the sibling's content moves up into the parent, so pointers to the parent stay valid */
    parent->kind = sib->kind;
    parent->a = sib->a;
    parent->b = sib->b;
    parent->size = sib->size;
    parent->pane = sib->pane;
    if (parent->a)
        parent->a->parent = parent;
    if (parent->b)
        parent->b->parent = parent;
    free(sib);
    free(leaf);
    return root;
}

void layout_free(struct layout_cell *c)
{
    if (!c)
        return;
    layout_free(c->a);
    layout_free(c->b);
    free(c);
}

struct layout_cell *layout_first_leaf(struct layout_cell *c)
{
    while (c && c->kind != LAYOUT_LEAF)
        c = c->a;
    return c;
}

struct layout_cell *layout_next_leaf(struct layout_cell *leaf)
{
    struct layout_cell *c = leaf;
    while (c->parent && c->parent->b == c)
        c = c->parent;
    if (!c->parent)
        return NULL;
    return layout_first_leaf(c->parent->b);
}

struct layout_cell *layout_next_empty(struct layout_cell *root)
{
    for (struct layout_cell *l = layout_first_leaf(root); l; l = layout_next_leaf(l))
        if (!l->pane)
            return l;
    return NULL;
}

int layout_count_leaves(struct layout_cell *root)
{
    int n = 0;
    for (struct layout_cell *l = layout_first_leaf(root); l; l = layout_next_leaf(l))
        n++;
    return n;
}

void layout_compute(struct layout_cell *c, int x, int y, int w, int h)
{
    c->x = x;
    c->y = y;
    c->w = w < 0 ? 0 : w;
    c->h = h < 0 ? 0 : h;
    if (c->kind == LAYOUT_LEAF)
        return;
    int sep = c->kind == LAYOUT_H ? 1 : 0;
    int total = (c->kind == LAYOUT_H ? c->w : c->h) - sep;
    int part = c->size.percent ? (int)lround(total * c->size.value / 100.0) : c->size.value;
    int first = c->size.second ? total - part : part;
    if (first > total - 1)
        first = total - 1;
    if (first < 1)
        first = total >= 1 ? 1 : 0;
    int second = total - first;
    if (second < 0)
        second = 0;
    if (c->kind == LAYOUT_H) {
        layout_compute(c->a, x, y, first, c->h);
        layout_compute(c->b, x + first + sep, y, second, c->h);
    } else {
        layout_compute(c->a, x, y, c->w, first);
        layout_compute(c->b, x, y + first, c->w, second);
    }
}

/* Rebuilding replays: split the current cell, fill the first part, then the second part is the
 * next empty leaf. So a split is written before both of its subtrees. */
static void layout_dump_cell(struct layout_cell *c, struct strbuf *out,
                             void (*pane_words)(struct pane *, struct strbuf *))
{
    if (c->kind == LAYOUT_LEAF) {
        strbuf_addstr(out, "pane ");
        if (c->pane)
            pane_words(c->pane, out);
        else
            strbuf_addstr(out, "log");
        strbuf_addch(out, '\n');
        return;
    }
    char sz[32];
    layout_format_size(&c->size, sz, sizeof sz);
    strbuf_printf(out, "split %s %s\n", c->kind == LAYOUT_H ? "-h" : "-v", sz);
    layout_dump_cell(c->a, out, pane_words);
    layout_dump_cell(c->b, out, pane_words);
}

void layout_dump(struct layout_cell *root, struct strbuf *out,
                 void (*pane_words)(struct pane *p, struct strbuf *out))
{
    layout_dump_cell(root, out, pane_words);
}
