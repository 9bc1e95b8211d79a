/* topspin: follow and import a series of experiments that Bruker TopSpin acquires.
 *
 * A TopSpin data directory NAME/ holds numbered experiment directories (EXPNO) 1/ 2/ 3/ ...;
 * a multi-zg series acquires them one after the other.  Each holds acqus (status parameters),
 * fid (the data), audita.txt (the acquisition audit trail), pulseprogram and, once processed,
 * pdata/1/procs.  TopSpin creates the next EXPNO directory (parameters only) before it acquires
 * into it, and writes audita.txt and the final acqus when the acquisition ends; the fid may
 * exist (even at its full size) while the scans still run, so its size alone proves nothing.
 *
 * FINISHED.  An experiment is finished when
 *   - acqus is readable and fid holds at least TD values (4 or 8 bytes each per DTYPA; the
 *     padding to 1024-byte blocks TopSpin adds is fine), and
 *   - one of:  (a) audita.txt has the acquisition entry ("created by zg ... started at ..."),
 *              (b) a later EXPNO has a fid: TopSpin acquires in order, so it has moved on,
 *              (c) the fid has not changed for SETTLE seconds (mtime <= NOW - SETTLE).
 * (a) is what TopSpin itself writes at the end; (b) covers versions or setups without audita.txt;
 * (c) is for the last experiment of such a series.  SETTLE must be longer than TopSpin may leave
 * a fid untouched while it still acquires (up to one experiment when the fid is written only at
 * the end of zg): a few minutes for in-situ series of ~5 min spectra.  A later EXPNO directory
 * WITHOUT a fid proves nothing (TopSpin makes it before acquiring into it), so (b) needs a fid.
 *
 * WHY POLLING.  Spectrometer data directories are often NFS or SMB mounts of the spectrometer
 * workstation; inotify sees nothing of writes made by another host, so the directory is polled
 * with readdir + stat.  A poll stats only the EXPNOs above AFTER and parses only those that look
 * finished, so calling it every few seconds on a directory of 1000 EXPNOs costs one readdir.
 * The fid size is taken from an open + fstat: on NFS, open() revalidates the attribute cache
 * (close-to-open consistency), so a fid still being flushed is not mistaken for a complete one.
 *
 * TIMES (UTC epoch seconds), in order of preference:
 *   1. audita.txt, the acquisition entry of the audit trail, as published TopSpin 3.0, 3.2 and
 *      3.6 trails show it (TopSpin 4 adds "on data set with UUID ..." and "completed at"):
 *        ##AUDIT TRAIL=  $$ (NUMBER, WHEN, WHO, WHERE, PROCESS, VERSION, WHAT)
 *        (   1,<2015-12-03 10:14:12.356 +0100>,<nmr>,<host>,<go>,<TOPSPIN 3.2>,
 *              <created by zg
 *              started at 2015-12-03 10:13:44.627 +0100,
 *              POWCHK enabled, ...>)
 *      end = "completed at" when present (TopSpin 4), else WHEN (written when zg ends);
 *      start = "started at".  WHEN may also be ISO-like: <2026-05-26T09:34:30.911-0700>.
 *      Without "started at", start = end - the estimated duration (see 3).  The entry is the
 *      last one whose WHAT starts "created by zg" (or go, qu) or holds "started at"; a last
 *      "acquisition in progress" entry means not finished.  ##END= is required: a trail
 *      without it is being written or cut short.  The old five-field form (NUMBER, WHEN, WHO,
 *      WHERE, WHAT) is read too: WHEN is the first <field>, WHAT the last.
 *   2. no audita.txt: end = acqus ##$DATE= (integer epoch seconds), else the time stamp comment
 *      "$$ 2012-06-02 07:41:55.890 -0500  user@host" that TopSpin writes at the head of acqus.
 *      ##$DATE= marks the END of the acquisition, not the start: in both shared datasets DATE is
 *      0.9 s and 12.9 s before the time stamp of the acqus that the acquisition (go) wrote,
 *      while the acquisitions themselves lasted about 60 s (nmrium-1h-400: 12 scans of 5.0 s)
 *      and 33 s (spectrochempy-1h-500: 16 scans of 2.05 s).
 *   3. duration estimate = (NS + DS) * (D1 + AQ), AQ = TD / (2 SW_h): APPROXIMATE, it ignores
 *      pulses, other delays, loops of the pulse program and the set-up before the first scan.
 * Every time carries an explicit offset (+hhmm, +hh:mm or Z); it is converted arithmetically,
 * independently of the machine's TZ.  A time without an offset is an error, not a guess.
 *
 * Everything is bounded and never trusts its input; errors read "FILE:LINE: reason".
 * Functions return 0 on success, -1 with ERR filled. */
#ifndef INSITU_TOPSPIN_H
#define INSITU_TOPSPIN_H

#include <stddef.h>

#include "insitu/bruker.h"

/* Where the times came from. */
enum topspin_time_src {
    TOPSPIN_TIME_AUDIT = 1,      /* start and end from audita.txt */
    TOPSPIN_TIME_AUDIT_END,      /* end from audita.txt, start = end - estimated duration */
    TOPSPIN_TIME_ACQUS_DATE,     /* end = acqus ##$DATE=, start = end - estimated duration */
    TOPSPIN_TIME_ACQUS_STAMP,    /* end = acqus "$$ date" comment, start = end - estimate */
};

/* Which rule said "finished" (see above). */
enum topspin_finished_by {
    TOPSPIN_BY_AUDIT = 1,
    TOPSPIN_BY_LATER,
    TOPSPIN_BY_SETTLE,
};

/* "2015-12-03 10:14:12.356 +0100" or "2026-05-26T09:34:30.911-0700" (fraction optional; offset
 * +hhmm, +hh:mm or Z, required; years 1980..2199) to UTC epoch seconds in *T.  *END (may be
 * NULL) gets the first character after the time.  ERR gets the reason without a file name. */
int topspin_time_parse(const char *s, double *t, const char **end, struct bruker_err *err);

/* The acquisition entry of an audit trail. */
struct topspin_audit {
    double start;    /* "started at"; NAN when the entry has none */
    double end;      /* "completed at", else WHEN */
    long number;     /* NUMBER of the entry */
    int line;        /* where it starts in the file */
};

/* Parse LEN bytes of an audita.txt named FILE.  A trail without an acquisition entry is an
 * error, and so is one whose last acquisition-related entry says "acquisition in progress". */
int topspin_audit_parse(const char *text, size_t len, const char *file, struct topspin_audit *out,
                        struct bruker_err *err);

/* Acquisition start and end of the experiment in EXPDIR (UTC epoch seconds), per TIMES above.
 * A present but malformed audita.txt is an error (no silent fallback to acqus). */
int topspin_times(const char *expdir, double *start, double *end, struct bruker_err *err);
/* The same, and which source gave them (enum topspin_time_src) in *SRC. */
int topspin_times_source(const char *expdir, double *start, double *end, int *src,
                         struct bruker_err *err);

struct topspin_exp {
    long expno;
    char *dir;          /* DIR/EXPNO */
    double start, end;  /* UTC epoch seconds (when complete) */
    int time_src;       /* enum topspin_time_src */
    int finished_by;    /* enum topspin_finished_by */
    long td;            /* values in the fid (acqus TD) */
    int dtypa;          /* 0 int32, 2 float64 */
    long fid_bytes;     /* size of the fid */
    int complete;       /* 1: finished and readable, import it; 0: ERROR says why not */
    char *error;        /* NULL, or "FILE:LINE: reason" for an experiment to log and skip */
};

/* The finished experiments of the TopSpin data directory DIR with EXPNO > AFTER, in numeric
 * order, in *OUT (*N of them; *OUT NULL when none).  Entries of DIR that are not a canonical
 * decimal number (junk, "1a", "007"), EXPNOs without fid and EXPNOs still acquiring (or whose
 * fid is still shorter than TD values) are left out: a later call finds them.  An experiment
 * that is finished but cannot be used (acqus or audita.txt does not parse, fid left short
 * while a later EXPNO has been acquired) comes with complete = 0 and ERROR set, so that the
 * caller logs it and goes on.  NOW is the current time (epoch seconds) and SETTLE the quiet time
 * of rule (c); SETTLE < 0 disables rule (c).  Importing a finished series: AFTER 0, SETTLE 0.
 * Only an unreadable DIR is an error of the whole call. */
int topspin_scan(const char *dir, long after, double settle, double now, struct topspin_exp **out,
                 int *n, struct bruker_err *err);
void topspin_exps_free(struct topspin_exp *v, int n);

#endif
