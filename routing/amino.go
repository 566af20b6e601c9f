package routing

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/ipfs/boxo/ipns"
	"github.com/libp2p/go-libp2p-kad-dht/amino"
	record "github.com/libp2p/go-libp2p-record"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// The Amino DHT is the public IPFS DHT: Kubo, Helia, js-libp2p and
// go-libp2p nodes speak it as /ipfs/kad/1.0.0.
const (
	// AminoPrefix is the protocol prefix of the Amino DHT, "/ipfs".
	AminoPrefix protocol.ID = amino.ProtocolPrefix
	// AminoProtocol is the Kademlia protocol of the Amino DHT,
	// /ipfs/kad/1.0.0.
	AminoProtocol protocol.ID = amino.ProtocolID
	// AminoDatastoreNamespace is where the Amino DHT keeps its records in
	// the datastore given with WithDatastore, apart from the Plexus DHT's
	// (DatastoreNamespace): the two DHTs store different record sets.
	AminoDatastoreNamespace = "/amino"
)

// AminoValidator returns the record validators of the Amino DHT: exactly
// "pk" (record.PublicKeyValidator) and "ipns" (ipns.Validator with kb,
// usually the host's peerstore), the set kad-dht requires under the /ipfs
// prefix and every Amino node applies. Plexus records ("plexus") are not
// among them: the Amino DHT neither stores nor returns them.
func AminoValidator(kb peerstore.KeyBook) record.NamespacedValidator {
	return record.NamespacedValidator{
		"pk":   record.PublicKeyValidator{},
		"ipns": ipns.Validator{KeyBook: kb},
	}
}

// ErrAminoFixed: NewAmino was given WithProtocolPrefix or WithValidator,
// which the Amino DHT fixes.
var ErrAminoFixed = errors.New("the Amino DHT's protocol prefix (/ipfs) and record validators (pk, ipns) are fixed")

// NewAmino builds the Amino DHT of host h, as a second DHT next to the one
// New builds, the way Kubo runs it: protocol /ipfs/kad/1.0.0, kad-dht's
// Amino defaults (bucket size 20, values and providers on) and the record
// validators of AminoValidator, nothing else. It takes the options of New
// except WithProtocolPrefix and WithValidator(s), which answer an error
// wrapping ErrAminoFixed. Its records go in the datastore under
// AminoDatastoreNamespace. Give it its bootstrap peers with
// WithBootstrapPeers (the public network's are in package config); without
// any it learns Amino peers only from the host's connections to peers that
// speak /ipfs/kad/1.0.0.
//
// As for New, call it before the host connects to anyone. The node gives
// it no publisher: the routing.peer_added and routing.peer_removed events
// describe the Plexus DHT's table.
func NewAmino(h host.Host, opts ...Option) (*Service, error) {
	if h == nil {
		return nil, errors.New("routing: a host is required")
	}
	cfg := defaultConfig()
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, fmt.Errorf("amino routing option: %w", err)
		}
	}
	if cfg.prefixSet || cfg.validatorsSet {
		return nil, fmt.Errorf("amino routing option: %w", ErrAminoFixed)
	}
	cfg.prefix = AminoPrefix
	cfg.validators = AminoValidator(h.Peerstore())
	log := cfg.logger
	if log == nil {
		log = slog.Default().With(slog.String("component", "routing"), slog.String("dht", "amino"))
	}
	s, err := start(h, cfg, log, AminoDatastoreNamespace)
	if err != nil {
		return nil, err
	}
	s.amino = true
	return s, nil
}
