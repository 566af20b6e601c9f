package files

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"log/slog"
	"slices"
	"testing"

	bfiles "github.com/ipfs/boxo/files"
	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	mh "github.com/multiformats/go-multihash"
)

// FuzzReadBlockRequest reads a block protocol request as a serving node
// does: it reads no more than maxRequestBytes and allocates no more than
// maxRequestItems items of maxCIDLen-byte CIDs can take; a request it
// accepts has 1..maxRequestItems valid CIDs of at most maxCIDLen bytes, and
// the client's encoder writes it back to bytes that read the same and are
// no longer than those read (the encoding is the shortest).
func FuzzReadBlockRequest(f *testing.F) {
	reqs := realRequest(f)
	f.Add(appendBlockRequest(nil, reqs))
	f.Add(appendBlockRequest(nil, reqs[:1]))
	// (the most items, and one too many, are TestBlockRequestLimits's: a
	// fuzzer mutates and minimises long inputs slowly)
	f.Add(binary.AppendUvarint(nil, maxRequestItems+1))
	f.Add(appendBlockRequest(nil, nil))       // no items
	f.Add(appendBlockRequest(nil, reqs)[:20]) // cut in a CID
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add(appendBlockRequest(nil, []blockReq{{c: longCID}})) // a CID over maxCIDLen
	f.Add([]byte{1, 0, 4, 1, 0x55, 0, 0})                    // an identity CID of no bytes
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &tallyReader{r: bytes.NewReader(data)}
		before := allocatedBytes()
		got, err := readBlockRequest(r)
		checkAlloc(t, "reading a request", maxRequestAlloc, allocatedBytes()-before, func() {
			readBlockRequest(bytes.NewReader(data))
		})
		if r.n > maxRequestBytes {
			t.Fatalf("read %d bytes of a request, above %d", r.n, maxRequestBytes)
		}
		if err != nil {
			if got != nil {
				t.Fatalf("error %v with %d items", err, len(got))
			}
			return
		}
		if len(got) == 0 || len(got) > maxRequestItems {
			t.Fatalf("accepted a request of %d items", len(got))
		}
		for i, q := range got {
			if !q.c.Defined() || q.c.ByteLen() > maxCIDLen {
				t.Fatalf("item %d: CID %q of %d bytes", i, q.c.KeyString(), q.c.ByteLen())
			}
			if c, err := cid.Cast(q.c.Bytes()); err != nil || c != q.c {
				t.Fatalf("item %d: CID %s does not read back: %v", i, q.c, err)
			}
		}
		enc := appendBlockRequest(nil, got)
		if len(enc) > len(data) {
			t.Fatalf("the encoding of %d items is %d bytes, longer than the %d bytes read", len(got), len(enc), len(data))
		}
		again, err := readBlockRequest(bytes.NewReader(enc))
		if err != nil || !slices.Equal(again, got) {
			t.Fatalf("the encoding of %d items reads back as %d items, error %v", len(got), len(again), err)
		}
	})
}

// maxRequestAlloc bounds what reading one request may allocate: the
// reader's buffer, the items and each item's CID (read, then copied into
// the Cid) with room for the decoder's small allocations, and slack for
// what allocatedBytes counts that the call did not allocate (see there).
const maxRequestAlloc = 8<<10 + maxRequestItems*(32+4*maxCIDLen) + allocSlack

// FuzzReadCARAnswer reads a block protocol answer as the fetching side
// does (skipCARHeader, then readSectionBuf until the end), once with
// buffers of its own and once with a pool that counts buffers taken and
// given back. Each section read allocates at most a section's limit; each
// accepted section has a defined CID of at most maxCIDLen bytes and at most
// maxBlockSize bytes of data, exactly the bytes on the wire after its
// length and CID; io.EOF means the answer ended between sections; a
// section that fits a pooled buffer is read into one, and no error leaves
// a pooled buffer out; both ways read the same sections and end the same.
func FuzzReadCARAnswer(f *testing.F) {
	for _, a := range realAnswers(f) {
		f.Add(a)
		// cut after the header, in the first section's length, CID and data
		f.Add(a[:headerLen(a)])
		f.Add(a[:headerLen(a)+1])
		f.Add(a[:headerLen(a)+5])
		f.Add(a[:min(headerLen(a)+60, len(a))])
		f.Add(a[:len(a)-1])
	}
	f.Add([]byte{})
	f.Add([]byte{0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{1, 0, 0x80, 0x80, 0x81, 0x01}) // a section just over the limit
	var long bytes.Buffer
	writeCARHeader(&long, []cid.Cid{longCID})
	writeSectionData(&long, longCID, []byte("data"))
	f.Add(long.Bytes())     // a CID over maxCIDLen
	pool := &countingPool{} // one for all inputs: a buffer keeps what an earlier one read
	f.Fuzz(func(t *testing.T, data []byte) {
		own, ownErr := readAnswer(t, data, nil)
		pooled, pooledErr := readAnswer(t, data, pool)
		if pool.out != 0 || pool.bad != "" {
			t.Fatalf("%d pooled buffers not given back %s", pool.out, pool.bad)
		}
		if len(own) != len(pooled) || (ownErr == nil) != (pooledErr == nil) {
			t.Fatalf("own buffers: %d sections, error %v; pooled: %d sections, error %v", len(own), ownErr, len(pooled), pooledErr)
		}
		for i := range own {
			if own[i].c != pooled[i].c || !bytes.Equal(own[i].data, pooled[i].data) {
				t.Fatalf("section %d differs: %s (%d bytes) and %s (%d bytes)", i, own[i].c, len(own[i].data), pooled[i].c, len(pooled[i].data))
			}
		}
	})
}

// readAnswer reads a CAR answer as request does and checks each section;
// it returns the sections read (data copied) and the error that ended the
// answer, nil for a clean end.
func readAnswer(t *testing.T, data []byte, pool *countingPool) ([]section, error) {
	t.Helper()
	src := bytes.NewReader(data)
	r := bufio.NewReaderSize(src, 4<<10)
	consumed := func() int { return len(data) - src.Len() - r.Buffered() }
	var p bufPool
	if pool != nil {
		p = pool
	}
	before := allocatedBytes()
	err := skipCARHeader(r)
	checkAlloc(t, "skipping a CAR header", allocSlack, allocatedBytes()-before, func() {
		skipCARHeader(bufio.NewReaderSize(bytes.NewReader(data), 4<<10))
	})
	if err != nil {
		return nil, err
	}
	if n, k := binary.Uvarint(data); k <= 0 || n == 0 || n > 1<<20 || consumed() != k+int(n) {
		t.Fatalf("skipped %d bytes for a header of %d bytes", consumed(), n)
	}
	var out []section
	for {
		start := consumed()
		before := allocatedBytes()
		c, d, buf, err := readSectionBuf(r, p)
		checkAlloc(t, "reading a section", maxSectionAlloc, allocatedBytes()-before, func() {
			_, _, buf, _ := readSectionBuf(bufio.NewReaderSize(bytes.NewReader(data[start:]), 4<<10), p)
			if buf != nil {
				p.Put(buf)
			}
		})
		if err != nil {
			if c.Defined() || d != nil || buf != nil {
				t.Fatalf("error %v with CID %s, %d bytes, buffer %v", err, c, len(d), buf != nil)
			}
			if pool != nil && pool.out != 0 {
				t.Fatalf("error %v left %d pooled buffers out", err, pool.out)
			}
			if err == io.EOF {
				if consumed() != start || consumed() != len(data) {
					t.Fatalf("io.EOF after reading %d bytes of a section, %d bytes left", consumed()-start, len(data)-consumed())
				}
				return out, nil
			}
			return out, err
		}
		if !c.Defined() || c.ByteLen() > maxCIDLen || len(d) > maxBlockSize {
			t.Fatalf("section %d: CID %q of %d bytes, %d bytes of data", len(out), c.KeyString(), c.ByteLen(), len(d))
		}
		n, k := binary.Uvarint(data[start:])
		wire := data[start+k : consumed()]
		if k <= 0 || n != uint64(len(wire)) || uint64(c.ByteLen()+len(d)) != n ||
			!bytes.Equal(wire[:c.ByteLen()], c.Bytes()) || !bytes.Equal(wire[c.ByteLen():], d) {
			t.Fatalf("section %d: CID %s and %d bytes of data are not the %d bytes on the wire", len(out), c, len(d), len(wire))
		}
		switch {
		case pool == nil && buf != nil:
			t.Fatalf("section %d: a pooled buffer without a pool", len(out))
		case pool != nil && len(d) <= alignedBufSize && (buf == nil || pool.out != 1 || len(d) > 0 && &(*buf)[0] != &d[0]):
			t.Fatalf("section %d of %d bytes: not read into a pooled buffer (%d out)", len(out), len(d), pool.out)
		case pool != nil && len(d) > alignedBufSize && buf != nil:
			t.Fatalf("section %d of %d bytes: a pooled buffer that does not hold it", len(out), len(d))
		}
		out = append(out, section{c: c, data: bytes.Clone(d)})
		if buf != nil {
			p.Put(buf)
		}
	}
}

// tallyReader counts the bytes read through it.
type tallyReader struct {
	r io.Reader
	n int
}

func (c *tallyReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += n
	return n, err
}

// longCID is a CID of maxCIDLen+5 bytes (an identity multihash).
var longCID = func() cid.Cid {
	h, _ := mh.Sum(bytes.Repeat([]byte{7}, maxCIDLen), mh.IDENTITY, -1)
	return cid.NewCidV1(cid.Raw, h)
}()

// headerLen is the length of a with its CAR header and that header's length.
func headerLen(a []byte) int {
	n, k := binary.Uvarint(a)
	return k + int(n)
}

// seedService is an offline service with a small directory added: dag-pb
// directories and raw leaves. (Its files are small: a fuzzer mutates and
// minimises large inputs slowly.) The caller closes it once the seeds are
// made, so that it does not run, and allocate, while the fuzzer measures.
func seedService(f *testing.F) (*Service, cid.Cid) {
	f.Helper()
	s, err := New(nil, dssync.MutexWrap(datastore.NewMapDatastore()), nil, WithBlocksDir(f.TempDir()), WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		f.Fatal(err)
	}
	dir := bfiles.NewMapDirectory(map[string]bfiles.Node{
		"docs": bfiles.NewMapDirectory(map[string]bfiles.Node{
			"readme": bfiles.NewBytesFile(bytes.Repeat([]byte("plexus block protocol "), 20)),
		}),
		"small": bfiles.NewBytesFile([]byte("hello")),
	})
	a, err := s.Add(f.Context(), dir, AddOptions{})
	if err != nil {
		s.Close()
		f.Fatal(err)
	}
	return s, a.CID
}

// realRequest is a request for the seed directory's blocks as a fetching
// node makes it: the root recursive, the other blocks alone; and a CIDv0
// and an identity CID, as other clients may send.
func realRequest(f *testing.F) []blockReq {
	s, root := seedService(f)
	defer s.Close()
	all, err := s.DAGBlocks(f.Context(), root)
	if err != nil {
		f.Fatal(err)
	}
	reqs := []blockReq{{c: root, recursive: true}}
	for _, c := range all[1:] {
		reqs = append(reqs, blockReq{c: c})
	}
	h, _ := mh.Sum([]byte("v0"), mh.SHA2_256, -1)
	id, _ := mh.Sum([]byte("inline"), mh.IDENTITY, -1)
	return append(reqs, blockReq{c: cid.NewCidV0(h), recursive: true}, blockReq{c: cid.NewCidV1(cid.Raw, id)})
}

// realAnswers are what serveBlocks writes for the seed directory asked for
// recursively, and for one of its blocks alone.
func realAnswers(f *testing.F) [][]byte {
	s, root := seedService(f)
	defer s.Close()
	all, err := s.DAGBlocks(f.Context(), root)
	if err != nil {
		f.Fatal(err)
	}
	var out [][]byte
	for _, q := range []blockReq{{c: root, recursive: true}, {c: all[len(all)-1]}} {
		var b bytes.Buffer
		if err := writeCARHeader(&b, []cid.Cid{q.c}); err != nil {
			f.Fatal(err)
		}
		if err := s.writeDAG(f.Context(), &b, q.c, q.recursive, map[string]struct{}{}); err != nil {
			f.Fatal(err)
		}
		out = append(out, b.Bytes())
	}
	return out
}
