// Package layering holds no code: its test states which internal packages
// each layer of Stowaway may import, and fails on an import that the table in
// layering_test.go does not allow (a back-edge such as catalog importing
// match, or match importing scan). A new package, or a new kind of edge
// between layers, is added to that table on purpose, in review.
package layering
