package sinks

import (
	"errors"
	"net/http"
	"testing"
	"time"
)

// TestSignStandardWebhooksVector: the example the Standard Webhooks
// specification publishes, signed and verified.
func TestSignStandardWebhooksVector(t *testing.T) {
	key, err := ParseSecret(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	const (
		id   = "msg_p5jXN8AQM9LWM0D4loKWxJek"
		body = `{"test": 2432232314}`
		want = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	)
	at := time.Unix(1614265330, 0)
	if got := Sign(key, id, at, []byte(body)); got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
	h := http.Header{}
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, "1614265330")
	h.Set(HeaderSignature, "v1,bm90IHRoaXMgb25l v2,xyz "+want) // several signatures, one good
	if err := Verify(key, h, []byte(body), at.Add(time.Minute), 0); err != nil {
		t.Fatalf("Verify of the spec's example: %v", err)
	}
	if err := Verify(key, h, []byte(`{"test": 2432232315}`), at, 0); !errors.Is(err, ErrBadSignature) {
		t.Errorf("changed body: %v, want ErrBadSignature", err)
	}
	h2 := h.Clone()
	h2.Set(HeaderID, "msg_other")
	if err := Verify(key, h2, []byte(body), at, 0); !errors.Is(err, ErrBadSignature) {
		t.Errorf("changed id: %v, want ErrBadSignature", err)
	}
	if err := Verify(key, h, []byte(body), at.Add(6*time.Minute), 0); !errors.Is(err, ErrBadTimestamp) {
		t.Errorf("6 minutes late: %v, want ErrBadTimestamp", err)
	}
	if err := Verify(key, h, []byte(body), at.Add(-6*time.Minute), 0); !errors.Is(err, ErrBadTimestamp) {
		t.Errorf("6 minutes early: %v, want ErrBadTimestamp", err)
	}
	h3 := h.Clone()
	h3.Del(HeaderSignature)
	if err := Verify(key, h3, []byte(body), at, 0); !errors.Is(err, ErrMissingHeaders) {
		t.Errorf("no signature: %v, want ErrMissingHeaders", err)
	}
	other, _ := ParseSecret("whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=")
	if err := Verify(other, h, []byte(body), at, 0); !errors.Is(err, ErrBadSignature) {
		t.Errorf("other secret: %v, want ErrBadSignature", err)
	}
}
