package intents

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"os"
	"time"
)

// Watch polls the configuration file at path and calls apply with each valid new version. An
// invalid version is logged problem by problem and ignored, so the last good configuration keeps
// serving. Polling (rather than inotify) also works on network mounts, in containers with
// bind-mounted files and with editors that replace files by renaming. Watch returns when ctx ends.
func Watch(ctx context.Context, path string, interval time.Duration, apply func(*Config) error, log *slog.Logger) {
	last := fingerprint(path)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fp := fingerprint(path)
		if fp == nil || bytes.Equal(fp, last) {
			continue // unreadable files are reported once they come back, by Load
		}
		last = fp
		cfg, err := Load(path)
		if err != nil {
			var ce *ConfigError
			if errors.As(err, &ce) {
				for _, p := range ce.Problems {
					log.Error("configuration change rejected; keeping the previous one", "problem", p.String())
				}
			} else {
				log.Error("configuration change rejected; keeping the previous one", "error", err)
			}
			continue
		}
		if err := apply(cfg); err != nil {
			log.Error("configuration change rejected; keeping the previous one", "path", path, "error", err)
			continue
		}
		log.Info("configuration reloaded", "path", path)
	}
}

// fingerprint hashes the file's content: modification times are too coarse on some file systems
// to notice two saves within a second.
func fingerprint(path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	h := sha256.Sum256(b)
	return h[:]
}
