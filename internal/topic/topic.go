// Package topic holds the one rule for topic names, shared by pub/sub topics
// (package pubsub) and DHT rendezvous namespaces (package discovery), so that
// every topic pub/sub accepts can also be advertised and looked up through
// rendezvous.
//
// go-libp2p-pubsub's discovery hook advertises a topic under the rendezvous
// namespace PubSubNamespacePrefix+topic; MaxPubSubLen leaves room for it.
package topic

import (
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"
)

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

// Check reports why name is not a topic name of at most maxLen bytes, or nil
// if it is one: it must be non-empty, valid UTF-8, and printable
// (unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the
// ASCII space; no control characters, no format characters such as
// bidirectional overrides, no other spaces). The error does not name the
// topic; callers wrap it with the topic and their own sentinel.
func Check(name string, maxLen int) error {
	switch {
	case name == "":
		return errors.New("empty")
	case len(name) > maxLen:
		return fmt.Errorf("%d bytes, at most %d", len(name), maxLen)
	case !utf8.ValidString(name):
		return errors.New("not valid UTF-8")
	}
	for i, r := range name {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("unprintable character %U at byte %d", r, i)
		}
	}
	return nil
}
