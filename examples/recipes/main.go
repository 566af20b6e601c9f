// Command recipes is a peer-to-peer recipe-sharing app built on the Plexus
// Go package: the recipe app of the LogRocket rust-libp2p tutorial, grown
// up for networks beyond one LAN. README.md beside this file walks through it.
//
//	go run ./examples/recipes --repo DIR [--bootstrap MULTIADDR] [--profile local]
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

	"github.com/chzyer/readline"

	"github.com/plexus-p2p/plexus/examples/internal/console"
	"github.com/plexus-p2p/plexus/node"
)

const (
	protocolID     = "/app/recipes/1.0.0" // request/response: list public recipes
	topicName      = "plexus/recipes"     // gossipsub announcements and DHT rendezvous
	requestTimeout = 10 * time.Second     // one listing, connection included
	readyTimeout   = 20 * time.Second     // the wait for a first peer at start
	maxRecipe      = 4 << 10              // bytes: a list of hundreds fits a response
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdin, os.Stdout, os.Args[1:]); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "recipes:", err)
		os.Exit(1)
	}
}

// app is one running recipe app.
type app struct {
	n     *node.Node
	topic *node.Topic[announcement]
	con   *console.Console
	ctx   context.Context // ends when the app stops
	wg    sync.WaitGroup  // announcements being sent or received
	mu    sync.Mutex      // serialises updates of my recipes
}

// run starts the app with the command-line arguments args, then runs the
// commands read from in until "quit", the end of in or the end of ctx.
func run(ctx context.Context, in io.Reader, out io.Writer, args []string) error {
	fs := flag.NewFlagSet("recipes", flag.ContinueOnError)
	fs.SetOutput(out)
	repo := fs.String("repo", "", "directory of the app's node: identity, config, datastore (created on first run)")
	profile := fs.String("profile", os.Getenv("PLEXUS_PROFILE"), `"default", or "local": loopback only, no mDNS`)
	var boot []string
	fs.Func("bootstrap", "a peer to join the network through, a full multiaddr (repeatable)", func(s string) error { boot = append(boot, s); return nil })
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *repo == "" || fs.NArg() > 0 {
		return errors.New("usage: recipes --repo DIR [--bootstrap MULTIADDR] [--profile local]")
	}
	// The node logs to a file in the repo: the terminal is the app's.
	n, err := node.OpenRepo(ctx, node.RepoOptions{Path: *repo, Profile: *profile, Bootstrap: boot, LogFile: "recipes.log"})
	if err != nil {
		return err
	}
	defer n.Close()
	if err := n.Start(ctx); err != nil {
		return err
	}
	actx, cancel := context.WithCancel(ctx)
	a := &app{n: n, ctx: actx}
	defer a.wg.Wait()
	defer cancel()
	a.con = console.New(in, out, console.Options{Prompt: "recipes> ",
		History: filepath.Join(*repo, "recipes.history"), Complete: a.completer()})
	defer a.con.Close()
	a.con.Printf("Recipes on Plexus: peer %s\n", n.ID())
	for _, addr := range n.Info().Addrs {
		a.con.Printf("Listening on %s\n", addr)
	}

	// Join the topic once the node has a peer, so that its DHT rendezvous
	// advertisement reaches the network at once.
	wctx, wcancel := context.WithTimeout(ctx, readyTimeout)
	if err := n.WaitReady(wctx); err != nil {
		a.con.Printf("No peer answered yet: still looking in the background.\n")
	}
	wcancel()
	if err := node.Handle(n, protocolID, a.serveList); err != nil {
		return err
	}
	if a.topic, err = node.JoinTopic[announcement](n, topicName); err != nil {
		return err
	}
	sub, err := a.topic.Subscribe()
	if err != nil {
		return err
	}
	defer sub.Close()
	a.wg.Go(func() { a.receive(sub) })
	a.con.Printf("Type \"help\" for the commands.\n")

	lines := a.con.Lines(actx.Done())
	for {
		select {
		case <-ctx.Done():
			return nil
		case line, ok := <-lines:
			if !ok || !a.exec(line) {
				return nil
			}
		}
	}
}

// commands are the app's commands: a line is "name" or "name argument".
var commands = []struct {
	name, args, help string
	run              func(a *app, arg string) error
}{
	{"ls p", "", "list the peers running the app", (*app).listPeers},
	{"ls r", "[all|PEER]", "list my recipes, or the public ones of every peer, or of one", (*app).listRecipes},
	{"create r", "NAME|INGREDIENTS|INSTRUCTIONS", "create a private recipe", (*app).create},
	{"publish r", "ID", "make my recipe ID public and announce it", func(a *app, id string) error { return a.setPublic(id, true) }},
	{"unpublish r", "ID", "make my recipe ID private again", func(a *app, id string) error { return a.setPublic(id, false) }},
	{"help", "", "show this help", nil},
	{"quit", "", "leave", nil},
}

// exec runs one command line and reports whether the app goes on.
func (a *app) exec(line string) bool {
	line = strings.Join(strings.Fields(line), " ")
	for _, c := range commands {
		arg, ok := strings.CutPrefix(line, c.name)
		switch {
		case line == "" || !ok || (arg != "" && arg[0] != ' '):
			continue
		case c.name == "quit":
			return false
		case c.name == "help":
			for _, c := range commands {
				a.con.Printf("  %-40s %s\n", strings.TrimSpace(c.name+" "+c.args), c.help)
			}
		default:
			if err := c.run(a, strings.TrimSpace(arg)); err != nil {
				a.con.Error(err)
			}
		}
		return true
	}
	if line != "" {
		a.con.Printf("error: unknown command %q (type \"help\")\n", line)
	}
	return true
}

// completer completes the commands and, after "ls r", the app's peers.
func (a *app) completer() readline.AutoCompleter {
	peers := readline.PcItemDynamic(func(string) []string {
		out := []string{"all"}
		for _, p := range a.topic.Peers() {
			out = append(out, p.String())
		}
		return out
	})
	return readline.NewPrefixCompleter(readline.PcItem("ls", readline.PcItem("p"), readline.PcItem("r", peers)),
		readline.PcItem("create", readline.PcItem("r")), readline.PcItem("publish", readline.PcItem("r")),
		readline.PcItem("unpublish", readline.PcItem("r")), readline.PcItem("help"), readline.PcItem("quit"))
}
