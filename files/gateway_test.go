package files_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	bfiles "github.com/ipfs/boxo/files"
	"github.com/ipfs/go-cid"
	car "github.com/ipld/go-car/v2"

	"github.com/plexus-p2p/plexus/files"
)

// A CAR from the gateway parses with go-car and holds exactly the DAG's
// blocks, each matching its CID; ?format=raw gives the root block.
func TestGatewayServesVerifiableCAR(t *testing.T) {
	s := newService(t, nil, nil)
	big := randomBytes(60, 600<<10)
	added, err := s.Add(t.Context(), bfiles.NewMapDirectory(map[string]bfiles.Node{
		"big.bin":   bfiles.NewBytesFile(big),
		"small.txt": bfiles.NewBytesFile([]byte("hello gateway")),
	}), files.AddOptions{Pin: true})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.GatewayHandler())
	defer srv.Close()

	res, err := http.Get(srv.URL + "/ipfs/" + added.CID.String() + "?format=car")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") == "" {
		t.Fatalf("car: %s %s", res.Status, res.Header.Get("Content-Type"))
	}
	br, err := car.NewBlockReader(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if len(br.Roots) != 1 || br.Roots[0] != added.CID {
		t.Fatalf("CAR roots %v, want [%s]", br.Roots, added.CID)
	}
	got := map[cid.Cid]bool{}
	for {
		b, err := br.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		check, err := b.Cid().Prefix().Sum(b.RawData())
		if err != nil || !check.Equals(b.Cid()) {
			t.Fatalf("block %s does not match its CID", b.Cid())
		}
		got[b.Cid()] = true
	}
	want := dagBlocks(t, s, added.CID)
	if len(got) != len(want) || len(want) != added.Blocks {
		t.Fatalf("CAR has %d blocks, the DAG %d (add said %d)", len(got), len(want), added.Blocks)
	}
	for _, c := range want {
		if !got[c] {
			t.Fatalf("CAR lacks %s", c)
		}
	}

	raw, err := http.Get(srv.URL + "/ipfs/" + added.CID.String() + "?format=raw")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(raw.Body)
	raw.Body.Close()
	if check, _ := added.CID.Prefix().Sum(body); raw.StatusCode != 200 || !check.Equals(added.CID) {
		t.Fatalf("raw: %s, body does not hash to the CID", raw.Status)
	}

	// Deserialized responses are off; /ipns is not served.
	for _, path := range []string{"/ipfs/" + added.CID.String() + "/small.txt", "/ipns/example.com"} {
		r, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode == 200 {
			t.Fatalf("%s answered 200; the gateway is trustless only", path)
		}
	}
}
