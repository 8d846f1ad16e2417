package web

import (
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// The decoy hash an unknown login is compared with exists from the start, so the first unknown
// login costs one bcrypt run like every other, not two; and it is a real hash of the default cost
// that no password matches, so the comparison runs in full.
func TestLoginDecoyReadyAtStart(t *testing.T) {
	e := startConsole(t, Options{})
	d := e.srv.dummy
	if d == nil {
		t.Fatal("no decoy hash after New: the first unknown login would build it, costing a second bcrypt run")
	}
	if c, err := bcrypt.Cost(d); err != nil || c != bcrypt.DefaultCost {
		t.Fatalf("decoy cost %d, %v; want %d like the accounts' hashes", c, err, bcrypt.DefaultCost)
	}
	for _, pw := range []string{"", "guess", string(d)} {
		if err := bcrypt.CompareHashAndPassword(d, []byte(pw)); err != bcrypt.ErrMismatchedHashAndPassword {
			t.Fatalf("decoy compared with %q: %v, want a full comparison that mismatches", pw, err)
		}
	}
	if r := e.api(t, "POST", "/console/api/login", map[string]string{"login": "nobody", "password": "guess"}, nil, nil); r.status != 401 {
		t.Fatalf("unknown login: %d", r.status)
	}
	if &e.srv.dummy[0] != &d[0] {
		t.Fatal("the login built another decoy")
	}
	if other := startConsole(t, Options{}); string(other.srv.dummy) == string(d) {
		t.Fatal("two servers share one decoy")
	}
}
