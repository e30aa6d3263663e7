package osdetect

// Version is part of every per-layer cache key: a cached layer holds the
// content of the release files that Wanted selected when it was indexed, so
// a change to Wanted (or to what Detect reads) must bump it.
const Version = 2
