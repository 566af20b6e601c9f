package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"strings"

	"github.com/plexus-p2p/plexus/api/wire"
)

// ErrStreamEnded is returned when a progress stream ended without a result
// or an error, as when the daemon stops during the operation.
var ErrStreamEnded = errors.New("the daemon ended the answer before its result (did it stop?)")

// doProgress runs a long operation with its progress stream: it asks for
// "text/event-stream", passes the data of each "progress" event to progress
// and decodes the "result" event into out; an "error" event is an *Error.
// A daemon that answers plain JSON instead is read as Do would.
func (c *Client) doProgress(ctx context.Context, method, path string, body, out any, progress func(data []byte)) error {
	resp, err := c.sendAccept(ctx, method, path, body, "text/event-stream")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/event-stream" {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
		return nil
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	typ := "message"
	for sc.Scan() {
		line := sc.Text()
		if t, ok := strings.CutPrefix(line, "event: "); ok {
			typ = t
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			continue
		}
		switch typ {
		case "progress":
			progress([]byte(data))
		case "result":
			if err := json.Unmarshal([]byte(data), out); err != nil {
				return fmt.Errorf("%s %s: decode result: %w", method, path, err)
			}
			return nil
		case "error":
			var e wire.ErrorEvent
			if err := json.Unmarshal([]byte(data), &e); err != nil {
				return fmt.Errorf("%s %s: decode error: %w", method, path, err)
			}
			return &Error{Status: e.Status, Code: e.Code, Message: e.Error}
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("%s %s: %w: %w", method, path, ErrTimeout, err)
		}
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	return fmt.Errorf("%s %s: %w", method, path, ErrStreamEnded)
}

// PerfProgress is Perf reporting how far the measurement has got to
// progress (about every 250 ms, and at the end of each phase).
func (c *Client) PerfProgress(ctx context.Context, req wire.PerfRequest, progress func(wire.PerfProgress)) (wire.PerfResult, error) {
	var v wire.PerfResult
	return v, c.doProgress(ctx, "POST", "/v1/perf", req, &v, func(data []byte) {
		var p wire.PerfProgress
		if json.Unmarshal(data, &p) == nil {
			progress(p)
		}
	})
}

// ExploreProgress is Explore reporting how far the crawl has got to
// progress.
func (c *Client) ExploreProgress(ctx context.Context, progress func(wire.ExploreProgress)) (wire.ExploreReport, error) {
	var v wire.ExploreReport
	return v, c.doProgress(ctx, "GET", "/v1/explore", nil, &v, func(data []byte) {
		var p wire.ExploreProgress
		if json.Unmarshal(data, &p) == nil {
			progress(p)
		}
	})
}
