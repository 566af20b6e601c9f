package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/plexus-p2p/plexus/api/wire"
)

// The dashboard's browser tests: the real daemon serves /ui/ and a real
// headless Chromium (Debian's chromium, installed by scripts/install-deps.sh)
// uses it as a person would, driven by chromedp. Each page is saved as a
// screenshot in the test's artifact directory (go test -artifacts keeps
// them; see t.ArtifactDir).

const (
	dashAdminPW  = "dashboard admin password"
	dashViewerPW = "dashboard viewer password"
)

// chromiumPath finds the browser; the test fails, saying how to install
// it, when there is none (as the interop suite does: a dashboard test that
// skips would pass make test having checked nothing).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("Debian's chromium is not installed: run make deps (scripts/install-deps.sh, as root or with password-less sudo) for the dashboard's browser tests")
	return ""
}

// browser starts a fresh headless Chromium (its own empty profile) and
// returns a chromedp context bound to one tab, at 1280x800.
func browser(t *testing.T) context.Context {
	t.Helper()
	// chromedp's defaults (headless, no first run, no background
	// networking, no sync, ...) and the flags a sandboxless CI needs.
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(1280, 800)); err != nil { // starts the browser
		t.Fatalf("start chromium: %v", err)
	}
	return bctx
}

// ui runs browser actions, each step bounded, and fails the test naming the
// step with a screenshot of what the page showed.
type ui struct {
	t    *testing.T
	ctx  context.Context
	dir  string // screenshots
	shot int
}

// watchConsole collects what the page reports on the console that is a
// problem of the page itself: an uncaught exception or rejection, an error
// it logs, a Content-Security-Policy violation. (A failed request, such as
// the 401 of a wrong password, is the browser's network log, not counted.)
func watchConsole(t *testing.T, bctx context.Context) func() []string {
	ctx, cancel := context.WithCancel(bctx)
	msgs := chromedp.Console(ctx)
	var (
		mu       sync.Mutex
		problems []string
		done     = make(chan struct{})
	)
	go func() {
		defer close(done)
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.IsException() || m.Source == "security" || strings.Contains(m.Text, "Content Security Policy") ||
				(m.Type == chromedp.ConsoleError && m.Source != "network") {
				mu.Lock()
				problems = append(problems, fmt.Sprintf("%s (%s:%d, source %q)", m, m.URL, m.Line, m.Source))
				mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(problems)
	}
}

// css selects the first element matching a CSS selector.
func css(sel string) chromedp.CSS { return chromedp.CSS(sel) }

func (u *ui) run(step string, actions ...chromedp.Action[chromedp.Void]) {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(u.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		path := u.screenshot("failed-" + strings.ReplaceAll(step, " ", "-"))
		bctx, cancel := context.WithTimeout(u.ctx, 5*time.Second)
		defer cancel()
		body, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.body.innerText`))
		u.t.Fatalf("%s: %v\nscreenshot: %s\npage text: %s", step, err, path, body)
	}
}

// screenshot saves the viewport as <dir>/NN-name.png and returns its path.
func (u *ui) screenshot(name string) string {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(u.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		u.t.Logf("screenshot %s: %v", name, err)
		return ""
	}
	u.shot++
	path := filepath.Join(u.dir, fmt.Sprintf("%02d-%s.png", u.shot, name))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		u.t.Fatal(err)
	}
	return path
}

// eval evaluates a JavaScript expression (awaiting a promise) in the page.
func eval[T any](u *ui, what, expr string) T {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(u.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		u.t.Fatalf("%s: %v (screenshot %s)", what, err, u.screenshot("failed-"+strings.ReplaceAll(what, " ", "-")))
	}
	return v
}

// waitText waits until the element sel contains want.
func waitText(sel, want string) chromedp.Action[chromedp.Void] {
	return poll(fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && e.offsetParent !== null && e.textContent.includes(%q); })()`, sel, want))
}

// pressEnter presses Enter in the input sel, submitting its form.
func pressEnter(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.SendKeys(css(sel), kb.Enter)
}

// typeInto replaces the value of the input sel as typing would: the
// input's "input" event follows.
func typeInto(sel, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(chromedp.Focus(css(sel)), chromedp.SetValue(css(sel), value),
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).dispatchEvent(new Event("input", {bubbles: true}))`, sel)))
}

// poll waits until the expression is true.
func poll(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(0))
}

// absent checks that no element matches sel.
func (u *ui) absent(what, sel string) {
	u.t.Helper()
	if n := eval[int](u, "count "+sel, fmt.Sprintf(`document.querySelectorAll(%q).length`, sel)); n != 0 {
		u.t.Fatalf("%s: %d elements match %s, want none (screenshot %s)", what, n, sel, u.screenshot("unexpected-"+what))
	}
}

func (u *ui) login(base, name, password string) {
	u.t.Helper()
	u.run("open the login page "+name,
		chromedp.Navigate(base+"/ui/"),
		chromedp.WaitVisible(css("#login-form")),
		chromedp.SetValue(css("#login-user"), name),
		chromedp.SetValue(css("#login-pass"), password),
		chromedp.Click(css("#login-submit")),
		chromedp.WaitVisible(css("#app")),
	)
}

func (u *ui) page(name string) {
	u.t.Helper()
	u.run("open the "+name+" page", chromedp.Click(css(`#nav a[data-page="`+name+`"]`)),
		chromedp.WaitVisible(css(`#nav a[data-page="`+name+`"][aria-current="page"]`)))
}

// tabTo moves the focus with the Tab key alone until it is on the element
// sel (at most 40 presses: more would be a page no one can use with the
// keyboard), then presses Enter there.
func (u *ui) tabTo(what, sel string) {
	u.t.Helper()
	focused := fmt.Sprintf(`document.activeElement === document.querySelector(%q)`, sel)
	for range 40 {
		if eval[bool](u, "read the focus", focused) {
			u.run("press Enter on "+what, chromedp.KeyEvent(kb.Enter))
			return
		}
		u.run("press Tab towards "+what, chromedp.KeyEvent(kb.Tab))
	}
	u.t.Fatalf("40 presses of Tab never reached %s (%s); the focus is on %s (screenshot %s)", what, sel,
		eval[string](u, "read the focus", `document.activeElement ? document.activeElement.outerHTML.slice(0, 120) : "nothing"`),
		u.screenshot("tab-to-"+strings.ReplaceAll(what, " ", "-")))
}

// progressBar is what a person sees of a <progress> element.
type progressBar struct {
	Shown    bool    `json:"shown"`
	Max      float64 `json:"max"`
	Value    float64 `json:"value"`
	Position float64 `json:"position"` // value/max; -1 while indeterminate (a moving bar)
}

func (u *ui) progressBar(sel string) progressBar {
	u.t.Helper()
	return eval[progressBar](u, "read the progress bar "+sel, fmt.Sprintf(`(() => { const p = document.querySelector(%q);
		return p ? { shown: !p.hidden && p.offsetParent !== null, max: p.max, value: p.value, position: p.position } : { shown: false }; })()`, sel))
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func TestDashboard(t *testing.T) {
	bctx := browser(t)
	u := &ui{t: t, ctx: bctx, dir: t.ArtifactDir()}
	problems := watchConsole(t, bctx)
	t.Logf("screenshots in %s", u.dir)

	root := t.TempDir()
	repoA, repoB := filepath.Join(root, "a"), filepath.Join(root, "b")
	ok(t, repoA, "init")
	ok(t, repoB, "init")
	okStdin(t, repoA, dashAdminPW+"\n", nil, "users", "add", "alice", "--role", "admin")
	okStdin(t, repoA, dashViewerPW+"\n", nil, "users", "add", "victor", "--role", "viewer")
	apiA := freePort(t)
	a := startDaemon(t, repoA, "--api-listen", apiA)
	base := "http://" + apiA
	var idA wire.ID
	okJSON(t, repoA, &idA, "id")

	// Not logged in: the login page, nothing else.
	u.run("the login page comes first", chromedp.Navigate(base+"/ui/"), chromedp.WaitVisible(css("#login-form")))
	u.absent("no dashboard before login", "#app:not([hidden])")
	u.screenshot("login")
	u.run("a wrong password is refused",
		chromedp.SetValue(css("#login-user"), "alice"),
		chromedp.SetValue(css("#login-pass"), "not the password"),
		chromedp.Click(css("#login-submit")),
		waitText("#login-error", "Wrong user name or password"))

	// Overview: the node's peer ID, addresses, version, the NAT doctor.
	u.login(base, "alice", dashAdminPW)
	u.run("the overview shows the peer ID", waitText("#peer-id", idA.PeerID), waitText("#addrs", idA.Addrs[0]),
		waitText("#reachability", ""), waitText("#version", ""), chromedp.WaitVisible(css("#bw-chart canvas")),
		waitText("#nat-punch", "birthday punch 0/0"))
	u.screenshot("overview")

	// Peers: a second node appears without a reload.
	u.page("peers")
	u.run("no peers yet", waitText("#peer-count", "(0 connected"))
	startDaemon(t, repoB)
	var idB wire.ID
	okJSON(t, repoB, &idB, "id")
	ok(t, repoB, "connect", idA.Addrs[0])
	u.run("node B appears on Peers", chromedp.WaitVisible(css(`tr[data-key^="`+idB.PeerID+`"]`)), waitText("#peer-count", "(1 connected"))
	u.run("filter the peers", typeInto("#peer-filter", "no-such-agent"), waitText("#peers-table", "Nothing matches the filter"),
		typeInto("#peer-filter", "plexus"),
		chromedp.WaitVisible(css(`tr[data-key^="`+idB.PeerID+`"]`)))
	u.screenshot("peers")

	// Pub/sub: watch a topic, publish from the dashboard and from node B;
	// both messages arrive in the live view.
	u.page("pubsub")
	u.run("watch a topic", chromedp.SetValue(css("#watch-topic"), "dash-chat"),
		pressEnter("#watch-topic"), waitText("#watching", "Watching dash-chat"),
		waitText("#topics", "dash-chat"))
	ok(t, repoB, "pubsub", "join", "dash-chat")
	u.run("publish from the dashboard",
		chromedp.SetValue(css("#publish-topic"), "dash-chat"),
		chromedp.SetValue(css("#publish-message"), "hello from the dashboard"),
		chromedp.Click(css("#publish-submit")),
		waitText("#messages", "hello from the dashboard"), waitText("#publish-result", "Published on dash-chat to 1 peer"))
	ok(t, repoB, "pubsub", "pub", "dash-chat", "hello from node B")
	u.run("node B's message arrives", waitText("#messages", "hello from node B"))
	// Node B is the only topic peer, so the fastest: the mesh latency
	// preference gives it +2 (its topic score adds a little; without the
	// preference it would be about 0.05) and it is not out of the mesh.
	u.run("node B scores the fastest peer's bonus", poll(fmt.Sprintf(`(() => {
		const r = document.querySelector('#scores tr[data-key="%s"]');
		return !!r && parseFloat(r.children[1].textContent) >= 2 && r.children[3].textContent === "";
	})()`, idB.PeerID)))
	u.screenshot("pubsub")

	// Network: the crawl drawn as a graph, the routing table's buckets.
	u.page("network")
	u.run("crawl the network", chromedp.Click(css("#explore-run")), waitText("#explore-result", "2 nodes, 2 reachable"),
		chromedp.WaitVisible(css("#graph canvas")), waitText("#graph-legend", "plexus/"))
	u.screenshot("network")

	// Records: put one, see it listed, get it back.
	u.page("records")
	u.run("put a record", chromedp.SetValue(css("#put-name"), "greeting"),
		chromedp.SetValue(css("#put-value"), "hello, records"), pressEnter("#put-name"),
		waitText("main", "/plexus/"+idA.PeerID+"/greeting"))
	u.run("get it back", chromedp.SetValue(css("#get-key"), "/plexus/"+idA.PeerID+"/greeting"),
		pressEnter("#get-key"), waitText("#get-result .record-value", "hello, records"))
	u.screenshot("records")

	// Back on the overview: the peer counted, the bandwidth chart drawn
	// from the samples taken since login.
	u.page("overview")
	u.run("the overview counts the peer", waitText("#conn-count", "1"), chromedp.WaitVisible(css("#bw-chart canvas")))
	u.screenshot("overview-live")

	// Files.
	u.page("files")
	uploaded := testDashboardFiles(t, u, repoB)

	// Events: live, filterable.
	u.page("events")
	u.run("events are listed", waitText("#event-rows", "peer.connected"))
	u.run("filter events", typeInto("#event-filter", "pubsub."), waitText("#event-rows", "pubsub.joined"))
	shown := eval[[]string](u, "read the filtered events", `[...document.querySelectorAll("#event-rows tr")].map(r => r.dataset.type)`)
	for _, typ := range shown {
		if !strings.HasPrefix(typ, "pubsub.") {
			t.Fatalf("filter pubsub. shows a %s event", typ)
		}
	}
	u.screenshot("events")

	// Users (an admin): the list and the add form.
	u.page("users")
	u.run("users are listed", waitText("main table", "victor"), waitText("main table", "alice"))
	u.run("add a user", chromedp.SetValue(css("#user-name"), "Carol"), chromedp.SetValue(css("#user-pass"), "carol's long password"),
		pressEnter("#user-pass"), waitText("main table", "carol"))
	u.screenshot("users")

	// The phone width: every page, with what it shows, no wider than the
	// screen (wide tables scroll inside their card).
	u.run("phone width", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulateTouch))
	for _, pg := range []struct {
		name  string
		shown []chromedp.Action[chromedp.Void] // the page's data is on it
	}{
		{"overview", []chromedp.Action[chromedp.Void]{waitText("#peer-id", idA.PeerID), chromedp.WaitVisible(css("#bw-chart canvas")), waitText("#nat-punch", "hole punching")}},
		{"peers", []chromedp.Action[chromedp.Void]{chromedp.WaitVisible(css(`tr[data-key^="` + idB.PeerID + `"]`))}},
		{"network", []chromedp.Action[chromedp.Void]{waitText("#table-size", "Bucket = "), chromedp.Click(css("#explore-run")),
			waitText("#explore-result", "2 nodes"), chromedp.WaitVisible(css("#graph canvas"))}},
		{"pubsub", []chromedp.Action[chromedp.Void]{waitText("#topics", "dash-chat")}},
		{"records", []chromedp.Action[chromedp.Void]{waitText("main table", "/plexus/"+idA.PeerID+"/greeting")}},
		{"files", []chromedp.Action[chromedp.Void]{chromedp.WaitVisible(css("#upload-form")), waitText("main table", "Download")}},
		{"events", []chromedp.Action[chromedp.Void]{waitText("#event-rows", "peer.connected")}},
		{"users", []chromedp.Action[chromedp.Void]{waitText("main table", "carol")}},
	} {
		u.page(pg.name)
		u.run("the "+pg.name+" page at phone width", pg.shown...)
		overflow := eval[bool](u, "measure the width", `document.documentElement.scrollWidth > window.innerWidth + 1`)
		u.screenshot(pg.name + "-phone")
		if overflow {
			t.Fatalf("at 390 px the %s page is wider than the screen (%d px)", pg.name,
				eval[int](u, "measure the width", `document.documentElement.scrollWidth`))
		}
	}
	u.run("desktop width", chromedp.EmulateViewport(1280, 800))

	// Logout: back to the login page, and the session is gone.
	u.run("log out", chromedp.Click(css("#logout")), chromedp.WaitVisible(css("#login-form")),
		waitText("#login-error", "logged out"))
	u.run("reload after logout", chromedp.Navigate(base+"/ui/#/peers"), chromedp.WaitVisible(css("#login-form")))

	// A viewer, logging in with the keyboard alone (type, Tab, type,
	// Enter): no Users page, no controls that would fail.
	u.run("log in with the keyboard", chromedp.Evaluate[chromedp.Void](`document.querySelector("#login-user").value = ""`), chromedp.SendKeys(css("#login-user"), "victor\t"+dashViewerPW+kb.Enter),
		chromedp.WaitVisible(css("#app")))
	u.run("the viewer lands on the page of the address", waitText("#whoami", "victor (viewer)"),
		chromedp.WaitVisible(css(`#nav a[data-page="peers"][aria-current="page"]`)))

	// The navigation with the keyboard alone: Tab to Records, Enter.
	u.tabTo("the Records link", `#nav a[data-page="records"]`)
	u.run("the keyboard opened Records", chromedp.WaitVisible(css(`#nav a[data-page="records"][aria-current="page"]`)),
		waitText("main h2", "Records"), chromedp.WaitVisible(css("#get-key")))

	// Records for a viewer: the records and getting one, no put.
	u.run("viewer sees the records", waitText("main table", "/plexus/"+idA.PeerID+"/greeting"))
	u.run("viewer gets a record", chromedp.Click(css(`main table button[aria-label$="/greeting"]`)),
		waitText("#get-result .record-value", "hello, records"))
	u.absent("viewer cannot put a record", "#put-name, #put-value, #put-ttl")
	u.screenshot("viewer-records")

	// Files for a viewer: the pins and their downloads; no add, fetch
	// (it stores blocks), pin or unpin.
	u.page("files")
	u.run("viewer sees the pins", waitText("main table", uploaded))
	if got := eval[string](u, "viewer downloads a pin", fmt.Sprintf(
		`fetch([...document.querySelectorAll("main table tr")].find(r => r.textContent.includes(%q)).querySelector("a[download]").href).then(r => r.text())`, uploaded)); got != dashFileContent {
		t.Fatalf("the viewer downloaded %q, want %q", got, dashFileContent)
	}
	u.absent("viewer cannot add, fetch, pin or unpin", "#upload-form, #upload-file, #fetch-cid, #fetch-submit, #fetch-pin, main button.danger")
	u.absent("viewer has no controls but the sort headers", "main button:not(th button), main input, main select, main textarea")
	u.screenshot("viewer-files")

	u.page("overview")
	u.run("viewer overview", waitText("#peer-id", idA.PeerID))
	u.absent("viewer sees no Users link", `#nav a[data-page="users"]:not([hidden])`)
	u.run("viewer types #/users", chromedp.Navigate(base+"/ui/#/users"), chromedp.WaitVisible(css(`#nav a[data-page="overview"][aria-current="page"]`)))
	u.absent("viewer sees no user list", "#user-form")
	u.page("pubsub")
	u.run("viewer sees topics", waitText("#topics", "dash-chat"))
	u.absent("viewer cannot publish", "#publish-form")
	u.absent("viewer cannot join or leave", "#join-form, #topics button.danger")
	u.screenshot("viewer-pubsub")
	u.page("peers")
	u.run("viewer sees peers", chromedp.WaitVisible(css(`tr[data-key^="`+idB.PeerID+`"]`)))
	u.absent("viewer cannot connect or disconnect", "#connect-form, main button.danger")

	// Until now the pages threw nothing, logged no error of their own and
	// broke no rule of the Content-Security-Policy.
	if p := problems(); len(p) > 0 {
		t.Fatalf("the pages reported problems:\n%s", strings.Join(p, "\n"))
	}

	// The daemon stops: a visible error; it comes back on the same address:
	// the page reconnects by itself (the session survives in the datastore).
	a.stop(t)
	u.run("the daemon stopping shows an error", waitText("#banner", "daemon"), chromedp.WaitVisible(css("#live.off")))
	u.screenshot("daemon-stopped")
	startDaemon(t, repoA, "--api-listen", apiA)
	u.run("the dashboard reconnects", chromedp.WaitNotVisible(css("#banner")), chromedp.WaitVisible(css("#live.on")),
		waitText("#whoami", "victor"))
}

// dashFileContent is the file the dashboard uploads.
const dashFileContent = "hello from the dashboard's file test\n"

// testDashboardFiles uploads a small file through the page and downloads
// it, then fetches by CID a file that node B added and downloads that. It
// returns the CID of the upload.
func testDashboardFiles(t *testing.T, u *ui, repoB string) string {
	t.Helper()
	u.run("the files page", chromedp.WaitVisible(css("#upload-form")), chromedp.WaitVisible(css("#fetch-cid")))
	content := dashFileContent
	file := filepath.Join(t.TempDir(), "hello.txt")
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	u.run("upload a file", chromedp.SetUploadFiles(css("#upload-file"), []string{file}),
		chromedp.Click(css("#upload-submit")), chromedp.WaitVisible(css("#added-cid")))
	cid := eval[string](u, "read the CID", `document.querySelector("#added-cid").textContent`)
	// The upload's bar ends full, measured in the file's bytes, next to its size.
	if p := u.progressBar("#upload-progress"); !p.Shown || p.Max != float64(len(content)) || p.Value != p.Max || p.Position != 1 {
		t.Fatalf("after the upload the progress bar is %+v, want shown and full at %d bytes (screenshot %s)", p, len(content), u.screenshot("upload-progress"))
	}
	u.run("the upload's size is shown", waitText("#upload-result", fmt.Sprintf("(%d B, 1 block)", len(content))))
	u.run("the upload is pinned", waitText("main table", cid))
	if got := eval[string](u, "download the upload", `fetch(document.querySelector("#upload-result a").href).then(r => r.text())`); got != content {
		t.Fatalf("downloaded %q, uploaded %q", got, content)
	}

	// Node B adds a file; the dashboard of node A fetches it by its CID.
	const fromB = "a file that node B added\n"
	fileB := filepath.Join(t.TempDir(), "from-b.txt")
	if err := os.WriteFile(fileB, []byte(fromB), 0o644); err != nil {
		t.Fatal(err)
	}
	cidB := strings.TrimSpace(ok(t, repoB, "add", "-q", fileB))
	u.run("fetch node B's file", chromedp.SetValue(css("#fetch-cid"), cidB), chromedp.Click(css("#fetch-submit")),
		waitText("#fetch-result", "Fetched "+cidB), chromedp.WaitVisible(css("#download-link")))
	// The fetch's bar ends full (not the moving bar of an unknown size),
	// and the result says what came: the file's bytes, from node B.
	if p := u.progressBar("#fetch-progress"); !p.Shown || p.Position != 1 {
		t.Fatalf("after the fetch the progress bar is %+v, want shown and full (screenshot %s)", p, u.screenshot("fetch-progress"))
	}
	u.run("the fetch's size is shown", waitText("#fetch-result", fmt.Sprintf("Fetched %s: %d B in 1 block from 1 peer ", cidB, len(fromB))))
	if got := eval[string](u, "download node B's file", `fetch(document.querySelector("#download-link").href).then(r => r.text())`); got != fromB {
		t.Fatalf("downloaded %q, node B added %q", got, fromB)
	}
	u.run("pin node B's file", chromedp.Click(css("#fetch-pin")), waitText("main table", cidB))
	u.screenshot("files")
	return cid
}
