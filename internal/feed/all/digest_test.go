package all

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/feed"
	"github.com/stowaway-scanner/stowaway/internal/feed/source"
	"github.com/stowaway-scanner/stowaway/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite testdata/parse-digests.json from the current parsers")

// parseDigest is what one updater's Parse of the shared feeds produced:
// counts and SHA-256 digests of the emitted advisories (as encoding/json
// writes them, sorted, so emission order does not matter) and of the Stats
// (malformed records with their errors, withdrawn, skipped, newest, parts).
type parseDigest struct {
	Records    int    `json:"records"`
	Malformed  int    `json:"malformed"`
	Advisories string `json:"advisories"`
	Stats      string `json:"stats"`
}

const digestFile = "testdata/parse-digests.json"

// digestSource fetches u from the mirror at feeds, as db update does, and
// digests what its Parse emits.
func digestSource(t *testing.T, feeds string, u feed.Updater) parseDigest {
	t.Helper()
	ctx := context.Background()
	src, err := source.New(feeds, source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := u.Fetch(ctx, src(u), nil)
	if err != nil {
		t.Fatalf("fetch: %v", err)
	}
	if snap.Close != nil {
		defer snap.Close()
	}
	var sums [][sha256.Size]byte
	st, err := u.Parse(ctx, snap.FS, func(a *advisory.Advisory) error {
		b, err := json.Marshal(a)
		if err != nil {
			return err
		}
		sums = append(sums, sha256.Sum256(b))
		return nil
	})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	slices.SortFunc(sums, func(x, y [sha256.Size]byte) int { return bytes.Compare(x[:], y[:]) })
	h := sha256.New()
	for _, s := range sums {
		h.Write(s[:])
	}
	sb, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	ss := sha256.Sum256(sb)
	return parseDigest{Records: len(sums), Malformed: len(st.Malformed), Advisories: hex.EncodeToString(h.Sum(nil)), Stats: hex.EncodeToString(ss[:])}
}

// TestParseDigests checks that every updater's Parse of ../shared/feeds
// emits exactly what it did when testdata/parse-digests.json was recorded
// (with encoding/json and encoding/xml, before the faster decoders): the
// same advisories, malformed records (with their error text), skips and
// counts. It parses every feed (about a minute of CPU), so it runs only
// with STOWAWAY_REALDATA_FULL=1; -update rewrites the file.
func TestParseDigests(t *testing.T) {
	feeds := testutil.Shared(t, "feeds")
	if os.Getenv("STOWAWAY_REALDATA_FULL") == "" && !*update {
		t.Skip("parses every shared feed (about a minute of CPU): set STOWAWAY_REALDATA_FULL=1 to run it")
	}
	want := map[string]parseDigest{}
	if !*update {
		b, err := os.ReadFile(digestFile)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]parseDigest{}
	for _, u := range Updaters(Options{}) {
		if _, err := os.Stat(filepath.Join(feeds, u.MirrorDir())); err != nil {
			continue // oracle: not in the shared mirror
		}
		t.Run(u.Name(), func(t *testing.T) {
			start := time.Now()
			got[u.Name()] = digestSource(t, feeds, u)
			t.Logf("%s: %+v in %v", u.Name(), got[u.Name()], time.Since(start))
			if *update {
				return
			}
			if d := cmp.Diff(want[u.Name()], got[u.Name()]); d != "" {
				t.Errorf("%s: parse output changed (-recorded +now):\n%s", u.Name(), d)
			}
		})
	}
	if *update {
		b, err := json.MarshalIndent(got, "", "\t")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(digestFile, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
