/* cmd-dev: instruments: device add|list|info|remove|trace. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "insitu/cmd.h"
#include "insitu/device.h"
#include "insitu/loop.h"
#include "insitu/msg.h"
#include "insitu/session.h"
#include "insitu/transport.h"
#include "insitu/util.h"

#define DEV_ADD_TIMEOUT 10.0   /* s of real time to identify a new instrument */

struct dev_wait {
    struct exec *ex;
    struct session *s;
    char *name;
    long long timer;
    struct cmd_ctx ctx;
    char *file;
};

static void dev_wait_free(struct dev_wait *w)
{
    if (w->timer)
        loop_timer_del(w->s->loop, w->timer);
    free(w->name);
    free(w->file);
    free(w);
}

/* A failed device is removed from the loop, never from inside its own callbacks. */
static void dev_remove_later(struct loop *l, void *arg)
{
    struct dev_wait *w = arg;
    char err[256];
    device_remove(w->s, w->name, err, sizeof err);
    struct exec *ex = w->ex;
    dev_wait_free(w);
    exec_resume(ex, CMD_ERR);
}

/* The first connection decides: ready, or the device is removed again with the reason. */
static void dev_wait_done(struct device *d, void *arg)
{
    struct dev_wait *w = arg;
    struct exec *ex = w->ex;
    w->ctx.file = w->file;
    if (d->state == DEVICE_READY) {
        msg_out("%s: %s%s", d->name, d->idn, d->sim ? " (simulated)" : "");
        dev_wait_free(w);
        exec_resume(ex, CMD_OK);
        return;
    }
    cmd_error(&w->ctx, "%s: %s", d->name, d->why ? d->why : "no answer");
    if (w->timer)
        loop_timer_del(w->s->loop, w->timer);
    w->timer = 0;
    loop_defer(w->s->loop, dev_remove_later, w);
}

static double dev_wait_timeout(struct loop *l, long long id, void *arg)
{
    struct dev_wait *w = arg;
    w->timer = 0;
    struct device *d = device_find(w->s, w->name);
    if (d) {
        d->waiter = NULL;
        if (d->state != DEVICE_READY) {
            free(d->why);
            d->why = util_printf("no answer within %gs", DEV_ADD_TIMEOUT);
        }
        dev_wait_done(d, w);
    }
    return -1;
}

static void dev_wait_cancel(struct exec *ex, void *arg)
{
    struct dev_wait *w = arg;
    struct device *d = device_find(w->s, w->name);
    if (d)
        d->waiter = NULL;
    dev_wait_free(w);
}

static int dev_add(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    char err[512];
    struct device *d = device_add(ctx->s, argv[0].text, argv[1].text, argv[2].text, err, sizeof err);
    if (!d)
        return cmd_error(ctx, "%s", err);
    if (d->state == DEVICE_READY) {
        msg_out("%s: %s", d->name, d->idn);
        return CMD_OK;
    }
    struct dev_wait *w = util_calloc(1, sizeof *w);
    w->ex = ctx->ex;
    w->s = ctx->s;
    w->name = util_strdup(d->name);
    w->ctx = *ctx;
    w->file = ctx->file ? util_strdup(ctx->file) : NULL;
    d->waiter = dev_wait_done;
    d->waiter_arg = w;
    w->timer = loop_timer_add(ctx->s->loop, DEV_ADD_TIMEOUT, 0, dev_wait_timeout, w);
    exec_wait(ctx->ex, dev_wait_cancel, w);
    return CMD_WAIT;
}

static int dev_list(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    struct strbuf b = { 0 };
    if (!device_count(ctx->s))
        strbuf_addstr(&b, "no devices (`device add NAME DRIVER TRANSPORT`)\n");
    for (int i = 0; i < device_count(ctx->s); i++) {
        struct device *d = device_at(ctx->s, i);
        strbuf_printf(&b, "%-10s %-8s %-14s %-12s %s\n", d->name, d->drv->klass, d->drv->name,
                      device_state_name(d->state), d->spec);
    }
    cmd_print_buf(&b);
    return CMD_OK;
}

static int dev_info(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    struct device *d = device_find(ctx->s, argv[0].text);
    if (!d)
        return cmd_error(ctx, "no device \"%s\" (`device list` shows them)", argv[0].text);
    struct strbuf b = { 0 };
    device_info(d, &b);
    cmd_print_buf(&b);
    return CMD_OK;
}

static int dev_remove(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    char err[256];
    if (device_remove(ctx->s, argv[0].text, err, sizeof err) < 0)
        return cmd_error(ctx, "%s", err);
    return CMD_OK;
}

static int dev_trace(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    struct device *d = device_find(ctx->s, argv[0].text);
    if (!d)
        return cmd_error(ctx, "no device \"%s\" (`device list` shows them)", argv[0].text);
    const char *v = argv[1].text;
    if (strcmp(v, "on") && strcmp(v, "off"))
        return cmd_error(ctx, "\"%s\": on or off", v);
    d->trace = !strcmp(v, "on");
    return CMD_OK;
}

static int dev_drivers(struct cmd_ctx *ctx, int argc, struct word *argv)
{
    struct strbuf b = { 0 };
    for (int i = 0; i < driver_count(); i++)
        strbuf_printf(&b, "%-14s %-8s %s\n", driver_at(i)->name, driver_at(i)->klass, driver_at(i)->help);
    strbuf_addstr(&b, "transports:");
    for (int i = 0; i < transport_count(); i++)
        strbuf_printf(&b, " %s", transport_at(i)->usage);
    cmd_print_buf(&b);
    return CMD_OK;
}

const struct cmd_entry cmd_dev_entries[] = {
    { "device", "add", NULL, "name word word", "device add NAME DRIVER TRANSPORT",
      "Connect an instrument and identify it, e.g. `device add cyc keithley2400 "
      "serial:/dev/ttyUSB0,baud=9600` or `device add cyc keithley2400 sim:li-li`. Transports: "
      "serial:PATH[,baud=..,bits=..,parity=..,stop=..,flow=..], tcp:HOST:PORT, "
      "sim:MODEL[,opts] (insitu-sim as a child). Waits until the instrument answers.", dev_add },
    { "device", "list", NULL, "", "device list", "List the instruments and their state.", dev_list },
    { "device", "info", NULL, "device", "device info NAME",
      "Show an instrument's driver, transport, identity, state and counters.", dev_info },
    { "device", "remove", NULL, "device", "device remove NAME",
      "Make an instrument's outputs safe and disconnect it.", dev_remove },
    { "device", "trace", NULL, "device choice:on|off", "device trace NAME on|off",
      "Copy the raw bytes both ways into the log, for debugging a real instrument.", dev_trace },
    { "device", "drivers", NULL, "", "device drivers", "List the drivers and transports.", dev_drivers },
    { NULL, NULL, NULL, NULL, NULL, NULL, NULL },
};
