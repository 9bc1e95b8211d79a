/* nmrspec: the protocol of insitu-sim's simulated spectrometer (`nmrsim`, man insitu-sim(1))
 * as pure functions, and the spectrometer driver `nmrsim` built on them (end of
 * src/dev/nmrspec.c). */
#ifndef INSITU_NMRSPEC_H
#define INSITU_NMRSPEC_H

#include <complex.h>
#include <stddef.h>

#include "insitu/spectrometer.h"

enum nmrspec_state { NMRSPEC_IDLE, NMRSPEC_ACQ, NMRSPEC_DONE };

/* "insitu,NMRSIM,<serial>,<version>": 0, or -1 with err for another instrument. */
int nmrspec_parse_idn(const char *line, char *err, size_t errlen);
/* STAT?: "IDLE", "ACQ <done>,<ns>" or "DONE". Returns 0 or -1. */
int nmrspec_parse_stat(const char *line, enum nmrspec_state *st, long *done, long *ns);
/* PARS?: "KEY=value,..." into F (everything but data, n, source, expno). Unknown keys are
 * ignored (newer simulators may say more); a missing or malformed required one is an error. */
int nmrspec_parse_pars(const char *line, struct spectro_fid *f, char *err, size_t errlen);
/* FID? block: TD little-endian float64 values, re/im interleaved -> TD/2 complex points.
 * LEN must be exactly TD * 8 and every value finite. */
int nmrspec_decode_fid(const char *data, size_t len, long td, double complex *out, char *err,
                       size_t errlen);
/* SYST:ERR? replies: scpi_parse_error (insitu/scpi.h). */

#endif
