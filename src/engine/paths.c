/* paths: XDG base directories and small file helpers. */
#include "insitu/paths.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "insitu/util.h"

static char *paths_xdg(const char *var, const char *fallback)
{
    const char *v = getenv(var);
    if (v && *v == '/')
        return util_printf("%s/insitu", v);
    const char *home = getenv("HOME");
    return util_printf("%s/%s/insitu", home && *home ? home : ".", fallback);
}

char *paths_config_dir(void) { return paths_xdg("XDG_CONFIG_HOME", ".config"); }
char *paths_data_dir(void) { return paths_xdg("XDG_DATA_HOME", ".local/share"); }
char *paths_state_dir(void) { return paths_xdg("XDG_STATE_HOME", ".local/state"); }

char *paths_expand(const char *path)
{
    if (path[0] == '~' && (path[1] == '/' || path[1] == '\0')) {
        const char *home = getenv("HOME");
        return util_printf("%s%s", home ? home : "", path + 1);
    }
    return util_strdup(path);
}

int paths_mkdir_p(const char *dir, int mode)
{
    char *p = util_strdup(dir);
    int rc = 0;
    for (char *s = p + 1; ; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, (mode_t)mode) < 0 && errno != EEXIST) {
                rc = -1;
                break;
            }
            *s = c;
            if (!c)
                break;
        }
    }
    if (rc == 0) {
        struct stat st;
        if (stat(p, &st) < 0)
            rc = -1;
        else if (!S_ISDIR(st.st_mode)) {
            errno = ENOTDIR;
            rc = -1;
        }
    }
    int e = errno;
    free(p);
    errno = e;
    return rc;
}

char *paths_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct strbuf b = { 0 };
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        strbuf_add(&b, buf, n);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        strbuf_free(&b);
        errno = EIO;
        return NULL;
    }
    if (len)
        *len = b.len;
    return strbuf_take(&b);
}
