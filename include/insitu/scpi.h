/* scpi: what every SCPI instrument says the same way (IEEE 488.2 / SCPI-99), parsed once for
 * all the drivers that speak it (Keithley SourceMeters, insitu-sim's spectrometer). */
#ifndef INSITU_SCPI_H
#define INSITU_SCPI_H

#include <stddef.h>

/* A SYST:ERR? reply, `<code>,"<text>"`: the code (0 = no error) and the text without its
 * quotes. Returns 0, or -1 when LINE is not such a reply. */
int scpi_parse_error(const char *line, int *code, char *msg, size_t msglen);

#endif
