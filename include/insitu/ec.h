/* ec: the electrochemistry record every cycler and potentiostat writes, in the run's group
 * "ec" (archived as is), and what .mpt import and BDF export read and write.
 * Sign convention (Battery Data Format): positive current charges the cell. Charge is
 * integrated as EC-Lab does: dq = I dt per sample; Q-Qo the running sum since the start;
 * q_half restarts at every change of current sign (half cycle). */
#ifndef INSITU_EC_H
#define INSITU_EC_H

#include "insitu/run.h"

enum ec_field {
    EC_VOLTAGE,     /* V   cell voltage */
    EC_CURRENT,     /* A   cell current, positive = charging */
    EC_CHARGE,      /* A h charge passed since the start (Q-Qo) */
    EC_Q_HALF,      /* A h charge passed in this half cycle */
    EC_STEP,        /* I32 protocol step (1-based; 0 = none) */
    EC_CYCLE,       /* I32 cycle number (0-based, as EC-Lab) */
    EC_HALF_CYCLE,  /* I32 half cycle number */
    EC_NFIELDS
};

extern const struct run_field ec_fields[EC_NFIELDS];

/* The ec table of R (created on first use). NULL with err if it cannot be made. */
struct run_table *ec_table(struct run *r, char *err, size_t errlen);

#endif
