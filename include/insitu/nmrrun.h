/* nmrrun: the NMR side of a run. Acquires spectra from a spectrometer one after the other
 * (or takes them as a TopSpin series appears, or from disk for an import), processes each the
 * TopSpin way with one fixed phase for the series, integrates regions and fits peaks through
 * the series, and appends everything to the run's table "nmr" (archived as group nmr):
 *
 *   time (acquisition start), time_end, ns, expno, charge_start/_end, voltage_start/_end (the
 *   cell when the acquisition started and ended, from group ec), phc0, phc1,
 *   fid_re/fid_im over fid_time (raw, never rewritten), spectrum over ppm,
 *   integral_<name> per region and peak; position_, width_, eta_ and the _err of integral,
 *   position and width per fitted peak.
 *
 * Regions and peaks can be added during a run (their variables appear then, earlier spectra
 * read as missing until `nmr reprocess`). Settings nmr.* hold the acquisition and processing
 * parameters; acquisition parameters are locked while a series is being recorded. */
#ifndef INSITU_NMRRUN_H
#define INSITU_NMRRUN_H

#include <stddef.h>

#include "insitu/nmrfit.h"
#include "insitu/spectrometer.h"

struct session;
struct strbuf;

void nmrrun_register_settings(void);
void nmrrun_free(struct session *s);
/* The run is about to end: halt what is being acquired, stop the loop. */
void nmrrun_run_ending(struct session *s);

/* Acquire COUNT spectra (< 0: until the run ends or `nmr stop`) into the active run from the
 * spectrometer DEVICE (NULL: nmr.device, else the only spectrometer). */
int nmrrun_start(struct session *s, const char *device, long count, char *err, size_t errlen);
int nmrrun_stop(struct session *s, char *err, size_t errlen);
int nmrrun_busy(struct session *s);
/* FN once when the acquisition loop is over (at once if it is not running). */
void nmrrun_on_idle(struct session *s, void (*fn)(void *arg), void *arg);
void nmrrun_cancel_idle(struct session *s, void *arg);
void nmrrun_status(struct session *s, struct strbuf *out);

/* Regions and peaks (names: util_valid_name, shared between both kinds). */
int nmrrun_region_add(struct session *s, const char *name, double lo, double hi, char *err,
                      size_t errlen);
int nmrrun_peak_add(struct session *s, const char *name, const struct nmrfit_peak *start,
                    char *err, size_t errlen);
int nmrrun_remove(struct session *s, const char *name, char *err, size_t errlen);
void nmrrun_list(struct session *s, struct strbuf *out);

/* One FID into the active run: processed, tracked, appended. TIME and TIME_END are run
 * seconds. Returns 0 or -1 with err. */
int nmrrun_add_fid(struct session *s, const struct spectro_fid *f, double time, double time_end,
                   char *err, size_t errlen);
/* Recompute spectrum and every derived variable of the run's series with the present
 * settings, regions and peaks (raw FIDs untouched). */
int nmrrun_reprocess(struct session *s, char *err, size_t errlen);

/* Reference standards: name -> nucleus and shift (editable). */
int nmrrun_standard_set(const char *name, const char *nucleus, double ppm, char *err,
                        size_t errlen);
void nmrrun_standards(struct strbuf *out);
/* Measure standard NAME (the spectrometer must be idle) and set nmr.sr from it. DONE gets
 * 0 and a message, or -1 and why. */
int nmrrun_reference(struct session *s, const char *name,
                     void (*done)(void *arg, int ok, const char *msg), void *arg, char *err,
                     size_t errlen);

/* Write the series' time, charge and every region and peak to a CSV file. */
int nmrrun_export_trend(struct session *s, const char *path, char *err, size_t errlen);
/* The newest spectrum of the active run, or NULL. */
const double *nmrrun_latest(struct session *s, const double **ppm, long *n, double *sf);

/* Process F with the present settings (phase: the series' phase when one is fixed, else
 * automatic). SPEC and PPM get SI points (nmrrun_si(F)). */
long nmrrun_si(const struct spectro_fid *f);

#endif
