/* libFuzzer harness: the Keithley reply parsers must survive any bytes an instrument (or a
 * noisy serial line) sends. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "insitu/keithley.h"
#include "insitu/scpi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    struct cycler_sample smp;
    struct keithley_idn id;
    double t;
    int code;
    char msg[64], err[128];
    keithley_parse_read2400(s, &smp, &t);
    keithley_parse_read2450(s, &smp, &t);
    keithley_parse_idn(s, &id, err, sizeof err);
    scpi_parse_error(s, &code, msg, sizeof msg);
    free(s);
    return 0;
}
