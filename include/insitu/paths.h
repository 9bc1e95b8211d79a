/* paths: where insitu keeps things (XDG base directories) and small file-system helpers. */
#ifndef INSITU_PATHS_H
#define INSITU_PATHS_H

#include <stddef.h>

/* $XDG_CONFIG_HOME/insitu etc., with the XDG defaults; newly allocated. */
char *paths_config_dir(void);
char *paths_data_dir(void);
char *paths_state_dir(void);
/* Expand a leading ~/ ; newly allocated. */
char *paths_expand(const char *path);
/* mkdir -p; returns 0 or -1 (errno set). */
int paths_mkdir_p(const char *dir, int mode);
/* Read a whole file; NULL with errno set. */
char *paths_read_file(const char *path, size_t *len);

#endif
