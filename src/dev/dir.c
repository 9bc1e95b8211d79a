/* dir: a "transport" that is a directory on disk, for instruments whose software writes their
 * data as files (TopSpin's experiment series). There is no byte stream (fd -1): the driver
 * looks at the directory itself. Opening checks that the directory is there and readable, so
 * a vanished NFS mount is a lost connection that the device layer retries with back-off. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "insitu/paths.h"
#include "insitu/transport.h"
#include "insitu/util.h"
#include "internal.h"

#define DIR_USAGE "dir:PATH"

static int dirt_open(struct transport *t, const char *spec, const char *driver, char *err,
                     size_t errlen)
{
    char *path = paths_expand(spec);
    struct stat st;
    const char *why = NULL;
    if (!*path)
        why = "a directory is needed (" DIR_USAGE ")";
    else if (stat(path, &st) < 0)
        why = strerror(errno);
    else if (!S_ISDIR(st.st_mode))
        why = "not a directory";
    else if (access(path, R_OK | X_OK) < 0)
        why = "not a readable directory";
    if (why) {
        snprintf(err, errlen, "%s: %s", *path ? path : "dir:", why);
        free(path);
        return -1;
    }
    t->fd = -1;
    /* the spectrometer software runs in real time, whatever insitu's clock does */
    t->real = 1;
    t->priv = path;
    return 0;
}

static void dirt_close(struct transport *t)
{
    free(t->priv);
    t->priv = NULL;
}

const struct transport_ops transport_dir_ops = {
    .scheme = "dir",
    .usage = DIR_USAGE,
    .open = dirt_open,
    .close = dirt_close,
};
