package hostile

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/klauspost/compress/flate"
)

// OverlappingZip is the "better zip bomb" shape: n central-directory
// entries that all point at one local file whose deflate stream expands to
// size zero bytes. A reader that inflates every entry costs n×size.
func OverlappingZip(size, n int) []byte {
	var stream bytes.Buffer
	fw, _ := flate.NewWriter(&stream, flate.BestCompression)
	zero := make([]byte, 1<<20)
	for left := size; left > 0; left -= len(zero) {
		fw.Write(zero[:min(left, len(zero))])
	}
	fw.Close()
	le := binary.LittleEndian
	var b bytes.Buffer
	put16 := func(v int) { b.Write(le.AppendUint16(nil, uint16(v))) }
	put32 := func(v int) { b.Write(le.AppendUint32(nil, uint32(v))) }
	local := "bomb.jar"
	put32(0x04034b50)
	put16(20)
	put16(0)
	put16(8) // deflate
	put32(0) // time and date
	put32(0) // crc-32, never reached
	put32(stream.Len())
	put32(size)
	put16(len(local))
	put16(0)
	b.WriteString(local)
	b.Write(stream.Bytes())
	cd := b.Len()
	for i := range n {
		name := fmt.Sprintf("BOOT-INF/lib/x%04d.jar", i)
		put32(0x02014b50)
		put16(20)
		put16(20)
		put16(0)
		put16(8)
		put32(0)
		put32(0)
		put32(stream.Len())
		put32(size)
		put16(len(name))
		put16(0) // extra
		put16(0) // comment
		put16(0) // disk
		put16(0) // internal attributes
		put32(0) // external attributes
		put32(0) // every entry at the same local header
		b.WriteString(name)
	}
	cdSize := b.Len() - cd
	put32(0x06054b50)
	put16(0)
	put16(0)
	put16(n)
	put16(n)
	put32(cdSize)
	put32(cd)
	put16(0)
	return b.Bytes()
}

// Jar is a small jar with Maven metadata for group:artifact:version.
func Jar(group, artifact, version string) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	w, _ := zw.Create(fmt.Sprintf("META-INF/maven/%s/%s/pom.properties", group, artifact))
	fmt.Fprintf(w, "groupId=%s\nartifactId=%s\nversion=%s\n", group, artifact, version)
	zw.Close()
	return b.Bytes()
}
