/* units: physical quantities typed by people ("500mA", "10mV/s", "116.64MHz"), parsed and
 * converted with UDUNITS-2 so that every SI prefix and unit symbol it knows works. */
#ifndef INSITU_UNITS_H
#define INSITU_UNITS_H

#include <stddef.h>

/* Load the unit database (idempotent). Returns 0, or -1 with a message. */
int units_init(char *err, size_t errlen);
void units_fini(void);

/* Parse TEXT (a number followed by a unit, e.g. "500mA", "15 h", "-1V") and express it in the
 * unit WANT (a UDUNITS unit string: "A", "V", "s", "Hz", "V/s", "ppm", "1" for a pure number).
 * A bare number is accepted only when WANT is dimensionless. Returns 0 and sets *out, or -1 with
 * err set to a reason such as `"500mX": unknown unit` or `"5mV" is a voltage, not a current`. */
int units_parse(const char *text, const char *want, double *out, char *err, size_t errlen);

/* Is UNIT a unit UDUNITS understands? If WANT is not NULL, also require it to be convertible. */
int units_valid(const char *unit, const char *want);

/* Convert VALUE from unit FROM to unit TO. Returns 0, or -1 when they are not convertible. */
int units_convert(double value, const char *from, const char *to, double *out);

/* The name of the kind of quantity UNIT measures ("current", "voltage", "time", ...), or NULL. */
const char *units_kind(const char *unit);

/* Write VALUE (in UNIT, an SI unit symbol such as "A") with an engineering SI prefix and at most
 * SIG significant digits: 0.0005,"A" -> "500 mA". Returns buf. */
char *units_format(double value, const char *unit, int sig, char *buf, size_t len);

/* Format a duration in seconds as "2h 05m 03s" / "45.2s". Returns buf. */
char *units_format_duration(double seconds, char *buf, size_t len);

#endif
