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

// Watch polls the file the loaded configuration came from and calls apply with each valid new
// version. It compares against what was actually loaded, so an edit saved between loading and
// watching is not missed. An
// invalid version is logged problem by problem and ignored, so the last good configuration keeps
// serving. Polling (rather than inotify) also works on network mounts, in containers with
// bind-mounted files and with editors that replace files by renaming. Watch returns when ctx ends.
func Watch(ctx context.Context, loaded *Config, interval time.Duration, apply func(*Config) error, log *slog.Logger) {
	path, last := loaded.Source, loaded.Digest
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		data, err := os.ReadFile(path)
		if err != nil {
			continue // a file being replaced may vanish for a moment; it is read again next tick
		}
		if fp := digest(data); bytes.Equal(fp, last) {
			continue
		} else {
			last = fp
		}
		cfg, err := Parse(path, data)
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

// digest hashes a configuration's bytes: modification times are too coarse on some file systems
// to notice two saves within a second.
func digest(data []byte) []byte {
	h := sha256.Sum256(data)
	return h[:]
}
