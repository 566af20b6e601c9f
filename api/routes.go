package api

import (
	"net/http"

	"github.com/plexus-p2p/plexus/api/wire"
)

// route is one line of the route table. in and out are zero values of the
// request body and answer types (in is nil for routes without a body);
// query lists the query parameters, "name?" when optional. The OpenAPI
// description is generated from this table.
type route struct {
	pattern string
	handler http.HandlerFunc
	summary string
	in, out any
	query   []string
}

// sse marks a route that answers a Server-Sent Events stream of events of
// the given type.
type sse struct{ event any }

// routes is the route table, one line each. Every route checks the role
// that routeAccess gives it: viewer for GET, admin for every other method,
// except the lines of accessExceptions below. /healthz (outside the table)
// and the login route need no credentials.
func (s *Server) routes() []route {
	return []route{
		// The node.
		{"GET /v1/id", s.getID, "Describe this node", nil, wire.ID{}, nil},
		{"GET /v1/version", s.getVersion, "The daemon's version, commit, Go and go-libp2p versions", nil, wire.Version{}, nil},
		{"GET /v1/peers", s.getPeers, "List open connections", nil, []wire.Peer{}, nil},
		{"POST /v1/connect", s.postConnect, "Connect to a peer", wire.ConnectRequest{}, wire.ConnectResult{}, nil},
		{"POST /v1/disconnect", s.postDisconnect, "Close every connection to a peer", wire.DisconnectRequest{}, wire.DisconnectResult{}, nil},
		{"POST /v1/ping", s.postPing, "Measure round trips to a peer", wire.PingRequest{}, wire.PingResult{}, nil},
		{"GET /v1/events", s.getEvents, "Follow the node's events", nil, sse{wire.Event{}}, []string{"types?"}},
		{"POST /v1/shutdown", s.postShutdown, "Stop the daemon", nil, status{202, wire.Status{}}, nil},
		{"GET /v1/openapi.json", s.getOpenAPI, "This description", nil, map[string]any{}, nil},
		{"GET /metrics", s.metrics, "Prometheus metrics (text exposition)", nil, "", nil},
		// Discovery.
		{"GET /v1/peers/known", s.getKnownPeers, "Every peer the node knows", nil, []wire.KnownPeer{}, nil},
		// Access: the peer allowlist and denylist.
		{"GET /v1/peers/acl", s.getACL, "The peer allowlist and denylist", nil, wire.ACL{}, nil},
		{"POST /v1/peers/allow", s.postAllow, "Put a peer on the allowlist (an active allowlist admits only its peers)", wire.ACLRequest{}, wire.ACLChange{}, nil},
		{"POST /v1/peers/deny", s.postDeny, "Put a peer on the denylist and disconnect it", wire.ACLRequest{}, wire.ACLChange{}, nil},
		{"DELETE /v1/peers/acl", s.deleteACL, "Take a peer off the allowlist or denylist", nil, wire.ACLChange{}, []string{"peer"}},
		{"GET /v1/bootstrap", s.getBootstrap, "State of each bootstrap peer", nil, []wire.BootstrapStatus{}, nil},
		{"POST /v1/discover/join", s.postDiscoverJoin, "Advertise under a rendezvous topic", wire.TopicRequest{}, wire.TopicRequest{}, nil},
		{"POST /v1/discover/leave", s.postDiscoverLeave, "Stop advertising a rendezvous topic", wire.TopicRequest{}, wire.TopicRequest{}, nil},
		{"GET /v1/discover/peers", s.getDiscoverPeers, "Find the peers of a rendezvous topic", nil, wire.RendezvousPeers{}, []string{"topic"}},
		{"GET /v1/discover/topics", s.getDiscoverTopics, "Joined rendezvous topics", nil, []string{}, nil},
		// Routing (the Kademlia DHT).
		{"GET /v1/dht/table", s.getDHTTable, "Routing table by bucket", nil, []wire.RoutingEntry{}, nil},
		{"GET /v1/dht/status", s.getDHTStatus, "The node's DHTs (Plexus, and Amino when on): protocol, mode, routing-table size", nil, wire.DHTStatus{}, nil},
		{"GET /v1/dht/findpeer", s.getDHTFindPeer, "Find a peer's addresses", nil, wire.FoundPeer{}, []string{"peer"}},
		{"GET /v1/dht/closest", s.getDHTClosest, "The K closest peers to a key", nil, wire.ClosestPeers{}, []string{"key"}},
		{"GET /v1/explore", s.getExplore, "Crawl the network", nil, progressed{wire.ExploreReport{}, wire.ExploreProgress{}}, nil},
		// Records.
		{"POST /v1/dht/put", s.postDHTPut, "Publish a signed record", wire.PutRequest{}, wire.Record{}, nil},
		{"GET /v1/dht/get", s.getDHTGet, "Fetch and verify a record", nil, wire.Record{}, []string{"key"}},
		{"GET /v1/dht/records", s.getDHTRecords, "This node's own records", nil, []wire.Record{}, nil},
		{"POST /v1/dht/provide", s.postDHTProvide, "Announce this node as a provider of a key", wire.KeyRequest{}, wire.ProvideResult{}, nil},
		{"GET /v1/dht/provided", s.getDHTProvided, "Keys this node provides", nil, []wire.Provision{}, nil},
		{"GET /v1/dht/findprovs", s.getDHTFindProvs, "Find providers of a key", nil, []wire.Provider{}, []string{"key", "count?"}},
		// Perf.
		{"POST /v1/perf", s.postPerf, "Measure throughput to a peer", wire.PerfRequest{}, progressed{wire.PerfResult{}, wire.PerfProgress{}}, nil},
		// Pub/sub.
		{"POST /v1/pubsub/publish", s.postPublish, "Publish a message (joining the topic)", wire.PublishRequest{}, wire.PublishResult{}, nil},
		{"POST /v1/pubsub/join", s.postPubSubJoin, "Join a topic", wire.TopicRequest{}, wire.TopicRequest{}, nil},
		{"POST /v1/pubsub/leave", s.postPubSubLeave, "Leave a topic", wire.TopicRequest{}, wire.TopicRequest{}, nil},
		{"GET /v1/pubsub/topics", s.getPubSubTopics, "Joined topics", nil, []wire.TopicInfo{}, nil},
		{"GET /v1/pubsub/peers", s.getPubSubPeers, "Connected peers subscribed to a topic", nil, []string{}, []string{"topic"}},
		{"GET /v1/pubsub/scores", s.getPubSubScores, "Peers' pub/sub scores and rate-limited messages, lowest score first", nil, []wire.PubSubPeerScore{}, nil},
		{"GET /v1/pubsub/subscribe", s.getPubSubSubscribe, "Follow a topic's messages", nil, sse{wire.Message{}}, []string{"topic"}},
		// Request/response.
		{"POST /v1/send", s.postSend, "Send a request to a peer's protocol", wire.SendRequest{}, wire.SendResult{}, nil},
		{"GET /v1/handlers", s.getHandlers, "Registered protocol handlers", nil, []wire.Handler{}, nil},
		{"POST /v1/handlers", s.postHandlers, "Forward a protocol to a local URL", wire.HandlerRequest{}, status{201, wire.HandlerRequest{}}, nil},
		{"DELETE /v1/handlers", s.deleteHandlers, "Stop serving a protocol", nil, wire.HandlerRequest{}, []string{"protocol"}},
		// NAT traversal.
		{"GET /v1/nat", s.getNAT, "The connectivity doctor's report: reachability, NAT behaviour, relays, hole punching, advice", nil, wire.NATStatus{}, nil},
		// Accounts: sessions, users, API tokens.
		{"POST /v1/auth/login", s.postLogin, "Log in: sets the session cookie, answers the CSRF token", wire.LoginRequest{}, wire.LoginResult{}, nil},
		{"POST /v1/auth/logout", s.postLogout, "End this session", nil, wire.Status{}, nil},
		{"GET /v1/auth/me", s.getMe, "Who this request acts as", nil, wire.Me{}, nil},
		{"POST /v1/auth/register", s.postRegister, "Create an account (open registration: a viewer)", wire.RegisterRequest{}, status{201, wire.User{}}, nil},
		{"POST /v1/auth/password", s.postChangePassword, "Change your own password (revokes your sessions and tokens)", wire.ChangePasswordRequest{}, wire.Status{}, nil},
		{"GET /v1/users", s.getUsers, "List users", nil, []wire.User{}, nil},
		{"POST /v1/users", s.postUsers, "Add a user", wire.RegisterRequest{}, status{201, wire.User{}}, nil},
		{"DELETE /v1/users", s.deleteUsers, "Delete a user (revokes their sessions and tokens)", nil, wire.UserRef{}, []string{"name"}},
		{"POST /v1/users/password", s.postUserPassword, "Set a user's password (revokes their sessions and tokens)", wire.SetPasswordRequest{}, wire.UserRef{}, nil},
		{"POST /v1/users/role", s.postUserRole, "Set a user's role", wire.SetRoleRequest{}, wire.User{}, nil},
		{"GET /v1/tokens", s.getTokens, "Your API tokens (an admin: everyone's)", nil, []wire.Token{}, nil},
		{"POST /v1/tokens", s.postTokens, "Create an API token (its secret is shown once)", wire.TokenRequest{}, status{201, wire.NewToken{}}, nil},
		{"DELETE /v1/tokens", s.deleteTokens, "Revoke an API token (yours; an admin: anyone's)", nil, wire.Token{}, []string{"id"}},
		// Tunnels.
		{"GET /v1/tunnels", s.getTunnels, "Open tunnels with their connections and bytes", nil, []wire.Tunnel{}, nil},
		{"POST /v1/tunnels/expose", s.postTunnelExpose, "Serve a local TCP address to allowed peers under a /x/ protocol", wire.ExposeRequest{}, status{201, wire.Tunnel{}}, nil},
		{"POST /v1/tunnels/forward", s.postTunnelForward, "Carry a local TCP listener's connections to a peer's exposed protocol", wire.ForwardRequest{}, status{201, wire.Tunnel{}}, nil},
		{"DELETE /v1/tunnels", s.deleteTunnel, "Close a tunnel and the connections it carries", nil, wire.Tunnel{}, []string{"id"}},
	}
}

// accessExceptions are the routes whose role is not the one their method
// implies (GET: viewer; POST, PUT, DELETE: admin).
var accessExceptions = map[string]access{
	"POST /v1/auth/login":    accessPublic,       // no credentials: it hands them out (rate-limited)
	"POST /v1/auth/register": accessRegistration, // anyone when api.registration = "open", else an admin
	"POST /v1/auth/logout":   accessViewer,       // self-service: ends the caller's own session
	"POST /v1/auth/password": accessViewer,       // self-service: the caller's own password, given the current one
	"POST /v1/tokens":        accessViewer,       // self-service: a token of the caller, never above the caller's role
	"DELETE /v1/tokens":      accessViewer,       // self-service: the caller's own tokens (an admin: anyone's)
	"GET /v1/users":          accessAdmin,        // user management
}
