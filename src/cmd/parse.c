/* parse: lexer and parser of the command language (see parse.h for the syntax).
 *
 * Blocks are kept as raw text rather than parsed eagerly: the command that takes a block decides
 * what it means (a loop body, a cycling protocol, a key binding), the same way Tcl and tmux do.
 * The block word remembers the line its text starts on so that errors found when it is parsed
 * later still name the right line of the file. */
#include "insitu/parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "insitu/util.h"

struct lexer {
    const char *s;
    size_t i;
    int line;
    struct parse_error *err;
};

static int parse_fail(struct lexer *lx, int line, enum parse_status st, const char *msg)
{
    lx->err->line = line;
    util_strlcpy(lx->err->msg, msg, sizeof lx->err->msg);
    return st;
}

static int parse_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static int parse_ends_word(char c)
{
    return c == '\0' || c == '\n' || c == ';' || parse_blank(c);
}

static void cmdline_free(struct cmdline *c)
{
    for (int i = 0; i < c->argc; i++)
        free(c->argv[i].text);
    free(c->argv);
    c->argv = NULL;
    c->argc = 0;
}

void cmdlist_free(struct cmdlist *l)
{
    for (int i = 0; i < l->n; i++)
        cmdline_free(&l->v[i]);
    free(l->v);
    free(l->file);
    memset(l, 0, sizeof *l);
}

static void parse_push_word(struct cmdline *c, struct word *w)
{
    c->argv = util_reallocarray(c->argv, (size_t)c->argc + 1, sizeof *c->argv);
    c->argv[c->argc++] = *w;
}

static void parse_end_command(struct cmdlist *out, struct cmdline *c)
{
    if (c->argc == 0)
        return;
    out->v = util_reallocarray(out->v, (size_t)out->n + 1, sizeof *out->v);
    out->v[out->n++] = *c;
    memset(c, 0, sizeof *c);
}

/* Scan a { ... } block starting at the opening brace. */
static int parse_block(struct lexer *lx, struct word *w)
{
    const char *s = lx->s;
    int open_line = lx->line;
    size_t start = ++lx->i;
    int depth = 1, at_word_start = 1;
    while (s[lx->i]) {
        char c = s[lx->i];
        if (c == '\\') {
            if (s[lx->i + 1] == '\n')
                lx->line++;
            if (s[lx->i + 1])
                lx->i++;
            lx->i++;
            at_word_start = 0;
            continue;
        }
        if (c == '#' && at_word_start) {
            while (s[lx->i] && s[lx->i] != '\n')
                lx->i++;
            continue;
        }
        if (c == '\'' || c == '"') {
            int qline = lx->line;
            lx->i++;
            while (s[lx->i] && s[lx->i] != c) {
                if (c == '"' && s[lx->i] == '\\' && s[lx->i + 1]) {
                    if (s[lx->i + 1] == '\n')
                        lx->line++;
                    lx->i++;
                } else if (s[lx->i] == '\n') {
                    lx->line++;
                }
                lx->i++;
            }
            if (!s[lx->i])
                return parse_fail(lx, qline, PARSE_INCOMPLETE,
                                  c == '"' ? "unterminated \"...\" string"
                                           : "unterminated '...' string");
            lx->i++;
            at_word_start = 0;
            continue;
        }
        if (c == '\n')
            lx->line++;
        if (c == '{')
            depth++;
        else if (c == '}' && --depth == 0)
            break;
        at_word_start = parse_blank(c) || c == '\n' || c == ';' || c == '{' || c == '}';
        lx->i++;
    }
    if (depth)
        return parse_fail(lx, open_line, PARSE_INCOMPLETE, "unterminated { block");
    w->text = util_strndup(s + start, lx->i - start);
    w->block = 1;
    w->quoted = 0;
    w->line = open_line;
    lx->i++; /* the closing brace */
    if (!parse_ends_word(s[lx->i]) && s[lx->i] != '}') {
        free(w->text);
        w->text = NULL;
        return parse_fail(lx, lx->line, PARSE_ERROR, "extra characters after }");
    }
    return PARSE_OK;
}

/* Scan an ordinary word: unquoted text, quotes and escapes glued together. */
static int parse_word(struct lexer *lx, struct word *w)
{
    const char *s = lx->s;
    struct strbuf b = { 0 };
    w->line = lx->line;
    w->quoted = 0;
    w->block = 0;
    while (!parse_ends_word(s[lx->i])) {
        char c = s[lx->i];
        if (c == '\'') {
            int qline = lx->line;
            size_t j = ++lx->i;
            while (s[lx->i] && s[lx->i] != '\'') {
                if (s[lx->i] == '\n')
                    lx->line++;
                lx->i++;
            }
            if (!s[lx->i]) {
                strbuf_free(&b);
                return parse_fail(lx, qline, PARSE_INCOMPLETE, "unterminated '...' string");
            }
            strbuf_add(&b, s + j, lx->i - j);
            lx->i++;
            w->quoted = 1;
        } else if (c == '"') {
            int qline = lx->line;
            lx->i++;
            while (s[lx->i] && s[lx->i] != '"') {
                char d = s[lx->i];
                if (d == '\\' && s[lx->i + 1]) {
                    char e = s[++lx->i];
                    switch (e) {
                    case 'n': strbuf_addch(&b, '\n'); break;
                    case 't': strbuf_addch(&b, '\t'); break;
                    case '"': case '\\': case '$': strbuf_addch(&b, e); break;
                    case '\n': lx->line++; break;   /* continuation inside a string */
                    default: strbuf_addch(&b, '\\'); strbuf_addch(&b, e); break;
                    }
                } else {
                    if (d == '\n')
                        lx->line++;
                    strbuf_addch(&b, d);
                }
                lx->i++;
            }
            if (!s[lx->i]) {
                strbuf_free(&b);
                return parse_fail(lx, qline, PARSE_INCOMPLETE, "unterminated \"...\" string");
            }
            lx->i++;
            w->quoted = 1;
        } else if (c == '\\') {
            char e = s[lx->i + 1];
            if (e == '\0') {
                strbuf_free(&b);
                return parse_fail(lx, lx->line, PARSE_INCOMPLETE,
                                  "line continuation at end of input");
            }
            if (e == '\n') {
                lx->line++;
            } else {
                strbuf_addch(&b, e);
                w->quoted = 1;   /* an escaped character is never a keyword */
            }
            lx->i += 2;
        } else {
            strbuf_addch(&b, c);
            lx->i++;
        }
    }
    w->text = strbuf_take(&b);
    return PARSE_OK;
}

enum parse_status parse_text(const char *text, const char *file, int first_line,
                             struct cmdlist *out, struct parse_error *err)
{
    struct parse_error dummy;
    struct lexer lx = { text ? text : "", 0, first_line > 0 ? first_line : 1, err ? err : &dummy };
    struct cmdline cur = { 0 };
    memset(out, 0, sizeof *out);
    out->file = util_strdup(file ? file : "");
    lx.err->line = 0;
    lx.err->msg[0] = '\0';
    const char *s = lx.s;
    int rc = PARSE_OK;

    for (;;) {
        while (parse_blank(s[lx.i]))
            lx.i++;
        char c = s[lx.i];
        if (c == '\\' && s[lx.i + 1] == '\n') {   /* continuation between words */
            lx.i += 2;
            lx.line++;
            continue;
        }
        if (c == '\\' && s[lx.i + 1] == '\0') {
            rc = parse_fail(&lx, lx.line, PARSE_INCOMPLETE, "line continuation at end of input");
            break;
        }
        if (c == '\0')
            break;
        if (c == '\n' || c == ';') {
            parse_end_command(out, &cur);
            if (c == '\n')
                lx.line++;
            lx.i++;
            continue;
        }
        if (c == '#') {
            while (s[lx.i] && s[lx.i] != '\n')
                lx.i++;
            continue;
        }
        if (c == '}') {
            rc = parse_fail(&lx, lx.line, PARSE_ERROR, "unexpected }");
            break;
        }
        struct word w = { 0 };
        rc = c == '{' ? parse_block(&lx, &w) : parse_word(&lx, &w);
        if (rc != PARSE_OK)
            break;
        if (cur.argc == 0)
            cur.line = w.line;
        parse_push_word(&cur, &w);
    }
    if (rc == PARSE_OK) {
        parse_end_command(out, &cur);
    } else {
        cmdline_free(&cur);
        cmdlist_free(out);
    }
    return (enum parse_status)rc;
}

char *parse_quote(const char *s)
{
    static const char safe[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                               "0123456789_./:=,+-%@^~";
    if (*s && strspn(s, safe) == strlen(s) && *s != '#' && *s != '~')
        return util_strdup(s);
    if (!strchr(s, '\''))
        return util_printf("'%s'", s);
    struct strbuf b = { 0 };
    strbuf_addch(&b, '"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\' || *s == '$')
            strbuf_addch(&b, '\\');
        if (*s == '\n')
            strbuf_addstr(&b, "\\n");
        else
            strbuf_addch(&b, *s);
    }
    strbuf_addch(&b, '"');
    return strbuf_take(&b);
}
