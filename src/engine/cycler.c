/* cycler: cycling protocols, sampling, charge integration, safety limits and alarms. */
#include "insitu/cycler.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "insitu/clock.h"
#include "insitu/device.h"
#include "insitu/ec.h"
#include "insitu/loop.h"
#include "insitu/msg.h"
#include "insitu/parse.h"
#include "insitu/run.h"
#include "insitu/session.h"
#include "insitu/settings.h"
#include "insitu/units.h"
#include "insitu/util.h"

#define CYCLER_MAX_DEPTH 8

enum step_kind { STEP_CC, STEP_REST, STEP_LOOP, STEP_GCPL, STEP_CV };

struct step {
    enum step_kind kind;
    int line;
    int number;             /* 1-based, in order of appearance */
    double current;         /* A */
    double duration;        /* s, 0 = none */
    int has_v_until;
    double v_until;         /* V */
    int has_q_until;
    double q_until;         /* A h (magnitude) */
    int has_limits;
    double vmin, vmax;      /* V */
    int count;              /* loop count, gcpl/cv cycles */
    double rest;            /* gcpl: rest between half cycles */
    double v1, v2, rate;    /* cv */
    struct step *body;
    int nbody;
    char *text;             /* for display */
};

struct frame {
    struct step *steps;
    int n, at, iter, count;
};

struct cycler {
    struct session *s;
    struct device *dev;
    struct step *steps;     /* the protocol */
    int nsteps, total;
    char *protocol;
    enum cycler_state state;
    struct frame stack[CYCLER_MAX_DEPTH];
    int depth;
    struct step *cur;
    double step_t0;         /* run time the step began */
    double step_end;        /* run time the step ends by duration, < 0 none */
    double paused_left;     /* remaining duration while paused */
    int phase;              /* gcpl: 0 down to vmin, 1 rest, 2 up to vmax, 3 rest; cv: segment */
    int gcpl_cycle;
    double phase_t0;
    double setpoint;
    int sourcing_voltage, output_on;
    long long sample_timer, end_timer;
    int measuring;
    /* electrochemistry */
    struct run_table *ec;
    double t_last;          /* time charge was last integrated to */
    double i_last, v_last;
    double q, q_half, q_step;
    int half_cycle, cycle;
    int last_sign;
    /* alarms */
    int compliance, soft_short, comm_lost;
    double plateau;
    int plateau_n, low_count;
    unsigned long samples;
};

static void cycler_next(struct cycler *c);
static void cycler_finish(struct cycler *c, enum cycler_state st, const char *why);

/* ---- settings ---- */

static int cycler_check_window(const struct setting *s, const char *text, const double *v,
                               char *err, size_t errlen)
{
    if (!(v[0] < v[1])) {
        snprintf(err, errlen, "%s: the first value must be below the second", s->name);
        return -1;
    }
    return 0;
}

static int cycler_check_positive(const struct setting *s, const char *text, const double *v,
                                 char *err, size_t errlen)
{
    if (!(v[0] > 0)) {
        snprintf(err, errlen, "%s must be positive", s->name);
        return -1;
    }
    return 0;
}

static const struct setting cycler_settings[] = {
    { "cycler.device", NULL, NULL, "",
      "The device that runs cycler protocols (default: the only cycler).", 1, NULL },
    { "cycler.interval", "s", NULL, "10s",
      "Experiment time between samples (at most cycler.max_rate a second of real time).", 1,
      cycler_check_positive },
    { "cycler.limit.voltage", "V", NULL, "-5V 5V",
      "Safety window: a sample outside it switches the output off at once and stops the "
      "protocol. The instrument's compliance is set to it before the output goes on.", 2,
      cycler_check_window },
    { "cycler.limit.current", "A", NULL, "1.05A",
      "Safety limit on the magnitude of the current.", 1, cycler_check_positive },
    { "cycler.max_rate", "Hz", NULL, "20Hz",
      "At most this many samples a second of real time, whatever the clock speed.", 1,
      cycler_check_positive },
    { "cycler.nplc", "1", NULL, "1",
      "Integration time of each reading in power-line cycles (0.01-10): longer is quieter.", 1,
      cycler_check_positive },
    { "run.end", NULL, "auto|manual", "auto",
      "auto: a run ends when its cycler protocol ends; manual: it stays open until `run stop`.",
      1, NULL },
    { NULL, NULL, NULL, NULL, NULL, 0, NULL },
};

void cycler_register_settings(void)
{
    if (!settings_find("cycler.interval"))
        settings_register(cycler_settings);
}

/* ---- the protocol language ---- */

static void steps_free(struct step *v, int n)
{
    for (int i = 0; i < n; i++) {
        steps_free(v[i].body, v[i].nbody);
        free(v[i].text);
    }
    free(v);
}

struct pctx {
    const char *file;
    char *err;
    size_t errlen;
    int number;
};

static int pfail(struct pctx *p, int line, const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int pfail(struct pctx *p, int line, const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *m = util_vprintf(fmt, ap);
    va_end(ap);
    if (p->file && *p->file)
        snprintf(p->err, p->errlen, "%s:%d: %s: %s", p->file, line, cmd, m);
    else
        snprintf(p->err, p->errlen, "%s: %s", cmd, m);
    free(m);
    return -1;
}

static int pqty(struct pctx *p, const struct cmdline *c, int k, const char *unit, double *out)
{
    char e[256];
    if (k >= c->argc)
        return pfail(p, c->line, c->argv[0].text, "missing value");
    if (units_parse(c->argv[k].text, unit, out, e, sizeof e) < 0)
        return pfail(p, c->argv[k].line, c->argv[0].text, "%s", e);
    return 0;
}

static int pcount(struct pctx *p, const struct cmdline *c, int k, int *out)
{
    if (k >= c->argc)
        return pfail(p, c->line, c->argv[0].text, "missing count");
    char *end;
    long n = strtol(c->argv[k].text, &end, 10);
    if (*end || end == c->argv[k].text || n < 1 || n > 1000000)
        return pfail(p, c->line, c->argv[0].text, "\"%s\": expected a count (1 or more)",
                     c->argv[k].text);
    *out = (int)n;
    return 0;
}

static int parse_steps(struct pctx *p, const char *text, int line, struct step **out, int *nout,
                       int depth);

static int parse_one(struct pctx *p, const struct cmdline *c, struct step *st, int depth)
{
    const char *k = c->argv[0].text;
    memset(st, 0, sizeof *st);
    st->line = c->line;
    if (!strcmp(k, "cc")) {
        st->kind = STEP_CC;
        if (pqty(p, c, 1, "A", &st->current) < 0)
            return -1;
        for (int i = 2; i < c->argc;) {
            const char *w = c->argv[i].text;
            if (!strcmp(w, "until") || !strcmp(w, "for")) {
                if (i + 1 >= c->argc)
                    return pfail(p, c->line, k, "%s what? (a duration, voltage or charge)", w);
                const char *q = c->argv[i + 1].text;
                double v;
                if (units_parse(q, "s", &v, NULL, 0) == 0 && v > 0) {
                    st->duration = v;
                } else if (!strcmp(w, "until") && units_parse(q, "V", &v, NULL, 0) == 0) {
                    st->has_v_until = 1;
                    st->v_until = v;
                } else if (!strcmp(w, "until") && units_parse(q, "A.h", &v, NULL, 0) == 0 && v > 0) {
                    st->has_q_until = 1;
                    st->q_until = v;
                } else {
                    char e[200];
                    units_parse(q, "s", &v, e, sizeof e);
                    if (!strstr(e, "unknown unit") && !strstr(e, "not a number"))
                        snprintf(e, sizeof e, "\"%s\": expected a duration, voltage or charge", q);
                    return pfail(p, c->argv[i + 1].line, k, "%s", e);
                }
                i += 2;
            } else if (!strcmp(w, "limits")) {
                if (pqty(p, c, i + 1, "V", &st->vmin) < 0 || pqty(p, c, i + 2, "V", &st->vmax) < 0)
                    return -1;
                if (!(st->vmin < st->vmax))
                    return pfail(p, c->line, k, "limits: the first voltage must be the lower");
                st->has_limits = 1;
                i += 3;
            } else {
                return pfail(p, c->argv[i].line, k, "\"%s\": expected until, for or limits", w);
            }
        }
        if (!st->duration && !st->has_v_until && !st->has_q_until && !st->has_limits)
            return pfail(p, c->line, k, "a constant-current step needs an end: until 15h, "
                                        "until 4V, until 1Ah or limits VMIN VMAX");
    } else if (!strcmp(k, "rest") || !strcmp(k, "ocv")) {
        st->kind = STEP_REST;
        if (c->argc != 2)
            return pfail(p, c->line, k, "usage: rest DURATION");
        if (pqty(p, c, 1, "s", &st->duration) < 0)
            return -1;
        if (st->duration <= 0)
            return pfail(p, c->line, k, "the duration must be positive");
    } else if (!strcmp(k, "loop")) {
        st->kind = STEP_LOOP;
        if (c->argc != 3 || !c->argv[2].block)
            return pfail(p, c->line, k, "usage: loop COUNT { STEPS }");
        if (pcount(p, c, 1, &st->count) < 0)
            return -1;
        if (depth + 1 >= CYCLER_MAX_DEPTH)
            return pfail(p, c->line, k, "loops nested too deeply");
        if (parse_steps(p, c->argv[2].text, c->argv[2].line, &st->body, &st->nbody, depth + 1) < 0)
            return -1;
        if (!st->nbody)
            return pfail(p, c->line, k, "an empty loop");
    } else if (!strcmp(k, "gcpl")) {
        st->kind = STEP_GCPL;
        st->count = 1;
        if (pqty(p, c, 1, "A", &st->current) < 0)
            return -1;
        st->current = fabs(st->current);
        if (st->current == 0)
            return pfail(p, c->line, k, "the current must not be zero");
        for (int i = 2; i < c->argc;) {
            const char *w = c->argv[i].text;
            if (!strcmp(w, "limits")) {
                if (pqty(p, c, i + 1, "V", &st->vmin) < 0 || pqty(p, c, i + 2, "V", &st->vmax) < 0)
                    return -1;
                st->has_limits = 1;
                i += 3;
            } else if (!strcmp(w, "cycles")) {
                if (pcount(p, c, i + 1, &st->count) < 0)
                    return -1;
                i += 2;
            } else if (!strcmp(w, "rest")) {
                if (pqty(p, c, i + 1, "s", &st->rest) < 0)
                    return -1;
                i += 2;
            } else {
                return pfail(p, c->argv[i].line, k, "\"%s\": expected limits, cycles or rest", w);
            }
        }
        if (!st->has_limits || !(st->vmin < st->vmax))
            return pfail(p, c->line, k, "usage: gcpl CURRENT limits VMIN VMAX [cycles N] [rest DURATION]");
    } else if (!strcmp(k, "cv")) {
        st->kind = STEP_CV;
        st->count = 1;
        if (c->argc < 4)
            return pfail(p, c->line, k, "usage: cv V1 V2 RATE [cycles N]");
        if (pqty(p, c, 1, "V", &st->v1) < 0 || pqty(p, c, 2, "V", &st->v2) < 0 ||
            pqty(p, c, 3, "V/s", &st->rate) < 0)
            return -1;
        st->rate = fabs(st->rate);
        if (st->rate == 0 || st->v1 == st->v2)
            return pfail(p, c->line, k, "the sweep needs two different voltages and a rate");
        if (c->argc == 6 && !strcmp(c->argv[4].text, "cycles")) {
            if (pcount(p, c, 5, &st->count) < 0)
                return -1;
        } else if (c->argc != 4) {
            return pfail(p, c->line, k, "usage: cv V1 V2 RATE [cycles N]");
        }
    } else {
        return pfail(p, c->line, k, "unknown step (cc, rest, loop, gcpl, cv)");
    }
    /* a readable description for the status line */
    struct strbuf b = { 0 };
    for (int i = 0; i < c->argc; i++)
        if (!c->argv[i].block)
            strbuf_printf(&b, "%s%s", i ? " " : "", c->argv[i].text);
        else
            strbuf_addstr(&b, " { ... }");
    st->text = strbuf_take(&b);
    if (st->kind != STEP_LOOP)
        st->number = ++p->number;
    return 0;
}

static int parse_steps(struct pctx *p, const char *text, int line, struct step **out, int *nout,
                       int depth)
{
    struct cmdlist l;
    struct parse_error pe;
    *out = NULL;
    *nout = 0;
    if (parse_text(text, p->file, line, &l, &pe) != PARSE_OK) {
        if (p->file && *p->file)
            snprintf(p->err, p->errlen, "%s:%d: %s", p->file, pe.line, pe.msg);
        else
            snprintf(p->err, p->errlen, "%s", pe.msg);
        return -1;
    }
    struct step *v = util_calloc((size_t)(l.n ? l.n : 1), sizeof *v);
    for (int i = 0; i < l.n; i++) {
        if (parse_one(p, &l.v[i], &v[i], depth) < 0) {
            steps_free(v, i);
            cmdlist_free(&l);
            return -1;
        }
    }
    *out = v;
    *nout = l.n;
    cmdlist_free(&l);
    return 0;
}

int cycler_parse_check(const char *protocol, const char *file, int line, char *err, size_t errlen)
{
    struct pctx p = { file, err, errlen, 0 };
    struct step *v;
    int n;
    if (parse_steps(&p, protocol, line, &v, &n, 0) < 0)
        return -1;
    steps_free(v, n);
    if (!p.number) {
        snprintf(err, errlen, "the protocol has no steps");
        return -1;
    }
    return p.number;
}

/* ---- recording ---- */

static void cycler_record(struct cycler *c, double t, double v, double i)
{
    if (!c->ec)
        return;
    union run_value val[EC_NFIELDS];
    val[EC_VOLTAGE].f64 = v;
    val[EC_CURRENT].f64 = i;
    val[EC_CHARGE].f64 = c->q;
    val[EC_Q_HALF].f64 = c->q_half;
    val[EC_STEP].i32 = c->cur ? c->cur->number : 0;
    val[EC_CYCLE].i32 = c->cycle;
    val[EC_HALF_CYCLE].i32 = c->half_cycle;
    run_append(c->ec, t, val);
}

/* Integrate dq = I dt up to T with current I (EC-Lab's rectangle rule). */
static void cycler_integrate(struct cycler *c, double t, double i)
{
    double dt = t - c->t_last;
    if (dt > 0) {
        double dq = i * dt / 3600.0;
        c->q += dq;
        c->q_half += dq;
        c->q_step += dq;
    }
    c->t_last = t;
}

static void cycler_event(struct cycler *c, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void cycler_event(struct cycler *c, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *m = util_vprintf(fmt, ap);
    va_end(ap);
    session_event(c->s, level, "%s: %s", c->dev ? c->dev->name : "cycler", m);
    free(m);
}

/* ---- driving the instrument ---- */

static double cycler_now(struct cycler *c)
{
    return c->s->run ? run_time(c->s->run) : 0;
}

static void cycler_apply(struct cycler *c)
{
    const struct cycler_ops *ops = c->dev->drv->cycler;
    if (c->dev->state != DEVICE_READY)
        return;   /* re-applied when the device is back */
    if (!c->output_on) {
        ops->output(c->dev, 0);
        return;
    }
    ops->compliance(c->dev, settings_num("cycler.limit.voltage", 0),
                    settings_num("cycler.limit.voltage", 1), settings_num("cycler.limit.current", 0));
    if (c->sourcing_voltage)
        ops->source_voltage(c->dev, c->setpoint);
    else
        ops->source_current(c->dev, c->setpoint);
    ops->output(c->dev, 1);
}

static void cycler_set_current(struct cycler *c, double a)
{
    int sign = a > 0 ? 1 : a < 0 ? -1 : 0;
    if (sign && sign != c->last_sign) {
        if (c->last_sign)
            c->half_cycle++;
        c->cycle = c->half_cycle / 2;
        c->q_half = 0;
        c->last_sign = sign;
    }
    c->setpoint = a;
    c->sourcing_voltage = 0;
    c->output_on = a != 0;
    cycler_apply(c);
}

static void cycler_set_voltage(struct cycler *c, double v)
{
    c->setpoint = v;
    c->sourcing_voltage = 1;
    c->output_on = 1;
    cycler_apply(c);
}

static double cycler_end_timer(struct loop *l, long long id, void *arg)
{
    struct cycler *c = arg;
    c->end_timer = 0;
    if (c->state != CYCLER_RUNNING)
        return -1;
    double t = c->step_end;
    cycler_integrate(c, t, c->i_last);
    cycler_record(c, t, c->v_last, c->i_last);
    cycler_next(c);
    return -1;
}

static void cycler_arm_end(struct cycler *c, double duration)
{
    if (c->end_timer)
        loop_timer_del(c->s->loop, c->end_timer);
    c->end_timer = 0;
    c->step_end = duration > 0 ? c->step_t0 + duration : -1;
    if (duration > 0)
        c->end_timer = loop_timer_add(c->s->loop, c->step_end - cycler_now(c), 1, cycler_end_timer, c);
}

/* Begin the phase P of the current gcpl/cv step. */
static void cycler_phase(struct cycler *c, int p)
{
    struct step *st = c->cur;
    c->phase = p;
    c->phase_t0 = cycler_now(c);
    if (st->kind == STEP_GCPL) {
        if (p == 0)
            cycler_set_current(c, -st->current);
        else if (p == 2)
            cycler_set_current(c, st->current);
        else
            cycler_set_current(c, 0);
        if ((p == 1 || p == 3) && st->rest > 0) {
            c->step_t0 = c->phase_t0;
            cycler_arm_end(c, st->rest);
        }
    } else if (st->kind == STEP_CV) {
        cycler_set_voltage(c, p % 2 == 0 ? st->v1 : st->v2);
    }
}

static void cycler_begin(struct cycler *c, struct step *st)
{
    c->cur = st;
    c->step_t0 = cycler_now(c);
    c->q_step = 0;
    c->compliance = 0;
    c->plateau = 0;
    c->plateau_n = c->low_count = 0;
    c->gcpl_cycle = 0;
    switch (st->kind) {
    case STEP_CC: {
        cycler_set_current(c, st->current);
        /* A charge end at constant current is a time end: scheduling it is exact, where a
         * check at the next sample would overshoot by up to one sample's charge. */
        double d = st->duration;
        if (st->has_q_until && st->current != 0) {
            double dq = st->q_until * 3600.0 / fabs(st->current);
            if (!(d > 0) || dq < d)
                d = dq;
        }
        cycler_arm_end(c, d);
        break;
    }
    case STEP_REST:
        cycler_set_current(c, 0);
        cycler_arm_end(c, st->duration);
        break;
    case STEP_GCPL:
        cycler_arm_end(c, 0);
        cycler_phase(c, 0);
        break;
    case STEP_CV:
        if (!c->dev->drv->cycler->can_source_voltage) {
            cycler_finish(c, CYCLER_FAILED, "this instrument cannot source a voltage (cv)");
            return;
        }
        cycler_arm_end(c, 0);
        cycler_phase(c, 0);
        break;
    case STEP_LOOP:
        break;
    }
    cycler_event(c, RUN_INFO, "step %d: %s", st->number, st->text);
}

/* Advance to the next step (entering loops), or end the protocol. */
static void cycler_next(struct cycler *c)
{
    while (c->depth > 0) {
        struct frame *f = &c->stack[c->depth - 1];
        if (f->at >= f->n) {
            if (++f->iter < f->count) {
                f->at = 0;
            } else {
                c->depth--;
                continue;
            }
        }
        struct step *st = &f->steps[f->at++];
        if (st->kind == STEP_LOOP) {
            c->stack[c->depth++] = (struct frame){ st->body, st->nbody, 0, 0, st->count };
            continue;
        }
        cycler_begin(c, st);
        return;
    }
    cycler_finish(c, CYCLER_DONE, "protocol ended");
}

/* ---- samples ---- */

static void cycler_trip(struct cycler *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void cycler_trip(struct cycler *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *m = util_vprintf(fmt, ap);
    va_end(ap);
    if (c->dev->state == DEVICE_READY && c->dev->drv->safe)
        c->dev->drv->safe(c->dev);   /* output off, ahead of anything queued */
    c->output_on = 0;
    cycler_event(c, RUN_ERROR, "safety limit: %s; output off", m);
    free(m);
    cycler_finish(c, CYCLER_TRIPPED, "safety limit");
}

/* Does the sample end the current step (or gcpl/cv phase)? */
static void cycler_check_end(struct cycler *c, double t, double v)
{
    struct step *st = c->cur;
    if (!st)
        return;
    int end = 0;
    if (st->kind == STEP_CC) {
        if (st->has_v_until)
            end |= st->current >= 0 ? v >= st->v_until : v <= st->v_until;
        if (st->has_q_until)
            end |= fabs(c->q_step) >= st->q_until;
        if (st->has_limits)
            end |= v <= st->vmin || v >= st->vmax;
    } else if (st->kind == STEP_GCPL) {
        if (c->phase == 0 && v <= st->vmin)
            cycler_phase(c, st->rest > 0 ? 1 : 2);
        else if (c->phase == 2 && v >= st->vmax) {
            if (++c->gcpl_cycle >= st->count)
                end = 1;
            else
                cycler_phase(c, st->rest > 0 ? 3 : 0);
        }
    } else if (st->kind == STEP_CV) {
        /* staircase: the setpoint follows the sweep at every sample */
        double seg = fabs(st->v2 - st->v1) / st->rate;
        double tau = t - c->phase_t0;
        if (tau >= seg) {
            if (c->phase + 1 >= 2 * st->count) {
                end = 1;
            } else {
                cycler_phase(c, c->phase + 1);
                return;
            }
        } else {
            double from = c->phase % 2 == 0 ? st->v1 : st->v2, to = c->phase % 2 == 0 ? st->v2 : st->v1;
            cycler_set_voltage(c, from + (to - from) * tau / seg);
        }
    }
    if (end)
        cycler_next(c);
}

/* Soft short: the voltage of a constant-current step collapses far below its plateau. */
static void cycler_watch_short(struct cycler *c, double v, double i)
{
    if (!c->cur || c->cur->kind != STEP_CC || fabs(i) < 1e-12)
        return;
    double a = fabs(v);
    if (c->plateau_n < 20) {
        c->plateau = (c->plateau * c->plateau_n + a) / (c->plateau_n + 1);
        c->plateau_n++;
        return;
    }
    if (a < 0.25 * c->plateau) {
        if (++c->low_count == 3 && !c->soft_short) {
            c->soft_short = 1;
            cycler_event(c, RUN_WARN, "soft short suspected: %.1f mV at %s, plateau was %.1f mV",
                         v * 1e3, "constant current", c->plateau * 1e3);
        }
    } else {
        c->low_count = 0;
        c->plateau = 0.98 * c->plateau + 0.02 * a;
    }
}

static void cycler_sampled(struct device *d, const struct cycler_sample *s, void *arg)
{
    struct cycler *c = arg;
    c->measuring = 0;
    if (!s || c->state != CYCLER_RUNNING || !c->s->run)
        return;
    double t = cycler_now(c);
    double lo = settings_num("cycler.limit.voltage", 0), hi = settings_num("cycler.limit.voltage", 1);
    double imax = settings_num("cycler.limit.current", 0);
    c->samples++;
    cycler_integrate(c, t, s->i);
    c->v_last = s->v;
    c->i_last = s->i;
    cycler_record(c, t, s->v, s->i);
    if (s->v < lo || s->v > hi || fabs(s->i) > imax || s->overflow) {
        cycler_trip(c, "V = %.4g V, I = %.4g A outside %g..%g V, |I| <= %g A", s->v, s->i, lo, hi, imax);
        return;
    }
    if (s->compliance && !c->compliance) {
        c->compliance = 1;
        cycler_event(c, RUN_WARN, "compliance: the instrument limits the voltage at %.4g V", s->v);
    }
    cycler_watch_short(c, s->v, s->i);
    cycler_check_end(c, t, s->v);
}

static double cycler_tick(struct loop *l, long long id, void *arg)
{
    struct cycler *c = arg;
    if (c->state != CYCLER_RUNNING && c->state != CYCLER_PAUSED) {
        c->sample_timer = 0;
        return -1;
    }
    if (c->state == CYCLER_RUNNING && !c->measuring && c->dev->state == DEVICE_READY) {
        c->measuring = 1;
        c->dev->drv->cycler->measure(c->dev, cycler_sampled, c);
    }
    double p = settings_num("cycler.interval", 0) / clock_speed();
    double floor = 1.0 / settings_num("cycler.max_rate", 0);
    return p < floor ? floor : p;
}

/* The device went away or came back. */
static void cycler_device_state(struct device *d, void *arg)
{
    struct cycler *c = arg;
    if (d->state == DEVICE_LOST) {
        c->measuring = 0;
        if (!c->comm_lost)
            c->comm_lost = 1;
    } else if (d->state == DEVICE_READY) {
        if (c->comm_lost && c->state == CYCLER_RUNNING) {
            /* the instrument was reset on reconnection: put the step back on it; the charge
             * over the gap is counted with the last current measured */
            cycler_integrate(c, cycler_now(c), c->i_last);
            cycler_event(c, RUN_WARN, "reconnected: step %d restored; charge over the gap estimated",
                         c->cur ? c->cur->number : 0);
            if (d->drv->clock)
                d->drv->clock(d);
            cycler_apply(c);
        }
        c->comm_lost = 0;
    }
}

/* ---- life cycle ---- */

static void cycler_finish(struct cycler *c, enum cycler_state st, const char *why)
{
    if (c->end_timer)
        loop_timer_del(c->s->loop, c->end_timer);
    c->end_timer = 0;
    if (c->dev->state == DEVICE_READY) {
        c->output_on = 0;
        c->dev->drv->cycler->output(c->dev, 0);
    }
    c->state = st;
    c->cur = NULL;
    c->depth = 0;
    c->dev->on_state = NULL;
    cycler_event(c, st == CYCLER_DONE ? RUN_INFO : RUN_ERROR, "%s (%.6g A h passed); output off",
                 why, c->q);
    /* When the protocol of a run's cycler ends, the run ends with it (unless run.end manual). */
    const char *end = settings_text("run.end");
    struct session *s = c->s;
    c->ec = NULL;
    if (s->run && !s->stopping && end && !strcmp(end, "auto")) {
        char e[200];
        session_run_stop(s, why, e, sizeof e);
    }
}

void cycler_run_ending(struct session *s)
{
    struct cycler *c = s->cycler;
    if (!c)
        return;
    if (c->state == CYCLER_RUNNING || c->state == CYCLER_PAUSED) {
        cycler_integrate(c, cycler_now(c), c->i_last);
        cycler_finish(c, CYCLER_DONE, "the run was stopped");
    }
    c->ec = NULL;
}

static struct device *cycler_pick(struct session *s, char *err, size_t errlen)
{
    const char *want = settings_text("cycler.device");
    if (want && *want) {
        struct device *d = device_find(s, want);
        if (!d || !d->drv->cycler)
            snprintf(err, errlen, "cycler.device \"%s\" is not a cycler device", want);
        return d && d->drv->cycler ? d : NULL;
    }
    struct device *found = NULL;
    int n = 0;
    for (int i = 0; i < device_count(s); i++)
        if (device_at(s, i)->drv->cycler) {
            found = device_at(s, i);
            n++;
        }
    if (n == 1)
        return found;
    snprintf(err, errlen, n ? "%d cyclers: choose one with `set cycler.device NAME`"
                            : "no cycler device (`device add cyc keithley2400 sim:li-li`)", n);
    return NULL;
}

int cycler_start(struct session *s, const char *protocol, const char *file, int line,
                 char *err, size_t errlen)
{
    if (s->cycler && (s->cycler->state == CYCLER_RUNNING || s->cycler->state == CYCLER_PAUSED)) {
        snprintf(err, errlen, "a protocol is running (`cycler stop` first)");
        return -1;
    }
    struct device *d = cycler_pick(s, err, errlen);
    if (!d)
        return -1;
    if (d->state != DEVICE_READY) {
        snprintf(err, errlen, "%s is %s%s%s", d->name, device_state_name(d->state),
                 d->why ? ": " : "", d->why ? d->why : "");
        return -1;
    }
    struct pctx p = { file, err, errlen, 0 };
    struct step *steps;
    int n;
    if (parse_steps(&p, protocol, line, &steps, &n, 0) < 0)
        return -1;
    if (!p.number) {
        steps_free(steps, n);
        snprintf(err, errlen, "the protocol has no steps");
        return -1;
    }
    if (!s->run) {
        if (session_run_start(s, d->name, 0, NULL, err, errlen) < 0) {
            steps_free(steps, n);
            return -1;
        }
        msg_out("run %s started: %s", d->name, s->last_path);
    }
    char e2[256];
    struct run_table *ec = ec_table(s->run, e2, sizeof e2);
    if (!ec) {
        steps_free(steps, n);
        snprintf(err, errlen, "%s", e2);
        return -1;
    }
    cycler_free(s);
    struct cycler *c = util_calloc(1, sizeof *c);
    c->s = s;
    c->dev = d;
    c->steps = steps;
    c->nsteps = n;
    c->total = p.number;
    c->protocol = util_strdup(protocol);
    c->ec = ec;
    c->state = CYCLER_RUNNING;
    c->t_last = cycler_now(c);
    s->cycler = c;
    run_attr_text(s->run, "ec", "protocol", protocol);
    run_attr_text(s->run, "ec", "instrument", *d->idn ? d->idn : d->drv->name);
    run_attr_text(s->run, "ec", "device", d->name);
    char win[96];
    snprintf(win, sizeof win, "%g V .. %g V, |I| <= %g A", settings_num("cycler.limit.voltage", 0),
             settings_num("cycler.limit.voltage", 1), settings_num("cycler.limit.current", 0));
    run_attr_text(s->run, "ec", "safety_limits", win);
    d->on_state = cycler_device_state;
    d->on_state_arg = c;
    if (d->drv->clock)
        d->drv->clock(d);
    c->stack[0] = (struct frame){ steps, n, 0, 0, 1 };
    c->depth = 1;
    cycler_next(c);
    if (c->state == CYCLER_RUNNING)
        c->sample_timer = loop_timer_add(s->loop, 0, 0, cycler_tick, c);
    return 0;
}

int cycler_pause(struct session *s, char *err, size_t errlen)
{
    struct cycler *c = s->cycler;
    if (!c || c->state != CYCLER_RUNNING) {
        snprintf(err, errlen, "no protocol is running");
        return -1;
    }
    cycler_integrate(c, cycler_now(c), c->i_last);
    c->paused_left = c->step_end >= 0 ? c->step_end - cycler_now(c) : -1;
    if (c->end_timer)
        loop_timer_del(s->loop, c->end_timer);
    c->end_timer = 0;
    c->output_on = 0;
    if (c->dev->state == DEVICE_READY)
        c->dev->drv->cycler->output(c->dev, 0);
    c->i_last = 0;
    c->state = CYCLER_PAUSED;
    cycler_event(c, RUN_NOTE, "paused at step %d; output off", c->cur ? c->cur->number : 0);
    return 0;
}

int cycler_resume(struct session *s, char *err, size_t errlen)
{
    struct cycler *c = s->cycler;
    if (!c || c->state != CYCLER_PAUSED) {
        snprintf(err, errlen, "no protocol is paused");
        return -1;
    }
    c->state = CYCLER_RUNNING;
    c->t_last = cycler_now(c);
    c->output_on = c->setpoint != 0 || c->sourcing_voltage;
    cycler_apply(c);
    if (c->paused_left > 0) {
        c->step_t0 = cycler_now(c) - (c->step_end - c->step_t0 - c->paused_left);
        c->step_end = cycler_now(c) + c->paused_left;
        c->end_timer = loop_timer_add(s->loop, c->paused_left, 1, cycler_end_timer, c);
    }
    cycler_event(c, RUN_NOTE, "resumed at step %d", c->cur ? c->cur->number : 0);
    return 0;
}

int cycler_stop(struct session *s, const char *why, char *err, size_t errlen)
{
    struct cycler *c = s->cycler;
    if (!c || (c->state != CYCLER_RUNNING && c->state != CYCLER_PAUSED)) {
        snprintf(err, errlen, "no protocol is running");
        return -1;
    }
    cycler_integrate(c, cycler_now(c), c->i_last);
    cycler_finish(c, CYCLER_DONE, why ? why : "stopped");
    return 0;
}

const char *cycler_state_name(enum cycler_state st)
{
    static const char *const n[] = { "idle", "running", "paused", "done", "tripped", "failed" };
    return (unsigned)st < ARRAY_LEN(n) ? n[st] : "?";
}

int cycler_view(struct session *s, struct cycler_view *v)
{
    memset(v, 0, sizeof *v);
    v->vmin = settings_num("cycler.limit.voltage", 0);
    v->vmax = settings_num("cycler.limit.voltage", 1);
    v->imax = settings_num("cycler.limit.current", 0);
    struct cycler *c = s->cycler;
    if (!c) {
        v->state = CYCLER_IDLE;
        return 0;
    }
    v->state = c->state;
    v->device = c->dev->name;
    if (c->cur) {
        snprintf(v->step, sizeof v->step, "%d/%d %s", c->cur->number, c->total, c->cur->text);
        v->step_no = c->cur->number;
        double now = c->s->run ? run_time(c->s->run) : c->step_t0;
        v->step_elapsed = now - c->step_t0;
        v->step_remaining = c->state == CYCLER_PAUSED ? c->paused_left
                          : c->step_end >= 0 ? c->step_end - now : -1;
    }
    v->nsteps = c->total;
    v->v = c->v_last;
    v->i = c->i_last;
    v->q = c->q;
    v->setpoint = c->setpoint;
    v->sourcing_voltage = c->sourcing_voltage;
    v->compliance = c->compliance;
    v->soft_short = c->soft_short;
    v->comm_lost = c->dev->state != DEVICE_READY;
    v->samples = c->samples;
    v->cycle = c->cycle;
    return 1;
}

void cycler_status(struct session *s, struct strbuf *out)
{
    struct cycler_view v;
    if (!cycler_view(s, &v)) {
        strbuf_printf(out, "cycler: idle (limits %g..%g V, |I| <= %g A)", v.vmin, v.vmax, v.imax);
        return;
    }
    char a[48], b[48], e[48], r[48];
    strbuf_printf(out, "cycler %s: %s\n", v.device, cycler_state_name(v.state));
    if (v.step[0])
        strbuf_printf(out, "  step %s, %s elapsed, %s left\n", v.step,
                      units_format_duration(v.step_elapsed, e, sizeof e),
                      v.step_remaining >= 0 ? units_format_duration(v.step_remaining, r, sizeof r) : "?");
    strbuf_printf(out, "  V %s  I %s  Q %.6g A h  cycle %d, %lu samples\n",
                  units_format(v.v, "V", 5, a, sizeof a), units_format(v.i, "A", 5, b, sizeof b), v.q,
                  v.cycle, v.samples);
    strbuf_printf(out, "  limits %g..%g V, |I| <= %g A%s%s%s", v.vmin, v.vmax, v.imax,
                  v.compliance ? "; COMPLIANCE" : "", v.soft_short ? "; SOFT SHORT SUSPECTED" : "",
                  v.comm_lost ? "; COMMUNICATION LOST" : "");
}

void cycler_free(struct session *s)
{
    struct cycler *c = s->cycler;
    if (!c)
        return;
    if (c->sample_timer)
        loop_timer_del(s->loop, c->sample_timer);
    if (c->end_timer)
        loop_timer_del(s->loop, c->end_timer);
    if (c->dev && c->dev->on_state_arg == c)
        c->dev->on_state = NULL;
    steps_free(c->steps, c->nsteps);
    free(c->protocol);
    free(c);
    s->cycler = NULL;
}
