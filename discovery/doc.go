// Package discovery keeps a Plexus node in its network: it finds peers,
// remembers them and reconnects to them.
//
// A Service, built by New from the node's host, its Kademlia DHT (package
// routing) and its datastore, does four things once started:
//
//   - Bootstrap and reconnect: it dials the configured bootstrap peers in
//     parallel, retrying those that do not answer with capped, jittered
//     exponential backoff (their state is reported by BootstrapStatus), then
//     refreshes the DHT routing table. A watcher re-bootstraps, at a bounded
//     rate, when the number of connected peers falls below a low-water mark.
//   - Known peers: every peer the node learns of (from bootstrap, identify,
//     the DHT routing table, mDNS or rendezvous) is kept in a bounded table
//     and persisted as JSON under /plexus/peers/<peer ID>. On the next start
//     those peers are put back in the peerstore and dialled, so a node
//     restarted without bootstrap peers rejoins the network it was in.
//   - mDNS (optional): peers on the local network announcing the Plexus
//     DNS-SD service are dialled.
//   - Rendezvous: Join advertises the node under a topic as DHT provider
//     records (the topic's SHA-256 as a CID) and keeps connections to other
//     peers of the topic. Rendezvous implements go-libp2p's
//     core/discovery.Discovery, so it can serve go-libp2p-pubsub.
//
// The peers of the routing table are learnt through routing.Service's
// Subscribe, the one place that watches the table.
//
// Protocols spoken: the Kademlia DHT protocol under the /plexus prefix
// (/plexus/kad/1.0.0: FIND_NODE, ADD_PROVIDER, GET_PROVIDERS, through
// package routing), identify (/ipfs/id/1.0.0, through the host) and mDNS
// (DNS-SD over UDP multicast, port 5353).
package discovery
