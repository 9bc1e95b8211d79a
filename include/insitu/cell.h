/* cell: a physical model of a symmetric metal cell (Li|LiPF6|Li, Na|NaPF6|Na) under a given
 * current, for the simulated cyclers of insitu-sim and for tests. Pure computation: no I/O
 * except cell_load(), which reads a cell file.
 *
 * Sign convention (Battery Data Format, DOMAIN.md section 3): positive current charges the
 * cell, which in a symmetric cell means metal is stripped from electrode A and plated on
 * electrode B; the terminal voltage is then positive. Negative current plates on A.
 *
 * What is modelled (each term is explained where it is computed, in src/core/cell.c):
 *   V = sign(I) * ( |I_cell| R(dead) + eta_plate + eta_strip )     (cell branch)
 *   eta = (2RT/F) asinh(|I| / (2 j0 A_eff))                          (Butler-Volmer, alpha 0.5)
 *   A_eff(plating) = A * roughness * nucleation(q since onset)      (few nuclei at onset)
 *   A_eff(stripping) = A * roughness * depletion(metal left)
 *   and, beyond a charge threshold, a soft short R_s in parallel with the cell branch.
 * The state advances with cell_step(); everything else evaluates the present state. */
#ifndef INSITU_CELL_H
#define INSITU_CELL_H

#include <stddef.h>
#include <stdint.h>

/* All quantities in SI units: m2, ohm, K, A/m2, C (charges, also the metal inventories),
 * ohm/C, m, kg/m3, C/kg, V. Cell files write them with any unit UDUNITS converts. */
struct cell_params {
    char metal[8];                  /* "li" or "na" */
    double area;                    /* m2, geometric electrode area */
    double resistance;              /* ohm, electrolyte + separator + contacts, > 0 */
    double temperature;             /* K */
    double exchange_current_density;/* A/m2, j0 of M <-> M+ + e- */
    double nucleation_area_fraction;/* active area fraction at a plating onset, (0, 1] */
    double nucleation_charge;       /* C plated until the spike decays to 1/e */
    double roughness_max;           /* effective/geometric area with saturated microstructure */
    double roughness_charge;        /* C of microstructure for 63 % of the roughening */
    double microstructure_fraction; /* of plated charge that grows as microstructure, [0, 1) */
    double sei_fraction;            /* of plated charge lost to SEI (dead), [0, 1) */
    double dead_fraction;           /* extra microstructure isolated per C stripped from it */
    double dead_resistance;         /* ohm per C of dead metal + SEI */
    double metal_inventory;         /* C of metal in each electrode at assembly */
    double skin_depth;              /* m, at the NMR frequency (DOMAIN.md section 1) */
    double density;                 /* kg/m3 of the metal */
    double specific_capacity;       /* C/kg of the metal */
    double soft_short_charge;       /* C of throughput at which a soft short appears; 0: never */
    double soft_short_resistance;   /* ohm, the short when it appears */
    double soft_short_min_resistance;/* ohm, what it falls to */
    double soft_short_growth;       /* C of throughput for the short's resistance to fall 1/e */
    double noise;                   /* V, standard deviation of the voltage noise at NPLC 1 */
    double soft_short_noise;        /* V, extra standard deviation once shorted */
};

enum { CELL_A = 0, CELL_B = 1 };

struct cell_state {
    double t;                /* s advanced by cell_step */
    double q;                /* C, signed charge through the terminals: sum of I dt */
    double throughput;       /* C, sum of |I| dt */
    double metal[2];         /* C, dense metal of electrodes A and B */
    double micro[2];         /* C, dendritic/mossy microstructure on A and B */
    double dead;             /* C, isolated (dead) metal and metal bound in SEI */
    double side;             /* C, carried by side reactions once an electrode ran out */
    double rough[2];         /* effective/geometric area of A and B */
    int polarity;            /* electrode plated last: +1 B, -1 A, 0 none yet */
    double q_onset;          /* C plated since the last plating onset (polarity change) */
    int shorted;             /* a soft short has formed */
    double r_short;          /* ohm, its present resistance (when shorted) */
};

/* Defaults for METAL "li" or "na". Returns 0, or -1 for another metal. */
int cell_params_default(struct cell_params *p, const char *metal);
/* Set one parameter by its cell-file NAME from TEXT ("1.77cm2"). Returns 0, or -1 with err
 * set to the reason (without file:line), e.g. `"1.77V": wrong unit (need m2)`. */
int cell_param_set(struct cell_params *p, const char *name, const char *text, char *err,
                   size_t errlen);
/* Is P usable? Returns 0, or -1 with "NAME: reason". */
int cell_params_check(const struct cell_params *p, char *err, size_t errlen);
/* Parse a cell file's TEXT (named FILE in messages) into P: defaults of the file's `metal`
 * (li when absent), then every line. Returns 0, or -1 with err "FILE:LINE: NAME: reason". */
int cell_parse(const char *text, const char *file, struct cell_params *p, char *err,
               size_t errlen);
/* Read and parse the cell file PATH. Returns 0 or -1 with err as cell_parse (or "PATH: why"). */
int cell_load(const char *path, struct cell_params *p, char *err, size_t errlen);
/* Number of parameters, the name and unit of the i-th (0 is `metal`), and its value in that
 * unit (NAN for `metal`): for listings and tests. */
int cell_param_count(void);
const char *cell_param_name(int i, const char **unit);
double cell_param_value(const struct cell_params *p, int i);

/* A freshly assembled cell. */
void cell_init(struct cell_state *s, const struct cell_params *p);
/* Pass CURRENT (A, positive charges) for DT seconds and return the terminal voltage (V,
 * noise-free) at the end. The current is taken as given (the instrument enforces its
 * compliance with cell_voltage/cell_current_for_voltage before stepping). */
double cell_step(struct cell_state *s, const struct cell_params *p, double current, double dt);
/* Terminal voltage with CURRENT flowing now, without changing the state. */
double cell_voltage(const struct cell_state *s, const struct cell_params *p, double current);
/* The current the cell takes with VOLTAGE across it now (potentiostatic control). */
double cell_current_for_voltage(const struct cell_state *s, const struct cell_params *p,
                                double voltage);

/* Inventories in A h (1 A h = 3600 C). */
double cell_metal_Ah(const struct cell_state *s, int electrode);
double cell_micro_Ah(const struct cell_state *s);
double cell_dead_Ah(const struct cell_state *s);
double cell_charge_Ah(const struct cell_state *s);
/* Metal the NMR coil sees in the two electrodes' skin layers at assembly, A h: bulk metal
 * shows only a layer one skin depth thick (DOMAIN.md section 1). */
double cell_visible_metal_Ah(const struct cell_params *p);

/* A small seeded random number generator (xoshiro256**), so that tests are reproducible. */
struct cell_rng {
    uint64_t s[4];
    int have_spare;
    double spare;
};
void cell_rng_seed(struct cell_rng *r, uint64_t seed);
uint64_t cell_rng_next(struct cell_rng *r);
double cell_rng_uniform(struct cell_rng *r);     /* [0, 1) */
double cell_rng_gauss(struct cell_rng *r);       /* standard normal */
/* A sample of the voltage noise (V) for a reading integrated over NPLC power line cycles:
 * white noise averages down as 1/sqrt(NPLC); a soft short adds its own flicker. */
double cell_voltage_noise(const struct cell_state *s, const struct cell_params *p, double nplc,
                          struct cell_rng *r);

#endif
