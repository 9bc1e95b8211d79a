/* cmd: the table of commands, lookup, argument-spec checks and error helpers. */
#include "insitu/cmd.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "insitu/msg.h"
#include "insitu/units.h"
#include "insitu/util.h"

/* Each command group's rows live in its own file; adding a group adds one line here. */
extern const struct cmd_entry cmd_core_entries[];
extern const struct cmd_entry cmd_run_entries[];
extern const struct cmd_entry cmd_archive_entries[];
extern const struct cmd_entry cmd_ui_entries[];
extern const struct cmd_entry cmd_io_entries[];
extern const struct cmd_entry cmd_dev_entries[];
extern const struct cmd_entry cmd_cycler_entries[];
extern const struct cmd_entry cmd_nmr_entries[];

static const struct cmd_entry *const cmd_groups[] = {
    cmd_core_entries,
    cmd_run_entries,
    cmd_archive_entries,
    cmd_ui_entries,
    cmd_io_entries,
    cmd_dev_entries,
    cmd_cycler_entries,
    cmd_nmr_entries,
};

static const struct cmd_entry **cmd_table;
static int cmd_n;

static void cmd_build(void)
{
    if (cmd_table)
        return;
    for (size_t g = 0; g < ARRAY_LEN(cmd_groups); g++)
        for (const struct cmd_entry *e = cmd_groups[g]; e->name; e++) {
            cmd_table = util_reallocarray(cmd_table, (size_t)cmd_n + 1, sizeof *cmd_table);
            cmd_table[cmd_n++] = e;
        }
}

int cmd_count(void)
{
    cmd_build();
    return cmd_n;
}

const struct cmd_entry *cmd_at(int i)
{
    cmd_build();
    return i >= 0 && i < cmd_n ? cmd_table[i] : NULL;
}

const char *cmd_fullname(const struct cmd_entry *e, char *buf, size_t len)
{
    if (e->sub)
        snprintf(buf, len, "%s %s", e->name, e->sub);
    else
        snprintf(buf, len, "%s", e->name);
    return buf;
}

const struct cmd_entry *cmd_find(int argc, const struct word *argv, int *used, char *err,
                                 size_t errlen)
{
    cmd_build();
    if (argc < 1 || argv[0].block) {
        snprintf(err, errlen, "a block { ... } is not a command");
        return NULL;
    }
    const char *name = argv[0].text;
    const struct cmd_entry *plain = NULL;
    int nsubs = 0;
    struct strbuf subs = { 0 };
    for (int i = 0; i < cmd_n; i++) {
        const struct cmd_entry *e = cmd_table[i];
        if (strcmp(e->name, name) && !(e->alias && strcmp(e->alias, name) == 0))
            continue;
        if (!e->sub) {
            plain = e;
            continue;
        }
        if (argc > 1 && strcmp(e->sub, argv[1].text) == 0) {
            strbuf_free(&subs);
            *used = 2;
            return e;
        }
        strbuf_printf(&subs, "%s%s", nsubs++ ? ", " : "", e->sub);
    }
    if (plain) {
        strbuf_free(&subs);
        *used = 1;
        return plain;
    }
    if (nsubs == 0)
        snprintf(err, errlen, "%s: unknown command (`help` lists commands)", name);
    else if (argc < 2)
        snprintf(err, errlen, "%s: missing sub-command (%s)", name, subs.s);
    else
        snprintf(err, errlen, "%s: unknown sub-command \"%s\" (%s)", name, argv[1].text, subs.s);
    strbuf_free(&subs);
    return NULL;
}

/* One token of an argument spec. */
struct cmd_spec {
    char kind[64];
    char card;  /* '\0' one, '?' optional, '*' any, '+' one or more */
};

static int cmd_spec_parse(const char *spec, struct cmd_spec *out, int max)
{
    int n = 0;
    const char *p = spec ? spec : "";
    while (*p && n < max) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        size_t len = strcspn(p, " ");
        struct cmd_spec *t = &out[n++];
        t->card = '\0';
        size_t k = len;
        if (k && strchr("?*+", p[k - 1])) {
            t->card = p[k - 1];
            k--;
        }
        if (k >= sizeof t->kind)
            k = sizeof t->kind - 1;
        memcpy(t->kind, p, k);
        t->kind[k] = '\0';
        p += len;
    }
    return n;
}

int cmd_check_args(const struct cmd_entry *e, int argc, const struct word *argv, char *err,
                   size_t errlen)
{
    struct cmd_spec sp[16];
    int n = cmd_spec_parse(e->args, sp, 16), min = 0, unlimited = 0;
    for (int i = 0; i < n; i++) {
        if (sp[i].card == '\0' || sp[i].card == '+')
            min++;
        if (sp[i].card == '*' || sp[i].card == '+' || strcmp(sp[i].kind, "text") == 0)
            unlimited = 1;
    }
    char name[64];
    cmd_fullname(e, name, sizeof name);
    if (argc < min) {
        snprintf(err, errlen, "%s: missing argument (usage: %s)", name, e->usage);
        return -1;
    }
    if (!unlimited && argc > n) {
        snprintf(err, errlen, "%s: too many arguments (usage: %s)", name, e->usage);
        return -1;
    }
    /* Blocks only where a block is due, and the other way round. */
    for (int i = 0; i < argc; i++) {
        int ti = i < n ? i : n - 1;
        int want_block = ti >= 0 && strcmp(sp[ti].kind, "block") == 0;
        if (argv[i].block && !want_block) {
            snprintf(err, errlen, "%s: unexpected { block } (usage: %s)", name, e->usage);
            return -1;
        }
        if (!argv[i].block && want_block && sp[ti].card != '?' && sp[ti].card != '*') {
            snprintf(err, errlen, "%s: \"%s\": expected a { block } (usage: %s)", name,
                     argv[i].text, e->usage);
            return -1;
        }
    }
    return 0;
}

const char *cmd_arg_kind(const struct cmd_entry *e, int argi, char *buf, size_t len)
{
    struct cmd_spec sp[16];
    int n = cmd_spec_parse(e->args, sp, 16);
    if (n == 0 || argi < 0)
        return NULL;
    int ti = argi;
    if (ti >= n) {
        char c = sp[n - 1].card;
        if (c != '*' && c != '+' && strcmp(sp[n - 1].kind, "text"))
            return NULL;
        ti = n - 1;
    }
    util_strlcpy(buf, sp[ti].kind, len);
    return buf;
}

int cmd_error(struct cmd_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *reason = util_vprintf(fmt, ap);
    va_end(ap);
    char name[64] = "";
    if (ctx->entry)
        cmd_fullname(ctx->entry, name, sizeof name);
    if (ctx->file)
        msg_error("%s:%d: %s%s%s", ctx->file, ctx->line, name, *name ? ": " : "", reason);
    else
        msg_error("%s%s%s", name, *name ? ": " : "", reason);
    free(reason);
    return CMD_ERR;
}

int cmd_qty(struct cmd_ctx *ctx, const struct word *w, const char *unit, double *out)
{
    char err[256];
    if (units_parse(w->text, unit, out, err, sizeof err) < 0) {
        cmd_error(ctx, "%s", err);
        return -1;
    }
    return 0;
}

void cmd_print_buf(struct strbuf *b)
{
    if (b->len && b->s[b->len - 1] == '\n')
        b->s[--b->len] = '\0';
    msg_out("%s", b->s ? b->s : "");
    strbuf_free(b);
}

char *cmd_join(int argc, const struct word *argv, int from)
{
    struct strbuf b = { 0 };
    for (int i = from; i < argc; i++) {
        if (i > from)
            strbuf_addch(&b, ' ');
        strbuf_addstr(&b, argv[i].text);
    }
    return strbuf_take(&b);
}
