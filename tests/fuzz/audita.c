/* libFuzzer harness: the TopSpin audit trail parser and the time parser must survive any bytes
 * (an acquisition entry or one error, never a crash), and what they accept must be sane. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "insitu/topspin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct topspin_audit a;
    struct bruker_err e;
    if (topspin_audit_parse((const char *)data, size, "fuzz", &a, &e) == 0) {
        if (!(a.end > 0) || (!isnan(a.start) && a.start > a.end))
            abort();
    }
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    double t;
    const char *end;
    if (topspin_time_parse(s, &t, &end, &e) == 0 && (end < s || end > s + size || !isfinite(t)))
        abort();
    free(s);
    return 0;
}
