// Package routing owns a Plexus node's Kademlia DHT: it builds it, watches
// its routing table, and answers the routing questions the rest of the node
// and the API ask.
//
// A Service, built by New from the node's host, wraps one
// go-libp2p-kad-dht instance:
//
//   - Construction: the DHT mode (auto, server, client), the protocol prefix
//     (the DHT speaks <prefix>/kad/1.0.0, /plexus/kad/1.0.0 by default), the
//     datastore (records and providers under /dht) and the namespaced record
//     validators, given as options so that this package knows no record
//     format (package records supplies the "plexus" one).
//   - Routing-table changes, one mechanism: New chains its own function
//     onto the routing table's PeerAdded and PeerRemoved hooks (keeping
//     kad-dht's, which tag peers in the connection manager). The hooks only
//     queue the change; one goroutine delivers the queue, in order, to the
//     functions given to Subscribe and, with WithPublisher, as
//     routing.peer_added and routing.peer_removed events.
//   - Queries: Table lists the routing table by bucket, FindPeer finds a
//     peer's addresses (open connection, peerstore or DHT lookup), Closest
//     runs a lookup for the peers closest to a key.
//   - Explore crawls the network from the routing table with kad-dht's
//     crawler and reports every node reached, with what identify says of it.
//
// NewAmino builds a second Service on the same host: the Amino DHT, the
// public IPFS DHT (/ipfs/kad/1.0.0), with kad-dht's Amino defaults and
// exactly the "pk" and "ipns" validators (kad-dht allows no other under
// /ipfs, so the Plexus DHT, which validates plexus records, cannot serve
// that prefix); its records live under AminoDatastoreNamespace. Combine joins the two
// into a Combined: providers are announced on both and looked up in both
// at once (each provider once), a value key goes to the DHTs whose
// validator knows its namespace (best value wins), peer lookups run in
// both, and the table, closest-peers lookups and the crawler stay the
// primary's.
//
// The Service implements go-libp2p's routing.ValueStore and
// routing.ContentRouting by delegation, which is what package records and
// the rendezvous of package discovery need.
//
// Protocols spoken: the Kademlia DHT protocol <prefix>/kad/1.0.0, and
// /ipfs/kad/1.0.0 for the Amino DHT (FIND_NODE, GET_VALUE, PUT_VALUE,
// ADD_PROVIDER, GET_PROVIDERS), by the DHT and by the crawler; identify (/ipfs/id/1.0.0, through the host) when the
// crawler connects to the nodes it found.
package routing
