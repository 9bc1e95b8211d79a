/* Tests of the files other programs use: EC-Lab .mpt import (fixtures in tests/data: a
 * galvanostatic file with decimal point, the same with decimal comma, CRLF and a fractional
 * start second, a PEIS file, and broken ones) and Battery Data Format export. */
#include <check.h>

#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "insitu/archive.h"
#include "insitu/clock.h"
#include "insitu/ec.h"
#include "insitu/ecfile.h"
#include "insitu/paths.h"
#include "insitu/run.h"
#include "insitu/util.h"
#include "suites.h"

#define DATA "tests/data/"
#define MAH (1e-3)              /* mA h in A h */

/* ---- helpers ----------------------------------------------------------------------------- */

static char *fixture_text(const char *name, size_t *len)
{
    char *path = util_printf(DATA "%s", name);
    char *t = paths_read_file(path, len);
    ck_assert_msg(t != NULL, "cannot read %s (tests run from the repository root)", path);
    free(path);
    return t;
}

static void parse_ok(const char *name, struct mpt *m)
{
    size_t len;
    char *t = fixture_text(name, &len);
    char err[512] = "";
    int rc = mpt_parse(t, len, name, m, err, sizeof err);
    free(t);
    ck_assert_msg(rc == 0, "%s: %s", name, err);
}

/* Parse NAME, expect failure; returns the message (static). */
static const char *parse_err(const char *name)
{
    static char err[512];
    size_t len;
    char *t = fixture_text(name, &len);
    struct mpt m;
    int rc = mpt_parse(t, len, name, &m, err, sizeof err);
    free(t);
    ck_assert_msg(rc < 0, "%s parsed", name);
    ck_assert_int_eq(m.nrows, 0);
    return err;
}

static int parse_text(const char *text, struct mpt *m, char *err, size_t errlen)
{
    return mpt_parse(text, strlen(text), "t.mpt", m, err, errlen);
}

static const struct mpt_column *col(const struct mpt *m, const char *quantity)
{
    int c = mpt_find(m, quantity);
    ck_assert_msg(c >= 0, "no column %s", quantity);
    return &m->cols[c];
}

static void assert_close(double got, double want, const char *what)
{
    double tol = 1e-12 * fabs(want) + 1e-18;
    ck_assert_msg(fabs(got - want) <= tol, "%s: %.17g, wanted %.17g", what, got, want);
}

static char *tmpdir_new(void)
{
    const char *base = getenv("TMPDIR");
    char *t = util_printf("%s/insitu-ecfile-XXXXXX", base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(t));
    return t;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void tmpdir_free(char *t)
{
    nftw(t, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(t);
}

/* ---- parsing ----------------------------------------------------------------------------- */

START_TEST(mpt_galvanostatic)
{
    struct mpt m;
    parse_ok("gcpl.mpt", &m);
    ck_assert_int_eq(m.nrows, 20);
    ck_assert_int_eq(m.ncols, 18);
    ck_assert_int_eq(m.decimal, '.');
    ck_assert_int_eq(m.column_line, 54);
    ck_assert_int_eq(m.nwarn, 0);
    ck_assert_str_eq(m.technique, "Galvanostatic Cycling with Potential Limitation");
    ck_assert_str_eq(m.device, "VMP3 (SN 0815)");
    ck_assert_str_eq(m.channel, "3 (SN 0815)");
    ck_assert_int_eq(m.has_start, 1);
    ck_assert_int_eq(m.start.year, 2023);
    ck_assert_int_eq(m.start.month, 4);
    ck_assert_int_eq(m.start.day, 12);
    ck_assert_int_eq(m.start.hour, 14);
    ck_assert_int_eq(m.start.min, 8);
    ck_assert(m.start.sec == 22);
    ck_assert_int_eq(m.line[0], 55);
    ck_assert_int_eq(m.line[19], 74);
    /* Latin-1 in the header is UTF-8 now ("cm²") */
    ck_assert_ptr_nonnull(strstr(m.header, "Electrode surface area : 1.130 cm\xC2\xB2"));
    ck_assert_ptr_nonnull(strstr(m.header, "Nb header lines : 54"));

    const struct mpt_column *t = col(&m, "time"), *i = col(&m, "I"), *q = col(&m, "(Q-Qo)");
    ck_assert_str_eq(t->si, "s");
    ck_assert_str_eq(i->name, "I/mA");
    ck_assert_str_eq(i->unit, "mA");
    ck_assert_str_eq(i->si, "A");
    ck_assert_str_eq(q->si, "A h");
    assert_close(t->v[1], 60, "time");
    assert_close(i->v[0], 0.1e-3, "I");
    assert_close(i->v[5], -0.1e-3, "I");
    assert_close(q->v[1], 1.666666666666667e-003 * MAH, "Q-Qo");
    assert_close(col(&m, "Ewe")->v[0], 5.5e-2, "Ewe");
    assert_close(col(&m, "dq")->v[2], 1.666666666666667e-003 * MAH, "dq");
    const struct mpt_column *qh = col(&m, "Q charge/discharge");
    ck_assert_str_eq(qh->unit, "mA.h");
    assert_close(qh->v[6], -3.333333333333333e-003 * MAH, "Q charge/discharge");
    /* "µF" in Latin-1: the name is UTF-8, the unit converted */
    const struct mpt_column *cap = col(&m, "Capacitance charge");
    ck_assert_str_eq(cap->name, "Capacitance charge/\xC2\xB5" "F");
    ck_assert_str_eq(cap->si, "F");
    /* names without units, and the name whose part after '/' is not one */
    ck_assert_ptr_null(col(&m, "cycle number")->unit);
    ck_assert_ptr_null(col(&m, "ox/red")->unit);
    ck_assert_ptr_null(col(&m, "counter inc.")->unit);
    assert_close(col(&m, "half cycle")->v[19], 3, "half cycle");
    /* the set point column mixes V and mA: left as written */
    const struct mpt_column *ctl = col(&m, "control/V");
    ck_assert_str_eq(ctl->unit, "mA");
    ck_assert_ptr_null(ctl->si);
    assert_close(ctl->v[0], 0.1, "control");
    assert_close(col(&m, "P")->v[0], 5.5e-6, "P/W");
    mpt_free(&m);
}
END_TEST

START_TEST(mpt_decimal_comma_crlf)
{
    struct mpt a, b;
    parse_ok("gcpl.mpt", &a);
    parse_ok("gcpl-comma.mpt", &b);
    ck_assert_int_eq(b.decimal, ',');
    ck_assert_int_eq(b.nwarn, 0);
    ck_assert_int_eq(b.nrows, a.nrows);
    ck_assert_int_eq(b.ncols, a.ncols);
    for (int c = 0; c < a.ncols; c++) {
        ck_assert_str_eq(a.cols[c].name, b.cols[c].name);     /* no '\r' on the last name */
        for (size_t r = 0; r < a.nrows; r++)
            ck_assert_msg(a.cols[c].v[r] == b.cols[c].v[r], "%s row %zu: %.17g vs %.17g",
                          a.cols[c].name, r, a.cols[c].v[r], b.cols[c].v[r]);
    }
    ck_assert(b.start.sec == 22.25);
    ck_assert_str_eq(b.start_text, "04/12/2023 14:08:22,250");
    ck_assert_ptr_null(strchr(b.header, '\r'));
    mpt_free(&a);
    mpt_free(&b);
}
END_TEST

START_TEST(mpt_start_time)
{
    char *tz = getenv("TZ") ? util_strdup(getenv("TZ")) : NULL;
    setenv("TZ", "UTC", 1);
    tzset();
    struct mpt m;
    parse_ok("gcpl-comma.mpt", &m);
    double utc;
    ck_assert_int_eq(mpt_start_utc(&m, &utc), 0);
    ck_assert(utc == 1681308502.25);     /* 2023-04-12T14:08:22.25Z */
    /* local time: the same wall clock two hours later in UTC at UTC-2 */
    setenv("TZ", "<-02>2", 1);
    tzset();
    ck_assert_int_eq(mpt_start_utc(&m, &utc), 0);
    ck_assert(utc == 1681308502.25 + 7200);
    m.start.day = 31;
    m.start.month = 2;                   /* 02/31 does not exist */
    ck_assert_int_eq(mpt_start_utc(&m, &utc), -1);
    mpt_free(&m);
    if (tz)
        setenv("TZ", tz, 1);
    else
        unsetenv("TZ");
    tzset();
    free(tz);
}
END_TEST

START_TEST(mpt_impedance)
{
    struct mpt m;
    parse_ok("peis.mpt", &m);
    ck_assert_int_eq(m.nrows, 7);
    ck_assert_int_eq(m.ncols, 21);
    ck_assert_str_eq(m.technique, "Potentio Electrochemical Impedance Spectroscopy");
    ck_assert_str_eq(col(&m, "Re(Z)")->si, "ohm");
    ck_assert_str_eq(col(&m, "-Im(Z)")->si, "ohm");
    ck_assert_str_eq(col(&m, "|Z|")->si, "ohm");
    ck_assert_str_eq(col(&m, "freq")->si, "Hz");
    /* admittance is in S, not turned into its reciprocal ohm; angles stay in degrees */
    ck_assert_str_eq(col(&m, "Re(Y)")->si, "S");
    ck_assert_str_eq(col(&m, "Phase(Z)")->si, "degree");
    assert_close(col(&m, "Phase(Z)")->v[0], -8.8771764, "phase");
    assert_close(col(&m, "<I>")->v[0], 1.5e-9, "<I>");
    assert_close(col(&m, "Cs")->v[0], 1.0063326e-6, "Cs/uF");
    mpt_free(&m);
}
END_TEST

START_TEST(mpt_headerless)
{
    struct mpt m;
    parse_ok("noheader.mpt", &m);
    ck_assert_int_eq(m.column_line, 1);
    ck_assert_int_eq(m.nrows, 20);
    ck_assert_ptr_null(m.header);
    ck_assert_int_eq(m.has_start, 0);
    double utc;
    ck_assert_int_eq(mpt_start_utc(&m, &utc), -1);
    mpt_free(&m);
}
END_TEST

START_TEST(mpt_errors)
{
    ck_assert_str_eq(parse_err("bad-cell.mpt"),
                     "bad-cell.mpt:61: column 10 (Ewe/V): \"3.1x\" is not a number");
    ck_assert_str_eq(parse_err("bad-truncated.mpt"),
                     "bad-truncated.mpt:2: the header has 54 lines but the file ends at line 31 "
                     "(truncated?)");
    ck_assert_str_eq(parse_err("not-mpt.txt"),
                     "not-mpt.txt:1: not an EC-Lab text export (no \"EC-Lab ASCII FILE\" line "
                     "and no tab-separated column names)");
    struct mpt m;
    char err[512];
    ck_assert_int_eq(mpt_parse("", 0, "e.mpt", &m, err, sizeof err), -1);
    ck_assert_str_eq(err, "e.mpt: empty file");
    ck_assert_int_eq(mpt_parse("\xEF\xBB\xBF", 3, "e.mpt", &m, err, sizeof err), -1);
    ck_assert_str_eq(err, "e.mpt: empty file");
    ck_assert_int_eq(parse_text("EC-Lab ASCII FILE\r\nNb header lines : 3\r\n"
                                "time/s\tEwe/V\tI/mA\t\r\n\r\n", &m, err, sizeof err), -1);
    ck_assert_str_eq(err, "t.mpt:3: no data after the column names (truncated?)");
    ck_assert_int_eq(parse_text("EC-Lab ASCII FILE\nNb header lines : 3\n"
                                "time/s\tEwe/V\tI/mA\n1\t2\t3\n4\t5\t0x10\n", &m, err,
                                sizeof err), -1);
    ck_assert_str_eq(err, "t.mpt:5: column 3 (I/mA): \"0x10\" is not a number");
    ck_assert_int_eq(parse_text("EC-Lab ASCII FILE\nNb header lines : 3\n"
                                "time/s\tEwe/V\n1\t1e999\n", &m, err, sizeof err), -1);
    ck_assert_str_eq(err, "t.mpt:4: column 2 (Ewe/V): \"1e999\" is not a number");
    /* a decimal-comma file with a point-less cell is fine; one with both marks is not */
    ck_assert_int_eq(parse_text("time/s\tEwe/V\n1,5\t2,5\n2,5\t3\n3,5\t1.2,3\n", &m, err,
                                sizeof err), -1);
    ck_assert_str_eq(err, "t.mpt:4: column 2 (Ewe/V): \"1.2,3\" is not a number (decimal "
                          "comma)");
    /* no column line anywhere after the magic line */
    ck_assert_int_eq(parse_text("EC-Lab ASCII FILE\nNb header lines : x\nfoo\n", &m, err,
                                sizeof err), -1);
    ck_assert_str_eq(err, "t.mpt:2: expected \"Nb header lines : N\", and found no "
                          "tab-separated column names followed by data");
}
END_TEST

START_TEST(mpt_recovered)
{
    struct mpt m;
    parse_ok("bad-count.mpt", &m);
    ck_assert_int_eq(m.nrows, 20);
    ck_assert_int_eq(m.column_line, 54);
    ck_assert_int_eq(m.nwarn, 1);
    ck_assert_str_eq(m.warn[0], "bad-count.mpt:2: the header says 40 lines, but the column "
                                "names are on line 54");
    mpt_free(&m);

    parse_ok("ragged.mpt", &m);
    ck_assert_int_eq(m.nrows, 19);          /* the cut last row is left out */
    ck_assert_int_eq(m.nwarn, 2);
    ck_assert_str_eq(m.warn[0], "ragged.mpt:72: 8 cells where the header names 18 (the "
                                "others left empty)");
    ck_assert_str_eq(m.warn[1], "ragged.mpt:74: the last row has 9 of 18 cells and no line "
                                "end: cut short, left out");
    ck_assert_int_eq(m.line[17], 72);
    assert_close(col(&m, "time")->v[17], 1020, "time of the short row");
    ck_assert(isnan(col(&m, "Ewe")->v[17]));
    mpt_free(&m);

    /* Missing "Nb header lines", extra cells, empty cells, blank lines, "nan" */
    char err[512];
    ck_assert_int_eq(parse_text("EC-Lab ASCII FILE\ntime/s\tEwe/V\tI/mA\n\n1\t\t3\t\t\n"
                                "2\t2\t3\t9\n3\tNaN\t 4 \n", &m, err, sizeof err), 0);
    ck_assert_int_eq(m.nrows, 3);
    ck_assert_int_eq(m.nwarn, 2);
    ck_assert_str_eq(m.warn[0], "t.mpt:2: no \"Nb header lines : N\" line; the column names "
                                "are on line 2");
    ck_assert_str_eq(m.warn[1], "t.mpt:5: 4 cells where the header names 3 (the others "
                                "ignored)");
    ck_assert(isnan(m.cols[1].v[0]));
    ck_assert(isnan(m.cols[1].v[2]));
    assert_close(m.cols[2].v[2], 4e-3, "I");
    mpt_free(&m);
}
END_TEST

/* UTF-8 and Latin-1 spellings of a unit give the same column. */
START_TEST(mpt_encodings)
{
    struct mpt a, b;
    char err[512];
    ck_assert_int_eq(parse_text("time/s\tI/\xB5" "A\tT/\xB0" "C\n1\t2\t25\n", &a, err,
                                sizeof err), 0);
    ck_assert_int_eq(parse_text("time/s\tI/\xC2\xB5" "A\tT/\xC2\xB0" "C\n1\t2\t25\n", &b, err,
                                sizeof err), 0);
    for (int c = 0; c < 3; c++) {
        ck_assert_str_eq(a.cols[c].name, b.cols[c].name);
        ck_assert_str_eq(a.cols[c].si, b.cols[c].si);
        ck_assert(a.cols[c].v[0] == b.cols[c].v[0]);
    }
    ck_assert_str_eq(a.cols[1].si, "A");
    assert_close(a.cols[1].v[0], 2e-6, "uA");
    ck_assert_str_eq(a.cols[2].si, "degC");
    assert_close(a.cols[2].v[0], 25, "degC");
    mpt_free(&a);
    mpt_free(&b);
    /* compound units stay whole; kelvin becomes degC */
    ck_assert_int_eq(parse_text("time/s\tQ charge/mA.h/g\tdI/dt/mA/s\tT/K\n1\t2\t3\t300\n", &a,
                                err, sizeof err), 0);
    ck_assert_str_eq(a.cols[1].quantity, "Q charge");
    ck_assert_str_eq(a.cols[1].unit, "mA.h/g");
    ck_assert_str_eq(a.cols[2].quantity, "dI/dt");
    ck_assert_str_eq(a.cols[2].unit, "mA/s");
    assert_close(a.cols[3].v[0], 26.85, "K to degC");
    mpt_free(&a);
}
END_TEST

/* Every prefix of a file (a copy cut short anywhere) parses or fails cleanly. */
START_TEST(mpt_every_truncation)
{
    size_t len;
    char *t = fixture_text("gcpl-comma.mpt", &len);
    size_t ok = 0;
    for (size_t n = 0; n <= len; n++) {
        char *cut = util_malloc(n ? n : 1);
        memcpy(cut, t, n);      /* not terminated: the parser must stay within n */
        struct mpt m;
        char err[512] = "";
        if (mpt_parse(cut, n, "cut.mpt", &m, err, sizeof err) == 0) {
            ck_assert_uint_le(m.nrows, 20);
            ok++;
            mpt_free(&m);
        } else {
            ck_assert_msg(util_startswith(err, "cut.mpt"), "message: %s", err);
        }
        free(cut);
    }
    ck_assert_uint_gt(ok, 100);
    free(t);
}
END_TEST

/* ---- into a run -------------------------------------------------------------------------- */

static struct run_table *run_ec(struct run *r)
{
    struct run_table *t = run_table_find(r, "ec", "time");
    ck_assert_ptr_nonnull(t);
    return t;
}

static double ec(const struct run_table *t, enum ec_field f, size_t i)
{
    return run_get_f64(t, (int)f, i);
}

START_TEST(mpt_run_galvanostatic)
{
    struct mpt m;
    parse_ok("gcpl.mpt", &m);
    struct run *r = run_new("t", 0, clock_now());
    size_t nrec, nskip;
    char err[512];
    ck_assert_msg(mpt_to_run(&m, r, &nrec, &nskip, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(nrec, 20);
    ck_assert_uint_eq(nskip, 0);
    struct run_table *t = run_ec(r);
    ck_assert_uint_eq(t->nrec, 20);
    ck_assert_ptr_null(run_table_find(r, "eis", "time"));
    ck_assert(t->time[5] == 300);
    assert_close(ec(t, EC_VOLTAGE, 5), -0.055, "voltage");
    assert_close(ec(t, EC_CURRENT, 5), -1e-4, "current");
    assert_close(ec(t, EC_CHARGE, 4), 6.666666666666667e-3 * MAH, "charge");
    assert_close(ec(t, EC_Q_HALF, 6), -3.333333333333333e-3 * MAH, "q half");
    ck_assert(ec(t, EC_STEP, 0) == 1 && ec(t, EC_STEP, 5) == 2);     /* Ns + 1 */
    ck_assert(ec(t, EC_CYCLE, 9) == 0 && ec(t, EC_CYCLE, 10) == 1);
    ck_assert(ec(t, EC_HALF_CYCLE, 19) == 3);
    const struct run_attr *a = run_attr_find(r, NULL, "eclab_technique");
    ck_assert_ptr_nonnull(a);
    ck_assert_str_eq(a->text, "Galvanostatic Cycling with Potential Limitation");
    ck_assert_ptr_nonnull(run_attr_find(r, NULL, "eclab_header"));
    ck_assert_str_eq(run_attr_find(r, NULL, "eclab_acquisition_started")->text,
                     "04/12/2023 14:08:22");
    run_free(r);
    mpt_free(&m);
}
END_TEST

/* Without charge columns, charge is I dt summed (the current of each sample over the time
 * since the last), half cycles follow the sign of the current and q_half restarts with them. */
START_TEST(mpt_run_integrates)
{
    struct mpt m;
    char err[512];
    ck_assert_int_eq(parse_text("time/s\tEwe/V\tI/mA\n"
                                "0\t3.0\t1\n"
                                "3600\t3.1\t1\n"          /* +1 mA h */
                                "5400\t3.2\t2\n"          /* +1 mA h */
                                "5400\t3.2\t0\n"          /* rest: same half cycle */
                                "7200\t3.0\t-1\n"         /* -0.5 mA h, new half cycle */
                                "\t3.0\t-1\n"             /* no time: left out */
                                "9000\t2.9\t-1\n", &m, err, sizeof err), 0);
    struct run *r = run_new("t", 0, clock_now());
    size_t nrec, nskip;
    ck_assert_msg(mpt_to_run(&m, r, &nrec, &nskip, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(nrec, 6);
    ck_assert_uint_eq(nskip, 1);
    struct run_table *t = run_ec(r);
    const double q[] = { 0, 1, 2, 2, 1.5, 1.0 }, qh[] = { 0, 1, 2, 2, -0.5, -1.0 };
    const int hc[] = { 0, 0, 0, 0, 1, 1 };
    for (size_t i = 0; i < 6; i++) {
        assert_close(ec(t, EC_CHARGE, i), q[i] * MAH, "charge");
        assert_close(ec(t, EC_Q_HALF, i), qh[i] * MAH, "q half");
        ck_assert(ec(t, EC_HALF_CYCLE, i) == hc[i]);
        ck_assert(ec(t, EC_STEP, i) == 0 && ec(t, EC_CYCLE, i) == 0);
    }
    run_free(r);
    mpt_free(&m);

    /* with dq only: the charge is its running sum */
    ck_assert_int_eq(parse_text("time/s\tEwe/V\tI/mA\tdq/mA.h\n0\t1\t1\t0.5\n1\t1\t1\t0.25\n",
                                &m, err, sizeof err), 0);
    r = run_new("t", 0, clock_now());
    ck_assert_int_eq(mpt_to_run(&m, r, &nrec, &nskip, err, sizeof err), 0);
    assert_close(ec(run_ec(r), EC_CHARGE, 1), 0.75 * MAH, "sum of dq");
    run_free(r);
    mpt_free(&m);

    /* nothing to import */
    ck_assert_int_eq(parse_text("time/s\tmode\n0\t1\n", &m, err, sizeof err), 0);
    r = run_new("t", 0, clock_now());
    ck_assert_int_eq(mpt_to_run(&m, r, &nrec, &nskip, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "t.mpt: no voltage (Ewe/V, Ecell/V), current"));
    run_free(r);
    mpt_free(&m);
    ck_assert_int_eq(parse_text("Ewe/V\tI/mA\n0\t1\n", &m, err, sizeof err), 0);
    r = run_new("t", 0, clock_now());
    ck_assert_int_eq(mpt_to_run(&m, r, &nrec, &nskip, err, sizeof err), -1);
    ck_assert_str_eq(err, "t.mpt: no time/s column");
    run_free(r);
    mpt_free(&m);
}
END_TEST

START_TEST(mpt_run_impedance)
{
    struct mpt m;
    parse_ok("peis.mpt", &m);
    struct run *r = run_new("t", 0, clock_now());
    size_t nrec, nskip;
    char err[512];
    ck_assert_msg(mpt_to_run(&m, r, &nrec, &nskip, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(nrec, 7);
    struct run_table *z = run_table_find(r, "eis", "time");
    ck_assert_ptr_nonnull(z);
    ck_assert_uint_eq(z->nrec, 7);
    ck_assert_int_eq(run_field_index(z, "freq"), 0);
    assert_close(run_get_f64(z, 0, 0), 1e5, "freq");
    assert_close(run_get_f64(z, 1, 0), 10.125854, "Z'");
    assert_close(run_get_f64(z, 2, 0), -1.5815342, "Z'' = -(-Im(Z))");
    ck_assert(z->time[0] == m.cols[mpt_find(&m, "time")].v[0]);
    ck_assert_ptr_nonnull(strstr(z->fields[2].long_name, "-(-Im(Z))"));
    /* the ec record of each point: voltage and current from <Ewe> and <I> */
    struct run_table *t = run_ec(r);
    assert_close(ec(t, EC_VOLTAGE, 0), 1.23e-3, "<Ewe>");
    assert_close(ec(t, EC_CURRENT, 0), 1.5e-9, "<I>");
    run_free(r);
    mpt_free(&m);
}
END_TEST

/* ---- Battery Data Format ----------------------------------------------------------------- */

/* Import FIXTURE into a complete run file in DIR (as `import mpt` does); returns its path. */
static char *import_file(const char *dir, const char *fixture, double utc0)
{
    struct mpt m;
    parse_ok(fixture, &m);
    struct run *r = run_new("imp", utc0, clock_now() - 1140);
    char err[512];
    struct archive *a = archive_create(r, dir, err, sizeof err);
    ck_assert_msg(a != NULL, "%s", err);
    char *path = util_strdup(archive_path(a));
    size_t nrec, nskip;
    ck_assert_msg(mpt_to_run(&m, r, &nrec, &nskip, err, sizeof err) == 0, "%s", err);
    run_end(r, "imported");
    ck_assert_msg(archive_close(a, err, sizeof err) == 0, "%s", err);
    run_free(r);
    mpt_free(&m);
    return path;
}

static char *export_text(const char *path, size_t *rows)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    char err[512];
    ck_assert_msg(bdf_export(path, f, rows, err, sizeof err) == 0, "%s", err);
    fclose(f);
    return buf;
}

#define BDF_HEADER "Test Time / s,Voltage / V,Current / A,Unix Time / s,Cycle Count / 1," \
                   "Step Count / 1,Net Capacity / Ah,Charging Capacity / Ah," \
                   "Discharging Capacity / Ah\n"

START_TEST(bdf_from_import)
{
    char *dir = tmpdir_new();
    char *path = import_file(dir, "gcpl.mpt", 1681308502.25);
    size_t rows;
    char *csv = export_text(path, &rows);
    ck_assert_uint_eq(rows, 20);
    ck_assert_msg(util_startswith(csv, BDF_HEADER), "header: %.300s", csv);
    char *line = strchr(csv, '\n') + 1;
    ck_assert_msg(util_startswith(line, "0,0.055,0.0001,1681308502.250,0,1,0,0,0\n"), "%.80s",
                  line);
    /* the row at 360 s: second half cycle (discharge), 2 samples into it */
    const char *r360 = strstr(csv, "\n360,");
    ck_assert_ptr_nonnull(r360);
    double t, v, i, unix, net, chg, dis;
    int cyc, step;
    ck_assert_int_eq(sscanf(r360 + 1, "%lf,%lf,%lf,%lf,%d,%d,%lf,%lf,%lf", &t, &v, &i, &unix,
                            &cyc, &step, &net, &chg, &dis), 9);
    assert_close(v, -0.017, "V");
    assert_close(i, -1e-4, "I");
    assert_close(unix, 1681308502.25 + 360, "unix");
    ck_assert(cyc == 0 && step == 2);
    assert_close(net, 3.333333333e-6, "net");
    ck_assert(chg == 0);                       /* restarted with the half cycle */
    assert_close(dis, 3.333333333e-6, "discharging");
    /* at 840 s, charging again in cycle 1 */
    const char *r840 = strstr(csv, "\n840,");
    ck_assert_int_eq(sscanf(r840 + 1, "%lf,%lf,%lf,%lf,%d,%d,%lf,%lf,%lf", &t, &v, &i, &unix,
                            &cyc, &step, &net, &chg, &dis), 9);
    ck_assert(cyc == 1 && step == 1 && dis == 0);
    assert_close(chg, 8.333333333e-6, "charging");
    free(csv);

    /* into a file: never over an existing one without force; not over the run file */
    char *out = util_printf("%s/out.csv", dir);
    char err[512];
    ck_assert_int_eq(bdf_export_file(path, out, 0, &rows, err, sizeof err), 0);
    ck_assert_int_eq(bdf_export_file(path, out, 0, &rows, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "exists (-f replaces it)") != NULL, "%s", err);
    ck_assert_int_eq(bdf_export_file(path, out, 1, &rows, err, sizeof err), 0);
    ck_assert_int_eq(bdf_export_file(path, path, 1, &rows, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "is the run file itself") != NULL, "%s", err);
    size_t len;
    char *text = paths_read_file(out, &len);
    ck_assert_ptr_nonnull(text);
    ck_assert(util_startswith(text, BDF_HEADER));
    free(text);
    /* a failed export leaves nothing */
    char *out2 = util_printf("%s/out2.csv", dir);
    ck_assert_int_eq(bdf_export_file(out, out2, 0, &rows, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "cannot open") != NULL, "%s", err);
    ck_assert_int_eq(access(out2, F_OK), -1);
    free(out2);
    free(out);
    free(path);
    tmpdir_free(dir);
}
END_TEST

/* A live run: written out with archive_sync, read while the writer still has it open; a run
 * without ec says so. Without charge in the file, capacities come from I dt. */
START_TEST(bdf_live_run)
{
    char *dir = tmpdir_new();
    struct run *r = run_new("live", 1795563038.0, clock_now());
    char err[512];
    struct archive *a = archive_create(r, dir, err, sizeof err);
    ck_assert_msg(a != NULL, "%s", err);
    size_t rows;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_int_eq(bdf_export(archive_path(a), f, &rows, err, sizeof err), -1);
    fclose(f);
    free(buf);
    ck_assert_msg(strstr(err, "no ec group") != NULL, "%s", err);
    struct run_table *t = ec_table(r, err, sizeof err);
    for (int k = 0; k < 4; k++) {
        union run_value v[EC_NFIELDS];
        v[EC_VOLTAGE].f64 = 3.5 + k * 0.1;
        v[EC_CURRENT].f64 = k < 2 ? 0.5 : -0.5;
        v[EC_CHARGE].f64 = NAN;
        v[EC_Q_HALF].f64 = NAN;
        v[EC_STEP].i32 = 1;
        v[EC_CYCLE].i32 = 0;
        v[EC_HALF_CYCLE].i32 = k < 2 ? 0 : 1;
        ck_assert_int_eq(run_append(t, k * 3600.0, v), 0);
    }
    ck_assert_int_eq(archive_sync(a), 0);
    char *csv = export_text(archive_path(a), &rows);
    ck_assert_uint_eq(rows, 4);
    ck_assert_msg(util_startswith(csv, BDF_HEADER), "%.200s", csv);
    /* charge is in the file but empty: Net Capacity cells are empty, and charging and
     * discharging capacity come from I dt */
    ck_assert_msg(strstr(csv, "\n3600,3.6,0.5,1795566638.000,0,1,,0.5,0\n") != NULL, "%s", csv);
    ck_assert_msg(strstr(csv, "\n10800,3.8,-0.5,1795573838.000,0,1,,0,1\n") != NULL, "%s", csv);
    free(csv);
    ck_assert_int_eq(archive_close(a, err, sizeof err), 0);
    run_free(r);
    tmpdir_free(dir);
}
END_TEST

Suite *ecfile_suite(void)
{
    Suite *s = suite_create("ecfile");
    TCase *tc = tcase_create("mpt");
    tcase_add_test(tc, mpt_galvanostatic);
    tcase_add_test(tc, mpt_decimal_comma_crlf);
    tcase_add_test(tc, mpt_start_time);
    tcase_add_test(tc, mpt_impedance);
    tcase_add_test(tc, mpt_headerless);
    tcase_add_test(tc, mpt_errors);
    tcase_add_test(tc, mpt_recovered);
    tcase_add_test(tc, mpt_encodings);
    tcase_add_test(tc, mpt_every_truncation);
    suite_add_tcase(s, tc);
    tc = tcase_create("run");
    tcase_add_test(tc, mpt_run_galvanostatic);
    tcase_add_test(tc, mpt_run_integrates);
    tcase_add_test(tc, mpt_run_impedance);
    suite_add_tcase(s, tc);
    tc = tcase_create("bdf");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, bdf_from_import);
    tcase_add_test(tc, bdf_live_run);
    suite_add_tcase(s, tc);
    return s;
}
