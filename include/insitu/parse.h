/* parse: the command language's lexer and parser (tmux/Tcl-like).
 *
 *   words separated by blanks; 'single' quotes are literal; "double" quotes take \" \\ \n \t \$;
 *   # starts a comment at the beginning of a word; ; or a newline ends a command;
 *   \ at the end of a line continues it; { ... } is a block: one word holding the raw text
 *   between the braces (nested braces, quotes and comments inside are respected), which the
 *   command that takes it parses again, so errors inside still point at the right line.
 */
#ifndef INSITU_PARSE_H
#define INSITU_PARSE_H

#include <stddef.h>

struct word {
    char *text;  /* the word with quotes removed; for a block, the raw inner text */
    int quoted;  /* any part of it was quoted: not a keyword, not a block */
    int block;   /* it was written { ... } */
    int line;    /* line where the word (for a block: its inner text) starts */
};

struct cmdline {
    int argc;
    struct word *argv;
    int line;         /* line of the first word */
};

struct cmdlist {
    int n;
    struct cmdline *v;
    char *file;       /* for messages; "" when typed */
};

enum parse_status { PARSE_OK = 0, PARSE_ERROR = -1, PARSE_INCOMPLETE = 1 };

struct parse_error {
    int line;          /* where the problem starts */
    char msg[256];     /* reason, without file:line */
};

/* Parse TEXT (from FILE, starting at FIRST_LINE) into OUT. Returns PARSE_OK; PARSE_ERROR with
 * ERR filled; or PARSE_INCOMPLETE when the text ends inside a quote, block or continuation
 * (ERR filled too, so a caller at end of input can report it). OUT is empty on failure. */
enum parse_status parse_text(const char *text, const char *file, int first_line,
                             struct cmdlist *out, struct parse_error *err);
void cmdlist_free(struct cmdlist *l);

/* Quote S so that parse_text reads it back as one word (for layout save, history, ...). */
char *parse_quote(const char *s);

#endif
