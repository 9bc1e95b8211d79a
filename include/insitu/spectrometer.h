/* spectrometer: the instrument class that delivers FIDs, and what the NMR engine asks of it.
 *
 * Two kinds of driver sit behind the same operations:
 *   - instruments insitu drives (insitu-sim's `nmrsim`): the engine configures the acquisition,
 *     starts each one and is handed the FID when it is done;
 *   - spectrometers that acquire by themselves (`topspin`: a TopSpin experiment series on disk,
 *     written by TopSpin's multi-zg): the engine is handed every FID as it appears.
 * Every call returns at once; results come through callbacks on the event loop. */
#ifndef INSITU_SPECTROMETER_H
#define INSITU_SPECTROMETER_H

#include <complex.h>

#include "insitu/bruker.h"

struct device;

/* Acquisition parameters, in Bruker's names and units. */
struct spectro_acq {
    char nucleus[16];       /* "7Li" */
    double field;           /* T, nominal */
    double o1;              /* Hz, carrier offset from BF1 */
    double sw;              /* Hz */
    long td;                /* real + imaginary values */
    long ns;
    double d1;              /* s */
    double rg;
    double p1, de;          /* us */
};

/* One acquired FID and how it was taken. */
struct spectro_fid {
    double complex *data;   /* n complex points, owned by the driver (valid during the call) */
    long n;
    char nucleus[16];
    double bf1, sfo1;       /* MHz */
    double o1, sw;          /* Hz */
    long td, ns;            /* ns: the scans actually in the FID (fewer after a halt) */
    double d1, rg, p1, de;
    int digmod, dspfvs;
    double grpdly, decim;
    double t_start, t_end;  /* experiment clock (clock_now()) at acquisition start and end */
    long expno;             /* TopSpin's experiment number, or the count of acquisitions */
    char source[512];       /* where it came from ("expno 12 in DIR"), for messages */
    int have_procs;         /* PROCS holds the dataset's own processing (TopSpin) */
    struct bruker_procs procs;
};

/* Called once per acquisition: F, or F NULL and WHY when it failed. */
typedef void (*spectro_fid_fn)(struct device *d, const struct spectro_fid *f, const char *why,
                               void *arg);
typedef void (*spectro_done_fn)(struct device *d, int ok, const char *why, void *arg);

struct spectrometer_ops {
    int follows;            /* acquires by itself: use follow(), not configure/acquire */
    /* Set the acquisition parameters; DONE says whether the instrument took them. */
    void (*configure)(struct device *d, const struct spectro_acq *a, spectro_done_fn done,
                      void *arg);
    /* Acquire one FID with the parameters set; FN is called exactly once. */
    void (*acquire)(struct device *d, spectro_fid_fn fn, void *arg);
    /* Stop an acquisition under way (its FN is still called, with what was taken). */
    void (*halt)(struct device *d);
    /* Hand every new FID to FN from now on (FN NULL: stop). */
    void (*follow)(struct device *d, spectro_fid_fn fn, void *arg);
    /* Simulators only: put SAMPLE ("cell", "NaCl", "LiCl") in the probe, as a user would
     * before measuring a reference standard. NULL for real instruments. */
    void (*sample)(struct device *d, const char *sample);
};

#endif
