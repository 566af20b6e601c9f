package files

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"runtime/metrics"
	"slices"
	"strings"
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

// readSectionBuf refuses what is beyond the block protocol's limits and
// an answer that ends inside a section, with or without a pool, gives
// back a pooled buffer on error, and allocates no more than a section's
// limit whatever lengths the section declares.
func TestReadSectionLimits(t *testing.T) {
	h, _ := mh.Sum([]byte("block"), mh.SHA2_256, -1)
	c := cid.NewCidV1(cid.Raw, h)
	long, _ := mh.Sum(bytes.Repeat([]byte{7}, maxCIDLen), mh.IDENTITY, -1) // a CID of maxCIDLen+5 bytes
	section := func(id []byte, data []byte) []byte {
		b := binary.AppendUvarint(nil, uint64(len(id)+len(data)))
		return append(append(b, id...), data...)
	}
	// a CIDv1 whose digest length says 4 MiB, in a section of 200 bytes
	huge := binary.AppendUvarint([]byte{1, 0x55, 0x12}, 4<<20)
	for _, tc := range []struct {
		name string
		in   []byte
		want string // "" for a section of maxBlockSize bytes read
	}{
		{"a block of maxBlockSize bytes", section(c.Bytes(), make([]byte, maxBlockSize)), ""},
		{"a block over maxBlockSize", section(c.Bytes(), make([]byte, maxBlockSize+1)), "block of 2097153 bytes"},
		{"a CID over maxCIDLen", section(cid.NewCidV1(cid.Raw, long).Bytes(), []byte("data")), "CAR section"},
		{"a digest length of 4 MiB", section(huge, make([]byte, 200-len(huge))), "CAR section"},
		{"the end after a section's length", section(c.Bytes(), []byte("data"))[:1], io.ErrUnexpectedEOF.Error()},
		{"the end in a section's CID", section(c.Bytes(), []byte("data"))[:10], io.ErrUnexpectedEOF.Error()},
		{"the end after a section's CID", section(c.Bytes(), []byte("data"))[:1+c.ByteLen()], io.ErrUnexpectedEOF.Error()},
		{"the end between sections", nil, io.EOF.Error()},
	} {
		for _, pool := range []*countingPool{nil, {}} {
			t.Run(fmt.Sprintf("%s, pooled %v", tc.name, pool != nil), func(t *testing.T) {
				var p bufPool
				if pool != nil {
					p = pool
				}
				read := func() (cid.Cid, []byte, *[]byte, error) {
					return readSectionBuf(bufio.NewReaderSize(bytes.NewReader(tc.in), 4<<10), p)
				}
				before := allocatedBytes()
				got, data, buf, err := read()
				checkAlloc(t, "reading a section", maxSectionAlloc, allocatedBytes()-before, func() {
					if _, _, buf, _ := read(); buf != nil {
						p.Put(buf)
					}
				})
				if tc.want == "" {
					if err != nil || got != c || len(data) != maxBlockSize {
						t.Fatalf("CID %s, %d bytes, error %v; want %s and %d bytes", got, len(data), err, c, maxBlockSize)
					}
					return
				}
				if err == nil || !strings.Contains(err.Error(), tc.want) || got.Defined() || data != nil || buf != nil {
					t.Fatalf("CID %s, %d bytes, error %v; want an error naming %q", got, len(data), err, tc.want)
				}
				if pool != nil && (pool.out != 0 || pool.bad != "") {
					t.Fatalf("%d pooled buffers not given back %s", pool.out, pool.bad)
				}
			})
		}
	}
}

// A request of maxRequestItems items reads back as written; one of more
// items, of none, or with a CID over maxCIDLen is refused.
func TestBlockRequestLimits(t *testing.T) {
	id, _ := mh.Sum(nil, mh.IDENTITY, -1)
	h, _ := mh.Sum(bytes.Repeat([]byte{7}, maxCIDLen), mh.IDENTITY, -1)
	long := cid.NewCidV1(cid.Raw, h)
	many := make([]blockReq, maxRequestItems+1)
	for i := range many {
		many[i] = blockReq{c: cid.NewCidV1(cid.Raw, id), recursive: i%2 == 0}
	}
	got, err := readBlockRequest(bytes.NewReader(appendBlockRequest(nil, many[:maxRequestItems])))
	if err != nil || !slices.Equal(got, many[:maxRequestItems]) {
		t.Fatalf("%d items read back as %d, error %v", maxRequestItems, len(got), err)
	}
	for name, reqs := range map[string][]blockReq{
		"one item too many":         many,
		"no items":                  nil,
		"a CID over maxCIDLen":      {{c: long}},
		"a CID over maxCIDLen last": append(slices.Clone(many[:3]), blockReq{c: long}),
	} {
		if got, err := readBlockRequest(bytes.NewReader(appendBlockRequest(nil, reqs))); err == nil || got != nil {
			t.Errorf("%s: %d items, error %v; want an error", name, len(got), err)
		}
	}
}

// maxSectionAlloc bounds what reading one section may allocate: the
// section itself, or a pool buffer, with slack for the CID and the
// runtime's accounting.
const maxSectionAlloc = maxBlockSize + maxCIDLen + allocSlack

// allocatedBytes is the process's heap allocations so far (without
// stopping the world, as runtime.ReadMemStats would at every input). Large
// objects are counted as they are allocated, small ones late (a span at a
// time), and other goroutines' allocations count too: a difference may
// hold up to allocSlack that the code measured did not allocate. A
// measurement above a bound is taken twice more, and fails only if all
// three are above it (an allocation the code makes is in every one).
func allocatedBytes() uint64 {
	s := [1]metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s[:])
	return s[0].Value.Uint64()
}

// checkAlloc fails t if a, what the code measured allocated, is above
// bound, and so are two more measurements of again, the same code run
// again on the same input.
func checkAlloc(t *testing.T, what string, bound, a uint64, again func()) {
	t.Helper()
	if a <= bound {
		return
	}
	as := []uint64{a}
	for range 2 {
		before := allocatedBytes()
		again()
		a := allocatedBytes() - before
		if a <= bound {
			return
		}
		as = append(as, a)
	}
	t.Fatalf("allocated %v bytes %s (bound %d)", as, what, bound)
}

// allocSlack is how much more than the code measured allocated
// allocatedBytes may count (half a MiB was seen while fuzzing).
const allocSlack = 1 << 20

// countingPool is a bufPool that counts the buffers out and notes a
// buffer given back twice or not its own. Given-back buffers are reused,
// so a section read into one must overwrite what it held.
type countingPool struct {
	free []*[]byte
	mine map[*[]byte]bool // true while out
	out  int
	bad  string
}

func (p *countingPool) Get() any {
	if p.mine == nil {
		p.mine = map[*[]byte]bool{}
	}
	p.out++
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free = p.free[:n-1]
		p.mine[b] = true
		return b
	}
	b := alignedBuf(alignedBufSize)
	for i := range b {
		b[i] = 0xa5 // not zeros: a section must not read as a fresh buffer's content
	}
	p.mine[&b] = true
	return &b
}

func (p *countingPool) Put(x any) {
	b, ok := x.(*[]byte)
	if !ok || !p.mine[b] {
		p.bad = "(a buffer given back twice or not from the pool)"
		return
	}
	p.mine[b] = false
	p.out--
	p.free = append(p.free, b)
}
