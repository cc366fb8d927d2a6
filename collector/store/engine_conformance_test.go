package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/farmwatch/farmwatch/internal/pgtest"
)

// The engine conformance suite: each scenario runs on the bbolt adapter and
// on the PostgreSQL engine (a database of its own on the test binary's
// shared cluster, with tiny cursor pages so that short walks cross page
// boundaries). Without PostgreSQL installed the pg half skips (fails on CI).

type kvEngineMaker struct {
	name string
	open func(t *testing.T) kvEngine
}

func kvEngineMakers() []kvEngineMaker {
	return []kvEngineMaker{
		{"bolt", func(t *testing.T) kvEngine { return openBoltTestEngine(t) }},
		{"pg", func(t *testing.T) kvEngine {
			e := openPGTestEngine(t, pgtest.Shared(t).NewDatabase(t))
			e.pageMin, e.pageMax = 2, 3
			return e
		}},
	}
}

func openBoltTestEngine(t testing.TB) boltEngine {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "kv.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return boltEngine{db}
}

func openPGTestEngine(t testing.TB, url string) *pgEngine {
	t.Helper()
	e, err := openPGEngine(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// kvUpdate and kvView fail the test on error.
func kvUpdate(t *testing.T, e kvEngine, fn func(kvTx) error) {
	t.Helper()
	if err := e.Update(fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func kvView(t testing.TB, e kvEngine, fn func(kvTx) error) {
	t.Helper()
	if err := e.View(fn); err != nil {
		t.Fatalf("View: %v", err)
	}
}

// kvWalk lists a bucket with ForEach as "k=v" strings.
func kvWalk(t *testing.T, b kvBucket) []string {
	t.Helper()
	var out []string
	if err := b.ForEach(func(k, v []byte) error {
		out = append(out, fmt.Sprintf("%s=%s", k, v))
		return nil
	}); err != nil {
		t.Fatalf("ForEach: %v", err)
	}
	return out
}

func kvWant(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s:\n got %q\nwant %q", what, got, want)
	}
}

func kvFill(t *testing.T, e kvEngine, bucket string, keys ...string) {
	t.Helper()
	kvUpdate(t, e, func(tx kvTx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(bucket))
		if err != nil {
			return err
		}
		for _, k := range keys {
			if err := b.Put([]byte(k), []byte("v"+k)); err != nil {
				return err
			}
		}
		return nil
	})
}

func kvKeys(n int) []string {
	var ks []string
	for i := range n {
		ks = append(ks, fmt.Sprintf("k%02d", i))
	}
	return ks
}

// kv renders a cursor step.
func kv(k, v []byte) string {
	if k == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%s=%s", k, v)
}

var kvScenarios = []struct {
	name string
	run  func(t *testing.T, e kvEngine)
}{
	{"GetPutDelete", func(t *testing.T, e kvEngine) {
		kvUpdate(t, e, func(tx kvTx) error {
			if !tx.Writable() {
				t.Error("Update's transaction is not writable")
			}
			b, err := tx.CreateBucketIfNotExists([]byte("b"))
			if err != nil {
				return err
			}
			b.Put([]byte("k1"), []byte("v1"))
			b.Put([]byte("empty"), []byte{})
			b.Put([]byte("nilvalue"), nil)
			b.Put([]byte("gone"), []byte("x"))
			if got := b.Get([]byte("k1")); string(got) != "v1" {
				t.Errorf("Get after Put in the same transaction: %q", got)
			}
			if err := b.Delete([]byte("gone")); err != nil {
				return err
			}
			if err := b.Delete([]byte("never-there")); err != nil {
				t.Errorf("Delete of an absent key: %v", err)
			}
			if got := b.Get([]byte("gone")); got != nil {
				t.Errorf("Get after Delete: %q", got)
			}
			return nil
		})
		kvView(t, e, func(tx kvTx) error {
			if tx.Writable() {
				t.Error("View's transaction is writable")
			}
			b := tx.Bucket([]byte("b"))
			if got := b.Get([]byte("empty")); got == nil || len(got) != 0 {
				t.Errorf("empty value: %#v, want a non-nil empty slice", got)
			}
			if got := b.Get([]byte("nilvalue")); got == nil || len(got) != 0 {
				t.Errorf("value put as nil: %#v, want a non-nil empty slice", got)
			}
			for _, k := range []string{"gone", "missing", ""} {
				if got := b.Get([]byte(k)); got != nil {
					t.Errorf("Get(%q) = %q, want nil", k, got)
				}
			}
			if got := b.Get([]byte("k1")); string(got) != "v1" {
				t.Errorf("Get(k1) = %q", got)
			}
			if err := b.Put([]byte("k"), []byte("v")); err == nil {
				t.Error("Put in a View succeeded")
			}
			if b.KeyN() != 3 {
				t.Errorf("KeyN = %d, want 3", b.KeyN())
			}
			return nil
		})
		kvUpdate(t, e, func(tx kvTx) error {
			b := tx.Bucket([]byte("b"))
			if err := b.Put(nil, []byte("v")); err == nil {
				t.Error("Put with an empty key succeeded")
			}
			return b.Put([]byte("k1"), []byte("v2"))
		})
		kvView(t, e, func(tx kvTx) error {
			kvWant(t, "after overwrite", kvWalk(t, tx.Bucket([]byte("b"))), []string{"empty=", "k1=v2", "nilvalue="})
			return nil
		})
	}},
	{"MissingBuckets", func(t *testing.T, e kvEngine) {
		kvView(t, e, func(tx kvTx) error {
			if b := tx.Bucket([]byte("nope")); b != nil {
				t.Errorf("Bucket of a missing bucket: %v", b)
			}
			if _, err := tx.CreateBucketIfNotExists([]byte("x")); err == nil {
				t.Error("CreateBucketIfNotExists in a View succeeded")
			}
			return nil
		})
		kvUpdate(t, e, func(tx kvTx) error {
			if err := tx.DeleteBucket([]byte("nope")); err == nil {
				t.Error("DeleteBucket of a missing bucket succeeded")
			}
			if _, err := tx.CreateBucketIfNotExists(nil); err == nil {
				t.Error("CreateBucketIfNotExists with an empty name succeeded")
			}
			b, err := tx.CreateBucketIfNotExists([]byte("p"))
			if err != nil {
				return err
			}
			if b.Bucket([]byte("nope")) != nil {
				t.Error("a missing nested bucket is not nil")
			}
			if again, err := tx.CreateBucketIfNotExists([]byte("p")); err != nil || again == nil {
				t.Errorf("CreateBucketIfNotExists of an existing bucket: %v", err)
			}
			return nil
		})
		kvView(t, e, func(tx kvTx) error {
			if tx.Bucket([]byte("p")) == nil {
				t.Error("the created bucket is missing")
			}
			return nil
		})
	}},
	{"NestedBuckets", func(t *testing.T, e kvEngine) {
		names := []string{"IMPORT/1", "a%b", "\x00x", "zz", "\xffend", "a b"}
		kvUpdate(t, e, func(tx kvTx) error {
			p, err := tx.CreateBucketIfNotExists([]byte("staging"))
			if err != nil {
				return err
			}
			p.Put([]byte("plain"), []byte("1"))
			for _, n := range names {
				nb, err := p.CreateBucketIfNotExists([]byte(n))
				if err != nil {
					return err
				}
				nb.Put([]byte("in"), []byte(n))
			}
			deep, err := p.Bucket([]byte("zz")).CreateBucketIfNotExists([]byte("deep"))
			if err != nil {
				return err
			}
			deep.Put([]byte("d"), []byte("1"))
			// A top-level bucket whose name looks like a path is not nested.
			top, err := tx.CreateBucketIfNotExists([]byte("staging/zz"))
			if err != nil {
				return err
			}
			return top.Put([]byte("top"), []byte("1"))
		})
		kvView(t, e, func(tx kvTx) error {
			p := tx.Bucket([]byte("staging"))
			kvWant(t, "parent's keys", kvWalk(t, p), []string{"plain=1"})
			var got []string
			p.ForEachBucket(func(n []byte) error { got = append(got, string(n)); return nil })
			want := slices.Clone(names)
			slices.Sort(want)
			kvWant(t, "ForEachBucket", got, want)
			// KeyN of a bucket with nested buckets differs: bbolt counts
			// the nested buckets and their keys too; the store counts only
			// flat buckets.
			for _, n := range names {
				if v := p.Bucket([]byte(n)).Get([]byte("in")); string(v) != n {
					t.Errorf("nested %q: %q", n, v)
				}
			}
			if p.Get([]byte("zz")) != nil {
				t.Error("Get of a nested bucket's name is not nil")
			}
			if c := p.Cursor(); kv(c.First()) != "plain=1" || kv(c.Next()) != "<nil>" {
				t.Error("the cursor does not skip nested buckets")
			}
			kvWant(t, "two levels down", kvWalk(t, p.Bucket([]byte("zz")).Bucket([]byte("deep"))), []string{"d=1"})
			kvWant(t, "the look-alike top bucket", kvWalk(t, tx.Bucket([]byte("staging/zz"))), []string{"top=1"})
			if tx.Bucket([]byte("zz")) != nil {
				t.Error("a nested bucket is visible at the top")
			}
			return nil
		})
		kvUpdate(t, e, func(tx kvTx) error {
			if err := tx.Bucket([]byte("staging")).DeleteBucket([]byte("a%b")); err != nil {
				return err
			}
			return tx.DeleteBucket([]byte("staging"))
		})
		kvUpdate(t, e, func(tx kvTx) error {
			p, err := tx.CreateBucketIfNotExists([]byte("staging"))
			if err != nil {
				return err
			}
			if p.KeyN() != 0 || p.Bucket([]byte("zz")) != nil {
				t.Error("a deleted bucket's keys or nested buckets came back")
			}
			if tx.Bucket([]byte("staging/zz")) == nil {
				t.Error("deleting staging removed the top-level bucket staging/zz")
			}
			return nil
		})
	}},
	{"ForEachOrder", func(t *testing.T, e kvEngine) {
		keys := []string{"b", "\xff", "a", "\x00", "ab", "\x80", "\x7f", "\x01", "a\x00"}
		kvFill(t, e, "o", keys...)
		kvView(t, e, func(tx kvTx) error {
			var got []string
			stop := errors.New("stop")
			err := tx.Bucket([]byte("o")).ForEach(func(k, v []byte) error {
				got = append(got, string(k))
				if len(got) == 8 {
					return stop
				}
				return nil
			})
			if err != stop {
				t.Errorf("ForEach returned %v, want fn's error", err)
			}
			kvWant(t, "unsigned byte order", got, []string{"\x00", "\x01", "a", "a\x00", "ab", "b", "\x7f", "\x80"})
			return nil
		})
	}},
	{"CursorAcrossPages", func(t *testing.T, e kvEngine) {
		kvFill(t, e, "c", kvKeys(11)...)
		kvView(t, e, func(tx kvTx) error {
			c := tx.Bucket([]byte("c")).Cursor()
			var fwd, back []string
			for k, v := c.First(); k != nil; k, v = c.Next() {
				fwd = append(fwd, kv(k, v))
			}
			kvWant(t, "First/Next", fwd, kvWalk(t, tx.Bucket([]byte("c"))))
			for k, v := c.Last(); k != nil; k, v = c.Prev() {
				back = append(back, kv(k, v))
			}
			slices.Reverse(back)
			kvWant(t, "Last/Prev", back, fwd)
			steps := []struct{ what, got, want string }{
				{"Seek between keys", kv(c.Seek([]byte("k035"))), "k04=vk04"},
				{"Prev after Seek", kv(c.Prev()), "k03=vk03"},
				{"Prev across a page", kv(c.Prev()), "k02=vk02"},
				{"Next back", kv(c.Next()), "k03=vk03"},
				{"Seek exact", kv(c.Seek([]byte("k07"))), "k07=vk07"},
				{"Seek before all", kv(c.Seek([]byte("a"))), "k00=vk00"},
				{"Prev before first", kv(c.Prev()), "<nil>"},
				{"Seek past all", kv(c.Seek([]byte("z"))), "<nil>"},
				{"Last", kv(c.Last()), "k10=vk10"},
				{"Next after last", kv(c.Next()), "<nil>"},
				{"First", kv(c.First()), "k00=vk00"},
				{"Seek empty", kv(c.Seek(nil)), "k00=vk00"},
			}
			for _, s := range steps {
				if s.got != s.want {
					t.Errorf("%s: %s, want %s", s.what, s.got, s.want)
				}
			}
			return nil
		})
		kvView(t, e, func(tx kvTx) error {
			c := tx.Bucket([]byte("c")).Cursor()
			if kv(c.Last()) != "k10=vk10" || kv(c.Prev()) != "k09=vk09" || kv(c.Prev()) != "k08=vk08" ||
				kv(c.Prev()) != "k07=vk07" || kv(c.Next()) != "k08=vk08" {
				t.Error("Last, Prev x3, Next")
			}
			return nil
		})
	}},
	{"EmptyBucketCursor", func(t *testing.T, e kvEngine) {
		kvFill(t, e, "e")
		kvView(t, e, func(tx kvTx) error {
			c := tx.Bucket([]byte("e")).Cursor()
			for what, got := range map[string]string{"First": kv(c.First()), "Last": kv(c.Last()), "Seek": kv(c.Seek([]byte("a")))} {
				if got != "<nil>" {
					t.Errorf("%s on an empty bucket: %s", what, got)
				}
			}
			kvWant(t, "ForEach", kvWalk(t, tx.Bucket([]byte("e"))), nil)
			return nil
		})
	}},
	{"CursorDeleteAndFirst", func(t *testing.T, e kvEngine) {
		// The pruning idiom: delete from the front, First again.
		kvFill(t, e, "p", kvKeys(10)...)
		kvUpdate(t, e, func(tx kvTx) error {
			c := tx.Bucket([]byte("p")).Cursor()
			n := 0
			for k, _ := c.First(); k != nil && n < 7; k, _ = c.First() {
				if err := c.Delete(); err != nil {
					return err
				}
				n++
			}
			return nil
		})
		kvView(t, e, func(tx kvTx) error {
			kvWant(t, "after pruning 7", kvWalk(t, tx.Bucket([]byte("p"))), []string{"k07=vk07", "k08=vk08", "k09=vk09"})
			return nil
		})
	}},
	{"CursorDeleteWhileSeeking", func(t *testing.T, e kvEngine) {
		// Delete every key with an even number, walking by Seek.
		kvFill(t, e, "d", kvKeys(12)...)
		kvUpdate(t, e, func(tx kvTx) error {
			c := tx.Bucket([]byte("d")).Cursor()
			for k, _ := c.First(); k != nil; {
				next := append(bytes.Clone(k), 0)
				if (k[2]-'0')%2 == 0 {
					if err := c.Delete(); err != nil {
						return err
					}
				}
				k, _ = c.Seek(next)
			}
			return nil
		})
		kvView(t, e, func(tx kvTx) error {
			kvWant(t, "odd keys left", kvWalk(t, tx.Bucket([]byte("d"))),
				[]string{"k01=vk01", "k03=vk03", "k05=vk05", "k07=vk07", "k09=vk09", "k11=vk11"})
			return nil
		})
	}},
	{"WritesDuringWalk", func(t *testing.T, e kvEngine) {
		// bbolt's cursor must be repositioned after a write (its
		// documentation says so); the walk then goes on in key order and
		// sees the writes ahead of it.
		kvWalkWithWrites(t, e, true)
	}},
	{"NextSequenceAndKeyN", func(t *testing.T, e kvEngine) {
		kvFill(t, e, "s")
		var got []uint64
		for range 3 {
			kvUpdate(t, e, func(tx kvTx) error {
				b, err := tx.CreateBucketIfNotExists([]byte("s"))
				if err != nil {
					return err
				}
				n, err := b.NextSequence()
				if err != nil {
					return err
				}
				got = append(got, n)
				return b.Put([]byte(fmt.Sprint(n)), nil)
			})
		}
		if !slices.Equal(got, []uint64{1, 2, 3}) {
			t.Fatalf("NextSequence: %v", got)
		}
		kvUpdate(t, e, func(tx kvTx) error {
			o, err := tx.CreateBucketIfNotExists([]byte("other"))
			if err != nil {
				return err
			}
			if n, err := o.NextSequence(); err != nil || n != 1 {
				t.Errorf("another bucket's first sequence: %d, %v", n, err)
			}
			if n := tx.Bucket([]byte("s")).KeyN(); n != 3 {
				t.Errorf("KeyN = %d", n)
			}
			return nil
		})
		kvView(t, e, func(tx kvTx) error {
			if _, err := tx.Bucket([]byte("s")).NextSequence(); err == nil {
				t.Error("NextSequence in a View succeeded")
			}
			return nil
		})
	}},
	{"RollbackOnError", func(t *testing.T, e kvEngine) {
		kvFill(t, e, "r", "kept")
		boom := errors.New("boom")
		committed := 0
		err := e.Update(func(tx kvTx) error {
			tx.OnCommit(func() { committed++ })
			b := tx.Bucket([]byte("r"))
			b.Put([]byte("new"), []byte("x"))
			b.Delete([]byte("kept"))
			b.NextSequence()
			tx.CreateBucketIfNotExists([]byte("newbucket"))
			tx.DeleteBucket([]byte("r"))
			return boom
		})
		if err != boom {
			t.Fatalf("Update returned %v, want fn's error", err)
		}
		if committed != 0 {
			t.Fatalf("OnCommit ran %d times for a rolled back transaction", committed)
		}
		kvUpdate(t, e, func(tx kvTx) error {
			if tx.Bucket([]byte("newbucket")) != nil {
				t.Error("a bucket created in a rolled back transaction exists")
			}
			kvWant(t, "after rollback", kvWalk(t, tx.Bucket([]byte("r"))), []string{"kept=vkept"})
			if n, _ := tx.Bucket([]byte("r")).NextSequence(); n != 1 && n != 2 {
				t.Errorf("sequence after rollback: %d", n)
			}
			return nil
		})
	}},
	{"OnCommitOnce", func(t *testing.T, e kvEngine) {
		calls, inside := 0, false
		kvUpdate(t, e, func(tx kvTx) error {
			inside = true
			tx.OnCommit(func() {
				if inside {
					t.Error("OnCommit ran inside fn")
				}
				calls++
			})
			_, err := tx.CreateBucketIfNotExists([]byte("x"))
			inside = false
			return err
		})
		if calls != 1 {
			t.Fatalf("OnCommit ran %d times", calls)
		}
	}},
}

func TestEngineConformance(t *testing.T) {
	for _, m := range kvEngineMakers() {
		t.Run(m.name, func(t *testing.T) {
			for _, s := range kvScenarios {
				t.Run(s.name, func(t *testing.T) { s.run(t, m.open(t)) })
			}
		})
	}
}

// kvWalkWithWrites walks bucket w, writing ahead of and behind the cursor
// and on the current key, and checks what the walk and a later View see.
// With reposition the walk Seeks back to its key after each write.
func kvWalkWithWrites(t *testing.T, e kvEngine, reposition bool) {
	kvFill(t, e, "w", "k00", "k02", "k04", "k06", "k08", "k10", "k12")
	kvUpdate(t, e, func(tx kvTx) error {
		b := tx.Bucket([]byte("w"))
		c := b.Cursor()
		var seen []string
		for k, v := c.First(); k != nil; k, v = c.Next() {
			seen = append(seen, kv(k, v))
			switch string(k) {
			case "k02":
				b.Put([]byte("k03"), []byte("new")) // just ahead: seen next
				b.Put([]byte("k01"), []byte("new")) // behind: not seen
				b.Delete([]byte("k06"))             // ahead: not seen
			case "k08":
				b.Put([]byte("k08"), []byte("changed")) // the current key
				b.Put([]byte("k11"), []byte("new"))
			default:
				continue
			}
			if reposition {
				c.Seek(bytes.Clone(k))
			}
		}
		kvWant(t, "walk with writes", seen, []string{"k00=vk00", "k02=vk02", "k03=new", "k04=vk04", "k08=vk08", "k10=vk10", "k11=new", "k12=vk12"})
		return nil
	})
	kvView(t, e, func(tx kvTx) error {
		kvWant(t, "after the walk", kvWalk(t, tx.Bucket([]byte("w"))),
			[]string{"k00=vk00", "k01=new", "k02=vk02", "k03=new", "k04=vk04", "k08=changed", "k10=vk10", "k11=new", "k12=vk12"})
		return nil
	})
}

// kvOp is one step of the differential test's script.
type kvOp struct {
	kind   int
	bucket int // 0, 1: top-level buckets; 2: a bucket nested in 0
	key    []byte
	val    []byte
	n      int
}

const (
	opPut = iota
	opDelete
	opGet
	opWalkFwd   // Seek(key), then n x Next
	opWalkBack  // Last, then n x Prev
	opWalkMixed // Seek(key), Next, Prev, Prev, Next
	opCursorDel // Seek(key), Delete, then Seek(key) again
	opSeq
	opKeyN
	opPrune // delete n keys from the front with Delete and First
)

func kvRandomScript(seed uint64, txs, opsPerTx int) [][]kvOp {
	rng := rand.New(rand.NewPCG(seed, 1))
	key := func() []byte {
		// A small key space, so that keys are hit again; some keys are
		// prefixes of others, some use bytes above 0x7f.
		k := []byte{byte(rng.IntN(6)) * 50}
		for range rng.IntN(3) {
			k = append(k, byte(rng.IntN(4))*85)
		}
		return k
	}
	var script [][]kvOp
	for range txs {
		var tx []kvOp
		for range 1 + rng.IntN(opsPerTx) {
			op := kvOp{kind: rng.IntN(opPrune + 1), bucket: rng.IntN(3), key: key(), n: rng.IntN(8)}
			if op.kind == opPut {
				op.val = make([]byte, rng.IntN(4))
				for i := range op.val {
					op.val[i] = byte('a' + rng.IntN(26))
				}
			}
			tx = append(tx, op)
		}
		script = append(script, tx)
	}
	return script
}

// kvRunScript runs the script on e, each inner list in one Update (every
// fifth one rolled back), and logs what every step saw.
func kvRunScript(t *testing.T, e kvEngine, script [][]kvOp) []string {
	return kvRunScriptOn(t, e, [2]string{"b0", "b1"}, script)
}

// kvRunScriptOn is kvRunScript on the top-level buckets named (the script's
// buckets 0 and 1; its bucket 2 is nested in the first).
func kvRunScriptOn(t *testing.T, e kvEngine, names [2]string, script [][]kvOp) []string {
	b0, b1 := []byte(names[0]), []byte(names[1])
	var log []string
	kvUpdate(t, e, func(tx kvTx) error {
		for _, n := range names {
			if _, err := tx.CreateBucketIfNotExists([]byte(n)); err != nil {
				return err
			}
		}
		_, err := tx.Bucket(b0).CreateBucketIfNotExists([]byte("nested"))
		return err
	})
	rollback := errors.New("rollback")
	for i, ops := range script {
		var txLog []string
		err := e.Update(func(tx kvTx) error {
			txLog = txLog[:0] // a retried attempt logs afresh
			logf := func(format string, a ...any) { txLog = append(txLog, fmt.Sprintf(format, a...)) }
			for _, op := range ops {
				b := tx.Bucket(b0)
				switch op.bucket {
				case 1:
					b = tx.Bucket(b1)
				case 2:
					b = b.Bucket([]byte("nested"))
				}
				c := b.Cursor()
				switch op.kind {
				case opPut:
					logf("put %x %v", op.key, b.Put(op.key, op.val))
				case opDelete:
					logf("delete %x %v", op.key, b.Delete(op.key))
				case opGet:
					v := b.Get(op.key)
					logf("get %x %q nil=%v", op.key, v, v == nil)
				case opWalkFwd:
					steps := []string{kv(c.Seek(op.key))}
					for j := 0; j < op.n && steps[len(steps)-1] != "<nil>"; j++ {
						steps = append(steps, kv(c.Next()))
					}
					logf("walk %x %q", op.key, steps)
				case opWalkBack:
					steps := []string{kv(c.Last())}
					for j := 0; j < op.n && steps[len(steps)-1] != "<nil>"; j++ {
						steps = append(steps, kv(c.Prev()))
					}
					logf("back %q", steps)
				case opWalkMixed:
					steps := []string{kv(c.Seek(op.key))}
					for _, step := range []func() ([]byte, []byte){c.Next, c.Prev, c.Prev, c.Next} {
						if steps[len(steps)-1] == "<nil>" {
							break
						}
						steps = append(steps, kv(step()))
					}
					logf("mixed %x %q", op.key, steps)
				case opCursorDel:
					k, _ := c.Seek(op.key)
					if k == nil {
						logf("cdel %x none", op.key)
						break
					}
					// Only Seek or First after Delete: bbolt's Next after
					// Delete may skip keys (reposition after a write).
					logf("cdel %x at %x %v then %s", op.key, k, c.Delete(), kv(c.Seek(op.key)))
				case opSeq:
					n, err := b.NextSequence()
					logf("seq %d %v", n, err)
				case opKeyN:
					// KeyN inside an Update after writes is not compared:
					// bbolt counts the committed pages only. The View below
					// compares it.
					v := b.Get(op.key)
					logf("get %x %q nil=%v", op.key, v, v == nil)
				case opPrune:
					var pruned []string
					for k, _ := c.First(); k != nil && len(pruned) < op.n; k, _ = c.First() {
						pruned = append(pruned, fmt.Sprintf("%x", k))
						if err := c.Delete(); err != nil {
							return err
						}
					}
					logf("prune %v", pruned)
				}
			}
			if i%5 == 4 {
				return rollback
			}
			return nil
		})
		if err != nil && err != rollback {
			t.Fatalf("transaction %d: %v", i, err)
		}
		log = append(log, txLog...)
		kvView(t, e, func(tx kvTx) error {
			for _, b := range []kvBucket{tx.Bucket(b0), tx.Bucket(b1), tx.Bucket(b0).Bucket([]byte("nested"))} {
				log = append(log, fmt.Sprintf("after %d: %q", i, kvWalk(t, b)))
			}
			// bbolt's KeyN of b0 also counts its nested bucket.
			log = append(log, fmt.Sprintf("keyn %d %d", tx.Bucket(b1).KeyN(), tx.Bucket(b0).Bucket([]byte("nested")).KeyN()))
			return nil
		})
	}
	return log
}

// TestEngineDifferential runs seeded random transactions on both engines
// and compares everything they saw.
func TestEngineDifferential(t *testing.T) {
	makers := kvEngineMakers()
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			script := kvRandomScript(seed, 60, 25)
			want := kvRunScript(t, makers[0].open(t), script)
			got := kvRunScript(t, makers[1].open(t), script)
			kvDiff(t, fmt.Sprintf("seed %d", seed), want, got)
		})
	}
}
