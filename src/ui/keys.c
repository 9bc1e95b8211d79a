/* keys: names of keys, as in tmux's key tables ("C-x", "M-Left", "F1", "PageUp"). */
#include "insitu/keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
    const char *name;
    int key;
} keys_table[] = {
    { "Up", KEYS_UP },         { "Down", KEYS_DOWN },     { "Left", KEYS_LEFT },
    { "Right", KEYS_RIGHT },   { "Home", KEYS_HOME },     { "End", KEYS_END },
    { "PageUp", KEYS_PPAGE },  { "PPage", KEYS_PPAGE },   { "PageDown", KEYS_NPAGE },
    { "NPage", KEYS_NPAGE },   { "Insert", KEYS_IC },     { "Delete", KEYS_DC },
    { "BTab", KEYS_BTAB },     { "S-Up", KEYS_SUP },      { "S-Down", KEYS_SDOWN },
    { "S-Left", KEYS_SLEFT },  { "S-Right", KEYS_SRIGHT },
    { "Enter", KEYS_ENTER },   { "Tab", KEYS_TAB },       { "Escape", KEYS_ESC },
    { "BSpace", KEYS_BACKSPACE }, { "Space", ' ' },
};

int keys_parse(const char *name)
{
    int meta = 0;
    /* modifiers: C- and M- in any order, as tmux writes them */
    for (;;) {
        if ((name[0] == 'M' || name[0] == 'm') && name[1] == '-' && name[2]) {
            meta = KEYM_META;
            name += 2;
        } else if ((name[0] == 'C' || name[0] == 'c') && name[1] == '-' && name[2] && !name[3]) {
            char c = name[2];
            if (c >= 'a' && c <= 'z')
                return KEYS_CTRL(c) | meta;
            if (c >= 'A' && c <= 'Z')
                return KEYS_CTRL(c) | meta;
            if (c == ' ' || c == '@')
                return 0 | meta;
            return -1;
        } else {
            break;
        }
    }
    for (size_t i = 0; i < sizeof keys_table / sizeof *keys_table; i++)
        if (strcasecmp(keys_table[i].name, name) == 0)
            return keys_table[i].key | meta;
    if ((name[0] == 'F' || name[0] == 'f') && name[1]) {
        char *end;
        long n = strtol(name + 1, &end, 10);
        if (!*end && n >= 1 && n <= 12)
            return (int)(KEYS_F1 + n - 1) | meta;
    }
    /* one printable character, possibly multi-byte UTF-8 */
    const unsigned char *s = (const unsigned char *)name;
    int cp, n;
    if (s[0] < 0x80) {
        cp = s[0];
        n = 1;
    } else if ((s[0] & 0xe0) == 0xc0) {
        cp = s[0] & 0x1f;
        n = 2;
    } else if ((s[0] & 0xf0) == 0xe0) {
        cp = s[0] & 0x0f;
        n = 3;
    } else if ((s[0] & 0xf8) == 0xf0) {
        cp = s[0] & 0x07;
        n = 4;
    } else {
        return -1;
    }
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return -1;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (s[n] || cp < 0x20 || cp == 0x7f)
        return -1;
    return cp | meta;
}

char *keys_name(int key, char *buf, size_t len)
{
    const char *meta = key & KEYM_META ? "M-" : "";
    int k = key & ~KEYM_META;
    for (size_t i = 0; i < sizeof keys_table / sizeof *keys_table; i++)
        if (keys_table[i].key == k && strcmp(keys_table[i].name, "PPage") &&
            strcmp(keys_table[i].name, "NPage")) {
            snprintf(buf, len, "%s%s", meta, keys_table[i].name);
            return buf;
        }
    if (k >= KEYS_F1 && k <= KEYS_F12)
        snprintf(buf, len, "%sF%d", meta, k - KEYS_F1 + 1);
    else if (k >= 0 && k < 0x20)
        snprintf(buf, len, "%sC-%c", meta, k + 'a' - 1);
    else if (k >= 0x20 && k < 0x80)
        snprintf(buf, len, "%s%c", meta, k);
    else if (k >= 0x80 && k < 0x110000) {
        char u[5] = { 0 };
        if (k < 0x800) {
            u[0] = (char)(0xc0 | k >> 6);
            u[1] = (char)(0x80 | (k & 0x3f));
        } else if (k < 0x10000) {
            u[0] = (char)(0xe0 | k >> 12);
            u[1] = (char)(0x80 | (k >> 6 & 0x3f));
            u[2] = (char)(0x80 | (k & 0x3f));
        } else {
            u[0] = (char)(0xf0 | k >> 18);
            u[1] = (char)(0x80 | (k >> 12 & 0x3f));
            u[2] = (char)(0x80 | (k >> 6 & 0x3f));
            u[3] = (char)(0x80 | (k & 0x3f));
        }
        snprintf(buf, len, "%s%s", meta, u);
    } else
        snprintf(buf, len, "?");
    return buf;
}

int keys_printable(int key)
{
    return key >= 0x20 && key < 0x110000 && key != 0x7f;
}
