/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The datapath's maps, all pinned by name under the controller's pin root and shared by XDP and TC. */
#ifndef PGS_MAPS_H
#define PGS_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "../pgsteer_abi.h"

/* Steered addresses (VIP:port) -> service. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PGS_MAX_SERVICES);
	__type(key, struct pgs_svc_key);
	__type(value, struct pgs_svc);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pgs_services SEC(".maps");

/* Server slots: address, state and weight, written by the controller. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PGS_MAX_SLOTS);
	__type(key, __u32);
	__type(value, struct pgs_server);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pgs_servers SEC(".maps");

/* Connections opened and closed per slot, changed by the datapath with atomics only. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PGS_MAX_SLOTS);
	__type(key, __u32);
	__type(value, struct pgs_conns);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pgs_conns SEC(".maps");

/* Per slot, closes the controller accounted for (flows it expired while they still counted). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PGS_MAX_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pgs_conn_adj SEC(".maps");

/* Per slot, when the server last refused a SYN (0 = never, or cleared by a passing check). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PGS_MAX_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pgs_passive SEC(".maps");

/* Packets, bytes and new flows per slot and CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PGS_MAX_SLOTS);
	__type(key, __u32);
	__type(value, struct pgs_srv_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pgs_srv_stats SEC(".maps");

/* Every verdict, by enum pgs_reason, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PGS_R_MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pgs_verdicts SEC(".maps");

/* Client side -> flow. A plain hash, never LRU: nothing may evict a live session. Sized by the
 * controller before load.
 * Preallocated on purpose (no BPF_F_NO_PREALLOC): since Linux 6.1 a non-preallocated hash reuses a
 * deleted element at once too (bpf_mem_alloc, SLAB_TYPESAFE_BY_RCU: "behave just like preallocated"),
 * so the flag would not keep an element from being reused under a program holding its pointer, and
 * it would allocate in the packet path. The equivalent guarantee is in how the value is used: every
 * change that counts is an atomic on the value itself (COUNTED is cleared with fetch-and, state moves
 * by compare-and-swap), so a program whose flow was deleted and its element reused meanwhile can at
 * worst release the new flow early: its server's count and the flag go down together, which the
 * clean-up's recount (flows still flagged COUNTED) agrees with; nothing is counted twice. Deleting a
 * flow by key can race a client's reopen and leave the new flow's reverse entry orphaned: the
 * clean-up removes reverse entries found orphaned by two passes in a row. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 262144);
	__type(key, struct pgs_flow_key);
	__type(value, struct pgs_flow);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pgs_flows SEC(".maps");

/* Backend reply (backend, VIP, SNAT port) -> client side key; inserting it claims the SNAT port.
 * Preallocated, as pgs_flows. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 262144);
	__type(key, struct pgs_rflow_key);
	__type(value, struct pgs_flow_key);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pgs_rflows SEC(".maps");

/* Node-wide switches (index 0). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pgs_ctl);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pgs_ctl SEC(".maps");

/* Per service and CPU, where the next leastconn scan starts: equal servers take turns. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PGS_MAX_SERVICES);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pgs_rr SEC(".maps");

/* Flow events for the controller's flow sync (bpf/lib/events.h). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, PGS_EVENTS_BYTES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pgs_events SEC(".maps");

/* Flow events that found the ring buffer full (nobody reading, or a burst), per CPU (index 0). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pgs_ev_lost SEC(".maps");

/* Per service id, PGS_SVC_F_* switches of the PostgreSQL-aware features. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PGS_MAX_SERVICES);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pgs_pg_opts SEC(".maps");

/* CancelRequests for the controller to deliver (bpf/lib/pgproto.h). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, PGS_PG_EVENTS_BYTES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pgs_pg_events SEC(".maps");

/* enum pgs_pg_stat counters, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PGS_PG_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pgs_pg_stats SEC(".maps");

/* Source-address policy per service (bpf/lib/policy.h): (service id, CIDR) -> allow or deny. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 4096);
	__type(key, struct pgs_policy_key);
	__type(value, __u32);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pgs_policy SEC(".maps");

#endif
