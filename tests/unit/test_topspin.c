/* Tests of the TopSpin series follower: times from audita.txt and acqus, and which experiments
 * of a series count as finished.
 *
 * The series tests copy the real datasets of $INSITU_SHARED/data/bruker into numbered EXPNO
 * directories of a temporary data directory and add synthetic audit trails with known times;
 * without ../shared they print SKIP.  Parser tests and the 1000-EXPNO scan use synthetic files
 * only. */
#include <check.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "insitu/topspin.h"
#include "insitu/util.h"
#include "suites.h"

/* ---- helpers ----------------------------------------------------------------------------- */

static char *tmpdir_new(void)
{
    const char *base = getenv("TMPDIR");
    char *t = util_printf("%s/insitu-topspin-XXXXXX", base && *base ? base : "/tmp");
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

static char *shared_dataset(const char *name)
{
    const char *s = getenv("INSITU_SHARED");
    char *d = util_printf("%s/data/bruker/%s", s && *s ? s : "../shared", name);
    char *acq = util_printf("%s/acqus", d);
    int ok = access(acq, R_OK) == 0;
    free(acq);
    if (!ok) {
        free(d);
        return NULL;
    }
    return d;
}

static void write_file(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
    ck_assert_uint_eq(fwrite(text, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

static void write_text(const char *path, const char *text)
{
    write_file(path, text, strlen(text));
}

/* Copy SRC to DST, at most MAX bytes (all when MAX < 0). */
static void copy_file(const char *src, const char *dst, long max)
{
    FILE *in = fopen(src, "rb");
    ck_assert_msg(in != NULL, "%s: %s", src, strerror(errno));
    FILE *out = fopen(dst, "wb");
    ck_assert_msg(out != NULL, "%s: %s", dst, strerror(errno));
    char buf[65536];
    size_t n;
    long done = 0;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) {
        if (max >= 0 && done + (long)n > max)
            n = (size_t)(max - done);
        ck_assert_uint_eq(fwrite(buf, 1, n, out), n);
        done += (long)n;
        if (max >= 0 && done >= max)
            break;
    }
    fclose(in);
    ck_assert_int_eq(fclose(out), 0);
}

static void set_mtime(const char *path, double t)
{
    struct timespec ts[2];
    ts[0].tv_sec = ts[1].tv_sec = (time_t)t;
    ts[0].tv_nsec = ts[1].tv_nsec = 0;
    ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static char *mkexp(const char *root, const char *name)
{
    char *d = util_printf("%s/%s", root, name);
    ck_assert_int_eq(mkdir(d, 0755), 0);
    return d;
}

/* EXPDIR/FILE from the shared dataset DS (MAX bytes, all when < 0). */
static void put_from(const char *ds, const char *expdir, const char *file, long max)
{
    char *src = util_printf("%s/%s", ds, file), *dst = util_printf("%s/%s", expdir, file);
    copy_file(src, dst, max);
    free(src);
    free(dst);
}

static void put_text(const char *expdir, const char *file, const char *text)
{
    char *p = util_printf("%s/%s", expdir, file);
    write_text(p, text);
    free(p);
}

static void fid_mtime(const char *expdir, double t)
{
    char *p = util_printf("%s/fid", expdir);
    set_mtime(p, t);
    free(p);
}

/* A small acqus as TopSpin writes it: TD int32 values, NS 4, DS 2, D1 0.5 s, SW_h 1000 Hz. */
static char *small_acqus(long td, const char *date_line, const char *stamp)
{
    return util_printf("##TITLE= Parameter file, TOPSPIN\t\tVersion 3.2\n"
                       "##JCAMPDX= 5.0\n"
                       "##DATATYPE= Parameter Values\n"
                       "##NPOINTS= 14\t$$ modification sequence number\n"
                       "##ORIGIN= Bruker BioSpin GmbH\n"
                       "##OWNER= nmr\n"
                       "%s%s%s"
                       "$$ /opt/data/nmr/series/1/acqus\n"
                       "$$ process /opt/topspin3.2/prog/mod/go\n"
                       "##$BYTORDA= 0\n"
                       "##$D= (0..63)\n"
                       "0 0.5 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
                       "0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
                       "%s"
                       "##$DS= 2\n"
                       "##$DTYPA= 0\n"
                       "##$NS= 4\n"
                       "##$SW_h= 1000\n"
                       "##$TD= %ld\n"
                       "##END=\n",
                       stamp ? "$$ " : "", stamp ? stamp : "", stamp ? "  nmr@host\n" : "",
                       date_line ? date_line : "", td);
}

/* An audit trail with one acquisition entry; STARTED / COMPLETED may be NULL. */
static char *audita_text(const char *when, const char *started, const char *completed)
{
    char *s = started ? util_printf("\tstarted at %s,\n", started) : util_strdup("");
    char *c = completed ? util_printf("\tcompleted at %s\n", completed) : util_strdup("");
    char *t = util_printf("##TITLE= Audit trail, TOPSPIN\t\tVersion 3.2\n"
                          "##JCAMPDX= 5.01\n"
                          "##ORIGIN= Bruker BioSpin GmbH\n"
                          "##OWNER= nmr\n"
                          "$$ /home/nmr/data/series/1/audita.txt\n"
                          "##AUDIT TRAIL=  $$ (NUMBER, WHEN, WHO, WHERE, PROCESS, VERSION, WHAT)\n"
                          "(   1,<%s>,<nmr>,<lcs185n>,<go>,<TOPSPIN 3.2>,\n"
                          "      <created by zg\n"
                          "%s"
                          "\tPOWCHK enabled, PULCHK disabled,\n"
                          "%s"
                          "       configuration hash MD5:\n"
                          "       4C 6A 9F 3B 66 0A 2B 54 11 50 72 54 8E AB 63 A4\n"
                          "       data hash MD5: 32K\n"
                          "       4C 6A 9F 3B 66 0A 2B 54 11 50 72 54 8E AB 63 A5>)\n"
                          "##END=\n"
                          "\n"
                          "$$ hash MD5\n"
                          "$$ 0C 2C 7E 2D 3B 1F 87 7F 6B 11 99 E3 2E 90 3A 9D\n",
                          when, s, c);
    free(s);
    free(c);
    return t;
}

/* The acquisition entry of the brief (TopSpin 3.2, +0100). */
#define A1_WHEN "2015-12-03 10:14:12.356 +0100"
#define A1_START "2015-12-03 10:13:44.627 +0100"
#define A1_END_T 1449134052.356
#define A1_START_T 1449134024.627

static void assert_near(double got, double want, const char *what)
{
    ck_assert_msg(fabs(got - want) < 1e-6, "%s: %.6f, expected %.6f", what, got, want);
}

/* ---- times ------------------------------------------------------------------------------- */

START_TEST(time_parse)
{
    static const struct {
        const char *s;
        double t;
    } ok[] = {
        { "2015-12-03 10:14:12.356 +0100", 1449134052.356 },
        { "2012-06-02 07:41:55.890 -0500", 1338640915.890 },
        { "2026-05-26T09:34:30.911-0700", 1779813270.911 },   /* TopSpin 4.5 */
        { "2024-02-29 23:59:59.999 +0530", 1709231399.999 },  /* leap day, half-hour zone */
        { "2024-02-29 23:59:59.999 +05:30", 1709231399.999 },
        { "1999-12-31 23:00:00 -1400", 946731600.0 },          /* no fraction */
    };
    for (size_t i = 0; i < ARRAY_LEN(ok); i++) {
        double t = -1;
        const char *end = NULL;
        struct bruker_err e;
        ck_assert_msg(topspin_time_parse(ok[i].s, &t, &end, &e) == 0, "%s: %s", ok[i].s, e.msg);
        assert_near(t, ok[i].t, ok[i].s);
        ck_assert_int_eq(*end, '\0');
    }
    /* The result does not depend on the machine's time zone. */
    setenv("TZ", "America/Los_Angeles", 1);
    tzset();
    double t;
    struct bruker_err e;
    ck_assert_int_eq(topspin_time_parse("2015-12-03 10:14:12.356 +0100,", &t, NULL, &e), 0);
    assert_near(t, 1449134052.356, "TZ set");
    unsetenv("TZ");
    tzset();

    static const struct {
        const char *s, *msg;
    } bad[] = {
        { "", "\"\": not a time YYYY-MM-DD hh:mm:ss" },
        { "2015-12-03", "\"2015-12-03\": not a time YYYY-MM-DD hh:mm:ss" },
        { "2015/12/03 10:14:12 +0100", "\"2015/12/03 10:14:12 +01\": not a time YYYY-MM-DD hh:mm:ss" },
        { "2015-13-03 10:14:12 +0100", "\"2015-13-03 10:14:12 +01\": no such date and time (years 1980..2199)" },
        { "2015-02-29 10:14:12 +0100", "\"2015-02-29 10:14:12 +01\": no such date and time (years 1980..2199)" },
        { "2015-12-03 24:00:00 +0100", "\"2015-12-03 24:00:00 +01\": no such date and time (years 1980..2199)" },
        { "0001-01-01 00:00:00 +0000", "\"0001-01-01 00:00:00 +00\": no such date and time (years 1980..2199)" },
        { "9999-12-31 23:59:59 +0000", "\"9999-12-31 23:59:59 +00\": no such date and time (years 1980..2199)" },
        /* before TopSpin existed */
        { "1970-01-01 00:00:00Z", "\"1970-01-01 00:00:00Z\": no such date and time (years 1980..2199)" },
        { "2015-12-03 10:14:12.356", "\"2015-12-03 10:14:12.356\": no time zone offset (+hhmm): the time cannot be placed" },
        { "2015-12-03 10:14:12.356 CET", "\"2015-12-03 10:14:12.356 CET\": no time zone offset (+hhmm): the time cannot be placed" },
        { "2015-12-03 10:14:12.356 +9900", "\"2015-12-03 10:14:12.356 +9900\": bad time zone offset (+hhmm)" },
        { "2015-12-03 10:14:12.356 +01", "\"2015-12-03 10:14:12.356 +01\": bad time zone offset (+hhmm)" },
        { "2015-12-03 10:14:12. +0100", "\"2015-12-03 10:14:12. +0100\": '.' without digits" },
        { "2015-12-03 10:14:12.1234567890 +0100", "\"2015-12-03 10:14:12.1234567890 +0100\": more than 9 digits of fraction" },
        { "2015-12-03 10:1\n4:12 +0100", "\"2015-12-03 10:1\": not a time YYYY-MM-DD hh:mm:ss" },
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        ck_assert_msg(topspin_time_parse(bad[i].s, &t, NULL, &e) == -1, "%s parsed", bad[i].s);
        ck_assert_str_eq(e.msg, bad[i].msg);
    }
}
END_TEST

static int audit_text(const char *text, struct topspin_audit *a, struct bruker_err *e)
{
    return topspin_audit_parse(text, strlen(text), "audita.txt", a, e);
}

START_TEST(audit_formats)
{
    struct topspin_audit a;
    struct bruker_err e;
    /* TopSpin 3.2 (the brief's entry): WHEN is the end, "started at" the start */
    char *t = audita_text(A1_WHEN, A1_START, NULL);
    ck_assert_msg(audit_text(t, &a, &e) == 0, "%s", e.msg);
    assert_near(a.start, A1_START_T, "start");
    assert_near(a.end, A1_END_T, "end");
    ck_assert_int_eq(a.number, 1);
    ck_assert_int_eq(a.line, 7);
    free(t);
    /* TopSpin 4: "completed at" is the end, whatever WHEN says; other zones */
    t = audita_text("2012-06-02T07:41:58.500-0500", "2012-06-02 07:40:50.250 -0500",
                    "2012-06-02 07:41:55.890 -0500");
    ck_assert_msg(audit_text(t, &a, &e) == 0, "%s", e.msg);
    assert_near(a.start, 1338640850.25, "start");
    assert_near(a.end, 1338640915.89, "end");
    free(t);
    /* no "started at": start is NAN (topspin_times estimates it from acqus) */
    t = audita_text(A1_WHEN, NULL, NULL);
    ck_assert_msg(audit_text(t, &a, &e) == 0, "%s", e.msg);
    ck_assert(isnan(a.start));
    assert_near(a.end, A1_END_T, "end");
    free(t);
    /* As published TopSpin 3.6/4.x trails look: processing entries after the acquisition (with
     * ISO WHEN), a $$ comment between entries, the UUID of TopSpin 4: the acquisition entry
     * is found among them. */
    static const char v4[] =
        "##TITLE= Audit trail, TopSpin 4.1.4\n"
        "##JCAMPDX= 5.01\n"
        "##ORIGIN= Bruker BioSpin GmbH & Co. KG\n"
        "##OWNER= nmr\n"
        "$$ C:/Bruker/TopSpin4.1.4/data/series/7/audita.txt\n"
        "##AUDIT TRAIL=  $$ (NUMBER, WHEN, WHO, WHERE, PROCESS, VERSION, WHAT)\n"
        "(   1,<2026-05-02 01:29:39.981 -0500>,<nmr>,<host.example.org>,<go4>,<TopSpin 4.1.4>,\n"
        "      <created by zg on data set with UUID '0f6a1e6e-1b7c-4a8e-9d1c-6d1f2b3c4d5e'\n"
        "\tstarted at 2026-05-02 00:19:36.943 -0500,\n"
        "\tPOWCHK enabled, PULCHK disabled,\n"
        "       configuration hash MD5:\n"
        "       92 D7 9E 89 28 7C 5A 14 42 79 B3 51 EB F8 B1 F7\n"
        "       data hash MD5: 9590\n"
        "       69 BD 39 94 1C DD B6 2E 90 9A 1F 6F 2E 19 6B 0D>)\n"
        "$$ C:/Users/x/DATA/series/7/audita.txt\n"
        "(   2,<2026-05-26T09:34:30.911-0700>,<samso>,<Ordi>,<proc1d>,<TopSpin 4.5.0>,\n"
        "      <Start of raw data processing\n"
        "       em LB = 0 TDeff = 384 SI = 32K\n"
        "       data hash MD5: 32K\n"
        "       EE 6F 85 C6 1B 26 0D 18 CA E4 70 53 6E F7 CD 67>)\n"
        "##END=\n";
    ck_assert_msg(audit_text(v4, &a, &e) == 0, "%s", e.msg);
    assert_near(a.start, 1777699176.943, "start");
    assert_near(a.end, 1777703379.981, "end");
    /* the old five-field trail (NUMBER, WHEN, WHO, WHERE, WHAT) */
    static const char v5[] =
        "##TITLE= Audit trail, XWIN-NMR\n"
        "##AUDIT TRAIL=  $$ (NUMBER, WHEN, WHO, WHERE, WHAT)\n"
        "(   1,<2009-03-01 12:00:10.000 +0000>,<nmr>,<av500>,\n"
        "      <created by zg\n"
        "\tstarted at 2009-03-01 11:59:00.000 +0000>)\n"
        "##END=\n";
    ck_assert_msg(audit_text(v5, &a, &e) == 0, "%s", e.msg);
    assert_near(a.start, 1235908740, "start");
    assert_near(a.end, 1235908810, "end");
    /* CRLF line ends (a trail copied through Windows) */
    t = audita_text(A1_WHEN, A1_START, NULL);
    struct strbuf b = { 0 };
    for (const char *p = t; *p; p++) {
        if (*p == '\n')
            strbuf_addch(&b, '\r');
        strbuf_addch(&b, *p);
    }
    ck_assert_msg(topspin_audit_parse(b.s, b.len, "audita.txt", &a, &e) == 0, "%s", e.msg);
    assert_near(a.start, A1_START_T, "start (CRLF)");
    assert_near(a.end, A1_END_T, "end (CRLF)");
    strbuf_free(&b);
    free(t);
}
END_TEST

START_TEST(audit_malformed)
{
    char *good = audita_text(A1_WHEN, A1_START, NULL);
    struct topspin_audit a;
    struct bruker_err e;
    /* truncated: in the middle of WHAT, and before ##END= */
    char *cut = strstr(good, "POWCHK");
    ck_assert_int_eq(topspin_audit_parse(good, (size_t)(cut - good), "audita.txt", &a, &e), -1);
    ck_assert_str_eq(e.msg, "audita.txt:8: entry 1: field 7: no closing '>' before the end of "
                            "the file (truncated?)");
    cut = strstr(good, "##END=");
    ck_assert_int_eq(topspin_audit_parse(good, (size_t)(cut - good), "audita.txt", &a, &e), -1);
    ck_assert_str_eq(e.msg, "audita.txt:15: no ##END=: the file is cut short (still being "
                            "written?)");
    cut = strstr(good, "(   1,<") + 10;
    ck_assert_int_eq(topspin_audit_parse(good, (size_t)(cut - good), "audita.txt", &a, &e), -1);
    ck_assert_str_eq(e.msg, "audita.txt:7: entry 1: field 2: no closing '>' before the end of "
                            "the file (truncated?)");
    ck_assert_int_eq(topspin_audit_parse(good, 0, "audita.txt", &a, &e), -1);
    ck_assert_str_eq(e.msg, "audita.txt: no ##AUDIT TRAIL=: not a TopSpin audit trail");
    free(good);

    static const char head[] = "##TITLE= Audit trail\n##AUDIT TRAIL=  $$ (NUMBER, WHEN, WHO, "
                               "WHERE, PROCESS, VERSION, WHAT)\n";
#define ENTRY(when, what) "(   1,<" when ">,<nmr>,<h>,<go>,<TOPSPIN 3.2>,\n      <" what ">)\n"
#define ZG(start) "created by zg\n\tstarted at " start ",\n\tPOWCHK enabled"
    static const struct {
        const char *body, *msg;
    } bad[] = {
        /* garbage */
        { "hello world\n", "audita.txt:3: \"hello world\": neither ##KEY=, $$ comment nor (entry)" },
        { "(((((\n", "audita.txt:3: entry without a NUMBER after '('" },
        { "(1 2 3)\n", "audita.txt:3: entry 1: ',' expected after the NUMBER" },
        { "(12345678901,<x>)\n", "audita.txt:3: entry NUMBER longer than 9 digits" },
        /* missing fields */
        { "(   1,<" A1_WHEN ">)\n##END=\n",
          "audita.txt:3: entry 1: 1 field: WHEN and WHAT at least are needed" },
        { "(   1, " A1_WHEN ",<nmr>)\n",
          "audita.txt:3: entry 1: field 2: '<' expected, found \"2015-12-03 10:14:12.356\"" },
        { "(   1,<" A1_WHEN ">,<nmr>,\n", "audita.txt:3: entry 1: the file ends inside the "
                                           "entry (truncated?)" },
        { "(   1,<" A1_WHEN ">,<nmr> <x\n##END=\n",
          "audita.txt:3: entry 1: field 3: no closing '>' before the end of the file "
          "(truncated?)" },
        { ENTRY(A1_WHEN, "Start of raw data processing") "##END=\n",
          "audita.txt: no acquisition entry (\"created by zg ... started at ...\") in 1 entry" },
        { "##END=\n", "audita.txt: no acquisition entry (\"created by zg ... started at ...\") "
                      "in 0 entries" },
        { ENTRY(A1_WHEN, "acquisition in progress") "##END=\n",
          "audita.txt:3: entry 1: acquisition in progress (or aborted)" },
        /* absurd or unplaceable dates */
        { ENTRY("2015-13-03 10:14:12.356 +0100", ZG(A1_START)) "##END=\n",
          "audita.txt:3: entry 1: WHEN: \"2015-13-03 10:14:12.356\": no such date and time "
          "(years 1980..2199)" },
        { ENTRY("1969-12-31 23:59:59.000 +0000", ZG(A1_START)) "##END=\n",
          "audita.txt:3: entry 1: WHEN: \"1969-12-31 23:59:59.000\": no such date and time "
          "(years 1980..2199)" },
        { ENTRY(A1_WHEN, ZG("2015-12-03 10:13:44.627")) "##END=\n",
          "audita.txt:5: entry 1: started at: \"2015-12-03 10:13:44.627,\": no time zone offset "
          "(+hhmm): the time cannot be placed" },
        { ENTRY(A1_WHEN, ZG("yesterday")) "##END=\n",
          "audita.txt:5: entry 1: started at: \"yesterday,\": not a time YYYY-MM-DD hh:mm:ss" },
        { ENTRY(A1_WHEN, ZG("2015-12-03 10:15:00.000 +0100")) "##END=\n",
          "audita.txt:3: entry 1: started at 1449134100.000, after its end 1449134052.356" },
        { ENTRY(A1_WHEN, ZG("2013-12-03 10:13:44.627 +0100")) "##END=\n",
          "audita.txt:3: entry 1: 730 days between start and end: not one acquisition" },
        { ENTRY("2015-12-03 10:14:12.356 +2500", ZG(A1_START)) "##END=\n",
          "audita.txt:3: entry 1: WHEN: \"2015-12-03 10:14:12.356 +2500\": bad time zone "
          "offset (+hhmm)" },
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        char *t = util_printf("%s%s", head, bad[i].body);
        ck_assert_msg(audit_text(t, &a, &e) == -1, "case %zu parsed", i);
        ck_assert_str_eq(e.msg, bad[i].msg);
        free(t);
    }
    /* an entry before the header, and a binary file */
    ck_assert_int_eq(audit_text(ENTRY(A1_WHEN, ZG(A1_START)), &a, &e), -1);
    ck_assert_str_eq(e.msg, "audita.txt:1: entry before ##AUDIT TRAIL=");
    static const char bin[] = "##AUDIT TRAIL=\n\n\0\1\2(";
    ck_assert_int_eq(topspin_audit_parse(bin, sizeof bin, "audita.txt", &a, &e), -1);
    ck_assert_str_eq(e.msg, "audita.txt:3: NUL byte: not a text audit trail");

    /* Random damage to a good trail: an error or a result, never a crash (ASan run) */
    good = audita_text(A1_WHEN, A1_START, "2015-12-03 10:14:12.000 +0100");
    size_t n = strlen(good);
    char *buf = util_malloc(n);
    unsigned seed = 4711;
    int parsed = 0;
    for (int round = 0; round < 4000; round++) {
        memcpy(buf, good, n);
        size_t len = n;
        int edits = 1 + round % 4;
        for (int k = 0; k < edits; k++) {
            seed = seed * 1103515245u + 12345u;
            size_t at = (seed >> 8) % n;
            static const char alpha[] = "<>(),\n\t 0123456789-+:.TZ#$=abc";
            buf[at] = (seed >> 20) % 5 == 0 ? (char)(seed >> 3) : alpha[(seed >> 16) % 31];
        }
        if (round % 3 == 0)
            len = (seed >> 4) % n;  /* and cut short */
        int rc = topspin_audit_parse(buf, len, "audita.txt", &a, &e);
        if (rc == 0) {
            parsed++;
            ck_assert(a.end > 0 && (isnan(a.start) || a.start <= a.end));
        } else {
            ck_assert(util_startswith(e.msg, "audita.txt"));
        }
    }
    free(buf);
    free(good);
    ck_assert_int_gt(parsed, 0);
#undef ENTRY
#undef ZG
}
END_TEST

/* Times without audita.txt (acqus ##$DATE=, then the "$$" time stamp) and with an audit trail
 * that has no "started at": synthetic acqus, no shared data needed. */
START_TEST(times_from_acqus)
{
    char *root = tmpdir_new();
    char *x = mkexp(root, "1");
    double s, t;
    int src;
    struct bruker_err e;
    /* duration estimate: (NS 4 + DS 2) * (D1 0.5 + TD 2000 / (2 * 1000)) = 9 s */
    char *acq = small_acqus(2000, "##$DATE= 1449134187\n", "2015-12-03 10:16:39.877 +0100");
    put_text(x, "acqus", acq);
    free(acq);
    ck_assert_msg(topspin_times_source(x, &s, &t, &src, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(src, TOPSPIN_TIME_ACQUS_DATE);
    assert_near(t, 1449134187, "end (DATE)");
    assert_near(s, 1449134187 - 9.0, "start (DATE - estimate)");
    /* no DATE (or DATE 0, never set): the time stamp comment */
    acq = small_acqus(2000, "##$DATE= 0\n", "2012-06-02 07:41:55.890 -0500");
    put_text(x, "acqus", acq);
    free(acq);
    ck_assert_msg(topspin_times_source(x, &s, &t, &src, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(src, TOPSPIN_TIME_ACQUS_STAMP);
    assert_near(t, 1338640915.89, "end (stamp)");
    assert_near(s, 1338640915.89 - 9.0, "start (stamp - estimate)");
    /* neither */
    acq = small_acqus(2000, NULL, NULL);
    put_text(x, "acqus", acq);
    free(acq);
    char *want = util_printf("%s/acqus: no acquisition time: no audita.txt, no ##$DATE=, no "
                             "\"$$ date\" comment", x);
    ck_assert_int_eq(topspin_times(x, &s, &t, &e), -1);
    ck_assert_str_eq(e.msg, want);
    free(want);
    /* a stamp without its zone, an absurd DATE */
    acq = small_acqus(2000, NULL, "2012-06-02 07:41:55.890");
    put_text(x, "acqus", acq);
    free(acq);
    want = util_printf("%s/acqus:7: time stamp comment: \"2012-06-02 07:41:55.890  nmr@host\": "
                       "no time zone offset (+hhmm): the time cannot be placed", x);
    ck_assert_int_eq(topspin_times(x, &s, &t, &e), -1);
    ck_assert_str_eq(e.msg, want);
    free(want);
    acq = small_acqus(2000, "##$DATE= 12\n", NULL);
    put_text(x, "acqus", acq);
    free(acq);
    want = util_printf("%s/acqus:13: ##$DATE= 12: not a time in 1980..2199", x);
    ck_assert_int_eq(topspin_times(x, &s, &t, &e), -1);
    ck_assert_str_eq(e.msg, want);
    free(want);
    /* audita.txt without "started at": its end, minus the estimate */
    acq = small_acqus(2000, "##$DATE= 1449134187\n", NULL);
    put_text(x, "acqus", acq);
    free(acq);
    char *au = audita_text(A1_WHEN, NULL, NULL);
    put_text(x, "audita.txt", au);
    free(au);
    ck_assert_msg(topspin_times_source(x, &s, &t, &src, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(src, TOPSPIN_TIME_AUDIT_END);
    assert_near(t, A1_END_T, "end (audit)");
    assert_near(s, A1_END_T - 9.0, "start (audit end - estimate)");
    /* a broken audita.txt is an error, not a silent fallback to acqus */
    put_text(x, "audita.txt", "##TITLE= Audit trail\n##AUDIT TRAIL=\n(   1,<2015-12-03");
    want = util_printf("%s/audita.txt:3: entry 1: field 2: no closing '>' before the end of "
                       "the file (truncated?)", x);
    ck_assert_int_eq(topspin_times(x, &s, &t, &e), -1);
    ck_assert_str_eq(e.msg, want);
    free(want);
    /* no acqus, no audita.txt */
    char *y = mkexp(root, "2");
    want = util_printf("%s/acqus: No such file or directory", y);
    ck_assert_int_eq(topspin_times(y, &s, &t, &e), -1);
    ck_assert_str_eq(e.msg, want);
    free(want);
    free(y);
    free(x);
    tmpdir_free(root);
}
END_TEST

/* ---- series ------------------------------------------------------------------------------ */

static const struct topspin_exp *find_exp(const struct topspin_exp *v, int n, long expno)
{
    for (int i = 0; i < n; i++)
        if (v[i].expno == expno)
            return &v[i];
    return NULL;
}

/* "1,2,10" for the EXPNOs of V; "2!" for one with an error. */
static char *expnos(const struct topspin_exp *v, int n)
{
    struct strbuf b = { 0 };
    for (int i = 0; i < n; i++)
        strbuf_printf(&b, "%s%ld%s", i ? "," : "", v[i].expno, v[i].complete ? "" : "!");
    return strbuf_take(&b);
}

static char *scan_list(const char *root, long after, double settle, double now)
{
    struct topspin_exp *v;
    int n;
    struct bruker_err e;
    ck_assert_msg(topspin_scan(root, after, settle, now, &v, &n, &e) == 0, "%s", e.msg);
    char *s = expnos(v, n);
    topspin_exps_free(v, n);
    return s;
}

#define ck_assert_scan(root, after, settle, now, want)                                           \
    do {                                                                                         \
        char *got_ = scan_list(root, after, settle, now);                                        \
        ck_assert_str_eq(got_, want);                                                            \
        free(got_);                                                                              \
    } while (0)

START_TEST(scan_series)
{
    char *spc = shared_dataset("spectrochempy-1h-500"), *nmi = shared_dataset("nmrium-1h-400");
    if (!spc || !nmi) {
        printf("SKIP: topspin series: ../shared/data/bruker/{spectrochempy-1h-500,nmrium-1h-400} "
               "not found (set INSITU_SHARED)\n");
        free(spc);
        free(nmi);
        return;
    }
    char *root = tmpdir_new();
    double now = (double)time(NULL), old = now - 3600;
    /* 1: TopSpin 3.2 trail, +0100 (spectrochempy 500 MHz data) */
    char *e1 = mkexp(root, "1");
    put_from(spc, e1, "acqus", -1);
    put_from(spc, e1, "fid", -1);
    char *au = audita_text(A1_WHEN, A1_START, NULL);
    put_text(e1, "audita.txt", au);
    free(au);
    fid_mtime(e1, old);
    /* 2: TopSpin 4 trail, -0500, ISO WHEN, "completed at" (nmrium 400 MHz data) */
    char *e2 = mkexp(root, "2");
    put_from(nmi, e2, "acqus", -1);
    put_from(nmi, e2, "fid", -1);
    au = audita_text("2012-06-02T07:41:58.500-0500", "2012-06-02 07:40:50.250 -0500",
                     "2012-06-02 07:41:55.890 -0500");
    put_text(e2, "audita.txt", au);
    free(au);
    fid_mtime(e2, old);
    /* 10: no audita.txt, fresh fid: finished because 11 has a fid */
    char *e10 = mkexp(root, "10");
    put_from(spc, e10, "acqus", -1);
    put_from(spc, e10, "fid", -1);
    fid_mtime(e10, now);
    /* 11: half-written: 100000 of the 262144 bytes TD 65536 int32 need */
    char *e11 = mkexp(root, "11");
    put_from(nmi, e11, "acqus", -1);
    put_from(nmi, e11, "fid", 100000);
    fid_mtime(e11, now);
    /* 12: made by TopSpin for the next acquisition, no fid yet */
    char *e12 = mkexp(root, "12");
    put_from(nmi, e12, "acqus", -1);
    /* junk: names that are not EXPNOs (even with a complete experiment inside), a plain file */
    static const char *junk[] = { "junk", "1a", "007", "+5", "99999999999" };
    for (size_t i = 0; i < ARRAY_LEN(junk); i++) {
        char *j = mkexp(root, junk[i]);
        put_from(spc, j, "acqus", -1);
        put_from(spc, j, "fid", -1);
        fid_mtime(j, old);
        free(j);
    }
    char *f13 = util_printf("%s/13", root);
    write_text(f13, "not a directory\n");
    free(f13);

    /* numeric order, not lexical; 11 (short fid), 12 (no fid) and the junk left out */
    struct topspin_exp *v;
    int n;
    struct bruker_err e;
    ck_assert_msg(topspin_scan(root, 0, 60, now, &v, &n, &e) == 0, "%s", e.msg);
    char *got = expnos(v, n);
    ck_assert_str_eq(got, "1,2,10");
    free(got);
    const struct topspin_exp *x = find_exp(v, n, 1);
    ck_assert_int_eq(x->finished_by, TOPSPIN_BY_AUDIT);
    ck_assert_int_eq(x->time_src, TOPSPIN_TIME_AUDIT);
    assert_near(x->start, A1_START_T, "1 start");
    assert_near(x->end, A1_END_T, "1 end");
    ck_assert_int_eq(x->td, 24974);
    ck_assert_int_eq(x->fid_bytes, 100352);  /* TD 24974 int32, padded to 1024-byte blocks */
    ck_assert_ptr_null(x->error);
    x = find_exp(v, n, 2);
    ck_assert_int_eq(x->finished_by, TOPSPIN_BY_AUDIT);
    assert_near(x->start, 1338640850.25, "2 start");
    assert_near(x->end, 1338640915.89, "2 end");
    x = find_exp(v, n, 10);
    ck_assert_int_eq(x->finished_by, TOPSPIN_BY_LATER);
    ck_assert_int_eq(x->time_src, TOPSPIN_TIME_ACQUS_DATE);
    /* ##$DATE= 1449134187; 16 scans of D1 2 s + AQ 24974 / (2 * 250000 Hz) */
    assert_near(x->end, 1449134187, "10 end");
    assert_near(x->start, 1449134187 - 16 * (2 + 24974 / 500000.0), "10 start");
    char *want = util_printf("%s/10", root);
    ck_assert_str_eq(x->dir, want);
    free(want);
    topspin_exps_free(v, n);
    /* topspin_times on its own gives the same */
    double s, t;
    ck_assert_msg(topspin_times(e2, &s, &t, &e) == 0, "%s", e.msg);
    assert_near(s, 1338640850.25, "times 2 start");
    assert_near(t, 1338640915.89, "times 2 end");

    /* AFTER: only what is above */
    ck_assert_scan(root, 2, 60, now, "10");
    ck_assert_scan(root, 10, 60, now, "");
    /* the short fid stays out even when it has been quiet for long */
    ck_assert_scan(root, 10, 60, now + 3600, "");

    /* 11 complete: out while fresh, in once quiet for SETTLE; SETTLE < 0 disables the rule */
    put_from(nmi, e11, "fid", -1);
    fid_mtime(e11, now);
    ck_assert_scan(root, 10, 60, now, "");
    ck_assert_scan(root, 10, 60, now + 59, "");
    ck_assert_scan(root, 10, 60, now + 61, "11");
    ck_assert_scan(root, 10, -1, now + 1e6, "");
    ck_assert_msg(topspin_scan(root, 10, 60, now + 61, &v, &n, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(v[0].finished_by, TOPSPIN_BY_SETTLE);
    ck_assert_int_eq(v[0].time_src, TOPSPIN_TIME_ACQUS_DATE);
    assert_near(v[0].end, 1338640915, "11 end");
    assert_near(v[0].start, 1338640915 - 12 * (1 + 65536 / (2 * 8223.68421052631)), "11 start");
    topspin_exps_free(v, n);

    /* 11 short again, then 12 acquires: 11 will never be complete: an error to log and skip */
    put_from(nmi, e11, "fid", 100000);
    fid_mtime(e11, now);
    ck_assert_scan(root, 10, 60, now, "");
    put_from(nmi, e12, "fid", -1);
    fid_mtime(e12, now);
    ck_assert_msg(topspin_scan(root, 10, 60, now, &v, &n, &e) == 0, "%s", e.msg);
    got = expnos(v, n);
    ck_assert_str_eq(got, "11!");
    free(got);
    want = util_printf("%s/11/fid: 100000 bytes, TD 65536 int32 values need 262144: cut short, "
                       "and expno 12 has been acquired since", root);
    ck_assert_str_eq(v[0].error, want);
    free(want);
    topspin_exps_free(v, n);

    /* 30: looks finished (audit trail, fid) but its acqus does not parse: an error for 30
     * alone; and 12 is finished now that 30 has a fid */
    char *e30 = mkexp(root, "30");
    put_text(e30, "acqus", "##TITLE= Parameter file\n##$TD= 64\n##$SW_h= oops\n##END=\n");
    put_from(nmi, e30, "fid", 4096);
    au = audita_text(A1_WHEN, A1_START, NULL);
    put_text(e30, "audita.txt", au);
    free(au);
    ck_assert_msg(topspin_scan(root, 11, 60, now, &v, &n, &e) == 0, "%s", e.msg);
    got = expnos(v, n);
    ck_assert_str_eq(got, "12,30!");
    free(got);
    ck_assert_int_eq(v[0].finished_by, TOPSPIN_BY_LATER);
    want = util_printf("%s/30/acqus:3: ##$SW_h: \"oops\" is not a number", root);
    ck_assert_str_eq(v[1].error, want);
    free(want);
    topspin_exps_free(v, n);

    /* 31: the audit trail says "acquisition in progress": out, however quiet the fid; once
     * 32 has acquired, an error (aborted) */
    char *e31 = mkexp(root, "31");
    put_from(spc, e31, "acqus", -1);
    put_from(spc, e31, "fid", -1);
    put_text(e31, "audita.txt", "##TITLE= Audit trail\n##AUDIT TRAIL=  $$ (NUMBER, WHEN, WHO, "
             "WHERE, PROCESS, VERSION, WHAT)\n(   1,<2015-12-03 10:14:12.356 +0100>,<nmr>,"
             "<lcs185n>,<go>,<TOPSPIN 3.2>,\n      <acquisition in progress>)\n##END=\n");
    fid_mtime(e31, old);
    ck_assert_scan(root, 30, 60, now, "");
    char *e32 = mkexp(root, "32");
    put_from(spc, e32, "acqus", -1);
    put_from(spc, e32, "fid", -1);
    ck_assert_msg(topspin_scan(root, 30, 60, now, &v, &n, &e) == 0, "%s", e.msg);
    got = expnos(v, n);
    ck_assert_str_eq(got, "31!");
    free(got);
    want = util_printf("%s/31/audita.txt:3: entry 1: acquisition in progress (or aborted)", root);
    ck_assert_str_eq(v[0].error, want);
    free(want);
    topspin_exps_free(v, n);

    /* importing the finished series: AFTER 0, SETTLE 0 */
    ck_assert_scan(root, 0, 0, now + 1, "1,2,10,11!,12,30!,31!,32");

    free(e1);
    free(e2);
    free(e10);
    free(e11);
    free(e12);
    free(e30);
    free(e31);
    free(e32);
    tmpdir_free(root);
    free(spc);
    free(nmi);
}
END_TEST

START_TEST(scan_errors)
{
    struct topspin_exp *v = (struct topspin_exp *)1;
    int n = -1;
    struct bruker_err e;
    ck_assert_int_eq(topspin_scan("/nonexistent/topspin/data", 0, 60, 0, &v, &n, &e), -1);
    ck_assert_str_eq(e.msg, "/nonexistent/topspin/data: No such file or directory");
    ck_assert_ptr_null(v);
    ck_assert_int_eq(n, 0);
    /* an empty directory: no experiments, no error */
    char *root = tmpdir_new();
    ck_assert_int_eq(topspin_scan(root, 0, 60, 0, &v, &n, &e), 0);
    ck_assert_int_eq(n, 0);
    ck_assert_ptr_null(v);
    topspin_exps_free(v, n);
    /* a broken audit trail: left out while it may still be being written, then an error */
    char *x = mkexp(root, "1");
    char *acq = small_acqus(64, "##$DATE= 1449134187\n", NULL);
    put_text(x, "acqus", acq);
    free(acq);
    char fid[256] = { 0 };
    char *p = util_printf("%s/fid", x);
    write_file(p, fid, sizeof fid);
    set_mtime(p, 1000000000);
    free(p);
    put_text(x, "audita.txt", "##TITLE= Audit trail\n##AUDIT TRAIL=\n(   1,<2015");
    p = util_printf("%s/audita.txt", x);
    set_mtime(p, 1000000100);
    free(p);
    ck_assert_scan(root, 0, 60, 1000000120, "");
    ck_assert_scan(root, 0, 60, 1000000200, "1!");
    free(x);
    tmpdir_free(root);
}
END_TEST

/* A series of 1000 EXPNOs: the poll with AFTER near the end must stay cheap (it stats and
 * parses only what is above AFTER). */
START_TEST(scan_thousand)
{
    char *root = tmpdir_new();
    char *acq = small_acqus(64, "##$DATE= 1449134187\n", NULL);
    char *au = audita_text(A1_WHEN, A1_START, NULL);
    char fid[256] = { 0 };  /* TD 64 int32 */
    for (int i = 1; i <= 1000; i++) {
        char name[16];
        snprintf(name, sizeof name, "%d", i);
        char *x = mkexp(root, name);
        put_text(x, "acqus", acq);
        char *p = util_printf("%s/fid", x);
        write_file(p, fid, sizeof fid);
        free(p);
        if (i < 1000)  /* the last one is still acquiring */
            put_text(x, "audita.txt", au);
        free(x);
    }
    free(acq);
    free(au);
    double now = (double)time(NULL);
    struct topspin_exp *v;
    int n;
    struct bruker_err e;
    ck_assert_msg(topspin_scan(root, 0, 600, now, &v, &n, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(n, 999);
    for (int i = 0; i < n; i++) {
        ck_assert_int_eq(v[i].expno, i + 1);
        ck_assert_int_eq(v[i].complete, 1);
    }
    topspin_exps_free(v, n);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int polls = 200;
    for (int k = 0; k < polls; k++) {
        ck_assert_int_eq(topspin_scan(root, 997, 600, now, &v, &n, &e), 0);
        ck_assert_int_eq(n, 2);
        topspin_exps_free(v, n);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double us = ((double)(t1.tv_sec - t0.tv_sec) * 1e6 + (t1.tv_nsec - t0.tv_nsec) * 1e-3) / polls;
    printf("topspin_scan: 1000 EXPNOs, AFTER 997: %.0f us per poll\n", us);
    ck_assert_msg(us < 100000, "%.0f us per poll", us);  /* generous: sanitizers, shared CPU */
    tmpdir_free(root);
}
END_TEST

Suite *topspin_suite(void)
{
    Suite *s = suite_create("topspin");
    TCase *tc = tcase_create("times");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, time_parse);
    tcase_add_test(tc, audit_formats);
    tcase_add_test(tc, audit_malformed);
    tcase_add_test(tc, times_from_acqus);
    suite_add_tcase(s, tc);
    tc = tcase_create("series");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, scan_series);
    tcase_add_test(tc, scan_errors);
    tcase_add_test(tc, scan_thousand);
    suite_add_tcase(s, tc);
    return s;
}
