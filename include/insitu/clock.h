/* clock: one source of time for the whole program.
 *
 * Real monotonic time schedules device timeouts and the UI. Virtual time is what experiments
 * run on: it advances clock.speed times faster than real time so that simulated instruments can
 * play a 15 h experiment in minutes. Speed changes keep virtual time continuous. UTC (real) is
 * used for timestamps of files and events. */
#ifndef INSITU_CLOCK_H
#define INSITU_CLOCK_H

#include <stddef.h>

double clock_mono(void);          /* real monotonic seconds */
double clock_now(void);           /* virtual seconds, monotonic, continuous across speed changes */
double clock_speed(void);
void clock_set_speed(double speed); /* > 0 */
double clock_utc(void);           /* real UTC, seconds since the epoch */

/* Virtual seconds from now until virtual time T, expressed in real seconds. */
double clock_real_until(double t_virtual);

/* "2026-11-24T23:30:38Z" (iso=1) or "20261124T233038Z" (iso=0). Returns buf. */
char *clock_format_utc(double utc, int iso, char *buf, size_t len);
/* Parse "2026-11-24T23:30:38Z" (fractional seconds allowed). Returns 0 or -1. */
int clock_parse_utc(const char *s, double *utc);

#endif
