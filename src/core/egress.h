/* nook core — the egress rule grammar: one destination a session may reach, as the
 * contract's allowlist hosts and egress_scoped rules and the CLI's --egress write it,
 * parsed into what nook-netd enforces (a protocol, a port, a host name or an IPv4). */
#ifndef NOOK_CORE_EGRESS_H
#define NOOK_CORE_EGRESS_H

#include <stdbool.h>
#include <stdint.h>

#include "nook/error.h"

#define NOOK_EGRESS_HOST_MAX 253

typedef struct nook_egress_rule {
        char scheme[6]; /* "https", "http", "tcp", "udp" */
        int proto;      /* IPPROTO_TCP or IPPROTO_UDP */
        uint16_t port;
        bool is_ip;
        uint32_t ip;                         /* network order, when is_ip */
        char host[NOOK_EGRESS_HOST_MAX + 1]; /* lowercase DNS name, or the dotted quad */
        char canonical[280];                 /* scheme://host:port */
} nook_egress_rule;

/* Parses one rule:
 *
 *   host                      https, port 443
 *   host:port                 tcp
 *   https://host[:port]       (443)     http://host[:port]   (80)
 *   tcp://host:port           udp://host:port
 *   tcp:PORT:HOST             udp:PORT:HOST   (the contract samples' form)
 *
 * host is a DNS name (letters, digits, hyphens; one trailing dot dropped; lowercased)
 * or an IPv4 dotted quad.  Wildcards, paths, queries, credentials and IPv6 literals are
 * refused with a ContractViolation that says what to write instead; *ret is untouched
 * then. */
int nook_egress_parse(const char *text, nook_egress_rule *ret, nook_error **err);

#endif
