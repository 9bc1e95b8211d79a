/* run: the data of one experiment, in memory, as it is produced.
 *
 * A run holds attributes (metadata, global or per group), tables and axes. A table belongs to a
 * group (an instrument role: "ec", "nmr", "atmc", "spm", "log", ...) and is a sequence of records
 * along an unlimited record dimension (normally "time"); each record has a time (run seconds)
 * and one value per field. A field is a scalar (double, int32 or string) or a fixed-length array
 * of doubles along a named axis dimension (a spectrum over "ppm", an S11 sweep over "freq").
 * The event log is the table "log" (level, text).
 *
 * Data flows one way: instruments and the engine append; observers (the archive, the panes) are
 * told synchronously. A record is acknowledged when run_append returns 0: by then every observer,
 * the archive's journal included, has it.
 *
 * Memory stays flat over long runs: scalar fields keep their whole history (a few MB for 48 h),
 * array fields keep only the newest run_keep_arrays records; the archive holds everything. */
#ifndef INSITU_RUN_H
#define INSITU_RUN_H

#include <stddef.h>
#include <stdint.h>

enum run_type { RUN_F64 = 1, RUN_I32 = 2, RUN_STR = 3 };

/* Event levels: the order is the archive's flag_values. */
enum run_level { RUN_DEBUG = 0, RUN_INFO, RUN_NOTE, RUN_WARN, RUN_ERROR };
#define RUN_LEVEL_NAMES "debug info note warning error"

struct run_field {
    const char *name;       /* variable name, util_valid_name() */
    const char *units;      /* UDUNITS string ("V", "A", "A h", "1") */
    const char *long_name;
    enum run_type type;
    const char *dim;        /* NULL: scalar; else the fixed axis dimension of an array field */
    size_t len;             /* points per record of an array field */
    const char *flags;      /* I32 only, optional: CF flag_meanings, values 0..n-1 */
};

union run_value {
    double f64;
    int32_t i32;
    const char *str;
    const double *arr;      /* len doubles */
};

struct run_attr {
    char *group;            /* NULL: global */
    char *key;
    char *text;             /* text attribute, or NULL */
    double *num;            /* numeric attribute (n values), or NULL */
    size_t n;
};

struct run_axis {
    char *group, *dim, *units, *long_name;
    size_t len;
    double *values;
};

struct run_column {         /* in-memory storage of one field */
    union {
        double *f64;
        int32_t *i32;
        char **str;
        double *arr;        /* ring of keep * len doubles */
    } v;
    size_t cap;
};

struct run_table {
    struct run *run;
    int id;                 /* index in the run, stable */
    char *group;
    char *recdim;           /* record dimension and coordinate variable name */
    int nfields;
    struct run_field *fields;   /* deep copies */
    struct run_column *cols;
    double *time;           /* run seconds of each record */
    size_t nrec, cap;
    size_t keep;            /* array records kept in memory */
};

struct run_observer {
    void *arg;
    void (*attr)(void *arg, struct run *r, const struct run_attr *a);
    void (*table)(void *arg, struct run_table *t);
    void (*axis)(void *arg, struct run *r, const struct run_axis *ax);
    /* Return -1 if the record could not be kept (e.g. disk full); run_append then fails. */
    int (*record)(void *arg, struct run_table *t, size_t index, double time, const union run_value *v);
    void (*end)(void *arg, struct run *r, const char *reason);
};

struct run {
    char *name;
    double utc0;            /* real UTC at the start */
    double t0;              /* clock_now() at the start: run time = clock_now() - t0 */
    int ended;
    char *end_reason;

    int nattrs;
    struct run_attr *attrs;
    int ntables;
    struct run_table **tables;
    int naxes;
    struct run_axis *axes;

    struct run_table *log;  /* the event log, group "log" */
    size_t nwarn, nerror;   /* events at those levels */

    int nobs;
    struct run_observer *obs;
};

extern size_t run_keep_arrays;   /* default 16 */

/* A new run named NAME (util_valid_name) starting now, with its "log" table. */
struct run *run_new(const char *name, double utc0, double t0);
void run_free(struct run *r);
/* Run seconds now (virtual clock). */
double run_time(const struct run *r);

/* Observers are told of everything from now on; run_replay tells one observer what exists. */
int run_observe(struct run *r, const struct run_observer *o);
void run_unobserve(struct run *r, void *arg);
void run_replay(struct run *r, const struct run_observer *o);

/* Attributes: set or replace. GROUP NULL is global. */
int run_attr_text(struct run *r, const char *group, const char *key, const char *text);
int run_attr_num(struct run *r, const char *group, const char *key, const double *v, size_t n);
const struct run_attr *run_attr_find(const struct run *r, const char *group, const char *key);

/* A table in GROUP with record dimension RECDIM ("time" when NULL). Returns the existing table
 * if GROUP/RECDIM is already defined with the same fields, NULL (and err) if it differs. */
struct run_table *run_table_add(struct run *r, const char *group, const char *recdim,
                                const struct run_field *fields, int nfields,
                                char *err, size_t errlen);
struct run_table *run_table_find(const struct run *r, const char *group, const char *recdim);
int run_field_index(const struct run_table *t, const char *name);

/* Set (or replace) the coordinate values of axis DIM in GROUP. */
int run_axis_set(struct run *r, const char *group, const char *dim, size_t len,
                 const char *units, const char *long_name, const double *values);
const struct run_axis *run_axis_find(const struct run *r, const char *group, const char *dim);

/* Append a record at run time TIME. V holds one value per field. Returns 0 when acknowledged,
 * -1 when an observer failed to keep it (the record stays in memory). */
int run_append(struct run_table *t, double time, const union run_value *v);

/* Reading back. Index i < t->nrec. run_array returns NULL for records no longer in memory. */
double run_get_f64(const struct run_table *t, int field, size_t i);   /* F64 or I32 */
const char *run_get_str(const struct run_table *t, int field, size_t i);
const double *run_get_array(const struct run_table *t, int field, size_t i);

/* Event log: append at the current run time. */
int run_event(struct run *r, enum run_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int run_event_at(struct run *r, double time, enum run_level level, const char *text);
const char *run_level_name(enum run_level level);

/* Mark the run ended (observers' end hooks run once). */
void run_end(struct run *r, const char *reason);

#endif
