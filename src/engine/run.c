/* run: the data of one experiment in memory, and the observers that follow it. */
#include "insitu/run.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "insitu/clock.h"
#include "insitu/util.h"

size_t run_keep_arrays = 16;

static const struct run_field run_log_fields[] = {
    { "level", "1", "event level", RUN_I32, NULL, 0, RUN_LEVEL_NAMES },
    { "text", "1", "event text", RUN_STR, NULL, 0, NULL },
};

static char *run_dup(const char *s)
{
    return s ? util_strdup(s) : NULL;
}

static int run_streq(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

struct run *run_new(const char *name, double utc0, double t0)
{
    struct run *r = util_calloc(1, sizeof *r);
    r->name = util_strdup(name);
    r->utc0 = utc0;
    r->t0 = t0;
    r->log = run_table_add(r, "log", "time", run_log_fields, (int)ARRAY_LEN(run_log_fields),
                           NULL, 0);
    return r;
}

static void run_table_free(struct run_table *t)
{
    for (int f = 0; f < t->nfields; f++) {
        struct run_field *fd = &t->fields[f];
        if (fd->type == RUN_STR) {
            for (size_t i = 0; i < t->nrec; i++)
                free(t->cols[f].v.str[i]);
        }
        free(t->cols[f].v.f64);  /* every member of the union is one allocation */
        free((char *)fd->name);
        free((char *)fd->units);
        free((char *)fd->long_name);
        free((char *)fd->dim);
        free((char *)fd->flags);
    }
    free(t->fields);
    free(t->cols);
    free(t->time);
    free(t->group);
    free(t->recdim);
    free(t);
}

void run_free(struct run *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->nattrs; i++) {
        free(r->attrs[i].group);
        free(r->attrs[i].key);
        free(r->attrs[i].text);
        free(r->attrs[i].num);
    }
    free(r->attrs);
    for (int i = 0; i < r->ntables; i++)
        run_table_free(r->tables[i]);
    free(r->tables);
    for (int i = 0; i < r->naxes; i++) {
        struct run_axis *a = &r->axes[i];
        free(a->group);
        free(a->dim);
        free(a->units);
        free(a->long_name);
        free(a->values);
    }
    free(r->axes);
    free(r->obs);
    free(r->name);
    free(r->end_reason);
    free(r);
}

double run_time(const struct run *r)
{
    return clock_now() - r->t0;
}

int run_observe(struct run *r, const struct run_observer *o)
{
    r->obs = util_reallocarray(r->obs, (size_t)r->nobs + 1, sizeof *r->obs);
    r->obs[r->nobs++] = *o;
    return 0;
}

void run_unobserve(struct run *r, void *arg)
{
    for (int i = 0; i < r->nobs; i++) {
        if (r->obs[i].arg == arg) {
            memmove(&r->obs[i], &r->obs[i + 1], (size_t)(r->nobs - i - 1) * sizeof *r->obs);
            r->nobs--;
            i--;
        }
    }
}

void run_replay(struct run *r, const struct run_observer *o)
{
    /* Order matters for writers: attributes, then table definitions, then axes, then records in
     * time order within each table (what memory still holds). */
    if (o->attr)
        for (int i = 0; i < r->nattrs; i++)
            o->attr(o->arg, r, &r->attrs[i]);
    if (o->table)
        for (int i = 0; i < r->ntables; i++)
            o->table(o->arg, r->tables[i]);
    if (o->axis)
        for (int i = 0; i < r->naxes; i++)
            o->axis(o->arg, r, &r->axes[i]);
    if (!o->record)
        return;
    for (int i = 0; i < r->ntables; i++) {
        struct run_table *t = r->tables[i];
        union run_value *v = util_calloc((size_t)t->nfields, sizeof *v);
        for (size_t k = 0; k < t->nrec; k++) {
            int complete = 1;
            for (int f = 0; f < t->nfields; f++) {
                switch (t->fields[f].type) {
                case RUN_F64: v[f].f64 = t->cols[f].v.f64[k]; break;
                case RUN_I32: v[f].i32 = t->cols[f].v.i32[k]; break;
                case RUN_STR: v[f].str = t->cols[f].v.str[k]; break;
                }
                if (t->fields[f].dim) {
                    v[f].arr = run_get_array(t, f, k);
                    if (!v[f].arr)
                        complete = 0;
                }
            }
            if (complete)
                o->record(o->arg, t, k, t->time[k], v);
        }
        free(v);
    }
}

static struct run_attr *run_attr_slot(struct run *r, const char *group, const char *key)
{
    for (int i = 0; i < r->nattrs; i++) {
        struct run_attr *a = &r->attrs[i];
        if (run_streq(a->group, group) && strcmp(a->key, key) == 0) {
            free(a->text);
            free(a->num);
            a->text = NULL;
            a->num = NULL;
            a->n = 0;
            return a;
        }
    }
    r->attrs = util_reallocarray(r->attrs, (size_t)r->nattrs + 1, sizeof *r->attrs);
    struct run_attr *a = &r->attrs[r->nattrs++];
    memset(a, 0, sizeof *a);
    a->group = run_dup(group);
    a->key = util_strdup(key);
    return a;
}

static void run_attr_notify(struct run *r, const struct run_attr *a)
{
    for (int i = 0; i < r->nobs; i++)
        if (r->obs[i].attr)
            r->obs[i].attr(r->obs[i].arg, r, a);
}

int run_attr_text(struct run *r, const char *group, const char *key, const char *text)
{
    if (!util_valid_name(key))
        return -1;
    struct run_attr *a = run_attr_slot(r, group, key);
    a->text = util_strdup(text);
    run_attr_notify(r, a);
    return 0;
}

int run_attr_num(struct run *r, const char *group, const char *key, const double *v, size_t n)
{
    if (!util_valid_name(key) || n == 0)
        return -1;
    struct run_attr *a = run_attr_slot(r, group, key);
    a->num = util_malloc(n * sizeof *v);
    memcpy(a->num, v, n * sizeof *v);
    a->n = n;
    run_attr_notify(r, a);
    return 0;
}

const struct run_attr *run_attr_find(const struct run *r, const char *group, const char *key)
{
    for (int i = 0; i < r->nattrs; i++)
        if (run_streq(r->attrs[i].group, group) && strcmp(r->attrs[i].key, key) == 0)
            return &r->attrs[i];
    return NULL;
}

struct run_table *run_table_find(const struct run *r, const char *group, const char *recdim)
{
    if (!recdim)
        recdim = "time";
    for (int i = 0; i < r->ntables; i++)
        if (strcmp(r->tables[i]->group, group) == 0 && strcmp(r->tables[i]->recdim, recdim) == 0)
            return r->tables[i];
    return NULL;
}

static int run_fields_same(const struct run_table *t, const struct run_field *f, int n)
{
    if (t->nfields != n)
        return 0;
    for (int i = 0; i < n; i++) {
        const struct run_field *a = &t->fields[i], *b = &f[i];
        if (strcmp(a->name, b->name) || a->type != b->type || !run_streq(a->dim, b->dim) ||
            (a->dim && a->len != b->len) || !run_streq(a->units, b->units))
            return 0;
    }
    return 1;
}

/* A deep copy of S as the run keeps it: units "1" and long_name the name when not given. */
static void run_field_copy(struct run_field *d, const struct run_field *s)
{
    *d = *s;
    d->name = util_strdup(s->name);
    d->units = util_strdup(s->units ? s->units : "1");
    d->long_name = util_strdup(s->long_name ? s->long_name : s->name);
    d->dim = run_dup(s->dim);
    d->flags = run_dup(s->flags);
    if (!d->dim)
        d->len = 0;
}

static void run_seterr(char *err, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void run_seterr(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err && len)
        vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

struct run_table *run_table_add(struct run *r, const char *group, const char *recdim,
                                const struct run_field *fields, int nfields,
                                char *err, size_t errlen)
{
    if (!recdim)
        recdim = "time";
    if (!util_valid_name(group) || !util_valid_name(recdim)) {
        run_seterr(err, errlen, "invalid group or dimension name \"%s/%s\"", group, recdim);
        return NULL;
    }
    struct run_table *t = run_table_find(r, group, recdim);
    if (t) {
        if (run_fields_same(t, fields, nfields))
            return t;
        run_seterr(err, errlen, "table %s/%s already exists with other fields", group, recdim);
        return NULL;
    }
    for (int i = 0; i < nfields; i++) {
        const struct run_field *f = &fields[i];
        if (!util_valid_name(f->name) || strcmp(f->name, recdim) == 0 ||
            (f->dim && (f->type != RUN_F64 || f->len == 0 || !util_valid_name(f->dim)))) {
            run_seterr(err, errlen, "invalid field \"%s\" in group %s", f->name, group);
            return NULL;
        }
        for (int j = 0; j < i; j++)
            if (strcmp(fields[j].name, f->name) == 0) {
                run_seterr(err, errlen, "field \"%s\" twice in group %s", f->name, group);
                return NULL;
            }
    }
    /* A variable name is unique within its group in the file: a new table's fields and record
     * dimension must not collide with another table's in the same group. */
    for (int k = 0; k < r->ntables; k++) {
        struct run_table *o = r->tables[k];
        if (strcmp(o->group, group))
            continue;
        for (int i = 0; i < nfields; i++) {
            if (run_field_index(o, fields[i].name) >= 0 || strcmp(fields[i].name, o->recdim) == 0) {
                run_seterr(err, errlen, "field \"%s\" already exists in group %s",
                           fields[i].name, group);
                return NULL;
            }
        }
        if (run_field_index(o, recdim) >= 0) {
            run_seterr(err, errlen, "dimension \"%s\" is a variable in group %s", recdim, group);
            return NULL;
        }
    }

    for (int i = 0; i < nfields; i++) {
        if (run_axis_find(r, group, fields[i].name)) {
            run_seterr(err, errlen, "\"%s\" is an axis in group %s", fields[i].name, group);
            return NULL;
        }
    }
    if (run_axis_find(r, group, recdim)) {
        run_seterr(err, errlen, "\"%s\" is an axis in group %s", recdim, group);
        return NULL;
    }

    t = util_calloc(1, sizeof *t);
    t->run = r;
    t->id = r->ntables;
    t->group = util_strdup(group);
    t->recdim = util_strdup(recdim);
    t->nfields = nfields;
    t->fields = util_calloc((size_t)(nfields ? nfields : 1), sizeof *t->fields);
    t->cols = util_calloc((size_t)(nfields ? nfields : 1), sizeof *t->cols);
    t->keep = run_keep_arrays ? run_keep_arrays : 1;
    for (int i = 0; i < nfields; i++)
        run_field_copy(&t->fields[i], &fields[i]);
    r->tables = util_reallocarray(r->tables, (size_t)r->ntables + 1, sizeof *r->tables);
    r->tables[r->ntables++] = t;
    for (int i = 0; i < r->nobs; i++)
        if (r->obs[i].table)
            r->obs[i].table(r->obs[i].arg, t);
    return t;
}

int run_field_index(const struct run_table *t, const char *name)
{
    for (int i = 0; i < t->nfields; i++)
        if (strcmp(t->fields[i].name, name) == 0)
            return i;
    return -1;
}

/* Optional strings: NULL and "" both mean none (the journal stores both as ""). */
static int run_opt_eq(const char *a, const char *b)
{
    return run_streq(a && *a ? a : NULL, b && *b ? b : NULL);
}

/* D, as the run keeps it, is the definition F (NULL units and long_name as run_field_copy). */
static int run_field_identical(const struct run_field *d, const struct run_field *f)
{
    return strcmp(d->name, f->name) == 0 && d->type == f->type && run_streq(d->dim, f->dim) &&
           (!d->dim || d->len == f->len) && strcmp(d->units, f->units ? f->units : "1") == 0 &&
           strcmp(d->long_name, f->long_name ? f->long_name : f->name) == 0 &&
           run_opt_eq(d->flags, f->flags);
}

/* The length dimension DIM already has in GROUP, from its axis or an array field along it;
 * 0 when it has none yet. A file dimension's length is fixed once defined. */
static size_t run_dim_len(const struct run *r, const char *group, const char *dim)
{
    const struct run_axis *a = run_axis_find(r, group, dim);
    if (a)
        return a->len;
    for (int i = 0; i < r->ntables; i++) {
        const struct run_table *t = r->tables[i];
        if (strcmp(t->group, group))
            continue;
        for (int f = 0; f < t->nfields; f++)
            if (t->fields[f].dim && strcmp(t->fields[f].dim, dim) == 0)
                return t->fields[f].len;
    }
    return 0;
}

int run_field_add(struct run_table *t, const struct run_field *f, char *err, size_t errlen)
{
    struct run *r = t->run;
    if (!f->name) {
        run_seterr(err, errlen, "a field needs a name");
        return -1;
    }
    int have = run_field_index(t, f->name);
    if (have >= 0) {
        if (run_field_identical(&t->fields[have], f))
            return 0;
        run_seterr(err, errlen, "field \"%s\" already exists in %s/%s with another definition",
                   f->name, t->group, t->recdim);
        return -1;
    }
    if (!util_valid_name(f->name) || strcmp(f->name, t->recdim) == 0 || f->type < RUN_F64 ||
        f->type > RUN_STR ||
        (f->dim && (f->type != RUN_F64 || f->len == 0 || !util_valid_name(f->dim)))) {
        run_seterr(err, errlen, "invalid field \"%s\" in group %s", f->name, t->group);
        return -1;
    }
    /* One namespace per group in the file, as for run_table_add. */
    for (int k = 0; k < r->ntables; k++) {
        const struct run_table *o = r->tables[k];
        if (o != t && strcmp(o->group, t->group) == 0 &&
            (run_field_index(o, f->name) >= 0 || strcmp(o->recdim, f->name) == 0)) {
            run_seterr(err, errlen, "field \"%s\" already exists in group %s", f->name, t->group);
            return -1;
        }
    }
    if (run_axis_find(r, t->group, f->name)) {
        run_seterr(err, errlen, "\"%s\" is an axis in group %s", f->name, t->group);
        return -1;
    }
    size_t dlen = f->dim ? run_dim_len(r, t->group, f->dim) : 0;
    if (dlen && dlen != f->len) {
        run_seterr(err, errlen, "dimension %s of group %s has %zu points, not %zu", f->dim,
                   t->group, dlen, f->len);
        return -1;
    }

    int n = t->nfields;
    t->fields = util_reallocarray(t->fields, (size_t)n + 1, sizeof *t->fields);
    t->cols = util_reallocarray(t->cols, (size_t)n + 1, sizeof *t->cols);
    struct run_field *d = &t->fields[n];
    struct run_column *c = &t->cols[n];
    run_field_copy(d, f);
    memset(c, 0, sizeof *c);
    /* The records made so far get the missing value. An array's ring is allocated here (all of
     * it missing) because run_table_grow only allocates rings when the table grows. */
    if (d->dim) {
        size_t npts = t->keep * d->len;
        c->v.arr = util_malloc(npts * sizeof(double));
        for (size_t k = 0; k < npts; k++)
            c->v.arr[k] = RUN_F64_MISSING;
    } else if (t->cap) {
        switch (d->type) {
        case RUN_F64:
            c->v.f64 = util_reallocarray(NULL, t->cap, sizeof(double));
            for (size_t k = 0; k < t->nrec; k++)
                c->v.f64[k] = RUN_F64_MISSING;
            break;
        case RUN_I32:
            c->v.i32 = util_reallocarray(NULL, t->cap, sizeof(int32_t));
            for (size_t k = 0; k < t->nrec; k++)
                c->v.i32[k] = RUN_I32_MISSING;
            break;
        case RUN_STR:
            c->v.str = util_calloc(t->cap, sizeof(char *));    /* NULL: missing */
            break;
        }
    }
    t->nfields = n + 1;
    for (int i = 0; i < r->nobs; i++)
        if (r->obs[i].field)
            r->obs[i].field(r->obs[i].arg, t, n);
    return 0;
}

int run_axis_set(struct run *r, const char *group, const char *dim, size_t len,
                 const char *units, const char *long_name, const double *values)
{
    if (!util_valid_name(group) || !util_valid_name(dim) || len == 0)
        return -1;
    size_t have = run_dim_len(r, group, dim);
    if (have && have != len)
        return -1;   /* a dimension's length is fixed once written */
    /* An axis is a coordinate variable: its name must not be a field or a record dimension
     * of the same group, or the file could not hold both. */
    for (int i = 0; i < r->ntables; i++) {
        const struct run_table *t = r->tables[i];
        if (strcmp(t->group, group) == 0 &&
            (run_field_index(t, dim) >= 0 || strcmp(t->recdim, dim) == 0))
            return -1;
    }
    struct run_axis *a = NULL;
    for (int i = 0; i < r->naxes; i++)
        if (strcmp(r->axes[i].group, group) == 0 && strcmp(r->axes[i].dim, dim) == 0)
            a = &r->axes[i];
    if (a) {
        free(a->units);
        free(a->long_name);
    } else {
        r->axes = util_reallocarray(r->axes, (size_t)r->naxes + 1, sizeof *r->axes);
        a = &r->axes[r->naxes++];
        memset(a, 0, sizeof *a);
        a->group = util_strdup(group);
        a->dim = util_strdup(dim);
        a->len = len;
        a->values = util_malloc(len * sizeof *values);
    }
    a->units = util_strdup(units ? units : "1");
    a->long_name = util_strdup(long_name ? long_name : dim);
    memcpy(a->values, values, len * sizeof *values);
    for (int i = 0; i < r->nobs; i++)
        if (r->obs[i].axis)
            r->obs[i].axis(r->obs[i].arg, r, a);
    return 0;
}

const struct run_axis *run_axis_find(const struct run *r, const char *group, const char *dim)
{
    for (int i = 0; i < r->naxes; i++)
        if (strcmp(r->axes[i].group, group) == 0 && strcmp(r->axes[i].dim, dim) == 0)
            return &r->axes[i];
    return NULL;
}

static void run_table_grow(struct run_table *t)
{
    if (t->nrec < t->cap)
        return;
    size_t cap = t->cap ? t->cap * 2 : 256;
    t->time = util_reallocarray(t->time, cap, sizeof *t->time);
    for (int f = 0; f < t->nfields; f++) {
        struct run_field *fd = &t->fields[f];
        struct run_column *c = &t->cols[f];
        if (fd->dim) {
            if (!c->v.arr)
                c->v.arr = util_malloc(t->keep * fd->len * sizeof(double));
            continue;
        }
        switch (fd->type) {
        case RUN_F64: c->v.f64 = util_reallocarray(c->v.f64, cap, sizeof(double)); break;
        case RUN_I32: c->v.i32 = util_reallocarray(c->v.i32, cap, sizeof(int32_t)); break;
        case RUN_STR: c->v.str = util_reallocarray(c->v.str, cap, sizeof(char *)); break;
        }
    }
    t->cap = cap;
}

int run_append(struct run_table *t, double time, const union run_value *v)
{
    run_table_grow(t);
    size_t k = t->nrec;
    t->time[k] = time;
    for (int f = 0; f < t->nfields; f++) {
        struct run_field *fd = &t->fields[f];
        struct run_column *c = &t->cols[f];
        if (fd->dim) {
            memcpy(c->v.arr + (k % t->keep) * fd->len, v[f].arr, fd->len * sizeof(double));
            continue;
        }
        switch (fd->type) {
        case RUN_F64: c->v.f64[k] = v[f].f64; break;
        case RUN_I32: c->v.i32[k] = v[f].i32; break;
        case RUN_STR: c->v.str[k] = util_strdup(v[f].str ? v[f].str : ""); break;
        }
    }
    t->nrec++;
    int rc = 0;
    struct run *r = t->run;
    for (int i = 0; i < r->nobs; i++)
        if (r->obs[i].record && r->obs[i].record(r->obs[i].arg, t, k, time, v) < 0)
            rc = -1;
    return rc;
}

int run_update(struct run_table *t, size_t index, int field, const union run_value *v)
{
    if (!t || !v || field < 0 || field >= t->nfields || index >= t->nrec)
        return -1;
    const struct run_field *fd = &t->fields[field];
    struct run_column *c = &t->cols[field];
    union run_value nv = *v;
    if (fd->dim) {
        if (!v->arr)
            return -1;
        /* memmove: V may be the kept copy itself (run_get_array). */
        if (index + t->keep >= t->nrec)
            memmove(c->v.arr + (index % t->keep) * fd->len, v->arr, fd->len * sizeof(double));
    } else {
        switch (fd->type) {
        case RUN_F64: c->v.f64[index] = v->f64; break;
        case RUN_I32: c->v.i32[index] = v->i32; break;
        case RUN_STR: {
            /* Copied before the old one goes: V may be it (run_get_str). Observers get the
             * copy, which lives on. */
            char *s = util_strdup(v->str ? v->str : "");
            free(c->v.str[index]);
            c->v.str[index] = s;
            nv.str = s;
            break;
        }
        }
    }
    int rc = 0;
    struct run *r = t->run;
    for (int i = 0; i < r->nobs; i++)
        if (r->obs[i].update && r->obs[i].update(r->obs[i].arg, t, index, field, &nv) < 0)
            rc = -1;
    return rc;
}

double run_get_f64(const struct run_table *t, int field, size_t i)
{
    const struct run_field *fd = &t->fields[field];
    if (i >= t->nrec || fd->dim)
        return 0.0;
    if (fd->type == RUN_I32) {
        int32_t x = t->cols[field].v.i32[i];
        return x == RUN_I32_MISSING ? NAN : (double)x;
    }
    return fd->type == RUN_F64 ? t->cols[field].v.f64[i] : 0.0;
}

const char *run_get_str(const struct run_table *t, int field, size_t i)
{
    if (i >= t->nrec || t->fields[field].type != RUN_STR)
        return NULL;
    const char *s = t->cols[field].v.str[i];
    return s ? s : "";
}

const double *run_get_array(const struct run_table *t, int field, size_t i)
{
    const struct run_field *fd = &t->fields[field];
    if (!fd->dim || i >= t->nrec || i + t->keep < t->nrec)
        return NULL;
    return t->cols[field].v.arr + (i % t->keep) * fd->len;
}

const char *run_level_name(enum run_level level)
{
    static const char *const names[] = { "debug", "info", "note", "warning", "error" };
    return (unsigned)level < ARRAY_LEN(names) ? names[level] : "?";
}

int run_event_at(struct run *r, double time, enum run_level level, const char *text)
{
    union run_value v[2];
    v[0].i32 = (int32_t)level;
    v[1].str = text;
    if (level == RUN_WARN)
        r->nwarn++;
    else if (level == RUN_ERROR)
        r->nerror++;
    return run_append(r->log, time, v);
}

int run_event(struct run *r, enum run_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = util_vprintf(fmt, ap);
    va_end(ap);
    int rc = run_event_at(r, run_time(r), level, text);
    free(text);
    return rc;
}

void run_end(struct run *r, const char *reason)
{
    if (r->ended)
        return;
    r->ended = 1;
    r->end_reason = util_strdup(reason ? reason : "stopped");
    for (int i = 0; i < r->nobs; i++)
        if (r->obs[i].end)
            r->obs[i].end(r->obs[i].arg, r, r->end_reason);
}
