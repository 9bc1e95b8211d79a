/* Run data in memory and its observers. */
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

static const struct run_observer OBS = { NULL, o_attr, o_table, NULL, o_record, o_end };

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

Suite *run_suite(void)
{
    Suite *s = suite_create("run");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, tables_records_observers);
    tcase_add_test(tc, arrays_keep_only_recent_records);
    suite_add_tcase(s, tc);
    return s;
}
