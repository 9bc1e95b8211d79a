/* keys: key codes independent of ncurses, and their names in the command language
 * ("C-x", "M-z", "F1", "PageUp", "Enter", "?", "q"). The terminal layer translates ncurses'
 * codes into these; bindings, panes and tests only ever see these. */
#ifndef INSITU_KEYS_H
#define INSITU_KEYS_H

#include <stddef.h>

/* A key is a Unicode code point (printable keys, and control characters for C-a .. C-z), or
 * KEY_BASE + n for a special key, or-ed with KEYM_META for Alt/Meta. */
#define KEYS_BASE 0x200000
#define KEYM_META 0x1000000
enum keys_special {
    KEYS_UP = KEYS_BASE, KEYS_DOWN, KEYS_LEFT, KEYS_RIGHT, KEYS_HOME, KEYS_END, KEYS_PPAGE,
    KEYS_NPAGE, KEYS_IC, KEYS_DC, KEYS_BTAB, KEYS_RESIZE,
    KEYS_SUP, KEYS_SDOWN, KEYS_SLEFT, KEYS_SRIGHT,
    KEYS_F1, /* ... */ KEYS_F12 = KEYS_F1 + 11,
    KEYS_LAST
};
#define KEYS_ENTER '\r'
#define KEYS_TAB '\t'
#define KEYS_ESC 27
#define KEYS_BACKSPACE 127
#define KEYS_CTRL(c) ((c) & 0x1f)

/* Parse a key name; returns the code or -1. */
int keys_parse(const char *name);
/* Name of KEY ("C-x", "M-Left", "F1", "q"); returns buf. */
char *keys_name(int key, char *buf, size_t len);
/* A key a pane or the command line gets as typing (printable, no modifier). */
int keys_printable(int key);

#endif
