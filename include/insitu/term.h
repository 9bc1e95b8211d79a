/* term: the terminal layer. It owns ncurses and readline: copies what the desk paints to the
 * screen, turns ncurses keys into insitu keys for the desk, and runs readline in callback mode
 * inside the command pane (readline never writes to the terminal itself). */
#ifndef INSITU_TERM_H
#define INSITU_TERM_H

struct desk;
struct exec;

struct term_options {
    int ascii;      /* --ascii, or a non-UTF-8 locale */
    int no_color;   /* --no-color or NO_COLOR */
};

/* Take over the controlling terminal. Returns 0, or -1 (err) when there is no usable terminal;
 * the caller then stays headless. */
int term_start(struct desk *d, struct exec *ex, const struct term_options *o, char *err,
               unsigned long errlen);
/* Give the terminal back as it was (also safe from atexit and crash handlers). */
void term_stop(void);
int term_active(void);
/* The terminal is gone (SIGHUP): stop drawing and reading, without touching it. */
void term_hangup(void);

#endif
