module example.com/bad

require (
	github.com/a/b
