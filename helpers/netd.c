/* nook helpers — nook-netd: a restricted session's resolver and egress ruleset.  It
 * opens its upstream sockets in the host network namespace, joins the session's user
 * and network namespaces (setns(2)), installs a stateless nftables ruleset there with
 * libnftables and answers DNS on LISTEN:53, adding the addresses of allowed names to
 * the ruleset's set before the sandbox learns them.  Started by the client: argv
 * SESSION_REF; fds 3 the session's userns, 4 its netns, 5 readiness ("R", or one line
 * "E<errno> <message>"), 6 exit (EOF: the session ended), 7 the configuration.
 *
 * Resident size once running: 4.4 MiB (VmRSS; Debian 12 libraries).  libnftables costs
 * about 2 MiB of it: 1.4 MiB of its libraries mapped (libnftables, libnftnl, libgmp,
 * libxtables, libjansson, libmnl) and 0.6 MiB of heap (its parser and cache); libc is
 * 1.5 MiB, mostly pages shared with every other process. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <nftables/libnftables.h>

#include "dns.h"
#include "fail.h"
#include "util/clock.h"
#include "util/macro.h"
#include "util/strbuf.h"

enum { FD_USERNS = 3, FD_NETNS = 4, FD_READY = 5, FD_EXIT = 6, FD_CONFIG = 7 };

#define CONFIG_MAX (64 * 1024)
#define MAX_UPSTREAMS 8
#define MAX_RULES 512
#define MAX_PENDING 256
#define MAX_ADDRS 64
#define MAX_ELEMS 256
#define PENDING_MS 3000
#define QUERY_MAX 4096

typedef struct rule {
        const char *proto; /* "tcp" or "udp", as nft spells them */
        uint16_t port;
        bool is_ip;
        uint32_t ip; /* network order, when is_ip */
        char host[254];
} rule;

/* A query forwarded upstream under a fresh id, until its answer or its deadline. */
typedef struct pending {
        bool used;
        uint16_t id, client_id;
        struct sockaddr_in client;
        char name[256];
        uint16_t type, class;
        int64_t deadline;
} pending;

typedef struct netd {
        struct sockaddr_storage upstream[MAX_UPSTREAMS];
        int upstream_fd[MAX_UPSTREAMS];
        size_t n_upstreams;
        struct in_addr listen;
        rule rules[MAX_RULES];
        size_t n_rules;
        uint32_t ttl_floor, ttl_ceiling;
        int listen_fd;
        struct nft_ctx *nft;
        pending pend[MAX_PENDING];
} netd;

static int parse_upstream(netd *nd, const char *v, hstatus *st) {
        if (nd->n_upstreams == MAX_UPSTREAMS)
                return hfail(st, E2BIG, "configuration: more than %d upstreams", MAX_UPSTREAMS);
        char host[64];
        unsigned port = 53;
        int end = 0;
        struct sockaddr_storage *ss = &nd->upstream[nd->n_upstreams];
        memset(ss, 0, sizeof(*ss));
        if (v[0] == '[') {
                struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
                if (sscanf(v, "[%63[0-9a-fA-F:.]]%n:%5u%n", host, &end, &port, &end) < 1 || v[end] ||
                    inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
                        return hfail(st, EINVAL, "configuration: upstream '%s' is not [IPv6]:PORT", v);
                s6->sin6_family = AF_INET6;
                s6->sin6_port = htons((uint16_t)port);
        } else {
                struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
                if (sscanf(v, "%63[0-9.]%n:%5u%n", host, &end, &port, &end) < 1 || v[end] ||
                    inet_pton(AF_INET, host, &s4->sin_addr) != 1)
                        return hfail(st, EINVAL, "configuration: upstream '%s' is not IPv4[:PORT]", v);
                s4->sin_family = AF_INET;
                s4->sin_port = htons((uint16_t)port);
        }
        if (port == 0 || port > 65535)
                return hfail(st, EINVAL, "configuration: upstream '%s': port out of range", v);
        nd->n_upstreams++;
        return 0;
}

static int parse_rule(netd *nd, const char *v, hstatus *st) {
        if (nd->n_rules == MAX_RULES)
                return hfail(st, E2BIG, "configuration: more than %d rules", MAX_RULES);
        rule *r = &nd->rules[nd->n_rules];
        char proto[4];
        unsigned port;
        int end = 0;
        if (sscanf(v, "%3s %253s %5u%n", proto, r->host, &port, &end) != 3 || v[end] || port == 0 || port > 65535 ||
            (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0) ||
            strspn(r->host, "abcdefghijklmnopqrstuvwxyz0123456789.-") != strlen(r->host))
                return hfail(st, EINVAL, "configuration: 'rule %s' is not 'rule tcp|udp HOST PORT'", v);
        r->proto = proto[0] == 't' ? "tcp" : "udp";
        r->port = (uint16_t)port;
        r->is_ip = inet_pton(AF_INET, r->host, &r->ip) == 1;
        nd->n_rules++;
        return 0;
}

static int parse_seconds(const char *key, const char *v, uint32_t *ret, hstatus *st) {
        unsigned long s;
        int end = 0;
        if (sscanf(v, "%9lu%n", &s, &end) != 1 || v[end])
                return hfail(st, EINVAL, "configuration: '%s %s' is not a number of seconds", key, v);
        *ret = (uint32_t)s;
        return 0;
}

static int parse_line(netd *nd, char *line, hstatus *st) {
        char *v = strchr(line, ' ');
        if (!v)
                return hfail(st, EINVAL, "configuration: line '%.64s' has no value", line);
        *v++ = '\0';
        if (strcmp(line, "upstream") == 0)
                return parse_upstream(nd, v, st);
        if (strcmp(line, "rule") == 0)
                return parse_rule(nd, v, st);
        if (strcmp(line, "listen") == 0) {
                if (inet_pton(AF_INET, v, &nd->listen) != 1)
                        return hfail(st, EINVAL, "configuration: listen '%.64s' is not an IPv4 address", v);
                return 0;
        }
        if (strcmp(line, "ttl_floor") == 0)
                return parse_seconds(line, v, &nd->ttl_floor, st);
        if (strcmp(line, "ttl_ceiling") == 0)
                return parse_seconds(line, v, &nd->ttl_ceiling, st);
        return hfail(st, EINVAL, "configuration: unknown line '%.64s'", line);
}

static int read_config(netd *nd, int fd, hstatus *st) {
        static char buf[CONFIG_MAX + 1];
        size_t n = 0;
        for (;;) {
                ssize_t r = read(fd, buf + n, sizeof(buf) - n);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return hfail(st, errno, "reading the configuration");
                if (r == 0)
                        break;
                n += (size_t)r;
                if (n > CONFIG_MAX)
                        return hfail(st, E2BIG, "configuration: larger than %d bytes", CONFIG_MAX);
        }
        buf[n] = '\0';
        if (strlen(buf) != n)
                return hfail(st, EINVAL, "configuration: holds a NUL byte");
        char *save = NULL;
        for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                int r = parse_line(nd, line, st);
                if (r < 0)
                        return r;
        }
        if (nd->n_upstreams == 0)
                return hfail(st, EINVAL, "configuration: no upstream");
        if (nd->ttl_floor > nd->ttl_ceiling)
                return hfail(st, EINVAL, "configuration: ttl_floor %u is above ttl_ceiling %u", nd->ttl_floor,
                             nd->ttl_ceiling);
        return 0;
}

/* Created here, in the host's network namespace: upstream traffic never meets the
 * sandbox's ruleset, and a resolver on the host's loopback (127.0.0.53) is reachable. */
static int open_upstreams(netd *nd, hstatus *st) {
        for (size_t i = 0; i < nd->n_upstreams; i++) {
                const struct sockaddr_storage *ss = &nd->upstream[i];
                int fd = socket(ss->ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
                if (fd < 0)
                        return hfail(st, errno, "opening an upstream socket");
                nd->upstream_fd[i] = fd;
                socklen_t len = ss->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
                if (connect(fd, (const struct sockaddr *)ss, len) < 0)
                        return hfail(st, errno, "connecting to upstream %zu", i + 1);
        }
        return 0;
}

static void lo_up(void) {
        _cleanup_close_ int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct ifreq ifr = { .ifr_name = "lo" };
        if (s >= 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0 && !(ifr.ifr_flags & IFF_UP)) {
                ifr.ifr_flags |= IFF_UP;
                (void)ioctl(s, SIOCSIFFLAGS, &ifr);
        }
}

static int enter_session(netd *nd, hstatus *st) {
        if (hjoin_session(FD_USERNS, FD_NETNS, st) < 0)
                return -st->err;
        lo_up();
        nd->listen_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (nd->listen_fd < 0)
                return hfail(st, errno, "opening the resolver's socket");
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(53), .sin_addr = nd->listen };
        if (bind(nd->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return hfail(st, errno, "binding the resolver to %s:53", inet_ntoa(nd->listen));
        return 0;
}

/* Runs an nft script; on failure st gets its first error line. */
static int nft_run(netd *nd, const char *what, const char *script, hstatus *st) {
        if (nft_run_cmd_from_buffer(nd->nft, script) == 0)
                return 0;
        const char *e = nft_ctx_get_error_buffer(nd->nft);
        return hfail(st, EPERM, "%s: %.*s", what, e ? (int)strcspn(e, "\n") : 0, e ? e : "");
}

/* Stateless on purpose: a user namespace cannot load nf_conntrack, so "established"
 * is read from the TCP flags: anything but a bare SYN belongs to a connection the set
 * allowed (or to one accepted from outside).  Refusals are rejects, never drops, so that
 * a refused connection fails at once. */
static const char ruleset[] = "add table inet nook\n"
                              "delete table inet nook\n"
                              "table inet nook {\n"
                              "  set allow4 { type ipv4_addr . inet_proto . inet_service; flags timeout; }\n"
                              "  chain out {\n"
                              "    type filter hook output priority filter; policy accept;\n"
                              "    oifname \"lo\" accept\n"
                              "    ip daddr . meta l4proto . th dport @allow4 accept\n"
                              "    tcp flags & (syn | ack) != syn accept\n"
                              "    meta l4proto tcp reject with tcp reset\n"
                              "    reject with icmpx type admin-prohibited\n"
                              "  }\n"
                              "}\n";

static int install_ruleset(netd *nd, hstatus *st) {
        nd->nft = nft_ctx_new(NFT_CTX_DEFAULT);
        if (!nd->nft)
                return hfail(st, ENOMEM, "installing the nftables ruleset: no libnftables context");
        nft_ctx_buffer_output(nd->nft);
        nft_ctx_buffer_error(nd->nft);
        nook_strbuf b = NOOK_STRBUF_INIT;
        nook_strbuf_puts(&b, ruleset);
        for (size_t i = 0; i < nd->n_rules; i++)
                if (nd->rules[i].is_ip)
                        nook_strbuf_printf(&b, "add element inet nook allow4 { %s . %s . %u }\n", nd->rules[i].host,
                                           nd->rules[i].proto, nd->rules[i].port);
        _cleanup_free_ char *script = nook_strbuf_steal(&b);
        if (!script)
                return hfail(st, ENOMEM, "installing the nftables ruleset");
        return nft_run(nd, "installing the nftables ruleset", script, st);
}

/* What stays: CAP_NET_ADMIN in the session's user namespace for set updates, nothing
 * to regain it with (no_new_privs, an empty bounding set but that one), and no dumps
 * or ptrace from the sandbox, which shares our user namespace. */
static int harden(hstatus *st) {
        if (prctl(PR_SET_DUMPABLE, 0) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return hfail(st, errno, "prctl");
        for (int c = 0; c <= 63; c++)
                if (c != CAP_NET_ADMIN && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
                        return hfail(st, errno, "dropping capability %d from the bounding set", c);
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
                return hfail(st, errno, "clearing ambient capabilities");
        struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct d[2] = { 0 };
        d[0].effective = d[0].permitted = 1u << CAP_NET_ADMIN;
        if (syscall(SYS_capset, &h, d) < 0)
                return hfail(st, errno, "dropping capabilities");
        return 0;
}

static const rule *rule_for_name(const netd *nd, const char *name) {
        for (size_t i = 0; i < nd->n_rules; i++)
                if (!nd->rules[i].is_ip && strcmp(nd->rules[i].host, name) == 0)
                        return &nd->rules[i];
        return NULL;
}

static void reply(netd *nd, const uint8_t *query, const dns_question *q, int rcode, const struct sockaddr_in *to) {
        uint8_t out[DNS_HEADER_SIZE + 300];
        size_t n = dns_empty_reply(query, q, rcode, out, sizeof(out));
        if (n > 0)
                (void)sendto(nd->listen_fd, out, n, MSG_DONTWAIT, (const struct sockaddr *)to, sizeof(*to));
}

static pending *pending_new(netd *nd) {
        pending *free_slot = NULL;
        for (size_t i = 0; i < MAX_PENDING && !free_slot; i++)
                if (!nd->pend[i].used)
                        free_slot = &nd->pend[i];
        if (!free_slot)
                return NULL;
        /* a fresh random id for each upstream query, unique among those pending */
        for (int tries = 0; tries < 64; tries++) {
                uint16_t id;
                if (getrandom(&id, sizeof(id), 0) != sizeof(id))
                        return NULL;
                bool taken = false;
                for (size_t i = 0; i < MAX_PENDING && !taken; i++)
                        taken = nd->pend[i].used && nd->pend[i].id == id;
                if (!taken) {
                        *free_slot = (pending){ .used = true, .id = id };
                        return free_slot;
                }
        }
        return NULL;
}

static void on_query(netd *nd) {
        uint8_t buf[QUERY_MAX];
        struct sockaddr_in from;
        socklen_t fromlen = sizeof(from);
        ssize_t n = recvfrom(nd->listen_fd, buf, sizeof(buf), MSG_TRUNC, (struct sockaddr *)&from, &fromlen);
        if (n < DNS_HEADER_SIZE || (size_t)n > sizeof(buf) || from.sin_family != AF_INET)
                return;
        dns_question q;
        if (dns_parse_query(buf, (size_t)n, &q) < 0) {
                if (!(buf[2] & 0x80)) /* never answer an answer */
                        reply(nd, buf, NULL, DNS_RCODE_FORMERR, &from);
                return;
        }
        int rcode = q.class != DNS_CLASS_IN || !rule_for_name(nd, q.name) ? DNS_RCODE_REFUSED
                    : q.type == DNS_TYPE_AAAA ? 0 /* NODATA: IPv6 is not routed, never offer an address */
                                              : -1;
        pending *p = rcode < 0 ? pending_new(nd) : NULL;
        if (rcode >= 0 || !p) {
                reply(nd, buf, &q, rcode >= 0 ? rcode : DNS_RCODE_SERVFAIL, &from);
                return;
        }
        p->client_id = q.id;
        p->client = from;
        p->type = q.type;
        p->class = q.class;
        memcpy(p->name, q.name, sizeof(p->name));
        p->deadline = nook_mono_ms() + PENDING_MS;
        dns_set_id(buf, p->id);
        for (size_t i = 0; i < nd->n_upstreams; i++)
                (void)send(nd->upstream_fd[i], buf, (size_t)n, MSG_DONTWAIT);
}

/* One element of the set: address . protocol . port, for ttl seconds. */
typedef struct elem {
        uint32_t addr;
        const char *proto;
        uint16_t port;
        uint32_t ttl;
} elem;

/* An IP rule's element never expires: an answer must not give it a timeout. */
static bool is_static(const netd *nd, uint32_t addr, const rule *r) {
        for (size_t i = 0; i < nd->n_rules; i++)
                if (nd->rules[i].is_ip && nd->rules[i].ip == addr && nd->rules[i].proto == r->proto &&
                    nd->rules[i].port == r->port)
                        return true;
        return false;
}

static int elem_add(elem *e, size_t *n, uint32_t addr, const rule *r, uint32_t ttl) {
        for (size_t k = 0; k < *n; k++)
                if (e[k].addr == addr && e[k].proto == r->proto && e[k].port == r->port) {
                        e[k].ttl = ttl > e[k].ttl ? ttl : e[k].ttl;
                        return 0;
                }
        if (*n == MAX_ELEMS)
                return -E2BIG;
        e[(*n)++] = (elem){ .addr = addr, .proto = r->proto, .port = r->port, .ttl = ttl };
        return 0;
}

/* The addresses of an answer for name into the set, for every rule of that name, each
 * for clamp(TTL, floor, ceiling) seconds.  add, delete, add in one transaction sets the
 * timeout whether or not the element exists (whether a plain "add" of an existing
 * element changes its timeout depends on the kernel: 6.18 does, up or down), and
 * atomically: no packet sees it missing. */
static int allow_addrs(netd *nd, const char *name, const dns_a *a, size_t n, hstatus *st) {
        elem e[MAX_ELEMS];
        size_t ne = 0;
        for (size_t i = 0; i < n; i++)
                for (size_t r = 0; r < nd->n_rules; r++) {
                        const rule *ru = &nd->rules[r];
                        if (ru->is_ip || strcmp(ru->host, name) != 0 || is_static(nd, a[i].addr, ru))
                                continue;
                        uint32_t ttl = a[i].ttl < nd->ttl_floor     ? nd->ttl_floor
                                       : a[i].ttl > nd->ttl_ceiling ? nd->ttl_ceiling
                                                                    : a[i].ttl;
                        if (elem_add(e, &ne, a[i].addr, ru, ttl ? ttl : 1) < 0)
                                return hfail(st, E2BIG, "updating the allowed addresses: more than %d", MAX_ELEMS);
                }
        if (ne == 0)
                return 0;
        nook_strbuf add = NOOK_STRBUF_INIT, del = NOOK_STRBUF_INIT;
        for (size_t k = 0; k < ne; k++) {
                char ip[INET_ADDRSTRLEN];
                inet_ntop(AF_INET, &e[k].addr, ip, sizeof(ip));
                nook_strbuf_printf(&add, "%s%s . %s . %u timeout %us", k ? ", " : "", ip, e[k].proto, e[k].port,
                                   e[k].ttl);
                nook_strbuf_printf(&del, "%s%s . %s . %u", k ? ", " : "", ip, e[k].proto, e[k].port);
        }
        _cleanup_free_ char *adds = nook_strbuf_steal(&add), *dels = nook_strbuf_steal(&del);
        _cleanup_free_ char *script = NULL;
        if (!adds || !dels ||
            asprintf(&script,
                     "add element inet nook allow4 { %s }\ndelete element inet nook allow4 { %s }\n"
                     "add element inet nook allow4 { %s }\n",
                     adds, dels, adds) < 0)
                return hfail(st, ENOMEM, "updating the allowed addresses");
        return nft_run(nd, "updating the allowed addresses", script, st);
}

static pending *pending_find(netd *nd, const dns_question *q) {
        for (size_t i = 0; i < MAX_PENDING; i++) {
                pending *p = &nd->pend[i];
                if (p->used && p->id == q->id && p->type == q->type && p->class == q->class &&
                    strcmp(p->name, q->name) == 0)
                        return p;
        }
        return NULL;
}

static void on_answer(netd *nd, int fd) {
        static uint8_t buf[65536];
        ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        dns_question q;
        if (n < DNS_HEADER_SIZE || dns_parse_response(buf, (size_t)n, &q) < 0)
                return;
        pending *p = pending_find(nd, &q);
        if (!p)
                return;
        p->used = false;
        dns_set_id(buf, p->client_id);
        dns_a a[MAX_ADDRS];
        int found = dns_answer_addrs(buf, (size_t)n, &q, nd->ttl_ceiling, a, ELEMENTSOF(a));
        hstatus st;
        /* an address the set does not hold would only be refused: better no answer */
        if (found < 0 || (q.type == DNS_TYPE_A && allow_addrs(nd, q.name, a, (size_t)found, &st) < 0))
                reply(nd, buf, &q, DNS_RCODE_SERVFAIL, &p->client);
        else
                (void)sendto(nd->listen_fd, buf, (size_t)n, MSG_DONTWAIT, (const struct sockaddr *)&p->client,
                             sizeof(p->client));
}

/* Milliseconds until the next pending query expires (those past it are forgotten). */
static int pending_expire(netd *nd) {
        int64_t now = nook_mono_ms(), next = -1;
        for (size_t i = 0; i < MAX_PENDING; i++) {
                pending *p = &nd->pend[i];
                if (p->used && p->deadline <= now)
                        p->used = false;
                else if (p->used && (next < 0 || p->deadline - now < next))
                        next = p->deadline - now;
        }
        return (int)next;
}

static int serve(netd *nd, hstatus *st) {
        for (;;) {
                struct pollfd pfd[2 + MAX_UPSTREAMS] = { { .fd = FD_EXIT, .events = POLLIN },
                                                         { .fd = nd->listen_fd, .events = POLLIN } };
                for (size_t i = 0; i < nd->n_upstreams; i++)
                        pfd[2 + i] = (struct pollfd){ .fd = nd->upstream_fd[i], .events = POLLIN };
                int r = poll(pfd, 2 + nd->n_upstreams, pending_expire(nd));
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return hfail(st, errno, "poll");
                /* the session ended: EOF, a hangup, or anything at all written to us */
                if (pfd[0].revents)
                        return 0;
                if (pfd[1].revents & POLLIN)
                        on_query(nd);
                for (size_t i = 0; i < nd->n_upstreams; i++)
                        if (pfd[2 + i].revents & POLLIN)
                                on_answer(nd, nd->upstream_fd[i]);
        }
}

static int start(netd *nd, hstatus *st) {
        int r = read_config(nd, FD_CONFIG, st);
        close(FD_CONFIG);
        if (r < 0)
                return r;
        r = open_upstreams(nd, st);
        if (r < 0)
                return r;
        r = enter_session(nd, st);
        if (r < 0)
                return r;
        return install_ruleset(nd, st);
}

int main(int argc, char **argv) {
        if (hprivileged() || argc != 2)
                return 126;
        /* nook starts us with execveat(2) of an fd: before Linux 6.14 that names the
         * process after the fd ("6"), and nook finds its helpers by name */
        prctl(PR_SET_NAME, "nook-netd");
        /* from the start: the sandbox joins the user namespace we are about to enter */
        prctl(PR_SET_DUMPABLE, 0);
        close_range(FD_CONFIG + 1, ~0u, 0);
        netd nd = { .listen.s_addr = htonl(0x7f000035), .ttl_floor = 60, .ttl_ceiling = 86400, .listen_fd = -1 };
        hstatus st = { 0 };
        if (start(&nd, &st) < 0) {
                dprintf(FD_READY, "E%d %s\n", st.err, st.msg);
                return 1;
        }
        if (write(FD_READY, "R", 1) != 1)
                return 1;
        close(FD_READY);
        int r = harden(&st) < 0 || serve(&nd, &st) < 0 ? 1 : 0;
        if (nd.nft)
                nft_ctx_free(nd.nft); /* the context holds the ruleset's last answers */
        return r;
}
