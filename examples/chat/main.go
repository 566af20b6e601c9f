// Command chat is a terminal chat room on the Plexus Go package: a
// gossipsub topic per room, nicknames, join and leave notices, the history
// of the session, and direct messages over request/response. The peers of
// a room find each other through mDNS on a LAN and, across networks,
// through the node's bootstrap peers and the DHT rendezvous of the room's
// topic; relays and hole punching connect those behind NATs.
//
//	go run ./examples/chat --repo DIR --nick NAME [--room NAME] [--bootstrap MULTIADDR] [--profile local]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/chzyer/readline"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/plexus-p2p/plexus/examples/internal/console"
	"github.com/plexus-p2p/plexus/node"
)

const (
	dmProtocol   = "/app/chat/dm/1.0.0" // request/response: one direct message
	topicPrefix  = "plexus/chat/"       // + room name: the room's gossipsub topic
	sendTimeout  = 10 * time.Second     // a direct message, connection included
	readyTimeout = 20 * time.Second     // the wait for a first peer at start
	maxNick      = 32                   // bytes
	maxText      = 4 << 10              // bytes of one message
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdin, os.Stdout, os.Args[1:]); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "chat:", err)
		os.Exit(1)
	}
}

// message is what the room's topic carries.
type message struct {
	Kind string `json:"kind"` // "join", "here" (an answer to a join), "msg" or "leave"
	Nick string `json:"nick"`
	Text string `json:"text,omitempty"`
}

// direct is a direct message; the answer is an empty object.
type direct struct {
	Nick string `json:"nick"`
	Text string `json:"text"`
}

// chat is one running chat app.
type chat struct {
	n      *node.Node
	nick   string
	topic  *node.Topic[message]
	con    *console.Console
	ctx    context.Context    // ends when the app stops
	outbox chan message       // messages to publish, in order
	wg     sync.WaitGroup     // the sender and the receiver
	mu     sync.Mutex         // guards nicks and history
	nicks  map[peer.ID]string // the nick each peer last used
	log    []string           // the session's history
}

// run starts the chat with the command-line arguments args, then sends the
// lines read from in until "/quit", the end of in or the end of ctx.
func run(ctx context.Context, in io.Reader, out io.Writer, args []string) error {
	fs := flag.NewFlagSet("chat", flag.ContinueOnError)
	fs.SetOutput(out)
	repo := fs.String("repo", "", "directory of the app's node: identity, config, datastore (created on first run)")
	nick := fs.String("nick", "", "your nickname in the room")
	room := fs.String("room", "lobby", "the room to join")
	profile := fs.String("profile", os.Getenv("PLEXUS_PROFILE"), `"default", or "local": loopback only, no mDNS`)
	var boot []string
	fs.Func("bootstrap", "a peer to join the network through, a full multiaddr (repeatable)", func(s string) error { boot = append(boot, s); return nil })
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *repo == "" || fs.NArg() > 0 {
		return errors.New("usage: chat --repo DIR --nick NAME [--room NAME] [--bootstrap MULTIADDR] [--profile local]")
	}
	if err := checkNick(*nick); err != nil {
		return err
	}
	// The node logs to a file in the repo: the terminal is the app's.
	n, err := node.OpenRepo(ctx, node.RepoOptions{Path: *repo, Profile: *profile, Bootstrap: boot, LogFile: "chat.log"})
	if err != nil {
		return err
	}
	defer n.Close()
	if err := n.Start(ctx); err != nil {
		return err
	}
	actx, cancel := context.WithCancel(ctx)
	c := &chat{n: n, nick: *nick, ctx: actx, outbox: make(chan message, 64), nicks: map[peer.ID]string{}}
	defer c.wg.Wait()
	defer cancel()
	c.con = console.New(in, out, console.Options{Prompt: *nick + "> ",
		History: filepath.Join(*repo, "chat.history"), Complete: c.completer(), Erase: true})
	defer c.con.Close()
	c.con.Printf("Chat on Plexus: room %s as %s, peer %s\n", *room, *nick, n.ID())
	for _, addr := range n.Info().Addrs {
		c.con.Printf("Listening on %s\n", addr)
	}

	wctx, wcancel := context.WithTimeout(ctx, readyTimeout)
	if err := n.WaitReady(wctx); err != nil {
		c.con.Printf("No peer answered yet: still looking in the background.\n")
	}
	wcancel()
	if err := node.Handle(n, dmProtocol, c.receiveDirect); err != nil {
		return err
	}
	if c.topic, err = node.JoinTopic[message](n, topicPrefix+*room); err != nil {
		return err
	}
	sub, err := c.topic.Subscribe()
	if err != nil {
		return err
	}
	defer sub.Close()
	c.post(message{Kind: "join", Nick: c.nick}) // first in the outbox, before any "here"
	c.wg.Go(func() { c.receive(sub) })
	c.wg.Go(c.send)
	c.con.Printf("Type a message and Enter to send it to the room; /help lists the commands.\n")

	lines := c.con.Lines(actx.Done())
	for {
		select {
		case <-ctx.Done():
			return nil
		case line, ok := <-lines:
			if !ok || !c.exec(line) {
				c.leave()
				return nil
			}
		}
	}
}

// exec runs one line: a command, or a message for the room. It reports
// whether the app goes on.
func (c *chat) exec(line string) bool {
	line = strings.TrimSpace(line)
	cmd, arg, _ := strings.Cut(line, " ")
	switch {
	case line == "":
	case cmd == "/quit":
		return false
	case cmd == "/help":
		c.con.Printf("  TEXT              send TEXT to the room\n  /dm NICK|PEER TEXT  send TEXT to one peer only\n" +
			"  /who              list the peers in the room\n  /history          show this session's messages\n  /quit             leave\n")
	case cmd == "/who":
		peers := c.topic.Peers()
		c.con.Printf("in the room with you: %d\n", len(peers))
		for _, p := range peers {
			c.con.Printf("  %s %s\n", c.nickOf(p, "?"), p)
		}
	case cmd == "/history":
		c.mu.Lock()
		c.con.Printf("history: %d lines\n", len(c.log))
		for _, line := range c.log {
			c.con.Printf("%s\n", line)
		}
		c.mu.Unlock()
	case cmd == "/dm":
		if err := c.sendDirect(arg); err != nil {
			c.con.Error(err)
		}
	case strings.HasPrefix(line, "/"):
		c.con.Printf("error: unknown command %q (/help lists them)\n", cmd)
	case len(line) > maxText:
		c.con.Printf("error: a message is at most %d bytes, not %d\n", maxText, len(line))
	default:
		c.show("<%s> %s", c.nick, line)
		c.post(message{Kind: "msg", Nick: c.nick, Text: line})
	}
	return true
}

// show prints a line of the conversation and keeps it in the history.
func (c *chat) show(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	c.mu.Lock()
	c.log = append(c.log, line)
	c.mu.Unlock()
	c.con.Printf("%s\n", line)
}

// post queues m for the room.
func (c *chat) post(m message) {
	select {
	case c.outbox <- m:
	case <-c.ctx.Done():
	}
}

// send publishes the outbox in order, each message once the topic has a
// peer (or after the node's publish wait), until the app stops.
func (c *chat) send() {
	for {
		select {
		case <-c.ctx.Done():
			return
		case m := <-c.outbox:
			if _, err := c.topic.Publish(c.ctx, m); err != nil && c.ctx.Err() == nil {
				c.con.Error(fmt.Errorf("sending to the room: %w", err))
			}
		}
	}
}

// leave tells the room, waiting a little for the message to go out (also
// when the app stops on a signal).
func (c *chat) leave() {
	if len(c.topic.Peers()) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx), 2*time.Second)
	defer cancel()
	c.topic.Publish(ctx, message{Kind: "leave", Nick: c.nick})
}

// receive shows the room's messages until sub is closed.
func (c *chat) receive(sub *node.TopicSubscription[message]) {
	for {
		m, err := sub.Next(c.ctx)
		if err != nil {
			return
		}
		if m.From == c.n.ID() {
			continue
		}
		// A join published while its author was alone goes out when a
		// first peer appears, so it may come after that peer's "here".
		nick, known := c.learn(m.From, m.Value.Nick)
		switch m.Value.Kind {
		case "join":
			c.post(message{Kind: "here", Nick: c.nick}) // so that the newcomer learns our nick
			if !known {
				c.show("* %s joined", nick)
			}
		case "here":
			if !known {
				c.show("* %s is here", nick)
			}
		case "leave":
			c.show("* %s left", nick)
			c.mu.Lock()
			delete(c.nicks, m.From)
			c.mu.Unlock()
		case "msg":
			c.show("<%s> %s", nick, printable(m.Value.Text))
		}
	}
}

// receiveDirect shows a direct message from peer from.
func (c *chat) receiveDirect(_ context.Context, from peer.ID, dm direct) (struct{}, error) {
	nick, _ := c.learn(from, dm.Nick)
	c.show("[dm from %s] %s", nick, printable(dm.Text))
	return struct{}{}, nil
}

// sendDirect is "/dm NICK|PEER TEXT".
func (c *chat) sendDirect(arg string) error {
	to, text, _ := strings.Cut(arg, " ")
	if text = strings.TrimSpace(text); to == "" || text == "" {
		return errors.New("/dm takes a nick (or peer ID) and a message: /dm NICK TEXT")
	}
	p, err := c.resolve(to)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.ctx, sendTimeout)
	defer cancel()
	if _, err := node.Request[direct, struct{}](ctx, c.n, p, dmProtocol, direct{Nick: c.nick, Text: text}); err != nil {
		return fmt.Errorf("direct message to %s: %w", to, err)
	}
	c.show("[dm to %s] %s", c.nickOf(p, to), text)
	return nil
}

// resolve finds the peer of a nick, or parses a peer ID.
func (c *chat) resolve(to string) (peer.ID, error) {
	c.mu.Lock()
	var found []peer.ID
	for p, nick := range c.nicks {
		if nick == to {
			found = append(found, p)
		}
	}
	c.mu.Unlock()
	switch {
	case len(found) == 1:
		return found[0], nil
	case len(found) > 1:
		return "", fmt.Errorf("%d peers are called %q: use a peer ID (/who lists them)", len(found), to)
	}
	if p, err := peer.Decode(to); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("no one called %q in the room (/who lists them)", to)
}

// learn records the nick peer p uses and returns it, made safe to print,
// and whether p had that nick already.
func (c *chat) learn(p peer.ID, nick string) (string, bool) {
	if checkNick(nick) != nil {
		nick = p.String()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	known := c.nicks[p] == nick
	c.nicks[p] = nick
	return nick, known
}

func (c *chat) nickOf(p peer.ID, unknown string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if nick, ok := c.nicks[p]; ok {
		return nick
	}
	return unknown
}

// checkNick accepts 1 to maxNick printable characters without spaces.
func checkNick(nick string) error {
	if nick == "" || len(nick) > maxNick || !utf8.ValidString(nick) ||
		strings.IndexFunc(nick, func(r rune) bool { return !unicode.IsPrint(r) || unicode.IsSpace(r) }) >= 0 {
		return fmt.Errorf("nick %q: want 1 to %d printable characters without spaces", nick, maxNick)
	}
	return nil
}

// printable replaces control and format characters (terminal escape
// sequences, bidi overrides) that another peer may have sent with '?'.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return '?'
	}, s)
}

// completer completes the commands and, after /dm, the nicks in the room.
func (c *chat) completer() readline.AutoCompleter {
	nicks := readline.PcItemDynamic(func(string) (out []string) {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, nick := range c.nicks {
			out = append(out, nick)
		}
		return out
	})
	return readline.NewPrefixCompleter(readline.PcItem("/dm", nicks), readline.PcItem("/who"),
		readline.PcItem("/history"), readline.PcItem("/help"), readline.PcItem("/quit"))
}
