package intents

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"gopkg.in/yaml.v3"
)

// Watch polls the file the loaded configuration came from, and the knowledge files it lists, and
// calls apply with each valid new version. It compares against what was actually loaded, so an edit saved between loading and
// watching is not missed. A change is acted on once two checks in a row read the same content:
// an editor that truncates the file and then writes it, or a copy over a slow link, leaves it
// empty or half-written for a moment, and half a file can be a valid configuration that lacks
// the rest. An invalid version is logged problem by problem and ignored, so the last good
// configuration keeps serving. A valid version that apply refuses for another reason (a knowledge
// file it cannot read, the LLM endpoint) is tried again, after pauses that double from interval
// up to MaxReloadRetryPause, until it applies or the file changes: the cause is often fixed outside
// the file (a permission, a mount), where no edit would trigger a reload. Such a refusal is logged
// once, and again only if its reason changes. Polling (rather than inotify) also works on network mounts, in
// containers with bind-mounted files, with Kubernetes ConfigMaps (a symlink swapped in one rename)
// and with editors that replace files by renaming. Watch returns when ctx ends.
func Watch(ctx context.Context, loaded *Config, interval time.Duration, apply func(*Config) error, log *slog.Logger) {
	path := loaded.Source
	// A refused version waiting to be tried again, when, and why it was refused last time.
	var (
		retry   *Config
		retryAt time.Time
		pause   time.Duration
		refusal string
	)
	try := func(cfg *Config) {
		err := apply(cfg)
		if err == nil {
			if retry != nil {
				log.Info("configuration reloaded after an earlier refusal", "path", path)
			} else {
				log.Info("configuration reloaded", "path", path)
			}
			retry = nil
			return
		}
		if ce := (*ConfigError)(nil); errors.As(err, &ce) {
			// A problem in the file itself: only an edit can fix it.
			for _, p := range ce.Problems {
				log.Error("configuration change rejected; keeping the previous one", "problem", p.String())
			}
			retry = nil
			return
		}
		if retry == nil || err.Error() != refusal {
			pause = interval
			log.Error("configuration change rejected; keeping the previous one and trying again until it applies or the file changes",
				"path", path, "error", err)
		} else {
			pause = min(2*pause, MaxReloadRetryPause)
			log.Debug("configuration change still refused", "path", path, "error", err, "next_try_in", pause)
		}
		retry, refusal, retryAt = cfg, err.Error(), time.Now().Add(pause)
	}
	// What is compared is the file's digest followed by a stamp of the knowledge files it lists:
	// a reload refused for a missing knowledge file goes through once the file appears, and an
	// edited one is picked up, without the YAML being saved again.
	files, filesOf := loaded.LLM.KnowledgeFiles, loaded.Digest
	last := append(bytes.Clone(loaded.Digest), knowledgeStamp(path, files)...)
	var pending []byte // a changed content seen once, applied if the next check reads it again
	unreadable := 0    // checks in a row that could not read the file
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
			// A file being replaced may vanish for a moment; one that stays away is worth a word,
			// once, or edits would go unnoticed without a trace.
			if unreadable++; unreadable == 2 {
				log.Warn("configuration file cannot be read; keeping the current configuration until it can", "path", path, "error", err)
			}
			pending = nil
			continue
		}
		if unreadable >= 2 {
			log.Info("configuration file readable again", "path", path)
		}
		unreadable = 0
		fp := digest(data)
		if !bytes.Equal(fp, filesOf) {
			files, filesOf = knowledgeFiles(data), fp
		}
		fp = append(fp, knowledgeStamp(path, files)...)
		if bytes.Equal(fp, last) {
			pending = nil
			if retry != nil && !time.Now().Before(retryAt) {
				try(retry)
			}
			continue
		}
		if !bytes.Equal(fp, pending) {
			pending = fp
			log.Debug("configuration file changed; applying it once the next check reads the same", "path", path)
			continue
		}
		pending, last, retry = nil, fp, nil
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
		try(cfg)
	}
}

// MaxReloadRetryPause bounds the pause between two tries of a configuration that Watch's apply
// refused: a fix made outside the file is picked up within it.
const MaxReloadRetryPause = time.Minute

// knowledgeFiles reads llm.knowledge_files from a configuration that may be invalid.
func knowledgeFiles(data []byte) []string {
	var doc struct {
		LLM struct {
			KnowledgeFiles []string `yaml:"knowledge_files"`
		} `yaml:"llm"`
	}
	_ = yaml.Unmarshal(data, &doc) // whatever decodes is enough; Parse reports the rest
	return doc.LLM.KnowledgeFiles
}

// knowledgeStamp hashes the size and modification time of each knowledge file (relative paths
// start at the configuration's folder), or that it is missing: cheap enough for every check,
// unlike reading files that may be large.
func knowledgeStamp(configPath string, files []string) []byte {
	if len(files) == 0 {
		return nil
	}
	h := sha256.New()
	for _, f := range files {
		p := f
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(configPath), f)
		}
		fmt.Fprintf(h, "%s\x00", f)
		if info, err := os.Stat(p); err == nil {
			fmt.Fprintf(h, "%d %d\x00", info.Size(), info.ModTime().UnixNano())
		} else {
			fmt.Fprint(h, "missing\x00")
		}
	}
	return h.Sum(nil)
}

// digest hashes a configuration's bytes: modification times are too coarse on some file systems
// to notice two saves within a second.
func digest(data []byte) []byte {
	h := sha256.Sum256(data)
	return h[:]
}
