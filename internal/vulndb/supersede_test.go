package vulndb

import (
	"context"
	"errors"
	"io/fs"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/feed"
)

// nsSkippingUpdater is a fakeUpdater that leaves the namespaces SkipNamespaces
// names unread, as the Ubuntu OVAL updater does with its per-release files.
type nsSkippingUpdater struct {
	*fakeUpdater
	skip  func(string) bool
	asked *[]string
}

func (u *nsSkippingUpdater) SkipNamespaces(skip func(string) bool) feed.Updater {
	c := *u
	c.skip = skip
	return &c
}

func (u *nsSkippingUpdater) Parse(ctx context.Context, fsys fs.FS, emit func(*advisory.Advisory) error) (feed.Stats, error) {
	if u.skip == nil {
		return u.fakeUpdater.Parse(ctx, fsys, emit)
	}
	inner := *u.fakeUpdater
	inner.advs = nil
	for _, a := range u.advs {
		if ns := a.Affected[0].Namespace; u.skip(ns) {
			*u.asked = append(*u.asked, ns)
			continue
		}
		inner.advs = append(inner.advs, a)
	}
	return inner.Parse(ctx, fsys, emit)
}

func superUpdate(t *testing.T, dir string, us ...feed.Updater) *Report {
	t.Helper()
	rep, err := Update(context.Background(), dir, us, noSource, UpdateOptions{Supersedes: map[string]string{"worse": "better"}})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	return rep
}

type superState struct {
	Outcomes   map[string]Outcome
	Superseded []string
	Better     []string
	Pairs      map[string]map[string]string // "ns/pkg" -> id -> fixed
}

func superStateOf(t *testing.T, dir string, rep *Report) superState {
	t.Helper()
	st := superState{Outcomes: map[string]Outcome{}, Pairs: map[string]map[string]string{}}
	for _, s := range rep.Sources {
		st.Outcomes[s.Name] = s.Outcome
		switch s.Name {
		case "worse":
			st.Superseded = s.Superseded
		case "better":
			st.Better = s.Namespaces
		}
	}
	db := mustOpen(t, dir)
	for _, ns := range []string{"d:1", "d:2", "d:3"} {
		if m := fixedOf(t, db, ns, "pkg"); len(m) > 0 {
			st.Pairs[ns+"/pkg"] = m
		}
	}
	return st
}

// TestSupersededSources: a superseded source is read only for the
// namespaces its better source has no records in, whether the better
// source was parsed in this update or copied forward; when the better
// source's namespaces change, the superseded one is read again in full
// even though its own fetch is unchanged.
func TestSupersededSources(t *testing.T) {
	dir := t.TempDir()
	better := &fakeUpdater{name: "better", version: "b1", advs: []*advisory.Advisory{osAdv("CVE-2024-1", "d:1", "pkg", "2")}}
	worseAdvs := []*advisory.Advisory{
		osAdv("CVE-2024-1", "d:1", "pkg", "1"),
		osAdv("CVE-2024-2", "d:2", "pkg", "1"),
		osAdv("CVE-2024-3", "d:3", "pkg", "1"),
	}
	// CVE-2024-4 is in two namespaces: only its d:1 entry is dropped.
	two := osAdv("CVE-2024-4", "d:2", "pkg", "3")
	two.Affected = append(two.Affected, advisory.Affected{Namespace: "d:1", Package: "pkg", Kind: advisory.KindSource, Status: advisory.StatusFixed,
		Ranges: []advisory.Range{{Events: []advisory.Event{{Introduced: "0"}, {Fixed: "3"}}}}})
	worse := &fakeUpdater{name: "worse", version: "w1", advs: append(worseAdvs, two)}

	steps := []struct {
		name  string
		setup func()
		want  superState
	}{{
		name: "first build", setup: func() {},
		want: superState{
			Outcomes: map[string]Outcome{"better": Updated, "worse": Updated}, Superseded: []string{"d:1"}, Better: []string{"d:1"},
			Pairs: map[string]map[string]string{"d:1/pkg": {"CVE-2024-1": "2"}, "d:2/pkg": {"CVE-2024-2": "1", "CVE-2024-4": "3"}, "d:3/pkg": {"CVE-2024-3": "1"}},
		},
	}, {
		name: "nothing changed", setup: func() {},
		want: superState{
			Outcomes: map[string]Outcome{"better": Unchanged, "worse": Unchanged}, Superseded: []string{"d:1"}, Better: []string{"d:1"},
			Pairs: map[string]map[string]string{"d:1/pkg": {"CVE-2024-1": "2"}, "d:2/pkg": {"CVE-2024-2": "1", "CVE-2024-4": "3"}, "d:3/pkg": {"CVE-2024-3": "1"}},
		},
	}, {
		name: "better covers d:2 too: worse is read again",
		setup: func() {
			better.version = "b2"
			better.advs = []*advisory.Advisory{osAdv("CVE-2024-1", "d:1", "pkg", "2"), osAdv("CVE-2024-5", "d:2", "pkg", "5")}
		},
		want: superState{
			Outcomes: map[string]Outcome{"better": Updated, "worse": Updated}, Superseded: []string{"d:1", "d:2"}, Better: []string{"d:1", "d:2"},
			Pairs: map[string]map[string]string{"d:1/pkg": {"CVE-2024-1": "2"}, "d:2/pkg": {"CVE-2024-5": "5"}, "d:3/pkg": {"CVE-2024-3": "1"}},
		},
	}, {
		name: "better fails: its stored namespaces still apply",
		setup: func() {
			better.fetchErr = errors.New("upstream down")
			worse.version = "w2"
		},
		want: superState{
			Outcomes: map[string]Outcome{"better": Kept, "worse": Updated}, Superseded: []string{"d:1", "d:2"}, Better: []string{"d:1", "d:2"},
			Pairs: map[string]map[string]string{"d:1/pkg": {"CVE-2024-1": "2"}, "d:2/pkg": {"CVE-2024-5": "5"}, "d:3/pkg": {"CVE-2024-3": "1"}},
		},
	}, {
		name: "better shrinks to d:3: worse's d:1 and d:2 come back",
		setup: func() {
			better.fetchErr = nil
			better.version = "b3"
			better.advs = []*advisory.Advisory{osAdv("CVE-2024-6", "d:3", "pkg", "6")}
		},
		want: superState{
			Outcomes: map[string]Outcome{"better": Updated, "worse": Updated}, Superseded: []string{"d:3"}, Better: []string{"d:3"},
			Pairs: map[string]map[string]string{"d:1/pkg": {"CVE-2024-1": "1", "CVE-2024-4": "3"}, "d:2/pkg": {"CVE-2024-2": "1", "CVE-2024-4": "3"}, "d:3/pkg": {"CVE-2024-6": "6"}},
		},
	}}
	for _, s := range steps {
		s.setup()
		rep := superUpdate(t, dir, better, worse)
		if diff := cmp.Diff(s.want, superStateOf(t, dir, rep)); diff != "" {
			t.Errorf("%s: (-want +got)\n%s", s.name, diff)
		}
	}
	st, err := Status(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st.Sources {
		if s.Name == "worse" && (s.SupersededBy != "better" || !cmp.Equal(s.Superseded, []string{"d:3"})) {
			t.Errorf("db status of worse: superseded by %q: %v, want better: [d:3]", s.SupersededBy, s.Superseded)
		}
	}
}

// TestSupersededSkipper: an updater that can skip namespaces is asked to,
// and a better source listed after the superseded one supersedes nothing.
func TestSupersededSkipper(t *testing.T) {
	better := &fakeUpdater{name: "better", version: "b1", advs: []*advisory.Advisory{osAdv("CVE-2024-1", "d:1", "pkg", "2")}}
	var asked []string
	worse := &nsSkippingUpdater{fakeUpdater: &fakeUpdater{name: "worse", version: "w1", advs: []*advisory.Advisory{
		osAdv("CVE-2024-1", "d:1", "pkg", "1"), osAdv("CVE-2024-2", "d:2", "pkg", "1"),
	}}, asked: &asked}

	dir := t.TempDir()
	got := superStateOf(t, dir, superUpdate(t, dir, better, worse))
	want := superState{
		Outcomes: map[string]Outcome{"better": Updated, "worse": Updated}, Superseded: []string{"d:1"}, Better: []string{"d:1"},
		Pairs: map[string]map[string]string{"d:1/pkg": {"CVE-2024-1": "2"}, "d:2/pkg": {"CVE-2024-2": "1"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("better first: (-want +got)\n%s", diff)
	}
	if !cmp.Equal(asked, []string{"d:1"}) {
		t.Errorf("namespaces skipped by the updater: %v, want [d:1]", asked)
	}

	asked = nil
	dir = t.TempDir()
	got = superStateOf(t, dir, superUpdate(t, dir, worse, better))
	want = superState{
		Outcomes: map[string]Outcome{"better": Updated, "worse": Updated}, Better: []string{"d:1"},
		Pairs: map[string]map[string]string{"d:1/pkg": {"CVE-2024-1": "2"}, "d:2/pkg": {"CVE-2024-2": "1"}},
	}
	// Lookup returns one record per id: both sources' CVE-2024-1 are kept
	// (fixedOf keeps the last); check the count instead.
	db := mustOpen(t, dir)
	recs, err := db.Lookup(context.Background(), "d:1", "pkg")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || len(asked) != 0 {
		t.Errorf("better listed last: %d records in d:1 (want both sources' 2), skipped %v (want none)", len(recs), asked)
	}
	if diff := cmp.Diff(want.Outcomes, got.Outcomes); diff != "" || got.Superseded != nil {
		t.Errorf("better listed last: outcomes (-want +got)\n%s superseded %v", diff, got.Superseded)
	}
}
