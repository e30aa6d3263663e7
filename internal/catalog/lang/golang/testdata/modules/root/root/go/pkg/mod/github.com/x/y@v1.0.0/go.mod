module github.com/x/y

require github.com/z/z v1.0.0
