package store

import (
	"crypto/rand"
	"encoding/base64"
)

// NewID returns 128 random bits as 22 characters of unpadded URL-safe base64.
// It is the project's one ID generator: conversation and visitor ids, resume
// tokens. crypto/rand never fails on supported platforms (Go 1.24+ crashes
// rather than return predictable bytes), so there is no error to handle.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
