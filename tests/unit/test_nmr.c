/* Tests of Bruker dataset reading and TopSpin-compatible processing.
 *
 * The oracle: every dataset in $INSITU_SHARED/data/bruker is processed from its fid with its own
 * procs parameters and compared with TopSpin's pdata/1/1r (and 1i) by Pearson correlation.
 * Then parser robustness (broken acqus/procs/fid) and synthetic checks of EM, GM, phase, the
 * digital filter, ACME and the baseline. */
#include <check.h>

#include <complex.h>
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "insitu/bruker.h"
#include "insitu/nmr.h"
#include "insitu/util.h"
#include "suites.h"

static char *bruker_root(void)
{
    const char *s = getenv("INSITU_SHARED");
    return util_printf("%s/data/bruker", s && *s ? s : "../shared");
}

/* ---- the oracle -------------------------------------------------------------------------- */

START_TEST(oracle_topspin)
{
    char *root = bruker_root();
    DIR *d = opendir(root);
    if (!d) {
        printf("SKIP: ../shared/data/bruker not found (%s)\n", root);
        free(root);
        return;
    }
    int count = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char *dir = util_printf("%s/%s", root, de->d_name);
        char *acq = util_printf("%s/acqus", dir);
        if (access(acq, R_OK) != 0) {
            free(acq);
            free(dir);
            continue;
        }
        free(acq);
        struct bruker_dataset ds;
        struct bruker_err e;
        ck_assert_msg(bruker_read_dataset(dir, &ds, &e) == 0, "%s", e.msg);
        struct nmr_params p;
        struct nmr_err ne;
        ck_assert_msg(nmr_params_from_bruker(&ds, &p, &ne) == 0, "%s", ne.msg);
        long si = p.si;
        double *re = util_malloc((size_t)si * sizeof *re), *im = util_malloc((size_t)si * 8);
        double *r1 = util_malloc((size_t)si * 8), *i1 = util_malloc((size_t)si * 8);
        struct nmr_work *w = nmr_work_new(si);
        ck_assert_ptr_nonnull(w);
        ck_assert_msg(nmr_process(w, &p, ds.fid, ds.npoints, re, im, &ne) == 0, "%s", ne.msg);
        char *path = util_printf("%s/pdata/1/1r", dir);
        ck_assert_msg(bruker_read_pdata(path, &ds.proc, r1, &e) == 0, "%s", e.msg);
        free(path);
        double cr = nmr_correlation(re, r1, si);
        path = util_printf("%s/pdata/1/1i", dir);
        double ci = NAN;
        /* TopSpin stores 1i with the opposite sign of Im{S exp(-i phi)} (see nmr.h). */
        for (long j = 0; j < si; j++)
            im[j] = -im[j];
        if (bruker_read_pdata(path, &ds.proc, i1, &e) == 0)
            ci = nmr_correlation(im, i1, si);
        free(path);
        printf("oracle %s: SI %ld, correlation with TopSpin 1r %.7f, 1i %.7f\n", de->d_name, si,
               cr, ci);
        ck_assert_msg(cr >= 0.9999, "%s: 1r correlation %.7f < 0.9999", de->d_name, cr);
        if (!isnan(ci))
            ck_assert_msg(ci >= 0.9999, "%s: 1i correlation %.7f < 0.9999", de->d_name, ci);
        count++;
        nmr_work_free(w);
        free(re);
        free(im);
        free(r1);
        free(i1);
        bruker_dataset_free(&ds);
        free(dir);
    }
    closedir(d);
    free(root);
    ck_assert_msg(count > 0, "no dataset found");
}
END_TEST


/* ---- JCAMP-DX parser --------------------------------------------------------------------- */

static const char good_acqus[] =
    "##TITLE= Parameter file, TOPSPIN\t\tVersion 3.2\n"
    "##JCAMPDX= 5.0\n"
    "$$ a comment line\n"
    "##$AMP= (0..3)\n"
    "100 90 80\n"
    "70\n"
    "##$AUNM= <au_zg>\n"
    "##$BF1= 116.6424\n"
    "##$BYTORDA= 0\n"
    "##$DECIM= 16\n"
    "##$DIGMOD= 1\n"
    "##$DSPFVS= 12\n"
    "##$DTYPA= 0\n"
    "##$GRPDLY= -1\n"
    "##$NS= 256 $$ scans\n"
    "##$O1= 28000.5\n"
    "##$SFO1= 116.6704\n"
    "##$SW= 171.4\n"
    "##$SW_h= 20000\n"
    "##$TD= 8\n"
    "##$TITLE2= <a string over\n"
    "two lines $$ kept>\n"
    "##$NUCS= (0..1)\n"
    "<7Li> <off>\n"
    "##END=\n";

static void parse_text(const char *text, struct jcamp *j)
{
    struct bruker_err e;
    ck_assert_msg(bruker_jcamp_parse(text, strlen(text), "acqus", j, &e) == 0, "%s", e.msg);
}

START_TEST(jcamp_values)
{
    struct jcamp j;
    struct bruker_err e;
    parse_text(good_acqus, &j);
    double v;
    long l;
    const char *s;
    ck_assert_int_eq(bruker_jcamp_number(&j, "SW_h", &v, &e), 0);
    ck_assert_double_eq(v, 20000);
    ck_assert_int_eq(bruker_jcamp_integer(&j, "NS", &l, &e), 0);
    ck_assert_int_eq(l, 256);
    ck_assert_int_eq(bruker_jcamp_string(&j, "AUNM", &s, &e), 0);
    ck_assert_str_eq(s, "au_zg");
    ck_assert_int_eq(bruker_jcamp_string(&j, "TITLE2", &s, &e), 0);
    ck_assert_str_eq(s, "a string over\ntwo lines $$ kept");
    ck_assert_int_eq(bruker_jcamp_array_number(&j, "AMP", 3, &v, &e), 0);
    ck_assert_double_eq(v, 70);
    ck_assert_int_eq(bruker_jcamp_array_number(&j, "AMP", 4, &v, &e), -1);
    ck_assert_str_eq(e.msg, "acqus:4: ##$AMP: index 4 outside 0..3");
    ck_assert_int_eq(bruker_jcamp_integer(&j, "SFO1", &l, &e), -1);
    ck_assert_str_eq(e.msg, "acqus:17: ##$SFO1: 116.67 is not an integer");
    ck_assert_int_eq(bruker_jcamp_number(&j, "AUNM", &v, &e), -1);
    ck_assert_str_eq(e.msg, "acqus:7: ##$AUNM: \"au_zg\" is not a number");
    ck_assert_int_eq(bruker_jcamp_number(&j, "NOPE", &v, &e), -1);
    ck_assert_str_eq(e.msg, "acqus: missing parameter ##$NOPE");
    struct bruker_acqus a;
    ck_assert_msg(bruker_acqus_get(&j, &a, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(a.td, 8);
    ck_assert_int_eq(a.digmod, 1);
    ck_assert_double_eq(a.grpdly, -1);
    ck_assert_int_eq(a.ns, 256);
    bruker_jcamp_free(&j);
}
END_TEST

/* Each broken text must fail with exactly this message. */
static const struct {
    const char *text;
    const char *msg;
} broken[] = {
    { "junk first\n", "acqus:1: text outside any ##KEY= entry" },
    { "##$A= <never closed\nmore\n", "acqus:1: A: string without its closing '>' at end of file" },
    { "##$A= (0..x)\n1 2\n", "acqus:1: A: bad array header (expected (0..N), N < 1000000)" },
    { "##$A= (0..99999999)\n1\n", "acqus:1: A: bad array header (expected (0..N), N < 1000000)" },
    { "##= 5\n", "acqus:1: '##' line without KEY=" },
    { "##$A 5\n", "acqus:1: '##' line without KEY=" },
    { "", "acqus:0: no ##$KEY= parameters: not a JCAMP-DX parameter file" },
    { "$$ only a comment\n", "acqus:1: no ##$KEY= parameters: not a JCAMP-DX parameter file" },
};

START_TEST(jcamp_broken)
{
    for (size_t i = 0; i < ARRAY_LEN(broken); i++) {
        struct jcamp j;
        struct bruker_err e;
        int rc = bruker_jcamp_parse(broken[i].text, strlen(broken[i].text), "acqus", &j, &e);
        ck_assert_msg(rc == -1, "case %zu parsed", i);
        ck_assert_str_eq(e.msg, broken[i].msg);
    }
    /* NUL bytes: a binary file given as acqus */
    static const char bin[] = "##$TD= 8\n\0\1\2garbage";
    struct jcamp j;
    struct bruker_err e;
    ck_assert_int_eq(bruker_jcamp_parse(bin, sizeof bin, "fid", &j, &e), -1);
    ck_assert_str_eq(e.msg, "fid:2: NUL byte: not a text parameter file");
    /* Missing or bad required parameters of acqus and procs */
    parse_text("##$SW_h= 1000\n", &j);
    struct bruker_acqus a;
    ck_assert_int_eq(bruker_acqus_get(&j, &a, &e), -1);
    ck_assert_str_eq(e.msg, "acqus: missing parameter ##$TD");
    bruker_jcamp_free(&j);
    parse_text("##$SW_h= 1000\n##$TD= 7\n", &j);
    ck_assert_int_eq(bruker_acqus_get(&j, &a, &e), -1);
    ck_assert_str_eq(e.msg, "acqus:2: ##$TD: 7: must be even and within 2..268435456");
    bruker_jcamp_free(&j);
    parse_text("##$SW_h= 1000\n##$TD= 8\n##$BYTORDA= 3\n", &j);
    ck_assert_int_eq(bruker_acqus_get(&j, &a, &e), -1);
    ck_assert_str_eq(e.msg, "acqus:3: ##$BYTORDA: 3 outside 0..1");
    bruker_jcamp_free(&j);
    parse_text("##$SW_h= 1000\n##$TD= 8\n##$DTYPA= 1\n", &j);
    ck_assert_int_eq(bruker_acqus_get(&j, &a, &e), -1);
    bruker_jcamp_free(&j);
    /* a line that is not ##KEY= continues the entry before it: here it spoils the number */
    parse_text("##$TD= 8\n##$SW_h= 1\nstray text\n", &j);
    ck_assert_int_eq(bruker_acqus_get(&j, &a, &e), -1);
    ck_assert_str_eq(e.msg, "acqus:2: ##$SW_h: \"1 stray text\" is not a number");
    bruker_jcamp_free(&j);
    parse_text("##$SI= 8\n##$SF= 100\n##$OFFSET= 10\n", &j);
    struct bruker_procs p;
    ck_assert_int_eq(bruker_procs_get(&j, &p, &e), -1);
    ck_assert_str_eq(e.msg, "acqus: missing parameter ##$SW_p");
    bruker_jcamp_free(&j);
    /* Random bytes: never a crash (the fuzzer does this at scale) */
    unsigned seed = 12345;
    char buf[512];
    for (int round = 0; round < 2000; round++) {
        size_t n = (size_t)(round % 500) + 1;
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            static const char alpha[] = "##$=<>()..0123456789 \n$abcTDSW_h-+eE\t";
            buf[i] = (seed >> 16) % 7 == 0 ? (char)(seed >> 8) : alpha[(seed >> 16) % 37];
        }
        if (bruker_jcamp_parse(buf, n, "r", &j, &e) == 0) {
            (void)bruker_acqus_get(&j, &a, &e);
            (void)bruker_procs_get(&j, &p, &e);
            bruker_jcamp_free(&j);
        }
    }
}
END_TEST

/* ---- binary files ------------------------------------------------------------------------ */

static char *tmpdir_make(void)
{
    char *t = util_strdup("/tmp/insitu-nmr-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(t));
    return t;
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

static void put_i32(unsigned char *b, int32_t v, int big)
{
    uint32_t u = (uint32_t)v;
    for (int i = 0; i < 4; i++)
        b[big ? 3 - i : i] = (unsigned char)(u >> (8 * i));
}

static void put_f64(unsigned char *b, double v, int big)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    for (int i = 0; i < 8; i++)
        b[big ? 7 - i : i] = (unsigned char)(u >> (8 * i));
}

START_TEST(fid_files)
{
    char *dir = tmpdir_make();
    char *path = util_printf("%s/fid", dir);
    struct bruker_acqus a = { .td = 6, .sw_h = 1000, .dtypa = 0, .bytorda = 0 };
    struct bruker_err e;
    double complex z[3];
    /* int32 little endian padded to 1024 bytes: 6 values read, padding ignored */
    unsigned char blk[2048] = { 0 };
    for (int i = 0; i < 6; i++)
        put_i32(blk + 4 * i, (i + 1) * (i % 2 ? -1000 : 1000), 0);
    write_file(path, blk, 1024);
    ck_assert_msg(bruker_read_fid(path, &a, z, &e) == 0, "%s", e.msg);
    ck_assert(creal(z[0]) == 1000 && cimag(z[0]) == -2000 && creal(z[2]) == 5000);
    /* the same values big endian */
    for (int i = 0; i < 6; i++)
        put_i32(blk + 4 * i, (i + 1) * (i % 2 ? -1000 : 1000), 1);
    write_file(path, blk, 24);
    a.bytorda = 1;
    ck_assert_msg(bruker_read_fid(path, &a, z, &e) == 0, "%s", e.msg);
    ck_assert(creal(z[0]) == 1000 && cimag(z[2]) == -6000);
    /* truncated: fewer than TD values */
    write_file(path, blk, 20);
    ck_assert_int_eq(bruker_read_fid(path, &a, z, &e), -1);
    ck_assert_msg(strstr(e.msg, ": 20 bytes, but 6 int32 values from value 0 need 24 bytes"),
                  "%s", e.msg);
    /* float64, big endian; read with the wrong byte order gives non-finite or wrong values */
    a.dtypa = 2;
    for (int i = 0; i < 6; i++)
        put_f64(blk + 8 * i, 1.5e300 * (i + 1), 1);
    write_file(path, blk, 48);
    ck_assert_msg(bruker_read_fid(path, &a, z, &e) == 0, "%s", e.msg);
    ck_assert_double_eq(creal(z[1]), 1.5e300 * 3);
    a.bytorda = 0;
    if (bruker_read_fid(path, &a, z, &e) == 0)
        ck_assert(creal(z[1]) != 1.5e300 * 3);
    /* a missing file */
    ck_assert_int_eq(bruker_read_fid("/nonexistent/fid", &a, z, &e), -1);
    ck_assert_str_eq(e.msg, "/nonexistent/fid: No such file or directory");
    /* ser: rows padded to 256 int32 values */
    a.dtypa = 0;
    a.bytorda = 0;
    unsigned char ser[2048] = { 0 };
    for (int i = 0; i < 6; i++) {
        put_i32(ser + 4 * i, i, 0);
        put_i32(ser + 1024 + 4 * i, 100 + i, 0);
    }
    char *sp = util_printf("%s/ser", dir);
    write_file(sp, ser, sizeof ser);
    ck_assert_msg(bruker_read_ser_row(sp, &a, 1, z, &e) == 0, "%s", e.msg);
    ck_assert(creal(z[0]) == 100 && cimag(z[2]) == 105);
    ck_assert_int_eq(bruker_read_ser_row(sp, &a, 2, z, &e), -1);
    /* pdata: int32 times 2^NC_proc */
    struct bruker_procs p = { .si = 2, .nc_proc = 3 };
    put_i32(blk, 5, 0);
    put_i32(blk + 4, -7, 0);
    write_file(path, blk, 8);
    double r[2];
    ck_assert_msg(bruker_read_pdata(path, &p, r, &e) == 0, "%s", e.msg);
    ck_assert(r[0] == 40 && r[1] == -56);
    /* a dataset directory without procs */
    write_file(path, blk, 24);
    char *ap = util_printf("%s/acqus", dir);
    const char *acq = "##$TD= 6\n##$SW_h= 1000\n##END=\n";
    write_file(ap, acq, strlen(acq));
    struct bruker_dataset ds;
    ck_assert_int_eq(bruker_read_dataset(dir, &ds, &e), -1);
    ck_assert_msg(strstr(e.msg, "/pdata/1/procs: No such file or directory"), "%s", e.msg);
    unlink(ap);
    unlink(sp);
    unlink(path);
    rmdir(dir);
    free(ap);
    free(sp);
    free(path);
    free(dir);
}
END_TEST

/* ---- synthetic spectra ------------------------------------------------------------------- */

/* A decaying complex sinusoid at F Hz from the carrier, T2 in s, N points at SW Hz. */
static void synth_fid(double complex *fid, long n, double sw, double f, double t2, double ph)
{
    for (long k = 0; k < n; k++) {
        double t = (double)k / sw;
        fid[k] = cexp(I * (2 * M_PI * f * t + ph * M_PI / 180)) * exp(-t / t2);
    }
}

static struct nmr_params synth_params(long si, double sw)
{
    struct nmr_params p = { .si = si, .wdw = 1, .lb = 0, .fcor = 0.5, .sw_h = sw, .sf = 100,
                            .sw_p = sw };
    p.offset = 10 + sw / (2 * p.sf);  /* centre of the spectrum at 10 ppm */
    return p;
}

static long argmax(const double *y, long n)
{
    long m = 0;
    for (long i = 1; i < n; i++)
        if (y[i] > y[m])
            m = i;
    return m;
}

/* Full width at half maximum in points, interpolated. */
static double fwhm_points(const double *y, long n, long m)
{
    double h = y[m] / 2;
    long l = m, r = m;
    while (l > 0 && y[l] > h)
        l--;
    while (r < n - 1 && y[r] > h)
        r++;
    double xl = l + (h - y[l]) / (y[l + 1] - y[l]);
    double xr = r - (h - y[r]) / (y[r - 1] - y[r]);
    return xr - xl;
}

START_TEST(em_lorentzian)
{
    long n = 8192, si = 32768;
    double sw = 10000, f = 1234.5, t2 = 0.02, lb = 10;
    double complex *fid = util_malloc((size_t)n * sizeof *fid);
    double *re = util_malloc((size_t)si * 8), *ppm = util_malloc((size_t)si * 8);
    synth_fid(fid, n, sw, f, t2, 0);
    struct nmr_params p = synth_params(si, sw);
    p.lb = lb;
    struct nmr_work *w = nmr_work_new(si);
    struct nmr_err e;
    ck_assert_msg(nmr_process(w, &p, fid, n, re, NULL, &e) == 0, "%s", e.msg);
    nmr_ppm_axis(&p, ppm);
    long m = argmax(re, si);
    double hz_per_pt = sw / (double)si;
    ck_assert_msg(fabs(ppm[m] - (10 + f / p.sf)) <= hz_per_pt / p.sf,
                  "peak at %.5f ppm, expected %.5f", ppm[m], 10 + f / p.sf);
    double width = fwhm_points(re, si, m) * hz_per_pt, expect = lb + 1 / (M_PI * t2);
    ck_assert_msg(fabs(width - expect) < 0.01 * expect, "FWHM %.3f Hz, expected %.3f", width,
                  expect);
    /* GM with LB = -1/(pi T2) cancels the decay: the line becomes a Gaussian, whose height at
     * twice its half width is 1/16 (a Lorentzian's would be 1/5). */
    p.wdw = 2;
    p.lb = -1 / (M_PI * t2);
    p.gb = 0.05;
    ck_assert_msg(nmr_process(w, &p, fid, n, re, NULL, &e) == 0, "%s", e.msg);
    m = argmax(re, si);
    double hw = fwhm_points(re, si, m) / 2;
    double at2 = re[m + (long)lround(2 * hw)] / re[m];
    ck_assert_msg(fabs(at2 - 1.0 / 16) < 0.02, "GM line at 2 HWHM: %.4f of the peak", at2);
    p.gb = 1.5;
    ck_assert_int_eq(nmr_process(w, &p, fid, n, re, NULL, &e), -1);
    p.wdw = 7;
    ck_assert_int_eq(nmr_process(w, &p, fid, n, re, NULL, &e), -1);
    ck_assert_str_eq(e.msg, "WDW 7 not supported (0 none, 1 EM, 2 GM)");
    p.wdw = 1;
    p.bc_mod = 3;
    ck_assert_int_eq(nmr_process(w, &p, fid, n, re, NULL, &e), -1);
    nmr_work_free(w);
    free(fid);
    free(re);
    free(ppm);
}
END_TEST

START_TEST(phase_and_filter)
{
    long n = 4096, si = 8192, g = 37;
    double sw = 5000;
    double complex *fid = util_malloc((size_t)n * sizeof *fid);
    double complex *rot = util_malloc((size_t)(n + g) * sizeof *rot);
    double *a = util_malloc((size_t)si * 8), *b = util_malloc((size_t)si * 8);
    double *ai = util_malloc((size_t)si * 8), *bi = util_malloc((size_t)si * 8);
    synth_fid(fid, n, sw, -800, 0.05, 0);
    struct nmr_params p = synth_params(si, sw);
    p.wdw = 0;
    p.fcor = 1;
    struct nmr_work *w = nmr_work_new(si);
    struct nmr_err e;
    ck_assert(nmr_process(w, &p, fid, n, a, ai, &e) == 0);
    /* PHC0 undoes a zero-order phase of the FID exactly */
    for (long k = 0; k < n; k++)
        rot[k] = fid[k] * cexp(I * 63 * M_PI / 180);
    p.phc0 = 63;
    ck_assert(nmr_process(w, &p, rot, n, b, bi, &e) == 0);
    for (long j = 0; j < si; j++) {
        ck_assert(fabs(a[j] - b[j]) < 1e-9 * n);
        ck_assert(fabs(ai[j] - bi[j]) < 1e-9 * n);
    }
    /* the digital filter correction undoes a delay of GRPDLY points exactly */
    p.phc0 = 0;
    memset(rot, 0, (size_t)(n + g) * sizeof *rot);
    memcpy(rot + g, fid, (size_t)n * sizeof *rot);
    p.digmod = 1;
    p.grpdly = (double)g;
    ck_assert(nmr_process(w, &p, rot, n + g, b, NULL, &e) == 0);
    for (long j = 0; j < si; j++)
        ck_assert_msg(fabs(a[j] - b[j]) < 1e-9 * n, "point %ld: %g vs %g", j, a[j], b[j]);
    /* PHC1: a line at point j0 is rotated by PHC1 j0 / SI */
    p.digmod = 0;
    long j0 = argmax(a, si);
    for (long k = 0; k < n; k++)
        rot[k] = fid[k] * cexp(I * 120.0 * (double)j0 / (double)si * M_PI / 180);
    p.phc1 = 120;
    ck_assert(nmr_process(w, &p, rot, n, b, NULL, &e) == 0);
    ck_assert_msg(fabs(b[j0] - a[j0]) < 1e-3 * a[j0], "%g vs %g", b[j0], a[j0]);
    /* the table of old firmware group delays */
    ck_assert_double_eq(nmr_grpdly_lookup(10, 2), 44.75);
    ck_assert_double_eq(nmr_grpdly_lookup(12, 32), 72.125);
    ck_assert_double_eq(nmr_grpdly_lookup(13, 96), 2.9947916666666667);
    ck_assert_double_eq(nmr_grpdly_lookup(13, 128), -1);
    ck_assert_double_eq(nmr_grpdly_lookup(11, 5), -1);
    ck_assert_double_eq(nmr_grpdly_lookup(20, 5), 0);
    nmr_work_free(w);
    free(fid);
    free(rot);
    free(a);
    free(b);
    free(ai);
    free(bi);
}
END_TEST

START_TEST(acme_recovers_phase)
{
    long n = 4096, si = 8192;
    double sw = 5000;
    double complex *fid = util_malloc((size_t)n * sizeof *fid);
    double complex *f2 = util_malloc((size_t)n * sizeof *f2);
    double *re = util_malloc((size_t)si * 8), *im = util_malloc((size_t)si * 8);
    synth_fid(fid, n, sw, -800, 0.05, 0);
    synth_fid(f2, n, sw, 1100, 0.02, 0);
    static const double truth[] = { 37, -150, 100 };
    struct nmr_params p = synth_params(si, sw);
    p.lb = 2;
    struct nmr_work *w = nmr_work_new(si);
    struct nmr_err e;
    for (size_t i = 0; i < ARRAY_LEN(truth); i++) {
        double complex *rot = util_malloc((size_t)n * sizeof *rot);
        for (long k = 0; k < n; k++)
            rot[k] = (fid[k] + 0.5 * f2[k]) * cexp(I * truth[i] * M_PI / 180);
        ck_assert(nmr_process(w, &p, rot, n, re, im, &e) == 0);
        double p0, p1;
        ck_assert_msg(nmr_autophase_acme(re, im, si, 0, &p0, &p1, &e) == 0, "%s", e.msg);
        double d = remainder(p0 - truth[i], 360);
        printf("acme: true phase %.1f, found %.3f\n", truth[i], p0);
        ck_assert_msg(fabs(d) < 1, "ACME %.3f, true %.1f", p0, truth[i]);
        free(rot);
    }
    nmr_work_free(w);
    free(fid);
    free(f2);
    free(re);
    free(im);
}
END_TEST

START_TEST(baseline_removed)
{
    long n = 4096;
    double *y = util_malloc((size_t)n * 8), *ppm = util_malloc((size_t)n * 8);
    double *peak = util_malloc((size_t)n * 8);
    for (long j = 0; j < n; j++) {
        ppm[j] = 300 - 100.0 * (double)j / (double)n;  /* 300 .. 200 ppm */
        double x = (ppm[j] - 250) / 1.0;
        peak[j] = 1000 * exp(-x * x / 2);
        double t = (double)j / (double)n;
        y[j] = peak[j] + 50 - 80 * t + 120 * t * t - 60 * t * t * t;
    }
    double excl[2] = { 240, 260 };
    struct nmr_err e;
    ck_assert_msg(nmr_baseline_poly(y, ppm, n, 3, excl, 1, NULL, &e) == 0, "%s", e.msg);
    double worst = 0;
    for (long j = 0; j < n; j++)
        worst = fmax(worst, fabs(y[j] - peak[j]));
    ck_assert_msg(worst < 1e-6, "residual %g", worst);
    /* too few points outside the exclusion */
    double all[2] = { 400, 100 };
    ck_assert_int_eq(nmr_baseline_poly(y, ppm, n, 3, all, 1, NULL, &e), -1);
    ck_assert_int_eq(nmr_baseline_poly(y, ppm, n, 16, NULL, 0, NULL, &e), -1);
    free(y);
    free(ppm);
    free(peak);
}
END_TEST

Suite *nmr_suite(void)
{
    Suite *s = suite_create("nmr");
    TCase *tc = tcase_create("oracle");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, oracle_topspin);
    suite_add_tcase(s, tc);
    tc = tcase_create("bruker");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, jcamp_values);
    tcase_add_test(tc, jcamp_broken);
    tcase_add_test(tc, fid_files);
    suite_add_tcase(s, tc);
    tc = tcase_create("processing");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, em_lorentzian);
    tcase_add_test(tc, phase_and_filter);
    tcase_add_test(tc, acme_recovers_phase);
    tcase_add_test(tc, baseline_removed);
    suite_add_tcase(s, tc);
    return s;
}
