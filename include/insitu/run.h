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
 * array fields keep only the newest run_keep_arrays records; the archive holds everything.
 *
 * A table can grow a field after it has records (run_field_add: a result defined in the middle of
 * a run); the records made before hold the missing value of its type (RUN_F64_MISSING, ...).
 * A value of an existing record can be replaced (run_update: derived values recomputed), and an
 * axis's coordinates too (run_axis_set, same length); observers are told of both. */
#ifndef INSITU_RUN_H
#define INSITU_RUN_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

enum run_type { RUN_F64 = 1, RUN_I32 = 2, RUN_STR = 3 };

/* The values of a record that predates its field (run_field_add), in memory and in the file
 * (its _FillValue): NaN for doubles (every point of an array), INT32_MIN for int32 (which
 * run_get_f64 reads as NaN), the empty string for strings. */
#define RUN_F64_MISSING NAN
#define RUN_I32_MISSING INT32_MIN

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
        char **str;         /* NULL entries: missing (read as "") */
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
    /* Field FIELD (the last, t->nfields - 1) was added to T, which may hold records already. */
    void (*field)(void *arg, struct run_table *t, int field);
    /* FIELD of record INDEX of T was replaced by V (run_update). Return -1 if the new value
     * could not be kept; run_update then fails. */
    int (*update)(void *arg, struct run_table *t, size_t index, int field, const union run_value *v);
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

/* Append the field F to the existing table T (which may hold records): the same rules as the
 * fields of run_table_add (a name unique in the group, not an axis; an array is of doubles over
 * a named dimension), and an array's dimension must have the length it already has in the group
 * (an axis, or another array field). Records made before read as missing (RUN_*_MISSING; an
 * array record still in memory as LEN NaNs). From now on run_append takes t->nfields values.
 * Adding a field that exists with the identical definition (name, units, long_name, type, dim,
 * len, flags; NULL units and long_name mean "1" and the name, as in run_table_add) does nothing
 * and returns 0; any other definition of an existing name is an error. Observers get `field`.
 * Returns 0, or -1 with ERR set. */
int run_field_add(struct run_table *t, const struct run_field *f, char *err, size_t errlen);

/* Replace the value of FIELD in record INDEX (< t->nrec) by V (for an array field V->arr holds
 * len doubles; for a string NULL means ""). The copy in memory is replaced (an array record
 * only if still kept: see run_get_array), and observers get `update`, which for the archive
 * rewrites the record in the file even when memory no longer has it. The record's time and
 * other fields are untouched. Returns 0, or -1 for an index or field out of range or when an
 * observer failed to keep the new value (the copy in memory is replaced all the same). */
int run_update(struct run_table *t, size_t index, int field, const union run_value *v);

/* Set (or replace) the coordinate values of axis DIM in GROUP. Replacing keeps the length: an
 * axis that exists with another length, or a dimension that an array field of GROUP uses with
 * another length, is refused (-1). Observers get `axis` again, with the new values. */
int run_axis_set(struct run *r, const char *group, const char *dim, size_t len,
                 const char *units, const char *long_name, const double *values);
const struct run_axis *run_axis_find(const struct run *r, const char *group, const char *dim);

/* Append a record at run time TIME. V holds one value per field (t->nfields: fields added by
 * run_field_add included). Returns 0 when acknowledged, -1 when an observer failed to keep it
 * (the record stays in memory). */
int run_append(struct run_table *t, double time, const union run_value *v);

/* Reading back. Index i < t->nrec. run_array returns NULL for records no longer in memory. */
double run_get_f64(const struct run_table *t, int field, size_t i);   /* F64 or I32; missing: NaN */
const char *run_get_str(const struct run_table *t, int field, size_t i);  /* missing: "" */
const double *run_get_array(const struct run_table *t, int field, size_t i);

/* Event log: append at the current run time. */
int run_event(struct run *r, enum run_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int run_event_at(struct run *r, double time, enum run_level level, const char *text);
const char *run_level_name(enum run_level level);

/* Mark the run ended (observers' end hooks run once). */
void run_end(struct run *r, const char *reason);

#endif
