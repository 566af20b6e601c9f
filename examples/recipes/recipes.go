package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/plexus-p2p/plexus/examples/internal/console"
	"github.com/plexus-p2p/plexus/node"
)

// Recipe is one recipe; only Public ones are shown to other peers.
type Recipe struct {
	ID           int    `json:"id"`
	Name         string `json:"name"`
	Ingredients  string `json:"ingredients"`
	Instructions string `json:"instructions"`
	Public       bool   `json:"public"`
}

// String is the recipe as the app prints it, safe for the terminal.
func (r Recipe) String() string {
	return fmt.Sprintf("#%d %s | %s | %s", r.ID, printable(r.Name), printable(r.Ingredients), printable(r.Instructions))
}

// printable replaces control and format characters (terminal escape
// sequences, bidi overrides) that another peer may have sent with '?'.
func printable(s string) string {
	return strings.Map(func(r rune) rune { return map[bool]rune{true: r, false: '?'}[unicode.IsPrint(r)] }, s)
}

// announcement tells the topic that a recipe was made public or private.
type announcement struct {
	Action string `json:"action"` // "published" or "unpublished"
	Recipe Recipe `json:"recipe"`
}

// recipesKey is where my recipes are kept in the node's datastore (LevelDB
// in the repo): one JSON list, where the tutorial kept recipes.json.
var recipesKey = datastore.NewKey("/app/recipes")

func (a *app) load(ctx context.Context) (all []Recipe, err error) {
	b, err := a.n.Datastore().Get(ctx, recipesKey)
	if errors.Is(err, datastore.ErrNotFound) {
		return nil, nil
	} else if err == nil {
		err = json.Unmarshal(b, &all)
	}
	return all, err
}

// update applies f to my recipes and saves the result, synced.
func (a *app) update(ctx context.Context, f func(all []Recipe) ([]Recipe, error)) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	all, err := a.load(ctx)
	if err == nil {
		all, err = f(all)
	}
	if err != nil {
		return err
	}
	b, _ := json.Marshal(all) // a []Recipe always encodes
	if err := a.n.Datastore().Put(ctx, recipesKey, b); err != nil {
		return err
	}
	return a.n.Datastore().Sync(ctx, recipesKey)
}

// serveList answers a peer's list request ({}) with my public recipes.
func (a *app) serveList(ctx context.Context, _ peer.ID, _ struct{}) ([]Recipe, error) {
	all, err := a.load(ctx)
	return slices.DeleteFunc(all, func(r Recipe) bool { return !r.Public }), err
}

func (a *app) listPeers(string) error {
	peers := a.topic.Peers()
	slices.Sort(peers)
	a.con.Printf("peers running recipes: %d\n", len(peers))
	for _, p := range peers {
		a.con.Printf("  %s\n", p)
	}
	return nil
}

// listRecipes is "ls r": mine, the public ones of "all" peers, or of one.
func (a *app) listRecipes(arg string) error {
	switch arg {
	case "":
		all, err := a.load(a.ctx)
		a.con.Printf("my recipes: %d\n", len(all))
		for _, r := range all {
			a.con.Printf("  %s (%s)\n", r, map[bool]string{true: "public", false: "private"}[r.Public])
		}
		return err
	case "all":
		peers := a.topic.Peers()
		if len(peers) == 0 {
			return errors.New("no peers running recipes yet (\"ls p\" lists them)")
		}
		slices.Sort(peers)
		answers := make([]string, len(peers))
		var wg sync.WaitGroup
		for i, p := range peers {
			wg.Go(func() { answers[i] = a.fetch(p) })
		}
		wg.Wait()
		a.con.Printf("%s", strings.Join(answers, ""))
		return nil
	}
	p, err := node.ParsePeer(arg)
	if err == nil {
		a.con.Printf("%s", a.fetch(p))
	}
	return err
}

// fetch asks peer p for its public recipes over request/response.
func (a *app) fetch(p peer.ID) string {
	ctx, cancel := context.WithTimeout(a.ctx, requestTimeout)
	defer cancel()
	list, err := node.Request[struct{}, []Recipe](ctx, a.n, p, protocolID, struct{}{})
	if err != nil {
		return fmt.Sprintf("%s: error: %s\n", p, console.OneLine(err))
	}
	out := fmt.Sprintf("%s: public recipes: %d\n", p, len(list))
	for _, r := range list {
		out += fmt.Sprintf("  %s\n", r)
	}
	return out
}

// create is "create r NAME|INGREDIENTS|INSTRUCTIONS".
func (a *app) create(arg string) error {
	parts := strings.Split(arg, "|")
	if len(parts) != 3 {
		return fmt.Errorf("create r takes NAME|INGREDIENTS|INSTRUCTIONS, three parts separated by \"|\", not %d", len(parts))
	}
	for i, what := range []string{"NAME", "INGREDIENTS", "INSTRUCTIONS"} {
		if parts[i] = strings.TrimSpace(parts[i]); parts[i] == "" {
			return fmt.Errorf("create r: %s is empty", what)
		}
	}
	if len(arg) > maxRecipe {
		return fmt.Errorf("create r: a recipe is at most %d bytes, not %d", maxRecipe, len(arg))
	}
	r := Recipe{Name: parts[0], Ingredients: parts[1], Instructions: parts[2], ID: 1}
	err := a.update(a.ctx, func(all []Recipe) ([]Recipe, error) {
		if len(all) > 0 {
			r.ID = all[len(all)-1].ID + 1
		}
		return append(all, r), nil
	})
	if err == nil {
		a.con.Printf("created recipe %s (private: \"publish r %d\" shares it)\n", r, r.ID)
	}
	return err
}

// setPublic is "publish r ID" and "unpublish r ID": it saves the change,
// then announces it on the topic in the background.
func (a *app) setPublic(arg string, public bool) error {
	id, err := strconv.Atoi(arg)
	if err != nil || id < 1 {
		return fmt.Errorf("%q is not a recipe ID (\"ls r\" lists yours)", arg)
	}
	ann := announcement{Action: map[bool]string{true: "published", false: "unpublished"}[public]}
	err = a.update(a.ctx, func(all []Recipe) ([]Recipe, error) {
		i := slices.IndexFunc(all, func(r Recipe) bool { return r.ID == id })
		if i < 0 {
			return nil, fmt.Errorf("no recipe #%d (\"ls r\" lists yours)", id)
		}
		all[i].Public = public
		ann.Recipe = all[i]
		return all, nil
	})
	if err != nil {
		return err
	}
	a.con.Printf("%s recipe %s\n", ann.Action, ann.Recipe)
	a.wg.Go(func() {
		if _, err := a.topic.Publish(a.ctx, ann); err != nil && a.ctx.Err() == nil {
			a.con.Error(fmt.Errorf("announcing recipe #%d: %w", id, err))
		}
	})
	return nil
}

// receive prints the other peers' announcements until sub is closed.
func (a *app) receive(sub *node.TopicSubscription[announcement]) {
	for {
		m, err := sub.Next(a.ctx)
		if err != nil {
			return
		}
		if act := m.Value.Action; m.From != a.n.ID() && (act == "published" || act == "unpublished") {
			a.con.Printf("%s %s recipe %s\n", m.From, act, m.Value.Recipe)
		}
	}
}
