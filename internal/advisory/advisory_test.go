package advisory

import "testing"

func TestRejectNotice(t *testing.T) {
	for _, tc := range []struct {
		desc string
		want bool
	}{
		{"** REJECT ** DO NOT USE THIS CANDIDATE NUMBER. ConsultIDs: CVE-2014-9750, CVE-2014-9751.", true},
		{"  ** REJECT **  DO NOT USE THIS CANDIDATE NUMBER.", true},
		{"Rejected reason: This CVE ID has been rejected or withdrawn by its CVE Numbering Authority.", true},
		{"** DISPUTED ** A buffer overflow in example.", false},
		{"A flaw was found. ** REJECT ** appears later in the text.", false},
		{"** RESERVED ** This candidate has been reserved.", false},
		{"", false},
	} {
		if got := RejectNotice(tc.desc); got != tc.want {
			t.Errorf("RejectNotice(%q) = %v, want %v", tc.desc, got, tc.want)
		}
	}
}
