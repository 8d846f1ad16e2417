// Package digestfile reads and writes the gzipped golden files that pin long outputs by digest
// (the classifier's and the tone analyzer's full results over thousands of texts): one line per
// text, "corpus<TAB>id<TAB>digest". A digest per text keeps the file small enough to commit while
// still telling which text changed.
package digestfile

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"os"
	"strings"
)

// Row is one text's line: the corpus it comes from, its id there and its result's digest.
type Row struct {
	Corpus, ID, Digest string
}

// Key is how Read indexes a row: corpus and id joined by a tab.
func Key(corpus, id string) string { return corpus + "\t" + id }

// Read returns the digests of path keyed by Key.
func Read(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open golden: %w", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("gunzip %s: %w", path, err)
	}
	want := map[string]string{}
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		if len(fields) != 3 {
			return nil, fmt.Errorf("%s: bad golden line %q (want corpus, id and digest separated by tabs)", path, sc.Text())
		}
		want[Key(fields[0], fields[1])] = fields[2]
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return want, nil
}

// Write replaces path with rows. Two rows with the same corpus and id are an error: the second
// would silently shadow the first when read.
func Write(path string, rows []Row) error {
	seen := make(map[string]bool, len(rows))
	for _, r := range rows {
		k := Key(r.Corpus, r.ID)
		if seen[k] {
			return fmt.Errorf("write %s: duplicate golden key %q", path, k)
		}
		seen[k] = true
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create golden: %w", err)
	}
	zw, err := gzip.NewWriterLevel(f, gzip.BestCompression)
	if err != nil {
		f.Close()
		return fmt.Errorf("gzip %s: %w", path, err)
	}
	bw := bufio.NewWriter(zw)
	for _, r := range rows {
		fmt.Fprintf(bw, "%s\t%s\t%s\n", r.Corpus, r.ID, r.Digest)
	}
	err = bw.Flush()
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
