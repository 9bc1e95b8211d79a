/* keithley: Keithley 2400/6430 (SCPI) and 2450 SourceMeters as galvanostats.
 * First the pure protocol functions, then the driver: identification, configuration, and the
 * cycler operations on top of device_send. */
#include "insitu/keithley.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "insitu/clock.h"
#include "insitu/device.h"
#include "insitu/scpi.h"
#include "insitu/settings.h"
#include "insitu/util.h"

/* ---- pure protocol ---- */

int keithley_parse_idn(const char *line, struct keithley_idn *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (strncasecmp(line, "KEITHLEY", 8)) {
        snprintf(err, errlen, "not a Keithley instrument: \"%.60s\"", line);
        return -1;
    }
    const char *m = strstr(line, "MODEL ");
    if (!m || !isdigit((unsigned char)m[6])) {
        snprintf(err, errlen, "no model in \"%.60s\"", line);
        return -1;
    }
    out->model = atoi(m + 6);
    out->sim = strstr(line, "insitu-sim") != NULL;
    const char *c1 = strchr(m, ',');
    const char *c2 = c1 ? strchr(c1 + 1, ',') : NULL;
    if (c2)
        util_strlcpy(out->firmware, c2 + 1, sizeof out->firmware);
    return 0;
}

int keithley_model_ok(enum keithley_dialect dialect, int model)
{
    if (dialect == KEITHLEY_2450)
        return model == 2450 || model == 2460 || model == 2461 || model == 2470;
    return (model >= 2400 && model <= 2440) || model == 6430;
}

/* Parse N comma-separated numbers; the whole line must be numbers. */
static int keithley_numbers(const char *line, double *v, int n)
{
    const char *p = line;
    for (int k = 0; k < n; k++) {
        char *end;
        while (*p == ' ')
            p++;
        v[k] = strtod(p, &end);
        if (end == p || isnan(v[k]))
            return -1;
        p = end;
        while (*p == ' ')
            p++;
        if (k < n - 1) {
            if (*p != ',')
                return -1;
            p++;
        }
    }
    return *p == '\0' ? 0 : -1;
}

static int keithley_overflow(double x)
{
    return fabs(x) >= 9.9e37;
}

int keithley_parse_read2400(const char *line, struct cycler_sample *s, double *t)
{
    double v[5];
    if (keithley_numbers(line, v, 5) < 0)
        return -1;
    s->v = v[0];
    s->i = v[1];
    s->overflow = keithley_overflow(v[0]) || keithley_overflow(v[1]);
    unsigned long stat = v[4] >= 0 && v[4] < 4294967296.0 ? (unsigned long)v[4] : 0;
    s->compliance = (stat & 8) != 0;
    if (t)
        *t = v[3];
    return 0;
}

int keithley_parse_read2450(const char *line, struct cycler_sample *s, double *t)
{
    double v[3];
    if (keithley_numbers(line, v, 3) < 0)
        return -1;
    s->v = v[0];
    s->i = v[1];
    s->overflow = keithley_overflow(v[0]) || keithley_overflow(v[1]);
    s->compliance = 0;
    if (t)
        *t = v[2];
    return 0;
}

/* ---- the driver ---- */

struct kei {
    enum keithley_dialect dialect;
    int sourcing_voltage;
    double vmax, imax;      /* compliance values, re-sent after a reconnect */
    struct keithley_idn id;
};

static struct kei *kei_of(struct device *d)
{
    if (!d->drv_state)
        d->drv_state = util_calloc(1, sizeof(struct kei));
    return d->drv_state;
}

static void kei_free(struct device *d)
{
    free(d->drv_state);
    d->drv_state = NULL;
}

static void kei_send(struct device *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void kei_send(struct device *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *cmd = util_vprintf(fmt, ap);
    va_end(ap);
    device_send(d, cmd, NULL, NULL, 0, 0);
    free(cmd);
}

/* The integration time: the instrument accepts 0.01 to 10 power-line cycles. */
static double kei_nplc(void)
{
    double n = settings_text("cycler.nplc") ? settings_num("cycler.nplc", 0) : 1;
    return n < 0.01 ? 0.01 : n > 10 ? 10 : n;
}

static void kei_clock(struct device *d)
{
    if (d->sim)
        kei_send(d, ":SYST:SIM:CLOCK %.6f,%.9g", clock_now(), clock_speed());
}

static void kei_checked(struct device *d, const char *reply, void *arg)
{
    if (!reply) {
        if (d->state == DEVICE_CONNECTING)
            device_fail(d, "no answer to :SYST:ERR?");
        return;
    }
    int code;
    char msg[160];
    if (scpi_parse_error(reply, &code, msg, sizeof msg) < 0) {
        device_garbage(d, reply);
        return;
    }
    if (code != 0) {
        device_fatal(d, "the instrument refused its configuration: %d, %s", code, msg);
        return;
    }
    device_ready(d);
}

static void kei_configure(struct device *d)
{
    struct kei *k = kei_of(d);
    kei_send(d, "*RST");
    kei_send(d, "*CLS");
    if (k->dialect == KEITHLEY_2400) {
        kei_send(d, ":SOUR:FUNC CURR");
        kei_send(d, ":SOUR:CURR:MODE FIX");
        kei_send(d, ":SOUR:CURR:RANG:AUTO 1");
        kei_send(d, ":SOUR:CURR 0");
        kei_send(d, ":SENS:FUNC \"VOLT\"");
        kei_send(d, ":SENS:VOLT:RANG:AUTO 1");
        kei_send(d, ":SENS:VOLT:NPLC %g", kei_nplc());
        kei_send(d, ":FORM:ELEM VOLT,CURR,RES,TIME,STAT");
        if (k->vmax > 0)
            kei_send(d, ":SENS:VOLT:PROT %.6g", k->vmax);
    } else {
        kei_send(d, ":SOUR:FUNC CURR");
        kei_send(d, ":SOUR:CURR:LEV 0");
        kei_send(d, ":SENS:FUNC \"VOLT\"");
        kei_send(d, ":SENS:VOLT:NPLC %g", kei_nplc());
        if (k->vmax > 0)
            kei_send(d, ":SOUR:CURR:VLIM %.6g", k->vmax);
    }
    kei_clock(d);
    /* one round trip confirms that every command above was taken */
    device_send(d, ":SYST:ERR?", kei_checked, NULL, 3.0, 0);
}

static void kei_idn(struct device *d, const char *reply, void *arg)
{
    if (!reply) {
        /* identification failed: try again later (the device layer backs off) */
        if (d->state == DEVICE_CONNECTING)
            device_fail(d, "no answer to *IDN?");
        return;
    }
    struct kei *k = kei_of(d);
    char err[200];
    if (keithley_parse_idn(reply, &k->id, err, sizeof err) < 0) {
        /* garbled, or another instrument: the first is worth a retry, the second is not */
        if (strncasecmp(reply, "KEITHLEY", 8) && strchr(reply, ',') && strlen(reply) < 200 &&
            strspn(reply, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 ,.-_/:&()") == strlen(reply))
            device_fatal(d, "%s", err);
        else
            device_fail(d, "%s", err);
        return;
    }
    util_strlcpy(d->idn, reply, sizeof d->idn);
    d->sim = k->id.sim;
    if (!keithley_model_ok(k->dialect, k->id.model)) {
        device_fatal(d, "driver %s expects a %s, but the instrument is a MODEL %d%s", d->drv->name,
                    k->dialect == KEITHLEY_2450 ? "Keithley 2450-series" : "Keithley 2400-series or 6430",
                    k->id.model, k->id.model == 2450 ? " (use driver keithley2450)" :
                                 k->dialect == KEITHLEY_2450 ? " (use driver keithley2400)" : "");
        return;
    }
    kei_configure(d);
}

static void kei_start(struct device *d, enum keithley_dialect dialect)
{
    struct kei *k = kei_of(d);
    k->dialect = dialect;
    k->sourcing_voltage = 0;
    device_send(d, "*IDN?", kei_idn, NULL, 3.0, 0);
}

static void kei_start2400(struct device *d) { kei_start(d, KEITHLEY_2400); }
static void kei_start2450(struct device *d) { kei_start(d, KEITHLEY_2450); }

static void kei_compliance(struct device *d, double vmin, double vmax, double imax)
{
    struct kei *k = kei_of(d);
    /* The SourceMeter's compliance is a magnitude: the wider side of the window. */
    k->vmax = fmax(fabs(vmin), fabs(vmax));
    k->imax = imax;
    if (k->dialect == KEITHLEY_2400) {
        kei_send(d, ":SENS:VOLT:PROT %.6g", k->vmax);
        if (imax > 0)
            kei_send(d, ":SENS:CURR:PROT %.6g", imax);
    } else {
        kei_send(d, ":SOUR:CURR:VLIM %.6g", k->vmax);
    }
}

static void kei_source_current(struct device *d, double a)
{
    struct kei *k = kei_of(d);
    if (k->dialect == KEITHLEY_2400) {
        if (k->sourcing_voltage) {
            kei_send(d, ":SOUR:FUNC CURR");
            kei_send(d, ":SENS:FUNC \"VOLT\"");
        }
        kei_send(d, ":SOUR:CURR %.9g", a);
    } else {
        kei_send(d, ":SOUR:CURR:LEV %.9g", a);
    }
    k->sourcing_voltage = 0;
}

static void kei_source_voltage(struct device *d, double v)
{
    struct kei *k = kei_of(d);
    if (!k->sourcing_voltage) {
        kei_send(d, ":SOUR:FUNC VOLT");
        kei_send(d, ":SENS:FUNC \"CURR\"");
        if (k->imax > 0)
            kei_send(d, ":SENS:CURR:PROT %.6g", k->imax);
    }
    kei_send(d, ":SOUR:VOLT %.9g", v);
    k->sourcing_voltage = 1;
}

static void kei_output(struct device *d, int on)
{
    struct kei *k = kei_of(d);
    kei_send(d, k->dialect == KEITHLEY_2450 ? (on ? ":OUTP ON" : ":OUTP OFF")
                                            : (on ? ":OUTP 1" : ":OUTP 0"));
}

static void kei_safe(struct device *d)
{
    struct kei *k = kei_of(d);
    device_send(d, k->dialect == KEITHLEY_2450 ? ":OUTP OFF" : ":OUTP 0", NULL, NULL, 0, 1);
}

struct kei_meas {
    void (*fn)(struct device *, const struct cycler_sample *, void *);
    void *arg;
};

static void kei_read(struct device *d, const char *reply, void *arg)
{
    struct kei_meas m = *(struct kei_meas *)arg;
    free(arg);
    if (!reply) {
        m.fn(d, NULL, m.arg);
        return;
    }
    struct kei *k = kei_of(d);
    struct cycler_sample s = { 0 };
    int rc = k->dialect == KEITHLEY_2450 ? keithley_parse_read2450(reply, &s, NULL)
                                         : keithley_parse_read2400(reply, &s, NULL);
    if (rc < 0) {
        device_garbage(d, reply);
        m.fn(d, NULL, m.arg);
        return;
    }
    m.fn(d, &s, m.arg);
}

static void kei_measure(struct device *d, void (*fn)(struct device *, const struct cycler_sample *, void *),
                        void *arg)
{
    struct kei *k = kei_of(d);
    struct kei_meas *m = util_malloc(sizeof *m);
    m->fn = fn;
    m->arg = arg;
    const char *q = k->dialect == KEITHLEY_2450 ? ":READ? \"defbuffer1\", READ, SOUR, REL" : ":READ?";
    if (device_send(d, q, kei_read, m, 1.0, 0) < 0) {
        free(m);
        fn(d, NULL, arg);
    }
}

static const struct cycler_ops kei_ops2400 = {
    1, kei_compliance, kei_source_current, kei_source_voltage, kei_output, kei_measure,
};
static const struct cycler_ops kei_ops2450 = {
    0, kei_compliance, kei_source_current, kei_source_voltage, kei_output, kei_measure,
};

const struct driver keithley2400_driver = {
    .name = "keithley2400", .klass = "cycler",
    .help = "Keithley 2400-series SourceMeter, SCPI over RS-232/GPIB/LAN",
    .cycler = &kei_ops2400, .start = kei_start2400, .safe = kei_safe, .clock = kei_clock, .free = kei_free,
};
const struct driver keithley6430_driver = {
    .name = "keithley6430", .klass = "cycler",
    .help = "Keithley 6430 sub-femtoamp SourceMeter (2400 SCPI; 100 nA range)",
    .cycler = &kei_ops2400, .start = kei_start2400, .safe = kei_safe, .clock = kei_clock, .free = kei_free,
};
const struct driver keithley2450_driver = {
    .name = "keithley2450", .klass = "cycler",
    .help = "Keithley 2450 SourceMeter (2450 SCPI dialect)",
    .cycler = &kei_ops2450, .start = kei_start2450, .safe = kei_safe, .clock = kei_clock, .free = kei_free,
};
