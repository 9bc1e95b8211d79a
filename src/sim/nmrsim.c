/* nmrsim: a simulated pulse NMR spectrometer (Bruker-like acquisition parameters, SCPI-style
 * commands) with the cell in its probe. The physics is the core model (include/insitu/
 * nmrsim.h); this is the instrument around it: settings, an acquisition that runs NS scans on
 * the virtual clock, the FID as an IEEE 488.2 binary block, and the cell, which it reads from
 * the state file the simulated cycler publishes (sim.h), at ZG and at the end of the
 * acquisition, carried forward to those moments with the current the cycler reported.
 * Without a state file (or when it has no cell) the probe holds a fresh cell of the model. */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "insitu/nmrsim.h"
#include "insitu/units.h"
#include "sim.h"

#define NM_IDN "insitu,NMRSIM,00001," INSITU_VERSION
#define NM_ADC_RATE 20e6   /* Hz: the nominal ADC rate that DECIM (oversampling) refers to */

enum { NM_IDLE, NM_ACQ, NM_DONE };

struct nm {
    const struct sim_env *env;
    struct nmrsim_params base;   /* *RST state: the model's nucleus and the options */
    struct nmrsim_params set;    /* the settings: what the next ZG acquires with */
    struct scpi_errq errq;
    double match_file;           /* the state file's match as last seen (NAN: none yet) */
    int stat;
    /* the running acquisition */
    struct nmrsim_params acq;
    double t_start, t_scan;
    struct cell_params cp0;
    struct cell_state s0;
    /* the last completed (or halted) acquisition: what FID? and PARS? give */
    int have_fid, fid_overflow, fid_flagged;
    struct nmrsim_params fid_par;   /* ns: the scans in the FID */
    double fid_t0, fid_t1;
    double complex *fid;
};

/* The cell in the probe at virtual time T: the published one carried forward to T, or a
 * fresh cell of the model. The file's match factor, when it changed since last seen, becomes
 * the probe's (the latest setting wins, from the file or from :SYST:SIM:MATCH). Returns 1
 * when the cell came from the file. */
static int nm_cell(struct nm *k, double t, struct cell_params *cp, struct cell_state *s)
{
    struct sim_state st;
    char err[512];
    int from_file = 0;
    if (k->env->state_path && sim_state_read(k->env->state_path, &st, err, sizeof err) == 0) {
        if (st.have_match && !(st.match == k->match_file)) {
            k->match_file = st.match;
            k->set.match = st.match;
        }
        if (st.have_cell) {
            *cp = st.params;
            sim_state_advance(&st, t, s);
            from_file = 1;
        }
    }
    if (!from_file) {
        *cp = *k->env->cell;
        cell_init(s, cp);
    }
    return from_file;
}

static void nm_complete(struct nm *k, long scans, double t_end)
{
    struct cell_params cp1;
    struct cell_state s1;
    nm_cell(k, t_end, &cp1, &s1);
    k->fid_par = k->acq;
    k->fid_par.ns = scans;
    long m = k->acq.td / 2;
    k->fid = util_realloc(k->fid, (size_t)m * sizeof *k->fid);
    char err[256];
    /* The cell at the start with its parameters; should the file now describe another cell
     * (a new cycler), its state at the end still counts with the parameters it came with. */
    int rc = nmrsim_fid(&k->fid_par, &cp1, &k->s0, &s1, k->env->rng, k->fid, m, err, sizeof err);
    if (rc < 0) {   /* settings are checked as they are made: not expected */
        fprintf(stderr, "insitu-sim: nmrsim: %s\n", err);
        memset(k->fid, 0, (size_t)m * sizeof *k->fid);
        rc = 0;
    }
    k->have_fid = 1;
    k->fid_overflow = rc == 1;
    k->fid_flagged = 0;
    k->fid_t0 = k->t_start;
    k->fid_t1 = t_end;
    k->stat = NM_DONE;
}

/* Scans done by now of the running acquisition. */
static long nm_scans(const struct nm *k)
{
    double d = (sim_clock_now(k->env->clock) - k->t_start) / k->t_scan;
    if (!(d > 0))
        return 0;
    return d >= (double)k->acq.ns ? k->acq.ns : (long)floor(d);
}

/* An acquisition whose time is up is complete (checked as each line arrives). */
static void nm_update(struct nm *k)
{
    if (k->stat == NM_ACQ && nm_scans(k) >= k->acq.ns)
        nm_complete(k, k->acq.ns, k->t_start + (double)k->acq.ns * k->t_scan);
}

static void nm_reset(struct nm *k)
{
    double match = k->set.match;
    int sample = k->set.sample;
    k->set = k->base;
    k->set.match = match;     /* what is in the probe and how it is tuned are not settings */
    k->set.sample = sample;
    k->stat = k->have_fid ? NM_DONE : NM_IDLE;   /* a running acquisition is abandoned */
}

/* --- command handlers ------------------------------------------------------------------ */

static int nm_args(const struct scpi_req *r, int min, int max)
{
    if (r->argc < min)
        return -109;
    if (r->argc > max)
        return -108;
    return 0;
}

/* A numeric setting in [MIN, MAX]; INTEGER: whole numbers only (EVEN: and even). */
static int nm_setnum(const struct scpi_req *r, double *var, double min, double max, double def,
                     struct strbuf *reply)
{
    if (r->query) {
        int e = nm_args(r, 0, 0);
        if (!e)
            strbuf_printf(reply, "%.10g", *var);
        return e;
    }
    int e = nm_args(r, 1, 1);
    return e ? e : scpi_number(r->argv[0], min, max, def, var);
}

static int nm_setlong(const struct scpi_req *r, long *var, double min, double max, double def,
                      int even, struct strbuf *reply)
{
    if (r->query) {
        int e = nm_args(r, 0, 0);
        if (!e)
            strbuf_printf(reply, "%ld", *var);
        return e;
    }
    double v;
    int e = nm_args(r, 1, 1);
    if (e || (e = scpi_number(r->argv[0], min, max, def, &v)))
        return e;
    if (v != floor(v) || (even && fmod(v, 2) != 0))
        return -224;
    *var = (long)v;
    return 0;
}

typedef int (*nm_fn)(struct nm *k, const struct scpi_req *r, struct strbuf *reply);

static int nm_idn(struct nm *k, const struct scpi_req *r, struct strbuf *reply)
{
    (void)k;
    int e = nm_args(r, 0, 0);
    if (!e)
        strbuf_addstr(reply, NM_IDN);
    return e;
}

static int nm_rst(struct nm *k, const struct scpi_req *r, struct strbuf *reply)
{
    (void)reply;
    int e = nm_args(r, 0, 0);
    if (!e)
        nm_reset(k);
    return e;
}

static int nm_cls(struct nm *k, const struct scpi_req *r, struct strbuf *reply)
{
    (void)reply;
    int e = nm_args(r, 0, 0);
    if (!e)
        k->errq.n = 0;
    return e;
}

static int nm_opc(struct nm *k, const struct scpi_req *r, struct strbuf *reply)
{
    (void)k;
    int e = nm_args(r, 0, 0);
    if (!e && r->query)
        strbuf_addch(reply, '1');
    return e;
}

static int nm_err(struct nm *k, const struct scpi_req *r, struct strbuf *reply)
{
    int e = nm_args(r, 0, 0);
    if (!e)
        scpi_err_pop(&k->errq, reply);
    return e;
}

static int nm_err_count(struct nm *k, const struct scpi_req *r, struct strbuf *reply)
{
    int e = nm_args(r, 0, 0);
    if (!e)
        strbuf_printf(reply, "%d", k->errq.n);
    return e;
}

/* :SYST:SIM:CLOCK as the Keithley's; a running acquisition keeps the scans it has done. */
static int nm_sim_clock(struct nm *k, const struct scpi_req *r, struct strbuf *reply)
{
    struct sim_clock *c = k->env->clock;
    if (r->query) {
        int e = nm_args(r, 0, 0);
        if (!e)
            strbuf_printf(reply, "%.9g,%.9g", sim_clock_now(c), c->speed);
        return e;
    }
    int e = nm_args(r, 2, 2);
    double v, speed;
    if (e || (e = scpi_number(r->argv[0], -1e15, 1e15, 0, &v)) ||
        (e = scpi_number(r->argv[1], 1e-6, 1e9, 1, &speed)))
        return e;
    double old = sim_clock_now(c);
    sim_clock_set(c, v, speed);
    if (k->stat == NM_ACQ)
        k->t_start += v - old;
    return 0;
}

static void nm_kv(struct strbuf *b, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void nm_kv(struct strbuf *b, const char *key, const char *fmt, ...)
{
    if (b->len)
        strbuf_addch(b, ',');
    strbuf_printf(b, "%s=", key);
    va_list ap;
    va_start(ap, fmt);
    char buf[128];
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    strbuf_addstr(b, buf);
}

/* :SYST:SIM:STATE? -> key=value,...: the truth now, with the present settings. */
static int nm_sim_state(struct nm *k, const struct scpi_req *r, struct strbuf *reply)
{
    int e = nm_args(r, 0, 0);
    if (e)
        return e;
    double now = sim_clock_now(k->env->clock);
    struct cell_params cp;
    struct cell_state s;
    int from_file = nm_cell(k, now, &cp, &s);
    struct nmrsim_truth t;
    char err[256];
    if (nmrsim_truth(&k->set, &cp, &s, &t, err, sizeof err) < 0)
        return -200;
    nm_kv(reply, "sample", "%s", nmrsim_sample_name(k->set.sample));
    nm_kv(reply, "nuc", "%s", k->set.nucleus);
    nm_kv(reply, "match", "%.6g", k->set.match);
    nm_kv(reply, "field_error_ppm", "%.6g", k->set.field_error);
    nm_kv(reply, "cell", "%s", from_file ? "file" : "fresh");
    nm_kv(reply, "cell_metal", "%s", cp.metal);
    nm_kv(reply, "time", "%.9g", now);
    nm_kv(reply, "charge_C", "%.9g", s.q);
    nm_kv(reply, "throughput_C", "%.9g", s.throughput);
    nm_kv(reply, "micro_Ah", "%.9g", cell_micro_Ah(&s));
    for (int i = 0; i < t.n; i++) {
        const struct nmrsim_component *c = &t.c[i];
        char key[64];
        snprintf(key, sizeof key, "%s_ppm", c->name);
        nm_kv(reply, key, "%.6g", c->ppm);
        snprintf(key, sizeof key, "%s_fwhm", c->name);
        nm_kv(reply, key, "%.6g", c->fwhm);
        snprintf(key, sizeof key, "%s_area", c->name);
        nm_kv(reply, key, "%.9g", c->area);
        snprintf(key, sizeof key, "%s_C", c->name);
        nm_kv(reply, key, "%.9g", c->amount);
    }
    nm_kv(reply, "noise_sd", "%.9g", t.noise);
    nm_kv(reply, "phc0", "%.6g", t.phc0);
    nm_kv(reply, "phc1", "%.6g", t.phc1);
    nm_kv(reply, "overflow", "%d", k->have_fid && k->fid_overflow);
    return 0;
}

static int nm_sim_sample(struct nm *k, const struct scpi_req *r, struct strbuf *reply)
{
    static const char *const words[NMRSIM_NSAMPLES] = { "CELL", "NACL", "LICL", "EMPTY" };
    if (r->query) {
        int e = nm_args(r, 0, 0);
        if (!e)
            strbuf_addstr(reply, words[k->set.sample]);
        return e;
    }
    int e = nm_args(r, 1, 1);
    if (e)
        return e;
    for (int i = 0; i < NMRSIM_NSAMPLES; i++)
        if (scpi_word(r->argv[0], words[i])) {
            k->set.sample = i;
            return 0;
        }
    return -224;
}

static int nm_sim_match(struct nm *k, const struct scpi_req *r, struct strbuf *reply)
{
    return nm_setnum(r, &k->set.match, 0, 1, 1, reply);
}

static int nm_nuc(struct nm *k, const struct scpi_req *r, struct strbuf *reply)
{
    if (r->query) {
        int e = nm_args(r, 0, 0);
        if (!e)
            strbuf_addstr(reply, k->set.nucleus);
        return e;
    }
    int e = nm_args(r, 1, 1);
    if (e)
        return e;
    char buf[32];
    const struct nmrsim_nucleus *n = nmrsim_nucleus_find(scpi_unquote(r->argv[0], buf, sizeof buf));
    if (!n)
        return -224;
    snprintf(k->set.nucleus, sizeof k->set.nucleus, "%s", n->name);
    return 0;
}

static double nm_bf1(const struct nmrsim_params *p)
{
    return nmrsim_bf1(nmrsim_nucleus_find(p->nucleus), p->field);
}

static int nm_field(struct nm *k, const struct scpi_req *r, struct strbuf *reply)
{
    return nm_setnum(r, &k->set.field, 0.01, 30, 7.05, reply);
}

static int nm_bf1q(struct nm *k, const struct scpi_req *r, struct strbuf *reply)
{
    int e = nm_args(r, 0, 0);
    if (!e)
        strbuf_printf(reply, "%.8f", nm_bf1(&k->set));
    return e;
}

static int nm_sfo1q(struct nm *k, const struct scpi_req *r, struct strbuf *reply)
{
    int e = nm_args(r, 0, 0);
    if (!e)
        strbuf_printf(reply, "%.8f", nm_bf1(&k->set) + k->set.o1 * 1e-6);
    return e;
}

static int nm_o1(struct nm *k, const struct scpi_req *r, struct strbuf *reply)
{
    return nm_setnum(r, &k->set.o1, -1e7, 1e7, 0, reply);
}

static int nm_sw(struct nm *k, const struct scpi_req *r, struct strbuf *reply)
{
    return nm_setnum(r, &k->set.sw, 1e3, 5e6, 200e3, reply);
}

/* The group delay lives within the FID: a TD too short for it is refused with -221. */
static int nm_td(struct nm *k, const struct scpi_req *r, struct strbuf *reply)
{
    long td = k->set.td;
    int e = nm_setlong(r, &td, 64, 1048576, 4096, 1, reply);
    if (!e && !r->query) {
        if ((double)(td / 2) <= k->set.grpdly)
            return -221;
        k->set.td = td;
    }
    return e;
}

static int nm_ns(struct nm *k, const struct scpi_req *r, struct strbuf *reply)
{
    return nm_setlong(r, &k->set.ns, 1, 1e6, 64, 0, reply);
}

static int nm_d1(struct nm *k, const struct scpi_req *r, struct strbuf *reply)
{
    return nm_setnum(r, &k->set.d1, 0, 86400, 0.5, reply);
}

static int nm_rg(struct nm *k, const struct scpi_req *r, struct strbuf *reply)
{
    return nm_setnum(r, &k->set.rg, 0.25, 2050, 32, reply);
}

static int nm_p1(struct nm *k, const struct scpi_req *r, struct strbuf *reply)
{
    return nm_setnum(r, &k->set.p1, 0, 1000, 2.5, reply);
}

static int nm_de(struct nm *k, const struct scpi_req *r, struct strbuf *reply)
{
    return nm_setnum(r, &k->set.de, 0, 1000, 6.5, reply);
}

static int nm_zg(struct nm *k, const struct scpi_req *r, struct strbuf *reply)
{
    (void)reply;
    int e = nm_args(r, 0, 0);
    if (e)
        return e;
    if (k->stat == NM_ACQ)
        return -200;
    double now = sim_clock_now(k->env->clock);
    nm_cell(k, now, &k->cp0, &k->s0);   /* may update the match from the file */
    char err[256];
    if (nmrsim_check(&k->set, err, sizeof err) < 0)
        return -221;
    k->acq = k->set;
    k->t_start = now;
    k->t_scan = k->acq.d1 + nmrsim_aq(&k->acq) + k->acq.p1 * 1e-6;
    k->stat = NM_ACQ;
    return 0;
}

static int nm_stat(struct nm *k, const struct scpi_req *r, struct strbuf *reply)
{
    int e = nm_args(r, 0, 0);
    if (e)
        return e;
    if (k->stat == NM_ACQ)
        strbuf_printf(reply, "ACQ %ld,%ld", nm_scans(k), k->acq.ns);
    else
        strbuf_addstr(reply, k->stat == NM_DONE ? "DONE" : "IDLE");
    return 0;
}

/* HALT keeps the scans done; with none done there is nothing to keep. */
static int nm_halt(struct nm *k, const struct scpi_req *r, struct strbuf *reply)
{
    (void)reply;
    int e = nm_args(r, 0, 0);
    if (e || k->stat != NM_ACQ)
        return e;
    long done = nm_scans(k);
    if (done > 0)
        nm_complete(k, done, k->t_start + (double)done * k->t_scan);
    else
        k->stat = k->have_fid ? NM_DONE : NM_IDLE;
    return 0;
}

/* PARS? describes the FID that FID? returns (before any: the settings, NS 0). */
static int nm_pars(struct nm *k, const struct scpi_req *r, struct strbuf *reply)
{
    int e = nm_args(r, 0, 0);
    if (e)
        return e;
    const struct nmrsim_params *p = k->have_fid ? &k->fid_par : &k->set;
    double now = sim_clock_now(k->env->clock);
    double bf1 = nm_bf1(p), decim = fmax(1, round(NM_ADC_RATE / p->sw));
    nm_kv(reply, "NUC", "%s", p->nucleus);
    nm_kv(reply, "BF1", "%.8f", bf1);
    nm_kv(reply, "SFO1", "%.8f", bf1 + p->o1 * 1e-6);
    nm_kv(reply, "O1", "%.10g", p->o1);
    nm_kv(reply, "SW", "%.10g", p->sw);
    nm_kv(reply, "TD", "%ld", p->td);
    nm_kv(reply, "NS", "%ld", k->have_fid ? p->ns : 0);
    nm_kv(reply, "D1", "%.10g", p->d1);
    nm_kv(reply, "RG", "%.10g", p->rg);
    nm_kv(reply, "P1", "%.10g", p->p1);
    nm_kv(reply, "DE", "%.10g", p->de);
    nm_kv(reply, "DIGMOD", "%d", p->grpdly > 0);
    nm_kv(reply, "GRPDLY", "%.10g", p->grpdly);
    nm_kv(reply, "DSPFVS", "%d", 20);
    nm_kv(reply, "DECIM", "%.10g", decim);
    nm_kv(reply, "TSTART", "%.9g", k->have_fid ? k->fid_t0 : now);
    nm_kv(reply, "TEND", "%.9g", k->have_fid ? k->fid_t1 : now);
    return 0;
}

/* FID? -> #<d><len><bytes>: TD little-endian float64, re/im interleaved (IEEE 488.2
 * definite-length arbitrary block). */
static int nm_fidq(struct nm *k, const struct scpi_req *r, struct strbuf *reply)
{
    int e = nm_args(r, 0, 0);
    if (e)
        return e;
    if (!k->have_fid) {
        strbuf_addstr(reply, "#10");
        return -230;
    }
    long values = k->fid_par.td;
    size_t len = (size_t)values * 8;
    char head[32];
    int nd = snprintf(head, sizeof head, "%zu", len);
    strbuf_printf(reply, "#%d%s", nd, head);
    const double *v = (const double *)k->fid;
    unsigned char le[8];
    for (long i = 0; i < values; i++) {
        uint64_t u;
        memcpy(&u, &v[i], sizeof u);
        for (int b = 0; b < 8; b++)
            le[b] = (unsigned char)(u >> (8 * b));
        strbuf_add(reply, (const char *)le, sizeof le);
    }
    if (k->fid_overflow && !k->fid_flagged) {
        k->fid_flagged = 1;   /* said once per acquisition, as an ADC overflow message */
        return -231;
    }
    return 0;
}

static const struct nm_cmd {
    const char *pattern;
    int query;          /* 0: the command form, 1: the query form, 2: both */
    nm_fn fn;
} nm_cmds[] = {
    { "*IDN", 1, nm_idn },
    { "*RST", 0, nm_rst },
    { "*CLS", 0, nm_cls },
    { "*OPC", 2, nm_opc },
    { ":SYSTem:ERRor[:NEXT]", 1, nm_err },
    { ":SYSTem:ERRor:COUNt", 1, nm_err_count },
    { ":SYSTem:SIM:CLOCK", 2, nm_sim_clock },
    { ":SYSTem:SIM:STATe", 1, nm_sim_state },
    { ":SYSTem:SIM:SAMPle", 2, nm_sim_sample },
    { ":SYSTem:SIM:MATCh", 2, nm_sim_match },
    { "NUCleus", 2, nm_nuc },
    { "FIELD", 2, nm_field },
    { "BF1", 1, nm_bf1q },
    { "SFO1", 1, nm_sfo1q },
    { "O1", 2, nm_o1 },
    { "SW", 2, nm_sw },
    { "TD", 2, nm_td },
    { "NS", 2, nm_ns },
    { "D1", 2, nm_d1 },
    { "RG", 2, nm_rg },
    { "P1", 2, nm_p1 },
    { "DE", 2, nm_de },
    { "ZG", 0, nm_zg },
    { "STATus", 1, nm_stat },
    { "HALT", 0, nm_halt },
    { "PARS", 1, nm_pars },
    { "FID", 1, nm_fidq },
};

static int nm_dispatch(void *ctx, const struct scpi_req *r, struct strbuf *reply)
{
    struct nm *k = ctx;
    for (size_t i = 0; i < ARRAY_LEN(nm_cmds); i++) {
        const struct nm_cmd *c = &nm_cmds[i];
        if (c->query != 2 && c->query != r->query)
            continue;
        if (scpi_match(c->pattern, r))
            return c->fn(k, r, reply);
    }
    return -113;
}

static void nm_error(void *ctx, int code)
{
    struct nm *k = ctx;
    scpi_err_push(&k->errq, code);
}

static double nm_line(void *inst, const char *line, struct strbuf *reply)
{
    struct nm *k = inst;
    nm_update(k);
    scpi_run(line, nm_dispatch, nm_error, k, reply);
    return 0;
}

/* --- options ----------------------------------------------------------------------------- */

static const char *const nm_options[] = {
    "field", "field_error", "phase", "noise", "p90", "grpdly", "q_shade", "electrolyte",
    "sample", "match", "adc", NULL,
};

/* A charge: a bare number of coulombs or a quantity ("5mAh"). */
static int nm_charge(const char *text, double *out, char *err, size_t errlen)
{
    char *end;
    double v = strtod(text, &end);
    if (end != text && !*end && isfinite(v)) {
        *out = v;
        return 0;
    }
    return units_parse(text, "C", out, err, errlen);
}

static int nm_option(struct nm *k, const char *name, const char *value, char *err, size_t errlen)
{
    struct nmrsim_params *p = &k->base;
    char why[200] = "not a number";
    double v = NAN;
    if (!strcmp(name, "sample")) {
        int s = nmrsim_sample_find(value);
        if (s < 0) {
            snprintf(err, errlen, "sample=%s: cell, nacl, licl or empty", value);
            return -1;
        }
        p->sample = s;
        return 0;
    }
    if (!strcmp(name, "q_shade") || !strcmp(name, "electrolyte")) {
        if (nm_charge(value, &v, why, sizeof why) < 0 || !(v >= 0)) {
            snprintf(err, errlen, "%s=%s: %s", name, value,
                     v < 0 ? "must be >= 0" : why);
            return -1;
        }
        *(!strcmp(name, "q_shade") ? &p->q_shade : &p->electrolyte) = v;
        return 0;
    }
    char *end;
    v = strtod(value, &end);
    if (end == value || *end || !isfinite(v)) {
        snprintf(err, errlen, "%s=%s: not a number", name, value);
        return -1;
    }
    if (!strcmp(name, "field"))
        p->field = v;
    else if (!strcmp(name, "field_error"))
        p->field_error = v;
    else if (!strcmp(name, "phase"))
        p->phase = v;
    else if (!strcmp(name, "noise"))
        p->noise = v;
    else if (!strcmp(name, "p90"))
        p->p90 = v;
    else if (!strcmp(name, "grpdly"))
        p->grpdly = v;
    else if (!strcmp(name, "match"))
        p->match = v;
    else if (!strcmp(name, "adc"))
        p->adc_max = v;
    if (nmrsim_check(p, why, sizeof why) < 0) {
        snprintf(err, errlen, "%s=%s: %s", name, value, why);
        return -1;
    }
    return 0;
}

static void *nm_create(const struct sim_env *env, const char *driver, char *err, size_t errlen)
{
    (void)driver;
    struct nm *k = util_calloc(1, sizeof *k);
    k->env = env;
    k->match_file = NAN;
    nmrsim_defaults(&k->base, env->cell->metal);
    char *opts = util_strdup(env->options), *save = NULL;
    for (char *t = strtok_r(opts, "\n", &save); t; t = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(t, '=');
        *eq = 0;
        if (nm_option(k, t, eq + 1, err, errlen) < 0) {
            free(opts);
            free(k);
            return NULL;
        }
    }
    free(opts);
    k->set = k->base;
    nm_reset(k);
    return k;
}

static void nm_destroy(void *inst)
{
    struct nm *k = inst;
    free(k->fid);
    free(k);
}

const struct sim_driver sim_nmrsim = {
    "nmrsim", "pulse NMR spectrometer observing the cell", nm_create, nm_line, nm_destroy,
    nm_options,
};
