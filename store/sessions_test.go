package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/attune-chat/attune/store"
)

// farFuture is an expiry no test clock reaches.
var farFuture = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)

// MustCreateSession creates a session for the agent with a fresh random
// token, valid until farFuture, and returns the token's hash.
func MustCreateSession(tb testing.TB, db *store.DB, agentID string) []byte {
	tb.Helper()
	h := tokenHash(store.NewID())
	if err := db.CreateSession(context.Background(), h, agentID, farFuture); err != nil {
		tb.Fatalf("create session for %s: %v", agentID, err)
	}
	return h
}

func TestSessions(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)

	t.Run("ValidUntilExpiry", func(t *testing.T) {
		db, clock := MustOpenDBWithClock(t, start)
		ana := MustCreateAgent(t, db, "ana", store.RoleAgent)
		h := tokenHash("cookie-value")
		expires := start.Add(8 * time.Hour)
		if err := db.CreateSession(ctx, h, ana.ID, expires); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name string
			now  time.Time
			want error
		}{
			{"JustCreated", start, nil},
			{"OneMillisecondBefore", expires.Add(-time.Millisecond), nil},
			{"AtExpiry", expires, store.ErrNotFound},
			{"AfterExpiry", expires.Add(time.Hour), store.ErrNotFound},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				clock.Set(tc.now)
				got, err := db.SessionAgent(ctx, h)
				if !errors.Is(err, tc.want) {
					t.Fatalf("SessionAgent at %v: error = %v, want %v", tc.now, err, tc.want)
				}
				if tc.want == nil && (got.ID != ana.ID || got.Login != "ana") {
					t.Fatalf("SessionAgent = %+v, want ana", got)
				}
			})
		}
	})

	t.Run("Errors", func(t *testing.T) {
		db, _ := MustOpenDBWithClock(t, start)
		ana := MustCreateAgent(t, db, "ana", store.RoleAgent)
		taken := MustCreateSession(t, db, ana.ID)
		tests := []struct {
			name string
			call func() error
			want error
		}{
			{"UnknownToken", func() error { _, err := db.SessionAgent(ctx, tokenHash("forged")); return err }, store.ErrNotFound},
			{"RawTokenInsteadOfHash", func() error { _, err := db.SessionAgent(ctx, []byte("cookie")); return err }, store.ErrInvalid},
			{"CreateWithShortHash", func() error { return db.CreateSession(ctx, []byte("short"), ana.ID, farFuture) }, store.ErrInvalid},
			{"CreateForUnknownAgent", func() error { return db.CreateSession(ctx, tokenHash("x"), "nobody", farFuture) }, store.ErrNotFound},
			{"CreateAlreadyExpired", func() error { return db.CreateSession(ctx, tokenHash("x"), ana.ID, start) }, store.ErrInvalid},
			{"CreateWithTakenHash", func() error { return db.CreateSession(ctx, taken, ana.ID, farFuture) }, store.ErrConflict},
			{"DeleteWithShortHash", func() error { return db.DeleteSession(ctx, []byte("short")) }, store.ErrInvalid},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				if err := tc.call(); !errors.Is(err, tc.want) {
					t.Fatalf("error = %v, want %v", err, tc.want)
				}
			})
		}
	})

	t.Run("LogoutIsIdempotent", func(t *testing.T) {
		db := MustOpenDB(t)
		ana := MustCreateAgent(t, db, "ana", store.RoleAgent)
		h := MustCreateSession(t, db, ana.ID)
		other := MustCreateSession(t, db, ana.ID) // a second browser
		for i := range 2 {
			if err := db.DeleteSession(ctx, h); err != nil {
				t.Fatalf("DeleteSession #%d: %v", i+1, err)
			}
		}
		if _, err := db.SessionAgent(ctx, h); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("session after logout: error = %v, want ErrNotFound", err)
		}
		if got, err := db.SessionAgent(ctx, other); err != nil || got.ID != ana.ID {
			t.Errorf("the other browser's session after logout = %+v, %v; want ana", got, err)
		}
	})

	t.Run("DeleteExpiredSessions", func(t *testing.T) {
		db, _ := MustOpenDBWithClock(t, start)
		ana := MustCreateAgent(t, db, "ana", store.RoleAgent)
		hashes := map[time.Duration][]byte{}
		for _, d := range []time.Duration{time.Hour, 2 * time.Hour, 3 * time.Hour} {
			hashes[d] = tokenHash(d.String())
			if err := db.CreateSession(ctx, hashes[d], ana.ID, start.Add(d)); err != nil {
				t.Fatal(err)
			}
		}
		n, err := db.DeleteExpiredSessions(ctx, start.Add(2*time.Hour))
		if err != nil || n != 2 {
			t.Fatalf("DeleteExpiredSessions = %d, %v; want 2 (expiry at or before the cutoff)", n, err)
		}
		if got, err := db.SessionAgent(ctx, hashes[3*time.Hour]); err != nil || got.ID != ana.ID {
			t.Fatalf("unexpired session after the sweep = %+v, %v; want ana", got, err)
		}
		if n, err := db.DeleteExpiredSessions(ctx, start.Add(2*time.Hour)); err != nil || n != 0 {
			t.Fatalf("second sweep = %d, %v; want 0", n, err)
		}
	})
}
