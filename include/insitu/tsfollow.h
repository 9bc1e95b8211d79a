/* tsfollow: the spectrometer driver `topspin`, which follows a TopSpin experiment series on
 * disk (device add nmr topspin dir:/opt/data/user/nmr/cell7), and reading one experiment of
 * such a series as a FID (also for `nmr import topspin`). */
#ifndef INSITU_TSFOLLOW_H
#define INSITU_TSFOLLOW_H

#include <stddef.h>

#include "insitu/spectrometer.h"
#include "insitu/topspin.h"

/* Read experiment E (finished, as topspin_scan found it) into F: acqus, fid, pdata/1/procs
 * when there is one. F->data is malloc'd (free it); times are E's UTC start and end.
 * Returns 0 or -1 with err. */
int tsfollow_read(const struct topspin_exp *e, struct spectro_fid *f, char *err, size_t errlen);

#endif
