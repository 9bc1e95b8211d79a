/* term: ncurses and readline. The only file that talks to the terminal.
 *
 * Readline runs in callback mode: keys read by ncurses are queued as bytes and handed to
 * rl_callback_read_char through rl_getc_function; rl_redisplay_function copies the line into
 * the desk, which draws it in the command pane. Readline's own output goes to /dev/null and its
 * terminal preparation is a no-op, so it never writes behind ncurses' back. */
#include "insitu/term.h"

#include <curses.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "insitu/canvas.h"
#include "insitu/clock.h"
#include "insitu/cmd.h"
#include "insitu/complete.h"
#include "insitu/desk.h"
#include "insitu/keys.h"
#include "insitu/loop.h"
#include "insitu/msg.h"
#include "insitu/parse.h"
#include "insitu/paths.h"
#include "insitu/session.h"
#include "insitu/util.h"

#define TERM_FRAME 0.1      /* at most 10 frames a second while data streams */

struct term {
    struct desk *d;
    struct exec *ex;
    struct loop *loop;
    SCREEN *scr;
    FILE *devnull;
    struct canvas *canvas;
    int color;
    int active;
    long long redraw_timer, tick_timer;
    double last_draw;
    unsigned char q[256];   /* bytes waiting for readline */
    int qh, qn;
    struct strbuf acc;      /* a command spread over lines (open block or quote) */
    char *history;
    struct exec **jobs;     /* typed lines and bindings still running (waiting) */
    int njobs;
};

static struct term term;

int term_active(void)
{
    return term.active;
}

/* ---- colours ---- */

static void term_colors(void)
{
    if (!term.color || !has_colors()) {
        term.color = 0;
        return;
    }
    start_color();
    use_default_colors();
    int many = COLORS >= 256;
    static const short series[CANVAS_NSERIES] = { COLOR_GREEN, COLOR_YELLOW, COLOR_MAGENTA,
                                                  COLOR_CYAN, COLOR_RED, COLOR_BLUE };
    /* heat ramp: dark blue through cyan and yellow to red */
    static const short heat256[CANVAS_NHEAT] = { 17, 19, 27, 33, 43, 148, 214, 196 };
    static const short heat8[CANVAS_NHEAT] = { COLOR_BLUE, COLOR_BLUE, COLOR_CYAN, COLOR_CYAN,
                                               COLOR_GREEN, COLOR_YELLOW, COLOR_RED, COLOR_RED };
    init_pair(CANVAS_AXIS, COLOR_CYAN, -1);
    init_pair(CANVAS_TITLE, COLOR_CYAN, -1);
    for (int i = 0; i < CANVAS_NSERIES; i++)
        init_pair((short)(CANVAS_SERIES1 + i), series[i], -1);
    for (int i = 0; i < CANVAS_NHEAT; i++)
        init_pair((short)(CANVAS_HEAT0 + i), many ? heat256[i] : heat8[i], -1);
    init_pair(CANVAS_HIGHLIGHT, COLOR_RED, -1);
}

static attr_t term_attr(unsigned style)
{
    attr_t a = 0;
    unsigned col = CANVAS_COLOR(style);
    if (term.color && col)
        a |= COLOR_PAIR(col);
    if (style & CANVAS_BOLD)
        a |= A_BOLD;
    if (style & CANVAS_REVERSE)
        a |= A_REVERSE;
    if (style & CANVAS_DIM)
        a |= A_DIM;
    /* without colour, the things colour would set apart are set apart by attributes */
    if (!term.color && col == CANVAS_HIGHLIGHT)
        a |= A_BOLD;
    return a;
}

/* ---- drawing ---- */

static void term_draw(void)
{
    if (!term.active)
        return;
    struct desk *d = term.d;
    int h, w;
    getmaxyx(stdscr, h, w);
    if (!term.canvas)
        term.canvas = canvas_new(w, h);
    else if (term.canvas->w != w || term.canvas->h != h)
        canvas_resize(term.canvas, w, h);
    if (d->clear) {
        clearok(curscr, TRUE);
        d->clear = 0;
    }
    desk_draw(d, term.canvas);
    struct canvas *c = term.canvas;
    for (int y = 0; y < c->h; y++) {
        move(y, 0);
        for (int x = 0; x < c->w; x++) {
            const struct canvas_cell *cell = canvas_cell(c, x, y);
            attrset(term_attr(cell->style));
            /* the last cell of the screen would scroll it on some terminals */
            if (y == c->h - 1 && x == c->w - 1)
                break;
            addstr(cell->ch[0] ? cell->ch : " ");
        }
    }
    attrset(A_NORMAL);
    if (d->cursor_x >= 0 && d->cursor_y >= 0 && d->overlay == DESK_NONE) {
        move(d->cursor_y, d->cursor_x);
        curs_set(1);
    } else {
        curs_set(0);
    }
    wnoutrefresh(stdscr);
    doupdate();
    term.last_draw = clock_mono();
}

static double term_redraw_timer(struct loop *l, long long id, void *arg)
{
    term.redraw_timer = 0;
    term_draw();
    return -1;
}

/* The desk changed: draw soon, but not more than TERM_FRAME apart. */
static void term_wake(struct desk *d)
{
    if (!term.active || term.redraw_timer)
        return;
    double wait = term.last_draw + TERM_FRAME - clock_mono();
    term.redraw_timer = loop_timer_add(term.loop, wait > 0 ? wait : 0, 0, term_redraw_timer, NULL);
}

static void term_draw_now(void)
{
    if (term.redraw_timer) {
        loop_timer_del(term.loop, term.redraw_timer);
        term.redraw_timer = 0;
    }
    term_draw();
}

static double term_tick(struct loop *l, long long id, void *arg)
{
    if (!term.active)
        return -1;
    desk_tick(term.d);
    return 1.0;
}

/* ---- messages into the log pane ---- */

static void term_sink(void *arg, enum msg_kind kind, const char *text)
{
    desk_log(term.d, kind, text);
}

/* ---- jobs ----
 * Every typed line and every key binding runs as its own job, at once: a script waiting for
 * hours (`source experiment.cmd`, `wait run`) must not hold up `run status` typed after it.
 * C-c abandons the jobs that are waiting. */

static void term_reap(struct loop *l, void *arg)
{
    int j = 0;
    for (int i = 0; i < term.njobs; i++) {
        if (exec_busy(term.jobs[i]))
            term.jobs[j++] = term.jobs[i];
        else
            exec_free(term.jobs[i]);
    }
    term.njobs = j;
}

static void term_job_idle(struct exec *ex, void *arg)
{
    if (!exec_busy(ex))
        loop_defer(term.loop, term_reap, NULL);
}

static void term_spawn(const char *text)
{
    struct exec *ex = exec_new(term.d->s, 0);
    term.jobs = util_reallocarray(term.jobs, (size_t)term.njobs + 1, sizeof *term.jobs);
    term.jobs[term.njobs++] = ex;
    exec_on_idle(ex, term_job_idle, NULL);
    exec_push_text(ex, text, NULL, 1);
    exec_run(ex);
    loop_defer(term.loop, term_reap, NULL);
}

static int term_cancel_jobs(void)
{
    int n = 0;
    for (int i = 0; i < term.njobs; i++)
        if (exec_busy(term.jobs[i])) {
            exec_cancel(term.jobs[i]);
            n++;
        }
    loop_defer(term.loop, term_reap, NULL);
    return n;
}

/* ---- readline ---- */

static int term_rl_getc(FILE *f)
{
    if (!term.qn)
        return EOF;   /* never reached with a complete key sequence queued */
    int c = term.q[term.qh];
    term.qh = (term.qh + 1) % (int)sizeof term.q;
    term.qn--;
    return c;
}

static int term_rl_avail(void)
{
    return term.qn > 0;
}

static void term_rl_prep(int meta)
{
}

static void term_rl_deprep(void)
{
}

static void term_rl_redisplay(void)
{
    struct desk *d = term.d;
    free(d->cl.line);
    free(d->cl.prompt);
    d->cl.line = util_strdup(rl_line_buffer ? rl_line_buffer : "");
    d->cl.prompt = util_strdup(rl_display_prompt ? rl_display_prompt : "");
    d->cl.point = rl_point;
    desk_dirty(d);
}

static void term_matches_clear(void)
{
    struct desk *d = term.d;
    if (!d->cl.matches)
        return;
    for (char **p = d->cl.matches; *p; p++)
        free(*p);
    free(d->cl.matches);
    d->cl.matches = NULL;
}

/* Readline wants to list candidates: the desk shows them above the command line. */
static void term_rl_display_matches(char **matches, int n, int maxlen)
{
    term_matches_clear();
    char **v = util_calloc((size_t)n + 1, sizeof *v);
    for (int i = 0; i < n; i++)
        v[i] = util_strdup(matches[i + 1]);
    term.d->cl.matches = v;
    desk_dirty(term.d);
}

static char **term_cands;
static int term_cand_i;

static char *term_rl_generator(const char *text, int state)
{
    if (!state)
        term_cand_i = 0;
    if (!term_cands || !term_cands[term_cand_i])
        return NULL;
    return strdup(term_cands[term_cand_i++]);   /* readline frees with free() */
}

static char **term_rl_complete(const char *text, int start, int end)
{
    int files = 0;
    complete_free(term_cands);
    term_cands = complete_line(rl_line_buffer, start, end, &files);
    if (files) {
        rl_attempted_completion_over = 0;   /* readline's own file-name completion */
        return NULL;
    }
    rl_attempted_completion_over = 1;
    return rl_completion_matches(text, term_rl_generator);
}

static void term_history_save_line(const char *line)
{
    HIST_ENTRY *last = history_length ? history_get(history_base + history_length - 1) : NULL;
    if (last && !strcmp(last->line, line))
        return;
    add_history(line);
    if (term.history) {
        /* appended at once, so a crash or a dropped SSH link keeps it */
        FILE *f = fopen(term.history, "a");
        if (f)
            fclose(f);
        append_history(1, term.history);
        history_truncate_file(term.history, 2000);
    }
}

static void term_rl_line(char *line)
{
    struct desk *d = term.d;
    term_matches_clear();
    if (!line) {
        /* C-d on an empty line: like `quit` */
        rl_replace_line("", 0);
        d->run_command(d, "quit");
        return;
    }
    if (*line)
        term_history_save_line(line);
    strbuf_addstr(&term.acc, line);
    strbuf_addch(&term.acc, '\n');
    struct cmdlist l;
    struct parse_error pe;
    enum parse_status st = parse_text(term.acc.s, NULL, 1, &l, &pe);
    cmdlist_free(&l);
    if (st == PARSE_INCOMPLETE) {
        desk_log(d, MSG_OUT, line);
        rl_set_prompt("...> ");
        free(line);
        return;
    }
    rl_set_prompt("insitu> ");
    if (*line || term.acc.len > 1) {
        char *echo = util_printf("> %s", line);
        desk_log(d, MSG_OUT, echo);
        free(echo);
        term_spawn(term.acc.s);
    }
    strbuf_reset(&term.acc);
    free(line);
}

static void term_queue(const char *bytes, int n)
{
    for (int i = 0; i < n && term.qn < (int)sizeof term.q; i++) {
        term.q[(term.qh + term.qn) % (int)sizeof term.q] = (unsigned char)bytes[i];
        term.qn++;
    }
}

/* Give readline an insitu key as the bytes a terminal would send. */
static void term_to_readline(int key)
{
    char buf[8];
    int n = 0;
    if (key & KEYM_META) {
        buf[n++] = 27;
        key &= ~KEYM_META;
    }
    static const struct {
        int key;
        const char *seq;
    } seqs[] = {
        { KEYS_UP, "\033[A" },    { KEYS_DOWN, "\033[B" },  { KEYS_RIGHT, "\033[C" },
        { KEYS_LEFT, "\033[D" },  { KEYS_HOME, "\033[H" },  { KEYS_END, "\033[F" },
        { KEYS_DC, "\033[3~" },   { KEYS_IC, "\033[2~" },   { KEYS_PPAGE, "\033[5~" },
        { KEYS_NPAGE, "\033[6~" }, { KEYS_SLEFT, "\033[1;2D" }, { KEYS_SRIGHT, "\033[1;2C" },
    };
    for (size_t i = 0; i < sizeof seqs / sizeof *seqs; i++)
        if (seqs[i].key == key) {
            term_queue(buf, n);
            term_queue(seqs[i].seq, (int)strlen(seqs[i].seq));
            return;
        }
    if (key >= KEYS_BASE)
        return;   /* function keys mean nothing to readline */
    buf[n++] = (char)key;
    term_queue(buf, n);
}

static void term_feed_readline(void)
{
    while (term.qn > 0)
        rl_callback_read_char();
}

/* ---- keys ---- */

static int term_translate(int ch)
{
    switch (ch) {
    case KEY_UP: return KEYS_UP;
    case KEY_DOWN: return KEYS_DOWN;
    case KEY_LEFT: return KEYS_LEFT;
    case KEY_RIGHT: return KEYS_RIGHT;
    case KEY_HOME: return KEYS_HOME;
    case KEY_END: return KEYS_END;
    case KEY_PPAGE: return KEYS_PPAGE;
    case KEY_NPAGE: return KEYS_NPAGE;
    case KEY_IC: return KEYS_IC;
    case KEY_DC: return KEYS_DC;
    case KEY_BTAB: return KEYS_BTAB;
    case KEY_SLEFT: return KEYS_SLEFT;
    case KEY_SRIGHT: return KEYS_SRIGHT;
    case KEY_SR: return KEYS_SUP;
    case KEY_SF: return KEYS_SDOWN;
    case KEY_BACKSPACE: case 8: return KEYS_BACKSPACE;
    case KEY_ENTER: case '\n': return KEYS_ENTER;
    case KEY_RESIZE: return KEYS_RESIZE;
    default:
        if (ch >= KEY_F(1) && ch <= KEY_F(12))
            return KEYS_F1 + (ch - KEY_F(1));
        if (ch >= KEY_MIN)
            return -1;
        return ch;
    }
}

static void term_resize(void)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col)
        resizeterm(ws.ws_row, ws.ws_col);
    desk_dirty(term.d);
    term_draw_now();
}

static void term_key(int key)
{
    struct desk *d = term.d;
    if (key == KEYS_RESIZE) {
        /* resizeterm (from SIGWINCH) queues this: the size is already known, just redraw */
        desk_dirty(d);
        return;
    }
    if (desk_key(d, key))
        return;
    /* the command line has the focus: readline edits */
    if (key == KEYS_CTRL('c')) {
        /* like a shell: abandon the line and the commands that are waiting */
        if (term_cancel_jobs())
            desk_log(d, MSG_INFO, "cancelled");
        strbuf_reset(&term.acc);
        rl_replace_line("", 0);
        rl_set_prompt("insitu> ");
        term_rl_redisplay();
        term_matches_clear();
        return;
    }
    if (key != KEYS_TAB)
        term_matches_clear();
    term_to_readline(key);
    term_feed_readline();
}

static void term_input(struct loop *l, int fd, int events, void *arg)
{
    if (events & LOOP_HUP) {
        term_hangup();
        return;
    }
    int ch;
    while (term.active && (ch = getch()) != ERR) {
        if (ch == 27) {
            /* Alt sends ESC first: if the next key is already here, it is M-key */
            int next = getch();
            if (next != ERR && next != 27) {
                int k = term_translate(next);
                term_key(k < 0 ? 27 : (k | KEYM_META));
                continue;
            }
            if (next == 27)
                ungetch(27);
            term_key(KEYS_ESC);
            continue;
        }
        if (ch >= 0x80 && ch < 0x100) {
            /* a byte of a UTF-8 character: typing, for the command line only */
            if (desk_cmd_focused(term.d) && term.d->overlay == DESK_NONE) {
                char b = (char)ch;
                term_queue(&b, 1);
                term_feed_readline();
            }
            continue;
        }
        int k = term_translate(ch);
        if (k >= 0)
            term_key(k);
    }
    if (term.active)
        term_draw_now();   /* typing is answered at once, not at the frame rate */
}

/* ---- commands from bindings ---- */

static void term_run_command(struct desk *d, const char *text)
{
    term_spawn(text);
}

static void term_focus_changed(struct desk *d)
{
    term_matches_clear();
}

/* ---- signals ---- */

static void term_winch(struct loop *l, int signo, void *arg)
{
    term_resize();
}

static void term_crash(int signo)
{
    /* Give the terminal back before dying, so the shell under it is usable. */
    if (term.active)
        endwin();
    signal(signo, SIG_DFL);
    raise(signo);
}

static void term_atexit(void)
{
    term_stop();
}

/* ---- start and stop ---- */

int term_start(struct desk *d, struct exec *ex, const struct term_options *o, char *err,
               unsigned long errlen)
{
    const char *t = getenv("TERM");
    if (!t || !*t || !strcmp(t, "dumb")) {
        snprintf(err, errlen, "TERM is %s: no screen", t && *t ? t : "unset");
        return -1;
    }
    term.scr = newterm(NULL, stdout, stdin);
    if (!term.scr) {
        snprintf(err, errlen, "cannot use terminal type \"%s\"", t);
        return -1;
    }
    set_term(term.scr);
    term.d = d;
    term.ex = ex;
    term.loop = d->s->loop;
    term.color = !o->no_color;
    raw();
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    nodelay(stdscr, TRUE);
    set_escdelay(25);
    term_colors();
    d->utf8 = d->utf8 && !o->ascii;
    d->color = term.color;
    term.active = 1;
    d->term = 1;
    d->wake = term_wake;
    d->run_command = term_run_command;
    d->focus_changed = term_focus_changed;

    static const int crash[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT };
    for (size_t i = 0; i < sizeof crash / sizeof *crash; i++)
        signal(crash[i], term_crash);
    atexit(term_atexit);
    loop_signal_add(term.loop, SIGWINCH, term_winch, NULL);

    /* readline inside ncurses */
    term.devnull = fopen("/dev/null", "w");
    rl_readline_name = "insitu";
    rl_catch_signals = 0;
    rl_catch_sigwinch = 0;
    rl_change_environment = 0;
    rl_outstream = term.devnull;
    rl_getc_function = term_rl_getc;
    rl_input_available_hook = term_rl_avail;
    rl_prep_term_function = term_rl_prep;
    rl_deprep_term_function = term_rl_deprep;
    rl_redisplay_function = term_rl_redisplay;
    rl_attempted_completion_function = term_rl_complete;
    rl_completion_display_matches_hook = term_rl_display_matches;
    rl_basic_word_break_characters = " \t\n;{}";
    char *state = paths_state_dir();
    if (paths_mkdir_p(state, 0700) == 0)
        term.history = util_printf("%s/history", state);
    free(state);
    using_history();
    stifle_history(2000);
    if (term.history)
        read_history(term.history);
    rl_callback_handler_install("insitu> ", term_rl_line);
    term_rl_redisplay();

    msg_set_sink(term_sink, NULL);
    loop_fd_add(term.loop, STDIN_FILENO, LOOP_READ, term_input, NULL);
    term.tick_timer = loop_timer_add(term.loop, 1.0, 0, term_tick, NULL);
    desk_log(d, MSG_INFO, "insitu " INSITU_VERSION ": type commands below; F1 or `keys` "
                          "shows the keys, `help` the commands.");
    term_draw_now();
    return 0;
}

static void term_release(void)
{
    if (term.redraw_timer)
        loop_timer_del(term.loop, term.redraw_timer);
    if (term.tick_timer)
        loop_timer_del(term.loop, term.tick_timer);
    term.redraw_timer = term.tick_timer = 0;
    loop_fd_del(term.loop, STDIN_FILENO);
    loop_signal_del(term.loop, SIGWINCH);
    msg_set_sink(NULL, NULL);
    if (term.d) {
        term.d->term = 0;
        term.d->wake = NULL;
        term.d->run_command = NULL;
        term.d->focus_changed = NULL;
        term_matches_clear();
    }
}

void term_stop(void)
{
    if (!term.active)
        return;
    term.active = 0;
    term_release();
    rl_callback_handler_remove();
    endwin();
    delscreen(term.scr);
    term.scr = NULL;
    canvas_free(term.canvas);
    term.canvas = NULL;
    complete_free(term_cands);
    term_cands = NULL;
    for (int i = 0; i < term.njobs; i++)
        exec_free(term.jobs[i]);
    free(term.jobs);
    term.jobs = NULL;
    term.njobs = 0;
    strbuf_free(&term.acc);
    free(term.history);
    term.history = NULL;
    if (term.devnull)
        fclose(term.devnull);
    term.devnull = NULL;
    rl_outstream = NULL;
}

void term_hangup(void)
{
    if (!term.active)
        return;
    /* The terminal is gone: nothing may be written to it any more. Output goes nowhere; the
     * run goes on and the archive and its log keep everything. */
    term.active = 0;
    term_release();
    int fd = open("/dev/null", O_RDWR);
    if (fd >= 0) {
        dup2(fd, STDIN_FILENO);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        if (fd > 2)
            close(fd);
    }
}
