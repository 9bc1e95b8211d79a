/* keithley: Keithley 2400 / 6430 (2400 SCPI) and 2450 SourceMeters driving a simulated cell.
 *
 * The instrument is a set of source and measure settings, an error queue and the cell it is
 * wired to. The cell is advanced lazily: whenever a line arrives, it is stepped from where it
 * was to the present virtual time with the source that was in effect (sub-steps of at most
 * 1 s virtual), so an idle sim costs nothing however fast its clock runs.
 *
 * Sign convention (DOMAIN.md section 3, Battery Data Format): positive current charges the
 * cell: it flows out of the HI terminal into electrode B, stripping A and plating B, and the
 * measured voltage is then positive.
 *
 * With a state file (state=, $INSITU_SIM_STATE) the instrument publishes its cell there for
 * the other simulated instruments (the spectrometer): at creation and exit, whenever the
 * current it delivers changes (so a reader can carry the cell forward with that current) or
 * the clock is re-anchored, and otherwise at most every 50 ms of real time. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

enum { KT_2400, KT_2450, KT_6430 };
enum { D24 = 1, D45 = 2, DALL = 3 };                 /* SCPI dialects */
enum { EL_VOLT = 1, EL_CURR = 2, EL_RES = 4, EL_TIME = 8, EL_STAT = 16 };
enum { SN_VOLT = 1, SN_CURR = 2, SN_RES = 4 };

#define KT_OVERFLOW 9.91e37      /* what a 2400 reports for a value it did not measure */
#define KT_STAT_COMPLIANCE 8     /* status word bit 3: in compliance */
#define KT_MAX_SUBSTEPS 1000000  /* beyond this the sub-steps grow past 1 s (days at once) */
#define KT_PUBLISH_EVERY 0.05    /* s of real time between refreshes of the state file */

struct kt {
    char driver[32];
    int model;
    unsigned dialect;
    const struct sim_env *env;
    struct cell_state cell;
    double cell_t;               /* virtual time the cell has been advanced to */
    double i_max;                /* A, largest source current (1.05 A; 105 mA on a 6430) */
    /* settings (*RST restores them) */
    int src_volt;                /* sourcing voltage (else current) */
    double i_level, v_level;
    double v_prot, i_prot;       /* compliance: voltage when sourcing current and vice versa */
    double nplc;
    int output;
    unsigned elem;               /* :FORM:ELEM (2400) */
    unsigned sens;               /* sense functions that are on (2400) */
    unsigned meas;               /* the measure function (2450): SN_VOLT or SN_CURR */
    double t_reset;              /* virtual time of *RST / power-on / :SYST:TIME:RES */
    struct scpi_errq errq;
    double busy;                 /* real seconds the line being handled takes */
    double last[5];              /* the last reading, for :FETCh? */
    int have_last;
    /* the state file: when and with what current the cell was last published */
    int published, publish_now, publish_failed;
    double pub_real, pub_current;
};

/* The source and measure point now: what the instrument applies to the cell. */
struct kt_op {
    double v, i;
    int compliance;
};

static struct kt_op kt_op(const struct kt *k)
{
    struct kt_op o = { 0, 0, 0 };
    const struct cell_params *p = k->env->cell;
    if (!k->output)
        return o;   /* output off: the cell rests at open circuit */
    if (!k->src_volt) {
        double v = cell_voltage(&k->cell, p, k->i_level);
        if (fabs(v) > k->v_prot) {
            /* Compliance: the source cannot drive the current without exceeding the voltage
             * limit, so it holds the limit and delivers what the cell takes there. */
            o.v = copysign(k->v_prot, v);
            o.i = cell_current_for_voltage(&k->cell, p, o.v);
            o.compliance = 1;
        } else {
            o.v = v;
            o.i = k->i_level;
        }
    } else {
        double i = cell_current_for_voltage(&k->cell, p, k->v_level);
        if (fabs(i) > k->i_prot) {
            o.i = copysign(k->i_prot, i);
            o.v = cell_voltage(&k->cell, p, o.i);
            o.compliance = 1;
        } else {
            o.v = k->v_level;
            o.i = i;
        }
    }
    return o;
}

/* Bring the cell up to the present virtual time under the source in effect since the last
 * line. Sub-steps of at most 1 s follow the nucleation spike (tens of seconds) closely. */
static void kt_advance(struct kt *k)
{
    double now = sim_clock_now(k->env->clock), dt = now - k->cell_t;
    if (dt <= 0)
        return;
    k->cell_t = now;
    if (!k->output) {   /* nothing flows: only time passes */
        cell_step(&k->cell, k->env->cell, 0, dt);
        return;
    }
    double n = ceil(dt);
    if (n > KT_MAX_SUBSTEPS)
        n = KT_MAX_SUBSTEPS;
    double h = dt / n;
    for (long i = 0; i < (long)n; i++)
        cell_step(&k->cell, k->env->cell, kt_op(k).i, h);
}

/* Publish the cell to the state file (see the top of this file); FORCE: whatever the rate. */
static void kt_publish(struct kt *k, int force)
{
    const char *path = k->env->state_path;
    if (!path)
        return;
    double now = sim_mono(), i = kt_op(k).i;
    if (!force && !k->publish_now && k->published && i == k->pub_current &&
        now - k->pub_real < KT_PUBLISH_EVERY)
        return;
    char err[512];
    if (sim_state_write_cell(path, k->driver, k->env->model, k->cell_t, i, k->env->cell,
                             &k->cell, err, sizeof err) < 0) {
        if (!k->publish_failed)   /* once: the instrument itself carries on */
            fprintf(stderr, "insitu-sim: cannot publish the cell state: %s\n", err);
        k->publish_failed = 1;
        return;
    }
    k->published = 1;
    k->publish_now = 0;
    k->pub_real = now;
    k->pub_current = i;
}

static void kt_reset(struct kt *k)
{
    k->src_volt = 1;          /* both models power up sourcing 0 V */
    k->i_level = k->v_level = 0;
    k->v_prot = 21;
    k->i_prot = 105e-6;
    k->nplc = 1;
    k->output = 0;
    k->elem = EL_VOLT | EL_CURR | EL_RES | EL_TIME | EL_STAT;
    k->sens = SN_VOLT | SN_CURR;
    k->meas = k->dialect == D45 ? SN_CURR : SN_VOLT;
    k->t_reset = sim_clock_now(k->env->clock);
    k->have_last = 0;
}

/* --- readings -------------------------------------------------------------------------- */

struct kt_reading {
    double v, i, r, t, stat;
};

/* Take a reading: it occupies the instrument for its integration time, NPLC power line
 * cycles of 20 ms (50 Hz), during which nothing else is answered. */
static void kt_measure(struct kt *k, struct kt_reading *rd)
{
    const struct cell_params *p = k->env->cell;
    struct kt_op o = kt_op(k);
    rd->v = o.v + cell_voltage_noise(&k->cell, p, k->nplc, k->env->rng);
    rd->i = o.i;
    if (k->output && k->src_volt && !o.compliance) {
        /* sourcing voltage, the current is what is measured: it carries the cell's noise */
        double n = cell_voltage_noise(&k->cell, p, k->nplc, k->env->rng);
        rd->i = cell_current_for_voltage(&k->cell, p, k->v_level + n);
    }
    rd->r = (k->sens & SN_RES) && rd->i != 0 ? rd->v / rd->i : KT_OVERFLOW;
    rd->t = sim_clock_now(k->env->clock) - k->t_reset;
    rd->stat = o.compliance ? KT_STAT_COMPLIANCE : 0;
    k->busy += k->nplc / 50;
    double *l = k->last;
    l[0] = rd->v, l[1] = rd->i, l[2] = rd->r, l[3] = rd->t, l[4] = rd->stat;
    k->have_last = 1;
}

static void kt_num(struct strbuf *b, double v)
{
    if (b->len)
        strbuf_addch(b, ',');
    strbuf_printf(b, "%+.6E", v);
}

/* 2400: the :FORM:ELEM elements, always in the instrument's fixed order. */
static void kt_format_2400(const struct kt *k, const double *v, struct strbuf *reply)
{
    for (int e = 0; e < 5; e++)
        if (k->elem & (1u << e))
            kt_num(reply, v[e]);
}

/* --- command handlers ------------------------------------------------------------------ */

static int kt_args(const struct scpi_req *r, int min, int max)
{
    if (r->argc < min)
        return -109;
    if (r->argc > max)
        return -108;
    return 0;
}

/* A numeric setting: set from the one argument, or report it for the query form. */
static int kt_setnum(const struct scpi_req *r, double *var, double min, double max, double def,
                     struct strbuf *reply)
{
    if (r->query) {
        int e = kt_args(r, 0, 1);   /* "? MIN" / "? MAX" ask for the limits */
        if (e)
            return e;
        double v = *var;
        if (r->argc && (e = scpi_number(r->argv[0], min, max, def, &v)))
            return e;
        strbuf_printf(reply, "%+.6E", v);
        return 0;
    }
    int e = kt_args(r, 1, 1);
    return e ? e : scpi_number(r->argv[0], min, max, def, var);
}

static int kt_setbool(const struct scpi_req *r, int *var, struct strbuf *reply)
{
    if (r->query) {
        int e = kt_args(r, 0, 0);
        if (!e)
            strbuf_printf(reply, "%d", *var);
        return e;
    }
    int e = kt_args(r, 1, 1);
    return e ? e : scpi_bool(r->argv[0], var);
}

/* Settings the sim accepts and ignores (ranges, beeper, 4-wire sensing) still validate
 * their argument, as the instrument would. */
static int kt_accept_bool(const struct scpi_req *r, struct strbuf *reply)
{
    int dummy = 1;
    return kt_setbool(r, &dummy, reply);
}

typedef int (*kt_fn)(struct kt *k, const struct scpi_req *r, struct strbuf *reply);

static int kt_idn(struct kt *k, const struct scpi_req *r, struct strbuf *reply)
{
    static const char *idn[] = {
        [KT_2400] = "KEITHLEY INSTRUMENTS INC.,MODEL 2400,4117720,C32 Oct 4 2010 14:20:11/A02 "
                    "/S/K insitu-sim",
        [KT_2450] = "KEITHLEY INSTRUMENTS,MODEL 2450,04417720,1.6.7c insitu-sim",
        [KT_6430] = "KEITHLEY INSTRUMENTS INC.,MODEL 6430,4117721,C32 Oct 4 2010 14:20:11/A02 "
                    "/S/K insitu-sim",
    };
    int e = kt_args(r, 0, 0);
    if (!e)
        strbuf_addstr(reply, idn[k->model]);
    return e;
}

static int kt_rst(struct kt *k, const struct scpi_req *r, struct strbuf *reply)
{
    (void)reply;
    int e = kt_args(r, 0, 0);
    if (!e)
        kt_reset(k);
    return e;
}

static int kt_cls(struct kt *k, const struct scpi_req *r, struct strbuf *reply)
{
    (void)reply;
    int e = kt_args(r, 0, 0);
    if (!e)
        k->errq.n = 0;
    return e;
}

static int kt_opc(struct kt *k, const struct scpi_req *r, struct strbuf *reply)
{
    (void)k;
    /* Commands run one after another, so everything before *OPC? is complete. */
    int e = kt_args(r, 0, 0);
    if (!e && r->query)
        strbuf_addch(reply, '1');
    return e;
}

static int kt_noop(struct kt *k, const struct scpi_req *r, struct strbuf *reply)
{
    (void)k; (void)reply;
    return kt_args(r, 0, 0);
}

static int kt_err_next(struct kt *k, const struct scpi_req *r, struct strbuf *reply)
{
    int e = kt_args(r, 0, 0);
    if (!e)
        scpi_err_pop(&k->errq, reply);
    return e;
}

static int kt_err_all(struct kt *k, const struct scpi_req *r, struct strbuf *reply)
{
    int e = kt_args(r, 0, 0);
    if (e)
        return e;
    do {
        if (reply->len)
            strbuf_addch(reply, ',');
        scpi_err_pop(&k->errq, reply);
    } while (k->errq.n);
    return 0;
}

static int kt_err_count(struct kt *k, const struct scpi_req *r, struct strbuf *reply)
{
    int e = kt_args(r, 0, 0);
    if (!e)
        strbuf_printf(reply, "%d", k->errq.n);
    return e;
}

static int kt_time_reset(struct kt *k, const struct scpi_req *r, struct strbuf *reply)
{
    (void)reply;
    int e = kt_args(r, 0, 0);
    if (!e)
        k->t_reset = sim_clock_now(k->env->clock);
    return e;
}

/* :SYST:SIM:CLOCK <virtual_seconds>,<speed>: the sim's own extension. insitu sends it so
 * that the cell lives on the experiment clock: the cell has already been advanced to the old
 * clock's present, and the instrument's timestamps stay continuous across the jump. */
static int kt_sim_clock(struct kt *k, const struct scpi_req *r, struct strbuf *reply)
{
    struct sim_clock *c = k->env->clock;
    if (r->query) {
        int e = kt_args(r, 0, 0);
        if (!e)
            strbuf_printf(reply, "%.9g,%.9g", sim_clock_now(c), c->speed);
        return e;
    }
    int e = kt_args(r, 2, 2);
    double v, speed;
    if (e || (e = scpi_number(r->argv[0], -1e15, 1e15, 0, &v)) ||
        (e = scpi_number(r->argv[1], 1e-6, 1e9, 1, &speed)))
        return e;
    double old = sim_clock_now(c);
    sim_clock_set(c, v, speed);
    k->t_reset += v - old;
    k->cell_t = v;
    k->publish_now = 1;   /* the state's time is on the new clock */
    return 0;
}

/* :SYST:SIM:STATE? -> charge_C,metal_a_Ah,metal_b_Ah,micro_Ah,shorted,virtual_time_s */
static int kt_sim_state(struct kt *k, const struct scpi_req *r, struct strbuf *reply)
{
    int e = kt_args(r, 0, 0);
    if (!e)
        strbuf_printf(reply, "%.9g,%.9g,%.9g,%.9g,%d,%.9g", k->cell.q,
                      cell_metal_Ah(&k->cell, CELL_A), cell_metal_Ah(&k->cell, CELL_B),
                      cell_micro_Ah(&k->cell), k->cell.shorted, sim_clock_now(k->env->clock));
    return e;
}

static int kt_beep(struct kt *k, const struct scpi_req *r, struct strbuf *reply)
{
    (void)k;
    return kt_accept_bool(r, reply);
}

static int kt_src_func(struct kt *k, const struct scpi_req *r, struct strbuf *reply)
{
    if (r->query) {
        int e = kt_args(r, 0, 0);
        if (!e)
            strbuf_addstr(reply, k->src_volt ? "VOLT" : "CURR");
        return e;
    }
    int e = kt_args(r, 1, 1);
    if (e)
        return e;
    if (scpi_word(r->argv[0], "VOLTage"))
        k->src_volt = 1;
    else if (scpi_word(r->argv[0], "CURRent"))
        k->src_volt = 0;
    else
        return -224;
    return 0;
}

/* :SOUR:CURR:MODE / :SOUR:VOLT:MODE: only a fixed level (no sweeps or lists). */
static int kt_src_mode(struct kt *k, const struct scpi_req *r, struct strbuf *reply)
{
    (void)k;
    if (r->query) {
        int e = kt_args(r, 0, 0);
        if (!e)
            strbuf_addstr(reply, "FIX");
        return e;
    }
    int e = kt_args(r, 1, 1);
    return e ? e : scpi_word(r->argv[0], "FIXed") ? 0 : -224;
}

static int kt_range_auto(struct kt *k, const struct scpi_req *r, struct strbuf *reply)
{
    (void)k;
    return kt_accept_bool(r, reply);
}

static int kt_src_curr_range(struct kt *k, const struct scpi_req *r, struct strbuf *reply)
{
    double v = k->i_max;
    return kt_setnum(r, &v, -k->i_max, k->i_max, k->i_max, reply);
}

static int kt_src_volt_range(struct kt *k, const struct scpi_req *r, struct strbuf *reply)
{
    (void)k;
    double v = 210;
    return kt_setnum(r, &v, -210, 210, 210, reply);
}

static int kt_src_curr(struct kt *k, const struct scpi_req *r, struct strbuf *reply)
{
    return kt_setnum(r, &k->i_level, -k->i_max, k->i_max, 0, reply);
}

static int kt_src_volt(struct kt *k, const struct scpi_req *r, struct strbuf *reply)
{
    return kt_setnum(r, &k->v_level, -210, 210, 0, reply);
}

/* Compliance limits are magnitudes; a negative value sets the same limit. */
static int kt_vprot(struct kt *k, const struct scpi_req *r, struct strbuf *reply)
{
    int e = kt_setnum(r, &k->v_prot, -210, 210, 21, reply);
    k->v_prot = fabs(k->v_prot);
    return e;
}

static int kt_iprot(struct kt *k, const struct scpi_req *r, struct strbuf *reply)
{
    int e = kt_setnum(r, &k->i_prot, -k->i_max, k->i_max, 105e-6, reply);
    k->i_prot = fabs(k->i_prot);
    return e;
}

static int kt_tripped(struct kt *k, const struct scpi_req *r, struct strbuf *reply)
{
    int e = kt_args(r, 0, 0);
    if (!e)
        strbuf_printf(reply, "%d", kt_op(k).compliance);
    return e;
}

static int kt_sens_range(struct kt *k, const struct scpi_req *r, struct strbuf *reply)
{
    (void)k;
    double v = 21;
    return kt_setnum(r, &v, -1e3, 1e3, 21, reply);
}

static int kt_nplc(struct kt *k, const struct scpi_req *r, struct strbuf *reply)
{
    return kt_setnum(r, &k->nplc, 0.01, 10, 1, reply);
}

static unsigned kt_func_bit(const char *arg)
{
    if (scpi_word(arg, "VOLTage[:DC]"))
        return SN_VOLT;
    if (scpi_word(arg, "CURRent[:DC]"))
        return SN_CURR;
    if (scpi_word(arg, "RESistance"))
        return SN_RES;
    return 0;
}

static void kt_func_names(unsigned set, struct strbuf *reply)
{
    static const char *names[] = { "\"VOLT:DC\"", "\"CURR:DC\"", "\"RES\"" };
    for (int i = 0; i < 3; i++)
        if (set & (1u << i)) {
            if (reply->len)
                strbuf_addch(reply, ',');
            strbuf_addstr(reply, names[i]);
        }
}

/* :SENS:FUNC: on a 2400 it turns functions on (they are measured concurrently); on a 2450
 * it selects the one measure function (VOLT or CURR). */
static int kt_sens_func(struct kt *k, const struct scpi_req *r, struct strbuf *reply)
{
    if (r->query) {
        int e = kt_args(r, 0, 0);
        if (!e)
            kt_func_names(k->dialect == D45 ? k->meas : k->sens, reply);
        return e;
    }
    int e = kt_args(r, 1, k->dialect == D45 ? 1 : 3);
    if (e)
        return e;
    unsigned set = 0;
    for (int i = 0; i < r->argc; i++) {
        unsigned b = kt_func_bit(r->argv[i]);
        if (!b || (k->dialect == D45 && b == SN_RES))
            return -224;
        set |= b;
    }
    if (k->dialect == D45)
        k->meas = set;
    else
        k->sens |= set;
    return 0;
}

static int kt_sens_func_off(struct kt *k, const struct scpi_req *r, struct strbuf *reply)
{
    (void)reply;
    int e = kt_args(r, 1, 3);
    if (e)
        return e;
    for (int i = 0; i < r->argc; i++) {
        unsigned b = kt_func_bit(r->argv[i]);
        if (!b)
            return -224;
        k->sens &= ~b;
    }
    return 0;
}

static int kt_sens_func_off_all(struct kt *k, const struct scpi_req *r, struct strbuf *reply)
{
    (void)reply;
    int e = kt_args(r, 0, 0);
    if (!e)
        k->sens = 0;
    return e;
}

static int kt_form_elem(struct kt *k, const struct scpi_req *r, struct strbuf *reply)
{
    static const char *names[] = { "VOLTage", "CURRent", "RESistance", "TIME", "STATus" };
    static const char *shrt[] = { "VOLT", "CURR", "RES", "TIME", "STAT" };
    if (r->query) {
        int e = kt_args(r, 0, 0);
        if (e)
            return e;
        for (int i = 0; i < 5; i++)
            if (k->elem & (1u << i))
                strbuf_printf(reply, "%s%s", reply->len ? "," : "", shrt[i]);
        return 0;
    }
    int e = kt_args(r, 1, 5);
    if (e)
        return e;
    unsigned set = 0;
    for (int i = 0; i < r->argc; i++) {
        int j = 0;
        while (j < 5 && !scpi_word(r->argv[i], names[j]))
            j++;
        if (j == 5)
            return -224;
        set |= 1u << j;
    }
    k->elem = set;
    return 0;
}

static int kt_form_data(struct kt *k, const struct scpi_req *r, struct strbuf *reply)
{
    (void)k;
    if (r->query) {
        int e = kt_args(r, 0, 0);
        if (!e)
            strbuf_addstr(reply, "ASC");
        return e;
    }
    int e = kt_args(r, 1, 2);
    return e ? e : scpi_word(r->argv[0], "ASCii") ? 0 : -224;   /* only ASCII is simulated */
}

static int kt_outp(struct kt *k, const struct scpi_req *r, struct strbuf *reply)
{
    return kt_setbool(r, &k->output, reply);
}

/* 2400 :READ? : one reading, the :FORM:ELEM elements. */
static int kt_read_2400(struct kt *k, const struct scpi_req *r, struct strbuf *reply)
{
    int e = kt_args(r, 0, 0);
    if (e)
        return e;
    struct kt_reading rd;
    kt_measure(k, &rd);
    kt_format_2400(k, k->last, reply);
    return 0;
}

static int kt_fetch(struct kt *k, const struct scpi_req *r, struct strbuf *reply)
{
    int e = kt_args(r, 0, 0);
    if (e)
        return e;
    if (!k->have_last) {
        struct kt_reading rd;
        kt_measure(k, &rd);
    }
    kt_format_2400(k, k->last, reply);
    return 0;
}

static int kt_init(struct kt *k, const struct scpi_req *r, struct strbuf *reply)
{
    (void)reply;
    int e = kt_args(r, 0, 0);
    struct kt_reading rd;
    if (!e)
        kt_measure(k, &rd);
    return e;
}

/* 2450 :READ? ["bufferName"[, element...]]: READ is the measure function's value, SOUR the
 * source value (the current actually delivered when sourcing current), REL the time since
 * *RST, STAT the status (8: in its limit), UNIT the measured unit. */
static int kt_read_2450(struct kt *k, const struct scpi_req *r, struct strbuf *reply)
{
    int first = 0;
    char buf[64];
    if (r->argc && (r->argv[0][0] == '"' || r->argv[0][0] == '\'')) {
        scpi_unquote(r->argv[0], buf, sizeof buf);
        if (strcmp(buf, "defbuffer1") && strcmp(buf, "defbuffer2"))
            return -224;
        first = 1;
    }
    static const char *names[] = { "READing", "SOURce", "RELative", "STATus", "UNIT",
                                   "SOURUNIT" };
    int want[SCPI_MAX_ARGS], nw = 0;
    for (int i = first; i < r->argc; i++) {
        int j = 0;
        while (j < (int)ARRAY_LEN(names) && !scpi_word(r->argv[i], names[j]))
            j++;
        if (j == (int)ARRAY_LEN(names))
            return -224;
        want[nw++] = j;
    }
    if (!nw)
        want[nw++] = 0;
    struct kt_reading rd;
    kt_measure(k, &rd);
    for (int i = 0; i < nw; i++) {
        switch (want[i]) {
        case 0: kt_num(reply, k->meas == SN_CURR ? rd.i : rd.v); break;
        case 1: kt_num(reply, k->src_volt ? (k->output ? k->v_level : 0) : rd.i); break;
        case 2: kt_num(reply, rd.t); break;
        case 3: kt_num(reply, rd.stat); break;
        case 4:
        case 5: {
            int volt = want[i] == 4 ? k->meas != SN_CURR : k->src_volt;
            strbuf_printf(reply, "%s%s", reply->len ? "," : "", volt ? "Volt DC" : "Amp DC");
            break;
        }
        }
    }
    return 0;
}

static const struct kt_cmd {
    const char *pattern;
    int query;          /* 0: the command form, 1: the query form, 2: both */
    unsigned dialect;
    kt_fn fn;
} kt_cmds[] = {
    { "*IDN", 1, DALL, kt_idn },
    { "*RST", 0, DALL, kt_rst },
    { "*CLS", 0, DALL, kt_cls },
    { "*OPC", 2, DALL, kt_opc },
    { "*WAI", 0, DALL, kt_noop },
    { ":SYSTem:ERRor[:NEXT]", 1, DALL, kt_err_next },
    { ":SYSTem:ERRor:ALL", 1, D24, kt_err_all },
    { ":SYSTem:ERRor:COUNt", 1, DALL, kt_err_count },
    { ":SYSTem:TIME:RESet", 0, D24, kt_time_reset },
    { ":SYSTem:SIM:CLOCK", 2, DALL, kt_sim_clock },
    { ":SYSTem:SIM:STATe", 1, DALL, kt_sim_state },
    { ":SYSTem:BEEPer:STATe", 2, D24, kt_beep },
    { ":SYSTem:RSENse", 2, D24, kt_beep },
    { "[:SOURce]:FUNCtion[:MODE]", 2, DALL, kt_src_func },
    { "[:SOURce]:CURRent:MODE", 2, D24, kt_src_mode },
    { "[:SOURce]:VOLTage:MODE", 2, D24, kt_src_mode },
    { "[:SOURce]:CURRent:RANGe:AUTO", 2, DALL, kt_range_auto },
    { "[:SOURce]:VOLTage:RANGe:AUTO", 2, DALL, kt_range_auto },
    { "[:SOURce]:CURRent:RANGe[:UPPer]", 2, DALL, kt_src_curr_range },
    { "[:SOURce]:VOLTage:RANGe[:UPPer]", 2, DALL, kt_src_volt_range },
    { "[:SOURce]:CURRent:VLIMit[:LEVel]", 2, D45, kt_vprot },
    { "[:SOURce]:CURRent:VLIMit:TRIPped", 1, D45, kt_tripped },
    { "[:SOURce]:VOLTage:ILIMit[:LEVel]", 2, D45, kt_iprot },
    { "[:SOURce]:VOLTage:ILIMit:TRIPped", 1, D45, kt_tripped },
    { "[:SOURce]:CURRent[:LEVel][:IMMediate][:AMPLitude]", 2, DALL, kt_src_curr },
    { "[:SOURce]:VOLTage[:LEVel][:IMMediate][:AMPLitude]", 2, DALL, kt_src_volt },
    { "[:SENSe]:FUNCtion[:ON]", 2, DALL, kt_sens_func },
    { "[:SENSe]:FUNCtion:OFF", 0, D24, kt_sens_func_off },
    { "[:SENSe]:FUNCtion:OFF:ALL", 0, D24, kt_sens_func_off_all },
    { "[:SENSe]:VOLTage[:DC]:PROTection[:LEVel]", 2, D24, kt_vprot },
    { "[:SENSe]:VOLTage[:DC]:PROTection:TRIPped", 1, D24, kt_tripped },
    { "[:SENSe]:CURRent[:DC]:PROTection[:LEVel]", 2, D24, kt_iprot },
    { "[:SENSe]:CURRent[:DC]:PROTection:TRIPped", 1, D24, kt_tripped },
    { "[:SENSe]:VOLTage[:DC]:RANGe:AUTO", 2, DALL, kt_range_auto },
    { "[:SENSe]:CURRent[:DC]:RANGe:AUTO", 2, DALL, kt_range_auto },
    { "[:SENSe]:RESistance:RANGe:AUTO", 2, D24, kt_range_auto },
    { "[:SENSe]:VOLTage[:DC]:RANGe[:UPPer]", 2, DALL, kt_sens_range },
    { "[:SENSe]:CURRent[:DC]:RANGe[:UPPer]", 2, DALL, kt_sens_range },
    { "[:SENSe]:VOLTage[:DC]:NPLCycles", 2, DALL, kt_nplc },
    { "[:SENSe]:CURRent[:DC]:NPLCycles", 2, DALL, kt_nplc },
    { "[:SENSe]:RESistance:NPLCycles", 2, D24, kt_nplc },
    { "[:SENSe]:VOLTage[:DC]:RSENse", 2, D45, kt_beep },
    { "[:SENSe]:CURRent[:DC]:RSENse", 2, D45, kt_beep },
    { ":FORMat:ELEMents[:SENSe]", 2, D24, kt_form_elem },
    { ":FORMat[:DATA]", 2, DALL, kt_form_data },
    { ":OUTPut[:STATe]", 2, DALL, kt_outp },
    { ":READ", 1, D24, kt_read_2400 },
    { ":READ", 1, D45, kt_read_2450 },
    { ":FETCh", 1, D24, kt_fetch },
    { ":INITiate[:IMMediate]", 0, D24, kt_init },
};

static int kt_dispatch(void *ctx, const struct scpi_req *r, struct strbuf *reply)
{
    struct kt *k = ctx;
    for (size_t i = 0; i < ARRAY_LEN(kt_cmds); i++) {
        const struct kt_cmd *c = &kt_cmds[i];
        if (!(c->dialect & k->dialect) || (c->query != 2 && c->query != r->query))
            continue;
        if (scpi_match(c->pattern, r))
            return c->fn(k, r, reply);
    }
    return -113;
}

static void kt_error(void *ctx, int code)
{
    struct kt *k = ctx;
    scpi_err_push(&k->errq, code);
}

static double kt_line(void *inst, const char *line, struct strbuf *reply)
{
    struct kt *k = inst;
    k->busy = 0;
    kt_advance(k);
    int was_on = k->output;
    scpi_run(line, kt_dispatch, kt_error, k, reply);
    kt_publish(k, was_on && !k->output);
    return k->busy;
}

static void *kt_create(const struct sim_env *env, const char *driver, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    struct kt *k = util_calloc(1, sizeof *k);
    k->env = env;
    snprintf(k->driver, sizeof k->driver, "%s", driver);
    k->model = strstr(driver, "2450") ? KT_2450 : strstr(driver, "6430") ? KT_6430 : KT_2400;
    k->dialect = k->model == KT_2450 ? D45 : D24;
    k->i_max = k->model == KT_6430 ? 0.105 : 1.05;
    cell_init(&k->cell, env->cell);
    k->cell_t = sim_clock_now(env->clock);
    kt_reset(k);
    kt_publish(k, 1);   /* a fresh cell: whatever an earlier run left there is gone */
    return k;
}

static void kt_destroy(void *inst)
{
    struct kt *k = inst;
    kt_advance(k);
    k->output = 0;      /* the instrument is gone: nothing drives the cell any more */
    kt_publish(k, 1);
    free(inst);
}

const struct sim_driver sim_keithley2400 = {
    "keithley2400", "Keithley 2400 SourceMeter (2400 SCPI)", kt_create, kt_line, kt_destroy,
    NULL,
};
const struct sim_driver sim_keithley2450 = {
    "keithley2450", "Keithley 2450 SourceMeter (2450 SCPI)", kt_create, kt_line, kt_destroy,
    NULL,
};
const struct sim_driver sim_keithley6430 = {
    "keithley6430", "Keithley 6430 sub-femtoamp SourceMeter (2400 SCPI, 105 mA)", kt_create,
    kt_line, kt_destroy, NULL,
};
