/* scpi: replies that every SCPI instrument formats the same way. */
#include "insitu/scpi.h"

#include <stdlib.h>
#include <string.h>

int scpi_parse_error(const char *line, int *code, char *msg, size_t msglen)
{
    char *end;
    long c = strtol(line, &end, 10);
    if (end == line || *end != ',')
        return -1;
    *code = (int)c;
    const char *m = end + 1;
    size_t n = strlen(m);
    if (n >= 2 && m[0] == '"' && m[n - 1] == '"') {
        m++;
        n -= 2;
    }
    if (n >= msglen)
        n = msglen - 1;
    memcpy(msg, m, n);
    msg[n] = '\0';
    return 0;
}
