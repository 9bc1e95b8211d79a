/* ec: the electrochemistry table shared by cyclers, potentiostats, import and export. */
#include "insitu/ec.h"

const struct run_field ec_fields[EC_NFIELDS] = {
    [EC_VOLTAGE] = { "voltage", "V", "cell voltage", RUN_F64, NULL, 0, NULL },
    [EC_CURRENT] = { "current", "A", "cell current, positive charges the cell", RUN_F64, NULL, 0, NULL },
    [EC_CHARGE] = { "charge", "A h", "charge passed since the start (Q-Qo)", RUN_F64, NULL, 0, NULL },
    [EC_Q_HALF] = { "charge_half_cycle", "A h", "charge passed in the current half cycle", RUN_F64, NULL, 0, NULL },
    [EC_STEP] = { "step", "1", "protocol step (1-based, 0 none)", RUN_I32, NULL, 0, NULL },
    [EC_CYCLE] = { "cycle", "1", "cycle number", RUN_I32, NULL, 0, NULL },
    [EC_HALF_CYCLE] = { "half_cycle", "1", "half cycle number", RUN_I32, NULL, 0, NULL },
};

struct run_table *ec_table(struct run *r, char *err, size_t errlen)
{
    return run_table_add(r, "ec", "time", ec_fields, EC_NFIELDS, err, errlen);
}
