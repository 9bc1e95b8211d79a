/* libFuzzer harness: the JCAMP-DX parameter parser and every lookup on what it returns must
 * survive any bytes (bounded, an error or a table, never a crash). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "insitu/bruker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct jcamp j;
    struct bruker_err e;
    if (bruker_jcamp_parse((const char *)data, size, "fuzz", &j, &e) == 0) {
        struct bruker_acqus a;
        struct bruker_procs p;
        (void)bruker_acqus_get(&j, &a, &e);
        (void)bruker_procs_get(&j, &p, &e);
        for (int i = 0; i < j.n; i++) {
            double v;
            long l;
            const char *s;
            (void)bruker_jcamp_number(&j, j.v[i].key, &v, &e);
            (void)bruker_jcamp_integer(&j, j.v[i].key, &l, &e);
            (void)bruker_jcamp_string(&j, j.v[i].key, &s, &e);
            for (int k = -1; k <= 2; k++)
                (void)bruker_jcamp_array_number(&j, j.v[i].key, k, &v, &e);
            if (j.v[i].count > 0)
                (void)bruker_jcamp_array_number(&j, j.v[i].key, j.v[i].count - 1, &v, &e);
        }
        bruker_jcamp_free(&j);
    }
    return 0;
}
