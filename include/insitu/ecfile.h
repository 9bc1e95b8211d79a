/* ecfile: electrochemistry files that other programs write and read.
 *
 * Import: BioLogic EC-Lab text exports (.mpt). mpt_parse is pure (text in, columns out): it
 * reads the "EC-Lab ASCII FILE" header (or a file without one, which starts at the column
 * names), the tab-separated column names and the data, with the decimal mark (point or comma)
 * found from the data itself, CRLF or LF line ends and Latin-1 or UTF-8 text. Every column is
 * split into quantity and unit ("I/mA" -> "I", "mA") and converted to SI ("mA" -> A,
 * "mA.h" -> A h, "Ohm" -> ohm); mpt_to_run then writes the run's ec table (ec.h) and, with
 * impedance columns, an "eis" table.
 *
 * Export: the ec group of a run file as Battery Data Format CSV (bdf_export). */
#ifndef INSITU_ECFILE_H
#define INSITU_ECFILE_H

#include <stddef.h>
#include <stdio.h>

#include "insitu/run.h"
#include "insitu/util.h"

struct mpt_column {
    char *name;         /* as in the file, in UTF-8: "I/mA" */
    char *quantity;     /* what it is: "I"; the whole name when it has no unit */
    char *unit;         /* the unit written in the file ("mA"), NULL without one */
    char *si;           /* the unit of V: SI ("A", "A h", "ohm", "Hz", "degC"); the file's own
                         * unit when it has no SI form here ("%", "degree"); NULL without a
                         * unit, and for "control/V/mA" (V or mA by step: left as written) */
    double *v;          /* nrows values in SI; NAN for an empty cell */
};

struct mpt_time {       /* a wall-clock time as written in the file (no time zone) */
    int year, month, day, hour, min;
    double sec;
};

struct mpt {
    char *file;         /* the name given to mpt_parse, for messages */
    size_t nrows;
    int ncols;
    struct mpt_column *cols;
    int *line;          /* nrows: the file line of each row, for messages */
    char decimal;       /* the decimal mark of the data: '.' or ',' */
    int column_line;    /* the line of the column names */
    char *header;       /* the header lines before the column names (UTF-8), NULL if none */
    char *technique;    /* EC-Lab technique name(s), "; "-separated, or NULL */
    char *device;       /* "Device : ..." and "Run on channel : ..." of the header, or NULL */
    char *channel;
    int has_start;      /* "Acquisition started on : mm/dd/yyyy HH:MM:SS[.fff]" was found */
    struct mpt_time start;
    char *start_text;   /* that time as written, or NULL */
    int nwarn;          /* warnings (recovered problems), the first few kept in warn */
    char *warn[8];
};

/* Parse the text of a .mpt file. FILE names it in messages ("FILE:LINE: reason"). Returns 0
 * with OUT filled (warnings say what was recovered: a wrong header line count, ragged rows, a
 * truncated last row), or -1 with err set and OUT empty. Never reads beyond LEN; TEXT need not
 * be terminated. */
int mpt_parse(const char *text, size_t len, const char *file, struct mpt *out, char *err,
              size_t errlen);
void mpt_free(struct mpt *m);
/* The index of the first column measuring QUANTITY ("Ewe", "(Q-Qo)"), or -1. */
int mpt_find(const struct mpt *m, const char *quantity);
/* The acquisition start as UTC, read as local time of this machine (TZ). Returns 0, or -1 when
 * the file has none or it is not a valid time. */
int mpt_start_utc(const struct mpt *m, double *utc);

/* Write M into run R: the ec table (every row with a time: voltage from Ecell, Ewe or <Ewe>;
 * current from I or <I>; charge from (Q-Qo), else the sum of dq, else the integral of I dt;
 * charge_half_cycle from Q charge/discharge, else the charge since the half cycle began;
 * step Ns+1; cycle number; half cycle, else counted from changes of the current's sign) and,
 * if the file has impedance columns, the table "eis" (freq, z_real, z_imag; rows with
 * freq > 0), and the attributes eclab_technique, eclab_device, eclab_channel,
 * eclab_acquisition_started and eclab_header.
 * Record times are the file's time/s. *NREC gets the ec records written; rows skipped (no
 * time) are counted in *NSKIP. Returns 0, or -1 with err set (a table that cannot be made, a
 * record an observer refused). */
int mpt_to_run(const struct mpt *m, struct run *r, size_t *nrec, size_t *nskip, char *err,
               size_t errlen);

/* Battery Data Format: write the ec group of the run file NCPATH as CSV to OUT: Test Time / s,
 * Voltage / V, Current / A, and, when the file has what they need, Unix Time / s, Cycle
 * Count / 1, Step Count / 1, Net Capacity / Ah, Charging Capacity / Ah, Discharging
 * Capacity / Ah. Numbers are %.10g with a '.' whatever the locale; missing values are empty
 * cells. *NROWS gets the rows written. Returns 0, or -1 with err set. */
int bdf_export(const char *ncpath, FILE *out, size_t *nrows, char *err, size_t errlen);
/* The same into the file OUTPATH, which must not exist unless FORCE; a failure leaves no
 * OUTPATH behind (and with FORCE the old one untouched). */
int bdf_export_file(const char *ncpath, const char *outpath, int force, size_t *nrows,
                    char *err, size_t errlen);

#endif
