/* cell: a symmetric metal cell (M | M+ electrolyte | M) as a small set of state variables and
 * algebraic relations, good enough that a cycler driving it shows what DOMAIN.md section 3
 * describes for symmetric cells under constant current: a nucleation spike at each plating
 * onset, a plateau of tens of mV that drifts as the surfaces roughen, and a soft short that
 * collapses the voltage. The microstructure inventory feeds the NMR simulator: its signal
 * grows roughly linearly with charge passed (DOMAIN.md section 1).
 *
 * The model is quasi-static: the voltage is a function of the current and the state, with no
 * double-layer or diffusion transients. Charges are kept in coulombs; A h only at the edges. */
#include "insitu/cell.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "insitu/parse.h"
#include "insitu/units.h"
#include "insitu/util.h"

#define CELL_F 96485.33212   /* C/mol, Faraday constant */
#define CELL_R 8.314462618   /* J/(mol K), gas constant */
#define CELL_AH 3600.0       /* C per A h */

/* --- parameters ------------------------------------------------------------------------- */

enum cell_check { CK_POS, CK_NONNEG, CK_FRACTION, CK_UNIT_INTERVAL, CK_ATLEAST1 };

static const struct cell_param_def {
    const char *name;
    const char *unit;        /* UDUNITS unit the value is stored in */
    size_t off;
    enum cell_check check;
} cell_defs[] = {
#define P(name, unit, check) { #name, unit, offsetof(struct cell_params, name), check }
    P(area, "m2", CK_POS),
    P(resistance, "ohm", CK_POS),
    P(temperature, "K", CK_POS),
    P(exchange_current_density, "A/m2", CK_POS),
    P(nucleation_area_fraction, "1", CK_UNIT_INTERVAL),
    P(nucleation_charge, "C", CK_POS),
    P(roughness_max, "1", CK_ATLEAST1),
    P(roughness_charge, "C", CK_POS),
    P(microstructure_fraction, "1", CK_FRACTION),
    P(sei_fraction, "1", CK_FRACTION),
    P(dead_fraction, "1", CK_NONNEG),
    P(dead_resistance, "ohm/C", CK_NONNEG),
    P(metal_inventory, "C", CK_POS),
    P(skin_depth, "m", CK_POS),
    P(density, "kg/m3", CK_POS),
    P(specific_capacity, "C/kg", CK_POS),
    P(soft_short_charge, "C", CK_NONNEG),
    P(soft_short_resistance, "ohm", CK_POS),
    P(soft_short_min_resistance, "ohm", CK_POS),
    P(soft_short_growth, "C", CK_POS),
    P(noise, "V", CK_NONNEG),
    P(soft_short_noise, "V", CK_NONNEG),
#undef P
};

int cell_param_count(void)
{
    return (int)ARRAY_LEN(cell_defs) + 1;
}

const char *cell_param_name(int i, const char **unit)
{
    if (i == 0) {
        if (unit)
            *unit = "li|na";
        return "metal";
    }
    if (i < 1 || i > (int)ARRAY_LEN(cell_defs))
        return NULL;
    if (unit)
        *unit = cell_defs[i - 1].unit;
    return cell_defs[i - 1].name;
}

static double *cell_field(struct cell_params *p, const struct cell_param_def *d)
{
    return (double *)((char *)p + d->off);
}

double cell_param_value(const struct cell_params *p, int i)
{
    if (i < 1 || i > (int)ARRAY_LEN(cell_defs))
        return NAN;
    return *cell_field((struct cell_params *)p, &cell_defs[i - 1]);
}

int cell_params_default(struct cell_params *p, const char *metal)
{
    memset(p, 0, sizeof *p);
    int na = !strcmp(metal, "na");
    if (!na && strcmp(metal, "li"))
        return -1;
    snprintf(p->metal, sizeof p->metal, "%s", metal);
    /* The seed experiment (DOMAIN.md section 1): a 15 mm cell, 500 mA for 15 h (Li) or 10 h
     * (Na). 500 mA on 1.77 cm2 is 280 mA/cm2 and 7.5 A h is far more metal than a foil holds,
     * so the kinetic and inventory values are effective ones, chosen so that the seed's
     * current gives the seed's voltages (spike ~100-200 mV, plateau of tens of mV). The
     * contrib/cells files say the same with each number. */
    p->area = 1.77e-4;
    p->temperature = 298.15;
    p->roughness_max = 2.5;
    p->dead_fraction = 0.5;
    p->metal_inventory = 25 * CELL_AH;
    p->soft_short_resistance = 0.2;
    p->soft_short_min_resistance = 2e-3;
    p->soft_short_growth = 0.1 * CELL_AH;
    p->noise = 0.2e-3;
    p->soft_short_noise = 3e-3;
    if (!na) {
        p->resistance = 0.03;
        p->exchange_current_density = 4000;      /* 400 mA/cm2 */
        p->nucleation_area_fraction = 0.05;
        p->nucleation_charge = 5e-3 * CELL_AH;
        p->roughness_charge = 1e-3 * CELL_AH;
        p->microstructure_fraction = 8e-4;
        p->sei_fraction = 2e-4;
        p->dead_resistance = 17.0 / CELL_AH;     /* 17 ohm per A h of dead metal */
        p->skin_depth = 14e-6;                   /* 7Li at 116.6 MHz */
        p->density = 534;
        p->specific_capacity = 3860e-3 * CELL_AH / 1e-3;  /* 3860 mAh/g */
        p->soft_short_charge = 12 * CELL_AH;
    } else {
        /* Sodium plates and strips with larger overpotentials than lithium (slower
         * interfacial kinetics, a less stable SEI in carbonate/PF6 electrolytes). */
        p->resistance = 0.05;
        p->exchange_current_density = 1500;      /* 150 mA/cm2 */
        p->nucleation_area_fraction = 0.03;
        p->nucleation_charge = 8e-3 * CELL_AH;
        p->roughness_charge = 1e-3 * CELL_AH;
        p->microstructure_fraction = 6e-4;
        p->sei_fraction = 4e-4;
        p->dead_resistance = 17.0 / CELL_AH;
        p->skin_depth = 12e-6;                   /* 23Na at 79.4 MHz */
        p->density = 968;
        p->specific_capacity = 1166e-3 * CELL_AH / 1e-3;  /* 1166 mAh/g */
        p->soft_short_charge = 9 * CELL_AH;
    }
    return 0;
}

static int cell_check_one(const struct cell_param_def *d, double v, char *err, size_t errlen)
{
    const char *why = NULL;
    switch (d->check) {
    case CK_POS: if (!(v > 0)) why = "must be > 0"; break;
    case CK_NONNEG: if (!(v >= 0)) why = "must be >= 0"; break;
    case CK_FRACTION: if (!(v >= 0 && v < 1)) why = "must be in [0, 1)"; break;
    case CK_UNIT_INTERVAL: if (!(v > 0 && v <= 1)) why = "must be in (0, 1]"; break;
    case CK_ATLEAST1: if (!(v >= 1)) why = "must be >= 1"; break;
    }
    if (why) {
        snprintf(err, errlen, "%s", why);
        return -1;
    }
    return 0;
}

int cell_param_set(struct cell_params *p, const char *name, const char *text, char *err,
                   size_t errlen)
{
    if (!strcmp(name, "metal")) {
        /* Changing the metal changes every default: cell_parse handles `metal` before the
         * rest; here it may only confirm what the defaults already are. */
        if (strcmp(text, "li") && strcmp(text, "na")) {
            snprintf(err, errlen, "\"%s\": not li or na", text);
            return -1;
        }
        if (strcmp(text, p->metal)) {
            snprintf(err, errlen, "the metal is chosen by the cell file (it is %s)", p->metal);
            return -1;
        }
        return 0;
    }
    for (size_t i = 0; i < ARRAY_LEN(cell_defs); i++) {
        const struct cell_param_def *d = &cell_defs[i];
        if (strcmp(d->name, name))
            continue;
        double v;
        if (units_parse(text, d->unit, &v, err, errlen) < 0)
            return -1;
        if (cell_check_one(d, v, err, errlen) < 0)
            return -1;
        *cell_field(p, d) = v;
        return 0;
    }
    snprintf(err, errlen, "unknown parameter");
    return -1;
}

int cell_params_check(const struct cell_params *p, char *err, size_t errlen)
{
    char why[128];
    for (size_t i = 0; i < ARRAY_LEN(cell_defs); i++) {
        if (cell_check_one(&cell_defs[i], *cell_field((struct cell_params *)p, &cell_defs[i]),
                           why, sizeof why) < 0) {
            snprintf(err, errlen, "%s: %s", cell_defs[i].name, why);
            return -1;
        }
    }
    if (p->microstructure_fraction + p->sei_fraction >= 1) {
        snprintf(err, errlen, "sei_fraction: with microstructure_fraction must stay below 1");
        return -1;
    }
    if (p->soft_short_min_resistance > p->soft_short_resistance) {
        snprintf(err, errlen, "soft_short_min_resistance: above soft_short_resistance");
        return -1;
    }
    return 0;
}

int cell_parse(const char *text, const char *file, struct cell_params *p, char *err,
               size_t errlen)
{
    struct cmdlist l;
    struct parse_error pe;
    if (parse_text(text, file, 1, &l, &pe) != PARSE_OK) {
        snprintf(err, errlen, "%s:%d: %s", file, pe.line, pe.msg);
        return -1;
    }
    int rc = -1;
    char why[200];
    /* The metal picks the defaults, so it is applied first wherever it is written. */
    const char *metal = "li";
    int metal_line = 0;
    for (int i = 0; i < l.n; i++) {
        struct cmdline *c = &l.v[i];
        if (c->argc >= 1 && !strcmp(c->argv[0].text, "metal")) {
            if (c->argc != 2) {
                snprintf(err, errlen, "%s:%d: metal: needs one value (li or na)", file, c->line);
                goto out;
            }
            metal = c->argv[1].text;
            metal_line = c->line;
        }
    }
    if (cell_params_default(p, metal) < 0) {
        snprintf(err, errlen, "%s:%d: metal: \"%s\": not li or na", file, metal_line, metal);
        goto out;
    }
    for (int i = 0; i < l.n; i++) {
        struct cmdline *c = &l.v[i];
        const char *name = c->argv[0].text;
        if (c->argc != 2) {
            snprintf(err, errlen, "%s:%d: %s: needs one value (NAME QUANTITY)", file, c->line,
                     name);
            goto out;
        }
        if (cell_param_set(p, name, c->argv[1].text, why, sizeof why) < 0) {
            snprintf(err, errlen, "%s:%d: %s: %s", file, c->line, name, why);
            goto out;
        }
    }
    if (cell_params_check(p, why, sizeof why) < 0) {
        snprintf(err, errlen, "%s: %s", file, why);
        goto out;
    }
    rc = 0;
out:
    cmdlist_free(&l);
    return rc;
}

int cell_load(const char *path, struct cell_params *p, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct strbuf b = { 0 };
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        strbuf_add(&b, chunk, n);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        snprintf(err, errlen, "%s: read error", path);
        strbuf_free(&b);
        return -1;
    }
    strbuf_addch(&b, 0);   /* an empty file still yields a string */
    int rc = cell_parse(b.s, path, p, err, errlen);
    strbuf_free(&b);
    return rc;
}

/* --- the model -------------------------------------------------------------------------- */

void cell_init(struct cell_state *s, const struct cell_params *p)
{
    memset(s, 0, sizeof *s);
    s->metal[CELL_A] = s->metal[CELL_B] = p->metal_inventory;
    s->rough[CELL_A] = s->rough[CELL_B] = 1;
    s->r_short = INFINITY;
}

/* Roughness: microstructure (dendrites, moss) is high-surface-area metal, so the area that
 * carries the current grows with it; it saturates because new growth buries old surface.
 * A larger effective area lowers the charge-transfer overpotential (DOMAIN.md section 3:
 * "overpotential changes as surfaces roughen"). */
static double cell_roughness(const struct cell_params *p, double micro)
{
    return 1 + (p->roughness_max - 1) * (1 - exp(-micro / p->roughness_charge));
}

/* Butler-Volmer for one electrode with symmetric transfer (alpha = 0.5):
 *   j = j0 [exp(F eta / 2RT) - exp(-F eta / 2RT)] = 2 j0 sinh(F eta / 2RT)
 * so eta = (2RT/F) asinh(j / 2 j0): linear (an R_ct = RT/(F j0 A)) at small currents,
 * logarithmic (Tafel) at large. In a symmetric cell one electrode strips and the other
 * plates, and the two overpotentials add. */
static double cell_bv(const struct cell_params *p, double current, double area)
{
    double vt = 2 * CELL_R * p->temperature / CELL_F;
    return vt * asinh(fabs(current) / (2 * p->exchange_current_density * area));
}

/* Nucleation: at a plating onset the metal deposits on a few nuclei, so the current flows
 * through a small fraction of the surface and the overpotential spikes; as the nuclei grow
 * and merge, the active area recovers. The fraction recovers exponentially with the charge
 * plated since the onset, which gives the spike-then-plateau of DOMAIN.md section 3. Because
 * it acts through the area, the spike grows with current (as measured nucleation
 * overpotentials do) and vanishes in the small-current (ohmic) limit. */
static double cell_nucleation(const struct cell_params *p, double q_since_onset)
{
    return 1 - (1 - p->nucleation_area_fraction) * exp(-q_since_onset / p->nucleation_charge);
}

/* Depletion: an electrode that has almost no metal left cannot keep up the current; its
 * active area shrinks and the voltage runs away (until the instrument's compliance holds it). */
static double cell_depletion(const struct cell_params *p, double metal)
{
    double f = 1 - exp(-fmax(metal, 0) / (0.01 * p->metal_inventory));
    return fmax(f, 1e-12);
}

/* Ohmic resistance: electrolyte, separator and contacts, plus dead metal and SEI, which
 * thicken the resistive layer between the electrodes: the slow rise after the roughening dip. */
static double cell_ohmic(const struct cell_state *s, const struct cell_params *p)
{
    return p->resistance + p->dead_resistance * s->dead;
}

/* The cell branch (without a soft short): terminal voltage with I through the electrodes. */
static double cell_branch_voltage(const struct cell_state *s, const struct cell_params *p,
                                  double current)
{
    if (current == 0)
        return 0;   /* symmetric: both electrodes at the same potential at rest */
    int sign = current > 0 ? 1 : -1;
    int plate = sign > 0 ? CELL_B : CELL_A, strip = sign > 0 ? CELL_A : CELL_B;
    double q_onset = sign == s->polarity ? s->q_onset : 0;
    double a_plate = p->area * s->rough[plate] * cell_nucleation(p, q_onset);
    double a_strip = p->area * s->rough[strip] *
                     cell_depletion(p, s->metal[strip] + s->micro[strip]);
    double v = fabs(current) * cell_ohmic(s, p) + cell_bv(p, current, a_plate) +
               cell_bv(p, current, a_strip);
    return sign * v;
}

/* The branch voltage is odd and strictly increasing in the current, and |V| >= |I| R, so
 * the current for a voltage lies in [0, V/R] and bisection always finds it. */
static double cell_branch_current(const struct cell_state *s, const struct cell_params *p,
                                  double voltage)
{
    if (voltage == 0 || !isfinite(voltage))
        return 0;
    double lo = 0, hi = voltage / cell_ohmic(s, p);
    for (int i = 0; i < 200 && lo != hi; i++) {
        double mid = 0.5 * (lo + hi);
        if (mid == lo || mid == hi)
            break;
        double v = cell_branch_voltage(s, p, mid);
        if ((voltage > 0) == (v < voltage))
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}

/* Soft short: a dendrite bridges the separator and becomes a resistor R_s in parallel with
 * the electrochemical branch; the current divides so that I = I_cell + V/R_s. The part
 * through R_s plates nothing. Returns I_cell. */
static double cell_split(const struct cell_state *s, const struct cell_params *p, double current)
{
    if (!s->shorted || current == 0)
        return current;
    double lo = 0, hi = current;   /* g(I_cell) = I_cell + V(I_cell)/R_s increases through 0 */
    for (int i = 0; i < 200; i++) {
        double mid = 0.5 * (lo + hi);
        if (mid == lo || mid == hi)
            break;
        double g = mid + cell_branch_voltage(s, p, mid) / s->r_short;
        if ((current > 0) == (g < current))
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}

double cell_voltage(const struct cell_state *s, const struct cell_params *p, double current)
{
    return cell_branch_voltage(s, p, cell_split(s, p, current));
}

double cell_current_for_voltage(const struct cell_state *s, const struct cell_params *p,
                                double voltage)
{
    double i = cell_branch_current(s, p, voltage);
    if (s->shorted)
        i += voltage / s->r_short;
    return i;
}

double cell_step(struct cell_state *s, const struct cell_params *p, double current, double dt)
{
    if (dt <= 0)
        return cell_voltage(s, p, current);
    double i_cell = cell_split(s, p, current);
    double dq = fabs(i_cell) * dt;
    if (dq > 0) {
        int sign = i_cell > 0 ? 1 : -1;
        int plate = sign > 0 ? CELL_B : CELL_A, strip = sign > 0 ? CELL_A : CELL_B;
        if (sign != s->polarity) {   /* a plating onset: nucleation starts afresh */
            s->polarity = sign;
            s->q_onset = 0;
        }
        s->q_onset += dq;

        /* Stripping takes the microstructure first in proportion to its share of the active
         * surface; part of it is cut off from the current collector on the way and stays
         * behind as dead metal (what makes cycling pile up dead lithium). */
        double dm = dq * s->micro[strip] / (s->micro[strip] + p->roughness_charge);
        double cut = dm * p->dead_fraction;
        if (dm + cut > s->micro[strip]) {
            double k = s->micro[strip] / (dm + cut);
            dm *= k;
            cut *= k;
        }
        s->micro[strip] = fmax(0, s->micro[strip] - dm - cut);
        s->dead += cut;
        double rest = dq - dm;
        if (rest > s->metal[strip]) {   /* nothing left to strip: the electrolyte pays */
            s->side += rest - s->metal[strip];
            s->metal[strip] = 0;
        } else {
            s->metal[strip] -= rest;
        }

        /* Plating: a fixed fraction grows as microstructure (so its NMR signal rises
         * linearly with charge, DOMAIN.md section 1), a small one is bound in fresh SEI. */
        double sei = dq * p->sei_fraction, micro = dq * p->microstructure_fraction;
        s->dead += sei;
        s->micro[plate] += micro;
        s->metal[plate] += dq - sei - micro;
        s->rough[CELL_A] = cell_roughness(p, s->micro[CELL_A]);
        s->rough[CELL_B] = cell_roughness(p, s->micro[CELL_B]);
    }
    s->q += current * dt;
    s->throughput += fabs(current) * dt;
    s->t += dt;
    /* The soft short: once enough charge has gone through, a dendrite reaches across; the
     * bridge thickens with further charge, so its resistance falls towards a floor. */
    if (p->soft_short_charge > 0 && s->throughput >= p->soft_short_charge) {
        s->shorted = 1;
        double x = (s->throughput - p->soft_short_charge) / p->soft_short_growth;
        s->r_short = p->soft_short_min_resistance +
                     (p->soft_short_resistance - p->soft_short_min_resistance) * exp(-x);
    }
    return cell_voltage(s, p, current);
}

double cell_metal_Ah(const struct cell_state *s, int electrode)
{
    return s->metal[electrode == CELL_B ? CELL_B : CELL_A] / CELL_AH;
}

double cell_micro_Ah(const struct cell_state *s)
{
    return (s->micro[CELL_A] + s->micro[CELL_B]) / CELL_AH;
}

double cell_dead_Ah(const struct cell_state *s)
{
    return s->dead / CELL_AH;
}

double cell_charge_Ah(const struct cell_state *s)
{
    return s->q / CELL_AH;
}

double cell_visible_metal_Ah(const struct cell_params *p)
{
    return 2 * p->area * p->skin_depth * p->density * p->specific_capacity / CELL_AH;
}

/* --- noise ------------------------------------------------------------------------------ */

static uint64_t cell_splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void cell_rng_seed(struct cell_rng *r, uint64_t seed)
{
    memset(r, 0, sizeof *r);
    for (int i = 0; i < 4; i++)
        r->s[i] = cell_splitmix(&seed);
}

static uint64_t cell_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t cell_rng_next(struct cell_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = cell_rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = cell_rotl(s[3], 45);
    return out;
}

double cell_rng_uniform(struct cell_rng *r)
{
    return (double)(cell_rng_next(r) >> 11) * 0x1.0p-53;
}

double cell_rng_gauss(struct cell_rng *r)
{
    if (r->have_spare) {
        r->have_spare = 0;
        return r->spare;
    }
    /* Box-Muller; 1 - u keeps the logarithm finite. */
    double u = 1 - cell_rng_uniform(r), v = cell_rng_uniform(r);
    double m = sqrt(-2 * log(u));
    r->spare = m * sin(2 * M_PI * v);
    r->have_spare = 1;
    return m * cos(2 * M_PI * v);
}

double cell_voltage_noise(const struct cell_state *s, const struct cell_params *p, double nplc,
                          struct cell_rng *r)
{
    double sigma = p->noise / sqrt(nplc > 0.01 ? nplc : 0.01);
    /* A soft short is a fluctuating contact: its flicker is not averaged away by the ADC. */
    if (s->shorted)
        sigma = hypot(sigma, p->soft_short_noise);
    return sigma * cell_rng_gauss(r);
}
