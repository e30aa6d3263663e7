package warn

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestList(t *testing.T) {
	var none List
	if none.Strings("x: ") != nil || none.Len() != 0 || none.First() != "" {
		t.Error("an empty list is not empty")
	}
	l := List{Limit: 2}
	for i := range 5 {
		l.Addf("line %d: bad", i+1)
	}
	want := []string{"f: line 1: bad", "f: line 2: bad", "f: 3 more problems not listed"}
	if d := cmp.Diff(want, l.Strings("f: ")); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if l.Len() != 5 || l.First() != "line 1: bad" {
		t.Errorf("Len %d, First %q", l.Len(), l.First())
	}
	var d List
	for range Max + 1 {
		d.Addf("w")
	}
	if got := len(d.Strings("")); got != Max+1 {
		t.Errorf("default limit kept %d strings, want %d", got, Max+1)
	}
}
