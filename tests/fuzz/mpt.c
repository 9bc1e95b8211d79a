/* libFuzzer harness: the EC-Lab .mpt parser must survive any bytes (read in place, without a
 * terminating NUL, so that reading past the end shows), and what it accepts must go into a run
 * (the ec and eis tables) without trouble. Seeds: tests/data/ *.mpt. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "insitu/clock.h"
#include "insitu/ecfile.h"
#include "insitu/run.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a copy of exactly SIZE bytes: ASan reports any read beyond */
    char *text = malloc(size ? size : 1);
    if (size)
        memcpy(text, data, size);
    struct mpt m;
    char err[512];
    if (mpt_parse(text, size, "fuzz.mpt", &m, err, sizeof err) == 0) {
        if (m.nrows == 0 || m.ncols < 1)
            abort();
        double utc;
        (void)mpt_start_utc(&m, &utc);
        struct run *r = run_new("fuzz", 0, clock_now());
        size_t nrec, nskip;
        if (mpt_to_run(&m, r, &nrec, &nskip, err, sizeof err) == 0 && nrec + nskip != m.nrows)
            abort();
        run_free(r);
        mpt_free(&m);
    } else if (strncmp(err, "fuzz.mpt", 8) != 0) {
        abort();    /* every message names the file */
    }
    free(text);
    return 0;
}
