package main

import (
	"fmt"
	"testing"

	"github.com/plexus-p2p/plexus/examples/internal/apptest"
	"github.com/plexus-p2p/plexus/internal/testnet"
)

// TestMain fails the run if an app leaves goroutines behind.
func TestMain(m *testing.M) { testnet.VerifyNoLeaks(m) }

// startChat starts a chat app on a new repo, on loopback, and returns it
// with its TCP address once it reads lines.
func startChat(t *testing.T, nick string, args ...string) (app *apptest.App, addr string) {
	t.Helper()
	app = apptest.Start(t, nick, run, append([]string{"--repo", t.TempDir(), "--profile", "local", "--nick", nick}, args...)...)
	app.Expect(`^Chat on Plexus: room lobby as ` + nick + `, peer \S+$`)
	addr = app.Expect(`^Listening on (/ip4/127\.0\.0\.1/tcp/\S+)$`)[1]
	app.Expect(`^Type a message`)
	return app, addr
}

// Two chat apps on loopback: bob joins alice's room through her address;
// they see each other arrive, exchange a message and a direct message,
// keep the session's history, refuse bad input on one line, and alice sees
// bob leave.
func TestChat(t *testing.T) {
	alice, addr := startChat(t, "alice")
	bob, _ := startChat(t, "bob", "--bootstrap", addr)
	// Each sees the other arrive: bob's "join", or his answer to alice's
	// (pub/sub validates messages in parallel, so two messages of one
	// author may arrive in either order).
	alice.Expect(`^\* bob (joined|is here)$`)
	bob.Expect(`^\* alice (joined|is here)$`)

	alice.Send("hello bob")
	alice.Expect(`^<alice> hello bob$`)
	bob.Expect(`^<alice> hello bob$`)
	bob.Send("hi alice")
	alice.Expect(`^<bob> hi alice$`)

	bob.Send("/dm alice just between us")
	bob.Expect(`^\[dm to alice\] just between us$`)
	alice.Expect(`^\[dm from bob\] just between us$`)

	bob.Send("/who")
	bob.Expect(`^in the room with you: 1$`)
	bob.Expect(`^  alice \S+$`)
	bob.Send("/history")
	bob.Expect(`^history: 4 lines$`)
	bob.Expect(`^\* alice (joined|is here)$`)
	bob.Expect(`^<alice> hello bob$`)
	bob.Expect(`^<bob> hi alice$`)
	bob.Expect(`^\[dm to alice\] just between us$`)

	for _, bad := range []struct{ line, want string }{
		{"/dm carol hi", `^error: no one called "carol" in the room \(/who lists them\)$`},
		{"/dm alice", `^error: /dm takes a nick \(or peer ID\) and a message: /dm NICK TEXT$`},
		{"/shout hi", `^error: unknown command "/shout" \(/help lists them\)$`},
	} {
		bob.Send(bad.line)
		bob.Expect(bad.want)
	}

	bob.Send("/quit")
	alice.Expect(`^\* bob left$`)
	if err := bob.Stop(); err != nil {
		t.Fatalf("bob: %v", err)
	}
}

// A nick the room could not print is refused before anything starts.
func TestChatRefusesABadNick(t *testing.T) {
	for _, nick := range []string{"", "two words", "\x1b[31mred"} {
		err := run(t.Context(), nil, nil, []string{"--repo", t.TempDir(), "--nick", nick})
		if err == nil || err.Error() != fmt.Sprintf("nick %q: want 1 to 32 printable characters without spaces", nick) {
			t.Errorf("nick %q: %v", nick, err)
		}
	}
}
