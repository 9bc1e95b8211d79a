/* libFuzzer harness: the journal decoder must survive any bytes (a crashed or corrupted
 * journal is exactly what recovery reads). Half of the inputs are re-framed with a correct
 * length and CRC so that the payload decoders are reached, not just the CRC check. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "insitu/journal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fuzz_cb(void *arg, const struct journal_entry *e)
{
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct journal_scan res;
    struct journal_entry e;
    size_t used;
    if (size && (data[0] & 1)) {
        size_t plen = size - 1;
        unsigned char *b = malloc(9 + plen);
        b[8] = data[0] >> 1 & 15;       /* every type (1..8) and some that are none */
        memcpy(b + 9, data + 1, plen);
        uLong crc = crc32(0L, b + 8, (uInt)plen + 1);
        for (int k = 0; k < 4; k++) {
            b[k] = (unsigned char)(plen >> (8 * k));
            b[4 + k] = (unsigned char)(crc >> (8 * k));
        }
        if (journal_decode(b, 9 + plen, &e, &used) == JOURNAL_OK)
            journal_entry_free(&e);
        free(b);
        return 0;
    }
    journal_scan(data, size, fuzz_cb, NULL, &res);
    if (journal_decode(data, size, &e, &used) == JOURNAL_OK)
        journal_entry_free(&e);
    return 0;
}
