package files

import (
	"bytes"
	"io"
	"testing"

	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	car "github.com/ipld/go-car/v2"
	mh "github.com/multiformats/go-multihash"
)

// The block protocol's answers are CAR v1 streams that go-car reads.
func TestBlockProtocolAnswerIsACAR(t *testing.T) {
	var bs []blocks.Block
	var roots []cid.Cid
	for i := range 30 { // 30 roots: a CBOR array header longer than one byte
		data := bytes.Repeat([]byte{byte(i)}, 100+i)
		h, _ := mh.Sum(data, mh.SHA2_256, -1)
		b, err := blocks.NewBlockWithCid(data, cid.NewCidV1(cid.Raw, h))
		if err != nil {
			t.Fatal(err)
		}
		bs = append(bs, b)
		roots = append(roots, b.Cid())
	}
	var buf bytes.Buffer
	if err := writeCARHeader(&buf, roots); err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		if err := writeSection(&buf, b); err != nil {
			t.Fatal(err)
		}
	}
	br, err := car.NewBlockReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(br.Roots) != len(roots) || br.Roots[29] != roots[29] {
		t.Fatalf("roots %v", br.Roots)
	}
	for i := 0; ; i++ {
		b, err := br.Next()
		if err == io.EOF {
			if i != len(bs) {
				t.Fatalf("%d blocks, want %d", i, len(bs))
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if b.Cid() != bs[i].Cid() || !bytes.Equal(b.RawData(), bs[i].RawData()) {
			t.Fatalf("block %d differs", i)
		}
	}
}
