/* insitu-sim: simulated instruments that speak their real protocols, so that insitu's real
 * drivers talk to them unchanged: over stdin/stdout (how insitu's sim: transport runs it,
 * over a socketpair) or a TCP port (to poke at with socat).
 *
 * One event loop with ppoll: input is read as it comes and split into lines; the instrument
 * handles one line at a time and may take real time before its reply (a reading integrates
 * over NPLC power line cycles), during which further lines wait, as on the instrument. Faults
 * (lost, garbled or late replies, a hang, a dropped connection) are injected on the way out,
 * on real time since the start, so tests of insitu's error handling are reproducible. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include "insitu/units.h"
#include "sim.h"

#define SIM_MAX_EVENTS 16
#define SIM_MAX_LINE 65536   /* longer input without a terminator is discarded */

static const struct sim_driver *const sim_drivers[] = {
    &sim_keithley2400, &sim_keithley2450, &sim_keithley6430, &sim_nmrsim,
};

/* --- clock ------------------------------------------------------------------------------ */

double sim_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

double sim_clock_now(const struct sim_clock *c)
{
    return c->anchor_v + (sim_mono() - c->anchor_mono) * c->speed;
}

void sim_clock_set(struct sim_clock *c, double virtual_now, double speed)
{
    c->anchor_mono = sim_mono();
    c->anchor_v = virtual_now;
    c->speed = speed;
}

/* --- state ------------------------------------------------------------------------------ */

struct sim_faults {
    double drop, garbage;                       /* probabilities per reply */
    int nstall;
    double stall_at[SIM_MAX_EVENTS], stall_len[SIM_MAX_EVENTS];   /* len INFINITY: forever */
    int ndisc;
    double disc_at[SIM_MAX_EVENTS];
    int disc_done[SIM_MAX_EVENTS];
};

struct sim {
    /* options */
    int use_stdio;
    char *listen;                  /* HOST:PORT */
    uint64_t seed;
    double speed;
    int verbose;
    const struct sim_driver *drv;
    char *driver_name, *model, *cell_path;
    char *state_path;              /* state=PATH, else $INSITU_SIM_STATE */
    struct strbuf overrides;       /* cell parameters given as options: "name=value\n"... */
    struct strbuf drv_opts;        /* the driver's own options: "name=value\n"... */
    struct sim_faults f;
    /* running */
    double t0;                     /* monotonic time at start: faults count from here */
    struct sim_clock clock;
    struct cell_params cell;
    struct cell_rng rng, frng;     /* measurement noise; fault decisions */
    struct sim_env env;
    void *inst;
    int lfd;                       /* listening socket, or -1 */
    int in_fd, out_fd;             /* the connection, or -1 */
    int in_sock, out_sock, in_eof;
    struct strbuf in, out;
    size_t out_off;                /* bytes of out already written */
    char **q;                      /* received lines waiting for the instrument */
    size_t qhead, qn, qcap;
    int busy;
    double busy_until;
    struct strbuf pending;
};

static volatile sig_atomic_t sim_signalled;

static void sim_on_signal(int sig)
{
    sim_signalled = sig;
}

static void sim_log(const struct sim *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void sim_log(const struct sim *s, const char *fmt, ...)
{
    if (!s->verbose)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "insitu-sim: %8.3f ", sim_mono() - s->t0);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* A line for the log: control and non-ASCII bytes escaped; a long reply (a binary block)
 * shortened to its start and its length. */
static char *sim_printable(const char *s, size_t n)
{
    struct strbuf b = { 0 };
    size_t shown = n > 200 ? 160 : n;
    for (size_t i = 0; i < shown; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 32 && c < 127)
            strbuf_addch(&b, (char)c);
        else
            strbuf_printf(&b, "\\x%02x", c);
    }
    if (shown < n)
        strbuf_printf(&b, "... (%zu bytes)", n);
    return strbuf_take(&b);
}

/* --- usage ------------------------------------------------------------------------------ */

static void sim_usage(FILE *f)
{
    fprintf(f,
            "usage: insitu-sim [--stdio | --listen HOST:PORT] [--fault SPEC]... [--seed N]\n"
            "                  [--speed N] [-v] DRIVER[:MODEL][,OPT=VALUE...]\n"
            "drivers:");
    for (size_t i = 0; i < ARRAY_LEN(sim_drivers); i++)
        fprintf(f, " %s", sim_drivers[i]->name);
    fprintf(f, "\nmodels: a cell file contrib/cells/MODEL.cell (li-li, na-na), or cell=PATH\n"
               "options: drop=P garbage=P stall=T[+D] disconnect=T cell=PATH seed=N speed=N\n"
               "         state=PATH (the cell state file shared by the instruments;\n"
               "         default $INSITU_SIM_STATE) and any cell parameter (soft_short_charge=2Ah)\n");
    for (size_t i = 0; i < ARRAY_LEN(sim_drivers); i++) {
        const char *const *o = sim_drivers[i]->options;
        if (!o || !*o)
            continue;
        fprintf(f, "%s (%s) also:", sim_drivers[i]->name, sim_drivers[i]->summary);
        for (; *o; o++)
            fprintf(f, " %s=", *o);
        fputc('\n', f);
    }
    fprintf(f, "see insitu-sim(1)\n");
}

static void sim_die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void sim_die_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("insitu-sim: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fputs("try insitu-sim --help\n", stderr);
    exit(2);
}

static void sim_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void sim_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("insitu-sim: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* --- options ---------------------------------------------------------------------------- */

/* Seconds: a bare number, or a time with a unit ("5", "2.5s", "1min"). */
static int sim_seconds(const char *text, double *out)
{
    char *end;
    double v = strtod(text, &end);
    if (end != text && !*end && isfinite(v)) {
        *out = v;
    } else if (units_parse(text, "s", &v, NULL, 0) < 0) {
        return -1;
    }
    *out = v;
    return *out >= 0 ? 0 : -1;
}

/* A probability: 0.1 or 10%. */
static int sim_probability(const char *text, double *out)
{
    char *end;
    double v = strtod(text, &end);
    if (end == text)
        return -1;
    if (*end == '%') {
        v /= 100;
        end++;
    }
    if (*end || !(v >= 0 && v <= 1))
        return -1;
    *out = v;
    return 0;
}

static void sim_fault(struct sim *s, const char *name, const char *value)
{
    struct sim_faults *f = &s->f;
    if (!strcmp(name, "drop") || !strcmp(name, "garbage")) {
        double p;
        if (sim_probability(value, &p) < 0)
            sim_die_usage("%s=%s: not a probability (0..1 or N%%)", name, value);
        *(!strcmp(name, "drop") ? &f->drop : &f->garbage) = p;
    } else if (!strcmp(name, "stall")) {
        if (f->nstall == SIM_MAX_EVENTS)
            sim_die_usage("at most %d stalls", SIM_MAX_EVENTS);
        char *t = util_strdup(value), *plus = strchr(t + (t[0] == '+'), '+');
        double at, len = INFINITY;
        if (plus)
            *plus++ = 0;
        if (sim_seconds(t, &at) < 0 || (plus && sim_seconds(plus, &len) < 0)) {
            free(t);
            sim_die_usage("stall=%s: want T[+D] in seconds (stall=5+3)", value);
        }
        free(t);
        f->stall_at[f->nstall] = at;
        f->stall_len[f->nstall++] = len;
    } else if (!strcmp(name, "disconnect")) {
        double at;
        if (f->ndisc == SIM_MAX_EVENTS)
            sim_die_usage("at most %d disconnects", SIM_MAX_EVENTS);
        if (sim_seconds(value, &at) < 0)
            sim_die_usage("disconnect=%s: want seconds", value);
        f->disc_at[f->ndisc++] = at;
    } else {
        sim_die_usage("unknown fault \"%s\" (drop, garbage, stall, disconnect)", name);
    }
}

static int sim_is_fault(const char *name)
{
    return !strcmp(name, "drop") || !strcmp(name, "garbage") || !strcmp(name, "stall") ||
           !strcmp(name, "disconnect");
}

static uint64_t sim_parse_seed(const char *text)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 0);
    if (end == text || *end || errno || text[0] == '-')
        sim_die_usage("seed %s: not a non-negative integer", text);
    return v;
}

static double sim_parse_speed(const char *text)
{
    char *end;
    double v = strtod(text, &end);
    if (end == text || *end || !(v > 0) || !isfinite(v))
        sim_die_usage("speed %s: not a positive number", text);
    return v;
}

static int sim_driver_option(const struct sim_driver *d, const char *name)
{
    for (const char *const *o = d && d->options ? d->options : NULL; o && *o; o++)
        if (!strcmp(*o, name))
            return 1;
    return 0;
}

/* "drop=0.1,stall=5+3": each NAME=VALUE. */
static void sim_options(struct sim *s, const char *list, int faults_only)
{
    char *copy = util_strdup(list), *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(t, '=');
        if (!eq || eq == t)
            sim_die_usage("\"%s\": options are NAME=VALUE", t);
        *eq = 0;
        const char *name = t, *value = eq + 1;
        if (sim_is_fault(name))
            sim_fault(s, name, value);
        else if (faults_only)
            sim_die_usage("unknown fault \"%s\" (drop, garbage, stall, disconnect)", name);
        else if (!strcmp(name, "cell")) {
            free(s->cell_path);
            s->cell_path = util_strdup(value);
        } else if (!strcmp(name, "seed"))
            s->seed = sim_parse_seed(value);
        else if (!strcmp(name, "speed"))
            s->speed = sim_parse_speed(value);
        else if (!strcmp(name, "state")) {
            free(s->state_path);
            s->state_path = util_strdup(value);
        } else if (sim_driver_option(s->drv, name))
            strbuf_printf(&s->drv_opts, "%s=%s\n", name, value);   /* the driver checks */
        else
            strbuf_printf(&s->overrides, "%s=%s\n", name, value);   /* checked once loaded */
    }
    free(copy);
}

/* DRIVER[:MODEL][,OPT=VALUE...] */
static void sim_spec(struct sim *s, const char *spec)
{
    size_t n = strcspn(spec, ":,");
    s->driver_name = util_strndup(spec, n);
    for (size_t i = 0; i < ARRAY_LEN(sim_drivers); i++)
        if (!strcmp(sim_drivers[i]->name, s->driver_name))
            s->drv = sim_drivers[i];
    if (!s->drv) {
        struct strbuf b = { 0 };
        for (size_t i = 0; i < ARRAY_LEN(sim_drivers); i++)
            strbuf_printf(&b, "%s%s", i ? ", " : "", sim_drivers[i]->name);
        sim_die_usage("unknown driver \"%s\" (%s)", s->driver_name, b.s);
    }
    const char *rest = spec + n;
    if (*rest == ':') {
        rest++;
        size_t m = strcspn(rest, ",");
        if (m && !memchr(rest, '=', m)) {
            s->model = util_strndup(rest, m);
            rest += m;
        }
        if (*rest == ',')
            rest++;
    } else if (*rest == ',') {
        rest++;
    }
    if (*rest)
        sim_options(s, rest, 0);
}

/* --- cell files -------------------------------------------------------------------------- */

/* Where cell files live: beside the binary in the source tree (build/../contrib/cells),
 * under an install prefix (bin/../share/insitu/contrib/cells), and the configured prefix. */
static int sim_cell_dirs(char dirs[3][PATH_MAX])
{
    int n = 0;
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = 0;
        char *dir = dirname(exe);
        snprintf(dirs[n++], PATH_MAX, "%s/../contrib/cells", dir);
        snprintf(dirs[n++], PATH_MAX, "%s/../share/insitu/contrib/cells", dir);
    }
    snprintf(dirs[n++], PATH_MAX, "%s/contrib/cells", INSITU_DATADIR);
    return n;
}

static char *sim_find_cell(const char *model)
{
    if (strchr(model, '/'))
        return util_strdup(model);
    char dirs[3][PATH_MAX];
    int n = sim_cell_dirs(dirs);
    for (int i = 0; i < n; i++) {
        char *p = util_printf("%s/%s.cell", dirs[i], model);
        if (access(p, R_OK) == 0)
            return p;
        free(p);
    }
    /* Say which models there are. */
    struct strbuf known = { 0 };
    for (int i = 0; i < n && !known.len; i++) {
        DIR *d = opendir(dirs[i]);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            size_t l = strlen(e->d_name);
            if (l > 5 && !strcmp(e->d_name + l - 5, ".cell"))
                strbuf_printf(&known, "%s%.*s", known.len ? ", " : "", (int)(l - 5), e->d_name);
        }
        if (d)
            closedir(d);
    }
    sim_die_usage("unknown model \"%s\" (%s; or cell=PATH)", model,
                  known.len ? known.s : "no cell files found beside the binary");
}

static void sim_load_cell(struct sim *s)
{
    char err[512];
    char *path = s->cell_path ? util_strdup(s->cell_path)
                              : sim_find_cell(s->model ? s->model : "li-li");
    if (cell_load(path, &s->cell, err, sizeof err) < 0)
        sim_die("%s", err);
    if (!s->model) {
        /* the model's name for messages is the file's base name */
        char *b = util_strdup(path), *base = basename(b);
        char *dot = strrchr(base, '.');
        if (dot && !strcmp(dot, ".cell"))
            *dot = 0;
        s->model = util_strdup(base);
        free(b);
    }
    free(path);
    if (s->overrides.len) {
        char *save = NULL;
        for (char *t = strtok_r(s->overrides.s, "\n", &save); t; t = strtok_r(NULL, "\n", &save)) {
            char *eq = strchr(t, '=');
            *eq = 0;
            if (cell_param_set(&s->cell, t, eq + 1, err, sizeof err) < 0) {
                if (!strcmp(err, "unknown parameter")) {
                    struct strbuf o = { 0 };
                    for (const char *const *d = s->drv->options; d && *d; d++)
                        strbuf_printf(&o, "%s, ", *d);
                    sim_die_usage("unknown option \"%s\" (drop, garbage, stall, disconnect, "
                                  "cell, seed, speed, state, %sor a cell parameter such as area)",
                                  t, o.len ? o.s : "");
                }
                sim_die_usage("%s=%s: %s", t, eq + 1, err);
            }
        }
        if (cell_params_check(&s->cell, err, sizeof err) < 0)
            sim_die_usage("%s", err);
    }
}

/* --- connection -------------------------------------------------------------------------- */

static int sim_is_socket(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

static void sim_queue_clear(struct sim *s)
{
    for (size_t i = 0; i < s->qn; i++)
        free(s->q[(s->qhead + i) % s->qcap]);
    s->qhead = s->qn = 0;
}

static void sim_queue_push(struct sim *s, char *line)
{
    if (s->qn == s->qcap) {
        size_t cap = s->qcap ? 2 * s->qcap : 16;
        char **q = util_calloc(cap, sizeof *q);
        for (size_t i = 0; i < s->qn; i++)
            q[i] = s->q[(s->qhead + i) % s->qcap];
        free(s->q);
        s->q = q;
        s->qcap = cap;
        s->qhead = 0;
    }
    s->q[(s->qhead + s->qn++) % s->qcap] = line;
}

static char *sim_queue_pop(struct sim *s)
{
    char *l = s->q[s->qhead];
    s->qhead = (s->qhead + 1) % s->qcap;
    s->qn--;
    return l;
}

static void sim_connect(struct sim *s, int in_fd, int out_fd)
{
    s->in_fd = in_fd;
    s->out_fd = out_fd;
    s->in_sock = sim_is_socket(in_fd);
    s->out_sock = sim_is_socket(out_fd);
    s->in_eof = 0;
    s->busy = 0;
    strbuf_reset(&s->in);
    strbuf_reset(&s->out);
    s->out_off = 0;
    sim_queue_clear(s);
}

/* Drop the connection (listen mode: the next client may connect). */
static void sim_hangup(struct sim *s, const char *why)
{
    sim_log(s, "connection closed: %s", why);
    if (s->in_fd >= 0)
        close(s->in_fd);
    if (s->out_fd >= 0 && s->out_fd != s->in_fd)
        close(s->out_fd);
    s->in_fd = s->out_fd = -1;
    s->busy = 0;
    sim_queue_clear(s);
    strbuf_reset(&s->in);
    strbuf_reset(&s->out);
    s->out_off = 0;
}

static int sim_stalled(const struct sim *s, double rel)
{
    for (int i = 0; i < s->f.nstall; i++)
        if (rel >= s->f.stall_at[i] && rel < s->f.stall_at[i] + s->f.stall_len[i])
            return 1;
    return 0;
}

/* A reply on its way out, through the faults. Replies are bytes with a length (a binary
 * block may hold NULs and newlines); the newline after them ends the message. */
static void sim_deliver(struct sim *s, const struct strbuf *reply)
{
    if (!reply->len)
        return;
    char *shown = s->verbose ? sim_printable(reply->s, reply->len) : NULL;
    if (sim_stalled(s, sim_mono() - s->t0)) {
        sim_log(s, "stalled, not sent: %s", shown);
    } else if (s->f.drop > 0 && cell_rng_uniform(&s->frng) < s->f.drop) {
        sim_log(s, "dropped: %s", shown);
    } else if (s->f.garbage > 0 && cell_rng_uniform(&s->frng) < s->f.garbage) {
        /* Line noise: bytes that are neither SCPI nor a terminator. */
        int n = 1 + (int)(cell_rng_next(&s->frng) % 32);
        for (int i = 0; i < n; i++) {
            unsigned char c;
            do
                c = (unsigned char)(cell_rng_next(&s->frng) & 0xff);
            while (c == '\n' || c == '\r' || (c >= 32 && c < 127));
            strbuf_addch(&s->out, (char)c);
        }
        strbuf_addch(&s->out, '\n');
        sim_log(s, "garbled (%d bytes) instead of: %s", n, shown);
    } else {
        strbuf_add(&s->out, reply->s, reply->len);
        strbuf_addch(&s->out, '\n');
        sim_log(s, "> %s", shown);
    }
    free(shown);
}

/* Hand waiting lines to the instrument, one at a time, until one keeps it busy. */
static void sim_process(struct sim *s)
{
    double now = sim_mono();
    if (s->busy && now >= s->busy_until) {
        s->busy = 0;
        sim_deliver(s, &s->pending);
    }
    struct strbuf reply = { 0 };
    while (!s->busy && s->qn && s->in_fd >= 0) {
        char *line = sim_queue_pop(s);
        char *shown = s->verbose ? sim_printable(line, strlen(line)) : NULL;
        if (sim_stalled(s, now - s->t0)) {
            sim_log(s, "stalled, discarded: %s", shown);   /* a hung instrument still reads */
        } else {
            sim_log(s, "< %s", shown);
            strbuf_reset(&reply);
            double delay = s->drv->line(s->inst, line, &reply);
            if (delay > 0) {
                s->busy = 1;
                s->busy_until = now + delay;
                strbuf_reset(&s->pending);
                strbuf_add(&s->pending, reply.s ? reply.s : "", reply.len);
            } else {
                sim_deliver(s, &reply);
            }
        }
        free(shown);
        free(line);
    }
    strbuf_free(&reply);
}

static void sim_read(struct sim *s)
{
    char buf[4096];
    ssize_t n = s->in_sock ? recv(s->in_fd, buf, sizeof buf, MSG_DONTWAIT)
                           : read(s->in_fd, buf, sizeof buf);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return;
        sim_log(s, "read: %s", strerror(errno));
        n = 0;
    }
    if (n == 0) {
        s->in_eof = 1;
        return;
    }
    /* Lines end in LF, CR, CR LF or LF CR (the 2400's terminators); empty lines are nothing. */
    for (ssize_t i = 0; i < n; i++) {
        char c = buf[i];
        if (c == '\n' || c == '\r') {
            if (s->in.len)
                sim_queue_push(s, strbuf_take(&s->in));
        } else if (s->in.len < SIM_MAX_LINE) {
            strbuf_addch(&s->in, c);
        } else {
            sim_log(s, "line longer than %d bytes discarded", SIM_MAX_LINE);
            strbuf_reset(&s->in);
        }
    }
}

/* Write from out_off on; the buffer is emptied only once all of it is out, so a
 * megabyte reply costs no copying. */
static void sim_write(struct sim *s)
{
    size_t n = s->out.len - s->out_off;
    if (n > 65536)
        n = 65536;
    const char *p = s->out.s + s->out_off;
    ssize_t w = s->out_sock ? send(s->out_fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL)
                            : write(s->out_fd, p, n);
    if (w < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return;
        sim_hangup(s, strerror(errno));
        return;
    }
    s->out_off += (size_t)w;
    if (s->out_off == s->out.len) {
        strbuf_reset(&s->out);
        s->out_off = 0;
    }
}

static int sim_listen(struct sim *s)
{
    char *hp = util_strdup(s->listen);
    char *colon = strrchr(hp, ':');
    if (!colon || colon == hp || !colon[1])
        sim_die_usage("--listen %s: want HOST:PORT", s->listen);
    *colon = 0;
    char *host = hp, *port = colon + 1;
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {   /* [::1]:5025 */
        host++;
        host[strlen(host) - 1] = 0;
    }
    struct addrinfo hints = { .ai_flags = AI_PASSIVE | AI_NUMERICSERV,
                              .ai_socktype = SOCK_STREAM }, *res;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc)
        sim_die_usage("--listen %s: %s", s->listen, gai_strerror(rc));
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0)
        sim_die("socket: %s", strerror(errno));
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 4) < 0)
        sim_die("--listen %s: %s", s->listen, strerror(errno));
    freeaddrinfo(res);
    /* Say the port (port 0 picks a free one): tests and scripts read it from here. */
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char h[NI_MAXHOST] = "?", p[NI_MAXSERV] = "?";
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        getnameinfo((struct sockaddr *)&ss, sl, h, sizeof h, p, sizeof p,
                    NI_NUMERICHOST | NI_NUMERICSERV);
    fprintf(stderr, "insitu-sim: %s:%s listening on %s:%s\n", s->driver_name, s->model, h, p);
    free(hp);
    return fd;
}

static void sim_accept(struct sim *s)
{
    int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        return;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);   /* short replies, at once */
    sim_connect(s, fd, fd);
    sim_log(s, "client connected");
}

/* --- the loop ---------------------------------------------------------------------------- */

/* Returns the exit status. */
static int sim_run(struct sim *s)
{
    sigset_t block, orig;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    sigprocmask(SIG_BLOCK, &block, &orig);
    struct sigaction sa = { .sa_handler = sim_on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    for (;;) {
        if (sim_signalled) {
            sim_log(s, "signal %d: exiting", (int)sim_signalled);
            return 0;
        }
        if (s->use_stdio && s->in_fd < 0)
            return 0;   /* the other end went away while we wrote */
        double now = sim_mono(), rel = now - s->t0;
        for (int i = 0; i < s->f.ndisc; i++) {
            if (s->f.disc_done[i] || rel < s->f.disc_at[i])
                continue;
            s->f.disc_done[i] = 1;
            if (s->use_stdio) {
                fprintf(stderr, "insitu-sim: fault: disconnect at %gs\n", s->f.disc_at[i]);
                return 0;
            }
            if (s->in_fd >= 0)
                sim_hangup(s, "disconnect fault");
        }
        if (s->in_fd >= 0)
            sim_process(s);
        /* The peer closed its side: answer what it sent, then close ours. */
        if (s->in_fd >= 0 && s->in_eof && !s->busy && !s->qn && !s->out.len) {
            if (s->use_stdio)
                return 0;
            sim_hangup(s, "end of input");
        }

        double wait = INFINITY;
        if (s->in_fd >= 0 && s->busy)
            wait = fmin(wait, s->busy_until - now);
        for (int i = 0; i < s->f.ndisc; i++)
            if (!s->f.disc_done[i])
                wait = fmin(wait, s->f.disc_at[i] - rel);
        struct pollfd pfd[3];
        int n = 0, li = -1, ii = -1, oi = -1;
        if (s->lfd >= 0 && s->in_fd < 0) {
            li = n;
            pfd[n++] = (struct pollfd){ .fd = s->lfd, .events = POLLIN };
        }
        if (s->in_fd >= 0 && !s->in_eof) {
            ii = n;
            pfd[n++] = (struct pollfd){ .fd = s->in_fd, .events = POLLIN };
        }
        if (s->out_fd >= 0 && s->out.len) {
            oi = n;
            pfd[n++] = (struct pollfd){ .fd = s->out_fd, .events = POLLOUT };
        }
        struct timespec ts, *tp = NULL;
        if (isfinite(wait)) {
            wait = fmax(wait, 0) + 1e-4;   /* wake just after the deadline, not just before */
            ts.tv_sec = (time_t)wait;
            ts.tv_nsec = (long)((wait - (double)ts.tv_sec) * 1e9);
            tp = &ts;
        }
        int r = ppoll(pfd, (nfds_t)n, tp, &orig);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            sim_die("poll: %s", strerror(errno));
        }
        if (oi >= 0 && (pfd[oi].revents & (POLLOUT | POLLERR | POLLHUP)))
            sim_write(s);
        if (ii >= 0 && s->in_fd >= 0 && (pfd[ii].revents & (POLLIN | POLLERR | POLLHUP)))
            sim_read(s);
        if (li >= 0 && (pfd[li].revents & POLLIN))
            sim_accept(s);
    }
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "stdio", no_argument, NULL, 's' },   { "listen", required_argument, NULL, 'l' },
        { "fault", required_argument, NULL, 'f' }, { "seed", required_argument, NULL, 'S' },
        { "speed", required_argument, NULL, 'p' }, { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },    { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    struct sim s = { .seed = 1, .speed = 1, .lfd = -1, .in_fd = -1, .out_fd = -1 };
    struct strbuf faults = { 0 };
    int c;
    while ((c = getopt_long(argc, argv, "+:vh", longopts, NULL)) != -1) {
        switch (c) {
        case 's': s.use_stdio = 1; break;
        case 'l': free(s.listen); s.listen = util_strdup(optarg); break;
        case 'f': strbuf_printf(&faults, "%s,", optarg); break;
        case 'S': s.seed = sim_parse_seed(optarg); break;
        case 'p': s.speed = sim_parse_speed(optarg); break;
        case 'v': s.verbose = 1; break;
        case 'h': sim_usage(stdout); return 0;
        case 'V': printf("insitu-sim %s\n", INSITU_VERSION); return 0;
        case ':': sim_die_usage("option %s needs a value", argv[optind - 1]);
        default:
            if (optopt)
                sim_die_usage("unknown option -%c", optopt);
            sim_die_usage("unknown option %s", argv[optind - 1]);
        }
    }
    if (s.use_stdio && s.listen)
        sim_die_usage("--stdio and --listen exclude each other");
    if (optind == argc)
        sim_die_usage("missing DRIVER[:MODEL] (e.g. keithley2400:li-li)");
    if (optind + 1 < argc)
        sim_die_usage("one instrument at a time: unexpected \"%s\"", argv[optind + 1]);
    if (!s.listen)
        s.use_stdio = 1;
    sim_spec(&s, argv[optind]);
    if (faults.len)
        sim_options(&s, faults.s, 1);
    strbuf_free(&faults);
    char err[256];
    if (units_init(err, sizeof err) < 0)
        sim_die("%s", err);
    sim_load_cell(&s);

    s.t0 = sim_mono();
    sim_clock_set(&s.clock, 0, s.speed);
    cell_rng_seed(&s.rng, s.seed);
    cell_rng_seed(&s.frng, s.seed ^ 0x5eed0fa17ULL);   /* faults never shift the noise */
    if (!s.state_path) {
        const char *e = getenv("INSITU_SIM_STATE");
        s.state_path = util_strdup(e ? e : "");
    }
    s.env = (struct sim_env){ .clock = &s.clock, .rng = &s.rng, .cell = &s.cell,
                              .model = s.model, .verbose = s.verbose,
                              .state_path = *s.state_path ? s.state_path : NULL,
                              .options = s.drv_opts.s ? s.drv_opts.s : "" };
    s.inst = s.drv->create(&s.env, s.driver_name, err, sizeof err);
    if (!s.inst)
        sim_die_usage("%s", err);
    if (s.listen)
        s.lfd = sim_listen(&s);
    else
        sim_connect(&s, STDIN_FILENO, STDOUT_FILENO);
    sim_log(&s, "%s:%s seed %llu speed %g", s.driver_name, s.model, (unsigned long long)s.seed,
            s.speed);
    int rc = sim_run(&s);

    if (s.use_stdio) {
        s.in_fd = s.out_fd = -1;   /* stdin/stdout are closed by exit */
    } else if (s.in_fd >= 0) {
        sim_hangup(&s, "exit");
    }
    if (s.lfd >= 0)
        close(s.lfd);
    s.drv->destroy(s.inst);
    sim_queue_clear(&s);
    free(s.q);
    strbuf_free(&s.in);
    strbuf_free(&s.out);
    strbuf_free(&s.pending);
    strbuf_free(&s.overrides);
    strbuf_free(&s.drv_opts);
    free(s.state_path);
    free(s.listen);
    free(s.driver_name);
    free(s.model);
    free(s.cell_path);
    units_fini();
    return rc;
}
