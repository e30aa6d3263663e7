#!/bin/sh
# Regenerates the rpm database fixtures in ../ from the spec files here.
# Needs rpm and rpmbuild (4.18; apt-get install rpm), gpg, sqlite3 and
# db5.3_load (apt-get install db5.3-util). Output: ../sqlite/rpmdb.sqlite and
# ../bdb/Packages, each holding the same three packages plus one gpg-pubkey
# pseudo-package. Debian's rpm has no ndb backend: the tests build an NDB
# Packages.db from the same headers.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=$(dirname "$here")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for s in demo.spec lib.spec; do
	rpmbuild --quiet --define "_topdir $work/top" -bb "$here/$s"
done
rpms=$(find "$work/top/RPMS" -name '*.rpm' | sort)

export GNUPGHOME="$work/gnupg"
mkdir -m 700 "$GNUPGHOME"
gpg --batch --passphrase '' --quick-gen-key 'Stowaway Fixture <fixture@example.invalid>' rsa2048 sign never 2>/dev/null
gpg --armor --export fixture@example.invalid >"$work/key.asc"

for backend in sqlite; do
	db="$work/db-$backend"
	mkdir -p "$db"
	rpm --dbpath "$db" --define "_db_backend $backend" --initdb
	rpm --dbpath "$db" --define "_db_backend $backend" --import "$work/key.asc"
	# shellcheck disable=SC2086
	rpm --dbpath "$db" --define "_db_backend $backend" -i --justdb --nodeps --noscripts --ignorearch $rpms
done
mkdir -p "$out/sqlite" "$out/bdb"
sqlite3 "$work/db-sqlite/rpmdb.sqlite" 'VACUUM'
cp "$work/db-sqlite/rpmdb.sqlite" "$out/sqlite/rpmdb.sqlite"

# BDB: rpm 4.18 only reads Berkeley DB, so the same headers are loaded into a
# hash database by db5.3_load with rpm's key layout (uint32 little-endian
# instance numbers, key 0 holding the next free instance).
{
	printf 'VERSION=3\nformat=bytevalue\ntype=hash\ndb_pagesize=4096\nHEADER=END\n'
	next=$(sqlite3 "$work/db-sqlite/rpmdb.sqlite" 'SELECT max(hnum)+1 FROM Packages')
	printf ' 00000000\n %08x\n' "$next" | sed 's/ \(..\)\(..\)\(..\)\(..\)$/ \4\3\2\1/'
	sqlite3 -separator ' ' "$work/db-sqlite/rpmdb.sqlite" 'SELECT hnum, lower(hex(blob)) FROM Packages ORDER BY hnum' |
		while read -r hnum blob; do
			printf ' %08x\n' "$hnum" | sed 's/ \(..\)\(..\)\(..\)\(..\)$/ \4\3\2\1/'
			printf ' %s\n' "$blob"
		done
	printf 'DATA=END\n'
} >"$work/bdb.txt"
rm -f "$out/bdb/Packages"
db5.3_load -f "$work/bdb.txt" "$out/bdb/Packages"
rpm --dbpath "$out/bdb" -qa --qf '%{NAME}\n' | sort
