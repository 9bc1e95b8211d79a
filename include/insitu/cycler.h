/* cycler: runs a cycling protocol on a cycler device and records the electrochemistry.
 *
 * A protocol is a block of steps in the command language:
 *   cc CURRENT [until DURATION|VOLTAGE|CHARGE]... [limits VMIN VMAX]
 *   rest DURATION                      (open circuit; also `ocv`)
 *   loop COUNT { STEPS }
 *   gcpl CURRENT limits VMIN VMAX [cycles N] [rest DURATION]
 *   cv V1 V2 RATE [cycles N]           (linear sweep V1 -> V2 -> V1, instruments that source V)
 * Samples come every cycler.interval of experiment time (at most 20 a second of real time);
 * charge is integrated as EC-Lab does (dq = I dt). Safety limits independent of the protocol
 * (cycler.limit.voltage, cycler.limit.current) switch the output off within one sample. */
#ifndef INSITU_CYCLER_H
#define INSITU_CYCLER_H

#include <stddef.h>

struct session;
struct device;
struct word;
struct strbuf;

enum cycler_state { CYCLER_IDLE, CYCLER_RUNNING, CYCLER_PAUSED, CYCLER_DONE, CYCLER_TRIPPED,
                    CYCLER_FAILED };

/* What a pane or `cycler status` shows. */
struct cycler_view {
    enum cycler_state state;
    const char *device;
    char step[128];         /* "2/3 cc 500 mA until 15h" */
    int step_no, nsteps;
    double step_elapsed, step_remaining;  /* s of experiment time; remaining < 0: unknown */
    double v, i, q;         /* last sample: V, A, A h */
    double setpoint;        /* A (or V when sourcing voltage) */
    int sourcing_voltage;
    double vmin, vmax, imax;   /* safety limits */
    int compliance, soft_short, comm_lost;
    unsigned long samples;
    int cycle;
};

/* Parse PROTOCOL (a block's text from FILE at LINE) and start it on the session's cycler
 * device (cycler.device, else the only cycler). Returns 0, or -1 with err ("FILE:LINE: cc:
 * \"500mX\": unknown unit"). */
int cycler_start(struct session *s, const char *protocol, const char *file, int line,
                 char *err, size_t errlen);
int cycler_pause(struct session *s, char *err, size_t errlen);
int cycler_resume(struct session *s, char *err, size_t errlen);
/* Stop: output off, protocol ended ("stopped"). */
int cycler_stop(struct session *s, const char *why, char *err, size_t errlen);
int cycler_view(struct session *s, struct cycler_view *v);
void cycler_status(struct session *s, struct strbuf *out);
const char *cycler_state_name(enum cycler_state st);
void cycler_free(struct session *s);
/* The run is ending (run stop, signal, quit): output off, the protocol ends with it. */
void cycler_run_ending(struct session *s);
/* The session's settings for cyclers (registered once). */
void cycler_register_settings(void);

/* Check a protocol without running it (for tests and `cycler check`). Returns the number of
 * steps, or -1 with err. */
int cycler_parse_check(const char *protocol, const char *file, int line, char *err, size_t errlen);

#endif
