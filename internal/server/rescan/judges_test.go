package rescan

import (
	"context"
	"testing"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
)

// advisoryDB answers Advisory from memory and counts the calls.
type advisoryDB struct {
	plainDB
	advs  []*advisory.Advisory
	calls int
}

func (d *advisoryDB) Advisory(_ context.Context, id string) ([]*advisory.Advisory, error) {
	d.calls++
	var out []*advisory.Advisory
	for _, a := range d.advs {
		if a.ID == id {
			out = append(out, a)
		}
	}
	return out, nil
}

// judgingDB adds the Judge capability and counts its calls.
type judgingDB struct {
	advisoryDB
	judged int
}

func (d *judgingDB) Judges(ctx context.Context, source, id, namespace string) (bool, error) {
	d.judged++
	advs, _ := d.advisoryDB.Advisory(ctx, id)
	d.calls-- // not a call of the caller's
	return judges(advs, source, namespace), nil
}

// TestMemoJudges: a pass's Memo answers Judges the same with and without
// the DB's capability, asks the DB once per question, and uses the DB's
// Judges (not whole advisories) when it has it.
func TestMemoJudges(t *testing.T) {
	ctx := context.Background()
	advs := []*advisory.Advisory{
		{ID: "CVE-1", Source: "ubuntu-uct", Affected: []advisory.Affected{{Namespace: "ubuntu:20.04", Package: "pcre3"}}},
		{ID: "CVE-1", Source: "ubuntu-oval", Affected: []advisory.Affected{{Namespace: "ubuntu:20.04", Package: "pcre2"}, {Namespace: "ubuntu:22.04", Package: "pcre2"}}},
	}
	questions := []struct {
		source, id, ns string
		want           bool
	}{
		{"ubuntu-uct", "CVE-1", "ubuntu:20.04", true},
		{"ubuntu-uct", "CVE-1", "ubuntu:22.04", false},
		{"ubuntu-oval", "CVE-1", "ubuntu:22.04", true},
		{"debian", "CVE-1", "ubuntu:20.04", false},
		{"ubuntu-uct", "CVE-2", "ubuntu:20.04", false},
	}
	plain := &advisoryDB{advs: advs}
	capable := &judgingDB{advisoryDB: advisoryDB{advs: advs}}
	mp, mc := NewMemo(plain), NewMemo(capable)
	for range 2 {
		for _, q := range questions {
			for name, m := range map[string]*Memo{"without Judge": mp, "with Judge": mc} {
				got, err := m.Judges(ctx, q.source, q.id, q.ns)
				if err != nil || got != q.want {
					t.Errorf("%s: Judges(%s, %s, %s) = %v, %v; want %v", name, q.source, q.id, q.ns, got, err, q.want)
				}
			}
		}
	}
	if plain.calls != 2 { // CVE-1 and CVE-2, memoized
		t.Errorf("without Judge: %d Advisory calls, want 2", plain.calls)
	}
	if capable.calls != 0 || capable.judged != len(questions) {
		t.Errorf("with Judge: %d Advisory calls and %d Judges calls, want 0 and %d", capable.calls, capable.judged, len(questions))
	}
}
