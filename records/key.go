package records

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/ipfs/boxo/ipns"
	"github.com/ipfs/go-cid"
	record "github.com/libp2p/go-libp2p-record"
	"github.com/libp2p/go-libp2p/core/peer"
	corerouting "github.com/libp2p/go-libp2p/core/routing"
	"github.com/multiformats/go-multihash"

	pname "github.com/plexus-p2p/plexus/internal/name"
)

// Namespace is the DHT record namespace of Plexus records: keys look like
// /plexus/<peerID>/<name>.
const Namespace = "plexus"

// MaxNameSize is the longest record name, in bytes.
const MaxNameSize = 200

// MaxProvideKeySize is the longest key accepted by Provide and FindProviders,
// in bytes.
const MaxProvideKeySize = 1024

// maxProviderHashSize is what kad-dht's ADD_PROVIDER and GET_PROVIDERS handlers
// accept as a multihash (they reject longer keys).
const maxProviderHashSize = 80

// Errors reported by this package. They are wrapped with the failing input;
// test with errors.Is.
var (
	// ErrNotFound: no valid record under the key was found.
	ErrNotFound = errors.New("record not found")
	// ErrInvalidKey: the key is not /plexus/<peerID>/<name>.
	ErrInvalidKey = errors.New("invalid record key")
	// ErrUnknownNamespace: the key's namespace is not "plexus" (or, for Get,
	// not one the DHT validates either).
	ErrUnknownNamespace = errors.New("unknown record namespace")
	// ErrInvalidName: the name breaks the rules of ValidateName.
	ErrInvalidName = errors.New("invalid record name")
	// ErrValueTooLarge: the value is over the size limit (DefaultMaxValueSize).
	ErrValueTooLarge = errors.New("record value too large")
	// ErrInvalidRecord: the bytes are not a well-formed record for the key.
	ErrInvalidRecord = errors.New("invalid record")
	// ErrBadSignature: the signature does not verify with the owner's key.
	ErrBadSignature = errors.New("bad record signature")
	// ErrNotOwner: the record is signed by a key other than the one of the peer
	// named in the record's key.
	ErrNotOwner = errors.New("record not signed by the key's owner")
	// ErrExpired: the record's EOL has passed.
	ErrExpired = errors.New("record expired")
	// ErrInvalidProvideKey: the key given to Provide or FindProviders is empty,
	// too long, or a CID whose multihash the DHT does not accept.
	ErrInvalidProvideKey = errors.New("invalid provide key")
	// ErrInvalidTTL: a record lifetime outside (0, MaxTTL].
	ErrInvalidTTL = errors.New("invalid record TTL")
)

// Key returns the DHT key of owner's record called name:
// "/plexus/<owner>/<name>". It does not check the name; see ValidateName.
func Key(owner peer.ID, name string) string {
	return "/" + Namespace + "/" + owner.String() + "/" + name
}

// ParseKey splits a key of the form /plexus/<peerID>/<name> into its owner and
// name. The peer ID must be in its canonical (base58) form, so that a record has
// exactly one key. It returns ErrInvalidKey, ErrUnknownNamespace or
// ErrInvalidName, wrapped with the key.
func ParseKey(key string) (owner peer.ID, name string, err error) {
	ns, rest, err := record.SplitKey(key)
	if err != nil {
		return "", "", fmt.Errorf("%w %q: want /%s/<peerID>/<name>", ErrInvalidKey, key, Namespace)
	}
	if ns != Namespace {
		return "", "", fmt.Errorf("%w %q in key %q: want /%s/<peerID>/<name>", ErrUnknownNamespace, ns, key, Namespace)
	}
	idStr, name, ok := strings.Cut(rest, "/")
	if !ok {
		return "", "", fmt.Errorf("%w %q: want /%s/<peerID>/<name>", ErrInvalidKey, key, Namespace)
	}
	owner, err = peer.Decode(idStr)
	if err != nil {
		return "", "", fmt.Errorf("%w %q: peer ID %q: %w", ErrInvalidKey, key, idStr, err)
	}
	if owner.String() != idStr {
		return "", "", fmt.Errorf("%w %q: peer ID %q is not in canonical form %s", ErrInvalidKey, key, idStr, owner)
	}
	if err := ValidateName(name); err != nil {
		return "", "", fmt.Errorf("key %q: %w", key, err)
	}
	return owner, name, nil
}

// OtherKey maps the printable key of a record in a namespace other than
// "plexus" to the key the DHT stores it under, the peer it belongs to, and
// the key's canonical printable form:
//   - /pk/<peer ID>: "/pk/" and the peer ID's bytes (routing.KeyForPublicKey),
//     printed with the peer ID in base58;
//   - /ipns/<name>, the name a peer ID or a CIDv1 libp2p-key: "/ipns/" and the
//     name's multihash bytes (ipns.Name.RoutingKey), printed as the CIDv1 in
//     base36, as IPNS prints names;
//   - any other namespace: the key itself, with no owner.
//
// The DHT's own binary forms of /pk/ and /ipns/ keys are accepted too. A
// malformed key is ErrInvalidKey, wrapped with it.
func OtherKey(key string) (dhtKey string, owner peer.ID, printable string, err error) {
	ns, rest, err := record.SplitKey(key)
	if err != nil {
		return "", "", "", fmt.Errorf("%w %q: want /<namespace>/<key>", ErrInvalidKey, key)
	}
	switch ns {
	case "pk", "ipns":
	default:
		return key, "", key, nil
	}
	id, err := peer.Decode(rest)
	if err != nil {
		var berr error
		if id, berr = peer.IDFromBytes([]byte(rest)); berr != nil {
			return "", "", "", fmt.Errorf("%w %q: %q is not a peer ID: %w", ErrInvalidKey, key, rest, err)
		}
	}
	if ns == "pk" {
		return corerouting.KeyForPublicKey(id), id, "/pk/" + id.String(), nil
	}
	name := ipns.NameFromPeer(id)
	return string(name.RoutingKey()), id, ipns.NamespacePrefix + name.String(), nil
}

// keyForms describes the keys of the namespaces nv validates besides
// "plexus", for errors: "/plexus/<peer ID>/<name>, /ipns/<name> or /pk/<peer ID>".
func keyForms(nv record.NamespacedValidator) string {
	forms := []string{"/" + Namespace + "/<peer ID>/<name>"}
	names := slices.Sorted(maps.Keys(nv))
	for _, ns := range names {
		switch ns {
		case Namespace:
		case "pk":
			forms = append(forms, "/pk/<peer ID>")
		case "ipns":
			forms = append(forms, "/ipns/<name>")
		default:
			forms = append(forms, "/"+ns+"/<key>")
		}
	}
	if len(forms) == 1 {
		return forms[0]
	}
	return strings.Join(forms[:len(forms)-1], ", ") + " or " + forms[len(forms)-1]
}

// ValidateName reports whether name is a valid record name, returning
// ErrInvalidName with the reason if not. The rules:
//   - the rule of every name a node shares (package internal/name): 1 to
//     MaxNameSize (200) bytes of valid UTF-8, only printable characters
//     (unicode.IsPrint: no control or format characters);
//   - no space, and no '/', since the name is the last segment of the key;
//   - not "." or "..", which are path elements to a datastore.
func ValidateName(name string) error {
	if err := pname.Check(name, MaxNameSize); err != nil {
		return fmt.Errorf("%w %.40q: %w", ErrInvalidName, name, err)
	}
	switch {
	case name == "." || name == "..":
		return fmt.Errorf("%w %q: reserved", ErrInvalidName, name)
	case strings.Contains(name, "/"):
		return fmt.Errorf("%w %q: contains '/'", ErrInvalidName, name)
	case strings.Contains(name, " "):
		return fmt.Errorf("%w %q: contains a space", ErrInvalidName, name)
	}
	return nil
}

// ProviderCID returns the CID that Provide and FindProviders use for key: the
// key itself when it parses as a CID, otherwise a CIDv1 with the raw codec and
// the SHA2-256 multihash of the key's bytes. The key must follow the rule of
// every name a node shares (package internal/name: printable UTF-8, no
// space at either end) and be at most MaxProvideKeySize bytes; otherwise
// the error wraps ErrInvalidProvideKey.
func ProviderCID(key string) (cid.Cid, error) {
	if err := pname.Check(key, MaxProvideKeySize); err != nil {
		return cid.Undef, fmt.Errorf("%w %.40q: %w", ErrInvalidProvideKey, key, err)
	}
	return keyCID(key)
}

// keyCID is ProviderCID without the name rule, for keys already stored
// (which an older version may have accepted under a looser rule).
func keyCID(key string) (cid.Cid, error) {
	if c, err := cid.Decode(key); err == nil {
		if len(c.Hash()) > maxProviderHashSize {
			return cid.Undef, fmt.Errorf("%w %q: multihash of %d bytes, the DHT accepts at most %d", ErrInvalidProvideKey, key, len(c.Hash()), maxProviderHashSize)
		}
		return c, nil
	}
	mh, err := multihash.Sum([]byte(key), multihash.SHA2_256, -1)
	if err != nil {
		return cid.Undef, fmt.Errorf("provide key %q: hash: %w", key, err)
	}
	return cid.NewCidV1(cid.Raw, mh), nil
}
