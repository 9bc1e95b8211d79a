/* The simulated spectrometer's protocol parsers (src/dev/nmrspec.c). */
#include <check.h>
#include <complex.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "insitu/nmrspec.h"
#include "insitu/scpi.h"
#include "suites.h"

START_TEST(idn_and_stat)
{
    char err[200];
    ck_assert_int_eq(nmrspec_parse_idn("insitu,NMRSIM,0001,1.0", err, sizeof err), 0);
    ck_assert_int_eq(nmrspec_parse_idn("KEITHLEY INSTRUMENTS INC.,MODEL 2400,1,C32", err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "not insitu-sim's spectrometer"));
    ck_assert_int_eq(nmrspec_parse_idn("", err, sizeof err), -1);

    enum nmrspec_state st;
    long done, ns;
    ck_assert_int_eq(nmrspec_parse_stat("IDLE", &st, &done, &ns), 0);
    ck_assert_int_eq(st, NMRSPEC_IDLE);
    ck_assert_int_eq(nmrspec_parse_stat("DONE", &st, &done, &ns), 0);
    ck_assert_int_eq(st, NMRSPEC_DONE);
    ck_assert_int_eq(nmrspec_parse_stat("ACQ 12,64", &st, &done, &ns), 0);
    ck_assert_int_eq(st, NMRSPEC_ACQ);
    ck_assert_int_eq(done, 12);
    ck_assert_int_eq(ns, 64);
    ck_assert_int_eq(nmrspec_parse_stat("ACQ 65,64", &st, &done, &ns), -1);
    ck_assert_int_eq(nmrspec_parse_stat("ACQ 1,64x", &st, &done, &ns), -1);
    ck_assert_int_eq(nmrspec_parse_stat("ACQ -1,64", &st, &done, &ns), -1);
    ck_assert_int_eq(nmrspec_parse_stat("\x01\xff", &st, &done, &ns), -1);
}
END_TEST

START_TEST(pars)
{
    char err[200];
    struct spectro_fid f;
    memset(&f, 0, sizeof f);
    const char *good = "NUC=7Li,BF1=116.642,SFO1=116.6421,O1=100,SW=200000,TD=4096,NS=64,"
                       "D1=0.5,RG=32,P1=2.5,DE=6.5,DIGMOD=1,GRPDLY=76,DSPFVS=20,DECIM=16,"
                       "TSTART=10.5,TEND=54.25,FUTURE=whatever";
    ck_assert_msg(nmrspec_parse_pars(good, &f, err, sizeof err) == 0, "%s", err);
    ck_assert_str_eq(f.nucleus, "7Li");
    ck_assert_double_eq_tol(f.bf1, 116.642, 1e-9);
    ck_assert_int_eq(f.td, 4096);
    ck_assert_int_eq(f.ns, 64);
    ck_assert_int_eq(f.digmod, 1);
    ck_assert_double_eq_tol(f.grpdly, 76, 1e-12);
    ck_assert_double_eq_tol(f.t_end, 54.25, 1e-12);

    ck_assert_int_eq(nmrspec_parse_pars("NUC=7Li,BF1=116.642", &f, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "no SFO1"));
    ck_assert_int_eq(nmrspec_parse_pars("NUC=7Li,BF1=abc,SFO1=1,O1=0,SW=1,TD=64,NS=1,DIGMOD=0,"
                                        "GRPDLY=0,TSTART=0,TEND=0", &f, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "BF1"));
    ck_assert_int_eq(nmrspec_parse_pars("NUC=7Li,BF1=1,SFO1=1,O1=0,SW=1,TD=63,NS=1,DIGMOD=0,"
                                        "GRPDLY=0,TSTART=0,TEND=0", &f, err, sizeof err), -1);
    ck_assert_int_eq(nmrspec_parse_pars("NUC=7Li,BF1=1,SFO1=1,O1=0,SW=1,TD=64.5,NS=1,DIGMOD=0,"
                                        "GRPDLY=0,TSTART=0,TEND=0", &f, err, sizeof err), -1);
    ck_assert_int_eq(nmrspec_parse_pars("garbage", &f, err, sizeof err), -1);
    ck_assert_int_eq(nmrspec_parse_pars("", &f, err, sizeof err), -1);
}
END_TEST

static void put_le(unsigned char *p, double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    for (int b = 0; b < 8; b++)
        p[b] = (unsigned char)(u >> (8 * b));
}

START_TEST(fid_block)
{
    unsigned char buf[8 * 8];
    double vals[8] = { 1, -2, 3.5, 4e10, -0.0, 6, 7, -8 };
    for (int i = 0; i < 8; i++)
        put_le(buf + 8 * i, vals[i]);
    double complex out[4];
    char err[200];
    ck_assert_msg(nmrspec_decode_fid((const char *)buf, sizeof buf, 8, out, err, sizeof err) == 0, "%s", err);
    ck_assert(creal(out[0]) == 1 && cimag(out[0]) == -2);
    ck_assert(creal(out[1]) == 3.5 && cimag(out[1]) == 4e10);
    ck_assert(creal(out[3]) == 7 && cimag(out[3]) == -8);
    /* wrong size, NaN */
    ck_assert_int_eq(nmrspec_decode_fid((const char *)buf, sizeof buf - 1, 8, out, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "expected 64"));
    put_le(buf + 16, NAN);
    ck_assert_int_eq(nmrspec_decode_fid((const char *)buf, sizeof buf, 8, out, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "value 2"));
}
END_TEST

START_TEST(errors)
{
    int code;
    char msg[64];
    ck_assert_int_eq(scpi_parse_error("0,\"No error\"", &code, msg, sizeof msg), 0);
    ck_assert_int_eq(code, 0);
    ck_assert_str_eq(msg, "No error");
    ck_assert_int_eq(scpi_parse_error("-222,\"Data out of range\"", &code, msg, sizeof msg), 0);
    ck_assert_int_eq(code, -222);
    ck_assert_int_eq(scpi_parse_error("nonsense", &code, msg, sizeof msg), -1);
}
END_TEST

Suite *nmrspec_suite(void)
{
    Suite *s = suite_create("nmrspec");
    TCase *tc = tcase_create("protocol");
    tcase_add_test(tc, idn_and_stat);
    tcase_add_test(tc, pars);
    tcase_add_test(tc, fid_block);
    tcase_add_test(tc, errors);
    suite_add_tcase(s, tc);
    return s;
}
