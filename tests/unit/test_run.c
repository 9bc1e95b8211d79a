/* Run data in memory and its observers. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "insitu/run.h"
#include "suites.h"

static int n_table, n_record, n_attr, n_end;
static double last_time;

static void o_table(void *a, struct run_table *t) { n_table++; }
static void o_attr(void *a, struct run *r, const struct run_attr *at) { n_attr++; }
static int o_record(void *a, struct run_table *t, size_t i, double time, const union run_value *v)
{
    n_record++;
    last_time = time;
    return 0;
}
static void o_end(void *a, struct run *r, const char *why) { n_end++; }

static const struct run_observer OBS = {
    .attr = o_attr, .table = o_table, .record = o_record, .end = o_end,
};

START_TEST(tables_records_observers)
{
    struct run *r = run_new("t1", 1e9, 0);
    n_table = n_record = n_attr = n_end = 0;
    run_observe(r, &OBS);
    struct run_field f[] = {
        { "voltage", "V", "cell voltage", RUN_F64, NULL, 0, NULL },
        { "step", "1", "protocol step", RUN_I32, NULL, 0, NULL },
    };
    char err[128];
    struct run_table *t = run_table_add(r, "ec", NULL, f, 2, err, sizeof err);
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(n_table, 1);
    ck_assert_ptr_eq(run_table_add(r, "ec", "time", f, 2, err, sizeof err), t);
    ck_assert_ptr_null(run_table_add(r, "ec", "time", f, 1, err, sizeof err));
    for (int i = 0; i < 1000; i++) {
        union run_value v[2] = { { .f64 = i * 0.001 }, { .i32 = i / 100 } };
        ck_assert_int_eq(run_append(t, i * 2.0, v), 0);
    }
    ck_assert_int_eq(n_record, 1000);
    ck_assert_double_eq(last_time, 1998.0);
    ck_assert_uint_eq(t->nrec, 1000);
    ck_assert_double_eq_tol(run_get_f64(t, 0, 500), 0.5, 1e-12);
    ck_assert_double_eq(run_get_f64(t, 1, 999), 9);
    run_attr_text(r, NULL, "cell", "Li|LiPF6|Li");
    run_attr_text(r, NULL, "cell", "Na|NaPF6|Na");
    ck_assert_str_eq(run_attr_find(r, NULL, "cell")->text, "Na|NaPF6|Na");
    ck_assert_int_eq(r->nattrs, 1);
    ck_assert_int_eq(n_attr, 2);
    ck_assert_int_eq(run_attr_text(r, NULL, "bad key", "x"), -1);
    run_event(r, RUN_WARN, "careful %d", 3);
    ck_assert_str_eq(run_get_str(r->log, 1, 0), "careful 3");
    ck_assert_uint_eq(r->nwarn, 1);
    run_end(r, "done");
    run_end(r, "again");
    ck_assert_int_eq(n_end, 1);
    run_free(r);
}
END_TEST

START_TEST(arrays_keep_only_recent_records)
{
    struct run *r = run_new("t2", 1e9, 0);
    double ppm[8] = { 0, 1, 2, 3, 4, 5, 6, 7 };
    ck_assert_int_eq(run_axis_set(r, "nmr", "ppm", 8, "ppm", "chemical shift", ppm), 0);
    ck_assert_int_eq(run_axis_set(r, "nmr", "ppm", 9, "ppm", "x", ppm), -1);
    struct run_field f = { "spectrum", "1", "real spectrum", RUN_F64, "ppm", 8, NULL };
    struct run_table *t = run_table_add(r, "nmr", NULL, &f, 1, NULL, 0);
    ck_assert_ptr_nonnull(t);
    double spec[8];
    for (int k = 0; k < 100; k++) {
        for (int j = 0; j < 8; j++)
            spec[j] = k * 10 + j;
        union run_value v = { .arr = spec };
        run_append(t, k, &v);
    }
    ck_assert_ptr_null(run_get_array(t, 0, 0));
    const double *last = run_get_array(t, 0, 99);
    ck_assert_ptr_nonnull(last);
    ck_assert_double_eq(last[7], 997);
    ck_assert_double_eq(run_get_array(t, 0, 100 - run_keep_arrays)[0], (100.0 - run_keep_arrays) * 10);
    /* a name used by another table of the group is refused: one file, one namespace */
    struct run_field g = { "spectrum", "1", "x", RUN_F64, NULL, 0, NULL };
    ck_assert_ptr_null(run_table_add(r, "nmr", "other", &g, 1, NULL, 0));
    run_free(r);
}
END_TEST

/* ---- fields added later, updates, axes replaced ----------------------------------------- */

struct seen {
    int fields, updates, axes, fail;
    int last_field;
    size_t last_index;
    union run_value last;
    double last_arr0;
    char last_str[64];
};

static void s_field(void *a, struct run_table *t, int f)
{
    struct seen *s = a;
    s->fields++;
    s->last_field = f;
}

static int s_update(void *a, struct run_table *t, size_t i, int f, const union run_value *v)
{
    struct seen *s = a;
    s->updates++;
    s->last_index = i;
    s->last_field = f;
    s->last = *v;
    if (t->fields[f].dim)
        s->last_arr0 = v->arr[0];
    else if (t->fields[f].type == RUN_STR)
        snprintf(s->last_str, sizeof s->last_str, "%s", v->str);
    return s->fail ? -1 : 0;
}

static void s_axis(void *a, struct run *r, const struct run_axis *ax)
{
    struct seen *s = a;
    s->axes++;
    s->last_arr0 = ax->values[0];
}

static struct run_observer seen_observer(struct seen *s)
{
    struct run_observer o = { .arg = s, .field = s_field, .update = s_update, .axis = s_axis };
    return o;
}

static const struct run_field nmr_base[] = {
    { "scans", "1", "number of scans", RUN_I32, NULL, 0, NULL },
    { "fid_re", "1", "FID (real)", RUN_F64, "td", 4, NULL },
};

static void nmr_add(struct run_table *t, int k)
{
    double fid[4] = { k, k + 0.25, k + 0.5, k + 0.75 };
    union run_value v[8];
    v[0].i32 = 64 + k;
    v[1].arr = fid;
    double spec[8];
    for (int j = 0; j < 8; j++)
        spec[j] = 100.0 * k + j;
    for (int f = 2; f < t->nfields; f++) {
        const struct run_field *fd = &t->fields[f];
        if (fd->dim)
            v[f].arr = spec;
        else if (fd->type == RUN_F64)
            v[f].f64 = k * 1.5;
        else if (fd->type == RUN_I32)
            v[f].i32 = -k;
        else
            v[f].str = "peak";
    }
    ck_assert_int_eq(run_append(t, 10.0 * k, v), 0);
}

START_TEST(field_add_later)
{
    struct run *r = run_new("t3", 1e9, 0);
    struct seen s = { 0 };
    struct run_observer o = seen_observer(&s);
    run_observe(r, &o);
    char err[160];
    struct run_table *t = run_table_add(r, "nmr", NULL, nmr_base, 2, err, sizeof err);
    ck_assert_msg(t != NULL, "%s", err);
    double ppm[8] = { 8, 7, 6, 5, 4, 3, 2, 1 };
    ck_assert_int_eq(run_axis_set(r, "nmr", "ppm", 8, "ppm", "chemical shift", ppm), 0);
    for (int k = 0; k < 3; k++)
        nmr_add(t, k);
    const struct run_field later[] = {
        { "integral_metal", NULL, NULL, RUN_F64, NULL, 0, NULL },
        { "npeaks", "1", "peaks found", RUN_I32, NULL, 0, NULL },
        { "label", "1", "peak label", RUN_STR, NULL, 0, NULL },
        { "spectrum", "1", "spectrum", RUN_F64, "ppm", 8, NULL },
    };
    for (int i = 0; i < 4; i++) {
        ck_assert_msg(run_field_add(t, &later[i], err, sizeof err) == 0, "%s", err);
        ck_assert_int_eq(s.fields, i + 1);
        ck_assert_int_eq(s.last_field, 2 + i);
    }
    ck_assert_int_eq(t->nfields, 6);
    ck_assert_str_eq(t->fields[2].units, "1");
    ck_assert_str_eq(t->fields[2].long_name, "integral_metal");
    for (size_t k = 0; k < 3; k++) {
        ck_assert(isnan(run_get_f64(t, 2, k)));
        ck_assert(isnan(run_get_f64(t, 3, k)));         /* I32 missing reads as NaN */
        ck_assert_int_eq(t->cols[3].v.i32[k], RUN_I32_MISSING);
        ck_assert_str_eq(run_get_str(t, 4, k), "");
        const double *a = run_get_array(t, 5, k);
        ck_assert_ptr_nonnull(a);
        for (int j = 0; j < 8; j++)
            ck_assert(isnan(a[j]));
        ck_assert_double_eq(run_get_f64(t, 0, k), 64.0 + (double)k);   /* old fields intact */
    }
    /* Past the first allocation (256 records): the new columns grow with the others. */
    for (int k = 3; k < 300; k++)
        nmr_add(t, k);
    ck_assert_uint_eq(t->nrec, 300);
    ck_assert(isnan(run_get_f64(t, 2, 2)));
    ck_assert_double_eq(run_get_f64(t, 2, 3), 4.5);
    ck_assert_double_eq(run_get_f64(t, 2, 299), 299 * 1.5);
    ck_assert_double_eq(run_get_f64(t, 3, 299), -299);
    ck_assert_str_eq(run_get_str(t, 4, 299), "peak");
    ck_assert_double_eq(run_get_array(t, 5, 299)[7], 29907);

    /* The identical definition again: nothing happens (NULL units/long_name as stored). */
    const struct run_field same = { "integral_metal", "1", "integral_metal", RUN_F64, NULL, 0, NULL };
    ck_assert_int_eq(run_field_add(t, &later[0], err, sizeof err), 0);
    ck_assert_int_eq(run_field_add(t, &same, err, sizeof err), 0);
    ck_assert_int_eq(run_field_add(t, &later[3], err, sizeof err), 0);
    ck_assert_int_eq(t->nfields, 6);
    ck_assert_int_eq(s.fields, 4);
    /* Another definition of an existing name is an error. */
    const struct run_field other[] = {
        { "integral_metal", "V", NULL, RUN_F64, NULL, 0, NULL },
        { "integral_metal", NULL, "other", RUN_F64, NULL, 0, NULL },
        { "npeaks", "1", "peaks found", RUN_F64, NULL, 0, NULL },
        { "npeaks", "1", "peaks found", RUN_I32, NULL, 0, "a b" },
        { "spectrum", "1", "spectrum", RUN_F64, "ppm", 9, NULL },
        { "spectrum", "1", "spectrum", RUN_F64, NULL, 0, NULL },
    };
    for (size_t i = 0; i < sizeof other / sizeof *other; i++) {
        err[0] = '\0';
        ck_assert_int_eq(run_field_add(t, &other[i], err, sizeof err), -1);
        ck_assert_msg(strstr(err, "another definition"), "%zu: %s", i, err);
    }
    /* What a file could not hold. */
    const struct run_field bad[] = {
        { "bad name", "1", NULL, RUN_F64, NULL, 0, NULL },
        { "time", "1", NULL, RUN_F64, NULL, 0, NULL },          /* the record dimension */
        { "ppm", "1", NULL, RUN_F64, NULL, 0, NULL },           /* an axis of the group */
        { "residual", "1", NULL, RUN_F64, "ppm", 16, NULL },    /* ppm has 8 points */
        { "fid_im", "1", NULL, RUN_F64, "td", 8, NULL },        /* td has 4 (fid_re) */
        { "codes", "1", NULL, RUN_I32, "ppm", 8, NULL },        /* arrays are of doubles */
        { "empty", "1", NULL, RUN_F64, "ppm", 0, NULL },
        { "typeless", "1", NULL, (enum run_type)0, NULL, 0, NULL },
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ck_assert_msg(run_field_add(t, &bad[i], err, sizeof err) == -1, "bad[%zu] accepted", i);
    struct run_table *t2 = run_table_add(r, "nmr", "fit_time", NULL, 0, err, sizeof err);
    ck_assert_msg(t2 != NULL, "%s", err);
    ck_assert_int_eq(run_field_add(t2, &later[0], err, sizeof err), -1);   /* in another table */
    ck_assert_msg(strstr(err, "already exists in group nmr"), "%s", err);
    const struct run_field fid_im = { "fid_im", "1", "FID (imaginary)", RUN_F64, "td", 4, NULL };
    ck_assert_int_eq(run_field_add(t2, &fid_im, err, sizeof err), 0);   /* same td length */
    ck_assert_int_eq(t->nfields, 6);
    ck_assert_int_eq(s.fields, 5);
    /* A field added to an empty table: no column yet until the first record. */
    union run_value v = { .arr = (double[4]){ 1, 2, 3, 4 } };
    ck_assert_int_eq(run_append(t2, 1.0, &v), 0);
    ck_assert_double_eq(run_get_array(t2, 0, 0)[3], 4);
    run_free(r);
}
END_TEST

START_TEST(update_records)
{
    struct run *r = run_new("t4", 1e9, 0);
    struct seen s = { 0 };
    struct run_observer o = seen_observer(&s);
    run_observe(r, &o);
    char err[160];
    struct run_table *t = run_table_add(r, "nmr", NULL, nmr_base, 2, err, sizeof err);
    ck_assert_ptr_nonnull(t);
    const struct run_field more[] = {
        { "integral", "1", NULL, RUN_F64, NULL, 0, NULL },
        { "npeaks", "1", NULL, RUN_I32, NULL, 0, NULL },
        { "label", "1", NULL, RUN_STR, NULL, 0, NULL },
    };
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(run_field_add(t, &more[i], err, sizeof err), 0);
    size_t n = run_keep_arrays + 10;
    for (size_t k = 0; k < n; k++)
        nmr_add(t, (int)k);

    union run_value v = { .f64 = -2.5 };
    ck_assert_int_eq(run_update(t, 3, 2, &v), 0);
    ck_assert_double_eq(run_get_f64(t, 2, 3), -2.5);
    ck_assert_double_eq(run_get_f64(t, 2, 4), 6.0);        /* its neighbour untouched */
    ck_assert_int_eq(s.updates, 1);
    ck_assert_uint_eq(s.last_index, 3);
    ck_assert_int_eq(s.last_field, 2);
    ck_assert_double_eq(s.last.f64, -2.5);
    v.i32 = 7;
    ck_assert_int_eq(run_update(t, 0, 3, &v), 0);
    ck_assert_double_eq(run_get_f64(t, 3, 0), 7);
    v.str = "metal";
    ck_assert_int_eq(run_update(t, 1, 4, &v), 0);
    ck_assert_str_eq(run_get_str(t, 4, 1), "metal");
    ck_assert_str_eq(s.last_str, "metal");
    v.str = run_get_str(t, 4, 1);                           /* its own value: no use after free */
    ck_assert_int_eq(run_update(t, 1, 4, &v), 0);
    ck_assert_str_eq(run_get_str(t, 4, 1), "metal");
    ck_assert_str_eq(s.last_str, "metal");
    v.str = NULL;
    ck_assert_int_eq(run_update(t, 1, 4, &v), 0);
    ck_assert_str_eq(run_get_str(t, 4, 1), "");
    ck_assert_double_eq(t->time[1], 10.0);                  /* the time stays */

    /* An array still in memory is replaced there; one evicted is only told to observers. */
    double fid[4] = { -1, -2, -3, -4 };
    v.arr = fid;
    ck_assert_int_eq(run_update(t, n - 1, 1, &v), 0);
    ck_assert_double_eq(run_get_array(t, 1, n - 1)[3], -4);
    ck_assert_double_eq(run_get_array(t, 1, n - 2)[3], (double)(n - 2) + 0.75);
    int before = s.updates;
    ck_assert_ptr_null(run_get_array(t, 1, 2));
    ck_assert_int_eq(run_update(t, 2, 1, &v), 0);
    ck_assert_int_eq(s.updates, before + 1);
    ck_assert_uint_eq(s.last_index, 2);
    ck_assert_double_eq(s.last_arr0, -1);
    ck_assert_ptr_null(run_get_array(t, 1, 2));
    v.arr = run_get_array(t, 1, n - 1);                     /* its own value */
    ck_assert_int_eq(run_update(t, n - 1, 1, &v), 0);
    ck_assert_double_eq(run_get_array(t, 1, n - 1)[0], -1);

    /* Out of range: refused, nobody told, nothing changed. */
    before = s.updates;
    v.f64 = 1;
    ck_assert_int_eq(run_update(t, n, 2, &v), -1);
    ck_assert_int_eq(run_update(t, (size_t)-1, 2, &v), -1);
    ck_assert_int_eq(run_update(t, 0, 5, &v), -1);
    ck_assert_int_eq(run_update(t, 0, -1, &v), -1);
    v.arr = NULL;
    ck_assert_int_eq(run_update(t, 0, 1, &v), -1);
    ck_assert_int_eq(s.updates, before);
    /* An observer that cannot keep it fails the update; memory has it all the same. */
    s.fail = 1;
    v.f64 = 42;
    ck_assert_int_eq(run_update(t, 5, 2, &v), -1);
    ck_assert_double_eq(run_get_f64(t, 2, 5), 42);
    s.fail = 0;
    run_free(r);
}
END_TEST

START_TEST(axis_replaced)
{
    struct run *r = run_new("t5", 1e9, 0);
    struct seen s = { 0 };
    struct run_observer o = seen_observer(&s);
    run_observe(r, &o);
    double ppm[8] = { 8, 7, 6, 5, 4, 3, 2, 1 };
    ck_assert_int_eq(run_axis_set(r, "nmr", "ppm", 8, "ppm", "chemical shift", ppm), 0);
    ck_assert_int_eq(s.axes, 1);
    for (int j = 0; j < 8; j++)
        ppm[j] += 0.5;                                      /* re-referenced */
    ck_assert_int_eq(run_axis_set(r, "nmr", "ppm", 8, "ppm", "chemical shift", ppm), 0);
    ck_assert_int_eq(s.axes, 2);
    ck_assert_double_eq(s.last_arr0, 8.5);
    ck_assert_double_eq(run_axis_find(r, "nmr", "ppm")->values[7], 1.5);
    ck_assert_int_eq(r->naxes, 1);
    ck_assert_int_eq(run_axis_set(r, "nmr", "ppm", 7, "ppm", "chemical shift", ppm), -1);
    ck_assert_int_eq(s.axes, 2);
    /* A dimension an array field defined has its length too, before any axis is given. */
    struct run_table *t = run_table_add(r, "nmr", NULL, nmr_base, 2, NULL, 0);
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(run_axis_set(r, "nmr", "td", 5, "s", "time", ppm), -1);
    ck_assert_int_eq(run_axis_set(r, "nmr", "td", 4, "s", "time", ppm), 0);
    ck_assert_int_eq(s.axes, 3);
    run_free(r);
}
END_TEST

Suite *run_suite(void)
{
    Suite *s = suite_create("run");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, tables_records_observers);
    tcase_add_test(tc, arrays_keep_only_recent_records);
    tcase_add_test(tc, field_add_later);
    tcase_add_test(tc, update_records);
    tcase_add_test(tc, axis_replaced);
    suite_add_tcase(s, tc);
    return s;
}
