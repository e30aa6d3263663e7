package main

import (
	"fmt"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"strings"
)

// benchDB measures `db update --mirror FEEDS` from scratch and then again
// with nothing changed, each next to a floor measured in the same run:
// decompressing every feed file once (gzip -dc, bzip2 -dc, unzip -p, cat)
// for the first build, copying the built DB file for the no-change update.
// The first build's Value is the DB file size.
func benchDB(bin, feeds, dbDir string) []Result {
	var out []Result
	add := func(r Result, err error) {
		if err != nil {
			log.Printf("%s: %v", r.Name, err)
			return
		}
		out = append(out, r)
	}
	floor, ferr := measure("sh", "-c", decompressAllScript, "sh", feeds)
	floorName := "decompressing every feed file once (gzip -dc, bzip2 -dc, unzip -p, cat)"
	if ferr != nil {
		log.Printf("db floor: %v", ferr)
	}
	os.RemoveAll(dbDir)
	m, err := measure(bin, "db", "update", "--quiet", "--mirror", feeds, "--db", dbDir)
	r := result("db update --mirror (full offline build)", m, floorName, floor.wall, fmt.Sprintf("floor CPU %.1f s", floor.cpu.Seconds()))
	db := currentDB(dbDir)
	if fi, serr := os.Stat(db); serr == nil {
		r.Value, r.Unit = float64(fi.Size())/(1<<20), "MiB DB file"
	}
	add(r, err)
	if err != nil {
		return out
	}
	cp, cerr := measure("cp", db, filepath.Join(dbDir, "floor-copy"))
	os.Remove(filepath.Join(dbDir, "floor-copy"))
	if cerr != nil {
		log.Printf("db no-change floor: %v", cerr)
	}
	m, err = measure(bin, "db", "update", "--quiet", "--mirror", feeds, "--db", dbDir)
	add(result("db update --mirror, nothing changed (target < 5 s)", m, "cp of the DB file", cp.wall, ""), err)
	return out
}

// decompressAllScript reads every file under $1 that a `db update` reads
// (EPSS and KEV are not loaded) and decompresses it to /dev/null.
const decompressAllScript = `find "$1" -type f ! -path '*/epss/*' ! -path '*/kev/*' | while read -r f; do
	case "$f" in
	*.gz) gzip -dc "$f" ;;
	*.bz2) bzip2 -dc "$f" ;;
	*.zip) unzip -p "$f" ;;
	*) cat "$f" ;;
	esac
done >/dev/null`

// currentDB is the file CURRENT names in dir ("" when there is none).
func currentDB(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "CURRENT"))
	if err != nil {
		return ""
	}
	name := strings.TrimSpace(string(b))
	if !fs.ValidPath(name) || strings.Contains(name, "/") {
		return ""
	}
	return filepath.Join(dir, name)
}
