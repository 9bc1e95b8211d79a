/* Quantities with units through UDUNITS-2. */
#include <math.h>
#include <string.h>

#include "insitu/units.h"
#include "suites.h"

static double Q(const char *text, const char *unit)
{
    double v = NAN;
    char err[200];
    ck_assert_msg(units_parse(text, unit, &v, err, sizeof err) == 0, "%s: %s", text, err);
    return v;
}

static const char *BAD(const char *text, const char *unit)
{
    static char err[200];
    double v;
    ck_assert_msg(units_parse(text, unit, &v, err, sizeof err) < 0, "%s parsed", text);
    return err;
}

START_TEST(si_prefixes)
{
    ck_assert_double_eq_tol(Q("500mA", "A"), 0.5, 1e-15);
    ck_assert_double_eq_tol(Q("5nA", "A"), 5e-9, 1e-22);
    ck_assert_double_eq_tol(Q("0.005V", "V"), 0.005, 1e-15);
    ck_assert_double_eq_tol(Q("15h", "s"), 54000, 1e-9);
    ck_assert_double_eq_tol(Q("90s", "s"), 90, 1e-12);
    ck_assert_double_eq_tol(Q("1.5 min", "s"), 90, 1e-12);
    ck_assert_double_eq_tol(Q("116.64MHz", "Hz"), 116.64e6, 1e-3);
    ck_assert_double_eq_tol(Q("10mV/s", "V/s"), 0.01, 1e-15);
    ck_assert_double_eq_tol(Q("-1V", "V"), -1, 1e-15);
    ck_assert_double_eq_tol(Q("2.5um", "m"), 2.5e-6, 1e-18);
    ck_assert_double_eq_tol(Q("10kOhm", "ohm"), 1e4, 1e-9);
    ck_assert_double_eq_tol(Q("7.05T", "T"), 7.05, 1e-12);
}
END_TEST

START_TEST(ppm_charge_temperature)
{
    ck_assert_double_eq_tol(Q("245ppm", "ppm"), 245, 1e-9);
    ck_assert_double_eq_tol(Q("7.5Ah", "A.h"), 7.5, 1e-12);
    ck_assert_double_eq_tol(Q("0.89nAh", "A.h"), 0.89e-9, 1e-20);
    ck_assert_double_eq_tol(Q("7.5Ah", "C"), 27000, 1e-6);
    ck_assert_double_eq_tol(Q("25degC", "K"), 298.15, 1e-9);
    ck_assert_double_eq(Q("3600", "1"), 3600);
}
END_TEST

START_TEST(errors)
{
    ck_assert_str_eq(BAD("500mX", "A"), "\"500mX\": unknown unit");
    ck_assert_str_eq(BAD("500mV", "A"), "\"500mV\" is a voltage, not a current");
    ck_assert_str_eq(BAD("15h", "V"), "\"15h\" is a time, not a voltage");
    ck_assert_ptr_nonnull(strstr(BAD("500", "A"), "missing unit"));
    ck_assert_str_eq(BAD("mA", "A"), "\"mA\": not a number");
    ck_assert_str_eq(BAD("", "A"), "\"\": not a number");
    ck_assert_str_eq(BAD("abc", "s"), "\"abc\": not a number");
}
END_TEST

START_TEST(kinds_and_format)
{
    char b[64];
    ck_assert_str_eq(units_kind("mA"), "current");
    ck_assert_str_eq(units_kind("V/s"), "scan rate");
    ck_assert_ptr_null(units_kind("nonsense"));
    ck_assert_str_eq(units_format(0.0005, "A", 3, b, sizeof b), "500 uA");
    ck_assert_str_eq(units_format(0.5, "A", 3, b, sizeof b), "500 mA");
    ck_assert_str_eq(units_format(116.642e6, "Hz", 6, b, sizeof b), "116.642 MHz");
    ck_assert_str_eq(units_format(-1.5, "V", 3, b, sizeof b), "-1.5 V");
    ck_assert_str_eq(units_format(245, "ppm", 4, b, sizeof b), "245 ppm");
    ck_assert_str_eq(units_format_duration(3725, b, sizeof b), "1h 02m 05s");
    ck_assert_str_eq(units_format_duration(12.34, b, sizeof b), "12.3s");
    double v;
    ck_assert_int_eq(units_convert(1, "h", "s", &v), 0);
    ck_assert_double_eq(v, 3600);
    ck_assert_int_eq(units_convert(1, "h", "V", &v), -1);
    ck_assert(units_valid("mA", "A"));
    ck_assert(!units_valid("mA", "V"));
}
END_TEST

Suite *units_suite(void)
{
    Suite *s = suite_create("units");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, si_prefixes);
    tcase_add_test(tc, ppm_charge_temperature);
    tcase_add_test(tc, errors);
    tcase_add_test(tc, kinds_and_format);
    suite_add_tcase(s, tc);
    return s;
}
