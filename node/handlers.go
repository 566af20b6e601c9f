package node

import (
	"context"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// HTTPHandlersNamespace holds the HTTP handler registrations (protocol and
// URL), so that a restarted node serves them again (issue 20 row 11).
//
// Why persisted rather than announced: an HTTP handler is a URL of a local
// service that normally outlives a daemon restart (an upgrade, a crash, a
// reboot with both as services). Apps cannot be expected to watch for the
// restart: one that only registered at its own start would stay
// unreachable with no error anywhere. Go handlers (Messaging().Handle) live
// in the process that registered them and are not persisted. A handler is
// forgotten by RemoveHandler (plexus handlers rm), not by a restart.
const HTTPHandlersNamespace = "/plexus/messaging/http-handlers"

type storedHandler struct {
	Protocol protocol.ID `json:"protocol"`
	URL      string      `json:"url"`
}

var handlerKeyEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

func handlerKey(proto protocol.ID) datastore.Key {
	return datastore.NewKey(HTTPHandlersNamespace).ChildString(handlerKeyEncoding.EncodeToString([]byte(proto)))
}

// AddHTTPHandler serves proto by forwarding each request to a local http(s)
// URL (see messaging.Service.HandleHTTP). The registration is kept in the
// datastore: the node serves it again after a restart, until RemoveHandler.
func (n *Node) AddHTTPHandler(proto protocol.ID, url string) error {
	n.handlersMu.Lock()
	defer n.handlersMu.Unlock()
	if err := n.msg.HandleHTTP(proto, url); err != nil {
		return err
	}
	var stored string
	for _, h := range n.msg.Handlers() {
		if h.Protocol == proto {
			stored = h.URL // as HandleHTTP normalised it
		}
	}
	v, err := json.Marshal(storedHandler{Protocol: proto, URL: stored})
	if err == nil {
		err = n.ds.Put(n.ctx, handlerKey(proto), v)
	}
	if err == nil {
		err = n.ds.Sync(n.ctx, datastore.NewKey(HTTPHandlersNamespace))
	}
	if err != nil {
		n.msg.Unhandle(proto)
		return fmt.Errorf("handle %q: save the registration: %w", proto, err)
	}
	return nil
}

// RemoveHandler stops serving proto and forgets a saved HTTP registration.
func (n *Node) RemoveHandler(proto protocol.ID) error {
	n.handlersMu.Lock()
	defer n.handlersMu.Unlock()
	if err := n.msg.Unhandle(proto); err != nil {
		return err
	}
	if err := n.ds.Delete(n.ctx, handlerKey(proto)); err != nil {
		return fmt.Errorf("unhandle %q: forget the saved registration: %w", proto, err)
	}
	return nil
}

// restoreHTTPHandlers registers the saved HTTP handlers again. One that no
// longer registers (its protocol outside a changed messaging prefix) is
// logged and kept, so that it comes back with the old prefix.
func (n *Node) restoreHTTPHandlers(ctx context.Context) error {
	res, err := n.ds.Query(ctx, query.Query{Prefix: HTTPHandlersNamespace})
	if err != nil {
		return fmt.Errorf("restore HTTP handlers: %w", err)
	}
	defer res.Close()
	restored := 0
	for r := range res.Next() {
		if r.Error != nil {
			return fmt.Errorf("restore HTTP handlers: %w", r.Error)
		}
		var h storedHandler
		if err := json.Unmarshal(r.Value, &h); err != nil {
			n.log.Warn("skipping an unreadable saved HTTP handler", "key", r.Key, "err", err)
			continue
		}
		if err := n.msg.HandleHTTP(h.Protocol, h.URL); err != nil {
			n.log.Warn("cannot restore a saved HTTP handler", "protocol", h.Protocol, "url", h.URL, "err", errors.Unwrap(err))
			continue
		}
		restored++
	}
	if restored > 0 {
		n.log.Info("restored saved HTTP handlers", "count", restored)
	}
	return nil
}
