/* dev internals: the transports of the table in transport.c and the helpers they share. */
#ifndef INSITU_DEV_INTERNAL_H
#define INSITU_DEV_INTERNAL_H

#include <stddef.h>

#include "insitu/transport.h"

extern const struct transport_ops transport_serial_ops;
extern const struct transport_ops transport_tcp_ops;
extern const struct transport_ops transport_sim_ops;
extern const struct transport_ops transport_dir_ops;

/* strerror(ERRNUM) with a lower-case first letter, to fit in the middle of a message
 * ("tcp:localhost:5025: connection refused"). Returns BUF. */
const char *transport_strerror(int errnum, char *buf, size_t len);

/* Make FD non-blocking and close-on-exec (a sim child must not inherit instrument fds). */
int transport_fd_setup(int fd);

#endif
