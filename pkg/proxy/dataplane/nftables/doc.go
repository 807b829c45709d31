// Package nftables is the in-kernel service-proxy data plane: DNAT rules in
// one nf_tables table, programmed over netlink (no `nft` binary at run
// time), modelled on Kubernetes' nftables kube-proxy.
//
// # Rule layout
//
//	table ip coxswain {                                   (Config.Table)
//	  map service-ips           { ipv4_addr . inet_proto . inet_service : verdict }  ClusterIP/external IP -> goto svc-/ext-
//	  map service-nodeports     { inet_proto . inet_service : verdict }              NodePort -> goto ext-
//	  map no-endpoint-services  { ipv4_addr . inet_proto . inet_service : verdict }  -> goto reject-chain
//	  map no-endpoint-nodeports { inet_proto . inet_service : verdict }              -> goto reject-chain
//	  set hairpin-endpoints     { ipv4_addr . ipv4_addr }                             ep . ep, for hairpin masquerade
//	  set nodeport-ips          { ipv4_addr }                                         only with Config.NodeIPs
//	  map service-endpoints-<n> { mark . mark : ipv4_addr . inet_service }            id . slot -> endpoint, 32 service ports per map
//	  set aff-<hash>            { ipv4_addr; flags dynamic,timeout }                 one per endpoint of a ClientIP-affinity service
//
//	  chain filter-prerouting { type filter hook prerouting priority dstnat - 10
//	    [iif != lo ip daddr 127.0.0.0/8 drop]            only with LocalhostNodePorts
//	    ct state new jump service-endpoints-check }
//	  chain filter-output     { type filter hook output priority dstnat - 10
//	    ct state new jump service-endpoints-check }
//	  chain service-endpoints-check {
//	    ip daddr . meta l4proto . th dport vmap @no-endpoint-services
//	    fib daddr type local [ip daddr != 127.0.0.0/8] [ip daddr @nodeport-ips] meta l4proto . th dport vmap @no-endpoint-nodeports }
//	  chain reject-chain { meta l4proto tcp reject with tcp reset; reject }   (ICMP port unreachable)
//
//	  chain nat-prerouting  { type nat hook prerouting priority dstnat;  jump services }
//	  chain nat-output      { type nat hook output priority dstnat;      jump services }
//	  chain nat-postrouting { type nat hook postrouting priority srcnat; jump masquerading }
//	  chain services {
//	    ip daddr . meta l4proto . th dport vmap @service-ips
//	    fib daddr type local [ip daddr != 127.0.0.0/8] [ip daddr @nodeport-ips] meta l4proto . th dport vmap @service-nodeports }
//	  chain mark-for-masquerade { meta mark set meta mark | 0x4000 }
//	  chain masquerading {
//	    ip saddr . ip daddr @hairpin-endpoints masquerade fully-random      pod reaching itself through its service
//	    meta mark & 0x4000 == 0 return
//	    meta mark set meta mark ^ 0x4000
//	    masquerade fully-random }
//
//	  chain svc-<hash>-<ns/name/proto/port> {             one per service port with ready endpoints
//	    ip daddr <clusterIP> ip saddr != <ClusterCIDR> jump mark-for-masquerade   (unconditional with MasqueradeAll)
//	    meta l4proto tcp dnat to <id> . numgen random mod <N> map @service-endpoints-<id/32> }
//	  chain svc-<hash>-... {                              the same with ClientIP affinity:
//	    ip daddr <clusterIP> ip saddr != <ClusterCIDR> jump mark-for-masquerade
//	    ip saddr @aff-<ep1> update @aff-<ep1> { ip saddr } meta l4proto tcp dnat to <ep1>    returning clients
//	    ip saddr @aff-<ep2> update @aff-<ep2> { ip saddr } meta l4proto tcp dnat to <ep2>
//	    numgen random mod 2 == 0 update @aff-<ep1> { ip saddr } meta l4proto tcp dnat to <ep1>
//	    update @aff-<ep2> { ip saddr } meta l4proto tcp dnat to <ep2> }
//	  chain ext-<hash>-... { jump mark-for-masquerade; goto svc-<hash>-... }   NodePort / external IPs
//	}
//
// Chain names are deterministic: a 13-character base32 FNV-64 hash of the
// identity followed by as much of a readable label as fits in 96 bytes.
// `nft list` prints the service-endpoints lookup key as
// "0x2000000 [invalid type] . numgen ...": the id is an immediate value nft
// cannot type; the rule is correct.
//
// A service port without ready endpoints has no chain; its addresses are in
// the no-endpoint maps instead, so that new connections are refused (TCP
// reset, ICMP port unreachable for UDP) rather than black-holed. Traffic for
// NodePorts and external IPs, and ClusterIP traffic from outside ClusterCIDR
// (all of it with MasqueradeAll) is marked and masqueraded on the way out,
// so that replies come back through this node. With Config.NodeName set,
// hairpin-endpoints holds only this node's endpoints (a pod can only reach
// itself through a service via its own node).
//
// # Endpoint choice: one rule and a slot map
//
// Each service port gets a number (id) for the life of its chain. Its N
// ready endpoints sit in slots 0..N-1 of a service-endpoints map, and one
// rule draws a slot (`numgen random mod N`) and DNATs to the slot's value.
// The rule depends only on the id and N, so replacing an endpoint by another
// rewrites one map element and no rule. That matters because nf_tables
// re-validates the whole table (every chain reachable from the base chains)
// in any commit that adds a rule with a jump, goto, NAT, lookup or meta
// expression, i.e. any rule of ours: 60-125 ms with 10,000 services. Slots
// are assigned stably (an endpoint keeps its slot while it stays, a new one
// fills the hole), so one endpoint replaced is two element messages. When N
// changes, the service chain is rewritten (and the table validated).
//
// The maps are sharded, 32 service ports each: the kernel checks every
// element added to a map against every rule that looks the map up, so one
// map for 10,000 services made a full sync 100,000 x 10,000 checks (29 s of
// commit), and a map per service would make every reference by name a scan
// of 10,000 sets. Shards are created with their first user and deleted
// after their last, in the same transaction.
//
// ClientIP affinity needs a set per endpoint (updated with the client's
// address when the endpoint is chosen, looked up first), so those services
// use a ladder instead: rung i takes the packet with probability 1/(N-i),
// which gives every endpoint 1/N like iptables' statistic match. The ladder
// (for every service) was measured against the slot map: full sync commit
// 1.0-1.3 s of kernel time against 0.7 s, and one endpoint change 60-70 ms
// against 1-2 ms (it rewrites the chain, hence re-validation).
//
// Kubernetes writes `numgen random mod N vmap { 0 : goto ep1, ... }` with
// an anonymous map per service. On this kernel (6.18) that is quadratic:
// every anonymous set is found by ID through a scan of the whole
// transaction (124 s for 10,000 x 10). Hairpin detection by
// `ip saddr ^ ip daddr == 0` (XOR of two registers, Linux 6.13) would drop
// the hairpin set, but nft 1.0.6 aborts when listing such a rule, which
// would break `nft list ruleset` on the node for every table.
//
// # Sync
//
// Sync compares each desired service port with the one last applied: the
// same pointer as last time is unchanged (see dataplane.DataPlane), other
// ones are compared with dataplane.Equal (endpoint order and not-ready
// endpoints do not matter). Only changed ports are validated, checked for
// address conflicts (against each other and the unchanged ones' claims) and
// rendered; their chains are compared by a hash of the encoded rules. The
// differences go into one netlink batch, which the kernel commits as one
// transaction: new sets, maps and chains; the rules of new chains and of
// changed chains (flushed first); element deletions, then additions;
// finally removed chains are flushed and deleted and unused sets and maps
// deleted. An unchanged Sync sends nothing. The first Sync, and the one
// after any failure, replaces the table wholesale in a single transaction
// (add table, delete table, re-create everything).
//
// Expressions are encoded by github.com/google/nftables (expr.Marshal); the
// batch framing is our own (batch.go) because nftables.Conn.Flush asks for
// an ACK and an ECHO of every message, reads them back one at a time, and
// sends the batch without raising the socket buffer: it fails with EMSGSIZE
// beyond ~2,000 messages and, with raised buffers, took 2m49s for the
// 10,000-service sync. Reading back (tests) uses nftables.Conn.
//
// After a commit, UDP conntrack entries pointing at removed endpoints, and
// un-NATed entries to the addresses of a UDP service that just got its first
// endpoint, are deleted, so that a client's next datagram is NATed afresh.
//
// # Sysctls
//
// New writes, in the target network namespace:
//
//   - net.ipv4.ip_forward=1, always: DNATed packets are forwarded to pods.
//   - net.ipv4.conf.all.route_localnet=1, only with LocalhostNodePorts:
//     packets from 127.0.0.1 to a NodePort are DNATed to a pod and must be
//     routed off the loopback interface (they are masqueraded too). The
//     filter-prerouting guard then drops packets to 127.0.0.0/8 arriving on
//     any interface but lo (CVE-2020-8558).
//
// # Cost
//
// Measured on the 2-core shared build VM (kernel 6.18) while other jobs
// kept its load average at 7-19, so wall times are inflated by waiting for
// a CPU; commit-cpu is the CPU time of the sending thread, i.e. the kernel's
// work on the batch. Before (endpoint chains) -> now:
//
//   - BenchmarkSyncFull10kServices (10,000 services x 10 endpoints, every
//     tenth with a NodePort): 323,085 -> 23,712 messages; 3.2-5.7 s ->
//     0.93-1.1 s per sync at load 7-10 (2.0-2.6 s at load 14-19); kernel
//     commit 1.9-2.5 s -> 0.46-0.67 s of CPU; building the batch ~0.25 s of
//     CPU. With the endpoints spread over 100 nodes and Config.NodeName set
//     (BenchmarkSyncFull10kServicesOn100Nodes, the hairpin set holds this
//     node's 1,000) the commit takes 0.33-0.39 s of CPU.
//   - BenchmarkSyncOneEndpointChange (one endpoint of one service replaced):
//     18 -> 4 messages (2 element deletions, 2 additions: slot and hairpin);
//     0.15-0.57 s -> 4-24 ms per sync; commit 0.6-2 ms.
//   - BenchmarkSyncEndpointCountChange (one endpoint added or removed: the
//     service chain is rewritten and the table validated): 30-100 ms per
//     sync, of which 13-20 ms kernel CPU.
//
// The Go side only compares changed service ports (same pointer = same
// port), checks their address claims against the others' recorded ones, and
// encodes constant expressions once.
package nftables
