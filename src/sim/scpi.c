/* scpi: just enough of IEEE 488.2 / SCPI message syntax for the simulated instruments:
 * ;-separated commands with relative headers, short and long mnemonics, optional nodes,
 * numeric suffixes, <numeric value> with MIN/MAX/DEF, <Boolean>, quoted strings, and the
 * error queue. Real drivers are written against the manuals, so the sim accepts what the
 * manuals allow rather than only what insitu happens to send. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sim.h"

/* --- mnemonics ------------------------------------------------------------------------- */

struct scpi_pnode {
    char shrt[24], lng[24];
    int optional;
};

/* Split a pattern ("[:SOURce]:CURRent[:LEVel]", "VOLTage[:DC]") into nodes. */
static int scpi_pattern(const char *pat, struct scpi_pnode *out, int max)
{
    int n = 0;
    const char *p = pat;
    while (*p && n < max) {
        int opt = 0;
        if (*p == '[') {
            opt = 1;
            p++;
        }
        if (*p == ':')
            p++;
        struct scpi_pnode *nd = &out[n];
        size_t ls = 0, ll = 0;
        int lower_seen = 0;
        while (*p && *p != ':' && *p != '[' && *p != ']') {
            if (islower((unsigned char)*p))
                lower_seen = 1;
            if (!lower_seen && ls + 1 < sizeof nd->shrt)
                nd->shrt[ls++] = (char)toupper((unsigned char)*p);
            if (ll + 1 < sizeof nd->lng)
                nd->lng[ll++] = (char)toupper((unsigned char)*p);
            p++;
        }
        nd->shrt[ls] = nd->lng[ll] = 0;
        nd->optional = opt;
        if (*p == ']')
            p++;
        n++;
    }
    return n;
}

static int scpi_node_eq_n(const char *sent, size_t n, const struct scpi_pnode *pn)
{
    return (n == strlen(pn->shrt) && !strncasecmp(sent, pn->shrt, n)) ||
           (n == strlen(pn->lng) && !strncasecmp(sent, pn->lng, n));
}

/* One sent mnemonic against one pattern node: short or long form, any case, with an
 * optional numeric suffix (SOUR1, SENSe1) that the sim ignores. A mnemonic whose name ends
 * in digits (the spectrometer's O1, SFO1, D1) matches with them first. */
static int scpi_node_eq(const char *sent, const struct scpi_pnode *pn)
{
    size_t full = strlen(sent), n = full;
    while (n && isdigit((unsigned char)sent[n - 1]))
        n--;
    if (n == 0 || sent[0] == '*')
        return n == strlen(pn->lng) && !strncasecmp(sent, pn->lng, n);
    return (n < full && scpi_node_eq_n(sent, full, pn)) || scpi_node_eq_n(sent, n, pn);
}

static int scpi_match_nodes(const struct scpi_pnode *pn, int np, char (*sent)[24], int ns)
{
    if (np == 0)
        return ns == 0;
    if (pn[0].optional && scpi_match_nodes(pn + 1, np - 1, sent, ns))
        return 1;
    return ns > 0 && scpi_node_eq(sent[0], &pn[0]) &&
           scpi_match_nodes(pn + 1, np - 1, sent + 1, ns - 1);
}

int scpi_match(const char *pattern, const struct scpi_req *r)
{
    struct scpi_pnode pn[SCPI_MAX_NODES];
    if (pattern[0] == '*')
        return r->common && r->n == 1 && !strcasecmp(pattern, r->node[0]);
    if (r->common)
        return 0;
    int np = scpi_pattern(pattern, pn, SCPI_MAX_NODES);
    return scpi_match_nodes(pn, np, (char (*)[24])r->node, r->n);
}

const char *scpi_unquote(const char *arg, char *buf, size_t len)
{
    size_t n = strlen(arg);
    if (n >= 2 && (arg[0] == '"' || arg[0] == '\'') && arg[n - 1] == arg[0]) {
        arg++;
        n -= 2;
    }
    if (n >= len)
        n = len - 1;
    memcpy(buf, arg, n);
    buf[n] = 0;
    return buf;
}

int scpi_word(const char *arg, const char *pattern)
{
    char buf[128], sent[SCPI_MAX_NODES][24];
    struct scpi_pnode pn[SCPI_MAX_NODES];
    scpi_unquote(arg, buf, sizeof buf);
    int ns = 0;
    for (char *save = NULL, *t = strtok_r(buf, ":", &save); t; t = strtok_r(NULL, ":", &save)) {
        if (ns == SCPI_MAX_NODES || strlen(t) >= 24)
            return 0;
        snprintf(sent[ns++], 24, "%s", t);
    }
    int np = scpi_pattern(pattern, pn, SCPI_MAX_NODES);
    return ns > 0 && scpi_match_nodes(pn, np, sent, ns);
}

/* --- parameters ------------------------------------------------------------------------ */

int scpi_number(const char *arg, double min, double max, double def, double *out)
{
    if (scpi_word(arg, "MINimum")) {
        *out = min;
        return 0;
    }
    if (scpi_word(arg, "MAXimum")) {
        *out = max;
        return 0;
    }
    if (scpi_word(arg, "DEFault")) {
        *out = def;
        return 0;
    }
    char *end;
    double v = strtod(arg, &end);
    if (end == arg || *end || !isfinite(v) || strpbrk(arg, "xXpP"))   /* no hex floats */
        return -104;
    if (v < min || v > max)
        return -222;
    *out = v;
    return 0;
}

int scpi_bool(const char *arg, int *out)
{
    if (!strcasecmp(arg, "ON")) {
        *out = 1;
        return 0;
    }
    if (!strcasecmp(arg, "OFF")) {
        *out = 0;
        return 0;
    }
    char *end;
    double v = strtod(arg, &end);
    if (end == arg || *end || !isfinite(v))
        return -104;
    *out = lround(v) != 0;   /* IEEE 488.2: a numeric Boolean is rounded, non-zero is ON */
    return 0;
}

/* --- program messages ------------------------------------------------------------------ */

static char *scpi_trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = 0;
    return s;
}

/* Split at SEP outside '' and "" (in place); returns the pieces. */
static int scpi_split(char *s, char sep, char **out, int max)
{
    int n = 0;
    char q = 0;
    out[n++] = s;
    for (char *p = s; *p; p++) {
        if (q) {
            if (*p == q)
                q = 0;
        } else if (*p == '"' || *p == '\'') {
            q = *p;
        } else if (*p == sep) {
            *p = 0;
            if (n == max)
                return -1;
            out[n++] = p + 1;
        }
    }
    return n;
}

/* Parse one command (header and arguments) into R. PATH/NPATH is the current header path
 * for a relative header; it is updated. Returns 0 or an error code. */
static int scpi_command(char *cmd, struct scpi_req *r, char (*path)[24], int *npath)
{
    memset(r, 0, sizeof *r);
    char *args = cmd;
    while (*args && !isspace((unsigned char)*args))
        args++;
    if (*args)
        *args++ = 0;
    char *hdr = cmd;
    size_t hl = strlen(hdr);
    if (hl && hdr[hl - 1] == '?') {
        r->query = 1;
        hdr[--hl] = 0;
    }
    if (hl == 0)
        return -102;
    for (char *p = hdr; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != ':' && !(*p == '*' && p == hdr) && *p != '_')
            return -102;
    if (hdr[0] == '*') {
        r->common = 1;
        r->n = 1;
        if (hl >= sizeof r->node[0])
            return -113;
        memcpy(r->node[0], hdr, hl + 1);
    } else {
        int absolute = hdr[0] == ':';
        if (absolute)
            hdr++;
        if (!absolute)
            for (int i = 0; i < *npath && r->n < SCPI_MAX_NODES; i++)
                memcpy(r->node[r->n++], path[i], sizeof r->node[0]);
        char *pieces[SCPI_MAX_NODES + 1];
        int np = scpi_split(hdr, ':', pieces, SCPI_MAX_NODES);
        if (np < 0 || r->n + np > SCPI_MAX_NODES)
            return -113;
        for (int i = 0; i < np; i++) {
            if (!*pieces[i])
                return -102;
            if (strlen(pieces[i]) >= 24)
                return -113;
            snprintf(r->node[r->n++], 24, "%s", pieces[i]);
        }
        /* The next relative header continues below this one's parent (IEEE 488.2 7.6.1). */
        *npath = r->n - 1;
        for (int i = 0; i < *npath; i++)
            memcpy(path[i], r->node[i], 24);
    }
    args = scpi_trim(args);
    if (*args) {
        int n = scpi_split(args, ',', r->argv, SCPI_MAX_ARGS);
        if (n < 0)
            return -108;
        for (int i = 0; i < n; i++) {
            r->argv[i] = scpi_trim(r->argv[i]);
            if (!*r->argv[i])
                return -102;
        }
        r->argc = n;
    }
    return 0;
}

void scpi_run(const char *line, scpi_fn fn, void (*err_fn)(void *ctx, int code), void *ctx,
              struct strbuf *reply)
{
    char *buf = util_strdup(line);
    char *cmds[64];
    char path[SCPI_MAX_NODES][24];
    int npath = 0;
    int n = scpi_split(buf, ';', cmds, (int)ARRAY_LEN(cmds));
    if (n < 0) {
        err_fn(ctx, -102);
        n = 0;
    }
    struct strbuf one = { 0 };
    for (int i = 0; i < n; i++) {
        char *c = scpi_trim(cmds[i]);
        if (!*c)
            continue;
        struct scpi_req r;
        int code = scpi_command(c, &r, path, &npath);
        if (code) {
            err_fn(ctx, code);
            break;   /* the rest of a message with a syntax error is not executed */
        }
        strbuf_reset(&one);
        code = fn(ctx, &r, &one);
        if (code)
            err_fn(ctx, code);
        if (one.len) {
            if (reply->len)
                strbuf_addch(reply, ';');
            strbuf_add(reply, one.s, one.len);
        }
    }
    strbuf_free(&one);
    free(buf);
}

/* --- errors ---------------------------------------------------------------------------- */

const char *scpi_error_text(int code)
{
    switch (code) {
    case 0: return "No error";
    case -100: return "Command error";
    case -101: return "Invalid character";
    case -102: return "Syntax error";
    case -104: return "Data type error";
    case -108: return "Parameter not allowed";
    case -109: return "Missing parameter";
    case -113: return "Undefined header";
    case -200: return "Execution error";
    case -221: return "Settings conflict";
    case -222: return "Parameter data out of range";
    case -224: return "Illegal parameter value";
    case -230: return "Data corrupt or stale";
    case -231: return "Data questionable";
    case -350: return "Queue overflow";
    case -363: return "Input buffer overrun";
    default: return "Unknown error";
    }
}

void scpi_err_push(struct scpi_errq *q, int code)
{
    int max = (int)ARRAY_LEN(q->code);
    if (q->n < max)
        q->code[q->n++] = code;
    else
        q->code[max - 1] = -350;   /* the queue keeps its oldest and says it overflowed */
}

void scpi_err_pop(struct scpi_errq *q, struct strbuf *reply)
{
    int code = 0;
    if (q->n) {
        code = q->code[0];
        memmove(q->code, q->code + 1, (size_t)(q->n - 1) * sizeof q->code[0]);
        q->n--;
    }
    strbuf_printf(reply, "%d,\"%s\"", code, scpi_error_text(code));
}
