package main

import (
	"regexp"
	"slices"
	"strconv"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/plexus-p2p/plexus/examples/internal/apptest"
	"github.com/plexus-p2p/plexus/internal/testnet"
)

// TestMain fails the run if an app leaves goroutines behind.
func TestMain(m *testing.M) { testnet.VerifyNoLeaks(m) }

// startApp starts a recipe app on repo, on loopback, and returns it with
// its peer ID and TCP address once it reads commands.
func startApp(t *testing.T, name, repo string, args ...string) (app *apptest.App, id, addr string) {
	t.Helper()
	app = apptest.Start(t, name, run, append([]string{"--repo", repo, "--profile", "local"}, args...)...)
	id = app.Expect(`^Recipes on Plexus: peer (\S+)$`)[1]
	addr = app.Expect(`^Listening on (/ip4/127\.0\.0\.1/tcp/\S+)$`)[1]
	app.Expect(`^Type "help" for the commands\.$`)
	return app, id, addr
}

// waitPeers types "ls p" until the app lists at least n peers running it.
func waitPeers(t *testing.T, app *apptest.App, n int) {
	t.Helper()
	testnet.Eventually(t, apptest.Timeout, func() bool {
		app.Send("ls p")
		got, _ := strconv.Atoi(app.Expect(`^peers running recipes: (\d+)$`)[1])
		return got >= n
	}, "fewer than %d peers running recipes:\n%s", n, testnet.Lazy(app.Output))
}

// Three apps on loopback: A creates and publishes a recipe, B and C see
// the announcement and list it with "ls r all" and "ls r PEER"; bad input
// gets a one-line error and the apps go on; A restarted on its repo keeps
// its recipes and its identity, rejoins B and C, and unpublishes.
func TestRecipes(t *testing.T) {
	repoA := t.TempDir()
	a, idA, addrA := startApp(t, "A", repoA)
	b, _, _ := startApp(t, "B", t.TempDir(), "--bootstrap", addrA)

	c, idC, _ := startApp(t, "C", t.TempDir(), "--bootstrap", addrA)
	for _, app := range []*apptest.App{a, b, c} {
		waitPeers(t, app, 2)
	}
	const pancakes = `#1 Pancakes \| flour, eggs, milk \| Mix and fry\.`

	a.Send("create r Pancakes | flour, eggs, milk | Mix and fry.")
	a.Expect(`^created recipe ` + pancakes + ` \(private: "publish r 1" shares it\)$`)
	b.Send("ls r " + idA)
	b.Expect(`^` + idA + `: public recipes: 0$`) // private recipes are not listed

	a.Send("publish r 1")
	a.Expect(`^published recipe ` + pancakes + `$`)
	b.Expect(`^` + idA + ` published recipe ` + pancakes + `$`)
	c.Expect(`^` + idA + ` published recipe ` + pancakes + `$`)

	// ls r all asks every peer running the app, and prints them by peer ID.
	b.Send("ls r all")
	others := []string{idA, idC}
	slices.Sort(others)
	for _, id := range others {
		if id == idA {
			b.Expect(`^` + idA + `: public recipes: 1$`)
			b.Expect(`^  ` + pancakes + `$`)
		} else {
			b.Expect(`^` + idC + `: public recipes: 0$`)
		}
	}
	c.Send("ls r " + idA)
	c.Expect(`^` + idA + `: public recipes: 1$`)
	c.Expect(`^  ` + pancakes + `$`)

	// Bad input: one line each, and the apps keep running.
	unknown, err := peer.IDFromPrivateKey(testnet.NewKey(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct {
		app        *apptest.App
		line, want string
	}{
		{a, "create r Soup", `^error: create r takes NAME\|INGREDIENTS\|INSTRUCTIONS, three parts separated by "\|", not 1$`},
		{a, "create r Soup | | Boil.", `^error: create r: INGREDIENTS is empty$`},
		{a, "publish r 7", `^error: no recipe #7 \("ls r" lists yours\)$`},
		{a, "unpublish r seven", `^error: "seven" is not a recipe ID \("ls r" lists yours\)$`},
		{b, "ls r not-a-peer", `^error: invalid argument: invalid peer ID "not-a-peer": `},
		{b, "ls r " + unknown.String(), `^` + unknown.String() + `: error: .*` + unknown.String()},
		{c, "ls recipes", `^error: unknown command "ls recipes" \(type "help"\)$`},
	} {
		bad.app.Send(bad.line)
		bad.app.Expect(bad.want)
	}
	b.Send("ls r")
	b.Expect(`^my recipes: 0$`)

	// A restarts on its repo: same peer, same recipe, still public, and it
	// finds B and C again through the peers it remembers.
	if err := a.Stop(); err != nil {
		t.Fatalf("A: %v", err)
	}
	a2 := apptest.Start(t, "A again", run, "--repo", repoA, "--profile", "local")
	a2.Expect(`^Recipes on Plexus: peer ` + regexp.QuoteMeta(idA) + `$`)
	a2.Send("ls r")
	a2.Expect(`^my recipes: 1$`)
	a2.Expect(`^  ` + pancakes + ` \(public\)$`)
	waitPeers(t, a2, 2)
	a2.Send("unpublish r 1")
	a2.Expect(`^unpublished recipe ` + pancakes + `$`)
	b.Expect(`^` + idA + ` unpublished recipe ` + pancakes + `$`)
	c.Send("ls r " + idA)
	c.Expect(`^` + idA + `: public recipes: 0$`)
	a2.Send("create r Soup | water, salt | Boil.")
	a2.Expect(`^created recipe #2 Soup`)
}
