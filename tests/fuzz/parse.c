/* libFuzzer harness: the command-language parser, and parsing every block it finds again (as
 * the commands that take blocks do), must survive any text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "insitu/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_parse(const char *text, int depth)
{
    struct cmdlist l;
    struct parse_error e;
    if (parse_text(text, "fuzz", 1, &l, &e) == PARSE_OK && depth < 8)
        for (int i = 0; i < l.n; i++)
            for (int k = 0; k < l.v[i].argc; k++) {
                if (l.v[i].argv[k].block)
                    fuzz_parse(l.v[i].argv[k].text, depth + 1);
                char *q = parse_quote(l.v[i].argv[k].text);
                free(q);
            }
    cmdlist_free(&l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    fuzz_parse(s, 0);
    free(s);
    return 0;
}
