/*
 * http.c — the public HTTP listener (see http.h).
 */
#include "http.h"
#include "sq.h"

#include <arpa/inet.h>

struct MHD_Daemon *sq_http_start(const sq_http_options *o, MHD_AccessHandlerCallback handler, void *cls,
                                 MHD_RequestCompletedCallback completed, char *err, size_t errlen)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)o->port) };
    if (inet_pton(AF_INET, o->listen, &sa.sin_addr) != 1) {
        sq_fail(err, errlen, SQ_INVALID, "listen address '%s' is not IPv4", o->listen);
        return NULL;
    }
    struct MHD_OptionItem opts[8];
    int n = 0;
    opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)o->idle_timeout_s, NULL };
    opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT, (intptr_t)o->max_connections, NULL };
    if (o->connection_memory)
        opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)o->connection_memory, NULL };
    if (o->thread_stack)
        opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_THREAD_STACK_SIZE, (intptr_t)o->thread_stack, NULL };
    if (completed)
        opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)completed, NULL };
    opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                                                MHD_USE_POLL | MHD_USE_ERROR_LOG,
                                            0, NULL, NULL, handler, cls, MHD_OPTION_SOCK_ADDR, &sa,
                                            MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    if (!d)
        sq_fail(err, errlen, SQ_ERR, "cannot listen on %s:%ld", o->listen, o->port);
    return d;
}

void sq_http_stop(struct MHD_Daemon *d)
{
    if (d)
        MHD_stop_daemon(d);
}
