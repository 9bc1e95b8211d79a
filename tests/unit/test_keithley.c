/* The Keithley protocol functions and the cycler's protocol language. */
#include <math.h>
#include <string.h>

#include "insitu/cycler.h"
#include "insitu/keithley.h"
#include "insitu/scpi.h"
#include "insitu/session.h"
#include "insitu/units.h"
#include "suites.h"

START_TEST(idn)
{
    struct keithley_idn id;
    char err[200];
    ck_assert_int_eq(keithley_parse_idn("KEITHLEY INSTRUMENTS INC.,MODEL 2400,4117720,C32   Oct  4 2010 14:20:11/A02  /S/K",
                                        &id, err, sizeof err), 0);
    ck_assert_int_eq(id.model, 2400);
    ck_assert_int_eq(id.sim, 0);
    ck_assert_int_eq(keithley_parse_idn("KEITHLEY INSTRUMENTS,MODEL 2450,04417720,1.6.7c insitu-sim", &id, err, sizeof err), 0);
    ck_assert_int_eq(id.model, 2450);
    ck_assert_int_eq(id.sim, 1);
    ck_assert(keithley_model_ok(KEITHLEY_2400, 2400));
    ck_assert(keithley_model_ok(KEITHLEY_2400, 6430));
    ck_assert(!keithley_model_ok(KEITHLEY_2400, 2450));
    ck_assert(keithley_model_ok(KEITHLEY_2450, 2450));
    ck_assert(!keithley_model_ok(KEITHLEY_2450, 2400));
    ck_assert_int_eq(keithley_parse_idn("Rohde&Schwarz,NGU401,1234", &id, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "not a Keithley"));
    ck_assert_int_eq(keithley_parse_idn("KEITHLEY,no model here", &id, err, sizeof err), -1);
}
END_TEST

START_TEST(read2400)
{
    struct cycler_sample s;
    double t;
    ck_assert_int_eq(keithley_parse_read2400("+2.345600E-02,+5.000000E-01,+9.910000E+37,+1.234500E+02,+1.032800E+04", &s, &t), 0);
    ck_assert_double_eq_tol(s.v, 0.023456, 1e-12);
    ck_assert_double_eq_tol(s.i, 0.5, 1e-12);
    ck_assert_double_eq_tol(t, 123.45, 1e-9);
    ck_assert_int_eq(s.compliance, 1);   /* 10328 = 0x2858: bit 3 (compliance) set */
    ck_assert_int_eq(s.overflow, 0);
    ck_assert_int_eq(keithley_parse_read2400("-1.0E+00,-5.0E-01,9.91E37,1.0,0", &s, &t), 0);
    ck_assert_int_eq(s.compliance, 0);
    ck_assert_int_eq(keithley_parse_read2400("9.91E37,1e-3,0,0,0", &s, &t), 0);
    ck_assert_int_eq(s.overflow, 1);
    const char *bad[] = { "", "1,2,3,4", "1,2,3,4,5,6", "a,b,c,d,e", "1,2,3,4,5x", "1,,3,4,5", "nan,1,2,3,4" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ck_assert_msg(keithley_parse_read2400(bad[i], &s, &t) == -1, "%s", bad[i]);
}
END_TEST

START_TEST(read2450_and_errors)
{
    struct cycler_sample s;
    double t;
    ck_assert_int_eq(keithley_parse_read2450("2.1E-02,5.0E-01,1.5E+01", &s, &t), 0);
    ck_assert_double_eq_tol(s.v, 0.021, 1e-12);
    ck_assert_double_eq_tol(t, 15, 1e-12);
    ck_assert_int_eq(keithley_parse_read2450("1,2", &s, &t), -1);
    int code;
    char msg[64];
    ck_assert_int_eq(scpi_parse_error("0,\"No error\"", &code, msg, sizeof msg), 0);
    ck_assert_int_eq(code, 0);
    ck_assert_str_eq(msg, "No error");
    ck_assert_int_eq(scpi_parse_error("-113,\"Undefined header\"", &code, msg, sizeof msg), 0);
    ck_assert_int_eq(code, -113);
    ck_assert_int_eq(scpi_parse_error("garbage", &code, msg, sizeof msg), -1);
}
END_TEST

static int check(const char *p, char *err, size_t n)
{
    return cycler_parse_check(p, "run.cmd", 10, err, n);
}

START_TEST(protocols)
{
    char err[300];
    struct session *s = session_new();   /* registers the cycler settings */
    ck_assert_int_eq(check("cc 500mA until 15h", err, sizeof err), 1);
    ck_assert_int_eq(check("cc -1mA until 1h until 0.5V limits -1V 1V\nrest 1h", err, sizeof err), 2);
    ck_assert_int_eq(check("loop 10 {\n cc 1mA until 1h\n cc -1mA until 1h\n}", err, sizeof err), 2);
    ck_assert_int_eq(check("gcpl 5nA limits 0.005V 3V cycles 3", err, sizeof err), 1);
    ck_assert_int_eq(check("cv 3V 0.005V 10mV/s cycles 3", err, sizeof err), 1);
    ck_assert_int_eq(check("cc 500mX until 15h", err, sizeof err), -1);
    ck_assert_str_eq(err, "run.cmd:10: cc: \"500mX\": unknown unit");
    ck_assert_int_eq(check("rest 1h\ncc 5mV until 1h", err, sizeof err), -1);
    ck_assert_str_eq(err, "run.cmd:11: cc: \"5mV\" is a voltage, not a current");
    ck_assert_int_eq(check("cc 1mA", err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "needs an end"));
    ck_assert_int_eq(check("cc 1mA until blue", err, sizeof err), -1);
    ck_assert_int_eq(check("frob 3", err, sizeof err), -1);
    ck_assert_str_eq(err, "run.cmd:10: frob: unknown step (cc, rest, loop, gcpl, cv)");
    ck_assert_int_eq(check("loop 0 { rest 1h }", err, sizeof err), -1);
    ck_assert_int_eq(check("loop 2 {\n\n rest 1x\n}", err, sizeof err), -1);
    ck_assert_str_eq(err, "run.cmd:12: rest: \"1x\": unknown unit");
    ck_assert_int_eq(check("gcpl 5nA limits 3V 0.005V", err, sizeof err), -1);
    ck_assert_int_eq(check("", err, sizeof err), -1);
    ck_assert_int_eq(check("rest 'open", err, sizeof err), -1);
    session_free(s);
}
END_TEST

Suite *keithley_suite(void)
{
    Suite *s = suite_create("keithley");
    TCase *tc = tcase_create("protocol");
    tcase_add_test(tc, idn);
    tcase_add_test(tc, read2400);
    tcase_add_test(tc, read2450_and_errors);
    tcase_add_test(tc, protocols);
    suite_add_tcase(s, tc);
    return s;
}
