package api

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"time"
	"unicode"

	"github.com/plexus-p2p/plexus/api/wire"
)

// status marks an answer type whose success status is not 200.
type status struct {
	code int
	v    any
}

// binary marks an answer of raw bytes, of one of the given media types.
type binary []string

// upload marks a request body of files: multipart/form-data parts (their
// filenames give the paths) or the raw bytes of one file.
type upload struct{}

// openAPI describes the route table as an OpenAPI 3.1 document, generated
// by reflection over the wire types so that it cannot drift from them.
func openAPI(table []route) ([]byte, error) {
	g := &schemaGen{schemas: map[string]any{}, names: map[reflect.Type]string{}}
	paths := map[string]map[string]any{}
	errResp := map[string]any{"description": "An error: a one-line message and a code.",
		"content": jsonContent(g.schema(reflect.TypeOf(wire.Error{})))}
	addOp := func(path, method string, op map[string]any) {
		if paths[path] == nil {
			paths[path] = map[string]any{}
		}
		paths[path][method] = op
	}
	addOp("/healthz", "get", map[string]any{
		"operationId": "healthz", "summary": "Liveness (no token needed)", "security": []any{}, "x-required-role": accessPublic.String(),
		"responses": map[string]any{"200": map[string]any{"description": "The daemon answers.",
			"content": jsonContent(g.schema(reflect.TypeOf(wire.Status{})))}},
	})
	for _, rt := range table {
		method, path, ok := strings.Cut(rt.pattern, " ")
		if !ok {
			return nil, fmt.Errorf("route %q: want \"METHOD /path\"", rt.pattern)
		}
		code, out := 200, rt.out
		if st, ok := out.(status); ok {
			code, out = st.code, st.v
		}
		ok200 := map[string]any{"description": rt.summary}
		switch o := out.(type) {
		case sse:
			ok200["content"] = map[string]any{"text/event-stream": map[string]any{
				"schema": map[string]any{"type": "string",
					"description": "Server-Sent Events; the data of each event is JSON: " + g.ref(reflect.TypeOf(o.event))},
			}}
		case progressed:
			content := jsonContent(g.schema(reflect.TypeOf(o.result)))
			content["text/event-stream"] = map[string]any{"schema": map[string]any{"type": "string",
				"description": "With \"Accept: text/event-stream\": Server-Sent Events \"progress\" (data " + g.ref(reflect.TypeOf(o.progress)) +
					"), then one \"result\" (data " + g.ref(reflect.TypeOf(o.result)) + ") or \"error\" (data " + g.ref(reflect.TypeOf(wire.ErrorEvent{})) + ")"}}
			ok200["content"] = content
		case string:
			ok200["content"] = map[string]any{"text/plain": map[string]any{"schema": map[string]any{"type": "string"}}}
		case binary:
			content := map[string]any{}
			for _, mt := range o {
				content[mt] = map[string]any{"schema": map[string]any{"type": "string", "format": "binary"}}
			}
			ok200["content"] = content
		default:
			ok200["content"] = jsonContent(g.schema(reflect.TypeOf(out)))
		}
		acc := routeAccess(rt.pattern)
		op := map[string]any{
			"operationId":     handlerName(rt.handler),
			"summary":         rt.summary,
			"description":     "Required role: " + acc.String() + ".",
			"x-required-role": acc.String(),
			"responses":       map[string]any{fmt.Sprint(code): ok200, "default": errResp},
		}
		if acc == accessPublic {
			op["security"] = []any{}
		}
		params := []any{map[string]any{"name": "timeout", "in": "query", "required": false,
			"description": "Bound the request, for example 5s.", "schema": map[string]any{"type": "string"}}}
		for _, q := range rt.query {
			name, optional := strings.CutSuffix(q, "?")
			params = append(params, map[string]any{"name": name, "in": "query", "required": !optional,
				"schema": map[string]any{"type": "string"}})
		}
		op["parameters"] = params
		if _, ok := rt.in.(upload); ok {
			bin := map[string]any{"schema": map[string]any{"type": "string", "format": "binary"}}
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{"multipart/form-data": bin, "application/octet-stream": bin}}
		} else if rt.in != nil {
			op["requestBody"] = map[string]any{"required": true, "content": jsonContent(g.schema(reflect.TypeOf(rt.in)))}
		}
		addOp(path, strings.ToLower(method), op)
	}
	doc := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{"title": "Plexus node API", "version": "1",
			"description": "The HTTP API of a Plexus node. Durations are milliseconds in fields ending in _ms; " +
				"byte strings are base64. Every route but /healthz and POST /v1/auth/login needs credentials: " +
				"a bearer token (the repo's api.token, which has the admin role, or a user's API token) or the session cookie " +
				"of POST /v1/auth/login, whose mutating requests must carry the session's CSRF token in X-CSRF-Token. " +
				"Each operation's x-required-role says which role it needs: viewer (read routes and self-service) or admin."},
		"servers":  []any{map[string]any{"url": "http://127.0.0.1:5101"}},
		"security": []any{map[string]any{"bearer": []any{}}, map[string]any{"session": []any{}}},
		"paths":    paths,
		"components": map[string]any{"schemas": g.schemas, "securitySchemes": map[string]any{
			"bearer":  map[string]any{"type": "http", "scheme": "bearer"},
			"session": map[string]any{"type": "apiKey", "in": "cookie", "name": SessionCookie},
		}},
	}
	return json.MarshalIndent(doc, "", "  ")
}

func jsonContent(schema any) map[string]any {
	return map[string]any{"application/json": map[string]any{"schema": schema}}
}

// handlerName is the method name of a handler: "getID" for s.getID.
func handlerName(h any) string {
	name := runtime.FuncForPC(reflect.ValueOf(h).Pointer()).Name()
	name = strings.TrimSuffix(name, "-fm")
	return name[strings.LastIndex(name, ".")+1:]
}

type schemaGen struct {
	schemas map[string]any
	names   map[reflect.Type]string
}

var (
	timeType      = reflect.TypeOf(time.Time{})
	durationType  = reflect.TypeOf(time.Duration(0))
	rawType       = reflect.TypeOf(json.RawMessage{})
	textMarshaler = reflect.TypeOf((*encoding.TextMarshaler)(nil)).Elem()
	jsonMarshaler = reflect.TypeOf((*json.Marshaler)(nil)).Elem()
)

// ref names the schema of t for prose.
func (g *schemaGen) ref(t reflect.Type) string {
	s := g.schema(t)
	if r, ok := s["$ref"].(string); ok {
		return strings.TrimPrefix(r, "#/components/schemas/")
	}
	return fmt.Sprint(s["type"])
}

// schema returns the JSON schema of t, registering named structs as components.
func (g *schemaGen) schema(t reflect.Type) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == durationType:
		return map[string]any{"type": "integer", "description": "nanoseconds"}
	case t == rawType:
		return map[string]any{}
	case t.Kind() != reflect.Struct && (t.Implements(jsonMarshaler) || t.Implements(textMarshaler) ||
		reflect.PointerTo(t).Implements(textMarshaler)):
		return map[string]any{"type": "string"}
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "contentEncoding": "base64"}
		}
		return map[string]any{"type": "array", "items": g.schema(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem())}
	case reflect.Interface:
		return map[string]any{}
	case reflect.Struct:
		return g.structRef(t)
	}
	return map[string]any{}
}

func (g *schemaGen) structRef(t reflect.Type) map[string]any {
	if t.Name() == "" {
		return g.structSchema(t)
	}
	name, ok := g.names[t]
	if !ok {
		name = t.Name()
		if pkg := t.PkgPath(); !strings.HasSuffix(pkg, "/api/wire") {
			base := pkg[strings.LastIndex(pkg, "/")+1:]
			name = string(unicode.ToUpper(rune(base[0]))) + base[1:] + name
		}
		g.names[t] = name
		g.schemas[name] = map[string]any{} // placeholder against recursion
		g.schemas[name] = g.structSchema(t)
	}
	return map[string]any{"$ref": "#/components/schemas/" + name}
}

func (g *schemaGen) structSchema(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	g.fields(t, props, &required)
	s := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

func (g *schemaGen) fields(t reflect.Type, props map[string]any, required *[]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			g.fields(f.Type, props, required)
			continue
		}
		if name == "" {
			name = f.Name
		}
		props[name] = g.schema(f.Type)
		if hasOpt(opts, "string") && props[name].(map[string]any)["type"] == "integer" {
			// encoding/json's ",string": the integer as a decimal string.
			props[name] = map[string]any{"type": "string", "pattern": "^-?[0-9]+$",
				"description": "an integer as a decimal string (exact beyond 2^53)"}
		}
		if !hasOpt(opts, "omitempty") && !hasOpt(opts, "omitzero") {
			*required = append(*required, name)
		}
	}
}

// hasOpt reports whether the options of a json tag (after the name) include opt.
func hasOpt(opts, opt string) bool {
	for o := range strings.SplitSeq(opts, ",") {
		if o == opt {
			return true
		}
	}
	return false
}
