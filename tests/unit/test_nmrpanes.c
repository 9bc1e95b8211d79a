/* The NMR panes (spectrum, stack, trend) on a synthetic in-situ run, drawn through the desk into
 * a canvas: a 7Li series whose metal line at 245 ppm falls while the microstructure line at
 * 265 ppm grows, with a large electrolyte line at 0 ppm outside the usual zoom. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "insitu/canvas.h"
#include "insitu/clock.h"
#include "insitu/cmd.h"
#include "insitu/desk.h"
#include "insitu/keys.h"
#include "insitu/layout.h"
#include "insitu/loop.h"
#include "insitu/msg.h"
#include "insitu/pane.h"
#include "insitu/run.h"
#include "insitu/session.h"
#include "insitu/util.h"
#include "suites.h"

#define SI 4096
#define PPM_HI 500.0
#define PPM_LO -100.0
#define HWHM 3.0

static struct session *S;
static struct desk *D;
static struct exec *X;
static struct run *R;
static struct run_table *T;
static double ppm[SI];
static char tmpdir[64];
static struct strbuf out, errs;

static void sink(void *arg, enum msg_kind k, const char *text)
{
    struct strbuf *b = k == MSG_OUT ? &out : &errs;
    strbuf_addstr(b, text);
    strbuf_addch(b, '\n');
}

static double lorentz(double x, double x0, double h)
{
    double d = (x - x0) / HWHM;
    return h / (1 + d * d);
}

/* Heights of spectrum K: the metal falls by 1 % per spectrum, the microstructure grows. */
static double metal(int k)
{
    return 1e5 * (1 - 0.01 * k);
}

static double dendrite(int k)
{
    return 5e3 * (1 + 0.4 * k);
}

/* The nmr table as the NMR engine writes it; integrals only when asked (else added later). */
static struct run *make_run(int integrals)
{
    static const struct run_field base[] = {
        { "time_end", "s", "end of the acquisition", RUN_F64, NULL, 0, NULL },
        { "ns", "1", "scans", RUN_I32, NULL, 0, NULL },
        { "expno", "1", "experiment number", RUN_I32, NULL, 0, NULL },
        { "charge_start", "A h", "charge passed at the start", RUN_F64, NULL, 0, NULL },
        { "charge_end", "A h", "charge passed at the end", RUN_F64, NULL, 0, NULL },
        { "voltage_start", "V", "cell voltage at the start", RUN_F64, NULL, 0, NULL },
        { "voltage_end", "V", "cell voltage at the end", RUN_F64, NULL, 0, NULL },
        { "phc0", "degree", "zero-order phase", RUN_F64, NULL, 0, NULL },
        { "phc1", "degree", "first-order phase", RUN_F64, NULL, 0, NULL },
        { "fid_re", "1", "FID, real part", RUN_F64, "fid_time", 64, NULL },
        { "fid_im", "1", "FID, imaginary part", RUN_F64, "fid_time", 64, NULL },
        { "spectrum", "1", "processed spectrum", RUN_F64, "ppm", SI, NULL },
        { "integral_metal", "1", "metal peak area", RUN_F64, NULL, 0, NULL },
        { "integral_dendrite", "1", "microstructure peak area", RUN_F64, NULL, 0, NULL },
        { "integral_metal_err", "1", "its error", RUN_F64, NULL, 0, NULL },
    };
    struct run *r = run_new("nmrtest", 0, clock_now());
    char err[200];
    T = run_table_add(r, "nmr", "time", base, integrals ? 15 : 12, err, sizeof err);
    ck_assert_msg(T != NULL, "%s", err);
    for (int j = 0; j < SI; j++)
        ppm[j] = PPM_HI - j * (PPM_HI - PPM_LO) / SI;
    ck_assert_int_eq(run_axis_set(r, "nmr", "ppm", SI, "ppm", "chemical shift", ppm), 0);
    ck_assert_int_eq(run_attr_text(r, "nmr", "nucleus", "7Li"), 0);
    double total[2] = { 220, 310 }, pm[3] = { 245, 240, 252.5 }, pd[3] = { 265, 256, 276 };
    run_attr_num(r, "nmr", "region_total", total, 2);
    run_attr_num(r, "nmr", "peak_metal", pm, 3);
    run_attr_num(r, "nmr", "peak_dendrite", pd, 3);
    return r;
}

/* A scalar F64 field added to the table after records exist (NaN before). */
static void field_add(struct run_table *t, const char *name)
{
    struct run_field f = { name, "1", name, RUN_F64, NULL, 0, NULL };
    char err[200];
    ck_assert_msg(run_field_add(t, &f, err, sizeof err) == 0, "%s", err);
}

/* Append spectrum K (one every 290 s at 500 mA), with whatever integral fields exist. */
static void append(int k)
{
    static double spec[SI], fid[64];
    for (int j = 0; j < SI; j++)
        spec[j] = lorentz(ppm[j], 245, metal(k)) + lorentz(ppm[j], 265, dendrite(k)) +
                  lorentz(ppm[j], 0, 3e5);
    union run_value v[32];
    memset(v, 0, sizeof v);
    double t0 = k * 290.0;
    for (int f = 0; f < T->nfields; f++) {
        const char *n = T->fields[f].name;
        if (!strcmp(n, "time_end")) v[f].f64 = t0 + 276;
        else if (!strcmp(n, "ns")) v[f].i32 = 256;
        else if (!strcmp(n, "expno")) v[f].i32 = 100 + k;
        else if (!strcmp(n, "charge_start")) v[f].f64 = 0.5 * t0 / 3600;
        else if (!strcmp(n, "charge_end")) v[f].f64 = 0.5 * (t0 + 276) / 3600;
        else if (!strcmp(n, "voltage_start") || !strcmp(n, "voltage_end")) v[f].f64 = 0.02;
        else if (!strcmp(n, "fid_re") || !strcmp(n, "fid_im")) v[f].arr = fid;
        else if (!strcmp(n, "spectrum")) v[f].arr = spec;
        else if (!strcmp(n, "integral_metal")) v[f].f64 = metal(k) * M_PI * HWHM;
        else if (!strcmp(n, "integral_dendrite")) v[f].f64 = dendrite(k) * M_PI * HWHM;
        else v[f].f64 = NAN;
    }
    ck_assert_int_eq(run_append(T, t0, v), 0);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* A screen of one pane (TEXT: its `pane` line) and the command line. */
static void layout(const char *text)
{
    char path[128], err[400];
    snprintf(path, sizeof path, "%s/l", tmpdir);
    char *l = util_printf("split -v -1\n%s\npane cmd\n", text);
    write_file(path, l);
    free(l);
    ck_assert_msg(desk_layout_load(D, path, err, sizeof err) == 0, "%s", err);
}

static void start(int integrals)
{
    R = make_run(integrals);
    S->run = R;
    desk_attach(D, R);
}

static void setup(void)
{
    strcpy(tmpdir, "/tmp/insitu-nmrp-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    setenv("XDG_CONFIG_HOME", tmpdir, 1);
    strbuf_reset(&out);
    strbuf_reset(&errs);
    msg_set_sink(sink, NULL);
    S = session_new();
    D = desk_new(S);
    D->utf8 = 0;
    X = exec_new(S, 0);
    R = NULL;
}

static void teardown(void)
{
    if (R) {
        desk_attach(D, NULL);
        S->run = NULL;
        run_free(R);
    }
    exec_free(X);
    desk_free(D);
    session_free(S);
    msg_set_sink(NULL, NULL);
    char *cmd = util_printf("rm -rf %s", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
    free(cmd);
}

static void run_cmd(const char *text)
{
    strbuf_reset(&out);
    strbuf_reset(&errs);
    exec_push_text(X, text, NULL, 1);
    exec_run(X);
    double until = clock_mono() + 10;
    while (exec_busy(X) && clock_mono() < until)
        loop_once(S->loop, 0.5);
}

/* Draw at W x H in ASCII into LINES (NULL-terminated, to be freed with free_lines); the
 * status line's clock is masked. */
static char **draw_lines(int w, int h)
{
    struct canvas *c = canvas_new(w, h);
    desk_draw(D, c);
    struct strbuf b = { 0 };
    canvas_to_text(c, &b);
    canvas_free(c);
    char **v = util_calloc((size_t)h + 1, sizeof *v);
    char *s = b.s;
    for (int i = 0; i < h; i++) {
        char *nl = strchr(s, '\n');
        v[i] = util_strndup(s, (size_t)(nl - s));
        s = nl + 1;
    }
    strbuf_free(&b);
    return v;
}

static char *draw(int w, int h)
{
    struct canvas *c = canvas_new(w, h);
    desk_draw(D, c);
    struct strbuf b = { 0 };
    canvas_to_text(c, &b);
    canvas_free(c);
    char *t = strbuf_take(&b);
    for (char *p = t; (p = strstr(p, ":")) != NULL; p++)
        if (p - t >= 2 && p[3] == ':' && p[-2] >= '0' && p[-2] <= '9')
            memcpy(p - 2, "hh:mm:ss", 8);
    return t;
}

static void free_lines(char **v)
{
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

/* The x axis of the first plot on the screen: its row, first column and width. */
static int find_axis(char **v, int *row, int *ax, int *aw)
{
    for (int i = 0; v[i]; i++) {
        /* the corner, then dashes with tick marks: a flat baseline after a y tick has none */
        for (char *p = strstr(v[i], "+-"); p; p = strstr(p + 1, "+-")) {
            int n = 0, ticks = 0;
            while (p[1 + n] == '-' || p[1 + n] == '+')
                ticks += p[1 + n++] == '+';
            if (n < 20 || ticks < 2)
                continue;
            *row = i;
            *ax = (int)(p - v[i]) + 1;
            *aw = n;
            return 0;
        }
    }
    return -1;
}

static char cell(char **v, int row, int col)
{
    return (int)strlen(v[row]) > col ? v[row][col] : ' ';
}

/* The mean column of the topmost data (not the cursor's ':') above the axis. */
static double peak_col(char **v, int row, int ax, int aw)
{
    for (int r = 2; r < row; r++) {   /* below the title row and the plot's header */
        int n = 0;
        double sum = 0;
        for (int c = ax; c < ax + aw; c++) {
            char ch = cell(v, r, c);
            if (ch != ' ' && ch != ':') {
                n++;
                sum += c;
            }
        }
        if (n)
            return sum / n;
    }
    return -1;
}

START_TEST(spectrum_axis_decreases_and_peak_lands)
{
    layout("pane spectrum zoom=350ppm,100ppm");
    start(1);
    for (int k = 0; k < 3; k++)
        append(k);
    desk_focus(D, "spectrum", NULL, 0);
    desk_key(D, 'o');   /* one series: the newest, no legend box */
    char **v = draw_lines(100, 30);
    int row, ax, aw;
    ck_assert_int_eq(find_axis(v, &row, &ax, &aw), 0);
    /* tick labels left to right: decreasing, inside the zoom */
    double prev = INFINITY;
    int n = 0;
    for (char *p = v[row + 1]; *p;) {
        char *end;
        double x = strtod(p, &end);
        if (end == p) {
            p++;
            continue;
        }
        ck_assert_msg(x < prev, "tick %g after %g: %s", x, prev, v[row + 1]);
        ck_assert(x <= 350 && x >= 100);
        prev = x;
        n++;
        p = end;
    }
    ck_assert_int_ge(n, 3);
    /* the 245 ppm line, the highest in view although 0 ppm is three times higher */
    double want = ax + (350.0 - 245) / 250 * aw;
    double got = peak_col(v, row, ax, aw);
    ck_assert_msg(fabs(got - want) <= 1.5, "peak at column %.1f, want %.1f", got, want);
    free_lines(v);
    /* another zoom puts it elsewhere: 300..200 ppm */
    run_cmd("zoom 200 300");
    ck_assert_msg(!errs.s || !*errs.s, "%s", errs.s);
    v = draw_lines(100, 30);
    ck_assert_int_eq(find_axis(v, &row, &ax, &aw), 0);
    want = ax + (300.0 - 245) / 100 * aw;
    got = peak_col(v, row, ax, aw);
    ck_assert_msg(fabs(got - want) <= 1.5, "peak at column %.1f, want %.1f", got, want);
    ck_assert_ptr_nonnull(strstr(v[row + 1], "300"));
    free_lines(v);
}
END_TEST

START_TEST(zoom_command_and_words)
{
    double r[2];
    char err[200];
    ck_assert_int_eq(pane_ppm_range("100ppm,350ppm", r, err, sizeof err), 0);
    ck_assert(r[0] == 350 && r[1] == 100);
    ck_assert_int_eq(pane_ppm_range("-5,12.5 PPM", r, err, sizeof err), 0);
    ck_assert(r[0] == 12.5 && r[1] == -5);
    ck_assert_int_eq(pane_ppm_range("full", r, err, sizeof err), 0);
    ck_assert(isnan(r[0]) && isnan(r[1]));
    ck_assert_int_eq(pane_ppm_range("350", r, err, sizeof err), -1);
    ck_assert_int_eq(pane_ppm_range("350ppm,abc", r, err, sizeof err), -1);
    ck_assert_str_eq(err, "\"abc\": not a chemical shift (350ppm or 350)");
    ck_assert_int_eq(pane_ppm_range("3mV,1", r, err, sizeof err), -1);
    ck_assert_int_eq(pane_ppm_range("7,7", r, err, sizeof err), -1);

    run_cmd("zoom 350 100");
    ck_assert_ptr_nonnull(strstr(errs.s, "no spectrum or stack pane"));
    layout("pane spectrum");
    run_cmd("zoom 350");
    ck_assert_ptr_nonnull(strstr(errs.s, "zoom: \"350\": zoom needs two values, FROM and TO in ppm"));
    run_cmd("zoom abc def");
    ck_assert_str_eq(errs.s, "zoom: \"abc\": not a chemical shift (350ppm or 350)\n");
    run_cmd("zoom 1 2 3");
    ck_assert_ptr_nonnull(strstr(errs.s, "too many values"));
    struct strbuf b = { 0 };
    run_cmd("zoom 100 ppm 350 ppm");
    ck_assert_msg(!errs.s || !*errs.s, "%s", errs.s);
    desk_layout_dump(D, &b);
    ck_assert_ptr_nonnull(strstr(b.s, "pane spectrum zoom=350ppm,100ppm\n"));
    strbuf_reset(&b);
    run_cmd("zoom 252.5ppm 244");
    desk_layout_dump(D, &b);
    ck_assert_ptr_nonnull(strstr(b.s, "pane spectrum zoom=252.5ppm,244ppm\n"));
    strbuf_reset(&b);
    run_cmd("zoom");
    desk_layout_dump(D, &b);
    ck_assert_ptr_nonnull(strstr(b.s, "pane spectrum\n"));
    strbuf_free(&b);
    /* the focused one of two, else the first */
    layout("split -v 50%\npane stack\npane spectrum");
    run_cmd("zoom 300 200");
    b = (struct strbuf){ 0 };
    desk_layout_dump(D, &b);
    ck_assert_ptr_nonnull(strstr(b.s, "pane stack zoom=300ppm,200ppm\npane spectrum\n"));
    strbuf_reset(&b);
    desk_focus(D, "spectrum", NULL, 0);
    run_cmd("zoom 400 0");
    desk_layout_dump(D, &b);
    ck_assert_ptr_nonnull(strstr(b.s, "pane stack zoom=300ppm,200ppm\npane spectrum zoom=400ppm,0ppm\n"));
    strbuf_free(&b);
    /* configure words */
    struct word w = { .text = "zoom=1,x" };
    ck_assert_int_eq(desk_pane_type(D, 1, &(struct word){ .text = "spectrum" }, err, sizeof err), 0);
    struct word ws[2] = { { .text = "spectrum" }, w };
    ck_assert_int_eq(desk_pane_type(D, 2, ws, err, sizeof err), -1);
    ck_assert_str_eq(err, "\"x\": not a chemical shift (350ppm or 350)");
    ws[1].text = "colour=red";
    ck_assert_int_eq(desk_pane_type(D, 2, ws, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "a spectrum pane takes zoom=FROM,TO"));
}
END_TEST

/* The readout line of the screen ("ppm ...  intensity ..."), copied, or NULL. */
static char *readout(char **v)
{
    for (int i = 0; v[i]; i++) {
        char *p = strstr(v[i], "ppm ");
        if (p && strstr(p, "  intensity "))
            return util_strdup(p);
    }
    return NULL;
}

START_TEST(cursor_readout_and_overlay)
{
    layout("pane spectrum zoom=350ppm,100ppm");
    start(1);
    for (int k = 0; k < 21; k++)
        append(k);
    desk_focus(D, "spectrum", NULL, 0);
    char **v = draw_lines(100, 30);
    /* the cursor starts on the highest point in view: the metal line of the newest spectrum */
    char *ro = readout(v);
    ck_assert_ptr_nonnull(ro);
    double at, val;
    ck_assert_int_eq(sscanf(ro, "ppm %lf  intensity %lf", &at, &val), 2);
    ck_assert_msg(fabs(at - 245) < 0.2, "%s", ro);
    double want = metal(20) + lorentz(245, 265, dendrite(20)) + lorentz(245, 0, 3e5);
    ck_assert_msg(fabs(val - want) / want < 0.002, "%s", ro);
    ck_assert_msg(strstr(ro, "ppm 244.97  intensity 8.10e4"), "%s", ro);
    ck_assert_ptr_nonnull(strstr(ro, "(first 1.00e5)"));
    ck_assert_ptr_nonnull(strstr(ro, "in total"));
    free(ro);
    /* title, legend of both series, the marks of the regions and peaks */
    char *t = draw(100, 30);
    ck_assert_ptr_nonnull(strstr(t, "7Li spectrum 21/21 at 1h 36m 40s"));
    ck_assert_ptr_nonnull(strstr(t, ". first #1"));
    ck_assert_ptr_nonnull(strstr(t, "* latest #21"));
    ck_assert_ptr_nonnull(strstr(t, "^metal"));
    ck_assert_ptr_nonnull(strstr(t, "dendrite^"));
    ck_assert_ptr_nonnull(strstr(t, "[---"));
    free(t);
    free_lines(v);
    /* Right goes to lower shifts, Left back */
    desk_key(D, KEYS_RIGHT);
    desk_key(D, KEYS_RIGHT);
    v = draw_lines(100, 30);
    ro = readout(v);
    double at2;
    ck_assert_int_eq(sscanf(ro, "ppm %lf", &at2), 1);
    ck_assert_msg(at2 < at - 2, "%g then %g", at, at2);
    free(ro);
    free_lines(v);
    desk_key(D, 'H');
    v = draw_lines(100, 30);
    ro = readout(v);
    ck_assert_int_eq(sscanf(ro, "ppm %lf", &at2), 1);
    ck_assert_msg(at2 > at + 10, "%g then %g", at, at2);
    free(ro);
    free_lines(v);
    /* + zooms about the cursor: it keeps its shift, the range halves */
    desk_key(D, 'L');
    v = draw_lines(100, 30);
    ro = readout(v);
    ck_assert_int_eq(sscanf(ro, "ppm %lf", &at), 1);
    free(ro);
    free_lines(v);
    desk_key(D, '+');
    v = draw_lines(100, 30);
    ro = readout(v);
    ck_assert_int_eq(sscanf(ro, "ppm %lf", &at2), 1);
    ck_assert_msg(fabs(at2 - at) < 0.5, "%g then %g", at, at2);
    free(ro);
    free_lines(v);
    /* o: the first spectrum off and on */
    desk_key(D, 'o');
    t = draw(100, 30);
    ck_assert_ptr_null(strstr(t, "first #1"));
    ck_assert_ptr_null(strstr(t, "(first "));
    free(t);
    desk_key(D, 'o');
    desk_key(D, '0');
    t = draw(100, 30);
    ck_assert_ptr_nonnull(strstr(t, "first #1"));
    free(t);
}
END_TEST

/* A pane put up while the run is going keeps the oldest spectrum memory still has. */
START_TEST(spectrum_late_pane)
{
    layout("pane log");
    start(1);
    for (int k = 0; k < 30; k++)
        append(k);
    layout("pane spectrum");
    char *t = draw(100, 30);
    ck_assert_ptr_nonnull(strstr(t, "oldest kept #15"));
    ck_assert_ptr_nonnull(strstr(t, "spectrum 30/30"));
    free(t);
}
END_TEST

START_TEST(stack_keeps_history)
{
    layout("pane stack zoom=350ppm,100ppm");
    start(1);
    char *t = draw(100, 40);
    ck_assert_ptr_nonnull(strstr(t, "waiting for the first spectrum"));
    free(t);
    for (int k = 0; k < 40; k++)
        append(k);
    int f = run_field_index(T, "spectrum");
    ck_assert_ptr_null(run_get_array(T, f, 0));   /* the run itself forgot the first 24 */
    char **v = draw_lines(100, 40);
    int row, ax, aw;
    ck_assert_int_eq(find_axis(v, &row, &ax, &aw), 0);
    ck_assert_ptr_nonnull(strstr(v[1], "40 spectra, bin max"));
    ck_assert_ptr_nonnull(strstr(v[1], "time [h]"));
    /* every row of the heat map shows the lines, the oldest at the top included */
    int top = 2;
    for (int r = top; r < row; r++) {
        int n = 0;
        for (int c = ax; c < ax + aw; c++)
            n += cell(v, r, c) != ' ';
        ck_assert_msg(n > 0, "heat map row %d is empty:\n%s", r, v[r]);
    }
    /* time runs down: the first spectrum's metal line is stronger, the microstructure weaker */
    int cm = (int)(ax + (350.0 - 245) / 250 * aw), cd = (int)(ax + (350.0 - 265) / 250 * aw);
    const char *ramp = " .:-=+*#%@";
    int mt = (int)(strchr(ramp, cell(v, top, cm)) - ramp), mb = (int)(strchr(ramp, cell(v, row - 1, cm)) - ramp);
    int dt = (int)(strchr(ramp, cell(v, top, cd)) - ramp), db = (int)(strchr(ramp, cell(v, row - 1, cd)) - ramp);
    ck_assert_msg(mt > mb && dt < db, "metal %d->%d, dendrite %d->%d", mt, mb, dt, db);
    free_lines(v);
    /* w: the waterfall of the newest */
    desk_focus(D, "stack", NULL, 0);
    desk_key(D, 'w');
    t = draw(100, 40);
    ck_assert_ptr_nonnull(strstr(t, "last 8 of 40 spectra"));
    free(t);
    desk_key(D, ']');
    desk_key(D, 'b');
    struct strbuf b = { 0 };
    desk_layout_dump(D, &b);
    ck_assert_ptr_nonnull(strstr(b.s, "pane stack zoom=350ppm,100ppm mode=waterfall lines=9 bin=mean\n"));
    strbuf_free(&b);
}
END_TEST

/* Beyond its row limit the history merges rows pairwise: bounded memory, every spectrum counted. */
START_TEST(stack_bounded)
{
    layout("pane stack mode=waterfall lines=3");
    start(0);
    for (int k = 0; k < 1100; k++)
        append(k % 50);
    char *t = draw(100, 30);
    ck_assert_ptr_nonnull(strstr(t, "last 3 of 1100 spectra"));
    free(t);
    desk_focus(D, "stack", NULL, 0);
    desk_key(D, 'w');
    t = draw(100, 30);
    ck_assert_ptr_nonnull(strstr(t, "1100 spectra, bin max"));
    free(t);
}
END_TEST

/* The summary line of the trend pane. */
static char *summary(char **v, const char *name)
{
    for (int i = 0; v[i]; i++) {
        char *p = strstr(v[i], name);
        if (p && strstr(p, " -> "))
            return util_strdup(v[i]);
    }
    return NULL;
}

START_TEST(trend_series)
{
    layout("pane trend");
    start(1);
    for (int k = 0; k < 40; k++)
        append(k);
    /* the metal series falls left to right, the other rises: rows of their first and last
     * markers (rows grow downwards) */
    char **v = draw_lines(100, 30);
    int row, ax, aw;
    ck_assert_int_eq(find_axis(v, &row, &ax, &aw), 0);
    int rows[2][2] = { { -1, -1 }, { -1, -1 } }, cols[2][2] = { { 1 << 30, -1 }, { 1 << 30, -1 } };
    for (int r = 2; r < row; r++)
        for (int c = ax; c < ax + aw - 20; c++) {   /* left of the legend */
            int k = cell(v, r, c) == '*' ? 0 : cell(v, r, c) == 'o' ? 1 : -1;
            if (k < 0)
                continue;
            if (c < cols[k][0])
                cols[k][0] = c, rows[k][0] = r;
            if (c >= cols[k][1])
                cols[k][1] = c, rows[k][1] = r;
        }
    ck_assert_msg(rows[0][0] >= 0 && rows[0][0] < rows[0][1], "metal rows %d -> %d", rows[0][0], rows[0][1]);
    ck_assert_msg(rows[1][0] > rows[1][1], "dendrite rows %d -> %d", rows[1][0], rows[1][1]);
    free_lines(v);
    desk_focus(D, "trend", NULL, 0);
    desk_key(D, 'n');
    v = draw_lines(100, 30);
    char *s = summary(v, "metal");
    ck_assert_ptr_nonnull(s);
    /* metal 100 % -> 61 %, microstructure x16.6 */
    ck_assert_msg(strstr(s, "metal 1 -> 0.61 -39%"), "%s", s);
    ck_assert_msg(strstr(s, "dendrite 1 -> 16.6 +1560%"), "%s", s);
    ck_assert_msg(!strstr(s, "_err"), "%s", s);
    free(s);
    char *t = draw(100, 30);
    ck_assert_ptr_nonnull(strstr(t, "time [h]"));
    ck_assert_ptr_nonnull(strstr(t, "integral / first"));
    ck_assert_ptr_nonnull(strstr(t, "* metal"));
    ck_assert_ptr_nonnull(strstr(t, "o dendrite"));
    free(t);
    free_lines(v);
    /* x: charge passed, in mA h: 40 spectra at 500 mA every 290 s, up to 1.6 A h */
    desk_key(D, 'x');
    t = draw(100, 30);
    ck_assert_ptr_nonnull(strstr(t, "charge passed [mA h]"));
    ck_assert_ptr_null(strstr(t, "time [h]"));
    free(t);
    desk_key(D, 'n');
    t = draw(100, 30);
    ck_assert_ptr_nonnull(strstr(t, "metal 9.42e5 -> 5.75e5 -39%"));
    free(t);
    struct strbuf b = { 0 };
    desk_layout_dump(D, &b);
    ck_assert_ptr_nonnull(strstr(b.s, "pane trend x=charge\n"));
    strbuf_free(&b);
    /* names choose */
    char err[200];
    struct word w[3] = { { .text = "trend" }, { .text = "dendrite" }, { .text = "norm=first" } };
    ck_assert_int_eq(desk_pane_type(D, 3, w, err, sizeof err), 0);
    t = draw(100, 30);
    ck_assert_ptr_null(strstr(t, "metal"));
    ck_assert_ptr_nonnull(strstr(t, "dendrite 1 -> 16.6"));
    free(t);
    w[1].text = "x=volume";
    ck_assert_int_eq(desk_pane_type(D, 2, w, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "a trend pane takes integral names"));
}
END_TEST

START_TEST(trend_fields_added_later)
{
    layout("split -h 50%\npane trend\npane trend metal");
    start(0);
    for (int k = 0; k < 5; k++)
        append(k);
    char *t = draw(200, 30);
    ck_assert_ptr_nonnull(strstr(t, "no integrals yet"));
    ck_assert_ptr_nonnull(strstr(t, "waiting for integral_metal"));
    free(t);
    /* the engine defines its regions: fields appear, filled from now on */
    field_add(T, "integral_metal");
    field_add(T, "integral_dendrite");
    for (int k = 5; k < 20; k++)
        append(k);
    t = draw(200, 30);
    ck_assert_ptr_null(strstr(t, "no integrals yet"));
    ck_assert_ptr_null(strstr(t, "waiting for"));
    ck_assert_ptr_nonnull(strstr(t, "dendrite 1.41e5 -> 4.05e5"));
    ck_assert_ptr_nonnull(strstr(t, "metal 8.95e5 -> 7.63e5"));
    free(t);
    /* charge without a cycler: NaN everywhere, and the pane says so */
    layout("pane trend x=charge");
    int fa = run_field_index(T, "charge_start"), fb = run_field_index(T, "charge_end");
    for (size_t i = 0; i < T->nrec; i++)
        T->cols[fa].v.f64[i] = T->cols[fb].v.f64[i] = NAN;
    t = draw(100, 30);
    ck_assert_ptr_nonnull(strstr(t, "no charge recorded"));
    free(t);
}
END_TEST

/* The insitu layout with a run under way: what the screen looks like (also a golden). */
START_TEST(insitu_layout)
{
    char err[400];
    ck_assert_msg(desk_layout_load(D, "insitu", err, sizeof err) == 0, "%s", err);
    start(1);
    for (int k = 0; k < 40; k++)
        append(k);
    char *t = draw(120, 40);
    if (getenv("INSITU_GOLDEN_UPDATE")) {
        write_file("tests/golden/nmrpanes-insitu-120x40.txt", t);
    } else {
        FILE *f = fopen("tests/golden/nmrpanes-insitu-120x40.txt", "r");
        ck_assert_msg(f != NULL, "missing golden (INSITU_GOLDEN_UPDATE=1 writes it)");
        struct strbuf b = { 0 };
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, f)) > 0)
            strbuf_add(&b, buf, n);
        fclose(f);
        ck_assert_msg(!strcmp(b.s, t), "nmrpanes-insitu-120x40.txt differs; got:\n%s", t);
        strbuf_free(&b);
    }
    free(t);
    if (getenv("INSITU_SHOW")) {
        /* for looking at it: INSITU_SHOW=120x40 also draws with braille */
        int w = 120, h = 40;
        sscanf(getenv("INSITU_SHOW"), "%dx%d", &w, &h);
        D->utf8 = 1;
        t = draw(w, h);
        fputs(t, stderr);
        free(t);
        D->utf8 = 0;
        t = draw(w, h);
        fputs(t, stderr);
        free(t);
        /* the waterfall, then the trend pane in the stack's place */
        desk_focus(D, "stack", NULL, 0);
        desk_key(D, 'w');
        for (int i = 0; i < 2; i++) {
            D->utf8 = !i;
            t = draw(w, h);
            fputs(t, stderr);
            free(t);
            desk_pane_type(D, 1, &(struct word){ .text = "trend" }, NULL, 0);
        }
        D->utf8 = 0;
        layout("pane spectrum zoom=350ppm,100ppm");
        for (int i = 0; i < 2; i++) {
            layout(i ? "pane stack mode=waterfall" : "pane trend x=charge norm=first");
            t = draw(w, h);
            fputs(t, stderr);
            free(t);
        }
        ck_assert_msg(desk_layout_load(D, "insitu", err, sizeof err) == 0, "%s", err);
    }
}
END_TEST

Suite *nmrpanes_suite(void)
{
    Suite *s = suite_create("nmrpanes");
    TCase *tc = tcase_create("panes");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, spectrum_axis_decreases_and_peak_lands);
    tcase_add_test(tc, zoom_command_and_words);
    tcase_add_test(tc, cursor_readout_and_overlay);
    tcase_add_test(tc, spectrum_late_pane);
    tcase_add_test(tc, stack_keeps_history);
    tcase_add_test(tc, stack_bounded);
    tcase_add_test(tc, trend_series);
    tcase_add_test(tc, trend_fields_added_later);
    tcase_add_test(tc, insitu_layout);
    suite_add_tcase(s, tc);
    return s;
}
