/* nook userns — a session's network: which one it gets (netplan.c: decided at
 * prepare_session from the ext's mode and spec.network, kept in the session record), the
 * /etc files that go with it, and the helpers that carry it (slirp.c: slirp4netns for
 * userspace networking and published ports, nook-netd for an egress allowlist), started
 * by configure_network (network.c) and tied to the holder's life. */
#ifndef NOOK_USERNS_NETWORK_H
#define NOOK_USERNS_NETWORK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/contract.h"
#include "userns/session.h"
#include "util/error.h"

/* slirp4netns's fixed addresses (--configure): the sandbox, its gateway (the host's
 * loopback when allowed) and slirp's own DNS forwarder. */
#define NOOK_NET_GUEST "10.0.2.100"
#define NOOK_NET_GATEWAY "10.0.2.2"
#define NOOK_NET_SLIRP_DNS "10.0.2.3"
/* nook-netd's resolver inside the session's netns, when egress is restricted */
#define NOOK_NET_RESOLVER "127.0.0.53"

/* The mode a request asks for, resolved: NOOK_NETMODE_NONE, _HOST or _SLIRP4NETNS, or an
 * error when the ext's mode and spec.network (or the requirement) contradict. */
int nook_net_mode(const nook_env_req *req, int *ret_mode, nook_error **err);
/* Fills the session's net* fields from the request at prepare_session (mode resolved). */
int nook_net_record(nook_session *s, const nook_env_req *req, int mode, nook_error **err);
/* The egress rules spec.network asks for, canonical and space-separated in *ret; NULL
 * when egress is not restricted; "-" when every destination is refused (exposed_ports). */
int nook_net_egress(const nook_env_req *req, char **ret, nook_error **err);
/* /etc/resolv.conf and /etc/hosts of the session; resolv NULL: the root's own is kept. */
int nook_net_etc(const nook_session *s, char **ret_resolv, char **ret_hosts);
/* One line for ls and inspect: "none", "host", "slirp4netns, egress only to
 * https://pypi.org:443, 127.0.0.1:8080->80/tcp", with " (died: …)" after the mode when a
 * helper of a configured session is gone. */
char *nook_net_describe(const nook_session *s);
/* Bytes through the session's interfaces but loopback (received + sent), from the
 * holder's /proc/<pid>/net/dev; -errno when unknown. */
int nook_net_bytes(const nook_session *s, uint64_t *ret);

/* slirp.c */
/* Starts slirp4netns for the session (journaled by the caller first), waits until it is
 * ready, and ties its life to the holder's (exit fd held by the holder). */
int nook_slirp_start(nook_session *s, nook_error **err);
/* Publishes the session's net_ports: each host socket bound first (a taken port is an
 * error naming it); UDP ones through slirp4netns's API socket, TCP ones by nook-portfwd
 * (helpers/portfwd.c), started here for them. */
#define NOOK_NET_MAX_TCP_PORTS 64
int nook_net_publish(nook_session *s, nook_error **err);
/* Starts nook-netd (resolver and nftables ruleset) for net_egress. */
int nook_netd_start(nook_session *s, nook_error **err);
/* true while the helper recorded as pid/start runs and is the program named. */
bool nook_net_helper_alive(pid_t pid, uint64_t start, const char *program);
/* Kills a network helper (proven ours: nook_net_helper_alive) by its pidfd, without
 * waiting for its end (the kernel's teardown of its tap device); 0, or -errno. */
int nook_net_helper_stop(pid_t pid, uint64_t start, const char *program);
/* The last line a helper wrote to its log in the session dir (slirp4netns.log), for an
 * error message; "" when there is none. */
void nook_net_log_tail(const nook_session *s, const char *log, char *buf, size_t size);
/* Kills them at once (a configure_network that failed half-way, the holder still up). */
int nook_net_stop_now(const nook_session *s);

#endif
