/* clock: real monotonic, virtual (scaled) and UTC time. */
#include "insitu/clock.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Virtual time is piecewise linear in real time: anchored at (mono_ref, virt_ref) and running at
 * speed. Changing speed re-anchors, so virtual time never jumps. */
static double clock_speed_v = 1.0;
static double clock_mono_ref = -1.0;
static double clock_virt_ref = 0.0;

double clock_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void clock_anchor(void)
{
    if (clock_mono_ref < 0) {
        clock_mono_ref = clock_mono();
        clock_virt_ref = clock_mono_ref;
    }
}

double clock_now(void)
{
    clock_anchor();
    return clock_virt_ref + (clock_mono() - clock_mono_ref) * clock_speed_v;
}

double clock_speed(void)
{
    return clock_speed_v;
}

void clock_set_speed(double speed)
{
    if (!(speed > 0) || !isfinite(speed))
        return;
    double now = clock_now();
    clock_mono_ref = clock_mono();
    clock_virt_ref = now;
    clock_speed_v = speed;
}

double clock_real_until(double t_virtual)
{
    return (t_virtual - clock_now()) / clock_speed_v;
}

double clock_utc(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

char *clock_format_utc(double utc, int iso, char *buf, size_t len)
{
    time_t t = (time_t)floor(utc);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, iso ? "%Y-%m-%dT%H:%M:%SZ" : "%Y%m%dT%H%M%SZ", &tm);
    return buf;
}

int clock_parse_utc(const char *s, double *utc)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    double sec = 0;
    int n = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%lf%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &sec, &n) != 6)
        return -1;
    if (s[n] != 'Z' && s[n] != '\0')
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    tm.tm_sec = 0;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return -1;
    *utc = (double)t + sec;
    return 0;
}
