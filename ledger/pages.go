package ledger

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
)

// bbolt reads its pages straight from a memory mapping and trusts what it finds:
// a page id past the mapping faults, a page that points back at an ancestor sends
// a cursor round forever. Before bbolt walks a file that may be damaged, the
// ledger walks it itself with this reader, which reads through the file with
// explicit bounds and refuses a page it has already seen.
//
// The layout is bbolt's (go.etcd.io/bbolt/internal/common), in the machine's byte
// order:
//
//	page header   id u64, flags u16, count u16, overflow u32            (16 bytes)
//	meta          magic u32, version u32, page size u32, flags u32,
//	              root bucket {root u64, sequence u64}, freelist u64,
//	              pgid (high water mark) u64, txid u64, checksum u64
//	branch elem   pos u32, ksize u32, pgid u64                          (16 bytes)
//	leaf elem     flags u32, pos u32, ksize u32, vsize u32              (16 bytes)
//	bucket value  root u64, sequence u64, then, when root is 0, an inline leaf page
//
// An element's pos counts from the element itself.

const (
	pageHeaderSize = 16
	elemSize       = 16
	bucketHdrSize  = 16

	pageBranch   = 0x01
	pageLeaf     = 0x02
	pageFreelist = 0x10
	leafBucket   = 0x01

	boltMagic   = 0xED0CDAED
	boltVersion = 2
	noFreelist  = ^uint64(0)

	// maxTreeDepth is far beyond any real tree (a depth of 10 holds more than a
	// disk) and stops a walk down a chain of damaged pages.
	maxTreeDepth = 64
)

var ne = binary.NativeEndian

// pageWalker reads the pages of one bbolt snapshot (one meta page) from a file.
type pageWalker struct {
	r        io.ReaderAt
	pageSize int
	hwm      uint64 // pages below this id exist
	seen     map[uint64]bool
	free     map[uint64]bool // the snapshot's freelist
}

// snapshot is what a meta page says about the tree it roots.
type snapshot struct {
	root, freelist, hwm, txid uint64
}

// readSnapshot reads the meta page of transaction txid from a file of pageSize
// pages.
func readSnapshot(r io.ReaderAt, pageSize int, txid uint64) (snapshot, error) {
	for page := range 2 {
		b := make([]byte, pageHeaderSize+64)
		if _, err := r.ReadAt(b, int64(page*pageSize)); err != nil {
			continue
		}
		m := b[pageHeaderSize:]
		h := fnv.New64a()
		h.Write(m[:56])
		if ne.Uint32(m[0:4]) != boltMagic || ne.Uint32(m[4:8]) != boltVersion || ne.Uint64(m[56:64]) != h.Sum64() {
			continue
		}
		s := snapshot{root: ne.Uint64(m[16:24]), freelist: ne.Uint64(m[32:40]), hwm: ne.Uint64(m[40:48]), txid: ne.Uint64(m[48:56])}
		if s.txid == txid {
			return s, nil
		}
	}
	return snapshot{}, fmt.Errorf("no valid meta page for transaction %d", txid)
}

func newPageWalker(r io.ReaderAt, pageSize int, s snapshot) *pageWalker {
	return &pageWalker{r: r, pageSize: pageSize, hwm: s.hwm, seen: make(map[uint64]bool), free: make(map[uint64]bool)}
}

// page reads page id with its overflow pages and checks its header.
func (w *pageWalker) page(id uint64, wantFlags ...uint16) ([]byte, error) {
	if id < 2 || id >= w.hwm {
		return nil, fmt.Errorf("page %d: outside the file's pages 2..%d", id, w.hwm-1)
	}
	hdr := make([]byte, pageHeaderSize)
	if _, err := w.r.ReadAt(hdr, int64(id)*int64(w.pageSize)); err != nil {
		return nil, fmt.Errorf("page %d: %w", id, err)
	}
	overflow := uint64(ne.Uint32(hdr[12:16]))
	flags := ne.Uint16(hdr[8:10])
	switch {
	case ne.Uint64(hdr[0:8]) != id:
		return nil, fmt.Errorf("page %d: header says it is page %d", id, ne.Uint64(hdr[0:8]))
	case overflow >= w.hwm-id:
		return nil, fmt.Errorf("page %d: %d overflow pages run past the end", id, overflow)
	}
	okFlags := false
	for _, f := range wantFlags {
		okFlags = okFlags || flags == f
	}
	if !okFlags {
		return nil, fmt.Errorf("page %d: unexpected page type %#x", id, flags)
	}
	for p := id; p <= id+overflow; p++ {
		if w.seen[p] {
			return nil, fmt.Errorf("page %d: reached twice (a loop or a shared page)", p)
		}
		w.seen[p] = true
	}
	b := make([]byte, (overflow+1)*uint64(w.pageSize))
	if _, err := w.r.ReadAt(b, int64(id)*int64(w.pageSize)); err != nil {
		return nil, fmt.Errorf("page %d: %w", id, err)
	}
	return b, nil
}

// freelist checks the freelist page: its ids must be pages of the file.
func (w *pageWalker) freelist(id uint64) error {
	if id == noFreelist {
		return nil
	}
	p, err := w.page(id, pageFreelist)
	if err != nil {
		return fmt.Errorf("freelist: %w", err)
	}
	start, n := pageHeaderSize, uint64(ne.Uint16(p[10:12]))
	if n == 0xFFFF {
		n, start = ne.Uint64(p[pageHeaderSize:]), start+8
	}
	if n > uint64(len(p)-start)/8 {
		return fmt.Errorf("freelist: page %d: %d ids do not fit in it", id, n)
	}
	for i := range n {
		free := ne.Uint64(p[start+int(i)*8:])
		switch {
		case free < 2 || free >= w.hwm:
			return fmt.Errorf("freelist: page %d: lists page %d, outside the file's pages", id, free)
		case w.free[free]:
			return fmt.Errorf("freelist: page %d: lists page %d twice", id, free)
		}
		w.free[free] = true
	}
	return nil
}

// leaks checks, after a full walk, that every page is either reachable or free,
// never both: bbolt's own check does the same against the freelist in memory,
// which concurrent writers change, so the ledger checks the snapshot's own.
func (w *pageWalker) leaks() error {
	for id := uint64(2); id < w.hwm; id++ {
		switch {
		case w.seen[id] && w.free[id]:
			return fmt.Errorf("page %d: in use and on the freelist", id)
		case !w.seen[id] && !w.free[id]:
			return fmt.Errorf("page %d: neither in use nor on the freelist", id)
		}
	}
	return nil
}

// visitFunc is called for each key of a leaf; bucket values are the raw bucket
// header (and inline page). It returns the error that ends the walk.
type visitFunc func(key, value []byte, bucket bool) error

// tree walks the B+tree rooted at page root, calling fn for each leaf element.
// With lastOnly it follows only the last child of each branch: the path a
// cursor's Last takes.
func (w *pageWalker) tree(root uint64, lastOnly bool, fn visitFunc) error {
	return w.node(root, 0, lastOnly, fn)
}

func (w *pageWalker) node(id uint64, depth int, lastOnly bool, fn visitFunc) error {
	if depth > maxTreeDepth {
		return fmt.Errorf("page %d: tree deeper than %d", id, maxTreeDepth)
	}
	p, err := w.page(id, pageBranch, pageLeaf)
	if err != nil {
		return err
	}
	if ne.Uint16(p[8:10]) == pageLeaf {
		if err := leaf(p, fn); err != nil {
			return fmt.Errorf("page %d: %w", id, err)
		}
		return nil
	}
	n := int(ne.Uint16(p[10:12]))
	if n == 0 || pageHeaderSize+n*elemSize > len(p) {
		return fmt.Errorf("page %d: branch with %d elements", id, n)
	}
	first := 0
	if lastOnly {
		first = n - 1
	}
	var prev []byte
	for i := first; i < n; i++ {
		off := pageHeaderSize + i*elemSize
		pos, ksize := int(ne.Uint32(p[off:])), int(ne.Uint32(p[off+4:]))
		if off+pos+ksize > len(p) || off+pos+ksize < off {
			return fmt.Errorf("page %d: branch element %d runs past the page", id, i)
		}
		key := p[off+pos : off+pos+ksize]
		if i > first && bytes.Compare(prev, key) >= 0 {
			return fmt.Errorf("page %d: branch element %d: keys out of order", id, i)
		}
		prev = key
		if err := w.node(ne.Uint64(p[off+8:]), depth+1, lastOnly, fn); err != nil {
			return err
		}
	}
	return nil
}

// leaf calls fn for each element of the leaf page p (a mapped page or an inline
// one).
func leaf(p []byte, fn visitFunc) error {
	if len(p) < pageHeaderSize {
		return errors.New("leaf shorter than a page header")
	}
	n := int(ne.Uint16(p[10:12]))
	if pageHeaderSize+n*elemSize > len(p) {
		return fmt.Errorf("%d leaf elements do not fit in the page", n)
	}
	var prev []byte
	for i := range n {
		off := pageHeaderSize + i*elemSize
		flags := ne.Uint32(p[off:])
		pos, ksize, vsize := uint64(ne.Uint32(p[off+4:])), uint64(ne.Uint32(p[off+8:])), uint64(ne.Uint32(p[off+12:]))
		start := uint64(off) + pos
		if start+ksize+vsize > uint64(len(p)) {
			return fmt.Errorf("leaf element %d runs past the page", i)
		}
		key, val := p[start:start+ksize], p[start+ksize:start+ksize+vsize]
		if i > 0 && bytes.Compare(prev, key) >= 0 {
			return fmt.Errorf("leaf element %d: keys out of order", i)
		}
		prev = key
		if err := fn(key, val, flags&leafBucket != 0); err != nil {
			return err
		}
	}
	return nil
}

// bucket walks the bucket whose header is value, calling fn for its elements.
func (w *pageWalker) bucket(value []byte, lastOnly bool, fn visitFunc) error {
	if len(value) < bucketHdrSize {
		return fmt.Errorf("bucket header of %d bytes", len(value))
	}
	root := ne.Uint64(value[0:8])
	if root != 0 {
		return w.tree(root, lastOnly, fn)
	}
	inline := value[bucketHdrSize:]
	if len(inline) < pageHeaderSize || ne.Uint16(inline[8:10]) != pageLeaf {
		return errors.New("inline bucket without a leaf page")
	}
	return leaf(inline, fn)
}

// all walks a bucket and every bucket nested in it.
func (w *pageWalker) all(value []byte) error {
	var walk visitFunc
	walk = func(key, value []byte, isBucket bool) error {
		if !isBucket {
			return nil
		}
		if err := w.bucket(value, false, walk); err != nil {
			return fmt.Errorf("bucket %q: %w", key, err)
		}
		return nil
	}
	return w.bucket(value, false, walk)
}

// checkPages walks the snapshot's page structure. With full it reads every page
// of every bucket; without, only what Open and the till's start read: the root,
// the meta and ruleset buckets (of schema 1 or 2), and the path to the last
// event.
func checkPages(r io.ReaderAt, pageSize int, s snapshot, full bool) error {
	w := newPageWalker(r, pageSize, s)
	if err := w.freelist(s.freelist); err != nil {
		return err
	}
	err := w.tree(s.root, false, func(name, value []byte, isBucket bool) error {
		if !isBucket {
			return nil
		}
		var err error
		switch {
		case full:
			err = w.all(value)
		case string(name) == string(bucketMeta), string(name) == string(bucketRulesets), string(name) == string(bucketRulesV1):
			err = w.bucket(value, false, func([]byte, []byte, bool) error { return nil })
		case string(name) == string(bucketEvents):
			err = w.bucket(value, true, func([]byte, []byte, bool) error { return nil })
		}
		if err != nil {
			return fmt.Errorf("bucket %q: %w", name, err)
		}
		return nil
	})
	if err != nil || !full {
		return err
	}
	return w.leaks()
}
