/* cmd: the command table and the executor of the command language.
 *
 * Every command is a row of a table (name, sub-command, alias, argument spec, usage, help,
 * function); each command group lives in its own file (src/cmd/cmd-*.c) and exports its rows.
 * Help and completion are generated from the same rows.
 *
 * Argument spec: words separated by blanks, each KIND[:DETAIL] with an optional suffix ? (may
 * be missing), * (any number) or + (one or more). Kinds: word, name, text (all the rest), file,
 * dir, cmd (a command name), setting, value, qty:UNIT (a quantity), num, int,
 * choice:A|B|C, block, kv (key=value), layout, device, pane, key. */
#ifndef INSITU_CMD_H
#define INSITU_CMD_H

#include <stddef.h>
#include "insitu/parse.h"

struct session;
struct exec;

enum cmd_status { CMD_OK = 0, CMD_ERR = 1, CMD_WAIT = 2 };

struct cmd_ctx {
    struct session *s;
    struct exec *ex;
    const struct cmd_entry *entry;
    const char *file;       /* script name, NULL when typed interactively */
    int line;
};

struct cmd_entry {
    const char *name;       /* "run" */
    const char *sub;        /* "start", or NULL */
    const char *alias;      /* another name for the whole command, or NULL */
    const char *args;       /* argument spec, see above */
    const char *usage;      /* "run start [NAME] [KEY=VALUE]..." */
    const char *help;
    int (*exec)(struct cmd_ctx *ctx, int argc, struct word *argv);
};

/* The table: every group's rows, in order. */
int cmd_count(void);
const struct cmd_entry *cmd_at(int i);
/* Find the entry for ARGV (argv[0] name, maybe argv[1] sub-command). *USED is how many words
 * named it. NULL with err set when nothing matches. */
const struct cmd_entry *cmd_find(int argc, const struct word *argv, int *used, char *err,
                                 size_t errlen);
/* "run start" */
const char *cmd_fullname(const struct cmd_entry *e, char *buf, size_t len);
/* Check ARGC words against E's argument spec. Returns 0 or -1 with err. */
int cmd_check_args(const struct cmd_entry *e, int argc, const struct word *argv, char *err,
                   size_t errlen);
/* Kind of the spec token that argument number ARGI (0-based, after the name) falls on, copied
 * into buf (e.g. "qty:A", "setting"); NULL if the command takes no such argument. */
const char *cmd_arg_kind(const struct cmd_entry *e, int argi, char *buf, size_t len);

/* Helpers for command functions: report an error in the standard form
 * ("FILE:LINE: CMD: reason" or "CMD: reason") and return CMD_ERR. */
int cmd_error(struct cmd_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Parse a quantity argument in UNIT, reporting errors. Returns 0 or -1. */
int cmd_qty(struct cmd_ctx *ctx, const struct word *w, const char *unit, double *out);
/* Print B as command output (without a trailing newline) and free it. */
struct strbuf;
void cmd_print_buf(struct strbuf *b);
/* Join words I.. with single blanks; newly allocated. */
char *cmd_join(int argc, const struct word *argv, int from);

/* ---- the executor ---- */

struct exec *exec_new(struct session *s, int keep_going);
void exec_free(struct exec *ex);
/* Parse TEXT as from FILE (NULL: typed) starting at LINE and queue it to run after what is
 * already running. Parse errors are reported; returns 0 or -1. */
int exec_push_text(struct exec *ex, const char *text, const char *file, int line);
/* Push LIST (taken over) to run now, REPEAT times (source, repeat bodies). Fails beyond a
 * nesting limit. */
int exec_push_list(struct exec *ex, struct cmdlist *list, long repeat, char *err, size_t errlen);
/* Run commands until one waits or nothing is left. */
void exec_run(struct exec *ex);
/* A command returned CMD_WAIT: it calls exec_resume when done (from the loop), with CMD_OK or
 * CMD_ERR; CANCEL (if given) undoes its hook when the wait is abandoned. */
void exec_wait(struct exec *ex, void (*cancel)(struct exec *ex, void *arg), void *arg);
void exec_resume(struct exec *ex, int status);
/* Drop everything queued and any wait (Ctrl-C, quit). */
void exec_cancel(struct exec *ex);
int exec_busy(const struct exec *ex);      /* commands left or waiting */
int exec_failed(const struct exec *ex);    /* some command failed */
int exec_ran(const struct exec *ex);       /* commands run so far */
/* Called after every command (the UI redraws, the headless driver checks whether to exit). */
void exec_on_idle(struct exec *ex, void (*fn)(struct exec *ex, void *arg), void *arg);

#endif
