package osdetect

import (
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
	"github.com/stowaway-scanner/stowaway/internal/distro/all"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

func TestDetect(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	tests := []struct {
		name  string
		files fstest.MapFS
		want  inventory.Distro
	}{
		{"alpine precise version from alpine-release", fstest.MapFS{
			"etc/os-release":     file("NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.19\nPRETTY_NAME=\"Alpine Linux v3.19\"\n"),
			"etc/alpine-release": file("3.19.1\n"),
		}, inventory.Distro{ID: "alpine", VersionID: "3.19.1", Release: "3.19", PrettyName: "Alpine Linux v3.19", Status: inventory.OSSupported}},
		{"alpine edge", fstest.MapFS{"etc/alpine-release": file("3.21.0_alpha20240807\n")},
			inventory.Distro{ID: "alpine", VersionID: "3.21.0_alpha20240807", Release: "edge", PrettyName: "3.21.0_alpha20240807", Status: inventory.OSSupported}},
		{"debian 12 from usr/lib", fstest.MapFS{
			"usr/lib/os-release": file("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n"),
		}, inventory.Distro{ID: "debian", VersionID: "12", Release: "12", Codename: "bookworm", PrettyName: "Debian GNU/Linux 12 (bookworm)", Status: inventory.OSSupported}},
		{"debian sid", fstest.MapFS{"etc/os-release": file("ID=debian\nPRETTY_NAME=\"Debian GNU/Linux trixie/sid\"\n"), "etc/debian_version": file("trixie/sid\n")},
			inventory.Distro{ID: "debian", VersionID: "trixie/sid", Release: "unstable", PrettyName: "Debian GNU/Linux trixie/sid", Status: inventory.OSUnsupported, Reason: "Debian testing/unstable has no stable security coverage"}},
		{"oracle 7 without os-release", fstest.MapFS{
			"etc/oracle-release": file("Oracle Linux Server release 7.9\n"),
			"etc/redhat-release": file("Red Hat Enterprise Linux Server release 7.9 (Maipo)\n"),
		}, inventory.Distro{ID: "ol", VersionID: "7.9", Release: "7", PrettyName: "Oracle Linux Server release 7.9", Status: inventory.OSSupported}},
		{"centos 7 via centos-release", fstest.MapFS{"etc/centos-release": file("CentOS Linux release 7.5.1804 (Core)\n"), "etc/redhat-release": file("CentOS Linux release 7.5.1804 (Core)\n")},
			inventory.Distro{ID: "centos", VersionID: "7.5.1804", Release: "7", PrettyName: "CentOS Linux release 7.5.1804 (Core)", Status: inventory.OSSupported}},
		{"rhel 9", fstest.MapFS{"etc/os-release": file("ID=\"rhel\"\nVERSION_ID=\"9.0\"\n")},
			inventory.Distro{ID: "rhel", VersionID: "9.0", Release: "9", Status: inventory.OSSupported}},
		{"amazon linux 2023", fstest.MapFS{"etc/os-release": file("ID=\"amzn\"\nVERSION_ID=\"2023\"\n"), "etc/system-release": file("Amazon Linux release 2023 (Amazon Linux)\n")},
			inventory.Distro{ID: "amzn", VersionID: "2023", Release: "2023", Status: inventory.OSSupported}},
		{"amazon linux 2 system-release only", fstest.MapFS{"etc/system-release": file("Amazon Linux release 2 (Karoo)\n")},
			inventory.Distro{ID: "amzn", VersionID: "2", Release: "2", PrettyName: "Amazon Linux release 2 (Karoo)", Status: inventory.OSSupported}},
		{"ubuntu 12.04 end of life", fstest.MapFS{"etc/os-release": file("ID=ubuntu\nVERSION_ID=\"12.04\"\n")},
			inventory.Distro{ID: "ubuntu", VersionID: "12.04", Release: "12.04", Status: inventory.OSUnsupported, Reason: "ubuntu 12.04 is end-of-life or not yet covered; supported releases: 14.04, 16.04, 18.04, 20.04, 22.04, 23.04, 24.04"}},
		{"centos stream", fstest.MapFS{"etc/os-release": file("ID=\"centos\"\nVERSION_ID=\"9\"\n")},
			inventory.Distro{ID: "centos", VersionID: "9", Release: "9", Status: inventory.OSUnsupported, Reason: "CentOS 9 is end-of-life or CentOS Stream, which has no advisory feed; only CentOS 7 (RHEL 7 data) is supported"}},
		{"fedora recognised", fstest.MapFS{"etc/os-release": file("ID=fedora\nVERSION_ID=39\n")},
			inventory.Distro{ID: "fedora", VersionID: "39", Release: "39", Status: inventory.OSUnsupported, Reason: "Fedora 39 is not covered by Stowaway's advisory feeds"}},
		{"unknown distro", fstest.MapFS{"etc/os-release": file("ID=plan9\nVERSION_ID=4\n")},
			inventory.Distro{ID: "plan9", VersionID: "4", Release: "4", Status: inventory.OSUnknown, Reason: `unknown operating system "plan9" (version "4")`}},
		{"no os", fstest.MapFS{"src/Cargo.lock": file("")},
			inventory.Distro{Status: inventory.OSNone, Reason: "no operating system release files (/etc/os-release, /usr/lib/os-release, /etc/*-release) found"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Detect(tc.files, all.Distros())
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, *got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestParseOSReleaseQuoting(t *testing.T) {
	got := ParseOSRelease("# c\nNAME=\"A \\\"q\\\" B\"\nID='x'\nBAD LINE\nVERSION_ID=1.2\n=novalue\n")
	want := map[string]string{"NAME": `A "q" B`, "ID": "x", "VERSION_ID": "1.2"}
	if d := cmp.Diff(want, got); d != "" {
		t.Error(d)
	}
}

func FuzzParseOSRelease(f *testing.F) {
	for _, name := range []string{"testdata/os-release-debian", "testdata/os-release-alpine"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, s string) {
		m := ParseOSRelease(s)
		d, err := Detect(fstest.MapFS{"etc/os-release": &fstest.MapFile{Data: []byte(s)}}, all.Distros())
		if err != nil {
			t.Fatal(err)
		}
		if d.Status == "" {
			t.Fatalf("no status for %q (%v)", s, m)
		}
	})
}

// TestParseOSReleaseLongLine: a junk line longer than any buffer does not
// hide the keys after it.
func TestParseOSReleaseLongLine(t *testing.T) {
	got := ParseOSRelease("NAME=x\n" + strings.Repeat("#", 200<<10) + "\nID=debian\nVERSION_ID=\"12\"\n")
	want := map[string]string{"NAME": "x", "ID": "debian", "VERSION_ID": "12"}
	if d := cmp.Diff(want, got); d != "" {
		t.Error(d)
	}
}

// FuzzDetect feeds every release file Detect reads at once: it never fails
// on content (only on unreadable files), always gives a status, gives a
// namespace release only with an ID, and is stable.
func FuzzDetect(f *testing.F) {
	deb, err := os.ReadFile("testdata/os-release-debian")
	if err != nil {
		f.Fatal(err)
	}
	alp, err := os.ReadFile("testdata/os-release-alpine")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(deb), "", "12.4\n", "")
	f.Add(string(alp), "3.19.1\n", "", "")
	f.Add("", "", "", "Red Hat Enterprise Linux Server release 7.9 (Maipo)\n")
	f.Add("", "", "bookworm/sid\n", "CentOS Linux release 7.9.2009 (Core)\n")
	f.Fuzz(func(t *testing.T, osRelease, alpine, debian, redhat string) {
		fsys := fstest.MapFS{}
		for name, data := range map[string]string{"etc/os-release": osRelease, "etc/alpine-release": alpine, "etc/debian_version": debian, "etc/redhat-release": redhat, "etc/centos-release": redhat, "etc/system-release": redhat} {
			if data != "" {
				fsys[name] = &fstest.MapFile{Data: []byte(data)}
			}
		}
		d, err := Detect(fsys, all.Distros())
		if err != nil {
			t.Fatal(err)
		}
		if d.Status == "" || (d.ID == "" && d.Release != "") {
			t.Fatalf("distro %+v", d)
		}
		if d.Status == inventory.OSSupported && d.Reason != "" {
			t.Fatalf("supported with a reason: %+v", d)
		}
		again, _ := Detect(fsys, all.Distros())
		if !cmp.Equal(d, again) {
			t.Fatalf("second detection differs: %+v vs %+v", d, again)
		}
	})
}
