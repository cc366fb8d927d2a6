package rawcache

import (
	"fmt"
	"testing"
)

func TestHitsOnlyForTheSameBytes(t *testing.T) {
	c := New[int](1 << 10)
	c.Put("a", []byte("v1"), 1)
	if v, ok := c.Get("a", []byte("v1")); !ok || v != 1 {
		t.Fatalf("same bytes: %d, %v", v, ok)
	}
	if _, ok := c.Get("a", []byte("v2")); ok {
		t.Fatal("other bytes under the same id hit")
	}
	if _, ok := c.Get("b", []byte("v1")); ok {
		t.Fatal("other id hit")
	}
	c.Put("a", []byte("v2"), 2)
	if v, ok := c.Get("a", []byte("v2")); !ok || v != 2 || c.Len() != 1 || c.Bytes() != 2 {
		t.Fatalf("replaced entry: %d %v, %d entries, %d bytes", v, ok, c.Len(), c.Bytes())
	}
}

func TestBudget(t *testing.T) {
	c := New[int](1000)
	for i := range 100 {
		c.Put(fmt.Sprint(i), make([]byte, 100), i)
		if c.Bytes() > 1000 {
			t.Fatalf("after %d puts: %d bytes held, budget 1000", i+1, c.Bytes())
		}
	}
	if c.Len() != 10 {
		t.Fatalf("%d entries of 100 bytes in a budget of 1000", c.Len())
	}
	c.Put("big", make([]byte, 251), -1)
	if _, ok := c.Get("big", make([]byte, 251)); ok {
		t.Fatal("a record over a quarter of the budget was kept")
	}
	n := 0
	c.Each(func(string, []byte, int) { n++ })
	if n != c.Len() {
		t.Fatalf("Each saw %d of %d", n, c.Len())
	}
}
