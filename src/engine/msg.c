/* msg: route user-facing text to stdout/stderr or to the UI's log pane. */
#include "insitu/msg.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "insitu/util.h"

static msg_sink_fn msg_sink;
static void *msg_sink_arg;
static int msg_quiet;

void msg_set_sink(msg_sink_fn fn, void *arg)
{
    msg_sink = fn;
    msg_sink_arg = arg;
}

void msg_set_quiet(int quiet)
{
    msg_quiet = quiet;
}

void msg_emit(enum msg_kind kind, const char *text)
{
    if (kind == MSG_INFO && msg_quiet)
        return;
    if (msg_sink) {
        msg_sink(msg_sink_arg, kind, text);
        return;
    }
    /* Headless: results on stdout, diagnostics on stderr; flushed per line so that a process
     * reading our output (or a test killing us) sees exactly what was done. */
    FILE *f = kind == MSG_OUT ? stdout : stderr;
    const char *pre = kind == MSG_WARN ? "warning: " : "";
    fprintf(f, "%s%s\n", pre, text);
    fflush(f);
}

static void msg_v(enum msg_kind kind, const char *fmt, va_list ap)
{
    char *t = util_vprintf(fmt, ap);
    msg_emit(kind, t);
    free(t);
}

#define MSG_FN(name, kind)                  \
    void name(const char *fmt, ...)         \
    {                                       \
        va_list ap;                         \
        va_start(ap, fmt);                  \
        msg_v(kind, fmt, ap);               \
        va_end(ap);                         \
    }
MSG_FN(msg_out, MSG_OUT)
MSG_FN(msg_info, MSG_INFO)
MSG_FN(msg_warn, MSG_WARN)
MSG_FN(msg_error, MSG_ERROR)
