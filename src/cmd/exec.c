/* exec: runs parsed commands one after another without ever blocking the event loop.
 *
 * A script is a stack of frames (the script, a sourced file, a repeat body). A command that has
 * to wait (wait 10s, wait run) returns CMD_WAIT and later calls exec_resume from an event-loop
 * callback; the executor then carries on where it stopped. Input that arrives while commands
 * run (typed lines, stdin) is queued and runs after them, in order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "insitu/cmd.h"
#include "insitu/msg.h"
#include "insitu/util.h"

#define EXEC_MAX_DEPTH 64

struct exec_frame {
    struct cmdlist list;
    int pc;
    long repeat;
};

struct exec {
    struct session *s;
    struct exec_frame *fr;
    int nfr;
    struct cmdlist *queue;
    int nqueue;
    int keep_going, waiting, running, cancel_pending;
    int failed, ran;
    void (*cancel)(struct exec *, void *);
    void *cancel_arg;
    void (*idle)(struct exec *, void *);
    void *idle_arg;
};

struct exec *exec_new(struct session *s, int keep_going)
{
    struct exec *ex = util_calloc(1, sizeof *ex);
    ex->s = s;
    ex->keep_going = keep_going;
    return ex;
}

static void exec_drop_frames(struct exec *ex)
{
    for (int i = 0; i < ex->nfr; i++)
        cmdlist_free(&ex->fr[i].list);
    ex->nfr = 0;
}

void exec_free(struct exec *ex)
{
    if (!ex)
        return;
    exec_cancel(ex);
    exec_drop_frames(ex);
    for (int i = 0; i < ex->nqueue; i++)
        cmdlist_free(&ex->queue[i]);
    free(ex->queue);
    free(ex->fr);
    free(ex);
}

int exec_push_text(struct exec *ex, const char *text, const char *file, int line)
{
    struct cmdlist l;
    struct parse_error pe;
    if (parse_text(text, file ? file : "", line, &l, &pe) != PARSE_OK) {
        if (file)
            msg_error("%s:%d: %s", file, pe.line, pe.msg);
        else
            msg_error("%s", pe.msg);
        ex->failed = 1;
        return -1;
    }
    ex->queue = util_reallocarray(ex->queue, (size_t)ex->nqueue + 1, sizeof *ex->queue);
    ex->queue[ex->nqueue++] = l;
    return 0;
}

int exec_push_list(struct exec *ex, struct cmdlist *list, long repeat, char *err, size_t errlen)
{
    if (ex->nfr >= EXEC_MAX_DEPTH) {
        snprintf(err, errlen, "nested too deeply (more than %d levels: a file sourcing itself?)",
                 EXEC_MAX_DEPTH);
        cmdlist_free(list);
        return -1;
    }
    ex->fr = util_reallocarray(ex->fr, (size_t)ex->nfr + 1, sizeof *ex->fr);
    ex->fr[ex->nfr++] = (struct exec_frame){ *list, 0, repeat };
    memset(list, 0, sizeof *list);
    return 0;
}

static int exec_one(struct exec *ex, const struct cmdline *c, const char *file)
{
    struct cmd_ctx ctx = { ex->s, ex, NULL, file && *file ? file : NULL, c->line };
    char err[512];
    int used = 0;
    const struct cmd_entry *e = cmd_find(c->argc, c->argv, &used, err, sizeof err);
    if (!e || cmd_check_args(e, c->argc - used, c->argv + used, err, sizeof err) < 0) {
        if (ctx.file)
            msg_error("%s:%d: %s", ctx.file, ctx.line, err);
        else
            msg_error("%s", err);
        return CMD_ERR;
    }
    ctx.entry = e;
    return e->exec(&ctx, c->argc - used, c->argv + used);
}

static void exec_after_error(struct exec *ex)
{
    ex->failed = 1;
    /* A script stops at its first error (unless -k): unwind every frame of it. Queued input
     * (lines typed later, further stdin) is separate and still runs. */
    if (!ex->keep_going)
        exec_drop_frames(ex);
}

void exec_run(struct exec *ex)
{
    if (ex->running || ex->waiting)
        return;
    ex->running = 1;
    for (;;) {
        if (ex->cancel_pending) {
            ex->cancel_pending = 0;
            exec_drop_frames(ex);
            break;
        }
        if (ex->nfr == 0) {
            if (ex->nqueue == 0)
                break;
            struct cmdlist l = ex->queue[0];
            memmove(ex->queue, ex->queue + 1, (size_t)(ex->nqueue - 1) * sizeof *ex->queue);
            ex->nqueue--;
            char err[128];
            exec_push_list(ex, &l, 1, err, sizeof err);
            continue;
        }
        struct exec_frame *top = &ex->fr[ex->nfr - 1];
        if (top->pc >= top->list.n) {
            if (--top->repeat > 0 && top->list.n > 0) {
                top->pc = 0;
            } else {
                cmdlist_free(&top->list);
                ex->nfr--;
            }
            continue;
        }
        /* Frames may be pushed (source, repeat) during the command: index, don't hold. */
        int fi = ex->nfr - 1;
        const struct cmdline *c = &top->list.v[top->pc++];
        int st = exec_one(ex, c, ex->fr[fi].list.file);
        ex->ran++;
        if (st == CMD_WAIT && !ex->cancel_pending) {
            ex->waiting = 1;
            break;
        }
        if (st == CMD_ERR)
            exec_after_error(ex);
        if (ex->idle)
            ex->idle(ex, ex->idle_arg);
    }
    ex->running = 0;
    if (ex->idle)
        ex->idle(ex, ex->idle_arg);
}

void exec_wait(struct exec *ex, void (*cancel)(struct exec *, void *), void *arg)
{
    ex->cancel = cancel;
    ex->cancel_arg = arg;
}

void exec_resume(struct exec *ex, int status)
{
    if (!ex->waiting)
        return;
    ex->waiting = 0;
    ex->cancel = NULL;
    ex->cancel_arg = NULL;
    if (status == CMD_ERR)
        exec_after_error(ex);
    exec_run(ex);
}

void exec_cancel(struct exec *ex)
{
    if (ex->cancel)
        ex->cancel(ex, ex->cancel_arg);
    ex->cancel = NULL;
    ex->cancel_arg = NULL;
    ex->waiting = 0;
    for (int i = 0; i < ex->nqueue; i++)
        cmdlist_free(&ex->queue[i]);
    ex->nqueue = 0;
    if (ex->running)
        ex->cancel_pending = 1;   /* the running command still uses its frame */
    else
        exec_drop_frames(ex);
}

int exec_busy(const struct exec *ex)
{
    return ex->waiting || ex->running || ex->nfr > 0 || ex->nqueue > 0;
}

int exec_failed(const struct exec *ex)
{
    return ex->failed;
}

int exec_ran(const struct exec *ex)
{
    return ex->ran;
}

void exec_on_idle(struct exec *ex, void (*fn)(struct exec *, void *), void *arg)
{
    ex->idle = fn;
    ex->idle_arg = arg;
}
