// Package topic holds the length limits of topic names, shared by pub/sub
// topics (package pubsub) and DHT rendezvous namespaces (package discovery),
// so that every topic pub/sub accepts can also be advertised and looked up
// through rendezvous. The characters a topic may hold are the rule of
// package name, the same for every name a node shares.
//
// go-libp2p-pubsub's discovery hook advertises a topic under the rendezvous
// namespace PubSubNamespacePrefix+topic; MaxPubSubLen leaves room for it.
package topic

const (
	// MaxLen is the longest rendezvous namespace, in bytes.
	MaxLen = 256
	// PubSubNamespacePrefix is what go-libp2p-pubsub (v0.19, discovery.go)
	// puts before a topic name to make the rendezvous namespace it
	// advertises and looks up.
	PubSubNamespacePrefix = "floodsub:"
	// MaxPubSubLen is the longest pub/sub topic name, in bytes: its
	// rendezvous namespace is then at most MaxLen bytes.
	MaxPubSubLen = MaxLen - len(PubSubNamespacePrefix)
)
