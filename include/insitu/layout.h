/* layout: the screen as a tree of cells (tmux's layout cells are the model). A cell is either a
 * leaf holding one pane, or a split of two cells side by side (-h) or one above the other (-v).
 * Pure geometry: no drawing, no ncurses. */
#ifndef INSITU_LAYOUT_H
#define INSITU_LAYOUT_H

#include <stddef.h>

struct strbuf;
struct pane;

enum layout_kind { LAYOUT_LEAF, LAYOUT_H, LAYOUT_V };  /* H: a | b ; V: a above b */

struct layout_size {
    int value;      /* cells or percent */
    int percent;
    int second;     /* the size is that of the second (right/bottom) part */
};

struct layout_cell {
    enum layout_kind kind;
    struct layout_cell *parent, *a, *b;
    struct layout_size size;        /* splits only */
    int x, y, w, h;                 /* computed by layout_compute */
    struct pane *pane;              /* leaves: the pane, or NULL while being built */
};

/* "65%" (first part), "20" (cells, first part), "-2" or "-30%" (second part). */
int layout_parse_size(const char *text, struct layout_size *out);
void layout_format_size(const struct layout_size *s, char *buf, size_t len);

struct layout_cell *layout_leaf(void);
/* Split LEAF in two; LEAF becomes the split and its pane moves to the first part. Returns the
 * first part. */
struct layout_cell *layout_split(struct layout_cell *leaf, enum layout_kind kind,
                                 const struct layout_size *size);
/* Remove LEAF: its sibling takes the parent's place. Returns the new root (may be unchanged). */
struct layout_cell *layout_remove(struct layout_cell *root, struct layout_cell *leaf);
void layout_free(struct layout_cell *c);   /* the tree, not the panes */

/* Leaves in order (depth first, first part first). */
struct layout_cell *layout_first_leaf(struct layout_cell *c);
struct layout_cell *layout_next_leaf(struct layout_cell *leaf);
/* The first leaf after (or at) FROM in order that has no pane; NULL if none. */
struct layout_cell *layout_next_empty(struct layout_cell *root);
int layout_count_leaves(struct layout_cell *root);

/* Give every cell its rectangle. A side-by-side split leaves one column between the parts for
 * a separator line. Parts never get less than one cell. */
void layout_compute(struct layout_cell *c, int x, int y, int w, int h);

/* Write the tree as commands (split ... ; pane TYPE NAME) that rebuild it. PANE_WORDS gives the
 * pane's words for a leaf ("log", "plot temp"). */
void layout_dump(struct layout_cell *root, struct strbuf *out,
                 void (*pane_words)(struct pane *p, struct strbuf *out));

#endif
