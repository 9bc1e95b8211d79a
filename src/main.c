/* insitu: entry point. Options, the config file, and the headless driver that feeds commands
 * from -c, -x and stdin to the executor while the event loop keeps the instruments and the
 * archive going. */
#include <errno.h>
#include <getopt.h>
#include <langinfo.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "insitu/cmd.h"
#include "insitu/desk.h"
#include "insitu/loop.h"
#include "insitu/msg.h"
#include "insitu/parse.h"
#include "insitu/paths.h"
#include "insitu/run.h"
#include "insitu/session.h"
#include "insitu/settings.h"
#include "insitu/term.h"
#include "insitu/units.h"
#include "insitu/util.h"

struct app {
    struct session *s;
    struct exec *ex;        /* the user's commands */
    struct exec *cfg;       /* the config file */
    int script;             /* -c/-x/stdin: stop at the first error unless -k */
    int keep_going;
    int prompt;             /* interactive line prompt (no TUI) */
    int reading;            /* stdin is being read */
    int input_done;
    struct strbuf pending;  /* stdin text not yet a complete command */
    int pending_line;
    int signo;
};

static struct app app;

static void main_usage(FILE *f)
{
    fprintf(f,
            "usage: insitu [options]\n"
            "       insitu -c 'COMMAND; COMMAND...'   run commands headless\n"
            "       insitu -x FILE [-k]               run a script headless\n"
            "       insitu -                          read commands from stdin\n"
            "\n"
            "  -c CMDS       run CMDS (may be given more than once)\n"
            "  -x FILE       run the script FILE\n"
            "  -k            keep going after a failed command\n"
            "  -n            do not read the config file ($XDG_CONFIG_HOME/insitu/insituc)\n"
            "  -q            quiet: no informational messages on stderr\n"
            "  --ascii       draw with ASCII only\n"
            "  --no-color    no colours (also when NO_COLOR is set)\n"
            "  --version     print the version\n"
            "  -h, --help    this help\n"
            "\n"
            "Headless insitu exits when its commands are done and no run is active.\n"
            "Exit status: 0 when every command succeeded, 1 otherwise, 2 for bad options,\n"
            "128+N when stopped by signal N. See insitu(1).\n");
}

static void main_check_exit(void)
{
    struct session *s = app.s;
    if (app.prompt && !app.input_done)
        return;
    if (!app.input_done || exec_busy(app.ex) || s->run)
        return;
    loop_stop(s->loop);
}

static void main_idle(struct exec *ex, void *arg)
{
    /* A script stops at its first failure: drop what is still queued and stop reading. */
    if (app.script && !app.keep_going && exec_failed(ex) && !app.input_done) {
        exec_cancel(ex);
        app.input_done = 1;
        if (app.reading) {
            loop_fd_del(app.s->loop, STDIN_FILENO);
            app.reading = 0;
        }
    }
    if (app.s->quit) {
        app.input_done = 1;
        loop_stop(app.s->loop);
        return;
    }
    if (!exec_busy(ex))
        main_check_exit();
}

/* Feed every complete command in the pending stdin text to the executor. */
static void main_feed(int eof)
{
    struct strbuf *p = &app.pending;
    if (!p->len)
        return;
    /* Only whole lines: a command may continue on the next line. */
    size_t cut = p->len;
    if (!eof) {
        while (cut && p->s[cut - 1] != '\n')
            cut--;
        if (!cut)
            return;
    }
    char *chunk = util_strndup(p->s, cut);
    struct cmdlist l;
    struct parse_error pe;
    enum parse_status st = parse_text(chunk, "stdin", app.pending_line, &l, &pe);
    cmdlist_free(&l);
    if (st == PARSE_INCOMPLETE && !eof) {
        free(chunk);
        return;   /* an open quote or block: wait for more lines */
    }
    int lines = 0;
    for (size_t i = 0; i < cut; i++)
        lines += p->s[i] == '\n';
    exec_push_text(app.ex, chunk, "stdin", app.pending_line);
    free(chunk);
    memmove(p->s, p->s + cut, p->len - cut + 1);
    p->len -= cut;
    app.pending_line += lines;
    exec_run(app.ex);
}

static void main_stdin(struct loop *l, int fd, int events, void *arg)
{
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        loop_fd_del(l, fd);
        app.reading = 0;
        main_feed(1);
        app.input_done = 1;
        exec_run(app.ex);
        main_check_exit();
        return;
    }
    strbuf_add(&app.pending, buf, (size_t)n);
    main_feed(0);
}

/* ---- the line prompt (until the TUI owns the terminal) ---- */

static struct strbuf prompt_acc;

static void main_prompt_line(char *line)
{
    if (!line) {
        rl_callback_handler_remove();
        loop_fd_del(app.s->loop, STDIN_FILENO);
        putchar('\n');
        app.input_done = 1;
        if (app.s->run)
            msg_info("input closed; run %s goes on until it ends (Ctrl-C stops it)",
                     app.s->run->name);
        main_check_exit();
        return;
    }
    if (*line)
        add_history(line);
    strbuf_addstr(&prompt_acc, line);
    strbuf_addch(&prompt_acc, '\n');
    free(line);
    struct cmdlist l;
    struct parse_error pe;
    if (parse_text(prompt_acc.s, NULL, 1, &l, &pe) == PARSE_INCOMPLETE) {
        rl_set_prompt("...> ");
        return;
    }
    cmdlist_free(&l);
    rl_set_prompt("insitu> ");
    exec_push_text(app.ex, prompt_acc.s, NULL, 1);
    strbuf_reset(&prompt_acc);
    exec_run(app.ex);
}

static void main_prompt_read(struct loop *l, int fd, int events, void *arg)
{
    rl_callback_read_char();
}

static void main_prompt_sink(void *arg, enum msg_kind kind, const char *text)
{
    /* Keep readline's line intact around asynchronous output. */
    int saved = rl_point;
    char *line = rl_copy_text(0, rl_end);
    rl_save_prompt();
    rl_replace_line("", 0);
    rl_redisplay();
    FILE *f = kind == MSG_OUT ? stdout : stderr;
    fprintf(f, "%s%s\n", kind == MSG_WARN ? "warning: " : "", text);
    fflush(f);
    rl_restore_prompt();
    rl_replace_line(line, 0);
    rl_point = saved;
    rl_redisplay();
    free(line);
}

/* ---- signals ---- */

static void main_signal(struct loop *l, int signo, void *arg)
{
    struct session *s = app.s;
    if (signo == SIGHUP) {
        /* The terminal went away (SSH dropped): a run goes on, output is lost. */
        if (term_active())
            term_hangup();
        session_event(s, RUN_WARN, "hangup: the terminal is gone; continuing headless");
        if (app.prompt) {
            rl_callback_handler_remove();
            loop_fd_del(l, STDIN_FILENO);
            app.prompt = 0;
            msg_set_sink(NULL, NULL);
        }
        app.input_done = 1;
        main_check_exit();
        return;
    }
    if (app.prompt && !term_active() && !app.input_done && signo == SIGINT) {
        /* Like a shell: Ctrl-C abandons the command in progress, not the program. */
        exec_cancel(app.ex);
        strbuf_reset(&prompt_acc);
        rl_set_prompt("insitu> ");
        rl_replace_line("", 0);
        putchar('\n');
        rl_on_new_line();
        rl_redisplay();
        return;
    }
    app.signo = signo;
    exec_cancel(app.ex);
    if (s->run) {
        char why[64];
        snprintf(why, sizeof why, "interrupted by %s", signo == SIGINT ? "SIGINT" : "SIGTERM");
        char *path = util_strdup(s->last_path ? s->last_path : "");
        session_run_stop(s, why, NULL, 0);
        msg_info("run stopped (%s): %s", why, path);
        free(path);
    }
    loop_stop(l);
}

int main(int argc, char **argv)
{
    setlocale(LC_ALL, "");
    signal(SIGPIPE, SIG_IGN);
    /* HDF5 locks a file it writes, so nobody could look at a running run's file (ncdump,
     * xarray, `archive info` from another shell). The journal's lock already keeps a second
     * writer out, so HDF5's lock only gets in the way. */
    setenv("HDF5_USE_FILE_LOCKING", "FALSE", 0);

    static const struct option longopts[] = {
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { "ascii", no_argument, NULL, 'A' },
        { "no-color", no_argument, NULL, 'C' },
        { NULL, 0, NULL, 0 },
    };
    struct strbuf cmds = { 0 };
    const char *script = NULL;
    int use_stdin = 0, no_config = 0, have_c = 0, quiet = 0, ascii = 0, no_color = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":c:x:knqh", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            strbuf_addstr(&cmds, optarg);
            strbuf_addch(&cmds, '\n');
            have_c = 1;
            break;
        case 'x': script = optarg; break;
        case 'k': app.keep_going = 1; break;
        case 'n': no_config = 1; break;
        case 'q': quiet = 1; break;
        case 'h': main_usage(stdout); return 0;
        case 'V': printf("insitu %s\n", INSITU_VERSION); return 0;
        case 'A': ascii = 1; break;
        case 'C': no_color = 1; break;
        case ':':
            fprintf(stderr, "insitu: option -%c needs an argument (try insitu --help)\n", optopt);
            return 2;
        default:
            if (optopt)
                fprintf(stderr, "insitu: unknown option -%c (try insitu --help)\n", optopt);
            else
                fprintf(stderr, "insitu: unknown option %s (try insitu --help)\n",
                        argv[optind - 1]);
            return 2;
        }
    }
    for (int i = optind; i < argc; i++) {
        if (strcmp(argv[i], "-") == 0) {
            use_stdin = 1;
            continue;
        }
        fprintf(stderr, "insitu: unexpected argument \"%s\" (scripts are run with -x FILE)\n",
                argv[i]);
        return 2;
    }
    msg_set_quiet(quiet);

    char err[256];
    if (units_init(err, sizeof err) < 0) {
        fprintf(stderr, "insitu: %s\n", err);
        return 1;
    }
    app.s = session_new();
    if (!app.s) {
        fprintf(stderr, "insitu: cannot set up the event loop: %s\n", strerror(errno));
        return 1;
    }
    struct loop *l = app.s->loop;
    /* The screen's model exists headless too: layouts load, check and show without a terminal. */
    struct desk *desk = desk_new(app.s);
    const char *cs = nl_langinfo(CODESET);
    desk->utf8 = !ascii && cs && (!strcmp(cs, "UTF-8") || !strcmp(cs, "utf8"));
    /* https://no-color.org: any non-empty NO_COLOR turns colours off */
    if (getenv("NO_COLOR") && *getenv("NO_COLOR"))
        no_color = 1;
    desk->color = !no_color;
    loop_signal_add(l, SIGINT, main_signal, NULL);
    loop_signal_add(l, SIGTERM, main_signal, NULL);
    loop_signal_add(l, SIGHUP, main_signal, NULL);

    app.ex = exec_new(app.s, app.keep_going);
    exec_on_idle(app.ex, main_idle, NULL);
    app.pending_line = 1;

    if (!no_config) {
        char *dir = paths_config_dir();
        char *rc = util_printf("%s/insituc", dir);
        if (access(rc, F_OK) == 0) {
            char *text = paths_read_file(rc, NULL);
            if (!text) {
                msg_error("%s: %s", rc, strerror(errno));
            } else {
                /* The config file has its own executor: its errors are reported but do not
                 * stop the commands given on the command line. */
                app.cfg = exec_new(app.s, 0);
                exec_push_text(app.cfg, text, rc, 1);
                exec_run(app.cfg);
                free(text);
            }
        }
        free(rc);
        free(dir);
    }

    int interactive = !have_c && !script && !use_stdin && isatty(STDIN_FILENO);
    app.script = !interactive;
    /* Read and parse the script before anything runs: a script that cannot run must not leave
     * the -c commands half done. */
    char *script_text = NULL;
    if (script) {
        script_text = paths_read_file(script, NULL);
        struct cmdlist chk = { 0 };
        struct parse_error pe;
        if (!script_text) {
            fprintf(stderr, "insitu: %s: %s\n", script, strerror(errno));
        } else if (parse_text(script_text, script, 1, &chk, &pe) != PARSE_OK) {
            fprintf(stderr, "%s:%d: %s\n", script, pe.line, pe.msg);
            free(script_text);
            script_text = NULL;
        }
        cmdlist_free(&chk);
        if (!script_text) {
            strbuf_free(&cmds);
            exec_free(app.ex);
            exec_free(app.cfg);
            desk_free(desk);
            session_free(app.s);
            return 1;
        }
    }
    if (have_c) {
        /* -c is typed input: errors name the command, not a file. */
        exec_push_text(app.ex, cmds.s, NULL, 1);
    }
    strbuf_free(&cmds);
    if (script_text) {
        exec_push_text(app.ex, script_text, script, 1);
        free(script_text);
    }
    if (use_stdin || (!interactive && !have_c && !script)) {
        app.reading = 1;
        loop_fd_add(l, STDIN_FILENO, LOOP_READ, main_stdin, NULL);
    } else if (interactive && isatty(STDOUT_FILENO) &&
               term_start(desk, app.ex, &(struct term_options){ ascii, no_color }, err,
                          sizeof err) == 0) {
        app.prompt = 1;   /* input comes from the screen until quit or hangup */
    } else if (interactive) {
        app.prompt = 1;
        rl_readline_name = "insitu";
        rl_catch_signals = 0;
        rl_change_environment = 0;
        rl_callback_handler_install("insitu> ", main_prompt_line);
        loop_fd_add(l, STDIN_FILENO, LOOP_READ, main_prompt_read, NULL);
        msg_set_sink(main_prompt_sink, NULL);
        printf("insitu %s: type `help` for commands, Ctrl-D to leave.\n", INSITU_VERSION);
    } else {
        app.input_done = 1;
    }
    exec_run(app.ex);
    main_check_exit();
    while (!loop_stopped(l)) {
        loop_once(l, -1);
        /* a run may have ended in this iteration */
        main_check_exit();
    }

    if (term_active()) {
        term_stop();
    } else if (app.prompt) {
        rl_callback_handler_remove();
        msg_set_sink(NULL, NULL);
    }
    int failed = exec_failed(app.ex);
    if (app.s->run) {
        /* quit with a run active: stop it cleanly */
        char *path = util_strdup(app.s->last_path ? app.s->last_path : "");
        if (session_run_stop(app.s, "quit", NULL, 0) < 0)
            failed = 1;
        else
            msg_info("run stopped: %s", path);
        free(path);
    }
    exec_free(app.ex);
    exec_free(app.cfg);
    desk_free(desk);
    session_free(app.s);
    settings_free();
    units_fini();
    strbuf_free(&app.pending);
    strbuf_free(&prompt_acc);
    if (app.signo)
        return 128 + app.signo;
    return failed ? 1 : 0;
}
