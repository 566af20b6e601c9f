package ui

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"testing"
)

// The dashboard uses the API through its OpenAPI description: every request
// app.js makes (its api() helper, its stream() helper for Server-Sent
// Events, fetch, XMLHttpRequest, download links) names a path and method
// that api/openapi.json describes, with query parameters the operation
// declares. The description is generated from the API's route table and
// checked against it by the api package's TestOpenAPI.

// apiCall is one request that app.js makes.
type apiCall struct {
	Method string
	Path   string   // without the query; "\x00" marks a part computed at run time
	Query  []string // the query parameter names the code spells out
	Via    string   // api(), stream(), fetch(), XMLHttpRequest, link, EventSource
	Line   int
}

func (c apiCall) String() string {
	return fmt.Sprintf("app.js:%d: %s %s (%s)", c.Line, c.Method, strings.ReplaceAll(c.Path, "\x00", "{…}"), c.Via)
}

// The calls the pages are known to make, one or more per page and per way
// of calling: if the extraction stops finding any of them, it has broken
// and the test would pass for nothing.
var knownCalls = []string{
	// Login, the shell, the event stream and the connection check.
	"POST /v1/auth/login", "GET /v1/auth/me", "POST /v1/auth/logout", "GET /v1/events", "GET /healthz",
	"GET /v1/id", "GET /v1/version", "GET /v1/stats", "GET /v1/nat", // Overview
	"GET /v1/peers", "POST /v1/connect", "POST /v1/disconnect", // Peers
	"GET /v1/explore", "GET /v1/dht/table", // Network
	"GET /v1/pubsub/topics", "POST /v1/pubsub/join", "POST /v1/pubsub/leave", "POST /v1/pubsub/publish", "GET /v1/pubsub/subscribe", "GET /v1/pubsub/scores", // Pub/sub
	"GET /v1/dht/get", "POST /v1/dht/put", "GET /v1/dht/records", // Records
	"POST /v1/files/add", "POST /v1/files/fetch", "POST /v1/files/pin", "DELETE /v1/files/pin", "GET /v1/files/pins", "GET /v1/files/get", // Files
	"GET /v1/users", "POST /v1/users", "POST /v1/users/role", "DELETE /v1/users", // Users
}

func TestDashboardCallsAreDescribed(t *testing.T) {
	js, err := fs.ReadFile(FS(), "app.js")
	if err != nil {
		t.Fatal(err)
	}
	doc := readOpenAPI(t, "../api/openapi.json")
	calls, problems := apiCalls(string(js))
	for _, p := range problems {
		t.Errorf("app.js: %s", p)
	}
	found := map[string]bool{}
	for _, c := range calls {
		found[c.Method+" "+c.Path] = true
	}
	for _, k := range knownCalls {
		if !found[k] {
			t.Errorf("found no call %s in app.js: the pages make it (has the extraction broken, or did the page change? then update knownCalls)", k)
		}
	}
	if len(calls) < len(knownCalls) {
		t.Errorf("found %d calls in app.js, want at least %d", len(calls), len(knownCalls))
	}
	for _, e := range undescribed(calls, doc) {
		t.Error(e)
	}
	t.Logf("%d calls in app.js, %d distinct", len(calls), len(found))
}

// openAPIDoc is what the test reads of the description: per path and
// method, the parameters and the media types of the answers.
type openAPIDoc struct {
	Paths map[string]map[string]struct {
		Parameters []openAPIParam `json:"parameters"`
		Responses  map[string]struct {
			Content map[string]json.RawMessage `json:"content"`
		} `json:"responses"`
	} `json:"paths"`
}

type openAPIParam struct {
	Name string `json:"name"`
	In   string `json:"in"`
}

func readOpenAPI(t *testing.T, path string) openAPIDoc {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc openAPIDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(doc.Paths) == 0 {
		t.Fatalf("%s describes no path", path)
	}
	return doc
}

// undescribed returns one line for each call that the description does not
// have: its path, its method, a query parameter, or (for an event stream)
// an answer of text/event-stream.
func undescribed(calls []apiCall, doc openAPIDoc) []string {
	var errs []string
	for _, c := range calls {
		path, ok := describedPath(c.Path, doc)
		if !ok {
			errs = append(errs, fmt.Sprintf("%s: api/openapi.json has no path %s", c, strings.ReplaceAll(c.Path, "\x00", "{…}")))
			continue
		}
		op, ok := doc.Paths[path][strings.ToLower(c.Method)]
		if !ok {
			var have []string
			for m := range doc.Paths[path] {
				have = append(have, strings.ToUpper(m))
			}
			slices.Sort(have)
			errs = append(errs, fmt.Sprintf("%s: api/openapi.json has no %s %s (it has %s)", c, c.Method, path, strings.Join(have, ", ")))
			continue
		}
		for _, q := range c.Query {
			if !slices.Contains(op.Parameters, openAPIParam{Name: q, In: "query"}) {
				errs = append(errs, fmt.Sprintf("%s: %s %s has no query parameter %q in api/openapi.json", c, c.Method, path, q))
			}
		}
		if c.Via == "stream()" || c.Via == "EventSource" {
			sse := false
			for code, r := range op.Responses {
				if strings.HasPrefix(code, "2") && r.Content["text/event-stream"] != nil {
					sse = true
				}
			}
			if !sse {
				errs = append(errs, fmt.Sprintf("%s: reads an event stream, but %s %s answers no text/event-stream in api/openapi.json", c, c.Method, path))
			}
		}
	}
	return errs
}

// describedPath finds the description's path for p: the same path, or a
// templated one ("/v1/users/{name}") whose parameters stand where p has
// parts computed at run time.
func describedPath(p string, doc openAPIDoc) (string, bool) {
	if _, ok := doc.Paths[p]; ok && !strings.Contains(p, "\x00") {
		return p, true
	}
	segs := strings.Split(p, "/")
	for dp := range doc.Paths {
		dsegs := strings.Split(dp, "/")
		if len(dsegs) != len(segs) {
			continue
		}
		match := true
		for i, s := range segs {
			param := strings.HasPrefix(dsegs[i], "{") && strings.HasSuffix(dsegs[i], "}")
			if strings.Contains(s, "\x00") != param || (!param && s != dsegs[i]) {
				match = false
				break
			}
		}
		if match {
			return dp, true
		}
	}
	return "", false
}

// apiPath reports whether the text of a string literal is an API path.
func apiPath(s string) bool {
	return strings.HasPrefix(s, "/v1/") || s == "/v1" || s == "/healthz" || strings.HasPrefix(s, "/healthz?") || s == "/metrics"
}

// apiCalls finds the requests in JavaScript source: each string literal
// that is an API path, with the call it is an argument of. A path used in a
// way it does not know, or a string that names an API path inside it
// without being one (other than prose), is a problem: the test must learn
// the new pattern rather than let the call go unchecked.
func apiCalls(src string) ([]apiCall, []string) {
	var calls []apiCall
	var problems []string
	for _, toks := range lexJS(src) {
		for i, tk := range toks {
			if tk.kind != tokString {
				continue
			}
			if !apiPath(tk.text) {
				if strings.Contains(tk.text, "/v1/") && !strings.ContainsAny(tk.text, " \t\n") {
					problems = append(problems, fmt.Sprintf("line %d: %q holds an API path that does not start the string", tk.line, tk.text))
				}
				continue
			}
			c, err := classify(toks, i)
			if err != nil {
				problems = append(problems, fmt.Sprintf("line %d: %q: %v", tk.line, tk.text, err))
				continue
			}
			calls = append(calls, c)
		}
	}
	return calls, problems
}

// classify works out the method and the way of calling of the path literal
// toks[i] from the tokens around it.
func classify(toks []token, i int) (apiCall, error) {
	tk := toks[i]
	at := func(j int) token {
		if j < 0 || j >= len(toks) {
			return token{}
		}
		return toks[j]
	}
	text := tk.text
	if at(i+1).is(tokPunct, "+") && !strings.Contains(text, "?") {
		text += "\x00" // "/v1/users/" + name: the rest of the path is computed
	}
	path, query, _ := strings.Cut(text, "?")
	c := apiCall{Path: path, Line: tk.line}
	for kv := range strings.SplitSeq(query, "&") {
		name, _, _ := strings.Cut(kv, "=")
		if name != "" && !strings.Contains(name, "\x00") {
			c.Query = append(c.Query, name)
		}
	}
	prevIdent := func(name string) bool { return at(i-2).is(tokIdent, name) && at(i-1).is(tokPunct, "(") }
	switch {
	// api("GET", "/v1/...", ...) and xhr.open("POST", "/v1/...")
	case at(i-1).is(tokPunct, ",") && at(i-2).kind == tokString && at(i-3).is(tokPunct, "(") &&
		(at(i-4).is(tokIdent, "api") || at(i-4).is(tokIdent, "open") && at(i-5).is(tokPunct, ".")):
		c.Method = strings.ToUpper(at(i - 2).text)
		c.Via = "api()"
		if at(i-4).text == "open" {
			c.Via = "XMLHttpRequest"
		}
	// stream("/v1/...", onEvent, signal[, body]): a POST when it has a body.
	case prevIdent("stream"):
		args := callArgs(toks, i)
		c.Method, c.Via = "GET", "stream()"
		if len(args) >= 4 && !(len(args[3]) == 1 && args[3][0].is(tokIdent, "undefined")) {
			c.Method = "POST"
		}
	// fetch("/v1/...", { method: "..." }): GET unless it says otherwise.
	case prevIdent("fetch"):
		c.Method, c.Via = "GET", "fetch()"
		if args := callArgs(toks, i); len(args) >= 2 {
			opts := args[1]
			for j := range opts {
				if opts[j].is(tokIdent, "method") && j+2 < len(opts) && opts[j+1].is(tokPunct, ":") {
					if opts[j+2].kind != tokString {
						return c, fmt.Errorf("fetch with a method computed at run time")
					}
					c.Method = strings.ToUpper(opts[j+2].text)
				}
			}
		}
	case at(i-3).is(tokIdent, "new") && prevIdent("EventSource"):
		c.Method, c.Via = "GET", "EventSource"
	// h("a", { href: "/v1/..." }) and a.href = "/v1/...": a link, followed with GET.
	case at(i-2).is(tokIdent, "href") && (at(i-1).is(tokPunct, ":") || at(i-1).is(tokPunct, "=")):
		c.Method, c.Via = "GET", "link"
	default:
		return c, fmt.Errorf("an API path used in a way this test does not know: teach apiCalls the pattern")
	}
	return c, nil
}

// callArgs returns the arguments of the call whose first argument starts
// at toks[i], each as its tokens.
func callArgs(toks []token, i int) [][]token {
	var args [][]token
	var cur []token
	depth := 0
	for ; i < len(toks); i++ {
		tk := toks[i]
		if tk.kind == tokPunct {
			switch tk.text {
			case "(", "[", "{":
				depth++
			case ")", "]", "}":
				if depth == 0 {
					return append(args, cur)
				}
				depth--
			case ",":
				if depth == 0 {
					args = append(args, cur)
					cur = nil
					continue
				}
			}
		}
		cur = append(cur, tk)
	}
	return append(args, cur)
}

// ---- a small JavaScript lexer: enough to tell code from comments, strings,
// template literals and regular expressions.

type tokKind int

const (
	tokPunct tokKind = iota + 1
	tokIdent
	tokNumber
	tokString // '...', "..." and `...` (text without quotes; "\x00" for each ${...})
	tokRegexp
)

type token struct {
	kind tokKind
	text string
	line int
}

func (t token) is(kind tokKind, text string) bool { return t.kind == kind && t.text == text }

// lexJS splits src into tokens. The expressions inside template literals'
// ${...} come back as further token lists, after the first.
func lexJS(src string) [][]token {
	l := &jsLexer{src: src, line: 1}
	main := l.tokens(false)
	return append([][]token{main}, l.nested...)
}

type jsLexer struct {
	src    string
	pos    int
	line   int
	nested [][]token
}

// regexpAfter are the tokens after which a "/" starts a regular expression
// rather than a division.
var regexpAfter = []string{"(", ",", "=", ":", "[", "!", "&", "&&", "|", "||", "?", "??", "{", "}", ";", "+", "-", "*", "%", "<", ">", "~", "^",
	"==", "===", "!=", "!==", "<=", ">=", "=>", "+=", "-=", "return", "typeof", "case", "do", "else", "in", "of", "new", "delete", "void", "throw", "yield", "await"}

// tokens lexes until the end, or (inTemplate) until the "}" that closes a
// template literal's ${.
func (l *jsLexer) tokens(inTemplate bool) []token {
	var out []token
	depth := 0
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case c == '\n':
			l.line++
			l.pos++
		case c == ' ' || c == '\t' || c == '\r':
			l.pos++
		case strings.HasPrefix(l.src[l.pos:], "//"):
			for l.pos < len(l.src) && l.src[l.pos] != '\n' {
				l.pos++
			}
		case strings.HasPrefix(l.src[l.pos:], "/*"):
			end := strings.Index(l.src[l.pos+2:], "*/")
			if end < 0 {
				end = len(l.src) - l.pos - 2
			}
			l.line += strings.Count(l.src[l.pos:l.pos+2+end], "\n")
			l.pos += end + 4
		case c == '"' || c == '\'':
			out = append(out, l.quoted(c))
		case c == '`':
			out = append(out, l.template())
		case c == '/' && (len(out) == 0 || slices.Contains(regexpAfter, out[len(out)-1].text) && out[len(out)-1].kind != tokString):
			out = append(out, l.regexp())
		case isIdentByte(c):
			start := l.pos
			for l.pos < len(l.src) && (isIdentByte(l.src[l.pos]) || l.src[l.pos] >= '0' && l.src[l.pos] <= '9') {
				l.pos++
			}
			out = append(out, token{tokIdent, l.src[start:l.pos], l.line})
		case c >= '0' && c <= '9':
			start := l.pos
			for l.pos < len(l.src) && (isIdentByte(l.src[l.pos]) || l.src[l.pos] >= '0' && l.src[l.pos] <= '9' || l.src[l.pos] == '.') {
				l.pos++
			}
			out = append(out, token{tokNumber, l.src[start:l.pos], l.line})
		default:
			if inTemplate && c == '}' && depth == 0 {
				l.pos++
				return out
			}
			p := l.punct()
			switch p {
			case "{":
				depth++
			case "}":
				depth--
			}
			out = append(out, token{tokPunct, p, l.line})
		}
	}
	return out
}

func isIdentByte(c byte) bool {
	return c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

// punct takes the longest punctuator at pos.
func (l *jsLexer) punct() string {
	for _, p := range []string{"===", "!==", "...", "**=", "&&", "||", "??", "?.", "=>", "==", "!=", "<=", ">=", "+=", "-=", "*=", "/=", "++", "--", "**"} {
		if strings.HasPrefix(l.src[l.pos:], p) {
			l.pos += len(p)
			return p
		}
	}
	l.pos++
	return l.src[l.pos-1 : l.pos]
}

// quoted takes a '...' or "..." literal; its text is the source between the
// quotes (escapes kept as written, which is enough for paths).
func (l *jsLexer) quoted(q byte) token {
	line := l.line
	l.pos++
	start := l.pos
	for l.pos < len(l.src) && l.src[l.pos] != q && l.src[l.pos] != '\n' {
		if l.src[l.pos] == '\\' {
			l.pos++
		}
		l.pos++
	}
	text := l.src[start:min(l.pos, len(l.src))]
	l.pos++
	return token{tokString, text, line}
}

// template takes a `...` literal; each ${...} becomes "\x00" in its text and
// its expression a nested token list.
func (l *jsLexer) template() token {
	line := l.line
	l.pos++
	var b strings.Builder
	for l.pos < len(l.src) && l.src[l.pos] != '`' {
		switch {
		case l.src[l.pos] == '\\':
			b.WriteString(l.src[l.pos:min(l.pos+2, len(l.src))])
			l.pos += 2
		case strings.HasPrefix(l.src[l.pos:], "${"):
			l.pos += 2
			b.WriteByte(0)
			l.nested = append(l.nested, l.tokens(true))
		default:
			if l.src[l.pos] == '\n' {
				l.line++
			}
			b.WriteByte(l.src[l.pos])
			l.pos++
		}
	}
	l.pos++
	return token{tokString, b.String(), line}
}

// regexp takes a /.../flags literal.
func (l *jsLexer) regexp() token {
	line := l.line
	start := l.pos
	l.pos++
	class := false
	for l.pos < len(l.src) && l.src[l.pos] != '\n' {
		c := l.src[l.pos]
		if c == '\\' {
			l.pos += 2
			continue
		}
		l.pos++
		if c == '[' {
			class = true
		} else if c == ']' {
			class = false
		} else if c == '/' && !class {
			break
		}
	}
	for l.pos < len(l.src) && isIdentByte(l.src[l.pos]) {
		l.pos++
	}
	return token{tokRegexp, l.src[start:min(l.pos, len(l.src))], line}
}

// TestAPICallsExtraction checks the extraction on each way app.js calls the
// API, and that the check fails on a call the description does not have.
func TestAPICallsExtraction(t *testing.T) {
	const src = `
// api("GET", "/v1/in-a-comment") is no call
/* nor is stream("/v1/in/a/block") */
const re = /["'` + "`" + `]\/v1\//g; // a regular expression with quotes
const half = total / 2, other = "/v1/";
await api("GET", "/v1/peers");
await api('DELETE', "/v1/files/pin?cid=" + encodeURIComponent(cid));
await api("POST", ` + "`/v1/users/${name}/role`" + `, { role });
await api("GET", "/v1/users/" + encodeURIComponent(name));
stream("/v1/events", (type, data) => { if (data) { bus.emit(data); } }, ctrl.signal);
stream("/v1/explore", (t, d) => f(t, d), ctrl.signal, undefined);
await stream("/v1/files/fetch", (type, d) => { const o = { a: [1, 2] }; }, ctrl.signal, { cid });
fetch("/healthz", { signal: ctrl.signal });
fetch("/v1/auth/logout", { method: "POST", credentials: "same-origin" });
xhr.open("POST", "/v1/files/add?name=" + encodeURIComponent(f.name) + "&pin=" + pin);
h("a", { href: "/v1/files/get?cid=" + encodeURIComponent(cid), download: cid });
const es = new EventSource("/v1/pubsub/subscribe?topic=" + t);
toast(` + "`Got ${api(\"GET\", \"/v1/id\")}`" + `);
h("p", { text: "This daemon has no file routes (/v1/files/…)." });
`
	calls, problems := apiCalls(src)
	var got []string
	for _, c := range calls {
		got = append(got, fmt.Sprintf("%d %s %s %s %v", c.Line, c.Via, c.Method, strings.ReplaceAll(c.Path, "\x00", "{…}"), c.Query))
	}
	want := []string{
		"6 api() GET /v1/peers []",
		"7 api() DELETE /v1/files/pin [cid]",
		"8 api() POST /v1/users/{…}/role []",
		"9 api() GET /v1/users/{…} []",
		"10 stream() GET /v1/events []",
		"11 stream() GET /v1/explore []",
		"12 stream() POST /v1/files/fetch []",
		"13 fetch() GET /healthz []",
		"14 fetch() POST /v1/auth/logout []",
		"15 XMLHttpRequest POST /v1/files/add [name]",
		"16 link GET /v1/files/get [cid]",
		"17 EventSource GET /v1/pubsub/subscribe [topic]",
		"18 api() GET /v1/id []",
	}
	if !slices.Equal(got, want) {
		t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The bare "/v1/" of line 5 is an API path used in no known way.
	if len(problems) != 1 || !strings.HasPrefix(problems[0], "line 5:") {
		t.Errorf("problems %q, want the one of line 5", problems)
	}

	doc := readOpenAPI(t, "../api/openapi.json")
	for _, tc := range []struct {
		call apiCall
		want string // in the error; "" for none
	}{
		{apiCall{Method: "GET", Path: "/v1/peers", Via: "api()"}, ""},
		{apiCall{Method: "GET", Path: "/v1/no-such-route", Via: "api()"}, "has no path /v1/no-such-route"},
		{apiCall{Method: "PUT", Path: "/v1/users", Via: "api()"}, "has no PUT /v1/users (it has DELETE, GET, POST)"},
		{apiCall{Method: "GET", Path: "/v1/dht/get", Query: []string{"key"}, Via: "api()"}, ""},
		{apiCall{Method: "GET", Path: "/v1/dht/get", Query: []string{"name"}, Via: "api()"}, `no query parameter "name"`},
		{apiCall{Method: "GET", Path: "/v1/peers", Via: "stream()"}, "answers no text/event-stream"},
		{apiCall{Method: "GET", Path: "/v1/users/\x00", Via: "api()"}, "has no path /v1/users/{…}"},
	} {
		errs := undescribed([]apiCall{tc.call}, doc)
		if tc.want == "" && len(errs) != 0 || tc.want != "" && (len(errs) != 1 || !strings.Contains(errs[0], tc.want)) {
			t.Errorf("%s: errors %q, want %q", tc.call, errs, tc.want)
		}
	}

	// A part computed at run time stands for a templated segment, and only for one.
	var tdoc openAPIDoc
	if err := json.Unmarshal([]byte(`{"paths": {"/v1/users/{name}/role": {"post": {}}, "/v1/users/me": {"get": {}}}}`), &tdoc); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]string{"/v1/users/\x00/role": "/v1/users/{name}/role", "/v1/users/me": "/v1/users/me", "/v1/users/\x00": "", "/v1/users/x/role": ""} {
		if got, _ := describedPath(p, tdoc); got != want {
			t.Errorf("describedPath(%q) = %q, want %q", p, got, want)
		}
	}
}
