package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/plexus-p2p/plexus/api/wire"
)

// progressed marks, in the route table, a long operation that can report
// its progress: asked with "Accept: text/event-stream", it answers a stream
// of "progress" events (data of the progress type) ended by a "result"
// event (data of the result type, the usual answer) or an "error" event
// (wire.ErrorEvent).
type progressed struct{ result, progress any }

// wantsProgress reports whether the request asks for the progress stream.
func wantsProgress(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept") {
		for part := range strings.SplitSeq(v, ",") {
			mt, _, _ := strings.Cut(part, ";")
			if strings.EqualFold(strings.TrimSpace(mt), "text/event-stream") {
				return true
			}
		}
	}
	return false
}

// streamProgress answers with the progress stream of op: each value op
// reports (from any goroutine, until op returns) is a "progress" event, then
// op's result is the "result" event or its error the "error" event. The
// request's input has been checked before: errors found then are answered
// as usual.
func (s *Server) streamProgress(w http.ResponseWriter, r *http.Request, what string, op func(report func(any)) (any, error)) {
	rc, err := beginSSE(w, what+" progress")
	if err != nil {
		return
	}
	emit := func(typ string, v any) {
		b, _ := json.Marshal(v)
		fmt.Fprintf(w, "event: %s\ndata: %s\n\n", typ, b)
		rc.Flush()
	}
	var mu sync.Mutex
	done := false
	res, err := op(func(v any) {
		mu.Lock()
		defer mu.Unlock()
		if !done {
			emit("progress", v)
		}
	})
	mu.Lock()
	done = true
	mu.Unlock()
	if err != nil {
		code := statusOf(err)
		if code >= 500 {
			s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		}
		emit("error", wire.ErrorEvent{Status: code, Error: err.Error(), Code: codeOf(code)})
		return
	}
	emit("result", res)
}
