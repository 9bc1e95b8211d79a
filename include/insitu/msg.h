/* msg: where user-facing text goes. Headless, command output goes to stdout and diagnostics to
 * stderr; with the TUI everything goes to the log pane. Modules below ui/ only call msg_*. */
#ifndef INSITU_MSG_H
#define INSITU_MSG_H

enum msg_kind { MSG_OUT, MSG_INFO, MSG_WARN, MSG_ERROR, MSG_DEBUG };

typedef void (*msg_sink_fn)(void *arg, enum msg_kind kind, const char *text);

/* Replace the sink (NULL restores stdout/stderr). */
void msg_set_sink(msg_sink_fn fn, void *arg);
void msg_set_quiet(int quiet);      /* drop MSG_INFO (headless -q) */

void msg_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_emit(enum msg_kind kind, const char *text);

#endif
