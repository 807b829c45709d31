// Package ipam allocates IPv4 addresses from a prefix, without duplicates,
// optionally persisting the allocations to a JSON file so that they survive a
// restart. Allocation is next-fit: a released address is handed out again only
// after the rest of the range has been used, which avoids stale ARP and
// conntrack entries for quickly recycled pod IPs.
package ipam
