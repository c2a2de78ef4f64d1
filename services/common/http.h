/*
 * http.h — the public HTTP listener the gateway and the dashboard share: libmicrohttpd with a thread
 * per connection on one IPv4 address, keep-alive connections closed after an idle timeout.
 */
#ifndef SQ_HTTP_H
#define SQ_HTTP_H

#include <microhttpd.h>
#include <stddef.h>

typedef struct sq_http_options {
    const char *listen;          /* IPv4 address */
    long port;
    long idle_timeout_s;         /* a connection idle this long is closed */
    unsigned max_connections;
    size_t connection_memory;    /* per connection; 0: libmicrohttpd's default */
    size_t thread_stack;         /* per connection thread; 0: the system's default */
} sq_http_options;

/* Starts listening; handler and completed as libmicrohttpd calls them (completed may be NULL).
 * NULL with err filled if the address is not IPv4 or the port cannot be bound. */
struct MHD_Daemon *sq_http_start(const sq_http_options *o, MHD_AccessHandlerCallback handler, void *cls,
                                 MHD_RequestCompletedCallback completed, char *err, size_t errlen);
/* Stops the listener and waits for its connections' threads. Accepts NULL. */
void sq_http_stop(struct MHD_Daemon *d);

#endif
