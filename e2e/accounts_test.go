package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plexus-p2p/plexus/api/wire"
)

// plexusStdin runs the CLI with stdin (not a terminal) and extra environment.
func plexusStdin(t *testing.T, repo, stdin string, extraEnv []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, append([]string{"--repo", repo}, args...)...)
	cmd.Env = env(extraEnv...)
	cmd.Stdin = strings.NewReader(stdin)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run plexus %v: %v", args, err)
	}
	return result{so.String(), se.String(), code}
}

func okStdin(t *testing.T, repo, stdin string, extraEnv []string, args ...string) string {
	t.Helper()
	r := plexusStdin(t, repo, stdin, extraEnv, args...)
	if r.code != 0 {
		t.Fatalf("plexus %v: exit %d\nstdout: %s\nstderr: %s", args, r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

func failsStdin(t *testing.T, repo, stdin string, extraEnv []string, want string, args ...string) {
	t.Helper()
	r := plexusStdin(t, repo, stdin, extraEnv, args...)
	if r.code == 0 || !strings.Contains(r.stderr, want) {
		t.Fatalf("plexus %v: exit %d, stderr %q; want a failure naming %q", args, r.code, r.stderr, want)
	}
}

// httpDo sends one request to the daemon's API and returns the response
// with its body read.
func httpDo(t *testing.T, method, url, body string, hdr map[string]string, cookies ...*http.Cookie) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// Accounts through the CLI against a real daemon: the first admin added
// before the daemon starts (the repo's datastore opened directly), users
// and tokens through the API while it runs, a browser-style login with the
// session cookie and the CSRF token, roles, revocation by a password
// change, and the accounts still there after the daemon stopped.
func TestAccounts(t *testing.T) {
	repo := filepath.Join(t.TempDir(), "node")
	ok(t, repo, "init")
	const alicePW, bobPW = "correct horse battery staple", "bob's long password"

	// No daemon: the CLI opens the repo itself.
	if out := okStdin(t, repo, alicePW+"\n", nil, "users", "add", "Alice", "--role", "admin"); !strings.Contains(out, "added user alice (admin)") {
		t.Fatalf("users add: %q", out)
	}
	failsStdin(t, repo, "short\n", nil, "shorter than 8 characters", "users", "add", "bob")
	failsStdin(t, repo, "", nil, "no password", "users", "add", "bob")
	failsStdin(t, repo, alicePW+"\n", nil, "already exists", "users", "add", "ALICE")
	failsStdin(t, repo, alicePW+"\n", nil, "invalid username", "users", "add", "bad name")
	failsStdin(t, repo, alicePW+"\n", nil, "invalid role", "users", "add", "carol", "--role", "root")

	d := startDaemon(t, repo)
	okStdin(t, repo, bobPW+"\r\nignored second line\n", nil, "users", "add", "bob") // through the API now
	var users []wire.User
	okJSON(t, repo, &users, "users", "ls")
	if len(users) != 2 || users[0].Username != "alice" || users[0].Role != "admin" || users[1].Username != "bob" || users[1].Role != "viewer" {
		t.Fatalf("users: %+v", users)
	}

	// Tokens: the repo's api.token names the owner.
	fails(t, repo, "username", "tokens", "create")
	fails(t, repo, "--expires", "tokens", "create", "--user", "bob", "--expires", "-1h")
	fails(t, repo, "outside", "tokens", "create", "--user", "bob", "--expires", "1s")
	r := plexus(t, repo, "tokens", "create", "--user", "bob", "--name", "ci")
	bobToken := strings.TrimSpace(r.stdout)
	if r.code != 0 || !strings.HasPrefix(bobToken, "plx_") || !strings.Contains(r.stderr, "not shown again") {
		t.Fatalf("tokens create: %+v", r)
	}
	asBob := []string{"PLEXUS_TOKEN=" + bobToken}
	var id wire.ID
	if err := json.Unmarshal([]byte(okStdin(t, repo, "", asBob, "id", "--json")), &id); err != nil || id.PeerID == "" {
		t.Fatalf("id as bob: %v", err)
	}
	failsEnv(t, repo, asBob, "needs the admin role", "connect", id.Addrs[0])
	failsEnv(t, repo, asBob, "needs the admin role", "users", "ls")
	failsEnv(t, repo, asBob, "never above", "tokens", "create", "--role", "admin")
	var bobOwn wire.NewToken
	if err := json.Unmarshal([]byte(okStdin(t, repo, "", asBob, "tokens", "create", "--json")), &bobOwn); err != nil ||
		bobOwn.Username != "bob" || bobOwn.Role != "viewer" {
		t.Fatalf("bob's own token: %+v %v", bobOwn, err)
	}
	var aliceTok wire.NewToken
	okJSON(t, repo, &aliceTok, "tokens", "create", "--user", "alice", "--expires", "1h")
	var all []wire.Token
	okJSON(t, repo, &all, "tokens", "ls")
	if len(all) != 3 {
		t.Fatalf("tokens: %+v", all)
	}

	// The HTTP API as a browser sees it.
	addr, err := os.ReadFile(filepath.Join(repo, "api"))
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + strings.TrimSpace(string(addr))
	jsonHdr := map[string]string{"Content-Type": "application/json"}
	resp, body := httpDo(t, "POST", base+"/v1/auth/login", `{"username":"alice","password":"`+alicePW+`"}`, jsonHdr)
	var login wire.LoginResult
	if resp.StatusCode != 200 || json.Unmarshal(body, &login) != nil || login.CSRFToken == "" {
		t.Fatalf("login: %d %s", resp.StatusCode, body)
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "plexus_session" {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/" {
		t.Fatalf("session cookie %+v", cookie)
	}
	if resp, body := httpDo(t, "POST", base+"/v1/tokens", `{}`, jsonHdr, cookie); resp.StatusCode != 403 || !strings.Contains(string(body), `"csrf"`) {
		t.Fatalf("POST without the CSRF token: %d %s", resp.StatusCode, body)
	}
	withCSRF := map[string]string{"Content-Type": "application/json", "X-CSRF-Token": login.CSRFToken}
	if resp, body := httpDo(t, "POST", base+"/v1/tokens", `{"ttl_ms":60000}`, withCSRF, cookie); resp.StatusCode != 201 {
		t.Fatalf("POST with the CSRF token: %d %s", resp.StatusCode, body)
	}
	token, _ := os.ReadFile(filepath.Join(repo, "api.token"))
	if resp, body := httpDo(t, "GET", base+"/v1/auth/me", "", map[string]string{"Authorization": "bearer " + strings.TrimSpace(string(token))}); resp.StatusCode != 200 {
		t.Fatalf("lower-case bearer: %d %s", resp.StatusCode, body)
	}
	resp, body = httpDo(t, "POST", base+"/v1/connect", `{"addr":"x"}`, map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, cookie)
	var e wire.Error
	if resp.StatusCode != 403 || json.Unmarshal(body, &e) != nil || !strings.Contains(e.Error, "cross-origin") {
		t.Fatalf("cross-origin POST: %d %s", resp.StatusCode, body)
	}
	wrong, wb := httpDo(t, "POST", base+"/v1/auth/login", `{"username":"alice","password":"nope nope"}`, jsonHdr)
	unknown, ub := httpDo(t, "POST", base+"/v1/auth/login", `{"username":"mallory","password":"nope nope"}`, jsonHdr)
	if wrong.StatusCode != 401 || unknown.StatusCode != 401 || !bytes.Equal(wb, ub) {
		t.Fatalf("wrong password %d %s; unknown user %d %s", wrong.StatusCode, wb, unknown.StatusCode, ub)
	}

	// A password change revokes bob's tokens; a revoked token stops working.
	okStdin(t, repo, "bob's new password\n", nil, "users", "passwd", "bob")
	failsEnv(t, repo, asBob, "unknown or revoked", "id")
	okStdin(t, repo, "", []string{"PLEXUS_TOKEN=" + aliceTok.Secret}, "id")
	ok(t, repo, "tokens", "revoke", aliceTok.ID)
	failsEnv(t, repo, []string{"PLEXUS_TOKEN=" + aliceTok.Secret}, "unknown or revoked", "id")
	fails(t, repo, "no such token", "tokens", "revoke", aliceTok.ID)
	if out := ok(t, repo, "users", "role", "bob", "admin"); !strings.Contains(out, "bob is now admin") {
		t.Fatalf("users role: %q", out)
	}
	ok(t, repo, "users", "rm", "bob")
	fails(t, repo, "no such user", "users", "rm", "bob")
	if resp, _ := httpDo(t, "GET", base+"/v1/auth/me", "", nil, cookie); resp.StatusCode != 200 {
		t.Fatalf("alice's session after bob's removal: %d", resp.StatusCode)
	}

	// Stopped: the accounts are in the repo's datastore.
	ok(t, repo, "shutdown")
	if err := d.wait(t); err != nil {
		t.Fatalf("daemon exit: %v\n%s", err, d.out)
	}
	okJSON(t, repo, &users, "users", "ls")
	if len(users) != 1 || users[0].Username != "alice" {
		t.Fatalf("users after the daemon stopped: %+v", users)
	}
}
