/* The symmetric metal cell model: limits, symmetry, nucleation, microstructure, soft short,
 * bookkeeping, the cell files. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "insitu/cell.h"
#include "insitu/units.h"
#include "suites.h"

#define AH 3600.0

static struct cell_params P(const char *metal)
{
    struct cell_params p;
    ck_assert_int_eq(cell_params_default(&p, metal), 0);
    return p;
}

/* Pass CURRENT for SECONDS in steps of DT; returns the last voltage. */
static double run(struct cell_state *s, const struct cell_params *p, double current,
                  double seconds, double dt)
{
    double v = cell_voltage(s, p, current);
    for (double t = 0; t < seconds - 1e-9; t += dt)
        v = cell_step(s, p, current, fmin(dt, seconds - t));
    return v;
}

START_TEST(ohmic_limit)
{
    /* Fast kinetics and no nucleation: only the resistance is left. */
    struct cell_params p = P("li");
    p.exchange_current_density = 1e15;
    p.nucleation_area_fraction = 1;
    struct cell_state s;
    cell_init(&s, &p);
    for (double i = -1; i <= 1; i += 0.25)
        ck_assert_double_eq_tol(cell_voltage(&s, &p, i), i * p.resistance, 1e-9);
    /* Small currents with the defaults: Butler-Volmer is linear there, R_ct = RT/(F j0 A)
     * per electrode, the plating one through the nucleation fraction of the area. */
    p = P("li");
    cell_init(&s, &p);
    double rt_f = 8.314462618 * p.temperature / 96485.33212, j0a = p.exchange_current_density * p.area;
    double r = p.resistance + rt_f / j0a + rt_f / (j0a * p.nucleation_area_fraction);
    ck_assert_double_eq_tol(cell_voltage(&s, &p, 1e-6) / 1e-6, r, r * 1e-6);
    ck_assert_double_eq(cell_voltage(&s, &p, 0), 0);
}
END_TEST

START_TEST(symmetric_sign)
{
    const char *metals[] = { "li", "na" };
    for (int m = 0; m < 2; m++) {
        struct cell_params p = P(metals[m]);
        struct cell_state s;
        cell_init(&s, &p);
        for (double i = 1e-4; i < 1.1; i *= 3) {
            double v = cell_voltage(&s, &p, i);
            ck_assert(v > 0);
            ck_assert_double_eq(cell_voltage(&s, &p, -i), -v);
            ck_assert(cell_voltage(&s, &p, 3 * i) > v);   /* monotone */
        }
    }
    /* Positive current strips A and plates B. */
    struct cell_params p = P("li");
    struct cell_state s;
    cell_init(&s, &p);
    run(&s, &p, 0.5, 3600, 10);
    ck_assert(cell_metal_Ah(&s, CELL_A) < 25 - 0.49);
    ck_assert(cell_metal_Ah(&s, CELL_B) > 25 + 0.49);
    ck_assert(s.micro[CELL_B] > 0 && s.micro[CELL_A] == 0);
}
END_TEST

START_TEST(nucleation_spike)
{
    struct cell_params p = P("li");
    struct cell_state s;
    cell_init(&s, &p);
    double v0 = cell_voltage(&s, &p, 0.5), prev = v0, v = 0;
    for (int t = 1; t <= 300; t++) {   /* the spike decays, never rising again */
        v = cell_step(&s, &p, 0.5, 1);
        ck_assert(v <= prev + 1e-12);
        prev = v;
    }
    double plateau = v;
    ck_assert_msg(plateau > 0.02 && plateau < 0.08, "plateau %g V", plateau);
    ck_assert_msg(v0 - plateau > 0.1 && v0 - plateau < 0.2, "spike %g V over %g V", v0, plateau);
    /* Reversing the current is a plating onset on the other electrode: a new spike. */
    double w0 = cell_voltage(&s, &p, -0.5);
    ck_assert_msg(w0 < -plateau - 0.08, "spike after reversal %g V", w0);
    double w = run(&s, &p, -0.5, 300, 1);
    ck_assert(w > w0 + 0.08 && w < 0);
    /* Resuming after a rest in the same direction is not an onset. */
    run(&s, &p, 0, 600, 60);
    ck_assert_double_eq_tol(cell_voltage(&s, &p, -0.5), w, 1e-12);
}
END_TEST

START_TEST(plateau_evolves)
{
    /* The seed: 500 mA for 15 h. The plateau dips as the plating surface roughens, then
     * creeps up as dead metal and SEI accumulate; it stays tens of mV throughout. */
    struct cell_params p = P("li");
    struct cell_state s;
    cell_init(&s, &p);
    double v10min = run(&s, &p, 0.5, 600, 1);
    double vmin = v10min, v;
    for (int h = 0; h < 15 * 6; h++) {
        v = run(&s, &p, 0.5, 600, 10);
        vmin = fmin(vmin, v);
    }
    ck_assert_msg(vmin < v10min - 0.003, "no roughening dip: %g -> %g", v10min, vmin);
    ck_assert_msg(v > vmin + 0.003, "no rise: min %g, end %g", vmin, v);
    ck_assert(v > 0.02 && v < 0.1);
    ck_assert_double_eq_tol(cell_charge_Ah(&s), 7.5 + 600 * 0.5 / AH, 1e-9);
    ck_assert_int_eq(s.shorted, 0);
}
END_TEST

START_TEST(microstructure_linear)
{
    struct cell_params p = P("li");
    struct cell_state s;
    cell_init(&s, &p);
    double m[3];
    for (int k = 0; k < 3; k++) {
        run(&s, &p, 0.5, 2.5 * AH / 0.5, 60);
        m[k] = cell_micro_Ah(&s);
    }
    ck_assert_double_eq_tol(m[1] / m[0], 2, 0.02);
    ck_assert_double_eq_tol(m[2] / m[0], 3, 0.03);
    double frac = m[2] / cell_visible_metal_Ah(&p);
    ck_assert_msg(frac > 0.3 && frac < 1, "microstructure %g of the visible metal", frac);
    /* Na: the same, over the 10 h Na seed (5 Ah). */
    p = P("na");
    cell_init(&s, &p);
    run(&s, &p, 0.5, 10 * 3600, 60);
    frac = cell_micro_Ah(&s) / cell_visible_metal_Ah(&p);
    ck_assert_msg(frac > 0.3 && frac < 1, "Na microstructure %g of the visible metal", frac);
}
END_TEST

START_TEST(na_larger_overpotential)
{
    struct cell_params li = P("li"), na = P("na");
    struct cell_state a, b;
    cell_init(&a, &li);
    cell_init(&b, &na);
    ck_assert(cell_voltage(&b, &na, 0.5) > cell_voltage(&a, &li, 0.5));
    double vl = run(&a, &li, 0.5, 600, 1), vn = run(&b, &na, 0.5, 600, 1);
    ck_assert_msg(vn > vl * 1.5, "Na plateau %g, Li %g", vn, vl);
}
END_TEST

START_TEST(soft_short)
{
    struct cell_params p = P("li");
    struct cell_state s;
    cell_init(&s, &p);
    run(&s, &p, 0.5, 11.9 * AH / 0.5, 60);
    ck_assert_int_eq(s.shorted, 0);
    double before = cell_voltage(&s, &p, 0.5);
    run(&s, &p, 0.5, 0.2 * AH / 0.5, 60);
    ck_assert_int_eq(s.shorted, 1);
    double after = run(&s, &p, 0.5, 1 * AH / 0.5, 60);
    ck_assert_msg(after < 0.1 * before, "voltage %g V before, %g V after", before, after);
    ck_assert(after > 0);
    /* What goes through the short plates nothing: the microstructure stops growing. */
    double m = cell_micro_Ah(&s);
    run(&s, &p, 0.5, 0.5 * AH / 0.5, 60);
    ck_assert(cell_micro_Ah(&s) - m < 0.05 * 0.5 * p.microstructure_fraction);
    /* Noise grows once shorted. */
    struct cell_rng r;
    cell_rng_seed(&r, 7);
    double ss = 0;
    for (int i = 0; i < 2000; i++) {
        double n = cell_voltage_noise(&s, &p, 1, &r);
        ss += n * n;
    }
    ck_assert(sqrt(ss / 2000) > 2 * p.noise);

    /* The threshold is a parameter; 0 disables the short. */
    p = P("li");
    char err[200];
    ck_assert_int_eq(cell_param_set(&p, "soft_short_charge", "1Ah", err, sizeof err), 0);
    cell_init(&s, &p);
    run(&s, &p, -0.5, 0.9 * AH / 0.5, 60);
    ck_assert_int_eq(s.shorted, 0);
    run(&s, &p, 0.5, 0.2 * AH / 0.5, 60);   /* throughput counts both directions */
    ck_assert_int_eq(s.shorted, 1);
    p.soft_short_charge = 0;
    cell_init(&s, &p);
    run(&s, &p, 1, 20 * AH, 600);
    ck_assert_int_eq(s.shorted, 0);
}
END_TEST

START_TEST(bookkeeping)
{
    struct cell_params p = P("li");
    struct cell_state s;
    cell_init(&s, &p);
    struct cell_rng r;
    cell_rng_seed(&r, 42);
    double q = 0, thr = 0, t = 0;
    for (int i = 0; i < 20000; i++) {
        double cur = (cell_rng_uniform(&r) - 0.5) * 2, dt = cell_rng_uniform(&r) * 30;
        cell_step(&s, &p, cur, dt);
        q += cur * dt;
        thr += fabs(cur) * dt;
        t += dt;
    }
    ck_assert_double_eq_tol(s.q, q, 1e-9 * thr);
    ck_assert_double_eq_tol(s.throughput, thr, 1e-9 * thr);
    ck_assert_double_eq_tol(s.t, t, 1e-9 * t);
    /* Metal is conserved: what leaves one electrode is on the other, in microstructure,
     * or dead (the electrolyte pays only once an electrode is empty). */
    double total = s.metal[0] + s.metal[1] + s.micro[0] + s.micro[1] + s.dead;
    ck_assert_double_eq_tol(total, 2 * p.metal_inventory + s.side, 1e-9 * total);
    ck_assert_double_eq(s.side, 0);
    ck_assert(s.dead > 0);
}
END_TEST

START_TEST(potentiostatic)
{
    struct cell_params p = P("li");
    struct cell_state s;
    cell_init(&s, &p);
    for (double v = -0.3; v <= 0.3; v += 0.05) {
        double i = cell_current_for_voltage(&s, &p, v);
        ck_assert_double_eq_tol(cell_voltage(&s, &p, i), v, 1e-9);
    }
    ck_assert_double_eq(cell_current_for_voltage(&s, &p, 0), 0);
    run(&s, &p, 0.5, 12.5 * AH / 0.5, 120);   /* shorted: the short takes its share too */
    ck_assert_int_eq(s.shorted, 1);
    double i = cell_current_for_voltage(&s, &p, 0.01);
    ck_assert(i > 0.01 / s.r_short);
    ck_assert_double_eq_tol(cell_voltage(&s, &p, i), 0.01, 1e-9);
}
END_TEST

START_TEST(depletion)
{
    /* An electrode that runs out of metal cannot carry the current: the voltage runs away,
     * and the charge the electrolyte carried is accounted for. */
    struct cell_params p = P("li");
    p.metal_inventory = 0.1 * AH;
    struct cell_state s;
    cell_init(&s, &p);
    double v1 = run(&s, &p, 0.5, 0.05 * AH / 0.5, 10);
    double v2 = run(&s, &p, 0.5, 0.06 * AH / 0.5, 10);
    ck_assert_msg(v2 > v1 + 0.5, "%g then %g", v1, v2);
    ck_assert(s.side > 0);
    double total = s.metal[0] + s.metal[1] + s.micro[0] + s.micro[1] + s.dead;
    ck_assert_double_eq_tol(total, 2 * p.metal_inventory + s.side, 1e-9 * total);
}
END_TEST

START_TEST(noise_seeded)
{
    struct cell_params p = P("li");
    struct cell_state s;
    cell_init(&s, &p);
    struct cell_rng a, b;
    cell_rng_seed(&a, 1);
    cell_rng_seed(&b, 1);
    double sum = 0, ss = 0;
    int n = 20000;
    for (int i = 0; i < n; i++) {
        double x = cell_voltage_noise(&s, &p, 1, &a);
        ck_assert_double_eq(x, cell_voltage_noise(&s, &p, 1, &b));
        sum += x;
        ss += x * x;
    }
    ck_assert_double_eq_tol(sum / n, 0, 5 * p.noise / sqrt(n));
    ck_assert_double_eq_tol(sqrt(ss / n), p.noise, 0.03 * p.noise);
    ss = 0;
    for (int i = 0; i < n; i++) {
        double x = cell_voltage_noise(&s, &p, 4, &a);
        ss += x * x;
    }
    ck_assert_double_eq_tol(sqrt(ss / n), p.noise / 2, 0.03 * p.noise);   /* 1/sqrt(NPLC) */
}
END_TEST

START_TEST(cell_files)
{
    const char *files[] = { "contrib/cells/li-li.cell", "contrib/cells/na-na.cell" };
    const char *metals[] = { "li", "na" };
    for (int f = 0; f < 2; f++) {
        struct cell_params p, d = P(metals[f]);
        char err[300];
        ck_assert_msg(cell_load(files[f], &p, err, sizeof err) == 0, "%s", err);
        ck_assert_str_eq(p.metal, metals[f]);
        /* The files spell out the defaults: every number agrees. */
        ck_assert_int_eq(cell_param_count(), 23);
        for (int i = 1; i < cell_param_count(); i++) {
            const char *unit, *name = cell_param_name(i, &unit);
            ck_assert_ptr_nonnull(name);
            double a = cell_param_value(&p, i), b = cell_param_value(&d, i);
            ck_assert_msg(fabs(a - b) <= 1e-12 * fabs(b), "%s %s: %g, default %g", files[f],
                          name, a, b);
        }
        ck_assert_ptr_null(cell_param_name(cell_param_count(), NULL));
    }
}
END_TEST

static const char *bad(const char *text)
{
    static char err[300];
    struct cell_params p;
    ck_assert_msg(cell_parse(text, "x.cell", &p, err, sizeof err) < 0, "parsed: %s", text);
    return err;
}

START_TEST(cell_file_errors)
{
    ck_assert_str_eq(bad("# a cell\narea 1.77cm2\n\nfoo 1\n"), "x.cell:4: foo: unknown parameter");
    ck_assert_str_eq(bad("area 1.77V\n"), "x.cell:1: area: \"1.77V\": wrong unit (need m2)");
    ck_assert_str_eq(bad("resistance 5mA\n"),
                     "x.cell:1: resistance: \"5mA\" is a current, not a resistance");
    ck_assert_str_eq(bad("metal li\nresistance\n"),
                     "x.cell:2: resistance: needs one value (NAME QUANTITY)");
    ck_assert_str_eq(bad("area 1cm2 2cm2\n"), "x.cell:1: area: needs one value (NAME QUANTITY)");
    ck_assert_str_eq(bad("\nmetal k\n"), "x.cell:2: metal: \"k\": not li or na");
    ck_assert_str_eq(bad("resistance -1ohm\n"), "x.cell:1: resistance: must be > 0");
    ck_assert_str_eq(bad("microstructure_fraction 1.5\n"),
                     "x.cell:1: microstructure_fraction: must be in [0, 1)");
    ck_assert_str_eq(bad("area \"1.77cm2\n"), "x.cell:1: unterminated \"...\" string");
    ck_assert_str_eq(bad("soft_short_min_resistance 1ohm\n"),
                     "x.cell: soft_short_min_resistance: above soft_short_resistance");
    /* The metal line picks the defaults wherever it stands; quoting and comments work. */
    struct cell_params p;
    char err[300];
    ck_assert_int_eq(cell_parse("area '2 cm2'  # comment\nmetal na\n", "y", &p, err, sizeof err), 0);
    ck_assert_str_eq(p.metal, "na");
    ck_assert_double_eq_tol(p.area, 2e-4, 1e-15);
    ck_assert_double_eq_tol(p.skin_depth, 12e-6, 1e-15);
    ck_assert_int_eq(cell_parse("", "empty", &p, err, sizeof err), 0);
    ck_assert_str_eq(p.metal, "li");
    ck_assert_int_eq(cell_load("no/such.cell", &p, err, sizeof err), -1);
    ck_assert_str_eq(err, "no/such.cell: No such file or directory");
    ck_assert_int_eq(cell_param_set(&p, "metal", "na", err, sizeof err), -1);
}
END_TEST

Suite *cell_suite(void)
{
    Suite *s = suite_create("cell");
    TCase *tc = tcase_create("model");
    tcase_set_timeout(tc, 60);   /* hours of cell at 1-60 s steps, under sanitizers */
    tcase_add_test(tc, ohmic_limit);
    tcase_add_test(tc, symmetric_sign);
    tcase_add_test(tc, nucleation_spike);
    tcase_add_test(tc, plateau_evolves);
    tcase_add_test(tc, microstructure_linear);
    tcase_add_test(tc, na_larger_overpotential);
    tcase_add_test(tc, soft_short);
    tcase_add_test(tc, bookkeeping);
    tcase_add_test(tc, potentiostatic);
    tcase_add_test(tc, depletion);
    tcase_add_test(tc, noise_seeded);
    suite_add_tcase(s, tc);
    tc = tcase_create("files");
    tcase_add_test(tc, cell_files);
    tcase_add_test(tc, cell_file_errors);
    suite_add_tcase(s, tc);
    return s;
}
