/* insitu-sim internals: the program core (clock, connection, faults: sim.c), a small SCPI
 * parser (scpi.c), the cell state file the instruments share (state.c) and the simulated
 * instruments (keithley.c, nmrsim.c), which sim.c finds through the sim_drivers table. */
#ifndef INSITU_SIM_H
#define INSITU_SIM_H

#include <stddef.h>

#include "insitu/cell.h"
#include "insitu/util.h"

/* --- the simulated clock ---------------------------------------------------------------
 * Virtual time = anchor + (monotonic now - anchor_mono) * speed. It starts at 0 when the sim
 * starts; :SYST:SIM:CLOCK re-anchors it so that insitu's experiment clock and the cell agree. */
struct sim_clock {
    double anchor_v, anchor_mono, speed;
};
double sim_mono(void);   /* CLOCK_MONOTONIC, seconds */
double sim_clock_now(const struct sim_clock *c);
void sim_clock_set(struct sim_clock *c, double virtual_now, double speed);

/* What an instrument gets from the core. */
struct sim_env {
    struct sim_clock *clock;
    struct cell_rng *rng;              /* measurement noise (seeded by --seed) */
    const struct cell_params *cell;    /* the cell model's parameters */
    const char *model;                 /* "li-li", or the cell file's name */
    int verbose;
    const char *state_path;            /* the cell state file (state=, $INSITU_SIM_STATE), or NULL */
    const char *options;               /* the driver's options, "name=value\n"... (never NULL) */
};

struct sim_driver {
    const char *name;                  /* "keithley2400" */
    const char *summary;
    /* ENV->options holds the options named in OPTIONS; NULL with err on a bad one (a usage
     * error: insitu-sim exits 2). */
    void *(*create)(const struct sim_env *env, const char *driver, char *err, size_t errlen);
    /* One received line (terminator removed, never empty). Put the reply, without its
     * newline, in REPLY (left empty when there is none; bytes with a length: a binary block
     * may hold NULs and newlines) and return how many real seconds the instrument needs
     * before the reply goes out; it reads no further line until then. */
    double (*line)(void *inst, const char *line, struct strbuf *reply);
    void (*destroy)(void *inst);
    const char *const *options;        /* NAME=VALUE options of this driver (NULL-terminated) */
};

extern const struct sim_driver sim_keithley2400, sim_keithley2450, sim_keithley6430, sim_nmrsim;

/* --- the cell state file ----------------------------------------------------------------
 * The simulated instruments of one insitu session see one cell: the cycler that drives it
 * publishes its state to a small text file of `key value` lines (written to a temporary file
 * in the same directory and renamed over, under an flock of PATH.lock, keeping the keys other
 * writers own, such as a tuner's `match`), and the spectrometer reads it. insitu-sim(1),
 * STATE FILE, has the format. */
struct sim_state {
    int have_cell;                     /* the cell keys were there and valid */
    double time;                       /* virtual s the cell state is at */
    double current;                    /* A flowing from then on (0: output off) */
    char writer[32], model[64];
    struct cell_params params;
    struct cell_state cell;
    int have_match;
    double match;                      /* probe match factor (a tuner's) */
};
/* Read PATH. 0, or -1 (no file, unreadable: err says why). Missing or broken keys leave
 * have_cell / have_match 0. */
int sim_state_read(const char *path, struct sim_state *st, char *err, size_t errlen);
/* Publish a cell: the cell keys are replaced, other keys kept. 0 or -1 with err. */
int sim_state_write_cell(const char *path, const char *writer, const char *model, double time,
                         double current, const struct cell_params *p,
                         const struct cell_state *s, char *err, size_t errlen);
/* Publish the probe match factor (the tuner's key). 0 or -1 with err. */
int sim_state_write_match(const char *path, const char *writer, double match, char *err,
                          size_t errlen);
/* ST's cell advanced to virtual time T with ST's current (in sub-steps of at most 1 s, as the
 * cycler itself steps, up to 1e5 of them); unchanged when T is not later than ST's time. */
void sim_state_advance(const struct sim_state *st, double t, struct cell_state *out);

/* --- SCPI ------------------------------------------------------------------------------ */

#define SCPI_MAX_NODES 12
#define SCPI_MAX_ARGS 16

/* One command of a program message, its header resolved to an absolute path. */
struct scpi_req {
    int n;                                /* header nodes */
    char node[SCPI_MAX_NODES][24];        /* mnemonics as sent ("SOUR", "CURRent", "*IDN") */
    int common;                           /* a *XXX common command */
    int query;                            /* ended in '?' */
    int argc;
    char *argv[SCPI_MAX_ARGS];            /* trimmed, quotes kept */
};

/* Called for each command of a line; returns 0, or a SCPI error code to queue. */
typedef int (*scpi_fn)(void *ctx, const struct scpi_req *r, struct strbuf *reply);

/* Split LINE into its ;-separated commands, resolve headers relative to the previous one
 * (SCPI's rule), and call FN for each. Replies of several queries are joined by ';'.
 * Syntax errors are passed to ERR_FN with their code. */
void scpi_run(const char *line, scpi_fn fn, void (*err_fn)(void *ctx, int code), void *ctx,
              struct strbuf *reply);
/* Does R's header match PATTERN ("[:SOURce]:CURRent[:LEVel][:IMMediate][:AMPLitude]")?
 * Upper case marks the short form; [] nodes are optional; a numeric suffix (SOUR1) is allowed. */
int scpi_match(const char *pattern, const struct scpi_req *r);
/* Parse a <numeric value> (also MIN, MAX, DEF) in [min, max]. 0, -104 or -222. */
int scpi_number(const char *arg, double min, double max, double def, double *out);
/* Parse a <Boolean> (1, 0, ON, OFF). 0 or -104. */
int scpi_bool(const char *arg, int *out);
/* Is ARG (quotes removed, any case) the mnemonic PATTERN in short or long form? */
int scpi_word(const char *arg, const char *pattern);
/* ARG without surrounding "" or '' (into BUF). */
const char *scpi_unquote(const char *arg, char *buf, size_t len);
/* The standard message of a SCPI error code. */
const char *scpi_error_text(int code);

/* The error/event queue (10 entries, as the 2400; overflow replaces the last with -350). */
struct scpi_errq {
    int n;
    int code[10];
};
void scpi_err_push(struct scpi_errq *q, int code);
/* Oldest error as `CODE,"text"`, or `0,"No error"`; removes it. */
void scpi_err_pop(struct scpi_errq *q, struct strbuf *reply);

#endif
