/* keithley: the Keithley SourceMeter protocols (2400-series SCPI, 2450 dialect) as pure
 * functions: what the instrument says, parsed; what to send, formatted. The driver glue that
 * uses them is at the end of src/dev/keithley.c. */
#ifndef INSITU_KEITHLEY_H
#define INSITU_KEITHLEY_H

#include <stddef.h>

#include "insitu/device.h"

enum keithley_dialect { KEITHLEY_2400, KEITHLEY_2450 };

struct keithley_idn {
    int model;              /* 2400, 2410, 2450, 6430, ... */
    int sim;                /* insitu-sim */
    char firmware[64];
};

/* "KEITHLEY INSTRUMENTS INC.,MODEL 2400,4117720,C32 ..." Returns 0, or -1 with err when it is
 * not a Keithley SourceMeter. */
int keithley_parse_idn(const char *line, struct keithley_idn *out, char *err, size_t errlen);
/* Does MODEL belong to DIALECT's family, as the driver expects? */
int keithley_model_ok(enum keithley_dialect dialect, int model);

/* 2400 :READ? with :FORM:ELEM VOLT,CURR,RES,TIME,STAT: "v,i,r,t,stat". Bit 3 of the status
 * word is compliance; 9.91e37 means overflow. Returns 0, or -1 for anything else. */
int keithley_parse_read2400(const char *line, struct cycler_sample *s, double *t);
/* 2450 :READ? "defbuffer1", READ, SOUR, REL: "v,i,t". */
int keithley_parse_read2450(const char *line, struct cycler_sample *s, double *t);
/* SYST:ERR? replies: scpi_parse_error (insitu/scpi.h). */

#endif
