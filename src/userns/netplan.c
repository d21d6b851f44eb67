/* nook userns — which network a session gets and what goes with it: the mode (the ext's
 * explicit choice, else what spec.network asks), the ports, resolvers and host names kept
 * in the session record at prepare_session, the /etc files prepare_environment binds, and
 * what ls, inspect and collect_stats say of it.  The helpers themselves are slirp.c's. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/egress.h"
#include "userns/network.h"
#include "userns/proof.h"
#include "util/macro.h"
#include "util/strbuf.h"

static bool required(const nook_environment *e, const char *cap) {
        const nook_array *a = &e->spec.requirement.required_capabilities.capabilities;
        for (size_t i = 0; i < a->n; i++)
                if (strcmp(nook_capability_values[((const int *)a->items)[i]], cap) == 0)
                        return true;
        return false;
}

static const char *const policy_names[] = { "disabled",      "allowlist",    "egress_scoped",
                                            "exposed_ports", "socket_relay", "adapter_defined_denied" };

static int denied(nook_error **err, const char *fmt, ...) _printf_(2, 3);
static int denied(nook_error **err, const char *fmt, ...) {
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        return nook_error_set(err, NOOK_ERROR_POLICY_DENIAL, NOOK_RETRY_USER_ACTION_NEEDED, EPERM, "%s", msg);
}

int nook_net_mode(const nook_env_req *req, int *ret_mode, nook_error **err) {
        int tag = req->environment.spec.network.tag;
        const char *policy = tag >= 0 && (size_t)tag < ELEMENTSOF(policy_names) ? policy_names[tag] : "disabled";
        if (tag == NOOK_NET_ADAPTER_DEFINED_DENIED)
                return denied(err,
                              "spec.network '%s': nook defines no network policy of its own; ask for "
                              "disabled (no network), allowlist, egress_scoped or exposed_ports",
                              policy);
        /* egress restricted or ports published: only slirp4netns delivers these */
        bool needs_net = tag == NOOK_NET_ALLOWLIST || tag == NOOK_NET_EGRESS_SCOPED || tag == NOOK_NET_EXPOSED_PORTS;
        int mode = req->nook.network;
        if (mode == NOOK_NETMODE_AUTO)
                mode = needs_net ? NOOK_NETMODE_SLIRP4NETNS : NOOK_NETMODE_NONE;
        if (mode == NOOK_NETMODE_HOST) {
                if (needs_net || tag == NOOK_NET_SOCKET_RELAY)
                        return denied(err,
                                      "spec.network '%s' cannot be enforced in the host's network namespace; "
                                      "use the slirp4netns network",
                                      policy);
                const char *cap = required(&req->environment, "no_network_guarantee") ? "no_network_guarantee"
                                  : required(&req->environment, "egress_allowlist")   ? "egress_allowlist"
                                                                                      : NULL;
                if (cap)
                        return denied(err,
                                      "the requirement needs %s, which the host's network cannot give; use the "
                                      "none or slirp4netns network",
                                      cap);
        }
        if (mode == NOOK_NETMODE_NONE && needs_net)
                return denied(err,
                              "spec.network '%s' needs a network, and the network asked for is none; use slirp4netns",
                              policy);
        if (mode == NOOK_NETMODE_SLIRP4NETNS && !needs_net && required(&req->environment, "no_network_guarantee"))
                return denied(err,
                              "the requirement needs no_network_guarantee, and slirp4netns gives a network; use the "
                              "none network");
        if (mode != NOOK_NETMODE_SLIRP4NETNS && req->nook.ports.n)
                return nook_error_set(err, NOOK_ERROR_CONTRACT_VIOLATION, NOOK_RETRY_USER_ACTION_NEEDED, EINVAL,
                                      "publishing ports needs the slirp4netns network (the network asked for is %s)",
                                      mode == NOOK_NETMODE_HOST ? "host: bind the port in the workload itself"
                                                                : "none");
        /* without nook-netd the resolver is written into /etc/resolv.conf, which names no
         * port, and the sandbox's loopback is its own */
        bool egress = tag == NOOK_NET_ALLOWLIST || tag == NOOK_NET_EGRESS_SCOPED || tag == NOOK_NET_EXPOSED_PORTS;
        for (size_t i = 0; !egress && i < req->nook.dns.n; i++) {
                const char *d = ((char **)req->nook.dns.items)[i];
                if (strchr(d, ':') || strncmp(d, "127.", 4) == 0)
                        return nook_error_set(err, NOOK_ERROR_CONTRACT_VIOLATION, NOOK_RETRY_USER_ACTION_NEEDED, EINVAL,
                                              "dns '%s': %s", d,
                                              strchr(d, ':')
                                                      ? "a resolver's port is used only with an egress allowlist "
                                                        "(nook-netd forwards to it); /etc/resolv.conf names no port"
                                                      : "the sandbox's loopback is its own; name the host's resolver "
                                                        "as 10.0.2.2 with allow_host_loopback, or restrict egress "
                                                        "(nook-netd forwards from the host)");
        }
        *ret_mode = mode;
        return 0;
}

static char *join(const nook_array *a) {
        nook_strbuf b = NOOK_STRBUF_INIT;
        for (size_t i = 0; i < a->n; i++)
                nook_strbuf_printf(&b, "%s%s", i ? " " : "", ((char **)a->items)[i]);
        return a->n ? nook_strbuf_steal(&b) : NULL;
}

int nook_net_record(nook_session *s, const nook_env_req *req, int mode, nook_error **err) {
        static const char *const modes[] = { "none", "none", "host", "slirp4netns" };
        s->net = strdup(modes[mode]);
        nook_strbuf b = NOOK_STRBUF_INIT;
        const nook_array *ports = &req->nook.ports;
        for (size_t i = 0; i < ports->n; i++) {
                const nook_port_map *p = &((const nook_port_map *)ports->items)[i];
                nook_strbuf_printf(&b, "%s%s:%u:%u/%s", i ? " " : "",
                                   p->host_ip && *p->host_ip ? p->host_ip : "127.0.0.1",
                                   (unsigned)(p->host_port ? p->host_port : p->container_port),
                                   (unsigned)p->container_port, p->protocol ? "udp" : "tcp");
        }
        /* contract hosts: exposed_ports publishes the same port numbers on loopback */
        const nook_variant *n = &req->environment.spec.network;
        if (n->tag == NOOK_NET_EXPOSED_PORTS && n->data) {
                const nook_array *a = &((const nook_net_ports *)n->data)->ports;
                for (size_t i = 0; i < a->n; i++) {
                        unsigned port = (unsigned)((const uint64_t *)a->items)[i];
                        nook_strbuf_printf(&b, "%s127.0.0.1:%u:%u/tcp", b.len ? " " : "", port, port);
                }
        }
        s->net_ports = b.len ? nook_strbuf_steal(&b) : (nook_strbuf_done(&b), NULL);
        s->net_dns = join(&req->nook.dns);
        s->net_hosts = join(&req->nook.add_hosts);
        s->net_loopback = req->nook.allow_host_loopback;
        /* the egress policy is the session's from here: resolv.conf (prepare_environment)
         * and configure_network both follow it, and a later request cannot change it */
        int r = nook_net_egress(req, &s->net_egress, err);
        if (r < 0)
                return r;
        if (mode == NOOK_NETMODE_HOST) { /* never silent: the network is not isolated */
                char *all = NULL;
                if (asprintf(&all, "%s%snetwork host: the workload shares the host's network namespace",
                             s->notes ? s->notes : "", s->notes ? "; " : "") < 0)
                        return nook_error_oom(err);
                free(s->notes);
                s->notes = all;
        }
        if (!s->net || (ports->n && !s->net_ports) || (req->nook.dns.n && !s->net_dns) ||
            (req->nook.add_hosts.n && !s->net_hosts))
                return nook_error_oom(err);
        return 0;
}

int nook_net_egress(const nook_env_req *req, char **ret, nook_error **err) {
        const nook_variant *n = &req->environment.spec.network;
        *ret = NULL;
        if (n->tag == NOOK_NET_EXPOSED_PORTS)
                return (*ret = strdup("-")) ? 0 : nook_error_oom(err);
        if ((n->tag != NOOK_NET_ALLOWLIST && n->tag != NOOK_NET_EGRESS_SCOPED) || !n->data)
                return 0;
        const nook_array *a = n->tag == NOOK_NET_ALLOWLIST ? &((const nook_net_allowlist *)n->data)->hosts
                                                           : &((const nook_net_rules *)n->data)->rules;
        nook_strbuf b = NOOK_STRBUF_INIT;
        for (size_t i = 0; i < a->n; i++) {
                nook_egress_rule rule;
                int r = nook_egress_parse(((char **)a->items)[i], &rule, err);
                if (r < 0) {
                        nook_strbuf_done(&b);
                        return r;
                }
                nook_strbuf_printf(&b, "%s%s", i ? " " : "", rule.canonical);
        }
        *ret = a->n ? nook_strbuf_steal(&b) : (nook_strbuf_done(&b), strdup("-"));
        return *ret ? 0 : nook_error_oom(err);
}

/* "IP" or "IP:PORT": the address part */
static void dns_addr(const char *word, size_t n, char out[64]) {
        const char *colon = memchr(word, ':', n);
        size_t len = colon ? (size_t)(colon - word) : n;
        snprintf(out, 64, "%.*s", (int)(len < 63 ? len : 63), word);
}

int nook_net_etc(const nook_session *s, char **ret_resolv, char **ret_hosts) {
        const char *host = s->hostname ? s->hostname : "nook";
        bool slirp = s->net && strcmp(s->net, "slirp4netns") == 0;
        nook_strbuf h = NOOK_STRBUF_INIT;
        nook_strbuf_printf(&h, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n%s\t%s\n",
                           slirp ? NOOK_NET_GUEST : "127.0.1.1", host);
        /* podman's name for the host, where the host's loopback is reachable */
        if (slirp && s->net_loopback)
                nook_strbuf_printf(&h, "%s\thost.containers.internal host.docker.internal\n", NOOK_NET_GATEWAY);
        for (const char *w = s->net_hosts; w && *w;) {
                size_t n = strcspn(w, " ");
                const char *colon = memchr(w, ':', n);
                if (colon)
                        nook_strbuf_printf(&h, "%.*s\t%.*s\n", (int)(n - (size_t)(colon + 1 - w)), colon + 1,
                                           (int)(colon - w), w);
                w += n + (w[n] == ' ');
        }
        nook_strbuf r = NOOK_STRBUF_INIT;
        if (slirp && s->net_egress)
                nook_strbuf_printf(&r, "nameserver %s\n", NOOK_NET_RESOLVER);
        else if (slirp && s->net_dns)
                for (const char *w = s->net_dns; *w;) {
                        size_t n = strcspn(w, " ");
                        char a[64];
                        dns_addr(w, n, a);
                        nook_strbuf_printf(&r, "nameserver %s\n", a);
                        w += n + (w[n] == ' ');
                }
        else if (slirp)
                nook_strbuf_printf(&r, "nameserver %s\n", NOOK_NET_SLIRP_DNS);
        *ret_hosts = nook_strbuf_steal(&h);
        *ret_resolv = r.len ? nook_strbuf_steal(&r) : (nook_strbuf_done(&r), NULL);
        return *ret_hosts && (!slirp || *ret_resolv) ? 0 : -ENOMEM;
}

char *nook_net_describe(const nook_session *s) {
        const char *net = s->net ? s->net : s->own_netns ? "none" : "host";
        nook_strbuf b = NOOK_STRBUF_INIT;
        nook_strbuf_printf(&b, "%s", net);
        if (strcmp(net, "slirp4netns") == 0 && s->net_ready) {
                if (!nook_net_helper_alive(s->slirp_pid, s->slirp_start, "slirp4netns"))
                        nook_strbuf_printf(&b, " (died: the sandbox has no network)");
                if (s->net_egress && !nook_net_helper_alive(s->netd_pid, s->netd_start, "nook-netd"))
                        nook_strbuf_printf(&b, " (nook-netd died: names no longer resolve)");
        }
        if (s->net_loopback)
                nook_strbuf_printf(&b, ", host loopback as %s", NOOK_NET_GATEWAY);
        if (s->net_egress)
                nook_strbuf_printf(&b, ", egress only to %s",
                                   strcmp(s->net_egress, "-") == 0 ? "(nothing)" : s->net_egress);
        for (const char *w = s->net_ports; w && *w;) {
                size_t n = strcspn(w, " ");
                /* IP:HOSTPORT:PORT/PROTO -> IP:HOSTPORT->PORT/PROTO */
                const char *c2 = NULL;
                for (const char *c = w; c < w + n; c++)
                        if (*c == ':')
                                c2 = c;
                if (c2)
                        nook_strbuf_printf(&b, ", %.*s->%.*s", (int)(c2 - w), w, (int)(n - (size_t)(c2 + 1 - w)),
                                           c2 + 1);
                w += n + (w[n] == ' ');
        }
        return nook_strbuf_steal(&b);
}

int nook_net_bytes(const nook_session *s, uint64_t *ret) {
        _cleanup_close_ int pfd = -1;
        int r = nook_holder_pin(s->holder_pid, s->holder_start, -1, &pfd);
        if (r < 0)
                return r;
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/net/dev", (int)s->holder_pid);
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        if (!f)
                return -errno;
        char line[512];
        uint64_t total = 0;
        while (fgets(line, sizeof(line), f)) {
                char *colon = strchr(line, ':');
                if (!colon)
                        continue; /* the two header lines */
                char *name = line + strspn(line, " ");
                if (strncmp(name, "lo:", 3) == 0)
                        continue;
                unsigned long long rx, tx, skip;
                if (sscanf(colon + 1, "%llu %llu %llu %llu %llu %llu %llu %llu %llu", &rx, &skip, &skip, &skip, &skip,
                           &skip, &skip, &skip, &tx) == 9)
                        total += rx + tx;
        }
        /* the pid was still the holder's while the file was read */
        if (nook_holder_pin(s->holder_pid, s->holder_start, -1, NULL) < 0)
                return -ESRCH;
        *ret = total;
        return 0;
}
